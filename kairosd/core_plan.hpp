// Policy (pure, unit-tested): which CPU each LC app owns to honour its
// guaranteed cores. kairosd applies the result through the owner map.
#pragma once

#include <cstdint>
#include <vector>

namespace kairos {

struct CoreDemand {
  std::uint32_t app;    // 1..KAIROS_MAX_APPS-1
  unsigned guaranteed;  // cores the app must own
};

// owners[cpu] = app (0 = nobody) for every CPU. Rules:
//  - the lowest online CPU is never given away (system and BE work keep
//    at least one CPU);
//  - offline CPUs are never owned;
//  - an app keeps the CPUs it owns now (no needless churn, warm caches),
//    up to its guaranteed count;
//  - missing cores come from the highest-numbered free online CPUs;
//  - when CPUs are short, apps are served in the order given.
std::vector<std::uint32_t> plan_owners(const std::vector<CoreDemand>& demands,
                                       const std::vector<bool>& online,
                                       const std::vector<std::uint32_t>& current);

}  // namespace kairos
