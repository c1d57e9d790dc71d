// A Demikernel-like queue API over one kthread's RX/TX rings: push and pop
// return tokens; wait, wait with a timeout and wait_any complete them.
//
// Buffer ownership: push copies the caller's bytes (into the TX ring, or
// into the pending operation while the ring is full), so the caller may
// reuse its buffer as soon as push returns. A pop result owns a copy of
// the datagram; the ring slot is released before the result is returned,
// so nothing refers to memory the dataplane reuses.
//
// It runs on plain threads (waits spin, then park on a futex): the peer the
// benchmarks measure kairos::net (runtime/include/kairos/net.hpp) against.
// Apps use kairos::net, the one queue API for apps, whose queue API has the
// same shape on uthreads.
//
// Every token is waited exactly once (its result is kept until then).
// One UdpQueue per kthread, used by that thread only.
#pragma once

#include <kairos/contracts/shm_rings.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kairos::dp {

using QToken = std::uint64_t;

struct QResult {
  enum class Op { kPush, kPop };
  Op op = Op::kPop;
  QToken qt = 0;
  Endpoint peer;   // pop: the sender; push: the destination
  Endpoint local;  // pop: the address it was sent to
  std::vector<std::uint8_t> data;  // pop: the datagram (owned)
};

class UdpQueue {
 public:
  // local is the app address replies are sent from. A wait spins
  // idle_spins rounds, then parks on the RX ring (woken by the dataplane)
  // or, while pushes wait for TX room, sleeps idle_sleep_us between checks.
  // idle_yield_us: after the spins, keep polling with sched_yield() for
  // this long before parking (no wakeup needed while traffic flows; a
  // shared core still goes to other runnable threads).
  UdpQueue(KthreadRings rings, Endpoint local, unsigned idle_spins = 64,
           unsigned idle_sleep_us = 20, unsigned idle_yield_us = 0);

  // Queues one datagram to peer; throws std::invalid_argument when it
  // cannot fit a ring slot (nothing is queued then).
  QToken push(const Endpoint& peer, std::span<const std::uint8_t> data);
  QToken pop();

  // Blocks until qt completes. Unknown or already-waited tokens throw.
  QResult wait(QToken qt);
  // nullopt on timeout; the operation stays pending and can be waited again.
  std::optional<QResult> wait(QToken qt, std::chrono::nanoseconds timeout);
  // The first of qts to complete: its index and result; nullopt on timeout.
  std::optional<std::pair<std::size_t, QResult>> wait_any(
      std::span<const QToken> qts,
      std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  std::uint32_t rx_backlog() const { return rings_.rx.occupancy(); }

 private:
  friend std::optional<std::pair<std::size_t, QResult>> wait_any(
      std::span<const std::pair<UdpQueue*, QToken>>, std::optional<std::chrono::nanoseconds>);
  struct PendingPush {
    QToken qt;
    Endpoint peer;
    std::vector<std::uint8_t> data;
  };
  void progress();  // completes what the rings allow, in token order
  bool known(QToken qt) const;
  std::optional<QResult> take(QToken qt);

  KthreadRings rings_;
  Endpoint local_;
  unsigned idle_spins_, idle_sleep_us_, idle_yield_us_;
  QToken next_ = 1;
  std::deque<PendingPush> pushes_;
  std::deque<QToken> pops_;
  std::unordered_map<QToken, QResult> done_;
};

// wait_any across queues (one thread serving several apps or kthreads'
// rings): the first of the (queue, token) pairs to complete, its index
// and result; nullopt on timeout. The calling thread must be the one
// that uses every queue named. It spins (the largest idle_spins of the
// queues), then sleeps the smallest idle_sleep_us between checks: one
// thread cannot park on several RX rings. Unknown tokens or a null queue:
// std::invalid_argument, nothing consumed.
std::optional<std::pair<std::size_t, QResult>> wait_any(
    std::span<const std::pair<UdpQueue*, QToken>> tokens,
    std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

}  // namespace kairos::dp
