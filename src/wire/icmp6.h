/* ICMPv6 (RFC 4443): parse with the pseudo-header checksum checked once,
 * the IPv6 packet an error message quotes, and emit. The message layout is
 * ICMP's (type, code, checksum, 4 bytes), so struct icmp_info serves. */
#ifndef BERTH_WIRE_ICMP6_H
#define BERTH_WIRE_ICMP6_H

#include "wire/icmp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPV6_NH_ICMP6 58u

/* Types (RFC 4443 §2.1) and the codes berth acts on (§3.1). */
#define ICMP6_DEST_UNREACH   1u
#define ICMP6_PACKET_TOO_BIG 2u
#define ICMP6_TIME_EXCEEDED  3u
#define ICMP6_PARAM_PROBLEM  4u
#define ICMP6_ECHO           128u
#define ICMP6_ECHO_REPLY     129u
#define ICMP6_NO_ROUTE       0u
#define ICMP6_ADM_PROHIBITED 1u
#define ICMP6_BEYOND_SCOPE   2u
#define ICMP6_ADDR_UNREACH   3u
#define ICMP6_PORT_UNREACH   4u
#define ICMP6_POLICY_FAIL    5u
#define ICMP6_REJECT_ROUTE   6u
/* RFC 8200 §5: the minimum link MTU; RFC 8201 §4: a Packet Too Big below
 * it never lowers a path's MTU further. */
#define IPV6_MIN_MTU 1280u

/* RFC 4443 §2.4 (c): an error we send quotes as much of the offending
 * packet as fits in the minimum MTU. */
#define ICMP6_QUOTE_MAX (IPV6_MIN_MTU - 40u - ICMP_HDR_LEN)

/* 0, or ICMP_SHORT or BAD_ICMP_CHECKSUM (RFC 4443 §2.3: the checksum
 * covers the IPv6 pseudo-header of src and dst, RFC 8200 §8.1). Packet
 * Too Big's 32-bit MTU is kept in out->mtu, saturated at 65535. */
int icmp6_parse(const uint8_t *p, size_t len, const uint8_t *src,
                const uint8_t *dst, struct icmp_info *out);

/* What an error message quotes: the IPv6 header of a packet we sent and
 * the first 8 bytes of its transport header. */
struct icmp6_quote {
    const uint8_t *src, *dst; /* 16 bytes each, into the message */
    uint8_t proto;
    uint16_t total_len; /* 40 + the quoted payload length field */
    uint16_t sport, dport;
    uint32_t seq; /* TCP: the quoted sequence number */
};
/* 0, or ICMP_BAD_QUOTE: not IPv6, or fewer than 40 + 8 bytes, or an
 * extension header (berth sends none, so such a quote is not ours). */
int icmp6_quote_parse(const struct icmp_info *m, struct icmp6_quote *out);

/* Writes an ICMPv6 message (type, code, the 4 bytes `rest` in host order)
 * with data_len bytes already at buf + 8, and its checksum over the
 * pseudo-header of src and dst. Returns 8 + data_len. */
size_t icmp6_emit(uint8_t *buf, const uint8_t *src, const uint8_t *dst,
                  uint8_t type, uint8_t code, uint32_t rest, size_t data_len);

#endif
