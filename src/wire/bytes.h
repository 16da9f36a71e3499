/* Big-endian loads and stores for the wire/ parsers and emitters: any
 * alignment is fine (memcpy, which compilers turn into one plain load or
 * store) and the result never depends on host order (a byte swap on a
 * little-endian host, none on a big-endian one: one instruction either
 * way, where byte-at-a-time code cost a dozen per field). */
#ifndef BERTH_WIRE_BYTES_H
#define BERTH_WIRE_BYTES_H

#include <stdint.h>
#include <string.h>

/* The host's order, known to the compiler (a constant it folds away). */
static inline int bytes_host_is_le(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* The builtins where the compiler has them (gcc, clang): the shift-and-or
 * form is usually recognised as one rotate or bswap, but not always once
 * inlined into a larger expression (gcc spent 15 instructions on the port
 * word of a TCP header). */
static inline uint16_t bytes_swap16(uint16_t v)
{
#if defined(__GNUC__)
    return __builtin_bswap16(v);
#else
    return (uint16_t)(v << 8 | v >> 8);
#endif
}

static inline uint32_t bytes_swap32(uint32_t v)
{
#if defined(__GNUC__)
    return __builtin_bswap32(v);
#else
    return (v >> 24) | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | (v << 24);
#endif
}

static inline uint16_t load_be16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return bytes_host_is_le() ? bytes_swap16(v) : v;
}

static inline uint32_t load_be32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return bytes_host_is_le() ? bytes_swap32(v) : v;
}

static inline void store_be16(uint8_t *p, uint16_t v)
{
    if (bytes_host_is_le())
        v = bytes_swap16(v);
    memcpy(p, &v, 2);
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    if (bytes_host_is_le())
        v = bytes_swap32(v);
    memcpy(p, &v, 4);
}

#endif
