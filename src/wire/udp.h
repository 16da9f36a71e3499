/* UDP header (RFC 768): parse with the length and checksum checked once,
 * emit with the checksum. */
#ifndef BERTH_WIRE_UDP_H
#define BERTH_WIRE_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPPROTO_UDP_NUM 17u
#define UDP_HDR_LEN     8u
/* The largest payload one IPv4 datagram carries: 65535 - 20 - 8. */
#define UDP_MAX_PAYLOAD 65507u
/* Over IPv6 (no jumbograms): a payload length of 65535 less 8. */
#define UDP6_MAX_PAYLOAD 65527u

struct udp_info {
    uint16_t sport, dport;
    const uint8_t *payload; /* points into the packet */
    uint16_t payload_len;   /* from the length field */
};

/* 0, or UDP_BAD_LENGTH (under 8 bytes, or a length field below 8 or beyond
 * len) or BAD_UDP_CHECKSUM. Bytes past the length field are ignored. A
 * zero checksum means none was computed (RFC 768; IPv4 only) and is
 * accepted; check_csum false skips the check (the link verified it). */
int udp_parse(const uint8_t *p, size_t len, uint32_t src, uint32_t dst,
              bool check_csum, struct udp_info *out);
/* Writes the 8-byte header for payload_len bytes already at buf + 8, with
 * the checksum over the IPv4 pseudo-header (0 sent as 0xffff, RFC 768).
 * Returns 8 + payload_len. */
size_t udp_emit(uint8_t *buf, uint16_t sport, uint16_t dport,
                size_t payload_len, uint32_t src, uint32_t dst);
/* Over IPv6 (RFC 8200 §8.1): the same, with the IPv6 pseudo-header, and
 * a zero checksum field is UDP6_NO_CHECKSUM (mandatory over IPv6). */
int udp_parse6(const uint8_t *p, size_t len, const uint8_t *src,
               const uint8_t *dst, bool check_csum, struct udp_info *out);
size_t udp_emit6(uint8_t *buf, uint16_t sport, uint16_t dport,
                 size_t payload_len, const uint8_t *src, const uint8_t *dst);

#endif
