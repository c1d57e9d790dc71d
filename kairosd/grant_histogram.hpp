// The scheduler's grant-latency histograms (struct kairos_grant_hist,
// sched_abi.h v10) as status::Histogram: the bounds of its log-linear
// buckets, which kairos_grant_bucket() in the same header assigns.
#pragma once

#include <kairos/kairosd/status_snapshot.hpp>
#include <kairos/sched_abi.h>

#include <cstdint>

namespace kairos {

// The upper bound (inclusive, ns) of bucket b < KAIROS_GRANT_HIST_BUCKETS - 1.
constexpr std::uint64_t grant_bucket_bound_ns(unsigned b) {
  if (b == 0) return 1ull << KAIROS_GRANT_HIST_MIN_SHIFT;
  const unsigned k = KAIROS_GRANT_HIST_MIN_SHIFT + (b - 1) / 4;
  return (1ull << k) + ((b - 1) % 4 + 1) * (1ull << (k - 2));
}

inline status::Histogram grant_histogram(const kairos_grant_hist& g) {
  status::Histogram h;
  for (unsigned b = 0; b + 1 < KAIROS_GRANT_HIST_BUCKETS; ++b)
    h.bounds_s.push_back(static_cast<double>(grant_bucket_bound_ns(b)) / 1e9);
  h.counts.assign(g.count, g.count + KAIROS_GRANT_HIST_BUCKETS);
  h.sum_s = static_cast<double>(g.sum_ns) / 1e9;
  return h;
}

}  // namespace kairos
