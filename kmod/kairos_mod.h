/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the parts of kairos.ko. */
#ifndef _KAIROS_INTERNAL_H
#define _KAIROS_INTERNAL_H

#include <linux/atomic.h>
#include <linux/percpu.h>
#include <linux/types.h>

#include <linux/kairos.h>

/* Tunables in microseconds (kairos_sysfs.c validates and stores them). */
struct kairos_mod_tunables {
	unsigned int quantum_us;
	unsigned int period_us;
	unsigned int enabled;
	unsigned int park_spin_max_us;
	unsigned int lc_rt_priority;
};

extern struct kairos_mod_tunables kairos_tun;

#define KAIROS_PERIOD_MIN_US 100
#define KAIROS_PERIOD_MAX_US 1000000
#define KAIROS_QUANTUM_MIN_US 10
#define KAIROS_SPIN_MAX_US 10000
#define KAIROS_LC_PRIO_MIN 1
#define KAIROS_LC_PRIO_MAX 49	/* below the class kthreads (sched_set_fifo: 50) */
#define KAIROS_MAX_LC 64

/* Per-CPU event counters, each written only on its own CPU. */
struct kairos_cpu_stats {
	u64 grants;		/* threads woken by a grant onto this CPU */
	u64 grant_misses;	/* posted or ioctl grants that found nobody */
	u64 grant_scanned;	/* parked entries grant searches looked at */
	u64 park_denied;	/* PARK calls refused: not admitted (EPERM) */
	u64 parks;		/* PARK calls made on this CPU */
	u64 preempt_ipis;	/* preempt IPIs handled here */
	u64 preempt_signals;	/* signals those IPIs sent */
	u64 throttles;		/* LC class budget exhausted */
	u64 unthrottles;	/* LC class budget restored at a period start */
	u64 lc_runtime_ns;	/* time LC threads ran here within budget */
	u64 lc_throttled_ns;	/* time they ran here while throttled */
	u64 lc_overrun_ns;	/* part of it before demotion, at RT priority */
	u64 lc_overrun_max_ns;	/* longest such overrun after one throttle */
	u64 policy_errors;	/* sched_setattr calls of the class that failed */
	u64 throttled_periods;	/* periods that began still in debt */
};

DECLARE_PER_CPU(struct kairos_cpu_stats, kairos_stats);

/* Objects alive now; all must be zero once nothing uses the module. */
struct kairos_live {
	atomic_t files;
	atomic_t mappings;
	atomic_t lc_threads;	/* (threads in PARK: kairos_live_parked()) */
};

extern struct kairos_live kairos_live;

/* kairos_sysfs.c */
int kairos_sysfs_init(void);
void kairos_sysfs_exit(void);

/* kairos_park.c: parking, grants, preemption, the shared pages. */
int kairos_park_init(void);
void kairos_park_exit(void);
struct page *kairos_cpu_page(unsigned int cpu);
long kairos_park(const struct kairos_park *in,
		 struct kairos_park __user *uarg);
long kairos_grant(const struct kairos_grant *g);
long kairos_kick(const struct kairos_cpuset *set);
long kairos_preempt(const struct kairos_preempt *p);
u32 kairos_cpu_parked(unsigned int cpu);
int kairos_live_parked(void);

/* kairos_admit.c: who may park (KAIROS_IOC_ADMIT). */
bool kairos_admitted(void);
long kairos_admit(const void *owner, const struct kairos_admit *a);
void kairos_admit_release_owner(const void *owner);
int kairos_live_admitted(void);

/* kairos_class.c: the MicroQuanta-like LC class. */
int kairos_class_init(void);
void kairos_class_exit(void);
long kairos_lc_add(const void *owner, pid_t tid);
long kairos_lc_del(const void *owner, pid_t tid);
void kairos_lc_release_owner(const void *owner);
void kairos_class_set_enabled(bool on);
bool kairos_cpu_throttled(unsigned int cpu);

/* kairos_dev.c: /dev/kairos. */
int kairos_dev_init(void);
void kairos_dev_exit(void);

#endif /* _KAIROS_INTERNAL_H */
