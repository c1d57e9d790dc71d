// memcached's UDP frame header and the splitting of long replies.
#include "kv_udp_frame.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kairos::kv {
namespace {

TEST(KvUdpFrame, ParsesTheHeader) {
  const std::uint8_t d[] = {0x12, 0x34, 0, 0, 0, 1, 0, 0, 'g', 'e', 't'};
  auto h = parse_udp_header(d);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->request_id, 0x1234);
  EXPECT_EQ(h->sequence, 0);
  EXPECT_EQ(h->total, 1);
  EXPECT_FALSE(parse_udp_header(std::span<const std::uint8_t>(d, 7)));
}

TEST(KvUdpFrame, SplitsLongRepliesInOrder) {
  std::string reply(3000, 'x');
  reply[0] = 'A';
  reply[1392] = 'B';
  auto ds = frame_udp_reply(7, reply);
  ASSERT_EQ(ds.size(), 3u);  // 1392 + 1392 + 216 bytes of payload
  std::string joined;
  for (std::size_t i = 0; i < ds.size(); ++i) {
    ASSERT_LE(ds[i].size(), kUdpMaxDatagram);
    auto h = parse_udp_header(ds[i]);
    EXPECT_EQ(h->request_id, 7);
    EXPECT_EQ(h->sequence, i);
    EXPECT_EQ(h->total, 3);
    EXPECT_EQ(h->reserved, 0);
    joined.append(ds[i].begin() + kUdpHeaderSize, ds[i].end());
  }
  EXPECT_EQ(joined, reply);
  EXPECT_EQ(ds[1][kUdpHeaderSize], 'B');
  EXPECT_EQ(frame_udp_reply(1, "").size(), 1u);
}

}  // namespace
}  // namespace kairos::kv
