/* SipHash-2-4 (Aumasson & Bernstein): a keyed hash, used for ISNs
 * (RFC 6528) and for connection-table buckets an attacker cannot predict. */
#ifndef BERTH_BASE_SIPHASH_H
#define BERTH_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
