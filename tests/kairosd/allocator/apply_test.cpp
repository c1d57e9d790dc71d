// The order in which a mechanism applies decisions, with a fake mechanism.
#include "harness.hpp"

#include <kairos/allocator/apply.hpp>

#include <string>

namespace kairos::policy::testing {
namespace {

struct FakeMechanism : Mechanism {
  std::vector<std::string> log;
  bool fail_wake = false;
  bool set_owner(CoreId c, AppId a) override {
    log.push_back("owner " + std::to_string(c) + "=" +
                  (a == kNoApp ? std::string("none") : std::to_string(a)));
    return true;
  }
  bool kick(CoreId c, bool preempt) override {
    log.push_back("kick " + std::to_string(c) + (preempt ? " preempt" : " idle"));
    return true;
  }
  bool wake(AppId a, int k, CoreId c) override {
    log.push_back("wake " + std::to_string(a) + "/" + std::to_string(k) + "@" +
                  std::to_string(c));
    return !fail_wake;
  }
  bool yield(AppId a, int k, CoreId c) override {
    log.push_back("yield " + std::to_string(a) + "/" + std::to_string(k) + "@" +
                  std::to_string(c));
    return true;
  }
};

using Log = std::vector<std::string>;

TEST(Apply, GrantIsOwnerThenKickThenWake) {
  Harness h(2);
  h.runtime_app(1, 0, 2, 2);
  h.cores[0].be_runnable = true;
  h.cores[1].be_runnable = true;
  h.enqueue(1, 1);
  h.poll();
  FakeMechanism m;
  auto st = apply_decisions(h.out, m, *h.alloc);
  EXPECT_EQ(st.grants, 1u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(m.log, (Log{"owner 0=1", "kick 0 preempt", "wake 1/1@0"}));
}

TEST(Apply, IdleCoreIsKickedWithoutPreemption) {
  Harness h(1);
  h.unmodified_app(7, 0, 1);
  h.bpf[7] = {1, h.now};
  h.poll();
  FakeMechanism m;
  apply_decisions(h.out, m, *h.alloc);
  EXPECT_EQ(m.log, (Log{"owner 0=7", "kick 0 idle"}));  // no kthread to wake
}

TEST(Apply, FailedWakeRollsBackOwnerAndPolicy) {
  Harness h(1);
  h.runtime_app(1, 0, 1, 1);
  h.enqueue(1, 0);
  h.poll();
  FakeMechanism m;
  m.fail_wake = true;
  auto st = apply_decisions(h.out, m, *h.alloc);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(m.log, (Log{"owner 0=1", "kick 0 idle", "wake 1/0@0", "owner 0=none"}));
  EXPECT_EQ(h.alloc->owner(0), kNoApp);
  EXPECT_EQ(h.alloc->cores_held(1), 0u);
}

TEST(Apply, PreemptionRevokesAndYieldsBeforeTheGrant) {
  Harness h(1);
  h.runtime_app(1, 0, 1, 1);
  h.runtime_app(2, 1, 0, 1);
  h.enqueue(1, 0);
  h.poll();
  h.run(1, 0);
  h.dequeue(1, 0);
  h.enqueue(2, 0);
  h.poll();
  FakeMechanism m;
  auto st = apply_decisions(h.out, m, *h.alloc);
  EXPECT_EQ(st.revokes, 1u);
  EXPECT_EQ(st.grants, 1u);
  EXPECT_EQ(m.log, (Log{"owner 0=none", "yield 1/0@0", "owner 0=2",
                        "kick 0 preempt", "wake 2/0@0"}));
}

TEST(Apply, ParkedRevokeOnlyClearsTheOwner) {
  Harness h(1);
  h.runtime_app(1, 0, 1, 1);
  h.enqueue(1, 0);
  h.poll();
  h.run(1, 0);
  h.dequeue(1, 0);
  h.poll();
  h.park(1, 0);
  h.poll();
  FakeMechanism m;
  apply_decisions(h.out, m, *h.alloc);
  EXPECT_EQ(m.log, (Log{"owner 0=none"}));
}

}  // namespace
}  // namespace kairos::policy::testing
