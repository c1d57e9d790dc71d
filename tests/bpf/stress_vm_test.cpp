// scx-style stress of the whole stack (label 'vm'): with kairos.ko loaded
// and kairosd running the kairos scheduler, 60 s of stress-ng (aggressive
// cpu, fork and affinity stressors) inside an LC cgroup and outside it,
// 1,000 cgroups created and deleted (some annotated lc or be, some under
// the LC cgroup, some with a process passing through), CPU 1 going
// offline and online every 2 s, and 10,000 short-lived threads in the LC
// cgroup (some parking on /dev/kairos). Afterwards the scheduler must
// still be kairos and enabled, kairosd must not have restarted it or seen
// it exit, kairos.ko's live_* counters must be back where they were, and
// the kernel log must hold no stall, sched_ext error, WARN, BUG, lockdep
// or sanitizer report. Each of those checks is first shown to fail on bad
// input, and a line written to the kernel log during the run must be
// caught by the log check.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <kairos/kairosd/annotation.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
namespace kmod = kairos::kmodtest;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kSeconds = 60;
constexpr int kCgroups = 1000;
constexpr int kThreads = 10000;

// ---- the checks, pure so that each can be shown to fail ----

// What is wrong with the scheduler given its state and root/ops files.
std::string scheduler_problems(std::string state, std::string ops) {
  while (!state.empty() && state.back() == '\n') state.pop_back();
  while (!ops.empty() && ops.back() == '\n') ops.pop_back();
  std::string bad;
  if (state != "enabled") bad += "sched_ext state is '" + state + "', not enabled; ";
  if (ops != "kairos") bad += "the scheduler is '" + ops + "', not kairos; ";
  return bad;
}

// What is wrong with kairosd given its status file and its output.
std::string kairosd_problems(const std::string& status, const std::string& output) {
  std::string bad;
  const std::string restarts = status_field(status, "kairosd", "", "restarts");
  if (restarts != "0") bad += "kairosd restarts='" + restarts + "'; ";
  if (status_field(status, "kairosd", "", "backend") != "sched_ext")
    bad += "kairosd is not on the sched_ext backend; ";
  for (const char* m : {"the kernel stopped the scheduler", "not restarting", "reload failed",
                        "attached again"})
    if (output.find(m) != std::string::npos) bad += std::string("kairosd logged '") + m + "'; ";
  return bad;
}

// The lines of a kernel log that report a problem. With detach_ok, the
// scheduler being unregistered by its owner is not one.
std::vector<std::string> kernel_problems(const std::string& log, bool detach_ok) {
  static const char* const kMarkers[] = {
      "BUG:", "WARNING:", "Oops", "general protection", "kernel BUG", "Call Trace:",
      "lockdep", "possible recursive locking", "circular locking dependency",
      "inconsistent lock state", "suspicious RCU usage", "KASAN", "UBSAN", "KFENCE",
      "runnable task stall", "soft lockup", "hard LOCKUP", "blocked for more than",
      "self-detected stall", "detected stalls", "watchdog failed"};
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    bool bad = false;
    for (const char* m : kMarkers) bad = bad || line.find(m) != std::string::npos;
    // sched_ext's own messages: any error, and any disable but the owner's.
    if (line.find("sched_ext") != std::string::npos &&
        (line.find("error") != std::string::npos || line.find("stall") != std::string::npos ||
         (line.find("disabled (") != std::string::npos &&
          !(detach_ok && line.find("unregistered from user space") != std::string::npos))))
      bad = true;
    if (bad) out.push_back(line);
  }
  return out;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// The kairos.ko counters of things that must not outlive their users.
std::string live_counters() {
  std::string s;
  for (const char* n : {"live_files", "live_mappings", "live_parked", "live_lc_threads",
                        "live_admitted"})
    s += std::string(n) + "=" + kmod::read_sysfs(std::string("stats/") + n) + " ";
  return s;
}

TEST(StressChecks, EachCheckFailsOnABadCase) {
  EXPECT_EQ(scheduler_problems("enabled\n", "kairos\n"), "");
  EXPECT_NE(scheduler_problems("disabled\n", ""), "");
  EXPECT_NE(scheduler_problems("enabled\n", "simple\n"), "");
  EXPECT_NE(scheduler_problems("bypassing\n", "kairos\n"), "");

  const std::string ok = "kairosd pid=7 state=enabled restarts=0 cpus=2 backend=sched_ext\n";
  EXPECT_EQ(kairosd_problems(ok, "scheduler kairos attached\n"), "");
  EXPECT_NE(kairosd_problems("", ""), "");  // no status published
  EXPECT_NE(kairosd_problems("kairosd pid=7 state=enabled restarts=1 cpus=2 backend=sched_ext\n",
                             ""), "");
  EXPECT_NE(kairosd_problems("kairosd pid=7 state=enabled restarts=0 cpus=2 backend=kmod\n", ""),
            "");
  EXPECT_NE(kairosd_problems(ok, "the kernel stopped the scheduler: kind=1026 code=0\n"), "");

  const std::string quiet =
      "[   10.1] smpboot: CPU 1 is now offline\n"
      "[   11.0] sched_ext: BPF scheduler \"kairos\" enabled\n";
  EXPECT_TRUE(kernel_problems(quiet, false).empty()) << joined(kernel_problems(quiet, false));
  const std::string detach =
      "[   70.0] sched_ext: BPF scheduler \"kairos\" disabled (unregistered from user space)\n";
  EXPECT_TRUE(kernel_problems(detach, true).empty());
  EXPECT_EQ(kernel_problems(detach, false).size(), 1u);
  for (const char* bad :
       {"[ 5.0] sched_ext: BPF scheduler \"kairos\" disabled (runnable task stall)",
        "[ 5.0] sched_ext: kairos: runnable task stall (kworker/1:1[40] failed to run for 5.2s)",
        "[ 5.0] sched_ext: BPF scheduler \"kairos\" disabled (error)",
        "[ 5.0] WARNING: CPU: 1 PID: 9 at kernel/sched/ext.c:100 scx_foo+0x1/0x2",
        "[ 5.0] WARNING: possible circular locking dependency detected",
        "[ 5.0] BUG: KASAN: slab-use-after-free in kairos_park+0x10/0x20",
        "[ 5.0] rcu: INFO: rcu_preempt self-detected stall on CPU",
        "[ 5.0] INFO: task kworker/0:1:12 blocked for more than 122 seconds."})
    EXPECT_EQ(kernel_problems(std::string(quiet) + bad + "\n", true).size(), 1u) << bad;
}

// ---- the load ----

// stress-ng with the stressors of the sched_ext CI's stress runs, scaled
// to one worker each for a 2-vCPU emulated guest.
std::vector<std::string> stress_ng() {
  return {"/usr/bin/stress-ng", "--aggressive", "-M", "--cpu", "1", "--fork", "1",
          "--affinity", "1", "--affinity-delay", "1", "--affinity-pin",
          "--timeout", std::to_string(kSeconds), "--temp-path", "/tmp"};
}

struct ChurnResult {
  int created = 0, removed = 0, annotated = 0, visited = 0;
  std::string errors;
};

// Creates and deletes kCgroups cgroups over `span`, at most 4 alive at
// once: in turn plain, annotated lc, annotated be (top level), and under
// the LC cgroup (half of those with a be annotation, which kairosd must
// ignore: nested in an app); every 8th has a process pass through it.
ChurnResult churn_cgroups(const std::string& lc_dir, Clock::duration span) {
  ChurnResult r;
  const auto start = Clock::now();
  std::vector<std::string> alive;
  const auto remove = [&](const std::string& dir) {
    for (int tries = 0; tries < 100; ++tries) {
      if (::rmdir(dir.c_str()) == 0) {
        ++r.removed;
        return;
      }
      if (errno != EBUSY) break;
      std::this_thread::sleep_for(10ms);  // the visitor's exit is still being reaped
    }
    r.errors += "rmdir " + dir + ": " + std::strerror(errno) + "; ";
  };
  for (int i = 0; i < kCgroups; ++i) {
    std::this_thread::sleep_until(start + span * i / kCgroups);
    const std::string dir = i % 4 == 3 ? lc_dir + "/churn-" + std::to_string(i)
                                       : "/sys/fs/cgroup/kt-stress-churn-" + std::to_string(i);
    if (::mkdir(dir.c_str(), 0755) != 0) {
      r.errors += "mkdir " + dir + ": " + std::strerror(errno) + "; ";
      continue;
    }
    ++r.created;
    const char* note = i % 4 == 1   ? "v1 class=lc guaranteed=0 burstable=1"
                       : i % 4 == 2 ? "v1 class=be"
                       : i % 8 == 7 ? "v1 class=be"
                                    : nullptr;
    if (note) {
      if (::setxattr(dir.c_str(), kairos::kAnnotationXattr, note, std::strlen(note), 0) == 0)
        ++r.annotated;
      else
        r.errors += "setxattr " + dir + ": " + std::strerror(errno) + "; ";
    }
    if (i % 8 == 0) {
      Child visitor({"/bin/true"}, dir);
      if (visitor.wait() == 0) ++r.visited;
    }
    alive.push_back(dir);
    if (alive.size() > 4) {
      remove(alive.front());
      alive.erase(alive.begin());
    }
  }
  for (const auto& dir : alive) remove(dir);
  return r;
}

struct HotplugResult {
  int cycles = 0, errors = 0;
};

// CPU 1 goes offline every 2 s and online a second later, until `until`
// (an emulated hotplug takes a good part of a second itself, so a slow
// one delays the next rather than being skipped).
HotplugResult hotplug(Clock::time_point until) {
  HotplugResult r;
  for (auto t = Clock::now(); t < until; t += 2s) {
    std::this_thread::sleep_until(t);
    r.errors += kmod::set_cpu_online(1, false) != 0;
    std::this_thread::sleep_until(t + 1s);
    r.errors += kmod::set_cpu_online(1, true) != 0;
    ++r.cycles;
  }
  return r;
}

std::set<int> owned_cpus(const Kairosd& d, const std::string& cgroup) {
  std::set<int> out;
  std::stringstream ss(status_field(d.status(), "app", "cgroup=" + cgroup, "cpus"));
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty() && c != "-") out.insert(std::stoi(c));
  return out;
}

// Waits up to `t` for the child to exit; kills it if it does not.
int wait_bounded(Child& c, std::chrono::seconds t) {
  if (!wait_for([&] { return !c.alive(); }, t)) {
    ADD_FAILURE() << "pid " << c.pid() << " still running after " << t.count() << " s";
    return c.stop(SIGKILL);
  }
  return c.wait();
}

TEST(StressVm, SixtySecondsOfStressCgroupChurnHotplugAndThreads) {
  ASSERT_GE(kmod::present_cpus(), 2) << "CPU 1 is needed for hotplug";
  if (!kmod::cpu_is_online(1)) kmod::set_cpu_online(1, true);
  const std::size_t log_start = kernel_log().size();
  const auto since_start = [&] {
    const std::string log = kernel_log();
    return log.size() >= log_start ? log.substr(log_start) : log;  // wrapped: all of it
  };
  {
    kmod::ModuleScope mod;  // at its end: every live_* counter zero, unloaded
    ASSERT_TRUE(mod.loaded());
    ScratchCgroup lc{"kt-stress-lc"};
    std::string out;
    ASSERT_EQ(kairosctl({"annotate", lc.name(), "--class", "lc", "--guaranteed", "1",
                         "--burstable", "1"}, &out), 0) << out;
    Kairosd d;
    ASSERT_TRUE(d.wait_ready()) << d.output();
    ASSERT_TRUE(wait_for([&] { return owned_cpus(d, lc.name()).size() == 1; }, 10s))
        << d.status();
    const std::string live_before = live_counters();

    const auto t0 = Clock::now(), until = t0 + std::chrono::seconds(kSeconds);
    Child stress_lc(stress_ng(), lc.dir());
    Child stress_be(stress_ng());
    Child threads({build_path("tests/bpf/stress_lc_threads"), std::to_string(kThreads),
                   std::to_string(kSeconds - 10), "8"},
                  lc.dir());
    HotplugResult plug;
    std::thread plugger([&] { plug = hotplug(until); });
    ChurnResult churn;
    std::thread churner([&] { churn = churn_cgroups(lc.dir(), std::chrono::seconds(kSeconds - 5)); });
    // Halfway through, a line only the log check can see: it must be caught.
    std::this_thread::sleep_until(t0 + std::chrono::seconds(kSeconds / 2));
    const std::string probe =
        "kairos-stress-probe-" + std::to_string(::getpid()) + ": WARNING: written by the test";
    {
      const int kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
      ASSERT_GE(kmsg, 0) << std::strerror(errno);
      EXPECT_EQ(::write(kmsg, probe.data(), probe.size()), static_cast<ssize_t>(probe.size()));
      ::close(kmsg);
    }
    plugger.join();
    churner.join();
    const int rc_lc = wait_bounded(stress_lc, 60s), rc_be = wait_bounded(stress_be, 30s),
              rc_threads = wait_bounded(threads, 60s);
    const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!kmod::cpu_is_online(1)) kmod::set_cpu_online(1, true);

    std::printf("load: %.1f s; %d hotplug cycles (%d errors); cgroups %d created, %d removed, "
                "%d annotated, %d visited\nthreads: %s\nkairosd: %s\n",
                load_s, plug.cycles, plug.errors, churn.created, churn.removed,
                churn.annotated, churn.visited, threads.output().c_str(),
                d.status().substr(0, d.status().find('\n')).c_str());
    // stress-ng's metrics (-M): what the load actually did.
    const auto tail = [](const std::string& s) {
      auto p = s.size();
      for (int n = 0; n < 6 && p != std::string::npos && p > 0; ++n) p = s.rfind('\n', p - 1);
      return p == std::string::npos ? s : s.substr(p + 1);
    };
    std::printf("stress-ng in the LC app:\n%s\nstress-ng outside:\n%s\n",
                tail(stress_lc.output()).c_str(), tail(stress_be.output()).c_str());
    EXPECT_EQ(rc_lc, 0) << stress_lc.output();
    EXPECT_EQ(rc_be, 0) << stress_be.output();
    EXPECT_EQ(rc_threads, 0) << threads.output();
    // Seen: 22-30 cycles in 60 s in the emulated guest.
    EXPECT_GE(plug.cycles, kSeconds / 4) << "CPU hotplug barely happened";
    EXPECT_EQ(plug.errors, 0);
    EXPECT_EQ(churn.created, kCgroups) << churn.errors;
    EXPECT_EQ(churn.removed, kCgroups) << churn.errors;
    EXPECT_EQ(churn.errors, "");

    EXPECT_EQ(scheduler_problems(read_file("/sys/kernel/sched_ext/state"),
                                 read_file("/sys/kernel/sched_ext/root/ops")), "")
        << d.output();
    EXPECT_TRUE(d.alive()) << d.output();
    EXPECT_EQ(kairosd_problems(d.status(), d.output()), "") << d.status() << d.output();
    // The allocator gives the LC app its core again after the hotplug.
    EXPECT_TRUE(wait_for([&] { return owned_cpus(d, lc.name()).size() == 1; }, 10s))
        << d.status();
    // Nothing of the load is left in kairos.ko: kairosd's own file and
    // mapping remain, nothing else.
    EXPECT_TRUE(wait_for([&] { return live_counters() == live_before; }, 5s))
        << "before: " << live_before << "\nafter:  " << live_counters();

    const auto during = kernel_problems(since_start(), false);
    bool probe_caught = false;
    std::vector<std::string> real;
    for (const auto& l : during) {
      if (l.find(probe) != std::string::npos)
        probe_caught = true;
      else
        real.push_back(l);
    }
    EXPECT_TRUE(probe_caught) << "the log check missed the line the test wrote";
    EXPECT_TRUE(real.empty()) << "the kernel reported problems under load:\n" << joined(real);

    EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  }
  // kairosd gone and kairos.ko unloaded: still nothing wrong in the log.
  std::vector<std::string> real;
  for (const auto& l : kernel_problems(since_start(), true))
    if (l.find("kairos-stress-probe-") == std::string::npos) real.push_back(l);
  EXPECT_TRUE(real.empty()) << "the kernel reported problems:\n" << joined(real);
  EXPECT_EQ(sched_state(), "disabled");
}

}  // namespace
