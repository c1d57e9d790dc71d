#include <kairos/contracts/endpoint.hpp>

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace kairos::dp {

bool Endpoint::is_v4() const {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0,
                                              0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(addr.data(), prefix, 12) == 0;
}

bool Endpoint::is_any() const {
  for (auto b : addr)
    if (b) return false;
  return true;
}

Endpoint Endpoint::v4(std::uint32_t a, std::uint16_t port) {
  Endpoint e;
  e.addr[10] = e.addr[11] = 0xff;
  e.addr[12] = a >> 24;
  e.addr[13] = a >> 16;
  e.addr[14] = a >> 8;
  e.addr[15] = a;
  e.port = port;
  return e;
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':')
      return std::nullopt;
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(),
                                 port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() ||
      port_text.empty() || port > 65535)
    return std::nullopt;
  Endpoint e;
  e.port = static_cast<std::uint16_t>(port);
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    if (v4.s_addr == 0) return e;  // 0.0.0.0: the wildcard
    return Endpoint::v4(ntohl(v4.s_addr), e.port);
  }
  if (inet_pton(AF_INET6, host.c_str(), e.addr.data()) == 1) return e;
  return std::nullopt;
}

std::string Endpoint::str() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (is_v4()) {
    inet_ntop(AF_INET, &addr[12], buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(port);
  }
  inet_ntop(AF_INET6, addr.data(), buf, sizeof buf);
  return "[" + std::string(buf) + "]:" + std::to_string(port);
}

kairos_dp_endpoint Endpoint::to_abi() const {
  kairos_dp_endpoint e{};
  std::memcpy(e.addr, addr.data(), 16);
  e.port = port;
  return e;
}

Endpoint Endpoint::from_abi(const kairos_dp_endpoint& e) {
  Endpoint r;
  std::memcpy(r.addr.data(), e.addr, 16);
  r.port = e.port;
  return r;
}

namespace {
// FNV-1a then a murmur-style finalizer: cheap and well mixed for buckets.
std::uint32_t mix(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
}  // namespace

std::uint32_t flow_hash(const Endpoint& src, const Endpoint& dst) {
  std::uint32_t h = 2166136261u;
  auto feed = [&h](std::uint8_t b) { h = (h ^ b) * 16777619u; };
  for (auto b : src.addr) feed(b);
  feed(src.port >> 8);
  feed(src.port & 0xff);
  for (auto b : dst.addr) feed(b);
  feed(dst.port >> 8);
  feed(dst.port & 0xff);
  return mix(h);
}

}  // namespace kairos::dp
