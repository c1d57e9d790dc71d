#include <kairos/policy/queue_line.hpp>

#include <atomic>

namespace kairos::policy {
namespace {

template <typename T>
T load(const T& f, std::memory_order mo) {
  return std::atomic_ref<T>(const_cast<T&>(f)).load(mo);
}

}  // namespace

void read_kthread_view(const kairos_queue_state* line, KthreadView& out,
                       int max_retries) {
  for (int i = 0; i < max_retries; ++i) {
    const kairos_u32 g1 = load(line->generation, std::memory_order_acquire);
    if (g1 & 1u) continue;
    const kairos_u32 state = load(line->state, std::memory_order_relaxed);
    out.rq_head = load(line->rq_head, std::memory_order_relaxed);
    out.rq_tail = load(line->rq_tail, std::memory_order_relaxed);
    out.rx_head = load(line->rx_head, std::memory_order_relaxed);
    out.rx_tail = load(line->rx_tail, std::memory_order_relaxed);
    out.cpu = load(line->cpu, std::memory_order_relaxed);
    out.last_park_ns = load(line->last_park_ns, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (load(line->generation, std::memory_order_relaxed) != g1) continue;
    out.parked = state == KAIROS_KTHREAD_PARKED;
    out.valid = true;
    return;
  }
  out.valid = false;
}

}  // namespace kairos::policy
