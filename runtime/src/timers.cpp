// Timers of sleeping and timed-waiting uthreads: one ordered map per
// runtime, fired by whichever kthread polls first (idle loop, and every
// few direct switches). Parked kthreads sleep no longer than the earliest
// deadline.
#include "internal.hpp"

#include <vector>

namespace kairos::detail {
namespace {

void publish_next(RuntimeImpl* rt) {
  rt->next_deadline.store(
      rt->timers.empty() ? kNoDeadline : rt->timers.begin()->first,
      std::memory_order_release);
}

}  // namespace

void timer_arm(RuntimeImpl* rt, Uthread* cur, std::uint64_t deadline_ns) {
  rt->timer_lock.lock();
  cur->timer_it = rt->timers.emplace(deadline_ns, cur);
  cur->in_timers = true;
  publish_next(rt);
  rt->timer_lock.unlock();
}

void timer_disarm(RuntimeImpl* rt, Uthread* cur) {
  rt->timer_lock.lock();
  if (cur->in_timers) {
    rt->timers.erase(cur->timer_it);
    cur->in_timers = false;
    publish_next(rt);
  }
  rt->timer_lock.unlock();
}

bool poll_timers(RuntimeImpl* rt) {
  const std::uint64_t now = now_ns();
  if (rt->next_deadline.load(std::memory_order_acquire) > now) return false;
  Uthread* fired[32];
  std::size_t n = 0;
  rt->timer_lock.lock();
  while (n < 32 && !rt->timers.empty() && rt->timers.begin()->first <= now) {
    Uthread* u = rt->timers.begin()->second;
    rt->timers.erase(rt->timers.begin());
    u->in_timers = false;
    std::uint32_t w = kWaiting;
    // Losing this race means a notifier woke u already.
    if (u->wait_state.compare_exchange_strong(w, kTimedOut)) fired[n++] = u;
  }
  publish_next(rt);
  rt->timer_lock.unlock();
  // Each fired uthread is ours to wake: it cannot return before that.
  for (std::size_t i = 0; i < n; ++i) make_ready(fired[i]);
  return n != 0;
}

}  // namespace kairos::detail
