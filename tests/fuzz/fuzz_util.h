/* Helpers shared by the fuzz targets. */
#ifndef BERTH_FUZZ_UTIL_H
#define BERTH_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Recomputes the IPv4 header checksum and, for TCP, ICMP and UDP, theirs over
 * what the header says is the segment (IPv6: TCP's, behind its extension
 * headers); malformed headers are left alone.
 * Mutations then reach the state machine instead of the checksum check. */
void fuzz_fix_checksums(uint8_t *p, size_t len);
/* Whether a packet the stack sent is well formed: an IPv4/TCP segment that
 * berth_decode() takes, or an IPv4 ICMP message or UDP datagram whose
 * headers and checksums are right (echo replies, unreachables). */
bool fuzz_valid_output(const uint8_t *p, size_t len);

#endif
