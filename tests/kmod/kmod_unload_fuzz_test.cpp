// Unload while in use (threads parked, LC threads throttled): refused
// while a file is open, clean once released; and a randomized, time-bounded
// fuzz of ioctls, mmaps and sysfs writes that must leave no trace.
#include "kmod_testlib.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

namespace {

using namespace kairos::kmodtest;
using namespace std::chrono_literals;
using kairos::vmtest::KernelLogGuard;
using kairos::vmtest::path_exists;
using kairos::vmtest::wait_for;

std::uint64_t stat_or_max(const char* name) {
  const std::string v = read_sysfs(std::string("stats/") + name);
  return v.empty() ? ~0ULL : std::stoull(v);
}

// Parks one thread per CPU and registers two spinning LC threads that the
// class throttles; then _exit()s only when killed.
[[noreturn]] void busy_child() {
  const int fd = dev_open();
  if (fd < 0) _exit(1);
  std::vector<std::thread> ts;
  for (int cpu = 0; cpu < 2; ++cpu)
    ts.emplace_back([fd, cpu] {
      pin_self(cpu);
      kairos_park a{};
      ioc(fd, KAIROS_IOC_PARK, &a);
    });
  for (int i = 0; i < 2; ++i)
    ts.emplace_back([fd] {
      pin_self(1);
      kairos_lc lc{};
      ioc(fd, KAIROS_IOC_LC_ADD, &lc);
      for (;;) {
      }
    });
  for (;;) ::pause();
}

TEST(KmodUnload, RefusedWhileInUseCleanAfterTheUserDies) {
  KernelLogGuard guard;
  ASSERT_EQ(load_module(), 0);
  ASSERT_EQ(write_sysfs("period_us", "5000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "1000"), 0);
  pin_self(0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) busy_child();
  EXPECT_TRUE(wait_for([] {
    return stat_or_max("live_parked") == 2 && stat_or_max("live_lc_threads") == 2 &&
           stat_or_max("throttles") > 0;
  }, 10s)) << kairos::vmtest::read_file(KAIROS_SYSFS_DIR "/stats/per_cpu");
  // In use: unload is refused and changes nothing.
  EXPECT_EQ(unload_module(), -EWOULDBLOCK);
  EXPECT_TRUE(path_exists(KAIROS_DEV_PATH));
  EXPECT_EQ(read_stat("live_parked"), 2u);
  EXPECT_EQ(read_stat("live_lc_threads"), 2u);
  EXPECT_EQ(read_stat("live_files"), 1u);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::string detail;
  EXPECT_TRUE(wait_for([&] { return live_counters_zero(); }, 5s));
  EXPECT_TRUE(live_counters_zero(&detail)) << detail;
  EXPECT_EQ(unload_module(), 0);
  EXPECT_FALSE(path_exists(KAIROS_SYSFS_DIR));
}

TEST(KmodUnload, UnloadRightAfterAsynchronousPreemptIpis) {
  // PREEMPT returns before its IPIs are handled; unloading right after the
  // last file closes must wait for them (they use the pages and the
  // module's text). A race: this loop makes it likely, not certain.
  KernelLogGuard guard;
  ASSERT_GE(online_cpus(), 2);
  for (int round = 0; round < 8; ++round) {
    ASSERT_EQ(load_module(), 0);
    const int fd = dev_open();
    ASSERT_GE(fd, 0);
    kairos_preempt all{};
    for (int cpu = 0; cpu < online_cpus(); ++cpu)
      all.cpus.bits[cpu / 64] |= 1ULL << (cpu % 64);
    std::vector<std::thread> senders;
    for (int cpu = 0; cpu < 2; ++cpu)
      senders.emplace_back([&, cpu] {
        pin_self(cpu);
        for (int i = 0; i < 300; ++i) ioc(fd, KAIROS_IOC_PREEMPT, &all);
      });
    for (auto& t : senders) t.join();
    ::close(fd);
    ASSERT_EQ(unload_module(), 0) << "round " << round;
  }
}

TEST(KmodUnload, ThrottledAndParkedThreadsGoBackToNormal) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("period_us", "5000"), 0);
  ASSERT_EQ(write_sysfs("quantum_us", "1000"), 0);
  pin_self(0);
  const int fd = dev_open();
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::thread spinner([&] {
    pin_self(1);
    tid = self_tid();
    while (!stop.load(std::memory_order_relaxed)) {
    }
  });
  ASSERT_TRUE(wait_for([&] { return tid.load() != 0; }, 5s));
  kairos_lc lc{};
  lc.tid = tid;
  ASSERT_EQ(ioc(fd, KAIROS_IOC_LC_ADD, &lc), 0);
  // Caught while demoted by a throttle.
  EXPECT_TRUE(wait_for([&] { return policy_of(tid) == SCHED_IDLE; },
                       10s));
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  ::sigaction(SIGUSR2, &sa, nullptr);
  std::atomic<int> park_ret{1};
  std::thread parker([&] {
    pin_self(1);
    kairos_park a{};
    park_ret = ioc(fd, KAIROS_IOC_PARK, &a);
  });
  ASSERT_TRUE(wait_for([] { return read_stat("live_parked") == 1; }, 5s));
  EXPECT_EQ(unload_module(), -EWOULDBLOCK);
  ::pthread_kill(parker.native_handle(), SIGUSR2);
  parker.join();
  EXPECT_EQ(park_ret.load(), -EINTR);
  ::close(fd);
  EXPECT_EQ(policy_of(tid), SCHED_OTHER);
  stop = true;
  spinner.join();
}

// One fuzz step; tracks nothing, checks only that nothing crashes and that
// the invariants below still hold.
class Fuzzer {
 public:
  explicit Fuzzer(unsigned seed) : rng_(seed) {}

  void run(std::chrono::milliseconds budget) {
    fd_ = dev_open();
    ASSERT_GE(fd_, 0);
    ASSERT_EQ(write_sysfs("park_spin_max_us", "200"), 0);
    kairos_version v{};
    ASSERT_EQ(ioc(fd_, KAIROS_IOC_VERSION, &v), 0);
    ncpus_ = v.nr_cpus;
    pages_ = static_cast<kairos_cpu_page*>(
        ::mmap(nullptr, ncpus_ * KAIROS_CPU_PAGE_SIZE, PROT_READ | PROT_WRITE,
               MAP_SHARED, fd_, 0));
    ASSERT_NE(pages_, MAP_FAILED);
    std::vector<std::thread> parkers;
    for (int cpu = 0; cpu < 2; ++cpu)
      parkers.emplace_back([this, cpu] { park_loop(cpu); });
    const auto end = std::chrono::steady_clock::now() + budget;
    long steps = 0;
    while (std::chrono::steady_clock::now() < end) {
      step();
      ++steps;
      const unsigned q = std::stoul(read_sysfs("quantum_us"));
      const unsigned p = std::stoul(read_sysfs("period_us"));
      ASSERT_LE(q, p) << "after step " << steps;
    }
    stop_ = true;
    for (auto& t : parkers) t.join();
    ::munmap(pages_, ncpus_ * KAIROS_CPU_PAGE_SIZE);
    ::close(fd_);
    std::printf("fuzz: %ld steps\n", steps);
  }

 private:
  void park_loop(int cpu) {
    pin_self(cpu);
    while (!stop_) {
      kairos_park a{};
      a.timeout_ns = 1'000'000 + rng_local() % 4'000'000;
      a.spin_ns = rng_local() % 2 ? 100'000 : 0;
      ioc(fd_, KAIROS_IOC_PARK, &a);
    }
  }
  unsigned rng_local() {
    thread_local std::minstd_rand r(std::random_device{}());
    return static_cast<unsigned>(r());
  }
  std::uint64_t r64() { return (std::uint64_t{rng_()} << 32) ^ rng_(); }

  std::string random_text() {
    static const char* const kWords[] = {"0", "1", "2", "10", "99", "100",
        "500", "1000", "5000", "20000", "1000000", "1000001", "-1", "abc",
        "12x", "\n", "4294967296", "0x10", " 7", "49", "50"};
    std::string s = kWords[rng_() % std::size(kWords)];
    if (rng_() % 4 == 0) s += "\n";
    if (rng_() % 8 == 0) s += static_cast<char>(rng_() % 256);
    return s;
  }

  void step() {
    static const char* const kTunables[] = {"quantum_us", "period_us",
        "enabled", "park_spin_max_us", "lc_rt_priority"};
    static const unsigned long kCmds[] = {KAIROS_IOC_VERSION, KAIROS_IOC_GRANT,
        KAIROS_IOC_KICK, KAIROS_IOC_PREEMPT, KAIROS_IOC_LC_ADD,
        KAIROS_IOC_LC_DEL};
    alignas(8) unsigned char buf[256];
    switch (rng_() % 6) {
      case 0:
        write_sysfs(kTunables[rng_() % std::size(kTunables)], random_text());
        break;
      case 1: {  // a known command with random bytes
        for (auto& b : buf) b = static_cast<unsigned char>(rng_());
        const unsigned long cmd = kCmds[rng_() % std::size(kCmds)];
        if (cmd == KAIROS_IOC_PREEMPT) {
          auto* p = reinterpret_cast<kairos_preempt*>(buf);
          if (p->signo > 0 && p->signo <= 64) p->signo = SIGUSR2;
        }
        if (cmd == KAIROS_IOC_LC_ADD || cmd == KAIROS_IOC_LC_DEL) {
          auto* lc = reinterpret_cast<kairos_lc*>(buf);
          lc->tid = rng_() % 2 ? 0 : static_cast<int>(rng_() % 64) - 8;
          lc->flags = rng_() % 4 == 0 ? rng_() : 0;
        }
        if (cmd == KAIROS_IOC_GRANT) {
          auto* g = reinterpret_cast<kairos_grant*>(buf);
          if (rng_() % 2) {
            g->cpu = rng_() % (ncpus_ + 2);
            g->tid = 0;
            g->flags = g->reserved = 0;
          }
        }
        if ((cmd == KAIROS_IOC_KICK || cmd == KAIROS_IOC_PREEMPT) && rng_() % 2) {
          auto* s = reinterpret_cast<kairos_cpuset*>(buf);
          *s = cpuset_of(static_cast<int>(rng_() % (ncpus_ + 1)));
        }
        ioc(fd_, cmd, buf);
        break;
      }
      case 2: {  // a random command number, size and pointer
        const unsigned long cmd = _IOC(rng_() % 4, rng_() % 2 ? KAIROS_IOC_MAGIC
                                                               : rng_() % 256,
                                       rng_() % 16, rng_() % 300);
        void* ptrs[] = {buf, nullptr, reinterpret_cast<void*>(r64())};
        ioc(fd_, cmd, ptrs[rng_() % 3]);
        break;
      }
      case 3: {  // post a grant and kick
        kairos_cpu_page& pg = *KAIROS_CPU_PAGE(pages_, rng_() % ncpus_);
        pg.grant_tid = rng_() % 2 ? 0 : static_cast<int>(rng_());
        __atomic_store_n(&pg.grant_gen, r64(), __ATOMIC_RELEASE);
        kairos_cpuset s{};
        for (unsigned c = 0; c < ncpus_ && c < 2; ++c)
          if (rng_() % 2) s.bits[0] |= 1ULL << c;
        ioc(fd_, KAIROS_IOC_KICK, &s);
        break;
      }
      case 4: {  // mmap a random window
        const std::size_t len = KAIROS_CPU_PAGE_SIZE * (1 + rng_() % 3);
        void* m = ::mmap(nullptr, len,
                         rng_() % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                         rng_() % 2 ? MAP_SHARED : MAP_PRIVATE, fd_,
                         static_cast<off_t>(rng_() % (ncpus_ + 2)) *
                             KAIROS_CPU_PAGE_SIZE);
        if (m != MAP_FAILED) ::munmap(m, len);
        break;
      }
      case 5: {  // open/close churn
        const int f = dev_open();
        if (f >= 0) {
          kairos_lc lc{};
          ioc(f, KAIROS_IOC_LC_ADD, &lc);
          ::close(f);
        }
        break;
      }
    }
  }

  std::mt19937 rng_;
  int fd_ = -1;
  unsigned ncpus_ = 0;
  kairos_cpu_page* pages_ = nullptr;
  std::atomic<bool> stop_{false};
};

TEST(KmodFuzz, RandomIoctlsMmapsAndSysfsWritesLeaveNoTrace) {
  KernelLogGuard guard;
  const unsigned seed = std::random_device{}();
  std::printf("fuzz seed %u\n", seed);
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  {
    Fuzzer f(seed);
    f.run(4000ms);
  }
  // Whatever happened, the tunables are valid and the fuzzer's threads
  // are back to their own scheduling policy.
  EXPECT_LE(std::stoul(read_sysfs("quantum_us")),
            std::stoul(read_sysfs("period_us")));
  EXPECT_EQ(policy_of(0), SCHED_OTHER);
  EXPECT_TRUE(wait_for([] { return live_counters_zero(); }, 5s));
}

}  // namespace
