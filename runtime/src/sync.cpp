// Mutex and CondVar for uthreads: waiters queue in FIFO order and the
// waker hands them straight to a run queue.
#include "internal.hpp"

#include <thread>

namespace kairos {
namespace detail {

void SpinLock::lock() noexcept {
  for (;;) {
    if (!held_.exchange(true, std::memory_order_acquire)) return;
    while (held_.load(std::memory_order_relaxed)) cpu_relax();
  }
}

void WaitList::push(Uthread* u) {
  u->wl_next = nullptr;
  u->wl_prev = tail;
  if (tail)
    tail->wl_next = u;
  else
    head = u;
  tail = u;
  u->in_waitlist = true;
}

Uthread* WaitList::pop() {
  Uthread* u = head;
  if (u) remove(u);
  return u;
}

void WaitList::remove(Uthread* u) {
  if (u->wl_prev)
    u->wl_prev->wl_next = u->wl_next;
  else
    head = u->wl_next;
  if (u->wl_next)
    u->wl_next->wl_prev = u->wl_prev;
  else
    tail = u->wl_prev;
  u->wl_next = u->wl_prev = nullptr;
  u->in_waitlist = false;
}

namespace {
Uthread* self_uthread(Kthread** k) {
  *k = current_kthread();
  return *k ? (*k)->current.load(std::memory_order_relaxed) : nullptr;
}
}  // namespace

}  // namespace detail

using namespace detail;

void Mutex::lock() {
  if (try_lock()) return;
  Kthread* k;
  Uthread* self = self_uthread(&k);
  if (!self) {
    // Outside the runtime: wait politely; uthread waiters go first.
    while (!try_lock()) std::this_thread::yield();
    return;
  }
  wl_.lock();
  if (try_lock()) {
    wl_.unlock();
    return;
  }
  waiters_.push(self);
  wl_.unlock();
  // unlock() hands us the mutex (held_ stays true) and makes us ready.
  switch_away(k, self, false, false, false);
}

void Mutex::unlock() {
  wl_.lock();
  Uthread* next = waiters_.pop();
  if (!next) held_.store(false, std::memory_order_release);
  wl_.unlock();
  if (next) make_ready(next);
}

void CondVar::wait(std::unique_lock<Mutex>& lk) {
  wait_impl(lk, false, {});
}

WaitStatus CondVar::wait_until(std::unique_lock<Mutex>& lk,
                               std::chrono::steady_clock::time_point t) {
  return wait_impl(lk, true, t);
}

WaitStatus CondVar::wait_impl(std::unique_lock<Mutex>& lk, bool timed,
                              std::chrono::steady_clock::time_point t) {
  Kthread* k;
  Uthread* self = self_uthread(&k);
  if (!self) {
    // Outside the runtime: poll the notification epoch.
    const unsigned e = epoch_.load(std::memory_order_acquire);
    lk.unlock();
    WaitStatus st = WaitStatus::kNotified;
    while (epoch_.load(std::memory_order_acquire) == e) {
      if (timed && std::chrono::steady_clock::now() >= t) {
        st = WaitStatus::kTimeout;
        break;
      }
      std::this_thread::yield();
    }
    lk.lock();
    return st;
  }
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      t.time_since_epoch())
                      .count();
  if (timed && (ns <= 0 || static_cast<std::uint64_t>(ns) <= now_ns()))
    return WaitStatus::kTimeout;
  wl_.lock();
  self->wait_state.store(kWaiting, std::memory_order_relaxed);
  waiters_.push(self);
  wl_.unlock();
  if (timed) timer_arm(self->rt, self, static_cast<std::uint64_t>(ns));
  lk.unlock();
  switch_away(k, self, false, false, false);
  const std::uint32_t how = self->wait_state.load(std::memory_order_acquire);
  if (how == kTimedOut) {
    wl_.lock();
    if (self->in_waitlist) waiters_.remove(self);
    wl_.unlock();
  } else if (timed) {
    timer_disarm(self->rt, self);
  }
  self->wait_state.store(kNotWaiting, std::memory_order_relaxed);
  lk.lock();
  return how == kTimedOut ? WaitStatus::kTimeout : WaitStatus::kNotified;
}

void CondVar::notify_one() {
  Uthread* woken = nullptr;
  wl_.lock();
  while (Uthread* u = waiters_.pop()) {
    std::uint32_t w = kWaiting;
    // A waiter whose timer already fired is skipped.
    if (u->wait_state.compare_exchange_strong(w, kNotified)) {
      woken = u;
      break;
    }
  }
  wl_.unlock();
  epoch_.fetch_add(1, std::memory_order_release);
  if (woken) make_ready(woken);
}

void CondVar::notify_all() {
  // Woken waiters leave the list in FIFO order, linked through wl_next.
  WaitList woken;
  wl_.lock();
  while (Uthread* u = waiters_.pop()) {
    std::uint32_t w = kWaiting;
    if (u->wait_state.compare_exchange_strong(w, kNotified)) woken.push(u);
  }
  wl_.unlock();
  epoch_.fetch_add(1, std::memory_order_release);
  while (Uthread* u = woken.pop()) make_ready(u);
}

}  // namespace kairos
