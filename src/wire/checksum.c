/* The Internet checksum (RFC 1071): the ones'-complement sum behind the IPv4
 * header checksum and the TCP pseudo-header checksum. Owns only arithmetic;
 * callers decide what is summed. The word sums themselves are inline in
 * checksum.h; here, what is too long to inline everywhere. */
#include "wire/checksum.h"

uint64_t csum_pseudo_ipv6(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                          uint32_t len)
{
    uint64_t sum = csum_add(0, src, 16);
    sum = csum_add(sum, dst, 16);
    return sum + (len >> 16) + (len & 0xffffu) + proto;
}
