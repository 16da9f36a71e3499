/* IPv4 header parse and emit (RFC 791 §3.1). Parse checks every field that
 * the layers above rely on, once; nothing above re-checks. */
#include "wire/ipv4.h"

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

#include <string.h>

#define IPV4_VERSION     4u
#define IPV4_FLAG_DF     0x4000u
#define IPV4_FLAG_MF     0x2000u
#define IPV4_FRAG_OFFSET 0x1fffu

/* Checks run in this order, and the first failure is returned:
 *   1. at least 20 bytes                      SHORT_PACKET
 *   2. version 4                              BAD_IP_VERSION
 *   3. 5 <= IHL, IHL*4 <= len                 BAD_IHL
 *   4. IHL*4 <= total length <= len           BAD_IP_LENGTH
 *   5. header checksum (RFC 791 §3.1)         BAD_IP_CHECKSUM
 *   6. MF clear and fragment offset zero      IP_FRAGMENT
 * Bytes past the total length are link padding (an Ethernet frame is at
 * least 60 bytes) and are ignored. Inline in both entry points
 * (always_inline: gcc split it and called the rest, once a packet). */
__attribute__((always_inline)) static inline int parse(const uint8_t *pkt,
                                                       size_t len,
                                                       struct ipv4_info *out,
                                                       struct ipv4_frag *frag)
{
    if (len < IPV4_HDR_LEN)
        return BERTH_REASON_SHORT_PACKET;
    /* Nearly every header is version 4 with no options (0x45): one
     * compare passes checks 2 and 3 (20 <= len is known). */
    size_t hdr_len = IPV4_HDR_LEN;
    if (pkt[0] != (IPV4_VERSION << 4 | IPV4_HDR_LEN / 4)) {
        if (pkt[0] >> 4 != IPV4_VERSION)
            return BERTH_REASON_BAD_IP_VERSION;
        hdr_len = (size_t)(pkt[0] & 0x0fu) * 4;
        if (hdr_len < IPV4_HDR_LEN || hdr_len > len)
            return BERTH_REASON_BAD_IHL;
    }
    size_t total_len = load_be16(pkt + 2);
    if (total_len < hdr_len || total_len > len)
        return BERTH_REASON_BAD_IP_LENGTH;
    /* Nearly every header has no options: its 20 bytes summed as a
     * constant length are three loads and adds, no loop. */
    uint64_t sum = hdr_len == IPV4_HDR_LEN ? csum_add(0, pkt, IPV4_HDR_LEN)
                                           : csum_add(0, pkt, hdr_len);
    if (csum_fold(sum) != 0)
        return BERTH_REASON_BAD_IP_CHECKSUM;
    /* A fragment, first or later (RFC 791 §3.2), is not a datagram: only
     * ipv4_parse_fragment() takes it. DF and the reserved bit are ignored. */
    uint16_t fl = load_be16(pkt + 6);
    bool is_frag = (fl & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET)) != 0;
    if (is_frag && !frag)
        return BERTH_REASON_IP_FRAGMENT;
    if (frag) { /* a whole datagram reads as offset 0, no more */
        frag->offset = (uint16_t)((fl & IPV4_FRAG_OFFSET) * 8u);
        frag->more = (fl & IPV4_FLAG_MF) != 0;
    }

    out->tos = pkt[1];
    out->id = load_be16(pkt + 4);
    out->ttl = pkt[8];
    out->proto = pkt[9];
    out->src = load_be32(pkt + 12);
    out->dst = load_be32(pkt + 16);
    out->hdr_len = (uint16_t)hdr_len;
    out->payload = pkt + hdr_len;
    out->payload_len = (uint16_t)(total_len - hdr_len);
    return 0;
}

int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_info *out)
{
    return parse(pkt, len, out, NULL);
}

int ipv4_parse_fragment(const uint8_t *pkt, size_t len, struct ipv4_info *out,
                        struct ipv4_frag *frag)
{
    return parse(pkt, len, out, frag);
}

size_t ipv4_emit(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
                 uint8_t ttl, uint16_t id, uint16_t payload_len)
{
    buf[0] = (uint8_t)(IPV4_VERSION << 4 | IPV4_HDR_LEN / 4);
    buf[1] = 0; /* TOS: no DSCP, not ECN-capable */
    store_be16(buf + 2, (uint16_t)(IPV4_HDR_LEN + payload_len));
    store_be16(buf + 4, id);
    /* DF: TCP sizes its segments by MSS and path MTU discovery
     * (RFC 1191), so routers must not fragment them. */
    store_be16(buf + 6, IPV4_FLAG_DF);
    buf[8] = ttl;
    buf[9] = proto;
    memset(buf + 10, 0, 2);
    store_be32(buf + 12, src);
    store_be32(buf + 16, dst);
    /* Summed from the fields, not read back: the loads would span the
     * stores just made, which the CPU cannot forward (each waits for the
     * stores to reach the cache). 32-bit words are congruent (mod 0xffff)
     * to the sum of their 16-bit halves; the sum is never 0 (0x45 byte). */
    uint64_t sum = (uint64_t)(IPV4_VERSION << 12 | (IPV4_HDR_LEN / 4) << 8) +
                   (uint16_t)(IPV4_HDR_LEN + payload_len) + id + IPV4_FLAG_DF +
                   ((uint32_t)ttl << 8 | proto) + src + dst;
    store_be16(buf + 10, csum_fold(sum));
    return IPV4_HDR_LEN;
}
