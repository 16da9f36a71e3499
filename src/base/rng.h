/* A small seeded pseudo-random generator (xoshiro256**, seeded through
 * splitmix64). Deterministic: the same seed gives the same sequence. Not for
 * secrets: those come from a keyed hash (siphash). */
#ifndef BERTH_BASE_RNG_H
#define BERTH_BASE_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t rng_below(struct rng *r, uint64_t bound);
/* True with probability p (53-bit resolution). Draws nothing when p <= 0 (or
 * NaN), so a setting at 0 shifts no later draw. */
bool rng_chance(struct rng *r, double p);
/* Uniform in [0, max], max inclusive (UINT64_MAX allowed). */
uint64_t rng_upto(struct rng *r, uint64_t max);

#endif
