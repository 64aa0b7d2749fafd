/* xoshiro256** seeding and jump.  See rng.h. */
#include "phylo/rng.h"

uint64_t fitcl__splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void fitcl__rng_init2(fitcl__rng *r, uint64_t seed, uint64_t stream, uint64_t substream) {
  /* Hash the three words in sequence so that neighbouring streams start
   * from unrelated states. */
  uint64_t h = seed;
  uint64_t k = fitcl__splitmix64(&h);
  h = k ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
  k = fitcl__splitmix64(&h);
  h = k ^ (substream * 0x9fb21c651e98df25ULL + 0x7fb5d329728ea185ULL);
  for (int i = 0; i < 4; ++i) r->s[i] = fitcl__splitmix64(&h);
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

void fitcl__rng_init(fitcl__rng *r, uint64_t seed, uint64_t stream) {
  fitcl__rng_init2(r, seed, stream, 0);
}

void fitcl__rng_jump(fitcl__rng *r) {
  static const uint64_t JUMP[] = {0x180ec6d33cfd0abaULL, 0xd5a61266f0c9392cULL,
                                  0xa9582618e03fc9aaULL, 0x39abdc4529b1661cULL};
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int i = 0; i < 4; ++i)
    for (int b = 0; b < 64; ++b) {
      if (JUMP[i] & (1ULL << b)) {
        s0 ^= r->s[0];
        s1 ^= r->s[1];
        s2 ^= r->s[2];
        s3 ^= r->s[3];
      }
      fitcl__rng_next(r);
    }
  r->s[0] = s0;
  r->s[1] = s1;
  r->s[2] = s2;
  r->s[3] = s3;
}
