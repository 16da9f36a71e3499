/* xoshiro256** (Blackman and Vigna, 2018) seeded through splitmix64, as
 * the authors recommend: splitmix64 spreads any 64-bit seed (even 0) over
 * the 256-bit state, which must not be all zero. */
#include "base/rng.h"

static uint64_t rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t rng_below(struct rng *r, uint64_t bound)
{
    if (bound <= 1)
        return 0;
    /* Rejection: accept x only in [threshold, 2^64), whose size
     * 2^64 - (2^64 mod bound) is a multiple of bound, so x % bound is
     * uniform. threshold = 2^64 mod bound, computed in 64 bits. At most
     * half the draws are rejected (bound just above 2^63), usually none. */
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = rng_next(r);
        if (x >= threshold)
            return x % bound;
    }
}

bool rng_chance(struct rng *r, double p)
{
    if (!(p > 0.0))
        return false;
    return (double)(rng_next(r) >> 11) * 0x1.0p-53 < p;
}

uint64_t rng_upto(struct rng *r, uint64_t max)
{
    return max == UINT64_MAX ? rng_next(r) : rng_below(r, max + 1);
}
