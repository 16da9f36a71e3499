/* Unit tests for base/assembler: the out-of-order range set behind TCP
 * reassembly (RFC 9293 §3.10.7.4 "seventh": segments beyond RCV.NXT are held
 * for later delivery). A few ranges live inline; more go to an array that
 * grows up to the caller's limit and is accounted through struct mem.
 * The SACK scoreboard uses the same set with fewer ranges inline.
 * Includes a randomized comparison with a bitmap, for several limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/assembler.h"
#include "base/mem.h"
#include "base/rng.h"

#define RSIZE sizeof(struct assembler_range)

/* Checks the ranges, given as start,end pairs. */
static void expect_ranges(const struct assembler_range *r, int have, int n,
                          const uint32_t *se)
{
    assert_int_equal(have, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(r[i].start, se[2 * i]);
        assert_int_equal(r[i].end, se[2 * i + 1]);
    }
}

#define EXPECT(a, ...)                                                         \
    do {                                                                       \
        const uint32_t se_[] = {__VA_ARGS__};                                  \
        expect_ranges(assembler_ranges_const(a), (a)->n,                       \
                      (int)(sizeof se_ / sizeof se_[0] / 2), se_);             \
    } while (0)

/* The accounting matches the representation: an array of a->cap ranges is
 * the one block held while ext is set; inline, nothing is held. */
static void expect_accounted(const struct assembler *a, const struct mem *m)
{
    if (a->ext) {
        assert_true(a->cap >= ASSEMBLER_INLINE);
        assert_true(a->n <= a->cap);
        assert_int_equal(m->bytes, (size_t)a->cap * RSIZE);
        assert_int_equal(m->allocs, 1);
    } else {
        assert_int_equal(a->cap, 0);
        assert_true(a->n <= ASSEMBLER_INLINE);
        assert_int_equal(m->bytes, 0);
        assert_int_equal(m->allocs, 0);
    }
}

/* Adds `count` separate ranges [10, 12), [20, 22), ..., all accepted. */
static void add_spaced(struct assembler *a, struct mem *m, uint32_t limit,
                       uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(assembler_add(a, m, limit, 10 + 10 * i, 2), 0);
}

/* Everything a refused add must leave as it was. */
enum { SNAP_MAX = 1024 };
struct snapshot {
    const struct assembler_range *ext;
    uint16_t n, cap;
    struct mem m;
    struct assembler_range r[SNAP_MAX];
};

static void snap(struct snapshot *s, const struct assembler *a,
                 const struct mem *m)
{
    assert_true(a->n <= SNAP_MAX);
    s->ext = a->ext;
    s->n = a->n;
    s->cap = a->cap;
    s->m = m ? *m : (struct mem){0};
    memcpy(s->r, assembler_ranges_const(a), a->n * RSIZE);
}

static void expect_unchanged(const struct snapshot *s,
                             const struct assembler *a, const struct mem *m)
{
    assert_ptr_equal(a->ext, s->ext);
    assert_int_equal(a->n, s->n);
    assert_int_equal(a->cap, s->cap);
    if (m) {
        assert_int_equal(m->bytes, s->m.bytes);
        assert_int_equal(m->allocs, s->m.allocs);
    }
    assert_memory_equal(assembler_ranges_const(a), s->r, s->n * RSIZE);
}

static void assembler_starts_empty(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_true(assembler_empty(&a));
    assert_null(a.ext);
    assert_int_equal(assembler_advance(&a, &m, 10), 0);
    assert_true(assembler_empty(&a));
    expect_accounted(&a, &m);
}

static void assembler_add_records_one_range(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5), 0);
    assert_false(assembler_empty(&a));
    EXPECT(&a, 10, 15);
    expect_accounted(&a, &m);
}

static void assembler_add_keeps_ranges_sorted(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 50, 5), 0);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5), 0);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 30, 5), 0);
    EXPECT(&a, 10, 15, 30, 35, 50, 55);
}

static void assembler_add_merges_overlapping_ranges(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 10);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 15, 10); /* overlaps the tail */
    EXPECT(&a, 10, 25);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 5, 8); /* overlaps the head */
    EXPECT(&a, 5, 25);
}

static void assembler_add_merges_adjacent_ranges(void **state)
{
    (void)state;
    /* Ranges are kept non-adjacent: touching ranges are one range. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 15, 5); /* right after */
    EXPECT(&a, 10, 20);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 5, 5); /* right before */
    EXPECT(&a, 5, 20);
}

static void assembler_add_bridging_several_ranges_merges_them_all(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 2);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 20, 2);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 30, 2);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 40, 2);
    /* touches 12 and 30 */
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 12, 18), 0);
    EXPECT(&a, 10, 32, 40, 42);
    /* covers everything */
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 1, 100), 0);
    EXPECT(&a, 1, 101);
}

static void assembler_add_inside_existing_range_changes_nothing(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 20);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 12, 3), 0);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 20), 0);
    EXPECT(&a, 10, 30);
}

static void assembler_add_refuses_a_range_beyond_the_limit(void **state)
{
    (void)state;
    /* Memory stays bounded: with limit ASSEMBLER_INLINE, the separate
     * range after the inline ones is refused (before, after and between
     * them) and nothing changes, nothing is allocated. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, ASSEMBLER_INLINE, ASSEMBLER_INLINE);
    struct snapshot before;
    snap(&before, &a, &m);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 100, 2), -1);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 1, 2), -1);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 15, 2), -1);
    expect_unchanged(&before, &a, &m);
    assert_null(a.ext);
    expect_accounted(&a, &m);
}

static void assembler_add_when_full_still_accepts_merging_ranges(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    const uint32_t n = ASSEMBLER_INLINE, lim = ASSEMBLER_INLINE;
    add_spaced(&a, &m, lim, n); /* [10,12) [20,22) ... */
    assert_int_equal(assembler_add(&a, &m, lim, 10 * n + 15, 1), -1);
    /* Adjacent and overlapping additions need no new range. */
    assert_int_equal(assembler_add(&a, &m, lim, 10 * n + 2, 3), 0); /* last */
    assert_int_equal(assembler_add(&a, &m, lim, 5, 5), 0);  /* extends first */
    assert_int_equal(assembler_add(&a, &m, lim, 21, 5), 0); /* overlaps 2nd */
    const struct assembler_range *r = assembler_ranges_const(&a);
    assert_int_equal(a.n, n);
    assert_int_equal(r[0].start, 5);
    assert_int_equal(r[1].end, 26);
    assert_int_equal(r[n - 1].end, 10 * n + 5);
    /* Filling the hole between the first two frees a range. */
    assert_int_equal(assembler_add(&a, &m, lim, 12, 8), 0);
    r = assembler_ranges_const(&a);
    assert_int_equal(a.n, n - 1);
    assert_int_equal(r[0].start, 5);
    assert_int_equal(r[0].end, 26);
    assert_int_equal(assembler_add(&a, &m, lim, 1000, 1), 0); /* room again */
    r = assembler_ranges_const(&a);
    assert_int_equal(a.n, n);
    assert_int_equal(r[n - 1].start, 1000);
    expect_accounted(&a, &m);
}

static void assembler_drop_last_forgets_the_farthest_range(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    uint32_t start, end;
    assert_false(assembler_drop_last(&a, &start, &end));
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5), 0);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 30, 5), 0);
    assert_true(assembler_drop_last(&a, &start, &end));
    assert_int_equal(start, 30);
    assert_int_equal(end, 35);
    EXPECT(&a, 10, 15);
    /* What was forgotten is simply absent: advancing past it finds it not
     * there. */
    assert_int_equal(assembler_advance(&a, &m, 10), 5);
    assert_true(assembler_empty(&a));
}

static void assembler_add_zero_length_is_a_no_op(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 0), 0);
    assert_true(assembler_empty(&a));
    /* Even when full: it needs no room. */
    add_spaced(&a, &m, ASSEMBLER_INLINE, ASSEMBLER_INLINE);
    assert_int_equal(assembler_add(&a, &m, ASSEMBLER_INLINE, 500, 0), 0);
    assert_int_equal(a.n, ASSEMBLER_INLINE);
}

static void assembler_advance_short_of_first_range_only_rebases(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 20, 5);
    assert_int_equal(assembler_advance(&a, &m, 4), 0);
    EXPECT(&a, 6, 11, 16, 21);
}

static void assembler_advance_to_range_start_makes_it_contiguous(void **state)
{
    (void)state;
    /* In-order data [0, 10) arrives and the held range [10, 15) follows it
     * directly: 5 more bytes are deliverable. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 20, 5);
    assert_int_equal(assembler_advance(&a, &m, 10), 5);
    /* New in-order point is 15; [20, 25) becomes [5, 10). */
    EXPECT(&a, 5, 10);
}

static void assembler_advance_into_a_range_consumes_it_partly(void **state)
{
    (void)state;
    /* A retransmission overlapping held data: [0, 12) arrives while
     * [10, 15) is held; only [12, 15) is new. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 10, 5);
    assert_int_equal(assembler_advance(&a, &m, 12), 3);
    assert_true(assembler_empty(&a));
}

static void assembler_advance_past_whole_ranges_consumes_them(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 2, 3);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 8, 2);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 30, 5);
    assert_int_equal(assembler_advance(&a, &m, 20), 0);
    EXPECT(&a, 10, 15);
}

static void
assembler_advance_consumes_several_and_extends_past_last(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 2, 3);  /* [2, 5): consumed */
    assembler_add(&a, &m, ASSEMBLER_INLINE, 8, 10); /* [8, 18): to 18 */
    assembler_add(&a, &m, ASSEMBLER_INLINE, 25, 5); /* [25, 30): stays */
    assert_int_equal(assembler_advance(&a, &m, 10), 8);
    EXPECT(&a, 7, 12);
}

static void assembler_advance_ending_exactly_at_range_end(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 5, 5);
    assembler_add(&a, &m, ASSEMBLER_INLINE, 20, 1);
    assert_int_equal(assembler_advance(&a, &m, 10), 0);
    EXPECT(&a, 10, 11);
}

static void assembler_add_near_uint32_max_does_not_wrap(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(
        assembler_add(&a, &m, ASSEMBLER_INLINE, UINT32_MAX - 4, 100), 0);
    EXPECT(&a, UINT32_MAX - 4, UINT32_MAX);
}

/* --- Growth beyond the inline ranges --- */

static void assembler_grows_into_an_array_at_the_seventh_range(void **state)
{
    (void)state;
    /* Six separate ranges fit inline and allocate nothing; the seventh
     * moves the set to an array of twice the inline size. It arrives first
     * in order, so every copied range also shifts one place. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    for (uint32_t i = 0; i < ASSEMBLER_INLINE; i++)
        assert_int_equal(assembler_add(&a, &m, 100, 20 + 10 * i, 2), 0);
    assert_null(a.ext);
    assert_int_equal(a.cap, 0);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);

    assert_int_equal(assembler_add(&a, &m, 100, 5, 3), 0);
    assert_non_null(a.ext);
    assert_ptr_equal(assembler_ranges(&a), a.ext);
    assert_int_equal(a.cap, 2 * ASSEMBLER_INLINE);
    assert_int_equal(m.bytes, 2 * ASSEMBLER_INLINE * RSIZE);
    assert_int_equal(m.allocs, 1);
    EXPECT(&a, 5, 8, 20, 22, 30, 32, 40, 42, 50, 52, 60, 62, 70, 72);

    /* Merging within the array allocates nothing further. */
    assert_int_equal(assembler_add(&a, &m, 100, 8, 12), 0); /* 5..22 */
    EXPECT(&a, 5, 22, 30, 32, 40, 42, 50, 52, 60, 62, 70, 72);
    expect_accounted(&a, &m);
    assembler_clear(&a, &m);
    expect_accounted(&a, &m);
}

static void assembler_growth_is_capped_at_the_limit(void **state)
{
    (void)state;
    /* With limit 20 the capacity goes 6 (inline) -> 12 -> 20, not 24: the
     * array never holds more than the caller allowed. Each regrowth gives
     * the old array back. The 21st separate range is refused whole. */
    const uint32_t lim = 20;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    for (uint32_t i = 0; i < lim; i++) {
        assert_int_equal(assembler_add(&a, &m, lim, 10 + 10 * i, 2), 0);
        uint32_t n = i + 1;
        uint16_t want = n <= ASSEMBLER_INLINE ? 0 : n <= 12 ? 12 : 20;
        assert_int_equal(a.n, n);
        assert_int_equal(a.cap, want);
        expect_accounted(&a, &m);
    }
    const struct assembler_range *r = assembler_ranges_const(&a);
    for (uint32_t i = 0; i < lim; i++) {
        assert_int_equal(r[i].start, 10 + 10 * i);
        assert_int_equal(r[i].end, 12 + 10 * i);
    }

    struct snapshot before;
    snap(&before, &a, &m);
    assert_int_equal(assembler_add(&a, &m, lim, 10 * lim + 10, 2), -1);
    assert_int_equal(assembler_add(&a, &m, lim, 1, 2), -1);
    assert_int_equal(assembler_add(&a, &m, lim, 95, 2), -1);
    expect_unchanged(&before, &a, &m);

    /* A larger limit on a later call lets it grow again, by doubling. */
    assert_int_equal(assembler_add(&a, &m, 1000, 10 * lim + 10, 2), 0);
    assert_int_equal(a.n, lim + 1);
    assert_int_equal(a.cap, 40);
    expect_accounted(&a, &m);
    assembler_clear(&a, &m);
    expect_accounted(&a, &m);
}

static void assembler_merge_when_array_is_full_needs_no_room(void **state)
{
    (void)state;
    /* At the limit, in the array: a range joining existing ones replaces
     * them and so always fits (here: extends one, bridges two, covers
     * three); having bridged, a separate range fits again. */
    const uint32_t lim = 20;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, lim, lim); /* [10,12) ... [200,202) */
    assert_int_equal(a.cap, lim);
    const struct assembler_range *ext = a.ext;
    assert_int_equal(assembler_add(&a, &m, lim, 300, 1), -1);

    assert_int_equal(assembler_add(&a, &m, lim, 202, 3), 0); /* extends last */
    assert_int_equal(a.n, lim);
    assert_int_equal(assembler_add(&a, &m, lim, 12, 8), 0); /* bridges 1,2 */
    assert_int_equal(a.n, lim - 1);
    assert_int_equal(assembler_add(&a, &m, lim, 31, 24), 0); /* 30..55 */
    assert_int_equal(a.n, lim - 3);
    assert_ptr_equal(a.ext, ext); /* never reallocated */
    expect_accounted(&a, &m);
    const struct assembler_range *r = assembler_ranges_const(&a);
    assert_int_equal(r[0].start, 10);
    assert_int_equal(r[0].end, 22);
    assert_int_equal(r[1].start, 30);
    assert_int_equal(r[1].end, 55);
    assert_int_equal(r[2].start, 60);
    assert_int_equal(r[a.n - 1].start, 200);
    assert_int_equal(r[a.n - 1].end, 205);

    for (uint32_t i = 0; i < 3; i++) /* room again for three */
        assert_int_equal(assembler_add(&a, &m, lim, 300 + 10 * i, 1), 0);
    assert_int_equal(a.n, lim);
    assert_int_equal(assembler_add(&a, &m, lim, 400, 1), -1);
    assembler_clear(&a, &m);
    expect_accounted(&a, &m);
}

static void assembler_advance_leaving_few_ranges_moves_back_inline(void **state)
{
    (void)state;
    /* Eight ranges in the array; in-order data reaching the second one
     * consumes two, leaving six: they move back inline, rebased to the new
     * in-order point (20 + the 2 contiguous bytes), and the array is given
     * back. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 100, 8); /* [10,12) ... [80,82) */
    assert_non_null(a.ext);
    assert_int_equal(assembler_advance(&a, &m, 20), 2);
    assert_null(a.ext);
    assert_int_equal(a.cap, 0);
    assert_ptr_equal(assembler_ranges(&a), a.in);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
    EXPECT(&a, 8, 10, 18, 20, 28, 30, 38, 40, 48, 50, 58, 60);

    /* Growing again from inline works as the first time. */
    assert_int_equal(assembler_add(&a, &m, 100, 100, 1), 0);
    assert_non_null(a.ext);
    assert_int_equal(a.cap, 12);
    EXPECT(&a, 8, 10, 18, 20, 28, 30, 38, 40, 48, 50, 58, 60, 100, 101);
    expect_accounted(&a, &m);

    /* Consuming everything moves back inline too. */
    assert_int_equal(assembler_advance(&a, &m, 200), 0);
    assert_true(assembler_empty(&a));
    assert_null(a.ext);
    expect_accounted(&a, &m);
}

static void assembler_advance_leaving_seven_keeps_the_array(void **state)
{
    (void)state;
    /* Nine ranges; advancing short of the first only rebases, in place;
     * consuming two leaves seven, which still need the array. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 100, 9); /* [10,12) ... [90,92) */
    const struct assembler_range *ext = a.ext;
    assert_non_null(ext);

    assert_int_equal(assembler_advance(&a, &m, 5), 0);
    assert_ptr_equal(a.ext, ext);
    EXPECT(&a, 5, 7, 15, 17, 25, 27, 35, 37, 45, 47, 55, 57, 65, 67, 75, 77, 85,
           87);

    assert_int_equal(assembler_advance(&a, &m, 16), 1); /* to 17 */
    assert_ptr_equal(a.ext, ext);
    assert_int_equal(a.cap, 12);
    EXPECT(&a, 8, 10, 18, 20, 28, 30, 38, 40, 48, 50, 58, 60, 68, 70);
    expect_accounted(&a, &m);

    /* One more consumed: six left, back inline. */
    assert_int_equal(assembler_advance(&a, &m, 8), 2);
    assert_null(a.ext);
    EXPECT(&a, 8, 10, 18, 20, 28, 30, 38, 40, 48, 50, 58, 60);
    expect_accounted(&a, &m);
}

static void assembler_drop_last_works_on_the_array(void **state)
{
    (void)state;
    /* The receiver drops the farthest ranges to make room nearer the
     * in-order point; in the array that must read (and forget) the
     * array's last range, not an inline slot. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 100, 8); /* [10,12) ... [80,82) */
    uint32_t start, end;
    assert_true(assembler_drop_last(&a, &start, &end));
    assert_int_equal(start, 80);
    assert_int_equal(end, 82);
    EXPECT(&a, 10, 12, 20, 22, 30, 32, 40, 42, 50, 52, 60, 62, 70, 72);
    assert_true(assembler_drop_last(&a, &start, &end));
    assert_int_equal(start, 70);
    assert_int_equal(end, 72);
    EXPECT(&a, 10, 12, 20, 22, 30, 32, 40, 42, 50, 52, 60, 62);
    expect_accounted(&a, &m);

    /* The dropped room is reused; the ranges stay right either way. */
    assert_int_equal(assembler_add(&a, &m, 100, 25, 1), 0);
    assert_int_equal(assembler_add(&a, &m, 100, 35, 1), 0);
    EXPECT(&a, 10, 12, 20, 22, 25, 26, 30, 32, 35, 36, 40, 42, 50, 52, 60, 62);
    expect_accounted(&a, &m);
    while (assembler_drop_last(&a, &start, &end))
        expect_accounted(&a, &m);
    assert_int_equal(start, 10);
    assert_int_equal(end, 12);
    assert_true(assembler_empty(&a));
    assembler_clear(&a, &m);
    expect_accounted(&a, &m);
}

static void assembler_clear_frees_the_array(void **state)
{
    (void)state;
    /* A connection torn down with a full array gives every byte back, and
     * the cleared set is usable again, inline. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 1000, 30); /* cap 6 -> 12 -> 24 -> 48 */
    assert_int_equal(a.cap, 48);
    assert_int_equal(m.bytes, 48 * RSIZE);
    assert_int_equal(m.allocs, 1);
    assembler_clear(&a, &m);
    assert_true(assembler_empty(&a));
    assert_null(a.ext);
    assert_int_equal(a.cap, 0);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);

    assert_int_equal(assembler_add(&a, &m, 1000, 10, 5), 0);
    EXPECT(&a, 10, 15);
    expect_accounted(&a, &m);
    assembler_clear(&a, &m); /* inline: nothing to give back */
    assert_true(assembler_empty(&a));
    assembler_clear(&a, &m); /* twice is harmless */
    expect_accounted(&a, &m);
}

static void assembler_null_mem_stays_inline(void **state)
{
    (void)state;
    /* Without a struct mem there is no array: limit <= ASSEMBLER_INLINE
     * works as usual, and a larger limit cannot be honoured, so the
     * seventh separate range is refused rather than dereferencing NULL. */
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, NULL, ASSEMBLER_INLINE, ASSEMBLER_INLINE);
    assert_int_equal(assembler_add(&a, NULL, ASSEMBLER_INLINE, 100, 2), -1);
    assert_int_equal(assembler_advance(&a, NULL, 10), 2);
    EXPECT(&a, 8, 10, 18, 20, 28, 30, 38, 40, 48, 50);
    uint32_t start, end;
    assert_true(assembler_drop_last(&a, &start, &end));
    assembler_clear(&a, NULL);
    assert_true(assembler_empty(&a));

    add_spaced(&a, NULL, 100, ASSEMBLER_INLINE);
    struct snapshot before;
    snap(&before, &a, NULL);
    assert_int_equal(assembler_add(&a, NULL, 100, 100, 2), -1);
    assert_int_equal(assembler_add(&a, NULL, 100, 1, 2), -1);
    expect_unchanged(&before, &a, NULL);
    assert_null(a.ext);
    /* Merging still needs no room. */
    assert_int_equal(assembler_add(&a, NULL, 100, 12, 8), 0);
    EXPECT(&a, 10, 22, 30, 32, 40, 42, 50, 52, 60, 62);
    assembler_clear(&a, NULL);
    assert_true(assembler_empty(&a));
}

static void assembler_limit_below_inline_still_allows_inline(void **state)
{
    (void)state;
    /* The inline ranges cost nothing, so a limit below ASSEMBLER_INLINE
     * still allows that many (as documented); the next is refused. */
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 1, ASSEMBLER_INLINE);
    assert_int_equal(assembler_add(&a, &m, 1, 100, 2), -1);
    assert_int_equal(a.n, ASSEMBLER_INLINE);
    expect_accounted(&a, &m);
    assert_null(a.ext);
}

/* Randomized model test: the reference is a bitmap of received bytes
 * beyond the in-order point. A range is accepted when the resulting set has
 * at most max(limit, ASSEMBLER_INLINE) maximal runs, and adds the bytes not
 * set before; advance moves the in-order point over n bytes and then over
 * every received byte that follows; drop_below moves it over n bytes only
 * (the SACK scoreboard's cumulative ACK). Run for several limits, so the walk
 * crosses the inline boundary both ways, grows the array, and (for the small
 * limits) hits the cap. */
enum { WIN = 400 };

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
    const struct assembler_range *r = assembler_ranges_const(a);
    int k = 0;
    for (int i = 0; i < WIN; i++) {
        if (!bits[i] || (i > 0 && bits[i - 1]))
            continue;
        int j = i;
        while (j < WIN && bits[j])
            j++;
        assert_true(k < a->n);
        assert_int_equal(r[k].start, i);
        assert_int_equal(r[k].end, j);
        k++;
    }
    assert_int_equal(k, a->n);
    assert_int_equal(assembler_empty(a), k == 0);
}

struct walk_stats {
    int refused, accepted, contiguous, clipped;
    int grown, back_inline; /* ext NULL -> set, set -> NULL */
    int max_n, max_cap;
};

static void random_walk(uint32_t limit, uint64_t seed, struct walk_stats *st)
{
    static struct snapshot before;
    struct rng g;
    struct mem m = {0};
    struct assembler a = {0};
    bool bits[WIN] = {false}, trial[WIN];
    const int allowed =
        limit > ASSEMBLER_INLINE ? (int)limit : ASSEMBLER_INLINE;
    rng_seed(&g, seed);
    assembler_init(&a);
    /* Each seed picks its own span, segment size and advance rate, so both
     * dense sets and sparse ones (many small runs, enough to exceed 64) are
     * reached. */
    const uint32_t span = 40 + (uint32_t)rng_below(&g, WIN - 50);
    const uint32_t maxlen = 1 + (uint32_t)rng_below(&g, 4);
    const uint32_t advance_one_in = 4 + (uint32_t)rng_below(&g, 20);
    for (int step = 0; step < 600; step++) {
        bool was_ext = a.ext != NULL;
        if (rng_below(&g, advance_one_in) != 0) {
            uint32_t off = 1 + (uint32_t)rng_below(&g, span);
            uint32_t len = 1 + (uint32_t)rng_below(&g, maxlen);
            memcpy(trial, bits, sizeof bits);
            for (uint32_t i = off; i < off + len; i++)
                trial[i] = true;
            bool fits = count_runs(trial) <= allowed;
            uint32_t fresh = 0, added = 7;
            for (uint32_t i = off; i < off + len; i++)
                fresh += !bits[i];
            snap(&before, &a, &m);
            assert_int_equal(
                assembler_add_count(&a, &m, limit, off, len, &added),
                fits ? 0 : -1);
            assert_int_equal(added, fits ? fresh : 0);
            if (fits)
                memcpy(bits, trial, sizeof bits);
            else
                expect_unchanged(&before, &a, &m);
            st->accepted += fits;
            st->refused += !fits;
        } else if (rng_below(&g, 3) == 0) {
            /* Acknowledged, not received: only what lies below n goes. */
            uint32_t n = 1 + (uint32_t)rng_below(&g, span / 8);
            assembler_drop_below(&a, &m, n);
            st->clipped += n < WIN && bits[n - 1] && bits[n];
            bool shifted[WIN] = {false};
            for (uint32_t i = n; i < WIN; i++)
                shifted[i - n] = bits[i];
            memcpy(bits, shifted, sizeof bits);
        } else {
            uint32_t n = 1 + (uint32_t)rng_below(&g, span / 8);
            uint32_t point = n;
            while (point < WIN && bits[point])
                point++;
            assert_int_equal(assembler_advance(&a, &m, n), point - n);
            st->contiguous += point > n;
            bool shifted[WIN] = {false};
            for (uint32_t i = point; i < WIN; i++)
                shifted[i - point] = bits[i];
            memcpy(bits, shifted, sizeof bits);
        }
        expect_matches_bitmap(&a, bits);
        expect_accounted(&a, &m);
        assert_true(a.cap <= (limit > ASSEMBLER_INLINE ? limit : 0));
        st->grown += !was_ext && a.ext;
        st->back_inline += was_ext && !a.ext;
        if (a.n > st->max_n)
            st->max_n = a.n;
        if (a.cap > st->max_cap)
            st->max_cap = a.cap;
    }
    assembler_clear(&a, &m);
    assert_true(assembler_empty(&a));
    assert_null(a.ext);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void assembler_random_operations_match_bitmap_model(void **state)
{
    (void)state;
    static const uint32_t limits[] = {ASSEMBLER_INLINE, 7, 13, 64, 1000};
    for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
        const uint32_t limit = limits[li];
        struct walk_stats st = {0};
        for (uint64_t seed = 1; seed <= 200; seed++)
            random_walk(limit, seed, &st);
        /* The walk exercised every outcome, not just the easy one. */
        assert_true(st.accepted > 1000);
        assert_true(st.contiguous > 100);
        assert_true(st.clipped > 50); /* drop_below cut a range in two */
        if (limit <= 64) {            /* the limit was reached and enforced */
            assert_true(st.refused > 100);
            assert_int_equal(st.max_n, limit);
        } else { /* and beyond 64, where nothing was refused */
            assert_int_equal(st.refused, 0);
            assert_true(st.max_n > 64);
        }
        if (limit > ASSEMBLER_INLINE) { /* crossed inline <-> array */
            assert_true(st.grown > 100);
            assert_true(st.back_inline > 100);
        }
        if (limit > ASSEMBLER_INLINE && limit <= 64)
            assert_int_equal(st.max_cap, limit); /* capped, not doubled */
    }
}

/* A smaller limit than the one the array grew under still holds: room left
 * in the array does not let the set exceed the limit now given. */
static void assembler_smaller_limit_holds_despite_room(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    for (uint32_t i = 0; i < 13; i++)
        assert_int_equal(assembler_add(&a, &m, 100, 10 + 10 * i, 2), 0);
    assert_int_equal(a.cap, 24);
    assert_int_equal(assembler_add(&a, &m, 13, 500, 2), -1);
    assert_int_equal(a.n, 13);
    assert_int_equal(assembler_add(&a, &m, 13, 12, 3), 0); /* a merge */
    assert_int_equal(a.n, 13);
    assembler_clear(&a, &m);
    assert_int_equal(m.bytes, 0);
}

/* assembler_find: the range holding an offset, by binary search, inline
 * and in the array; -1 in a gap, before the first and after the last. */
static void assembler_find_locates_the_holding_range(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(assembler_find(&a, 5), -1);
    for (uint32_t i = 0; i < 20; i++) /* [10, 15), [30, 35), ... */
        assert_int_equal(assembler_add(&a, &m, 100, 10 + 20 * i, 5), 0);
    assert_non_null(a.ext);
    assert_int_equal(assembler_find(&a, 9), -1);
    assert_int_equal(assembler_find(&a, 10), 0);
    assert_int_equal(assembler_find(&a, 14), 0);
    assert_int_equal(assembler_find(&a, 15), -1);
    assert_int_equal(assembler_find(&a, 250), 12);
    assert_int_equal(assembler_find(&a, 394), 19);
    assert_int_equal(assembler_find(&a, 395), -1);
    assert_int_equal(assembler_advance(&a, &m, 300), 0); /* 6 left: inline */
    assert_null(a.ext);
    assert_int_equal(assembler_find(&a, 10), 0); /* [310, 315) rebased */
    assert_int_equal(assembler_find(&a, 94), 4);
    assert_int_equal(assembler_find(&a, 95), -1);
    assembler_clear(&a, &m);
    assert_int_equal(m.bytes, 0);
}

/* assembler_add_count: the bytes of [off, off+len) the set did not hold,
 * however many ranges the new one merges; nothing for a refused range. */
static void assembler_add_count_reports_bytes_not_held_before(void **state)
{
    (void)state;
    struct assembler a = {0};
    uint32_t added = 99;
    assembler_init(&a);
    assert_int_equal(assembler_add_count(&a, NULL, 0, 10, 10, &added), 0);
    assert_int_equal(added, 10); /* [10, 20) */
    assert_int_equal(assembler_add_count(&a, NULL, 0, 15, 10, &added), 0);
    assert_int_equal(added, 5); /* [10, 25) */
    assert_int_equal(assembler_add_count(&a, NULL, 0, 12, 3, &added), 0);
    assert_int_equal(added, 0); /* inside */
    assert_int_equal(assembler_add_count(&a, NULL, 0, 30, 10, &added), 0);
    assert_int_equal(added, 10); /* [10, 25) [30, 40) */
    assert_int_equal(assembler_add_count(&a, NULL, 0, 5, 40, &added), 0);
    assert_int_equal(added, 5 + 5 + 5); /* [5, 45): both merged */
    EXPECT(&a, 5, 45);
    for (uint32_t i = 0; i < ASSEMBLER_INLINE - 1; i++)
        assert_int_equal(assembler_add(&a, NULL, 0, 100 + 10 * i, 2), 0);
    assert_int_equal(assembler_add_count(&a, NULL, 0, 500, 2, &added), -1);
    assert_int_equal(added, 0); /* refused: full */
    assert_int_equal(assembler_add_count(&a, NULL, 0, 45, 2, &added), 0);
    assert_int_equal(added, 2); /* adjacent: merged, no room needed */
}

/* assembler_drop_below: the point moves up by n acknowledged bytes; ranges
 * below it go, one across it keeps its part above (now at offset 0), and
 * the rest are rebased. Nothing beyond n is consumed. */
static void assembler_drop_below_keeps_what_lies_above(void **state)
{
    (void)state;
    struct assembler a = {0};
    assembler_init(&a);
    assert_int_equal(assembler_add(&a, NULL, 0, 10, 10), 0);
    assert_int_equal(assembler_add(&a, NULL, 0, 30, 10), 0);
    assert_int_equal(assembler_add(&a, NULL, 0, 50, 10), 0);
    assembler_drop_below(&a, NULL, 5); /* short of every range */
    EXPECT(&a, 5, 15, 25, 35, 45, 55);
    assembler_drop_below(&a, NULL, 10); /* into the first */
    EXPECT(&a, 0, 5, 15, 25, 35, 45);
    assembler_drop_below(&a, NULL, 5); /* exactly its end */
    EXPECT(&a, 10, 20, 30, 40);
    assembler_drop_below(&a, NULL, 10); /* exactly a start: kept whole */
    EXPECT(&a, 0, 10, 20, 30);
    assembler_drop_below(&a, NULL, 25); /* past one, into the next */
    EXPECT(&a, 0, 5);
    assembler_drop_below(&a, NULL, 100); /* past everything */
    assert_true(assembler_empty(&a));
}

static void
assembler_drop_below_leaving_few_ranges_moves_back_inline(void **state)
{
    (void)state;
    struct mem m = {0};
    struct assembler a = {0};
    assembler_init(&a);
    add_spaced(&a, &m, 100, 10); /* [10, 12) ... [100, 102) */
    assert_non_null(a.ext);
    assembler_drop_below(&a, &m, 21); /* [20, 22) clipped: 9 left */
    assert_non_null(a.ext);
    assert_int_equal(a.n, 9);
    assert_int_equal(assembler_ranges_const(&a)[0].start, 0);
    assert_int_equal(assembler_ranges_const(&a)[0].end, 1);
    expect_accounted(&a, &m);
    assembler_drop_below(&a, &m, 30); /* ends at 1, 9, 19: 6 left */
    assert_null(a.ext);
    EXPECT(&a, 0, 1, 9, 11, 19, 21, 29, 31, 39, 41, 49, 51);
    expect_accounted(&a, &m);
    assembler_clear(&a, &m);
    assert_int_equal(m.bytes, 0);
}

/* A set declared with another inline count (the SACK scoreboard holds 3)
 * uses that count: the array comes with the fourth range, doubles from 3,
 * and goes away again when 3 are left. */
struct small_set {
    ASSEMBLER_FIELDS(3);
    uint32_t after; /* a neighbour the inline array must not overrun */
};

static void assembler_set_with_three_inline_grows_at_the_fourth(void **state)
{
    (void)state;
    struct mem m = {0};
    struct small_set a;
    uint32_t start, end;
    assembler_init(&a);
    a.after = 0xabcdef;
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(assembler_add(&a, &m, 100, 10 + 10 * i, 2), 0);
    assert_null(a.ext);
    assert_int_equal(m.allocs, 0);
    assert_int_equal(assembler_add(&a, NULL, 3, 100, 2), -1); /* limit 3 */
    assert_int_equal(assembler_add(&a, &m, 100, 40, 2), 0);
    assert_non_null(a.ext);
    assert_int_equal(a.cap, 6);
    assert_int_equal(m.bytes, 6 * RSIZE);
    for (uint32_t i = 4; i < 7; i++)
        assert_int_equal(assembler_add(&a, &m, 100, 10 + 10 * i, 2), 0);
    assert_int_equal(a.cap, 12);
    assert_int_equal(m.bytes, 12 * RSIZE);
    assert_int_equal(m.allocs, 1);
    assert_int_equal(assembler_find(&a, 61), 5);
    assert_true(assembler_drop_last(&a, &start, &end));
    assert_int_equal(start, 70);
    assembler_drop_below(&a, &m, 35); /* [40, 42) .. [60, 62): 3 left */
    assert_null(a.ext);
    assert_int_equal(m.bytes, 0);
    EXPECT(&a, 5, 7, 15, 17, 25, 27);
    assert_int_equal(assembler_advance(&a, &m, 5), 2);
    EXPECT(&a, 8, 10, 18, 20);
    assert_int_equal(a.after, 0xabcdef);
    assembler_clear(&a, &m);
    assert_true(assembler_empty(&a));
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
        cmocka_unit_test(assembler_grows_into_an_array_at_the_seventh_range),
        cmocka_unit_test(assembler_growth_is_capped_at_the_limit),
        cmocka_unit_test(assembler_smaller_limit_holds_despite_room),
        cmocka_unit_test(assembler_find_locates_the_holding_range),
        cmocka_unit_test(assembler_merge_when_array_is_full_needs_no_room),
        cmocka_unit_test(
            assembler_advance_leaving_few_ranges_moves_back_inline),
        cmocka_unit_test(assembler_advance_leaving_seven_keeps_the_array),
        cmocka_unit_test(assembler_drop_last_works_on_the_array),
        cmocka_unit_test(assembler_clear_frees_the_array),
        cmocka_unit_test(assembler_null_mem_stays_inline),
        cmocka_unit_test(assembler_limit_below_inline_still_allows_inline),
        cmocka_unit_test(assembler_random_operations_match_bitmap_model),
        cmocka_unit_test(assembler_add_count_reports_bytes_not_held_before),
        cmocka_unit_test(assembler_drop_below_keeps_what_lies_above),
        cmocka_unit_test(
            assembler_drop_below_leaving_few_ranges_moves_back_inline),
        cmocka_unit_test(assembler_set_with_three_inline_grows_at_the_fourth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
