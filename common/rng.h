/* Deterministic random numbers: splitmix64 seeding, xoshiro256** stream.
 * Every consumer derives its own stream from (seed, stream id), so results never depend
 * on the order in which tensors are initialised or on the thread count. */
#ifndef GRIFFIN_RNG_H
#define GRIFFIN_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(Rng *r);
/* uniform in [0, 1) with 53 random bits */
double rng_uniform(Rng *r);
/* standard normal (Box-Muller, no cached second value so the stream stays simple) */
double rng_normal(Rng *r);
/* uniform integer in [0, n) */
uint64_t rng_below(Rng *r, uint64_t n);

#endif
