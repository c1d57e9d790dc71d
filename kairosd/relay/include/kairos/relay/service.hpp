// The dataplane as a service of kairosd (Shenango's IOKernel role): from a
// ServiceConfig it creates each app's named ring region (ring_abi.h, the
// app process attaches by name), the backend (AF_XDP with the steering
// program and its app map filled, DPDK, or kernel UDP), and the
// Dataplane, then runs the loop on its own thread.
//
// A mode=direct app (service_config.hpp) gets only its entry in the
// steering program, its own XSKMAP and its pins (direct_pins.hpp): no
// region, no backend, no loop; its process owns the sockets of its queues.
// Several direct apps, and relayed apps beside them, share one steering
// program on the interface; the relayed backend's sockets take the queues
// no direct app owns.
//
// All or nothing: the constructor either builds everything or throws and
// leaves nothing behind (no shm object, no XDP program attached).
#pragma once

#include <kairos/contracts/backend.hpp>
#include <kairos/relay/dataplane.hpp>
#include <kairos/packetio/direct_pins.hpp>
#include <kairos/packetio/xdp_steering.hpp>
#include <kairos/relay/service_config.hpp>
#include <kairos/contracts/shm_rings.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kairos::dp {

class DataplaneService {
 public:
  // Every app starts with all its kthreads active (granted); the
  // allocator narrows that with set_active.
  explicit DataplaneService(ServiceConfig cfg, DataplaneConfig dcfg = {});
  ~DataplaneService();  // stops the loop, detaches, unlinks the regions
  DataplaneService(const DataplaneService&) = delete;
  DataplaneService& operator=(const DataplaneService&) = delete;

  // Runs the loop on its own thread (rebalancing every interval).
  void start(std::chrono::microseconds interval = std::chrono::microseconds(200));
  void stop();

  void set_active(std::uint32_t app, std::vector<std::uint32_t> kthreads);
  // The allocator's hook in kairosd: for each app with a cgroup= in its
  // config, granted(cgroup) is the number of cores its cgroup holds now
  // (nullopt: unknown, e.g. not annotated or no scheduler: left as is);
  // the app's active kthreads become active_for_grant of it (set_active
  // only on a change). Returns how many apps changed.
  std::size_t follow_grants(
      const std::function<std::optional<unsigned>(const std::string&)>& granted);
  std::vector<std::uint32_t> active(std::uint32_t app) const { return active_.at(app); }
  std::size_t nr_apps() const { return cfg_.apps.size(); }
  const ServiceConfig& config() const { return cfg_; }
  // A service with only mode=direct apps has no backend or dataplane:
  // these throw std::logic_error then; set_active and app_stats throw it
  // for a direct app.
  bool direct() const { return !dp_; }
  const Backend& backend() const;
  // Why auto fell back to kernel UDP (empty when it did not).
  const std::string& fallback_reason() const { return why_fallback_; }
  AppStats app_stats(std::uint32_t app) const;
  const Dataplane& dataplane() const;
  // The steering program of a service with mode=direct apps (its
  // counters; app id = the app's index in the config), else null.
  const XdpSteering* direct_steering() const { return direct_steer_.get(); }
  // The steering program in front of every app of the interface, relayed
  // or direct (app id = the app's index in the config); null on the
  // kernel-UDP and DPDK backends.
  const XdpSteering* steering() const;
  // The device queues a direct app owns (after start-up: queues= or all).
  std::vector<std::uint32_t> direct_queues(std::uint32_t app) const;
  // One line per app plus the backend's counters, for logs.
  std::string describe() const;

 private:
  std::vector<std::uint32_t> steer_direct_apps(bool any_relayed);
  ServiceConfig cfg_;
  std::vector<ShmRegion> regions_;  // before the backend: destroyed last
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Dataplane> dp_;
  std::shared_ptr<XdpSteering> direct_steer_;  // with mode=direct apps only
  // Per app (null: relayed), removed last-made first: a directory that
  // several apps' pins share goes with the last of them.
  struct PinsInReverse : std::vector<std::unique_ptr<DirectPins>> {
    ~PinsInReverse() {
      while (!empty()) pop_back();
    }
  };
  PinsInReverse pins_;
  std::vector<std::uint64_t> queue_masks_;         // per app, 0: relayed
  std::vector<int> dp_app_;                        // per app: Dataplane id, -1: direct
  std::string why_fallback_;
  std::vector<std::vector<std::uint32_t>> active_;  // last set_active per app
  std::uint32_t direct_queues_ = 0;  // device queues, with direct apps
  bool started_direct_ = false;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

}  // namespace kairos::dp
