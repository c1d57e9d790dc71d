// Arrival schedule, key popularity and value sizes: statistics over many
// samples against the distributions they claim to follow.
#include "workload.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

using namespace kairos::loadgen;

namespace {

struct Moments {
  double mean, cv;
};

Moments gap_moments(double rate, std::uint64_t seed, int n) {
  PoissonSchedule s(rate, seed);
  std::int64_t prev = 0;
  double sum = 0, sumsq = 0;
  for (int i = 0; i < n; i++) {
    const std::int64_t t = s.next_ns();
    EXPECT_GE(t, prev);
    const double gap = static_cast<double>(t - prev);
    sum += gap;
    sumsq += gap * gap;
    prev = t;
  }
  const double mean = sum / n;
  const double var = sumsq / n - mean * mean;
  return {mean, std::sqrt(var) / mean};
}

}  // namespace

// Exponential inter-arrivals: mean 1/rate and coefficient of variation 1.
// With 1e6 samples the standard error of both is about 0.1%; 2% leaves
// room for integer-nanosecond rounding at the highest rate.
TEST(PoissonSchedule, InterArrivalMeanAndCv) {
  for (double rate : {1e3, 1e5, 1e6}) {
    const Moments m = gap_moments(rate, 42, 1'000'000);
    EXPECT_NEAR(m.mean, 1e9 / rate, 0.02 * 1e9 / rate) << "rate " << rate;
    EXPECT_NEAR(m.cv, 1.0, 0.02) << "rate " << rate;
  }
}

// Counts in fixed windows of a Poisson process are Poisson: variance equals
// the mean (a periodic schedule would give variance ~0).
TEST(PoissonSchedule, WindowCountsHavePoissonDispersion) {
  PoissonSchedule s(10'000, 7);
  const std::int64_t window = 10'000'000;  // 10 ms: 100 arrivals expected
  std::vector<int> counts(2000, 0);
  for (;;) {
    const std::int64_t t = s.next_ns();
    const std::size_t w = static_cast<std::size_t>(t / window);
    if (w >= counts.size()) break;
    counts[w]++;
  }
  double sum = 0, sumsq = 0;
  for (int c : counts) {
    sum += c;
    sumsq += double(c) * c;
  }
  const double mean = sum / counts.size(), var = sumsq / counts.size() - mean * mean;
  EXPECT_NEAR(mean, 100, 2);
  EXPECT_NEAR(var / mean, 1.0, 0.15);
}

TEST(PoissonSchedule, SeedMakesItReproducible) {
  PoissonSchedule a(5000, 3), b(5000, 3), c(5000, 4);
  bool differs = false;
  for (int i = 0; i < 100; i++) {
    const auto x = a.next_ns();
    EXPECT_EQ(x, b.next_ns());
    differs |= x != c.next_ns();
  }
  EXPECT_TRUE(differs);
}

TEST(PoissonSchedule, RejectsBadRates) {
  EXPECT_THROW(PoissonSchedule(0, 1), std::invalid_argument);
  EXPECT_THROW(PoissonSchedule(-5, 1), std::invalid_argument);
  EXPECT_THROW(PoissonSchedule(NAN, 1), std::invalid_argument);
}

TEST(KeyChooser, UniformCoversTheKeyspaceEvenly) {
  KeyChooser k(100, 0, 1);
  std::vector<int> n(100, 0);
  for (int i = 0; i < 200'000; i++) n[k.next()]++;
  for (int c : n) EXPECT_NEAR(c, 2000, 300);
}

// Zipf(s): P(rank r) = r^-s / H(n, s). Check the hottest keys and the
// ratio between ranks 1 and 10 (10^s).
TEST(KeyChooser, ZipfFollowsItsLaw) {
  const std::uint64_t n = 1000;
  const double s = 0.99;
  double h = 0;
  for (std::uint64_t r = 1; r <= n; r++) h += std::pow(double(r), -s);
  KeyChooser k(n, s, 9);
  const int samples = 1'000'000;
  std::vector<int> c(n, 0);
  for (int i = 0; i < samples; i++) {
    const auto key = k.next();
    ASSERT_LT(key, n);
    c[key]++;
  }
  for (std::uint64_t r = 1; r <= 5; r++) {
    const double expect = samples * std::pow(double(r), -s) / h;
    EXPECT_NEAR(c[r - 1], expect, 0.03 * expect) << "rank " << r;
  }
  EXPECT_NEAR(double(c[0]) / c[9], std::pow(10.0, s), 0.1 * std::pow(10.0, s));
}

TEST(KeyChooser, RejectsBadInput) {
  EXPECT_THROW(KeyChooser(0, 0, 1), std::invalid_argument);
  EXPECT_THROW(KeyChooser(KeyChooser::kMaxKeys + 1, 0, 1), std::invalid_argument);
  EXPECT_THROW(KeyChooser(10, -1, 1), std::invalid_argument);
}

TEST(Specs, KeyDistribution) {
  EXPECT_EQ(parse_key_distribution("uniform"), 0);
  EXPECT_DOUBLE_EQ(parse_key_distribution("zipf:0.99"), 0.99);
  for (const char* bad : {"", "zipf", "zipf:", "zipf:0", "zipf:-1", "zipf:abc", "zipf:1x", "pareto"})
    EXPECT_THROW(parse_key_distribution(bad), std::invalid_argument) << bad;
}

TEST(Specs, ValueSize) {
  EXPECT_EQ(parse_value_size("32").kind, ValueSizeSpec::Kind::Fixed);
  EXPECT_EQ(parse_value_size("fixed:100").a, 100);
  const auto u = parse_value_size("uniform:10-20");
  EXPECT_EQ(u.kind, ValueSizeSpec::Kind::Uniform);
  EXPECT_EQ(u.b, 20);
  EXPECT_EQ(parse_value_size("exp:300").kind, ValueSizeSpec::Kind::Exponential);
  EXPECT_EQ(parse_value_size("gpareto:0,214.476,0.348238").kind, ValueSizeSpec::Kind::GPareto);
  for (const char* bad : {"", "0", "-3", "1.5", "x", "fixed:", "uniform:5", "uniform:9-3",
                          "uniform:0-3", "exp:0", "gpareto:1,2", "gpareto:0,0,0.3",
                          "gpareto:0,10,1.5", "lognormal:3"})
    EXPECT_THROW(parse_value_size(bad), std::invalid_argument) << bad;
}

TEST(ValueSizer, DistributionsStayInRangeWithTheRightMean) {
  auto mean_of = [](const char* spec, std::size_t max, std::size_t& lo, std::size_t& hi) {
    ValueSizer v(parse_value_size(spec), max, 5);
    double sum = 0;
    lo = SIZE_MAX;
    hi = 0;
    for (int i = 0; i < 200'000; i++) {
      const std::size_t x = v.next();
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      sum += x;
    }
    return sum / 200'000;
  };
  std::size_t lo, hi;
  EXPECT_EQ(mean_of("64", 1000, lo, hi), 64);
  EXPECT_NEAR(mean_of("uniform:10-30", 1000, lo, hi), 20, 0.2);
  EXPECT_EQ(lo, 10u);
  EXPECT_EQ(hi, 30u);
  EXPECT_NEAR(mean_of("exp:200", 100'000, lo, hi), 200, 3);
  EXPECT_GE(lo, 1u);
  // Generalized Pareto mean: loc + scale / (1 - shape).
  EXPECT_NEAR(mean_of("gpareto:0,214.476,0.348238", 1 << 20, lo, hi),
              214.476 / (1 - 0.348238), 15);
  // Clamped to the maximum.
  mean_of("exp:5000", 1000, lo, hi);
  EXPECT_EQ(hi, 1000u);
  EXPECT_THROW(ValueSizer(parse_value_size("2000"), 1000, 1), std::invalid_argument);
  EXPECT_THROW(ValueSizer(parse_value_size("uniform:10-2000"), 1000, 1), std::invalid_argument);
}

TEST(KeyName, PadsToTheWidth) {
  EXPECT_EQ(key_name(42, 8), "k0000042");
  EXPECT_EQ(key_name(42, 2), "k42");
  EXPECT_EQ(key_name(0, 4), "k000");
  EXPECT_EQ(key_name(12345, 16).size(), 16u);
}
