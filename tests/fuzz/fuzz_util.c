/* Helpers shared by the fuzz targets. */
#include "fuzz_util.h"

#include "wire/checksum.h"
#include "wire/ipv6.h"

#include <string.h>

/* IPv6: the TCP checksum behind the extension headers (RFC 8200 §8.1);
 * there is no header checksum. */
static void fix_ipv6(uint8_t *p, size_t len)
{
    struct ipv6_info ip;
    if (ipv6_parse(p, len, &ip) != 0 || ip.fragment ||
        ip.proto != IPV6_NH_TCP || ip.payload_len < 18)
        return;
    uint8_t *tcp = p + (ip.payload - p);
    tcp[16] = tcp[17] = 0;
    uint64_t sum = csum_pseudo_ipv6(ip.src, ip.dst, 6, ip.payload_len);
    uint16_t c = csum_fold(csum_add(sum, tcp, ip.payload_len));
    tcp[16] = (uint8_t)(c >> 8);
    tcp[17] = (uint8_t)c;
}

/* Recomputes the IPv4 header checksum and, for TCP, the TCP checksum over
 * what the header says is the segment; malformed headers are left alone. */
void fuzz_fix_checksums(uint8_t *p, size_t len)
{
    if (len >= 40 && p[0] >> 4 == 6) {
        fix_ipv6(p, len);
        return;
    }
    if (len < 20 || p[0] >> 4 != 4)
        return;
    size_t ihl = (size_t)(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return;
    p[10] = p[11] = 0;
    uint16_t c = csum_fold(csum_add(0, p, ihl));
    p[10] = (uint8_t)(c >> 8);
    p[11] = (uint8_t)c;

    size_t total = (size_t)p[2] << 8 | p[3];
    if (p[9] != 6 || total > len || total < ihl + 18)
        return;
    uint8_t *tcp = p + ihl;
    size_t tlen = total - ihl;
    uint32_t src = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 |
                   (uint32_t)p[14] << 8 | p[15];
    uint32_t dst = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 |
                   (uint32_t)p[18] << 8 | p[19];
    tcp[16] = tcp[17] = 0;
    uint64_t sum = csum_pseudo_ipv4(src, dst, 6, (uint16_t)tlen);
    c = csum_fold(csum_add(sum, tcp, tlen));
    tcp[16] = (uint8_t)(c >> 8);
    tcp[17] = (uint8_t)c;
}
