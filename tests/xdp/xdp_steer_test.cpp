// The XDP steering program on crafted good and bad frames, through
// BPF_PROG_TEST_RUN on the build machine's own kernel (root, no VM).
// The delivery itself (a bound AF_XDP socket) is covered by the dataplane
// integration tests; here a managed frame without a socket must be passed
// and counted as such, and the redirect verdict is checked with an
// unbound AF_XDP socket in the XSKMAPs (BPF_PROG_TEST_RUN only reports
// the verdict; its rx queue is 0).
#include "kairos_steer.skel.h"
#include <kairos/xdp_abi.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

using Frame = std::vector<std::uint8_t>;

constexpr std::uint16_t kAppPort = 8000;
constexpr std::uint32_t kAppId = 7;

void put16(Frame& f, std::uint16_t v) {
  f.push_back(v >> 8);
  f.push_back(v & 0xff);
}

Frame ethernet(std::uint16_t proto) {
  Frame f(12, 0x02);  // dst + src MAC
  put16(f, proto);
  return f;
}

Frame l4(std::uint8_t proto, std::uint16_t dport, std::size_t payload) {
  Frame h;
  put16(h, 12345);
  put16(h, dport);
  if (proto == IPPROTO_UDP) {
    put16(h, static_cast<std::uint16_t>(8 + payload));
    put16(h, 0);
  } else {  // TCP: seq, ack, data offset 5, flags, window, csum, urg
    h.insert(h.end(), 8, 0);
    h.push_back(5 << 4);
    h.push_back(0x02);
    put16(h, 1024);
    put16(h, 0);
    put16(h, 0);
  }
  h.insert(h.end(), payload, 0xab);
  return h;
}

Frame ipv4(const Frame& payload, std::uint8_t proto,
           const char* dst = "10.0.0.2") {
  Frame f = ethernet(0x0800);
  Frame ip = {0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1};
  const std::uint16_t tot = static_cast<std::uint16_t>(20 + payload.size());
  ip[2] = tot >> 8;
  ip[3] = tot & 0xff;
  std::uint8_t d[4];
  inet_pton(AF_INET, dst, d);
  ip.insert(ip.end(), d, d + 4);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

Frame ipv4_udp(std::uint16_t dport = kAppPort, std::size_t payload = 4) {
  return ipv4(l4(IPPROTO_UDP, dport, payload), IPPROTO_UDP);
}

// IPv6 with optional extension headers given as raw bytes (each header's
// first byte, next-header, is patched to chain them).
Frame ipv6(const Frame& payload, std::uint8_t proto,
           std::vector<std::pair<std::uint8_t, Frame>> ext = {}) {
  Frame f = ethernet(0x86dd);
  Frame chain;
  std::uint8_t first = ext.empty() ? proto : ext[0].first;
  for (std::size_t i = 0; i < ext.size(); i++) {
    Frame h = ext[i].second;
    h[0] = i + 1 < ext.size() ? ext[i + 1].first : proto;
    chain.insert(chain.end(), h.begin(), h.end());
  }
  const std::size_t plen = chain.size() + payload.size();
  Frame ip = {0x60, 0, 0, 0};
  put16(ip, static_cast<std::uint16_t>(plen));
  ip.push_back(first);
  ip.push_back(64);
  std::uint8_t s[16], d[16];
  inet_pton(AF_INET6, "fd00::1", s);
  inet_pton(AF_INET6, "fd00::2", d);
  ip.insert(ip.end(), s, s + 16);
  ip.insert(ip.end(), d, d + 16);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), chain.begin(), chain.end());
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

Frame ext8() { return Frame(8, 0); }  // an 8-byte hop-by-hop/dest-opts header

class XdpSteer : public ::testing::Test {
 protected:
  void SetUp() override {
    skel_ = kairos_steer__open_and_load();
    ASSERT_NE(skel_, nullptr) << "loading the XDP program failed (root?)";
    add_app("10.0.0.2", kAppPort, IPPROTO_UDP);
    add_app("fd00::2", kAppPort, IPPROTO_UDP);
    add_app("10.0.0.2", kAppPort, IPPROTO_TCP);
  }
  void TearDown() override { kairos_steer__destroy(skel_); }

  void add_app(const char* addr, std::uint16_t port, std::uint8_t proto,
               std::uint32_t app_id = kAppId, std::uint32_t flags = 0) {
    kairos_xdp_app_key key{};
    if (inet_pton(AF_INET, addr, &key.addr[12]) == 1) {
      key.addr[10] = key.addr[11] = 0xff;
    } else {
      ASSERT_EQ(inet_pton(AF_INET6, addr, key.addr), 1);
    }
    key.port = htons(port);
    key.l4_proto = proto;
    kairos_xdp_app app{app_id, flags};
    ASSERT_EQ(bpf_map__update_elem(skel_->maps.apps, &key, sizeof key, &app,
                                   sizeof app, BPF_ANY),
              0);
  }

  int run(Frame f) {
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                .data_size_in = static_cast<__u32>(f.size()), .repeat = 1);
    const int err = bpf_prog_test_run_opts(
        bpf_program__fd(skel_->progs.kairos_steer), &opts);
    EXPECT_EQ(err, 0);
    return static_cast<int>(opts.retval);
  }

  std::uint64_t counter(kairos_xdp_counter slot) {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<std::uint64_t> per_cpu(ncpu);
    __u32 key = slot;
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.counters, &key, sizeof key,
                                   per_cpu.data(),
                                   per_cpu.size() * sizeof(std::uint64_t), 0),
              0);
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

  kairos_xdp_app_stats app_stats(std::uint32_t app_id) {
    const int ncpu = libbpf_num_possible_cpus();
    std::vector<kairos_xdp_app_stats> per_cpu(ncpu);
    EXPECT_EQ(bpf_map__lookup_elem(skel_->maps.app_stats, &app_id,
                                   sizeof app_id, per_cpu.data(),
                                   per_cpu.size() * sizeof per_cpu[0], 0),
              0);
    kairos_xdp_app_stats sum{};
    for (auto& s : per_cpu) {
      sum.redirected += s.redirected;
      sum.no_socket += s.no_socket;
      sum.dropped_bad_l4 += s.dropped_bad_l4;
    }
    return sum;
  }

  // Exactly one reason counter moved, besides SEEN and the L3 ones.
  void expect_only(kairos_xdp_counter slot) {
    for (int c = KAIROS_XDP_PASS_NON_IP; c < KAIROS_XDP_NR_COUNTERS; c++) {
      EXPECT_EQ(counter(static_cast<kairos_xdp_counter>(c)), c == slot ? 1u : 0u)
          << "counter slot " << c;
    }
  }

  kairos_steer* skel_ = nullptr;
};

TEST_F(XdpSteer, AbiVersionIsVisibleToUserspace) {
  EXPECT_EQ(skel_->rodata->kairos_xdp_abi_version, KAIROS_XDP_ABI_VERSION);
}

TEST_F(XdpSteer, ManagedIpv4UdpWithoutSocketIsPassedAndCountedPerApp) {
  EXPECT_EQ(run(ipv4_udp()), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_SEEN), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 1u);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
  EXPECT_EQ(app_stats(kAppId).no_socket, 1u);
  EXPECT_EQ(app_stats(kAppId).redirected, 0u);
}

TEST_F(XdpSteer, UnmanagedPortIsPassed) {
  EXPECT_EQ(run(ipv4_udp(9999)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_UNMANAGED);
  EXPECT_EQ(app_stats(kAppId).no_socket, 0u);
}

TEST_F(XdpSteer, OtherAddressSamePortIsUnmanaged) {
  EXPECT_EQ(run(ipv4(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP, "10.0.0.9")),
            XDP_PASS);
  expect_only(KAIROS_XDP_PASS_UNMANAGED);
}

TEST_F(XdpSteer, WildcardAddressMatchesAnyDestination) {
  // The wildcard key is the all-zero address (not IPv4-mapped zero).
  kairos_xdp_app_key key{};
  key.port = htons(7001);
  key.l4_proto = IPPROTO_UDP;
  kairos_xdp_app app{3, 0};
  ASSERT_EQ(bpf_map__update_elem(skel_->maps.apps, &key, sizeof key, &app,
                                 sizeof app, BPF_ANY),
            0);
  EXPECT_EQ(run(ipv4(l4(IPPROTO_UDP, 7001, 4), IPPROTO_UDP, "10.9.9.9")),
            XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
  EXPECT_EQ(app_stats(3).no_socket, 1u);
}

TEST_F(XdpSteer, ManagedTcpIsMatchedByProtocol) {
  EXPECT_EQ(run(ipv4(l4(IPPROTO_TCP, kAppPort, 0), IPPROTO_TCP)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteer, TcpWithBadDataOffsetToAppIsDropped) {
  Frame f = ipv4(l4(IPPROTO_TCP, kAppPort, 0), IPPROTO_TCP);
  f[14 + 20 + 12] = 3 << 4;  // doff 3 < 5
  EXPECT_EQ(run(f), XDP_DROP);
  expect_only(KAIROS_XDP_DROP_BAD_L4_APP);
  EXPECT_EQ(app_stats(kAppId).dropped_bad_l4, 1u);
}

TEST_F(XdpSteer, PassesArpUntouched) {
  Frame arp = ethernet(0x0806);
  arp.resize(42, 0);
  EXPECT_EQ(run(arp), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NON_IP);
}

TEST_F(XdpSteer, IcmpIsPassed) {
  EXPECT_EQ(run(ipv4(Frame(8, 0), IPPROTO_ICMP)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_OTHER_L4);
}

// BPF_PROG_TEST_RUN refuses frames below ETH_HLEN, so the program's
// short-frame drop is reachable only from a device; the shortest frame a
// test can build is a bare Ethernet header, which is passed as non-IP.
TEST_F(XdpSteer, BareEthernetHeaderIsPassed) {
  EXPECT_EQ(run(ethernet(0x0800)), XDP_PASS);  // IPv4 type, no header
  EXPECT_EQ(counter(KAIROS_XDP_PASS_BAD_IPV4), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_DROP_SHORT_ETH), 0u);
}

TEST_F(XdpSteer, EveryTruncationOfAManagedFrameIsSafeAndNeverRedirected) {
  // Cut a managed IPv4, IPv6 and VLAN frame at every length: each verdict
  // is pass or drop, and only complete frames count as managed.
  const Frame full = ipv4_udp();
  for (std::size_t len = 14; len < full.size(); len++) {
    Frame f(full.begin(), full.begin() + len);
    EXPECT_EQ(run(f), XDP_PASS) << "length " << len;
  }
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
  const Frame v6 = ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP, {{0, ext8()}});
  for (std::size_t len = 14; len < v6.size(); len++) {
    Frame f(v6.begin(), v6.begin() + len);
    EXPECT_EQ(run(f), XDP_PASS) << "v6 length " << len;
  }
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
  EXPECT_EQ(run(full), XDP_PASS);
  EXPECT_EQ(run(v6), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 2u);
}

TEST_F(XdpSteer, TruncatedIpv4HeaderIsPassedAndCounted) {
  Frame f = ipv4_udp();
  f.resize(14 + 10);  // half an IPv4 header
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_IPV4);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 0u);
}

TEST_F(XdpSteer, Ipv4WithBadIhlIsPassedAndCounted) {
  for (std::uint8_t vihl : {0x43, 0x4f, 0x55}) {  // IHL 3, IHL 15 > frame, v5
    Frame f = ipv4_udp();
    f[14] = vihl;
    EXPECT_EQ(run(f), XDP_PASS);
  }
  EXPECT_EQ(counter(KAIROS_XDP_PASS_BAD_IPV4), 3u);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
}

TEST_F(XdpSteer, Ipv4TotalLengthBeyondFrameIsPassed) {
  Frame f = ipv4_udp();
  f[14 + 2] = 0x05;  // 1280 bytes claimed
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_IPV4);
}

TEST_F(XdpSteer, Ipv4FragmentsArePassed) {
  Frame first = ipv4_udp();
  first[14 + 6] = 0x20;  // more fragments, offset 0
  Frame later = ipv4_udp();
  later[14 + 7] = 0x10;  // offset 16*8
  EXPECT_EQ(run(first), XDP_PASS);
  EXPECT_EQ(run(later), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_FRAGMENT), 2u);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
}

TEST_F(XdpSteer, ZeroLengthUdpPayloadIsAValidAppFrame) {
  EXPECT_EQ(run(ipv4_udp(kAppPort, 0)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteer, UdpLengthFieldBelowHeaderToAppIsDropped) {
  Frame f = ipv4_udp(kAppPort, 0);
  f[14 + 20 + 4] = 0;
  f[14 + 20 + 5] = 0;  // UDP length 0
  EXPECT_EQ(run(f), XDP_DROP);
  expect_only(KAIROS_XDP_DROP_BAD_L4_APP);
  EXPECT_EQ(app_stats(kAppId).dropped_bad_l4, 1u);
}

TEST_F(XdpSteer, UdpLengthBeyondIpPayloadToAppIsDropped) {
  Frame f = ipv4_udp(kAppPort, 4);
  f[14 + 20 + 5] = 200;
  EXPECT_EQ(run(f), XDP_DROP);
  expect_only(KAIROS_XDP_DROP_BAD_L4_APP);
}

TEST_F(XdpSteer, BadUdpLengthOnUnmanagedPortIsPassed) {
  Frame f = ipv4_udp(53, 0);
  f[14 + 20 + 5] = 0;
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_L4);
}

TEST_F(XdpSteer, TruncatedUdpHeaderIsPassed) {
  Frame f = ipv4(Frame{0x30, 0x39}, IPPROTO_UDP);  // 2 bytes of UDP
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_L4);
}

TEST_F(XdpSteer, VlanTaggedIpv4IsSeenThroughTheTag) {
  Frame inner = ipv4_udp();
  Frame f = ethernet(0x8100);
  const std::uint8_t tag[4] = {0x00, 0x64, 0x08, 0x00};  // VLAN 100, IPv4
  f.insert(f.end(), tag, tag + 4);
  f.insert(f.end(), inner.begin() + 14, inner.end());
  EXPECT_EQ(run(f), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_VLAN), 1u);
  EXPECT_EQ(counter(KAIROS_XDP_IPV4), 1u);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteer, QinQIsParsedButThreeTagsArePassed) {
  Frame inner = ipv4_udp();
  Frame f = ethernet(0x88a8);
  const std::uint8_t outer[4] = {0x00, 0x0a, 0x81, 0x00};
  const std::uint8_t in[4] = {0x00, 0x64, 0x08, 0x00};
  f.insert(f.end(), outer, outer + 4);
  f.insert(f.end(), in, in + 4);
  f.insert(f.end(), inner.begin() + 14, inner.end());
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);

  Frame deep = ethernet(0x8100);
  const std::uint8_t t[4] = {0x00, 0x01, 0x81, 0x00};
  for (int i = 0; i < 3; i++) deep.insert(deep.end(), t, t + 4);
  deep.insert(deep.end(), inner.begin() + 14, inner.end());
  EXPECT_EQ(run(deep), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_VLAN_DEPTH), 1u);
}

TEST_F(XdpSteer, TruncatedVlanTagIsPassed) {
  Frame f = ethernet(0x8100);
  f.push_back(0);
  f.push_back(1);
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_VLAN);
}

TEST_F(XdpSteer, Ipv6UdpToAppIsMatched) {
  EXPECT_EQ(run(ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP)), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_IPV6), 1u);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteer, Ipv6ExtensionHeadersAreWalked) {
  Frame routing(16, 0);
  routing[1] = 1;  // (1+1)*8 = 16 bytes
  Frame f = ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP,
                 {{IPPROTO_HOPOPTS, ext8()},
                  {IPPROTO_ROUTING, routing},
                  {IPPROTO_DSTOPTS, ext8()}});
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteer, Ipv6ExtensionHeaderLengthBeyondPayloadIsPassed) {
  Frame h = ext8();
  h[1] = 200;  // claims 1608 bytes
  Frame f = ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP,
                 {{IPPROTO_HOPOPTS, h}});
  EXPECT_EQ(run(f), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_EXTHDR);
}

TEST_F(XdpSteer, TooManyIpv6ExtensionHeadersArePassed) {
  std::vector<std::pair<std::uint8_t, Frame>> ext(7, {IPPROTO_DSTOPTS, ext8()});
  EXPECT_EQ(run(ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP, ext)),
            XDP_PASS);
  expect_only(KAIROS_XDP_PASS_BAD_EXTHDR);
}

TEST_F(XdpSteer, Ipv6FragmentIsPassed) {
  EXPECT_EQ(run(ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP,
                     {{IPPROTO_FRAGMENT, ext8()}})),
            XDP_PASS);
  expect_only(KAIROS_XDP_PASS_FRAGMENT);
}

TEST_F(XdpSteer, Ipv6BadVersionOrPayloadLengthIsPassed) {
  Frame f = ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP);
  f[14] = 0x40;
  EXPECT_EQ(run(f), XDP_PASS);
  Frame g = ipv6(l4(IPPROTO_UDP, kAppPort, 4), IPPROTO_UDP);
  g[14 + 4] = 0x10;  // payload length 4096+
  EXPECT_EQ(run(g), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_BAD_IPV6), 2u);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 0u);
}

// Per-app socket maps (app_xsks): an app flagged KAIROS_XDP_APP_OWN_XSKS
// is redirected through its own XSKMAP only, others through the shared
// xsks_map. An unbound AF_XDP socket is enough to get the verdict.
class XdpSteerOwnSockets : public XdpSteer {
 protected:
  static constexpr std::uint16_t kOwnPort = 8100, kOtherPort = 8101;
  static constexpr std::uint32_t kOwnId = 3, kOtherId = 4;
  void SetUp() override {
    XdpSteer::SetUp();
    add_app("10.0.0.2", kOwnPort, IPPROTO_UDP, kOwnId, KAIROS_XDP_APP_OWN_XSKS);
    add_app("10.0.0.2", kOtherPort, IPPROTO_UDP, kOtherId, KAIROS_XDP_APP_OWN_XSKS);
    xsk_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    ASSERT_GE(xsk_, 0) << "AF_XDP socket";
  }
  void TearDown() override {
    for (int fd : maps_) close(fd);
    if (xsk_ >= 0) close(xsk_);
    XdpSteer::TearDown();
  }
  // A new XSKMAP of max_entries, stored at app_xsks[app_id]; returns the
  // update's result (0, or -errno).
  int give_map(std::uint32_t app_id, std::uint32_t max_entries = KAIROS_XDP_MAX_QUEUES) {
    const int fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "t_xsks", 4, 4, max_entries, nullptr);
    EXPECT_GE(fd, 0);
    maps_.push_back(fd);
    return bpf_map__update_elem(skel_->maps.app_xsks, &app_id, sizeof app_id, &fd, sizeof fd,
                                BPF_ANY);
  }
  void put_socket(int map_fd, std::uint32_t queue = 0) {
    ASSERT_EQ(bpf_map_update_elem(map_fd, &queue, &xsk_, BPF_ANY), 0) << errno;
  }
  int xsk_ = -1;
  std::vector<int> maps_;
};

TEST_F(XdpSteerOwnSockets, AppWithoutItsMapIsPassedAndCounted) {
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_APP_MAP);
  EXPECT_EQ(app_stats(kOwnId).no_socket, 1u);
}

TEST_F(XdpSteerOwnSockets, KernelTakesAnXskmapAsInnerMapOfTheTemplateShapeOnly) {
  EXPECT_EQ(give_map(kOwnId), 0);
  EXPECT_NE(give_map(kOtherId, 8), 0) << "an XSKMAP of another size is refused";
}

TEST_F(XdpSteerOwnSockets, AppIsRedirectedThroughItsOwnMapOnly) {
  ASSERT_EQ(give_map(kOwnId), 0);
  ASSERT_EQ(give_map(kOtherId), 0);
  // A socket in the shared map is not the own-socket app's socket.
  put_socket(bpf_map__fd(skel_->maps.xsks_map));
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
  EXPECT_EQ(app_stats(kOwnId).no_socket, 1u);
  // ... but it is the socket of the apps without the flag.
  EXPECT_EQ(run(ipv4_udp(kAppPort)), XDP_REDIRECT);
  EXPECT_EQ(app_stats(kAppId).redirected, 1u);
  // Its own map gets a socket on queue 0 (the test run's queue).
  put_socket(maps_[0]);
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_REDIRECT);
  EXPECT_EQ(app_stats(kOwnId).redirected, 1u);
  // The other app's map holds nothing: its frames are not taken by the
  // first app's socket.
  EXPECT_EQ(run(ipv4_udp(kOtherPort)), XDP_PASS);
  EXPECT_EQ(app_stats(kOtherId).no_socket, 1u);
  EXPECT_EQ(app_stats(kOtherId).redirected, 0u);
  EXPECT_EQ(counter(KAIROS_XDP_REDIRECT), 2u);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_SOCKET), 2u);
}

TEST_F(XdpSteerOwnSockets, SocketOnAnotherQueueIsNotUsed) {
  ASSERT_EQ(give_map(kOwnId), 0);
  put_socket(maps_[0], 1);  // queue 1; the frame arrives on queue 0
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_PASS);
  expect_only(KAIROS_XDP_PASS_NO_SOCKET);
}

TEST_F(XdpSteerOwnSockets, RemovedMapFallsBackToPassing) {
  ASSERT_EQ(give_map(kOwnId), 0);
  put_socket(maps_[0]);
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_REDIRECT);
  const std::uint32_t id = kOwnId;
  ASSERT_EQ(bpf_map__delete_elem(skel_->maps.app_xsks, &id, sizeof id, 0), 0);
  EXPECT_EQ(run(ipv4_udp(kOwnPort)), XDP_PASS);
  EXPECT_EQ(counter(KAIROS_XDP_PASS_NO_APP_MAP), 1u);
}

}  // namespace
