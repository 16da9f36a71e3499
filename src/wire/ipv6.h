/* IPv6 header (RFC 8200): parse with the extension headers walked within
 * bounds, every check done once; emit of the fixed header. */
#ifndef BERTH_WIRE_IPV6_H
#define BERTH_WIRE_IPV6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPV6_HDR_LEN  40u
#define IPV6_ADDR_LEN 16u
/* Extension headers walked before the walk gives up (BAD_EXT_HEADER): a
 * bound, so a packet of thousands of empty headers costs nothing. Linux
 * allows 8 options; RFC 8200 §4.1 lists at most 7 headers in its order. */
#define IPV6_MAX_EXT_HEADERS 8u

/* Next Header values (IANA "Assigned Internet Protocol Numbers"). */
#define IPV6_NH_HOPOPTS  0u
#define IPV6_NH_TCP      6u
#define IPV6_NH_ROUTING  43u
#define IPV6_NH_FRAGMENT 44u
#define IPV6_NH_NONE     59u
#define IPV6_NH_DSTOPTS  60u

struct ipv6_info {
    const uint8_t *src, *dst; /* 16 bytes each, pointing into the packet */
    uint8_t proto;            /* the upper layer: Next Header of the last
                                 extension header walked */
    uint8_t hop_limit, tclass;
    uint32_t flow;          /* the 20-bit flow label */
    uint8_t ext_count;      /* extension headers walked */
    bool fragment;          /* a fragment header of a real fragment (not
                               atomic, RFC 6946): payload is that fragment */
    uint16_t frag_offset;   /* bytes, when fragment */
    bool frag_more;         /* M flag, when fragment */
    uint32_t frag_id;       /* when fragment */
    const uint8_t *payload; /* the upper layer's bytes, into the packet */
    uint16_t payload_len;   /* up to the payload length (padding dropped) */
};

/* 0, or the berth_reason, checked in this order (see ipv6.c):
 * SHORT_PACKET, BAD_IP_VERSION, BAD_IP6_LENGTH, then per extension header
 * BAD_EXT_HEADER, IP6_OPTION_DISCARD, IP6_ROUTING_TYPE0,
 * IP6_ROUTING_UNKNOWN. Never reads outside pkt[0..len); *out is written
 * only on success. A fragment (not atomic) ends the walk: fragment is set
 * and the caller decides. */
int ipv6_parse(const uint8_t *pkt, size_t len, struct ipv6_info *out);
/* Writes the 40-byte fixed header: traffic class 0, the flow label (low 20
 * bits), no extension headers. Returns IPV6_HDR_LEN. */
size_t ipv6_emit(uint8_t *buf, const uint8_t src[IPV6_ADDR_LEN],
                 const uint8_t dst[IPV6_ADDR_LEN], uint8_t proto,
                 uint8_t hop_limit, uint32_t flow, uint16_t payload_len);

#endif
