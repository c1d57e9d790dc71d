// Mutex and condition variable semantics, across kthreads.
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using kairos::CondVar;
using kairos::Mutex;
using kairos::Runtime;
using kairos::Thread;
using kairos::WaitStatus;
namespace tu = kairos::this_uthread;

TEST(Mutex, ExcludesAcrossKthreads) {
  Runtime rt({.kthreads = 4});
  Mutex m;
  long counter = 0;  // plain: only the mutex protects it (TSan checks)
  int inside = 0;
  bool overlap = false;
  const int per = 200 * kairos::test::kScale;
  std::vector<Thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.push_back(rt.spawn([&] {
      for (int j = 0; j < per; ++j) {
        std::lock_guard<Mutex> g(m);
        if (++inside != 1) overlap = true;
        ++counter;
        if (j % 7 == 0) tu::yield();  // block others while holding it
        --inside;
      }
    }));
  ts.clear();
  EXPECT_FALSE(overlap);
  EXPECT_EQ(counter, 16L * per);
}

TEST(Mutex, HandsOffInFifoOrder) {
  // One kthread, so arrival order at the mutex is the spawn order.
  Runtime rt({.kthreads = 1});
  Mutex m;
  std::vector<int> got;
  rt.spawn([&] {
      m.lock();
      std::vector<Thread> ts;
      for (int i = 0; i < 5; ++i)
        ts.push_back(Runtime::current()->spawn([&, i] {
          std::lock_guard<Mutex> g(m);
          got.push_back(i);
        }));
      for (int i = 0; i < 10; ++i) tu::yield();  // all five now wait
      // A barging newcomer must queue behind them.
      ts.push_back(Runtime::current()->spawn([&] {
        std::lock_guard<Mutex> g(m);
        got.push_back(99);
      }));
      m.unlock();
    }).join();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 99}));
}

TEST(Mutex, TryLockAndPlainThreads) {
  Runtime rt({.kthreads = 2});
  Mutex m;
  ASSERT_TRUE(m.try_lock());
  std::atomic<bool> got{false};
  Thread t = rt.spawn([&] {
    std::lock_guard<Mutex> g(m);
    got = true;
  });
  EXPECT_FALSE(m.try_lock());
  std::this_thread::sleep_for(2ms);
  EXPECT_FALSE(got.load());
  m.unlock();
  t.join();
  EXPECT_TRUE(got.load());
  std::lock_guard<Mutex> g(m);  // a plain thread can take it too
}

TEST(CondVar, ProducerConsumerAcrossKthreads) {
  Runtime rt({.kthreads = 4});
  Mutex m;
  CondVar not_empty, not_full;
  std::deque<int> q;
  const int items = 2000 * kairos::test::kScale;
  long sum = 0;
  int consumed = 0;
  std::vector<Thread> ts;
  for (int p = 0; p < 4; ++p)
    ts.push_back(rt.spawn([&, p] {
      for (int i = p; i < items; i += 4) {
        std::unique_lock<Mutex> lk(m);
        not_full.wait(lk, [&] { return q.size() < 8; });
        q.push_back(i);
        not_empty.notify_one();
      }
    }));
  for (int c = 0; c < 4; ++c)
    ts.push_back(rt.spawn([&] {
      for (;;) {
        std::unique_lock<Mutex> lk(m);
        not_empty.wait(lk, [&] { return !q.empty() || consumed == items; });
        if (q.empty()) return;
        sum += q.front();
        q.pop_front();
        if (++consumed == items) not_empty.notify_all();
        not_full.notify_one();
      }
    }));
  ts.clear();
  EXPECT_EQ(consumed, items);
  EXPECT_EQ(sum, static_cast<long>(items) * (items - 1) / 2);
}

TEST(CondVar, WaitForTimesOutAndNotifyBeatsTheTimer) {
  Runtime rt({.kthreads = 2});
  Mutex m;
  CondVar cv;
  bool flag = false;
  rt.spawn([&] {
      std::unique_lock<Mutex> lk(m);
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(cv.wait_for(lk, 5ms), WaitStatus::kTimeout);
      EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
      EXPECT_FALSE(cv.wait_for(lk, 1ms, [&] { return flag; }));
    }).join();
  Thread waiter = rt.spawn([&] {
    std::unique_lock<Mutex> lk(m);
    EXPECT_TRUE(cv.wait_for(lk, 60s, [&] { return flag; }));
  });
  std::this_thread::sleep_for(2ms);
  {
    std::lock_guard<Mutex> g(m);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
}

TEST(CondVar, TimeoutsAndNotifiesRaceWithoutLosingWaiters) {
  // Each waiter uses a tiny timeout while notifiers fire constantly: every
  // wake must be by exactly one of the two, and nobody may hang.
  Runtime rt({.kthreads = 4});
  Mutex m;
  CondVar cv;
  std::atomic<bool> stop{false};
  std::atomic<long> wakes{0};
  std::vector<Thread> waiters;
  const int rounds = 100 * kairos::test::kScale;
  for (int i = 0; i < 8; ++i)
    waiters.push_back(rt.spawn([&] {
      for (int r = 0; r < rounds; ++r) {
        std::unique_lock<Mutex> lk(m);
        cv.wait_for(lk, std::chrono::microseconds(50 + r % 50));
        wakes.fetch_add(1);
      }
    }));
  Thread notifier = rt.spawn([&] {
    while (!stop.load()) {
      cv.notify_one();
      tu::yield();
    }
  });
  waiters.clear();
  stop = true;
  notifier.join();
  EXPECT_EQ(wakes.load(), 8L * rounds);
}

TEST(CondVar, PlainThreadCanWaitForAUthread) {
  Runtime rt({.kthreads = 1});
  Mutex m;
  CondVar cv;
  bool ready = false;
  rt.spawn_detached([&] {
    tu::sleep_for(1ms);
    std::lock_guard<Mutex> g(m);
    ready = true;
    cv.notify_one();
  });
  std::unique_lock<Mutex> lk(m);
  cv.wait(lk, [&] { return ready; });
  EXPECT_TRUE(ready);
}
