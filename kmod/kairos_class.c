// SPDX-License-Identifier: GPL-2.0
/*
 * The MicroQuanta-like class for latency-critical (LC) threads, used when
 * no sched_ext scheduler runs.
 *
 * Members run SCHED_FIFO (so they preempt normal tasks at once when they
 * wake) while their CPU's budget lasts: at most quantum_us of LC run time
 * per period_us on each CPU. When a CPU's budget is spent its members are
 * demoted to SCHED_IDLE, so normal tasks, batch work and kernel threads get
 * the rest of the period; at the next period they are promoted again.
 *
 * Why this design and not SCHED_DEADLINE (runtime = quantum, period =
 * period): deadline tasks may not be pinned to one CPU, their budget is
 * per task rather than per CPU, and without HRTICK_DL their overrun is only
 * noticed at the next tick (4 ms at HZ=250).
 *
 * Mechanism: a probe on the sched_switch tracepoint measures, on each CPU,
 * how long members run; a per-CPU hard hrtimer fires when the budget runs
 * out (precise to the timer, not the tick) and another at each period
 * start (an overrun from a late timer is paid back in the next period).
 * Policy changes cannot be made from those hard-IRQ contexts, so a
 * per-CPU FIFO kthread (priority 50, above any member) applies them.
 * Per-CPU accounting is touched only on its own CPU with interrupts off.
 *
 * Budget as a token bucket: each period refills one quantum; time members
 * run at real-time priority is charged, including the overrun between the
 * budget timer and the kthread's demotion. A CPU stays throttled across
 * period starts until that debt is paid, so the share members take at
 * real-time priority stays quantum / period even when demotion is slow
 * compared to the quantum; a long stall is paid for about as long as it
 * lasted, not period / quantum times longer.
 *
 * CPU hotplug: a cpuhp state starts the CPU's kthread when it comes online
 * (and for each CPU online at load) and, when it goes down, stops its
 * timers, gives back the real-time policy to members it had demoted and
 * stops the kthread. Members stay members wherever the kernel moves them.
 */
#include <linux/bitops.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/smp.h>
#include <linux/tracepoint.h>
#include <linux/workqueue.h>
#include <uapi/linux/sched/types.h>

#include "kairos_mod.h"

struct kairos_member {
	struct task_struct *task;	/* reference held while a member */
	struct pid *pid;		/* held: LC_DEL finds it by id */
	const void *owner;		/* the file that added it */
	int saved_policy;
	int saved_nice;
	int demoted_on;			/* CPU whose throttle demoted it, or -1 */
};

/* Per-CPU class state; see the comment at the top about who touches it. */
struct kairos_cls_cpu {
	struct hrtimer period_timer;
	struct hrtimer budget_timer;
	struct task_struct *kthread;
	u64 start;		/* when the running member's slice began */
	u64 used;		/* member run time not yet paid for */
	u64 overrun;		/* RT run time since the last throttle */
	int running_idx;	/* lc_tasks index of the running member */
	bool lc_running;	/* a member runs on this CPU now */
	bool throttled;		/* budget spent, debt not paid yet */
	bool active;		/* online for the class: kthread, timers */
	unsigned long pending;	/* bit 0: the kthread must apply the state */
};

static DEFINE_PER_CPU(struct kairos_cls_cpu, cls_cpu);

static DEFINE_MUTEX(class_lock);	/* members, class_running changes */
static struct kairos_member members[KAIROS_MAX_LC];
/* Read locklessly by the probe: which tasks are members, and demoted. */
static struct task_struct *lc_tasks[KAIROS_MAX_LC];
static bool lc_demoted[KAIROS_MAX_LC];
static int nr_members;
static bool class_running;	/* enabled and has members: timers run */
static struct tracepoint *switch_tp;
static struct tracepoint *exit_tp;
static bool probe_on;
static bool exit_probe_on;
static void reap_fn(struct work_struct *work);
static DECLARE_WORK(reap_work, reap_fn);
static int hp_state = -1;	/* our dynamic cpuhp state, once set up */

static int lc_index(struct task_struct *p)
{
	int i;

	for (i = 0; i < KAIROS_MAX_LC; i++)
		if (READ_ONCE(lc_tasks[i]) == p)
			return i;
	return -1;
}

static u64 quantum_ns(void)
{
	return (u64)READ_ONCE(kairos_tun.quantum_us) * NSEC_PER_USEC;
}

/*
 * Charges the running member's time to this CPU's budget. Time it ran at
 * real-time priority after the budget was spent (from the budget timer to
 * the kthread's demotion) is an overrun: charged, and paid back in the
 * next periods (see period_fn). Time it ran demoted, as SCHED_IDLE, is
 * what the fair class chose to give it: not charged (charging it was
 * tried, and made sub-millisecond periods worse: the longer a member
 * stays demoted, the more the fair class gave it on this kernel).
 */
static void account(struct kairos_cls_cpu *cc, u64 now)
{
	u64 delta = now > cc->start ? now - cc->start : 0;
	bool demoted = READ_ONCE(lc_demoted[cc->running_idx]);

	cc->start = now;
	if (!cc->throttled) {
		if (!demoted)
			cc->used += delta;
		this_cpu_add(kairos_stats.lc_runtime_ns, delta);
		return;
	}
	this_cpu_add(kairos_stats.lc_throttled_ns, delta);
	if (demoted)
		return;
	cc->used += delta;
	this_cpu_add(kairos_stats.lc_overrun_ns, delta);
	cc->overrun += delta;
	if (cc->overrun > __this_cpu_read(kairos_stats.lc_overrun_max_ns))
		__this_cpu_write(kairos_stats.lc_overrun_max_ns, cc->overrun);
}

static void arm_budget(struct kairos_cls_cpu *cc)
{
	u64 q = quantum_ns();
	u64 rem = cc->used < q ? q - cc->used : 0;

	hrtimer_start(&cc->budget_timer, ns_to_ktime(rem),
		      HRTIMER_MODE_REL_PINNED_HARD);
}

/* Member @i starts running on @cc's CPU at @now: account it from here. */
static void begin_run(struct kairos_cls_cpu *cc, int i, u64 now)
{
	cc->lc_running = true;
	cc->running_idx = i;
	cc->start = now;
	if (!cc->throttled)
		arm_budget(cc);
}

/* Hard IRQ, own CPU. */
static void kick_kthread(struct kairos_cls_cpu *cc)
{
	set_bit(0, &cc->pending);
	if (cc->kthread)
		wake_up_process(cc->kthread);
}

/* Runs inside __schedule() with the runqueue locked: only bookkeeping. */
static void lc_switch_probe(void *data, bool preempt, struct task_struct *prev,
			    struct task_struct *next, unsigned int prev_state)
{
	struct kairos_cls_cpu *cc;
	u64 now;
	int i;

	if (!READ_ONCE(class_running))
		return;
	cc = this_cpu_ptr(&cls_cpu);
	if (!cc->active)
		return;
	now = ktime_get_ns();
	if (cc->lc_running) {
		account(cc, now);
		cc->lc_running = false;
		hrtimer_try_to_cancel(&cc->budget_timer);
	}
	i = lc_index(next);
	if (i < 0)
		return;
	begin_run(cc, i, now);
	if (cc->throttled && !READ_ONCE(lc_demoted[i]))
		/* A promoted member came to a throttled CPU: demote it soon. */
		hrtimer_start(&cc->budget_timer, 0, HRTIMER_MODE_REL_PINNED_HARD);
}

/*
 * Hard IRQ, own CPU: a member may run here without the probe having seen
 * it switch in (it joined, or the class started, while it ran). Start
 * accounting it now.
 */
static void resync_running(struct kairos_cls_cpu *cc, u64 now)
{
	int i;

	if (!cc->active || cc->lc_running)
		return;
	i = lc_index(current);
	if (i < 0)
		return;
	begin_run(cc, i, now);
}

static enum hrtimer_restart budget_fn(struct hrtimer *t)
{
	struct kairos_cls_cpu *cc = container_of(t, struct kairos_cls_cpu,
						 budget_timer);
	u64 q = quantum_ns();

	if (!READ_ONCE(class_running) || !cc->active || !cc->lc_running)
		return HRTIMER_NORESTART;
	if (cc->throttled) {
		kick_kthread(cc);
		return HRTIMER_NORESTART;
	}
	account(cc, ktime_get_ns());
	if (cc->used < q) {
		hrtimer_forward_now(t, ns_to_ktime(q - cc->used));
		return HRTIMER_RESTART;
	}
	cc->throttled = true;
	cc->overrun = 0;
	this_cpu_inc(kairos_stats.throttles);
	kick_kthread(cc);
	return HRTIMER_NORESTART;
}

/* The debt left of an @excess over one quantum @q; see period_fn. */
static u64 debt_after_refill(u64 excess, u64 q, u64 period)
{
	u64 cap = q + mul_u64_u64_div_u64(excess, q, period);

	return min3(excess, cap, period);
}

static enum hrtimer_restart period_fn(struct hrtimer *t)
{
	struct kairos_cls_cpu *cc = container_of(t, struct kairos_cls_cpu,
						 period_timer);
	u64 now = ktime_get_ns();
	u64 q = quantum_ns();
	u64 period = (u64)READ_ONCE(kairos_tun.period_us) * NSEC_PER_USEC;

	if (!READ_ONCE(class_running) || !cc->active)
		return HRTIMER_NORESTART;
	if (cc->lc_running)
		account(cc, now);
	/*
	 * Refill one quantum. An overrun (a late timer, a slow demotion) is a
	 * debt: the CPU stays throttled until it is paid, so the long-run
	 * share stays quantum / period. Paid back at one quantum per period,
	 * a debt as long as the overrun would keep the CPU throttled
	 * period / quantum times longer than the overrun lasted (a 100 ms VM
	 * pause: 200 s at 50 us / 100 ms). So the debt is capped at what is
	 * paid back within the overrun's own length plus one period; short
	 * overruns, the usual ones, are paid in full.
	 */
	cc->used = cc->used > q ? debt_after_refill(cc->used - q, q, period) : 0;
	cc->start = now;
	if (cc->throttled && cc->used >= q) {
		/* Still paying the debt: stay throttled, no budget timer. */
		this_cpu_inc(kairos_stats.throttled_periods);
		goto out;
	}
	if (cc->throttled) {
		cc->throttled = false;
		this_cpu_inc(kairos_stats.unthrottles);
		kick_kthread(cc);
	}
	if (cc->lc_running)
		arm_budget(cc);
	else
		resync_running(cc, now);
out:
	hrtimer_forward_now(t, ns_to_ktime(period));
	return HRTIMER_RESTART;
}

static bool member_exiting(struct task_struct *p)
{
	return READ_ONCE(p->flags) & PF_EXITING;
}

/*
 * @flags: SCHED_FLAG_RESET_ON_FORK while the class sets the policy, so a
 * thread a member starts is born SCHED_NORMAL instead of inheriting an
 * unbounded SCHED_FIFO outside the class; 0 when the original comes back.
 */
static int set_policy(struct task_struct *p, int policy, int prio, int nice,
		      u64 flags)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_flags = flags,
		.sched_policy = policy,
		.sched_priority = prio,
		.sched_nice = nice,
	};
	int ret;

	/* An exiting thread's policy no longer matters: reap_fn frees it. */
	if (member_exiting(p))
		return 0;
	ret = sched_setattr_nocheck(p, &attr);
	if (ret)
		this_cpu_inc(kairos_stats.policy_errors);
	return ret;
}

static int promote(struct kairos_member *m)
{
	return set_policy(m->task, SCHED_FIFO,
			  READ_ONCE(kairos_tun.lc_rt_priority), 0,
			  SCHED_FLAG_RESET_ON_FORK);
}

static void restore(struct kairos_member *m)
{
	set_policy(m->task, m->saved_policy, 0, m->saved_nice, 0);
}

/* The per-CPU kthread: makes members' policies match the CPU's state. */
static void sync_cpu(unsigned int cpu)
{
	struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);
	struct kairos_cpu_page *pg = page_address(kairos_cpu_page(cpu));
	bool throttled = READ_ONCE(cc->throttled);
	int i;

	mutex_lock(&class_lock);
	if (!class_running || !READ_ONCE(cc->active)) {
		mutex_unlock(&class_lock);
		return;
	}
	for (i = 0; i < KAIROS_MAX_LC; i++) {
		struct kairos_member *m = &members[i];

		if (!m->task)
			continue;
		if (throttled && m->demoted_on < 0 &&
		    task_cpu(m->task) == cpu) {
			set_policy(m->task, SCHED_IDLE, 0, 0,
				   SCHED_FLAG_RESET_ON_FORK);
			m->demoted_on = cpu;
			WRITE_ONCE(lc_demoted[i], true);
		} else if (!throttled && m->demoted_on == cpu) {
			promote(m);
			m->demoted_on = -1;
			WRITE_ONCE(lc_demoted[i], false);
		}
	}
	WRITE_ONCE(pg->lc_throttled, throttled);
	mutex_unlock(&class_lock);
}

static int cls_kthread_fn(void *data)
{
	unsigned int cpu = (unsigned long)data;
	struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);

	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!test_bit(0, &cc->pending) && !kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
		if (test_and_clear_bit(0, &cc->pending))
			sync_cpu(cpu);
	}
	return 0;
}

static void start_cpu_ipi(void *unused)
{
	struct kairos_cls_cpu *cc = this_cpu_ptr(&cls_cpu);
	u64 period = (u64)READ_ONCE(kairos_tun.period_us) * NSEC_PER_USEC;

	if (!cc->active)
		return;	/* not online for the class yet: cls_cpu_online starts it */
	cc->used = 0;
	cc->throttled = false;
	cc->lc_running = false;
	hrtimer_start(&cc->period_timer, ns_to_ktime(period),
		      HRTIMER_MODE_REL_PINNED_HARD);
	resync_running(cc, ktime_get_ns());
}

static void resync_ipi(void *unused)
{
	if (READ_ONCE(class_running))
		resync_running(this_cpu_ptr(&cls_cpu), ktime_get_ns());
}

static void reset_cpu_ipi(void *unused)
{
	struct kairos_cls_cpu *cc = this_cpu_ptr(&cls_cpu);

	cc->used = 0;
	cc->throttled = false;
	cc->lc_running = false;
}

/* class_lock held. Timers start on every CPU active for the class. */
static void class_start(void)
{
	if (class_running)
		return;
	WRITE_ONCE(class_running, true);
	on_each_cpu(start_cpu_ipi, NULL, true);
}

/* class_lock held. Members keep whatever policy they have. */
static void class_stop(void)
{
	unsigned int cpu;

	if (!class_running)
		return;
	WRITE_ONCE(class_running, false);
	for_each_possible_cpu(cpu) {
		struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);

		hrtimer_cancel(&cc->period_timer);
		hrtimer_cancel(&cc->budget_timer);
	}
	on_each_cpu(reset_cpu_ipi, NULL, true);
	for_each_possible_cpu(cpu) {
		struct kairos_cpu_page *pg = page_address(kairos_cpu_page(cpu));

		WRITE_ONCE(pg->lc_throttled, 0);
	}
}

bool kairos_cpu_throttled(unsigned int cpu)
{
	return READ_ONCE(per_cpu_ptr(&cls_cpu, cpu)->throttled);
}

/* class_lock held. An exited member is freed without a policy call. */
static void remove_member(int i)
{
	struct kairos_member *m = &members[i];

	restore(m);
	WRITE_ONCE(lc_tasks[i], NULL);
	WRITE_ONCE(lc_demoted[i], false);
	put_task_struct(m->task);
	put_pid(m->pid);
	memset(m, 0, sizeof(*m));
	nr_members--;
	atomic_dec(&kairos_live.lc_threads);
	if (!nr_members)
		class_stop();
}

/* class_lock held: frees the slots of members that exited (or are exiting). */
static void reap_exited_locked(void)
{
	int i;

	for (i = 0; i < KAIROS_MAX_LC; i++)
		if (members[i].task && member_exiting(members[i].task))
			remove_member(i);
}

static void reap_fn(struct work_struct *work)
{
	mutex_lock(&class_lock);
	reap_exited_locked();
	mutex_unlock(&class_lock);
}

/*
 * sched_process_exit, in the exiting thread (PF_EXITING already set, no
 * lock held, may not sleep): a member's slot is freed from a work item.
 */
static void lc_exit_probe(void *data, struct task_struct *p, bool group_dead)
{
	if (lc_index(p) >= 0)
		schedule_work(&reap_work);
}

static struct task_struct *task_by_tid(pid_t tid)
{
	struct task_struct *task;
	struct pid *pid;

	if (tid < 0)
		return NULL;
	if (!tid) {
		get_task_struct(current);
		return current;
	}
	pid = find_get_pid(tid);
	task = get_pid_task(pid, PIDTYPE_PID);
	put_pid(pid);
	return task;
}

long kairos_lc_add(const void *owner, pid_t tid)
{
	struct task_struct *task;
	int i, free_slot = -1, ret;

	if (tid < 0)
		return -EINVAL;
	task = task_by_tid(tid);
	if (!task)
		return -ESRCH;
	if (task->flags & (PF_KTHREAD | PF_EXITING)) {
		put_task_struct(task);
		return -EINVAL;
	}
	mutex_lock(&class_lock);
	/* Exits not reaped yet must not make the class look full. */
	reap_exited_locked();
	for (i = 0; i < KAIROS_MAX_LC; i++) {
		if (members[i].task == task) {
			ret = -EEXIST;
			goto out;
		}
		if (!members[i].task && free_slot < 0)
			free_slot = i;
	}
	ret = -EBUSY;	/* already real-time: not ours to bound */
	if (task->policy != SCHED_NORMAL && task->policy != SCHED_BATCH &&
	    task->policy != SCHED_IDLE)
		goto out;
	ret = -ENOSPC;
	if (free_slot < 0)
		goto out;
	members[free_slot] = (struct kairos_member) {
		.task = task,
		.pid = get_task_pid(task, PIDTYPE_PID),
		.owner = owner,
		.saved_policy = task->policy,
		.saved_nice = task_nice(task),
		.demoted_on = -1,
	};
	if (READ_ONCE(kairos_tun.enabled)) {
		ret = promote(&members[free_slot]);
		if (ret) {
			put_pid(members[free_slot].pid);
			memset(&members[free_slot], 0, sizeof(members[0]));
			goto out;
		}
	}
	WRITE_ONCE(lc_tasks[free_slot], task);
	/*
	 * An exit whose probe ran before lc_tasks named the thread would not
	 * queue the reaper: look again once it does (pairs with the barriers
	 * between setting PF_EXITING and the sched_process_exit tracepoint).
	 */
	smp_mb();
	if (member_exiting(task))
		schedule_work(&reap_work);
	nr_members++;
	atomic_inc(&kairos_live.lc_threads);
	if (READ_ONCE(kairos_tun.enabled))
		class_start();
	/* It may be running right now: account it from now on. */
	smp_call_function_single(task_cpu(task), resync_ipi, NULL, true);
	mutex_unlock(&class_lock);
	return 0;
out:
	mutex_unlock(&class_lock);
	put_task_struct(task);
	return ret;
}

/*
 * Members are found by the id the caller sees (@tid, 0 = the caller),
 * through the pid each member holds: a member that exited (its id no
 * longer resolves) can still be named until its slot is reaped.
 */
long kairos_lc_del(const void *owner, pid_t tid)
{
	long ret = -ENOENT;
	struct task_struct *task;
	int i;

	if (tid < 0)
		return -EINVAL;
	mutex_lock(&class_lock);
	for (i = 0; i < KAIROS_MAX_LC; i++) {
		struct kairos_member *m = &members[i];

		if (!m->task || m->owner != owner)
			continue;
		if (tid ? pid_vnr(m->pid) != tid : m->task != current)
			continue;
		remove_member(i);
		ret = 0;
		break;
	}
	mutex_unlock(&class_lock);
	if (ret) {
		/* Not a member of @owner: does the thread exist at all? */
		task = task_by_tid(tid);
		if (!task)
			return -ESRCH;
		put_task_struct(task);
	}
	return ret;
}

void kairos_lc_release_owner(const void *owner)
{
	int i;

	mutex_lock(&class_lock);
	for (i = 0; i < KAIROS_MAX_LC; i++)
		if (members[i].task && (!owner || members[i].owner == owner))
			remove_member(i);
	mutex_unlock(&class_lock);
}

/* enabled=0: members back to their own policy; enabled=1: class again. */
void kairos_class_set_enabled(bool on)
{
	int i;

	mutex_lock(&class_lock);
	WRITE_ONCE(kairos_tun.enabled, on);
	if (!on)
		class_stop();
	for (i = 0; i < KAIROS_MAX_LC; i++) {
		struct kairos_member *m = &members[i];

		if (!m->task)
			continue;
		m->demoted_on = -1;
		WRITE_ONCE(lc_demoted[i], false);
		if (on)
			promote(m);
		else
			restore(m);
	}
	if (on && nr_members)
		class_start();
	mutex_unlock(&class_lock);
}

static void find_tracepoints(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_switch"))
		switch_tp = tp;
	else if (!strcmp(tp->name, "sched_process_exit"))
		exit_tp = tp;
}

/* Runs on @cpu with interrupts off: the class stops using this CPU. */
static void deactivate_cpu_ipi(void *unused)
{
	struct kairos_cls_cpu *cc = this_cpu_ptr(&cls_cpu);

	if (cc->lc_running)
		account(cc, ktime_get_ns());
	cc->active = false;
	cc->lc_running = false;
	cc->throttled = false;
	cc->used = 0;
}

/*
 * cpuhp startup, on the CPU coming online (or each online CPU at load):
 * its kthread, then its timers if the class runs.
 */
static int cls_cpu_online(unsigned int cpu)
{
	struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);
	struct task_struct *k;

	k = kthread_create_on_cpu(cls_kthread_fn, (void *)(unsigned long)cpu,
				  cpu, "kairos_mq/%u");
	if (IS_ERR(k))
		return PTR_ERR(k);
	sched_set_fifo(k);
	cc->pending = 0;
	cc->kthread = k;
	wake_up_process(k);
	mutex_lock(&class_lock);
	WRITE_ONCE(cc->active, true);
	if (class_running)
		smp_call_function_single(cpu, start_cpu_ipi, NULL, true);
	mutex_unlock(&class_lock);
	return 0;
}

/*
 * cpuhp teardown, on the CPU going down (still online) or each CPU at
 * unload. Afterwards nothing of the class runs there: the members the
 * kernel moves away keep their membership, those this CPU had demoted get
 * their real-time policy back (no period start here would promote them).
 */
static int cls_cpu_offline(unsigned int cpu)
{
	struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);
	struct kairos_cpu_page *pg = page_address(kairos_cpu_page(cpu));
	int i;

	mutex_lock(&class_lock);
	smp_call_function_single(cpu, deactivate_cpu_ipi, NULL, true);
	/* Inactive: neither the probe nor a callback arms them again. */
	hrtimer_cancel(&cc->period_timer);
	hrtimer_cancel(&cc->budget_timer);
	for (i = 0; i < KAIROS_MAX_LC; i++) {
		struct kairos_member *m = &members[i];

		if (!m->task || m->demoted_on != cpu)
			continue;
		if (READ_ONCE(kairos_tun.enabled))
			promote(m);
		m->demoted_on = -1;
		WRITE_ONCE(lc_demoted[i], false);
	}
	WRITE_ONCE(pg->lc_throttled, 0);
	mutex_unlock(&class_lock);
	/* Not under class_lock: the kthread may be waiting for it. */
	if (cc->kthread) {
		kthread_stop(cc->kthread);
		cc->kthread = NULL;
	}
	return 0;
}

int kairos_class_init(void)
{
	unsigned int cpu;
	int ret;

	for_each_possible_cpu(cpu) {
		struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);

		hrtimer_setup(&cc->period_timer, period_fn, CLOCK_MONOTONIC,
			      HRTIMER_MODE_REL_PINNED_HARD);
		hrtimer_setup(&cc->budget_timer, budget_fn, CLOCK_MONOTONIC,
			      HRTIMER_MODE_REL_PINNED_HARD);
		cc->kthread = NULL;
		cc->pending = 0;
		cc->active = false;
	}
	/* Calls cls_cpu_online for each online CPU, and on hotplug later. */
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "kairos/class:online",
				cls_cpu_online, cls_cpu_offline);
	if (ret < 0)
		goto fail;
	hp_state = ret;
	for_each_kernel_tracepoint(find_tracepoints, NULL);
	ret = -ENOENT;
	if (!switch_tp || !exit_tp)
		goto fail;
	ret = tracepoint_probe_register(switch_tp, lc_switch_probe, NULL);
	if (ret)
		goto fail;
	probe_on = true;
	ret = tracepoint_probe_register(exit_tp, lc_exit_probe, NULL);
	if (ret)
		goto fail;
	exit_probe_on = true;
	return 0;
fail:
	kairos_class_exit();
	return ret;
}

/* Members are normally gone (their files closed); restore any left. */
void kairos_class_exit(void)
{
	unsigned int cpu;

	kairos_lc_release_owner(NULL);
	mutex_lock(&class_lock);
	class_stop();
	mutex_unlock(&class_lock);
	if (exit_probe_on) {
		tracepoint_probe_unregister(exit_tp, lc_exit_probe, NULL);
		exit_probe_on = false;
	}
	if (probe_on) {
		tracepoint_probe_unregister(switch_tp, lc_switch_probe, NULL);
		probe_on = false;
	}
	tracepoint_synchronize_unregister();
	/* After the exit probe is gone: nothing queues it again. */
	cancel_work_sync(&reap_work);
	/* Runs cls_cpu_offline on each online CPU: kthreads stop. */
	if (hp_state >= 0) {
		cpuhp_remove_state(hp_state);
		hp_state = -1;
	}
	for_each_possible_cpu(cpu) {
		struct kairos_cls_cpu *cc = per_cpu_ptr(&cls_cpu, cpu);

		hrtimer_cancel(&cc->period_timer);
		hrtimer_cancel(&cc->budget_timer);
	}
	switch_tp = NULL;
	exit_tp = NULL;
}
