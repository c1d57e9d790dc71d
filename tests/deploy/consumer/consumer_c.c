/* The C API of an installed libkairos (pkg-config kairos), from C. */
#include <kairos/runtime_c.h>

#include <stdio.h>

static int ran;

static void work(void *arg)
{
	(void)arg;
	kairos_yield();
	__atomic_add_fetch(&ran, 1, __ATOMIC_SEQ_CST);
}

int main(void)
{
	struct kairos_config cfg = { .kthreads = 2, .self_wake = 1 };
	kairos_runtime_t *rt;
	kairos_thread_t *t[10];
	int i;

	if (kairos_runtime_create(&cfg, &rt) != 0)
		return 1;
	for (i = 0; i < 10; i++)
		if (kairos_spawn(rt, work, NULL, &t[i]) != 0)
			return 1;
	for (i = 0; i < 10; i++)
		kairos_join(t[i]);
	kairos_runtime_destroy(rt);
	printf("C API: %d uthreads ran\n", ran);
	return ran == 10 ? 0 : 1;
}
