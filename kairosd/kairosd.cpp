// kairosd: loads the kairos sched_ext scheduler, follows the cgroup
// annotations (kairosctl annotate) and kairos.ko's tunables, applies
// guaranteed cores, reloads the scheduler after a recoverable exit, and
// publishes its status (/run/kairos/status) until SIGINT/SIGTERM; SIGHUP
// re-reads the --config file.
#include "config_file.hpp"
#include "daemon.hpp"
#include "dataplane_status.hpp"
#include "metrics_server.hpp"
#include "options.hpp"
#include "service_notify.hpp"

#include <kairos/relay/service.hpp>
#include <kairos/version.hpp>

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
// SIGHUP: the main loop re-reads the config file; the handler only sets
// this (lock-free, so async-signal-safe).
std::atomic<bool> g_reload{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void on_signal(int) { g_stop = true; }
void on_hup(int) { g_reload = true; }

// The file's settings that only a restart changes, as text, to tell the
// operator that a reload left them as they were.
std::string restart_settings(const kairos::KairosdConfigFile& f) {
  kairos::KairosdCommandLine c;
  kairos::apply_config_file(f, c);
  const auto& d = c.daemon;
  std::string s = std::to_string(c.scan_ms) + " " + std::to_string(c.stats_ms) + " " +
                  std::to_string(d.rescan_interval_ms) + " " + d.cgroup_root + " " +
                  d.status_path + " " + d.kairos_dev + " " +
                  std::string(kairos::backend_name(d.backend)) + " " +
                  std::to_string(d.watch_cgroups) + " " +
                  std::to_string(d.sched.tunables.be_slice_ns) + " " +
                  std::to_string(d.sched.tunables.lc_slice_ns) + " " +
                  std::to_string(d.allocator.enabled) + " " +
                  std::to_string(d.allocator.poll_ns) + " " + std::to_string(d.allocator.cpu) +
                  " " + std::to_string(static_cast<int>(d.allocator.power)) + " " +
                  std::to_string(d.allocator.rt_priority);
  return s + "\n" + (f.dataplane ? kairos::dataplane_to_toml(*f.dataplane) : "");
}

// SIGHUP: a good file replaces the rules, the Kubernetes settings and the
// guard defaults; a bad one is refused whole and everything stays.
void reload(const std::string& path, unsigned ncpu, kairos::KairosdConfigFile& current,
            kairos::Daemon& daemon) {
  if (path.empty()) {
    std::printf("kairosd: SIGHUP: no --config file to re-read\n");
    std::fflush(stdout);
    return;
  }
  kairos::KairosdConfigFile next;
  try {
    next = kairos::load_config_file(path, ncpu);
  } catch (const kairos::ConfigFileError& e) {
    std::fprintf(stderr, "kairosd: reload refused, keeping the running configuration: %s\n",
                 e.what());
    return;
  }
  if (restart_settings(next) != restart_settings(current)) {
    std::printf("kairosd: %s: settings outside [guard], [[rule]] and [kubernetes] changed; "
                "they take effect at the next start\n", path.c_str());
    std::fflush(stdout);
  }
  kairos::DaemonOptions fresh;
  kairos::apply_reloadable(next, fresh);
  daemon.reload_rules(fresh.rules, fresh.kubernetes, fresh.guard_defaults);
  current.rules = next.rules;
  current.kubernetes = next.kubernetes;
  current.quantum_us = next.quantum_us;
  current.period_us = next.period_us;
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

// The STATUS= line systemd shows for kairosd.
std::string service_status(const kairos::Daemon& d) {
  if (!d.sched()) return "LC threads in kairos.ko's class (no sched_ext scheduler)";
  return "sched_ext scheduler attached, " + std::to_string(d.restarts()) + " restarts";
}

}  // namespace

int main(int argc, char** argv) {
  if (kairos::print_version_if_asked("kairosd", argc, argv)) return 0;
  const long ncpu_conf = sysconf(_SC_NPROCESSORS_CONF);
  const unsigned ncpu = ncpu_conf > 0 ? static_cast<unsigned>(ncpu_conf) : 1;
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = kairos::parse_kairosd_args(args, ncpu);
  using Action = kairos::ParsedKairosdArgs::Action;
  // With --config: defaults < the file < the flags, so the flags are
  // parsed again over the file's settings.
  kairos::KairosdConfigFile file;
  if (parsed.action == Action::kRun && !parsed.cmd.config_path.empty()) {
    try {
      file = kairos::load_config_file(parsed.cmd.config_path, ncpu);
    } catch (const kairos::ConfigFileError& e) {
      std::fprintf(stderr, "kairosd: %s\n", e.what());
      return 2;
    }
    kairos::KairosdCommandLine base;
    kairos::apply_config_file(file, base);
    parsed = kairos::parse_kairosd_args(args, ncpu, base);
  }
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
  const std::string& dataplane_config = parsed.cmd.dataplane_config;

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGHUP, on_hup);
  // The dataplane comes up completely (or kairosd exits) before the
  // scheduler is loaded: never half-configured.
  std::unique_ptr<kairos::dp::DataplaneService> dataplane;
  if (!dataplane_config.empty() || file.dataplane) {
    try {
      // The flag overrides the file's [dataplane], as every flag does.
      if (!dataplane_config.empty())
        std::fprintf(stderr,
                     "kairosd: --dataplane-config is deprecated: move it into [dataplane] of "
                     "the --config file ('kairosctl convert-dataplane %s' prints it)%s\n",
                     dataplane_config.c_str(),
                     file.dataplane ? "; it overrides that file's [dataplane]" : "");
      dataplane = std::make_unique<kairos::dp::DataplaneService>(
          !dataplane_config.empty() ? kairos::dp::load_service_config(dataplane_config)
                                    : *file.dataplane);
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
  kairos::ServiceNotify notify;  // systemd Type=notify; inert without it
  try {
    daemon.start();
    notify.ready(service_status(daemon));
    auto next_stats = std::chrono::steady_clock::now();
    auto next_scan = next_stats;
    const auto fault_at = next_stats + std::chrono::milliseconds(fault_ms);
    while (!g_stop) {
      if (g_reload.exchange(false)) reload(parsed.cmd.config_path, ncpu, file, daemon);
      const auto now = std::chrono::steady_clock::now();
      notify.tick(now);  // WATCHDOG=1 from this loop: a hung loop is caught
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
          notify.stopping("scheduler stopped for good: " + daemon.last_exit());
          return 3;
        }
        next_scan = now + std::chrono::milliseconds(scan_ms);
        notify.status(service_status(daemon));
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
      wake = std::min(wake, notify.next_tick());
      daemon.wait_until(wake);  // returns early to follow cgroup changes
    }
    notify.stopping("stopping");
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
    notify.status(std::string("failed: ") + e.what());
    return 1;
  }
  std::printf("kairosd: scheduler detached\n");
  return 0;
}
