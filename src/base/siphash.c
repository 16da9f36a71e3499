/* SipHash-c-d as specified by Aumasson and Bernstein ("SipHash: a fast
 * short-input PRF", 2012): c compression rounds per 8-byte word, d
 * finalization rounds, 64-bit output; 2-4 and 1-3 here. Byte order is
 * little-endian throughout, independent of the host. */
#include "base/siphash.h"

#include <string.h>

static uint64_t rotl64(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

/* True on a little-endian host; the compiler folds this to a constant. */
static inline int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static inline uint64_t load_le64(const uint8_t *p)
{
    /* One plain (unaligned-safe) load on a little-endian host; byte by
     * byte elsewhere. A byte loop alone is not merged by gcc: it cost
     * 40 instructions for the key's two words on every hash. */
    if (host_is_little_endian()) {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl64(v[1], 13);
    v[1] ^= v[0];
    v[0] = rotl64(v[0], 32);
    v[2] += v[3];
    v[3] = rotl64(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = rotl64(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = rotl64(v[1], 17);
    v[1] ^= v[2];
    v[2] = rotl64(v[2], 32);
}

static void init(uint64_t v[4], const uint8_t key[16])
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    /* The initialization constants spell "somepseudorandomlygeneratedbytes". */
    v[0] = k0 ^ 0x736f6d6570736575u;
    v[1] = k1 ^ 0x646f72616e646f6du;
    v[2] = k0 ^ 0x6c7967656e657261u;
    v[3] = k1 ^ 0x7465646279746573u;
}

static void compress(uint64_t v[4], uint64_t m, int c)
{
    v[3] ^= m;
    for (int i = 0; i < c; i++)
        sipround(v);
    v[0] ^= m;
}

static uint64_t finalize(uint64_t v[4], int d)
{
    v[2] ^= 0xff;
    for (int i = 0; i < d; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static inline uint64_t siphash_cd(const uint8_t key[16], const void *data,
                                  size_t len, int c, int d)
{
    const uint8_t *p = data;
    uint64_t v[4];
    init(v, key);

    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8)
        compress(v, load_le64(p + i), c);

    /* The last word: the 0-7 remaining bytes, and len mod 256 in the top
     * byte (paper §2, "the last block"). */
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    for (size_t i = 0; i < len % 8; i++)
        last |= (uint64_t)p[full + i] << (8 * i);
    compress(v, last, c);
    return finalize(v, d);
}

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
    return siphash_cd(key, data, len, 2, 4);
}

uint64_t siphash13(const uint8_t key[16], const void *data, size_t len)
{
    return siphash_cd(key, data, len, 1, 3);
}

void sipkey_init(struct sipkey *k, const uint8_t key[16])
{
    init(k->v, key);
}

/* The 12 bytes a, b, c from the state v: the words a | b << 32, then c
 * with the length (12) in the top byte; c compression and d finalization
 * rounds. */
static inline uint64_t hash_3u32(uint64_t v[4], uint32_t a, uint32_t b,
                                 uint32_t c, int cr, int dr)
{
    compress(v, (uint64_t)a | (uint64_t)b << 32, cr);
    compress(v, (uint64_t)c | (uint64_t)12 << 56, cr);
    return finalize(v, dr);
}

uint64_t siphash13_3u32(const uint8_t key[16], uint32_t a, uint32_t b,
                        uint32_t c)
{
    uint64_t v[4];
    init(v, key);
    return hash_3u32(v, a, b, c, 1, 3);
}

uint64_t siphash24_3u32(const uint8_t key[16], uint32_t a, uint32_t b,
                        uint32_t c)
{
    /* No byte loop for the last word, which siphash24() of 12 bytes in
     * memory spent a dozen instructions on. */
    uint64_t v[4];
    init(v, key);
    return hash_3u32(v, a, b, c, 2, 4);
}

uint64_t siphash13_3u32_k(const struct sipkey *k, uint32_t a, uint32_t b,
                          uint32_t c)
{
    uint64_t v[4] = {k->v[0], k->v[1], k->v[2], k->v[3]};
    return hash_3u32(v, a, b, c, 1, 3);
}

uint64_t siphash24_3u32_k(const struct sipkey *k, uint32_t a, uint32_t b,
                          uint32_t c)
{
    uint64_t v[4] = {k->v[0], k->v[1], k->v[2], k->v[3]};
    return hash_3u32(v, a, b, c, 2, 4);
}
