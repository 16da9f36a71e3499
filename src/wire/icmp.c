/* ICMP parse and emit (RFC 792). Parse checks the length and checksum
 * once; the quoted datagram of an error message is parsed on demand. */
#include "wire/icmp.h"

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

int icmp_parse(const uint8_t *p, size_t len, struct icmp_info *out)
{
    if (len < ICMP_HDR_LEN)
        return BERTH_REASON_ICMP_SHORT;
    /* RFC 792: the checksum covers the whole message. */
    if (csum_fold(csum_add(0, p, len)) != 0)
        return BERTH_REASON_BAD_ICMP_CHECKSUM;
    out->type = p[0];
    out->code = p[1];
    out->id = load_be16(p + 4);
    out->seq = load_be16(p + 6);
    out->mtu = load_be16(p + 6); /* RFC 1191 §4: the low 16 bits */
    out->data = p + ICMP_HDR_LEN;
    out->data_len = (uint16_t)(len - ICMP_HDR_LEN);
    return 0;
}

bool icmp_is_error(uint8_t type)
{
    return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
           type == ICMP_PARAM_PROBLEM;
}

int icmp_quote_parse(const struct icmp_info *m, struct icmp_quote *out)
{
    const uint8_t *q = m->data;
    if (m->data_len < 20u + 8u || q[0] >> 4 != 4u)
        return BERTH_REASON_ICMP_BAD_QUOTE;
    size_t hl = (size_t)(q[0] & 0x0fu) * 4u;
    if (hl < 20u || hl + 8u > m->data_len)
        return BERTH_REASON_ICMP_BAD_QUOTE;
    out->total_len = load_be16(q + 2);
    out->proto = q[9];
    out->src = load_be32(q + 12);
    out->dst = load_be32(q + 16);
    out->sport = load_be16(q + hl);
    out->dport = load_be16(q + hl + 2);
    out->seq = load_be32(q + hl + 4);
    return 0;
}

size_t icmp_emit(uint8_t *buf, uint8_t type, uint8_t code, uint32_t rest,
                 size_t data_len)
{
    buf[0] = type;
    buf[1] = code;
    store_be16(buf + 2, 0);
    store_be32(buf + 4, rest);
    size_t n = ICMP_HDR_LEN + data_len;
    store_be16(buf + 2, csum_fold(csum_add(0, buf, n)));
    return n;
}
