/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The one integer prelude of the userspace contract ABIs (kairos/abi/):
 * fixed-width types that mean the same in C, C++, the kernel and BPF, so
 * every ABI header spells its fields one way.
 */
#ifndef KAIROS_ABI_TYPES_H
#define KAIROS_ABI_TYPES_H

#if defined(__KERNEL__)
#include <linux/types.h>
typedef __u8 kairos_u8;
typedef __u16 kairos_u16;
typedef __u32 kairos_u32;
typedef __u64 kairos_u64;
typedef __s64 kairos_s64;
#elif defined(__VMLINUX_H__)
typedef u8 kairos_u8;
typedef u16 kairos_u16;
typedef u32 kairos_u32;
typedef u64 kairos_u64;
typedef s64 kairos_s64;
#else
#include <stdint.h>
typedef uint8_t kairos_u8;
typedef uint16_t kairos_u16;
typedef uint32_t kairos_u32;
typedef uint64_t kairos_u64;
typedef int64_t kairos_s64;
#endif

#endif /* KAIROS_ABI_TYPES_H */
