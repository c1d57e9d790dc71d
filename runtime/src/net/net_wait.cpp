// WaitQueue: park a uthread until a delivery, from any context. The same
// protocol as CondVar (sync.cpp): enqueue under the wait-list lock before
// the user lock is released, so a notifier that changes the state under
// the user lock cannot miss the waiter; timed waits race the timer through
// wait_state.
#include "internal.hpp"
#include "net_internal.hpp"

#include <thread>

namespace kairos::net::detail {

using namespace kairos::detail;

void lock_all(std::span<SpinLock* const> locks) {
  for (SpinLock* l : locks) l->lock();
}

void unlock_all(std::span<SpinLock* const> locks) {
  for (std::size_t i = locks.size(); i-- > 0;) locks[i]->unlock();
}

bool WaitQueue::wait(std::span<SpinLock* const> locks, Deadline deadline) {
  Kthread* k = current_kthread();
  Uthread* self = k ? k->current.load(std::memory_order_relaxed) : nullptr;
  if (!self) {
    // Not a uthread (a plain thread, or the scheduler context): poll.
    const unsigned e = epoch_.load(std::memory_order_acquire);
    unlock_all(locks);
    bool notified = true;
    while (epoch_.load(std::memory_order_acquire) == e) {
      if (deadline && std::chrono::steady_clock::now() >= *deadline) {
        notified = false;
        break;
      }
      std::this_thread::yield();
    }
    lock_all(locks);
    return notified;
  }
  std::uint64_t ns = 0;
  if (deadline) {
    const auto t = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       deadline->time_since_epoch())
                       .count();
    if (t <= 0 || static_cast<std::uint64_t>(t) <= now_ns()) return false;
    ns = static_cast<std::uint64_t>(t);
  }
  wl_.lock();
  self->wait_state.store(kWaiting, std::memory_order_relaxed);
  waiters_.push(self);
  nr_waiting_.fetch_add(1, std::memory_order_seq_cst);
  wl_.unlock();
  if (deadline) timer_arm(self->rt, self, ns);
  unlock_all(locks);
  switch_away(k, self, false, false, false);
  const std::uint32_t how = self->wait_state.load(std::memory_order_acquire);
  if (how == kTimedOut) {
    wl_.lock();
    if (self->in_waitlist) {
      waiters_.remove(self);
      nr_waiting_.fetch_sub(1, std::memory_order_relaxed);
    }
    wl_.unlock();
  } else if (deadline) {
    timer_disarm(self->rt, self);
  }
  self->wait_state.store(kNotWaiting, std::memory_order_relaxed);
  lock_all(locks);
  return how != kTimedOut;
}

void WaitQueue::notify_all() {
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  // Cheap when nobody waits (the common case on a busy socket).
  if (nr_waiting_.load(std::memory_order_seq_cst) == 0) return;
  WaitList woken;
  wl_.lock();
  while (Uthread* u = waiters_.pop()) {
    nr_waiting_.fetch_sub(1, std::memory_order_relaxed);
    std::uint32_t w = kWaiting;
    // A waiter whose timer fired already wakes itself.
    if (u->wait_state.compare_exchange_strong(w, kNotified)) woken.push(u);
  }
  wl_.unlock();
  while (Uthread* u = woken.pop()) make_ready(u);
}

}  // namespace kairos::net::detail
