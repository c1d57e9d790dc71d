#include "config.hpp"

#include <CLI/CLI.hpp>
#include <kairos/version.hpp>

#include <charconv>
#include <ostream>

namespace kairos::loadgen {

std::size_t Config::max_value_size() const {
  if (protocol == Protocol::MemcachedUdp) {
    // header + "set KEY 0 0 NNNN\r\n" + value + "\r\n" in one datagram
    const std::size_t overhead = kUdpFrameHeader + 4 + key_size + 6 + 7 + 2 + 2;
    return kMaxUdpDatagram > overhead ? kMaxUdpDatagram - overhead : 0;
  }
  return 1u << 20;  // memcached's default item size limit
}

namespace {

// HOST:PORT or [V6ADDR]:PORT.
bool split_server(const std::string& s, std::string& host, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  host = s.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return false;
    host = host.substr(1, host.size() - 2);
  }
  unsigned v = 0;
  const char* b = s.data() + colon + 1;
  const char* e = s.data() + s.size();
  const auto r = std::from_chars(b, e, v);
  if (r.ec != std::errc() || r.ptr != e || v == 0 || v > 65535) return false;
  port = static_cast<std::uint16_t>(v);
  return true;
}

}  // namespace

int parse_cli(int argc, const char* const* argv, Config& cfg, std::ostream& out,
              std::ostream& err) {
  CLI::App app{
      "kairos-loadgen: open- or closed-loop load against memcached (TCP or UDP), Redis or a "
      "UDP echo server; latency from each request's scheduled send time"};
  app.set_version_flag("--version", std::string("kairos-loadgen ") + kairos::kVersion);
  std::string protocol, server, mode = "open", key_dist = "uniform", value_size = "32",
                               progress = "auto";
  app.add_option("-P,--protocol", protocol, "memcached | memcached-udp | redis | udp-echo")
      ->required();
  app.add_option("-s,--server", server, "HOST:PORT (or [V6ADDR]:PORT) of the server")->required();
  app.add_option("-m,--mode", mode, "open (Poisson arrivals at --rate) or closed (--depth "
                                    "outstanding requests per connection)")
      ->check(CLI::IsMember({"open", "closed"}));
  app.add_option("-r,--rate", cfg.rate, "open loop: requests per second, all threads together")
      ->check(CLI::Range(1e-3, 1e9));
  app.add_option("-d,--duration", cfg.duration_s, "seconds of sending")
      ->check(CLI::Range(1e-3, 1e6));
  app.add_option("-c,--connections", cfg.connections, "connections (UDP: sockets)")
      ->check(CLI::Range(1u, 100000u));
  app.add_option("-t,--threads", cfg.threads, "client threads")->check(CLI::Range(1u, 1024u));
  app.add_option("--depth", cfg.depth, "closed loop: outstanding requests per connection")
      ->check(CLI::Range(1u, 65536u));
  app.add_option("--get-ratio", cfg.get_ratio, "share of gets; the rest are sets")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--keys", cfg.keys, "keyspace size")
      ->check(CLI::Range(std::uint64_t{1}, KeyChooser::kMaxKeys));
  app.add_option("--key-size", cfg.key_size, "key length in characters (zero-padded)")
      ->check(CLI::Range(std::size_t{2}, std::size_t{250}));
  app.add_option("--key-dist", key_dist, "key popularity: uniform or zipf:S (S > 0)");
  app.add_option("--value-size", value_size,
                 "set value bytes: N, uniform:A-B, exp:MEAN or gpareto:LOC,SCALE,SHAPE");
  app.add_option("--echo-size", cfg.echo_size, "udp-echo datagram bytes")
      ->check(CLI::Range(std::size_t{16}, kMaxUdpDatagram));
  app.add_option("--timeout", cfg.timeout_s, "seconds before an unanswered request is a timeout")
      ->check(CLI::Range(1e-4, 3600.0));
  app.add_option("--drain", cfg.drain_s, "seconds to wait for replies after sending stops")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--connect-timeout", cfg.connect_timeout_s, "seconds per connection attempt")
      ->check(CLI::Range(1e-3, 600.0));
  app.add_flag("!--no-warmup", cfg.warmup, "do not set every key before measuring");
  app.add_option("--seed", cfg.seed, "random seed (arrivals, keys, sizes)");
  app.add_option("--progress", progress, "progress line on stderr once a second: auto (runs "
                                         "of 5 s or more), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  app.add_option("--json", cfg.json_path, "write the result as JSON to FILE ('-': stdout)");
  app.add_option("--csv", cfg.csv_path, "write the result as a CSV header and row to FILE "
                                        "('-': stdout)");
  app.add_flag("-q,--quiet", cfg.quiet, "no text summary on stdout");

  try {
    app.parse(argc, argv);
    try {
      cfg.protocol = parse_protocol(protocol);
      cfg.zipf_s = parse_key_distribution(key_dist);
      cfg.value_size = parse_value_size(value_size);
    } catch (const std::invalid_argument& e) {
      throw CLI::ValidationError(e.what());
    }
    if (!split_server(server, cfg.host, cfg.port))
      throw CLI::ValidationError("--server '" + server + "': expected HOST:PORT with PORT 1..65535");
    cfg.mode = mode == "open" ? Mode::Open : Mode::Closed;
    cfg.progress = progress == "on" ? Progress::On
                   : progress == "off" ? Progress::Off
                                       : Progress::Auto;
    if (cfg.threads > cfg.connections)
      throw CLI::ValidationError("--threads (" + std::to_string(cfg.threads) +
                                 ") must not exceed --connections (" +
                                 std::to_string(cfg.connections) + ")");
    if (cfg.key_value()) {
      try {
        ValueSizer check(cfg.value_size, cfg.max_value_size(), 0);
      } catch (const std::invalid_argument& e) {
        throw CLI::ValidationError(std::string("--value-size: ") + e.what() + " for " +
                                   protocol_name(cfg.protocol));
      }
    }
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e, out, err);
    return rc == 0 ? 0 : 2;
  }
  return -1;
}

}  // namespace kairos::loadgen
