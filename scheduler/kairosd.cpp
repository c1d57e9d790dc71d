// kairosd: loads the kairos sched_ext scheduler and keeps it running until
// SIGINT/SIGTERM, or until the kernel stops it (then it reports why).
#include "sched_loader.hpp"

#include <getopt.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

void usage(FILE* out) {
  std::fprintf(out,
      "usage: kairosd [--slice-us N] [--stats-interval-ms N]\n"
      "  --slice-us N           time slice of scheduled tasks, 50..100000 us (default 5000)\n"
      "  --stats-interval-ms N  print statistics every N ms, 0 = only at exit (default 0)\n");
}

// Parses a whole decimal number in [lo, hi]; exits with a message otherwise.
long parse_number(const char* flag, const char* text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < lo || v > hi) {
    std::fprintf(stderr, "kairosd: %s wants a number in %ld..%ld, got '%s'\n",
                 flag, lo, hi, text);
    std::exit(2);
  }
  return v;
}

void print_stats(const kairos::SchedLoader& s) {
  const auto st = s.stats();
  std::printf("kairosd: stats enqueued=%llu dispatched=%llu direct=%llu\n",
              (unsigned long long)st.enqueued,
              (unsigned long long)st.dispatched,
              (unsigned long long)st.direct);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  kairos::SchedOptions opts;
  long stats_ms = 0;
  static const option longopts[] = {
      {"slice-us", required_argument, nullptr, 's'},
      {"stats-interval-ms", required_argument, nullptr, 'i'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1;) {
    switch (c) {
      case 's':
        opts.slice_ns = parse_number("--slice-us", optarg, 50, 100000) * 1000;
        break;
      case 'i':
        stats_ms = parse_number("--stats-interval-ms", optarg, 0, 3600000);
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "kairosd: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    kairos::SchedLoader sched(opts);
    std::printf("kairosd: scheduler kairos attached (state %s)\n",
                kairos::sched_ext_state().c_str());
    std::fflush(stdout);
    auto next_stats = std::chrono::steady_clock::now();
    while (!g_stop) {
      if (auto ex = sched.exit_info()) {
        std::fprintf(stderr, "kairosd: the kernel stopped the scheduler: "
                     "kind=%u code=%lld reason='%s' msg='%s'\n", ex->kind,
                     (long long)ex->code, ex->reason.c_str(), ex->message.c_str());
        print_stats(sched);
        return 3;
      }
      if (stats_ms && std::chrono::steady_clock::now() >= next_stats) {
        print_stats(sched);
        next_stats += std::chrono::milliseconds(stats_ms);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    print_stats(sched);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairosd: %s\n", e.what());
    return 1;
  }
  std::printf("kairosd: scheduler detached\n");
  return 0;
}
