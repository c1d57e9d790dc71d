#include <kairos/relay/bucket_table.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

namespace kairos::dp {
namespace {

std::map<std::uint32_t, int> per_kthread(const BucketTable& t) {
  std::map<std::uint32_t, int> m;
  for (std::uint32_t b = 0; b < t.nr_buckets(); b++) m[t.kthread_of_bucket(b)]++;
  return m;
}

TEST(BucketTable, EmptyUntilAGrantThenSpreadEvenly) {
  BucketTable t(64);
  EXPECT_EQ(t.kthread_of(12345), BucketTable::kNone);
  std::vector<std::uint32_t> ks{3, 5};
  EXPECT_EQ(t.set_active(ks), 64u);
  auto m = per_kthread(t);
  EXPECT_EQ(m[3], 32);
  EXPECT_EQ(m[5], 32);
}

TEST(BucketTable, FlowsStickWhileGrantsDoNotChange) {
  BucketTable t(64);
  std::vector<std::uint32_t> ks{0, 1, 2};
  t.set_active(ks);
  std::vector<std::uint32_t> before;
  for (std::uint32_t h = 0; h < 1000; h++) before.push_back(t.kthread_of(h * 2654435761u));
  EXPECT_EQ(t.set_active(ks), 0u);  // same grant again: nothing moves
  std::vector<std::uint64_t> w(64, 5);
  w[3] = 100000;  // a hot bucket alone moves nothing
  EXPECT_EQ(t.rebalance(w, 100), 0u);
  for (std::uint32_t h = 0; h < 1000; h++)
    EXPECT_EQ(t.kthread_of(h * 2654435761u), before[h]);
}

TEST(BucketTable, RevokedKthreadLosesAllBucketsAtOnceOthersKeepTheirs) {
  BucketTable t(60);
  std::vector<std::uint32_t> three{0, 1, 2};
  t.set_active(three);
  std::vector<std::uint32_t> owner(60);
  for (std::uint32_t b = 0; b < 60; b++) owner[b] = t.kthread_of_bucket(b);
  std::vector<std::uint32_t> two{0, 2};
  EXPECT_EQ(t.set_active(two), 20u);  // exactly kthread 1's buckets
  for (std::uint32_t b = 0; b < 60; b++) {
    EXPECT_NE(t.kthread_of_bucket(b), 1u);
    if (owner[b] != 1) {
      EXPECT_EQ(t.kthread_of_bucket(b), owner[b]);
    }
  }
  auto m = per_kthread(t);
  EXPECT_EQ(m[0], 30);
  EXPECT_EQ(m[2], 30);
}

TEST(BucketTable, NewKthreadGetsBucketsGraduallyWithACapPerInterval) {
  BucketTable t(64);
  std::vector<std::uint32_t> one{0};
  t.set_active(one);
  std::vector<std::uint32_t> two{0, 1};
  EXPECT_EQ(t.set_active(two), 0u);  // adding moves nothing by itself
  std::vector<std::uint64_t> w(64, 0);
  std::size_t intervals = 0, total = 0;
  while (std::size_t m = t.rebalance(w, 4)) {
    EXPECT_LE(m, 4u);
    total += m;
    intervals++;
    ASSERT_LT(intervals, 100u);
  }
  EXPECT_EQ(total, 32u);
  EXPECT_EQ(intervals, 8u);
  auto m = per_kthread(t);
  EXPECT_EQ(m[0], 32);
  EXPECT_EQ(m[1], 32);
}

TEST(BucketTable, BestMoveTakesTheQuietestBucketAndTrafficAloneMovesNothing) {
  BucketTable t(4);
  std::vector<std::uint32_t> two{0, 1};
  t.set_active(two);  // 0->0, 1->1, 2->0, 3->1
  std::vector<std::uint64_t> skewed{1000, 0, 5000, 0};
  EXPECT_EQ(t.rebalance(skewed, 10), 0u);  // counts even: flows stay
  std::vector<std::uint32_t> one{1};
  t.set_active(one);
  t.set_active(two);  // all four on kthread 1 now, kthread 0 empty
  std::vector<std::uint64_t> w{30, 10, 20, 40};
  EXPECT_EQ(t.rebalance(w, 10), 2u);
  EXPECT_EQ(t.kthread_of_bucket(1), 0u);  // the two quietest moved
  EXPECT_EQ(t.kthread_of_bucket(2), 0u);
  EXPECT_EQ(t.kthread_of_bucket(0), 1u);
  EXPECT_EQ(t.kthread_of_bucket(3), 1u);
}

TEST(BucketTable, OrphansGoToTheKthreadWithFewestBucketsThenLeastTraffic) {
  BucketTable t(4);
  std::vector<std::uint32_t> three{0, 1, 2};
  t.set_active(three);  // buckets: 0->0, 1->1, 2->2, 3->0
  std::vector<std::uint64_t> w{50, 0, 0, 50};
  std::vector<std::uint32_t> two{0, 2};
  EXPECT_EQ(t.set_active(two, w), 1u);
  EXPECT_EQ(t.kthread_of_bucket(1), 2u);  // kthread 2 has one bucket, 0 two
  std::vector<std::uint32_t> three_again{0, 2, 5};
  t.set_active(three_again);
  std::vector<std::uint64_t> w2{90, 0, 1, 0};  // kthread 0: {0,3}=90, 2: {1,2}=1
  std::vector<std::uint32_t> drop5{0, 2};
  // Nothing on 5 yet, so removing it moves nothing.
  EXPECT_EQ(t.set_active(drop5, w2), 0u);
}

TEST(BucketTable, EmptyGrantUnassignsEverythingAndDuplicatesAreIgnored) {
  BucketTable t(8);
  std::vector<std::uint32_t> dup{4, 4, 4};
  t.set_active(dup);
  EXPECT_EQ(t.active().size(), 1u);
  EXPECT_EQ(t.set_active({}), 8u);
  for (std::uint32_t b = 0; b < 8; b++) EXPECT_EQ(t.kthread_of_bucket(b), BucketTable::kNone);
  EXPECT_THROW(BucketTable(0), std::invalid_argument);
}

}  // namespace
}  // namespace kairos::dp
