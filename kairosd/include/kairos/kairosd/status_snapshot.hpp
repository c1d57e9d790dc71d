// One picture of what kairosd is doing, taken by the daemon at every scan:
// the status file, `kairosctl status` (text and --json), the metrics
// endpoint and `kairosctl top` are all rendered from this structure, so
// they cannot disagree. Pure data plus pure renderers (status_snapshot.cpp,
// metrics_text.cpp); the daemon fills it (kairosd/status_build.cpp).
//
// Units: times in nanoseconds (the *_ns fields), except histograms, whose
// bounds and sums are in seconds (as exposed). Counters only grow while
// one kairosd runs (and, for scheduler counters, while one scheduler
// instance stays loaded).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace kairos::status {

// The JSON schema ("schema": kSchemaName, "version": kSchemaVersion):
// documented in tools/kairosctl/README.md. A reader refuses another
// version; fields are only added within one version.
inline constexpr const char* kSchemaName = "kairos.status";
inline constexpr int kSchemaVersion = 1;

// A histogram as exposed: bucket i counts the samples <= bounds_s[i] and
// above the previous bound; counts has one more entry, for the samples
// above the largest bound (+Inf).
struct Histogram {
  std::vector<double> bounds_s;
  std::vector<std::uint64_t> counts;
  double sum_s = 0;
  std::uint64_t count() const;
  // The bound of the bucket holding the q-quantile sample (0 < q <= 1): the
  // quantile is at most this; +inf when it is above the largest bound;
  // nullopt with no samples.
  std::optional<double> quantile_le_s(double q) const;
  bool operator==(const Histogram&) const = default;
};

// quantile_le_s in microseconds as the text views print it: "-" (no
// histogram or no samples), "inf", or the bound.
std::string quantile_le_us_text(const std::optional<Histogram>& h, double q);

using ReasonCounts = std::map<std::string, std::uint64_t>;  // reason -> count

struct DaemonInfo {
  int pid = 0;
  std::string backend;          // "sched_ext" or "kmod"
  std::string sched_ext_state;  // /sys/kernel/sched_ext/state, "" without sched_ext
  unsigned cpus = 0;
  unsigned restarts = 0;        // scheduler reloads after recoverable exits
  unsigned exits = 0;           // scheduler exits seen
  std::string last_exit;        // why the scheduler last stopped, "" never
  std::uint64_t taken_ns = 0;   // CLOCK_MONOTONIC when the snapshot was taken
  std::int64_t taken_unix_ms = 0;
  bool operator==(const DaemonInfo&) const = default;
};

struct WatchInfo {
  std::string mode;  // "inotify" or "poll"
  std::uint64_t watched = 0, events = 0, overflows = 0;
  bool complete = false;
  std::uint64_t event_syncs = 0, rescans = 0;
  bool operator==(const WatchInfo&) const = default;
};

// kairos.ko's LC class (the kmod backend), when it holds LC threads.
struct ClassInfo {
  bool attached = false;
  std::uint64_t members = 0, refused = 0, capacity = 0, adopted = 0;
  // Stood down while another sched_ext scheduler is active; how often.
  bool standing_down = false;
  std::uint64_t stand_downs = 0;
  bool operator==(const ClassInfo&) const = default;
};

struct TunablesInfo {
  std::uint64_t quantum_us = 0, period_us = 0;
  std::string source;  // "kairos.ko" or "defaults"
  bool operator==(const TunablesInfo&) const = default;
};

// Per reason an LC task waited in its app's queue (KAIROS_LC_QUEUED_*).
struct LcQueuedReasons {
  std::uint64_t sibling = 0, throttled = 0, requeue = 0, unowned = 0;
  bool operator==(const LcQueuedReasons&) const = default;
};

// The sched_ext scheduler's global counters (struct kairos_sched_stats).
struct SchedCounters {
  std::uint64_t enqueued = 0, dispatched = 0, direct = 0, lc_enqueued = 0,
                lc_fallback = 0, preempt_kicks = 0, guard_throttles = 0, rescues = 0,
                cpu_online = 0, cpu_offline = 0, grants = 0, revokes = 0,
                guard_resumes = 0, kthread_direct = 0, slice_ends = 0,
                owner_rekicks = 0;
  LcQueuedReasons lc_queued, lc_queued_wait_ns;  // how many waited, how long in all
  // Grant latency: grants whose queued task ran on the granted CPU (one
  // sample in each histogram), grants that ended first; from the grant,
  // and from that task's enqueue, to its run there.
  std::uint64_t grants_run = 0, grants_unmatched = 0;
  Histogram grant_kick_run, grant_queued_run;
  Histogram grant_head_age;  // at each grant to an app with tasks queued: its head's wait
  // Standby CPUs the scheduler granted itself when an app's work outgrew
  // its CPUs, and claims whose grant failed (offline or owned meanwhile).
  std::uint64_t standby_grants = 0, standby_failed = 0;
  bool operator==(const SchedCounters&) const = default;
};

// A libkairos process the allocator drives for an app.
struct RuntimeInfo {
  int pid = 0;
  unsigned kthreads = 0, running = 0;
  std::uint64_t queued = 0;  // items in its kthreads' run queues
  bool operator==(const RuntimeInfo&) const = default;
};

struct AppInfo {
  std::uint32_t id = 0;
  std::string cgroup;  // relative to the cgroup root
  std::string cls;     // "lc" or "be"
  std::string source;  // what made it an app: "annotation", "rule:PATTERN", "kubernetes:QOS"
  unsigned guaranteed = 0, burstable = 0;
  unsigned owned = 0;               // CPUs the scheduler's owner map gives it
  std::vector<unsigned> cpus;       // which
  // The scheduler's per-app queue (struct kairos_app_stats).
  std::uint64_t queued = 0;         // tasks waiting now
  std::uint64_t head_wait_ns = 0;   // how long the oldest has waited
  std::uint64_t enqueued = 0, dispatched = 0;
  std::uint64_t wait_ns_total = 0, wait_ns_max = 0;
  std::uint64_t run_ns = 0;
  // The allocator's decisions for this app (policy::Reason names).
  ReasonCounts grants, revokes;
  // The free core kairosd keeps on standby for it (the scheduler grants
  // it at the enqueue that needs it); absent when none.
  std::optional<unsigned> standby;
  std::optional<RuntimeInfo> runtime;
  // The queueing delays of the dispatched tasks (struct
  // kairos_app_wait_hist; sum = wait_ns_total); absent without the scheduler.
  std::optional<Histogram> queue_delay;
  bool operator==(const AppInfo&) const = default;
};

struct IgnoredCgroup {
  std::string cgroup, why;
  bool operator==(const IgnoredCgroup&) const = default;
};

struct CpuInfo {
  unsigned cpu = 0;
  bool online = false;
  std::uint32_t owner = 0;   // app id owning it, 0 none
  bool busy = false;         // a task runs on it now (scheduler's cpu_state)
  std::uint32_t lc_app = 0;  // the LC app of that task, 0 ordinary/BE
  // kairos.ko's per-CPU statistics (stats/per_cpu), when it is loaded.
  std::optional<std::uint64_t> kmod_throttles, kmod_parks, kmod_grants;
  bool operator==(const CpuInfo&) const = default;
};

struct AllocatorInfo {
  std::string mode;  // "spin" or "low-power"
  unsigned cpu = 0;
  std::uint64_t poll_interval_ns = 0;  // configured (effective) interval
  unsigned apps = 0, runtime_apps = 0, kthreads = 0;
  std::uint64_t polls = 0, poll_ns_total = 0, poll_ns_max = 0;
  std::uint64_t quiet_polls = 0, quiet_ns_total = 0, quiet_poll_ns_p50 = 0;
  std::uint64_t grants = 0, revokes = 0, failed = 0, bad_polls = 0;
  std::uint64_t grant_apply_ns_total = 0, set_owner_ns_avg = 0, wake_ns_avg = 0;
  ReasonCounts grants_by_reason, revokes_by_reason;
  std::string wake;  // "devkairos" or "none"
  Histogram poll_duration;  // cost of one poll
  Histogram poll_gap;       // start to start of consecutive polls (achieved interval)
  Histogram grant_apply;    // decision to grant applied (owner map + kick + wake)
  // Queued work seen (an unmodified app: its oldest task's enqueue) to the
  // first grant after it applied, once per stretch of queued work: the
  // congestion-to-core latency.
  Histogram decision_latency;
  bool operator==(const AllocatorInfo&) const = default;
};

// kairos.ko's global statistics (/sys/kernel/kairos/stats/*), by file name.
struct KmodInfo {
  std::map<std::string, std::uint64_t> stats;
  bool operator==(const KmodInfo&) const = default;
};

// The XDP steering program's counters for one app.
struct XdpAppCounters {
  std::uint64_t redirected = 0, redirected_bytes = 0, no_socket = 0, dropped_bad_l4 = 0;
  bool operator==(const XdpAppCounters&) const = default;
};

struct DataplaneApp {
  std::string listen, shm;  // shm: empty for a direct app
  // The relay's ring counters (zero for a direct app: it owns its queues).
  std::uint64_t rx_delivered = 0, rx_ring_full = 0, rx_no_kthread = 0, rx_oversize = 0,
                tx_sent = 0, tx_dropped = 0, tx_strays = 0;
  std::string mode = "relayed";         // or "direct"
  std::optional<XdpAppCounters> xdp;  // absent without the XDP program
  bool operator==(const DataplaneApp&) const = default;
};

struct DataplaneInfo {
  std::string backend;
  std::uint64_t rx = 0, rx_invalid = 0, tx = 0, tx_full = 0, tx_no_route = 0,
                rx_dropped_after_redirect = 0, rx_no_app = 0;
  std::vector<DataplaneApp> apps;
  // The XDP steering program's counters by reason (when it runs).
  std::map<std::string, std::uint64_t> xdp;
  bool operator==(const DataplaneInfo&) const = default;
};

struct Snapshot {
  DaemonInfo daemon;
  WatchInfo watch;
  std::optional<ClassInfo> lc_class;
  TunablesInfo tunables;
  std::optional<SchedCounters> sched;  // absent without the sched_ext scheduler
  std::vector<AppInfo> apps;
  std::vector<IgnoredCgroup> ignored;
  std::vector<CpuInfo> cpus;
  std::optional<AllocatorInfo> allocator;
  std::optional<KmodInfo> kmod;
  std::optional<DataplaneInfo> dataplane;
  bool operator==(const Snapshot&) const = default;
};

// The status file's line format (kind key=value ...), read by scripts and
// tests; one "kairosd" line first.
std::string render_status_lines(const Snapshot& s);

// JSON text of the schema above (indent < 0: one line).
std::string to_json_text(const Snapshot& s, int indent = 2);
// Parses JSON text of this schema; nullopt with *error set otherwise.
std::optional<Snapshot> from_json_text(const std::string& text, std::string* error);

// kairos.ko's stats/per_cpu text: header of column names, then one line
// per CPU; rows by CPU of column -> value. Malformed lines are skipped.
std::vector<std::map<std::string, std::uint64_t>> parse_kmod_per_cpu(const std::string& text);

// The latest snapshot, handed from the daemon's thread to readers on
// other threads (the metrics server).
class SnapshotBoard {
 public:
  void publish(std::shared_ptr<const Snapshot> s) {
    std::lock_guard<std::mutex> g(mu_);
    latest_ = std::move(s);
  }
  std::shared_ptr<const Snapshot> latest() const {
    std::lock_guard<std::mutex> g(mu_);
    return latest_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> latest_;
};

}  // namespace kairos::status
