/* A plain C user of libkairos: proves the header is C and the API works. */
#include <kairos/runtime_c.h>

#include <errno.h>

struct shared {
	kairos_mutex_t *m;
	kairos_cond_t *cv;
	long counter;
	int timed_out;
};

static void worker(void *arg)
{
	struct shared *s = arg;
	int i;

	for (i = 0; i < 1000; i++) {
		kairos_mutex_lock(s->m);
		s->counter++;
		kairos_mutex_unlock(s->m);
		if (i % 100 == 0)
			kairos_yield();
	}
}

static void waiter(void *arg)
{
	struct shared *s = arg;

	kairos_sleep_ns(1000000);
	kairos_mutex_lock(s->m);
	if (kairos_cond_timedwait(s->cv, s->m, 2000000) == -ETIMEDOUT)
		s->timed_out = 1;
	kairos_mutex_unlock(s->m);
}

int kairos_c_user_run(unsigned kthreads, long *result)
{
	struct kairos_config cfg = { kthreads, 0, 1, 0 };
	kairos_runtime_t *rt;
	kairos_thread_t *t[9];
	struct shared s = { 0 };
	int i, err;

	err = kairos_runtime_create(&cfg, &rt);
	if (err)
		return err;
	if (kairos_mutex_create(&s.m) || kairos_cond_create(&s.cv))
		return -ENOMEM;
	for (i = 0; i < 8; i++) {
		err = kairos_spawn(rt, worker, &s, &t[i]);
		if (err)
			return err;
	}
	err = kairos_spawn(rt, waiter, &s, &t[8]);
	if (err)
		return err;
	for (i = 0; i < 9; i++)
		kairos_join(t[i]);
	kairos_cond_broadcast(s.cv);
	kairos_cond_destroy(s.cv);
	kairos_mutex_destroy(s.m);
	kairos_runtime_destroy(rt);
	*result = s.timed_out ? s.counter : -1;
	return 0;
}
