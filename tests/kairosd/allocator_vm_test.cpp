// kairosd's allocator end to end, in the sched_ext VM (label 'vm'): the
// real kairos.ko, the kairos scheduler and a libkairos server in allocator
// mode (tools/spinserver) in an LC cgroup with 0 guaranteed and 1
// burstable core, beside a BE hog on every CPU. The app's granted cores
// (kairosd's status, from the BPF owner map) must go up under load and
// back to 0 when the load stops. Also: foreign/malformed runtime areas in
// /dev/shm are ignored with a reason, --no-allocator keeps the static
// guaranteed cores of before, and the scheduler times each grant of an
// unmodified app from the grant and from the enqueue of the task it
// serves to that task's run on the granted CPU.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using namespace std::chrono_literals;

// The VM has 2 emulated CPUs: low-power mode, and a poll interval the
// emulated timer can honour.
std::vector<std::string> allocator_args() {
  return {"--allocator-low-power", "--poll-us", "50", "--scan-interval-ms", "20"};
}

std::string annotate(const std::string& cg, const char* g, const char* b) {
  std::string out;
  const int rc = kairosctl({"annotate", cg, "--class", "lc", "--guaranteed", g,
                            "--burstable", b}, &out);
  return rc == 0 ? "" : out;
}

TEST(AllocatorVm, GrantsFollowTheLoadAndGoBackWhenIdle) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ScratchCgroup lc{"ka-spin"};
  ASSERT_EQ(annotate(lc.name(), "0", "1"), "");
  Kairosd d(allocator_args());
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const std::string app = "cgroup=" + lc.name();
  EXPECT_EQ(status_number(d.status(), "app", app, "owned"), 0) << d.status();

  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);

  // Idle 2 s (discovery), load 4 s (~5% of a core in service time; more
  // with the emulated runtime's own cost), idle 4 s.
  // The kthread is pinned to the last CPU (the one the allocator can
  // grant here): a kthread woken through /dev/kairos first runs on the CPU
  // it parked on, so parking elsewhere would make each wake wait there.
  Child srv({build_path("tools/spinserver/spinserver"), "--kthreads", "1",
             "--first-cpu", std::to_string(ncpu - 1), "--service-us", "100", "--phase", "0:2000", "--phase", "500:4000",
             "--phase", "0:4000"},
            lc.dir());
  const std::string pid = std::to_string(srv.pid());
  ASSERT_TRUE(wait_for([&] {
    return status_field(d.status(), "runtime", "pid=" + pid, "kthreads") == "1";
  }, 10s)) << d.status() << d.output() << srv.output();
  // Until its runtime was found it was managed as an unmodified app, whose
  // queued start-up threads may have claimed its standby core: once found,
  // it is a runtime app, and an idle one holds no core.
  EXPECT_TRUE(wait_for([&] { return status_number(d.status(), "app", app, "owned") == 0; }, 5s))
      << "an idle runtime app holds a core\n" << d.status();

  // Sample until the load phase is over (the server reports phase 1).
  long max_owned = 0, samples_owned = 0;
  const long grants0 = status_number(d.status(), "allocator", "", "grants");
  ASSERT_TRUE(wait_for([&] {
    const long o = status_number(d.status(), "app", app, "owned");
    max_owned = std::max(max_owned, o);
    samples_owned += o > 0;
    return srv.output().find("phase 1 ") != std::string::npos || !srv.alive();
  }, 30s)) << srv.output();
  const long grants1 = status_number(d.status(), "allocator", "", "grants");
  EXPECT_EQ(max_owned, 1) << "no core granted under load\n" << d.status();
  EXPECT_GT(grants1, grants0) << d.status();

  // Idle again: the core goes back and stays back. (The status file may
  // predate the end of the load phase: wait for one that shows the
  // runtime's queue empty and its kthread parked, then one more scan.)
  ASSERT_TRUE(wait_for([&] {
    const std::string st = d.status();
    return status_number(st, "app", app, "owned") == 0 &&
           status_number(st, "runtime", "pid=" + pid, "queued") == 0 &&
           status_number(st, "runtime", "pid=" + pid, "running") == 0;
  }, 10s)) << d.status();
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(status_number(d.status(), "app", app, "owned"), 0) << d.status();
  const std::string idle_status = d.status();
  const long grants2 = status_number(idle_status, "allocator", "", "grants");
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(status_number(d.status(), "app", app, "owned"), 0) << d.status();
  }
  std::printf("status when idle again:\n%s", idle_status.c_str());
  EXPECT_EQ(status_number(d.status(), "allocator", "", "grants"), grants2)
      << "grants while idle\n" << d.status();

  EXPECT_EQ(srv.wait(), 0) << srv.output();
  const std::string out = srv.output();
  std::printf("%s", out.c_str());
  std::printf("kairosd status at the end:\n%s", d.status().c_str());
  std::printf("under load, %ld of the samples saw the core granted\n", samples_owned);
  EXPECT_NE(out.find("phase 1 rate=500/s"), std::string::npos) << out;
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  EXPECT_NE(d.output().find("allocator: "), std::string::npos) << d.output();
  // The app fell back to unmodified when the runtime left: no bad polls.
  EXPECT_EQ(d.output().find("poll refused"), std::string::npos) << d.output();
  std::printf("%s", d.output().c_str());
}

TEST(AllocatorVm, UnmodifiedAppWithoutGuaranteeBurstsOnItsQueue) {
  // No runtime: the signal is the BPF per-app queue. With 0 guaranteed
  // cores the app owns no CPU, so its busy thread waits in the app's DSQ
  // behind the BE hogs; that queue must get it a burstable core, and the
  // core must go back once the app is gone.
  KernelLogGuard guard;
  ScratchCgroup lc{"ka-unmod"};
  ASSERT_EQ(annotate(lc.name(), "0", "1"), "");
  Kairosd d(allocator_args());
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const std::string app = "cgroup=" + lc.name();
  EXPECT_EQ(status_number(d.status(), "app", app, "owned"), 0) << d.status();
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);
  auto work = std::make_unique<Child>(spinner(), lc.dir());
  EXPECT_TRUE(wait_for([&] { return status_number(d.status(), "app", app, "owned") == 1; },
                       15s)) << "no burstable core for the queued app\n" << d.status();
  work.reset();  // the app's only thread is gone: its core must go back
  EXPECT_TRUE(wait_for([&] { return status_number(d.status(), "app", app, "owned") == 0; },
                       15s)) << "the core was not reclaimed\n" << d.status();
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

// A quantile from the status line's grant_latency (in us), -1 when absent.
double grant_quantile_us(const std::string& status, const char* key) {
  const std::string v = status_field(status, "grant_latency", "", key);
  return v.empty() || v == "-" ? -1 : v == "inf" ? 1e12 : std::stod(v);
}

TEST(AllocatorVm, GrantLatencyIsTimedFromTheGrantAndFromTheEnqueue) {
  // An unmodified app with no guaranteed core beside BE spinners on every
  // CPU. Its task sleeps 20 ms (its core, left idle, goes back), then
  // spins 2 ms: each wake queues it in the app's queue with no CPU, the
  // allocator grants one, and the kick runs it there. Each grant so served
  // is one sample of both grant histograms, and the one timed from the
  // enqueue includes the one timed from the grant.
  KernelLogGuard guard;
  ScratchCgroup lc{"ka-grantlat"};
  ASSERT_EQ(annotate(lc.name(), "0", "1"), "");
  Kairosd d(allocator_args());
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);
  Child bursts({"/usr/bin/python3", "-c",
                "import time\n"
                "while True:\n"
                "    time.sleep(0.02)\n"
                "    t = time.monotonic() + 0.002\n"
                "    while time.monotonic() < t: pass\n"},
               lc.dir());
  const auto run = [&] { return status_number(d.status(), "grant_latency", "", "run"); };
  EXPECT_TRUE(wait_for([&] { return run() >= 20; }, 20s))
      << "fewer than 20 grants served a queued task\n" << d.status();
  const std::string st = d.status();
  const long served = status_number(st, "grant_latency", "", "run"),
             unmatched = status_number(st, "grant_latency", "", "unmatched"),
             grants = status_number(st, "stats", "", "grants");
  EXPECT_LE(served + unmatched, grants) << st;
  const double kick50 = grant_quantile_us(st, "kick_run_p50_le_us"),
               kick99 = grant_quantile_us(st, "kick_run_p99_le_us"),
               queued50 = grant_quantile_us(st, "queued_run_p50_le_us"),
               queued99 = grant_quantile_us(st, "queued_run_p99_le_us");
  EXPECT_GT(kick50, 0) << st;
  EXPECT_LE(kick50, kick99) << st;
  EXPECT_LE(kick50, queued50) << st;
  EXPECT_LE(kick99, queued99) << st;
  // every grant here answers a queued task: the head's wait at the grant is timed
  const double head50 = grant_quantile_us(st, "head_age_p50_le_us");
  EXPECT_GT(head50, 0) << st;
  std::printf("%ld grants served (%ld unmatched of %ld): grant -> run p50 <= %.1f us, p99 <= "
              "%.1f us; queued -> run p50 <= %.1f us, p99 <= %.1f us; queue head's wait at a "
              "grant p50 <= %.1f us\n",
              served, unmatched, grants, kick50, kick99, queued50, queued99, head50);
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

// The bursting app of the test above, in the cgroup given.
std::unique_ptr<Child> bursting_app(const ScratchCgroup& cg) {
  return std::make_unique<Child>(std::vector<std::string>{"/usr/bin/python3", "-c",
                                                          "import time\n"
                                                          "while True:\n"
                                                          "    time.sleep(0.02)\n"
                                                          "    t = time.monotonic() + 0.002\n"
                                                          "    while time.monotonic() < t: pass\n"},
                                 cg.dir());
}

TEST(AllocatorVm, TheSchedulerGrantsTheStandbyCoreWhenTheAppsTaskQueues) {
  // The bursting app of the test above. kairosd keeps a core on standby for
  // it; each wake of its task queues it with no CPU owned, and the
  // scheduler grants the standby core in that very enqueue. kairosd adopts
  // each such grant (reason standby) and keeps the next core. With
  // --no-standby only the polls grant.
  KernelLogGuard guard;
  ScratchCgroup lc{"ka-standby"};
  ASSERT_EQ(annotate(lc.name(), "0", "1"), "");
  const long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  const auto be = spinners(ncpu);
  {
    Kairosd d(allocator_args());
    ASSERT_TRUE(d.wait_ready()) << d.output();
    const auto bursts = bursting_app(lc);
    const auto claimed = [&] { return status_number(d.status(), "stats", "", "standby_grants"); };
    EXPECT_TRUE(wait_for([&] { return claimed() >= 10; }, 20s))
        << "fewer than 10 standby cores claimed\n" << d.status();
    const std::string st = d.status();
    EXPECT_EQ(status_number(st, "stats", "", "standby_failed"), 0) << st;
    const std::string by = status_field(st, "allocator", "", "grants_by_reason");
    EXPECT_NE(by.find("standby"), std::string::npos) << "claims not adopted\n" << st;
    EXPECT_GE(status_number(st, "grant_latency", "", "run"), 1) << st;
    std::printf("standby: %ld claimed; grants by reason %s; queued -> run p50 <= %.1f us, queue "
                "head's wait at a grant p50 <= %.1f us\n",
                status_number(st, "stats", "", "standby_grants"), by.c_str(),
                grant_quantile_us(st, "queued_run_p50_le_us"),
                grant_quantile_us(st, "head_age_p50_le_us"));
    EXPECT_EQ(sched_state(), "enabled");
    EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  }
  std::vector<std::string> args = allocator_args();
  args.push_back("--no-standby");
  Kairosd d(args);
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const auto bursts = bursting_app(lc);
  EXPECT_TRUE(wait_for([&] { return status_number(d.status(), "grant_latency", "", "run") >= 10; },
                       20s)) << d.status();
  const std::string st = d.status();
  EXPECT_EQ(status_number(st, "stats", "", "standby_grants"), 0) << st;
  std::printf("no standby: queued -> run p50 <= %.1f us, queue head's wait at a grant p50 <= "
              "%.1f us\n",
              grant_quantile_us(st, "queued_run_p50_le_us"),
              grant_quantile_us(st, "head_age_p50_le_us"));
  EXPECT_EQ(sched_state(), "enabled");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

TEST(AllocatorVm, MalformedAndForeignAreasAreIgnored) {
  KernelLogGuard guard;
  ScratchCgroup lc{"ka-bad"};
  ASSERT_EQ(annotate(lc.name(), "0", "1"), "");
  Child sleeper_in_lc(sleeper(), lc.dir());
  const std::string p = std::to_string(sleeper_in_lc.pid());
  // Garbage named after a live LC process, a stale pid, a bad name.
  const std::vector<std::pair<std::string, std::string>> files{
      {"/dev/shm/kairos-rt." + p, "bad area"},
      {"/dev/shm/kairos-rt.2147483646", "no process"},
      {"/dev/shm/kairos-rt.x1", "name is not"}};
  for (const auto& [f, why] : files) std::ofstream(f) << std::string(5000, 'z');
  Kairosd d(allocator_args());
  ASSERT_TRUE(d.wait_ready()) << d.output();
  for (const auto& [f, why] : files)
    EXPECT_TRUE(wait_for([&] {
      const std::string o = d.output();
      return o.find(f + " ignored: " + why) != std::string::npos;
    }, 5s)) << f << "\n" << d.output();
  // Still working: status refreshed, no runtime attached, nothing granted.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(d.alive());
  EXPECT_EQ(status_field(d.status(), "allocator", "", "runtime_apps"), "0") << d.status();
  EXPECT_EQ(status_number(d.status(), "app", "cgroup=" + lc.name(), "owned"), 0);
  for (const auto& [f, why] : files) ::unlink(f.c_str());
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

TEST(AllocatorVm, NoAllocatorKeepsStaticGuaranteedCores) {
  KernelLogGuard guard;
  ScratchCgroup lc{"ka-static"};
  ASSERT_EQ(annotate(lc.name(), "1", "1"), "");
  Kairosd d({"--no-allocator"});
  ASSERT_TRUE(d.wait_ready()) << d.output();
  EXPECT_TRUE(wait_for([&] {
    return status_number(d.status(), "app", "cgroup=" + lc.name(), "owned") == 1;
  }, 10s)) << d.status();
  EXPECT_EQ(d.status().find("allocator "), std::string::npos) << d.status();
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  EXPECT_EQ(d.output().find("allocator"), std::string::npos) << d.output();
}

}  // namespace
