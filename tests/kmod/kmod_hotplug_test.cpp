// CPU hotplug under the LC class: CPU 1 goes offline and comes back while
// an LC member and a normal spinner share it, throttles are active and a
// thread is parked there. Checked: no BUG/WARNING/Oops, members stay
// members and keep running, the per-CPU kthread goes and comes back, the
// class throttles on CPU 1 again, stats add up, unload leaves live_* at 0.
#include "kmod_testlib.hpp"

#include <dirent.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::path_exists;
using kairos::vmtest::read_file;
using kairos::vmtest::wait_for;

constexpr int kCpu = 1;  // CPU 0 cannot go offline on x86

// Puts CPU 1 back online at the end of a test, whatever happened.
struct OnlineAtExit {
  ~OnlineAtExit() {
    if (!cpu_is_online(kCpu)) {
      EXPECT_EQ(set_cpu_online(kCpu, true), 0);
    }
  }
};

bool kthread_exists(const std::string& comm) {
  DIR* d = ::opendir("/proc");
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (read_file(std::string("/proc/") + e->d_name + "/comm") == comm + "\n") {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// The totals in stats/ equal the sum of the per-CPU lines (the class
// keeps counting meanwhile: the total lies between two sums).
void expect_stats_add_up() {
  auto sum = [](const char* name) {
    std::int64_t s = 0;
    for (int cpu = 0; cpu < present_cpus(); ++cpu) s += per_cpu_stat(cpu, name);
    return static_cast<std::uint64_t>(s);
  };
  for (const char* name : {"throttles", "unthrottles", "parks", "grants"}) {
    const std::uint64_t before = sum(name), total = read_stat(name), after = sum(name);
    EXPECT_LE(before, total) << name;
    EXPECT_LE(total, after) << name;
  }
}

TEST(KmodHotplug, CpuOfflineOnlineWhileThrottlingAndParked) {
  KernelLogGuard guard;
  ASSERT_TRUE(path_exists("/sys/devices/system/cpu/cpu1/online"));
  OnlineAtExit online_again;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_GE(online_cpus(), 2);
  ASSERT_EQ(write_sysfs("period_us", "10000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "3000"), 0);
  pin_self(0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);

  // A thread parked on CPU 1 across the hotplug cycles.
  std::atomic<pid_t> parked_tid{0};
  std::atomic<int> park_ret{1};
  kairos_park park{};
  std::thread parker([&] {
    pin_self(kCpu);
    parked_tid = self_tid();
    park.timeout_ns = 60'000'000'000ULL;
    park_ret = ioc(fd, KAIROS_IOC_PARK, &park);
  });
  ASSERT_TRUE(wait_for([] { return read_sysfs("stats/live_parked") == "1"; }, 5s));

  Spinner lc(kCpu), normal(kCpu);
  kairos_lc reg{};
  reg.tid = lc.tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  ASSERT_TRUE(wait_for([] { return per_cpu_stat(kCpu, "throttles") > 0; }, 10s))
      << read_file(std::string(kSysfs) + "/stats/per_cpu");
  EXPECT_TRUE(kthread_exists("kairos_mq/1"));

  for (int cycle = 0; cycle < 3; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    ASSERT_EQ(set_cpu_online(kCpu, false), 0);
    EXPECT_FALSE(cpu_is_online(kCpu));
    EXPECT_TRUE(wait_for([] { return !kthread_exists("kairos_mq/1"); }, 5s));
    EXPECT_EQ(per_cpu_stat(kCpu, "online"), 0);
    EXPECT_EQ(per_cpu_stat(kCpu, "throttled"), 0);
    // Still a member, now sharing CPU 0 under the class; both keep running.
    EXPECT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), -EEXIST);
    const double lc0 = thread_cpu_s(lc.clock), n0 = thread_cpu_s(normal.clock);
    const auto thr0 = per_cpu_stat(0, "throttles");
    std::this_thread::sleep_for(400ms);
    EXPECT_GT(thread_cpu_s(lc.clock), lc0 + 0.01);
    EXPECT_GT(thread_cpu_s(normal.clock), n0 + 0.01);
    EXPECT_GT(per_cpu_stat(0, "throttles"), thr0);  // the class works on CPU 0
    EXPECT_EQ(read_sysfs("stats/live_parked"), "1");
    expect_stats_add_up();

    ASSERT_EQ(set_cpu_online(kCpu, true), 0);
    EXPECT_TRUE(wait_for([] { return kthread_exists("kairos_mq/1"); }, 5s));
    EXPECT_EQ(per_cpu_stat(kCpu, "online"), 1);
    ASSERT_EQ(lc.repin(kCpu), 0);
    ASSERT_EQ(normal.repin(kCpu), 0);
    const auto thr1 = per_cpu_stat(kCpu, "throttles");
    EXPECT_TRUE(wait_for([&] { return per_cpu_stat(kCpu, "throttles") > thr1; }, 10s))
        << "the class does not throttle on CPU 1 after it came back";
  }
  EXPECT_EQ(policy_of(lc.tid) == SCHED_FIFO ||
                policy_of(lc.tid) == SCHED_IDLE,
            true);

  // The thread parked on CPU 1 before all that is still there: grant it.
  kairos_grant g{};
  g.cpu = 0;
  g.tid = parked_tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), 0);
  parker.join();
  EXPECT_EQ(park_ret.load(), 0);
  EXPECT_EQ(park.cpu, 0u);

  // The share on CPU 1 after the cycles: (period - quantum) / period.
  std::this_thread::sleep_for(200ms);
  const double lc0 = thread_cpu_s(lc.clock), n0 = thread_cpu_s(normal.clock);
  std::this_thread::sleep_for(2000ms);
  const double lc_cpu = thread_cpu_s(lc.clock) - lc0;
  const double n_cpu = thread_cpu_s(normal.clock) - n0;
  std::printf("after 3 hotplug cycles: normal share %.3f (want 0.700)\n",
              n_cpu / (lc_cpu + n_cpu));
  EXPECT_NEAR(n_cpu / (lc_cpu + n_cpu), 0.7, 0.07);
  expect_stats_add_up();
  EXPECT_EQ(read_stat("policy_errors"), 0u);
  ::close(fd);
  EXPECT_EQ(policy_of(lc.tid), SCHED_OTHER);
}

TEST(KmodHotplug, LoadWithCpuOfflineThenBringItOnline) {
  KernelLogGuard guard;
  ASSERT_TRUE(path_exists("/sys/devices/system/cpu/cpu1/online"));
  OnlineAtExit online_again;
  ASSERT_EQ(set_cpu_online(kCpu, false), 0);
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  EXPECT_TRUE(kthread_exists("kairos_mq/0"));
  EXPECT_FALSE(kthread_exists("kairos_mq/1"));
  EXPECT_EQ(per_cpu_stat(kCpu, "online"), 0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  // An offline CPU is a bad CPU for the ioctls that name one.
  kairos_grant g{};
  g.cpu = kCpu;
  EXPECT_EQ(ioc(fd, KAIROS_IOC_GRANT, &g), -EINVAL);
  kairos_preempt p{};
  p.cpus = cpuset_of(kCpu);
  EXPECT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), -EINVAL);

  ASSERT_EQ(set_cpu_online(kCpu, true), 0);
  EXPECT_TRUE(wait_for([] { return kthread_exists("kairos_mq/1"); }, 5s));
  ASSERT_EQ(write_sysfs("period_us", "10000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "3000"), 0);
  pin_self(0);
  Spinner lc(kCpu), normal(kCpu);
  kairos_lc reg{};
  reg.tid = lc.tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &reg), 0);
  EXPECT_TRUE(wait_for([] { return per_cpu_stat(kCpu, "throttles") > 0; }, 10s))
      << read_file(std::string(kSysfs) + "/stats/per_cpu");
  ::close(fd);
}

TEST(KmodHotplug, ParkNeverFailsOnceItTookAGrant) {
  // A thread parked on CPU 0 is granted CPU 1 again and again while CPU 1
  // goes offline and online: when CPU 1 goes away between the grant and
  // the thread's move there, PARK still returns 0 and reports the CPU the
  // thread runs on (it must not fail a grant it consumed).
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  OnlineAtExit online;
  pin_self(0);
  const int fd = dev_open();
  ASSERT_GE(fd, 0);
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::atomic<int> granted{0}, moved_elsewhere{0}, failures{0}, last_error{0},
      bad_cpu{0};
  std::thread parker([&] {
    tid = self_tid();
    while (!stop.load()) {
      pin_self(0);
      kairos_park a{};
      a.timeout_ns = 20'000'000;
      const int r = ioc(fd, KAIROS_IOC_PARK, &a);
      if (r == -ETIMEDOUT) continue;
      if (r) {
        ++failures;
        last_error = r;
        continue;
      }
      ++granted;
      // (Not compared with sched_getcpu(): CPU 1 may go offline right
      // after PARK returned, and the kernel then moves the thread.)
      if (a.cpu != static_cast<unsigned>(kCpu)) ++moved_elsewhere;
      if (a.cpu != 0 && a.cpu != static_cast<unsigned>(kCpu)) ++bad_cpu;
    }
  });
  wait_for([&] { return tid.load() != 0; }, 5s);
  std::thread granter([&] {
    pin_self(0);
    kairos_grant g{};
    g.tid = tid;
    while (!stop.load()) {
      g.cpu = kCpu;
      if (ioc(fd, KAIROS_IOC_GRANT, &g) == -EINVAL) {  // CPU 1 offline now
        g.cpu = 0;
        ioc(fd, KAIROS_IOC_GRANT, &g);
      }
    }
  });
  for (int round = 0; round < 10; ++round) {
    EXPECT_EQ(set_cpu_online(kCpu, false), 0);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(set_cpu_online(kCpu, true), 0);
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  granter.join();
  parker.join();
  std::printf("grants taken %d (%d not on CPU %d), PARK failures %d (last %d)\n",
              granted.load(), moved_elsewhere.load(), kCpu, failures.load(),
              last_error.load());
  EXPECT_GT(granted.load(), 10);
  EXPECT_EQ(failures.load(), 0) << "last error " << last_error.load();
  EXPECT_EQ(bad_cpu.load(), 0) << "PARK reported a CPU it was neither granted nor parked on";
  ::close(fd);
}

}  // namespace
