/* Persistent pthreads worker pool with static partitioning.
 *
 * fitcl__pool_run(pool, ntasks, fn, arg) calls fn(arg, task, worker) for every
 * task in [0, ntasks).  Worker w always runs the contiguous range
 * [w*ntasks/n, (w+1)*ntasks/n): the assignment depends only on ntasks and the
 * pool size, never on timing.  Callers make results independent of the pool
 * size too by giving each task its own output slot (fixed-size blocks of
 * work) and combining the slots in task order afterwards.
 *
 * One fitcl__pool_run at a time per pool; the calling thread acts as worker 0.
 */
#ifndef FITCL_CORE_POOL_H
#define FITCL_CORE_POOL_H

#include <stddef.h>
#include "fitcl.h"

typedef struct fitcl__pool fitcl__pool;
typedef void (*fitcl__task_fn)(void *arg, size_t task, unsigned worker);

fitcl_status fitcl__pool_create(unsigned nthreads, fitcl__pool **out);
void fitcl__pool_destroy(fitcl__pool *pool);
unsigned fitcl__pool_size(const fitcl__pool *pool);
void fitcl__pool_run(fitcl__pool *pool, size_t ntasks, fitcl__task_fn fn, void *arg);

#endif
