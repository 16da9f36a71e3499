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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mem_alloc_counts_bytes_and_blocks),
        cmocka_unit_test(mem_alloc_returns_zeroed_memory),
        cmocka_unit_test(mem_free_null_is_ignored),
        cmocka_unit_test(mem_alloc_zero_size_is_a_counted_block),
        cmocka_unit_test(mem_counters_are_per_instance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
