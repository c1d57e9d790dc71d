// kairosd's allocator: a thread that, every poll interval (default 5 us),
// reads every monitored queue (runtime kthreads' queue-state lines, the BPF
// per-app queue of unmodified apps) and every CPU's activity (BPF
// cpu_state), runs the policy (kairos::policy::CoreAllocator) and applies
// its decisions (KairosdMechanism: owner map + kick, /dev/kairos GRANT).
//
// With it on, the policy owns the BPF owner map: unmodified apps hold
// their guaranteed cores and burst on BPF-queue congestion; runtime apps
// get cores (guaranteed first) when their queues need them and give them
// back when their kthreads park. The daemon's scan feeds it the apps
// (annotations + discovered runtime areas) and the online CPUs; it never
// blocks the poll loop (the loop picks the new set up with a try-lock).
//
// Placement: the loop runs pinned to its own CPU (--allocator-cpu, never
// granted), as an ordinary thread (keep BE work off that CPU, e.g. with a
// cpuset, for polls on time; see rt_priority below). It spins between
// polls, except in low-power mode (auto on machines with fewer than 4
// online CPUs, or --allocator-low-power), where it sleeps until the next
// poll (clock_nanosleep, absolute) and polls at most every 50 us: grants
// come a little later, but a small machine keeps its CPU for work.
#pragma once

#include "allocator_mechanism.hpp"
#include "log2_histogram.hpp"
#include "runtime_admission.hpp"
#include "sched_port.hpp"

#include <kairos/contracts/queue_state_area.hpp>

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kairos {

struct AllocatorOptions {
  bool enabled = true;
  std::uint64_t poll_ns = 5'000;
  unsigned cpu = 0;  // the poll loop's core; never granted
  enum class Power { kAuto, kLowPower, kSpin } power = Power::kAuto;
  // SCHED_FIFO priority of the loop, 0 (default): an ordinary thread. A
  // real-time loop starved the tasks pinned to its CPU into sched_ext
  // watchdog stalls in the emulated VM, so it is opt-in (tests, benches).
  int rt_priority = 0;
  // Keep a free core on standby for each unmodified app that may burst,
  // for the scheduler to grant the moment the app's work outgrows its
  // cores (--no-standby: only the polls grant).
  bool standby = true;
};

// Machines with fewer online CPUs than this run the loop in low-power mode
// unless told otherwise (a spinning core is a third or more of the box).
inline constexpr unsigned kLowPowerBelowCpus = 4;
// In low-power mode polls are at least this far apart: a timer wakeup
// every 5 us would cost more CPU than the polls it saves.
inline constexpr std::uint64_t kLowPowerMinPollNs = 50'000;
// Number of policy::Reason values (decision counts by reason).
inline constexpr unsigned kReasons = 10;

// One LC app as the allocator sees it.
struct AllocatorApp {
  std::uint32_t id = 0;
  unsigned guaranteed = 0;
  unsigned max_cores = 0;  // the annotation's "burstable": most cores held
  pid_t pid = 0;           // runtime process driven by the allocator, 0: none
  std::shared_ptr<const RuntimeAreaView> area;  // its queue-state area
  std::vector<bool> allowed = {};  // CPUs its cgroup's cpuset allows; empty: any
  bool operator==(const AllocatorApp&) const = default;
};

class AllocatorService {
 public:
  using Log = std::function<void(const std::string&)>;
  AllocatorService(AllocatorOptions opts, unsigned online_cpus, Log log);
  ~AllocatorService();
  AllocatorService(const AllocatorService&) = delete;
  AllocatorService& operator=(const AllocatorService&) = delete;

  bool low_power() const { return low_power_; }
  // The poll interval in use: --poll-us, raised to kLowPowerMinPollNs in
  // low-power mode.
  std::uint64_t effective_poll_ns() const {
    return low_power_ && opts_.poll_ns < kLowPowerMinPollNs ? kLowPowerMinPollNs
                                                            : opts_.poll_ns;
  }
  // Starts the poll loop over `sched` with a fresh policy (after every
  // scheduler (re)load). stop() joins it; `sched` is not used afterwards.
  void start(SchedPort& sched);
  void stop();
  bool running() const { return thread_.joinable(); }
  // The apps and online CPUs to manage, from the daemon's scan.
  void update(std::vector<AllocatorApp> apps, std::vector<bool> online);

  // "allocator ..." status line plus one "runtime ..." line per runtime app.
  std::string status_lines() const;
  // One line for kairosd's exit.
  std::string summary() const;
  // The loop's counters and histograms for the status snapshot; apps get
  // their decisions by reason and, when driven, their runtime's state.
  status::AllocatorInfo info() const;
  void fill_app(status::AppInfo& app) const;

 private:
  class Loop;
  struct Stats {
    std::atomic<std::uint64_t> polls{0}, poll_ns{0}, poll_ns_max{0};
    std::atomic<std::uint64_t> quiet_polls{0}, quiet_ns{0};  // no decision
    std::atomic<std::uint64_t> grants{0}, revokes{0}, failed{0}, grant_ns{0};
    std::atomic<std::uint64_t> bad_polls{0};
    std::atomic<std::uint64_t> owner_ns{0}, owner_calls{0}, wake_ns{0}, wake_calls{0};
    std::array<std::atomic<std::uint64_t>, kReasons> grant_why{}, revoke_why{};
    // The last kRecentPolls quiet poll durations (one writer, the loop), for
    // a median that a preempted poll on a shared machine does not skew.
    std::array<std::atomic<std::uint32_t>, 1024> recent_quiet{};
    std::atomic<unsigned> kthreads{0}, runtime_apps{0}, apps{0};
    // Written by the loop only (Log2Histogram::record).
    Log2Histogram poll_duration, poll_gap, grant_apply;
    // From the first poll that saw an app's work queued (an unmodified
    // app: its oldest queued task's enqueue) to the first grant to it after
    // that, applied; once per stretch of queued work.
    Log2Histogram decision_latency;
    // Per app: the core on standby for it, plus one (0: none).
    std::array<std::atomic<std::uint32_t>, KAIROS_MAX_APPS> standby{};
    std::array<std::array<std::atomic<std::uint64_t>, kReasons>, KAIROS_MAX_APPS> app_grant_why{},
        app_revoke_why{};
  };

  void run(SchedPort* sched);
  std::uint64_t recent_quiet_p50() const;

  AllocatorOptions opts_;
  bool low_power_;
  Log log_;
  std::unique_ptr<DevKairosGranter> dev_;
  std::string dev_why_;
  // The driven runtimes kairos.ko admits to park (with dev_ only).
  std::optional<RuntimeAdmission> admission_;

  mutable std::mutex mu_;  // guards the pending set
  std::vector<AllocatorApp> apps_;
  std::vector<bool> online_;
  std::atomic<std::uint64_t> gen_{0};

  std::atomic<bool> stop_{false};
  std::thread thread_;
  Stats st_;
};

}  // namespace kairos
