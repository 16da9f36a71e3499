/* Unit tests for base/rng: xoshiro256** seeded by splitmix64 must be
 * bit-exact (scenario replays depend on it), and rng_below must be uniform
 * and in range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/rng.h"

static void rng_seed_zero_matches_reference_sequence(void **state)
{
    (void)state;
    /* Computed with an independent implementation of splitmix64 seeding and
     * xoshiro256** (Vigna's reference algorithms). */
    static const uint64_t want[5] = {
        0x99ec5f36cb75f2b4u, 0xbf6e1f784956452au, 0x1a5f849d4933e6e0u,
        0x6aa594f1262d2d2cu, 0xbba5ad4a1f842e59u,
    };
    struct rng r;
    rng_seed(&r, 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rng_next(&r), want[i]);
}

static void rng_nonzero_seed_matches_reference_sequence(void **state)
{
    (void)state;
    static const uint64_t want[5] = {
        0xa2c2a42038d4ec3du, 0x05fc25d0738e7b0fu, 0x625e7bff938e701eu,
        0x1ba4ddc6fe2b5726u, 0xdf0a2482ac9254cfu,
    };
    struct rng r;
    rng_seed(&r, 0x0123456789abcdefu);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rng_next(&r), want[i]);
}

static void rng_same_seed_gives_same_sequence(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 12345);
    rng_seed(&b, 12345);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rng_next(&a), rng_next(&b));
}

static void rng_different_seeds_give_different_sequences(void **state)
{
    (void)state;
    struct rng a, b;
    rng_seed(&a, 1);
    rng_seed(&b, 2);
    int same = 0;
    for (int i = 0; i < 100; i++)
        same += rng_next(&a) == rng_next(&b);
    assert_int_equal(same, 0);
}

static void rng_below_one_is_always_zero(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < 100; i++)
        assert_int_equal(rng_below(&r, 1), 0);
}

static void rng_below_stays_in_range_for_awkward_bounds(void **state)
{
    (void)state;
    /* 2^63 + 1 rejects almost half of all draws; UINT64_MAX rejects one
     * value; powers of two reject none. */
    static const uint64_t bounds[] = {
        2,
        3,
        7,
        10,
        1000,
        1u << 20,
        (1ull << 32) + 1,
        (1ull << 63) + 1,
        UINT64_MAX,
        (1ull << 63),
    };
    struct rng r;
    rng_seed(&r, 99);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
        for (int i = 0; i < 2000; i++)
            assert_true(rng_below(&r, bounds[b]) < bounds[b]);
}

static void rng_below_just_above_half_range_covers_both_halves(void **state)
{
    (void)state;
    /* With bound 2^63 + 1 a plain x % bound folds the top half of the
     * draws onto the bottom half, so only ~1/4 of results would land in the
     * upper half; unbiased sampling gives ~1/2. */
    struct rng r;
    rng_seed(&r, 3);
    uint64_t bound = (1ull << 63) + 1;
    int high = 0;
    for (int i = 0; i < 4000; i++)
        high += rng_below(&r, bound) >= bound / 2;
    /* Expectation 2000, sd ~32: 10 sd either side. */
    assert_in_range(high, 1680, 2320);
}

static void rng_below_is_uniform_over_small_bound(void **state)
{
    (void)state;
    /* Chi-square over 10 buckets, 100000 draws; 9 degrees of freedom, the
     * 99.99th percentile is about 33.7. */
    struct rng r;
    rng_seed(&r, 2024);
    uint64_t counts[10] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++)
        counts[rng_below(&r, 10)]++;
    double chi = 0, expect = n / 10.0;
    for (int i = 0; i < 10; i++)
        chi += (counts[i] - expect) * (counts[i] - expect) / expect;
    assert_true(chi < 33.7);
}

static void rng_below_sees_every_value_of_small_bound(void **state)
{
    (void)state;
    struct rng r;
    rng_seed(&r, 5);
    int seen[7] = {0};
    for (int i = 0; i < 1000; i++)
        seen[rng_below(&r, 7)] = 1;
    for (int i = 0; i < 7; i++)
        assert_true(seen[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_seed_zero_matches_reference_sequence),
        cmocka_unit_test(rng_nonzero_seed_matches_reference_sequence),
        cmocka_unit_test(rng_same_seed_gives_same_sequence),
        cmocka_unit_test(rng_different_seeds_give_different_sequences),
        cmocka_unit_test(rng_below_one_is_always_zero),
        cmocka_unit_test(rng_below_stays_in_range_for_awkward_bounds),
        cmocka_unit_test(rng_below_just_above_half_range_covers_both_halves),
        cmocka_unit_test(rng_below_is_uniform_over_small_bound),
        cmocka_unit_test(rng_below_sees_every_value_of_small_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
