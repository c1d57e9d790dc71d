// C++ access to the queue-state line (kairos/abi/queue_state.h): a writer
// used by a runtime kthread and a lock-free snapshot reader used by the
// allocator.
#pragma once

#include <kairos/abi/queue_state.h>

#include <atomic>
#include <cstdint>
#include <optional>

namespace kairos {

// A consistent copy of one queue-state line.
struct QueueSnapshot {
  std::uint32_t generation = 0;
  kairos_kthread_state state = KAIROS_KTHREAD_PARKED;
  std::uint32_t rq_head = 0, rq_tail = 0;
  std::uint32_t rx_head = 0, rx_tail = 0;
  std::uint32_t cpu = 0, app_id = 0;
  std::uint64_t last_park_ns = 0;

  // Items waiting; counters wrap, so unsigned subtraction is the length.
  std::uint32_t rq_len() const { return rq_head - rq_tail; }
  std::uint32_t rx_len() const { return rx_head - rx_tail; }
};

// Updates of one line. Writers must be serialized by the caller (the
// runtime holds the kthread's run-queue lock), so counters are advanced
// with plain load+store, not locked read-modify-writes. Every mutation
// bumps the generation twice (odd while in progress) so readers can
// detect torn reads.
class QueueStateWriter {
 public:
  explicit QueueStateWriter(kairos_queue_state* line) : line_(line) {}

  void set_state(kairos_kthread_state s);
  void rq_push(std::uint32_t n = 1);
  void rq_pop(std::uint32_t n = 1);
  void rx_push(std::uint32_t n = 1);
  void rx_pop(std::uint32_t n = 1);
  // Publishes an RX ring's indices as the consumer sees them.
  void set_rx(std::uint32_t head, std::uint32_t tail);
  void set_identity(std::uint32_t cpu, std::uint32_t app_id);
  void set_cpu(std::uint32_t cpu);
  // State change plus the park timestamp, as one update.
  void set_parked(std::uint64_t now_ns);

 private:
  template <typename F>
  void update(F&& f);
  kairos_queue_state* line_;
};

// Returns a snapshot, or nothing when the writer kept the line busy for
// max_retries attempts (the caller just tries again at its next poll).
std::optional<QueueSnapshot> read_queue_state(const kairos_queue_state* line,
                                              int max_retries = 16);

}  // namespace kairos
