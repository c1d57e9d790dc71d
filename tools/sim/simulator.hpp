// Discrete-event simulation of LC apps on a machine whose cores are handed
// out by the real allocator policy (kairos::policy::CoreAllocator), or
// statically partitioned. Runtime kthreads serve Poisson arrivals from
// per-kthread (or per-app) queues, spin briefly when out of work and then
// park, giving their core back, exactly as the runtime does.
#pragma once

#include "sim_config.hpp"

#include <cstdint>
#include <string>

namespace kairos::sim {

struct SimResult {
  double load = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, mean_us = 0;
  double efficiency = 0;      // useful core time / granted core time
  double granted_cores = 0;   // average cores held by LC apps
  double useful_cores = 0;    // average cores doing LC work
  std::uint64_t completed = 0;
  std::uint64_t pending = 0;  // still queued or running at the end
  std::uint64_t grants = 0, revokes = 0, polls = 0;
};

// Runs one load point. The config must have passed parse_args' checks.
SimResult simulate(const SimConfig& cfg, double load);

std::string csv_header();
std::string csv_row(const SimConfig& cfg, const SimResult& r);

}  // namespace kairos::sim
