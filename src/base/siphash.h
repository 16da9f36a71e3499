/* SipHash (Aumasson & Bernstein): keyed hashes. SipHash-2-4, the PRF, for
 * ISNs (RFC 6528), timestamp offsets and SYN cookies; SipHash-1-3 for
 * hash-table buckets an attacker cannot predict. */
#ifndef BERTH_BASE_SIPHASH_H
#define BERTH_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

/* SipHash-1-3: one compression and three finalization rounds. Not a PRF
 * to rely on for secrets, but what hash tables use (Rust's std HashMap,
 * Linux's hsiphash family, CPython's str hash): with a secret key an
 * attacker still cannot choose inputs that collide in one bucket, and it
 * costs about 60 % of SipHash-2-4 on short inputs. */
uint64_t siphash13(const uint8_t key[16], const void *data, size_t len);
/* siphash13() of the 12 bytes a, b, c, each little-endian (Linux's
 * siphash_3u32 shape): the 4-tuple without packing it into memory. */
uint64_t siphash13_3u32(const uint8_t key[16], uint32_t a, uint32_t b,
                        uint32_t c);
/* siphash24() of the same 12 bytes (the 4-tuple's per-connection secret,
 * tcp_tuple_prf). */
uint64_t siphash24_3u32(const uint8_t key[16], uint32_t a, uint32_t b,
                        uint32_t c);

/* A key's schedule: the four words SipHash starts from (the key's halves
 * xored with the constants), computed once per key, for a stack's secret
 * that hashes every segment's 4-tuple. */
struct sipkey {
    uint64_t v[4];
};
void sipkey_init(struct sipkey *k, const uint8_t key[16]);
/* siphash13_3u32 and siphash24_3u32 from a key's schedule: the same
 * values, without the key's loads and the four constants per hash. */
uint64_t siphash13_3u32_k(const struct sipkey *k, uint32_t a, uint32_t b,
                          uint32_t c);
uint64_t siphash24_3u32_k(const struct sipkey *k, uint32_t a, uint32_t b,
                          uint32_t c);

#endif
