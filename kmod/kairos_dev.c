// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kairos: the ioctl dispatcher, the shared-page mmap and the per-file
 * lifetime (closing the file releases the LC threads it registered).
 * Argument checks live here; the mechanisms in kairos_park.c and
 * kairos_class.c.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid_namespace.h>
#include <linux/uaccess.h>

#include "kairos_mod.h"

/* One hour: longer park timeouts are almost surely a bug in the caller. */
#define KAIROS_PARK_TIMEOUT_MAX_NS (3600ULL * NSEC_PER_SEC)

/*
 * CAP_SYS_NICE or CAP_SYS_ADMIN in the initial user namespace (the pages
 * show its tids; grants reach any thread). No audit record: the device is
 * open to all, a denial is an ordinary answer (libkairos probes GRANT to
 * learn whether it may use the module), and a logged denial per probe or
 * per unprivileged mmap would only fill the audit log.
 */
static bool privileged(void)
{
	return capable_noaudit(CAP_SYS_NICE) || capable_noaudit(CAP_SYS_ADMIN);
}

/*
 * The privilege check of GRANT, KICK and PREEMPT, on the allocator's hot
 * path: still made for the calling thread's credentials at each call, but
 * a file remembers (holding a reference) the last credentials that passed,
 * and the same credentials pass again without the LSM hooks. Credentials
 * never change once installed: capset(), setuid() and the like give the
 * thread new ones, which are checked afresh.
 */
static bool privileged_file(struct file *file)
{
	const struct cred *cred = current_cred();
	const struct cred *old;

	/* Only compared: a cached pointer equal to ours is our own creds. */
	if (READ_ONCE(file->private_data) == cred)
		return true;
	if (!privileged())
		return false;
	old = xchg(&file->private_data, (void *)get_cred(cred));
	if (old)
		put_cred(old);
	return true;
}

static int kairos_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;	/* no credentials passed yet */
	atomic_inc(&kairos_live.files);
	return 0;
}

static int kairos_release(struct inode *inode, struct file *file)
{
	const struct cred *cached = file->private_data;

	if (cached)
		put_cred(cached);
	kairos_admit_release_owner(file);
	kairos_lc_release_owner(file);
	atomic_dec(&kairos_live.files);
	return 0;
}

static long ioc_version(void __user *uarg)
{
	struct kairos_version v = {
		.major = KAIROS_ABI_MAJOR,
		.minor = KAIROS_ABI_MINOR,
		.nr_cpus = nr_cpu_ids,
		.cpu_page_size = KAIROS_CPU_PAGE_SIZE,
		.max_lc_threads = KAIROS_MAX_LC,
	};

	return copy_to_user(uarg, &v, sizeof(v)) ? -EFAULT : 0;
}

/*
 * Only threads the privileged side chose may park: privileged callers
 * (through the file's remembered credentials, so a runtime's PARK costs a
 * pointer compare) and threads of an admitted thread group.
 */
static long ioc_park(struct file *file, void __user *uarg)
{
	struct kairos_park a;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.flags || a.timeout_ns > KAIROS_PARK_TIMEOUT_MAX_NS)
		return -EINVAL;
	if (!privileged_file(file) && !kairos_admitted()) {
		this_cpu_inc(kairos_stats.park_denied);
		return -EPERM;
	}
	return kairos_park(&a, uarg);	/* never re-read: no check/use race */
}

/*
 * Each command copies its own structure with a constant size: such copies
 * skip the hardened-usercopy object walk, which a variable size costs on
 * every call of the grant path.
 */
static long ioc_privileged(struct file *file, unsigned int cmd,
			   void __user *uarg)
{
	union {
		struct kairos_grant grant;
		struct kairos_cpuset set;
		struct kairos_preempt preempt;
		struct kairos_lc lc;
		struct kairos_admit admit;
	} a;

	if (!privileged_file(file))
		return -EPERM;
	switch (cmd) {
	case KAIROS_IOC_GRANT:
		if (copy_from_user(&a.grant, uarg, sizeof(a.grant)))
			return -EFAULT;
		return kairos_grant(&a.grant);
	case KAIROS_IOC_KICK:
		if (copy_from_user(&a.set, uarg, sizeof(a.set)))
			return -EFAULT;
		return kairos_kick(&a.set);
	case KAIROS_IOC_PREEMPT:
		if (copy_from_user(&a.preempt, uarg, sizeof(a.preempt)))
			return -EFAULT;
		return kairos_preempt(&a.preempt);
	case KAIROS_IOC_LC_ADD:
	case KAIROS_IOC_LC_DEL:
		if (copy_from_user(&a.lc, uarg, sizeof(a.lc)))
			return -EFAULT;
		if (a.lc.flags)
			return -EINVAL;
		if (cmd == KAIROS_IOC_LC_ADD)
			return kairos_lc_add(file, a.lc.tid);
		return kairos_lc_del(file, a.lc.tid);
	case KAIROS_IOC_ADMIT:
		if (copy_from_user(&a.admit, uarg, sizeof(a.admit)))
			return -EFAULT;
		return kairos_admit(file, &a.admit);
	}
	return -ENOTTY;
}

static long kairos_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case KAIROS_IOC_VERSION:
		return ioc_version(uarg);
	case KAIROS_IOC_PARK:
		return ioc_park(file, uarg);
	case KAIROS_IOC_GRANT:
	case KAIROS_IOC_KICK:
	case KAIROS_IOC_PREEMPT:
	case KAIROS_IOC_LC_ADD:
	case KAIROS_IOC_LC_DEL:
	case KAIROS_IOC_ADMIT:
		return ioc_privileged(file, cmd, uarg);
	}
	return -ENOTTY;
}

static void kairos_vm_open(struct vm_area_struct *vma)
{
	atomic_inc(&kairos_live.mappings);
}

static void kairos_vm_close(struct vm_area_struct *vma)
{
	atomic_dec(&kairos_live.mappings);
}

static const struct vm_operations_struct kairos_vm_ops = {
	.open = kairos_vm_open,
	.close = kairos_vm_close,
};

/*
 * Maps the per-CPU pages [pgoff, pgoff + pages); see uapi/kairos.h. Only
 * for privileged callers of the initial pid namespace, read-only ones too:
 * the pages show its thread ids, untranslated.
 */
static int kairos_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long pages = vma_pages(vma);
	unsigned long i;
	int ret;

	if (vma->vm_pgoff >= nr_cpu_ids || pages > nr_cpu_ids - vma->vm_pgoff)
		return -EINVAL;
	if (task_active_pid_ns(current) != &init_pid_ns || !privileged())
		return -EPERM;
	if ((vma->vm_flags & VM_WRITE) && !(vma->vm_flags & VM_SHARED))
		return -EINVAL;	/* a private copy would post nothing */
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < pages; i++) {
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     kairos_cpu_page(vma->vm_pgoff + i));
		if (ret)
			return ret;
	}
	vma->vm_ops = &kairos_vm_ops;
	kairos_vm_open(vma);
	return 0;
}

static const struct file_operations kairos_fops = {
	.owner = THIS_MODULE,
	.open = kairos_open,
	.release = kairos_release,
	.unlocked_ioctl = kairos_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = kairos_mmap,
};

static struct miscdevice kairos_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kairos",
	.fops = &kairos_fops,
	.mode = 0666,
};

int kairos_dev_init(void)
{
	return misc_register(&kairos_misc);
}

void kairos_dev_exit(void)
{
	misc_deregister(&kairos_misc);
}
