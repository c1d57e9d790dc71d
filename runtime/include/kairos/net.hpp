// Network API of the runtime: blocking UDP sockets on uthreads (Shenango
// style) and a Demikernel-like queue API (push/pop tokens, wait, wait with
// a timeout, wait_any), over one of two transports, with one code path
// for sockets, the queue API and delivery: each kthread has a lane
// (runtime/src/net_lane.hpp) that it drains into the sockets and sends
// through.
//
// Relayed mode: kairosd's (or an in-process) dataplane thread fills
// per-kthread shared-memory RX/TX rings
// (contracts/include/kairos/abi/ring.h).
//
//   kairos::Runtime rt({.kthreads = 4});
//   kairos::net::Stack stack(rt, dp::ShmRegion::attach(fd));  // before spawning
//   auto sock = stack.bind(dp::Endpoint::v4(0x0a000001, 7000));
//   rt.spawn([&] {
//     while (auto d = sock.recv_from()) sock.send_to(d->peer, d->data);
//   });
//
// Kthread k consumes RX ring k (the ring the dataplane's bucket table
// fills for it) from a poller registered with Runtime::add_poller, so an
// idle kthread drains it before it parks, and publishes the ring's
// head/tail in its queue-state line (publish_rx) so the allocator sees RX
// congestion. A doorbell thread sleeps on the rings' futex words and wakes
// the runtime when a datagram lands while every kthread that could drain
// it is parked (self_wake mode; with an external allocator, its grant does
// that). send pushes to the TX ring of the calling uthread's kthread (its
// only producer); the push rings the region's TX doorbell when the
// dataplane sleeps (ring_abi.h v3). region().dataplane_alive() turns false
// once the dataplane stopped or its process exited.
//
// Direct mode (Caladan's directpath idea): no dataplane thread, no rings;
// the runtime's kthreads own the device queues' AF_XDP sockets, one
// single-queue dp::Backend per queue (dp::attach_direct(pin_dir) for
// kairosd's "mode=direct pin=...", or dp::make_afxdp_direct_backends):
//
//   auto att = dp::attach_direct("/sys/fs/bpf/kairos/echo");  // links kairos_dataplane
//   kairos::net::Stack stack(rt, std::move(att.queues), {.steered = {att.listen}});
//
// Queue q belongs to kthread q % kthreads: it polls the queue, and sends
// through it (a kthread with no queue of its own sends through queue
// k % queues; one that has no route to the peer, i.e. never heard from
// it, passes the datagram to the next queue). Each backend is guarded by
// a lock held only around each call into it; the RX side also has a
// try-lock held across its deliveries (one consumer per lane: per-flow
// order holds). TX leaves with one kick per batch: send flushes unless
// more uthreads wait on its kthread (the last of them kicks for all), and
// the idle poll kicks whatever is left, so a reply never waits for a
// later poll once its kthread runs dry. A running kthread also drains the
// queues of a parked one. A parked kthread
// sleeps on its queues' fds as well as on its unpark signal
// (Runtime::add_park_fds, futex parking with self_wake): a datagram wakes
// the kthread that owns the queue, one wakeup per request as for a kernel
// UDP server. With /dev/kairos parking (PARK cannot wait on fds) or with
// self_wake off, a doorbell thread polls the fds instead and wakes the
// runtime as in relayed mode. The RX occupancy published per kthread is
// what it consumed plus what still waits in its queues' device rings
// (dp::Backend::rx_waiting).
//
// Either way datagrams go to the socket bound to their destination port;
// a uthread waiting in recv parks (the uthread, not the kthread) and is
// made ready by the delivery.
//
// Buffer ownership: a received datagram is copied out of its ring slot or
// device frame and that memory is released (the ring's tail passes it, or
// the frame returns to the fill ring) before the datagram is handed to any
// socket, so no caller ever sees memory the dataplane or device reuses;
// the caller owns Datagram::data. send/push copy the caller's bytes into a
// TX slot or frame (or into the pending operation while TX is full) before
// they return; the caller may reuse its buffer at once.
#pragma once

#include <kairos/contracts/backend.hpp>
#include <kairos/contracts/endpoint.hpp>
#include <kairos/contracts/shm_rings.hpp>
#include <kairos/runtime.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace kairos::net {

using dp::Endpoint;
using QToken = std::uint64_t;

struct Datagram {
  Endpoint peer;   // the sender
  Endpoint local;  // the address it was sent to
  std::vector<std::uint8_t> data;
};

// A completed queue operation.
struct QResult {
  enum class Op { kPush, kPop };
  Op op = Op::kPop;
  QToken qt = 0;
  Datagram dgram;  // pop: the datagram; push: peer = destination, no data
};

struct StackStats {
  std::uint64_t rx_delivered = 0;   // datagrams handed to a socket
  std::uint64_t rx_stolen = 0;      // of those, taken from a parked kthread's ring
  std::uint64_t rx_no_socket = 0;   // dropped: no socket bound to the port
  std::uint64_t rx_overflow = 0;    // dropped: the socket's queue was full
  std::uint64_t tx_sent = 0;        // datagrams pushed to a TX ring / device queue
  std::uint64_t tx_ring_full = 0;   // pushes that found TX full (retried)
  std::uint64_t doorbell_wakes = 0; // runtime wakes by the doorbell thread
  std::uint64_t tx_dropped = 0;     // direct mode: no queue had a route to the peer
};

struct StackOptions {
  // Datagrams a socket holds before it drops (counted in rx_overflow).
  std::size_t socket_queue_cap = 8192;
  // Run the doorbell thread (see above; in direct mode only when kthreads
  // cannot park on the queues' fds). Off: only running kthreads and the
  // allocator's grants move datagrams off the rings / queues.
  bool doorbell = true;
  // Direct mode: the endpoints the device steers to these queues (e.g.
  // dp::DirectAttachment::listen). When given, bind() of any other
  // endpoint throws std::invalid_argument: its datagrams never reach the
  // queues (the XDP program passes them to the kernel). Empty: any port
  // binds, and one that is not steered simply never receives.
  std::vector<Endpoint> steered;
  // Direct mode: kthreads park on their queues' fds where the runtime
  // can (Runtime::add_park_fds). False: they never do, and the doorbell
  // thread wakes the runtime instead (as with /dev/kairos parking; for
  // comparison: one more wakeup per request on an idle runtime).
  bool park_on_queue_fds = true;
};

namespace detail {
struct StackState;
struct SocketState;
}  // namespace detail

class UdpSocket;
struct SocketToken;

class Stack {
 public:
  // Serves region's ring pair k to runtime kthread k (the region must have
  // exactly rt.kthreads() pairs: a clear error otherwise, nothing changes).
  // Registers a poller: create the Stack before uthreads are spawned.
  // The Stack must be destroyed before the Runtime; destroying it closes
  // every socket (waiters return nullopt).
  Stack(Runtime& rt, dp::ShmRegion region, StackOptions opt = {});
  // Direct mode over one single-queue backend per device queue (index =
  // queue id). No queues, a null one, or one without wait_fds():
  // std::invalid_argument, nothing changes. Also create it before
  // spawning; destroying it closes the sockets and the queues' AF_XDP
  // sockets (their port then passes to the kernel again).
  Stack(Runtime& rt, std::vector<std::unique_ptr<dp::Backend>> queues,
        StackOptions opt = {});
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  // A socket receiving datagrams sent to local.port (and replying from
  // local). Port 0 or a port already bound: std::invalid_argument.
  UdpSocket bind(const Endpoint& local);
  StackStats stats() const;
  // Relayed mode only (a direct-mode stack: std::logic_error).
  const dp::ShmRegion& region() const;
  bool direct() const;
  // Direct mode: each queue's backend counters (index = queue); relayed: empty.
  std::vector<dp::BackendStats> queue_stats() const;
  // Direct mode: whether the kthreads park on their queues' fds (futex
  // parking with self_wake) rather than being woken by the doorbell thread.
  bool parks_on_queue_fds() const;

 private:
  std::shared_ptr<detail::StackState> st_;
};

// A handle (cheap to copy; copies refer to the same socket). Any uthread
// may use it; several uthreads may wait on one socket (each datagram goes
// to exactly one of them, oldest pop first). recv/wait from a thread that
// is not a uthread also work (they poll), send/push need a uthread.
class UdpSocket {
 public:
  UdpSocket() = default;

  // Blocks the calling uthread until a datagram arrives. nullopt when the
  // socket is closed or, with a timeout, when it passes.
  std::optional<Datagram> recv_from(
      std::optional<std::chrono::nanoseconds> timeout = std::nullopt);
  // Copies data into this kthread's TX ring (direct mode: device queue);
  // while it is full the uthread yields and retries. Larger than a ring
  // slot: std::invalid_argument. False if the socket is closed. Direct
  // mode: a datagram no queue has a route for is dropped (tx_dropped) and
  // the send still completes, as a UDP send into the void would.
  bool send_to(const Endpoint& peer, std::span<const std::uint8_t> data);

  // Queue API. Pops complete in the order they were issued; pushes leave
  // in the order they were issued. Every token is waited exactly once, by
  // one waiter at a time (a delivery wakes only the uthread waiting for
  // its token); unknown, already-waited or concurrently waited tokens:
  // std::invalid_argument.
  QToken push(const Endpoint& peer, std::span<const std::uint8_t> data);
  QToken pop();
  // Blocks until qt completes; nullopt when the socket is closed first.
  std::optional<QResult> wait(QToken qt);
  // nullopt on timeout (the operation stays pending) or close.
  std::optional<QResult> wait(QToken qt, std::chrono::nanoseconds timeout);
  // The first of qts (all of this socket) to complete: index and result.
  // For tokens of several sockets, see the free wait_any below.
  std::optional<std::pair<std::size_t, QResult>> wait_any(
      std::span<const QToken> qts,
      std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  // Unbinds; pending and future waits return nullopt.
  void close();
  bool valid() const { return s_ != nullptr; }
  Endpoint local() const;
  std::size_t queued() const;  // datagrams received, not yet popped

 private:
  friend class Stack;
  friend std::optional<std::pair<std::size_t, QResult>> wait_any(
      std::span<const SocketToken>, std::optional<std::chrono::nanoseconds>);
  explicit UdpSocket(std::shared_ptr<detail::SocketState> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::SocketState> s_;
};

// A token and the socket it belongs to.
struct SocketToken {
  UdpSocket socket;
  QToken qt;
};

// wait_any across sockets (Demikernel's wait_any over queue descriptors):
// the first of tokens to complete, its index and result. One uthread
// waits, parked once for all of them; a delivery to any of the sockets
// wakes it. Tokens of a closed socket never complete; nullopt when every
// socket named is closed, or on timeout (the operations stay pending).
// The rules of UdpSocket::wait_any hold per token (unknown, already
// waited or concurrently waited: std::invalid_argument; invalid socket:
// std::logic_error).
std::optional<std::pair<std::size_t, QResult>> wait_any(
    std::span<const SocketToken> tokens,
    std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

}  // namespace kairos::net
