// kairosd: loads the kairos sched_ext scheduler, follows the cgroup
// annotations (kairosctl annotate) and kairos.ko's tunables, applies
// guaranteed cores, reloads the scheduler after a recoverable exit, and
// publishes its status (/run/kairos/status) until SIGINT/SIGTERM.
#include "daemon.hpp"

#include <kairos/relay/service.hpp>

#include <getopt.h>
#include <unistd.h>

#include <algorithm>
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

// Long-only options get values outside the character range.
constexpr int kOptDataplaneConfig = 1000;

void on_signal(int) { g_stop = true; }

void usage(FILE* out) {
  std::fprintf(out,
      "usage: kairosd [options]\n"
      "  --slice-us N           slice of ordinary tasks, 50..100000 us (default 5000)\n"
      "  --lc-slice-us N        slice of LC tasks, 50..100000 us (default 500)\n"
      "  --scan-interval-ms N   how often annotations/tunables/hotplug are followed,\n"
      "                         10..10000 ms (default 200)\n"
      "  --stats-interval-ms N  print statistics every N ms, 0 = only at exit (default 0)\n"
      "  --cgroup-root DIR      cgroup2 mount (default /sys/fs/cgroup)\n"
      "  --status-file PATH     status for 'kairosctl status' (default /run/kairos/status)\n"
      "  --dataplane-config FILE  run the packet relay (format: kairosd/relay/\n"
      "                         README.md); a bad file stops kairosd\n"
      "  --backend auto|sched_ext|kmod  who keeps LC threads ahead (default auto:\n"
      "                         the sched_ext scheduler, else kairos.ko's LC class,\n"
      "                         also after the scheduler exits for good)\n"
      "  --rescan-interval-ms N full rescan of the cgroup tree behind the inotify\n"
      "                         watch, 100..3600000 ms (default 2000)\n"
      "  --no-cgroup-watch      no inotify: rescan the cgroups on every scan\n"
      "  --kairos-dev PATH      kairos.ko's device (default /dev/kairos)\n"
      "  --test-fault-after-ms N  (tests) make the scheduler fail once after N ms,\n"
      "                         to exercise the error exit and the restart\n"
      "  --no-allocator         no allocator: LC apps own their guaranteed cores only\n"
      "  --poll-us N            allocator poll interval, 1..1000000 us (default 5)\n"
      "  --allocator-cpu N      CPU of the allocator's poll loop, never granted (default 0)\n"
      "  --allocator-low-power  sleep between polls (default below 4 online CPUs)\n"
      "  --allocator-spin       spin between polls (default from 4 online CPUs up)\n"
      "  --allocator-rt-priority N  run the poll loop SCHED_FIFO at priority 1..99\n"
      "                         (default 0: an ordinary thread; only with its CPU\n"
      "                         kept free of other work, or tasks pinned there stall)\n"
      "Guard tunables come from /sys/kernel/kairos/{quantum_us,period_us} when\n"
      "kairos.ko is loaded, else 900 us per 1000 us.\n");
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
  std::printf("kairosd: stats enqueued=%llu dispatched=%llu direct=%llu "
              "lc_enqueued=%llu lc_fallback=%llu preempt_kicks=%llu "
              "guard_throttles=%llu rescues=%llu grants=%llu revokes=%llu "
              "cpu_online=%llu cpu_offline=%llu\n",
              (unsigned long long)st.enqueued, (unsigned long long)st.dispatched,
              (unsigned long long)st.direct, (unsigned long long)st.lc_enqueued,
              (unsigned long long)st.lc_fallback,
              (unsigned long long)st.preempt_kicks,
              (unsigned long long)st.guard_throttles,
              (unsigned long long)st.rescues, (unsigned long long)st.grants,
              (unsigned long long)st.revokes, (unsigned long long)st.cpu_online,
              (unsigned long long)st.cpu_offline);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  kairos::DaemonOptions opts;
  long stats_ms = 0, scan_ms = 200, fault_ms = -1;
  const char* dataplane_config = nullptr;
  static const option longopts[] = {
      {"slice-us", required_argument, nullptr, 's'},
      {"lc-slice-us", required_argument, nullptr, 'l'},
      {"scan-interval-ms", required_argument, nullptr, 'c'},
      {"stats-interval-ms", required_argument, nullptr, 'i'},
      {"cgroup-root", required_argument, nullptr, 'r'},
      {"status-file", required_argument, nullptr, 'f'},
      {"test-fault-after-ms", required_argument, nullptr, 't'},
      {"dataplane-config", required_argument, nullptr, kOptDataplaneConfig},
      {"backend", required_argument, nullptr, 'b'},
      {"rescan-interval-ms", required_argument, nullptr, 'R'},
      {"no-cgroup-watch", no_argument, nullptr, 'W'},
      {"kairos-dev", required_argument, nullptr, 'k'},

      {"no-allocator", no_argument, nullptr, 'N'},
      {"poll-us", required_argument, nullptr, 'P'},
      {"allocator-cpu", required_argument, nullptr, 'C'},
      {"allocator-low-power", no_argument, nullptr, 'L'},
      {"allocator-spin", no_argument, nullptr, 'S'},
      {"allocator-rt-priority", required_argument, nullptr, 'Q'},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0}};
  for (int c; (c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1;) {
    switch (c) {
      case 's':
        opts.sched.tunables.be_slice_ns =
            parse_number("--slice-us", optarg, 50, 100000) * 1000;
        break;
      case 'l':
        opts.sched.tunables.lc_slice_ns =
            parse_number("--lc-slice-us", optarg, 50, 100000) * 1000;
        break;
      case 'c':
        scan_ms = parse_number("--scan-interval-ms", optarg, 10, 10000);
        break;
      case 'i':
        stats_ms = parse_number("--stats-interval-ms", optarg, 0, 3600000);
        break;
      case 'r':
        opts.cgroup_root = optarg;
        break;
      case 'f':
        opts.status_path = optarg;
        break;
      case 't':
        fault_ms = parse_number("--test-fault-after-ms", optarg, 0, 3600000);
        break;
      case kOptDataplaneConfig:
        dataplane_config = optarg;
        break;
      case 'b':
        if (auto b = kairos::parse_backend(optarg)) {
          opts.backend = *b;
        } else {
          std::fprintf(stderr, "kairosd: --backend wants auto, sched_ext or kmod, got '%s'\n",
                       optarg);
          return 2;
        }
        break;
      case 'R':
        opts.rescan_interval_ms =
            static_cast<unsigned>(parse_number("--rescan-interval-ms", optarg, 100, 3600000));
        break;
      case 'W':
        opts.watch_cgroups = false;
        break;
      case 'k':
        opts.kairos_dev = optarg;
        break;
      case 'N':
        opts.allocator.enabled = false;
        break;
      case 'P':
        opts.allocator.poll_ns =
            static_cast<std::uint64_t>(parse_number("--poll-us", optarg, 1, 1000000)) * 1000;
        break;
      case 'C': {
        const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
        opts.allocator.cpu = static_cast<unsigned>(
            parse_number("--allocator-cpu", optarg, 0, ncpu > 0 ? ncpu - 1 : 0));
        break;
      }
      case 'Q':
        opts.allocator.rt_priority =
            static_cast<int>(parse_number("--allocator-rt-priority", optarg, 0, 99));
        break;
      case 'L':
      case 'S': {
        const auto want = c == 'L' ? kairos::AllocatorOptions::Power::kLowPower
                                   : kairos::AllocatorOptions::Power::kSpin;
        if (opts.allocator.power != kairos::AllocatorOptions::Power::kAuto &&
            opts.allocator.power != want) {
          std::fprintf(stderr, "kairosd: --allocator-low-power and --allocator-spin "
                               "exclude each other\n");
          return 2;
        }
        opts.allocator.power = want;
        break;
      }
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
  // The dataplane comes up completely (or kairosd exits) before the
  // scheduler is loaded: never half-configured.
  std::unique_ptr<kairos::dp::DataplaneService> dataplane;
  if (dataplane_config) {
    try {
      dataplane = std::make_unique<kairos::dp::DataplaneService>(
          kairos::dp::load_service_config(dataplane_config));
      dataplane->start();
      std::printf("kairosd: %s\n", dataplane->describe().c_str());
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kairosd: dataplane: %s\n", e.what());
      return 2;
    }
  }

  kairos::Daemon daemon(opts);
  try {
    daemon.start();
    auto next_stats = std::chrono::steady_clock::now();
    auto next_scan = next_stats;
    const auto fault_at = next_stats + std::chrono::milliseconds(fault_ms);
    while (!g_stop) {
      const auto now = std::chrono::steady_clock::now();
      if (fault_ms >= 0 && now >= fault_at) {
        if (daemon.sched()) {
          std::printf("kairosd: injecting a scheduler fault (test)\n");
          daemon.inject_error();
        }
        fault_ms = -1;
      }
      if (now >= next_scan) {
        if (!daemon.poll()) {
          if (daemon.sched()) print_stats(*daemon.sched());
          std::fprintf(stderr, "kairosd: %s\n", daemon.last_exit().c_str());
          return 3;
        }
        next_scan = now + std::chrono::milliseconds(scan_ms);
      }
      // Apps with cgroup= in the dataplane config receive traffic on as
      // many kthreads as their cgroup holds cores.
      if (dataplane)
        dataplane->follow_grants(
            [&](const std::string& cg) { return daemon.granted_cores(cg); });
      if (stats_ms && now >= next_stats) {
        if (daemon.sched()) print_stats(*daemon.sched());
        next_stats = now + std::chrono::milliseconds(stats_ms);
      }
      // Sleep until the next thing to do (up to 50 ms, so signals are
      // noticed promptly), not in a busy tick: kairosd must not steal
      // CPU time from the work it schedules.
      auto wake = std::min(next_scan, now + std::chrono::milliseconds(50));
      if (stats_ms) wake = std::min(wake, next_stats);
      if (fault_ms >= 0) wake = std::min(wake, fault_at);
      daemon.wait_until(wake);  // returns early to follow cgroup changes
    }
    const bool had_sched = daemon.sched() != nullptr;
    if (had_sched) print_stats(*daemon.sched());
    if (const std::string a = daemon.allocator_summary(); !a.empty())
      std::printf("kairosd: %s\n", a.c_str());
    daemon.stop();
    if (dataplane) std::printf("kairosd: %s\n", dataplane->describe().c_str());

    if (!had_sched) {
      std::printf("kairosd: LC threads released from kairos.ko's class\n");
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kairosd: %s\n", e.what());
    return 1;
  }
  std::printf("kairosd: scheduler detached\n");
  return 0;
}
