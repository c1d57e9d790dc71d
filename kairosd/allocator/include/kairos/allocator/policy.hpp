// The core allocator policy (Shenango-style), as a pure state machine:
// feed it a clock and a view of every app's queues and every core's state
// at each poll; it answers with grant/revoke decisions and remembers the
// ownership it handed out. The same object runs in kairosd, in the unit
// tests and in the simulator (tools/sim).
//
// Rules, in the order poll() applies them:
//  1. Reclaim: a core whose kthread parked (or an unmodified app left idle
//     for idle_polls_to_reclaim polls with none of its tasks queued,
//     beyond its guaranteed count) goes back to the pool. Unmodified apps hold their guaranteed cores all
//     the time (they have no park signal, and their tasks are only seen in
//     the BPF queue while they own a CPU); runtime apps get them on need.
//  2. Detect: an app is congested when any of its queues (kthread run
//     queue, RX ring, or the BPF-side per-app queue) held an item at the
//     previous poll that is still queued now. An app with work but no core
//     at all needs one right away (wakeup).
//  3. Grant: apps below their guaranteed count first, then burstable
//     requests; within a class the app holding fewest cores beyond its
//     guarantee goes first, ties broken by a start point that rotates every
//     poll. Core choice: idle core near the app (hyperthread sibling of one
//     of its cores, or a core it released recently), any idle core, a BE
//     core near the app, any BE core; a guaranteed need may finally
//     preempt another app's burstable core.
//  4. Standby: every unmodified app that holds its guaranteed cores and
//     may burst gets one free core kept for it (chosen as a grant would
//     choose it, and kept while it stays free). No other grant takes it,
//     except a guaranteed need that finds nothing else; the app's own next
//     grant does. The mechanism publishes it to the scheduler, which
//     grants it as soon as the app's work outgrows its cores and says so;
//     standby_taken() adopts that grant.
#pragma once

#include <kairos/allocator/congestion.hpp>
#include <kairos/allocator/topology.hpp>
#include <kairos/allocator/types.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kairos::policy {

class CoreAllocator {
 public:
  // Use create(): it validates the config and the topology.
  static std::optional<CoreAllocator> create(const PolicyConfig& cfg,
                                             Topology topo,
                                             std::string* error);

  // Registers an app. Fails (nothing changed) on a duplicate or reserved
  // id, on guaranteed+burstable == 0, or on more cores than can be granted.
  std::optional<std::string> add_app(const AppSpec& spec);
  // Forgets an app; appends a revoke for every core it held.
  std::optional<std::string> remove_app(AppId id, std::vector<Decision>& out);

  // One poll. On success 'out' holds this poll's decisions (cleared first)
  // and the policy's ownership already reflects them. On bad input (time
  // going backwards, wrong core count, unknown or duplicate app, kthread
  // view for an unmodified app, ...) nothing changes.
  PollStatus poll(const PollInput& in, std::vector<Decision>& out);

  // The mechanism could not apply a grant (e.g. the wake failed): undo it
  // so the core is free again and the kthread may be chosen later.
  void grant_failed(const Decision& grant);

  // The core kept on standby for app id (kNoCore: none), as of the last
  // poll (or the last standby_taken).
  CoreId standby(AppId id) const;
  // The scheduler granted `core` to app id on its own (its standby, or one
  // the mechanism published a moment before): adopt it as a grant with
  // reason kStandby. False when the policy cannot (unknown or runtime app,
  // core owned or unusable, app at its most cores): the mechanism takes it
  // back.
  bool standby_taken(AppId id, CoreId core, Nanos now);

  // Introspection for the mechanism, the simulator and tests.
  AppId owner(CoreId c) const { return cores_[c].owner; }
  int owner_kthread(CoreId c) const { return cores_[c].kthread; }
  unsigned cores_held(AppId id) const;
  std::size_t num_cores() const { return cores_.size(); }
  const PolicyConfig& config() const { return cfg_; }

 private:
  struct CoreState {
    AppId owner = kNoApp;
    int kthread = kNoKthread;
    AppId last_app = kNoApp;   // who held it last (cache locality)
    Nanos released_at = 0;
    unsigned idle_polls = 0;   // unmodified apps: consecutive idle polls
    AppId standby_for = kNoApp;  // kept free for this app's next burst
  };
  struct Kthread {
    QueueTracker rq, rx;       // memory of the previous poll
    CoreId core = kNoCore;     // core it holds, if any
    Nanos granted_at = 0;
    bool woke = false;         // seen running since the grant
  };
  struct App {
    AppSpec spec;
    std::vector<Kthread> kthreads;
    unsigned held = 0;
    CoreId standby = kNoCore;
    // Per-poll scratch.
    const AppView* view = nullptr;
    bool needs = false;
    Reason need_reason = Reason::kCongested;
    unsigned granted_now = 0;
  };

  CoreAllocator(const PolicyConfig& cfg, Topology topo);

  App* find_app(AppId id);
  const App* find_app(AppId id) const;
  PollStatus check_input(const PollInput& in);
  void observe_app(App& app, const PollInput& in, std::vector<Decision>& out);
  void reclaim_idle_cores(const PollInput& in, std::vector<Decision>& out);
  void grant_round(const PollInput& in, std::vector<Decision>& out);
  void pick_standbys(const PollInput& in);
  void drop_standby(App& app);
  CoreId take_reserved_core(const App& app);
  bool try_grant(App& app, const PollInput& in, std::vector<Decision>& out);
  CoreId choose_free_core(const App& app, const PollInput& in) const;
  CoreId choose_victim_core(const App& app) const;
  int choose_kthread(const App& app, CoreId core) const;
  bool near_app(const App& app, CoreId c, Nanos now) const;
  static bool may_use(const App& app, CoreId c);
  void revoke(CoreId c, Reason why, Nanos now, std::vector<Decision>& out);
  void assign(App& app, CoreId c, int kthread, Nanos now);

  PolicyConfig cfg_;
  Topology topo_;
  std::vector<CoreState> cores_;
  std::vector<App> apps_;
  std::vector<App*> order_;   // scratch: grant order
  Nanos last_poll_ = 0;
  bool polled_ = false;
  unsigned rr_start_ = 0;     // rotating start point for fairness
};

}  // namespace kairos::policy
