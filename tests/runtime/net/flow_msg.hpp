// The payload the network tests send: a flow number and a sequence number,
// so a receiver can check that each flow's datagrams arrive, in order.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace kairos::test {

inline std::vector<std::uint8_t> msg(std::uint32_t flow, std::uint32_t seq) {
  std::vector<std::uint8_t> m(8);
  std::memcpy(m.data(), &flow, 4);
  std::memcpy(m.data() + 4, &seq, 4);
  return m;
}

// {flow, seq}; {~0u, ~0u} for a payload too short to hold them.
inline std::pair<std::uint32_t, std::uint32_t> unmsg(const std::vector<std::uint8_t>& m) {
  std::uint32_t f = ~0u, s = ~0u;
  if (m.size() >= 8) {
    std::memcpy(&f, m.data(), 4);
    std::memcpy(&s, m.data() + 4, 4);
  }
  return {f, s};
}

}  // namespace kairos::test
