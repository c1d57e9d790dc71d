// Shenango's congestion rule on free-running counters.
#include <kairos/allocator/congestion.hpp>

#include <gtest/gtest.h>

namespace kairos::policy {
namespace {

TEST(StillQueued, ItemSeenLastPollNotYetConsumed) {
  EXPECT_TRUE(still_queued(/*prev_head=*/10, /*tail_now=*/9));
  EXPECT_FALSE(still_queued(10, 10));
  EXPECT_FALSE(still_queued(10, 11));
}

TEST(StillQueued, WrapAround) {
  // Head seen just before the 32-bit wrap; the tail is still behind it.
  EXPECT_TRUE(still_queued(0xffffffffu, 0xfffffffeu));
  // Head wrapped past zero, tail still before the wrap: still queued.
  EXPECT_TRUE(still_queued(2u, 0xfffffff0u));
  // Tail wrapped past the old head: drained.
  EXPECT_FALSE(still_queued(0xfffffff0u, 3u));
}

TEST(QueueTracker, FirstObservationIsNeverCongested) {
  QueueTracker t;
  EXPECT_FALSE(t.observe(5, 0));  // 5 queued, but nothing to compare with
  EXPECT_TRUE(t.observe(5, 0));   // same 5 still there
}

TEST(QueueTracker, NewArrivalsAreNotCongestionIfOldOnesDrained) {
  QueueTracker t;
  t.observe(3, 0);                // items 0..2 queued
  EXPECT_FALSE(t.observe(9, 3));  // 0..2 consumed; 3..8 are new
  EXPECT_TRUE(t.observe(9, 8));   // item 8 seen last time is still queued
}

TEST(QueueTracker, EmptyQueueNeverCongested) {
  QueueTracker t;
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(t.observe(7, 7));
}

TEST(QueueTracker, CongestionAcrossCounterWrap) {
  QueueTracker t;
  t.observe(0xfffffffeu + 4u, 0xfffffffeu);  // head wrapped to 2
  EXPECT_TRUE(t.observe(5u, 0xffffffffu));
  EXPECT_FALSE(t.observe(5u, 5u));
}

TEST(QueueTracker, ResetForgetsThePreviousPoll) {
  QueueTracker t;
  t.observe(4, 0);
  t.reset();
  EXPECT_FALSE(t.observe(4, 0));
}

TEST(BpfQueue, OldestWaitingSincePreviousPoll) {
  AppQueueStat s{2, 1000};
  EXPECT_TRUE(bpf_queue_congested(s, 1000, true));   // queued at that poll
  EXPECT_TRUE(bpf_queue_congested(s, 4000, true));
  EXPECT_FALSE(bpf_queue_congested(s, 999, true));   // arrived after it
  EXPECT_FALSE(bpf_queue_congested(s, 4000, false)); // no previous poll
  s.queued = 0;
  EXPECT_FALSE(bpf_queue_congested(s, 4000, true));
}

}  // namespace
}  // namespace kairos::policy
