/* Unit tests for base/assembler: the out-of-order range set behind TCP
 * reassembly (RFC 9293 §3.10.7.4 "seventh": segments beyond RCV.NXT are held
 * for later delivery). Includes a randomized comparison with a bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/assembler.h"
#include "base/rng.h"

/* Checks the ranges, given as start,end pairs. */
static void expect_ranges(const struct assembler *a, int n, const uint32_t *se)
{
    assert_int_equal(a->n, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(a->r[i].start, se[2 * i]);
        assert_int_equal(a->r[i].end, se[2 * i + 1]);
    }
}

#define EXPECT(a, ...)                                                         \
    do {                                                                       \
        const uint32_t se_[] = {__VA_ARGS__};                                  \
        expect_ranges((a), (int)(sizeof se_ / sizeof se_[0] / 2), se_);        \
    } while (0)

static void assembler_starts_empty(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assert_true(assembler_empty(&a));
    assert_int_equal(assembler_advance(&a, 10), 0);
    assert_true(assembler_empty(&a));
}

static void assembler_add_records_one_range(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, 10, 5), 0);
    assert_false(assembler_empty(&a));
    EXPECT(&a, 10, 15);
}

static void assembler_add_keeps_ranges_sorted(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, 50, 5), 0);
    assert_int_equal(assembler_add(&a, 10, 5), 0);
    assert_int_equal(assembler_add(&a, 30, 5), 0);
    EXPECT(&a, 10, 15, 30, 35, 50, 55);
}

static void assembler_add_merges_overlapping_ranges(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 10);
    assembler_add(&a, 15, 10); /* overlaps the tail */
    EXPECT(&a, 10, 25);
    assembler_add(&a, 5, 8); /* overlaps the head */
    EXPECT(&a, 5, 25);
}

static void assembler_add_merges_adjacent_ranges(void **state)
{
    (void)state;
    /* Ranges are kept non-adjacent: touching ranges are one range. */
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 5);
    assembler_add(&a, 15, 5); /* right after */
    EXPECT(&a, 10, 20);
    assembler_add(&a, 5, 5); /* right before */
    EXPECT(&a, 5, 20);
}

static void assembler_add_bridging_several_ranges_merges_them_all(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 2);
    assembler_add(&a, 20, 2);
    assembler_add(&a, 30, 2);
    assembler_add(&a, 40, 2);
    assert_int_equal(assembler_add(&a, 12, 18), 0); /* touches 12 and 30 */
    EXPECT(&a, 10, 32, 40, 42);
    assert_int_equal(assembler_add(&a, 1, 100), 0); /* covers everything */
    EXPECT(&a, 1, 101);
}

static void assembler_add_inside_existing_range_changes_nothing(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 20);
    assert_int_equal(assembler_add(&a, 12, 3), 0);
    assert_int_equal(assembler_add(&a, 10, 20), 0);
    EXPECT(&a, 10, 30);
}

static void assembler_add_refuses_a_range_beyond_the_limit(void **state)
{
    (void)state;
    /* Memory stays bounded: the fifth separate hole-bounded range is
     * refused and nothing changes. */
    struct assembler a;
    assembler_init(&a);
    for (uint32_t i = 0; i < ASSEMBLER_MAX_RANGES; i++)
        assert_int_equal(assembler_add(&a, 10 + 10 * i, 2), 0);
    struct assembler before = a;
    assert_int_equal(assembler_add(&a, 100, 2), -1);
    assert_int_equal(assembler_add(&a, 1, 2), -1);
    assert_int_equal(assembler_add(&a, 15, 2), -1);
    assert_int_equal(a.n, before.n);
    assert_memory_equal(a.r, before.r, sizeof a.r);
}

static void assembler_add_when_full_still_accepts_merging_ranges(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    const uint32_t n = ASSEMBLER_MAX_RANGES;
    for (uint32_t i = 0; i < n; i++) /* [10,12) [20,22) ... */
        assert_int_equal(assembler_add(&a, 10 + 10 * i, 2), 0);
    assert_int_equal(assembler_add(&a, 10 * n + 15, 1), -1); /* no room */
    /* Adjacent and overlapping additions need no new range. */
    assert_int_equal(assembler_add(&a, 10 * n + 2, 3), 0); /* extends last */
    assert_int_equal(assembler_add(&a, 5, 5), 0);          /* extends first */
    assert_int_equal(assembler_add(&a, 21, 5), 0);         /* overlaps 2nd */
    assert_int_equal(a.n, n);
    assert_int_equal(a.r[0].start, 5);
    assert_int_equal(a.r[1].end, 26);
    assert_int_equal(a.r[n - 1].end, 10 * n + 5);
    /* Filling the hole between the first two frees a range. */
    assert_int_equal(assembler_add(&a, 12, 8), 0);
    assert_int_equal(a.n, n - 1);
    assert_int_equal(a.r[0].start, 5);
    assert_int_equal(a.r[0].end, 26);
    assert_int_equal(assembler_add(&a, 1000, 1), 0); /* room again */
    assert_int_equal(a.n, n);
    assert_int_equal(a.r[n - 1].start, 1000);
}

static void assembler_drop_last_forgets_the_farthest_range(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    uint32_t start, end;
    assert_false(assembler_drop_last(&a, &start, &end));
    assert_int_equal(assembler_add(&a, 10, 5), 0);
    assert_int_equal(assembler_add(&a, 30, 5), 0);
    assert_true(assembler_drop_last(&a, &start, &end));
    assert_int_equal(start, 30);
    assert_int_equal(end, 35);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.r[0].start, 10);
    /* What was forgotten is simply absent: advancing past it finds it not
     * there. */
    assert_int_equal(assembler_advance(&a, 10), 5);
    assert_true(assembler_empty(&a));
}

static void assembler_add_zero_length_is_a_no_op(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, 10, 0), 0);
    assert_true(assembler_empty(&a));
}

static void assembler_advance_short_of_first_range_only_rebases(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 5);
    assembler_add(&a, 20, 5);
    assert_int_equal(assembler_advance(&a, 4), 0);
    EXPECT(&a, 6, 11, 16, 21);
}

static void assembler_advance_to_range_start_makes_it_contiguous(void **state)
{
    (void)state;
    /* In-order data [0, 10) arrives and the held range [10, 15) follows it
     * directly: 5 more bytes are deliverable. */
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 5);
    assembler_add(&a, 20, 5);
    assert_int_equal(assembler_advance(&a, 10), 5);
    /* New in-order point is 15; [20, 25) becomes [5, 10). */
    EXPECT(&a, 5, 10);
}

static void assembler_advance_into_a_range_consumes_it_partly(void **state)
{
    (void)state;
    /* A retransmission overlapping held data: [0, 12) arrives while
     * [10, 15) is held; only [12, 15) is new. */
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 10, 5);
    assert_int_equal(assembler_advance(&a, 12), 3);
    assert_true(assembler_empty(&a));
}

static void assembler_advance_past_whole_ranges_consumes_them(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 2, 3);
    assembler_add(&a, 8, 2);
    assembler_add(&a, 30, 5);
    assert_int_equal(assembler_advance(&a, 20), 0);
    EXPECT(&a, 10, 15);
}

static void
assembler_advance_consumes_several_and_extends_past_last(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 2, 3);  /* [2, 5): wholly consumed */
    assembler_add(&a, 8, 10); /* [8, 18): reached, extends to 18 */
    assembler_add(&a, 25, 5); /* [25, 30): stays */
    assert_int_equal(assembler_advance(&a, 10), 8);
    EXPECT(&a, 7, 12);
}

static void assembler_advance_ending_exactly_at_range_end(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assembler_add(&a, 5, 5);
    assembler_add(&a, 20, 1);
    assert_int_equal(assembler_advance(&a, 10), 0);
    EXPECT(&a, 10, 11);
}

static void assembler_add_near_uint32_max_does_not_wrap(void **state)
{
    (void)state;
    struct assembler a;
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, UINT32_MAX - 4, 100), 0);
    EXPECT(&a, UINT32_MAX - 4, UINT32_MAX);
}

/* Randomized model test: the reference is a bitmap of received bytes
 * beyond the in-order point. A range is accepted when the resulting set has
 * at most ASSEMBLER_MAX_RANGES maximal runs; advance moves the in-order
 * point over n bytes and then over every received byte that follows. */
enum { WIN = 160 };

static int count_runs(const bool *bits)
{
    int runs = 0;
    for (int i = 0; i < WIN; i++)
        if (bits[i] && (i == 0 || !bits[i - 1]))
            runs++;
    return runs;
}

static void expect_matches_bitmap(const struct assembler *a, const bool *bits)
{
    int k = 0;
    for (int i = 0; i < WIN; i++) {
        if (!bits[i] || (i > 0 && bits[i - 1]))
            continue;
        int j = i;
        while (j < WIN && bits[j])
            j++;
        assert_true(k < a->n);
        assert_int_equal(a->r[k].start, i);
        assert_int_equal(a->r[k].end, j);
        k++;
    }
    assert_int_equal(k, a->n);
    assert_int_equal(assembler_empty(a), k == 0);
}

static void assembler_random_operations_match_bitmap_model(void **state)
{
    (void)state;
    int refused = 0, accepted = 0, contiguous = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        struct rng g;
        struct assembler a;
        bool bits[WIN] = {false}, trial[WIN];
        rng_seed(&g, seed);
        assembler_init(&a);
        for (int step = 0; step < 500; step++) {
            if (rng_below(&g, 4) != 0) {
                uint32_t off = 1 + (uint32_t)rng_below(&g, WIN / 2);
                uint32_t len = 1 + (uint32_t)rng_below(&g, 6);
                memcpy(trial, bits, sizeof bits);
                for (uint32_t i = off; i < off + len; i++)
                    trial[i] = true;
                bool fits = count_runs(trial) <= ASSEMBLER_MAX_RANGES;
                assert_int_equal(assembler_add(&a, off, len), fits ? 0 : -1);
                if (fits)
                    memcpy(bits, trial, sizeof bits);
                accepted += fits;
                refused += !fits;
            } else {
                uint32_t n = 1 + (uint32_t)rng_below(&g, WIN / 2);
                uint32_t point = n;
                while (point < WIN && bits[point])
                    point++;
                assert_int_equal(assembler_advance(&a, n), point - n);
                contiguous += point > n;
                bool shifted[WIN] = {false};
                for (uint32_t i = point; i < WIN; i++)
                    shifted[i - point] = bits[i];
                memcpy(bits, shifted, sizeof bits);
            }
            expect_matches_bitmap(&a, bits);
        }
    }
    /* The walk exercised every outcome, not just the easy one. */
    assert_true(refused > 100);
    assert_true(accepted > 1000);
    assert_true(contiguous > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(assembler_starts_empty),
        cmocka_unit_test(assembler_add_records_one_range),
        cmocka_unit_test(assembler_add_keeps_ranges_sorted),
        cmocka_unit_test(assembler_add_merges_overlapping_ranges),
        cmocka_unit_test(assembler_add_merges_adjacent_ranges),
        cmocka_unit_test(assembler_add_bridging_several_ranges_merges_them_all),
        cmocka_unit_test(assembler_add_inside_existing_range_changes_nothing),
        cmocka_unit_test(assembler_add_refuses_a_range_beyond_the_limit),
        cmocka_unit_test(assembler_add_when_full_still_accepts_merging_ranges),
        cmocka_unit_test(assembler_drop_last_forgets_the_farthest_range),
        cmocka_unit_test(assembler_add_zero_length_is_a_no_op),
        cmocka_unit_test(assembler_advance_short_of_first_range_only_rebases),
        cmocka_unit_test(assembler_advance_to_range_start_makes_it_contiguous),
        cmocka_unit_test(assembler_advance_into_a_range_consumes_it_partly),
        cmocka_unit_test(assembler_advance_past_whole_ranges_consumes_them),
        cmocka_unit_test(
            assembler_advance_consumes_several_and_extends_past_last),
        cmocka_unit_test(assembler_advance_ending_exactly_at_range_end),
        cmocka_unit_test(assembler_add_near_uint32_max_does_not_wrap),
        cmocka_unit_test(assembler_random_operations_match_bitmap_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
