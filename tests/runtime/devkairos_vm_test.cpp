// libkairos parking through the real kairos.ko, inside the sched_ext VM:
// kthreads park in KAIROS_IOC_PARK and are woken by KAIROS_IOC_GRANT (the
// module's stats count both), work completes across grant/reclaim cycles,
// signals and external grants are survived, and the runtime leaves the
// module with no live objects so it unloads. Without the module (or without
// the capability) kDevKairos fails clearly and kAuto falls back to futex.
#include <kairos/contracts/queue_state_area.hpp>
#include <kairos/runtime.hpp>

#include "kmod_testlib.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
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

// Maps every CPU page of /dev/kairos read-write (root may post grants).
struct Pages {
  int fd = -1;
  void* base = MAP_FAILED;
  std::size_t len = 0;
  Pages() {
    fd = dev_open();
    kairos_version v{};
    if (fd < 0 || ioc(fd, KAIROS_IOC_VERSION, &v) != 0) return;
    len = std::size_t{v.nr_cpus} * KAIROS_CPU_PAGE_SIZE;
    base = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  ~Pages() {
    if (base != MAP_FAILED) ::munmap(base, len);
    if (fd >= 0) ::close(fd);
  }
  bool ok() const { return base != MAP_FAILED; }
  kairos_cpu_page* cpu(int c) const { return KAIROS_CPU_PAGE(base, c); }
};

template <typename T>
T load(const T& x) {
  return __atomic_load_n(&x, __ATOMIC_ACQUIRE);
}

// wait_for without its 10 ms sleeps, for windows shorter than that.
template <typename Pred>
bool spin_until(Pred pred, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred())
    if (std::chrono::steady_clock::now() > end) return pred();
  return true;
}

// A uthread that only calls preemption_point() gives way when an allocator
// raises the CPU's preempt_gen with KAIROS_IOC_PREEMPT and no signal.
TEST(RuntimeDevKairos, PreemptGenFlagPreemptsAtSafePoints) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  const int cpu = online_cpus() > 1 ? 1 : 0;
  {
    Runtime rt({.kthreads = 1, .park = ParkBackend::kDevKairos, .first_cpu = cpu});
    std::atomic<bool> stop{false}, other_ran{false};
    std::atomic<long> preempted{0}, loops{0};
    Thread spinner = rt.spawn([&] {
      while (!stop.load()) {
        if (kairos::this_uthread::preemption_point()) preempted.fetch_add(1);
        loops.fetch_add(1);
      }
    });
    ASSERT_TRUE(wait_for([&] { return loops.load() > 1000; }, 10s));
    // Queued behind the spinner on the only kthread: runs only if it yields.
    Thread other = rt.spawn([&] { other_ran = true; });
    // A failed ASSERT must not leave the joins waiting for the spinner.
    struct StopOnExit {
      std::atomic<bool>& s;
      ~StopOnExit() { s = true; }
    } stop_on_exit{stop};
    const long l0 = loops.load();
    ASSERT_TRUE(wait_for([&] { return loops.load() > l0 + 100000; }, 20s));
    EXPECT_EQ(preempted.load(), 0);
    EXPECT_FALSE(other_ran.load());

    const int fd = dev_open();
    ASSERT_GE(fd, 0);
    const std::uint64_t ipis = read_stat("preempt_ipis");
    kairos_preempt p{};
    p.cpus = cpuset_of(cpu);
    p.signo = 0;  // the flag alone
    ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
    EXPECT_TRUE(wait_for([&] { return preempted.load() >= 1; }, 10s));
    EXPECT_TRUE(wait_for([&] { return other_ran.load(); }, 10s));
    EXPECT_GE(read_stat("preempt_ipis"), ipis + 1);
    ASSERT_EQ(ioc(fd, KAIROS_IOC_PREEMPT, &p), 0);
    EXPECT_TRUE(wait_for([&] { return preempted.load() >= 2; }, 10s));
    // One PREEMPT, one preemption: no repeats without new PREEMPTs.
    const long l1 = loops.load();
    ASSERT_TRUE(wait_for([&] { return loops.load() > l1 + 100000; }, 20s));
    EXPECT_EQ(preempted.load(), 2);
    ::close(fd);
    stop = true;
  }
  EXPECT_EQ(read_stat("live_parked"), 0u);
}

// park_spin: a reclaimed kthread polls its CPU page inside PARK, so an
// allocator's grant posted in the page is taken with no KICK. Without
// park_spin nobody looks at the page until a KICK (the control).
int posted_grants_taken_without_kick(std::chrono::nanoseconds park_spin, int tries) {
  const int cpu = online_cpus() > 1 ? 1 : 0;
  Pages pages;
  EXPECT_TRUE(pages.ok());
  if (!pages.ok()) return -1;
  kairos_cpu_page* pg = pages.cpu(cpu);
  // This thread polls the page from the other CPU (restored at the end).
  cpu_set_t saved;
  sched_getaffinity(0, sizeof(saved), &saved);
  struct Restore {
    cpu_set_t& set;
    ~Restore() { sched_setaffinity(0, sizeof(set), &set); }
  } restore{saved};
  if (cpu != 0) pin_self(0);
  // adaptive_spin off: the emulator's stalls must not turn the spin off.
  Runtime rt({.kthreads = 1,
              .self_wake = false,
              .spin_before_park = std::chrono::hours(1),
              .adaptive_spin = false,
              .park = ParkBackend::kDevKairos,
              .park_spin = park_spin,
              .first_cpu = cpu});
  int taken = 0;
  for (int i = 0; i < tries; ++i) {
    EXPECT_EQ(rt.reclaim(1), 1u);
    if (!spin_until([&] { return load(pg->parked) == 1; }, 10s)) return -1;
    const std::uint64_t gen = load(pg->done_gen) + 1;
    __atomic_store_n(&pg->grant_tid, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pg->grant_gen, gen, __ATOMIC_RELEASE);
    if (spin_until([&] { return load(pg->done_gen) == gen; }, 200ms)) {
      EXPECT_EQ(load(pg->done_status), 0);
      ++taken;
    } else {
      const kairos_cpuset set = cpuset_of(cpu);
      EXPECT_EQ(ioc(pages.fd, KAIROS_IOC_KICK, const_cast<kairos_cpuset*>(&set)), 0);
      EXPECT_TRUE(wait_for([&] { return load(pg->done_gen) == gen; }, 10s));
    }
    EXPECT_TRUE(wait_for([&] { return rt.running_kthreads() == 1; }, 10s));
    EXPECT_EQ(spawn_join_round(rt, 5), 5);
  }
  return taken;
}

TEST(RuntimeDevKairos, ParkSpinTakesPostedGrantsWithoutKick) {
  KernelLogGuard guard;
  ModuleScope mod;
  ASSERT_TRUE(mod.loaded());
  ASSERT_EQ(write_sysfs("park_spin_max_us", "10000"), 0);
  EXPECT_EQ(posted_grants_taken_without_kick(std::chrono::nanoseconds(0), 3), 0);
  // The emulated CPU may miss a 10 ms window now and then: most must land.
  EXPECT_GE(posted_grants_taken_without_kick(std::chrono::milliseconds(10), 6), 3);
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
