#include <kairos/relay/bucket_table.hpp>

#include <algorithm>
#include <stdexcept>

namespace kairos::dp {

BucketTable::BucketTable(std::uint32_t nr_buckets) : owner_(nr_buckets, kNone) {
  if (nr_buckets == 0) throw std::invalid_argument("bucket table needs buckets");
}

std::vector<std::uint32_t> BucketTable::counts() const {
  std::vector<std::uint32_t> n(active_.size(), 0);
  for (auto o : owner_) {
    auto it = std::find(active_.begin(), active_.end(), o);
    if (it != active_.end()) n[it - active_.begin()]++;
  }
  return n;
}

std::size_t BucketTable::set_active(std::span<const std::uint32_t> kthreads,
                                    std::span<const std::uint64_t> weights) {
  std::vector<std::uint32_t> next;
  for (auto k : kthreads)
    if (k != kNone && std::find(next.begin(), next.end(), k) == next.end())
      next.push_back(k);
  const bool was_empty = active_.empty();
  active_ = std::move(next);
  std::size_t moved = 0;
  if (active_.empty()) {
    for (auto& o : owner_) {
      moved += o != kNone;
      o = kNone;
    }
    return moved;
  }
  if (was_empty) {
    for (std::uint32_t b = 0; b < nr_buckets(); b++) {
      owner_[b] = active_[b % active_.size()];
      moved++;
    }
    return moved;
  }
  // Orphaned buckets go, heaviest first, to the kthread with the fewest
  // buckets, ties broken by the least traffic.
  std::vector<std::uint32_t> orphans;
  for (std::uint32_t b = 0; b < nr_buckets(); b++)
    if (std::find(active_.begin(), active_.end(), owner_[b]) == active_.end())
      orphans.push_back(b);
  std::stable_sort(orphans.begin(), orphans.end(), [&](auto a, auto b) {
    return weight(weights, a) > weight(weights, b);
  });
  auto count = counts();
  std::vector<std::uint64_t> traffic(active_.size(), 0);
  for (std::uint32_t b = 0; b < nr_buckets(); b++) {
    auto it = std::find(active_.begin(), active_.end(), owner_[b]);
    if (it != active_.end()) traffic[it - active_.begin()] += weight(weights, b);
  }
  for (auto b : orphans) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < active_.size(); i++)
      if (count[i] < count[best] || (count[i] == count[best] && traffic[i] < traffic[best]))
        best = i;
    owner_[b] = active_[best];
    count[best]++;
    traffic[best] += weight(weights, b);
    moved++;
  }
  return moved;
}

std::size_t BucketTable::rebalance(std::span<const std::uint64_t> weights,
                                   std::size_t max_moves) {
  if (active_.size() < 2) return 0;
  auto count = counts();
  std::size_t moves = 0;
  while (moves < max_moves) {
    const auto hi = std::max_element(count.begin(), count.end()) - count.begin();
    const auto lo = std::min_element(count.begin(), count.end()) - count.begin();
    if (count[hi] - count[lo] <= 1) break;  // as even as buckets allow
    std::uint32_t best = kNone;
    for (std::uint32_t b = 0; b < nr_buckets(); b++)
      if (owner_[b] == active_[hi] &&
          (best == kNone || weight(weights, b) < weight(weights, best)))
        best = b;
    owner_[best] = active_[lo];
    count[hi]--;
    count[lo]++;
    moves++;
  }
  return moves;
}

}  // namespace kairos::dp
