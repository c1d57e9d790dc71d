// A histogram of durations cheap enough for the allocator's poll loop:
// power-of-two buckets (256 ns, 512 ns, ... 2^27 ns ~ 134 ms, then +Inf),
// one writer thread (plain relaxed load + store, no read-modify-write),
// any number of readers (relaxed loads; a reader may see a sample in a
// bucket before it is in the sum, which a scrape tolerates).
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <span>

namespace kairos {

class Log2Histogram {
 public:
  static constexpr unsigned kMinShift = 8;  // first bound: 2^8 ns
  static constexpr unsigned kBuckets = 21;  // 20 bounds + the +Inf bucket

  static unsigned index(std::uint64_t ns) {
    if (ns <= (1ull << kMinShift)) return 0;
    const unsigned ceil_log2 = 64u - static_cast<unsigned>(__builtin_clzll(ns - 1));
    const unsigned i = ceil_log2 - kMinShift;
    return i < kBuckets - 1 ? i : kBuckets - 1;
  }

  // Only ever called from one thread.
  void record(std::uint64_t ns) {
    auto& b = buckets_[index(ns)];
    b.store(b.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }

  status::Histogram read() const {
    std::array<std::uint64_t, kBuckets> counts;
    for (unsigned i = 0; i < kBuckets; ++i) counts[i] = buckets_[i].load(std::memory_order_relaxed);
    return from_counts(counts, sum_ns_.load(std::memory_order_relaxed));
  }

  // A histogram kept elsewhere in these buckets (the scheduler's
  // queueing delays, struct kairos_app_wait_hist).
  static status::Histogram from_counts(std::span<const std::uint64_t, kBuckets> counts,
                                       std::uint64_t sum_ns) {
    status::Histogram h;
    for (unsigned i = 0; i + 1 < kBuckets; ++i)
      h.bounds_s.push_back(static_cast<double>(1ull << (kMinShift + i)) / 1e9);
    h.counts.assign(counts.begin(), counts.end());
    h.sum_s = static_cast<double>(sum_ns) / 1e9;
    return h;
  }

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace kairos
