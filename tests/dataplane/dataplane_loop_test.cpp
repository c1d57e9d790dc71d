// The dataplane loop's own logic over an in-memory backend: app lookup,
// counted drops, grant changes, draining of revoked kthreads. (The real
// backends are exercised on veth in dataplane_veth_test.)
#include <kairos/dataplane/dataplane.hpp>
#include <kairos/dataplane/queue_api.hpp>

#include <gtest/gtest.h>

#include <deque>

namespace kairos::dp {
namespace {

struct Sent {
  Endpoint src, dst;
  std::vector<std::uint8_t> payload;
};

class MemoryBackend final : public Backend {
 public:
  std::string name() const override { return "memory"; }
  std::size_t poll_rx(std::size_t max, RxSink& sink) override {
    std::size_t n = 0;
    while (n < max && !inbox.empty()) {
      auto& d = inbox.front();
      sink.on_datagram({d.src, d.dst, d.payload});
      inbox.pop_front();
      n++;
    }
    return n;
  }
  bool send(const Endpoint& src, const Endpoint& dst,
            std::span<const std::uint8_t> p) override {
    if (refuse) return false;
    outbox.push_back({src, dst, {p.begin(), p.end()}});
    return true;
  }
  void flush() override { flushes++; }
  BackendStats stats() const override { return {}; }

  std::deque<Sent> inbox;
  std::vector<Sent> outbox;
  bool refuse = false;
  int flushes = 0;
};

const Endpoint kApp = Endpoint::v4(0x0a000001, 7000);

Endpoint client(std::uint16_t port) { return Endpoint::v4(0x0a000002, port); }

TEST(DataplaneLoop, DeliversByBucketAndCountsEveryDrop) {
  MemoryBackend be;
  auto region = ShmRegion::create(2, 4);
  Dataplane dp(be, {.nr_buckets = 16});
  const auto app = dp.add_app(kApp, region);
  std::vector<std::uint8_t> small(10, 1), huge(KAIROS_DP_MAX_PAYLOAD + 1, 2);
  be.inbox.push_back({client(1), kApp, small});  // no kthread active yet
  dp.poll_once();
  EXPECT_EQ(dp.stats(app).rx_no_kthread, 1u);
  std::vector<std::uint32_t> both{0, 1};
  dp.set_active(app, both);
  be.inbox.push_back({client(1), Endpoint::v4(0x0a000009, 7000), small});  // no app
  be.inbox.push_back({client(1), kApp, huge});
  dp.poll_once();
  EXPECT_EQ(dp.rx_no_app(), 1u);
  EXPECT_EQ(dp.stats(app).rx_oversize, 1u);
  // One flow: everything to the kthread its bucket names, until full.
  for (int i = 0; i < 6; i++) be.inbox.push_back({client(1), kApp, small});
  dp.poll_once();
  const std::uint32_t k = dp.table(app).kthread_of(flow_hash(client(1), kApp));
  EXPECT_EQ(region.rings(k).rx.occupancy(), 4u);
  EXPECT_EQ(region.rings(1 - k).rx.occupancy(), 0u);
  EXPECT_EQ(dp.stats(app).rx_delivered, 4u);
  EXPECT_EQ(dp.stats(app).rx_ring_full, 2u);
  EXPECT_THROW(dp.set_active(app, {5}), std::out_of_range);
  EXPECT_THROW(dp.set_active(9, {0}), std::out_of_range);
}

TEST(DataplaneLoop, RevokedKthreadIsDrainedThenNoLongerPolled) {
  MemoryBackend be;
  auto region = ShmRegion::create(2, 8);
  Dataplane dp(be, {.nr_buckets = 8});
  const auto app = dp.add_app(kApp, region);
  std::vector<std::uint32_t> both{0, 1};
  dp.set_active(app, both);
  dp.poll_once();
  // Kthread 0 queues two replies, then loses its grant before they leave.
  UdpQueue q0(region.rings(0), kApp);
  std::vector<std::uint8_t> r{7};
  q0.push(client(5), r);
  q0.push(client(6), r);
  std::vector<std::uint32_t> one{1};
  dp.set_active(app, one);
  dp.poll_once();
  ASSERT_EQ(be.outbox.size(), 2u);  // drained, not stranded
  EXPECT_EQ(be.outbox[0].dst, client(5));
  EXPECT_EQ(be.outbox[0].src, kApp);
  // Anything it pushes later is no longer polled (it is parked in real life).
  q0.push(client(7), r);
  dp.poll_once();
  EXPECT_EQ(be.outbox.size(), 2u);
  EXPECT_EQ(region.rings(0).tx.occupancy(), 1u);
  // All flows now land on kthread 1.
  for (std::uint16_t p = 1; p <= 20; p++) be.inbox.push_back({client(p), kApp, r});
  dp.poll_once();
  EXPECT_EQ(region.rings(1).rx.occupancy(), 8u);  // ring of 8, rest counted
  EXPECT_EQ(dp.stats(app).rx_ring_full, 12u);
  EXPECT_EQ(region.rings(0).rx.occupancy(), 0u);
}

TEST(DataplaneLoop, RefusedSendsAreCountedNotSilent) {
  MemoryBackend be;
  auto region = ShmRegion::create(1, 8);
  Dataplane dp(be);
  const auto app = dp.add_app(kApp, region);
  std::vector<std::uint32_t> k{0};
  dp.set_active(app, k);
  UdpQueue q(region.rings(0), kApp);
  std::vector<std::uint8_t> r{1};
  q.push(client(1), r);
  be.refuse = true;
  dp.poll_once();
  EXPECT_EQ(dp.stats(app).tx_dropped, 1u);
  EXPECT_EQ(dp.stats(app).tx_sent, 0u);
  EXPECT_GE(be.flushes, 1);  // a flush was tried before giving up
}

TEST(DataplaneLoop, AddedKthreadGetsBucketsOnlyThroughCappedRebalance) {
  MemoryBackend be;
  auto region = ShmRegion::create(2, 8);
  Dataplane dp(be, {.nr_buckets = 32, .max_moves_per_interval = 3});
  const auto app = dp.add_app(kApp, region);
  std::vector<std::uint32_t> one{0}, two{0, 1};
  dp.set_active(app, one);
  dp.poll_once();
  dp.set_active(app, two);
  dp.poll_once();
  EXPECT_EQ(dp.table(app).counts(), (std::vector<std::uint32_t>{32, 0}));
  dp.rebalance();
  EXPECT_EQ(dp.table(app).counts(), (std::vector<std::uint32_t>{29, 3}));
  for (int i = 0; i < 10; i++) dp.rebalance();
  EXPECT_EQ(dp.table(app).counts(), (std::vector<std::uint32_t>{16, 16}));
  EXPECT_EQ(dp.stats(app).bucket_moves, 32u + 16u);  // initial spread + moves
}

}  // namespace
}  // namespace kairos::dp
