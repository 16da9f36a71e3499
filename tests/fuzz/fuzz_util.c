/* Helpers shared by the fuzz targets. */
#include "fuzz_util.h"

#include "berth/berth.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/udp.h"

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

bool fuzz_valid_output(const uint8_t *p, size_t len)
{
    struct berth_segment seg;
    if (berth_decode(p, len, &seg) == 0)
        return true;
    struct ipv4_info ip;
    if (ipv4_parse(p, len, &ip) != 0 || ip.hdr_len + ip.payload_len != len)
        return false;
    struct icmp_info m;
    struct udp_info u;
    if (ip.proto == IPPROTO_ICMP_NUM)
        return icmp_parse(ip.payload, ip.payload_len, &m) == 0;
    return ip.proto == IPPROTO_UDP_NUM &&
           udp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, true, &u) ==
               0 &&
           u.payload_len + UDP_HDR_LEN == ip.payload_len;
}

/* Recomputes the IPv4 header checksum and, for TCP, ICMP and UDP, their
 * checksum over what the headers say is the message; malformed headers are
 * left alone. */
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
    if (p[9] == 1 && total <= len && total >= ihl + 4) { /* ICMP */
        uint8_t *m = p + ihl;
        m[2] = m[3] = 0;
        c = csum_fold(csum_add(0, m, total - ihl));
        m[2] = (uint8_t)(c >> 8);
        m[3] = (uint8_t)c;
        return;
    }
    bool udp = p[9] == 17 && total <= len && total >= ihl + 8;
    if (!udp && (p[9] != 6 || total > len || total < ihl + 18))
        return;
    uint8_t *tcp = p + ihl;
    size_t tlen = total - ihl;
    uint32_t src = (uint32_t)p[12] << 24 | (uint32_t)p[13] << 16 |
                   (uint32_t)p[14] << 8 | p[15];
    uint32_t dst = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 |
                   (uint32_t)p[18] << 8 | p[19];
    size_t at = udp ? 6 : 16; /* the checksum field */
    if (udp)
        tlen = (size_t)tcp[4] << 8 | tcp[5]; /* as the UDP header says */
    if (udp && (tlen < 8 || tlen > total - ihl))
        return;
    tcp[at] = tcp[at + 1] = 0;
    uint64_t sum = csum_pseudo_ipv4(src, dst, p[9], (uint16_t)tlen);
    c = csum_fold(csum_add(sum, tcp, tlen));
    tcp[at] = (uint8_t)(c >> 8);
    tcp[at + 1] = (uint8_t)c;
}
