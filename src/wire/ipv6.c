/* IPv6 parse and emit (RFC 8200 §3, §4). Parse walks the extension headers
 * in the packet's order, each bounded by the payload length, and stops at
 * the first upper-layer header; nothing above re-checks. */
#include "wire/ipv6.h"

#include "berth/berth.h"
#include "wire/bytes.h"

#include <string.h>

#define IPV6_VERSION 6u

/* RFC 8200 §4.2: Pad1 is one zero byte; PadN and every other option is
 * type, length, data. The two high bits of an unrecognised option's type
 * say what to do: 00 skip it; 01 discard the packet; 10 discard and send
 * an ICMP Parameter Problem; 11 the same unless the destination was
 * multicast. berth sends no ICMP (that is the ICMPv6 module's), so all
 * three discard. Pad1 and PadN are the only options a host must know;
 * every other is unrecognised here (Router Alert, 0x05, has action 00 and
 * is skipped; Jumbo Payload, 0xC2, action 11: discarded, RFC 2675 needs
 * links this stack does not have). */
#define OPT_PAD1 0u
#define OPT_PADN 1u
static int walk_options(const uint8_t *p, size_t len)
{
    size_t i = 2; /* Next Header, Hdr Ext Len */
    while (i < len) {
        uint8_t type = p[i];
        if (type == OPT_PAD1) {
            i++;
            continue;
        }
        if (i + 2 > len || i + 2 + (size_t)p[i + 1] > len)
            return BERTH_REASON_BAD_EXT_HEADER; /* option runs past it */
        if (type != OPT_PADN && (type >> 6) != 0)
            return BERTH_REASON_IP6_OPTION_DISCARD;
        i += 2 + (size_t)p[i + 1];
    }
    return 0;
}

/* RFC 8200 §4.4, RFC 5095: a Routing header of type 0 is refused however
 * many segments are left (deprecated: it makes a host an amplifier); any
 * other type we do not route with Segments Left 0 is skipped, with
 * segments left the packet is discarded (a host is the final destination
 * only when none are). */
static int check_routing(const uint8_t *p)
{
    uint8_t type = p[2], segments_left = p[3];
    if (type == 0)
        return BERTH_REASON_IP6_ROUTING_TYPE0;
    if (segments_left != 0)
        return BERTH_REASON_IP6_ROUTING_UNKNOWN;
    return 0;
}

/* One extension header at p (avail bytes left of the payload); 0 and its
 * length in *hlen, or the reason. */
static int ext_header(uint8_t nh, const uint8_t *p, size_t avail, size_t *hlen,
                      struct ipv6_info *out)
{
    if (avail < 8)
        return BERTH_REASON_BAD_EXT_HEADER;
    if (nh == IPV6_NH_FRAGMENT) {
        /* RFC 8200 §4.5: 8 bytes; offset in 8-byte units, M the last bit. An
         * atomic fragment (offset 0, M clear) is processed as a whole
         * packet (RFC 6946 §4). */
        *hlen = 8;
        uint16_t off_flags = load_be16(p + 2);
        out->frag_offset = (uint16_t)(off_flags & 0xfff8u);
        out->frag_more = (off_flags & 1u) != 0;
        out->frag_id = load_be32(p + 4);
        out->fragment = out->frag_offset != 0 || out->frag_more;
        return 0;
    }
    *hlen = ((size_t)p[1] + 1) * 8; /* RFC 8200 §4.3-4.6: 8-byte units */
    if (*hlen > avail)
        return BERTH_REASON_BAD_EXT_HEADER;
    if (nh == IPV6_NH_ROUTING)
        return check_routing(p);
    return walk_options(p, *hlen);
}

static bool is_ext_header(uint8_t nh)
{
    return nh == IPV6_NH_HOPOPTS || nh == IPV6_NH_DSTOPTS ||
           nh == IPV6_NH_ROUTING || nh == IPV6_NH_FRAGMENT;
}

/* Checks run in this order, and the first failure is returned:
 *   1. at least 40 bytes                       SHORT_PACKET
 *   2. version 6                               BAD_IP_VERSION
 *   3. 40 + payload length <= len              BAD_IP6_LENGTH
 *   4. each extension header, in order:
 *      Hop-by-Hop only first (§4.1), at most IPV6_MAX_EXT_HEADERS, each
 *      within the payload, options within it  BAD_EXT_HEADER
 *      an option whose action bits discard    IP6_OPTION_DISCARD
 *      Routing type 0                         IP6_ROUTING_TYPE0
 *      Routing, other type, segments left     IP6_ROUTING_UNKNOWN
 * The walk stops at an upper-layer header (anything that is not
 * Hop-by-Hop, Routing, Fragment or Destination Options: TCP, UDP, ICMPv6,
 * No Next Header, ESP, AH...) or after a fragment header of a real
 * fragment. Bytes past the payload length are link padding. A payload
 * length of 0 with Hop-by-Hop would be a jumbogram (RFC 2675): it is taken
 * as 0 bytes, and the Jumbo option is discarded by its action bits. */
int ipv6_parse(const uint8_t *pkt, size_t len, struct ipv6_info *out)
{
    if (len < IPV6_HDR_LEN)
        return BERTH_REASON_SHORT_PACKET;
    if (pkt[0] >> 4 != IPV6_VERSION)
        return BERTH_REASON_BAD_IP_VERSION;
    size_t plen = load_be16(pkt + 4);
    if (IPV6_HDR_LEN + plen > len)
        return BERTH_REASON_BAD_IP6_LENGTH;
    struct ipv6_info info = {0};
    uint8_t nh = pkt[6];
    size_t off = IPV6_HDR_LEN, end = IPV6_HDR_LEN + plen;
    while (is_ext_header(nh) && !info.fragment) {
        if ((nh == IPV6_NH_HOPOPTS && info.ext_count > 0) ||
            info.ext_count >= IPV6_MAX_EXT_HEADERS)
            return BERTH_REASON_BAD_EXT_HEADER;
        size_t hlen = 0;
        int err = ext_header(nh, pkt + off, end - off, &hlen, &info);
        if (err != 0)
            return err;
        nh = pkt[off];
        off += hlen;
        info.ext_count++;
    }
    info.src = pkt + 8;
    info.dst = pkt + 24;
    info.proto = nh;
    info.tclass = (uint8_t)(load_be16(pkt) >> 4);
    info.flow = load_be32(pkt) & 0xfffffu;
    info.hop_limit = pkt[7];
    info.payload = pkt + off;
    info.payload_len = (uint16_t)(end - off);
    *out = info;
    return 0;
}

size_t ipv6_emit(uint8_t *buf, const uint8_t src[IPV6_ADDR_LEN],
                 const uint8_t dst[IPV6_ADDR_LEN], uint8_t proto,
                 uint8_t hop_limit, uint32_t flow, uint16_t payload_len)
{
    /* Version 6, traffic class 0 (no DSCP, not ECN-capable), flow label. */
    store_be32(buf, IPV6_VERSION << 28 | (flow & 0xfffffu));
    store_be16(buf + 4, payload_len);
    buf[6] = proto;
    buf[7] = hop_limit;
    memcpy(buf + 8, src, IPV6_ADDR_LEN);
    memcpy(buf + 24, dst, IPV6_ADDR_LEN);
    return IPV6_HDR_LEN;
}
