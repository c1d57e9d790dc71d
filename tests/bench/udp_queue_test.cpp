#include <kairos/bench/udp_queue.hpp>

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

// One thread, two queues (two kthreads' rings): wait_any across them
// completes whichever queue's pop the dataplane fills, times out with
// nothing, and refuses bad lists without consuming anything.
TEST(UdpQueue, WaitAnyAcrossQueues) {
  auto region = ShmRegion::create(2, 8);
  UdpQueue q0(region.rings(0), kLocal, 10), q1(region.rings(1), kLocal, 10);
  const QToken p0 = q0.pop(), p1 = q1.pop();
  const std::pair<UdpQueue*, QToken> both[] = {{&q0, p0}, {&q1, p1}};
  EXPECT_FALSE(wait_any(both, 2ms));
  std::array<std::uint8_t, 1> m{5};
  ASSERT_TRUE(region.rings(1).rx.try_push(kPeer, kLocal, 0, m));
  auto r = wait_any(both, 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 1u);
  EXPECT_EQ(r->second.qt, p1);
  EXPECT_EQ(r->second.data, std::vector<std::uint8_t>({5}));
  // A push on q1 and the still-pending pop on q0: the push completes.
  const QToken s1 = q1.push(kPeer, m);
  const std::pair<UdpQueue*, QToken> mixed[] = {{&q0, p0}, {&q1, s1}};
  r = wait_any(mixed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 1u);
  EXPECT_EQ(r->second.op, QResult::Op::kPush);
  // Bad lists: nothing is consumed (p0 still completes afterwards).
  const std::pair<UdpQueue*, QToken> unknown[] = {{&q0, p0}, {&q1, 999}};
  EXPECT_THROW(wait_any(unknown), std::invalid_argument);
  const std::pair<UdpQueue*, QToken> null_queue[] = {{nullptr, p0}};
  EXPECT_THROW(wait_any(null_queue), std::invalid_argument);
  EXPECT_THROW(wait_any(std::span<const std::pair<UdpQueue*, QToken>>()),
               std::invalid_argument);
  ASSERT_TRUE(region.rings(0).rx.try_push(kPeer, kLocal, 0, m));
  const std::pair<UdpQueue*, QToken> first[] = {{&q0, p0}};
  r = wait_any(first, 1s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->second.qt, p0);
}

}  // namespace
}  // namespace kairos::dp
