// libkairos parking through the real kairos.ko, inside the sched_ext VM:
// kthreads park in KAIROS_IOC_PARK and are woken by KAIROS_IOC_GRANT (the
// module's stats count both), work completes across grant/reclaim cycles,
// signals and external grants are survived, and the runtime leaves the
// module with no live objects so it unloads. Without the module (or without
// the capability) kDevKairos fails clearly and kAuto falls back to futex.
#include <kairos/queue_state_area.hpp>
#include <kairos/runtime.hpp>

#include "../kmod/kmod_testlib.hpp"

#include <linux/capability.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::Config;
using kairos::ParkBackend;
using kairos::Runtime;
using kairos::Thread;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::path_exists;
using kairos::vmtest::wait_for;

// Spawns n detached uthreads that yield a few times each and waits (at
// most 30 s, so a lost wake fails the test instead of hanging it with the
// module loaded) until all ran to the end; returns how many did.
int spawn_join_round(Runtime& rt, int n) {
  auto done = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < n; ++i)
    rt.spawn_detached([done] {
      for (int y = 0; y < 3; ++y) kairos::this_uthread::yield();
      done->fetch_add(1);
    });
  wait_for([&] { return done->load() == n; }, 30s);
  return done->load();
}

std::string create_error(Config cfg) {
  try {
    Runtime rt(std::move(cfg));
    return "";
  } catch (const std::runtime_error& e) {
    return e.what();
  }
}

TEST(RuntimeDevKairos, SelfWakingKthreadsParkAndAreGrantedByTheModule) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  const std::uint64_t parks0 = read_stat("parks");
  const std::uint64_t grants0 = read_stat("grants");
  {
    Runtime rt({.kthreads = 2, .park = ParkBackend::kDevKairos});
    EXPECT_STREQ(rt.park_backend_name(), "devkairos");
    ASSERT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s));
    EXPECT_TRUE(wait_for([] { return read_stat("live_parked") == 2; }, 5s));
    for (int round = 0; round < 20; ++round) {
      ASSERT_EQ(spawn_join_round(rt, 64), 64) << "round " << round;
      // Let both park again, so every round goes through GRANT.
      ASSERT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s));
    }
    EXPECT_GE(read_stat("parks"), parks0 + 20);
    EXPECT_GE(read_stat("grants"), grants0 + 20);
  }
  // The runtime closed its file and woke every parked kthread.
  EXPECT_EQ(read_stat("live_parked"), 0u);
  EXPECT_EQ(read_stat("live_files"), 0u);
}

TEST(RuntimeDevKairos, GrantReclaimCyclesSignalsAndExternalGrants) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    // Allocator mode: only grant() wakes, and a granted kthread keeps
    // polling its core until reclaimed. SIGURG preemption makes PARK
    // return -EINTR, which must not end a park.
    Runtime rt({.kthreads = 2,
                .self_wake = false,
                .spin_before_park = std::chrono::hours(1),
                .preempt_by_signal = true,
                .park = ParkBackend::kDevKairos});
    EXPECT_EQ(rt.reclaim(2), 2u);
    ASSERT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s));
    std::string err;
    auto view = kairos::RuntimeAreaView::attach_fd(rt.queue_state_fd(), &err);
    ASSERT_TRUE(view) << err;
    std::vector<pid_t> tids;
    for (unsigned k = 0; k < 2; ++k) tids.push_back(static_cast<pid_t>(view->tid(k)));

    // Signals: each parked kthread goes back into PARK and stays parked.
    std::uint64_t parks = read_stat("parks");
    for (pid_t t : tids) ASSERT_EQ(::syscall(SYS_tgkill, ::getpid(), t, SIGURG), 0);
    EXPECT_TRUE(wait_for([&] { return read_stat("parks") >= parks + 2; }, 10s));
    EXPECT_EQ(rt.running_kthreads(), 0u);
    EXPECT_TRUE(wait_for([] { return read_stat("live_parked") == 2; }, 5s));

    // Grant / reclaim cycles with work in between.
    for (int cycle = 0; cycle < 10; ++cycle) {
      const std::uint64_t grants = read_stat("grants");
      const unsigned want = 1 + cycle % 2;
      ASSERT_EQ(rt.grant(want), want);
      ASSERT_TRUE(wait_for([&] { return read_stat("grants") >= grants + want; }, 10s));
      EXPECT_EQ(rt.running_kthreads(), want);
      ASSERT_EQ(spawn_join_round(rt, 100), 100) << "cycle " << cycle;
      EXPECT_EQ(rt.reclaim(want), want);
      ASSERT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s))
          << "cycle " << cycle;
    }

    // An external allocator grants kthread 1 by tid (to CPU 0): it runs
    // until reclaimed, then parks through the module again.
    const int fd = dev_open();
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(wait_for([] { return read_stat("live_parked") == 2; }, 5s));
    parks = read_stat("parks");
    kairos_grant g{};
    g.tid = tids[1];
    g.cpu = 0;
    EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
    EXPECT_TRUE(wait_for([&] { return rt.running_kthreads() == 1; }, 10s));
    EXPECT_EQ(read_stat("live_parked"), 1u);
    EXPECT_EQ(rt.reclaim(1), 1u);
    EXPECT_TRUE(wait_for([&] { return read_stat("parks") >= parks + 1; }, 10s));
    EXPECT_TRUE(wait_for([&] { return rt.running_kthreads() == 0; }, 10s));
    ::close(fd);
    ASSERT_EQ(rt.grant(2), 2u);
    EXPECT_EQ(spawn_join_round(rt, 50), 50);
  }
  EXPECT_EQ(read_stat("live_parked"), 0u);
}

TEST(RuntimeDevKairos, WithoutModuleOrCapabilityClearErrorAndAutoUsesFutex) {
  KernelLogGuard guard;
  ASSERT_FALSE(path_exists(kSysfs)) << "a previous test leaked kairos.ko";
  std::string e = create_error({.kthreads = 1, .park = ParkBackend::kDevKairos});
  EXPECT_NE(e.find("devkairos"), std::string::npos) << e;
  EXPECT_NE(e.find("not present"), std::string::npos) << e;
  {
    Runtime rt({.kthreads = 1});
    EXPECT_STREQ(rt.park_backend_name(), "futex");
    EXPECT_EQ(spawn_join_round(rt, 10), 10);
  }

  // Module loaded, caller without CAP_SYS_NICE / CAP_SYS_ADMIN (a child
  // that drops them): the same, with the capability named.
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    Runtime rt({.kthreads = 1});  // root: kAuto takes the module
    EXPECT_STREQ(rt.park_backend_name(), "devkairos");
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (const int e = drop_grant_capabilities()) _exit(e);
    const std::string why =
        create_error({.kthreads = 1, .park = ParkBackend::kDevKairos});
    if (why.find("CAP_SYS_NICE") == std::string::npos) _exit(102);
    Runtime rt({.kthreads = 1});
    if (std::string(rt.park_backend_name()) != "futex") _exit(103);
    if (spawn_join_round(rt, 10) != 10) _exit(104);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
