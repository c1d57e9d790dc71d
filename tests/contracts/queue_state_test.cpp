#include <kairos/contracts/queue_state.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <thread>

namespace kairos {
namespace {

TEST(QueueStateAbi, IsOneCacheLineWithStableOffsets) {
  EXPECT_EQ(sizeof(kairos_queue_state), 64u);
  EXPECT_EQ(alignof(kairos_queue_state), 64u);
  // The allocator and other languages rely on these offsets (ABI v1).
  EXPECT_EQ(offsetof(kairos_queue_state, generation), 0u);
  EXPECT_EQ(offsetof(kairos_queue_state, rq_head), 8u);
  EXPECT_EQ(offsetof(kairos_queue_state, rx_head), 16u);
  EXPECT_EQ(offsetof(kairos_queue_state, last_park_ns), 32u);
}

TEST(QueueState, LengthsSurviveCounterWrapAround) {
  kairos_queue_state line{};
  line.rq_head = 2;                // wrapped past UINT32_MAX
  line.rq_tail = 0xFFFFFFFEu;
  auto s = read_queue_state(&line);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rq_len(), 4u);
}

TEST(QueueState, WriterBumpsGenerationByTwoPerUpdate) {
  kairos_queue_state line{};
  QueueStateWriter w(&line);
  w.rq_push(3);
  w.rq_pop(1);
  w.set_state(KAIROS_KTHREAD_RUNNING);
  auto s = read_queue_state(&line);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->generation, 6u);
  EXPECT_EQ(s->rq_len(), 2u);
  EXPECT_EQ(s->state, KAIROS_KTHREAD_RUNNING);
}

TEST(QueueState, ReaderNeverSeesATornLineUnderAConcurrentWriter) {
  // The writer keeps rx_head == rq_head inside each update; a reader that
  // accepted a torn snapshot would see them differ.
  kairos_queue_state line{};
  QueueStateWriter w(&line);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (unsigned n = 0; !stop.load(std::memory_order_relaxed); ++n) {
      w.rq_push(1);  // two separate updates: rq then rx
      w.rx_push(1);
      // Real kthreads update between runs of work; an unbroken stream of
      // updates could starve the reader on a loaded 2-core host.
      if (n % 64 == 0) std::this_thread::yield();
    }
  });
  int consistent = 0;
  for (int i = 0; i < 200000; ++i) {
    auto s = read_queue_state(&line, 1000);
    if (!s) continue;
    // Between the two updates rq may lead rx by exactly one, never more.
    const std::uint32_t lead = s->rq_head - s->rx_head;
    ASSERT_LE(lead, 1u);
    ASSERT_EQ(s->generation % 2, 0u);
    ++consistent;
  }
  stop = true;
  writer.join();
  EXPECT_GT(consistent, 0);
  // With the writer gone every read succeeds and sees the final counts.
  auto last = read_queue_state(&line, 1);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->rq_head, last->rx_head);
}

}  // namespace
}  // namespace kairos
