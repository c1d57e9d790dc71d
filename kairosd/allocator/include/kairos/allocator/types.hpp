// Plain data shared by the allocator policy, its callers (kairosd, the
// simulator, tests) and the mechanism that applies its decisions.
// Nothing here makes a syscall or touches global state.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace kairos::policy {

using Nanos = std::uint64_t;   // CLOCK_MONOTONIC nanoseconds (or simulated)
using AppId = std::uint32_t;
using CoreId = std::uint32_t;

inline constexpr AppId kNoApp = std::numeric_limits<AppId>::max();
inline constexpr CoreId kNoCore = std::numeric_limits<CoreId>::max();
inline constexpr int kNoKthread = -1;

// Tunables. poll_interval_ns is advisory for the driver (kairosd or the
// simulator call poll() that often); the other values change decisions.
struct PolicyConfig {
  Nanos poll_interval_ns = 5'000;       // Shenango's 5 us
  Nanos recent_window_ns = 1'000'000;   // "used recently" = released < 1 ms ago
  Nanos wake_timeout_ns = 1'000'000;    // grant whose kthread never woke
  bool allow_preempt_be = true;         // may grant a core running BE work
  unsigned max_grants_per_app = 1;      // per poll; Shenango grants one
  unsigned idle_polls_to_reclaim = 2;   // unmodified apps: idle this often
  // Keep a free core on standby for each unmodified app that may burst:
  // the scheduler grants it the moment the app's work outgrows its cores,
  // without waiting for two polls to see the congestion.
  bool standby = true;
};

// Validates a config; returns an error message, or nothing when usable.
std::optional<std::string> validate(const PolicyConfig& c);

// One app under management. Guaranteed cores are handed out whenever the
// app needs them (preempting other apps' burstable cores if need be) and
// never taken away by the policy; burstable cores are granted only on
// congestion, from idle or BE cores, and may be preempted.
struct AppSpec {
  AppId id = kNoApp;
  unsigned guaranteed = 0;
  unsigned burstable = 0;
  // Runtime apps expose per-kthread queue lines; unmodified apps expose a
  // BPF-side queue stat and have no kthreads.
  bool runtime = true;
  // Cores the app's threads may run on (its cgroup's effective cpuset),
  // indexed by core; empty: every core. A core outside it is never granted:
  // the app would own a core it cannot use.
  std::vector<bool> allowed = {};
};

// What the allocator reads of one runtime kthread at one poll (a consistent
// copy of its queue-state line, kairos/abi/queue_state.h).
struct KthreadView {
  bool valid = true;            // false: the line was torn/busy this poll
  bool parked = true;           // state == KAIROS_KTHREAD_PARKED
  std::uint32_t rq_head = 0, rq_tail = 0;
  std::uint32_t rx_head = 0, rx_tail = 0;
  std::uint32_t cpu = kNoCore;  // CPU it last ran on
  Nanos last_park_ns = 0;       // when it last parked (0: never)

  std::uint32_t queued() const {
    return (rq_head - rq_tail) + (rx_head - rx_tail);
  }
};

// BPF-side queue of an unmodified app: how many of its tasks wait to run
// and when the oldest of them was enqueued.
struct AppQueueStat {
  std::uint32_t queued = 0;
  Nanos oldest_enqueue_ns = 0;
};

struct AppView {
  AppId id = kNoApp;
  std::span<const KthreadView> kthreads;  // runtime apps, stable indices
  std::optional<AppQueueStat> bpf;        // unmodified apps
};

// What the mechanism knows of one core right now. Ownership is kept by the
// policy itself (it issued the grants), so it is not part of the view.
struct CoreView {
  bool be_runnable = false;  // BE/ordinary work would run here (else idle)
  bool owner_idle = false;   // the owning (unmodified) app left it idle
};

struct PollInput {
  Nanos now = 0;
  std::span<const AppView> apps;
  std::span<const CoreView> cores;  // one per core of the topology
};

enum class DecisionKind : std::uint8_t { kGrant, kRevoke };

enum class Reason : std::uint8_t {
  kCongested,     // grant: an item stayed queued across two polls
  kWakeup,        // grant: app holds no core but has queued work
  kGuaranteed,    // grant: congested and below its guaranteed count
  kStandby,       // grant: the scheduler claimed the app's standby core
  kParked,        // revoke: the kthread on the core parked
  kIdle,          // revoke: unmodified app left the core idle
  kWakeTimeout,   // revoke: granted kthread never woke up
  kPreempted,     // revoke: core taken for another app's guaranteed need
  kKthreadGone,   // revoke: the kthread vanished from the view
  kAppRemoved,    // revoke: the app was removed
};

const char* to_string(Reason r);

// One step for the mechanism. A grant is applied in three steps: set the
// BPF owner map cpu->app, kick the CPU (needed when preempts_be or when
// the core was preempted from another app), wake kthread 'kthread' of
// 'app' (runtime apps only). A revoke clears the owner map entry; for
// kPreempted the mechanism must also make the kthread give the core up.
struct Decision {
  DecisionKind kind = DecisionKind::kGrant;
  Reason reason = Reason::kCongested;
  CoreId core = kNoCore;
  AppId app = kNoApp;            // grantee, or the app losing the core
  int kthread = kNoKthread;      // kthread to wake / that held the core
  bool preempts_be = false;      // grant lands on a core running BE work
  AppId preempted_app = kNoApp;  // grant took the core from this app
};

// Result of poll(): ok, or why the input was rejected (nothing changed).
struct PollStatus {
  bool ok = true;
  std::string error;
  static PollStatus fail(std::string e) { return {false, std::move(e)}; }
};

}  // namespace kairos::policy
