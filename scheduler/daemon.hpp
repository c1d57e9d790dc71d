// kairosd's core: keeps the scheduler's view (apps, cgroups, CPU owners,
// tunables) in line with the cgroup annotations and kairos.ko's sysfs,
// reloads the scheduler after a recoverable exit, and publishes a status
// file that `kairosctl status` reads.
#pragma once

#include "allocator_service.hpp"
#include "cgroup_xattr.hpp"
#include "runtime_discovery.hpp"
#include "sched_loader.hpp"
#include "tunables.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace kairos {

struct DaemonOptions {
  std::string cgroup_root = kCgroupRoot;
  std::string sysfs_dir = "/sys/kernel/kairos";
  std::string status_path = "/run/kairos/status";
  SchedOptions sched;
  AllocatorOptions allocator;  // enabled = false: guaranteed cores only
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions opts);
  ~Daemon();

  // Loads the scheduler (throws on failure) and applies the annotations.
  void start();
  // One round: follow annotations, tunables and hotplug; check the
  // scheduler. Returns false when it stopped for good (see last_exit()).
  bool poll();
  // Detaches the scheduler and removes the status file.
  void stop();

  const SchedLoader* sched() const { return sched_.get(); }
  void inject_error() { sched_->inject_error(); }
  const std::string& last_exit() const { return last_exit_; }
  unsigned restarts() const { return restarts_total_; }
  // The allocator's one-line summary ("" when it is off).
  std::string allocator_summary() const;

 private:
  struct App {
    std::uint32_t id;
    std::uint64_t cgroup_id;
    Annotation annotation;
  };

  void load();
  void sync_apps();
  void sync_owners();
  void sync_tunables();
  void sync_allocator();  // apps + runtime areas + online CPUs -> allocator
  void write_status() const;
  std::optional<std::string> read_sysfs(const std::string& name) const;

  DaemonOptions opts_;
  std::unique_ptr<SchedLoader> sched_;
  std::map<std::string, App> apps_;            // by cgroup path
  std::vector<std::pair<std::string, std::string>> invalid_;  // path, why
  GuardTunables tunables_;
  std::deque<std::chrono::steady_clock::time_point> restart_times_;
  unsigned restarts_total_ = 0;
  std::string last_exit_;
  std::unique_ptr<AllocatorService> alloc_;  // null with --no-allocator
  RuntimeDiscovery discovery_;
  std::map<std::uint32_t, pid_t> driven_;    // app -> runtime pid (for logs)
};

}  // namespace kairos
