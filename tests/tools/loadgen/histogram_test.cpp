// The histogram's promises: relative error <= 1% on percentiles of any
// value range, exact small values and extremes, and merging equal to
// recording everything in one.
#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using kairos::loadgen::Histogram;

namespace {

std::uint64_t exact_percentile(std::vector<std::uint64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = std::max<std::size_t>(1, std::ceil(p / 100.0 * v.size()));
  return v[rank - 1];
}

}  // namespace

TEST(Histogram, BucketsTileTheRange) {
  for (std::size_t i = 0; i + 1 < Histogram::kBuckets; i++)
    ASSERT_EQ(Histogram::lower_of(i) + Histogram::width_of(i), Histogram::lower_of(i + 1)) << i;
  EXPECT_EQ(Histogram::index_of(UINT64_MAX), Histogram::kBuckets - 1);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; i++) {
    const std::uint64_t v = rng() >> (rng() % 64);
    const std::size_t b = Histogram::index_of(v);
    ASSERT_GE(v, Histogram::lower_of(b));
    ASSERT_LT(v - Histogram::lower_of(b), Histogram::width_of(b));
    // A bucket is at most 1/128 of its lower bound wide.
    if (v >= Histogram::kExact) {
      ASSERT_LE(Histogram::width_of(b) * 128, Histogram::lower_of(b));
    }
  }
}

// Log-uniform values from 1 ns to 100 s: every percentile within 1% of the
// exact one (the layout promises 0.4%).
TEST(Histogram, PercentilesWithinOnePercent) {
  for (std::uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> exp10(0, 11);
    std::vector<std::uint64_t> v;
    Histogram h;
    for (int i = 0; i < 200000; i++) {
      const auto x = static_cast<std::uint64_t>(std::pow(10.0, exp10(rng)));
      v.push_back(x);
      h.record(x);
    }
    for (double p : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
      const double exact = exact_percentile(v, p);
      const double got = h.percentile(p);
      EXPECT_LE(std::abs(got - exact), 0.01 * exact) << "p" << p << " seed " << seed;
    }
    EXPECT_EQ(h.max(), *std::max_element(v.begin(), v.end()));
    EXPECT_EQ(h.min(), *std::min_element(v.begin(), v.end()));
    EXPECT_EQ(h.count(), v.size());
  }
}

// Latency-like values (a body around 50 us and a long tail) and the worst
// relative error over many percentiles.
TEST(Histogram, WorstErrorOnLatencyShapedData) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> body(std::log(50'000.0), 0.5);
  std::exponential_distribution<double> tail(1.0 / 5e6);
  std::vector<std::uint64_t> v;
  Histogram h;
  for (int i = 0; i < 300000; i++) {
    const auto x = static_cast<std::uint64_t>(i % 100 == 0 ? tail(rng) : body(rng));
    v.push_back(x);
    h.record(x);
  }
  double worst = 0;
  for (double p = 0.5; p <= 100; p += 0.5) {
    const double exact = exact_percentile(v, p);
    worst = std::max(worst, std::abs(double(h.percentile(p)) - exact) / std::max(1.0, exact));
  }
  EXPECT_LE(worst, 0.01);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 0; v < 200; v++) h.record(v);
  EXPECT_EQ(h.percentile(50), 99u);
  EXPECT_EQ(h.percentile(100), 199u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 99.5);
}

TEST(Histogram, EmptyIsAllZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0);
  EXPECT_TRUE(h.nonempty().empty());
}

TEST(Histogram, MergeEqualsRecordingTogether) {
  std::mt19937_64 rng(5);
  Histogram a, b, all;
  for (int i = 0; i < 50000; i++) {
    const std::uint64_t x = rng() % 10'000'000;
    (i % 3 ? a : b).record(x);
    all.record(x);
  }
  Histogram m;
  m.merge(a);
  m.merge(b);
  EXPECT_EQ(m.count(), all.count());
  EXPECT_EQ(m.min(), all.min());
  EXPECT_EQ(m.max(), all.max());
  for (double p : {50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(m.percentile(p), all.percentile(p));
  const auto x = m.nonempty(), y = all.nonempty();
  ASSERT_EQ(x.size(), y.size());
  for (std::size_t i = 0; i < x.size(); i++) EXPECT_EQ(x[i].count, y[i].count);
  m.clear();
  EXPECT_EQ(m.count(), 0u);
}

TEST(Histogram, HugeValuesDoNotOverflow) {
  Histogram h;
  h.record(UINT64_MAX);
  h.record(1);
  EXPECT_EQ(h.max(), UINT64_MAX);
  EXPECT_EQ(h.percentile(100), UINT64_MAX);
  EXPECT_EQ(h.percentile(50), 1u);
}
