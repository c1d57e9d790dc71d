// Blocking primitives for uthreads: a FIFO hand-off mutex and a condition
// variable with timeouts. They satisfy Lockable, so std::lock_guard and
// std::unique_lock work. Waiting switches to another uthread instead of
// blocking the kthread. Called from a non-uthread thread they still work
// (by spinning and yielding the OS thread), which is handy in tests.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

namespace kairos {

namespace detail {
struct Uthread;
// Intrusive FIFO of waiting uthreads, guarded by a spin lock.
class SpinLock {
 public:
  void lock() noexcept;
  bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) &&
           !held_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};
struct WaitList {
  Uthread* head = nullptr;
  Uthread* tail = nullptr;
  void push(Uthread* u);
  Uthread* pop();
  void remove(Uthread* u);  // u must be in this list
};
}  // namespace detail

class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  void lock();
  bool try_lock() {
    bool f = false;
    return held_.compare_exchange_strong(f, true, std::memory_order_acquire);
  }
  // Hands the mutex to the longest waiter, if any (FIFO, no barging).
  void unlock();

 private:
  std::atomic<bool> held_{false};
  detail::SpinLock wl_;
  detail::WaitList waiters_;
};

enum class WaitStatus { kNotified, kTimeout };

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void wait(std::unique_lock<Mutex>& lk);
  template <typename Pred>
  void wait(std::unique_lock<Mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }
  WaitStatus wait_until(std::unique_lock<Mutex>& lk,
                        std::chrono::steady_clock::time_point t);
  template <typename Rep, typename Period>
  WaitStatus wait_for(std::unique_lock<Mutex>& lk,
                      std::chrono::duration<Rep, Period> d) {
    return wait_until(
        lk, std::chrono::steady_clock::now() +
                std::chrono::ceil<std::chrono::steady_clock::duration>(d));
  }
  template <typename Rep, typename Period, typename Pred>
  bool wait_for(std::unique_lock<Mutex>& lk,
                std::chrono::duration<Rep, Period> d, Pred pred) {
    const auto t = std::chrono::steady_clock::now() +
                   std::chrono::ceil<std::chrono::steady_clock::duration>(d);
    while (!pred())
      if (wait_until(lk, t) == WaitStatus::kTimeout) return pred();
    return true;
  }
  void notify_one();
  void notify_all();

 private:
  WaitStatus wait_impl(std::unique_lock<Mutex>& lk, bool timed,
                       std::chrono::steady_clock::time_point t);
  detail::SpinLock wl_;
  detail::WaitList waiters_;
  // Waiters outside uthreads poll this counter.
  std::atomic<unsigned> epoch_{0};
};

}  // namespace kairos
