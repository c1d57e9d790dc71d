// The item store of kairos-kv: a hash table split into shards by key hash,
// each with its own mutex, its own LRU list and its share of the counters,
// so that requests for different keys rarely meet on a lock (no global
// lock). Memory is bounded by a byte limit counted the way memcached counts
// an item (header + key + value); when an insert passes the limit, items
// are evicted from the tail of the inserting shard's LRU, then from the
// other shards' tails, one shard lock at a time.
//
// Expiry follows memcached: an exptime of 0 never expires, up to 30 days is
// relative to now, above that an absolute unix time; negative means already
// expired. Expired items are dropped when met (lazy) and by sweep() (the
// server calls it periodically). Time is always passed in (unix seconds),
// so the policy is testable without waiting.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kairos::kv {

inline constexpr std::size_t kMaxKeyLength = 250;
inline constexpr std::int64_t kRelativeExptimeMax = 60 * 60 * 24 * 30;

// Bytes memcached charges for an item: its header (with the CAS id), the
// key with a terminator, the flags when non-zero, the value and its CRLF.
std::size_t item_total_size(std::size_t key_len, std::uint32_t flags,
                            std::size_t value_len);

// Turns a protocol exptime into an absolute unix time (0: never expires).
std::int64_t absolute_exptime(std::int64_t exptime, std::int64_t now,
                              std::int64_t process_start);

enum class StoreMode { kSet, kAdd, kReplace, kAppend, kPrepend, kCas };
enum class StoreResult { kStored, kNotStored, kExists, kNotFound, kTooLarge };
enum class DeltaResult { kOk, kNotFound, kNonNumeric };

// What a read sees, valid only inside the visitor (the shard is locked).
struct ItemRef {
  std::string_view key;
  std::string_view value;
  std::uint32_t flags;
  std::uint64_t cas;
};

struct StoreConfig {
  std::size_t max_bytes = 64u << 20;    // -m
  std::size_t item_size_max = 1u << 20; // -I
  unsigned shards = 64;                 // rounded up to a power of two
  std::int64_t process_start = 0;       // unix seconds (absolute exptimes)
};

// Counters kept by the store (under the shard locks, read without them).
struct StoreCounters {
  std::uint64_t curr_items = 0;
  std::uint64_t total_items = 0;
  std::uint64_t bytes = 0;
  std::uint64_t evictions = 0;
  std::uint64_t expired_unfetched = 0;
  std::uint64_t evicted_unfetched = 0;
  std::uint64_t reclaimed = 0;  // expired items removed
};

class Store {
 public:
  explicit Store(StoreConfig cfg);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const StoreConfig& config() const { return cfg_; }
  // The byte limit (-m); cache_memlimit changes it at run time.
  std::size_t max_bytes() const {
    return max_bytes_.load(std::memory_order_relaxed);
  }
  void set_max_bytes(std::size_t n);
  // Would an item of this size fit under -I at all.
  bool fits(std::size_t key_len, std::uint32_t flags,
            std::size_t value_len) const;

  // get/gets: calls visit(ItemRef) when the key is live; bumps it in LRU.
  // With touch_exptime set (gat/gats), also sets its exptime (protocol
  // value). Returns whether it was found.
  template <typename Visit>
  bool get(std::string_view key, std::int64_t now, Visit&& visit,
           const std::int64_t* touch_exptime = nullptr);

  // set/add/replace/append/prepend/cas. exptime is the protocol value.
  StoreResult store(StoreMode mode, std::string_view key, std::uint32_t flags,
                    std::int64_t exptime, std::string_view value,
                    std::uint64_t cas_in, std::int64_t now);
  // Drops key if present (set that failed for size: memcached's rule that
  // a failed set must not leave the stale value behind).
  bool remove(std::string_view key, std::int64_t now);
  bool touch(std::string_view key, std::int64_t exptime, std::int64_t now);
  // incr/decr: the new value as text in *out (memcached's rules: decr
  // stops at 0, incr wraps at 2^64; a shorter result is padded with
  // spaces in place when the item is long enough).
  DeltaResult delta(std::string_view key, bool incr, std::uint64_t by,
                    std::int64_t now, std::string* out);
  // flush_all: delay <= 0 drops every item now; otherwise, as memcached
  // does, every item stored until a second before now + delay becomes
  // invalid from that second on.
  void flush(std::int64_t delay, std::int64_t now);
  // Removes expired items of up to max_shards shards (rotating); returns
  // how many it removed.
  std::size_t sweep(std::int64_t now, unsigned max_shards);

  StoreCounters counters() const;
  std::uint64_t current_bytes() const {
    return used_.load(std::memory_order_relaxed);
  }
  unsigned shard_count() const { return static_cast<unsigned>(shards_.size()); }

 private:
  struct Item;
  struct Shard;
  Shard& shard_for(std::string_view key, std::size_t* hash) const;
  Item* find_live(Shard& s, std::string_view key, std::size_t hash,
                  std::int64_t now);
  void unlink(Shard& s, Item* it, bool expired);
  void link(Shard& s, Item* it, std::size_t hash);
  void bump(Shard& s, Item* it);
  std::uint64_t next_cas() {
    return cas_.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  bool is_live(const Item* it, std::int64_t now) const;
  void evict_to_limit();
  std::int64_t exptime_of(std::int64_t exptime, std::int64_t now) const;
  static std::string_view item_value(const Item* it);
  static std::string_view item_key(const Item* it);
  static std::uint32_t item_flags(const Item* it);
  static std::uint64_t item_cas(const Item* it);
  void set_exptime(Item* it, std::int64_t abs);

  StoreConfig cfg_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> used_{0};
  std::atomic<std::size_t> max_bytes_{0};
  std::atomic<std::uint64_t> cas_{0};
  std::atomic<std::int64_t> flush_at_{0};  // delayed flush_all: its time
  std::atomic<unsigned> sweep_next_{0};
  std::atomic<unsigned> evict_next_{0};

  // The locked part of get(), out of line.
  struct Found {
    std::unique_lock<std::mutex> lock;
    Item* item = nullptr;
  };
  Found lookup_for_read(std::string_view key, std::int64_t now,
                        const std::int64_t* touch_exptime);
};

template <typename Visit>
bool Store::get(std::string_view key, std::int64_t now, Visit&& visit,
                const std::int64_t* touch_exptime) {
  Found f = lookup_for_read(key, now, touch_exptime);
  if (f.item == nullptr) return false;
  visit(ItemRef{item_key(f.item), item_value(f.item), item_flags(f.item),
                item_cas(f.item)});
  return true;
}

}  // namespace kairos::kv
