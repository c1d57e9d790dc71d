// The one clock: CLOCK_MONOTONIC in nanoseconds, the time base of the
// queue-state line (its timestamps), kairosd's allocator and the runtime.
#pragma once

#include <time.h>

#include <cstdint>

namespace kairos {

inline std::uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace kairos
