// The store: LRU eviction under the byte limit, expiry (lazy and swept),
// CAS, delayed flush, and CAS races between threads.
#include "kv_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace kairos::kv {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

bool has(Store& s, std::string_view k, std::int64_t now = kNow) {
  return s.get(k, now, [](const ItemRef&) {});
}

std::uint64_t cas_of(Store& s, std::string_view k) {
  std::uint64_t c = 0;
  s.get(k, kNow, [&](const ItemRef& it) { c = it.cas; });
  return c;
}

TEST(KvStore, EvictsLeastRecentlyUsedFirst) {
  // One shard so the LRU order is global; room for exactly 4 items.
  const std::size_t item = item_total_size(2, 0, 100);
  Store s({.max_bytes = 4 * item, .item_size_max = 1u << 20, .shards = 1});
  const std::string v(100, 'v');
  for (const char* k : {"k0", "k1", "k2", "k3"})
    ASSERT_EQ(s.store(StoreMode::kSet, k, 0, 0, v, 0, kNow), StoreResult::kStored);
  ASSERT_TRUE(has(s, "k0"));  // k0 is now the most recent
  ASSERT_EQ(s.store(StoreMode::kSet, "k4", 0, 0, v, 0, kNow), StoreResult::kStored);
  EXPECT_FALSE(has(s, "k1"));  // the least recent went
  EXPECT_TRUE(has(s, "k0"));
  EXPECT_TRUE(has(s, "k2"));
  EXPECT_TRUE(has(s, "k4"));
  EXPECT_EQ(s.counters().evictions, 1u);
  EXPECT_EQ(s.counters().curr_items, 4u);
  EXPECT_LE(s.current_bytes(), 4 * item);
}

TEST(KvStore, StaysUnderTheLimitAcrossShards) {
  Store s({.max_bytes = 1u << 20, .item_size_max = 1u << 20, .shards = 16});
  const std::string v(1000, 'v');
  for (int i = 0; i < 5000; ++i)
    s.store(StoreMode::kSet, "key" + std::to_string(i), 0, 0, v, 0, kNow);
  EXPECT_LE(s.current_bytes(), 1u << 20);
  EXPECT_GT(s.counters().evictions, 3000u);
  EXPECT_TRUE(has(s, "key4999"));  // the newest survives
  EXPECT_FALSE(has(s, "key0"));
}

TEST(KvStore, ItemSizeLimitAndTooLarge) {
  Store s({.max_bytes = 64u << 20, .item_size_max = 1024, .shards = 4});
  const std::size_t max_value = 1024 - item_total_size(1, 0, 0);
  EXPECT_TRUE(s.fits(1, 0, max_value));
  EXPECT_FALSE(s.fits(1, 0, max_value + 1));
  EXPECT_FALSE(s.fits(1, 1, max_value));  // flags cost 4 bytes
  EXPECT_EQ(s.store(StoreMode::kSet, "a", 0, 0, std::string(max_value + 1, 'x'),
                    0, kNow),
            StoreResult::kTooLarge);
}

TEST(KvStore, ExpiryIsLazyAndSwept) {
  Store s({.max_bytes = 64u << 20, .item_size_max = 1u << 20, .shards = 4,
           .process_start = kNow - 100});
  s.store(StoreMode::kSet, "short", 0, 5, "x", 0, kNow);
  s.store(StoreMode::kSet, "never", 0, 0, "x", 0, kNow);
  s.store(StoreMode::kSet, "abs", 0, kNow + 7, "x", 0, kNow);
  s.store(StoreMode::kSet, "past", 0, kNow - 50, "x", 0, kNow);
  s.store(StoreMode::kSet, "neg", 0, -1, "x", 0, kNow);
  EXPECT_TRUE(has(s, "short", kNow + 4));
  EXPECT_FALSE(has(s, "short", kNow + 5));
  EXPECT_TRUE(has(s, "abs", kNow + 6));
  EXPECT_FALSE(has(s, "past"));
  EXPECT_FALSE(has(s, "neg"));
  EXPECT_EQ(s.counters().curr_items, 2u);  // lazily dropped on the way
  EXPECT_EQ(s.sweep(kNow + 100, s.shard_count()), 1u);  // "abs"
  EXPECT_EQ(s.counters().curr_items, 1u);
  EXPECT_TRUE(has(s, "never", kNow + 100000));
  EXPECT_EQ(absolute_exptime(kRelativeExptimeMax, kNow, 0),
            kNow + kRelativeExptimeMax);
  EXPECT_EQ(absolute_exptime(kRelativeExptimeMax + 1, kNow, kNow), 1);
}

TEST(KvStore, CasAndDelayedFlush) {
  Store s({.max_bytes = 64u << 20, .item_size_max = 1u << 20, .shards = 4});
  s.store(StoreMode::kSet, "a", 0, 0, "1", 0, kNow);
  const std::uint64_t c1 = cas_of(s, "a");
  EXPECT_EQ(s.store(StoreMode::kCas, "a", 0, 0, "2", c1 + 1, kNow),
            StoreResult::kExists);
  EXPECT_EQ(s.store(StoreMode::kCas, "a", 0, 0, "2", c1, kNow),
            StoreResult::kStored);
  EXPECT_NE(cas_of(s, "a"), c1);
  EXPECT_EQ(s.store(StoreMode::kCas, "zz", 0, 0, "2", c1, kNow),
            StoreResult::kNotFound);
  s.flush(10, kNow);
  EXPECT_TRUE(has(s, "a", kNow + 8));
  EXPECT_FALSE(has(s, "a", kNow + 9));
  s.store(StoreMode::kSet, "b", 0, 0, "1", 0, kNow + 11);
  EXPECT_TRUE(has(s, "b", kNow + 12));
}

TEST(KvStore, ConcurrentCasIncrementsLoseNothing) {
  // Each thread adds 1 to a counter by gets + cas, retrying on EXISTS:
  // the final value counts every success exactly once.
  Store s({.max_bytes = 64u << 20, .item_size_max = 1u << 20, .shards = 8});
  s.store(StoreMode::kSet, "ctr", 0, 0, "0", 0, kNow);
  constexpr int kThreads = 4, kEach = 2000;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < kEach;) {
        std::uint64_t cas = 0;
        std::string v;
        s.get("ctr", kNow, [&](const ItemRef& it) {
          cas = it.cas;
          v.assign(it.value);
        });
        const std::string next = std::to_string(std::stoll(v) + 1);
        const StoreResult r = s.store(StoreMode::kCas, "ctr", 0, 0, next, cas, kNow);
        if (r == StoreResult::kStored) ++i;
        else conflicts++;
      }
    });
  }
  // Meanwhile incr/decr and other keys churn on the same shards.
  std::thread noise([&] {
    for (int i = 0; i < 5000; ++i) {
      std::string out;
      s.store(StoreMode::kSet, "n" + std::to_string(i % 50), 0, 0, "5", 0, kNow);
      s.delta("n" + std::to_string(i % 50), i % 2, 1, kNow, &out);
    }
  });
  for (auto& t : ts) t.join();
  noise.join();
  std::string v;
  s.get("ctr", kNow, [&](const ItemRef& it) { v.assign(it.value); });
  EXPECT_EQ(v, std::to_string(kThreads * kEach));
}

TEST(KvStore, ConcurrentIncrIsAtomic) {
  Store s({.max_bytes = 64u << 20, .item_size_max = 1u << 20, .shards = 8});
  s.store(StoreMode::kSet, "c", 0, 0, "0", 0, kNow);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      std::string out;
      for (int i = 0; i < 10000; ++i) s.delta("c", true, 1, kNow, &out);
    });
  for (auto& t : ts) t.join();
  std::string v;
  s.get("c", kNow, [&](const ItemRef& it) { v.assign(it.value); });
  EXPECT_EQ(v, "40000");
}

}  // namespace
}  // namespace kairos::kv

// What the meta commands add: stale stores, tokens, vivify, emptied items.
namespace kairos::kv {
namespace {

struct Seen {
  std::string value;
  std::uint64_t cas = 0;
  std::int64_t exptime = 0;
  bool stale = false, token = false, fetched = false, created = false;
};

Seen meta_look(Store& s, std::string_view k, bool bump = true, bool vivify = false) {
  Seen r;
  s.meta_get(k, kNow, bump, vivify, 0, [&](MetaItem& it, bool created) {
    r = {std::string(it.value()), it.cas(), it.exptime(), it.stale(),
         it.token_sent(), it.fetched(), created};
    return true;
  });
  return r;
}

TEST(KvStoreMeta, AnOlderCasWithInvalidateStoresAStaleValueKeepingTtlAndToken) {
  Store s({.shards = 1});
  ASSERT_EQ(s.store(StoreMode::kSet, "a", 0, 100, "v1", 0, kNow, {.new_cas = 50}),
            StoreResult::kStored);
  DeleteOptions inval{.has_new_cas = true, .new_cas = 60, .invalidate = true};
  ASSERT_EQ(s.meta_delete("a", kNow, inval), DeleteResult::kDeleted);
  s.meta_get("a", kNow, true, false, 0, [](MetaItem& it, bool) {
    it.send_token();
    return true;
  });
  // CAS 55 < 60: stored, stale, TTL and token kept; without I: refused.
  EXPECT_EQ(s.store(StoreMode::kCas, "a", 0, 0, "v2", 55, kNow), StoreResult::kExists);
  EXPECT_EQ(s.store(StoreMode::kCas, "a", 0, 0, "v2", 55, kNow, {.invalidate = true}),
            StoreResult::kStored);
  const Seen r = meta_look(s, "a");
  EXPECT_EQ(r.value, "v2");
  EXPECT_TRUE(r.stale);
  EXPECT_TRUE(r.token);
  EXPECT_EQ(r.exptime, kNow + 100);
  // A matching CAS stores a fresh value: no longer stale.
  ASSERT_EQ(s.store(StoreMode::kCas, "a", 0, 0, "v3", r.cas, kNow), StoreResult::kStored);
  EXPECT_FALSE(meta_look(s, "a").stale);
}

TEST(KvStoreMeta, FetchMarksCountAfterTheVisitUnlessNoBump) {
  Store s({.shards = 1});
  ASSERT_EQ(s.store(StoreMode::kSet, "a", 0, 0, "v", 0, kNow), StoreResult::kStored);
  EXPECT_FALSE(meta_look(s, "a", false).fetched);
  EXPECT_FALSE(meta_look(s, "a").fetched);  // seen as it was before
  EXPECT_TRUE(meta_look(s, "a").fetched);
  const Seen v = meta_look(s, "new", true, true);
  EXPECT_TRUE(v.created);
  EXPECT_EQ(v.value, "");
  EXPECT_FALSE(meta_look(s, "new").created);
}

TEST(KvStoreMeta, DeltaVivifiesChecksCasAndTakesANewCas) {
  Store s({.shards = 1});
  std::string out;
  auto none = [](MetaItem&, bool) {};
  EXPECT_EQ(s.meta_delta("n", true, 1, kNow, {}, &out, none), DeltaResult::kNotFound);
  EXPECT_EQ(s.meta_delta("n", true, 1, kNow, {.vivify = true, .initial = 7}, &out, none),
            DeltaResult::kCreated);
  EXPECT_EQ(out, "7");
  EXPECT_EQ(s.meta_delta("n", true, 1, kNow, {.has_new_cas = true, .new_cas = 90}, &out,
                         none),
            DeltaResult::kOk);
  EXPECT_EQ(out, "8");
  EXPECT_EQ(s.meta_delta("n", true, 1, kNow, {.compare_cas = 89}, &out, none),
            DeltaResult::kExists);
  EXPECT_EQ(s.meta_delta("n", false, 100, kNow, {.compare_cas = 90}, &out, none),
            DeltaResult::kOk);
  EXPECT_EQ(out, "0");
}

TEST(KvStoreMeta, RemoveValueKeepsAnEmptyItemWithNewFlags) {
  Store s({.shards = 1});
  ASSERT_EQ(s.store(StoreMode::kSet, "a", 3, 0, "value", 0, kNow, {.new_cas = 5}),
            StoreResult::kStored);
  EXPECT_EQ(s.meta_delete("a", kNow, {.compare_cas = 4}), DeleteResult::kExists);
  EXPECT_EQ(s.meta_delete("a", kNow, {.remove_value = true, .flags = 9}),
            DeleteResult::kDeleted);
  std::uint32_t flags = 0;
  std::string v = "x";
  ASSERT_TRUE(s.get("a", kNow, [&](const ItemRef& it) {
    flags = it.flags;
    v = std::string(it.value);
  }));
  EXPECT_EQ(flags, 9u);
  EXPECT_EQ(v, "");
  EXPECT_EQ(cas_of(s, "a"), 5u);  // keeps its CAS without E
  EXPECT_EQ(s.meta_delete("a", kNow, {}), DeleteResult::kDeleted);
  EXPECT_FALSE(has(s, "a"));
}

}  // namespace
}  // namespace kairos::kv
