// Which cores exist, which the allocator may hand out, and which are
// hyperthread siblings (they share L1/L2, so a sibling of a core an app
// already runs on is a cache-friendly choice).
#pragma once

#include <kairos/allocator/types.hpp>

#include <optional>
#include <string>
#include <vector>

namespace kairos::policy {

struct Topology {
  // siblings[c]: the other hardware threads of core c's physical core.
  std::vector<std::vector<CoreId>> siblings;
  // usable[c]: false for cores the allocator must never grant (e.g. the
  // core running kairosd's poll loop, or housekeeping cores).
  std::vector<bool> usable;

  std::size_t size() const { return siblings.size(); }

  // n cores; with smt, cores 2k and 2k+1 are siblings (n must be even).
  static Topology uniform(unsigned n, bool smt);
};

std::optional<std::string> validate(const Topology& t);

}  // namespace kairos::policy
