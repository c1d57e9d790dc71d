// The cross-kthread wake ping-pong, shared by runtime_bench (host, Google
// Benchmark) and runtime_park_bench (VM, park backends side by side).
//
// Uthread A notifies a CondVar on which uthread B waits, then busy-waits
// (without yielding, so A's kthread stays occupied) until B, run by another
// kthread, raises an ack flag. One round = one wake + one flag round trip.
//
// Two latencies per round, both from just before the wake call:
// - run: until B runs (B's own clock read when its wait returns): the wake
//   latency the woken side sees, the figure kmod_bench reports for GRANT;
// - ack: until A sees B's ack. This also holds the waker's own FUTEX_WAKE
//   system call, which on this host returned 1.5-2.5 us *after* the woken
//   thread was already running (TSC stamps, both peers alike; on a busy
//   host the kernel may even run the woken thread on the waker's CPU
//   first), so it measures the waker's cost as much as the wake.
// The plain-thread peer (futex_wake) is the same pattern with an OS thread
// in FUTEX_WAIT.
//
// Whether the woken side was really asleep decides what is measured: with
// no idle time before a wake, B (or its kthread) has often not gone to
// sleep yet and the round is a memory ping-pong, not a wake. So each side
// counts the rounds whose target was asleep: Kairos reads B's kthread's
// queue-state line (PARKED) just before the wake; the futex peer counts
// FUTEX_WAIT calls that slept and were woken (returned 0).
#pragma once

#include <kairos/contracts/queue_state.hpp>
#include <kairos/runtime.hpp>
#include <kairos/sync.hpp>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace kairos::bench {

struct WakeOptions {
  // A waits this long before each wake (spinning, so its kthread stays
  // busy): lets B's kthread reach its idle state (spin, park) first.
  std::chrono::nanoseconds idle_before_wake{0};
  // Record each round's latency (from just before the wake to the ack).
  bool record = false;
};

struct WakeResult {
  long rounds = 0;
  long cross = 0;           // rounds in which B ran on another kthread than A
  long asleep = 0;          // rounds whose target slept (parked kthread, futex sleep)
  std::vector<double> us;   // per-round wake -> ack latency, when recorded
  std::vector<double> run_us;  // per-round wake -> B runs, when recorded
  double cross_fraction() const {
    return rounds ? static_cast<double>(cross) / static_cast<double>(rounds) : 0;
  }
  double asleep_fraction() const {
    return rounds ? static_cast<double>(asleep) / static_cast<double>(rounds) : 0;
  }
  // Quantile q in [0, 1] of the recorded latencies (sorts them).
  double quantile(double q) { return quantile_of(us, q); }
  double run_quantile(double q) { return quantile_of(run_us, q); }
  static double quantile_of(std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
    return v[i];
  }
};

inline std::int64_t clock_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Records one round: t0 and B's run stamp in clock_ns(), ack seen now.
inline void record_round(WakeResult& r, std::int64_t t0, std::int64_t ran) {
  const std::int64_t acked = clock_ns();
  r.us.push_back(static_cast<double>(acked - t0) / 1000.0);
  r.run_us.push_back(static_cast<double>(ran - t0) / 1000.0);
}

inline void spin_for(std::chrono::nanoseconds d) {
  if (d.count() <= 0) return;
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Runs rounds on rt (needs >= 2 kthreads) while more() says so; more() is
// called on A's uthread before each round (e.g. benchmark::State::KeepRunning).
template <typename More>
WakeResult cross_kthread_wake(kairos::Runtime& rt, More&& more,
                              WakeOptions opt = {}) {
  kairos::Mutex m;
  kairos::CondVar cv;
  std::uint64_t seq = 0;  // guarded by m
  bool done = false;      // guarded by m
  std::atomic<std::uint64_t> ack{0};
  std::atomic<long> cross{0};
  std::atomic<unsigned> b_kthread{0};  // where B last ran
  std::atomic<std::int64_t> ran{0};    // B's clock when its wait returned
  WakeResult r;
  rt.spawn([&] {
      const unsigned a = kairos::this_uthread::kthread_index();
      kairos::Thread b = rt.spawn([&] {
        std::uint64_t seen = 0;
        std::unique_lock<kairos::Mutex> lk(m);
        for (;;) {
          cv.wait(lk, [&] { return seq != seen || done; });
          ran.store(clock_ns(), std::memory_order_relaxed);
          if (done) return;
          seen = seq;
          const unsigned bk = kairos::this_uthread::kthread_index();
          b_kthread.store(bk, std::memory_order_relaxed);
          if (bk != a) cross.fetch_add(1, std::memory_order_relaxed);
          ack.store(seen, std::memory_order_release);
        }
      });
      std::uint64_t n = 0;
      while (more()) {
        spin_for(opt.idle_before_wake);
        // Spin for the mutex rather than block, so A never leaves its
        // kthread (B holds it briefly between the ack and its next wait).
        while (!m.try_lock()) {
        }
        // Before the clock starts: was B's kthread parked (asleep)?
        const auto line = kairos::read_queue_state(
            rt.queue_state_line(b_kthread.load(std::memory_order_relaxed)));
        if (line && line->state == KAIROS_KTHREAD_PARKED) ++r.asleep;
        // Timed from here, as the futex peer.
        const std::int64_t t0 = clock_ns();
        seq = ++n;
        m.unlock();
        cv.notify_one();
        while (ack.load(std::memory_order_acquire) != n) {
        }
        if (opt.record) record_round(r, t0, ran.load(std::memory_order_relaxed));
      }
      r.rounds = static_cast<long>(n);
      {
        std::lock_guard<kairos::Mutex> g(m);
        done = true;
      }
      cv.notify_one();
    }).join();
  r.cross = cross.load();
  return r;
}

inline long futex_call(std::atomic<std::uint32_t>* w, int op, std::uint32_t v) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), op, v,
                 nullptr, nullptr, 0);
}

// The peer: the same rounds with B an OS thread in FUTEX_WAIT and A the
// calling thread (FUTEX_WAKE, then spin on the ack).
template <typename More>
WakeResult futex_wake(More&& more, WakeOptions opt = {}) {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> ack{0};
  std::atomic<bool> done{false};
  std::atomic<long> slept{0};
  std::atomic<std::int64_t> ran{0};  // B's clock when its wait returned
  std::thread b([&] {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t v;
      while ((v = seq.load(std::memory_order_acquire)) == seen &&
             !done.load(std::memory_order_relaxed))
        if (futex_call(&seq, FUTEX_WAIT_PRIVATE, v) == 0)
          slept.fetch_add(1, std::memory_order_relaxed);
      ran.store(clock_ns(), std::memory_order_relaxed);
      if (done.load()) return;
      seen = v;
      ack.store(seen, std::memory_order_release);
    }
  });
  WakeResult r;
  std::uint32_t n = 0;
  while (more()) {
    spin_for(opt.idle_before_wake);
    const std::int64_t t0 = clock_ns();
    seq.store(++n, std::memory_order_release);
    futex_call(&seq, FUTEX_WAKE_PRIVATE, 1);
    while (ack.load(std::memory_order_acquire) != n) {
    }
    if (opt.record) record_round(r, t0, ran.load(std::memory_order_relaxed));
  }
  r.rounds = n;
  r.cross = n;
  done = true;
  seq.store(++n);
  futex_call(&seq, FUTEX_WAKE_PRIVATE, 1);
  b.join();
  // The final wake above is not a round; a spurious return counts too, so
  // this is an upper bound, close enough for a fraction.
  r.asleep = std::min<long>(slept.load(), static_cast<long>(r.rounds));
  return r;
}

// more() for a fixed number of rounds.
struct Rounds {
  long left;
  bool operator()() { return left-- > 0; }
};

}  // namespace kairos::bench
