// SPDX-License-Identifier: GPL-2.0
/*
 * kairos: the Kairos sched_ext scheduler.
 *
 * This first version is work-conserving FIFO over one shared queue: a
 * woken task goes straight to an idle CPU when there is one, otherwise to
 * the shared queue that every CPU drains. App DSQs, CPU ownership and the
 * MicroQuanta guard build on this skeleton.
 */
#include "kairos_bpf.h"
#include "kairos_sched_abi.h"

char _license[] SEC("license") = "GPL";

#define KAIROS_SHARED_DSQ 0

const volatile __u64 slice_ns = 5000000ULL;	/* set by kairosd before load */

struct kairos_sched_stats stats;
struct kairos_exit_record exit_record;

s32 KAIROS_OPS(kairos_select_cpu, struct task_struct *p, s32 prev_cpu,
	       u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		__sync_fetch_and_add(&stats.direct, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void KAIROS_OPS(kairos_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&stats.enqueued, 1);
	scx_bpf_dsq_insert(p, KAIROS_SHARED_DSQ, slice_ns, enq_flags);
}

void KAIROS_OPS(kairos_dispatch, s32 cpu, struct task_struct *prev)
{
	if (scx_bpf_dsq_move_to_local(KAIROS_SHARED_DSQ))
		__sync_fetch_and_add(&stats.dispatched, 1);
}

s32 KAIROS_OPS_SLEEPABLE(kairos_init)
{
	return scx_bpf_create_dsq(KAIROS_SHARED_DSQ, -1);
}

void KAIROS_OPS(kairos_exit, struct scx_exit_info *ei)
{
	bpf_probe_read_kernel_str(exit_record.reason,
				  sizeof(exit_record.reason), ei->reason);
	bpf_probe_read_kernel_str(exit_record.msg, sizeof(exit_record.msg),
				  ei->msg);
	exit_record.exit_code = ei->exit_code;
	/*
	 * Written last: kairosd treats a non-zero kind as "record complete".
	 * A compiler barrier suffices on x86 (stores are not reordered).
	 */
	asm volatile("" ::: "memory");
	exit_record.kind = ei->kind;
}

SEC(".struct_ops.link")
struct sched_ext_ops kairos_ops = {
	.select_cpu	= (void *)kairos_select_cpu,
	.enqueue	= (void *)kairos_enqueue,
	.dispatch	= (void *)kairos_dispatch,
	.init		= (void *)kairos_init,
	.exit		= (void *)kairos_exit,
	.timeout_ms	= 5000,
	.name		= "kairos",
};
