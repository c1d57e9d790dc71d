// Mechanism: load the kairos sched_ext scheduler from its libbpf skeleton,
// attach it, feed it apps/cgroups/owners/tunables, read what it publishes,
// detach it. Layouts are in bpf/include/kairos_sched_abi.h.
#pragma once

#include "sched_port.hpp"

#include <kairos/sched_abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct kairos_sched;  // the libbpf skeleton
struct bpf_link;

namespace kairos {

struct SchedOptions {
  kairos_tunables tunables{900'000, 1'000'000, 500'000, 5'000'000,
                           250'000'000};
};

struct SchedExit {
  std::uint32_t kind = 0;
  std::int64_t code = 0;
  std::string reason;
  std::string message;
  std::string dump;  // the kernel's debug dump of an error exit ("" if none)
};

class SchedLoader final : public SchedPort {
 public:
  // Loads and attaches; throws std::runtime_error with a readable reason.
  explicit SchedLoader(const SchedOptions& opts);
  ~SchedLoader();
  SchedLoader(const SchedLoader&) = delete;
  SchedLoader& operator=(const SchedLoader&) = delete;

  kairos_sched_stats stats() const;
  // Set once the kernel has stopped the scheduler (error, watchdog, sysrq).
  std::optional<SchedExit> exit_info() const;

  void set_tunables(const kairos_tunables& t);
  // Declares app (1..KAIROS_MAX_APPS-1) with a class; KAIROS_CLASS_NONE
  // retires it. Throws on failure.
  void set_app_class(std::uint32_t app, std::uint32_t cls);
  void map_cgroup(std::uint64_t cgroup_id, std::uint32_t app);
  void unmap_cgroup(std::uint64_t cgroup_id);
  // Makes running tasks re-read their app after map changes.
  void bump_config_gen();
  // Grants cpu to app (0 revokes) and kicks it; returns 0 or -errno.
  int set_owner(std::uint32_t cpu, std::uint32_t app) override;
  std::uint32_t owner(std::uint32_t cpu) const override;
  std::uint32_t exchange_standby(std::uint32_t app, std::uint32_t slot) override;
  std::uint32_t standby(std::uint32_t app) const override;
  kairos_app app(std::uint32_t app) const;
  // The app's queueing-delay histogram, summed over CPUs (zeros for an
  // unknown app); the buckets of struct kairos_app_wait_hist.
  kairos_app_wait_hist app_wait_hist(std::uint32_t app) const;
  // The live, mmapped per-app queue statistics (KAIROS_MAX_APPS entries).
  const volatile kairos_app_stats* app_stats() const override { return stats_map_; }
  // The live, mmapped per-CPU activity (nr_cpus() entries) for the allocator.
  const volatile kairos_cpu_state* cpu_state() const override { return cpu_state_; }
  std::uint32_t nr_cpus() const override { return nr_cpus_; }
  // Tests only: makes the BPF side call scx_bpf_error() on its next
  // dispatch, so the error-exit and restart paths can be exercised.
  void inject_error();

 private:
  ::kairos_sched* skel_ = nullptr;
  ::bpf_link* link_ = nullptr;
  volatile kairos_app_stats* stats_map_ = nullptr;
  std::size_t stats_len_ = 0;
  volatile kairos_cpu_state* cpu_state_ = nullptr;
  std::size_t cpu_state_len_ = 0;
  std::uint32_t nr_cpus_ = 0;
};

// Text of /sys/kernel/sched_ext/state, or "" when the kernel has no sched_ext.
std::string sched_ext_state();

// /sys/kernel/sched_ext/hotplug_seq, for a scheduler's ops.hotplug_seq before
// its load: a CPU going on- or offline between that read and the attach
// makes the kernel refuse the scheduler with a restart code instead of
// missing the event. 0 (no check) when the file cannot be read.
std::uint64_t sched_ext_hotplug_seq();

}  // namespace kairos
