// The Backend implementations (contracts/include/kairos/contracts/backend.hpp
// is the interface): AF_XDP through libxdp, DPDK, and kernel UDP sockets
// (the fallback).
#pragma once

#include <kairos/contracts/backend.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kairos::dp {

class XdpSteering;

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
