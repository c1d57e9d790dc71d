// Park fds (Runtime::add_park_fds): a parked kthread of the futex backend
// also waits on given fds, so a readable fd wakes the kthread that serves
// it (kairos::net direct mode) with no thread in between.
#include <kairos/runtime.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "test_util.hpp"

using namespace std::chrono_literals;
using kairos::Runtime;
using kairos::Thread;
using kairos::test::eventually;
namespace kd = kairos::detail;

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    close(r);
    close(w);
  }
  void put() const { EXPECT_EQ(write(w, "x", 1), 1); }
  bool take() const {
    char c;
    return read(r, &c, 1) == 1;
  }
};

}  // namespace

TEST(FutexParker, ParkOnFdsEndsOnReadableFdUnparkOrDeadline) {
  auto p = kd::make_futex_parker();
  ASSERT_TRUE(p->waits_on_fds());
  kd::Kthread k;
  Pipe pipe;
  k.park_evfd.store(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  kd::ParkFdSet set{{pipe.r}};
  k.park_fds.store(&set);
  // Deadline: returns on its own.
  p->prepare(k);
  auto t0 = std::chrono::steady_clock::now();
  p->park(k, kd::now_ns() + 3'000'000, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
  EXPECT_EQ(k.futex_word.load(), 0u);
  // A readable fd ends the park, with no unpark.
  p->prepare(k);
  std::thread writer([&] {
    std::this_thread::sleep_for(2ms);
    pipe.put();
  });
  t0 = std::chrono::steady_clock::now();
  p->park(k, kd::now_ns() + 20'000'000'000ull, 0);
  writer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(k.futex_word.load(), 0u);
  EXPECT_TRUE(pipe.take());
  // An unpark wakes it in ppoll (eventfd); one before the park is not lost.
  p->prepare(k);
  std::thread waker([&] {
    std::this_thread::sleep_for(2ms);
    p->unpark(k);
  });
  p->park(k, kd::kNoDeadline, 0);
  waker.join();
  EXPECT_EQ(k.futex_word.load(), 1u);
  p->prepare(k);
  p->unpark(k);
  p->park(k, kd::kNoDeadline, 0);  // returns at once
  // A stale unpark count from an earlier park is only a spurious round:
  // the park still waits for its deadline.
  p->prepare(k);
  t0 = std::chrono::steady_clock::now();
  p->park(k, kd::now_ns() + 3'000'000, 0);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 3ms);
  // Back to no fds: the plain futex wait, woken by unpark.
  k.park_fds.store(nullptr);
  p->prepare(k);
  std::thread waker2([&] {
    std::this_thread::sleep_for(2ms);
    p->unpark(k);
  });
  p->park(k, kd::kNoDeadline, 0);
  waker2.join();
  close(k.park_evfd.load());
}

TEST(Park, ReadableParkFdWakesItsParkedKthread) {
  // Declared before the runtime: its pollers use them until it is gone.
  Pipe pipe;
  std::atomic<int> taken{0};
  Runtime rt({.kthreads = 2, .spin_before_park = 0us});
  // Only kthread 1 reads the pipe: the datagram-like byte must wake it.
  rt.add_poller([&](unsigned k) {
    if (k != 1) return false;
    bool any = false;
    while (pipe.take()) {
      taken.fetch_add(1);
      any = true;
    }
    return any;
  });
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  // Without park fds nothing wakes kthread 1 for it.
  pipe.put();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(taken.load(), 0) << "kthread 1 ran without a wake: the control is broken";
  const int fds[] = {pipe.r};
  ASSERT_TRUE(rt.add_park_fds(1, fds));
  // The pending byte, then a byte after each full park.
  ASSERT_TRUE(eventually([&] { return taken.load() == 1; }));
  const int rounds = 20 * kairos::test::kScale;
  for (int i = 0; i < rounds; i++) {
    ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
    pipe.put();
    ASSERT_TRUE(eventually([&] { return taken.load() == i + 2; }))
        << "round " << i << ": a readable park fd did not wake its kthread";
  }
  // Removed: the kthread parks on its futex word again.
  rt.remove_park_fds(1, fds);
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  pipe.put();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(taken.load(), rounds + 1);
  rt.grant(2);  // let kthread 1 drain the byte before the pipe closes
  ASSERT_TRUE(eventually([&] { return taken.load() == rounds + 2; }));
}

TEST(Park, AddParkFdsRejectsBadInputAndDeclinesWhereItCannotWait) {
  Pipe pipe;
  Runtime rt({.kthreads = 2});
  const int good[] = {pipe.r};
  EXPECT_THROW(rt.add_park_fds(2, good), std::out_of_range);
  EXPECT_THROW(rt.add_park_fds(0, std::span<const int>()), std::invalid_argument);
  const int closed[] = {pipe.r, 1 << 20};
  EXPECT_THROW(rt.add_park_fds(0, closed), std::invalid_argument);
  const int negative[] = {-1};
  EXPECT_THROW(rt.add_park_fds(0, negative), std::invalid_argument);
  EXPECT_THROW(rt.remove_park_fds(5, good), std::out_of_range);
  // Nothing was added by the failed calls.
  EXPECT_EQ(rt.impl()->ks[0]->park_fds.load(), nullptr);
  EXPECT_NO_THROW(rt.remove_park_fds(0, good));  // unknown: ignored
  // Allocator mode: only grants wake kthreads, so it declines.
  Runtime alloc({.kthreads = 1, .self_wake = false});
  EXPECT_FALSE(alloc.add_park_fds(0, good));
  EXPECT_EQ(alloc.impl()->ks[0]->park_fds.load(), nullptr);
  EXPECT_TRUE(rt.add_park_fds(0, good));
  EXPECT_NE(rt.impl()->ks[0]->park_fds.load(), nullptr);
  rt.remove_park_fds(0, good);
  EXPECT_EQ(rt.impl()->ks[0]->park_fds.load(), nullptr);
}

TEST(Park, ParkUnparkStormWithParkFdsLosesNoWakeups) {
  // ParkUnparkStormLosesNoWakeups with every kthread parked in ppoll on a
  // pipe of its own, written at random meanwhile: unparks (eventfd) and fd
  // wakes race each other and the kthreads' parks; a lost wake-up of
  // either kind hangs a burst or leaves a byte unread.
  constexpr unsigned kK = 4;
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (unsigned k = 0; k < kK; k++) pipes.push_back(std::make_unique<Pipe>());
  std::atomic<long> read_bytes{0};
  Runtime rt({.kthreads = kK, .spin_before_park = std::chrono::nanoseconds(0)});
  rt.add_poller([&](unsigned k) {
    bool any = false;
    while (pipes[k]->take()) {
      read_bytes.fetch_add(1);
      any = true;
    }
    return any;
  });
  for (unsigned k = 0; k < kK; k++) {
    const int fds[] = {pipes[k]->r};
    ASSERT_TRUE(rt.add_park_fds(k, fds));
  }
  std::atomic<bool> stop{false};
  std::atomic<long> written{0};
  std::thread writer([&] {
    std::minstd_rand rng(7);
    while (!stop.load()) {
      pipes[rng() % kK]->put();
      written.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(50 + rng() % 200));
    }
  });
  const int bursts = 100 * kairos::test::kScale;
  const long done = kairos::test::spawn_join_bursts(rt, bursts);
  stop = true;
  writer.join();
  EXPECT_EQ(done, bursts * 4L);
  EXPECT_TRUE(eventually([&] { return read_bytes.load() == written.load(); }))
      << read_bytes.load() << " of " << written.load() << " bytes read";
}
