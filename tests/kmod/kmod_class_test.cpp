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
#include <cstring>
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

// One thread that joins the class and exits (without LC_DEL); its tid.
pid_t add_member_that_exits(int fd) {
  std::atomic<pid_t> tid{0};
  std::atomic<bool> go{false};
  std::thread t([&] {
    tid = self_tid();
    while (!go.load()) std::this_thread::sleep_for(100us);
  });
  wait_for([&] { return tid.load() != 0; }, 5s);
  kairos_lc reg{};
  reg.tid = tid;
  const int r = ioc(fd, KAIROS_IOC_LC_ADD, &reg);
  go = true;
  t.join();
  return r == 0 ? tid.load() : r;
}

TEST(KmodClass, ExitedMembersAreReclaimedWithoutPolicyCalls) {
  // Members that exit without LC_DEL give their slots back while the fd
  // stays open: many more than the class holds join and exit in turn,
  // a live member stays in the class all along, and no policy call is
  // made on a dead thread.
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("period_us", "1000000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "900000"), 0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  std::atomic<bool> stop{false};
  std::atomic<pid_t> live_tid{0};
  std::thread live([&] {
    live_tid = self_tid();
    while (!stop.load()) std::this_thread::sleep_for(1ms);
  });
  struct Joiner {  // also when an assertion returns early
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      t.join();
    }
  } joiner{stop, live};
  wait_for([&] { return live_tid.load() != 0; }, 5s);
  kairos_lc reg{};
  reg.tid = live_tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  kairos_version ver{};
  ASSERT_EQ(ioc(fd, KAIROS_IOC_VERSION, &ver), 0);
  for (unsigned i = 0; i < 3 * ver.max_lc_threads; ++i) {
    const pid_t t = add_member_that_exits(fd);
    if (t <= 0) {
      ADD_FAILURE() << "join " << i << ": " << std::strerror(-t);
      break;
    }
  }
  EXPECT_TRUE(wait_for([] { return read_stat("live_lc_threads") == 1; }, 5s))
      << read_stat("live_lc_threads") << " members left, want only the live one";
  // An exited member's id names nothing any more.
  const pid_t gone = add_member_that_exits(fd);
  EXPECT_GT(gone, 0);
  EXPECT_TRUE(wait_for([] { return read_stat("live_lc_threads") == 1; }, 5s));
  reg.tid = gone;
  if (gone > 0) {
    EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_DEL, &reg), -ESRCH);
  }
  EXPECT_EQ(policy_of(live_tid), SCHED_FIFO);
  EXPECT_EQ(read_stat("policy_errors"), 0u);
  reg.tid = live_tid;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_DEL, &reg), 0);
  EXPECT_EQ(policy_of(live_tid), SCHED_OTHER);
  ::close(fd);
}

TEST(KmodClass, AStallIsNotPaidForMuchLongerThanItLasted) {
  // A member that runs on at real-time priority long after its budget is
  // spent (here it raises itself above the class kthread, as a VM pause
  // or a long interrupts-off section would stop the demotion) owes that
  // time. Paid back at one quantum per period, a 300 ms overrun at 100 us
  // per 100 ms would keep the CPU throttled for minutes; it must be over
  // within about the stall's length plus a period or two.
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_GE(online_cpus(), 2);
  ASSERT_EQ(write_sysfs("quantum_us", "100"), 0);
  ASSERT_EQ(write_sysfs("period_us", "100000"), 0);
  pin_self(0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  int go[2], done[2];
  ASSERT_EQ(::pipe(go), 0);
  ASSERT_EQ(::pipe(done), 0);
  std::atomic<pid_t> tid{0};
  std::thread member([&] {
    pin_self(1);
    tid = self_tid();
    char c;
    if (::read(go[0], &c, 1) != 1) return;  // blocked: uses no budget
    timespec t0{}, t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      ::clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < 300000000LL);
    c = 'd';
    if (::write(done[1], &c, 1) != 1) return;
    (void)!::read(go[0], &c, 1);  // sleeps until the end
  });
  wait_for([&] { return tid.load() != 0; }, 5s);
  kairos_lc reg{};
  reg.tid = tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  // Raised while it sleeps (it has used no budget, so nothing demotes it
  // first): when it wakes, the class kthread cannot demote it.
  sched_param rt{};
  rt.sched_priority = 99;
  ASSERT_EQ(::sched_setscheduler(tid, SCHED_FIFO, &rt), 0);
  const auto periods0 = read_stat("throttled_periods");
  char c = 'g';
  ASSERT_EQ(::write(go[1], &c, 1), 1);
  ASSERT_EQ(::read(done[0], &c, 1), 1);
  const auto stall_end = std::chrono::steady_clock::now();
  const bool paid = wait_for([] { return per_cpu_stat(1, "throttled") == 0; }, 3s);
  const double paid_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stall_end).count();
  std::printf("300 ms stall at 100 us / 100 ms: throttled %.3f s after it, "
              "%llu throttled periods, overrun %.3f s\n",
              paid_s,
              static_cast<unsigned long long>(read_stat("throttled_periods") - periods0),
              read_stat("lc_overrun_ns") * 1e-9);
  EXPECT_TRUE(paid) << "CPU 1 still throttled " << paid_s << " s after a 300 ms stall";
  EXPECT_GT(read_stat("lc_overrun_ns"), 100000000u) << "the stall was not charged";
  EXPECT_EQ(read_stat("policy_errors"), 0u);
  ASSERT_EQ(::write(go[1], &c, 1), 1);
  member.join();
  for (int f : {go[0], go[1], done[0], done[1]}) ::close(f);
  ::close(fd);
}

}  // namespace
