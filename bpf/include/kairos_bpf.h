/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common prelude of Kairos's sched_ext BPF programs: the target kernel's
 * types (vmlinux.h, which also declares the kfuncs) and libbpf's helpers.
 */
#ifndef KAIROS_BPF_H
#define KAIROS_BPF_H

/* vmlinux.h declares kfuncs with these; libbpf defines them identically. */
#define __ksym __attribute__((section(".ksyms")))
#define __weak __attribute__((weak))

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

/* vmlinux.h carries no errno macros. */
#ifndef EINVAL
#define ENOENT 2
#define ENOMEM 12
#define EBUSY 16
#define ENODEV 19
#define EINVAL 22
#endif

/*
 * kfuncs that kernels after 6.13 added (scx_bpf_dsq_peek,
 * scx_bpf_task_set_slice) are used only where the running kernel has
 * them: vmlinux.h declares every kfunc weak, and the verifier drops the
 * branch that a missing one rules out. KAIROS_BPF_OLD_KFUNCS builds the
 * other branch only, so a test can load it on a kernel that has both.
 */
#ifdef KAIROS_BPF_OLD_KFUNCS
#define kairos_has_kfunc(f) 0
#else
#define kairos_has_kfunc(f) bpf_ksym_exists(f)
#endif

/* struct_ops callbacks are BPF programs in sections named after them. */
#define KAIROS_OPS(name, args...) \
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define KAIROS_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

#endif /* KAIROS_BPF_H */
