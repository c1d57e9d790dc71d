// The idle kthread's spin-then-park rule (runtime/src/spin_then_park.hpp): spin the
// configured time on a CPU of its own, park at once for a growing backoff
// once it finds itself descheduled while spinning, and go on spinning after
// a gap in which it never left its CPU (a hypervisor's steal).
#include <kairos/runtime.hpp>

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include "internal.hpp"
#include "test_util.hpp"

using kairos::detail::SpinThenPark;
using kairos::detail::SpinShared;

namespace {

constexpr std::uint64_t kUs = 1000, kMs = 1000 * kUs;
constexpr std::uint64_t kGap = SpinThenPark::kDescheduledGapNs;

// Polls every 500 ns from t for d, without a gap; returns the end time.
std::uint64_t clean_spin(SpinThenPark& p, std::uint64_t t, std::uint64_t d) {
  for (std::uint64_t end = t + d; t < end; t += 500)
    EXPECT_FALSE(p.on_poll(t, t + 500));
  return t;
}

}  // namespace

TEST(SpinThenPark, SpinsTheConfiguredTimeWhileNeverDescheduled) {
  SpinShared shared;
  SpinThenPark p(20 * kUs, true, &shared);
  std::uint64_t t = 1 * kMs;
  EXPECT_FALSE(p.on_poll(0, t));  // first poll of an idle period
  t = clean_spin(p, t, 50 * kMs);
  EXPECT_EQ(p.budget(t), 20 * kUs);
  EXPECT_FALSE(p.quiet(t));
  EXPECT_EQ(p.gaps(), 0u);
}

TEST(SpinThenPark, AGapParksAtOnceForTheBaseBackoffThenSpinsAgain) {
  SpinShared shared;
  SpinThenPark p(20 * kUs, true, &shared);
  std::uint64_t t = clean_spin(p, 1 * kMs, 20 * kMs);
  // Just under the threshold is still a poll, not a gap.
  EXPECT_FALSE(p.on_poll(t, t + kGap - 1));
  t += kGap - 1;
  EXPECT_TRUE(p.on_poll(t, t + 3 * kMs));  // descheduled 3 ms
  t += 3 * kMs;
  EXPECT_EQ(p.backoff_ns(), SpinThenPark::kBaseBackoffNs);
  EXPECT_EQ(p.budget(t), 0u);
  EXPECT_TRUE(p.quiet(t + SpinThenPark::kBaseBackoffNs - 1));
  EXPECT_FALSE(p.quiet(t + SpinThenPark::kBaseBackoffNs));
  EXPECT_EQ(p.budget(t + SpinThenPark::kBaseBackoffNs), 20 * kUs);
}

TEST(SpinThenPark, RepeatedGapsDoubleTheBackoffUpToTheCapAndACleanStretchResetsIt) {
  SpinShared shared;
  SpinThenPark p(20 * kUs, true, &shared);
  std::uint64_t t = 1 * kMs;
  std::uint64_t want = SpinThenPark::kBaseBackoffNs;
  for (int i = 0; i < 12; ++i) {
    // Each probe spins 2 ms (less than kCleanSpinNs) and is descheduled.
    t = clean_spin(p, t, 2 * kMs);
    ASSERT_TRUE(p.on_poll(t, t + kGap));
    t += kGap;
    EXPECT_EQ(p.backoff_ns(), want) << "gap " << i;
    want = std::min(SpinThenPark::kMaxBackoffNs, 2 * want);
    t += p.backoff_ns();  // parked meanwhile
    EXPECT_FALSE(p.quiet(t));
  }
  EXPECT_EQ(p.backoff_ns(), SpinThenPark::kMaxBackoffNs);
  // The CPU is ours again: a long clean stretch, then a lone gap.
  t = clean_spin(p, t, SpinThenPark::kCleanSpinNs + kMs);
  ASSERT_TRUE(p.on_poll(t, t + kGap));
  EXPECT_EQ(p.backoff_ns(), SpinThenPark::kBaseBackoffNs);
}

TEST(SpinThenPark, AGapWithoutASwitchIsStolenTimeAndSpinningGoesOn) {
  SpinShared shared;
  SpinThenPark p(20 * kUs, true, &shared);
  std::uint64_t t = clean_spin(p, 1 * kMs, 2 * kMs);
  int asked = 0;
  EXPECT_FALSE(p.on_poll(t, t + 3 * kMs, [&] {
    ++asked;
    return false;  // the thread never left its CPU: the vCPU was taken
  }));
  t += 3 * kMs;
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(p.stolen_gaps(), 1u);
  EXPECT_EQ(p.gaps(), 0u);
  EXPECT_FALSE(p.quiet(t));
  EXPECT_EQ(p.budget(t), 20 * kUs);
  // Not asked about ordinary polls; a gap with a switch still backs off.
  EXPECT_FALSE(p.on_poll(t, t + 500, [&] { return ++asked, true; }));
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(p.on_poll(t + 500, t + 500 + kGap, [] { return true; }));
  EXPECT_EQ(p.gaps(), 1u);
  EXPECT_EQ(p.backoff_ns(), SpinThenPark::kBaseBackoffNs);
}

TEST(SpinThenPark, TheBackoffIsSharedByEveryKthreadUsingTheState) {
  SpinShared shared;
  SpinThenPark a(20 * kUs, true, &shared), b(20 * kUs, true, &shared);
  std::uint64_t t = clean_spin(a, 1 * kMs, 1 * kMs);
  ASSERT_TRUE(a.on_poll(t, t + kGap));
  t += kGap;
  // b never saw a gap itself but parks at once too.
  EXPECT_TRUE(b.quiet(t));
  EXPECT_EQ(b.budget(t), 0u);
  EXPECT_EQ(b.gaps(), 1u);
  // A quick second gap, seen by b, doubles the shared backoff.
  t += SpinThenPark::kBaseBackoffNs;
  ASSERT_TRUE(b.on_poll(t, t + kGap));
  EXPECT_EQ(a.backoff_ns(), 2 * SpinThenPark::kBaseBackoffNs);
}

TEST(SpinThenPark, NotAdaptiveAlwaysSpins) {
  SpinShared shared;
  SpinThenPark p(7 * kUs, false, &shared);
  EXPECT_FALSE(p.on_poll(1 * kMs, 50 * kMs));
  EXPECT_EQ(p.budget(50 * kMs), 7 * kUs);
  EXPECT_EQ(p.gaps(), 0u);
}

TEST(SpinThenPark, ConfigRejectsABadParkSpinAndChangesNothing) {
  EXPECT_THROW(kairos::Runtime({.kthreads = 1,
                                .park_spin = std::chrono::nanoseconds(-1)}),
               std::invalid_argument);
  EXPECT_THROW(kairos::Runtime({.kthreads = 1,
                                .park_spin = std::chrono::seconds(2)}),
               std::invalid_argument);
  // The futex backend takes a park_spin and ignores it.
  kairos::Runtime rt({.kthreads = 1, .park = kairos::ParkBackend::kFutex,
                      .park_spin = std::chrono::microseconds(50)});
  EXPECT_EQ(rt.spawn([] { return; }).joinable(), true);
}

// The policy inside a real runtime: an idle kthread configured to spin for
// a minute is held off its loop for 2 ms (a signal handler that sleeps on
// the kthread itself stands in for the kernel running something else on
// that CPU). With adaptive_spin it notices the gap and parks; without, it
// keeps spinning.
namespace {

// Installs a SIGUSR2 handler (the stand-in for what holds the kthread)
// for a scope, so an early return from a test cannot leave it behind.
class Sigusr2Handler {
 public:
  explicit Sigusr2Handler(void (*handler)(int)) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, &old_);
  }
  ~Sigusr2Handler() { sigaction(SIGUSR2, &old_, nullptr); }
  Sigusr2Handler(const Sigusr2Handler&) = delete;
  Sigusr2Handler& operator=(const Sigusr2Handler&) = delete;

 private:
  struct sigaction old_ {};
};

std::atomic<int> g_held{0};

void hold_off_cpu(int) {
  const timespec ts{0, 2'000'000};
  nanosleep(&ts, nullptr);
  g_held.fetch_add(1);
}

bool parks_after_being_held(bool adaptive, bool self_wake = true) {
  Sigusr2Handler handler(&hold_off_cpu);
  kairos::Runtime rt({.kthreads = 1,
                      .self_wake = self_wake,
                      .spin_before_park = std::chrono::seconds(60),
                      .adaptive_spin = adaptive});
  rt.spawn([] { return; }).join();  // it is up and idle, spinning
  const int tid = rt.impl()->ks[0]->tid.load();
  const int before = g_held.load();
  syscall(SYS_tgkill, getpid(), tid, SIGUSR2);
  EXPECT_TRUE(kairos::test::eventually([&] { return g_held.load() > before; }));
  const bool parked = kairos::test::eventually(
      [&] { return rt.running_kthreads() == 0; },
      adaptive && self_wake ? std::chrono::seconds(20) : std::chrono::seconds(1));
  return parked;
}

}  // namespace

TEST(SpinThenPark, AKthreadHeldOffItsCpuWhileSpinningParks) {
  EXPECT_TRUE(parks_after_being_held(true));
}

// A gap with no switch: the signal handler keeps the kthread busy on its
// own CPU for 200 us, four times the gap threshold (what a hypervisor
// taking the vCPU looks like from inside: time passes, the thread never
// leaves). The kthread, told to spin a minute, goes on spinning. A trial
// in which the host really did switch the kthread out (other work on that
// CPU) shows as a counted gap and is tried again; the short hold keeps
// that window small on a busy machine.
namespace {

std::atomic<int> g_busy_held{0};
std::atomic<bool> g_busy_switched{false};

long switches_of_this_thread() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

void busy_on_cpu(int) {
  const long before = switches_of_this_thread();
  timespec t0{}, t{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1'000'000'000L + (t.tv_nsec - t0.tv_nsec) < 200'000);
  if (switches_of_this_thread() != before) g_busy_switched = true;
  g_busy_held.fetch_add(1);
}

// Keeps the calling thread off CPU `cpu` for a scope.
class OffCpu {
 public:
  explicit OffCpu(int cpu) {
    sched_getaffinity(0, sizeof saved_, &saved_);
    cpu_set_t others = saved_;
    CPU_CLR(cpu, &others);
    sched_setaffinity(0, sizeof others, &others);
  }
  ~OffCpu() { sched_setaffinity(0, sizeof saved_, &saved_); }
  OffCpu(const OffCpu&) = delete;
  OffCpu& operator=(const OffCpu&) = delete;

 private:
  cpu_set_t saved_;
};

}  // namespace

TEST(SpinThenPark, AKthreadThatNeverLeftItsCpuKeepsSpinningAfterAGap) {
  Sigusr2Handler handler(&busy_on_cpu);
  // The kthread on the last CPU, this thread on the others: its polling
  // wake-ups must not switch the spinner out (a switch makes a gap count).
  const int ncpu = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  ASSERT_GE(ncpu, 2) << "needs two CPUs";
  OffCpu off(ncpu - 1);
  kairos::Runtime rt({.kthreads = 1,
                      .spin_before_park = std::chrono::seconds(60),
                      .adaptive_spin = true,
                      .first_cpu = ncpu - 1});
  kairos::detail::SpinShared& st = kairos::detail::process_spin_state();
  int clean_trials = 0;
  for (int trial = 0; trial < 30 && clean_trials < 2; ++trial) {
    // Past any backoff (an earlier test's, or a real switch in an earlier
    // trial), then woken: it spins.
    ASSERT_TRUE(kairos::test::eventually([&] {
      return kairos::detail::now_ns() >= st.quiet_until.load();
    }));
    rt.spawn([] { return; }).join();
    if (rt.running_kthreads() != 1) continue;
    const int tid = rt.impl()->ks[0]->tid.load();
    const auto stolen0 = st.stolen_gaps.load(), gaps0 = st.gaps.load();
    const int held0 = g_busy_held.load();
    g_busy_switched = false;
    syscall(SYS_tgkill, getpid(), tid, SIGUSR2);
    ASSERT_TRUE(kairos::test::eventually([&] { return g_busy_held.load() > held0; }));
    // The kthread polls again right after the handler returns.
    ASSERT_TRUE(kairos::test::eventually(
        [&] { return st.stolen_gaps.load() > stolen0 || st.gaps.load() > gaps0; }));
    // Only a counted gap (a backoff) parks it before its minute is up.
    const bool running = rt.running_kthreads() == 1;
    if (g_busy_switched.load() || st.gaps.load() != gaps0) continue;  // the host switched it
    ++clean_trials;
    EXPECT_GT(st.stolen_gaps.load(), stolen0);
    EXPECT_TRUE(running) << "parked after a gap without a switch";
  }
  EXPECT_GE(clean_trials, 1) << "every trial was switched out by the host";
}

TEST(SpinThenPark, WithoutAdaptiveSpinTheHeldKthreadKeepsSpinning) {
  EXPECT_FALSE(parks_after_being_held(false));
}

TEST(SpinThenPark, InAllocatorModeTheGrantedKthreadKeepsSpinning) {
  // self_wake off: parking would hand the core back behind the
  // allocator's back (nothing in the runtime would wake it again).
  EXPECT_FALSE(parks_after_being_held(true, false));
}
