// Parking, unparking, grants and reclaims (elastic kthreads).
#include <kairos/contracts/queue_state_area.hpp>
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using kairos::Config;
using kairos::Runtime;
using kairos::Thread;
using kairos::test::eventually;
namespace tu = kairos::this_uthread;

namespace {

kairos_kthread_state line_state(const Runtime& rt, unsigned k) {
  for (;;)
    if (auto s = kairos::read_queue_state(rt.queue_state_line(k)))
      return s->state;
}

}  // namespace

TEST(FutexParker, ParkSleepsUntilUnparkOrDeadline) {
  auto p = kairos::detail::make_futex_parker();
  EXPECT_STREQ(p->name(), "futex");
  kairos::detail::Kthread k;
  // Deadline: returns on its own.
  p->prepare(k);
  const auto t0 = std::chrono::steady_clock::now();
  p->park(k, kairos::detail::now_ns() + 3'000'000, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
  // Unpark from another thread wakes it; an unpark before the park is not
  // lost either.
  p->prepare(k);
  std::thread waker([&] {
    std::this_thread::sleep_for(2ms);
    p->unpark(k);
  });
  p->park(k, kairos::detail::kNoDeadline, 0);
  waker.join();
  p->prepare(k);
  p->unpark(k);
  p->park(k, kairos::detail::kNoDeadline, 0);  // returns at once
}

TEST(Park, DevKairosWithoutTheModuleSaysSoAndAutoFallsBack) {
  // The host runs no kairos.ko (the module's own path is vm.runtime_devkairos_test).
  ASSERT_NE(access("/dev/kairos", F_OK), 0) << "unit tests expect no kairos.ko";
  try {
    Runtime rt({.kthreads = 1, .park = kairos::ParkBackend::kDevKairos});
    FAIL() << "devkairos parking must not pretend to work without the module";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("devkairos"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not present"), std::string::npos)
        << e.what();
  }
  Runtime rt({.kthreads = 1});  // kAuto falls back
  EXPECT_STREQ(rt.park_backend_name(), "futex");
}

TEST(Park, IdleKthreadsParkAndPublishIt) {
  Runtime rt({.kthreads = 3});
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  for (unsigned k = 0; k < 3; ++k) {
    EXPECT_EQ(line_state(rt, k), KAIROS_KTHREAD_PARKED);
    auto s = kairos::read_queue_state(rt.queue_state_line(k));
    EXPECT_GT(s->last_park_ns, 0u);
  }
  // New work wakes one (self_wake) and it runs.
  std::atomic<bool> ran{false};
  rt.spawn([&] { ran = true; }).join();
  EXPECT_TRUE(ran.load());
}

TEST(Park, UthreadStrandedBehindABusyWakerGetsAParkedKthreadWoken) {
  // A uthread readied on the waker's own kthread is left there (the waker
  // usually blocks soon); when the waker keeps running instead, the
  // runtime's housekeeping thread sees the stalled queue and wakes a parked
  // kthread to steal it, also after a quiet stretch that let its period
  // back off to the longest.
  Runtime rt({.kthreads = 2, .spin_before_park = 0us});
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  std::this_thread::sleep_for(50ms);
  std::atomic<bool> child_ran{false};
  std::atomic<unsigned> child_kthread{~0u};
  unsigned waker_kthread = ~0u;
  bool gave_up = false;
  rt.spawn([&] {
      waker_kthread = tu::kthread_index();
      rt.spawn_detached([&] {
        child_kthread = tu::kthread_index();
        child_ran = true;
      });
      // Busy without a safe point, as a long computation would be.
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      while (!child_ran.load()) {
        if (std::chrono::steady_clock::now() > give_up) {
          gave_up = true;
          break;
        }
      }
    }).join();
  ASSERT_FALSE(gave_up) << "the stranded uthread never ran";
  EXPECT_NE(child_kthread.load(), waker_kthread);
}

TEST(Park, WorkWaitsOnAParkedKthreadUntilGranted) {
  // Allocator mode: the runtime never wakes kthreads by itself.
  Runtime rt({.kthreads = 2, .self_wake = false});
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  std::atomic<int> ran{0};
  for (int i = 0; i < 5; ++i) rt.spawn_detached([&] { ran.fetch_add(1); });
  // Queued, visible to the allocator as head - tail, and not run.
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(ran.load(), 0);
  std::uint32_t queued = 0;
  for (unsigned k = 0; k < 2; ++k) {
    auto s = kairos::read_queue_state(rt.queue_state_line(k));
    EXPECT_EQ(s->state, KAIROS_KTHREAD_PARKED);
    queued += s->rq_len();
  }
  EXPECT_EQ(queued, 5u);
  EXPECT_EQ(rt.grant(1), 1u);
  ASSERT_TRUE(eventually([&] { return ran.load() == 5; }));
  // Granted core found no more work and gave itself back.
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  EXPECT_EQ(rt.grant(0), 0u);
}

TEST(Park, ReclaimShrinksAndGrantGrowsRunningKthreads) {
  Runtime rt({.kthreads = 4, .self_wake = false});
  std::atomic<bool> stop{false};
  std::atomic<long> work{0};
  std::vector<Thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.push_back(rt.spawn([&] {
      while (!stop.load()) {
        work.fetch_add(1);
        tu::preemption_point();
        tu::yield();
      }
    }));
  ASSERT_TRUE(eventually([&] {
    rt.grant(4);
    return rt.running_kthreads() == 4;
  }));
  EXPECT_EQ(rt.reclaim(3), 3u);
  // Three park at their next safe point. (A fourth may park on its own if
  // it found nothing to steal for a moment: the allocator's business.)
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() <= 1; }));
  unsigned parked = 0;
  for (unsigned k = 0; k < 4; ++k)
    parked += line_state(rt, k) == KAIROS_KTHREAD_PARKED;
  EXPECT_GE(parked, 3u);
  // One granted kthread runs all eight: progress continues.
  const long before = work.load();
  ASSERT_TRUE(eventually([&] {
    if (rt.running_kthreads() == 0) rt.grant(1);
    return work.load() > before + 1000;
  }));
  // Granting more grows the running set again.
  ASSERT_TRUE(eventually([&] {
    if (rt.running_kthreads() < 3) rt.grant(2);
    return rt.running_kthreads() >= 3;
  }));
  stop = true;
  ts.clear();
}

TEST(Park, ParkUnparkStormLosesNoWakeups) {
  // Short bursts separated by idle gaps: kthreads park between bursts and
  // every burst must still complete (a lost wakeup would hang here).
  Runtime rt({.kthreads = 4, .spin_before_park = std::chrono::nanoseconds(0)});
  const int bursts = 100 * kairos::test::kScale;
  const long done = kairos::test::spawn_join_bursts(rt, bursts);
  EXPECT_EQ(done, bursts * 4L);
}
