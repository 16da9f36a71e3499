/* The Internet checksum over a segment in pieces (scatter-gather transmit
 * and receive): each piece is summed where it lies and added at its offset
 * in the segment. */
#ifndef BERTH_WIRE_CHECKSUM_SG_H
#define BERTH_WIRE_CHECKSUM_SG_H

#include "berth/berth.h"
#include "wire/checksum.h"

/* Adds len bytes at data that lie `at` bytes into the summed stream. A piece
 * at an odd offset has every byte in the other half of its 16-bit word
 * (RFC 1071 §2(B)): its sum byte-swapped, which is its sum times 2^8 mod
 * 0xffff, and so is rotating the 64-bit sum left by 8 (mod 2^64 - 1, of
 * which 0xffff is a factor). */
static inline uint64_t csum_add_at(uint64_t sum, const void *data, size_t len,
                                   size_t at)
{
    uint64_t part = csum_add(0, data, len);
    if (at & 1)
        part = part << 8 | part >> 56;
    return csum_add_carry(sum, part);
}

/* Adds the first len bytes of a stream made of k bytes at first, then the
 * spans in order (fewer if the stream is shorter). */
static inline uint64_t csum_add_iov(uint64_t sum, const uint8_t *first,
                                    size_t k, const struct berth_iov *sp,
                                    size_t n, size_t len)
{
    size_t at = k < len ? k : len;
    sum = csum_add(sum, first, at);
    for (size_t i = 0; i < n && at < len; i++) {
        size_t m = sp[i].len < len - at ? sp[i].len : len - at;
        sum = csum_add_at(sum, sp[i].base, m, at);
        at += m;
    }
    return sum;
}

#endif
