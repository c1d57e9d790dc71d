// Internals of the network API (kairos/net.hpp): the wait queue that parks
// uthreads, the stack's per-kthread lanes and per-socket state.
#pragma once

#include <kairos/net.hpp>
#include <kairos/contracts/backend.hpp>
#include <kairos/sync.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <span>
#include <thread>
#include <unordered_map>

#include "net_lane.hpp"
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

// Direct mode: one device queue (a single-queue dp::Backend). A Backend
// is not thread-safe: every call into it is made under io, which is held
// only for that call (never while taking another lock), so the owner's
// RX, TX from any kthread and stealing never deadlock.
struct DirectQueue {
  std::unique_ptr<dp::Backend> backend;
  SpinLock io;
  std::vector<int> fds;              // Backend::wait_fds()
  std::uint64_t no_route_seen = 0;   // its tx_no_route when last looked (under io)
};

struct StackState {
  Runtime* rt = nullptr;
  std::optional<dp::ShmRegion> region;  // relayed mode
  std::vector<std::unique_ptr<DirectQueue>> queues;  // direct mode
  StackOptions opt;
  std::vector<std::unique_ptr<Lane>> lanes;  // lane k: kthread k
  std::atomic<bool> closed{false};
  std::atomic<int> active_pollers{0};  // pollers running right now

  SpinLock sockets_lock;
  std::unordered_map<std::uint16_t, std::shared_ptr<SocketState>> by_port;

  std::atomic<std::uint64_t> rx_delivered{0}, rx_stolen{0}, rx_no_socket{0},
      rx_overflow{0}, tx_sent{0}, tx_ring_full{0}, doorbell_wakes{0}, tx_dropped{0};

  // Direct mode: the fds each kthread was given to park on (to remove).
  std::vector<std::vector<int>> park_fds;

  std::atomic<bool> stop_doorbell{false};
  std::thread doorbell;

  void deliver(Datagram&& d);
  // A no-op uthread injected from outside: with self_wake it unparks a
  // kthread, which then polls (and steals) the lanes.
  void nudge() {
    doorbell_wakes.fetch_add(1, std::memory_order_relaxed);
    rt->spawn_detached([] {});
  }
};

// net_ring_lane.cpp: ring pair k of region; the doorbell thread of the
// relayed mode (futex_waitv on the RX rings' parked words).
std::unique_ptr<Lane> make_ring_lane(const dp::ShmRegion& region, unsigned k);
void ring_doorbell_loop(StackState& st);

// net_direct_lane.cpp: kthread k's lane over the queues it owns (rx, may
// be none) and the queues it sends through, preferred first (tx). The
// doorbell thread of direct mode when kthreads cannot park on the queues'
// fds (poll on them). retire_direct: at ~Stack, waits for every drain and
// backend call to finish, then destroys the backends (closing their
// sockets) while their locks stay held.
std::unique_ptr<Lane> make_direct_lane(unsigned k, std::vector<DirectQueue*> rx,
                                       std::vector<DirectQueue*> tx);
void fd_doorbell_loop(StackState& st);
// net_stack.cpp: parks each kthread on its queues' fds, else starts the
// doorbell thread (st.park_fds says which fds were given).
void start_direct_wakeups(Runtime& rt, StackState& st);
void retire_direct(StackState& st);

// Moves pending pushes of s into the lane of the calling uthread's
// kthread, in order, and flushes them; s->lk held.
void progress_tx(SocketState& s);

}  // namespace kairos::net::detail
