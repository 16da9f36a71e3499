/* Unit tests for base/mem: the byte and block counters that every leak
 * check in the test suite relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/mem.h"

static void mem_alloc_counts_bytes_and_blocks(void **state)
{
    (void)state;
    struct mem m = {0};
    void *a = mem_alloc(&m, 100);
    void *b = mem_alloc(&m, 28);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(m.bytes, 128);
    assert_int_equal(m.allocs, 2);
    mem_free(&m, a, 100);
    assert_int_equal(m.bytes, 28);
    assert_int_equal(m.allocs, 1);
    mem_free(&m, b, 28);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void mem_alloc_returns_zeroed_memory(void **state)
{
    (void)state;
    struct mem m = {0};
    uint8_t *p = mem_alloc(&m, 4096);
    assert_non_null(p);
    for (size_t i = 0; i < 4096; i++)
        assert_int_equal(p[i], 0);
    mem_free(&m, p, 4096);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void mem_class_reuses_a_freed_block_zeroed(void **state)
{
    (void)state;
    struct mem m = {0};
    assert_true(mem_class_add(&m, 256, 2));
    uint8_t *a = mem_alloc(&m, 256);
    assert_non_null(a);
    for (size_t i = 0; i < 256; i++)
        a[i] = 0xa5;
    mem_free(&m, a, 256);
    /* Free as far as the counters go, held in the class. */
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
    assert_int_equal(m.cached_bytes, 256);
    uint8_t *b = mem_alloc(&m, 256);
    assert_ptr_equal(a, b);
    for (size_t i = 0; i < 256; i++)
        assert_int_equal(b[i], 0); /* mem_alloc's promise holds on reuse */
    assert_int_equal(m.bytes, 256);
    assert_int_equal(m.allocs, 1);
    assert_int_equal(m.cached_bytes, 0);
    mem_free(&m, b, 256);
    mem_release(&m);
    assert_int_equal(m.cached_bytes, 0);
}

static void mem_class_holds_at_most_max_blocks(void **state)
{
    (void)state;
    struct mem m = {0};
    assert_true(mem_class_add(&m, 64, 2));
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = mem_alloc_raw(&m, 64);
    for (int i = 0; i < 3; i++)
        mem_free(&m, p[i], 64);
    assert_int_equal(m.cached_bytes, 128); /* the third went to free() */
    assert_int_equal(m.cls[0].n, 2);
    /* Other sizes are not cached. */
    void *q = mem_alloc(&m, 65);
    mem_free(&m, q, 65);
    assert_int_equal(m.cached_bytes, 128);
    mem_release(&m);
    assert_int_equal(m.cached_bytes, 0);
    assert_int_equal(m.cls[0].n, 0);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void mem_class_add_is_bounded_and_merges_sizes(void **state)
{
    (void)state;
    struct mem m = {0};
    assert_false(mem_class_add(&m, 1, 8)); /* smaller than the link */
    for (size_t i = 0; i < MEM_CLASSES; i++)
        assert_true(mem_class_add(&m, 32 + 8 * i, 1));
    assert_false(mem_class_add(&m, 1000, 1)); /* all classes taken */
    assert_true(mem_class_add(&m, 32, 5));    /* the same size: merged */
    assert_int_equal(m.cls[0].max, 5);
}

static void mem_free_null_is_ignored(void **state)
{
    (void)state;
    struct mem m = {0};
    mem_free(&m, NULL, 64);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void mem_alloc_zero_size_is_a_counted_block(void **state)
{
    (void)state;
    struct mem m = {0};
    void *p = mem_alloc(&m, 0);
    assert_non_null(p);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 1);
    mem_free(&m, p, 0);
    assert_int_equal(m.allocs, 0);
}

static void mem_counters_are_per_instance(void **state)
{
    (void)state;
    struct mem a = {0}, b = {0};
    void *p = mem_alloc(&a, 10);
    assert_int_equal(a.allocs, 1);
    assert_int_equal(b.allocs, 0);
    mem_free(&a, p, 10);
    assert_int_equal(a.bytes, 0);
    assert_int_equal(a.allocs, 0);
}

/* Linux's tcp_mem shape from one figure: low 1/2, pressure 3/4, high. */
static void
mem_budget_thresholds_are_half_three_quarters_and_limit(void **state)
{
    (void)state;
    struct mem_budget b;
    mem_budget_init(&b, 1000);
    assert_int_equal(b.low, 500);
    assert_int_equal(b.pressure, 750);
    assert_int_equal(b.high, 1000);
    mem_budget_init(&b, 1003);
    assert_int_equal(b.pressure, 752);
    assert_false(b.pressed);
}

/* Pressure is entered at the pressure threshold and left only below low
 * (hysteresis); the limit is a level of its own. */
static void mem_budget_pressure_is_sticky_until_below_low(void **state)
{
    (void)state;
    struct mem_budget b;
    mem_budget_init(&b, 1000);
    assert_false(mem_budget_update(&b, 749));
    assert_int_equal(mem_budget_level(&b, 749), MEM_LEVEL_NORMAL);
    /* Usage at pressure reads as pressure even before the update. */
    assert_int_equal(mem_budget_level(&b, 750), MEM_LEVEL_PRESSURE);
    assert_true(mem_budget_update(&b, 750));
    assert_true(b.pressed);
    assert_false(mem_budget_update(&b, 600)); /* between low and pressure */
    assert_int_equal(mem_budget_level(&b, 600), MEM_LEVEL_PRESSURE);
    assert_int_equal(mem_budget_level(&b, 1000), MEM_LEVEL_OVER);
    assert_false(mem_budget_update(&b, 500)); /* not below low yet */
    assert_true(mem_budget_update(&b, 499));
    assert_false(b.pressed);
    assert_int_equal(mem_budget_level(&b, 600), MEM_LEVEL_NORMAL);
}

/* An allocation fits while it keeps usage at or below the limit. */
static void mem_budget_fits_up_to_the_limit(void **state)
{
    (void)state;
    struct mem_budget b;
    mem_budget_init(&b, 1000);
    assert_true(mem_budget_fits(&b, 0, 1000));
    assert_true(mem_budget_fits(&b, 996, 4));
    assert_false(mem_budget_fits(&b, 997, 4));
    assert_false(mem_budget_fits(&b, 1200, 0));        /* already over */
    assert_false(mem_budget_fits(&b, 10, (size_t)-1)); /* no wrap */
}

/* Limit 0: unlimited, never pressed, everything fits. */
static void mem_budget_of_zero_is_unlimited(void **state)
{
    (void)state;
    struct mem_budget b;
    mem_budget_init(&b, 0);
    assert_false(mem_budget_update(&b, (size_t)1 << 40));
    assert_int_equal(mem_budget_level(&b, (size_t)1 << 40), MEM_LEVEL_NORMAL);
    assert_true(mem_budget_fits(&b, (size_t)1 << 40, (size_t)1 << 40));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mem_alloc_counts_bytes_and_blocks),
        cmocka_unit_test(mem_alloc_returns_zeroed_memory),
        cmocka_unit_test(mem_class_reuses_a_freed_block_zeroed),
        cmocka_unit_test(mem_class_holds_at_most_max_blocks),
        cmocka_unit_test(mem_class_add_is_bounded_and_merges_sizes),
        cmocka_unit_test(mem_free_null_is_ignored),
        cmocka_unit_test(mem_alloc_zero_size_is_a_counted_block),
        cmocka_unit_test(mem_counters_are_per_instance),
        cmocka_unit_test(
            mem_budget_thresholds_are_half_three_quarters_and_limit),
        cmocka_unit_test(mem_budget_pressure_is_sticky_until_below_low),
        cmocka_unit_test(mem_budget_fits_up_to_the_limit),
        cmocka_unit_test(mem_budget_of_zero_is_unlimited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
