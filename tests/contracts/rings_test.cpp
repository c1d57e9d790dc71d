#include <kairos/contracts/shm_rings.hpp>

#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace kairos::dp {
namespace {

const Endpoint kPeer = Endpoint::v4(0x0a000001, 1234);
const Endpoint kLocal = Endpoint::v4(0x0a000002, 8000);

TEST(RingAbi, StableLayout) {
  EXPECT_EQ(sizeof(kairos_dp_region), 128u);
  EXPECT_EQ(offsetof(kairos_dp_region, dp_state), 64u);
  EXPECT_EQ(offsetof(kairos_dp_ring, head), 0u);
  EXPECT_EQ(offsetof(kairos_dp_ring, tail), 64u);
  EXPECT_EQ(offsetof(kairos_dp_slot, peer), 8u);
  EXPECT_EQ(offsetof(kairos_dp_slot, local), 28u);
}

TEST(Rings, PushPeekReleaseAndOccupancyAsCongestionSignal) {
  auto region = ShmRegion::create(2, 4);
  auto r = region.rings(1).rx;
  std::uint8_t msg[3] = {1, 2, 3};
  for (int i = 0; i < 4; i++) ASSERT_TRUE(r.try_push(kPeer, kLocal, 7, msg));
  EXPECT_EQ(r.occupancy(), 4u);
  EXPECT_FALSE(r.try_push(kPeer, kLocal, 7, msg));  // full: refused, counted
  EXPECT_EQ(r.full_count(), 1u);
  const kairos_dp_slot* s = r.peek();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->len, 3u);
  EXPECT_EQ(Endpoint::from_abi(s->peer), kPeer);
  EXPECT_EQ(Endpoint::from_abi(s->local), kLocal);
  EXPECT_EQ(RingView::payload(s)[2], 3);
  r.release();
  EXPECT_EQ(r.occupancy(), 3u);
  // Other rings untouched.
  EXPECT_EQ(region.rings(0).rx.occupancy(), 0u);
  EXPECT_EQ(region.rings(1).tx.occupancy(), 0u);
}

TEST(Rings, OversizePayloadIsRefusedWithoutTouchingTheRing) {
  auto region = ShmRegion::create(1, 4);
  auto r = region.rings(0).rx;
  std::vector<std::uint8_t> big(KAIROS_DP_MAX_PAYLOAD + 1);
  EXPECT_FALSE(r.try_push(kPeer, kLocal, 0, big));
  EXPECT_EQ(r.occupancy(), 0u);
  big.resize(KAIROS_DP_MAX_PAYLOAD);
  EXPECT_TRUE(r.try_push(kPeer, kLocal, 0, big));
}

// Found by tests/fuzz/ring_consume_fuzz: the producer (an app, for a TX
// ring) writes each slot's len; the consumer's payload stays inside the
// slot whatever it says.
TEST(Rings, PayloadNeverRunsPastItsSlotWhateverLenSays) {
  auto region = ShmRegion::create(1, 4);
  auto tx = region.rings(0).tx;
  const std::vector<std::uint8_t> msg(100, 0x5a);
  ASSERT_TRUE(tx.try_push(kPeer, kLocal, 0, msg));
  auto* s = const_cast<kairos_dp_slot*>(tx.peek());
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(RingView::payload(s).size(), 100u);
  for (std::uint32_t bad : {KAIROS_DP_MAX_PAYLOAD + 1, 0xffffffffu}) {
    s->len = bad;  // what a hostile app may write
    EXPECT_EQ(RingView::payload(s).size(), KAIROS_DP_MAX_PAYLOAD) << bad;
  }
  s->len = KAIROS_DP_MAX_PAYLOAD;
  EXPECT_EQ(RingView::payload(s).size(), KAIROS_DP_MAX_PAYLOAD);
}

// An app maps the region read-write and may rewrite its header at any
// time; the rings each side uses keep the geometry it created or checked.
TEST(Rings, GeometryIsNotReReadFromTheSharedHeader) {
  auto region = ShmRegion::create(2, 4);
  auto app_side = ShmRegion::attach(region.fd());
  const auto* base = reinterpret_cast<const std::uint8_t*>(&region.header());
  auto& h = const_cast<kairos_dp_region&>(region.header());
  h.nr_kthreads = KAIROS_DP_MAX_KTHREADS;
  h.nr_slots = KAIROS_DP_MAX_SLOTS;
  h.ring_bytes = 1ull << 40;
  const std::uint64_t ring = sizeof(kairos_dp_ring) + 4ull * KAIROS_DP_SLOT_SIZE;
  for (const ShmRegion* r : {&region, &app_side}) {
    EXPECT_EQ(r->nr_kthreads(), 2u);
    EXPECT_THROW(r->rings(2), std::out_of_range);
    auto rings = r->rings(1);
    EXPECT_EQ(rings.tx.capacity(), 4u);
    EXPECT_TRUE(rings.tx.try_push(kPeer, kLocal, 0, std::vector<std::uint8_t>(8, 1)));
    // The ring header a caller waits on (the runtime's doorbell thread
    // futex-waits on the RX ring's) is where the checked geometry puts it.
    const auto* side_base = reinterpret_cast<const std::uint8_t*>(&r->header());
    EXPECT_EQ(reinterpret_cast<const std::uint8_t*>(rings.rx.header()),
              side_base + sizeof(kairos_dp_region) + 2 * ring);
  }
  // Both pushes landed in the last ring of the region, inside it.
  const auto* tx1 = reinterpret_cast<const kairos_dp_ring*>(
      base + sizeof(kairos_dp_region) + 3 * ring);
  EXPECT_EQ(tx1->head, 2u);
}

TEST(Rings, AttachSeesTheSameRingsThroughTheFd) {
  auto region = ShmRegion::create(3, 8);
  auto other = ShmRegion::attach(region.fd());
  EXPECT_EQ(other.nr_kthreads(), 3u);
  std::uint8_t msg[1] = {42};
  ASSERT_TRUE(region.rings(2).rx.try_push(kPeer, kLocal, 0, msg));
  EXPECT_EQ(other.rings(2).rx.occupancy(), 1u);
  EXPECT_EQ(RingView::payload(other.rings(2).rx.peek())[0], 42);
}

TEST(Rings, BadGeometryAndBadRegionsAreRejected) {
  EXPECT_THROW(ShmRegion::create(0, 8), std::invalid_argument);
  EXPECT_THROW(ShmRegion::create(1, 6), std::invalid_argument);
  EXPECT_THROW(ShmRegion::create(KAIROS_DP_MAX_KTHREADS + 1, 8), std::invalid_argument);
  auto region = ShmRegion::create(1, 8);
  EXPECT_THROW(region.rings(1), std::out_of_range);
  // A region whose header lies about its version, or random memory.
  auto* hdr = static_cast<kairos_dp_region*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, region.fd(), 0));
  ASSERT_NE(hdr, MAP_FAILED);
  hdr->version = 99;
  EXPECT_THROW(ShmRegion::attach(region.fd()), std::invalid_argument);
  hdr->version = KAIROS_DP_ABI_VERSION;
  hdr->nr_slots = 1 << 20;
  EXPECT_THROW(ShmRegion::attach(region.fd()), std::invalid_argument);
  munmap(hdr, 4096);
  int fd = memfd_create("junk", 0);
  ASSERT_EQ(ftruncate(fd, 4096), 0);
  EXPECT_THROW(ShmRegion::attach(fd), std::invalid_argument);
  close(fd);
}

TEST(Rings, SpscAcrossThreadsKeepsOrderAndLosesNothing) {
  auto region = ShmRegion::create(1, 64);
  auto r = region.rings(0).rx;
  constexpr std::uint32_t kN = 200000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kN;) {
      std::uint8_t b[4];
      std::memcpy(b, &i, 4);
      if (r.try_push(kPeer, kLocal, i, b)) i++;
    }
  });
  for (std::uint32_t want = 0; want < kN;) {
    const kairos_dp_slot* s = r.peek();
    if (!s) continue;
    std::uint32_t got;
    std::memcpy(&got, RingView::payload(s).data(), 4);
    ASSERT_EQ(got, want);
    ASSERT_EQ(s->flow_hash, want);
    r.release();
    want++;
  }
  producer.join();
  EXPECT_EQ(r.occupancy(), 0u);
}

TEST(Rings, ParkedConsumerIsWokenByEveryPushNeverLost) {
  // A lost wakeup would leave the consumer asleep for the whole (long)
  // park timeout; every wait here must end long before it.
  auto region = ShmRegion::create(1, 64);
  auto r = region.rings(0).rx;
  constexpr int kN = 3000;
  std::thread producer([&] {
    std::uint8_t b[1] = {0};
    for (int i = 0; i < kN; i++) {
      std::this_thread::sleep_for(std::chrono::microseconds(i % 3 ? 0 : 20));
      while (!r.try_push(kPeer, kLocal, 0, b)) std::this_thread::yield();
      r.wake_consumer();
    }
  });
  int slow = 0;
  for (int got = 0; got < kN;) {
    if (r.peek()) {
      r.release();
      got++;
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    r.park(std::chrono::seconds(5));
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(2)) slow++;
  }
  producer.join();
  EXPECT_EQ(slow, 0);
}

bool readable(int fd, int timeout_ms = 0) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

TEST(Rings, OlderAbiVersionIsRefusedByName) {
  auto region = ShmRegion::create(1, 8);
  auto* hdr = static_cast<kairos_dp_region*>(
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, region.fd(), 0));
  ASSERT_NE(hdr, MAP_FAILED);
  hdr->version = 2;  // a v2 dataplane: no doorbell, rings at offset 64
  try {
    ShmRegion::attach(region.fd());
    ADD_FAILURE() << "a v2 region was attached";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ABI version 2, expected 3"), std::string::npos)
        << e.what();
  }
  hdr->version = KAIROS_DP_ABI_VERSION;
  EXPECT_NO_THROW(ShmRegion::attach(region.fd()));
  munmap(hdr, 4096);
}

// The doorbell rings only while armed, once per arming, and its eventfd
// reaches the app's copy (taken with pidfd_getfd at attach).
TEST(Doorbell, RingsOnlyWhenArmedAndOncePerArming) {
  auto region = ShmRegion::create(2, 8);
  auto app = ShmRegion::attach(region.fd());
  Doorbell bell = region.doorbell();
  ASSERT_TRUE(bell.valid());
  ASSERT_TRUE(app.doorbell().valid());
  EXPECT_NE(app.doorbell().fd(), bell.fd());  // the app's own copy
  std::uint8_t b[1] = {7};
  auto tx = app.rings(1).tx;
  ASSERT_TRUE(tx.try_push(kPeer, kLocal, 0, b));  // not armed: silent
  EXPECT_FALSE(readable(bell.fd()));
  EXPECT_EQ(bell.rings(), 0u);
  bell.arm();
  ASSERT_TRUE(tx.try_push(kPeer, kLocal, 0, b));
  EXPECT_TRUE(readable(bell.fd()));  // the creator's fd: same eventfd
  EXPECT_EQ(bell.rings(), 1u);
  ASSERT_TRUE(app.rings(0).tx.try_push(kPeer, kLocal, 0, b));  // disarmed by the ring
  EXPECT_EQ(bell.rings(), 1u);
  bell.drain();
  EXPECT_FALSE(readable(bell.fd()));
  // RX pushes (the dataplane's) never ring it.
  bell.arm();
  ASSERT_TRUE(region.rings(0).rx.try_push(kPeer, kLocal, 0, b));
  EXPECT_FALSE(readable(bell.fd()));
  bell.disarm();
}

// A sleeper that armed the doorbell and re-checked the ring is woken by
// every push that comes after: no lost wakeup (each wait here would
// otherwise last its whole 10 s timeout).
TEST(Doorbell, ArmedSleeperIsWokenByEveryTxPush) {
  auto region = ShmRegion::create(1, 64);
  auto app = ShmRegion::attach(region.fd());
  Doorbell bell = region.doorbell();
  auto tx_dp = region.rings(0).tx;
  auto tx_app = app.rings(0).tx;
  constexpr int kN = 2000;
  std::thread producer([&] {
    std::uint8_t b[1] = {0};
    for (int i = 0; i < kN; i++) {
      std::this_thread::sleep_for(std::chrono::microseconds(i % 4 ? 0 : 30));
      while (!tx_app.try_push(kPeer, kLocal, 0, b)) std::this_thread::yield();
    }
  });
  int got = 0, slow = 0;
  while (got < kN) {
    if (tx_dp.peek()) {
      tx_dp.release();
      got++;
      continue;
    }
    bell.arm();
    if (tx_dp.occupancy() == 0) {
      const auto t0 = std::chrono::steady_clock::now();
      readable(bell.fd(), 10000);
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(5)) slow++;
    }
    bell.disarm();
    bell.drain();
  }
  producer.join();
  EXPECT_EQ(slow, 0);
  EXPECT_GT(bell.rings(), 0u);
}

// An app can tell that the dataplane went away: the region is marked
// stopped when the dataplane destroys it, and a dataplane process that
// died without doing so is seen through its pidfd; a stale object whose
// process is gone cannot be attached.
TEST(Liveness, StoppedOrDeadDataplaneIsVisibleToTheApp) {
  {
    auto region = ShmRegion::create(1, 8);
    auto app = ShmRegion::attach(region.fd());
    EXPECT_TRUE(app.dataplane_alive());
    region = ShmRegion::create(1, 8);  // the first one is destroyed
    EXPECT_FALSE(app.dataplane_alive());
  }
  const std::string name = "kairos-dp-live-" + std::to_string(getpid());
  int go[2], ready[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // a dataplane that dies without cleaning up
    auto r = ShmRegion::create_named(name, 1, 8);
    char c = 1;
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(1);
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  {
    auto app = ShmRegion::attach_named(name);
    EXPECT_TRUE(app.dataplane_alive());
    ASSERT_EQ(write(go[1], &c, 1), 1);
    int st = 0;
    ASSERT_EQ(waitpid(child, &st, 0), child);
    EXPECT_FALSE(app.dataplane_alive());
  }
  try {
    ShmRegion::attach_named(name);
    ADD_FAILURE() << "attached a stale region";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("is gone (stale region)"), std::string::npos)
        << e.what();
  }
  // The next dataplane (a restarted kairosd) replaces the dead one's
  // region under the same name, and says whose it was.
  {
    auto again = ShmRegion::create_named(name, 2, 8);
    EXPECT_EQ(again.replaced_dead_pid(), child);
    EXPECT_EQ(again.nr_kthreads(), 2u);
    auto app = ShmRegion::attach_named(name);
    EXPECT_TRUE(app.dataplane_alive());
    // A live dataplane's region is never replaced.
    EXPECT_THROW(ShmRegion::create_named(name, 1, 8), std::system_error);
  }
  EXPECT_NE(access(("/dev/shm/" + name).c_str(), F_OK), 0);  // unlinked by its creator
  for (int fd : {go[0], go[1], ready[0], ready[1]}) close(fd);
}

}  // namespace
}  // namespace kairos::dp
