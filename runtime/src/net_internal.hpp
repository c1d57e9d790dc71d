// Internals of the network API (kairos/net.hpp): the wait queue that parks
// uthreads, the stack's per-ring and per-socket state.
#pragma once

#include <kairos/net.hpp>
#include <kairos/sync.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kairos::net::detail {

using kairos::detail::SpinLock;
using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// A condition-variable-like wait list whose user lock is a SpinLock, so
// the poller (scheduler context, no uthread) can deliver and notify
// without ever blocking its kthread. A waiting uthread parks; a waiter
// that is not a uthread polls the notification epoch.
class WaitQueue {
 public:
  // Call with every lock of locks held (distinct, in ascending address
  // order, as lock_all takes them): releases them, waits for notify_all or
  // the deadline, takes them again. False on timeout. Spurious returns
  // are allowed. Several locks: one waiter on the tokens of several
  // sockets (wait_any); a notifier holds one of them while notifying.
  bool wait(std::span<SpinLock* const> locks, Deadline deadline);
  void notify_all();

 private:
  SpinLock wl_;
  kairos::detail::WaitList waiters_;
  std::atomic<unsigned> epoch_{0};
  std::atomic<unsigned> nr_waiting_{0};
};

// Locks (ascending address, no duplicates) taken and released as a set.
void lock_all(std::span<SpinLock* const> locks);
void unlock_all(std::span<SpinLock* const> locks);

struct PendingPush {
  QToken qt;
  Endpoint peer;
  std::vector<std::uint8_t> data;
};

struct StackState;

struct SocketState {
  std::shared_ptr<StackState> stack;
  Endpoint local;
  std::size_t cap = 0;
  // Everything below is guarded by lk (never held across a switch).
  mutable SpinLock lk;
  bool closed = false;
  QToken next = 1;
  std::deque<Datagram> rx;         // received, no pop waiting for it
  std::deque<QToken> pops;         // pops not completed, oldest first
  std::deque<PendingPush> pushes;  // pushes waiting for TX room, in order
  std::unordered_map<QToken, QResult> done;
  // The wait queue (on the waiter's stack) of the uthread waiting for a
  // token: a delivery wakes only that waiter. Notified under lk, so a
  // waiter cannot return (and free it) while a notifier still uses it.
  std::unordered_map<QToken, WaitQueue*> waiters;
  void notify(QToken qt) {
    if (auto it = waiters.find(qt); it != waiters.end()) it->second->notify_all();
  }
  void notify_everyone() {
    for (auto& [qt, wq] : waiters) wq->notify_all();
  }
};

struct alignas(64) RingSlot {
  dp::KthreadRings rings;
  kairos_dp_ring* rx_hdr = nullptr;   // for the doorbell's futex word
  std::atomic<bool> rx_busy{false};   // try-lock: one consumer at a time
  std::atomic<std::uint64_t> taken{0};  // written under rx_busy
};

struct StackState {
  Runtime* rt = nullptr;
  dp::ShmRegion region;
  StackOptions opt;
  std::vector<std::unique_ptr<RingSlot>> slots;
  std::atomic<bool> closed{false};

  SpinLock sockets_lock;
  std::unordered_map<std::uint16_t, std::shared_ptr<SocketState>> by_port;

  std::atomic<std::uint64_t> rx_delivered{0}, rx_stolen{0}, rx_no_socket{0},
      rx_overflow{0}, tx_sent{0}, tx_ring_full{0}, doorbell_wakes{0};

  std::atomic<bool> stop_doorbell{false};
  std::thread doorbell;

  explicit StackState(dp::ShmRegion r) : region(std::move(r)) {}
  // Drains up to 'budget' datagrams of ring j if no one else is; true if
  // it delivered any. Called by the poller of kthread 'self'.
  bool drain(unsigned self, unsigned j, unsigned budget);
  void deliver(Datagram&& d);
  void doorbell_loop();
};

// Moves pending pushes of s into the TX ring of the calling uthread's
// kthread, in order; s->lk held.
void progress_tx(SocketState& s);

}  // namespace kairos::net::detail
