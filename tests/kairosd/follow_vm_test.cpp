// kairosd following cgroups (label 'vm'): annotation changes arrive
// through inotify, not the fallback rescan; and the kmod backend, which
// keeps every thread of an LC cgroup in kairos.ko's LC class (new threads,
// moves in and out, the annotation going, kairosd dying), the fallback to
// it when the scheduler exits for good and the way back when sched_ext
// attaches again; bad backend input.
#include "kmod_testlib.hpp"
#include "sched_testlib.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace {

using namespace kairos::vmtest;
using namespace kairos::schedtest;
using kairos::kmodtest::ModuleScope;
using kairos::kmodtest::read_stat;
using namespace std::chrono_literals;

// A process in a cgroup that starts threads on request, so the test can
// watch threads join and leave the LC class. 't': a thread that blocks
// forever; 'e': one that exits at the next 'q'.
class ThreadHost {
 public:
  explicit ThreadHost(const std::string& cgroup_dir) {
    int cmd[2], res[2], quit[2];
    EXPECT_EQ(::pipe2(cmd, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(res, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(quit, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(cmd[1]);
      ::close(res[0]);
      std::ofstream(cgroup_dir + "/cgroup.procs") << "0" << std::flush;
      report(res[1]);
      for (char c; ::read(cmd[0], &c, 1) == 1;) {
        if (c == 'q') {
          if (::write(quit[1], "q", 1) != 1) _exit(4);
          continue;
        }
        std::thread([fd = res[1], q = c == 'e' ? quit[0] : -1] {
          report(fd);
          char b;
          if (q >= 0 && ::read(q, &b, 1) == 1) return;
          for (;;) ::pause();
        }).detach();
      }
      _exit(0);
    }
    ::close(quit[0]);
    ::close(quit[1]);
    ::close(cmd[0]);
    ::close(res[1]);
    cmd_ = cmd[1];
    res_ = res[0];
    EXPECT_EQ(next_tid(), pid_);
  }
  ~ThreadHost() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(cmd_);
    ::close(res_);
  }
  pid_t pid() const { return pid_; }
  pid_t spawn_thread(bool exits_on_quit = false) {
    EXPECT_EQ(::write(cmd_, exits_on_quit ? "e" : "t", 1), 1);
    return next_tid();
  }
  // Ends one thread started with exits_on_quit.
  void quit_one() { EXPECT_EQ(::write(cmd_, "q", 1), 1); }

 private:
  static void report(int fd) {
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    if (::write(fd, &tid, sizeof tid) != sizeof tid) _exit(3);
  }
  pid_t next_tid() {
    pid_t t = -1;
    EXPECT_EQ(::read(res_, &t, sizeof t), static_cast<ssize_t>(sizeof t));
    return t;
  }
  pid_t pid_ = -1;
  int cmd_ = -1, res_ = -1;
};

void move_process(pid_t pid, const std::string& cgroup_dir) {
  std::ofstream(cgroup_dir + "/cgroup.procs") << pid << std::flush;
}

// In the LC class: SCHED_FIFO while the CPU's budget lasts, SCHED_IDLE
// while throttled. Everything else here runs SCHED_OTHER.
bool lc_member(pid_t tid) {
  const int p = ::sched_getscheduler(tid) & ~SCHED_RESET_ON_FORK;
  return p == SCHED_FIFO || p == SCHED_IDLE;
}
bool plain(pid_t tid) { return (::sched_getscheduler(tid) & ~SCHED_RESET_ON_FORK) == SCHED_OTHER; }
long live_lc() { return static_cast<long>(read_stat("live_lc_threads")); }

// kairosd published a status naming itself (any backend).
bool published(const Kairosd& d, const std::string& backend) {
  return wait_for([&] {
    const std::string s = d.status();
    return s.find("pid=" + std::to_string(d.pid()) + " ") != std::string::npos &&
           status_field(s, "kairosd", "", "backend") == backend;
  }, 30s);
}

std::string annotate_lc(const std::string& name) {
  std::string out;
  EXPECT_EQ(kairosctl({"annotate", name, "--class", "lc", "--guaranteed", "1",
                       "--burstable", "1"}, &out), 0) << out;
  return out;
}

TEST(FollowVm, AnnotationChangesArriveThroughInotifyNotTheRescan) {
  KernelLogGuard guard;
  // The fallback rescan would come only after an hour: whatever kairosd
  // sees within the test came through the watch.
  Kairosd d({"--rescan-interval-ms", "3600000"});
  ASSERT_TRUE(d.wait_ready()) << d.output();
  const std::string st0 = d.status();
  ASSERT_EQ(status_field(st0, "watch", "", "mode"), "inotify") << st0;
  const std::string rescans = status_field(st0, "watch", "", "rescans");
  ASSERT_FALSE(rescans.empty()) << st0;
  const auto app_field = [&](const std::string& cg, const std::string& key) {
    return status_field(d.status(), "app", "cgroup=" + cg, key);
  };

  // A new cgroup, annotated right after mkdir.
  ScratchCgroup be("kt-watch-be");
  ASSERT_EQ(kairosctl({"annotate", be.name(), "--class", "be"}), 0);
  EXPECT_TRUE(wait_for([&] { return app_field("kt-watch-be", "class") == "be"; }, 20s))
      << d.status() << d.output();
  // A nested cgroup made after kairosd started (watched through its new
  // parent's watch), annotated LC: the app appears and gets its core.
  ScratchCgroup parent("kt-watch-p");
  ScratchCgroup deep("kt-watch-p/deep");
  annotate_lc("kt-watch-p/deep");
  EXPECT_TRUE(wait_for([&] { return app_field("kt-watch-p/deep", "owned") == "1"; }, 20s))
      << d.status() << d.output();
  // The annotation is cleared: the app goes.
  ASSERT_EQ(kairosctl({"annotate", be.name(), "--clear"}), 0);
  EXPECT_TRUE(wait_for([&] { return app_field("kt-watch-be", "class").empty(); }, 20s))
      << d.status();
  // The annotated cgroup is removed: the app is retired.
  ASSERT_EQ(::rmdir(deep.dir().c_str()), 0);
  EXPECT_TRUE(wait_for([&] { return app_field("kt-watch-p/deep", "class").empty(); }, 20s))
      << d.status();
  const std::string st1 = d.status();
  EXPECT_EQ(status_field(st1, "watch", "", "rescans"), rescans)
      << "a fallback rescan happened: the changes may not have come by inotify\n" << st1;
  EXPECT_NE(status_field(st1, "watch", "", "event_syncs"), "0") << st1;
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

TEST(FollowVm, WithoutTheWatchEveryScanRescans) {
  Kairosd d({"--no-cgroup-watch"});
  ASSERT_TRUE(d.wait_ready()) << d.output();
  EXPECT_EQ(status_field(d.status(), "watch", "", "mode"), "poll");
  ScratchCgroup be("kt-poll-be");
  ASSERT_EQ(kairosctl({"annotate", be.name(), "--class", "be"}), 0);
  EXPECT_TRUE(wait_for([&] {
    return status_field(d.status(), "app", "cgroup=kt-poll-be", "class") == "be";
  }, 20s)) << d.status();
  EXPECT_EQ(status_field(d.status(), "watch", "", "event_syncs"), "0");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

TEST(FollowVm, KmodBackendKeepsLcCgroupThreadsInTheClass) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    ScratchCgroup lc("kt-class");
    annotate_lc(lc.name());
    ThreadHost host(lc.dir());
    Kairosd d({"--backend", "kmod"});
    ASSERT_TRUE(published(d, "kmod")) << d.output() << d.status();
    EXPECT_EQ(sched_state(), "disabled") << "the kmod backend loads no scheduler";
    EXPECT_TRUE(wait_for([&] { return lc_member(host.pid()) && live_lc() == 1; }, 10s))
        << d.output() << d.status();
    EXPECT_EQ(status_field(d.status(), "class", "", "members"), "1") << d.status();

    // A thread it starts later joins too. kairos.ko promotes members with
    // SCHED_RESET_ON_FORK, so it is born SCHED_OTHER and needs no adopting
    // (kairosd's reset of an inherited SCHED_FIFO is for modules without
    // it; class_sync_test covers that rule).
    const pid_t t2 = host.spawn_thread();
    EXPECT_TRUE(wait_for([&] { return lc_member(t2) && live_lc() == 2; }, 10s))
        << d.status();
    EXPECT_EQ(status_field(d.status(), "class", "", "adopted"), "0") << d.status();

    // Moved out of the LC cgroup: both leave, back to SCHED_OTHER.
    move_process(host.pid(), "/sys/fs/cgroup");
    EXPECT_TRUE(wait_for([&] { return plain(host.pid()) && plain(t2) && live_lc() == 0; }, 10s))
        << d.status();
    // A thread made real-time on purpose (outside, then moved in with its
    // process) is left alone: refused, reported, still SCHED_FIFO 80.
    const pid_t t3 = host.spawn_thread();
    sched_param rt{};
    rt.sched_priority = 80;
    ASSERT_EQ(::sched_setscheduler(t3, SCHED_FIFO, &rt), 0);
    // Moved back: members again.
    move_process(host.pid(), lc.dir());
    EXPECT_TRUE(wait_for([&] { return lc_member(host.pid()) && lc_member(t2) && live_lc() == 2; },
                         10s)) << d.status();
    EXPECT_TRUE(wait_for([&] { return status_field(d.status(), "class", "", "refused") == "1"; },
                         10s)) << d.status();
    EXPECT_NE(d.output().find("thread " + std::to_string(t3) + " is already real-time"),
              std::string::npos) << d.output();
    EXPECT_EQ(::sched_getscheduler(t3) & ~SCHED_RESET_ON_FORK, SCHED_FIFO);

    // The annotation goes: they leave; it comes back: they join.
    ASSERT_EQ(kairosctl({"annotate", lc.name(), "--clear"}), 0);
    EXPECT_TRUE(wait_for([&] { return plain(host.pid()) && plain(t2) && live_lc() == 0; }, 10s))
        << d.status();
    annotate_lc(lc.name());
    EXPECT_TRUE(wait_for([&] { return lc_member(host.pid()) && lc_member(t2) && live_lc() == 2; },
                         10s)) << d.status();

    std::string ctl;
    EXPECT_EQ(kairosctl({"--status-file", Kairosd::status_path(), "status"}, &ctl), 0);
    EXPECT_NE(ctl.find("backend kmod"), std::string::npos) << ctl;
    EXPECT_NE(ctl.find("LC class (kairos.ko): 2 threads"), std::string::npos) << ctl;

    // A member that exits: kairos.ko frees its slot by itself, kairosd
    // forgets it, and nobody else leaves the class meanwhile.
    const pid_t t4 = host.spawn_thread(true);
    EXPECT_TRUE(wait_for([&] { return lc_member(t4) && live_lc() == 3; }, 10s)) << d.status();
    host.quit_one();
    EXPECT_TRUE(wait_for([&] {
      return live_lc() == 2 && status_field(d.status(), "class", "", "members") == "2";
    }, 10s)) << d.status();
    EXPECT_TRUE(lc_member(host.pid()) && lc_member(t2));

    // kairosd killed: its fd closes and the module lets them go.
    d.stop(SIGKILL);
    EXPECT_TRUE(wait_for([&] { return plain(host.pid()) && plain(t2) && live_lc() == 0; }, 10s));
  }
}

TEST(FollowVm, AutoFallsBackToTheClassWhenTheSchedulerExitsForGood) {
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    ScratchCgroup lc("kt-fall");
    annotate_lc(lc.name());
    ThreadHost host(lc.dir());
    Kairosd d;
    ASSERT_TRUE(d.wait_ready()) << d.output();
    EXPECT_NE(d.output().find("fallback if the scheduler exits"), std::string::npos)
        << d.output();
    EXPECT_TRUE(plain(host.pid())) << "the scheduler, not the class, has LC threads";
    EXPECT_EQ(live_lc(), 0);
    // The operator stops sched_ext (sysrq-S): no restart, the class takes over.
    std::ofstream("/proc/sysrq-trigger") << "S" << std::flush;
    EXPECT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 20s));
    EXPECT_TRUE(wait_for([&] { return lc_member(host.pid()) && live_lc() == 1; }, 20s))
        << d.output() << d.status();
    EXPECT_TRUE(d.alive()) << d.output();
    EXPECT_TRUE(wait_for([&] {
      return status_field(d.status(), "kairosd", "", "backend") == "kmod";
    }, 10s)) << d.status();
    EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
    EXPECT_TRUE(plain(host.pid()));
    EXPECT_EQ(live_lc(), 0);
  }
}

TEST(FollowVm, ClassMembersLeaveWhenTheSchedulerAttaches) {
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    ScratchCgroup lc("kt-back");
    annotate_lc(lc.name());
    ThreadHost host(lc.dir());
    // Another kairosd holds sched_ext, so this one starts on the class...
    Kairosd holder({"--backend", "sched_ext", "--status-file", "/tmp/kairos-test-holder"});
    ASSERT_TRUE(wait_for([] { return sched_state() == "enabled"; }, 30s)) << holder.output();
    Kairosd d;
    ASSERT_TRUE(published(d, "kmod")) << d.output() << d.status();
    // ...whose class stands down while that (foreign) scheduler runs...
    EXPECT_TRUE(wait_for([&] {
      return status_field(d.status(), "class", "", "standing_down") == "1";
    }, 10s)) << d.output() << d.status();
    EXPECT_TRUE(plain(host.pid()));
    EXPECT_EQ(live_lc(), 0);
    // ...and attaches its own scheduler once sched_ext is free: the LC
    // threads stay out of the class (the scheduler has them now).
    EXPECT_EQ(holder.stop(SIGTERM), 0) << holder.output();
    EXPECT_TRUE(wait_for([&] {
      return status_field(d.status(), "kairosd", "", "backend") == "sched_ext";
    }, 30s)) << d.output() << d.status();
    EXPECT_EQ(sched_state(), "enabled");
    EXPECT_TRUE(wait_for([&] { return plain(host.pid()) && live_lc() == 0; }, 10s))
        << d.output();
    EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  }
}

// --backend kmod beside a sched_ext scheduler that is not its own (another
// kairosd's, here): the class stands down while that one runs, so its
// members are not flipped in and out of it every period, and resumes
// once it is gone.
TEST(FollowVm, KmodClassStandsDownWhileAForeignSchedExtSchedulerRuns) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    ScratchCgroup lc("kt-foreign");
    annotate_lc(lc.name());
    ThreadHost host(lc.dir());
    Kairosd d({"--backend", "kmod"});
    ASSERT_TRUE(published(d, "kmod")) << d.output() << d.status();
    ASSERT_TRUE(wait_for([&] { return lc_member(host.pid()) && live_lc() == 1; }, 10s))
        << d.output() << d.status();
    {
      Kairosd other({"--backend", "sched_ext", "--status-file", "/tmp/kairos-test-other"});
      ASSERT_TRUE(wait_for([] { return sched_state() == "enabled"; }, 30s)) << other.output();
      EXPECT_TRUE(wait_for([&] {
        return status_field(d.status(), "class", "", "standing_down") == "1";
      }, 10s)) << d.output() << d.status();
      EXPECT_TRUE(wait_for([&] { return plain(host.pid()) && live_lc() == 0; }, 10s))
          << d.output();
      EXPECT_EQ(status_field(d.status(), "class", "", "stand_downs"), "1") << d.status();
      EXPECT_NE(d.output().find("stands down"), std::string::npos) << d.output();
      // It stays down: never flipped back in while the other one runs.
      std::this_thread::sleep_for(1s);
      EXPECT_TRUE(plain(host.pid()));
      EXPECT_EQ(live_lc(), 0);
      EXPECT_EQ(other.stop(SIGTERM), 0) << other.output();
    }
    EXPECT_TRUE(wait_for([&] { return lc_member(host.pid()) && live_lc() == 1; }, 10s))
        << d.output() << d.status();
    // The status file follows at the next scan.
    EXPECT_TRUE(wait_for([&] {
      return status_field(d.status(), "class", "", "standing_down") == "0";
    }, 5s)) << d.status();
    EXPECT_NE(d.output().find("resumes"), std::string::npos) << d.output();
    EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  }
}

TEST(FollowVm, BadBackendInputGivesAClearMessage) {
  ASSERT_FALSE(path_exists(KAIROS_SYSFS_DIR)) << "kairos.ko must not be loaded here";
  {
    Kairosd d({"--backend", "kmod"});
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.output().find("kairos.ko is not loaded"), std::string::npos) << d.output();
  }
  {
    Kairosd d({"--backend", "kmod", "--kairos-dev", "/dev/null"});
    EXPECT_EQ(d.wait(), 1);
    EXPECT_NE(d.output().find("KAIROS_IOC_VERSION"), std::string::npos) << d.output();
  }
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--backend", "fifo"}, {"--backend", ""}, {"--rescan-interval-ms", "5"},
           {"--rescan-interval-ms", "x"}}) {
    Kairosd d(args);
    EXPECT_EQ(d.wait(), 2) << testing::PrintToString(args);
    EXPECT_NE(d.output().find("kairosd: --"), std::string::npos) << d.output();
  }
  EXPECT_EQ(sched_state(), "disabled");
  // auto without the module: sched_ext only, and it says what is missing.
  Kairosd d;
  ASSERT_TRUE(d.wait_ready()) << d.output();
  EXPECT_NE(d.output().find("no LC-class fallback if the scheduler exits: kairos.ko is not loaded"),
            std::string::npos) << d.output();
  EXPECT_EQ(status_field(d.status(), "kairosd", "", "backend"), "sched_ext");
  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
}

}  // namespace
