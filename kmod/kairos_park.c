// SPDX-License-Identifier: GPL-2.0
/*
 * Parking, core grants and preemption, plus the per-CPU pages shared with
 * userspace through mmap.
 *
 * A parked thread waits on its CPU's list; the list entry lives on the
 * parked thread's own stack, so nothing is allocated per park and nothing
 * can leak. Only admitted threads get here (kairos_dev.c, kairos_admit.c)
 * and a list holds at most KAIROS_MAX_PARKED_PER_CPU of them, so nobody
 * else can lengthen the walk a grant makes under the CPU's raw spinlock.
 *
 * Lifetime rules (the same hand-off as a futex wake):
 *  - Only a holder of the CPU's lock links or unlinks an entry.
 *  - A granter unlinks the entry under the lock, fills in where to run and
 *    then sets ->granted with a release store: its last touch of the
 *    entry. From then on the parked thread owns its entry again and may
 *    return without taking the lock.
 *  - The granter wakes the thread after unlocking, inside an RCU read
 *    section that began before it found the entry under the lock. The
 *    thread was alive then, so its task_struct stays valid until
 *    rcu_read_unlock() even if it has returned or exited meanwhile (the
 *    wake-up is then spurious, which every sleeper tolerates).
 *  - A parked thread that leaves without a grant (signal, timeout) unlinks
 *    itself under the lock, where it sees a grant that won the race.
 */
#include <linux/cpumask.h>
#include <linux/gfp.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/signal.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "kairos_mod.h"

struct kairos_parked {
	struct list_head node;
	struct task_struct *task;
	unsigned int cpu;	/* set by the granter: where to run */
	u64 gen;		/* set by the granter: posted generation or 0 */
	bool granted;		/* release-stored last by the granter */
};

struct kairos_pcpu {
	/*
	 * parked, handled_gen and the page's done_*: taken in process context
	 * only (never by an IPI), so it needs no interrupt masking.
	 */
	raw_spinlock_t lock;
	struct list_head parked;
	u64 handled_gen;	/* last grant_gen taken from the page */
	/*
	 * Written by the granted thread on this CPU, read by the preempt IPI
	 * on this CPU; compared, never dereferenced. No lock: a mix of an
	 * old and a new value matches no thread, so it only ever withholds
	 * a signal.
	 */
	struct task_struct *granted_task;
	pid_t granted_pid;
};

static DEFINE_PER_CPU(struct kairos_pcpu, kairos_pcpu);
static struct page **kairos_pages;
/*
 * Threads inside PARK, counted per CPU so that parking bounces no shared
 * cache line; a thread may leave on another CPU than it came in, so only
 * the sum means anything.
 */
static DEFINE_PER_CPU(int, live_parked);

int kairos_live_parked(void)
{
	unsigned int cpu;
	int sum = 0;

	for_each_possible_cpu(cpu)
		sum += READ_ONCE(*per_cpu_ptr(&live_parked, cpu));
	return sum;
}

static struct kairos_cpu_page *cpu_page(unsigned int cpu)
{
	return page_address(kairos_pages[cpu]);
}

struct page *kairos_cpu_page(unsigned int cpu)
{
	return cpu < nr_cpu_ids ? kairos_pages[cpu] : NULL;
}

u32 kairos_cpu_parked(unsigned int cpu)
{
	return READ_ONCE(cpu_page(cpu)->parked);
}

/* The first CPU of @set at or after @cpu, or KAIROS_MAX_CPUS: word-wise. */
static unsigned int kairos_cpuset_next(const struct kairos_cpuset *set,
				       unsigned int cpu)
{
	unsigned int w = cpu / 64;
	u64 bits;

	if (cpu >= KAIROS_MAX_CPUS)
		return KAIROS_MAX_CPUS;
	bits = set->bits[w] & (~0ULL << (cpu % 64));
	while (!bits) {
		if (++w == KAIROS_CPUSET_WORDS)
			return KAIROS_MAX_CPUS;
		bits = set->bits[w];
	}
	return w * 64 + __ffs64(bits);
}

/* 0 if @set is not empty and names only online CPUs, else -EINVAL. */
static int kairos_cpuset_check(const struct kairos_cpuset *set)
{
	unsigned int cpu = kairos_cpuset_next(set, 0);

	if (cpu == KAIROS_MAX_CPUS)
		return -EINVAL;
	for (; cpu < KAIROS_MAX_CPUS; cpu = kairos_cpuset_next(set, cpu + 1))
		if (cpu >= nr_cpu_ids || !cpu_online(cpu))
			return -EINVAL;
	return 0;
}

/*
 * Caller holds pc->lock and an RCU read lock. Unlinks @e, marks it granted
 * to run on @cpu and returns its thread, for the caller to wake after
 * unlocking (before rcu_read_unlock()).
 */
static struct task_struct *grant_locked(struct kairos_cpu_page *from,
					struct kairos_parked *e,
					unsigned int cpu, u64 gen)
{
	struct task_struct *task = e->task;

	list_del_init(&e->node);
	WRITE_ONCE(from->parked, from->parked - 1);
	e->cpu = cpu;
	e->gen = gen;
	/* The last touch of @e: its owner may return as soon as it sees it. */
	smp_store_release(&e->granted, true);
	return task;
}

static struct kairos_parked *find_parked(struct kairos_pcpu *pc,
					 struct task_struct *task, pid_t tid)
{
	struct kairos_parked *e;

	list_for_each_entry(e, &pc->parked, node) {
		this_cpu_inc(kairos_stats.grant_scanned);
		if (task && e->task != task)
			continue;
		if (tid && task_pid_nr(e->task) != tid)
			continue;
		return e;
	}
	return NULL;
}

/*
 * Caller holds @cpu's lock. Publishes a posted grant's completion unless a
 * later grant completed first (a thread woken by one grant may run after
 * the next grant found nobody): done_gen never moves backwards, and
 * done_status belongs to done_gen.
 */
static void publish_done_locked(struct kairos_cpu_page *pg, u64 gen, int status)
{
	if ((s64)(gen - READ_ONCE(pg->done_gen)) <= 0)
		return;
	WRITE_ONCE(pg->done_status, status);
	/* done_status (and running_tid) are visible before done_gen. */
	smp_store_release(&pg->done_gen, gen);
}

/*
 * Takes the grant posted in @cpu's page, if any: grants the thread it names
 * (or the first one) parked there and returns it for the caller to wake,
 * or records -ESRCH as the grant's completion. Caller holds the CPU's lock
 * and an RCU read lock.
 */
static struct task_struct *take_posted_locked(unsigned int cpu)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);
	struct kairos_cpu_page *pg = cpu_page(cpu);
	struct kairos_parked *e;
	/* Pairs with the allocator's release store: grant_tid is visible. */
	u64 gen = smp_load_acquire(&pg->grant_gen);

	if (gen == pc->handled_gen)
		return NULL;
	pc->handled_gen = gen;
	e = find_parked(pc, NULL, READ_ONCE(pg->grant_tid));
	if (!e) {
		publish_done_locked(pg, gen, -ESRCH);
		this_cpu_inc(kairos_stats.grant_misses);
		return NULL;
	}
	return grant_locked(pg, e, cpu, gen);
}

/* Handles the grant posted in @cpu's page, from any CPU. */
static void handle_posted(unsigned int cpu)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);
	struct task_struct *woken;

	rcu_read_lock();	/* keeps the woken task valid after unlock */
	raw_spin_lock(&pc->lock);
	woken = take_posted_locked(cpu);
	raw_spin_unlock(&pc->lock);
	if (woken && woken != current)
		wake_up_process(woken);
	rcu_read_unlock();
}

/*
 * Runs in the woken thread on @cpu, where it now runs: publishes that, and
 * the completion of a posted grant (@gen) in @granted's page: 0 when it
 * runs there, -ENXIO when @granted went offline before it could move.
 */
static void complete_grant(unsigned int cpu, unsigned int granted, u64 gen)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);
	struct kairos_pcpu *gpc = per_cpu_ptr(&kairos_pcpu, granted);

	WRITE_ONCE(pc->granted_pid, current->pid);
	WRITE_ONCE(pc->granted_task, current);
	WRITE_ONCE(cpu_page(cpu)->running_tid, task_pid_nr(current));
	if (gen) {
		/* A posted grant's status and generation go out as a pair. */
		raw_spin_lock(&gpc->lock);
		publish_done_locked(cpu_page(granted), gen,
				    cpu == granted ? 0 : -ENXIO);
		raw_spin_unlock(&gpc->lock);
	}
	this_cpu_inc(kairos_stats.grants);
}

/*
 * Pins the caller to the CPU it runs on and returns that CPU. The CPU may
 * go offline meanwhile (pinning to it fails, and the kernel moves the
 * caller away): pin again where it then runs. A few tries are plenty; a
 * hotplug storm that defeats them gets -EAGAIN.
 */
static int pin_here(unsigned int *cpu)
{
	int tries, ret = -EAGAIN;

	for (tries = 0; tries < 16; tries++) {
		*cpu = raw_smp_processor_id();
		/* Already pinned here (a runtime parking again): no rq lock. */
		if (cpumask_equal(current->cpus_ptr, cpumask_of(*cpu)))
			return 0;
		ret = set_cpus_allowed_ptr(current, cpumask_of(*cpu));
		if (!ret && raw_smp_processor_id() == *cpu)
			return 0;
		cond_resched();
	}
	return ret ? ret : -EAGAIN;
}

/*
 * Polls this CPU's page for up to @spin_ns while @e is on the list: a grant
 * posted there is taken with no system call on either side.
 */
static void park_spin(unsigned int cpu, u64 spin_ns, struct kairos_parked *e)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);
	u64 deadline = ktime_get_ns() + spin_ns;

	while (!READ_ONCE(e->granted) && !signal_pending(current) &&
	       ktime_get_ns() < deadline) {
		if (READ_ONCE(cpu_page(cpu)->grant_gen) != READ_ONCE(pc->handled_gen)) {
			handle_posted(cpu);
			continue;
		}
		cond_resched();
		cpu_relax();
	}
}

/*
 * Sleeps on @cpu's list until granted; returns 0, -EINTR, -ETIMEDOUT or
 * (the list is full) -EBUSY.
 */
static int park_sleep(unsigned int cpu, u64 timeout_ns, u64 spin_ns,
		      struct kairos_parked *e)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);
	struct kairos_cpu_page *pg = cpu_page(cpu);
	ktime_t expires = 0;
	bool timed_out = false;
	int ret = 0;

	if (timeout_ns)
		expires = ktime_add_ns(ktime_get(), timeout_ns);
	raw_spin_lock(&pc->lock);
	/* A bounded list: a grant's search stays short. */
	if (pg->parked >= KAIROS_MAX_PARKED_PER_CPU) {
		raw_spin_unlock(&pc->lock);
		return -EBUSY;
	}
	list_add_tail(&e->node, &pc->parked);
	WRITE_ONCE(pg->parked, pg->parked + 1);
	raw_spin_unlock(&pc->lock);
	this_cpu_inc(live_parked);

	if (spin_ns)
		park_spin(cpu, spin_ns, e);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		/* Pairs with grant_locked(): ->cpu and ->gen are visible. */
		if (smp_load_acquire(&e->granted))
			break;
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (timed_out) {
			ret = -ETIMEDOUT;
			break;
		}
		if (timeout_ns)
			timed_out = !schedule_hrtimeout(&expires, HRTIMER_MODE_ABS);
		else
			schedule();
	}
	__set_current_state(TASK_RUNNING);

	/*
	 * Granted: the granter has unlinked @e and let go of it, no lock
	 * needed (the acquire pairs with grant_locked()'s release).
	 */
	if (smp_load_acquire(&e->granted)) {
		ret = 0;	/* a grant wins over a signal or timeout */
	} else {
		raw_spin_lock(&pc->lock);
		if (e->granted) {
			ret = 0;
		} else {
			list_del_init(&e->node);
			WRITE_ONCE(pg->parked, pg->parked - 1);
		}
		raw_spin_unlock(&pc->lock);
	}
	this_cpu_dec(live_parked);
	return ret;
}

/* @in: the caller's arguments, already copied in and checked. */
long kairos_park(const struct kairos_park *in, struct kairos_park __user *uarg)
{
	struct kairos_parked e = { .task = current };
	struct kairos_park a = *in;
	unsigned int cpu;
	u64 spin_max;
	int ret;

	INIT_LIST_HEAD(&e.node);

	/* Pin the caller where it runs: it parks on, and for, this CPU. */
	ret = pin_here(&cpu);
	if (ret)
		return ret;
	this_cpu_inc(kairos_stats.parks);

	spin_max = (u64)READ_ONCE(kairos_tun.park_spin_max_us) * NSEC_PER_USEC;
	ret = park_sleep(cpu, a.timeout_ns, min(a.spin_ns, spin_max), &e);
	if (ret)
		return ret;
	/*
	 * The grant is consumed: never an error from here. If the granted
	 * CPU went offline before the move, run where the thread is (the
	 * CPU it reports), pinned there.
	 */
	cpu = e.cpu;
	if (!cpumask_equal(current->cpus_ptr, cpumask_of(cpu)) &&
	    set_cpus_allowed_ptr(current, cpumask_of(cpu)) &&
	    pin_here(&cpu))
		cpu = raw_smp_processor_id();	/* unpinned: still granted */
	complete_grant(cpu, e.cpu, e.gen);
	a.cpu = cpu;
	a.gen = e.gen;
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

/*
 * Grants @task, or the thread whose global tid is @nr, or (both unset) the
 * first thread parked on @c, to run on @to and returns it, or NULL. Caller
 * holds an RCU read lock and wakes the thread.
 */
static struct task_struct *grant_on_cpu(unsigned int c,
					struct task_struct *task, pid_t nr,
					unsigned int to)
{
	struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, c);
	struct task_struct *woken = NULL;
	struct kairos_parked *e;

	raw_spin_lock(&pc->lock);
	e = find_parked(pc, task, nr);
	if (e)
		woken = grant_locked(cpu_page(c), e, to, 0);
	raw_spin_unlock(&pc->lock);
	return woken;
}

long kairos_grant(const struct kairos_grant *g)
{
	struct task_struct *task = NULL, *woken = NULL;
	unsigned int c, first;

	if (g->flags || g->reserved || g->tid < 0)
		return -EINVAL;
	if (g->cpu >= nr_cpu_ids || !cpu_online(g->cpu))
		return -EINVAL;
	/*
	 * No reference counts: the RCU read lock keeps the named task valid
	 * while it is looked for, and the woken one until it is woken.
	 */
	rcu_read_lock();
	/*
	 * The runtime's way: a caller in the initial pid namespace (its tids
	 * are global) grants a thread the CPU it is parked on. Its list is
	 * searched by tid first, with no pid lookup (which costs more than
	 * the search).
	 */
	if (g->tid && task_active_pid_ns(current) == &init_pid_ns) {
		woken = grant_on_cpu(g->cpu, NULL, g->tid, g->cpu);
		if (woken)
			goto wake;
	}
	if (g->tid) {
		task = pid_task(find_vpid(g->tid), PIDTYPE_PID);
		if (!task)
			goto out;
	}
	/*
	 * tid 0: only threads parked on the granted CPU qualify. A named
	 * thread is almost always parked on the CPU it last ran on: look
	 * there first, then everywhere else.
	 */
	first = task ? task_cpu(task) : g->cpu;
	woken = grant_on_cpu(first, task, 0, g->cpu);
	for_each_possible_cpu(c) {
		if (woken || !task)
			break;
		if (c != first)
			woken = grant_on_cpu(c, task, 0, g->cpu);
	}
wake:
	/* Outside the CPU's lock, so the lock is not held any longer. */
	if (woken)
		wake_up_process(woken);
out:
	rcu_read_unlock();
	if (!woken) {
		this_cpu_inc(kairos_stats.grant_misses);
		return -ESRCH;
	}
	return 0;
}

/*
 * The caller takes the posted grants itself, one CPU lock at a time: the
 * wake-up of each granted thread is the only IPI, as with GRANT (an IPI
 * to run the handler there, which then woke the thread locally, cost the
 * caller a cpumask, the IPI's round trip and the same wake-up).
 */
long kairos_kick(const struct kairos_cpuset *set)
{
	unsigned int cpu;
	int ret;

	ret = kairos_cpuset_check(set);
	if (ret)
		return ret;
	for (cpu = kairos_cpuset_next(set, 0); cpu < KAIROS_MAX_CPUS;
	     cpu = kairos_cpuset_next(set, cpu + 1))
		handle_posted(cpu);
	return 0;
}

/*
 * An atomic increment, so that bumps from IPIs and from NO_IPI callers on
 * other CPUs are never lost; fully ordered, so the caller's earlier
 * stores are visible before the flag moves.
 */
static void bump_preempt_gen(unsigned int cpu)
{
	u64 *gen = &cpu_page(cpu)->preempt_gen;
	u64 old = READ_ONCE(*gen);

	while (!try_cmpxchg64(gen, &old, old + 1))
		;
}

/* @info is the signal number itself, so the caller need not wait. */
static void preempt_ipi(void *info)
{
	struct kairos_pcpu *pc = this_cpu_ptr(&kairos_pcpu);
	int signo = (int)(long)info;
	bool ours;

	this_cpu_inc(kairos_stats.preempt_ipis);
	bump_preempt_gen(smp_processor_id());
	ours = current == READ_ONCE(pc->granted_task) &&
	       current->pid == READ_ONCE(pc->granted_pid);
	/* Only the thread this module put here may get the signal. */
	if (signo && ours && !(current->flags & PF_EXITING)) {
		send_sig_info(signo, SEND_SIG_PRIV, current);
		this_cpu_inc(kairos_stats.preempt_signals);
	}
}

/* KAIROS_PREEMPT_NO_IPI: the flag only, stored from the caller's CPU. */
static void preempt_flag_only(const struct kairos_cpuset *set)
{
	unsigned int cpu;

	for (cpu = kairos_cpuset_next(set, 0); cpu < KAIROS_MAX_CPUS;
	     cpu = kairos_cpuset_next(set, cpu + 1))
		bump_preempt_gen(cpu);
}

long kairos_preempt(const struct kairos_preempt *p)
{
	void *signo = (void *)(long)p->signo;
	unsigned int cpu, first;
	cpumask_var_t mask;
	int ret;

	if (p->flags & ~KAIROS_PREEMPT_NO_IPI)
		return -EINVAL;
	if (p->signo < 0 || (p->signo && !valid_signal(p->signo)))
		return -EINVAL;
	if ((p->flags & KAIROS_PREEMPT_NO_IPI) && p->signo)
		return -EINVAL;	/* a signal needs the IPI */
	ret = kairos_cpuset_check(&p->cpus);
	if (ret)
		return ret;
	if (p->flags & KAIROS_PREEMPT_NO_IPI) {
		preempt_flag_only(&p->cpus);
		return 0;
	}
	/*
	 * No wait for the handlers: the caller goes on while the IPIs land
	 * (the argument is passed by value, so nothing on this stack is
	 * used by them). One CPU, the common case, needs no cpumask.
	 */
	first = kairos_cpuset_next(&p->cpus, 0);
	if (kairos_cpuset_next(&p->cpus, first + 1) == KAIROS_MAX_CPUS) {
		ret = smp_call_function_single(first, preempt_ipi, signo, 0);
		return ret == -ENXIO ? -EINVAL : ret;	/* went offline */
	}
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;
	for (cpu = first; cpu < KAIROS_MAX_CPUS;
	     cpu = kairos_cpuset_next(&p->cpus, cpu + 1))
		cpumask_set_cpu(cpu, mask);
	on_each_cpu_mask(mask, preempt_ipi, signo, false);
	free_cpumask_var(mask);
	return 0;
}

/*
 * PREEMPT does not wait for its IPIs; they use the pages and this module's
 * text, so unload must wait until every one queued earlier has returned.
 * One synchronous IPI per CPU is not enough: a CPU's queue is flushed by
 * running its synchronous entries first and the asynchronous ones after,
 * so the waiter can be released while an older preempt_ipi has yet to
 * run. A flush on a CPU runs with interrupts off and takes every entry
 * queued before it, so once a second round of synchronous IPIs (queued
 * after the first completed) has run, the flush that released the first
 * has returned, with the asynchronous entries it took. CPUs that went
 * offline flushed their queues on the way down.
 */
static void kairos_preempt_flush(void)
{
	kick_all_cpus_sync();
	kick_all_cpus_sync();
}

int kairos_park_init(void)
{
	unsigned int cpu;

	BUILD_BUG_ON(sizeof(struct kairos_cpu_page) != 128);
	BUILD_BUG_ON(KAIROS_CPU_PAGE_SIZE != PAGE_SIZE);
	kairos_pages = kcalloc(nr_cpu_ids, sizeof(*kairos_pages), GFP_KERNEL);
	if (!kairos_pages)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		kairos_pages[cpu] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!kairos_pages[cpu]) {
			kairos_park_exit();
			return -ENOMEM;
		}
	}
	for_each_possible_cpu(cpu) {
		struct kairos_pcpu *pc = per_cpu_ptr(&kairos_pcpu, cpu);

		raw_spin_lock_init(&pc->lock);
		INIT_LIST_HEAD(&pc->parked);
		pc->handled_gen = 0;
		pc->granted_task = NULL;
		pc->granted_pid = 0;
	}
	return 0;
}

/* Called when no file is open: nobody is parked, nothing is mapped. */
void kairos_park_exit(void)
{
	unsigned int cpu;

	if (!kairos_pages)
		return;
	kairos_preempt_flush();
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		if (kairos_pages[cpu])
			__free_page(kairos_pages[cpu]);
	kfree(kairos_pages);
	kairos_pages = NULL;
}
