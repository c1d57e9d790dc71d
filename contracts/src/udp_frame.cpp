#include <kairos/contracts/udp_frame.hpp>

#include <cstring>

namespace kairos::dp {

namespace {

std::uint16_t be16(const std::uint8_t* p) { return (p[0] << 8) | p[1]; }
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

// One's-complement sum over bytes (big-endian 16-bit words).
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t acc = 0) {
  for (; n > 1; p += 2, n -= 2) acc += be16(p);
  if (n) acc += p[0] << 8;
  return acc;
}
std::uint16_t fold(std::uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<std::uint16_t>(~acc);
}

}  // namespace

std::optional<UdpFrame> parse_udp_frame(std::span<const std::uint8_t> f) {
  if (f.size() < 14) return std::nullopt;
  UdpFrame r;
  std::memcpy(r.dst_mac.data(), f.data(), 6);
  std::memcpy(r.src_mac.data(), f.data() + 6, 6);
  std::size_t off = 12;
  std::uint16_t proto = be16(&f[off]);
  off += 2;
  if (proto == 0x8100 || proto == 0x88a8) {
    if (f.size() < off + 4) return std::nullopt;
    proto = be16(&f[off + 2]);
    off += 4;
  }
  std::size_t l4_len;
  if (proto == 0x0800) {
    if (f.size() < off + 20) return std::nullopt;
    const std::uint8_t* ip = &f[off];
    const std::size_t ihl = (ip[0] & 0xf) * 4u;
    const std::size_t tot = be16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || f.size() < off + tot ||
        ip[9] != 17 || (be16(ip + 6) & 0x3fff))
      return std::nullopt;
    std::uint32_t s, d;
    std::memcpy(&s, ip + 12, 4);
    std::memcpy(&d, ip + 16, 4);
    r.src = Endpoint::v4(__builtin_bswap32(s), 0);
    r.dst = Endpoint::v4(__builtin_bswap32(d), 0);
    off += ihl;
    l4_len = tot - ihl;
  } else if (proto == 0x86dd) {
    if (f.size() < off + 40) return std::nullopt;
    const std::uint8_t* ip = &f[off];
    const std::size_t plen = be16(ip + 4);
    if ((ip[0] >> 4) != 6 || ip[6] != 17 || f.size() < off + 40 + plen)
      return std::nullopt;
    std::memcpy(r.src.addr.data(), ip + 8, 16);
    std::memcpy(r.dst.addr.data(), ip + 24, 16);
    // An IPv4-mapped address never travels in an IPv6 header (RFC 4291
    // 2.5.5.2); taken as is, the peer would pass for an IPv4 one, and no
    // reply frame could be built to it.
    if (r.src.is_v4() || r.dst.is_v4()) return std::nullopt;
    off += 40;
    l4_len = plen;
  } else {
    return std::nullopt;
  }
  if (l4_len < 8) return std::nullopt;
  const std::uint8_t* udp = &f[off];
  const std::size_t ulen = be16(udp + 4);
  if (ulen < 8 || ulen > l4_len) return std::nullopt;
  r.src.port = be16(udp);
  r.dst.port = be16(udp + 2);
  r.payload = f.subspan(off + 8, ulen - 8);
  return r;
}

std::size_t build_udp_frame(std::span<std::uint8_t> out, const Mac& src_mac,
                            const Mac& dst_mac, const Endpoint& src,
                            const Endpoint& dst,
                            std::span<const std::uint8_t> payload) {
  const bool v4 = src.is_v4();
  if (v4 != dst.is_v4()) return 0;
  const std::size_t len = udp_frame_size(payload.size(), v4);
  if (out.size() < len || payload.size() > 65507) return 0;
  std::uint8_t* p = out.data();
  std::memcpy(p, dst_mac.data(), 6);
  std::memcpy(p + 6, src_mac.data(), 6);
  put16(p + 12, v4 ? 0x0800 : 0x86dd);
  std::uint8_t* ip = p + 14;
  const std::uint16_t ulen = static_cast<std::uint16_t>(8 + payload.size());
  std::uint32_t pseudo;
  if (v4) {
    std::memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(20 + ulen));
    ip[6] = 0x40;  // don't fragment
    ip[8] = 64;
    ip[9] = 17;
    std::memcpy(ip + 12, &src.addr[12], 4);
    std::memcpy(ip + 16, &dst.addr[12], 4);
    put16(ip + 10, fold(sum16(ip, 20)));
    pseudo = sum16(ip + 12, 8, 17 + ulen);
  } else {
    std::memset(ip, 0, 40);
    ip[0] = 0x60;
    put16(ip + 4, ulen);
    ip[6] = 17;
    ip[7] = 64;
    std::memcpy(ip + 8, src.addr.data(), 16);
    std::memcpy(ip + 24, dst.addr.data(), 16);
    pseudo = sum16(ip + 8, 32, 17 + ulen);
  }
  std::uint8_t* udp = ip + (v4 ? 20 : 40);
  put16(udp, src.port);
  put16(udp + 2, dst.port);
  put16(udp + 4, ulen);
  put16(udp + 6, 0);
  // An empty span may have no data pointer; memcpy from null is undefined.
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  std::uint16_t csum = fold(sum16(udp, ulen, pseudo));
  put16(udp + 6, csum ? csum : 0xffff);  // 0 means "no checksum"
  return len;
}

}  // namespace kairos::dp
