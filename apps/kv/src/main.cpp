// kairos-kv: a memcached-compatible server on libkairos. Options follow
// memcached's names; SIGTERM and SIGINT stop it cleanly (connections are
// closed, every uthread returns, exit status 0).
#include "kv_server.hpp"

#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <string>

namespace {

constexpr const char* kVersion = "kairos-kv 0.1.0 (memcached 1.6.38 ASCII protocol)";

// "1048576", "1024k", "1m": memcached's -I syntax.
bool parse_size(const std::string& s, std::size_t* out) {
  if (s.empty()) return false;
  std::size_t mult = 1;
  std::string digits = s;
  const char last = s.back();
  if (last == 'k' || last == 'K') mult = 1024;
  if (last == 'm' || last == 'M') mult = 1024 * 1024;
  if (mult != 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
    return false;
  try {
    *out = std::stoull(digits) * mult;
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  kairos::kv::ServerConfig cfg;
  unsigned memory_mb = 64;
  std::string item_size = "1m";
  CLI::App app{"kairos-kv: a memcached-compatible server on libkairos"};
  app.set_version_flag("-V,--version", kVersion);
  app.add_option("-p,--port", cfg.tcp_port, "TCP port to listen on (0: any free port)")
      ->capture_default_str();
  app.add_option("-U,--udp-port", cfg.udp_port, "UDP port to listen on (0: off)")
      ->capture_default_str();
  app.add_option("-l,--listen", cfg.listen, "numeric address to listen on")
      ->capture_default_str();
  app.add_option("-t,--threads", cfg.threads, "libkairos kthreads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  app.add_option("-m,--memory-limit", memory_mb, "item memory in megabytes")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  app.add_option("-c,--conn-limit", cfg.max_connections, "max simultaneous connections")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 24));
  app.add_option("-I,--max-item-size", item_size,
                 "largest item (bytes, or with a k/m suffix)")
      ->capture_default_str();
  app.add_option("--udp-xdp", cfg.udp_xdp_if,
                 "serve -U through direct AF_XDP on this device's queues (needs -l ADDR)");
  app.add_flag("--allocator", cfg.allocator,
               "let kairosd's allocator grant the kthreads cores (publishes "
               "/kairos-rt.<pid>, parks in kairos.ko; needs the module and CAP_SYS_NICE)");
  app.add_option("--spin-us", cfg.spin_us,
                 "microseconds an idle kthread polls for work before it parks "
                 "(default: libkairos's, 20)")
      ->check(CLI::Range(0L, 1000000L));
  app.add_option("--first-cpu", cfg.first_cpu,
                 "pin kthread i to CPU (N + i) mod the CPU count (default: unpinned)")
      ->check(CLI::Range(0, 1023));
  auto* verbose = app.add_flag("-v,--verbose", "print errors and connection events");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad command line exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  cfg.verbose = static_cast<unsigned>(verbose->count());
  cfg.max_bytes = static_cast<std::size_t>(memory_mb) << 20;
  if (!parse_size(item_size, &cfg.item_size_max)) {
    std::fprintf(stderr, "kairos-kv: bad item size '%s' (bytes, or a k/m suffix)\n",
                 item_size.c_str());
    return 1;
  }
  if (cfg.item_size_max < 1024) {
    std::fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
    return 1;
  }
  if (cfg.item_size_max > cfg.max_bytes / 2) {
    std::fprintf(stderr, "Cannot set item size limit higher than 1/2 of memory max.\n");
    return 1;
  }

  // Block the stop signals before any thread starts, so every kthread
  // inherits the mask and only sigwait below sees them.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    kairos::kv::Server server(cfg);
    if (cfg.verbose)
      std::fprintf(stderr, "kairos-kv: listening on %s tcp %u udp %u, %u kthreads%s\n",
                   cfg.listen.c_str(), server.tcp_port(), cfg.udp_port, cfg.threads,
                   cfg.allocator ? ", allocator mode" : "");
    int sig = 0;
    sigwait(&stop_set, &sig);
    if (cfg.verbose) std::fprintf(stderr, "kairos-kv: signal %d, stopping\n", sig);
    server.stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairos-kv: %s\n", e.what());
    return 1;
  }
  return 0;
}
