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
enum class DeltaResult { kOk, kNotFound, kNonNumeric, kExists, kCreated };
enum class DeleteResult { kDeleted, kNotFound, kExists, kNotStored };

// What a read sees, valid only inside the visitor (the shard is locked).
struct ItemRef {
  std::string_view key;
  std::string_view value;
  std::uint32_t flags;
  std::uint64_t cas;
};

// What the meta commands ask of a store beyond the classic ones (memcached
// 1.6's rules). Defaults give the classic behaviour.
struct StoreOptions {
  std::uint64_t new_cas = 0;  // E: the stored item's CAS id (0: the next one)
  bool invalidate = false;    // I: a cas older than the item's stores it stale
  bool vivify = false;        // N: append/prepend on a miss stores the value
  bool key_binary = false;    // b: the key came base64-encoded
};
struct StoreOutcome {
  std::uint64_t cas = 0;   // the stored item's CAS id
  std::size_t size = 0;    // its value's length (after append/prepend)
};
struct DeleteOptions {
  std::uint64_t compare_cas = 0;   // C (0: none)
  bool has_new_cas = false;        // E
  std::uint64_t new_cas = 0;
  bool invalidate = false;         // I: mark stale instead of deleting
  bool has_ttl = false;            // T
  std::int64_t ttl = 0;            // protocol exptime
  bool remove_value = false;       // x: keep the item, empty its value
  std::uint32_t flags = 0;         // F: the emptied item's client flags
};
struct DeltaOptions {
  std::uint64_t compare_cas = 0;   // C (0: none)
  bool has_new_cas = false;        // E
  std::uint64_t new_cas = 0;
  bool vivify = false;             // N: a miss creates the item at initial
  std::uint64_t initial = 0;       // J
};

class Store;

// One item as a meta command sees it, valid while its shard is locked
// (inside a Store visitor): what mg and ma report and the marks they set,
// flag by flag in the order the client wrote them.
class MetaItem {
 public:
  std::string_view key() const;
  std::string_view value() const;
  std::uint32_t flags() const;
  std::uint64_t cas() const;
  bool key_binary() const;
  // Absolute unix seconds; 0 never expires.
  std::int64_t exptime() const;
  // Unix seconds of the last access that counted (memcached's item time).
  std::int64_t last_access() const;
  bool fetched() const;     // hit before this request (mg h)
  std::size_t size() const; // bytes it is charged against -m (me size)
  bool stale() const;       // invalidated (md I, ms I): mg reports X
  bool token_sent() const;  // a client holds its recache token (mg Z)
  void set_exptime(std::int64_t protocol_exptime);
  void send_token();

 private:
  friend class Store;
  MetaItem(const Store& s, void* item, std::int64_t now)
      : store_(s), it_(item), now_(now) {}
  const Store& store_;
  void* it_;
  std::int64_t now_;
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

  // mg: calls visit(MetaItem&, bool created) when the key is live, or
  // after creating it empty when vivify (N) is set (CAS new_cas, or the
  // next id when 0). With bump, and when the visitor returns true, the
  // fetch counts afterwards (LRU, hit mark, last access), so the visitor
  // sees them as they were. Returns whether an item was visited.
  template <typename Visit>
  bool meta_get(std::string_view key, std::int64_t now, bool bump,
                bool vivify, std::uint64_t new_cas, Visit&& visit);

  // set/add/replace/append/prepend/cas. exptime is the protocol value.
  // add ignores cas_in; append/prepend with cas_in need it to match.
  StoreResult store(StoreMode mode, std::string_view key, std::uint32_t flags,
                    std::int64_t exptime, std::string_view value,
                    std::uint64_t cas_in, std::int64_t now,
                    const StoreOptions& opt = {}, StoreOutcome* done = nullptr);
  // md: delete, or invalidate, or empty the value (DeleteOptions).
  DeleteResult meta_delete(std::string_view key, std::int64_t now,
                           const DeleteOptions& opt);
  // Drops key if present (set that failed for size: memcached's rule that
  // a failed set must not leave the stale value behind).
  bool remove(std::string_view key, std::int64_t now);
  bool touch(std::string_view key, std::int64_t exptime, std::int64_t now);
  // incr/decr: the new value as text in *out (memcached's rules: decr
  // stops at 0, incr wraps at 2^64; a shorter result is padded with
  // spaces in place when the item is long enough).
  DeltaResult delta(std::string_view key, bool incr, std::uint64_t by,
                    std::int64_t now, std::string* out);
  // ma: delta with DeltaOptions; on kOk and kCreated, calls
  // visit(MetaItem&, bool created) on the result under the lock.
  template <typename Visit>
  DeltaResult meta_delta(std::string_view key, bool incr, std::uint64_t by,
                         std::int64_t now, const DeltaOptions& opt,
                         std::string* out, Visit&& visit);
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

 public:
  struct Item;  // defined in kv_store.cpp only

 private:
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
  // A new unlinked item holding key and value, stored and accessed now,
  // charged as memcached charges it.
  static Item* new_item(std::string_view key, std::uint32_t flags,
                        std::string_view value, std::int64_t now,
                        std::uint64_t cas);

  StoreConfig cfg_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<std::uint64_t> used_{0};
  std::atomic<std::size_t> max_bytes_{0};
  std::atomic<std::uint64_t> cas_{0};
  std::atomic<std::int64_t> flush_at_{0};  // delayed flush_all: its time
  std::atomic<unsigned> sweep_next_{0};
  std::atomic<unsigned> evict_next_{0};

  friend class MetaItem;
  // The locked parts of get(), meta_get() and meta_delta(), out of line.
  struct Found {
    std::unique_lock<std::mutex> lock;
    Item* item = nullptr;
    Shard* shard = nullptr;
    bool created = false;
  };
  Found lookup_for_read(std::string_view key, std::int64_t now,
                        const std::int64_t* touch_exptime);
  Found lookup_for_meta(std::string_view key, std::int64_t now, bool vivify,
                        std::uint64_t new_cas);
  void count_fetch(Shard& s, Item* it, std::int64_t now);
  Found delta_locked(std::string_view key, bool incr, std::uint64_t by,
                     std::int64_t now, const DeltaOptions& opt,
                     std::string* out, DeltaResult* r);
};

template <typename Visit>
bool Store::meta_get(std::string_view key, std::int64_t now, bool bump,
                     bool vivify, std::uint64_t new_cas, Visit&& visit) {
  Found f = lookup_for_meta(key, now, vivify, new_cas);
  if (f.item == nullptr) return false;
  MetaItem m(*this, f.item, now);
  const bool fetched = visit(m, f.created);
  if (bump && fetched) count_fetch(*f.shard, f.item, now);
  return true;
}

template <typename Visit>
DeltaResult Store::meta_delta(std::string_view key, bool incr,
                              std::uint64_t by, std::int64_t now,
                              const DeltaOptions& opt, std::string* out,
                              Visit&& visit) {
  DeltaResult r = DeltaResult::kNotFound;
  Found f = delta_locked(key, incr, by, now, opt, out, &r);
  if (f.item != nullptr) {
    MetaItem m(*this, f.item, now);
    visit(m, f.created);
  }
  return r;
}

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
