/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Kairos queue-state line: the ABI between a runtime kthread (writer) and
 * the allocator (reader). One 64-byte cache line per kthread, in shared
 * memory. Plain C so BPF, the kernel module and C++ can all include it.
 *
 * Counters are free-running 32-bit indices: occupancy is (head - tail)
 * with unsigned wrap-around. 'head' counts items ever produced, 'tail'
 * items ever consumed. The allocator calls a queue congested when an item
 * that was queued at its previous poll is still queued now, i.e. the tail
 * it saw last time has not reached the head it saw last time.
 *
 * 'generation' is a sequence counter (odd while the writer updates the
 * line), so a reader can take a consistent snapshot without locks.
 */
#ifndef KAIROS_ABI_QUEUE_STATE_H
#define KAIROS_ABI_QUEUE_STATE_H

#include "types.h"

#define KAIROS_QUEUE_STATE_ABI_VERSION 1
#define KAIROS_QUEUE_STATE_LINE_SIZE 64

enum kairos_kthread_state {
	KAIROS_KTHREAD_PARKED = 0,	/* gave its core back, waits for a grant */
	KAIROS_KTHREAD_RUNNING = 1,	/* owns a core, polling or running work */
	KAIROS_KTHREAD_BUSY = 2,	/* running a uthread right now */
};

struct kairos_queue_state {
	kairos_u32 generation;	/* seqcount: odd while being written */
	kairos_u32 state;	/* enum kairos_kthread_state */
	kairos_u32 rq_head;	/* uthreads ever queued on this kthread */
	kairos_u32 rq_tail;	/* uthreads ever dequeued (run or stolen) */
	kairos_u32 rx_head;	/* packets ever placed on the RX ring */
	kairos_u32 rx_tail;	/* packets ever taken off the RX ring */
	kairos_u32 cpu;		/* CPU the kthread last ran on */
	kairos_u32 app_id;	/* app this kthread belongs to */
	kairos_u64 last_park_ns;	/* CLOCK_MONOTONIC of the last park */
	kairos_u64 reserved[3];	/* zero; room to grow within the line */
} __attribute__((aligned(KAIROS_QUEUE_STATE_LINE_SIZE)));

#ifdef __cplusplus
static_assert(sizeof(struct kairos_queue_state) ==
		      KAIROS_QUEUE_STATE_LINE_SIZE,
	      "queue-state line must be exactly one cache line");
#else
_Static_assert(sizeof(struct kairos_queue_state) ==
		       KAIROS_QUEUE_STATE_LINE_SIZE,
	       "queue-state line must be exactly one cache line");
#endif

#endif /* KAIROS_ABI_QUEUE_STATE_H */
