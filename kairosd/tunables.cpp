#include "tunables.hpp"

#include <charconv>

namespace kairos {

namespace {

std::optional<std::uint64_t> number(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

}  // namespace

GuardTunables resolve_tunables(const std::optional<std::string>& quantum_us,
                               const std::optional<std::string>& period_us,
                               const GuardTunables& defaults) {
  GuardTunables t = defaults;
  t.source = "defaults";
  if (!quantum_us || !period_us) return t;
  const auto q = number(*quantum_us), p = number(*period_us);
  if (!q || !p || *p == 0 || *q == 0 || *q > *p || *p > 10'000'000) {
    t.source = "defaults (kairos.ko values unusable)";
    return t;
  }
  t.quantum_us = *q;
  t.period_us = *p;
  t.source = "kairos.ko";
  return t;
}

}  // namespace kairos
