#include "kv_udp_frame.hpp"

#include <algorithm>

namespace kairos::kv {

namespace {
std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
void put_be16(std::vector<std::uint8_t>& v, std::uint16_t x) {
  v.push_back(static_cast<std::uint8_t>(x >> 8));
  v.push_back(static_cast<std::uint8_t>(x & 0xff));
}
}  // namespace

std::optional<UdpHeader> parse_udp_header(std::span<const std::uint8_t> d) {
  if (d.size() < kUdpHeaderSize) return std::nullopt;
  return UdpHeader{be16(&d[0]), be16(&d[2]), be16(&d[4]), be16(&d[6])};
}

std::vector<std::vector<std::uint8_t>> frame_udp_reply(
    std::uint16_t request_id, std::string_view reply,
    std::size_t max_datagram) {
  const std::size_t payload = max_datagram - kUdpHeaderSize;
  const std::size_t n =
      std::max<std::size_t>(1, (reply.size() + payload - 1) / payload);
  std::vector<std::vector<std::uint8_t>> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& d = out[i];
    const std::string_view part = reply.substr(
        std::min(reply.size(), i * payload), payload);
    d.reserve(kUdpHeaderSize + part.size());
    put_be16(d, request_id);
    put_be16(d, static_cast<std::uint16_t>(i));
    put_be16(d, static_cast<std::uint16_t>(n));
    put_be16(d, 0);
    d.insert(d.end(), part.begin(), part.end());
  }
  return out;
}

}  // namespace kairos::kv
