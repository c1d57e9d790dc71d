// Endpoints (address + port) and the flow hash that picks a bucket.
#pragma once

#include <kairos/abi/ring.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kairos::dp {

struct Endpoint {
  std::array<std::uint8_t, 16> addr{};  // IPv4 is IPv4-mapped
  std::uint16_t port = 0;               // host order

  bool is_v4() const;
  bool is_any() const;  // all-zero address (wildcard)
  // "10.0.0.1:53" or "[fd00::1]:53"; nullopt on malformed text.
  static std::optional<Endpoint> parse(std::string_view text);
  static Endpoint v4(std::uint32_t addr_host_order, std::uint16_t port);
  std::string str() const;
  kairos_dp_endpoint to_abi() const;
  static Endpoint from_abi(const kairos_dp_endpoint& e);
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Direction-sensitive 4-tuple hash (source first), stable across runs so that a
// flow keeps its bucket for its whole life.
std::uint32_t flow_hash(const Endpoint& src, const Endpoint& dst);

}  // namespace kairos::dp
