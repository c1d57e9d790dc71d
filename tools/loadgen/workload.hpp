// What the load looks like: when requests arrive (Poisson), which key each
// one touches (uniform or Zipf popularity), whether it reads or writes, and
// how large the written values are. Every generator is seeded, so a run is
// reproducible for a given --seed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace kairos::loadgen {

// Open-loop arrivals: exponential inter-arrival times at `rate` per second,
// so the arrivals form a Poisson process. Times are nanoseconds from the
// start of the run, accumulated in double so that rounding never drifts.
class PoissonSchedule {
 public:
  PoissonSchedule(double rate_per_s, std::uint64_t seed);
  std::int64_t next_ns();  // the next arrival, strictly not before the last
 private:
  std::mt19937_64 rng_;
  std::exponential_distribution<double> gap_ns_;
  double t_ns_ = 0;
};

// Key popularity. Zipf: P(rank k) proportional to 1 / k^s over n keys,
// sampled by binary search in the cumulative table (n doubles: exact, and
// fast enough for the keyspaces a cache benchmark uses, up to kMaxKeys).
class KeyChooser {
 public:
  static constexpr std::uint64_t kMaxKeys = 50'000'000;
  // zipf_s == 0: uniform. Throws std::invalid_argument on bad input.
  KeyChooser(std::uint64_t keys, double zipf_s, std::uint64_t seed);
  std::uint64_t next();  // a key index in [0, keys)
  std::uint64_t keys() const { return keys_; }
 private:
  std::uint64_t keys_;
  std::mt19937_64 rng_;
  std::vector<double> cdf_;  // empty for uniform
};

// "uniform" or "zipf:S" with S > 0; returns S (0 for uniform).
double parse_key_distribution(const std::string& spec);

// Value sizes: "N" or "fixed:N", "uniform:A-B", "exp:MEAN", or
// "gpareto:LOC,SCALE,SHAPE" (the generalized Pareto fit of Facebook's ETC
// pool is gpareto:0,214.476,0.348238); samples are clamped to [1, max].
struct ValueSizeSpec {
  enum class Kind { Fixed, Uniform, Exponential, GPareto } kind = Kind::Fixed;
  double a = 32, b = 0, c = 0;
  std::string str() const;
};
ValueSizeSpec parse_value_size(const std::string& spec);  // throws invalid_argument

class ValueSizer {
 public:
  ValueSizer(const ValueSizeSpec& spec, std::size_t max_size, std::uint64_t seed);
  std::size_t next();
  std::size_t max_size() const { return max_; }
 private:
  ValueSizeSpec spec_;
  std::size_t max_;
  std::mt19937_64 rng_;
};

// The textual key of index i, padded with zeros to `width` characters
// (at least as wide as the number itself needs): "k000…0042".
std::string key_name(std::uint64_t i, std::size_t width);

}  // namespace kairos::loadgen
