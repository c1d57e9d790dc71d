#include <kairos/dataplane/shm_rings.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace kairos::dp {
namespace {

const Endpoint kPeer = Endpoint::v4(0x0a000001, 1234);
const Endpoint kLocal = Endpoint::v4(0x0a000002, 8000);

TEST(RingAbi, StableLayout) {
  EXPECT_EQ(sizeof(kairos_dp_region), 128u);
  EXPECT_EQ(offsetof(kairos_dp_region, dp_state), 64u);
  EXPECT_EQ(offsetof(kairos_dp_ring, head), 0u);
  EXPECT_EQ(offsetof(kairos_dp_ring, tail), 64u);
  EXPECT_EQ(offsetof(kairos_dp_slot, peer), 8u);
  EXPECT_EQ(offsetof(kairos_dp_slot, local), 28u);
}

TEST(Rings, PushPeekReleaseAndOccupancyAsCongestionSignal) {
  auto region = ShmRegion::create(2, 4);
  auto r = region.rings(1).rx;
  std::uint8_t msg[3] = {1, 2, 3};
  for (int i = 0; i < 4; i++) ASSERT_TRUE(r.try_push(kPeer, kLocal, 7, msg));
  EXPECT_EQ(r.occupancy(), 4u);
  EXPECT_FALSE(r.try_push(kPeer, kLocal, 7, msg));  // full: refused, counted
  EXPECT_EQ(r.full_count(), 1u);
  const kairos_dp_slot* s = r.peek();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->len, 3u);
  EXPECT_EQ(Endpoint::from_abi(s->peer), kPeer);
  EXPECT_EQ(Endpoint::from_abi(s->local), kLocal);
  EXPECT_EQ(RingView::payload(s)[2], 3);
  r.release();
  EXPECT_EQ(r.occupancy(), 3u);
  // Other rings untouched.
  EXPECT_EQ(region.rings(0).rx.occupancy(), 0u);
  EXPECT_EQ(region.rings(1).tx.occupancy(), 0u);
}

TEST(Rings, OversizePayloadIsRefusedWithoutTouchingTheRing) {
  auto region = ShmRegion::create(1, 4);
  auto r = region.rings(0).rx;
  std::vector<std::uint8_t> big(KAIROS_DP_MAX_PAYLOAD + 1);
  EXPECT_FALSE(r.try_push(kPeer, kLocal, 0, big));
  EXPECT_EQ(r.occupancy(), 0u);
  big.resize(KAIROS_DP_MAX_PAYLOAD);
  EXPECT_TRUE(r.try_push(kPeer, kLocal, 0, big));
}

TEST(Rings, AttachSeesTheSameRingsThroughTheFd) {
  auto region = ShmRegion::create(3, 8);
  auto other = ShmRegion::attach(region.fd());
  EXPECT_EQ(other.nr_kthreads(), 3u);
  std::uint8_t msg[1] = {42};
  ASSERT_TRUE(region.rings(2).rx.try_push(kPeer, kLocal, 0, msg));
  EXPECT_EQ(other.rings(2).rx.occupancy(), 1u);
  EXPECT_EQ(RingView::payload(other.rings(2).rx.peek())[0], 42);
}

TEST(Rings, BadGeometryAndBadRegionsAreRejected) {
  EXPECT_THROW(ShmRegion::create(0, 8), std::invalid_argument);
  EXPECT_THROW(ShmRegion::create(1, 6), std::invalid_argument);
  EXPECT_THROW(ShmRegion::create(KAIROS_DP_MAX_KTHREADS + 1, 8), std::invalid_argument);
  auto region = ShmRegion::create(1, 8);
  EXPECT_THROW(region.rings(1), std::out_of_range);
  // A region whose header lies about its version, or random memory.
  auto* hdr = static_cast<kairos_dp_region*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, region.fd(), 0));
  ASSERT_NE(hdr, MAP_FAILED);
  hdr->version = 99;
  EXPECT_THROW(ShmRegion::attach(region.fd()), std::invalid_argument);
  hdr->version = KAIROS_DP_ABI_VERSION;
  hdr->nr_slots = 1 << 20;
  EXPECT_THROW(ShmRegion::attach(region.fd()), std::invalid_argument);
  munmap(hdr, 4096);
  int fd = memfd_create("junk", 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  EXPECT_THROW(ShmRegion::attach(fd), std::invalid_argument);
  close(fd);
}

TEST(Rings, SpscAcrossThreadsKeepsOrderAndLosesNothing) {
  auto region = ShmRegion::create(1, 64);
  auto r = region.rings(0).rx;
  constexpr std::uint32_t kN = 200000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kN;) {
      std::uint8_t b[4];
      std::memcpy(b, &i, 4);
      if (r.try_push(kPeer, kLocal, i, b)) i++;
    }
  });
  for (std::uint32_t want = 0; want < kN;) {
    const kairos_dp_slot* s = r.peek();
    if (!s) continue;
    std::uint32_t got;
    std::memcpy(&got, RingView::payload(s).data(), 4);
    ASSERT_EQ(got, want);
    ASSERT_EQ(s->flow_hash, want);
    r.release();
    want++;
  }
  producer.join();
  EXPECT_EQ(r.occupancy(), 0u);
}

TEST(Rings, ParkedConsumerIsWokenByEveryPushNeverLost) {
  // A lost wakeup would leave the consumer asleep for the whole (long)
  // park timeout; every wait here must end long before it.
  auto region = ShmRegion::create(1, 64);
  auto r = region.rings(0).rx;
  constexpr int kN = 3000;
  std::thread producer([&] {
    std::uint8_t b[1] = {0};
    for (int i = 0; i < kN; i++) {
      std::this_thread::sleep_for(std::chrono::microseconds(i % 3 ? 0 : 20));
      while (!r.try_push(kPeer, kLocal, 0, b)) std::this_thread::yield();
      r.wake_consumer();
    }
  });
  int slow = 0;
  for (int got = 0; got < kN;) {
    if (r.peek()) {
      r.release();
      got++;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    r.park(std::chrono::seconds(5));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(2)) slow++;
  }
  producer.join();
  EXPECT_EQ(slow, 0);
}

}  // namespace
}  // namespace kairos::dp
