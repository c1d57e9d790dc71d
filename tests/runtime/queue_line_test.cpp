// The queue-state line as the allocator reads it: through the shared
// runtime area, rq_head counts uthreads ever queued on a kthread and
// rq_tail those ever dequeued (run or stolen), so head - tail is the
// queue length and "tail passed the previous head" means no item waited
// across two polls.
#include <kairos/contracts/queue_state_area.hpp>
#include <kairos/runtime.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "test_util.hpp"

using kairos::Runtime;
using kairos::RuntimeAreaView;
using kairos::test::eventually;

TEST(QueueLine, AllocatorViewCountsQueuedAndDequeued) {
  Runtime rt({.kthreads = 2, .self_wake = false, .app_id = 7});
  std::string err;
  auto view = RuntimeAreaView::attach_fd(rt.queue_state_fd(), &err);
  ASSERT_TRUE(view) << err;
  EXPECT_EQ(view->nr_kthreads(), 2u);
  EXPECT_EQ(view->app_id(), 7u);
  EXPECT_EQ(view->pid(), static_cast<std::uint32_t>(getpid()));
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
  ASSERT_TRUE(eventually([&] { return view->tid(0) != 0 && view->tid(1) != 0; }));

  std::uint32_t head0[2], tail0[2];
  for (unsigned k = 0; k < 2; ++k) {
    auto s = view->snapshot(k);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->app_id, 7u);
    EXPECT_EQ(s->rq_len(), 0u);
    head0[k] = s->rq_head;
    tail0[k] = s->rq_tail;
  }
  // Queue 10 while parked: heads move by 10 in total, tails do not.
  std::atomic<int> ran{0};
  for (int i = 0; i < 10; ++i) rt.spawn_detached([&] { ran.fetch_add(1); });
  std::uint32_t dhead = 0, dtail = 0;
  for (unsigned k = 0; k < 2; ++k) {
    auto s = view->snapshot(k);
    dhead += s->rq_head - head0[k];
    dtail += s->rq_tail - tail0[k];
  }
  EXPECT_EQ(dhead, 10u);
  EXPECT_EQ(dtail, 0u);
  // The allocator's congestion rule: what was queued at the last poll is
  // still queued (tail has not reached the previous head).
  std::vector<kairos::QueueSnapshot> prev;
  for (unsigned k = 0; k < 2; ++k) prev.push_back(*view->snapshot(k));
  bool congested = false;
  for (unsigned k = 0; k < 2; ++k) {
    auto s = *view->snapshot(k);
    if (prev[k].rq_len() && s.rq_tail - prev[k].rq_head > (1u << 31))
      congested = true;
  }
  EXPECT_TRUE(congested);

  // Grant: everything runs; every queued item is dequeued exactly once
  // somewhere (sum of tails catches up with sum of heads), and the
  // previous heads are passed: no longer congested.
  rt.grant(2);
  ASSERT_TRUE(eventually([&] { return ran.load() == 10; }));
  ASSERT_TRUE(eventually([&] {
    std::uint32_t h = 0, t = 0;
    for (unsigned k = 0; k < 2; ++k) {
      auto s = view->snapshot(k);
      h += s->rq_head;
      t += s->rq_tail;
    }
    return h == t;
  }));
  for (unsigned k = 0; k < 2; ++k) {
    auto s = *view->snapshot(k);
    EXPECT_TRUE(static_cast<std::int32_t>(s.rq_tail - prev[k].rq_head) >= 0);
    EXPECT_GT(s.generation, 0u);
    EXPECT_EQ(s.generation % 2, 0u);
  }
  ASSERT_TRUE(eventually([&] { return rt.running_kthreads() == 0; }));
}

TEST(QueueLine, RxIndicesArePublished) {
  Runtime rt({.kthreads = 1});
  rt.publish_rx(0, 100, 97);
  auto s = kairos::read_queue_state(rt.queue_state_line(0));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->rx_len(), 3u);
  EXPECT_THROW(rt.publish_rx(1, 0, 0), std::out_of_range);
  EXPECT_EQ(rt.queue_state_line(1), nullptr);
}

TEST(QueueLine, NamedAreaCanBeOpenedByAnotherProcessByName) {
  const std::string name = "/kairos-test-" + std::to_string(getpid());
  {
    Runtime rt({.kthreads = 2, .shm_name = name});
    std::string err;
    auto view = RuntimeAreaView::attach_shm(name, &err);
    ASSERT_TRUE(view) << err;
    EXPECT_EQ(view->nr_kthreads(), 2u);
    EXPECT_EQ(view->line(2), nullptr);
    EXPECT_FALSE(view->snapshot(2));
  }
  std::string err;
  EXPECT_FALSE(RuntimeAreaView::attach_shm(name, &err));  // unlinked
  EXPECT_NE(err.find("shm_open"), std::string::npos);
}

namespace {

// A memfd holding 'bytes' of area, optionally corrupted.
int area_fd(std::size_t bytes, void (*corrupt)(kairos_runtime_area*)) {
  const int fd = memfd_create("kairos-bad", MFD_CLOEXEC);
  const std::size_t full = kairos::runtime_area_size(2);
  std::vector<char> buf(full, 0);
  kairos::runtime_area_init(buf.data(), 2, 1, 1);
  if (corrupt) corrupt(reinterpret_cast<kairos_runtime_area*>(buf.data()));
  EXPECT_EQ(write(fd, buf.data(), std::min(bytes, full)),
            static_cast<ssize_t>(std::min(bytes, full)));
  return fd;
}

std::string attach_error(int fd) {
  std::string err;
  auto v = RuntimeAreaView::attach_fd(fd, &err);
  close(fd);
  return v ? "" : err;
}

}  // namespace

TEST(QueueLine, MalformedAreasAreRejectedWithAReason) {
  const std::size_t full = kairos::runtime_area_size(2);
  EXPECT_EQ(attach_error(area_fd(full, nullptr)), "");
  EXPECT_EQ(attach_error(area_fd(10, nullptr)), "area smaller than its header");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->magic ^= 1; })),
            "bad magic");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->version = 9; })),
            "unsupported version 9");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->line_size = 128; })),
            "bad line_size");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->nr_kthreads = 0; })),
            "bad nr_kthreads");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->nr_kthreads = 1000; })),
            "lines out of bounds");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->lines_offset = 65; })),
            "lines out of bounds");
  EXPECT_EQ(attach_error(area_fd(full, [](kairos_runtime_area* h) { h->tids_offset = 1u << 30; })),
            "tids out of bounds");
  std::string err;
  EXPECT_FALSE(RuntimeAreaView::attach_fd(-1, &err));
  EXPECT_NE(err.find("fstat"), std::string::npos);
}

TEST(Pollers, IdleKthreadsPollSharedQueuesAndRunWhatTheyFind) {
  // A stand-in for the dataplane's RX rings: a counter of pending packets
  // that only pollers look at. Each packet becomes a uthread.
  Runtime rt({.kthreads = 2});
  std::atomic<int> pending{0}, handled{0};
  rt.add_poller([&](unsigned kthread) {
    EXPECT_LT(kthread, 2u);
    int n = pending.load();
    while (n > 0 && !pending.compare_exchange_weak(n, n - 1)) {
    }
    if (n <= 0) return false;
    Runtime::current()->spawn_detached([&] { handled.fetch_add(1); });
    return true;
  });
  EXPECT_THROW(rt.add_poller({}), std::invalid_argument);
  // Kthreads that are awake poll; wake one as a grant would.
  pending = 50;
  ASSERT_TRUE(eventually([&] {
    rt.grant(1);
    return handled.load() == 50;
  }));
  for (int i = 1; i < 8; ++i) rt.add_poller([](unsigned) { return false; });
  EXPECT_THROW(rt.add_poller([](unsigned) { return false; }), std::length_error);
}
