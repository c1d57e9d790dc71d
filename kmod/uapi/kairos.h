/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Kairos kernel-module ABI, shared by kairos.ko and userspace.
 *
 * Versioning: the major number changes on any incompatible change of an
 * ioctl, the mmap layout or a sysfs file; the minor number on additions.
 * Userspace must check the major number before using anything else.
 */
#ifndef _UAPI_KAIROS_H
#define _UAPI_KAIROS_H

#define KAIROS_ABI_MAJOR 0
#define KAIROS_ABI_MINOR 1

/* Text of /sys/kernel/kairos/version: "<major>.<minor>\n". */
#define KAIROS_SYSFS_DIR "/sys/kernel/kairos"

#endif /* _UAPI_KAIROS_H */
