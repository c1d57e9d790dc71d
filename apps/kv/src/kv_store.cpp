#include "kv_store.hpp"

#include "kv_numbers.hpp"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <functional>
#include <unordered_map>

namespace kairos::kv {

namespace {
// memcached's item header on 64-bit (struct _stritem) and its CAS id.
constexpr std::size_t kItemHeader = 48;
constexpr std::size_t kCasSize = 8;
}  // namespace

std::size_t item_total_size(std::size_t key_len, std::uint32_t flags,
                            std::size_t value_len) {
  return kItemHeader + kCasSize + key_len + 1 + (flags != 0 ? 4 : 0) +
         value_len + 2;
}

std::int64_t absolute_exptime(std::int64_t exptime, std::int64_t now,
                              std::int64_t process_start) {
  // memcached maps a negative exptime to "just past the relative range",
  // which reads as an absolute time long gone: expired at once.
  if (exptime < 0) exptime = kRelativeExptimeMax + 1;
  if (exptime == 0) return 0;
  if (exptime > kRelativeExptimeMax) {
    if (exptime <= process_start) return 1;
    return exptime;
  }
  return now + exptime;
}

// One allocation per item: key and value share a string.
struct Store::Item {
  Item* prev = nullptr;  // LRU: towards the head (most recent)
  Item* next = nullptr;  // towards the tail (least recent)
  std::string data;      // key bytes, then value bytes
  std::uint32_t key_len = 0;
  std::uint32_t flags = 0;
  std::uint64_t cas = 0;
  std::int64_t exptime = 0;  // absolute unix seconds, 0 = never
  std::int64_t time = 0;     // when stored (delayed flush_all)
  std::size_t charged = 0;   // bytes counted against the limit
  bool fetched = false;
};

struct Store::Shard {
  std::mutex mu;
  std::unordered_map<std::string_view, Item*> map;
  Item* head = nullptr;
  Item* tail = nullptr;
  StoreCounters c;
  ~Shard() {
    for (auto& [k, it] : map) delete it;
  }
};

std::string_view Store::item_key(const Item* it) {
  return std::string_view(it->data).substr(0, it->key_len);
}
std::string_view Store::item_value(const Item* it) {
  return std::string_view(it->data).substr(it->key_len);
}
std::uint32_t Store::item_flags(const Item* it) { return it->flags; }
std::uint64_t Store::item_cas(const Item* it) { return it->cas; }

Store::Store(StoreConfig cfg) : cfg_(cfg), max_bytes_(cfg.max_bytes) {
  const unsigned n = std::bit_ceil(std::max(1u, cfg_.shards));
  cfg_.shards = n;
  shards_.reserve(n);
  for (unsigned i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

Store::~Store() = default;

void Store::set_max_bytes(std::size_t n) {
  max_bytes_.store(n, std::memory_order_relaxed);
  evict_to_limit();
}

bool Store::fits(std::size_t key_len, std::uint32_t flags,
                 std::size_t value_len) const {
  return item_total_size(key_len, flags, value_len) <= cfg_.item_size_max;
}

Store::Shard& Store::shard_for(std::string_view key, std::size_t* hash) const {
  *hash = std::hash<std::string_view>{}(key);
  // The high bits pick the shard; the map uses the hash again as a whole.
  return *shards_[(*hash >> 40) & (shards_.size() - 1)];
}

std::int64_t Store::exptime_of(std::int64_t exptime, std::int64_t now) const {
  return absolute_exptime(exptime, now, cfg_.process_start);
}

bool Store::is_live(const Item* it, std::int64_t now) const {
  if (it->exptime != 0 && it->exptime <= now) return false;
  // memcached's oldest_live: a second before the flush_all's time.
  const std::int64_t f = flush_at_.load(std::memory_order_relaxed);
  if (f != 0 && f <= now && it->time <= f) return false;
  return true;
}

void Store::link(Shard& s, Item* it, std::size_t) {
  s.map.emplace(item_key(it), it);
  it->prev = nullptr;
  it->next = s.head;
  if (s.head) s.head->prev = it;
  s.head = it;
  if (!s.tail) s.tail = it;
  s.c.curr_items++;
  s.c.total_items++;
  s.c.bytes += it->charged;
  used_.fetch_add(it->charged, std::memory_order_relaxed);
}

void Store::unlink(Shard& s, Item* it, bool expired) {
  s.map.erase(item_key(it));
  if (it->prev) it->prev->next = it->next; else s.head = it->next;
  if (it->next) it->next->prev = it->prev; else s.tail = it->prev;
  s.c.curr_items--;
  s.c.bytes -= it->charged;
  if (expired) {
    s.c.reclaimed++;
    if (!it->fetched) s.c.expired_unfetched++;
  }
  used_.fetch_sub(it->charged, std::memory_order_relaxed);
  delete it;
}

void Store::bump(Shard& s, Item* it) {
  if (s.head == it) return;
  it->prev->next = it->next;
  if (it->next) it->next->prev = it->prev; else s.tail = it->prev;
  it->prev = nullptr;
  it->next = s.head;
  s.head->prev = it;
  s.head = it;
}

Store::Item* Store::find_live(Shard& s, std::string_view key, std::size_t,
                              std::int64_t now) {
  auto i = s.map.find(key);
  if (i == s.map.end()) return nullptr;
  Item* it = i->second;
  if (!is_live(it, now)) {
    unlink(s, it, true);
    return nullptr;
  }
  return it;
}

void Store::set_exptime(Item* it, std::int64_t abs) { it->exptime = abs; }

Store::Found Store::lookup_for_read(std::string_view key, std::int64_t now,
                                    const std::int64_t* touch_exptime) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  Found f{std::unique_lock<std::mutex>(s.mu), nullptr};
  Item* it = find_live(s, key, h, now);
  if (it == nullptr) return f;
  if (touch_exptime) it->exptime = exptime_of(*touch_exptime, now);
  it->fetched = true;
  bump(s, it);
  f.item = it;
  return f;
}

StoreResult Store::store(StoreMode mode, std::string_view key,
                         std::uint32_t flags, std::int64_t exptime,
                         std::string_view value, std::uint64_t cas_in,
                         std::int64_t now) {
  if (!fits(key.size(), flags, value.size())) return StoreResult::kTooLarge;
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  {
    std::lock_guard<std::mutex> g(s.mu);
    Item* old = find_live(s, key, h, now);
    switch (mode) {
      case StoreMode::kAdd:
        if (old) {
          bump(s, old);  // memcached: a failed add still refreshes the item
          return StoreResult::kNotStored;
        }
        break;
      case StoreMode::kReplace:
      case StoreMode::kAppend:
      case StoreMode::kPrepend:
        if (!old) return StoreResult::kNotStored;
        break;
      case StoreMode::kCas:
        if (!old) return StoreResult::kNotFound;
        if (old->cas != cas_in) return StoreResult::kExists;
        break;
      case StoreMode::kSet:
        break;
    }
    auto* it = new Item;
    it->key_len = static_cast<std::uint32_t>(key.size());
    it->time = now;
    if (mode == StoreMode::kAppend || mode == StoreMode::kPrepend) {
      // The old item's flags and exptime stay; only the bytes grow.
      const std::string_view ov = item_value(old);
      if (!fits(key.size(), old->flags, ov.size() + value.size())) {
        delete it;
        return StoreResult::kNotStored;
      }
      it->flags = old->flags;
      it->exptime = old->exptime;
      it->data.reserve(key.size() + ov.size() + value.size());
      it->data.append(key);
      if (mode == StoreMode::kAppend) {
        it->data.append(ov).append(value);
      } else {
        it->data.append(value).append(ov);
      }
    } else {
      it->flags = flags;
      it->exptime = exptime_of(exptime, now);
      it->data.reserve(key.size() + value.size());
      it->data.append(key).append(value);
    }
    it->charged = item_total_size(key.size(), it->flags,
                                  it->data.size() - key.size());
    it->cas = next_cas();
    if (old) unlink(s, old, false);
    link(s, it, h);
  }
  evict_to_limit();
  return StoreResult::kStored;
}

void Store::evict_to_limit() {
  // Oldest items go first, one shard at a time; never two locks at once.
  const std::size_t n = shards_.size();
  std::size_t empty_run = 0;
  while (used_.load(std::memory_order_relaxed) > max_bytes() &&
         empty_run < n) {
    Shard& s = *shards_[evict_next_.fetch_add(1, std::memory_order_relaxed) &
                        (n - 1)];
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.tail) {
      empty_run++;
      continue;
    }
    empty_run = 0;
    Item* victim = s.tail;
    if (!victim->fetched) s.c.evicted_unfetched++;
    s.c.evictions++;
    unlink(s, victim, false);
  }
}

bool Store::remove(std::string_view key, std::int64_t now) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  std::lock_guard<std::mutex> g(s.mu);
  Item* it = find_live(s, key, h, now);
  if (!it) return false;
  unlink(s, it, false);
  return true;
}

bool Store::touch(std::string_view key, std::int64_t exptime,
                  std::int64_t now) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  std::lock_guard<std::mutex> g(s.mu);
  Item* it = find_live(s, key, h, now);
  if (!it) return false;
  it->exptime = exptime_of(exptime, now);
  bump(s, it);
  return true;
}

DeltaResult Store::delta(std::string_view key, bool incr, std::uint64_t by,
                         std::int64_t now, std::string* out) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  std::lock_guard<std::mutex> g(s.mu);
  Item* it = find_live(s, key, h, now);
  if (!it) return DeltaResult::kNotFound;
  const std::string_view v = item_value(it);
  std::uint64_t cur = 0;
  if (v.empty() || !parse_stored_u64(v, &cur)) return DeltaResult::kNonNumeric;
  if (incr) {
    cur += by;  // wraps at 2^64, as memcached's does
  } else {
    cur = by > cur ? 0 : cur - by;
  }
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, cur);
  const std::size_t len = static_cast<std::size_t>(r.ptr - buf);
  out->assign(buf, len);
  it->cas = next_cas();
  bump(s, it);
  if (len <= v.size()) {
    // In place, padded with spaces: the item keeps its length.
    char* p = it->data.data() + it->key_len;
    std::memcpy(p, buf, len);
    std::memset(p + len, ' ', v.size() - len);
    return DeltaResult::kOk;
  }
  auto* n = new Item;
  n->key_len = it->key_len;
  n->flags = it->flags;
  n->exptime = it->exptime;
  n->time = it->time;
  n->fetched = it->fetched;
  n->cas = it->cas;
  n->data.append(key).append(buf, len);
  n->charged = item_total_size(key.size(), n->flags, len);
  unlink(s, it, false);
  link(s, n, h);
  s.c.total_items--;  // a grown counter is not a new item
  return DeltaResult::kOk;
}

void Store::flush(std::int64_t delay, std::int64_t now) {
  if (delay > 0) {
    flush_at_.store(exptime_of(delay, now) - 1, std::memory_order_relaxed);
    return;
  }
  flush_at_.store(0, std::memory_order_relaxed);
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> g(sp->mu);
    while (sp->tail) unlink(*sp, sp->tail, false);
  }
}

std::size_t Store::sweep(std::int64_t now, unsigned max_shards) {
  std::size_t removed = 0;
  const unsigned n = static_cast<unsigned>(shards_.size());
  for (unsigned i = 0; i < std::min(max_shards, n); ++i) {
    Shard& s = *shards_[sweep_next_.fetch_add(1, std::memory_order_relaxed) &
                        (n - 1)];
    std::lock_guard<std::mutex> g(s.mu);
    for (Item* it = s.tail; it != nullptr;) {
      Item* prev = it->prev;
      if (!is_live(it, now)) {
        unlink(s, it, true);
        removed++;
      }
      it = prev;
    }
  }
  return removed;
}

StoreCounters Store::counters() const {
  StoreCounters t;
  for (auto& sp : shards_) {
    std::lock_guard<std::mutex> g(sp->mu);
    t.curr_items += sp->c.curr_items;
    t.total_items += sp->c.total_items;
    t.bytes += sp->c.bytes;
    t.evictions += sp->c.evictions;
    t.expired_unfetched += sp->c.expired_unfetched;
    t.evicted_unfetched += sp->c.evicted_unfetched;
    t.reclaimed += sp->c.reclaimed;
  }
  return t;
}

}  // namespace kairos::kv
