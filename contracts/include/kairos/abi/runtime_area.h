/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Kairos runtime area: the shared-memory file a runtime process publishes
 * so an allocator (another process) can watch its kthreads.
 *
 * Layout (all offsets from the start of the file, little endian):
 *   [0, 64)                   struct kairos_runtime_area (this header)
 *   [lines_offset, +64*n)     n struct kairos_queue_state lines, one per
 *                             kthread (see queue_state.h), index = kthread
 *   [tids_offset, +8*n)       n struct kairos_kthread_info (Linux tid of
 *                             each kthread, so the allocator can signal or
 *                             pin it)
 * A reader must check magic, version and line_size before trusting the
 * rest, and that every offset + size lies inside the file.
 */
#ifndef KAIROS_ABI_RUNTIME_AREA_H
#define KAIROS_ABI_RUNTIME_AREA_H

#include "queue_state.h"

#define KAIROS_RUNTIME_AREA_MAGIC 0x314145524b52414bULL /* "KARKREA1" */
#define KAIROS_RUNTIME_AREA_VERSION 1
#define KAIROS_RUNTIME_AREA_MAX_KTHREADS 1024

/*
 * Discovery: a runtime that wants kairosd's allocator to drive its kthreads
 * (allocator mode, self_wake off) publishes its area with shm_open name
 * KAIROS_RUNTIME_AREA_SHM_PREFIX "<pid>" (decimal pid of the process,
 * e.g. "/kairos-rt.1234", i.e. /dev/shm/kairos-rt.1234). kairosd scans
 * /dev/shm for that prefix, attaches read-only after validating the area
 * (header pid == the pid in the name, file owned by the process's user),
 * and maps the process to an app through /proc/<pid>/cgroup.
 */
#define KAIROS_RUNTIME_AREA_SHM_PREFIX "/kairos-rt."

struct kairos_runtime_area {
	kairos_u64 magic;	/* KAIROS_RUNTIME_AREA_MAGIC */
	kairos_u32 version;	/* KAIROS_RUNTIME_AREA_VERSION */
	kairos_u32 header_size;	/* sizeof(struct kairos_runtime_area) */
	kairos_u32 line_size;	/* KAIROS_QUEUE_STATE_LINE_SIZE */
	kairos_u32 nr_kthreads;	/* lines and infos that follow */
	kairos_u32 lines_offset;	/* byte offset of line 0, 64-aligned */
	kairos_u32 tids_offset;	/* byte offset of info 0 */
	kairos_u32 app_id;	/* same as every line's app_id */
	kairos_u32 pid;		/* process that owns the kthreads */
	kairos_u64 reserved[3];	/* zero */
} __attribute__((aligned(KAIROS_QUEUE_STATE_LINE_SIZE)));

struct kairos_kthread_info {
	kairos_u32 tid;		/* Linux thread id, 0 until the kthread runs */
	kairos_u32 reserved;
};

#ifdef __cplusplus
static_assert(sizeof(struct kairos_runtime_area) == 64, "one line header");
#else
_Static_assert(sizeof(struct kairos_runtime_area) == 64, "one line header");
#endif

#endif /* KAIROS_ABI_RUNTIME_AREA_H */
