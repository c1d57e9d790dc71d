// The MicroQuanta-like class: on a CPU shared by an LC spinner and a
// normal spinner the normal one gets (period - quantum) / period of it,
// and an LC thread that wakes runs before a normal hog continues.
#include "kmod_testlib.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::wait_for;

// Normal share for quantum/period, measured over `window`.
void expect_share(int quantum_us, int period_us, std::chrono::milliseconds window) {
  ASSERT_EQ(write_sysfs("period_us", std::to_string(period_us)), 0);
  ASSERT_EQ(write_sysfs("quantum_us", std::to_string(quantum_us)), 0);
  pin_self(0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  Spinner lc(1), normal(1);
  kairos_lc reg{};
  reg.tid = lc.tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  std::this_thread::sleep_for(200ms);  // settle
  const auto throttles0 = read_stat("throttles");
  const auto in_budget0 = read_stat("lc_runtime_ns");
  const auto over0 = read_stat("lc_throttled_ns");
  const double lc0 = thread_cpu_s(lc.clock), n0 = thread_cpu_s(normal.clock);
  std::this_thread::sleep_for(window);
  const double lc1 = thread_cpu_s(lc.clock), n1 = thread_cpu_s(normal.clock);
  const double lc_cpu = lc1 - lc0, normal_cpu = n1 - n0;
  const double share = normal_cpu / (lc_cpu + normal_cpu);
  const double want = static_cast<double>(period_us - quantum_us) / period_us;
  std::printf("quantum %d us period %d us: normal %.3f s, LC %.3f s "
              "(%.3f s in budget, %.3f s throttled), normal share %.3f "
              "(want %.3f), throttles %llu\n",
              quantum_us, period_us, normal_cpu, lc_cpu,
              (read_stat("lc_runtime_ns") - in_budget0) * 1e-9,
              (read_stat("lc_throttled_ns") - over0) * 1e-9, share, want,
              static_cast<unsigned long long>(read_stat("throttles") - throttles0));
  // 0.07: one run under host load read 0.441 for 0.5 (the emulated
  // timers lag); still far from the 0.5 a missing class gives at 15/50.
  EXPECT_NEAR(share, want, 0.07);
  EXPECT_GT(read_stat("throttles"), throttles0);
  EXPECT_GT(read_stat("unthrottles"), 0u);
  EXPECT_EQ(read_stat("policy_errors"), 0u);
  ::close(fd);
  EXPECT_EQ(policy_of(lc.tid), SCHED_OTHER);
}

TEST(KmodClass, NormalSpinnerGetsPeriodMinusQuantum) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_GE(online_cpus(), 2);
  // Long periods: the emulated VM's timers are late by up to milliseconds
  // (the module pays overruns back, but each period's error is bounded
  // by one timer delay).
  // KAIROS_SHARE_QUANTUM_US/KAIROS_SHARE_PERIOD_US: measure another pair
  // by hand (e.g. a short period on a machine with precise timers).
  const char* q = std::getenv("KAIROS_SHARE_QUANTUM_US");
  const char* p = std::getenv("KAIROS_SHARE_PERIOD_US");
  if (q && p) {
    expect_share(std::atoi(q), std::atoi(p), 3000ms);
    return;
  }
  expect_share(15000, 50000, 3000ms);
  expect_share(25000, 50000, 3000ms);
}

TEST(KmodClass, WithoutTheClassTheSpinnersShareEvenly) {
  // The control: enabled=0 gives members their own policy back.
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("enabled", "0"), 0);
  pin_self(0);
  const int fd = dev_open();
  Spinner lc(1), normal(1);
  kairos_lc reg{};
  reg.tid = lc.tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  EXPECT_EQ(policy_of(lc.tid), SCHED_OTHER);
  const double lc0 = thread_cpu_s(lc.clock), n0 = thread_cpu_s(normal.clock);
  std::this_thread::sleep_for(1500ms);
  const double lc_cpu = thread_cpu_s(lc.clock) - lc0;
  const double n_cpu = thread_cpu_s(normal.clock) - n0;
  std::printf("class disabled: normal share %.3f\n", n_cpu / (lc_cpu + n_cpu));
  EXPECT_NEAR(n_cpu / (lc_cpu + n_cpu), 0.5, 0.1);
  EXPECT_EQ(read_stat("throttles"), 0u);
  // Enabling it again promotes the member. A long budget first, so the
  // spinner cannot use up its quantum (and be throttled to SCHED_IDLE)
  // between the write and the check on a slow, emulated CPU.
  ASSERT_EQ(write_sysfs("period_us", "1000000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "900000"), 0);
  ASSERT_EQ(write_sysfs("enabled", "1"), 0);
  EXPECT_EQ(policy_of(lc.tid), SCHED_FIFO);
  ::close(fd);
}

// How many of `rounds` wakeups of a thread blocked on a pipe ran before the
// hog that woke it (on the same CPU) got back from write().
int runs_ahead_of_hog(int fd, bool lc_class, int rounds) {
  int p[2];
  if (::pipe(p)) return -1;
  std::atomic<int> marker{0};
  std::atomic<int> ahead{0};
  std::atomic<pid_t> tid{0};
  std::thread waiter([&] {
    pin_self(1);
    tid = self_tid();
    char c;
    for (int i = 0; i < rounds; ++i) {
      if (::read(p[0], &c, 1) != 1) break;
      if (marker.load() == 0) ++ahead;
    }
  });
  wait_for([&] { return tid.load() != 0; }, 5s);
  if (lc_class) {
    kairos_lc reg{};
    reg.tid = tid;
    if (ioc(fd, KAIROS_IOC_LC_ADD, &reg)) return -1;
  }
  std::thread hog([&] {
    pin_self(1);
    for (int i = 0; i < rounds; ++i) {
      for (int spin = 0; spin < 200000; ++spin) asm volatile("");
      marker = 0;
      char c = 'x';
      if (::write(p[1], &c, 1) != 1) break;
      marker = 1;
    }
  });
  hog.join();
  waiter.join();
  if (lc_class) {
    kairos_lc reg{};
    reg.tid = tid;
    ioc(fd, KAIROS_IOC_LC_DEL, &reg);
  }
  ::close(p[0]);
  ::close(p[1]);
  return ahead.load();
}

TEST(KmodClass, WakingLcThreadRunsAheadOfNormalHog) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  // A budget the waiter (a few microseconds per wakeup) cannot use up:
  // this test is about ordering. (An emulated CPU's stalls are charged to
  // whoever runs, and a throttled member runs behind the hog.)
  ASSERT_EQ(write_sysfs("period_us", "10000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "5000"), 0);
  pin_self(0);
  const int fd = dev_open();
  constexpr int kRounds = 100;
  const int normal = runs_ahead_of_hog(fd, false, kRounds);
  const int lc = runs_ahead_of_hog(fd, true, kRounds);
  std::printf("woken thread ran before the hog went on: SCHED_OTHER %d/%d, "
              "LC class %d/%d (throttles %llu)\n", normal, kRounds, lc, kRounds,
              static_cast<unsigned long long>(read_stat("throttles")));
  // Nearly every round. A rare miss (seen once in ~10 runs of 100) is
  // allowed: the kernel's fair server (a deadline entity that keeps fair
  // tasks from starving under RT load) may run the hog ahead of any RT
  // task; we believe that, not the class, explains it.
  EXPECT_GE(lc, kRounds - 3);
  ::close(fd);
}

TEST(KmodClass, ThreadsAMemberStartsAreBornOutsideTheClass) {
  // The class sets SCHED_FIFO with reset-on-fork: a thread a member starts
  // must not inherit an unbounded real-time policy that no budget covers.
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("period_us", "1000000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "900000"), 0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  std::atomic<pid_t> tid{0};
  std::atomic<bool> go{false};
  std::atomic<int> member_policy{-1}, child_policy{-1};
  std::thread member([&] {
    tid = self_tid();
    while (!go.load()) std::this_thread::sleep_for(1ms);
    member_policy = policy_of(0);
    std::thread child([&] { child_policy = policy_of(0); });
    child.join();
  });
  wait_for([&] { return tid.load() != 0; }, 5s);
  kairos_lc reg{};
  reg.tid = tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  go = true;
  member.join();
  EXPECT_EQ(member_policy.load(), SCHED_FIFO);
  EXPECT_EQ(child_policy.load(), SCHED_OTHER);
  EXPECT_EQ(read_stat("policy_errors"), 0u);
  ::close(fd);
}

}  // namespace
