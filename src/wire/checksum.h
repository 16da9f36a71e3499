/* The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit words,
 * accumulated wide and folded once at the end. The arithmetic is inline,
 * so a sum of constant length (the IPv4 header's 20 bytes) compiles to a
 * few loads and adds, and a segment's costs no call. */
#ifndef BERTH_WIRE_CHECKSUM_H
#define BERTH_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Adds b to a with end-around carry: 2^64 ≡ 1 (mod 0xffff), so a carry out
 * of bit 63 re-enters at bit 0 and the sum stays congruent (RFC 1071 §2(C):
 * any word size works; compilers make this an add and an add-with-carry). */
static inline uint64_t csum_add_carry(uint64_t a, uint64_t b)
{
#if defined(__GNUC__)
    /* The carry flag itself (an add and an adc), not a compare for it. */
    uint64_t s;
    uint64_t carry = __builtin_add_overflow(a, b, &s);
    return s + carry;
#else
    uint64_t s = a + b;
    return s + (s < b);
#endif
}

/* Folds to 16 bits without complementing. 0 only if x is 0; otherwise a
 * value in 1..0xffff congruent to x mod 0xffff (that value is unique, so
 * any way of folding gives it). Two end-around-carry additions of halves,
 * 64 -> 32 -> 16 bits, as Linux's csum_fold: each is an add and an
 * add-with-carry (the carry cannot carry again: a sum that overflowed is
 * at most 2^n - 2), where shift-and-mask steps took about twice as many
 * instructions, four times per segment. */
static inline uint16_t csum_fold16(uint64_t x)
{
    uint32_t lo = (uint32_t)x, hi = (uint32_t)(x >> 32), s32;
    s32 = lo + hi;
    s32 += s32 < hi;
    uint16_t a = (uint16_t)s32, b = (uint16_t)(s32 >> 16);
    uint16_t s16 = (uint16_t)(a + b);
    return (uint16_t)(s16 + (s16 < b));
}

/* True on a little-endian host; the compiler folds this to a constant. */
static inline int csum_host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Sums len bytes as host-order 64-bit words with end-around carry. The
 * tail is taken as 4-, 2- and 1-byte pieces in place: each piece starts
 * at an even offset, so every byte keeps its place (high or low) within
 * its 16-bit word; an odd last byte is the high byte of a big-endian word
 * whose low byte is zero (RFC 1071 §4.1). */
static inline uint64_t csum_sum_host(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    while (len >= 16) {
        uint64_t a, b;
        /* memcpy: p may be unaligned; the compiler emits plain loads. */
        memcpy(&a, p, 8);
        memcpy(&b, p + 8, 8);
        acc = csum_add_carry(acc, a);
        acc = csum_add_carry(acc, b);
        p += 16;
        len -= 16;
    }
    if (len & 8) {
        uint64_t a;
        memcpy(&a, p, 8);
        acc = csum_add_carry(acc, a);
        p += 8;
    }
    if (len & 4) {
        uint32_t a;
        memcpy(&a, p, 4);
        acc = csum_add_carry(acc, a);
        p += 4;
    }
    if (len & 2) {
        uint16_t a;
        memcpy(&a, p, 2);
        acc = csum_add_carry(acc, a);
        p += 2;
    }
    if (len & 1)
        acc = csum_add_carry(acc, csum_host_is_le() ? (uint64_t)p[0]
                                                    : (uint64_t)p[0] << 8);
    return acc;
}

/* Sums len bytes (a multiple of 4: TCP options) as host-order 32-bit
 * words, one load per word: bytes just written by 4-byte stores (the
 * options emit_opts writes) are each forwarded from their one store, where
 * an 8-byte load spanning two stores must wait for both to reach the
 * cache. The end-around carry chain also keeps the compiler from turning
 * the loop into the 16-byte vector loads that plain adds became. */
static inline uint64_t csum_sum_host32(const uint8_t *p, size_t len)
{
    uint64_t acc = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t a;
        memcpy(&a, p + i, 4);
        acc = csum_add_carry(acc, a);
    }
    return acc;
}

/* A host-order sum (csum_sum_host) as a sum of big-endian words: see
 * csum_add. */
static inline uint64_t csum_host_to_be(uint64_t host)
{
    return csum_host_is_le() ? host << 8 | host >> 56 : host;
}

/* Adds data (treated as big-endian 16-bit words; an odd last byte is padded
 * with zero) to a running sum. Chainable only at even lengths. */
static inline uint64_t csum_add(uint64_t sum, const void *data, size_t len)
{
    /* RFC 1071 §2(B): the sum is byte-order independent, so words are
     * summed in host order (64 bits at a time, §2(C), (D)); a word of
     * 16-bit parts is congruent (mod 0xffff, as 2^16 ≡ 1) to the sum of
     * its parts. On a little-endian host each part reads byte-swapped,
     * and swapping a 16-bit x is multiplying it by 2^8 (mod 0xffff); so
     * is rotating the 64-bit sum left by 8 (mod 2^64 - 1, of which 0xffff
     * is a factor). One rotation turns the host-order sum into the sum of
     * big-endian words that callers chain, with no fold. */
    return csum_add_carry(sum, csum_host_to_be(csum_sum_host(data, len)));
}

/* The same over data[0..len) whose first `head` bytes (even, <= len) are
 * summed at that length: with a constant head (a header of the usual
 * size), those bytes cost a few loads and adds with no loop, and only
 * the rest goes through the loop. */
static inline uint64_t csum_add_head(uint64_t sum, const void *data,
                                     size_t head, size_t len)
{
    const uint8_t *p = data;
    uint64_t host = csum_sum_host(p, head);
    if (len > head) /* not a bare header (an ACK): no tail to take */
        host = csum_add_carry(host, csum_sum_host(p + head, len - head));
    return csum_add_carry(sum, csum_host_to_be(host));
}

/* Folds to 16 bits and complements: the value to store in a header (host
 * order). Verifying: csum_fold(sum over data including the checksum) == 0. */
static inline uint16_t csum_fold(uint64_t sum)
{
    return (uint16_t)~csum_fold16(sum);
}

/* The TCP/UDP IPv4 pseudo-header (RFC 9293 §3.1): addresses host order;
 * source, destination, zero + PTCL, TCP length. A 32-bit word is
 * congruent (mod 0xffff, as 2^16 ≡ 1) to the sum of its two 16-bit
 * halves, so the addresses are added whole: three adds, no shifts or
 * masks. The result is a sum to chain or fold, as every csum_ value. */
static inline uint64_t csum_pseudo_ipv4(uint32_t src, uint32_t dst,
                                        uint8_t proto, uint16_t len)
{
    return (uint64_t)src + dst + proto + len;
}

/* The IPv6 pseudo-header (RFC 8200 §8.1): 16-byte addresses as on the
 * wire, the upper-layer length in 32 bits, three zero bytes, Next
 * Header. */
uint64_t csum_pseudo_ipv6(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                          uint32_t len);

#endif
