// SPDX-License-Identifier: GPL-2.0
/*
 * kairos.ko: microsecond core grants for latency-critical services.
 * This file wires the parts of the module together.
 */
#include <linux/module.h>
#include <linux/init.h>

#include "kairos.h"
#include "uapi/kairos.h"

static int __init kairos_init(void)
{
	int ret;

	ret = kairos_sysfs_init();
	if (ret)
		return ret;
	pr_info("kairos: loaded, ABI %d.%d\n", KAIROS_ABI_MAJOR,
		KAIROS_ABI_MINOR);
	return 0;
}

static void __exit kairos_exit(void)
{
	kairos_sysfs_exit();
	pr_info("kairos: unloaded\n");
}

module_init(kairos_init);
module_exit(kairos_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kairos: microsecond core grants for latency-critical services");
