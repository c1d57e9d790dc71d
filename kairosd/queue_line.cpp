#include "queue_line.hpp"
#include <kairos/contracts/queue_state.hpp>

namespace kairos::policy {

// The seqcount protocol lives in one place, the runtime's reader; this
// only maps its snapshot onto what the policy looks at.
void read_kthread_view(const kairos_queue_state* line, KthreadView& out,
                       int max_retries) {
  const auto s = read_queue_state(line, max_retries);
  if (!s) {
    out.valid = false;
    return;
  }
  out.rq_head = s->rq_head;
  out.rq_tail = s->rq_tail;
  out.rx_head = s->rx_head;
  out.rx_tail = s->rx_tail;
  out.cpu = s->cpu;
  out.last_park_ns = s->last_park_ns;
  out.parked = s->state == KAIROS_KTHREAD_PARKED;
  out.valid = true;
}

}  // namespace kairos::policy
