// SPDX-License-Identifier: GPL-2.0
/*
 * kairos.ko: microsecond core grants for latency-critical services.
 * This file wires the parts of the module together. Unload can only
 * happen once no /dev/kairos file is open (the file holds the module), so
 * by then nothing is parked, mapped or registered; exit still restores any
 * LC member defensively.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kairos_mod.h"

static int __init kairos_init(void)
{
	int ret;

	ret = kairos_park_init();
	if (ret)
		return ret;
	ret = kairos_class_init();
	if (ret)
		goto fail_class;
	ret = kairos_sysfs_init();
	if (ret)
		goto fail_sysfs;
	ret = kairos_dev_init();
	if (ret)
		goto fail_dev;
	pr_info("kairos: loaded, ABI %d.%d\n", KAIROS_ABI_MAJOR,
		KAIROS_ABI_MINOR);
	return 0;
fail_dev:
	kairos_sysfs_exit();
fail_sysfs:
	kairos_class_exit();
fail_class:
	kairos_park_exit();
	return ret;
}

static void __exit kairos_exit(void)
{
	kairos_dev_exit();
	kairos_sysfs_exit();
	kairos_class_exit();
	kairos_park_exit();
	pr_info("kairos: unloaded\n");
}

module_init(kairos_init);
module_exit(kairos_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kairos: microsecond core grants for latency-critical services");
