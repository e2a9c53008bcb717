/*
 * par — one persistent helper thread for the package module's crypto.
 *
 * The package streams (age's STREAM chunks, a zip entry's CTR and MAC) split
 * their crypto between the calling thread and this helper: the caller hands one
 * job over (pkg_par_start), does its own share, then waits (pkg_par_wait). I/O
 * stays in the calling thread. A job reports its result through its argument;
 * the helper never touches a struct kinko_err.
 */
#include "package/package_internal.h"

#include <pthread.h>
#include <stdlib.h>

#define PAR_STACK ((size_t)1 << 20)

struct pkg_par {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void (*fn)(void *arg);
	void *arg;
	int busy; /* a job is handed over and not finished */
	int stop;
};

static void *par_main(void *arg)
{
	struct pkg_par *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->busy && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->busy) /* stop, with nothing left to do */
			break;
		pthread_mutex_unlock(&p->mu);
		p->fn(p->arg);
		pthread_mutex_lock(&p->mu);
		p->busy = 0;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pkg_par_new(struct pkg_par **out)
{
	struct pkg_par *p = calloc(1, sizeof *p);
	pthread_attr_t attr;
	int rc;

	if (!p)
		return KINKO_ENOMEM;
	if (pthread_mutex_init(&p->mu, NULL)) {
		free(p);
		return KINKO_ENOMEM;
	}
	if (pthread_cond_init(&p->cv, NULL)) {
		pthread_mutex_destroy(&p->mu);
		free(p);
		return KINKO_ENOMEM;
	}
	/* A small stack: the jobs are crypto loops, and a process under an
	 * address-space limit (tests/integration: test_constant_memory) then still
	 * has room for the thread. */
	if (pthread_attr_init(&attr)) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return KINKO_ENOMEM;
	}
	rc = pthread_attr_setstacksize(&attr, PAR_STACK);
	rc = rc ? rc : pthread_create(&p->th, &attr, par_main, p);
	pthread_attr_destroy(&attr);
	if (rc) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return KINKO_ENOMEM;
	}
	*out = p;
	return 0;
}

void pkg_par_start(struct pkg_par *p, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->busy = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void pkg_par_wait(struct pkg_par *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->busy)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void pkg_par_free(struct pkg_par *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->th, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
