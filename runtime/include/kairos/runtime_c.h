/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * libkairos C API: a thin layer over the C++ runtime (kairos/runtime.hpp).
 * Functions returning int give 0 on success or a negative errno value
 * (-EINVAL for bad arguments, -ENOMEM, ...); nothing changes on failure.
 */
#ifndef KAIROS_KAIROS_H
#define KAIROS_KAIROS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kairos_runtime kairos_runtime_t;
typedef struct kairos_thread kairos_thread_t;
typedef struct kairos_mutex kairos_mutex_t;
typedef struct kairos_cond kairos_cond_t;

struct kairos_config {
	unsigned kthreads;	/* 0: one per online CPU */
	size_t stack_size;	/* 0: 64 KiB */
	int self_wake;		/* nonzero: wake parked kthreads on new work */
	uint32_t app_id;
};

int kairos_runtime_create(const struct kairos_config *cfg,
			  kairos_runtime_t **out);
/* Waits for every uthread to finish, then frees the runtime. */
void kairos_runtime_destroy(kairos_runtime_t *rt);

/* out == NULL spawns a detached uthread. */
int kairos_spawn(kairos_runtime_t *rt, void (*fn)(void *), void *arg,
		 kairos_thread_t **out);
/* Waits for the uthread and frees the handle. */
int kairos_join(kairos_thread_t *t);

void kairos_yield(void);
void kairos_sleep_ns(uint64_t ns);
/* Kthread running the caller, or -1 outside the runtime. */
int kairos_kthread_index(void);

int kairos_mutex_create(kairos_mutex_t **out);
void kairos_mutex_destroy(kairos_mutex_t *m);
void kairos_mutex_lock(kairos_mutex_t *m);
void kairos_mutex_unlock(kairos_mutex_t *m);

int kairos_cond_create(kairos_cond_t **out);
void kairos_cond_destroy(kairos_cond_t *c);
/* The mutex must be held; it is held again on return. */
void kairos_cond_wait(kairos_cond_t *c, kairos_mutex_t *m);
/* 0 when notified, -ETIMEDOUT after timeout_ns. */
int kairos_cond_timedwait(kairos_cond_t *c, kairos_mutex_t *m,
			  uint64_t timeout_ns);
void kairos_cond_signal(kairos_cond_t *c);
void kairos_cond_broadcast(kairos_cond_t *c);

/* Elasticity and queue signals (see kairos/abi/runtime_area.h). */
unsigned kairos_grant(kairos_runtime_t *rt, unsigned n);
unsigned kairos_reclaim(kairos_runtime_t *rt, unsigned n);
unsigned kairos_running_kthreads(kairos_runtime_t *rt);
int kairos_queue_state_fd(kairos_runtime_t *rt);

#ifdef __cplusplus
}
#endif

#endif /* KAIROS_KAIROS_H */
