#include <kairos/contracts/queue_state.hpp>

namespace kairos {
namespace {

std::atomic_ref<std::uint32_t> field(std::uint32_t& f) {
  return std::atomic_ref<std::uint32_t>(f);
}

std::uint32_t load(const std::uint32_t& f, std::memory_order mo) {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(f)).load(mo);
}

}  // namespace

template <typename F>
void QueueStateWriter::update(F&& f) {
  auto gen = field(line_->generation);
  const std::uint32_t g = gen.load(std::memory_order_relaxed);
  gen.store(g + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  f(*line_);
  gen.store(g + 2, std::memory_order_release);
}

void QueueStateWriter::set_state(kairos_kthread_state s) {
  update([s](kairos_queue_state& l) {
    field(l.state).store(s, std::memory_order_relaxed);
  });
}

#define KAIROS_COUNTER_OP(method, member)                                  \
  void QueueStateWriter::method(std::uint32_t n) {                        \
    update([n](kairos_queue_state& l) {                                    \
      auto f = field(l.member);                                            \
      f.store(f.load(std::memory_order_relaxed) + n,                       \
              std::memory_order_relaxed);                                  \
    });                                                                    \
  }
KAIROS_COUNTER_OP(rq_push, rq_head)
KAIROS_COUNTER_OP(rq_pop, rq_tail)
KAIROS_COUNTER_OP(rx_push, rx_head)
KAIROS_COUNTER_OP(rx_pop, rx_tail)
#undef KAIROS_COUNTER_OP

void QueueStateWriter::set_rx(std::uint32_t head, std::uint32_t tail) {
  update([=](kairos_queue_state& l) {
    field(l.rx_head).store(head, std::memory_order_relaxed);
    field(l.rx_tail).store(tail, std::memory_order_relaxed);
  });
}

void QueueStateWriter::set_identity(std::uint32_t cpu, std::uint32_t app_id) {
  update([=](kairos_queue_state& l) {
    field(l.cpu).store(cpu, std::memory_order_relaxed);
    field(l.app_id).store(app_id, std::memory_order_relaxed);
  });
}

void QueueStateWriter::set_cpu(std::uint32_t cpu) {
  update([=](kairos_queue_state& l) {
    field(l.cpu).store(cpu, std::memory_order_relaxed);
  });
}

void QueueStateWriter::set_parked(std::uint64_t now_ns) {
  update([=](kairos_queue_state& l) {
    field(l.state).store(KAIROS_KTHREAD_PARKED, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(l.last_park_ns)
        .store(now_ns, std::memory_order_relaxed);
  });
}

std::optional<QueueSnapshot> read_queue_state(const kairos_queue_state* line,
                                              int max_retries) {
  for (int i = 0; i < max_retries; ++i) {
    const std::uint32_t g1 = load(line->generation, std::memory_order_acquire);
    if (g1 & 1u) continue;
    QueueSnapshot s;
    s.state = static_cast<kairos_kthread_state>(
        load(line->state, std::memory_order_relaxed));
    s.rq_head = load(line->rq_head, std::memory_order_relaxed);
    s.rq_tail = load(line->rq_tail, std::memory_order_relaxed);
    s.rx_head = load(line->rx_head, std::memory_order_relaxed);
    s.rx_tail = load(line->rx_tail, std::memory_order_relaxed);
    s.cpu = load(line->cpu, std::memory_order_relaxed);
    s.app_id = load(line->app_id, std::memory_order_relaxed);
    s.last_park_ns = std::atomic_ref<std::uint64_t>(
                         const_cast<std::uint64_t&>(line->last_park_ns))
                         .load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (load(line->generation, std::memory_order_relaxed) != g1) continue;
    s.generation = g1;
    return s;
  }
  return std::nullopt;
}

}  // namespace kairos
