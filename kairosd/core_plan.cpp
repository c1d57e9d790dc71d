#include "core_plan.hpp"

namespace kairos {

std::vector<std::uint32_t> plan_owners(const std::vector<CoreDemand>& demands,
                                       const std::vector<bool>& online,
                                       const std::vector<std::uint32_t>& current) {
  const std::size_t n = online.size();
  std::vector<std::uint32_t> owners(n, 0);
  int reserved = -1;
  for (std::size_t c = 0; c < n; ++c)
    if (online[c]) {
      reserved = static_cast<int>(c);
      break;
    }
  auto usable = [&](std::size_t c) {
    return online[c] && static_cast<int>(c) != reserved;
  };
  std::vector<unsigned> have(demands.size(), 0);
  // Keep what apps own now.
  for (std::size_t i = 0; i < demands.size(); ++i)
    for (std::size_t c = 0; c < n && have[i] < demands[i].guaranteed; ++c)
      if (c < current.size() && current[c] == demands[i].app && usable(c) &&
          owners[c] == 0) {
        owners[c] = demands[i].app;
        ++have[i];
      }
  // Fill the rest from the top.
  for (std::size_t i = 0; i < demands.size(); ++i)
    for (std::size_t c = n; c-- > 0 && have[i] < demands[i].guaranteed;)
      if (usable(c) && owners[c] == 0) {
        owners[c] = demands[i].app;
        ++have[i];
      }
  return owners;
}

}  // namespace kairos
