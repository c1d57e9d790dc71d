#include "steer_reference.hpp"

#include <linux/bpf.h>

#include <cstddef>
#include <optional>

namespace kairos::xdptest {

namespace {

constexpr std::uint8_t kHopByHop = 0, kTcp = 6, kUdp = 17, kRouting = 43, kFragment = 44,
                       kAuth = 51, kDestOpts = 60;
constexpr unsigned kMaxVlanTags = 2, kMaxExtHeaders = 6;

// The frame with an explicit end: every read asks first whether it fits.
struct Bytes {
  const std::vector<std::uint8_t>& f;
  bool has(std::size_t off, std::size_t n) const { return off + n <= f.size(); }
  std::uint8_t u8(std::size_t off) const { return f[off]; }
  std::uint16_t u16(std::size_t off) const {
    return static_cast<std::uint16_t>(f[off] << 8 | f[off + 1]);
  }
};

// Where the transport header is and how many bytes the IP header says it
// may use.
struct Transport {
  std::size_t at = 0;
  std::size_t room = 0;
  std::uint8_t proto = 0;
  std::array<std::uint8_t, 16> dst{};
};

struct Run {
  RefOutcome out;
  int finish(kairos_xdp_counter c, int verdict) {
    out.counters[c]++;
    out.verdict = verdict;
    return verdict;
  }
};

bool is_ipv6_ext(std::uint8_t h) {
  return h == kHopByHop || h == kRouting || h == kDestOpts || h == kAuth;
}

// nullopt: the frame's fate is decided (in run).
std::optional<Transport> ipv4(const Bytes& b, std::size_t l3, Run& run) {
  if (!b.has(l3, 20) || b.u8(l3) >> 4 != 4 || (b.u8(l3) & 0xf) < 5) {
    run.finish(KAIROS_XDP_PASS_BAD_IPV4, XDP_PASS);
    return std::nullopt;
  }
  const std::size_t hlen = (b.u8(l3) & 0xf) * 4u, total = b.u16(l3 + 2);
  if (!b.has(l3, hlen) || total < hlen || !b.has(l3, total)) {
    run.finish(KAIROS_XDP_PASS_BAD_IPV4, XDP_PASS);
    return std::nullopt;
  }
  run.out.counters[KAIROS_XDP_IPV4]++;
  if (b.u16(l3 + 6) & 0x3fff) {  // more-fragments flag or an offset
    run.finish(KAIROS_XDP_PASS_FRAGMENT, XDP_PASS);
    return std::nullopt;
  }
  Transport t;
  t.at = l3 + hlen;
  t.room = total - hlen;
  t.proto = b.u8(l3 + 9);
  t.dst[10] = t.dst[11] = 0xff;
  for (int i = 0; i < 4; i++) t.dst[12 + i] = b.u8(l3 + 16 + i);
  return t;
}

std::optional<Transport> ipv6(const Bytes& b, std::size_t l3, Run& run) {
  if (!b.has(l3, 40) || b.u8(l3) >> 4 != 6) {
    run.finish(KAIROS_XDP_PASS_BAD_IPV6, XDP_PASS);
    return std::nullopt;
  }
  std::size_t room = b.u16(l3 + 4), at = l3 + 40;
  if (!b.has(at, room)) {
    run.finish(KAIROS_XDP_PASS_BAD_IPV6, XDP_PASS);
    return std::nullopt;
  }
  std::uint8_t next = b.u8(l3 + 6);
  for (unsigned seen = 0;; seen++) {
    const bool fragment = next == kFragment;
    if (!fragment && !is_ipv6_ext(next)) break;
    if (seen == kMaxExtHeaders) {  // too many extension headers
      run.finish(KAIROS_XDP_PASS_BAD_EXTHDR, XDP_PASS);
      return std::nullopt;
    }
    // A header is whole only if it fits the frame and the payload length.
    const std::size_t len = fragment ? 8
                            : !b.has(at, 2) ? 0
                            : next == kAuth ? (b.u8(at + 1) + 2u) * 4
                                            : (b.u8(at + 1) + 1u) * 8;
    if (len == 0 || !b.has(at, len) || len > room) {
      run.finish(KAIROS_XDP_PASS_BAD_EXTHDR, XDP_PASS);
      return std::nullopt;
    }
    if (fragment) {
      run.out.counters[KAIROS_XDP_IPV6]++;
      run.finish(KAIROS_XDP_PASS_FRAGMENT, XDP_PASS);
      return std::nullopt;
    }
    next = b.u8(at);
    at += len;
    room -= len;
  }
  run.out.counters[KAIROS_XDP_IPV6]++;
  Transport t;
  t.at = at;
  t.room = room;
  t.proto = next;
  for (int i = 0; i < 16; i++) t.dst[i] = b.u8(l3 + 24 + i);
  return t;
}

// UDP: the whole 8-byte header, its length between 8 and the room. TCP:
// the whole 20-byte header, data offset at least 5 and within the frame
// and the room.
bool l4_valid(const Bytes& b, const Transport& t) {
  if (t.proto == kUdp) {
    if (!b.has(t.at, 8)) return false;
    const std::size_t len = b.u16(t.at + 4);
    return len >= 8 && len <= t.room;
  }
  if (!b.has(t.at, 20)) return false;
  const std::size_t hlen = (b.u8(t.at + 12) >> 4) * 4u;
  return hlen >= 20 && b.has(t.at, hlen) && hlen <= t.room;
}

const RefApp* find_app(const RefMaps& maps, const Transport& t, std::uint16_t port) {
  auto it = maps.apps.find({t.dst, port, t.proto});
  if (it == maps.apps.end()) it = maps.apps.find({std::array<std::uint8_t, 16>{}, port, t.proto});
  return it == maps.apps.end() ? nullptr : &it->second;
}

}  // namespace

RefOutcome classify(const std::vector<std::uint8_t>& frame, const RefMaps& maps) {
  Run run;
  const Bytes b{frame};
  run.out.counters[KAIROS_XDP_SEEN]++;
  if (!b.has(0, 14)) {
    run.finish(KAIROS_XDP_DROP_SHORT_ETH, XDP_DROP);
    return run.out;
  }
  std::uint16_t type = b.u16(12);
  std::size_t l3 = 14;
  const auto is_vlan = [](std::uint16_t t) { return t == 0x8100 || t == 0x88a8; };
  for (unsigned tags = 0; is_vlan(type); tags++) {
    if (tags == kMaxVlanTags) {
      run.finish(KAIROS_XDP_PASS_VLAN_DEPTH, XDP_PASS);
      return run.out;
    }
    if (!b.has(l3, 4)) {
      run.finish(KAIROS_XDP_PASS_BAD_VLAN, XDP_PASS);
      return run.out;
    }
    if (tags == 0) run.out.counters[KAIROS_XDP_VLAN]++;
    type = b.u16(l3 + 2);
    l3 += 4;
  }
  std::optional<Transport> t;
  if (type == 0x0800) {
    t = ipv4(b, l3, run);
  } else if (type == 0x86dd) {
    t = ipv6(b, l3, run);
  } else {
    run.finish(KAIROS_XDP_PASS_NON_IP, XDP_PASS);
    return run.out;
  }
  if (!t) return run.out;
  if (t->proto != kUdp && t->proto != kTcp) {
    run.finish(KAIROS_XDP_PASS_OTHER_L4, XDP_PASS);
    return run.out;
  }
  if (!b.has(t->at, 4) || t->room < 4) {
    run.finish(KAIROS_XDP_PASS_BAD_L4, XDP_PASS);
    return run.out;
  }
  const RefApp* app = find_app(maps, *t, b.u16(t->at + 2));
  if (!app) {
    run.finish(l4_valid(b, *t) ? KAIROS_XDP_PASS_UNMANAGED : KAIROS_XDP_PASS_BAD_L4, XDP_PASS);
    return run.out;
  }
  RefAppStats& st = run.out.app_stats[app->id];
  if (!l4_valid(b, *t)) {
    st.dropped_bad_l4++;
    run.finish(KAIROS_XDP_DROP_BAD_L4_APP, XDP_DROP);
    return run.out;
  }
  bool socket = maps.shared_socket_q0;
  if (app->own_xsks) {
    const auto own = maps.own_map_socket_q0.find(app->id);
    if (own == maps.own_map_socket_q0.end()) {
      st.no_socket++;
      run.finish(KAIROS_XDP_PASS_NO_APP_MAP, XDP_PASS);
      return run.out;
    }
    socket = own->second;
  }
  if (!socket) {
    st.no_socket++;
    run.finish(KAIROS_XDP_PASS_NO_SOCKET, XDP_PASS);
    return run.out;
  }
  st.redirected++;
  st.redirected_bytes += frame.size();
  run.finish(KAIROS_XDP_REDIRECT, XDP_REDIRECT);
  return run.out;
}

}  // namespace kairos::xdptest
