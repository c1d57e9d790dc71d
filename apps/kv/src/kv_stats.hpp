// Server-wide counters of kairos-kv. Each connection adds to one stripe
// (chosen when it opens) with relaxed atomics, so hot counters do not
// bounce one cache line between kthreads; `stats` sums the stripes.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kairos::kv {

#define KAIROS_KV_COUNTERS(X) \
  X(cmd_get) X(cmd_set) X(cmd_flush) X(cmd_touch) X(get_hits) X(get_misses) \
  X(get_expired) X(get_flushed) X(delete_misses) X(delete_hits)          \
  X(incr_misses) X(incr_hits) X(decr_misses) X(decr_hits) X(cas_misses)  \
  X(cas_hits) X(cas_badval) X(touch_hits) X(touch_misses)                \
  X(store_too_large) X(store_no_memory) X(bytes_read) X(bytes_written)

enum class Counter : unsigned {
#define KAIROS_KV_ENUM(n) n,
  KAIROS_KV_COUNTERS(KAIROS_KV_ENUM)
#undef KAIROS_KV_ENUM
  kCount
};

inline constexpr const char* kCounterNames[] = {
#define KAIROS_KV_NAME(n) #n,
    KAIROS_KV_COUNTERS(KAIROS_KV_NAME)
#undef KAIROS_KV_NAME
};

struct alignas(64) CounterStripe {
  std::array<std::atomic<std::uint64_t>, static_cast<unsigned>(Counter::kCount)> v{};
  void add(Counter c, std::uint64_t n = 1) {
    v[static_cast<unsigned>(c)].fetch_add(n, std::memory_order_relaxed);
  }
};

class ServerCounters {
 public:
  static constexpr std::size_t kStripes = 64;
  CounterStripe& stripe(std::size_t i) { return stripes_[i % kStripes]; }
  std::uint64_t total(Counter c) const {
    std::uint64_t t = 0;
    for (const auto& s : stripes_)
      t += s.v[static_cast<unsigned>(c)].load(std::memory_order_relaxed);
    return t;
  }
  void reset() {
    for (auto& s : stripes_)
      for (auto& x : s.v) x.store(0, std::memory_order_relaxed);
  }
  // Connections: current, ever accepted, refused for -c.
  std::atomic<std::uint64_t> curr_connections{0};
  std::atomic<std::uint64_t> total_connections{0};
  std::atomic<std::uint64_t> rejected_connections{0};

 private:
  std::array<CounterStripe, kStripes> stripes_{};
};

}  // namespace kairos::kv
