// One run's settings, filled from the command line (cli.cpp).
#pragma once

#include "protocol.hpp"
#include "workload.hpp"

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace kairos::loadgen {

enum class Mode { Open, Closed };
enum class Progress { Auto, On, Off };

struct Config {
  Protocol protocol = Protocol::Memcached;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  Mode mode = Mode::Open;
  double rate = 10000;        // open loop: requests per second, all threads together
  double duration_s = 10;     // sending window
  unsigned connections = 8;   // spread round-robin over the threads
  unsigned threads = 1;
  unsigned depth = 1;         // closed loop: outstanding requests per connection
  double get_ratio = 0.9;     // the rest are sets
  std::uint64_t keys = 10000;
  std::size_t key_size = 16;  // characters; keys are zero-padded to this width
  double zipf_s = 0;          // 0: uniform popularity
  ValueSizeSpec value_size;   // bytes written by a set
  std::size_t echo_size = 64; // udp-echo datagram bytes
  double timeout_s = 1.0;     // a request unanswered this long is a timeout
  double drain_s = 1.0;       // wait for replies after the window; then unanswered
  double connect_timeout_s = 1.0;
  double reconnect_s = 0.1;   // back-off before reconnecting a failed connection
  std::size_t max_backlog = 4u << 20;  // unsent bytes queued per connection
  bool warmup = true;         // set every key once before measuring
  std::uint64_t seed = 1;
  Progress progress = Progress::Auto;
  std::string json_path, csv_path;  // "-" is stdout
  bool quiet = false;               // no text summary on stdout

  std::string server() const { return host + ":" + std::to_string(port); }
  bool key_value() const { return protocol != Protocol::UdpEcho; }
  // The largest value a set may carry for this protocol.
  std::size_t max_value_size() const;
};

// Parses argv into cfg. Returns -1 when the run should go on, otherwise the
// exit code: 0 after --help, 2 after an error (explained on `err`).
int parse_cli(int argc, const char* const* argv, Config& cfg, std::ostream& out,
              std::ostream& err);

}  // namespace kairos::loadgen
