// The netpoller (Go's netpoll, for libkairos): one edge-triggered epoll
// instance per Runtime, created with the first socket. Each fd is
// registered once (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET) with a PollDesc;
// a uthread whose read or write would block records itself as the
// PollDesc's waiter for that direction and parks (the uthread; its
// kthread runs others). Readiness found by any harvest makes the waiter
// ready on the kthread that last ran it when that kthread is running
// (ZygOS ownership), else on the harvesting kthread (no second wake-up).
//
// Who harvests (epoll_wait with timeout 0 unless said otherwise):
// - an idle kthread, each pass of its idle loop before it parks, and a
//   busy one every few scheduler passes;
// - the last kthread to park (self_wake only): it parks *in* the poller
//   (ppoll on the epoll fd and an eventfd that unpark_kthread writes
//   instead of the parker's signal), so readiness wakes it with one
//   wake-up and it runs the ready uthreads itself;
// - a watcher thread: with self_wake off (allocator mode: only grants
//   wake kthreads, so none may sleep where a grant cannot reach it) it
//   waits on the epoll fd while every kthread is parked and queues what
//   becomes ready, which the allocator sees in the queue-state lines; in
//   both modes it harvests when no kthread has for a while (every
//   kthread busy), as Go's sysmon does.
//
// RX occupancy: a wake counts on the queue-state line of the kthread it
// is queued on (tcp_rx_head) until the uthread runs (tcp_rx_tail), added
// to the UDP lanes' figures (Runtime::publish_rx), so the allocator sees
// TCP load as it sees UDP load.
#pragma once

#include "internal.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace kairos::detail {

enum PollDir : int { kPollRead = 0, kPollWrite = 1 };

enum class PollWait {
  kReady,     // readiness came (or may have): retry the operation
  kTimedOut,  // the deadline passed first
  kClosed,    // netpoll_close_wake() was called
};

struct Netpoll;

// One per registered fd; recycled, never freed before its Netpoll (a
// harvest may still hold a pointer taken from an event that raced a
// close: at worst it marks a recycled desc ready, one spurious retry).
struct PollDesc {
  Netpoll* np = nullptr;
  int fd = -1;
  SpinLock lock;
  Uthread* waiter[2] = {nullptr, nullptr};  // guarded by lock
  bool ready[2] = {false, false};           // an edge nobody consumed yet
  // A harvest saw the peer shut down or the socket fail (sticky): an EOF
  // or error that a read may take in along with data, with no edge after.
  bool hangup = false;
  bool closing = false;
  PollDesc* free_next = nullptr;
};

struct NetpollStats {
  std::uint64_t harvests = 0;      // epoll_wait calls that returned events
  std::uint64_t events = 0;        // events harvested
  std::uint64_t wakes = 0;         // uthreads made ready by readiness
  std::uint64_t parked_in_poller = 0;  // parks spent in the poller
  std::uint64_t poller_io_wakes = 0;   // of them, ended by readiness
  std::uint64_t watcher_harvests = 0;  // harvests by the watcher thread
};

struct Netpoll {
  RuntimeImpl* rt = nullptr;  // null once the runtime is gone
  int epfd = -1;
  int watcher_evfd = -1;  // stops the watcher
  int park_evfd = -1;     // unparks the kthread parked in the poller
  std::atomic<int> registered{0};
  // Index of the kthread parked in the poller, or -1 (at most one).
  std::atomic<int> poller_parker{-1};
  // One harvester at a time (try-lock): concurrent epoll_waits on one
  // instance only contend in the kernel.
  std::atomic<bool> harvesting{false};
  std::atomic<std::uint64_t> last_harvest_ns{0};

  std::mutex free_mutex;
  PollDesc* free_list = nullptr;
  std::vector<std::unique_ptr<PollDesc>> all;

  std::thread watcher;
  std::atomic<bool> stop{false};

  std::atomic<std::uint64_t> harvests{0}, events{0}, wakes{0},
      parked_in_poller{0}, poller_io_wakes{0}, watcher_harvests{0};

  ~Netpoll();
};

// The runtime's netpoller, created on first use (throws std::system_error
// when epoll cannot be set up).
std::shared_ptr<Netpoll> netpoll_of(RuntimeImpl* rt);
// Registers fd (non-blocking already); null with ec set on failure.
PollDesc* netpoll_open(Netpoll& np, int fd, std::error_code& ec);
// Marks pd closing and wakes its waiters (they return kClosed).
void netpoll_close_wake(PollDesc* pd);
// Deregisters pd's fd (call before closing it) and recycles pd.
void netpoll_release(PollDesc* pd);
// Waits until pd is ready in direction dir, the steady-clock deadline
// (kNoDeadline: none) passes, or pd is closed. From a uthread it parks
// the uthread; elsewhere it waits in poll(2).
PollWait netpoll_wait(PollDesc* pd, PollDir dir, std::uint64_t deadline_ns);
// Whether a harvest has seen pd's peer shut down or its socket fail.
bool netpoll_hung_up(PollDesc* pd);
// Harvests ready events (timeout 0) from kthread k (null: not a kthread)
// and makes their waiters ready. True if any uthread was made ready.
bool netpoll_harvest(RuntimeImpl* rt, Kthread* k);
// From park(): whether k should park in the poller now; on true the
// caller must call netpoll_park and then netpoll_unpark_done.
bool netpoll_take_park(RuntimeImpl* rt, Kthread* k);
// Sleeps in the poller until unparked, readiness, or the deadline.
void netpoll_park(Kthread* k, std::uint64_t deadline_ns);
void netpoll_park_done(RuntimeImpl* rt, Kthread* k);
// Ends a poller park (after k's park_state was won). True if k was in it.
bool netpoll_unpark(RuntimeImpl* rt, Kthread* k);
// The RX occupancy figures of k's line: UDP lanes' plus TCP wakes.
void publish_rx_line(Kthread* k);
// Called by a uthread that readiness woke, once it runs.
void netpoll_account_run(Uthread* u);
NetpollStats netpoll_stats(RuntimeImpl* rt);
// Stops the watcher (runtime teardown, after the kthreads stopped).
void netpoll_shutdown(RuntimeImpl* rt);

}  // namespace kairos::detail
