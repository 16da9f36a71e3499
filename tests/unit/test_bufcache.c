/* Unit tests for base/bufcache: size classes, accounting (a cached buffer
 * is not counted as held), the byte limit, LIFO reuse and flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/bufcache.h"

static void bufcache_classes_are_powers_of_two_from_4k(void **state)
{
    (void)state;
    assert_int_equal(bufcache_class_size(1), 4096);
    assert_int_equal(bufcache_class_size(4096), 4096);
    assert_int_equal(bufcache_class_size(4097), 8192);
    assert_int_equal(bufcache_class_size(65535), 65536);
    assert_int_equal(bufcache_class_size(65536), 65536);
    assert_int_equal(bufcache_class_size(4u << 20), 4u << 20);
    assert_int_equal(bufcache_class_size((4u << 20) + 1), 8u << 20);
}

static void bufcache_put_buffer_is_reused_and_not_counted(void **state)
{
    (void)state;
    struct bufcache bc;
    struct mem m = {0};
    bufcache_init(&bc, 1u << 20);
    uint8_t *a = bufcache_get(&bc, &m, 5000);
    assert_non_null(a);
    memset(a, 0xab, 8192); /* the whole class is usable (ASan checks) */
    assert_int_equal(m.bytes, 8192);
    assert_int_equal(m.allocs, 1);
    bufcache_put(&bc, &m, a, 5000);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
    assert_int_equal(bc.bytes, 8192);
    /* Any capacity of the same class gets it back. */
    uint8_t *b = bufcache_get(&bc, &m, 8000);
    assert_ptr_equal(a, b);
    assert_int_equal(bc.bytes, 0);
    assert_int_equal(bc.hits, 1);
    assert_int_equal(bc.misses, 1);
    /* Another class does not. */
    uint8_t *c = bufcache_get(&bc, &m, 100);
    assert_ptr_not_equal(c, b);
    bufcache_put(&bc, &m, b, 8000);
    bufcache_put(&bc, &m, c, 100);
    assert_int_equal(bc.bytes, 8192 + 4096);
    bufcache_flush(&bc);
    assert_int_equal(bc.bytes, 0);
    assert_int_equal(m.bytes, 0);
}

static void bufcache_gives_back_last_put_first(void **state)
{
    (void)state;
    struct bufcache bc;
    struct mem m = {0};
    bufcache_init(&bc, 1u << 20);
    void *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = bufcache_get(&bc, &m, 4096);
    for (int i = 0; i < 3; i++)
        bufcache_put(&bc, &m, p[i], 4096);
    assert_ptr_equal(bufcache_get(&bc, &m, 4096), p[2]);
    assert_ptr_equal(bufcache_get(&bc, &m, 4096), p[1]);
    bufcache_put(&bc, &m, p[1], 4096);
    bufcache_put(&bc, &m, p[2], 4096);
    bufcache_flush(&bc);
    assert_int_equal(m.bytes, 0);
}

static void bufcache_beyond_limit_goes_back_to_allocator(void **state)
{
    (void)state;
    struct bufcache bc;
    struct mem m = {0};
    bufcache_init(&bc, 12288); /* room for three 4 KiB buffers */
    void *p[4], *big = bufcache_get(&bc, &m, 16384);
    for (int i = 0; i < 4; i++)
        p[i] = bufcache_get(&bc, &m, 4096);
    bufcache_put(&bc, &m, big, 16384); /* larger than the limit: freed */
    assert_int_equal(bc.bytes, 0);
    for (int i = 0; i < 4; i++)
        bufcache_put(&bc, &m, p[i], 4096);
    assert_int_equal(bc.bytes, 12288);
    assert_int_equal(bc.count[0], 3);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
    bufcache_flush(&bc);
}

static void bufcache_of_limit_zero_caches_nothing(void **state)
{
    (void)state;
    struct bufcache bc;
    struct mem m = {0};
    bufcache_init(&bc, 0);
    void *p = bufcache_get(&bc, &m, 4096);
    bufcache_put(&bc, &m, p, 4096);
    assert_int_equal(bc.bytes, 0);
    assert_null(bc.free[0]);
    bufcache_put(&bc, &m, NULL, 4096); /* NULL is ignored */
    assert_int_equal(m.bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bufcache_classes_are_powers_of_two_from_4k),
        cmocka_unit_test(bufcache_put_buffer_is_reused_and_not_counted),
        cmocka_unit_test(bufcache_gives_back_last_put_first),
        cmocka_unit_test(bufcache_beyond_limit_goes_back_to_allocator),
        cmocka_unit_test(bufcache_of_limit_zero_caches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
