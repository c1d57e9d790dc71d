#include "histogram.hpp"

#include <algorithm>
#include <cmath>

namespace kairos::loadgen {

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::index_of(std::uint64_t v) {
  if (v < kExact) return static_cast<std::size_t>(v);
  const int msb = 63 - __builtin_clzll(v);  // >= kSubBits + 1
  const int shift = msb - kSubBits;         // >= 1
  const std::uint64_t sub = (v >> shift) - (1u << kSubBits);  // 0..127
  return kExact + static_cast<std::size_t>(shift - 1) * (1u << kSubBits) + sub;
}

std::uint64_t Histogram::lower_of(std::size_t i) {
  if (i < kExact) return i;
  const std::size_t k = i - kExact;
  const int shift = static_cast<int>(k >> kSubBits) + 1;
  const std::uint64_t sub = (k & ((1u << kSubBits) - 1)) + (1u << kSubBits);
  return sub << shift;
}

std::uint64_t Histogram::width_of(std::size_t i) {
  if (i < kExact) return 1;
  return std::uint64_t{1} << (((i - kExact) >> kSubBits) + 1);
}

void Histogram::record(std::uint64_t v) {
  counts_[index_of(v)]++;
  count_++;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<double>(v);
}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

void Histogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_))));
  if (rank >= count_) return max_;  // the extremes are kept exactly
  if (rank == 1) return min_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; i++) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t mid = lower_of(i) + width_of(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

std::vector<Histogram::Bucket> Histogram::nonempty() const {
  std::vector<Bucket> out;
  for (std::size_t i = 0; i < kBuckets; i++)
    if (counts_[i]) out.push_back({lower_of(i), width_of(i), counts_[i]});
  return out;
}

}  // namespace kairos::loadgen
