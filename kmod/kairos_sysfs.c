// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/kairos/: the version file now; tunables and statistics join
 * it as the module grows.
 */
#include <linux/kobject.h>
#include <linux/sysfs.h>

#include "kairos.h"
#include "uapi/kairos.h"

static struct kobject *kairos_kobj;

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%d.%d\n", KAIROS_ABI_MAJOR, KAIROS_ABI_MINOR);
}

static struct kobj_attribute version_attr = __ATTR_RO(version);

static struct attribute *kairos_attrs[] = {
	&version_attr.attr,
	NULL,
};

static const struct attribute_group kairos_group = {
	.attrs = kairos_attrs,
};

int kairos_sysfs_init(void)
{
	int ret;

	kairos_kobj = kobject_create_and_add("kairos", kernel_kobj);
	if (!kairos_kobj)
		return -ENOMEM;
	ret = sysfs_create_group(kairos_kobj, &kairos_group);
	if (ret) {
		kobject_put(kairos_kobj);
		kairos_kobj = NULL;
	}
	return ret;
}

void kairos_sysfs_exit(void)
{
	if (!kairos_kobj)
		return;
	sysfs_remove_group(kairos_kobj, &kairos_group);
	kobject_put(kairos_kobj);
	kairos_kobj = NULL;
}
