// SPDX-License-Identifier: GPL-2.0
/*
 * kairos: the Kairos sched_ext scheduler.
 *
 * Tasks are classified by cgroup into apps (kairosd fills cgroup_app). A
 * latency-critical (LC) app's tasks wait in the app's own DSQ and run only
 * on CPUs the app owns (cpu_owner, changed through kairos_set_owner), with
 * short slices. Everything else waits in one shared DSQ that every CPU
 * drains, including owned CPUs their owner leaves idle.
 *
 * Safety nets, so that no runnable task is ever left behind:
 *  - the MicroQuanta guard: LC work on a CPU may use at most quantum_ns of
 *    every period_ns while other work waits (token bucket per CPU);
 *  - whatever the guard says, LC work holds a CPU for at most about
 *    period_ns while ordinary work waits before one ordinary task runs,
 *    and an LC task whose slice ended queues behind its siblings instead
 *    of preempting its own CPU again;
 *  - an LC task that cannot run on any CPU its app owns (no grant, CPU
 *    offline, affinity) is treated as an ordinary task;
 *  - an LC task queued longer than rescue_ns runs on whichever CPU looks
 *    (judged from the DSQ itself, not from the published statistics).
 * See kairos_sched_abi.h for the maps shared with kairosd.
 */
#include "kairos_bpf.h"
#include "kairos/sched_abi.h"

char _license[] SEC("license") = "GPL";

const volatile __u32 nr_cpus = 1;		/* nr_cpu_ids, set by kairosd */

struct kairos_sched_stats stats;
struct kairos_tunables tunables = {
	.quantum_ns = 900000,
	.period_ns = 1000000,
	.lc_slice_ns = 500000,
	.be_slice_ns = 5000000,
	.rescue_ns = 250000000,
};
struct kairos_exit_record exit_record;
__u32 config_gen;
__u32 inject_error;	/* tests: kairosd sets it to fail the scheduler */
/*
 * Per app: the CPU kairosd keeps on standby for it, plus one (0: none).
 * Written by kairosd (an exchange), emptied by the claim that takes it.
 */
__u32 standby[KAIROS_MAX_APPS];
/*
 * 1 while a CPU is online for the scheduler: set by ops.cpu_online (and
 * init), cleared by ops.cpu_offline before it revokes the CPU. A grant
 * publishes the owner and then reads this; the offline path clears this
 * and then revokes: with both steps fully ordered, one of them sees the
 * other, so an offline CPU never stays owned.
 */
__u32 cpu_up[KAIROS_SCHED_MAX_CPUS];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KAIROS_MAX_CGROUPS);
	__type(key, u64);
	__type(value, u32);
} cgroup_app SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_MAX_APPS);
	__type(key, u32);
	__type(value, struct kairos_app);
} apps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_SCHED_MAX_CPUS);
	__type(key, u32);
	__type(value, u32);
} cpu_owner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_MAX_APPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, u32);
	__type(value, struct kairos_app_stats);
} app_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_SCHED_MAX_CPUS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, u32);
	__type(value, struct kairos_cpu_state);
} cpu_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KAIROS_MAX_APPS);
	__type(key, u32);
	__type(value, struct kairos_app_wait_hist);
} app_wait_hist SEC(".maps");

/* What each CPU is doing, read by other CPUs when they pick one to kick. */
struct cpu_ctx {
	u32 curr_app;		/* LC app whose task runs here, 0 if none */
	u32 owner_kick;		/* kicked for its owner's work, which has
				 * not run since (see kick_for_owner) */
	u64 run_start;		/* when curr_app's task was last charged */
	u64 lc_since;		/* when curr_app's task last started running */
	s64 budget;		/* MicroQuanta tokens left, ns */
	u64 refill_at;		/* when budget was last refilled */
	u64 shared_at;		/* when this CPU last ran ordinary work or
				 * found the shared DSQ empty */
	u64 grant_at;		/* when it was granted, until a task of
				 * grant_app queued before that runs here
				 * (grant latency; 0: none pending) */
	u32 grant_app;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_SCHED_MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

struct task_ctx {
	u64 cgid;		/* cgroup the app below was computed for */
	u32 gen;		/* config_gen it was computed with */
	u32 app;		/* 0: ordinary task */
	u64 enq_at;		/* when it entered its app's DSQ */
	u32 queued_app;		/* app whose DSQ holds it, 0 if none */
	u32 requeue;		/* stopped still runnable (slice over, yield):
				 * the next enqueue is not a wakeup */
	u32 queued_why;		/* KAIROS_LC_QUEUED_*: why it waits there */
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/*
 * One timer per CPU: the guard's edges between ticks (HZ=250 is 4 ms, four
 * periods). Armed for when the LC task running there spends its tokens
 * while ordinary work waits, or for when a throttled CPU's tokens are back
 * while its owner's work waits; the callback kicks the CPU if that is
 * still so.
 */
struct guard_timer {
	struct bpf_timer timer;
	u32 cpu;
	u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KAIROS_SCHED_MAX_CPUS);
	__type(key, u32);
	__type(value, struct guard_timer);
} guard_timers SEC(".maps");

#define KAIROS_CLOCK_MONOTONIC 1

static __always_inline u64 app_dsq(u32 app)
{
	return KAIROS_APP_DSQ_BASE + app;
}

static struct task_ctx *task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

/* When the task at the head of a DSQ was queued; 0 if none (or unknown). */
static u64 dsq_head_enq_at(u64 dsq)
{
	struct task_struct *p;
	struct task_ctx *tc;
	u64 at = 0;

	if (kairos_has_kfunc(scx_bpf_dsq_peek)) {
		p = scx_bpf_dsq_peek(dsq);
		tc = p ? task_ctx(p) : NULL;
		return tc ? tc->enq_at : 0;
	}
	/* Older kernels: the DSQ iterator's first task is the head. */
	bpf_for_each(scx_dsq, p, dsq, 0) {
		tc = task_ctx(p);
		if (tc)
			at = tc->enq_at;
		break;
	}
	return at;
}

/* Ends (slice 0) or sets the running task's slice. */
static void set_slice(struct task_struct *p, u64 slice)
{
	if (kairos_has_kfunc(scx_bpf_task_set_slice))
		scx_bpf_task_set_slice(p, slice);
	else
		p->scx.slice = slice;	/* allowed before the kfunc existed */
}

static struct cpu_ctx *cpu_ctx(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpu_ctxs, &key);
}

/* The app of the nearest annotated ancestor of cgrp (cgroup v2), or 0. */
static u32 app_of_cgroup(struct cgroup *cgrp)
{
	int level = BPF_CORE_READ(cgrp, level);
	int i;

	for (i = 0; i < KAIROS_CGROUP_DEPTH; i++) {
		struct cgroup *anc = NULL;
		u64 id;
		u32 *app;

		if (level - i < 1)	/* the root cgroup is never an app */
			break;
		bpf_core_read(&anc, sizeof(anc), &cgrp->ancestors[level - i]);
		if (!anc)
			break;
		id = BPF_CORE_READ(anc, kn, id);
		app = bpf_map_lookup_elem(&cgroup_app, &id);
		if (app)
			return *app < KAIROS_MAX_APPS ? *app : 0;
	}
	return 0;
}

/* The task's app, cached per task until it moves or the config changes. */
static u32 task_app(struct task_struct *p, struct task_ctx *tc)
{
	struct cgroup *cgrp = BPF_CORE_READ(p, cgroups, dfl_cgrp);
	u64 cgid = BPF_CORE_READ(cgrp, kn, id);
	u32 gen = config_gen;

	if (tc->cgid != cgid || tc->gen != gen) {
		tc->app = app_of_cgroup(cgrp);
		tc->cgid = cgid;
		tc->gen = gen;
	}
	return tc->app;
}

/* The LC app record of app, or NULL if app is not an LC app. */
static struct kairos_app *lc_app(u32 app)
{
	struct kairos_app *a;

	if (!app)
		return NULL;
	a = bpf_map_lookup_elem(&apps, &app);
	if (!a || a->cls != KAIROS_CLASS_LC)
		return NULL;
	return a;
}

/* Index of cpu's word in a CPU bitmap; the mask keeps the verifier sure. */
static __always_inline u32 cpu_word(u32 cpu)
{
	u32 w = cpu >> 6;

	/* hide w's range from clang so that it keeps the mask */
	asm volatile("" : "+r"(w));
	return w & (KAIROS_SCHED_CPU_WORDS - 1);
}

static bool owns(struct kairos_app *a, s32 cpu)
{
	if ((u32)cpu >= KAIROS_SCHED_MAX_CPUS)
		return false;
	return a->owned[cpu_word(cpu)] & (1ULL << ((u32)cpu & 63));
}

static bool guard_off(void)
{
	return !tunables.period_ns || tunables.quantum_ns >= tunables.period_ns;
}

/*
 * The CPU's MicroQuanta tokens as of now, from the last settle() (budget
 * at refill_at). Tokens flow in at quantum/period per ns, up to one
 * quantum, and out at 1 per ns while an LC task runs here (curr_app,
 * since run_start). The cap applies to what came in before that task
 * started: while it runs the bucket drains at 1 - quantum/period, so LC
 * alone on a CPU with the guard at 900/1000 runs 9 ms on a full bucket,
 * not 900 us. A debt is capped at one quantum: time charged across a long
 * stall (a descheduled vCPU, a late tick) must not throttle LC for long.
 * Reads only; other CPUs call it when they pick a CPU to preempt.
 */
static s64 tokens_at(struct cpu_ctx *c, u64 now)
{
	u64 quantum = tunables.quantum_ns, period = tunables.period_ns;
	u64 from = c->refill_at, run_from = now, idle, ran;
	s64 t;

	if (guard_off())
		return quantum;
	if (now < from)
		now = from;
	if (c->curr_app)
		run_from = c->run_start > from ? c->run_start : from;
	if (run_from > now)
		run_from = now;
	idle = run_from - from;
	if (idle >= period)
		t = quantum;
	else
		t = c->budget + (s64)(idle * quantum / period);
	if (t > (s64)quantum)
		t = quantum;
	ran = now - run_from;
	t -= (s64)(ran - ran * quantum / period);
	if (t < -(s64)quantum)
		t = -(s64)quantum;
	return t;
}

/*
 * Brings the CPU's bucket up to now (tokens_at) and charges the LC task
 * running here, if any, to its app's run time.
 */
static void settle(struct cpu_ctx *c, u64 now)
{
	c->budget = tokens_at(c, now);
	c->refill_at = now;
	if (c->curr_app) {
		struct kairos_app_stats *s;
		u32 app = c->curr_app;
		u64 used = now > c->run_start ? now - c->run_start : 0;

		c->run_start = now;
		s = bpf_map_lookup_elem(&app_stats, &app);
		if (s)
			__sync_fetch_and_add(&s->run_ns, used);
	}
}

/* The guard as of the CPU's last settle(). */
static bool guard_allows(struct cpu_ctx *c)
{
	return c->budget > 0;
}

static bool guard_allows_at(struct cpu_ctx *c, u64 now)
{
	return guard_off() || tokens_at(c, now) > 0;
}

/* Tokens a throttled CPU gathers before its owner's work runs again: half
 * a quantum, so that LC and ordinary work alternate in turns of about
 * half a period instead of a few microseconds. */
static s64 resume_tokens(void)
{
	return tunables.quantum_ns / 2;
}

static void arm_guard_timer(s32 cpu, u64 delay)
{
	u32 key = cpu;
	struct guard_timer *t = bpf_map_lookup_elem(&guard_timers, &key);

	if (t)
		bpf_timer_start(&t->timer, delay ? delay : 1, 0);
}

/* The LC task running on c has used its slice (lc_slice_ns). */
static bool lc_slice_ended(struct cpu_ctx *c, u64 now)
{
	return now >= c->lc_since + tunables.lc_slice_ns;
}

/*
 * Kick cpu, which runs ordinary work (or a higher class), so that its
 * owner's waiting work runs. A kick preempts only a sched_ext task: one
 * that lands while an RT task holds the CPU is lost, and the ordinary task
 * that the RT task preempted resumes from the head of the local DSQ each
 * time the RT task sleeps, with no dispatch and no second ops.cpu_release
 * in between, until the tick (an RT load generator beside memcached did
 * this for 13 runs in a row). So the kick is remembered until the CPU
 * dispatches or runs LC work; kairos_running repeats it once if ordinary
 * work starts first.
 */
static void kick_for_owner(s32 cpu)
{
	struct cpu_ctx *c = cpu_ctx(cpu);

	if (c)
		c->owner_kick = 1;
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

/* LC work waits for cpu: in its owner's queue, or in its local DSQ behind
 * the ordinary task that starts there (placed there to preempt it). */
static bool owner_waits(s32 cpu)
{
	u32 key = cpu;
	u32 *o = bpf_map_lookup_elem(&cpu_owner, &key);

	if (o && lc_app(*o) && scx_bpf_dsq_nr_queued(app_dsq(*o)) > 0)
		return true;
	return scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) > 0;
}

/* A sibling waits behind the LC task on cpu, whose slice has ended: the
 * kernel would only notice at the tick, so preempt it now. */
static void end_lc_slice(s32 cpu)
{
	__sync_fetch_and_add(&stats.slice_ends, 1);
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

/*
 * LC runs on cpu: arm for the first of two ends, each only if someone
 * waits for it. Ordinary work waits: when the tokens run out (they drain
 * at 1 - quantum/period while LC runs). A sibling waits in the app's
 * queue: when the running task's slice (lc_slice_ns) ends. The kernel
 * enforces a slice only at the tick (4 ms at HZ=250), so without this a
 * memcached thread woken behind a busy sibling on the app's one owned CPU
 * waited for the tick, not for the slice.
 */
static void arm_lc_timer(s32 cpu, struct cpu_ctx *c, u64 now,
			 bool sibling_waits)
{
	u64 quantum = tunables.quantum_ns, period = tunables.period_ns;
	u64 delay = (u64)-1, end;
	u32 app = c->curr_app;
	s64 t;

	if (!app)
		return;
	if (!guard_off() && scx_bpf_dsq_nr_queued(KAIROS_SHARED_DSQ) > 0) {
		t = tokens_at(c, now);
		delay = t > 0 ? (u64)t * period / (period - quantum) : 0;
	}
	if (sibling_waits || scx_bpf_dsq_nr_queued(app_dsq(app)) > 0) {
		end = c->lc_since + tunables.lc_slice_ns;
		end = end > now ? end - now : 0;
		if (end < delay)
			delay = end;
	}
	if (delay != (u64)-1)
		arm_guard_timer(cpu, delay);
}

/* The shortest turn ordinary work gets on an owned CPU before its owner's
 * queued work comes back: what the guard leaves it per period, at least
 * 100 us. */
static u64 shared_turn_ns(void)
{
	u64 turn = tunables.period_ns > tunables.quantum_ns ?
		   tunables.period_ns - tunables.quantum_ns : 0;

	return turn > 100000 ? turn : 100000;
}

/* Ordinary work runs on owned cpu while its owner's work waits: arm for
 * when the tokens are back (at least `floor` ns from now). */
static void arm_resume(s32 cpu, struct cpu_ctx *c, u64 now, u64 floor)
{
	u64 quantum = tunables.quantum_ns, period = tunables.period_ns;
	s64 need = resume_tokens() - tokens_at(c, now);
	u64 delay = 0;

	if (!guard_off() && need > 0 && quantum)
		delay = (u64)need * period / quantum;
	arm_guard_timer(cpu, delay > floor ? delay : floor);
}

/*
 * True when LC work has held this CPU for a whole period while ordinary
 * work may have waited (shared_at: the last time it ran ordinary work or
 * found none): one ordinary task then goes first, whatever the guard says
 * (with quantum == period the guard never holds LC back, and tasks that
 * only this CPU may run would wait for ever). Time spent running ordinary
 * work counts as serving it: a CPU that just ran a BE slice owes nothing,
 * and its owner's queued work comes next.
 */
static bool shared_due(struct cpu_ctx *c, u64 now)
{
	u64 bound = tunables.period_ns;

	return now - c->shared_at >= (bound ? bound : 1000000);
}

/* Publishes the app's queue length and the enqueue time of its head. */
static void update_queue_stats(u32 app)
{
	struct kairos_app_stats *s = bpf_map_lookup_elem(&app_stats, &app);
	s32 n = scx_bpf_dsq_nr_queued(app_dsq(app));

	if (!s)
		return;
	s->queued = n > 0 ? n : 0;
	s->oldest_enq_ns = n > 0 ? dsq_head_enq_at(app_dsq(app)) : 0;
	s->seq++;
}

enum pick_kind { PICK_BUSY, PICK_IDLE, PICK_PREEMPT };

/*
 * An owned CPU of app a that p may use: an idle one (claimed: PICK_IDLE),
 * else one not running this app's work whose guard allows LC
 * (PICK_PREEMPT), else any (PICK_BUSY). -1 when the app owns no CPU p may
 * run on.
 */
static s32 pick_owned_cpu(struct task_struct *p, u32 app,
			  struct kairos_app *a, s32 prefer, enum pick_kind *kind)
{
	s32 preemptible = -1, any = -1;
	u64 now = bpf_ktime_get_ns(), any_since = 0, since;
	u32 cpu;

	*kind = PICK_BUSY;
	if (prefer >= 0 && owns(a, prefer) &&
	    bpf_cpumask_test_cpu(prefer, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prefer)) {
		*kind = PICK_IDLE;
		return prefer;
	}
	for (cpu = 0; cpu < KAIROS_SCHED_MAX_CPUS; cpu++) {
		struct cpu_ctx *c;

		if (cpu >= nr_cpus)
			break;
		if (!owns(a, cpu) || !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
			*kind = PICK_IDLE;
			return cpu;
		}
		c = cpu_ctx(cpu);
		if (!c)
			continue;
		/* all busy: the sibling that started first ends its slice
		 * first; a throttled CPU gives no such promise */
		since = c->curr_app == app ? c->lc_since : now;
		if (any < 0 || since < any_since) {
			any = cpu;
			any_since = since;
		}
		if (preemptible < 0 && c->curr_app != app &&
		    guard_allows_at(c, now))
			preemptible = cpu;
	}
	if (preemptible >= 0) {
		*kind = PICK_PREEMPT;
		return preemptible;
	}
	return any;
}

s32 KAIROS_OPS(kairos_select_cpu, struct task_struct *p, s32 prev_cpu,
	       u64 wake_flags)
{
	struct task_ctx *tc = task_ctx(p);
	struct kairos_app *a;
	enum pick_kind kind;
	bool is_idle = false;
	u32 app;
	s32 cpu;

	if (tc) {
		app = task_app(p, tc);
		a = lc_app(app);
		if (a) {
			cpu = pick_owned_cpu(p, app, a, prev_cpu, &kind);
			if (cpu >= 0) {
				if (kind == PICK_IDLE) {
					__sync_fetch_and_add(&stats.direct, 1);
					scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL,
							   tunables.lc_slice_ns,
							   0);
				}
				return cpu;
			}
			/* no usable owned CPU: ordinary placement */
		}
	}
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		__sync_fetch_and_add(&stats.direct, 1);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tunables.be_slice_ns, 0);
	}
	return cpu;
}

__noinline int kairos_give_cpu(u32 cpu, u32 app);

/*
 * The app's work outgrew the CPUs it owns (every one of them runs it, or
 * it owns none, or the one a task whose slice ended could use runs
 * ordinary work's turn): take the CPU kairosd keeps on standby for it,
 * now rather than at the allocator's next polls. Which CPU, and whether the app may
 * have one more, kairosd's policy decided when it filled the slot; it
 * adopts the grant at its next poll. The slot is emptied with an
 * exchange, so one claim takes it.
 */
static void claim_standby(u32 app)
{
	u32 slot;

	app &= KAIROS_MAX_APPS - 1;
	if (!standby[app])
		return;
	slot = __sync_lock_test_and_set(&standby[app], 0);
	if (!slot)
		return;
	if (kairos_give_cpu(slot - 1, app) == 0)
		__sync_fetch_and_add(&stats.standby_grants, 1);
	else
		__sync_fetch_and_add(&stats.standby_failed, 1);
}

/*
 * Places an LC task on a CPU its app owns. An idle owned CPU, or one
 * running other work while its guard allows LC, gets the task straight in
 * its local DSQ (preempting what runs there): one step, no dispatch round
 * trip. Otherwise (every owned CPU busy with this app, or throttled, or
 * no CPU owned at all) it waits in the app's DSQ, which is what the queue
 * statistics report.
 */
static bool enqueue_lc(struct task_struct *p, struct task_ctx *tc, u32 app,
		       struct kairos_app *a, u64 enq_flags, bool requeue)
{
	struct kairos_app_stats *s;
	enum pick_kind kind;
	u32 why;
	s32 cpu;

	cpu = pick_owned_cpu(p, app, a, scx_bpf_task_cpu(p), &kind);
	if (cpu < 0 && a->nr_owned)
		return false;	/* owned CPUs, none it may run on */
	__sync_fetch_and_add(&stats.lc_enqueued, 1);
	/*
	 * A task whose slice ended (or that yielded) may take an idle owned
	 * CPU but never preempts: on its own CPU, where stopping has just
	 * cleared curr_app, that would put it back at the head, ahead of its
	 * siblings and of everything else that waits for that CPU.
	 */
	if (requeue && kind == PICK_PREEMPT) {
		/*
		 * Its CPU has already chosen what runs next (the kernel asks
		 * ops.dispatch before it puts the previous task back), maybe
		 * ordinary work for the shared turn, without seeing this task
		 * queued: bring the owner's work back after that turn, not at
		 * the next tick.
		 */
		struct cpu_ctx *rc = cpu_ctx(cpu);

		if (rc)
			arm_resume(cpu, rc, bpf_ktime_get_ns(), shared_turn_ns());
		cpu = -1;
	}
	if (cpu >= 0 && kind == PICK_IDLE) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu,
				   tunables.lc_slice_ns, enq_flags);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return true;
	}
	if (cpu >= 0 && kind == PICK_PREEMPT) {
		struct cpu_ctx *pc = cpu_ctx(cpu);

		__sync_fetch_and_add(&stats.preempt_kicks, 1);
		if (pc)		/* the insert's preemption is a kick too */
			pc->owner_kick = 1;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu,
				   tunables.lc_slice_ns,
				   enq_flags | SCX_ENQ_PREEMPT);
		return true;
	}
	/* it waits in the app's queue: say why (kairos_running adds the wait) */
	why = KAIROS_LC_QUEUED_UNOWNED;
	if (requeue && kind == PICK_PREEMPT)
		why = KAIROS_LC_QUEUED_REQUEUE;
	if (cpu >= 0 && kind == PICK_BUSY) {
		struct cpu_ctx *bc = cpu_ctx(cpu);
		u64 now = bpf_ktime_get_ns();

		why = KAIROS_LC_QUEUED_SIBLING;
		/* throttled, running other work: back when the tokens are */
		if (bc && bc->curr_app != app) {
			why = KAIROS_LC_QUEUED_THROTTLED;
			arm_resume(cpu, bc, now, 0);
		}
		/* a sibling runs there: it yields when its slice ends (this
		 * task is not in the app's queue yet: it waits, say so) */
		else if (bc && lc_slice_ended(bc, now))
			end_lc_slice(cpu);
		else if (bc)
			arm_lc_timer(cpu, bc, now, true);
	}
	tc->enq_at = bpf_ktime_get_ns();
	tc->queued_app = app;
	tc->queued_why = why;
	__sync_fetch_and_add(&stats.lc_queued[why & (KAIROS_LC_QUEUED_REASONS - 1)], 1);
	scx_bpf_dsq_insert(p, app_dsq(app), tunables.lc_slice_ns, enq_flags);
	s = bpf_map_lookup_elem(&app_stats, &app);
	if (s) {
		__sync_fetch_and_add(&s->enqueued, 1);
		/* the insert lands after this callback returns */
		s->queued = scx_bpf_dsq_nr_queued(app_dsq(app)) + 1;
		__sync_val_compare_and_swap(&s->oldest_enq_ns, 0, tc->enq_at);
		s->seq++;
	}
	/*
	 * Queued (and stamped) first: the grant's latency counts this task.
	 * Not for the guard: a throttled CPU is LC's quota spent, not a want
	 * of CPUs.
	 */
	if (why != KAIROS_LC_QUEUED_THROTTLED)
		claim_standby(app);
	if (!a->nr_owned) {
		/*
		 * The app owns no CPU (0 guaranteed, nothing granted yet): its
		 * queue is what the allocator reads to grant a burstable core.
		 * Meanwhile any CPU that dispatches runs it (rescue_starved);
		 * an idle one is woken for that.
		 */
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	return true;
}

#define KAIROS_PF_KTHREAD 0x00200000	/* include/linux/sched.h */

/*
 * A per-CPU kernel thread (ksoftirqd, a bound kworker) may run on one CPU
 * only, and often does work an LC service waits for (the loopback's and
 * the NIC's packets are ksoftirqd's). In the shared FIFO it would wait
 * behind every queued BE task's slice. It goes straight to its CPU's
 * local queue: ahead of what runs there when that is ordinary work, next
 * after the LC task when LC runs (LC keeps its CPU; the guard and
 * shared_due still bound how long).
 */
static bool enqueue_percpu_kthread(struct task_struct *p, u64 enq_flags)
{
	struct cpu_ctx *c;
	s32 cpu;

	if (!(p->flags & KAIROS_PF_KTHREAD) || p->nr_cpus_allowed != 1)
		return false;
	cpu = scx_bpf_task_cpu(p);
	c = cpu_ctx(cpu);
	__sync_fetch_and_add(&stats.kthread_direct, 1);
	if (c && !c->curr_app) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tunables.lc_slice_ns,
				   enq_flags | SCX_ENQ_PREEMPT);
	} else {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tunables.lc_slice_ns,
				   enq_flags | SCX_ENQ_HEAD);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
	return true;
}

void KAIROS_OPS(kairos_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tc = task_ctx(p);
	s32 cpu;

	__sync_fetch_and_add(&stats.enqueued, 1);
	if (enqueue_percpu_kthread(p, enq_flags))
		return;
	if (tc) {
		u32 app = task_app(p, tc);
		struct kairos_app *a = lc_app(app);
		bool requeue = tc->requeue && !(enq_flags & SCX_ENQ_WAKEUP);

		tc->requeue = 0;
		if (a && enqueue_lc(p, tc, app, a, enq_flags, requeue))
			return;
		if (a)
			__sync_fetch_and_add(&stats.lc_fallback, 1);
	}
	scx_bpf_dsq_insert(p, KAIROS_SHARED_DSQ, tunables.be_slice_ns,
			   enq_flags);
	/* work conserving: wake an idle CPU that may run it */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

/*
 * The app's queue as it is now: its length and the enqueue time of its
 * head (0 when empty), read from the DSQ itself. The published statistics
 * are refreshed from them when they disagree, so a lost update (running
 * and enqueue race on them) lasts until the next dispatch, not for ever.
 */
static u64 queue_head_age_from(u32 app, u64 now, s32 *nr)
{
	struct kairos_app_stats *s;
	u64 oldest;

	*nr = scx_bpf_dsq_nr_queued(app_dsq(app));
	if (*nr <= 0)
		return 0;
	oldest = dsq_head_enq_at(app_dsq(app));
	s = bpf_map_lookup_elem(&app_stats, &app);
	if (s && (s->queued != (u64)*nr || s->oldest_enq_ns != oldest))
		update_queue_stats(app);
	return oldest && now > oldest ? now - oldest : 0;
}

/*
 * Runs a queued LC task whose app owns no CPU any more, or that waited
 * past rescue_ns, if there is one. Decided from each app's DSQ as it is
 * now, never from the published statistics alone.
 */
static bool rescue_starved(u64 now)
{
	int i;

	for (i = 1; i < KAIROS_MAX_APPS; i++) {
		u32 app = i;
		struct kairos_app *a;
		u64 age;
		s32 nr;

		age = queue_head_age_from(app, now, &nr);
		if (nr <= 0)
			continue;
		a = bpf_map_lookup_elem(&apps, &app);
		/* no owner left (revoked, offline): any CPU takes them */
		if (a && a->nr_owned && age < tunables.rescue_ns)
			continue;
		if (scx_bpf_dsq_move_to_local(app_dsq(app))) {
			__sync_fetch_and_add(&stats.rescues, 1);
			return true;
		}
	}
	return false;
}

/* Lets a test prove that kairosd sees an error exit and recovers. */
static void maybe_inject_error(void)
{
	/* not const: the kfunc wants writable memory, .rodata is refused */
	static char fmt[] = "fault injected by kairosd for a test";
	unsigned long long data[1] = {};

	if (!inject_error)
		return;
	inject_error = 0;
	scx_bpf_error_bstr(fmt, data, sizeof(data));
}

/* True when p belongs to an LC app (cached classification). */
static bool prev_is_lc(struct task_struct *p)
{
	struct task_ctx *tc = task_ctx(p);

	return tc && lc_app(tc->app);
}

static int guard_timer_fn(void *map, int *key, struct guard_timer *t)
{
	u32 cpu = t->cpu, owner = 0;
	struct cpu_ctx *c = cpu_ctx(cpu);
	u64 now = bpf_ktime_get_ns();
	u32 *o = bpf_map_lookup_elem(&cpu_owner, &cpu);

	if (!c)
		return 0;
	if (o && lc_app(*o))
		owner = *o;
	if (c->curr_app) {
		/*
		 * LC runs: past its tokens while ordinary work waits (counted
		 * where the CPU then picks ordinary work), or past its slice
		 * while a sibling waits in the app's queue?
		 */
		if (!guard_off() && tokens_at(c, now) <= 0 &&
		    scx_bpf_dsq_nr_queued(KAIROS_SHARED_DSQ) > 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
		else if (lc_slice_ended(c, now) &&
			 scx_bpf_dsq_nr_queued(app_dsq(c->curr_app)) > 0)
			end_lc_slice(cpu);
		else
			arm_lc_timer(cpu, c, now, false);
		return 0;
	}
	/* ordinary work (or nothing) runs: the owner's work waits? */
	if (owner && scx_bpf_dsq_nr_queued(app_dsq(owner)) > 0) {
		if (tokens_at(c, now) >= resume_tokens() || guard_off()) {
			__sync_fetch_and_add(&stats.guard_resumes, 1);
			kick_for_owner(cpu);
		} else {
			arm_resume(cpu, c, now, 0);
		}
	}
	return 0;
}

void KAIROS_OPS(kairos_dispatch, s32 cpu, struct task_struct *prev)
{
	u64 now = bpf_ktime_get_ns();
	struct cpu_ctx *c = cpu_ctx(cpu);
	u32 key = cpu, owner = 0;
	u32 *o = bpf_map_lookup_elem(&cpu_owner, &key);
	bool due;

	maybe_inject_error();
	if (c)
		c->owner_kick = 0;	/* kicked or not, the CPU chooses now */
	if (o && lc_app(*o))
		owner = *o;
	/* prev was ordinary work: this CPU served it until now */
	if (c && prev && !prev_is_lc(prev))
		c->shared_at = now;
	/*
	 * Rescued LC work and the owner's work come first, unless this CPU
	 * owes the shared DSQ a turn (shared_due): then one ordinary task
	 * goes first, or tasks that only this CPU may run (per-CPU kthreads)
	 * could wait for ever behind LC tasks that rescue keeps bringing.
	 */
	due = c && shared_due(c, now);
	if (!due && rescue_starved(now))
		goto out;
	if (c)
		settle(c, now);
	if (owner && c && guard_allows(c) && !due &&
	    scx_bpf_dsq_move_to_local(app_dsq(owner)))
		goto out;
	if (scx_bpf_dsq_move_to_local(KAIROS_SHARED_DSQ)) {
		if (c)
			c->shared_at = now;
		if (owner && c && scx_bpf_dsq_nr_queued(app_dsq(owner))) {
			/*
			 * The owner's work waits behind this ordinary task:
			 * throttled (its turn ends when the tokens are back)
			 * or the shared turn (shared_turn_ns).
			 */
			if (!guard_allows(c))
				__sync_fetch_and_add(&stats.guard_throttles, 1);
			arm_resume(cpu, c, now, shared_turn_ns());
		}
		goto out;
	}
	/* nothing in the shared DSQ for this CPU: it is not owed anything */
	if (c)
		c->shared_at = now;
	if (due && rescue_starved(now))
		goto out;
	/* nothing else to run: the guard does not hold LC back */
	if (owner && scx_bpf_dsq_move_to_local(app_dsq(owner)))
		goto out;
	return;
out:
	__sync_fetch_and_add(&stats.dispatched, 1);
}

/* The allocator's per-CPU view (cpu_state): what runs on cpu now. */
static void publish_cpu_state(s32 cpu, u32 busy, u32 app)
{
	u32 key = cpu;
	struct kairos_cpu_state *st = bpf_map_lookup_elem(&cpu_state, &key);

	if (!st)
		return;
	st->busy = busy;
	st->lc_app = app;
	st->changes++;
}

/* The app_wait_hist bucket of a queueing delay: ceil(log2(ns)) - MIN_SHIFT,
 * within [0, BUCKETS - 1]. */
static u32 wait_bucket(u64 ns)
{
	u32 b;

	if (ns <= (1ULL << KAIROS_WAIT_HIST_MIN_SHIFT))
		return 0;
	/* the bit length of (ns - 1) >> MIN_SHIFT, which is >= 1 */
	b = kairos_top_bit((ns - 1) >> KAIROS_WAIT_HIST_MIN_SHIFT) + 1;
	return b < KAIROS_WAIT_HIST_BUCKETS ? b : KAIROS_WAIT_HIST_BUCKETS - 1;
}

static void record_wait(u32 app, u64 wait)
{
	struct kairos_app_wait_hist *h = bpf_map_lookup_elem(&app_wait_hist, &app);
	u32 b = wait_bucket(wait);

	/* this CPU's copy: no other writer while the callback runs */
	if (h && b < KAIROS_WAIT_HIST_BUCKETS)
		h->count[b]++;
}

static void record_grant(struct kairos_grant_hist *h, u64 ns)
{
	u32 b = kairos_grant_bucket(ns);

	if (b < KAIROS_GRANT_HIST_BUCKETS)
		__sync_fetch_and_add(&h->count[b], 1);
	__sync_fetch_and_add(&h->sum_ns, ns);
}

/*
 * A task of app, queued since enq_at, starts on cpu at now: if cpu was
 * granted to app after the task was queued, this run is what the grant was
 * for. Taken with a compare-and-swap: a revoke racing with it ends the
 * grant only once. A global function, so the verifier checks it once on
 * its own: inlined, its comparisons would split every later path of
 * kairos_running in two.
 */
__noinline int kairos_grant_served(u32 cpu, u32 app, u64 enq_at, u64 now)
{
	struct cpu_ctx *c = cpu_ctx(cpu);
	u64 at;

	if (!c)
		return 0;
	at = c->grant_at;
	if (!at || c->grant_app != app || enq_at > at || now < at)
		return 0;
	if (__sync_val_compare_and_swap(&c->grant_at, at, 0) != at)
		return 0;
	__sync_fetch_and_add(&stats.grants_run, 1);
	record_grant(&stats.grant_kick_run, now - at);
	record_grant(&stats.grant_queued_run, now - enq_at);
	return 1;
}

/*
 * A grant to app at now: how long the head of its queue had waited, if
 * anything was queued (a global function for the same reason as above).
 */
__noinline int kairos_grant_made(u32 app, u64 now)
{
	struct kairos_app_stats *s = bpf_map_lookup_elem(&app_stats, &app);
	u64 head;

	if (!s || !s->queued)
		return 0;
	head = s->oldest_enq_ns;
	if (!head || head > now)
		return 0;
	record_grant(&stats.grant_head_age, now - head);
	return 1;
}

void KAIROS_OPS(kairos_running, struct task_struct *p)
{
	struct task_ctx *tc = task_ctx(p);
	struct cpu_ctx *c = cpu_ctx(scx_bpf_task_cpu(p));
	u64 now = bpf_ktime_get_ns();
	u32 app;

	if (!tc || !c)
		return;
	tc->requeue = 0;
	app = tc->queued_app;
	if (app) {
		struct kairos_app_stats *s = bpf_map_lookup_elem(&app_stats,
								 &app);
		u64 wait = now - tc->enq_at;

		tc->queued_app = 0;
		kairos_grant_served(scx_bpf_task_cpu(p), app, tc->enq_at, now);
		if (s) {
			__sync_fetch_and_add(&s->dispatched, 1);
			__sync_fetch_and_add(&s->wait_ns_total, wait);
			if (wait > s->wait_ns_max)
				s->wait_ns_max = wait;
		}
		record_wait(app, wait);
		__sync_fetch_and_add(&stats.lc_queued_wait_ns[tc->queued_why &
				     (KAIROS_LC_QUEUED_REASONS - 1)], wait);
		update_queue_stats(app);
	}
	app = tc->app;
	settle(c, now);	/* the bucket up to the start of this run */
	c->curr_app = lc_app(app) ? app : 0;
	c->run_start = now;
	c->lc_since = now;
	if (c->curr_app)
		c->owner_kick = 0;
	else if (c->owner_kick) {
		/* ordinary work starts although its CPU was kicked for LC work
		 * that has not run since: that kick was lost (see
		 * kick_for_owner). Repeat it once, if LC work still waits. */
		c->owner_kick = 0;
		if (owner_waits(scx_bpf_task_cpu(p))) {
			__sync_fetch_and_add(&stats.owner_rekicks, 1);
			scx_bpf_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_PREEMPT);
		}
	}
	if (!c->curr_app)
		c->shared_at = now;	/* ordinary work runs: see shared_due */
	else
		arm_lc_timer(scx_bpf_task_cpu(p), c, now, false);
	publish_cpu_state(scx_bpf_task_cpu(p), 1, c->curr_app);
}

void KAIROS_OPS(kairos_stopping, struct task_struct *p, bool runnable)
{
	struct cpu_ctx *c = cpu_ctx(scx_bpf_task_cpu(p));
	struct task_ctx *tc = task_ctx(p);

	/* Still runnable: an ops.enqueue may follow that is no wakeup. */
	if (tc)
		tc->requeue = runnable;

	publish_cpu_state(scx_bpf_task_cpu(p), 0, 0);
	if (!c)
		return;
	if (!c->curr_app) {
		/* ordinary work ran until now (preempted, blocked or expired) */
		c->shared_at = bpf_ktime_get_ns();
		return;
	}
	settle(c, bpf_ktime_get_ns());
	c->curr_app = 0;
}

/*
 * A higher class (an RT task, the stop task) takes the CPU. The ordinary
 * task it preempted stays at the head of the local DSQ and resumes each
 * time the RT task sleeps, with no dispatch in between, ahead of the
 * owner's LC work (an RT load generator that wakes every few hundred
 * microseconds kept memcached out until the next tick, again and again).
 * Treated as a kick for the owner: kairos_running preempts that task when
 * it resumes while LC work waits. Re-enqueueing the local DSQ here
 * instead (scx_bpf_reenqueue_local) got the scheduler ejected: an exiting
 * task skips ops.enqueue and goes back to the same local DSQ, and the
 * kernel ends the scheduler once one is re-enqueued 257 times without
 * running ("reenqueue limit", beside an RT task waking every 0.4 ms).
 */
void KAIROS_OPS(kairos_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	struct cpu_ctx *c = cpu_ctx(cpu);

	if (c)
		c->owner_kick = 1;
}

/*
 * Every tick: an LC task past its CPU's MicroQuanta budget yields to
 * waiting ordinary work; a non-LC task on an owned CPU yields to the
 * owner's queued work once the budget allows it again.
 */
void KAIROS_OPS(kairos_tick, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	struct cpu_ctx *c = cpu_ctx(cpu);
	u64 now = bpf_ktime_get_ns();
	u32 key = cpu;
	u32 *o;

	if (!c)
		return;
	settle(c, now);
	if (c->curr_app) {
		if (!guard_allows(c) &&
		    scx_bpf_dsq_nr_queued(KAIROS_SHARED_DSQ) > 0) {
			__sync_fetch_and_add(&stats.guard_throttles, 1);
			set_slice(p, 0);
		} else if (shared_due(c, now) &&
			   scx_bpf_dsq_nr_queued(KAIROS_SHARED_DSQ) > 0) {
			set_slice(p, 0);	/* see shared_due */
		}
		return;
	}
	c->shared_at = now;	/* ordinary work runs: see shared_due */
	o = bpf_map_lookup_elem(&cpu_owner, &key);
	if (o && *o && lc_app(*o) && guard_allows(c) &&
	    scx_bpf_dsq_nr_queued(app_dsq(*o)) > 0)
		set_slice(p, 0);
}

s32 KAIROS_OPS(kairos_init_task, struct task_struct *p,
	       struct scx_init_task_args *args)
{
	/*
	 * Without its context a task is an ordinary one (every reader
	 * checks), so a failed allocation never fails the fork, nor the
	 * scheduler's start.
	 */
	bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return 0;
}

/* A grant of cpu whose latency is still unmeasured ends (revoked). */
static void end_pending_grant(u32 cpu)
{
	struct cpu_ctx *c = cpu_ctx(cpu);

	if (c && __sync_lock_test_and_set(&c->grant_at, 0))
		__sync_fetch_and_add(&stats.grants_unmatched, 1);
}

/*
 * Drops the CPU from its owner; kairosd re-plans on the next scan. The
 * owner is taken with an exchange, so of two racing revokes (cpu_offline
 * and kairos_set_owner) only one clears the bit and counts it off.
 */
static void revoke_cpu(u32 cpu)
{
	struct kairos_app *a;
	u32 *o = bpf_map_lookup_elem(&cpu_owner, &cpu);
	u32 old;

	if (!o)
		return;
	old = __sync_lock_test_and_set(o, 0);
	if (!old)
		return;
	end_pending_grant(cpu);
	a = bpf_map_lookup_elem(&apps, &old);
	if (a && cpu < KAIROS_SCHED_MAX_CPUS) {
		__sync_fetch_and_and(&a->owned[cpu_word(cpu)],
				     ~(1ULL << (cpu & 63)));
		__sync_fetch_and_add(&a->nr_owned, -1);
	}
}

static void set_cpu_up(s32 cpu, u32 up)
{
	if ((u32)cpu < KAIROS_SCHED_MAX_CPUS)
		__sync_lock_test_and_set(&cpu_up[(u32)cpu & (KAIROS_SCHED_MAX_CPUS - 1)], up);
}

static bool cpu_is_up(u32 cpu)
{
	if (cpu >= KAIROS_SCHED_MAX_CPUS)
		return false;
	return __sync_fetch_and_add(&cpu_up[cpu & (KAIROS_SCHED_MAX_CPUS - 1)], 0);
}

void KAIROS_OPS(kairos_cpu_online, s32 cpu)
{
	__sync_fetch_and_add(&stats.cpu_online, 1);
	set_cpu_up(cpu, 1);
}

void KAIROS_OPS(kairos_cpu_offline, s32 cpu)
{
	__sync_fetch_and_add(&stats.cpu_offline, 1);
	set_cpu_up(cpu, 0);
	revoke_cpu(cpu);
}

s32 KAIROS_OPS_SLEEPABLE(kairos_init)
{
	const struct cpumask *online;
	u32 app;
	s32 cpu, err;

	err = scx_bpf_create_dsq(KAIROS_SHARED_DSQ, -1);
	if (err)
		return err;
	for (app = 1; app < KAIROS_MAX_APPS; app++) {
		err = scx_bpf_create_dsq(app_dsq(app), -1);
		if (err)
			return err;
	}
	for (cpu = 0; cpu < KAIROS_SCHED_MAX_CPUS && cpu < nr_cpus; cpu++) {
		u32 key = cpu;
		struct guard_timer *t = bpf_map_lookup_elem(&guard_timers, &key);

		if (!t)
			return -ENOENT;
		t->cpu = cpu;
		err = bpf_timer_init(&t->timer, &guard_timers,
				     KAIROS_CLOCK_MONOTONIC);
		if (err)
			return err;
		err = bpf_timer_set_callback(&t->timer, guard_timer_fn);
		if (err)
			return err;
	}
	online = scx_bpf_get_online_cpumask();
	for (cpu = 0; cpu < KAIROS_SCHED_MAX_CPUS && cpu < nr_cpus; cpu++)
		set_cpu_up(cpu, bpf_cpumask_test_cpu(cpu, online));
	scx_bpf_put_cpumask(online);
	return 0;
}

void KAIROS_OPS(kairos_exit, struct scx_exit_info *ei)
{
	bpf_probe_read_kernel_str(exit_record.reason,
				  sizeof(exit_record.reason), ei->reason);
	bpf_probe_read_kernel_str(exit_record.msg, sizeof(exit_record.msg),
				  ei->msg);
	bpf_probe_read_kernel_str(exit_record.dump, sizeof(exit_record.dump),
				  ei->dump);
	exit_record.exit_code = ei->exit_code;
	/*
	 * Written last: kairosd treats a non-zero kind as "record complete".
	 * A BPF atomic is a full barrier on every architecture, so no store
	 * above can be seen after it.
	 */
	__sync_val_compare_and_swap(&exit_record.kind, 0, ei->kind);
}

/*
 * Gives the unowned cpu to LC app (its record a): the bit and the count,
 * the owner (a compare-and-swap from 0), the grant's time for its latency,
 * and a kick with preemption so the app's queued work runs there at once.
 * 0 or -errno; -EBUSY when someone owns cpu. A global function: it is
 * checked once, not in every program that grants (kairos_set_owner and a
 * standby claimed in ops.enqueue).
 */
__noinline int kairos_give_cpu(u32 cpu, u32 app)
{
	struct kairos_app *a;
	struct cpu_ctx *c;
	u32 *o, old;
	u64 now;

	if (cpu >= nr_cpus || cpu >= KAIROS_SCHED_MAX_CPUS || !app ||
	    app >= KAIROS_MAX_APPS)
		return -EINVAL;
	if (!cpu_is_up(cpu))
		return -ENODEV;	/* offline: nobody may own it */
	a = lc_app(app);	/* it may have stopped being LC since */
	o = bpf_map_lookup_elem(&cpu_owner, &cpu);
	if (!a || !o)
		return -ENOENT;
	/* The bit and the count first: a revoke that sees the owner finds them. */
	__sync_fetch_and_or(&a->owned[cpu_word(cpu)], 1ULL << (cpu & 63));
	__sync_fetch_and_add(&a->nr_owned, 1);
	old = __sync_val_compare_and_swap(o, 0, app);
	if (old != 0) {
		/*
		 * Owned meanwhile: leave it to that grant, and take back what
		 * this one added. When that grant gave the CPU to this same
		 * app (a standby claim racing kairosd's grant of that CPU),
		 * the bit is that grant's too: only the count goes.
		 */
		if (old != app)
			__sync_fetch_and_and(&a->owned[cpu_word(cpu)],
					     ~(1ULL << (cpu & 63)));
		__sync_fetch_and_add(&a->nr_owned, -1);
		return -EBUSY;
	}
	/* Went offline meanwhile (see cpu_up): take it back. */
	if (!cpu_is_up(cpu)) {
		revoke_cpu(cpu);
		return -ENODEV;
	}
	__sync_fetch_and_add(&stats.grants, 1);
	now = bpf_ktime_get_ns();
	kairos_grant_made(app, now);
	c = cpu_ctx(cpu);
	if (c) {
		/* the app first, then the stamp (a full barrier): a reader
		 * that sees the stamp sees its app */
		c->grant_app = app;
		__sync_lock_test_and_set(&c->grant_at, now);
	}
	kick_for_owner(cpu);
	return 0;
}

/*
 * Grant (req->app != 0) or revoke (0) a CPU; run by kairosd through
 * BPF_PROG_TEST_RUN. A grant kicks the CPU with preemption so the app's
 * queued work runs there at once. Returns 0 or -errno.
 */
SEC("syscall")
int kairos_set_owner(struct kairos_owner_req *req)
{
	u32 cpu = req->cpu, app = req->app;

	if (cpu >= nr_cpus || cpu >= KAIROS_SCHED_MAX_CPUS || app >= KAIROS_MAX_APPS)
		return -EINVAL;
	if (app && !lc_app(app))
		return -ENOENT;
	revoke_cpu(cpu);
	if (!app) {
		__sync_fetch_and_add(&stats.revokes, 1);
		scx_bpf_kick_cpu(cpu, 0);
		return 0;
	}
	return kairos_give_cpu(cpu, app);
}

/*
 * Sets an app's class (req->cls) and nothing else: kairosd must not write
 * the whole apps record, whose CPU bits and count the BPF side maintains.
 * An app that stops being LC loses its CPUs. Returns 0 or -errno.
 */
SEC("syscall")
int kairos_set_class(struct kairos_class_req *req)
{
	u32 app = req->app, cls = req->cls;
	struct kairos_app *a;
	u64 cpu;	/* not the map key: a u32 on the stack loses its bounds */

	if (!app || app >= KAIROS_MAX_APPS || cls > KAIROS_CLASS_BE)
		return -EINVAL;
	a = bpf_map_lookup_elem(&apps, &app);
	if (!a)
		return -ENOENT;
	__sync_lock_test_and_set(&a->cls, cls);
	if (cls == KAIROS_CLASS_LC)
		return 0;
	for (cpu = 0; cpu < KAIROS_SCHED_MAX_CPUS && cpu < nr_cpus; cpu++) {
		u32 key = cpu;
		u32 *o = bpf_map_lookup_elem(&cpu_owner, &key);

		if (o && *o == app) {
			revoke_cpu(key);
			scx_bpf_kick_cpu(key, 0);
		}
	}
	return 0;
}

SEC(".struct_ops.link")
struct sched_ext_ops kairos_ops = {
	.select_cpu	= (void *)kairos_select_cpu,
	.enqueue	= (void *)kairos_enqueue,
	.dispatch	= (void *)kairos_dispatch,
	.running	= (void *)kairos_running,
	.stopping	= (void *)kairos_stopping,
	.tick		= (void *)kairos_tick,
	.cpu_release	= (void *)kairos_cpu_release,
	.init_task	= (void *)kairos_init_task,
	.cpu_online	= (void *)kairos_cpu_online,
	.cpu_offline	= (void *)kairos_cpu_offline,
	.init		= (void *)kairos_init,
	.exit		= (void *)kairos_exit,
	.exit_dump_len	= KAIROS_EXIT_DUMP_LEN,
	.timeout_ms	= 5000,
	.name		= "kairos",
};
