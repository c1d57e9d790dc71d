// Policy (pure, unit-tested): after the kernel stopped the scheduler,
// should kairosd load it again?
#pragma once

#include <cstdint>
#include <string>

namespace kairos {

struct RestartDecision {
  bool restart;
  std::string why;
};

// kind/code from struct scx_exit_info; recent_restarts = restarts in the
// last minute. Restart when the kernel asks for it (hotplug, restart
// code) or after an error, within a budget so a broken scheduler does not
// flap; never after our own detach or an operator's sysrq.
RestartDecision decide_restart(std::uint32_t kind, std::int64_t code,
                               unsigned recent_restarts);

inline constexpr unsigned kMaxRestartsPerMinute = 5;

}  // namespace kairos
