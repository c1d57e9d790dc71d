// The standby core: which core the policy keeps for an unmodified app's
// next burst, which grants may not take it, and how a claim by the
// scheduler is adopted.
#include "harness.hpp"

namespace kairos::policy::testing {
namespace {

constexpr AppId A = 1, B = 2;

// The first poll after the app came: its guaranteed core, and the core
// kept on standby for it (kNoCore, and a failure, if none).
CoreId first_standby(Harness& h, AppId id) {
  EXPECT_TRUE(h.poll().ok);
  const CoreId s = h.alloc->standby(id);
  EXPECT_NE(s, kNoCore);
  if (s != kNoCore) {
    EXPECT_EQ(h.alloc->owner(s), kNoApp);
  }
  return s;
}

TEST(Standby, AnUnmodifiedAppThatMayBurstGetsAFreeCoreKeptForIt) {
  Harness h(4);
  h.cores[1].be_runnable = true;  // core 0 idle, 1-3 running BE work
  h.cores[2].be_runnable = true;
  h.cores[3].be_runnable = true;
  h.unmodified_app(A, 1, 2);
  ASSERT_TRUE(h.poll().ok);
  ASSERT_EQ(h.grants().size(), 1u);  // its guaranteed core
  const CoreId mine = h.grants()[0].core;
  EXPECT_EQ(mine, 0u);  // the idle one
  const CoreId s = h.alloc->standby(A);
  ASSERT_NE(s, kNoCore);
  EXPECT_NE(s, mine);
  EXPECT_EQ(h.alloc->owner(s), kNoApp);
  // Kept while it stays free, poll after poll.
  for (int i = 0; i < 3; ++i) {
    h.poll();
    EXPECT_EQ(h.alloc->standby(A), s);
  }
}

TEST(Standby, NoneAtTheAppsMostCoresForRuntimeAppsOrWhenOff) {
  {
    Harness h(4);
    h.unmodified_app(A, 1, 0);  // nothing to burst to
    h.poll();
    EXPECT_EQ(h.alloc->standby(A), kNoCore);
  }
  {
    Harness h(4);
    h.runtime_app(A, 0, 2, 2);  // a kthread must be woken: the policy grants
    h.poll();
    EXPECT_EQ(h.alloc->standby(A), kNoCore);
  }
  {
    PolicyConfig cfg;
    cfg.standby = false;
    Harness h(4, false, cfg);
    h.unmodified_app(A, 1, 2);
    h.poll();
    EXPECT_EQ(h.alloc->standby(A), kNoCore);
  }
}

TEST(Standby, TakenIsAdoptedAsAGrantAndTheNextPollKeepsAnother) {
  Harness h(4);
  h.unmodified_app(A, 1, 3);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  ASSERT_TRUE(h.alloc->standby_taken(A, s, h.now + 1));
  EXPECT_EQ(h.alloc->owner(s), A);
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
  EXPECT_EQ(h.alloc->standby(A), kNoCore);
  h.poll();
  const CoreId next = h.alloc->standby(A);
  ASSERT_NE(next, kNoCore);
  EXPECT_NE(next, s);
  EXPECT_EQ(h.alloc->owner(next), kNoApp);
  // The adopted core goes back like any burstable core: idle twice.
  h.cores[s].owner_idle = true;
  h.poll();
  h.poll();
  ASSERT_EQ(h.revokes().size(), 1u);
  EXPECT_EQ(h.revokes()[0].core, s);
  EXPECT_EQ(h.revokes()[0].reason, Reason::kIdle);
}

TEST(Standby, AtItsMostCoresTheAppHasNoneAndATakenCoreIsRefused) {
  Harness h(4);
  h.unmodified_app(A, 1, 1);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  ASSERT_TRUE(h.alloc->standby_taken(A, s, h.now + 1));
  h.poll();
  EXPECT_EQ(h.alloc->standby(A), kNoCore);
  // A claim the scheduler made from a slot kairosd had not emptied yet.
  CoreId other = 0;
  while (h.alloc->owner(other) != kNoApp) ++other;
  EXPECT_FALSE(h.alloc->standby_taken(A, other, h.now + 1));
  EXPECT_EQ(h.alloc->owner(other), kNoApp);
  EXPECT_EQ(h.alloc->cores_held(A), 2u);
}

TEST(Standby, TakenIsRefusedForAnOwnedCoreOrAnUnknownApp) {
  Harness h(4);
  h.unmodified_app(A, 1, 2);
  h.poll();
  const CoreId mine = h.grants().at(0).core;
  EXPECT_FALSE(h.alloc->standby_taken(A, mine, h.now + 1));
  EXPECT_FALSE(h.alloc->standby_taken(B, h.alloc->standby(A), h.now + 1));
  EXPECT_FALSE(h.alloc->standby_taken(A, 99, h.now + 1));
  EXPECT_EQ(h.alloc->cores_held(A), 1u);
}

TEST(Standby, TakenIsRefusedForARuntimeApp) {
  // An app kairosd managed as unmodified until its runtime was found may
  // have claimed a core from its old slot: as a runtime app, no kthread
  // would ever give that core back.
  Harness h(4);
  h.runtime_app(A, 0, 2, 2);
  h.poll();
  EXPECT_FALSE(h.alloc->standby_taken(A, 1, h.now + 1));
  EXPECT_EQ(h.alloc->owner(1), kNoApp);
  EXPECT_EQ(h.alloc->cores_held(A), 0u);
}

TEST(Standby, TheAppsOwnCongestionGrantTakesItsStandbyCore) {
  // The scheduler may claim the standby any moment: a grant of another
  // core by the poll could then give the app one core more than it may.
  Harness h(4);
  h.unmodified_app(A, 1, 1);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  h.bpf[A] = {2, h.now - 1};  // queued across a poll: congested
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_EQ(h.grants()[0].core, s);
  EXPECT_EQ(h.grants()[0].reason, Reason::kCongested);
}

TEST(Standby, AnotherAppsBurstLeavesTheStandbyCoreAlone) {
  // Three cores: A's guaranteed, A's standby, one more.
  Harness h(3);
  h.unmodified_app(A, 1, 1);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  const CoreId a_core = h.grants().at(0).core;
  // B, all burstable, congests: it gets the third core, not A's standby,
  // and then nothing more.
  h.unmodified_app(B, 0, 2);
  h.bpf[B] = {1, h.now + 1};
  h.poll();
  ASSERT_EQ(h.grants().size(), 1u);
  EXPECT_NE(h.grants()[0].core, s);
  EXPECT_NE(h.grants()[0].core, a_core);
  h.bpf[B] = {3, h.now - 1};
  for (int i = 0; i < 3; ++i) {
    h.poll();
    for (const auto& g : h.grants()) EXPECT_NE(g.core, s) << "poll " << i;
  }
  EXPECT_EQ(h.alloc->standby(A), s);
  EXPECT_EQ(h.alloc->cores_held(B), 1u);
}

TEST(Standby, AGuaranteedNeedTakesAnotherAppsStandbyWhenNothingElseIsFree) {
  Harness h(3);
  h.unmodified_app(A, 1, 1);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  // B needs two guaranteed cores: the free one and A's standby.
  h.unmodified_app(B, 2, 0);
  h.poll();
  std::vector<CoreId> got;
  for (const auto& g : h.grants())
    if (g.app == B) got.push_back(g.core);
  ASSERT_EQ(got.size(), 1u);  // one per poll
  h.poll();
  for (const auto& g : h.grants())
    if (g.app == B) got.push_back(g.core);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0] == s || got[1] == s);
  EXPECT_EQ(h.alloc->owner(s), B);
  EXPECT_EQ(h.alloc->standby(A), kNoCore);  // nothing left to keep
}

TEST(Standby, ACoreOutsideTheAppsCpusetIsNeverItsStandby) {
  Harness h(4);
  h.unmodified_app(A, 1, 2, {false, true, true, false});
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  EXPECT_TRUE(s == 1 || s == 2);
  EXPECT_FALSE(h.alloc->standby_taken(A, 3, h.now + 1));
}

TEST(Standby, RemovingTheAppFreesItsStandbyCore) {
  Harness h(2);
  h.unmodified_app(A, 1, 1);
  const CoreId s = first_standby(h, A);
  ASSERT_NE(s, kNoCore);
  std::vector<Decision> out;
  ASSERT_FALSE(h.alloc->remove_app(A, out));
  h.ids.clear();
  h.bpf.clear();
  EXPECT_EQ(h.alloc->standby(A), kNoCore);
  // B, all burstable, may now have both cores.
  h.unmodified_app(B, 0, 2);
  h.bpf[B] = {1, h.now + 1};
  h.poll();
  h.bpf[B] = {3, h.now - 1};
  for (int i = 0; i < 3; ++i) h.poll();
  EXPECT_EQ(h.alloc->cores_held(B) + (h.alloc->standby(B) != kNoCore ? 1u : 0u), 2u);
}

}  // namespace
}  // namespace kairos::policy::testing
