/* ICMP for IPv4 (RFC 792): parse with the checksum checked once, the
 * datagram an error message quotes, and emit of echo replies and errors. */
#ifndef BERTH_WIRE_ICMP_H
#define BERTH_WIRE_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPPROTO_ICMP_NUM 1u
#define ICMP_HDR_LEN     8u

/* Types and the codes berth acts on (RFC 792, RFC 1122 §3.2.2.1, RFC 1812
 * §5.2.7.1 for the administrative codes). */
#define ICMP_ECHO_REPLY       0u
#define ICMP_DEST_UNREACH     3u
#define ICMP_ECHO             8u
#define ICMP_TIME_EXCEEDED    11u
#define ICMP_PARAM_PROBLEM    12u
#define ICMP_NET_UNREACH      0u
#define ICMP_HOST_UNREACH     1u
#define ICMP_PROTO_UNREACH    2u
#define ICMP_PORT_UNREACH     3u
#define ICMP_FRAG_NEEDED      4u
#define ICMP_SR_FAILED        5u
#define ICMP_NET_ANO          9u  /* network administratively prohibited */
#define ICMP_HOST_ANO         10u /* host administratively prohibited */
#define ICMP_PKT_FILTERED     13u /* communication administratively prohibited */
#define ICMP_UNREACH_CODE_MAX 15u

/* The most of the offending datagram an error we send quotes: its header
 * and data such that the whole ICMP datagram stays within 576 bytes (RFC
 * 1812 §4.3.2.3; RFC 792 asks for the header and 64 bits at least). */
#define ICMP_QUOTE_MAX (576u - 20u - ICMP_HDR_LEN)

struct icmp_info {
    uint8_t type, code;
    uint16_t id, seq;    /* echo and echo reply */
    uint16_t mtu;        /* fragmentation needed: next-hop MTU (RFC 1191) */
    const uint8_t *data; /* after the 8-byte header */
    uint16_t data_len;
};

/* 0, or ICMP_SHORT (under 8 bytes) or BAD_ICMP_CHECKSUM. */
int icmp_parse(const uint8_t *p, size_t len, struct icmp_info *out);

/* What an error message quotes (RFC 792: the original IP header and at
 * least 8 bytes of its data, enough for the ports and a TCP sequence
 * number). */
struct icmp_quote {
    uint32_t src, dst; /* host order */
    uint8_t proto;
    uint16_t total_len; /* the quoted datagram's total length field */
    uint16_t sport, dport;
    uint32_t seq; /* TCP: the quoted sequence number */
};

/* Whether a type carries a quoted datagram: destination unreachable, time
 * exceeded, parameter problem. */
bool icmp_is_error(uint8_t type);
/* 0, or ICMP_BAD_QUOTE: the quoted header is not IPv4, its IHL is out of
 * range, or fewer than 8 bytes follow it. The quoted checksum is not
 * checked (RFC 1812 lets routers change fields before quoting). */
int icmp_quote_parse(const struct icmp_info *m, struct icmp_quote *out);

/* Writes an ICMP message of `type`, `code` and the 4 bytes `rest` (host
 * order; the identifier and sequence of an echo reply, the next-hop MTU
 * of fragmentation needed) with data_len bytes already at buf + 8, and
 * its checksum. Returns 8 + data_len. */
size_t icmp_emit(uint8_t *buf, uint8_t type, uint8_t code, uint32_t rest,
                 size_t data_len);

#endif
