// kairosd's core: keeps the scheduler's view (apps, cgroups, CPU owners,
// tunables) in line with the cgroup annotations and kairos.ko's sysfs,
// reloads the scheduler after a recoverable exit, and publishes a status
// file that `kairosctl status` reads.
#pragma once

#include "cgroup_watch.hpp"
#include <kairos/kairosd/cgroup_xattr.hpp>
#include "class_sync_dev.hpp"

#include "allocator_service.hpp"
#include "app_rules.hpp"
#include "kube_rules.hpp"
#include <kairos/contracts/cpu_list.hpp>
#include "runtime_discovery.hpp"
#include "sched_loader.hpp"
#include "tunables.hpp"

#include <kairos/kairosd/status_snapshot.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kairos {

// kairosd's log: one line on stdout, prefixed "kairosd: ".
void daemon_log(const std::string& s);

struct DaemonOptions {
  std::string cgroup_root = kCgroupRoot;
  std::string sysfs_dir = "/sys/kernel/kairos";
  std::string status_path = "/run/kairos/status";
  SchedOptions sched;
  // Who keeps LC threads ahead: see class_sync.hpp (Backend).
  Backend backend = Backend::automatic;
  std::string kairos_dev = "/dev/kairos";
  // Annotation changes arrive through inotify (cgroup_watch.hpp); the full
  // rescan below is only a safety net. Without the watch, every poll()
  // rescans, as before.
  bool watch_cgroups = true;
  unsigned rescan_interval_ms = 2000;

  AllocatorOptions allocator;  // enabled = false: guaranteed cores only

  // From kairosd.toml (config_file.hpp); replaced by reload_rules().
  GuardTunables guard_defaults;  // when kairos.ko gives no tunables
  std::vector<AppRule> rules;    // [[rule]]
  KubeSettings kubernetes;       // [kubernetes]
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
  // New rules, Kubernetes settings and guard defaults (a reloaded
  // kairosd.toml), applied at once to every cgroup (daemon_rules.cpp).
  void reload_rules(std::vector<AppRule> rules, KubeSettings kubernetes,
                    GuardTunables guard_defaults);
  // Sleeps until `until`, or less when cgroups change (then follows them).
  void wait_until(std::chrono::steady_clock::time_point until);

  // nullptr while the module's class (not sched_ext) keeps LC threads.
  const SchedLoader* sched() const { return sched_.get(); }
  void inject_error() { sched_->inject_error(); }
  const std::string& last_exit() const { return last_exit_; }
  unsigned restarts() const { return restarts_total_; }
  // The allocator's one-line summary ("" when it is off).
  std::string allocator_summary() const;
  // CPUs the scheduler's owner map gives the app annotated on cgroup
  // (relative to the cgroup root); nullopt without sched_ext or when that
  // cgroup is not a known app. For the dataplane's active kthreads.
  std::optional<unsigned> granted_cores(const std::string& cgroup) const;

  // What the status file, its JSON twin (<status-file>.json) and the
  // metrics endpoint show, taken now (status_build.cpp).
  status::Snapshot snapshot() const;
  // The snapshot of the last status write, for readers on other threads.
  std::shared_ptr<status::SnapshotBoard> board() const { return board_; }
  // Adds what the daemon does not own (the dataplane) to every snapshot.
  void set_snapshot_extra(std::function<void(status::Snapshot&)> f) { extra_ = std::move(f); }

 private:
  struct App {
    std::uint32_t id;
    std::uint64_t cgroup_id;
    Annotation annotation;
    std::string source;  // "annotation", or the rule's (RuleVerdict::source)
  };

  // Cgroups that rules make apps, as scan_annotated() gives annotated
  // ones, with their rule in sources (daemon_rules.cpp).
  std::vector<FoundCgroup> rule_cgroups(const std::vector<FoundCgroup>& annotated,
                                        std::map<std::string, std::string>& sources) const;

  void load();
  void sync_apps();
  void sync_owners();
  void sync_tunables();
  void sync_cores();      // allocator or static guaranteed cores
  void sync_allocator();  // apps + runtime areas + online CPUs -> allocator
  void write_status() const;
  // The module's LC class when no scheduler is attached (daemon_sync.cpp).
  void start_watch();
  bool attach_sched();
  void enter_class_mode(const std::string& why);
  bool fall_back_to_class(const std::string& why);
  void sync_class();
  void maybe_reattach();
  unsigned nr_cpus() const;
  std::string watch_status() const;
  std::optional<std::string> read_sysfs(const std::string& name) const;

  DaemonOptions opts_;
  std::unique_ptr<SchedLoader> sched_;
  std::map<std::string, App> apps_;            // by cgroup path
  std::vector<std::pair<std::string, std::string>> invalid_;  // path, why
  std::set<std::pair<std::string, std::string>> invalid_logged_;  // said once each
  GuardTunables tunables_;
  std::deque<std::chrono::steady_clock::time_point> restart_times_;
  unsigned restarts_total_ = 0;
  std::string last_exit_;
  std::unique_ptr<CgroupWatch> watch_;
  std::chrono::steady_clock::time_point next_rescan_{};
  std::uint64_t rescans_ = 0;  // fallback rescans (not event-driven ones)
  std::unique_ptr<ClassSync> class_;
  bool reattach_ = true;  // auto: try sched_ext again while in class mode
  std::chrono::steady_clock::time_point next_reattach_{};
  std::string attach_error_;    // last reason sched_ext did not attach
  std::uint64_t event_syncs_ = 0;  // syncs triggered by cgroup events

  std::unique_ptr<AllocatorService> alloc_;  // null with --no-allocator
  RuntimeDiscovery discovery_;
  std::map<std::uint32_t, pid_t> driven_;    // app -> runtime pid (for logs)

  unsigned exits_total_ = 0;  // scheduler exits seen
  std::shared_ptr<status::SnapshotBoard> board_ = std::make_shared<status::SnapshotBoard>();
  std::function<void(status::Snapshot&)> extra_;
};

}  // namespace kairos
