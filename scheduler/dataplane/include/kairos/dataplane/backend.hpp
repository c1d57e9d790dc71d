// The packet I/O a dataplane runs on, behind one interface: AF_XDP through
// libxdp, DPDK, or kernel UDP sockets (the fallback). Backends deliver and
// take UDP datagrams; L2 backends parse and build the frames themselves.
#pragma once

#include <kairos/dataplane/endpoint.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace kairos::dp {

class XdpSteering;

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

// Kernel UDP sockets (recvmmsg/sendmmsg), one socket bound to each listen
// endpoint; works everywhere, the fallback when AF_XDP and DPDK are absent.
std::unique_ptr<Backend> make_kernel_udp_backend(
    const std::vector<Endpoint>& listen);

struct AfXdpConfig {
  std::string ifname;
  std::uint32_t nr_queues = 0;    // 0: ask the device (ethtool channels)
  // The device queues to open sockets on (each < KAIROS_XDP_MAX_QUEUES,
  // no repeats); empty: all, 0..nr_queues-1. The others belong to
  // someone else (a mode=direct app's process).
  std::vector<std::uint32_t> queue_ids;
  std::vector<Endpoint> apps;     // app endpoints steered to the sockets
  std::uint32_t frames_per_queue = 4096;  // UMEM frames, half RX half TX
  std::uint32_t ring_size = 2048;         // each AF_XDP ring
  bool force_copy = true;                 // veth: copy mode only
  // How long to retry a bind that says the queue is busy. The kernel
  // unbinds a closed AF_XDP socket's queue in deferred work after the
  // close returns (net/xdp/xsk_buff_pool.c, xp_put_pool ->
  // xp_release_deferred), so a queue released just now, by this process
  // or by a restarted one, is busy for a moment. 0: fail at once.
  std::chrono::milliseconds bind_busy_wait{5000};
};

// AF_XDP: loads and attaches the Kairos XDP steering program to ifname,
// one socket (with its own UMEM) per device rx queue. Throws with a clear
// message when anything is missing.
std::unique_ptr<Backend> make_afxdp_backend(const AfXdpConfig& config);
// The same on a steering program already attached (kairosd's service,
// which also steers mode=direct apps): config.apps must be in steer's
// 'apps' map already, without own sockets; config.ifname its device.
std::unique_ptr<Backend> make_afxdp_backend_on_steering(const AfXdpConfig& config,
                                                        std::shared_ptr<XdpSteering> steer);
// Direct mode (in the spirit of Caladan's directpath): the same steering
// program, but one single-queue backend per device queue (index = queue
// id), each driven by the one thread that owns it (e.g. a runtime
// kthread): RX, reply and TX on that thread, which blocks in wait_rx on
// its socket when idle. No dataplane thread, no shared-memory rings, no
// bucket table: a flow's queue (the device's RSS/XPS choice) is its
// thread. The backends share the program; it detaches with the last one.
std::vector<std::unique_ptr<Backend>> make_afxdp_direct_backends(const AfXdpConfig& config);
// Direct mode across processes: one single-queue backend per queue of
// config.queue_ids (empty: 0..config.nr_queues-1), each socket inserted into the
// XSKMAP xskmap_fd (pinned by kairosd, direct_pins.hpp) with
// xsk_socket__update_xskmap; no program is loaded (INHIBIT_PROG_LOAD).
// The backends keep their own duplicate of the fd.
std::vector<std::unique_ptr<Backend>> make_afxdp_backends_on_xskmap(const AfXdpConfig& config,
                                                                    int xskmap_fd);
// rx queues of a device (ethtool channels; 1 when it reports none).
std::uint32_t device_rx_queues(const std::string& ifname);
// AF_XDP when it can be set up on config.ifname, else kernel UDP sockets
// on config.apps (the degraded path: same interface, no loss of service).
// why_fallback receives the AF_XDP error when the fallback was taken.
std::unique_ptr<Backend> make_backend_with_fallback(const AfXdpConfig& config,
                                                    std::string* why_fallback = nullptr);
// The steering program behind an AF_XDP backend (its counters), else null.
const XdpSteering* afxdp_steering(const Backend& backend);

// DPDK, when built with it: EAL arguments as given (e.g. --no-huge
// --no-pci --vdev=net_af_xdp0,iface=veth0,queue_count=2), port 0 with
// nr_queues RX queues. EAL starts once per process (see dpdk_backend.cpp).
bool dpdk_available();
std::unique_ptr<Backend> make_dpdk_backend(const std::vector<std::string>& eal_args,
                                           const std::vector<Endpoint>& listen,
                                           std::uint16_t nr_queues = 1);

}  // namespace kairos::dp
