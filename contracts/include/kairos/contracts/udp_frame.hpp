// Ethernet/IPv4/IPv6/UDP frames for the L2 backends (AF_XDP, DPDK): parse
// a received frame into its datagram, build a reply frame with checksums.
// Parsing is bounds-checked everywhere; anything not a plain unfragmented
// UDP datagram (options allowed, one VLAN tag allowed) is rejected.
#pragma once

#include <kairos/contracts/endpoint.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace kairos::dp {

using Mac = std::array<std::uint8_t, 6>;

struct UdpFrame {
  Mac src_mac{}, dst_mac{};
  Endpoint src, dst;
  std::span<const std::uint8_t> payload;
};

std::optional<UdpFrame> parse_udp_frame(std::span<const std::uint8_t> frame);

// Largest frame build_udp_frame can write for a payload.
constexpr std::size_t udp_frame_size(std::size_t payload, bool v4) {
  return 14 + (v4 ? 20 : 40) + 8 + payload;
}

// Writes an untagged frame into out; returns its length, 0 when out is too
// small or src/dst are of different families.
std::size_t build_udp_frame(std::span<std::uint8_t> out, const Mac& src_mac,
                            const Mac& dst_mac, const Endpoint& src,
                            const Endpoint& dst,
                            std::span<const std::uint8_t> payload);

}  // namespace kairos::dp
