#include <kairos/dataplane/queue_api.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <thread>

namespace kairos::dp {
namespace {

using namespace std::chrono_literals;

const Endpoint kPeer = Endpoint::v4(0x0a000001, 1234);
const Endpoint kLocal = Endpoint::v4(0x0a000002, 8000);

TEST(UdpQueue, PopCompletesWhenTheDataplaneDelivers) {
  auto region = ShmRegion::create(1, 8);
  UdpQueue q(region.rings(0), kLocal);
  QToken pop = q.pop();
  EXPECT_FALSE(q.wait(pop, 1ms));  // nothing yet: timeout, still pending
  std::array<std::uint8_t, 2> msg{9, 8};
  ASSERT_TRUE(region.rings(0).rx.try_push(kPeer, kLocal, 0, msg));
  auto r = q.wait(pop);
  EXPECT_EQ(r.op, QResult::Op::kPop);
  EXPECT_EQ(r.peer, kPeer);
  EXPECT_EQ(r.data, std::vector<std::uint8_t>({9, 8}));
  // The slot went back at once: the result owns its bytes.
  EXPECT_EQ(region.rings(0).rx.occupancy(), 0u);
  EXPECT_THROW(q.wait(pop), std::invalid_argument);  // already completed
  EXPECT_THROW(q.wait(12345), std::invalid_argument);
}

TEST(UdpQueue, PushCopiesSoTheCallerMayReuseItsBufferAndKeepsOrder) {
  auto region = ShmRegion::create(1, 2);
  UdpQueue q(region.rings(0), kLocal);
  std::array<std::uint8_t, 1> buf{1};
  QToken a = q.push(kPeer, buf);
  buf[0] = 2;
  QToken b = q.push(kPeer, buf);
  buf[0] = 3;
  QToken c = q.push(kPeer, buf);  // ring (2 slots) full: held by the queue
  buf[0] = 99;
  EXPECT_EQ(q.wait(a).op, QResult::Op::kPush);
  EXPECT_EQ(q.wait(b).op, QResult::Op::kPush);
  EXPECT_FALSE(q.wait(c, 1ms));
  auto tx = region.rings(0).tx;
  EXPECT_EQ(RingView::payload(tx.peek())[0], 1);
  tx.release();
  q.wait(c);
  EXPECT_EQ(RingView::payload(tx.peek())[0], 2);
  tx.release();
  const kairos_dp_slot* s = tx.peek();
  EXPECT_EQ(RingView::payload(s)[0], 3);
  EXPECT_EQ(Endpoint::from_abi(s->peer), kPeer);
  EXPECT_EQ(Endpoint::from_abi(s->local), kLocal);
  std::vector<std::uint8_t> big(KAIROS_DP_MAX_PAYLOAD + 1);
  EXPECT_THROW(q.push(kPeer, big), std::invalid_argument);
}

TEST(UdpQueue, WaitAnyReturnsTheFirstCompleted) {
  auto region = ShmRegion::create(1, 8);
  UdpQueue q(region.rings(0), kLocal);
  QToken p1 = q.pop();
  QToken p2 = q.pop();
  std::array<QToken, 2> both{p2, p1};
  EXPECT_FALSE(q.wait_any(both, 1ms));
  std::thread dataplane([&] {
    std::this_thread::sleep_for(5ms);
    std::array<std::uint8_t, 1> m{5};
    region.rings(0).rx.try_push(kPeer, kLocal, 0, m);
  });
  auto r = q.wait_any(both, 10s);
  dataplane.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 1u);  // p1 was first in line for data
  EXPECT_EQ(r->second.qt, p1);
  EXPECT_THROW(q.wait_any({}), std::invalid_argument);
}

}  // namespace
}  // namespace kairos::dp
