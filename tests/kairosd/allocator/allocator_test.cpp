// Every rule of the allocator policy, one behaviour per test.
#include "harness.hpp"

namespace kairos::policy::testing {
namespace {

constexpr AppId A = 1, B = 2, C = 3;

// Brings one more core to app 'id' through kthread k's queue: an item
// wakes an app without cores at once, otherwise it must stay queued across
// two polls. The woken kthread then runs and serves the item.
CoreId grant_one(Harness& h, AppId id, int k) {
  h.enqueue(id, k);
  EXPECT_TRUE(h.poll().ok);
  if (h.grants().empty()) {
    EXPECT_TRUE(h.poll().ok);
  }
  auto g = h.grants();
  EXPECT_EQ(g.size(), 1u);
  h.dequeue(id, k);
  if (g.empty()) return kNoCore;
  h.run(id, g[0].kthread);
  return g[0].core;
}

TEST(Allocator, QuietAppsGetNothing) {
  Harness h(4);
  h.runtime_app(A, 0, 4, 4);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(h.poll().ok);
    EXPECT_TRUE(h.out.empty());
  }
}

TEST(Allocator, AppWithWorkButNoCoreIsWokenAtOnce) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 3);
  h.enqueue(A, 2, 3);  // work sits on parked kthread 2
  ASSERT_TRUE(h.poll().ok);
  auto g = h.grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].reason, Reason::kWakeup);
  EXPECT_EQ(g[0].app, A);
  EXPECT_EQ(g[0].kthread, 2);  // the kthread with the work
  EXPECT_EQ(h.alloc->owner(g[0].core), A);
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Allocator, ItemQueuedOnTwoPollsMeansCongested) {
  Harness h(4);
  h.runtime_app(A, 0, 3, 3);
  grant_one(h, A, 0);
  h.enqueue(A, 0);            // seen at this poll...
  ASSERT_TRUE(h.poll().ok);
  EXPECT_TRUE(h.grants().empty());
  ASSERT_TRUE(h.poll().ok);   // ...and still there at the next
  auto g = h.grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].reason, Reason::kCongested);
  EXPECT_NE(g[0].kthread, 0);  // kthread 0 already runs
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
}

TEST(Allocator, ItemServedBetweenPollsIsNotCongestion) {
  Harness h(4);
  h.runtime_app(A, 0, 3, 3);
  grant_one(h, A, 0);
  for (int i = 0; i < 5; ++i) {
    h.enqueue(A, 0, 2);
    ASSERT_TRUE(h.poll().ok);
    EXPECT_TRUE(h.grants().empty());
    h.dequeue(A, 0, 2);  // served before the next poll
  }
}

TEST(Allocator, RxRingCongestionCountsToo) {
  Harness h(4);
  h.runtime_app(A, 0, 3, 3);
  grant_one(h, A, 0);
  h.kt(A, 0).rx_head += 4;
  ASSERT_TRUE(h.poll().ok);
  h.kt(A, 0).rx_tail += 1;  // some served, the rest still there
  ASSERT_TRUE(h.poll().ok);
  EXPECT_EQ(h.grants().size(), 1u);
}

TEST(Allocator, CongestionAcrossCounterWrap) {
  Harness h(4);
  h.runtime_app(A, 0, 3, 3);
  auto& k = h.kt(A, 0);
  k.rq_head = k.rq_tail = 0xfffffffeu;
  grant_one(h, A, 0);  // head 0xffffffff
  h.enqueue(A, 0, 3);  // head wraps to 2
  h.dequeue(A, 0, 1);  // tail 0xffffffff (the wakeup item)
  ASSERT_TRUE(h.poll().ok);
  EXPECT_TRUE(h.grants().empty());
  ASSERT_TRUE(h.poll().ok);
  EXPECT_EQ(h.grants().size(), 1u);
}

TEST(Allocator, ParkedKthreadGivesItsCoreBack) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  CoreId c = grant_one(h, A, 0);
  ASSERT_TRUE(h.poll().ok);  // running, no change
  EXPECT_TRUE(h.out.empty());
  h.park(A, 0);
  ASSERT_TRUE(h.poll().ok);
  auto r = h.revokes();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].reason, Reason::kParked);
  EXPECT_EQ(r[0].core, c);
  EXPECT_EQ(r[0].kthread, 0);
  EXPECT_EQ(h.alloc->owner(c), kNoApp);
  EXPECT_EQ(h.alloc->cores_held(A), 0u);
}

TEST(Allocator, ShortWakeBetweenPollsStillReclaims) {
  // The kthread woke, found nothing and parked again before the next poll:
  // its park time, later than the grant, tells the policy.
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  h.dequeue(A, 0);
  h.park(A, 0);  // never seen running
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kParked);
}

TEST(Allocator, NotYetWokenKthreadKeepsItsGrantUntilTimeout) {
  PolicyConfig cfg;
  cfg.wake_timeout_ns = 20'000;
  Harness h(4, false, cfg);
  h.runtime_app(A, 0, 2, 2);
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  // Still parked (slow wakeup) at the next polls: not reclaimed...
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(h.poll().ok);
    EXPECT_TRUE(h.revokes().empty()) << i;
  }
  ASSERT_TRUE(h.poll().ok);  // ...until 20 us passed without a wake
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kWakeTimeout);
}

TEST(Allocator, IdleCoreBeforeBeCore) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  h.cores[0].be_runnable = h.cores[1].be_runnable = h.cores[3].be_runnable = true;
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 2u);
  EXPECT_FALSE(h.grants()[0].preempts_be);
}

TEST(Allocator, BeCoreOnlyWhenNoIdleCoreAndFlaggedAsPreempting) {
  Harness h(2);
  h.runtime_app(A, 0, 2, 2);
  h.cores[0].be_runnable = h.cores[1].be_runnable = true;
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_TRUE(h.grants()[0].preempts_be);
  EXPECT_EQ(h.grants()[0].preempted_app, kNoApp);
}

TEST(Allocator, NoBePreemptionWhenDisabled) {
  PolicyConfig cfg;
  cfg.allow_preempt_be = false;
  Harness h(2, false, cfg);
  h.runtime_app(A, 0, 2, 2);
  h.cores[0].be_runnable = h.cores[1].be_runnable = true;
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  EXPECT_TRUE(h.grants().empty());
}

TEST(Allocator, HyperthreadSiblingPreferredAmongIdleCores) {
  Harness h(8, /*smt=*/true);
  h.runtime_app(A, 0, 4, 4);
  // Make cores 0..3 busy with BE so the first grant lands on 4.
  for (int c = 0; c < 4; ++c) h.cores[c].be_runnable = true;
  CoreId first = grant_one(h, A, 0);
  ASSERT_EQ(first, 4u);
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_TRUE(h.poll().ok);  // congested
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 5u);  // sibling of 4
}

TEST(Allocator, RecentlyUsedCorePreferredWithinWindow) {
  PolicyConfig cfg;
  cfg.recent_window_ns = 50'000;
  Harness h(6, false, cfg);
  h.runtime_app(A, 0, 2, 2);
  h.runtime_app(B, 0, 1, 1);
  // A lands on core 0; B then takes core 1 and gives it back.
  grant_one(h, A, 0);
  h.enqueue(B, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants()[0].core, 1u);
  h.run(B, 0);
  h.dequeue(B, 0);
  // A gives core 0 back; core 0 is then "recent" for A, not for B.
  h.park(A, 0);
  h.park(B, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.revokes().size(), 2u);
  // B wakes again: its recent core 1 beats the lower-numbered core 0.
  h.enqueue(B, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 1u);
  h.run(B, 0);
  // Long after the window, A's old core is nothing special.
  h.poll(100'000);
  h.enqueue(A, 1);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 0u);  // lowest free index, by chance 0
}

TEST(Allocator, RecentCoreLosesAfterWindowToLowerIndex) {
  PolicyConfig cfg;
  cfg.recent_window_ns = 20'000;
  Harness h(4, false, cfg);
  h.runtime_app(A, 0, 2, 2);
  h.cores[0].be_runnable = true;  // first grant goes to core 1
  ASSERT_EQ(grant_one(h, A, 0), 1u);
  h.cores[0].be_runnable = false;
  h.park(A, 0);
  ASSERT_TRUE(h.poll().ok);
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);  // within the window: core 1 again
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 1u);
  h.run(A, 0);
  h.dequeue(A, 0);
  h.park(A, 0);
  ASSERT_TRUE(h.poll().ok);
  h.poll(50'000);  // window over
  h.enqueue(A, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 0u);
}

TEST(Allocator, IdleFarCoreBeatsBeCoreNearby) {
  Harness h(4, /*smt=*/true);
  h.runtime_app(A, 0, 3, 3);
  h.cores[2].be_runnable = h.cores[3].be_runnable = true;
  ASSERT_EQ(grant_one(h, A, 0), 0u);
  h.cores[1].be_runnable = true;  // sibling of 0 busy with BE
  h.cores[2].be_runnable = false; // far core idle
  h.enqueue(A, 0);
  h.poll();
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 2u);
}

TEST(Allocator, UnusableCoreIsNeverGranted) {
  Topology t = Topology::uniform(2, false);
  t.usable[0] = false;  // kairosd's own core
  Harness h(t, PolicyConfig{});
  h.runtime_app(A, 0, 1, 2);
  h.enqueue(A, 0);
  h.enqueue(A, 1);
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 1u);
  h.run(A, 0);
  h.poll();
  h.poll();
  EXPECT_TRUE(h.grants().empty());
}

TEST(Allocator, BurstableLimitIsRespected) {
  Harness h(8);
  h.runtime_app(A, 1, 2, 8);
  for (int k = 0; k < 8; ++k) h.enqueue(A, k, 5);
  for (int i = 0; i < 10; ++i) {
    h.poll();
    for (const auto& g : h.grants()) h.run(A, g.kthread);
  }
  EXPECT_EQ(h.alloc->cores_held(A), 3u);
}

TEST(Allocator, ZeroBurstableAppStopsAtItsGuarantee) {
  Harness h(8);
  h.runtime_app(A, 2, 0, 4);
  for (int k = 0; k < 4; ++k) h.enqueue(A, k, 5);
  for (int i = 0; i < 6; ++i) {
    h.poll();
    for (const auto& g : h.grants()) {
      EXPECT_EQ(g.reason == Reason::kWakeup || g.reason == Reason::kGuaranteed,
                true);
      h.run(A, g.kthread);
    }
  }
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
}

TEST(Allocator, AllKthreadsRunningMeansNoMoreCores) {
  Harness h(8);
  h.runtime_app(A, 0, 8, 2);
  h.enqueue(A, 0, 5);
  h.enqueue(A, 1, 5);
  for (int i = 0; i < 5; ++i) {
    h.poll();
    for (const auto& g : h.grants()) h.run(A, g.kthread);
  }
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
}

TEST(Allocator, OneGrantPerAppPerPollByDefault) {
  Harness h(8);
  h.runtime_app(A, 0, 8, 8);
  for (int k = 0; k < 8; ++k) h.enqueue(A, k, 3);
  h.poll();
  EXPECT_EQ(h.grants().size(), 1u);
}

TEST(Allocator, MaxGrantsPerPollIsConfigurable) {
  PolicyConfig cfg;
  cfg.max_grants_per_app = 3;
  Harness h(8, false, cfg);
  h.runtime_app(A, 0, 8, 8);
  h.runtime_app(B, 0, 8, 8);
  for (int k = 0; k < 8; ++k) {
    h.enqueue(A, k, 3);
    h.enqueue(B, k, 3);
  }
  h.poll();  // both wake; wakeup grants count as the first of three
  EXPECT_EQ(h.grants().size(), 6u);
  EXPECT_EQ(h.alloc->cores_held(A), 3u);
  EXPECT_EQ(h.alloc->cores_held(B), 3u);
}

TEST(Allocator, GuaranteedNeedPreemptsAnotherAppsBurstableCore) {
  Harness h(2);
  h.runtime_app(A, 0, 2, 2);  // all burstable
  h.runtime_app(B, 1, 0, 1);
  grant_one(h, A, 0);
  h.enqueue(A, 0);
  h.poll();
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);  // A now owns both cores
  h.run(A, h.grants()[0].kthread);
  ASSERT_EQ(h.alloc->cores_held(A), 2u);
  h.enqueue(B, 0);
  ASSERT_TRUE(h.poll().ok);
  auto r = h.revokes();
  auto g = h.grants();
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(r[0].reason, Reason::kPreempted);
  EXPECT_EQ(r[0].app, A);
  EXPECT_EQ(g[0].app, B);
  EXPECT_EQ(g[0].core, r[0].core);
  EXPECT_EQ(g[0].preempted_app, A);
  EXPECT_FALSE(g[0].preempts_be);
  // Revoke comes before the grant of the same core.
  EXPECT_EQ(h.out[0].kind, DecisionKind::kRevoke);
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
  EXPECT_EQ(h.alloc->cores_held(B), 1u);
}

TEST(Allocator, PreemptionTakesOnlyFromABurstingApp) {
  // A holds 1 of its 2 guaranteed cores, C bursts on the other two; E's
  // guaranteed need must take one of C's cores, never A's.
  Harness h(3);
  h.runtime_app(A, 2, 0, 2);
  h.runtime_app(C, 0, 3, 3);
  h.runtime_app(B, 1, 0, 1);
  const CoreId a_core = grant_one(h, A, 0);
  grant_one(h, C, 0);
  grant_one(h, C, 0);
  ASSERT_EQ(h.alloc->cores_held(C), 2u);
  h.enqueue(B, 0);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].app, C);
  EXPECT_NE(h.revokes()[0].core, a_core);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].app, B);
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Allocator, GuaranteedCoresAreNeverTakenAway) {
  Harness h(2);
  h.runtime_app(A, 2, 0, 2);  // both cores guaranteed to A
  h.runtime_app(B, 0, 2, 2);
  grant_one(h, A, 0);
  grant_one(h, A, 1);
  ASSERT_EQ(h.alloc->cores_held(A), 2u);
  h.enqueue(B, 0, 3);
  for (int i = 0; i < 4; ++i) {
    h.poll();
    EXPECT_TRUE(h.out.empty());
  }
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
}

TEST(Allocator, BurstableNeedNeverPreemptsOtherApps) {
  Harness h(2);
  h.runtime_app(A, 0, 2, 2);
  h.runtime_app(B, 0, 2, 2);
  grant_one(h, A, 0);
  grant_one(h, A, 1);
  h.enqueue(B, 0, 3);
  h.poll();
  h.poll();
  EXPECT_TRUE(h.out.empty());  // all cores owned: B waits
  // A's kthread parks: B gets that core at the same poll.
  h.park(A, 1);
  h.poll();
  ASSERT_EQ(h.revokes().size(), 1u);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].app, B);
  EXPECT_EQ(h.grants()[0].core, h.revokes()[0].core);
}

TEST(Allocator, SimultaneousCongestionSharesCoresFairly) {
  // Three congested apps, one core freed per poll: every app is served
  // before any app is served twice.
  Harness h(7);
  h.runtime_app(A, 0, 7, 7);
  h.runtime_app(B, 0, 7, 7);
  h.runtime_app(C, 0, 7, 7);
  grant_one(h, A, 0);
  grant_one(h, B, 0);
  grant_one(h, C, 0);
  // Four cores left; keep everybody congested.
  for (AppId id : {A, B, C}) h.enqueue(id, 0, 100);
  h.poll();
  std::map<AppId, int> got;
  for (int i = 0; i < 2; ++i) {
    h.poll();
    for (const auto& g : h.grants()) {
      ++got[g.app];
      h.run(g.app, g.kthread);
    }
  }
  // 4 cores among 3 congested apps: 2/1/1, never 3/1/0 or 4/0/0.
  int total = 0;
  for (AppId id : {A, B, C}) {
    EXPECT_GE(got[id], 1) << id;
    EXPECT_LE(got[id], 2) << id;
    total += got[id];
  }
  EXPECT_EQ(total, 4);
}

TEST(Allocator, LeastGrantedCongestedAppGoesFirst) {
  Harness h(5);
  h.runtime_app(A, 0, 5, 5);
  h.runtime_app(B, 0, 5, 5);
  grant_one(h, A, 0);
  grant_one(h, A, 0);
  grant_one(h, A, 0);
  ASSERT_EQ(h.alloc->cores_held(A), 3u);
  grant_one(h, B, 0);
  // One free core, both congested: B (1 core) wins over A (3 cores),
  // whatever the rotation says.
  h.enqueue(A, 0, 5);
  h.enqueue(B, 0, 5);
  h.poll();
  for (int round = 0; round < 4; ++round) {
    h.poll();
    ASSERT_EQ(h.grants().size(), 1u);
    EXPECT_EQ(h.grants()[0].app, B);
    h.alloc->grant_failed(h.grants()[0]);  // undo, retry next poll
  }
}

TEST(Allocator, GuaranteedNeedIsServedBeforeBurstableNeed) {
  // One free core; A is below its guarantee, B bursts with fewer cores.
  // A gets the free core (whatever the rotation), and nobody is preempted.
  Harness h(4);
  h.runtime_app(A, 3, 0, 3);
  h.runtime_app(B, 0, 4, 4);
  grant_one(h, A, 0);
  grant_one(h, A, 0);
  grant_one(h, B, 0);
  ASSERT_EQ(h.alloc->cores_held(A), 2u);
  ASSERT_EQ(h.alloc->cores_held(B), 1u);
  h.enqueue(A, 0, 5);
  h.enqueue(B, 0, 5);
  h.poll();
  for (int round = 0; round < 3; ++round) {
    h.poll();
    ASSERT_EQ(h.out.size(), 1u) << round;
    EXPECT_EQ(h.grants()[0].app, A);
    EXPECT_EQ(h.grants()[0].reason, Reason::kGuaranteed);
    EXPECT_EQ(h.grants()[0].preempted_app, kNoApp);
    h.alloc->grant_failed(h.grants()[0]);
  }
}

TEST(Allocator, EqualAppsAlternateForTheLastCore) {
  Harness h(3);
  h.runtime_app(A, 0, 3, 3);
  h.runtime_app(B, 0, 3, 3);
  grant_one(h, A, 0);
  grant_one(h, B, 0);
  h.enqueue(A, 0, 50);
  h.enqueue(B, 0, 50);
  h.poll();
  std::map<AppId, int> won;
  for (int i = 0; i < 6; ++i) {
    h.poll();
    ASSERT_EQ(h.grants().size(), 1u);
    ++won[h.grants()[0].app];
    h.alloc->grant_failed(h.grants()[0]);
  }
  EXPECT_EQ(won[A], 3);
  EXPECT_EQ(won[B], 3);
}

TEST(Allocator, KthreadThatLastRanOnTheCoreIsChosen) {
  Harness h(4);
  h.runtime_app(A, 0, 4, 3);
  h.kt(A, 2).cpu = 0;
  h.enqueue(A, 0);
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, 0u);
  EXPECT_EQ(h.grants()[0].kthread, 2);
}

TEST(Allocator, RunningKthreadWithoutGrantIsNeverWoken) {
  // Kthread 0 runs (say, preempted but not parked yet): only parked
  // kthreads can take a new core.
  Harness h(4);
  h.runtime_app(A, 0, 4, 2);
  h.run(A, 0);
  h.enqueue(A, 0, 3);
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].kthread, 1);
}

TEST(Allocator, TornLineIsSkippedNotMisread) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  grant_one(h, A, 0);
  h.enqueue(A, 0);
  h.poll();
  h.kt(A, 0).valid = false;
  h.kt(A, 0).parked = true;  // garbage while torn: must not reclaim
  h.poll();
  EXPECT_TRUE(h.out.empty());
  h.kt(A, 0).valid = true;
  h.kt(A, 0).parked = false;
  h.poll();  // item seen two valid polls ago still there
  EXPECT_EQ(h.grants().size(), 1u);
}

TEST(Allocator, VanishedKthreadLosesItsCore) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  h.enqueue(A, 1);
  h.poll();
  ASSERT_EQ(h.grants().at(0).kthread, 1);
  h.kthreads[A].resize(1);
  h.poll();
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kKthreadGone);
  EXPECT_EQ(h.alloc->cores_held(A), 0u);
}

TEST(Allocator, UnmodifiedAppGrantedOnBpfQueueAndReclaimedWhenIdle) {
  Harness h(4);
  h.unmodified_app(A, 0, 2);
  h.bpf[A] = {1, h.now + 1};  // one task waiting
  h.poll();
  auto g = h.grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].reason, Reason::kWakeup);
  EXPECT_EQ(g[0].kthread, kNoKthread);
  const CoreId c = g[0].core;
  // Oldest task enqueued before the previous poll: congested.
  h.bpf[A] = {3, h.now - 1};
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].reason, Reason::kCongested);
  // Queue empties; core c idle on two polls in a row: reclaimed.
  h.bpf[A] = {0, 0};
  h.cores[c].owner_idle = true;
  h.poll();
  EXPECT_TRUE(h.revokes().empty());
  h.poll();
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kIdle);
  EXPECT_EQ(h.revokes()[0].core, c);
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Allocator, BurstableCoreStaysWhileItsOwnersTasksAreQueued) {
  // Ordinary work runs on the app's burstable core (its turn under the
  // guard) while the app's tasks wait in its queue: that core is not idle.
  Harness h(4);
  h.unmodified_app(A, 0, 2);
  h.bpf[A] = {1, h.now + 1};
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  const CoreId c = h.grants()[0].core;
  h.cores[c].owner_idle = true;
  for (int i = 0; i < 4; ++i) {
    h.bpf[A] = {2, h.now + 1};  // queued since the last poll: not congested
    h.poll();
    EXPECT_TRUE(h.revokes().empty()) << "poll " << i;
  }
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
  // The queue empties and the core stays idle: it goes back as before.
  h.bpf[A] = {0, 0};
  h.poll();
  h.poll();
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kIdle);
  EXPECT_EQ(h.revokes()[0].core, c);
}

TEST(Allocator, OnlyCoresTheAppsCpusetAllowsAreGranted) {
  // The app's threads may run on core 2 only (its cgroup's cpuset): its
  // guaranteed core is core 2, and congestion brings no other core, free
  // or taken from a bursting app.
  Harness h(4);
  h.unmodified_app(B, 0, 3);
  h.bpf[B] = {1, h.now + 1};
  h.poll();
  h.bpf[B] = {3, h.now - 1};
  for (int i = 0; i < 4; ++i) h.poll();
  ASSERT_GE(h.alloc->cores_held(B), 2u);  // B bursts onto free cores
  h.bpf[B] = {0, 0};
  h.unmodified_app(A, 1, 2, {false, false, true, false});
  h.poll();
  auto g = h.grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].app, A);
  EXPECT_EQ(g[0].reason, Reason::kGuaranteed);
  EXPECT_EQ(g[0].core, 2u);
  EXPECT_EQ(h.alloc->owner(2), A);
  h.bpf[A] = {3, h.now - 1};
  for (int i = 0; i < 4; ++i) {
    h.poll();
    for (const auto& d : h.grants()) EXPECT_NE(d.app, A) << "core " << d.core;
  }
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Allocator, UnmodifiedAppHoldsGuaranteedCoresWhileIdle) {
  Harness h(4);
  h.unmodified_app(A, 1, 1);
  // No queued task at all: the guaranteed core is granted anyway.
  h.poll();
  auto g = h.grants();
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].reason, Reason::kGuaranteed);
  const CoreId mine = g[0].core;
  // Congestion brings the burstable core.
  h.bpf[A] = {2, h.now - 1};
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].reason, Reason::kCongested);
  const CoreId burst = h.grants()[0].core;
  // Idle everywhere for many polls: only the burstable core goes back.
  h.bpf[A] = {0, 0};
  for (auto& c : h.cores) c.owner_idle = true;
  std::vector<Decision> revokes;
  for (int i = 0; i < 10; ++i) {
    h.poll();
    for (const auto& d : h.revokes()) revokes.push_back(d);
    EXPECT_TRUE(h.grants().empty());
  }
  // Which of the two goes back does not matter, only the count.
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_TRUE(revokes[0].core == burst || revokes[0].core == mine);
  EXPECT_EQ(revokes[0].reason, Reason::kIdle);
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Allocator, RemoveAppRevokesItsCores) {
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  CoreId c = grant_one(h, A, 0);
  std::vector<Decision> out;
  ASSERT_FALSE(h.alloc->remove_app(A, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].reason, Reason::kAppRemoved);
  EXPECT_EQ(out[0].core, c);
  EXPECT_EQ(h.alloc->owner(c), kNoApp);
  EXPECT_TRUE(h.alloc->remove_app(A, out).has_value());  // already gone
}

TEST(Allocator, GrantFailedFreesCoreAndKthread) {
  Harness h(1);
  h.runtime_app(A, 0, 1, 1);
  h.enqueue(A, 0);
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  h.alloc->grant_failed(h.grants()[0]);
  EXPECT_EQ(h.alloc->owner(0), kNoApp);
  EXPECT_EQ(h.alloc->cores_held(A), 0u);
  h.poll();  // still has work and no core: woken again
  EXPECT_EQ(h.grants().size(), 1u);
}

// ---- bad input: a clear error and nothing changes ----

TEST(AllocatorInput, RejectsBadConfigAndTopology) {
  std::string err;
  PolicyConfig cfg;
  cfg.poll_interval_ns = 10;
  EXPECT_FALSE(CoreAllocator::create(cfg, Topology::uniform(2, false), &err));
  EXPECT_NE(err.find("poll interval"), std::string::npos) << err;
  cfg = {};
  cfg.max_grants_per_app = 0;
  EXPECT_FALSE(CoreAllocator::create(cfg, Topology::uniform(2, false), &err));
  EXPECT_NE(err.find("max grants"), std::string::npos) << err;
  cfg = {};
  cfg.wake_timeout_ns = 0;
  EXPECT_FALSE(CoreAllocator::create(cfg, Topology::uniform(2, false), &err));
  EXPECT_NE(err.find("wake timeout"), std::string::npos) << err;
  cfg = {};
  cfg.idle_polls_to_reclaim = 0;
  EXPECT_FALSE(CoreAllocator::create(cfg, Topology::uniform(2, false), &err));
  EXPECT_NE(err.find("idle polls"), std::string::npos) << err;
  EXPECT_FALSE(CoreAllocator::create({}, Topology::uniform(0, false), &err));
  EXPECT_NE(err.find("no cores"), std::string::npos) << err;
  Topology t = Topology::uniform(4, false);
  t.siblings[0] = {1};  // 1 does not list 0
  EXPECT_FALSE(CoreAllocator::create({}, t, &err));
  EXPECT_NE(err.find("symmetric"), std::string::npos) << err;
  t = Topology::uniform(4, false);
  t.siblings[2] = {9};
  EXPECT_FALSE(CoreAllocator::create({}, t, &err));
  EXPECT_NE(err.find("out of range"), std::string::npos) << err;
  t = Topology::uniform(4, false);
  t.usable.pop_back();
  EXPECT_FALSE(CoreAllocator::create({}, t, &err));
  EXPECT_NE(err.find("usable"), std::string::npos) << err;
}

TEST(AllocatorInput, RejectsBadApps) {
  Topology t = Topology::uniform(4, false);
  t.usable[3] = false;
  auto a = CoreAllocator::create({}, t, nullptr);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->add_app({kNoApp, 1, 0, true}));
  EXPECT_TRUE(a->add_app({A, 0, 0, true}));
  EXPECT_TRUE(a->add_app({A, 2, 2, true}));  // 4 > 3 usable
  EXPECT_FALSE(a->add_app({A, 2, 1, true}));
  EXPECT_TRUE(a->add_app({A, 1, 0, true}));  // duplicate
  auto err = a->add_app({B, 2, 0, true});     // 2 + 2 guaranteed > 3
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("guaranteed"), std::string::npos) << *err;
  EXPECT_FALSE(a->add_app({B, 1, 2, true}));
}

TEST(AllocatorInput, BadPollsChangeNothing) {
  Harness h(4);
  h.runtime_app(A, 0, 3, 3);
  h.unmodified_app(B, 0, 1);
  grant_one(h, A, 0);
  h.enqueue(A, 0);
  h.poll();  // item seen once; the next good poll must see congestion

  std::vector<Decision> out{Decision{}};
  // Clock going backwards.
  std::vector<AppView> views;
  PollInput in{h.now - 1, views, h.cores};
  auto s = h.alloc->poll(in, out);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.error.find("backwards"), std::string::npos) << s.error;
  EXPECT_TRUE(out.empty());
  // Wrong number of cores.
  std::vector<CoreView> three(3);
  in = {h.now + 1, views, three};
  s = h.alloc->poll(in, out);
  EXPECT_NE(s.error.find("cores"), std::string::npos) << s.error;
  // Unknown app, duplicate app, kthreads for an unmodified app.
  std::vector<KthreadView> kv(1);
  views = {AppView{77, {}, std::nullopt}};
  in = {h.now + 1, views, h.cores};
  s = h.alloc->poll(in, out);
  EXPECT_NE(s.error.find("unknown app 77"), std::string::npos) << s.error;
  views = {AppView{A, h.kthreads[A], std::nullopt},
           AppView{A, h.kthreads[A], std::nullopt}};
  s = h.alloc->poll({h.now + 1, views, h.cores}, out);
  EXPECT_NE(s.error.find("twice"), std::string::npos) << s.error;
  views = {AppView{B, kv, std::nullopt}};
  s = h.alloc->poll({h.now + 1, views, h.cores}, out);
  EXPECT_NE(s.error.find("unmodified"), std::string::npos) << s.error;
  EXPECT_TRUE(out.empty());

  // The next good poll behaves as if the bad ones never happened.
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].reason, Reason::kCongested);
}

}  // namespace
}  // namespace kairos::policy::testing
