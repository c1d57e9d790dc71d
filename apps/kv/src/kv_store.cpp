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
  std::int64_t atime = 0;    // last access that counted (mg l)
  std::size_t charged = 0;   // bytes counted against the limit
  bool fetched = false;
  bool stale = false;        // invalidated by md I / ms I
  bool token_sent = false;   // a client won the recache token
  bool key_binary = false;   // stored through a base64 key (b)
};

namespace {
Store::Item* as_item(void* p) { return static_cast<Store::Item*>(p); }
}  // namespace

std::string_view MetaItem::key() const {
  return Store::item_key(as_item(it_));
}
std::string_view MetaItem::value() const {
  return Store::item_value(as_item(it_));
}
std::uint32_t MetaItem::flags() const { return as_item(it_)->flags; }
std::uint64_t MetaItem::cas() const { return as_item(it_)->cas; }
bool MetaItem::key_binary() const { return as_item(it_)->key_binary; }
std::int64_t MetaItem::exptime() const { return as_item(it_)->exptime; }
std::int64_t MetaItem::last_access() const { return as_item(it_)->atime; }
bool MetaItem::fetched() const { return as_item(it_)->fetched; }
std::size_t MetaItem::size() const { return as_item(it_)->charged; }
bool MetaItem::stale() const { return as_item(it_)->stale; }
bool MetaItem::token_sent() const { return as_item(it_)->token_sent; }
void MetaItem::set_exptime(std::int64_t protocol_exptime) {
  as_item(it_)->exptime = store_.exptime_of(protocol_exptime, now_);
}
void MetaItem::send_token() { as_item(it_)->token_sent = true; }

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

Store::Item* Store::new_item(std::string_view key, std::uint32_t flags,
                             std::string_view value, std::int64_t now,
                             std::uint64_t cas) {
  auto* it = new Item;
  it->key_len = static_cast<std::uint32_t>(key.size());
  it->flags = flags;
  it->time = it->atime = now;
  it->data.reserve(key.size() + value.size());
  it->data.append(key).append(value);
  it->charged = item_total_size(key.size(), flags, value.size());
  it->cas = cas;
  return it;
}

// A fetch: the LRU bump, the hit mark, and (from the second hit on, as
// memcached's segmented LRU does) the last-access time.
void Store::count_fetch(Shard& s, Item* it, std::int64_t now) {
  if (it->fetched) it->atime = now;
  it->fetched = true;
  bump(s, it);
}

Store::Found Store::lookup_for_read(std::string_view key, std::int64_t now,
                                    const std::int64_t* touch_exptime) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  Found f{std::unique_lock<std::mutex>(s.mu), nullptr, &s};
  Item* it = find_live(s, key, h, now);
  if (it == nullptr) return f;
  if (touch_exptime) it->exptime = exptime_of(*touch_exptime, now);
  count_fetch(s, it, now);
  f.item = it;
  return f;
}

Store::Found Store::lookup_for_meta(std::string_view key, std::int64_t now,
                                    bool vivify, std::uint64_t new_cas) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  Found f{std::unique_lock<std::mutex>(s.mu), nullptr, &s};
  f.item = find_live(s, key, h, now);
  if (f.item != nullptr || !vivify) return f;
  // mg N: an empty placeholder the winning client will fill.
  Item* it = new_item(key, 0, {}, now, new_cas != 0 ? new_cas : next_cas());
  link(s, it, h);
  f.item = it;
  f.created = true;
  // Eviction takes other locks; a placeholder's bytes are counted and
  // the next store trims them.
  return f;
}

StoreResult Store::store(StoreMode mode, std::string_view key,
                         std::uint32_t flags, std::int64_t exptime,
                         std::string_view value, std::uint64_t cas_in,
                         std::int64_t now, const StoreOptions& opt,
                         StoreOutcome* done) {
  if (!fits(key.size(), flags, value.size())) return StoreResult::kTooLarge;
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  const bool grow = mode == StoreMode::kAppend || mode == StoreMode::kPrepend;
  {
    std::lock_guard<std::mutex> g(s.mu);
    Item* old = find_live(s, key, h, now);
    bool stale = false;
    switch (mode) {
      case StoreMode::kAdd:
        if (old) {
          bump(s, old);  // memcached: a failed add still refreshes the item
          return StoreResult::kNotStored;
        }
        break;
      case StoreMode::kReplace:
        if (!old) return StoreResult::kNotStored;
        break;
      case StoreMode::kAppend:
      case StoreMode::kPrepend:
        if (!old && !opt.vivify) return StoreResult::kNotStored;
        if (old && cas_in != 0 && old->cas != cas_in) return StoreResult::kExists;
        break;
      case StoreMode::kCas:
        if (!old) return StoreResult::kNotFound;
        // I: a writer holding an older CAS still stores, marked stale.
        stale = opt.invalidate && cas_in < old->cas;
        if (old->cas != cas_in && !stale) return StoreResult::kExists;
        break;
      case StoreMode::kSet:
        break;
    }
    auto* it = new Item;
    it->key_len = static_cast<std::uint32_t>(key.size());
    it->time = it->atime = now;
    it->key_binary = opt.key_binary;
    if (grow && old) {
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
    if (stale) {
      // The stale value keeps the current one's TTL and token.
      it->exptime = old->exptime;
      it->stale = true;
      it->token_sent = old->token_sent;
    }
    it->charged = item_total_size(key.size(), it->flags,
                                  it->data.size() - key.size());
    it->cas = opt.new_cas != 0 ? opt.new_cas : next_cas();
    if (done) *done = StoreOutcome{it->cas, it->data.size() - key.size()};
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

DeleteResult Store::meta_delete(std::string_view key, std::int64_t now,
                                const DeleteOptions& opt) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  std::lock_guard<std::mutex> g(s.mu);
  Item* it = find_live(s, key, h, now);
  if (!it) return DeleteResult::kNotFound;
  if (opt.compare_cas != 0 && it->cas != opt.compare_cas)
    return DeleteResult::kExists;
  if (opt.remove_value) {
    // x: the item stays, empty, with T's exptime (none: never expires).
    Item* n = new_item(key, opt.flags, {}, now,
                       opt.has_new_cas ? opt.new_cas : it->cas);
    n->exptime = opt.has_ttl ? exptime_of(opt.ttl, now) : 0;
    unlink(s, it, false);
    link(s, n, h);
    it = n;
  }
  if (opt.invalidate) {
    // I: stale for the next reader to win its token back.
    if (opt.has_ttl) it->exptime = exptime_of(opt.ttl, now);
    it->stale = true;
    it->token_sent = false;
    it->cas = opt.has_new_cas ? opt.new_cas : next_cas();
  } else if (!opt.remove_value) {
    unlink(s, it, false);
  }
  return DeleteResult::kDeleted;
}

bool Store::touch(std::string_view key, std::int64_t exptime,
                  std::int64_t now) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  std::lock_guard<std::mutex> g(s.mu);
  Item* it = find_live(s, key, h, now);
  if (!it) return false;
  it->exptime = exptime_of(exptime, now);
  count_fetch(s, it, now);  // memcached's touch counts as a fetch
  return true;
}

DeltaResult Store::delta(std::string_view key, bool incr, std::uint64_t by,
                         std::int64_t now, std::string* out) {
  DeltaResult r = DeltaResult::kNotFound;
  delta_locked(key, incr, by, now, DeltaOptions{}, out, &r);
  return r;
}

Store::Found Store::delta_locked(std::string_view key, bool incr,
                                 std::uint64_t by, std::int64_t now,
                                 const DeltaOptions& opt, std::string* out,
                                 DeltaResult* r) {
  std::size_t h = 0;
  Shard& s = shard_for(key, &h);
  Found f{std::unique_lock<std::mutex>(s.mu), nullptr, &s};
  Item* it = find_live(s, key, h, now);
  char buf[24];
  if (!it) {
    if (!opt.vivify) {
      *r = DeltaResult::kNotFound;
      return f;
    }
    // ma N: the counter starts at J, never expiring until N's TTL is set.
    const auto c = std::to_chars(buf, buf + sizeof buf, opt.initial);
    out->assign(buf, c.ptr);
    Item* n = new_item(key, 0, *out, now,
                       opt.has_new_cas ? opt.new_cas : next_cas());
    link(s, n, h);
    f.item = n;
    f.created = true;
    *r = DeltaResult::kCreated;
    return f;
  }
  const std::string_view v = item_value(it);
  std::uint64_t cur = 0;
  // memcached's order: an empty value, then the CAS, then the number.
  const bool mismatch = opt.compare_cas != 0 && it->cas != opt.compare_cas;
  if (v.empty() || (!mismatch && !parse_stored_u64(v, &cur))) {
    *r = DeltaResult::kNonNumeric;
    return f;
  }
  if (mismatch) {
    *r = DeltaResult::kExists;
    return f;
  }
  if (incr) {
    cur += by;  // wraps at 2^64, as memcached's does
  } else {
    cur = by > cur ? 0 : cur - by;
  }
  const auto c = std::to_chars(buf, buf + sizeof buf, cur);
  const std::size_t len = static_cast<std::size_t>(c.ptr - buf);
  out->assign(buf, len);
  const std::uint64_t cas = opt.has_new_cas ? opt.new_cas : next_cas();
  *r = DeltaResult::kOk;
  bump(s, it);
  if (len <= v.size()) {
    // In place, padded with spaces: the item keeps its length.
    char* p = it->data.data() + it->key_len;
    std::memcpy(p, buf, len);
    std::memset(p + len, ' ', v.size() - len);
    it->cas = cas;
    f.item = it;
    return f;
  }
  // A longer number needs a new item (not yet fetched, as in memcached).
  Item* n = new_item(key, it->flags, *out, now, cas);
  n->exptime = it->exptime;
  n->time = it->time;
  n->key_binary = it->key_binary;
  unlink(s, it, false);
  link(s, n, h);
  s.c.total_items--;  // a grown counter is not a new item
  f.item = n;
  return f;
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
