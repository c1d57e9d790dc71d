// Which kthread serves which flow: a bucket -> kthread table over the app's
// active kthreads (pure policy, no I/O).
//
// A flow hashes to a fixed bucket; a bucket stays on its kthread while the
// active set does not change, so flows are sticky (traffic alone never
// moves a bucket). When a kthread loses its grant its buckets must move at
// once (nobody would serve them). When a kthread is added, buckets move to
// it Taiji-style: rebalance() makes the best single move repeatedly, at
// most max_moves per call, so a grant change disturbs a bounded number of
// flows per interval. The goal is even bucket counts; the best move takes,
// from the kthread with the most buckets to the one with the fewest, the
// bucket with the least recent traffic (the fewest packets disturbed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace kairos::dp {

class BucketTable {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  explicit BucketTable(std::uint32_t nr_buckets);

  std::uint32_t nr_buckets() const { return static_cast<std::uint32_t>(owner_.size()); }
  std::uint32_t bucket_of(std::uint32_t flow_hash) const {
    return flow_hash % nr_buckets();
  }
  // kNone while no kthread is active.
  std::uint32_t kthread_of_bucket(std::uint32_t bucket) const { return owner_[bucket]; }
  std::uint32_t kthread_of(std::uint32_t flow_hash) const {
    return owner_[bucket_of(flow_hash)];
  }
  const std::vector<std::uint32_t>& active() const { return active_; }

  // New active set (duplicates ignored). Buckets of kthreads that left move
  // now, each to the remaining kthread with the fewest buckets (then the
  // least traffic); with an empty table the first set spreads all buckets
  // round-robin. weights (one per bucket, may be empty) is the recent
  // traffic per bucket. Returns buckets moved.
  std::size_t set_active(std::span<const std::uint32_t> kthreads,
                         std::span<const std::uint64_t> weights = {});

  // Up to max_moves best single moves; stops when bucket counts differ by
  // at most one. Returns moves made.
  std::size_t rebalance(std::span<const std::uint64_t> weights,
                        std::size_t max_moves);

  // Buckets per active kthread (same order as active()).
  std::vector<std::uint32_t> counts() const;

 private:
  static std::uint64_t weight(std::span<const std::uint64_t> w, std::uint32_t b) {
    return b < w.size() ? w[b] : 0;
  }
  std::vector<std::uint32_t> owner_;
  std::vector<std::uint32_t> active_;
};

}  // namespace kairos::dp
