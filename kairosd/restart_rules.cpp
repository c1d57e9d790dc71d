#include "restart_rules.hpp"

#include <kairos/sched_abi.h>

namespace kairos {

RestartDecision decide_restart(std::uint32_t kind, std::int64_t code,
                               unsigned recent_restarts) {
  const auto ucode = static_cast<std::uint64_t>(code);
  if (kind == KAIROS_SCX_EXIT_UNREG)
    return {false, "detached by userspace"};
  if (kind == KAIROS_SCX_EXIT_SYSRQ)
    return {false, "stopped by the operator (sysrq-S)"};
  if (recent_restarts >= kMaxRestartsPerMinute)
    return {false, "too many restarts in the last minute"};
  if (ucode & KAIROS_SCX_ECODE_ACT_RESTART)
    return {true, (ucode & KAIROS_SCX_ECODE_RSN_HOTPLUG)
                      ? "CPU hotplug: the kernel asks for a restart"
                      : "the scheduler asked for a restart"};
  if (kind == KAIROS_SCX_EXIT_UNREG_KERN)
    return {true, "unregistered by the kernel"};
  if (kind >= KAIROS_SCX_EXIT_ERROR)
    return {true, "scheduler error; restarting within the budget"};
  return {false, "exit kind " + std::to_string(kind) + " is final"};
}

}  // namespace kairos
