// Direct mode across processes (direct_abi.h): kairosd pins a mode=direct
// app's own XSKMAP (its entry in the steering program's app_xsks) and a
// small info map (DirectPins); the app process opens them and serves each
// device queue it owns from its own AF_XDP socket (attach_direct), through
// the same single-queue backends as make_afxdp_direct_backends.
#pragma once

#include <kairos/contracts/backend.hpp>
#include <kairos/packetio/backends.hpp>
#include <kairos/contracts/endpoint.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kairos::dp {

class XdpSteering;

// kairosd's side: pins the app's own XSKMAP (app_xsks_fd, stored in
// steer's app_xsks) and the info for app (its device queues: queue_mask
// of nr_queues) under dir (/sys/fs/bpf/...; bpffs is mounted on
// /sys/fs/bpf when absent). An
// existing pin is an error (never taken over). All or nothing: on a
// throw nothing is left; the destructor removes the pins and the
// directories it created.
class DirectPins {
 public:
  DirectPins(const XdpSteering& steer, int app_xsks_fd, const std::string& dir,
             const std::string& ifname, std::uint32_t nr_queues, std::uint64_t queue_mask,
             const Endpoint& app);
  ~DirectPins();
  DirectPins(const DirectPins&) = delete;
  DirectPins& operator=(const DirectPins&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  void remove_all() noexcept;
  std::string dir_;
  std::vector<std::string> pins_;     // pinned files
  std::vector<std::string> made_dirs_;  // directories made, outermost first
};

// The app's side: one backend per device queue the app owns, its socket
// in the pinned XSKMAP. `sizes` gives UMEM and ring sizes (its ifname,
// queues and apps are taken from the pins). Throws with a clear message: no pins
// (kairosd not running, or a wrong path), another ABI version, a device
// not in this network namespace, stale pins whose program is gone.
struct DirectAttachment {
  std::vector<std::unique_ptr<Backend>> queues;  // queues[i] serves queue_ids[i]
  std::vector<std::uint32_t> queue_ids;          // device queues, ascending
  Endpoint listen;
  std::string ifname;
  int ifindex = 0;
  std::uint32_t prog_id = 0;
  std::uint32_t owner_pid = 0;
  // Whether kairosd's steering program is still attached to the device
  // (false once kairosd stopped: the app should exit).
  bool steering_attached() const;
};
DirectAttachment attach_direct(const std::string& pin_dir, AfXdpConfig sizes = {});

}  // namespace kairos::dp
