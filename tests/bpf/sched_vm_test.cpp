// The kairos scheduler, kairosd and kairosctl on the real sched_ext
// kernel (label 'vm'): placement, work conservation, hotplug, failure
// and recovery, stress without watchdog ejection, annotation handling.
#include "sched_testlib.hpp"

#include <kairos/kairosd/annotation.hpp>

#include <signal.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using namespace std::chrono_literals;

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string xattr_of(const std::string& dir) {
  char buf[256];
  const ssize_t n = ::getxattr(dir.c_str(), kairos::kAnnotationXattr, buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<std::size_t>(n));
}

// CPUs named in the app's "cpus=" status field.
std::set<int> owned_cpus(const Kairosd& d, const std::string& cgroup) {
  std::set<int> out;
  std::string list = status_field(d.status(), "app", "cgroup=" + cgroup, "cpus");
  std::stringstream ss(list);
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty() && c != "-") out.insert(std::stoi(c));
  return out;
}

void online(int cpu, bool on) {
  std::ofstream("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/online")
      << (on ? "1" : "0");
}

// An LC app with one guaranteed core, kairosd running with it.
struct LcSetup {
  ScratchCgroup lc{"kt-lc"};
  std::unique_ptr<Kairosd> d;
  std::set<int> owned;

  explicit LcSetup(std::vector<std::string> kairosd_args = {}) {
    std::string out;
    EXPECT_EQ(kairosctl({"annotate", lc.name(), "--class", "lc", "--guaranteed", "1",
                         "--burstable", "1"}, &out), 0) << out;
    d = std::make_unique<Kairosd>(std::move(kairosd_args));
    EXPECT_TRUE(d->wait_ready()) << d->output();
    EXPECT_TRUE(wait_for([&] { return owned_cpus(*d, lc.name()).size() == 1; }, 10s))
        << d->status() << d->output();
    owned = owned_cpus(*d, lc.name());
  }
};

TEST(SchedVm, LcTaskStaysOnItsAppsCpus) {
  KernelLogGuard guard;
  LcSetup s;
  ASSERT_EQ(s.owned.size(), 1u) << s.d->status();
  const int mine = *s.owned.begin();
  EXPECT_NE(mine, 0) << "the first CPU stays for everything else";
  Child lc(spinner(), s.lc.dir());
  const auto be = spinners(3);
  sleep_ms(300);
  // The scheduler's own escape hatches (an LC task queued past rescue_ns
  // runs anywhere; one whose app lost its CPU runs as ordinary) are the
  // only allowed reasons to see it elsewhere: a loaded host can stall an
  // emulated CPU for longer than rescue_ns (250 ms).
  const auto escapes = [&] {
    const std::string st = s.d->status();
    return std::stol("0" + status_field(st, "stats", "", "rescues")) +
           std::stol("0" + status_field(st, "stats", "", "lc_fallback"));
  };
  const long escapes0 = escapes();
  std::map<int, int> seen;
  for (int i = 0; i < 40; ++i) {
    sleep_ms(50);
    ++seen[last_cpu(lc.pid())];
  }
  EXPECT_TRUE(seen.count(mine)) << "LC spinner never seen on its CPU";
  if (seen.size() != 1u) {
    // The status is rewritten every 100 ms: let it catch up.
    EXPECT_TRUE(wait_for([&] { return escapes() > escapes0; }, 2s))
        << "LC spinner seen on several CPUs (" << seen.size()
        << ") with no rescue or fallback\n" << s.d->status();
  }
  EXPECT_TRUE(lc.alive());
  // The guard keeps BE work alive on the LC CPU as well: the LC task got
  // CPU time and so did the BE spinners.
  EXPECT_GT(cpu_ticks(lc.pid()), 0);
  for (auto& b : be) EXPECT_GT(cpu_ticks(b->pid()), 0);
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_NE(status_field(s.d->status(), "app", "cgroup=kt-lc", "run_ms"), "0");
  EXPECT_EQ(s.d->stop(SIGTERM), 0) << s.d->output();
  EXPECT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 10s));
}

TEST(SchedVm, BeUsesEveryCpuWhileLcIdle) {
  KernelLogGuard guard;
  LcSetup s;
  ASSERT_EQ(s.owned.size(), 1u);
  const int lc_cpu = *s.owned.begin();
  Child lc(sleeper(), s.lc.dir());  // an idle LC app
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);
  sleep_ms(300);
  const auto idle0 = idle_ticks();
  std::set<int> be_cpus;
  for (int i = 0; i < 30; ++i) {
    sleep_ms(50);
    for (auto& b : be) be_cpus.insert(last_cpu(b->pid()));
  }
  const auto idle1 = idle_ticks();
  EXPECT_TRUE(be_cpus.count(lc_cpu)) << "no BE work on the idle LC app's CPU";
  EXPECT_EQ(be_cpus.size(), static_cast<std::size_t>(ncpu));
  // 1.5 s at 100 ticks/s: an idle LC CPU left to BE is busy, not idle.
  ASSERT_GT(idle1.size(), static_cast<std::size_t>(lc_cpu));
  EXPECT_LT(idle1[lc_cpu] - idle0[lc_cpu], 40u) << "the LC app's CPU sat idle";
  EXPECT_EQ(s.d->stop(SIGTERM), 0) << s.d->output();
}

TEST(SchedVm, KillNineUnderLoadFallsBackAndWorkContinues) {
  KernelLogGuard guard;
  LcSetup s;
  Child lc(spinner(), s.lc.dir());
  Child be1(spinner()), be2(spinner());
  sleep_ms(500);
  s.d->stop(SIGKILL);
  ASSERT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 10s)) << sched_state();
  const long lc0 = cpu_ticks(lc.pid()), b0 = cpu_ticks(be1.pid()), c0 = cpu_ticks(be2.pid());
  sleep_ms(1000);
  EXPECT_TRUE(lc.alive() && be1.alive() && be2.alive());
  EXPECT_GT(cpu_ticks(lc.pid()), lc0) << "LC process stopped running";
  EXPECT_GT(cpu_ticks(be1.pid()), b0) << "BE process stopped running";
  EXPECT_GT(cpu_ticks(be2.pid()), c0) << "BE process stopped running";
}

TEST(SchedVm, CpuOfflineAndOnlineWhileLoaded) {
  KernelLogGuard guard;
  LcSetup s;
  ASSERT_EQ(s.owned.size(), 1u);
  const int cpu = *s.owned.begin();
  ASSERT_NE(cpu, 0);
  Child lc(spinner(), s.lc.dir());
  Child be1(spinner()), be2(spinner());
  sleep_ms(300);
  online(cpu, false);
  ASSERT_TRUE(wait_for([&] { return read_file("/sys/devices/system/cpu/online") == "0\n"; }, 10s))
      << read_file("/sys/devices/system/cpu/online");
  // Still scheduled by kairos; the app lost its CPU and runs elsewhere.
  EXPECT_TRUE(wait_for([&] { return owned_cpus(*s.d, "kt-lc").empty(); }, 10s)) << s.d->status();
  const long t0 = cpu_ticks(lc.pid());
  sleep_ms(500);
  EXPECT_GT(cpu_ticks(lc.pid()), t0) << "LC task starved while its CPU was offline";
  EXPECT_EQ(sched_state(), "enabled") << s.d->output();
  online(cpu, true);
  EXPECT_TRUE(wait_for([&] { return owned_cpus(*s.d, "kt-lc") == std::set<int>{cpu}; }, 10s))
      << s.d->status();
  EXPECT_TRUE(wait_for([&] { return last_cpu(lc.pid()) == cpu; }, 5s));
  EXPECT_TRUE(wait_for([&] {
    return status_field(s.d->status(), "stats", "", "cpu_offline") == "1" &&
           status_field(s.d->status(), "stats", "", "cpu_online") == "1";
  }, 5s)) << s.d->status();
  EXPECT_TRUE(lc.alive() && be1.alive() && be2.alive());
  EXPECT_EQ(s.d->stop(SIGTERM), 0) << s.d->output();
}

TEST(SchedVm, ErrorExitReachesUserspaceAndTheSchedulerRestarts) {
  KernelLogGuard guard;
  LcSetup s({"--test-fault-after-ms", "500"});
  Child lc(spinner(), s.lc.dir());
  ASSERT_TRUE(wait_for([&] { return s.d->output().find("attached again") != std::string::npos; },
                       20s)) << s.d->output();
  const std::string out = s.d->output();
  EXPECT_NE(out.find("fault injected by kairosd for a test"), std::string::npos) << out;
  EXPECT_NE(out.find("kind=1025"), std::string::npos) << out;  // SCX_EXIT_ERROR_BPF
  // The kernel's debug dump came with the record and is in the log: it
  // names the CPUs' states and the error.
  const auto dump_at = out.find("kairosd: the kernel's debug dump of the exit follows");
  EXPECT_NE(dump_at, std::string::npos) << out;
  if (dump_at != std::string::npos) {
    const std::string dump = out.substr(dump_at);
    EXPECT_NE(dump.find("kairosd: dump: "), std::string::npos) << dump;
    EXPECT_NE(dump.find("CPU"), std::string::npos) << dump;
    EXPECT_NE(dump.find("fault injected by kairosd for a test"), std::string::npos) << dump;
  }
  EXPECT_TRUE(wait_for([&] {
    return status_field(s.d->status(), "kairosd", "", "restarts") == "1";
  }, 5s)) << s.d->status();
  EXPECT_EQ(sched_state(), "enabled");
  // The app and its core are given to the new scheduler instance too.
  EXPECT_TRUE(wait_for([&] { return owned_cpus(*s.d, "kt-lc") == s.owned; }, 10s))
      << s.d->status();
  EXPECT_TRUE(wait_for([&] { return last_cpu(lc.pid()) == *s.owned.begin(); }, 5s));
  EXPECT_EQ(s.d->stop(SIGTERM), 0) << s.d->output();
}

TEST(SchedVm, AnnotationsAreFollowedAndSurviveARestart) {
  KernelLogGuard guard;
  LcSetup s;
  ScratchCgroup batch("kt-batch");
  ASSERT_EQ(kairosctl({"annotate", batch.name(), "--class", "be"}), 0);
  EXPECT_TRUE(wait_for([&] {
    return status_field(s.d->status(), "app", "cgroup=kt-batch", "class") == "be";
  }, 10s)) << s.d->status();
  std::string st;
  EXPECT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status"}, &st), 0);
  EXPECT_NE(st.find("kt-lc"), std::string::npos) << st;
  EXPECT_NE(st.find("kt-batch"), std::string::npos) << st;
  EXPECT_NE(st.find("running"), std::string::npos) << st;
  ASSERT_EQ(kairosctl({"annotate", batch.name(), "--clear"}), 0);
  EXPECT_TRUE(wait_for([&] { return s.d->status().find("kt-batch") == std::string::npos; }, 10s))
      << s.d->status();
  // A new kairosd finds the stored annotation again.
  EXPECT_EQ(s.d->stop(SIGTERM), 0);
  EXPECT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status"}, &st), 0);
  EXPECT_NE(st.find("not running"), std::string::npos) << st;
  Kairosd again;
  ASSERT_TRUE(again.wait_ready()) << again.output();
  EXPECT_TRUE(wait_for([&] { return owned_cpus(again, "kt-lc") == s.owned; }, 10s))
      << again.status();
  EXPECT_EQ(again.stop(SIGTERM), 0);
}

TEST(Kairosctl, BadInputGivesAnErrorAndChangesNothing) {
  ScratchCgroup lc("kt-ctl");
  ScratchCgroup nested("kt-ctl/inner");
  ASSERT_EQ(kairosctl({"annotate", "kt-ctl", "--class", "lc", "--guaranteed", "1"}), 0);
  const std::string before = xattr_of(lc.dir());
  ASSERT_EQ(before, "v1 class=lc guaranteed=1 burstable=1");
  const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  const std::vector<std::vector<std::string>> bad{
      {"annotate", "kt-no-such-cgroup", "--class", "lc", "--guaranteed", "1"},
      {"annotate", "/tmp", "--class", "be"},
      {"annotate", "/sys/fs/cgroup", "--class", "be"},
      {"annotate", "kt-ctl/../x", "--class", "be"},
      {"annotate", "kt-ctl", "--class", "lc", "--guaranteed", std::to_string(ncpu)},
      {"annotate", "kt-ctl", "--class", "lc", "--burstable", std::to_string(ncpu + 1)},
      {"annotate", "kt-ctl", "--class", "lc", "--guaranteed", "two"},
      {"annotate", "kt-ctl", "--class", "lc", "--guaranteed", "-1"},
      {"annotate", "kt-ctl", "--class", "lc", "--guaranteed", "1", "--burstable", "0"},
      {"annotate", "kt-ctl", "--class", "be", "--guaranteed", "1"},
      {"annotate", "kt-ctl", "--class", "rt"},
      {"annotate", "kt-ctl/inner", "--class", "be"},  // nested in an app
  };
  for (const auto& args : bad) {
    std::string out;
    EXPECT_EQ(kairosctl(args, &out), 2) << testing::PrintToString(args) << out;
    EXPECT_NE(out.find("kairosctl: "), std::string::npos) << out;
    EXPECT_EQ(xattr_of(lc.dir()), before) << testing::PrintToString(args);
    EXPECT_EQ(xattr_of(nested.dir()), "") << testing::PrintToString(args);
  }
  // A second LC app whose guaranteed cores would exceed the machine.
  ScratchCgroup other("kt-ctl2");
  std::string out;
  EXPECT_EQ(kairosctl({"annotate", "kt-ctl2", "--class", "lc", "--guaranteed",
                       std::to_string(ncpu - 1)}, &out), 2) << out;
  EXPECT_EQ(xattr_of(other.dir()), "");
  // A stored annotation kairosd cannot parse is ignored, not applied.
  ASSERT_EQ(::setxattr(other.dir().c_str(), kairos::kAnnotationXattr, "garbage", 7, 0), 0);
  std::string st;
  EXPECT_EQ(kairosctl({"--status-file", "/nonexistent", "status"}, &st), 0);
  EXPECT_NE(st.find("invalid annotation"), std::string::npos) << st;
}

// Last and longest: 60 s of stress-ng beside an LC workload with more
// threads than cores; the sched_ext watchdog must never fire.
TEST(SchedVm, StressNgWithLcWorkloadForSixtySecondsNoWatchdog) {
  KernelLogGuard guard;
  LcSetup s;
  const auto ncpu = std::to_string(sysconf(_SC_NPROCESSORS_ONLN));
  Child lc({"/usr/bin/cyclictest", "-q", "-t", "2", "-i", "1000", "-D", "60"}, s.lc.dir());
  Child stress({"/usr/bin/stress-ng", "--cpu", ncpu, "--switch", "1", "--timeout", "60",
                "--metrics-brief", "--temp-path", "/tmp"});
  EXPECT_EQ(stress.wait(), 0) << stress.output();
  EXPECT_EQ(lc.wait(), 0) << lc.output();
  EXPECT_EQ(sched_state(), "enabled") << s.d->output();
  EXPECT_EQ(status_field(s.d->status(), "kairosd", "", "restarts"), "0") << s.d->output();
  EXPECT_EQ(s.d->output().find("stopped the scheduler"), std::string::npos) << s.d->output();
  const std::string log = kernel_log();
  EXPECT_EQ(log.find("runnable task stall"), std::string::npos);
  EXPECT_EQ(s.d->stop(SIGTERM), 0) << s.d->output();
  EXPECT_NE(s.d->output().find("scheduler detached"), std::string::npos);
}

}  // namespace
