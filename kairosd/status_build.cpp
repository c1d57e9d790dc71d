// Daemon::snapshot(): the daemon's state, the scheduler's maps, the
// allocator's counters and kairos.ko's statistics in one status::Snapshot
// (status_snapshot.hpp). Runs on the daemon's thread; reads what the
// allocator thread writes only through its relaxed atomics.
#include "daemon.hpp"
#include "grant_histogram.hpp"
#include "log2_histogram.hpp"

#include <kairos/contracts/clock.hpp>

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kairos {

namespace {

// The scheduler counts queueing delays in Log2Histogram's buckets.
static_assert(KAIROS_WAIT_HIST_MIN_SHIFT == Log2Histogram::kMinShift &&
              KAIROS_WAIT_HIST_BUCKETS == Log2Histogram::kBuckets);

status::Histogram wait_histogram(const kairos_app_wait_hist& w, std::uint64_t sum_ns) {
  return Log2Histogram::from_counts(w.count, sum_ns);
}

std::optional<std::uint64_t> read_u64(const std::string& path) {
  std::ifstream in(path);
  std::string w;
  if (!(in >> w)) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
  if (ec != std::errc{} || end != w.data() + w.size()) return std::nullopt;
  return v;
}

// kairos.ko's stats/: every counter file, and the per-CPU table.
std::optional<status::KmodInfo> read_kmod(const std::string& sysfs_dir,
                                          std::vector<std::map<std::string, std::uint64_t>>* per_cpu) {
  const std::string dir = sysfs_dir + "/stats";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  status::KmodInfo k;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == "per_cpu") continue;
    if (auto v = read_u64(e.path().string())) k.stats[name] = *v;
  }
  std::ifstream in(dir + "/per_cpu");
  std::stringstream ss;
  ss << in.rdbuf();
  *per_cpu = status::parse_kmod_per_cpu(ss.str());
  return k;
}

}  // namespace

status::Snapshot Daemon::snapshot() const {
  status::Snapshot s;
  const std::uint64_t now_ns = monotonic_ns();
  const unsigned ncpu = nr_cpus();

  status::DaemonInfo& d = s.daemon;
  d.pid = static_cast<int>(::getpid());
  d.backend = sched_ ? "sched_ext" : "kmod";
  d.sched_ext_state = sched_ext_state();
  d.cpus = ncpu;
  d.restarts = restarts_total_;
  d.exits = exits_total_;
  d.last_exit = last_exit_;
  d.taken_ns = now_ns;
  d.taken_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();

  s.watch.mode = watch_ ? "inotify" : "poll";
  if (watch_) {
    s.watch.watched = watch_->watched();
    s.watch.events = watch_->events();
    s.watch.overflows = watch_->overflows();
    s.watch.complete = watch_->complete();
  }
  s.watch.event_syncs = event_syncs_;
  s.watch.rescans = rescans_;

  if (class_) s.lc_class = class_->info();

  s.tunables.quantum_us = tunables_.quantum_us;
  s.tunables.period_us = tunables_.period_us;
  s.tunables.source = tunables_.source == "kairos.ko" ? "kairos.ko" : "defaults";

  if (sched_) {
    const kairos_sched_stats st = sched_->stats();
    const auto reasons = [](const __kairos_u64 (&v)[KAIROS_LC_QUEUED_REASONS]) {
      return status::LcQueuedReasons{v[KAIROS_LC_QUEUED_SIBLING], v[KAIROS_LC_QUEUED_THROTTLED],
                                     v[KAIROS_LC_QUEUED_REQUEUE], v[KAIROS_LC_QUEUED_UNOWNED]};
    };
    s.sched = status::SchedCounters{
        st.enqueued,       st.dispatched,     st.direct,           st.lc_enqueued,
        st.lc_fallback,    st.preempt_kicks,  st.guard_throttles,  st.rescues,
        st.cpu_online,     st.cpu_offline,    st.grants,           st.revokes,
        st.guard_resumes,  st.kthread_direct, st.slice_ends,       st.owner_rekicks,
        reasons(st.lc_queued), reasons(st.lc_queued_wait_ns),
        st.grants_run,     st.grants_unmatched,
        grant_histogram(st.grant_kick_run), grant_histogram(st.grant_queued_run),
        grant_histogram(st.grant_head_age), st.standby_grants, st.standby_failed};
  }

  for (const auto& [path, a] : apps_) {
    status::AppInfo ai;
    ai.id = a.id;
    ai.cgroup = path;
    ai.cls = std::string(class_name(a.annotation.cls));
    ai.source = a.source;
    ai.guaranteed = a.annotation.guaranteed;
    ai.burstable = a.annotation.burstable;
    if (sched_) {
      const volatile kairos_app_stats& q = sched_->app_stats()[a.id];
      const kairos_app ka = sched_->app(a.id);
      ai.owned = ka.nr_owned;
      for (std::uint32_t c = 0; c < ncpu && c < KAIROS_SCHED_MAX_CPUS; ++c)
        if (ka.owned[c / 64] & (1ULL << (c % 64))) ai.cpus.push_back(c);
      ai.queued = q.queued;
      const std::uint64_t oldest = q.oldest_enq_ns;
      ai.head_wait_ns = oldest && now_ns > oldest ? now_ns - oldest : 0;
      ai.enqueued = q.enqueued;
      ai.dispatched = q.dispatched;
      ai.wait_ns_total = q.wait_ns_total;
      ai.wait_ns_max = q.wait_ns_max;
      ai.run_ns = q.run_ns;
      ai.queue_delay = wait_histogram(sched_->app_wait_hist(a.id), ai.wait_ns_total);
    }
    if (alloc_) alloc_->fill_app(ai);
    s.apps.push_back(std::move(ai));
  }
  for (const auto& [path, why] : invalid_) s.ignored.push_back({path, why});

  std::vector<std::map<std::string, std::uint64_t>> kmod_cpus;
  s.kmod = read_kmod(opts_.sysfs_dir, &kmod_cpus);
  const std::vector<bool> online = online_cpus(ncpu);
  for (unsigned c = 0; c < ncpu; ++c) {
    status::CpuInfo ci;
    ci.cpu = c;
    ci.online = c < online.size() && online[c];
    if (sched_ && c < sched_->nr_cpus()) {
      ci.owner = sched_->owner(c);
      const volatile kairos_cpu_state& cs = sched_->cpu_state()[c];
      ci.busy = cs.busy != 0;
      ci.lc_app = cs.lc_app;
    }
    for (const auto& row : kmod_cpus) {
      const auto it = row.find("cpu");
      if (it == row.end() || it->second != c) continue;
      auto get = [&](const char* k) -> std::optional<std::uint64_t> {
        const auto f = row.find(k);
        return f == row.end() ? std::nullopt : std::optional<std::uint64_t>(f->second);
      };
      ci.kmod_throttles = get("throttles");
      ci.kmod_parks = get("parks");
      ci.kmod_grants = get("grants");
    }
    s.cpus.push_back(ci);
  }

  if (alloc_) s.allocator = alloc_->info();
  if (extra_) extra_(s);
  return s;
}

}  // namespace kairos
