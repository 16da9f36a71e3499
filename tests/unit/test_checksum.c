/* Unit tests for the RFC 1071 Internet checksum (src/wire/checksum.c):
 * known vectors, and the fast 64-bit sum against a naive 16-bit reference
 * over random buffers of every length and alignment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "wire/checksum.h"

/* RFC 1071 §1 taken literally: 16-bit big-endian words, an odd last byte
 * padded with zero, end-around carry after every addition. */
static uint16_t naive_sum(uint16_t start, const uint8_t *p, size_t len)
{
    uint32_t sum = start;
    for (size_t i = 0; i < len; i += 2) {
        uint32_t word = (uint32_t)p[i] << 8;
        if (i + 1 < len)
            word |= p[i + 1];
        sum += word;
        sum = (sum & 0xffffu) + (sum >> 16);
    }
    return (uint16_t)sum;
}

static uint16_t naive_csum(const uint8_t *p, size_t len)
{
    return (uint16_t)~naive_sum(0, p, len);
}

/* RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2. */
static void csum_matches_rfc1071_example(void **state)
{
    (void)state;
    static const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03,
                                   0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(csum_fold(csum_add(0, data, sizeof(data))),
                     (uint16_t)~0xddf2u);
}

/* A well-known IPv4 header (checksum field b861 in place) verifies to 0,
 * and with the field zeroed sums to b861. */
static void csum_of_ipv4_header_vector(void **state)
{
    (void)state;
    uint8_t hdr[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
                     0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
                     0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    assert_int_equal(csum_fold(csum_add(0, hdr, sizeof(hdr))), 0);
    hdr[10] = hdr[11] = 0;
    assert_int_equal(csum_fold(csum_add(0, hdr, sizeof(hdr))), 0xb861);
}

static void csum_of_empty_and_zero_data_is_ffff(void **state)
{
    (void)state;
    static const uint8_t zeros[64];
    assert_int_equal(csum_fold(csum_add(0, zeros, 0)), 0xffff);
    assert_int_equal(csum_fold(csum_add(0, zeros, sizeof(zeros))), 0xffff);
    assert_int_equal(csum_fold(0), 0xffff);
}

/* An odd last byte is the high byte of a zero-padded word (RFC 1071 §4.1). */
static void csum_pads_odd_last_byte_as_high_byte(void **state)
{
    (void)state;
    static const uint8_t one[] = {0xab};
    static const uint8_t three[] = {0x12, 0x34, 0xab};
    assert_int_equal(csum_fold(csum_add(0, one, 1)), (uint16_t)~0xab00u);
    assert_int_equal(csum_fold(csum_add(0, three, 3)),
                     (uint16_t) ~(0x1234u + 0xab00u));
}

/* Every length 0..2000 at every start alignment 0..7, random contents and a
 * random starting sum: the fast sum folds to the naive one. */
static void
csum_matches_naive_reference_all_lengths_and_alignments(void **state)
{
    (void)state;
    uint8_t buf[2000 + 16];
    struct rng rng;
    rng_seed(&rng, 0x9e3779b97f4a7c15ull);
    for (size_t len = 0; len <= 2000; len++) {
        for (size_t align = 0; align < 8; align++) {
            uint8_t *p = buf + align;
            for (size_t i = 0; i < len; i++)
                p[i] = (uint8_t)rng_next(&rng);
            assert_int_equal(csum_fold(csum_add(0, p, len)),
                             naive_csum(p, len));
            uint16_t start = (uint16_t)rng_next(&rng);
            assert_int_equal(csum_fold(csum_add(start, p, len)),
                             (uint16_t)~naive_sum(start, p, len));
        }
    }
}

/* Buffers of all 0xff bytes push every carry path. */
static void csum_matches_naive_reference_all_ones(void **state)
{
    (void)state;
    uint8_t buf[4096];
    memset(buf, 0xff, sizeof(buf));
    for (size_t len = 0; len <= sizeof(buf); len += 1 + len / 16)
        assert_int_equal(csum_fold(csum_add(0, buf, len)),
                         naive_csum(buf, len));
}

/* A running sum near 2^64 still folds correctly (end-around carry). */
static void csum_add_carries_out_of_a_huge_running_sum(void **state)
{
    (void)state;
    static const uint8_t data[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
    uint64_t huge = UINT64_MAX - 3; /* ≡ 0xfffc (mod 0xffff) */
    uint16_t expect = (uint16_t)~naive_sum(0xfffc, data, sizeof(data));
    assert_int_equal(csum_fold(csum_add(huge, data, sizeof(data))), expect);
    assert_int_equal(csum_fold(UINT64_MAX), 0);
}

/* Splitting a buffer at even offsets and chaining gives the same result. */
static void csum_chains_at_even_lengths(void **state)
{
    (void)state;
    uint8_t buf[1500];
    struct rng rng;
    rng_seed(&rng, 12345);
    for (int round = 0; round < 500; round++) {
        size_t len = (size_t)(rng_next(&rng) % sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(&rng);
        size_t cut1 = (size_t)(rng_next(&rng) % (len / 2 + 1)) * 2;
        size_t cut2 =
            cut1 + (size_t)(rng_next(&rng) % ((len - cut1) / 2 + 1)) * 2;
        uint64_t sum = csum_add(0, buf, cut1);
        sum = csum_add(sum, buf + cut1, cut2 - cut1);
        sum = csum_add(sum, buf + cut2, len - cut2);
        assert_int_equal(csum_fold(sum), naive_csum(buf, len));
    }
}

/* Storing the folded value and summing again verifies to zero. */
static void csum_with_checksum_in_place_verifies_to_zero(void **state)
{
    (void)state;
    uint8_t buf[1000];
    struct rng rng;
    rng_seed(&rng, 777);
    for (int round = 0; round < 500; round++) {
        size_t len = 2 + 2 * (size_t)(rng_next(&rng) % 499);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng_next(&rng);
        size_t at = 2 * (size_t)(rng_next(&rng) % (len / 2));
        buf[at] = buf[at + 1] = 0;
        uint16_t c = csum_fold(csum_add(0, buf, len));
        buf[at] = (uint8_t)(c >> 8);
        buf[at + 1] = (uint8_t)c;
        assert_int_equal(csum_fold(csum_add(0, buf, len)), 0);
    }
}

/* RFC 9293 §3.1: the pseudo-header is src, dst, zero, PTCL, TCP length. */
static void csum_pseudo_ipv4_matches_explicit_pseudo_header(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 4242);
    for (int round = 0; round < 1000; round++) {
        uint32_t src = (uint32_t)rng_next(&rng);
        uint32_t dst = (uint32_t)rng_next(&rng);
        uint8_t proto = (uint8_t)rng_next(&rng);
        uint16_t len = (uint16_t)rng_next(&rng);
        uint8_t ph[12] = {
            (uint8_t)(src >> 24),
            (uint8_t)(src >> 16),
            (uint8_t)(src >> 8),
            (uint8_t)src,
            (uint8_t)(dst >> 24),
            (uint8_t)(dst >> 16),
            (uint8_t)(dst >> 8),
            (uint8_t)dst,
            0,
            proto,
            (uint8_t)(len >> 8),
            (uint8_t)len,
        };
        assert_int_equal(csum_fold(csum_pseudo_ipv4(src, dst, proto, len)),
                         naive_csum(ph, sizeof(ph)));
    }
}

/* csum_fold16 is the residue mod 0xffff taken in 1..0xffff (0 only for
 * 0): against % over edge values and a million random ones, some with
 * the carry-prone patterns (halves near all ones). */
static uint16_t fold_reference(uint64_t x)
{
    if (x == 0)
        return 0;
    uint64_t r = x % 0xffffu;
    return (uint16_t)(r ? r : 0xffffu);
}

static void csum_fold16_is_the_residue_mod_ffff(void **state)
{
    (void)state;
    static const uint64_t edge[] = {0,
                                    1,
                                    0xfffe,
                                    0xffff,
                                    0x10000,
                                    0x1fffe,
                                    0xfffeffffu,
                                    0xffffffffu,
                                    0x100000000u,
                                    0xffff0000ffff0000u,
                                    0x0000ffff0000ffffu,
                                    0xffffffff00000000u,
                                    0xfffffffffffffffeu,
                                    UINT64_MAX};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        assert_int_equal(csum_fold16(edge[i]), fold_reference(edge[i]));
    struct rng rng;
    rng_seed(&rng, 0xf01d);
    for (int i = 0; i < 1000000; i++) {
        uint64_t x = rng_next(&rng);
        if (i % 3 == 1)
            x |= 0xffff0000ffff0000u;
        else if (i % 3 == 2)
            x >>= rng_next(&rng) % 64;
        assert_int_equal(csum_fold16(x), fold_reference(x));
    }
}

/* csum_add_head (a constant head, then the rest) is csum_add, for every
 * even head up to the length, from random starting sums. */
static void csum_add_head_is_csum_add(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 0x4ead);
    uint8_t buf[128];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rng_next(&rng);
    for (size_t len = 0; len <= 100; len++) {
        for (size_t head = 0; head <= len; head += 2) {
            uint64_t start = rng_next(&rng);
            assert_int_equal(csum_fold(csum_add_head(start, buf, head, len)),
                             csum_fold(csum_add(start, buf, len)));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csum_matches_rfc1071_example),
        cmocka_unit_test(csum_of_ipv4_header_vector),
        cmocka_unit_test(csum_of_empty_and_zero_data_is_ffff),
        cmocka_unit_test(csum_pads_odd_last_byte_as_high_byte),
        cmocka_unit_test(
            csum_matches_naive_reference_all_lengths_and_alignments),
        cmocka_unit_test(csum_matches_naive_reference_all_ones),
        cmocka_unit_test(csum_add_carries_out_of_a_huge_running_sum),
        cmocka_unit_test(csum_chains_at_even_lengths),
        cmocka_unit_test(csum_with_checksum_in_place_verifies_to_zero),
        cmocka_unit_test(csum_pseudo_ipv4_matches_explicit_pseudo_header),
        cmocka_unit_test(csum_fold16_is_the_residue_mod_ffff),
        cmocka_unit_test(csum_add_head_is_csum_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
