// kairosd: loads the kairos sched_ext scheduler, follows the cgroup
// annotations (kairosctl annotate) and kairos.ko's tunables, applies
// guaranteed cores, reloads the scheduler after a recoverable exit, and
// publishes its status (/run/kairos/status) until SIGINT/SIGTERM.
#include "daemon.hpp"
#include "dataplane_status.hpp"
#include "metrics_server.hpp"
#include "options.hpp"

#include <kairos/relay/service.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>
#include <thread>

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

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
  const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  const auto parsed = kairos::parse_kairosd_args(std::vector<std::string>(argv + 1, argv + argc),
                                                 ncpu > 0 ? static_cast<unsigned>(ncpu) : 1);
  using Action = kairos::ParsedKairosdArgs::Action;
  if (parsed.action == Action::kHelp) {
    std::fputs(kairos::kairosd_usage().c_str(), stdout);
    return 0;
  }
  if (parsed.action == Action::kError) {
    std::fprintf(stderr, "kairosd: %s\n", parsed.error.c_str());
    if (parsed.show_usage) std::fputs(kairos::kairosd_usage().c_str(), stderr);
    return 2;
  }
  const kairos::DaemonOptions& opts = parsed.cmd.daemon;
  const long stats_ms = parsed.cmd.stats_ms, scan_ms = parsed.cmd.scan_ms;
  long fault_ms = parsed.cmd.fault_ms;
  const char* dataplane_config =
      parsed.cmd.dataplane_config.empty() ? nullptr : parsed.cmd.dataplane_config.c_str();

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
  if (dataplane)
    daemon.set_snapshot_extra(
        [&dataplane](kairos::status::Snapshot& s) { s.dataplane = kairos::dataplane_info(*dataplane); });
  // Like the dataplane: listening, or kairosd exits before loading anything.
  std::unique_ptr<kairos::MetricsServer> metrics;
  if (parsed.cmd.metrics_listen) {
    try {
      metrics = std::make_unique<kairos::MetricsServer>(
          *parsed.cmd.metrics_listen, daemon.board(),
          opts.allocator.enabled ? static_cast<int>(opts.allocator.cpu) : -1);
      const kairos::MetricsListen& at = *parsed.cmd.metrics_listen;
      if (at.kind == kairos::MetricsListen::Kind::kUnix)
        std::printf("kairosd: metrics at %s (GET /metrics)\n", at.describe().c_str());
      else
        std::printf("kairosd: metrics at http://%s/metrics\n", at.describe().c_str());
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kairosd: %s\n", e.what());
      return 2;
    }
  }
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
