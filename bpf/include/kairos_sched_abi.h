/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ABI between the kairos sched_ext scheduler (BPF) and kairosd: the layout
 * of what the scheduler publishes. Versioned; both sides include this file.
 */
#ifndef KAIROS_SCHED_ABI_H
#define KAIROS_SCHED_ABI_H

#define KAIROS_SCHED_ABI_VERSION 1
#define KAIROS_EXIT_REASON_LEN 128
#define KAIROS_EXIT_MSG_LEN 1024

#ifndef __VMLINUX_H__
#include <stdint.h>
typedef uint32_t __kairos_u32;
typedef uint64_t __kairos_u64;
typedef int64_t __kairos_s64;
#else
typedef u32 __kairos_u32;
typedef u64 __kairos_u64;
typedef s64 __kairos_s64;
#endif

/* Counters the scheduler keeps; read by kairosd from the skeleton's bss. */
struct kairos_sched_stats {
	__kairos_u64 enqueued;		/* ops.enqueue calls */
	__kairos_u64 dispatched;	/* tasks moved to a local DSQ by ops.dispatch */
	__kairos_u64 direct;		/* tasks put on an idle CPU in select_cpu */
};

/* Why the scheduler stopped, copied out of struct scx_exit_info. */
struct kairos_exit_record {
	__kairos_u32 kind;		/* enum scx_exit_kind; 0 while running */
	__kairos_u32 pad;
	__kairos_s64 exit_code;
	char reason[KAIROS_EXIT_REASON_LEN];
	char msg[KAIROS_EXIT_MSG_LEN];
};

#endif /* KAIROS_SCHED_ABI_H */
