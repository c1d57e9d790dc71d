// Fairness: runnable uthreads share kthreads in turn; no one starves.
#include <kairos/contracts/queue_state.hpp>
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using kairos::Runtime;
using kairos::Thread;
namespace tu = kairos::this_uthread;

TEST(Fairness, YieldingUthreadsOnOneKthreadProgressInLockstep) {
  Runtime rt({.kthreads = 1});
  constexpr int kN = 8;
  std::vector<long> count(kN, 0);
  bool stop = false;
  rt.spawn([&] {
      std::vector<Thread> ts;
      for (int i = 0; i < kN; ++i)
        ts.push_back(Runtime::current()->spawn([&, i] {
          while (!stop) {
            if (++count[i] == 5000) stop = true;
            tu::yield();
          }
        }));
    }).join();
  const auto [lo, hi] = std::minmax_element(count.begin(), count.end());
  EXPECT_EQ(*hi, 5000);
  EXPECT_GE(*lo, 4999);  // strict round robin: at most one turn behind
}

TEST(Fairness, NoUthreadStarvesAcrossKthreads) {
  // 4x more spinning uthreads than kthreads; each must get turns while the
  // others keep yielding. Bounded by work, not time.
  Runtime rt({.kthreads = 2});
  constexpr int kN = 8;
  std::vector<std::atomic<long>> count(kN);
  std::atomic<int> reached{0};
  const long goal = 2000 * kairos::test::kScale;
  std::vector<Thread> ts;
  for (int i = 0; i < kN; ++i)
    ts.push_back(rt.spawn([&, i] {
      while (reached.load() < kN) {
        if (count[i].fetch_add(1) + 1 == goal) reached.fetch_add(1);
        tu::yield();
      }
    }));
  ts.clear();
  for (auto& c : count) EXPECT_GE(c.load(), goal);
}

TEST(Fairness, PreemptionAtSafePointsLetsOthersRun) {
  // A uthread that never yields on its own, only passes safe points, must
  // not keep a sleeper (same single kthread) from being woken.
  Runtime rt({.kthreads = 1, .preempt_quantum = 200us});
  std::atomic<bool> other_ran{false};
  std::atomic<long> preempted{0};
  Thread hog = rt.spawn([&] {
    long spins = 0;
    while (!other_ran.load() && ++spins < 2000000000L)
      if (tu::preemption_point()) preempted.fetch_add(1);
  });
  Thread sleeper = rt.spawn([&] {
    tu::sleep_for(1ms);
    other_ran = true;
  });
  sleeper.join();
  hog.join();
  EXPECT_TRUE(other_ran.load());
  EXPECT_GE(preempted.load(), 1);
}

TEST(Fairness, PreemptionBySignal) {
  Runtime rt({.kthreads = 1, .preempt_by_signal = true});
  std::atomic<bool> preempted{false};
  std::atomic<bool> started{false};
  Thread t = rt.spawn([&] {
    started = true;
    long spins = 0;
    while (!preempted.load() && ++spins < 4000000000L)
      if (tu::preemption_point()) preempted = true;
  });
  ASSERT_TRUE(kairos::test::eventually([&] { return started.load(); }));
  // SIGURG to the kthread: the handler only sets the flag.
  ASSERT_TRUE(kairos::test::eventually([&] {
    rt.preempt(0);
    std::this_thread::sleep_for(1ms);
    return preempted.load();
  }));
  t.join();
  EXPECT_THROW(rt.preempt(7), std::out_of_range);
}
