// The kairos sched_ext scheduler: kairosd attaches it (state 'enabled',
// name in root/ops), it runs real tasks, and SIGTERM puts the kernel back
// to its default scheduler ('disabled').
#include "vm_testlib.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace kairos::vmtest;
using namespace std::chrono_literals;

std::string sched_state() {
  std::string s = read_file("/sys/kernel/sched_ext/state");
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// kairosd as a child process, its stdout captured in a file.
struct Kairosd {
  pid_t pid = -1;
  std::string out_path;

  explicit Kairosd(std::vector<std::string> args = {}) {
    char tmpl[] = "/tmp/kairosd-out-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    out_path = tmpl;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 1);
    posix_spawn_file_actions_adddup2(&fa, fd, 2);
    const std::string bin = build_path("kairosd/kairosd");
    std::vector<char*> argv{const_cast<char*>(bin.c_str())};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), environ))
      pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fd);
  }
  // Sends sig and returns the exit status (or -1).
  int stop(int sig = SIGTERM) {
    if (pid < 0) return -1;
    ::kill(pid, sig);
    int st = 0;
    ::waitpid(pid, &st, 0);
    pid = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  std::string output() const { return read_file(out_path); }
  ~Kairosd() {
    stop(SIGKILL);
    ::unlink(out_path.c_str());
  }
};

// Busy work in several threads; returns when all finished.
void run_cpu_work(int threads, std::chrono::milliseconds each) {
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i)
    ts.emplace_back([each] {
      const auto end = std::chrono::steady_clock::now() + each;
      volatile unsigned long x = 0;
      while (std::chrono::steady_clock::now() < end) x = x + 1;
    });
  for (auto& t : ts) t.join();
}

TEST(SchedExtLoad, KernelIsReadyForSchedExt) {
  EXPECT_EQ(sched_state(), "disabled");
}

TEST(SchedExtLoad, AttachRunTasksDetach) {
  KernelLogGuard guard;
  ASSERT_EQ(sched_state(), "disabled");
  Kairosd d;
  ASSERT_GT(d.pid, 0);
  ASSERT_TRUE(wait_for([] { return sched_state() == "enabled"; }, 30s))
      << "state " << sched_state() << "\n" << d.output();
  EXPECT_EQ(read_file("/sys/kernel/sched_ext/root/ops"), "kairos\n");

  // Real work while kairos schedules: threads and a child process.
  run_cpu_work(4, 300ms);
  ASSERT_EQ(std::system("/bin/sh -c 'for i in 1 2 3 4 5; do true; done'"), 0);
  EXPECT_EQ(sched_state(), "enabled") << d.output();

  EXPECT_EQ(d.stop(SIGTERM), 0) << d.output();
  EXPECT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 10s));

  // kairosd's own report proves the BPF side saw the tasks.
  std::smatch m;
  const std::string out = d.output();
  ASSERT_TRUE(std::regex_search(out, m,
      std::regex(R"(stats enqueued=(\d+) dispatched=(\d+) direct=(\d+))")))
      << out;
  EXPECT_GT(std::stoull(m[1]) + std::stoull(m[3]), 0u) << out;
}

TEST(SchedExtLoad, KillNineFallsBackToDefaultScheduler) {
  KernelLogGuard guard;
  Kairosd d;
  ASSERT_TRUE(wait_for([] { return sched_state() == "enabled"; }, 30s))
      << d.output();
  d.stop(SIGKILL);
  EXPECT_TRUE(wait_for([] { return sched_state() == "disabled"; }, 10s))
      << sched_state();
  run_cpu_work(2, 100ms);  // the machine still schedules
}

TEST(SchedExtLoad, BadFlagsAreRefusedAndNothingIsLoaded) {
  for (std::vector<std::string> bad : {std::vector<std::string>{"--slice-us", "0"},
                                       {"--slice-us", "abc"},
                                       {"--no-such-flag"},
                                       {"extra-arg"}}) {
    Kairosd d(bad);
    int st = 0;
    ::waitpid(d.pid, &st, 0);
    d.pid = -1;
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 2) << bad[0];
    EXPECT_EQ(sched_state(), "disabled");
  }
}

}  // namespace
