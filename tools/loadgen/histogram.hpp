// Latency histogram with bounded relative error (the HdrHistogram layout:
// log-linear buckets). Values below 256 are exact; above, every power of
// two [2^m, 2^(m+1)) is split into 128 equal buckets, so a bucket's width
// is at most 1/128 of its lower bound and reporting its midpoint is off by
// at most 1/256 (0.4%) of the true value. 7424 counters cover all of
// uint64 (nanoseconds: 584 years) in 58 KiB, so each client thread keeps
// its own and they are merged at the end by adding counters.
//
// Hand-written because no C or C++ HdrHistogram is packaged in Debian and
// the layout is a few lines of bit arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kairos::loadgen {

class Histogram {
 public:
  static constexpr int kSubBits = 7;                       // 128 buckets per octave
  static constexpr std::uint64_t kExact = 2u << kSubBits;  // values below are exact
  static constexpr std::size_t kBuckets = kExact + (63 - kSubBits) * (1u << kSubBits);

  Histogram();
  void record(std::uint64_t v);
  void merge(const Histogram& other);
  void clear();

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  // The value at percentile p (0 < p <= 100): the sample of rank
  // ceil(p/100 * count) in sorted order, within the error bound; 0 if empty.
  std::uint64_t percentile(double p) const;

  struct Bucket {
    std::uint64_t lower, width, count;
  };
  std::vector<Bucket> nonempty() const;  // in increasing order

  static std::size_t index_of(std::uint64_t v);
  static std::uint64_t lower_of(std::size_t i);
  static std::uint64_t width_of(std::size_t i);

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0, min_ = UINT64_MAX, max_ = 0;
  double sum_ = 0;
};

}  // namespace kairos::loadgen
