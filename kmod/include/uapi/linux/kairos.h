/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Kairos kernel-module ABI, shared by kairos.ko and userspace.
 *
 * Versioning: the major number changes on any incompatible change of an
 * ioctl, the mmap layout or a sysfs file; the minor number on additions.
 * Userspace must call KAIROS_IOC_VERSION (or read /sys/kernel/kairos/version)
 * and check the major number before using anything else.
 *
 * Permissions (/dev/kairos is created mode 0666; the checks are per call).
 * "Privileged" means CAP_SYS_NICE or CAP_SYS_ADMIN in the initial user
 * namespace, of the calling thread's credentials:
 *  - VERSION: anyone.
 *  - PARK: privileged callers, and threads of a thread group a privileged
 *    caller admitted (ADMIT); anyone else gets -EPERM. A grant wakes only
 *    parked threads, so it only ever wakes a thread the privileged side
 *    chose, and the pages' parked counts count only such threads.
 *  - GRANT, KICK, PREEMPT, LC_ADD, LC_DEL, ADMIT: privileged. An open file
 *    remembers the last credentials that passed and lets the same
 *    credentials through without asking the security modules again; any
 *    change of a thread's credentials (capset, setuid, ...) makes new
 *    ones, checked afresh.
 *  - mmap: privileged callers in the initial pid namespace only,
 *    read-only or writable (writable to post grants). The pages hold
 *    thread ids of that namespace (running_tid, grant_tid), shown
 *    untranslated to such callers only; anyone else (unprivileged, or in
 *    another pid namespace) gets -EPERM and no view at all.
 *  - Every check is made without an audit record: the device is open to
 *    all and a denial is an ordinary answer (libkairos probes GRANT to
 *    learn whether it may use the module), not an attack to log.
 *  - Closing the fd releases what it held: the latency-critical (LC)
 *    threads it registered go back to their previous scheduling policy,
 *    and the thread groups it admitted are admitted no longer. An LC
 *    thread that exits leaves the class by itself.
 *
 * All structures have fixed sizes and explicit padding; reserved fields
 * must be zero (the module checks, so they can gain meaning later).
 */
#ifndef _UAPI_KAIROS_H
#define _UAPI_KAIROS_H

#include <linux/ioctl.h>
#include <linux/types.h>

/*
 * 2.0: the ioctl magic moved off 0xB7 (nsfs's, and remoteproc's), so
 * every ioctl number changed; nothing else did.
 * 3.0: PARK needs privilege or admission (ADMIT, new), mmap needs
 * privilege even read-only, PARK may fail with -EPERM or -EBUSY; the
 * privilege checks no longer write audit records.
 */
#define KAIROS_ABI_MAJOR 3
#define KAIROS_ABI_MINOR 0

/* Text of /sys/kernel/kairos/version: "<major>.<minor>\n". */
#define KAIROS_SYSFS_DIR "/sys/kernel/kairos"
#define KAIROS_DEV_PATH "/dev/kairos"

/* CPU sets in ioctls: a fixed bitmap, bit n = CPU n. */
#define KAIROS_MAX_CPUS 1024
#define KAIROS_CPUSET_WORDS (KAIROS_MAX_CPUS / 64)

struct kairos_cpuset {
	__u64 bits[KAIROS_CPUSET_WORDS];
};

/* KAIROS_IOC_VERSION: what this module speaks. */
struct kairos_version {
	__u32 major;
	__u32 minor;
	__u32 nr_cpus;		/* CPU ids are < nr_cpus (kernel nr_cpu_ids) */
	__u32 cpu_page_size;	/* stride of the mmap'd per-CPU pages */
	__u32 max_lc_threads;	/* capacity of the LC class */
	__u32 reserved[3];
};

/*
 * KAIROS_IOC_PARK: the caller parks on the CPU it runs on (it is pinned
 * there) and sleeps until a grant wakes it. -EPERM when the caller is
 * neither privileged nor admitted; -EBUSY when KAIROS_MAX_PARKED_PER_CPU
 * threads are parked on that CPU already (the bound keeps each grant's
 * search short; the caller is pinned there all the same). Returns 0 with @cpu = the CPU
 * granted (the caller is then pinned to it and running there; if that CPU
 * went offline before the caller could move, the CPU it runs on instead:
 * a grant, once taken, is never lost to an error) and @gen = the
 * generation of a grant posted through the shared page (0 for a GRANT
 * ioctl); -EINTR on a signal; -ETIMEDOUT when @timeout_ns (0 = none) passes.
 * With @spin_ns the caller first polls its CPU page for a posted grant for
 * that long (capped by /sys/kernel/kairos/park_spin_max_us): such a grant
 * is taken with no system call on either side.
 */
struct kairos_park {
	__u64 timeout_ns;	/* in */
	__u64 spin_ns;		/* in */
	__u64 gen;		/* out */
	__u32 cpu;		/* out */
	__u32 flags;		/* in: reserved, 0 */
};

/*
 * KAIROS_IOC_GRANT: wake thread @tid (in the caller's pid namespace; 0 =
 * any thread) parked on any CPU (@tid) or on @cpu (tid 0), and run it on
 * @cpu. -ESRCH when no such thread is parked, -EINVAL for a bad CPU.
 */
struct kairos_grant {
	__u32 cpu;
	__s32 tid;
	__u32 flags;		/* reserved, 0 */
	__u32 reserved;
};

/*
 * KAIROS_IOC_PREEMPT: IPI every CPU in @cpus; each bumps its page's
 * preempt_gen (a flag the runtime polls) and, when @signo is not 0, sends
 * that signal to the thread running there if it is the thread the module
 * last granted that CPU to (never to an unrelated task). The call returns
 * once the IPIs are sent, not when they are handled.
 * With KAIROS_PREEMPT_NO_IPI (ABI 1.1) the caller bumps the pages'
 * preempt_gen itself and no IPI is sent: for threads that poll the flag,
 * it is the cheaper way; @signo must then be 0.
 */
#define KAIROS_PREEMPT_NO_IPI 0x1U

struct kairos_preempt {
	struct kairos_cpuset cpus;
	__s32 signo;		/* 0 or 1..64 */
	__u32 flags;		/* 0 or KAIROS_PREEMPT_NO_IPI; other bits: -EINVAL */
};

/*
 * KAIROS_IOC_LC_ADD / LC_DEL: put a thread into (take it out of) the
 * MicroQuanta-like LC class: SCHED_FIFO (priority lc_rt_priority) while its
 * CPU's budget (quantum_us per period_us) lasts, SCHED_IDLE after, until the
 * next period. LC_DEL and closing the fd restore the previous policy.
 * Since ABI 1.1 both policies carry SCHED_RESET_ON_FORK: threads a member
 * starts are born SCHED_NORMAL, outside the class.
 * LC_ADD: -EEXIST if already a member, -ENOSPC when full, -EINVAL for a
 * kernel thread, -EBUSY for a thread already real-time.
 */
struct kairos_lc {
	__s32 tid;		/* 0 = the caller */
	__u32 flags;		/* reserved, 0 */
};

/*
 * KAIROS_IOC_ADMIT (privileged): let the threads of the thread group whose
 * leader is @tgid (in the caller's pid namespace; 0 = the caller's own)
 * park, for as long as the calling file stays open; with
 * KAIROS_ADMIT_REVOKE, stop (threads parked already stay parked until
 * granted or gone). Admitting a group this file admitted already does
 * nothing. -ESRCH: no such live thread group (or, revoking, this file did
 * not admit it; revoking a group that exited forgets every group that
 * exited); -ENOSPC: KAIROS_MAX_ADMITTED groups are admitted (groups that
 * exited are forgotten first).
 */
#define KAIROS_ADMIT_REVOKE 0x1U
#define KAIROS_MAX_ADMITTED 256
#define KAIROS_MAX_PARKED_PER_CPU 64

struct kairos_admit {
	__s32 tgid;
	__u32 flags;		/* 0 or KAIROS_ADMIT_REVOKE */
	__u32 reserved;		/* 0 */
	__u32 reserved2;	/* 0 */
};

#define KAIROS_IOC_MAGIC 0xE7	/* unassigned in ioctl-number.rst */
#define KAIROS_IOC_VERSION _IOR(KAIROS_IOC_MAGIC, 0, struct kairos_version)
#define KAIROS_IOC_PARK _IOWR(KAIROS_IOC_MAGIC, 1, struct kairos_park)
#define KAIROS_IOC_GRANT _IOW(KAIROS_IOC_MAGIC, 2, struct kairos_grant)
/*
 * KICK: handle the grants posted in the pages of @cpus. The caller takes
 * them; the wake-up of each granted thread is the only IPI.
 */
#define KAIROS_IOC_KICK _IOW(KAIROS_IOC_MAGIC, 3, struct kairos_cpuset)
#define KAIROS_IOC_PREEMPT _IOW(KAIROS_IOC_MAGIC, 4, struct kairos_preempt)
#define KAIROS_IOC_LC_ADD _IOW(KAIROS_IOC_MAGIC, 5, struct kairos_lc)
#define KAIROS_IOC_LC_DEL _IOW(KAIROS_IOC_MAGIC, 6, struct kairos_lc)
#define KAIROS_IOC_ADMIT _IOW(KAIROS_IOC_MAGIC, 7, struct kairos_admit)

/*
 * The mmap'd per-CPU pages: mmap(/dev/kairos) at offset cpu * 4096 maps
 * CPU cpu's page (a longer length maps the following CPUs' pages too).
 *
 * Posting a grant without a system call: write grant_tid (0 = any thread
 * parked there; a thread id as seen in the initial pid namespace, unlike
 * the ioctls, which use the caller's), then store grant_gen = done_gen + 1
 * (release order); any change of grant_gen posts one grant. A
 * thread spinning in PARK on that CPU takes it at once; otherwise
 * KAIROS_IOC_KICK on a set of CPUs handles all their posted grants with one
 * call. Completion: done_gen becomes grant_gen, done_status says how it
 * went (0: running_tid now runs there; -ESRCH: nobody was parked there;
 * -ENXIO: the thread was woken but the CPU went offline before it got
 * there, so it runs elsewhere). done_gen never moves backwards: when a
 * later grant completes before an earlier one (the earlier one's thread
 * was still on its way), done_gen stays at the later one, which implies
 * the earlier is done too, and done_status is the later one's.
 */
#define KAIROS_CPU_PAGE_SIZE 4096

struct kairos_cpu_page {
	/* Cache line 0: written by the allocator (writable mappings only). */
	__u64 grant_gen;
	__s32 grant_tid;
	__u32 grant_reserved;
	__u8 pad0[48];
	/* Cache line 1: written by the kernel only. */
	__u64 done_gen;
	__s32 done_status;
	__s32 running_tid;	/* thread granted this CPU last (initial pid ns) */
	__u64 preempt_gen;	/* bumped by each PREEMPT of this CPU */
	__u32 parked;		/* threads parked on this CPU now (all admitted) */
	__u32 lc_throttled;	/* 1 while the LC class is throttled here */
	__u8 pad1[32];
	/* The rest of the page is reserved and reads as zero. */
};

/* CPU @cpu's page in a mapping of the pages from offset 0 at @base. */
#define KAIROS_CPU_PAGE(base, cpu)					\
	((struct kairos_cpu_page *)((char *)(base) +			\
				    (unsigned long)(cpu) * KAIROS_CPU_PAGE_SIZE))

#endif /* _UAPI_KAIROS_H */
