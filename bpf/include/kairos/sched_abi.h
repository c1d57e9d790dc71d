/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ABI between the kairos sched_ext scheduler (BPF) and kairosd: the maps
 * and records the two sides share. Versioned; both sides include this file.
 *
 * Maps (names as in the BPF object, all written by kairosd unless noted):
 *   cgroup_app   HASH   u64 cgroup id (kernfs id)  -> u32 app id (1..MAX-1)
 *                A task belongs to the app of its nearest ancestor cgroup
 *                (up to KAIROS_CGROUP_DEPTH levels up) found in this map.
 *   apps         ARRAY  u32 app id -> struct kairos_app; kairosd sets the
 *                class only through kairos_set_class (never by writing
 *                the record: its CPU mask and count are BPF-maintained,
 *                see kairos_set_owner). Invariants: nr_owned == the
 *                number of bits in owned, a bit is set exactly when
 *                cpu_owner names the app, and no offline CPU is owned.
 *   cpu_owner    ARRAY  u32 cpu -> u32 app id, 0 = nobody (BPF-maintained)
 *   app_stats    ARRAY  BPF_F_MMAPABLE, u32 app id -> struct
 *                kairos_app_stats; written by BPF, polled by the allocator
 *                without system calls (one cache line per app).
 *   cpu_state    ARRAY  BPF_F_MMAPABLE, u32 cpu -> struct kairos_cpu_state;
 *                written by BPF when a task starts or stops running on
 *                the CPU, polled by the allocator (idle / BE / LC per CPU).
 *   app_wait_hist PERCPU_ARRAY  u32 app id -> struct kairos_app_wait_hist;
 *                written by BPF when a task leaves its app's DSQ (v6),
 *                summed over CPUs by kairosd for its status and metrics.
 * Programs:
 *   kairos_set_owner  BPF_PROG_TYPE_SYSCALL, run with bpf_prog_test_run:
 *                in = struct kairos_owner_req. Grants (app != 0) or
 *                revokes (app == 0) a CPU and kicks it (with preemption on
 *                a grant) so the change takes effect within microseconds.
 *                A grant of an offline CPU fails with -ENODEV.
 *   kairos_set_class  BPF_PROG_TYPE_SYSCALL, in = struct kairos_class_req:
 *                sets an app's class; an app that stops being LC loses
 *                its CPUs.
 * Global data (.bss): struct kairos_sched_stats stats, struct
 *   kairos_tunables tunables (written by kairosd), struct
 *   kairos_exit_record exit_record, u32 config_gen (bumped by kairosd after
 *   changing cgroup_app/apps so tasks get classified again), u32
 *   standby[KAIROS_MAX_APPS] (v11): per app, the CPU kairosd keeps on
 *   standby for it plus one, 0 for none. kairosd fills a slot with an
 *   atomic exchange; when an LC task of that app must wait in its queue
 *   for any reason but the guard (KAIROS_LC_QUEUED_SIBLING, _REQUEUE,
 *   _UNOWNED), the scheduler empties the slot with an exchange and grants
 *   that CPU as kairos_set_owner would (stats.standby_grants). kairosd
 *   learns of the claim from the emptied slot and adopts the grant.
 */
#ifndef KAIROS_SCHED_ABI_H
#define KAIROS_SCHED_ABI_H

#define KAIROS_SCHED_ABI_VERSION 11
#define KAIROS_EXIT_REASON_LEN 128
#define KAIROS_EXIT_MSG_LEN 1024
#define KAIROS_EXIT_DUMP_LEN 32768	/* the kernel's debug dump (v7) */

#define KAIROS_MAX_APPS 16	/* app ids 1..15; 0 means "ordinary task" */
#define KAIROS_SCHED_MAX_CPUS 256
#define KAIROS_SCHED_CPU_WORDS (KAIROS_SCHED_MAX_CPUS / 64)
#define KAIROS_MAX_CGROUPS 1024
#define KAIROS_CGROUP_DEPTH 8

/* DSQ ids: the shared queue, and one per app (base + app id). */
#define KAIROS_SHARED_DSQ 0
#define KAIROS_APP_DSQ_BASE 16

/* App classes. */
#define KAIROS_CLASS_NONE 0
#define KAIROS_CLASS_LC 1	/* latency-critical: runs on owned CPUs */
#define KAIROS_CLASS_BE 2	/* best-effort: like ordinary tasks */

/* Mirrors of the kernel's enum scx_exit_kind / scx_exit_code bits. */
#define KAIROS_SCX_EXIT_UNREG 64
#define KAIROS_SCX_EXIT_UNREG_BPF 65
#define KAIROS_SCX_EXIT_UNREG_KERN 66
#define KAIROS_SCX_EXIT_SYSRQ 67
#define KAIROS_SCX_EXIT_ERROR 1024
#define KAIROS_SCX_EXIT_ERROR_BPF 1025
#define KAIROS_SCX_EXIT_ERROR_STALL 1026
#define KAIROS_SCX_ECODE_RSN_HOTPLUG (1ULL << 32)
#define KAIROS_SCX_ECODE_ACT_RESTART (1ULL << 48)

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

/*
 * Why an LC task waited in its app's DSQ instead of starting on an owned
 * CPU (v9): the index of kairos_sched_stats.lc_queued and
 * .lc_queued_wait_ns.
 */
#define KAIROS_LC_QUEUED_SIBLING 0	/* every owned CPU it may use runs the app */
#define KAIROS_LC_QUEUED_THROTTLED 1	/* the owned CPU's guard holds LC back */
#define KAIROS_LC_QUEUED_REQUEUE 2	/* its slice ended (or it yielded) and a
					 * sibling, ordinary work's turn or the
					 * guard came first: no preemption */
#define KAIROS_LC_QUEUED_UNOWNED 3	/* the app owns no CPU (no grant yet) */
#define KAIROS_LC_QUEUED_REASONS 4

/*
 * Grant latency (v10). For each grant (kairos_set_owner giving a CPU to an
 * app), the time until a task of that app that was already waiting in the
 * app's queue when the grant was made starts on that CPU, measured from
 * two starts: the grant (kick -> run: the kick, the preemption of what ran
 * there, the dispatch) and the moment that task entered the queue (queued
 * -> run: the congestion seen, decided on and granted, then kick -> run).
 * And for every grant made while the app had tasks queued, how long the
 * head of its queue had waited by then: the allocator's reaction time.
 *
 * Log-linear buckets, so that a quantile is known to within a quarter of
 * its power of two. Bucket 0 counts durations up to 2^MIN_SHIFT ns; each
 * power of two (2^k, 2^(k+1)] above it is cut into four equal buckets,
 * 1 + 4 * (k - MIN_SHIFT) + 0..3, so bucket b counts the durations above
 * the bound of bucket b - 1 and up to its own; the last bucket counts
 * everything above 2^(MIN_SHIFT + OCTAVES) ns.
 */
#define KAIROS_GRANT_HIST_MIN_SHIFT 10	/* 1.024 us */
#define KAIROS_GRANT_HIST_OCTAVES 17	/* up to 2^27 ns (134 ms) */
#define KAIROS_GRANT_HIST_BUCKETS (2 + 4 * KAIROS_GRANT_HIST_OCTAVES)

struct kairos_grant_hist {
	__kairos_u64 count[KAIROS_GRANT_HIST_BUCKETS];
	__kairos_u64 sum_ns;
};

/* The index of the top set bit of v != 0 (no clz in BPF). */
static inline __kairos_u32 kairos_top_bit(__kairos_u64 v)
{
	__kairos_u32 k = 0;

	if (v >> 32) { k += 32; v >>= 32; }
	if (v >> 16) { k += 16; v >>= 16; }
	if (v >> 8) { k += 8; v >>= 8; }
	if (v >> 4) { k += 4; v >>= 4; }
	if (v >> 2) { k += 2; v >>= 2; }
	if (v >> 1) { k += 1; }
	return k;
}

/* The bucket of a duration; used by the scheduler and by its readers. */
static inline __kairos_u32 kairos_grant_bucket(__kairos_u64 ns)
{
	__kairos_u64 m;
	__kairos_u32 k;

	if (ns <= (1ULL << KAIROS_GRANT_HIST_MIN_SHIFT))
		return 0;
	m = ns - 1;	/* a duration equal to a bound belongs below it */
	k = kairos_top_bit(m);
	if (k >= KAIROS_GRANT_HIST_MIN_SHIFT + KAIROS_GRANT_HIST_OCTAVES)
		return KAIROS_GRANT_HIST_BUCKETS - 1;
	return 1 + 4 * (k - KAIROS_GRANT_HIST_MIN_SHIFT) +
	       (__kairos_u32)((m >> (k - 2)) & 3);
}

/* Global counters of the scheduler. */
struct kairos_sched_stats {
	__kairos_u64 enqueued;		/* ops.enqueue calls */
	__kairos_u64 dispatched;	/* tasks moved to a local DSQ by ops.dispatch */
	__kairos_u64 direct;		/* tasks put on an idle CPU in select_cpu */
	__kairos_u64 lc_enqueued;	/* of which LC tasks into their app's DSQ */
	__kairos_u64 lc_fallback;	/* LC tasks with no usable owned CPU: shared DSQ */
	__kairos_u64 preempt_kicks;	/* LC wakeups that preempted other work */
	__kairos_u64 guard_throttles;	/* LC held back by the MicroQuanta guard */
	__kairos_u64 rescues;		/* LC tasks run off-owner to avoid a stall */
	__kairos_u64 cpu_online;	/* hotplug events seen */
	__kairos_u64 cpu_offline;
	__kairos_u64 grants;		/* kairos_set_owner calls that granted */
	__kairos_u64 revokes;
	__kairos_u64 guard_resumes;	/* throttled owned CPUs kicked when their
					 * tokens were back (guard timer) */
	__kairos_u64 kthread_direct;	/* per-CPU kthreads put straight on
					 * their CPU, not in the shared DSQ */
	__kairos_u64 slice_ends;	/* LC slices ended by the scheduler for a
					 * sibling waiting in the app's queue (v8) */
	__kairos_u64 owner_rekicks;	/* kicks for an owner's work repeated when
					 * ordinary work ran first: an RT task
					 * held the CPU at the kick (v8) */
	__kairos_u64 lc_queued[KAIROS_LC_QUEUED_REASONS];	/* LC tasks that
					 * waited in their app's DSQ, by reason (v9) */
	__kairos_u64 lc_queued_wait_ns[KAIROS_LC_QUEUED_REASONS]; /* and how
					 * long, in all, until they ran (v9) */
	__kairos_u64 grants_run;	/* grants whose app's queued task ran
					 * there: one sample in each of the two
					 * histograms below (v10) */
	__kairos_u64 grants_unmatched;	/* grants that ended (revoked, or the
					 * CPU granted again) before that (v10) */
	struct kairos_grant_hist grant_kick_run;	/* grant -> run (v10) */
	struct kairos_grant_hist grant_queued_run;	/* queued -> run (v10) */
	struct kairos_grant_hist grant_head_age;	/* at each grant with the
					 * app's queue non-empty: how long its
					 * head had waited (v10) */
	__kairos_u64 standby_grants;	/* standby CPUs claimed by an app whose
					 * work outgrew its CPUs (v11) */
	__kairos_u64 standby_failed;	/* claims whose grant failed: the CPU
					 * went offline or was owned (v11) */
};

/* MicroQuanta guard: on every CPU, LC tasks may use at most quantum_ns of
 * each period_ns (a token bucket, so the bound holds over any window).
 * Written by kairosd; quantum_ns == period_ns disables the guard (an owned
 * CPU still serves the shared queue at least once per period_ns).
 */
struct kairos_tunables {
	__kairos_u64 quantum_ns;
	__kairos_u64 period_ns;
	__kairos_u64 lc_slice_ns;	/* slice of LC tasks */
	__kairos_u64 be_slice_ns;	/* slice of everything else */
	__kairos_u64 rescue_ns;		/* LC queued longer than this runs anywhere */
};

struct kairos_app {
	__kairos_u32 cls;		/* KAIROS_CLASS_* */
	__kairos_u32 nr_owned;		/* CPUs owned now (BPF-maintained) */
	__kairos_u64 owned[KAIROS_SCHED_CPU_WORDS]; /* CPU bitmap (BPF-maintained) */
};

/* Per-app queue state, one cache line; times are bpf_ktime (CLOCK_MONOTONIC) ns. */
struct kairos_app_stats {
	__kairos_u64 queued;		/* tasks waiting in the app's DSQ now */
	__kairos_u64 oldest_enq_ns;	/* enqueue time of the head, 0 if empty */
	__kairos_u64 enqueued;		/* total */
	__kairos_u64 dispatched;	/* total started from the app's DSQ */
	__kairos_u64 wait_ns_total;	/* sum of queueing delays of those */
	__kairos_u64 wait_ns_max;
	__kairos_u64 run_ns;		/* CPU time of the app's tasks */
	__kairos_u64 seq;		/* bumped on every change */
};

/*
 * The queueing delays of one app's tasks (time in its DSQ), in powers of
 * two: bucket 0 counts delays up to 2^MIN_SHIFT ns, bucket i up to
 * 2^(MIN_SHIFT + i) ns, the last bucket everything longer. The sum is
 * kairos_app_stats.wait_ns_total. Kept apart from kairos_app_stats so that
 * stays one cache line for the allocator's polling.
 */
#define KAIROS_WAIT_HIST_MIN_SHIFT 8	/* 256 ns */
#define KAIROS_WAIT_HIST_BUCKETS 21	/* up to 2^27 ns (134 ms), then +Inf */

struct kairos_app_wait_hist {
	__kairos_u64 count[KAIROS_WAIT_HIST_BUCKETS];
};

/*
 * What one CPU runs now, one cache line per CPU (v3). 'busy' is 1 from a
 * task's ops.running to its ops.stopping, so 0 means the CPU is idle (or
 * between two tasks); 'lc_app' is the LC app of that task, 0 for ordinary
 * and BE tasks. The allocator reads it as: idle = !busy, BE work running
 * = busy && !lc_app, owner left it idle = !(busy && lc_app == owner).
 */
struct kairos_cpu_state {
	__kairos_u32 busy;
	__kairos_u32 lc_app;
	__kairos_u64 changes;		/* bumped on every update */
	__kairos_u64 pad[6];
};

struct kairos_owner_req {
	__kairos_u32 cpu;
	__kairos_u32 app;		/* 0 revokes */
	__kairos_s64 result;		/* out: 0, or -errno */
};

/* kairos_set_class: the class of one app, nothing else of its record. */
struct kairos_class_req {
	__kairos_u32 app;		/* 1..KAIROS_MAX_APPS-1 */
	__kairos_u32 cls;		/* KAIROS_CLASS_* */
};

/*
 * Why the scheduler stopped, copied out of struct scx_exit_info. kind is
 * written last, with a full barrier: non-zero means the rest is complete.
 * dump is the kernel's debug dump of an error exit (the state of every
 * CPU and runnable task; empty for an ordinary unload), up to
 * KAIROS_EXIT_DUMP_LEN bytes, NUL-terminated.
 */
struct kairos_exit_record {
	__kairos_u32 kind;		/* enum scx_exit_kind; 0 while running */
	__kairos_u32 pad;
	__kairos_s64 exit_code;
	char reason[KAIROS_EXIT_REASON_LEN];
	char msg[KAIROS_EXIT_MSG_LEN];
	char dump[KAIROS_EXIT_DUMP_LEN];
};

#endif /* KAIROS_SCHED_ABI_H */
