#include <kairos/contracts/udp_frame.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace kairos::dp {
namespace {

const Mac kA{2, 0, 0, 0, 0, 1}, kB{2, 0, 0, 0, 0, 2};

std::uint32_t sum16(const std::uint8_t* p, std::size_t n) {
  std::uint32_t acc = 0;
  for (; n > 1; p += 2, n -= 2) acc += (p[0] << 8) | p[1];
  if (n) acc += p[0] << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return acc;
}

TEST(UdpFrame, Ipv4RoundTripWithValidChecksums) {
  auto src = *Endpoint::parse("10.1.0.1:4000");
  auto dst = *Endpoint::parse("10.1.0.2:8000");
  std::vector<std::uint8_t> payload{'h', 'e', 'l', 'l', 'o'};
  std::vector<std::uint8_t> buf(128);
  const std::size_t n = build_udp_frame(buf, kA, kB, src, dst, payload);
  ASSERT_EQ(n, 14u + 20 + 8 + 5);
  EXPECT_EQ(sum16(&buf[14], 20), 0xffffu);  // IPv4 header checksum
  // UDP checksum over the pseudo header + datagram folds to 0xffff.
  std::vector<std::uint8_t> pseudo(&buf[26], &buf[34]);
  pseudo.insert(pseudo.end(), {0, 17, 0, 13});
  pseudo.insert(pseudo.end(), &buf[34], &buf[n]);
  EXPECT_EQ(sum16(pseudo.data(), pseudo.size()), 0xffffu);
  auto f = parse_udp_frame({buf.data(), n});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->src, src);
  EXPECT_EQ(f->dst, dst);
  EXPECT_EQ(f->src_mac, kA);
  EXPECT_EQ(f->dst_mac, kB);
  EXPECT_EQ(std::vector<std::uint8_t>(f->payload.begin(), f->payload.end()), payload);
}

TEST(UdpFrame, Ipv6RoundTripAndEmptyPayload) {
  auto src = *Endpoint::parse("[fd00::1]:4000");
  auto dst = *Endpoint::parse("[fd00::2]:8000");
  std::vector<std::uint8_t> buf(128);
  const std::size_t n = build_udp_frame(buf, kA, kB, src, dst, {});
  ASSERT_EQ(n, 14u + 40 + 8);
  auto f = parse_udp_frame({buf.data(), n});
  ASSERT_TRUE(f);
  EXPECT_EQ(f->dst, dst);
  EXPECT_TRUE(f->payload.empty());
}

// Found by tests/fuzz/udp_frame_fuzz: an IPv6 header carrying an
// IPv4-mapped address parsed into an IPv4 endpoint (a v6 peer passing for
// a v4 one, with no reply frame buildable to it).
TEST(UdpFrame, Ipv6WithIpv4MappedAddressesIsRejected) {
  auto v6 = *Endpoint::parse("[fd00::2]:8000");
  for (const char* mapped : {"[::ffff:10.1.0.1]:4000", "[::ffff:0.0.0.2]:1"}) {
    auto m = *Endpoint::parse(mapped);
    ASSERT_TRUE(m.is_v4()) << mapped;
    // Build a valid v6 frame, then write the mapped address into its header.
    std::vector<std::uint8_t> buf(128);
    const std::size_t n = build_udp_frame(buf, kA, kB, *Endpoint::parse("[fd00::1]:4000"),
                                          v6, {});
    ASSERT_GT(n, 0u);
    ASSERT_TRUE(parse_udp_frame({buf.data(), n}));
    std::vector<std::uint8_t> src_mapped(buf.begin(), buf.begin() + n);
    std::memcpy(&src_mapped[14 + 8], m.addr.data(), 16);
    EXPECT_FALSE(parse_udp_frame(src_mapped)) << mapped;
    std::vector<std::uint8_t> dst_mapped(buf.begin(), buf.begin() + n);
    std::memcpy(&dst_mapped[14 + 24], m.addr.data(), 16);
    EXPECT_FALSE(parse_udp_frame(dst_mapped)) << mapped;
  }
}

TEST(UdpFrame, MalformedFramesAreRejectedAtEveryLength) {
  auto src = *Endpoint::parse("10.1.0.1:4000");
  auto dst = *Endpoint::parse("10.1.0.2:8000");
  std::vector<std::uint8_t> payload(10, 7), buf(128);
  const std::size_t n = build_udp_frame(buf, kA, kB, src, dst, payload);
  for (std::size_t len = 0; len < n; len++)
    EXPECT_FALSE(parse_udp_frame({buf.data(), len})) << len;
  auto bad = buf;
  bad[14] = 0x44;  // IHL 4
  EXPECT_FALSE(parse_udp_frame({bad.data(), n}));
  bad = buf;
  bad[14 + 6] = 0x20;  // more fragments
  EXPECT_FALSE(parse_udp_frame({bad.data(), n}));
  bad = buf;
  bad[34 + 4] = 0;
  bad[34 + 5] = 4;  // UDP length 4 < 8
  EXPECT_FALSE(parse_udp_frame({bad.data(), n}));
  bad = buf;
  bad[14 + 9] = 6;  // TCP
  EXPECT_FALSE(parse_udp_frame({bad.data(), n}));
}

TEST(UdpFrame, BuildRefusesMixedFamiliesAndSmallBuffers) {
  auto v4 = *Endpoint::parse("10.1.0.1:1");
  auto v6 = *Endpoint::parse("[fd00::2]:2");
  std::vector<std::uint8_t> buf(128);
  EXPECT_EQ(build_udp_frame(buf, kA, kB, v4, v6, {}), 0u);
  std::vector<std::uint8_t> tiny(20);
  EXPECT_EQ(build_udp_frame(tiny, kA, kB, v4, v4, {}), 0u);
}

TEST(Endpoint, ParseAndPrint) {
  EXPECT_EQ(Endpoint::parse("10.0.0.1:53")->str(), "10.0.0.1:53");
  EXPECT_EQ(Endpoint::parse("[fd00::1]:80")->str(), "[fd00::1]:80");
  EXPECT_TRUE(Endpoint::parse("0.0.0.0:80")->is_any());
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", "10.0.0.1:70000", "x:1",
                          "[fd00::1]80", "10.0.0.1:1a", ""})
    EXPECT_FALSE(Endpoint::parse(bad)) << bad;
}

}  // namespace
}  // namespace kairos::dp
