/* UDP parse and emit (RFC 768), over IPv4 and IPv6 (RFC 8200 §8.1). */
#include "wire/udp.h"

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

/* The datagram's length from its header, checked against what the IP
 * layer holds: 0, or BERTH_REASON_UDP_BAD_LENGTH. */
static int udp_length(const uint8_t *p, size_t len, size_t *ulen)
{
    if (len < UDP_HDR_LEN)
        return BERTH_REASON_UDP_BAD_LENGTH;
    *ulen = load_be16(p + 4);
    if (*ulen < UDP_HDR_LEN || *ulen > len)
        return BERTH_REASON_UDP_BAD_LENGTH;
    return 0;
}

static int udp_fields(const uint8_t *p, size_t ulen, struct udp_info *out)
{
    out->sport = load_be16(p);
    out->dport = load_be16(p + 2);
    out->payload = p + UDP_HDR_LEN;
    out->payload_len = (uint16_t)(ulen - UDP_HDR_LEN);
    return 0;
}

int udp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst,
              bool check_csum, struct udp_info *out)
{
    size_t ulen;
    int r = udp_length(p, len, &ulen);
    if (r != 0)
        return r;
    /* RFC 768: an all-zero checksum field says the sender computed none. */
    if (check_csum && load_be16(p + 6) != 0) {
        uint64_t sum =
            csum_pseudo_ipv4(src, dst, IPPROTO_UDP_NUM, (uint16_t)ulen);
        if (csum_fold(csum_add(sum, p, ulen)) != 0)
            return BERTH_REASON_BAD_UDP_CHECKSUM;
    }
    return udp_fields(p, ulen, out);
}

int udp_parse6(const uint8_t *p, size_t len, const uint8_t *src,
               const uint8_t *dst, bool check_csum, struct udp_info *out)
{
    size_t ulen;
    int r = udp_length(p, len, &ulen);
    if (r != 0)
        return r;
    /* RFC 8200 §8.1: over IPv6 the checksum is mandatory; a zero field
     * is discarded (RFC 6935's tunnel exception is not berth's case). */
    if (load_be16(p + 6) == 0)
        return BERTH_REASON_UDP6_NO_CHECKSUM;
    if (check_csum) {
        uint64_t sum =
            csum_pseudo_ipv6(src, dst, IPPROTO_UDP_NUM, (uint32_t)ulen);
        if (csum_fold(csum_add(sum, p, ulen)) != 0)
            return BERTH_REASON_BAD_UDP_CHECKSUM;
    }
    return udp_fields(p, ulen, out);
}

/* The header with its checksum over the pseudo-header sum `pseudo` and
 * the datagram (the payload already at buf + UDP_HDR_LEN). */
static size_t udp_finish(uint8_t *buf, uint16_t sport, uint16_t dport,
                         uint16_t ulen, uint64_t pseudo)
{
    store_be16(buf, sport);
    store_be16(buf + 2, dport);
    store_be16(buf + 4, ulen);
    store_be16(buf + 6, 0);
    uint16_t c = csum_fold(csum_add(pseudo, buf, ulen));
    /* RFC 768, RFC 8200 §8.1: a computed zero is sent as all ones (zero
     * means "none"). */
    store_be16(buf + 6, c ? c : 0xffffu);
    return ulen;
}

size_t udp_emit(uint8_t *buf, uint16_t sport, uint16_t dport,
                size_t payload_len, uint32_t src, uint32_t dst)
{
    uint16_t ulen = (uint16_t)(UDP_HDR_LEN + payload_len);
    return udp_finish(buf, sport, dport, ulen,
                      csum_pseudo_ipv4(src, dst, IPPROTO_UDP_NUM, ulen));
}

size_t udp_emit6(uint8_t *buf, uint16_t sport, uint16_t dport,
                 size_t payload_len, const uint8_t *src, const uint8_t *dst)
{
    uint16_t ulen = (uint16_t)(UDP_HDR_LEN + payload_len);
    return udp_finish(buf, sport, dport, ulen,
                      csum_pseudo_ipv6(src, dst, IPPROTO_UDP_NUM, ulen));
}
