// libkairos against its peers, side by side in one Google Benchmark run:
//   spawn+join   Kairos | Boost.Fiber (work_stealing) | std::thread
//   yield        Kairos | Boost.Fiber (round_robin)   | std::thread (sched_yield)
//   wake         Kairos CondVar wake run on another kthread | futex wake
//   raw switch   Boost.Context jump_fcontext (the floor under Kairos yields)
// Timings are wall clock (UseRealTime); loops that run inside a uthread or
// fiber drive benchmark::State from there.
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <benchmark/benchmark.h>
#include <boost/context/detail/fcontext.hpp>
#include <boost/fiber/all.hpp>

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
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
// A wakes a blocked B and busy-waits (without yielding, so A's kthread stays
// occupied) until B, now running elsewhere, raises an ack flag. Kairos: B is
// blocked on a CondVar; the idle kthread steals it and runs it. Futex: B is
// an OS thread in FUTEX_WAIT. One iteration = one wake + one flag round trip.

void BM_Wake_Kairos_CrossKthread(benchmark::State& state) {
  // Arg = how long an idle kthread polls before it parks, in us. 20 (the
  // default): B's kthread has usually parked, so the wake unparks it (futex)
  // and B runs there. 1000: a granted kthread keeps polling its core
  // (Shenango), so the wake is a queue push it picks up.
  kairos::Runtime rt({.kthreads = 2,
                      .spin_before_park = std::chrono::microseconds(state.range(0))});
  kairos::Mutex m;
  kairos::CondVar cv;
  std::uint64_t seq = 0;  // guarded by m
  bool done = false;      // guarded by m
  std::atomic<std::uint64_t> ack{0};
  std::atomic<long> cross{0}, wakes{0};
  rt.spawn([&] {
      const unsigned a_kthread = tu::kthread_index();
      kairos::Thread b = rt.spawn([&] {
        std::uint64_t seen = 0;
        std::unique_lock<kairos::Mutex> lk(m);
        for (;;) {
          cv.wait(lk, [&] { return seq != seen || done; });
          if (done) return;
          seen = seq;
          if (tu::kthread_index() != a_kthread) cross.fetch_add(1);
          wakes.fetch_add(1);
          ack.store(seen, std::memory_order_release);
        }
      });
      std::uint64_t n = 0;
      for (auto _ : state) {
        // Spin for the mutex rather than block, so A never leaves its
        // kthread (B holds it briefly between the ack and its next wait).
        while (!m.try_lock()) {
        }
        seq = ++n;
        m.unlock();
        cv.notify_one();
        while (ack.load(std::memory_order_acquire) != n) {
        }
      }
      {
        std::lock_guard<kairos::Mutex> g(m);
        done = true;
      }
      cv.notify_one();
    }).join();
  state.counters["cross_kthread_fraction"] =
      static_cast<double>(cross.load()) / std::max(1L, wakes.load());
}
BENCHMARK(BM_Wake_Kairos_CrossKthread)->Arg(0)->Arg(20)->Arg(1000)->UseRealTime();

long futex(std::atomic<std::uint32_t>* w, int op, std::uint32_t v) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op, v,
                 nullptr, nullptr, 0);
}

void BM_Wake_Futex(benchmark::State& state) {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> ack{0};
  std::atomic<bool> done{false};
  std::thread b([&] {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t v;
      while ((v = seq.load(std::memory_order_acquire)) == seen &&
             !done.load(std::memory_order_relaxed))
        futex(&seq, FUTEX_WAIT_PRIVATE, v);
      if (done.load()) return;
      seen = v;
      ack.store(seen, std::memory_order_release);
    }
  });
  std::uint32_t n = 0;
  for (auto _ : state) {
    seq.store(++n, std::memory_order_release);
    futex(&seq, FUTEX_WAKE_PRIVATE, 1);
    while (ack.load(std::memory_order_acquire) != n) {
    }
  }
  done = true;
  seq.store(++n);
  futex(&seq, FUTEX_WAKE_PRIVATE, 1);
  b.join();
}
BENCHMARK(BM_Wake_Futex)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
