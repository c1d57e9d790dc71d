// Mechanism: applies the allocator policy's decisions on a real machine.
//   set_owner: the BPF owner map through SchedLoader::set_owner (the BPF
//              program also kicks the CPU, with preemption on a grant);
//   kick:      nothing more to do (the owner change already kicked it);
//   wake:      KAIROS_IOC_GRANT of the parked kthread, by the tid its
//              runtime published in its area, on the granted CPU;
//   yield:     KAIROS_IOC_PREEMPT (flag only) of the CPU the kthread held.
#pragma once

#include "devkairos_granter.hpp"
#include "sched_port.hpp"

#include <kairos/allocator/apply.hpp>
#include <kairos/contracts/queue_state_area.hpp>

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace kairos {

// What the mechanism needs to know of a runtime app to wake its kthreads.
struct RuntimeTarget {
  pid_t pid = 0;
  std::shared_ptr<const RuntimeAreaView> area;
  std::vector<std::uint32_t> checked_tids;  // tids verified to be pid's
};

// Where the time of each step is added up (for kairosd's status).
struct MechanismTiming {
  std::atomic<std::uint64_t>* owner_ns = nullptr;
  std::atomic<std::uint64_t>* owner_calls = nullptr;
  std::atomic<std::uint64_t>* wake_ns = nullptr;
  std::atomic<std::uint64_t>* wake_calls = nullptr;
};

class KairosdMechanism final : public policy::Mechanism {
 public:
  using Timing = MechanismTiming;
  // runtime(app) returns the app's target or null (unmodified app).
  KairosdMechanism(SchedPort& sched, DevKairosGranter* dev,
                   std::function<RuntimeTarget*(policy::AppId)> runtime,
                   std::function<void(const std::string&)> log, Timing timing = {});

  bool set_owner(policy::CoreId core, policy::AppId app) override;
  bool kick(policy::CoreId core, bool preempt) override;
  bool wake(policy::AppId app, int kthread, policy::CoreId core) override;
  bool yield(policy::AppId app, int kthread, policy::CoreId core) override;

  std::uint64_t wake_failures() const { return wake_failures_; }

 private:
  bool tid_belongs(RuntimeTarget& t, std::uint32_t k, std::uint32_t tid);

  SchedPort& sched_;
  DevKairosGranter* dev_;
  std::function<RuntimeTarget*(policy::AppId)> runtime_;
  std::function<void(const std::string&)> log_;
  Timing timing_;
  std::uint64_t wake_failures_ = 0;
  std::string last_error_;
};

}  // namespace kairos
