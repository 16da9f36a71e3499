/* IPv4 header (RFC 791): parse with every check done once, emit. */
#ifndef BERTH_WIRE_IPV4_H
#define BERTH_WIRE_IPV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPV4_HDR_LEN    20u
#define IPPROTO_TCP_NUM 6u

struct ipv4_info {
    uint32_t src, dst; /* host order */
    uint8_t proto, ttl, tos;
    uint16_t id;
    uint16_t hdr_len;       /* bytes, 20..60 */
    const uint8_t *payload; /* points into the packet */
    uint16_t payload_len;   /* total_len - hdr_len (link padding dropped) */
};

/* 0, or the berth_reason (SHORT_PACKET, BAD_IP_VERSION, BAD_IHL,
 * BAD_IP_LENGTH, BAD_IP_CHECKSUM, IP_FRAGMENT), checked in that order (see
 * ipv4.c). BAD_IHL: IHL < 5 or IHL*4 > len; BAD_IP_LENGTH: total length
 * below the header or beyond len. Bytes past the total length (link
 * padding) are ignored. Never reads outside pkt[0..len); *out is written
 * only on success. Options in the IP header are skipped. */
int ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_info *out);
/* Where a fragment's data goes in its datagram (RFC 791 §3.2). */
struct ipv4_frag {
    uint16_t offset; /* bytes (the field times 8) */
    bool more;       /* MF: more fragments follow */
};
/* The same checks as ipv4_parse(), but a fragment is taken too: *frag
 * says where its data goes (a whole datagram: offset 0, no more). */
int ipv4_parse_fragment(const uint8_t *pkt, size_t len, struct ipv4_info *out,
                        struct ipv4_frag *frag);
/* Writes a 20-byte header (DF set, TOS 0, no options) with its checksum,
 * for a payload of payload_len <= 65515 bytes. Returns IPV4_HDR_LEN. */
size_t ipv4_emit(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto,
                 uint8_t ttl, uint16_t id, uint16_t payload_len);

#endif
