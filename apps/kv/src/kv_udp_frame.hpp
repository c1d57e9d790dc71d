// memcached's UDP framing: every datagram starts with an 8-byte header,
// big-endian: request id, sequence number, datagram count, reserved (0).
// A request must fit one datagram; a reply longer than one datagram is
// split into several with the request's id, numbered 0..n-1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace kairos::kv {

inline constexpr std::size_t kUdpHeaderSize = 8;
// memcached's UDP_MAX_PAYLOAD_SIZE: a datagram, header included.
inline constexpr std::size_t kUdpMaxDatagram = 1400;

struct UdpHeader {
  std::uint16_t request_id = 0;
  std::uint16_t sequence = 0;
  std::uint16_t total = 0;
  std::uint16_t reserved = 0;
};

// The header of a request datagram, or nullopt when it is shorter than one.
std::optional<UdpHeader> parse_udp_header(std::span<const std::uint8_t> d);

// The datagrams of a reply to request_id (at least one, even when empty).
std::vector<std::vector<std::uint8_t>> frame_udp_reply(
    std::uint16_t request_id, std::string_view reply,
    std::size_t max_datagram = kUdpMaxDatagram);

}  // namespace kairos::kv
