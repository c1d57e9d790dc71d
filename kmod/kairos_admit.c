// SPDX-License-Identifier: GPL-2.0
/*
 * Admission: the thread groups whose threads may park without privilege
 * of their own (KAIROS_IOC_ADMIT). A grant can only ever wake a parked
 * thread, and only admitted threads park, so a grant only ever wakes a
 * thread the privileged side chose (a caller with CAP_SYS_NICE or
 * CAP_SYS_ADMIN admits itself).
 *
 * The table is a fixed array of thread-group pids, each with a reference
 * and the file that admitted it (closing that file revokes it). PARK
 * compares its caller's thread-group pid with the slots, pointers only:
 * no lock and no reference on the read side. That is sound because a slot
 * is cleared before its reference is dropped, and the caller's own pid is
 * alive while it looks, so no slot can hold a stale pointer equal to it.
 */
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>

#include "kairos_mod.h"

struct kairos_admission {
	const void *owner;	/* the file that admitted; under admit_lock */
};

/* Read without a lock by PARK; written under admit_lock. */
static struct pid *admitted[KAIROS_MAX_ADMITTED];
static struct kairos_admission admissions[KAIROS_MAX_ADMITTED];
static DEFINE_MUTEX(admit_lock);

bool kairos_admitted(void)
{
	struct pid *tg = task_tgid(current);
	unsigned int i;

	for (i = 0; i < KAIROS_MAX_ADMITTED; i++)
		if (READ_ONCE(admitted[i]) == tg)
			return true;
	return false;
}

/* Caller holds admit_lock. Empties slot @i and drops its reference. */
static void admit_clear_locked(unsigned int i)
{
	struct pid *pid = admitted[i];

	WRITE_ONCE(admitted[i], NULL);
	admissions[i].owner = NULL;
	put_pid(pid);
}

/* Caller holds admit_lock. Frees the slots of thread groups that exited. */
static void admit_sweep_locked(void)
{
	unsigned int i;

	for (i = 0; i < KAIROS_MAX_ADMITTED; i++) {
		bool gone;

		if (!admitted[i])
			continue;
		rcu_read_lock();
		gone = !pid_task(admitted[i], PIDTYPE_TGID);
		rcu_read_unlock();
		if (gone)
			admit_clear_locked(i);
	}
}

/*
 * Admits (or with KAIROS_ADMIT_REVOKE, stops admitting) the thread group
 * @a->tgid names in the caller's pid namespace (0: the caller's own), for
 * as long as @owner stays open. The caller's privilege is checked already.
 */
long kairos_admit(const void *owner, const struct kairos_admit *a)
{
	struct pid *pid;
	unsigned int i, empty = KAIROS_MAX_ADMITTED;
	long ret = 0;

	if ((a->flags & ~KAIROS_ADMIT_REVOKE) || a->reserved || a->reserved2 ||
	    a->tgid < 0)
		return -EINVAL;
	if (a->tgid)
		pid = find_get_pid(a->tgid);
	else
		pid = get_pid(task_tgid(current));
	rcu_read_lock();
	/* A thread group leader's pid, and the group is alive. */
	if (pid && !pid_task(pid, PIDTYPE_TGID))
		ret = -ESRCH;
	rcu_read_unlock();
	if (!pid || ret) {
		/* Revoking a group that exited: forget every such group. */
		if (a->flags & KAIROS_ADMIT_REVOKE) {
			mutex_lock(&admit_lock);
			admit_sweep_locked();
			mutex_unlock(&admit_lock);
		}
		put_pid(pid);
		return -ESRCH;
	}

	mutex_lock(&admit_lock);
	for (i = 0; i < KAIROS_MAX_ADMITTED; i++) {
		if (admitted[i] == pid && admissions[i].owner == owner)
			break;
		if (!admitted[i] && empty == KAIROS_MAX_ADMITTED)
			empty = i;
	}
	if (a->flags & KAIROS_ADMIT_REVOKE) {
		if (i < KAIROS_MAX_ADMITTED)
			admit_clear_locked(i);
		else
			ret = -ESRCH;
	} else if (i == KAIROS_MAX_ADMITTED) {
		if (empty == KAIROS_MAX_ADMITTED) {
			admit_sweep_locked();
			for (empty = 0; empty < KAIROS_MAX_ADMITTED; empty++)
				if (!admitted[empty])
					break;
		}
		if (empty < KAIROS_MAX_ADMITTED) {
			admissions[empty].owner = owner;
			WRITE_ONCE(admitted[empty], get_pid(pid));
		} else {
			ret = -ENOSPC;
		}
	}
	mutex_unlock(&admit_lock);
	put_pid(pid);
	return ret;
}

/* Closing @owner revokes everything it admitted. */
void kairos_admit_release_owner(const void *owner)
{
	unsigned int i;

	mutex_lock(&admit_lock);
	for (i = 0; i < KAIROS_MAX_ADMITTED; i++)
		if (admitted[i] && admissions[i].owner == owner)
			admit_clear_locked(i);
	mutex_unlock(&admit_lock);
}

/* Admitted thread groups now (stats/live_admitted). */
int kairos_live_admitted(void)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < KAIROS_MAX_ADMITTED; i++)
		n += !!READ_ONCE(admitted[i]);
	return n;
}
