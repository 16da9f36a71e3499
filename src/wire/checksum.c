/* The Internet checksum (RFC 1071): the ones'-complement sum behind the IPv4
 * header checksum and the TCP pseudo-header checksum. Owns only arithmetic;
 * callers decide what is summed. */
#include "wire/checksum.h"

#include <string.h>

/* Bytes summed into one 64-bit accumulator before it is folded: each step
 * adds two 32-bit halves (< 2^33), so 2^30 bytes (2^27 steps) stay far below
 * 2^64 and no carry is ever lost. */
#define CSUM_BLOCK ((size_t)1 << 30)

/* Adds b to a with end-around carry: 2^64 ≡ 1 (mod 0xffff), so a carry out
 * of bit 63 re-enters at bit 0 and the sum stays congruent. */
static uint64_t add_carry(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s + (s < b);
}

/* Folds to 16 bits without complementing. 0 only if x is 0; otherwise a
 * value in 1..0xffff congruent to x mod 0xffff. */
static uint16_t fold16(uint64_t x)
{
    while (x >> 16)
        x = (x & 0xffffu) + (x >> 16);
    return (uint16_t)x;
}

/* True on a little-endian host; the compiler folds this to a constant. */
static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Sums len bytes (len <= CSUM_BLOCK) as native-order 32-bit words. */
static uint64_t sum_block(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    while (len >= 16) {
        uint64_t a, b;
        /* memcpy: p may be unaligned; the compiler emits plain loads. */
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        acc += (a & 0xffffffffu) + (a >> 32);
        acc += (b & 0xffffffffu) + (b >> 32);
        p += 16;
        len -= 16;
    }
    if (len > 0) {
        /* The tail, zero-padded: an odd last byte becomes the high byte of
         * a big-endian 16-bit word whose low byte is zero (RFC 1071 §4.1). */
        uint8_t tail[16] = {0};
        uint64_t a, b;
        memcpy(tail, p, len);
        memcpy(&a, tail, 8);
        memcpy(&b, tail + 8, 8);
        acc += (a & 0xffffffffu) + (a >> 32);
        acc += (b & 0xffffffffu) + (b >> 32);
    }
    return acc;
}

uint64_t csum_add(uint64_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* RFC 1071 §2(B): the sum is byte-order independent, so words are
     * summed in host order (32 bits at a time into 64, §2(C), (D)) and the
     * folded 16-bit result is byte-swapped once on a little-endian host.
     * That equals the sum of big-endian 32-bit words: a 32-bit word
     * hi*2^16 + lo ≡ hi + lo (mod 0xffff). */
    while (len > 0) {
        size_t n = len < CSUM_BLOCK ? len : CSUM_BLOCK;
        uint16_t folded = fold16(sum_block(p, n));
        if (host_is_little_endian())
            folded = (uint16_t)((folded >> 8) | (folded << 8));
        sum = add_carry(sum, folded);
        p += n;
        len -= n;
    }
    return sum;
}

uint16_t csum_fold(uint64_t sum)
{
    return (uint16_t)~fold16(sum);
}

uint64_t csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto,
                          uint16_t len)
{
    /* RFC 9293 §3.1: source, destination, zero + PTCL, TCP length, summed as
     * 16-bit words like the rest. */
    return (uint64_t)(src >> 16) + (src & 0xffffu) + (dst >> 16) +
           (dst & 0xffffu) + proto + len;
}

uint64_t csum_pseudo_ipv6(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                          uint32_t len)
{
    uint64_t sum = csum_add(0, src, 16);
    sum = csum_add(sum, dst, 16);
    return sum + (len >> 16) + (len & 0xffffu) + proto;
}
