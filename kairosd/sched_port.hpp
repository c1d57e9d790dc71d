// What kairosd's allocator needs of the scheduler (SchedLoader implements
// it over the BPF maps); an interface so the allocator loop also runs, for
// tests and benchmarks, over plain memory on a kernel without sched_ext.
#pragma once

#include <kairos/sched_abi.h>

#include <cstdint>

namespace kairos {

class SchedPort {
 public:
  virtual ~SchedPort() = default;
  virtual std::uint32_t nr_cpus() const = 0;
  // Grants cpu to app (0 revokes) and kicks it; 0 or -errno.
  virtual int set_owner(std::uint32_t cpu, std::uint32_t app) = 0;
  virtual std::uint32_t owner(std::uint32_t cpu) const = 0;
  // The standby slot of app (< KAIROS_MAX_APPS): the CPU kept for its next
  // burst, plus one, 0 for none. exchange_standby stores `slot` and returns
  // what it held; the scheduler empties a slot when it claims that CPU.
  virtual std::uint32_t exchange_standby(std::uint32_t app, std::uint32_t slot) = 0;
  virtual std::uint32_t standby(std::uint32_t app) const = 0;
  // KAIROS_MAX_APPS per-app queue lines / nr_cpus() per-CPU lines, live.
  virtual const volatile kairos_app_stats* app_stats() const = 0;
  virtual const volatile kairos_cpu_state* cpu_state() const = 0;
};

}  // namespace kairos
