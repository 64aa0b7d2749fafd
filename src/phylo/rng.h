/* Deterministic random numbers for simulation and the bootstrap.  Internal.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64.  Every
 * (seed, stream) pair gets its own generator: a stream is a replicate or a
 * family, so the numbers a piece of work draws depend only on the seed and
 * on which piece it is, never on the thread that runs it or on the order in
 * which pieces run.  That is what makes `--seed S` give the same output for
 * any thread count. */
#ifndef FITCL_PHYLO_RNG_H
#define FITCL_PHYLO_RNG_H

#include <stdint.h>

typedef struct fitcl__rng {
  uint64_t s[4];
} fitcl__rng;

/* Initialises the generator of `stream` under `seed`.  Streams are decorrelated
 * by hashing (seed, stream) through splitmix64; the all-zero state cannot
 * occur. */
void fitcl__rng_init(fitcl__rng *r, uint64_t seed, uint64_t stream);
/* Same, for a two-level stream name (replicate b, family f). */
void fitcl__rng_init2(fitcl__rng *r, uint64_t seed, uint64_t stream, uint64_t substream);

static inline uint64_t fitcl__rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t fitcl__rng_next(fitcl__rng *r) {
  uint64_t *s = r->s;
  uint64_t result = fitcl__rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = fitcl__rng_rotl(s[3], 45);
  return result;
}

/* Uniform on [0, 1) with 53 random bits. */
static inline double fitcl__rng_uniform(fitcl__rng *r) {
  return (double)(fitcl__rng_next(r) >> 11) * 0x1.0p-53;
}

/* Advances the generator by 2^128 steps (the reference jump polynomial), for
 * callers that prefer consecutive non-overlapping blocks of one stream. */
void fitcl__rng_jump(fitcl__rng *r);

/* splitmix64 step: also a good 64-bit mixing function. */
uint64_t fitcl__splitmix64(uint64_t *state);

#endif
