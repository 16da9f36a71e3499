/* CUBIC's integer arithmetic (RFC 9438 in fixed point, cc_cubic.c): the
 * cube root behind K = cbrt((W_max - cwnd) / C) (§4.2 eq. 2), checked
 * against exact cubes, the rounding midpoints, and 64-bit extremes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tcp/tcp.h"

static void cubic_root_of_exact_cubes_is_exact(void **state)
{
    (void)state;
    for (uint64_t r = 0; r <= 2642245; r += 1 + r / 64) /* bounded: ~1000 */
        assert_int_equal(tcp_cubic_root(r * r * r), r);
}

/* The nearest integer: r below the midpoint (r + 1/2)^3, r + 1 from it.
 * 8 (r + 1/2)^3 = (2r + 1)^3, so the midpoint lies between two integers
 * and never rounds ambiguously. */
static void cubic_root_rounds_to_the_nearest(void **state)
{
    (void)state;
    for (uint64_t r = 2; r < 200000; r += 1 + r / 32) { /* bounded */
        uint64_t twice_mid_cubed = (2 * r + 1) * (2 * r + 1) * (2 * r + 1);
        uint64_t below = twice_mid_cubed / 8; /* just under (r + 1/2)^3 */
        assert_int_equal(tcp_cubic_root(below), r);
        assert_int_equal(tcp_cubic_root(below + 1), r + 1);
        assert_int_equal(tcp_cubic_root(r * r * r - 1), r);
        assert_int_equal(tcp_cubic_root(r * r * r + 1), r);
    }
    assert_int_equal(tcp_cubic_root(0), 0);
    assert_int_equal(tcp_cubic_root(1), 1);
    assert_int_equal(tcp_cubic_root(3), 1); /* 1.44 */
    assert_int_equal(tcp_cubic_root(4), 2); /* 1.59 */
}

static void cubic_root_at_the_top_of_64_bits(void **state)
{
    (void)state;
    /* cbrt(2^64 - 1) = 2642245.95, and 2642245^3 is the largest cube. */
    assert_int_equal(tcp_cubic_root(UINT64_MAX), 2642246);
    assert_int_equal(tcp_cubic_root(2642245ull * 2642245 * 2642245), 2642245);
    assert_int_equal(tcp_cubic_root(1ull << 63), 2097152); /* 2^21 */
}

/* K as CUBIC computes it: W_max - cwnd in segments << 10, times 5^10 / 4,
 * is (K in ms)^3. RFC 9438 §4.2's example numbers: 30 segments below W_max
 * take cbrt(30 / 0.4) = 4.217 s to reach it again. */
static void cubic_root_gives_k_in_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(tcp_cubic_root(30ull * 1024 * 9765625 / 4), 4217);
    assert_int_equal(tcp_cubic_root(0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cubic_root_of_exact_cubes_is_exact),
        cmocka_unit_test(cubic_root_rounds_to_the_nearest),
        cmocka_unit_test(cubic_root_at_the_top_of_64_bits),
        cmocka_unit_test(cubic_root_gives_k_in_milliseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
