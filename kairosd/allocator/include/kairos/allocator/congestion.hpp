// Shenango's congestion signal: an item that was queued at the previous
// poll is still queued now. Works on free-running 32-bit head/tail
// counters (head = items ever produced, tail = items ever consumed), so it
// needs only the head seen last time and the tail seen now.
#pragma once

#include <kairos/allocator/types.hpp>

#include <cstdint>

namespace kairos::policy {

// True when the consumer has not yet reached the producer position seen at
// the previous poll. Signed difference keeps it right across wrap-around
// (valid while fewer than 2^31 items pass between two polls).
constexpr bool still_queued(std::uint32_t prev_head, std::uint32_t tail_now) {
  return static_cast<std::int32_t>(tail_now - prev_head) < 0;
}

// Per-queue memory of the previous poll.
class QueueTracker {
 public:
  // Feeds this poll's counters; returns whether the queue is congested.
  // The first observation never reports congestion (nothing to compare).
  bool observe(std::uint32_t head, std::uint32_t tail) {
    const bool congested = seen_ && still_queued(prev_head_, tail);
    prev_head_ = head;
    seen_ = true;
    return congested;
  }
  void reset() { seen_ = false; }

 private:
  std::uint32_t prev_head_ = 0;
  bool seen_ = false;
};

// BPF-side per-app queue: the oldest waiting task was already waiting at
// the previous poll.
constexpr bool bpf_queue_congested(const AppQueueStat& s, Nanos prev_poll_ns,
                                   bool have_prev_poll) {
  return have_prev_poll && s.queued > 0 && s.oldest_enqueue_ns <= prev_poll_ns;
}

}  // namespace kairos::policy
