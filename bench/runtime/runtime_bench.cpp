// libkairos against its peers, side by side in one Google Benchmark run:
//   spawn+join   Kairos | Boost.Fiber (work_stealing) | std::thread
//   yield        Kairos | Boost.Fiber (round_robin)   | std::thread (sched_yield)
//   wake         Kairos CondVar wake run on another kthread | futex wake
//   raw switch   Boost.Context jump_fcontext (the floor under Kairos yields)
// Timings are wall clock (UseRealTime); loops that run inside a uthread or
// fiber drive benchmark::State from there.
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include "wake_pingpong.hpp"

#include <benchmark/benchmark.h>
#include <boost/context/detail/fcontext.hpp>
#include <boost/fiber/all.hpp>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <thread>
#include <vector>

namespace {

namespace tu = kairos::this_uthread;

benchmark::Counter per(double n) {
  return benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate |
                                   benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------- spawn+join

void BM_SpawnJoin_Kairos(benchmark::State& state) {
  kairos::Runtime rt({.kthreads = static_cast<unsigned>(state.range(0))});
  rt.spawn([&] {
      for (auto _ : state) rt.spawn([] { benchmark::ClobberMemory(); }).join();
    }).join();
}
BENCHMARK(BM_SpawnJoin_Kairos)->Arg(1)->Arg(2)->UseRealTime();

// Boost.Fiber's work_stealing scheduler must be installed once per thread,
// in every thread of the pool, so the pool lives for the whole process.
class FiberPool {
 public:
  static void ensure(unsigned n) {
    // Never destroyed: its threads serve until the process exits.
    static FiberPool* pool = new FiberPool(n);
    (void)pool;
  }

 private:
  explicit FiberPool(unsigned n) {
    for (unsigned i = 1; i < n; ++i)
      helpers_.emplace_back([n] {
        boost::fibers::use_scheduling_algorithm<
            boost::fibers::algo::work_stealing>(n, true);
        std::unique_lock<boost::fibers::mutex> lk(mu_());
        cv_().wait(lk, [] { return false; });  // serve until exit
      });
    boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(
        n, true);
    for (auto& t : helpers_) t.detach();
  }
  static boost::fibers::mutex& mu_() {
    static auto* m = new boost::fibers::mutex;
    return *m;
  }
  static boost::fibers::condition_variable& cv_() {
    static auto* c = new boost::fibers::condition_variable;
    return *c;
  }
  std::vector<std::thread> helpers_;
};

void BM_SpawnJoin_BoostFiber_WorkStealing(benchmark::State& state) {
  FiberPool::ensure(2);
  for (auto _ : state) {
    boost::fibers::fiber f([] { benchmark::ClobberMemory(); });
    f.join();
  }
}
BENCHMARK(BM_SpawnJoin_BoostFiber_WorkStealing)->UseRealTime();

void BM_SpawnJoin_StdThread(benchmark::State& state) {
  for (auto _ : state) {
    std::thread t([] { benchmark::ClobberMemory(); });
    t.join();
  }
}
BENCHMARK(BM_SpawnJoin_StdThread)->UseRealTime();

// --------------------------------------------------------- yield ping-pong
// One iteration = two yields (A -> B -> A); per_yield is the cost of one.

void BM_Yield_Kairos(benchmark::State& state) {
  kairos::Runtime rt({.kthreads = 1});
  std::atomic<bool> done{false};
  rt.spawn([&] {
      kairos::Thread partner = rt.spawn([&] {
        while (!done.load(std::memory_order_relaxed)) tu::yield();
      });
      tu::yield();  // let the partner start
      for (auto _ : state) tu::yield();
      done = true;
    }).join();
  state.counters["per_yield"] = per(2);
}
BENCHMARK(BM_Yield_Kairos)->UseRealTime();

void BM_Yield_BoostFiber_RoundRobin(benchmark::State& state) {
  // A fresh thread keeps Boost's default round_robin scheduler.
  std::thread([&] {
    std::atomic<bool> done{false};
    boost::fibers::fiber partner([&] {
      while (!done.load(std::memory_order_relaxed))
        boost::this_fiber::yield();
    });
    boost::this_fiber::yield();
    for (auto _ : state) boost::this_fiber::yield();
    done = true;
    partner.join();
  }).join();
  state.counters["per_yield"] = per(2);
}
BENCHMARK(BM_Yield_BoostFiber_RoundRobin)->UseRealTime();

void pin_to_cpu0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

void BM_Yield_StdThread(benchmark::State& state) {
  // Two OS threads on one CPU hand a token back and forth with sched_yield.
  std::atomic<int> turn{0};
  std::atomic<bool> done{false};
  std::thread partner([&] {
    pin_to_cpu0();
    while (!done.load(std::memory_order_relaxed)) {
      if (turn.load(std::memory_order_acquire) == 1)
        turn.store(0, std::memory_order_release);
      sched_yield();
    }
  });
  std::thread driver([&] {
    pin_to_cpu0();
    for (auto _ : state) {
      turn.store(1, std::memory_order_release);
      while (turn.load(std::memory_order_acquire) != 0) sched_yield();
    }
    done = true;
  });
  driver.join();
  partner.join();
  state.counters["per_yield"] = per(2);
}
BENCHMARK(BM_Yield_StdThread)->UseRealTime();

// ------------------------------------------------- raw Boost.Context switch

namespace bc = boost::context::detail;

void BM_Switch_BoostContext(benchmark::State& state) {
  // The stack switch Kairos is built on, with nothing around it.
  static char stack[64 * 1024];
  bc::fcontext_t peer = bc::make_fcontext(
      stack + sizeof(stack), sizeof(stack), [](bc::transfer_t t) {
        for (;;) t = bc::jump_fcontext(t.fctx, nullptr);
      });
  for (auto _ : state) peer = bc::jump_fcontext(peer, nullptr).fctx;
  state.counters["per_switch"] = per(2);
}
BENCHMARK(BM_Switch_BoostContext)->UseRealTime();

// ------------------------------------------------------ cross-kthread wake
// The shared ping-pong (wake_pingpong.hpp): A wakes a blocked B and
// busy-waits until B, now running on the other kthread, acks. Kairos: B
// waits on a CondVar; futex: B is an OS thread in FUTEX_WAIT.

// Besides the mean (Time), the median and p99 of the single wakes: the
// loaded 2-core host stalls a few wakes for milliseconds, which the mean
// mixes with the typical case.
void report_wake(benchmark::State& state, kairos::bench::WakeResult r) {
  state.counters["cross_kthread_fraction"] = r.cross_fraction();
  state.counters["asleep_fraction"] = r.asleep_fraction();
  // run: wake call -> the woken side runs; ack: -> the waker sees its ack
  // (also holds the waker's own system call; see wake_pingpong.hpp).
  state.counters["run_p50_us"] = r.run_quantile(0.5);
  state.counters["run_p99_us"] = r.run_quantile(0.99);
  state.counters["ack_p50_us"] = r.quantile(0.5);
  state.counters["ack_p99_us"] = r.quantile(0.99);
}

// idle_us: how long A waits (spinning) before each wake, so the woken side
// has time to go idle: 0 (back to back: the target rarely sleeps, the round
// is mostly a memory ping-pong), 5 (a futex waiter is asleep by then, a
// Kairos kthread still looks for work within its spin_before_park) and 50
// (past the default spin: both sides asleep). asleep_fraction says which
// case each row measured.
kairos::bench::WakeOptions wake_options(std::int64_t idle_us) {
  return {.idle_before_wake = std::chrono::microseconds(idle_us), .record = true};
}

void BM_Wake_Kairos_CrossKthread(benchmark::State& state) {
  // Args: how long an idle kthread looks for work before it parks (us),
  // adaptive_spin, and the idle time before each wake. Spin 0: B's kthread
  // parks as soon as it is idle (a futex-parked kthread is woken). Spin 20
  // (the default) and 1000: the wake lands while it still looks for work
  // (Shenango's spinning kthread) unless the kernel took its CPU away;
  // adaptive_spin 1 (the default) then parks at once for a while instead
  // (src/spin_then_park.hpp).
  kairos::Runtime rt({.kthreads = 2,
                      .spin_before_park = std::chrono::microseconds(state.range(0)),
                      .adaptive_spin = state.range(1) != 0});
  report_wake(state, kairos::bench::cross_kthread_wake(
                         rt, [&] { return state.KeepRunning(); },
                         wake_options(state.range(2))));
}
BENCHMARK(BM_Wake_Kairos_CrossKthread)
    ->ArgNames({"spin_us", "adaptive", "idle_us"})
    ->Args({20, 1, 0})
    ->Args({20, 1, 5})
    ->Args({20, 1, 50})
    ->Args({0, 1, 5})
    ->Args({20, 0, 5})
    ->Args({1000, 1, 50})
    ->UseRealTime();

void BM_Wake_Futex(benchmark::State& state) {
  report_wake(state, kairos::bench::futex_wake([&] { return state.KeepRunning(); },
                                               wake_options(state.range(0))));
}
BENCHMARK(BM_Wake_Futex)->ArgName("idle_us")->Arg(0)->Arg(5)->Arg(50)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
