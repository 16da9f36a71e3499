/* The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit words,
 * accumulated wide and folded once at the end. */
#ifndef BERTH_WIRE_CHECKSUM_H
#define BERTH_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds data (treated as big-endian 16-bit words; an odd last byte is padded
 * with zero) to a running sum. Chainable only at even lengths. */
uint64_t csum_add(uint64_t sum, const void *data, size_t len);
/* Folds to 16 bits and complements: the value to store in a header (host
 * order). Verifying: csum_fold(sum over data including the checksum) == 0. */
uint16_t csum_fold(uint64_t sum);
/* The TCP/UDP IPv4 pseudo-header (RFC 9293 §3.1): addresses host order. */
uint64_t csum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto,
                          uint16_t len);
/* The IPv6 pseudo-header (RFC 8200 §8.1): 16-byte addresses as on the
 * wire, the upper-layer length in 32 bits, three zero bytes, Next
 * Header. */
uint64_t csum_pseudo_ipv6(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                          uint32_t len);

#endif
