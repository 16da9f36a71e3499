/* Unit tests for base/seq.h: sequence-number comparisons modulo 2^32
 * (RFC 9293 §3.4), which must stay correct across the wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/seq.h"

static void seq_compares_plainly_away_from_the_wrap(void **state)
{
    (void)state;
    assert_true(seq_lt(100, 200));
    assert_false(seq_lt(200, 100));
    assert_false(seq_lt(100, 100));
    assert_true(seq_leq(100, 100));
    assert_true(seq_gt(200, 100));
    assert_true(seq_geq(200, 200));
    assert_false(seq_geq(100, 200));
}

static void seq_just_before_wrap_is_less_than_just_after(void **state)
{
    (void)state;
    /* RFC 9293 §3.4: 0xFFFFFFF0 precedes 0x10, 32 numbers later. */
    assert_true(seq_lt(0xFFFFFFF0u, 0x10u));
    assert_true(seq_leq(0xFFFFFFF0u, 0x10u));
    assert_false(seq_gt(0xFFFFFFF0u, 0x10u));
    assert_false(seq_geq(0xFFFFFFF0u, 0x10u));
    assert_true(seq_gt(0x10u, 0xFFFFFFF0u));
    assert_true(seq_geq(0x10u, 0xFFFFFFF0u));
    assert_true(seq_lt(UINT32_MAX, 0));
    assert_true(seq_gt(0, UINT32_MAX));
}

static void seq_diff_is_signed_distance_across_wrap(void **state)
{
    (void)state;
    assert_int_equal(seq_diff(0x10u, 0xFFFFFFF0u), 32);
    assert_int_equal(seq_diff(0xFFFFFFF0u, 0x10u), -32);
    assert_int_equal(seq_diff(5, 5), 0);
    assert_int_equal(seq_diff(0, UINT32_MAX), 1);
}

static void seq_half_space_apart_is_the_limit(void **state)
{
    (void)state;
    /* Numbers less than 2^31 apart compare by distance; this is the largest
     * such distance, in both directions and across the wrap. */
    uint32_t a = 0xC0000000u, b = a + 0x7FFFFFFFu; /* b wraps to 0x3FFFFFFF */
    assert_true(seq_lt(a, b));
    assert_true(seq_gt(b, a));
    assert_int_equal(seq_diff(b, a), INT32_MAX);
}

static void seq_in_window_spanning_the_wrap(void **state)
{
    (void)state;
    /* Window [0xFFFFFF00, 0x100): lo <= x < hi. */
    uint32_t lo = 0xFFFFFF00u, hi = 0x100u;
    assert_true(seq_in(lo, lo, hi));
    assert_true(seq_in(0xFFFFFFFFu, lo, hi));
    assert_true(seq_in(0, lo, hi));
    assert_true(seq_in(0xFFu, lo, hi));
    assert_false(seq_in(hi, lo, hi));
    assert_false(seq_in(lo - 1, lo, hi));
    assert_false(seq_in(0x1000u, lo, hi));
}

static void seq_in_empty_window_contains_nothing(void **state)
{
    (void)state;
    assert_false(seq_in(5, 5, 5));
    assert_false(seq_in(0, UINT32_MAX, UINT32_MAX));
}

static void seq_max_and_min_pick_by_sequence_order(void **state)
{
    (void)state;
    assert_int_equal(seq_max(0xFFFFFFF0u, 0x10u), 0x10u);
    assert_int_equal(seq_min(0xFFFFFFF0u, 0x10u), 0xFFFFFFF0u);
    assert_int_equal(seq_max(7, 3), 7);
    assert_int_equal(seq_min(7, 3), 3);
    assert_int_equal(seq_max(9, 9), 9);
}

static void seq_order_is_invariant_under_common_offset(void **state)
{
    (void)state;
    /* Shifting both numbers by the same amount, wrapping or not, must not
     * change any comparison. */
    static const uint32_t shifts[] = {
        0, 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFF0u, 0xFFFFFFFFu, 12345};
    static const int32_t deltas[] = {-100000, -1, 0, 1, 100000, INT32_MAX};
    for (size_t s = 0; s < sizeof shifts / sizeof shifts[0]; s++) {
        for (size_t d = 0; d < sizeof deltas / sizeof deltas[0]; d++) {
            uint32_t a = shifts[s], b = a + (uint32_t)deltas[d];
            assert_int_equal(seq_diff(b, a), deltas[d]);
            assert_int_equal(seq_lt(a, b), deltas[d] > 0);
            assert_int_equal(seq_leq(a, b), deltas[d] >= 0);
            assert_int_equal(seq_gt(a, b), deltas[d] < 0);
            assert_int_equal(seq_geq(a, b), deltas[d] <= 0);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seq_compares_plainly_away_from_the_wrap),
        cmocka_unit_test(seq_just_before_wrap_is_less_than_just_after),
        cmocka_unit_test(seq_diff_is_signed_distance_across_wrap),
        cmocka_unit_test(seq_half_space_apart_is_the_limit),
        cmocka_unit_test(seq_in_window_spanning_the_wrap),
        cmocka_unit_test(seq_in_empty_window_contains_nothing),
        cmocka_unit_test(seq_max_and_min_pick_by_sequence_order),
        cmocka_unit_test(seq_order_is_invariant_under_common_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
