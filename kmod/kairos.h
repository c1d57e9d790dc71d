/* SPDX-License-Identifier: GPL-2.0 */
/* Internal interfaces between the parts of kairos.ko. */
#ifndef _KAIROS_INTERNAL_H
#define _KAIROS_INTERNAL_H

int kairos_sysfs_init(void);
void kairos_sysfs_exit(void);

#endif /* _KAIROS_INTERNAL_H */
