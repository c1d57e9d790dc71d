// Policy (pure, unit-tested): the MicroQuanta guard's quantum and period.
// kairosd reads them from kairos.ko's /sys/kernel/kairos/{quantum_us,
// period_us} when the module is loaded, so the BPF guard and the module's
// class agree; otherwise (or if the values are unusable) the defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kairos {

// Documented defaults: LC work may use 900 us of every 1000 us per CPU.
inline constexpr std::uint64_t kDefaultQuantumUs = 900;
inline constexpr std::uint64_t kDefaultPeriodUs = 1000;

struct GuardTunables {
  std::uint64_t quantum_us = kDefaultQuantumUs;
  std::uint64_t period_us = kDefaultPeriodUs;
  std::string source = "defaults";  // or "kairos.ko", or why defaults
  bool operator==(const GuardTunables&) const = default;
};

// Contents of the two sysfs files (nullopt: file absent); defaults when
// they give nothing usable (kairosd.toml's [guard], or the built-in ones).
GuardTunables resolve_tunables(const std::optional<std::string>& quantum_us,
                               const std::optional<std::string>& period_us,
                               const GuardTunables& defaults = GuardTunables{});

}  // namespace kairos
