// Adapter from the shared-memory queue-state line (kairos/abi/
// queue_state.h, written by runtime kthreads) to the policy's KthreadView.
// Lock-free seqcount read; this is the per-kthread cost of the poll loop.
#pragma once

#include <kairos/abi/queue_state.h>
#include <kairos/allocator/types.hpp>

namespace kairos::policy {

// Fills 'out' from one line. When the writer kept the line busy for
// max_retries attempts, out.valid is false (the policy skips that kthread
// for this poll and keeps its previous memory).
void read_kthread_view(const kairos_queue_state* line, KthreadView& out,
                       int max_retries = 4);

}  // namespace kairos::policy
