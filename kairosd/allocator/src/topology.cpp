#include <kairos/allocator/topology.hpp>

#include <algorithm>

namespace kairos::policy {

Topology Topology::uniform(unsigned n, bool smt) {
  Topology t;
  t.siblings.resize(n);
  t.usable.assign(n, true);
  if (smt) {
    for (unsigned c = 0; c + 1 < n; c += 2) {
      t.siblings[c] = {c + 1};
      t.siblings[c + 1] = {c};
    }
  }
  return t;
}

std::optional<std::string> validate(const Topology& t) {
  const std::size_t n = t.siblings.size();
  if (n == 0) return "topology has no cores";
  if (n > 4096) return "topology has more than 4096 cores";
  if (t.usable.size() != n)
    return "topology: usable[] has " + std::to_string(t.usable.size()) +
           " entries for " + std::to_string(n) + " cores";
  for (std::size_t c = 0; c < n; ++c) {
    for (CoreId s : t.siblings[c]) {
      if (s >= n)
        return "topology: core " + std::to_string(c) + " names sibling " +
               std::to_string(s) + " out of range";
      if (s == c)
        return "topology: core " + std::to_string(c) + " is its own sibling";
      const auto& back = t.siblings[s];
      if (std::find(back.begin(), back.end(), c) == back.end())
        return "topology: sibling relation " + std::to_string(c) + "-" +
               std::to_string(s) + " is not symmetric";
    }
  }
  return std::nullopt;
}

}  // namespace kairos::policy
