/* How a device of a set takes its next unit of blocks (groups, for the
 * accumulation): shared by kernels/lik_multi.c and kernels/accum_multi.c.
 * Internal. */
#ifndef FITCL_KERNELS_HAND_OUT_H
#define FITCL_KERNELS_HAND_OUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

/* The test hook's delay for a slowed device: wait slow_us, then until a
 * device the hook does not slow has taken a unit (at most 10 s, and, when
 * running is given, only while another device still takes units), so
 * that the split a test asks for is certain, not a race. */
static inline void fitcl__hand_out_test_wait(unsigned slow_us, atomic_size_t *fast_units,
                                             atomic_int *failed, atomic_size_t *next, size_t n,
                                             atomic_int *running) {
  struct timespec ts = {(time_t)(slow_us / 1000000u), (long)(slow_us % 1000000u) * 1000L};
  nanosleep(&ts, NULL);
  const struct timespec ms = {0, 1000000L};
  for (int k = 0; k < 10000 && !atomic_load(fast_units) && !atomic_load(failed) &&
                  atomic_load(next) < n && (!running || atomic_load(running) > 1);
       ++k)
    nanosleep(&ms, NULL);
}

/* The size of this device's next unit, at most `unit`: with the devices'
 * speeds of the last evaluation (rate, NULL until known; rate_sum their
 * sum), at most its share of what is left, so a slow device does not hold
 * the last unit while the others wait.  0: take nothing more (everything
 * is handed out, or even one block here would end after the others have
 * done the rest; the fastest device never stops early). */
static inline size_t fitcl__hand_out_size(size_t unit, size_t next, size_t n, const double *rate,
                                          double rate_sum, int idx, int fastest) {
  if (!rate) return unit;
  if (next >= n) return 0;
  const double mine = rate[idx], rem = (double)(n - next);
  size_t fair = (size_t)(rem * mine / rate_sum);
  if (fair == 0) {
    if (!fastest && 1.0 / mine > (rem - 1.0) / (rate_sum - mine)) return 0;
    fair = 1;
  }
  return unit < fair ? unit : fair;
}

#endif
