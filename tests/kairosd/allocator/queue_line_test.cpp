// The adapter from the runtime's queue-state line to the policy's view.
#include "queue_line.hpp"
#include <kairos/contracts/queue_state.hpp>

#include <gtest/gtest.h>

namespace kairos::policy {
namespace {

TEST(QueueLine, ReadsWhatTheRuntimeWrote) {
  kairos_queue_state line{};
  QueueStateWriter w(&line);
  w.rq_push(5);
  w.rq_pop(2);
  w.rx_push(7);
  w.rx_pop(7);
  w.set_state(KAIROS_KTHREAD_RUNNING);
  line.cpu = 3;
  line.last_park_ns = 1234;
  KthreadView v;
  read_kthread_view(&line, v);
  EXPECT_TRUE(v.valid);
  EXPECT_FALSE(v.parked);
  EXPECT_EQ(v.rq_head, 5u);
  EXPECT_EQ(v.rq_tail, 2u);
  EXPECT_EQ(v.queued(), 3u);
  EXPECT_EQ(v.cpu, 3u);
  EXPECT_EQ(v.last_park_ns, 1234u);
  w.set_state(KAIROS_KTHREAD_PARKED);
  read_kthread_view(&line, v);
  EXPECT_TRUE(v.parked);
}

TEST(QueueLine, LineBeingWrittenIsReportedInvalid) {
  kairos_queue_state line{};
  line.generation = 7;  // odd: a writer is in the middle of an update
  KthreadView v;
  read_kthread_view(&line, v);
  EXPECT_FALSE(v.valid);
}

}  // namespace
}  // namespace kairos::policy
