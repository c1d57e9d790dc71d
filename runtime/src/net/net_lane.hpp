// A lane: one kthread's way into and out of the network, so sockets, the
// queue API and delivery have one code path over both transports:
// - RingLane (net_ring_lane.cpp): the dataplane's shared-memory ring pair
//   k (relayed path: kairosd's dataplane thread fills and empties it);
// - DirectLane (net_direct_lane.cpp): the device queues this kthread owns
//   in direct mode (AF_XDP sockets it polls itself, no dataplane thread).
#pragma once

#include <kairos/contracts/endpoint.hpp>
#include <kairos/runtime.hpp>

#include <atomic>
#include <cstdint>
#include <span>

namespace kairos::net::detail {

struct StackState;

class Lane {
 public:
  virtual ~Lane() = default;
  // Hands up to budget received datagrams to st.deliver(), each copied out
  // of the transport's memory first, unless another kthread is draining
  // this lane (a try-lock held across the deliveries: one consumer at a
  // time, so per-flow order holds). self: the calling kthread. Returns
  // how many it delivered, and publishes the lane's RX indices in its
  // kthread's queue-state line (Runtime::publish_rx).
  virtual unsigned drain(StackState& st, unsigned self, unsigned budget) = 0;
  // Cheap hint for stealing: false when surely nothing waits.
  virtual bool rx_may_wait() const = 0;

  enum class Push { kSent, kFull, kDropped };
  // Queues one datagram for sending; only the lane's own kthread calls it
  // (from a uthread, under the socket's lock). kFull: retry later, in
  // order; kDropped: it can never be sent (counted, not retried).
  virtual Push push(const dp::Endpoint& peer, const dp::Endpoint& local,
                    std::span<const std::uint8_t> data) = 0;
  // Makes what push queued leave now (direct: the TX kick).
  virtual void flush() {}
  // From the idle poll of the lane's kthread: TX still in flight.
  virtual void poll_tx() {}

  // Datagrams ever drained (the doorbell's "stuck" check).
  std::atomic<std::uint64_t> taken{0};
};

}  // namespace kairos::net::detail
