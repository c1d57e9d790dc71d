// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/kairos/: the ABI version, the tunables and the statistics.
 *
 * Tunables take one decimal number: digits only (no sign), an optional
 * trailing newline, nothing else. Anything else, a value out of bounds, or quantum_us > period_us
 * gives -EINVAL and keeps the old value.
 *
 * stats/ holds counters summed over CPUs, the live-object counts (zero
 * once nothing uses the module) and per_cpu, one line per present CPU
 * (an "online" column says which are online now), of any length.
 */
#include <linux/cpumask.h>
#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/mutex.h>
#include <linux/string.h>
#include <linux/sysfs.h>

#include "kairos_mod.h"

struct kairos_mod_tunables kairos_tun = {
	.quantum_us = 500,
	.period_us = 1000,
	.enabled = 1,
	.park_spin_max_us = 100,
	.lc_rt_priority = 10,
};

DEFINE_PER_CPU(struct kairos_cpu_stats, kairos_stats);
struct kairos_live kairos_live;

static DEFINE_MUTEX(tun_lock);	/* makes check-then-store atomic */
static struct kobject *kairos_kobj;
static struct kobject *stats_kobj;

/* @len bytes holding one decimal number in [min, max], or -EINVAL. */
static int parse_uint(const char *buf, size_t len, unsigned int min,
		      unsigned int max, unsigned int *out)
{
	unsigned int v;

	if (strnlen(buf, len) != len)	/* an embedded NUL hides the rest */
		return -EINVAL;
	if (!len || !isdigit(buf[0]))	/* kstrtouint would take a '+' */
		return -EINVAL;
	if (kstrtouint(buf, 10, &v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d.%d\n", KAIROS_ABI_MAJOR, KAIROS_ABI_MINOR);
}

#define TUNABLE_SHOW(name)						\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", READ_ONCE(kairos_tun.name));	\
}

TUNABLE_SHOW(quantum_us)
TUNABLE_SHOW(period_us)
TUNABLE_SHOW(enabled)
TUNABLE_SHOW(park_spin_max_us)
TUNABLE_SHOW(lc_rt_priority)

/*
 * A tunable that takes any value in [min, max]; @max may read another
 * tunable (quantum_us <= period_us): it is evaluated under tun_lock.
 */
#define TUNABLE_STORE_BOUNDED(name, min, max)				\
static ssize_t name##_store(struct kobject *kobj,			\
			    struct kobj_attribute *attr,		\
			    const char *buf, size_t len)		\
{									\
	unsigned int v;							\
	int ret;							\
									\
	mutex_lock(&tun_lock);						\
	ret = parse_uint(buf, len, min, max, &v);			\
	if (!ret)							\
		WRITE_ONCE(kairos_tun.name, v);				\
	mutex_unlock(&tun_lock);					\
	return ret ? ret : len;						\
}

TUNABLE_STORE_BOUNDED(quantum_us, KAIROS_QUANTUM_MIN_US, kairos_tun.period_us)
TUNABLE_STORE_BOUNDED(park_spin_max_us, 0, KAIROS_SPIN_MAX_US)
TUNABLE_STORE_BOUNDED(lc_rt_priority, KAIROS_LC_PRIO_MIN, KAIROS_LC_PRIO_MAX)

static ssize_t period_us_store(struct kobject *kobj,
			       struct kobj_attribute *attr, const char *buf,
			       size_t len)
{
	unsigned int v;
	int ret;

	mutex_lock(&tun_lock);
	ret = parse_uint(buf, len, KAIROS_PERIOD_MIN_US, KAIROS_PERIOD_MAX_US, &v);
	if (!ret && v < kairos_tun.quantum_us)
		ret = -EINVAL;
	if (!ret)
		WRITE_ONCE(kairos_tun.period_us, v);
	mutex_unlock(&tun_lock);
	return ret ? ret : len;
}

static ssize_t enabled_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t len)
{
	unsigned int v;
	int ret;

	mutex_lock(&tun_lock);
	ret = parse_uint(buf, len, 0, 1, &v);
	if (!ret && v != kairos_tun.enabled)
		kairos_class_set_enabled(v);
	mutex_unlock(&tun_lock);
	return ret ? ret : len;
}

static struct kobj_attribute version_attr = __ATTR_RO(version);
static struct kobj_attribute quantum_us_attr = __ATTR_RW_MODE(quantum_us, 0644);
static struct kobj_attribute period_us_attr = __ATTR_RW_MODE(period_us, 0644);
static struct kobj_attribute enabled_attr = __ATTR_RW_MODE(enabled, 0644);
static struct kobj_attribute park_spin_max_us_attr =
	__ATTR_RW_MODE(park_spin_max_us, 0644);
static struct kobj_attribute lc_rt_priority_attr =
	__ATTR_RW_MODE(lc_rt_priority, 0644);

static struct attribute *kairos_attrs[] = {
	&version_attr.attr,
	&quantum_us_attr.attr,
	&period_us_attr.attr,
	&enabled_attr.attr,
	&park_spin_max_us_attr.attr,
	&lc_rt_priority_attr.attr,
	NULL,
};

static const struct attribute_group kairos_group = {
	.attrs = kairos_attrs,
};

/* Sums one per-CPU counter over all CPUs. */
#define STAT_SUM_SHOW(name)						\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	u64 sum = 0;							\
	int cpu;							\
									\
	for_each_possible_cpu(cpu)					\
		sum += READ_ONCE(per_cpu_ptr(&kairos_stats, cpu)->name);\
	return sysfs_emit(buf, "%llu\n", sum);				\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

STAT_SUM_SHOW(grants);
STAT_SUM_SHOW(grant_misses);
STAT_SUM_SHOW(grant_scanned);
STAT_SUM_SHOW(park_denied);
STAT_SUM_SHOW(parks);
STAT_SUM_SHOW(preempt_ipis);
STAT_SUM_SHOW(preempt_signals);
STAT_SUM_SHOW(throttles);
STAT_SUM_SHOW(unthrottles);
STAT_SUM_SHOW(lc_runtime_ns);
STAT_SUM_SHOW(lc_throttled_ns);
STAT_SUM_SHOW(lc_overrun_ns);
STAT_SUM_SHOW(throttled_periods);
STAT_SUM_SHOW(policy_errors);

/* The largest value of one per-CPU counter. */
#define STAT_MAX_SHOW(name)						\
static ssize_t name##_show(struct kobject *kobj,			\
			   struct kobj_attribute *attr, char *buf)	\
{									\
	u64 max = 0;							\
	int cpu;							\
									\
	for_each_possible_cpu(cpu)					\
		max = max(max, READ_ONCE(per_cpu_ptr(&kairos_stats, cpu)->name));\
	return sysfs_emit(buf, "%llu\n", max);				\
}									\
static struct kobj_attribute name##_attr = __ATTR_RO(name)

STAT_MAX_SHOW(lc_overrun_max_ns);

#define LIVE_SHOW(name, value)						\
static ssize_t live_##name##_show(struct kobject *kobj,			\
				  struct kobj_attribute *attr, char *buf)\
{									\
	return sysfs_emit(buf, "%d\n", value);				\
}									\
static struct kobj_attribute live_##name##_attr = __ATTR_RO(live_##name)

LIVE_SHOW(files, atomic_read(&kairos_live.files));
LIVE_SHOW(mappings, atomic_read(&kairos_live.mappings));
LIVE_SHOW(parked, kairos_live_parked());
LIVE_SHOW(lc_threads, atomic_read(&kairos_live.lc_threads));
LIVE_SHOW(admitted, kairos_live_admitted());

/*
 * stats/per_cpu: a header and one line per present CPU, each exactly
 * PER_CPU_LINE bytes (padded with spaces before the newline). A read()
 * returns at most one page, so the file is longer than one read once
 * there are more than about 40 CPUs; with lines that divide the page size,
 * a reader that reads page-sized chunks (cat, read_file) never gets a line
 * made of two moments, nor a line cut at a page boundary.
 */
#define PER_CPU_LINE 256
static_assert(PAGE_SIZE % PER_CPU_LINE == 0);

/* One line of @len bytes at @out: @fmt padded to PER_CPU_LINE. */
static __printf(2, 3) void per_cpu_line(char *out, const char *fmt, ...)
{
	va_list args;
	int n;

	va_start(args, fmt);
	n = vscnprintf(out, PER_CPU_LINE, fmt, args);
	va_end(args);
	memset(out + n, ' ', PER_CPU_LINE - 1 - n);
	out[PER_CPU_LINE - 1] = '\n';
}

static void per_cpu_cpu_line(char *out, int cpu)
{
	struct kairos_cpu_stats *s = per_cpu_ptr(&kairos_stats, cpu);

	per_cpu_line(out, "%d %llu %llu %llu %llu %llu %llu %llu %llu %u %d %llu %d",
		     cpu, READ_ONCE(s->grants), READ_ONCE(s->grant_misses),
		     READ_ONCE(s->parks), READ_ONCE(s->preempt_ipis),
		     READ_ONCE(s->preempt_signals), READ_ONCE(s->throttles),
		     READ_ONCE(s->unthrottles), READ_ONCE(s->lc_runtime_ns),
		     kairos_cpu_parked(cpu), kairos_cpu_throttled(cpu),
		     READ_ONCE(s->lc_overrun_ns), cpu_online(cpu));
}

static const char *const per_cpu_columns[] = {
	"cpu", "grants", "grant_misses", "parks", "preempt_ipis",
	"preempt_signals", "throttles", "unthrottles", "lc_runtime_ns",
	"parked", "throttled", "lc_overrun_ns", "online",
};

static void per_cpu_header(char *out)
{
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(per_cpu_columns); i++)
		n += scnprintf(out + n, PER_CPU_LINE - n, "%s%s", i ? " " : "",
			       per_cpu_columns[i]);
	memset(out + n, ' ', PER_CPU_LINE - 1 - n);
	out[PER_CPU_LINE - 1] = '\n';
}

/* The @k-th present CPU (from 0), or nr_cpu_ids. */
static unsigned int nth_present_cpu(loff_t k)
{
	unsigned int cpu;

	for_each_present_cpu(cpu)
		if (!k--)
			return cpu;
	return nr_cpu_ids;
}

/* Present, not online, CPUs: the lines add up to the totals. */
static ssize_t per_cpu_read(struct file *file, struct kobject *kobj,
			    const struct bin_attribute *attr, char *buf,
			    loff_t off, size_t count)
{
	/* Line 0 is the header, line i > 0 the (i - 1)-th present CPU's. */
	loff_t idx = off / PER_CPU_LINE;
	size_t from = off % PER_CPU_LINE, done = 0;
	unsigned int cpu = idx ? nth_present_cpu(idx - 1) : 0;
	char line[PER_CPU_LINE];

	while (done < count) {
		size_t n = min(count - done, PER_CPU_LINE - from);

		if (!idx) {
			per_cpu_header(line);
			cpu = cpumask_first(cpu_present_mask);
		} else {
			if (cpu >= nr_cpu_ids)
				break;
			per_cpu_cpu_line(line, cpu);
			cpu = cpumask_next(cpu, cpu_present_mask);
		}
		memcpy(buf + done, line + from, n);
		done += n;
		from = 0;
		idx++;
	}
	return done;
}

static const BIN_ATTR_RO(per_cpu, 0);

static struct attribute *stats_attrs[] = {
	&grants_attr.attr,
	&grant_misses_attr.attr,
	&grant_scanned_attr.attr,
	&park_denied_attr.attr,
	&parks_attr.attr,
	&preempt_ipis_attr.attr,
	&preempt_signals_attr.attr,
	&throttles_attr.attr,
	&unthrottles_attr.attr,
	&lc_runtime_ns_attr.attr,
	&lc_throttled_ns_attr.attr,
	&lc_overrun_ns_attr.attr,
	&throttled_periods_attr.attr,
	&lc_overrun_max_ns_attr.attr,
	&policy_errors_attr.attr,
	&live_files_attr.attr,
	&live_mappings_attr.attr,
	&live_parked_attr.attr,
	&live_lc_threads_attr.attr,
	&live_admitted_attr.attr,
	NULL,
};

static const struct bin_attribute *const stats_bin_attrs[] = {
	&bin_attr_per_cpu,
	NULL,
};

static const struct attribute_group stats_group = {
	.attrs = stats_attrs,
	.bin_attrs = stats_bin_attrs,
};

int kairos_sysfs_init(void)
{
	int ret;

	kairos_kobj = kobject_create_and_add("kairos", kernel_kobj);
	if (!kairos_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kairos_kobj, &kairos_group);
	if (ret)
		goto fail;
	stats_kobj = kobject_create_and_add("stats", kairos_kobj);
	ret = -ENOMEM;
	if (!stats_kobj)
		goto fail;
	ret = sysfs_create_group(stats_kobj, &stats_group);
	if (ret)
		goto fail;
	return 0;
fail:
	kairos_sysfs_exit();
	return ret;
}

void kairos_sysfs_exit(void)
{
	if (stats_kobj) {
		kobject_put(stats_kobj);
		stats_kobj = NULL;
	}
	if (kairos_kobj) {
		kobject_put(kairos_kobj);
		kairos_kobj = NULL;
	}
}
