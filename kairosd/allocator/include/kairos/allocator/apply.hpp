// How a mechanism applies the policy's decisions, kept here so the order of
// the steps is fixed in one place and unit-tested with a fake mechanism.
// kairosd implements Mechanism over the BPF owner map, scx kicks and
// /dev/kairos; the simulator applies decisions to its own model instead.
#pragma once

#include <kairos/allocator/policy.hpp>
#include <kairos/allocator/types.hpp>

#include <span>

namespace kairos::policy {

class Mechanism {
 public:
  virtual ~Mechanism() = default;
  // Step 1: cpu -> app in the BPF owner map (kNoApp: back to BE work).
  virtual bool set_owner(CoreId core, AppId app) = 0;
  // Step 2: make the CPU reschedule now. preempt: BE or another app runs
  // there and must be kicked off; otherwise only an idle CPU is woken.
  virtual bool kick(CoreId core, bool preempt) = 0;
  // Step 3 (runtime apps): wake the parked kthread so it runs on 'core'.
  virtual bool wake(AppId app, int kthread, CoreId core) = 0;
  // A preempted kthread must give its core up (revoke kPreempted).
  virtual bool yield(AppId app, int kthread, CoreId core) = 0;
};

struct ApplyStats {
  unsigned grants = 0, revokes = 0;
  unsigned failed = 0;  // grants rolled back (core free again)
};

// Applies the decisions in order. A grant is set_owner, kick, then wake (for
// runtime apps); if any step fails, the owner entry is cleared again and
// alloc.grant_failed() makes the core and kthread available next poll. A
// revoke clears the owner entry (a parked kthread already left the core);
// for a preempted kthread it also asks it to yield.
ApplyStats apply_decisions(std::span<const Decision> decisions, Mechanism& m,
                           CoreAllocator& alloc);

}  // namespace kairos::policy
