/* ICMPv6 parse and emit (RFC 4443). Parse checks the length and the
 * pseudo-header checksum once; an error's quote is parsed on demand. */
#include "wire/icmp6.h"

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

int icmp6_parse(const uint8_t *p, size_t len, const uint8_t *src,
                const uint8_t *dst, struct icmp_info *out)
{
    if (len < ICMP_HDR_LEN)
        return BERTH_REASON_ICMP_SHORT;
    /* RFC 4443 §2.3: unlike ICMPv4, the sum includes the pseudo-header. */
    uint64_t sum = csum_pseudo_ipv6(src, dst, IPV6_NH_ICMP6, (uint32_t)len);
    if (csum_fold(csum_add(sum, p, len)) != 0)
        return BERTH_REASON_BAD_ICMP_CHECKSUM;
    out->type = p[0];
    out->code = p[1];
    out->id = load_be16(p + 4);
    out->seq = load_be16(p + 6);
    uint32_t mtu = load_be32(p + 4); /* RFC 4443 §3.2 */
    out->mtu = mtu > 0xffffu ? 0xffffu : (uint16_t)mtu;
    out->data = p + ICMP_HDR_LEN;
    out->data_len = (uint16_t)(len - ICMP_HDR_LEN);
    return 0;
}

int icmp6_quote_parse(const struct icmp_info *m, struct icmp6_quote *out)
{
    const uint8_t *q = m->data;
    if (m->data_len < 40u + 8u || q[0] >> 4 != 6u)
        return BERTH_REASON_ICMP_BAD_QUOTE;
    uint8_t nh = q[6];
    if (nh != 6u && nh != 17u)
        return BERTH_REASON_ICMP_BAD_QUOTE;
    uint32_t plen = load_be16(q + 4);
    out->total_len = (uint16_t)(plen + 40u > 0xffffu ? 0xffffu : plen + 40u);
    out->proto = nh;
    out->src = q + 8;
    out->dst = q + 24;
    out->sport = load_be16(q + 40);
    out->dport = load_be16(q + 42);
    out->seq = load_be32(q + 44);
    return 0;
}

size_t icmp6_emit(uint8_t *buf, const uint8_t *src, const uint8_t *dst,
                  uint8_t type, uint8_t code, uint32_t rest, size_t data_len)
{
    buf[0] = type;
    buf[1] = code;
    store_be16(buf + 2, 0);
    store_be32(buf + 4, rest);
    size_t n = ICMP_HDR_LEN + data_len;
    uint64_t sum = csum_pseudo_ipv6(src, dst, IPV6_NH_ICMP6, (uint32_t)n);
    store_be16(buf + 2, csum_fold(csum_add(sum, buf, n)));
    return n;
}
