// The packet I/O interface shared by kairosd's relay and the runtime's
// direct mode. The implementations (AF_XDP through libxdp, DPDK, kernel
// UDP sockets) are in packetio/. Backends deliver and take UDP datagrams;
// L2 backends parse and build the frames themselves.
#pragma once

#include <kairos/contracts/endpoint.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kairos::dp {

struct RxDatagram {
  Endpoint src, dst;
  std::span<const std::uint8_t> payload;  // valid only inside on_datagram
};

class RxSink {
 public:
  virtual void on_datagram(const RxDatagram& d) = 0;

 protected:
  ~RxSink() = default;
};

struct BackendStats {
  std::uint64_t rx = 0;           // datagrams delivered to the sink
  std::uint64_t rx_invalid = 0;   // frames that were not a UDP datagram
  std::uint64_t tx = 0;           // datagrams handed to the device/kernel
  std::uint64_t tx_full = 0;      // TX refused: ring/buffers full
  std::uint64_t tx_no_route = 0;  // TX refused: unknown neighbour/family
  std::uint64_t fill_empty = 0;   // AF_XDP: fill ring could not be refilled
  std::uint64_t wakeups = 0;      // need_wakeup kicks (AF_XDP) / syscalls
  std::uint64_t bind_busy = 0;    // AF_XDP: binds retried, queue still busy
  // AF_XDP: frames the XDP program redirected to a socket of this backend
  // that the kernel then dropped (its RX ring full, or no free frame in
  // the fill ring): the steering program's 'redirected' counts verdicts,
  // this counts what never arrived.
  std::uint64_t rx_dropped_after_redirect = 0;
  std::vector<std::uint64_t> rx_per_queue;  // frames per device queue (L2)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Delivers up to max received datagrams to sink; returns how many.
  virtual std::size_t poll_rx(std::size_t max, RxSink& sink) = 0;
  // Queues one datagram; false when it cannot be queued (counted).
  virtual bool send(const Endpoint& src, const Endpoint& dst,
                    std::span<const std::uint8_t> payload) = 0;
  // Pushes queued datagrams out and reaps TX completions.
  virtual void flush() = 0;
  // Blocks until something may be received or timeout passes. The default
  // just sleeps; backends with file descriptors poll them.
  virtual void wait_rx(std::chrono::microseconds timeout);
  // The fds wait_rx polls for POLLIN (empty: the backend has none and
  // wait_rx sleeps), so a caller can wait on them beside its own fds.
  virtual std::vector<int> wait_fds() const { return {}; }
  // Frames received and not yet polled, where the backend can see them
  // (AF_XDP: its RX rings), else 0. The RX congestion of a direct-mode
  // queue (kairos::net publishes it in the queue-state line).
  virtual std::size_t rx_waiting() const { return 0; }
  virtual BackendStats stats() const = 0;
};

}  // namespace kairos::dp
