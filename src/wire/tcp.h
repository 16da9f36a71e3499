/* TCP header and options (RFC 9293 §3.1, §3.2; RFC 7323; RFC 2018): parse
 * with every check done once, emit. After tcp_parse succeeds, nothing about
 * the segment can be malformed. */
#ifndef BERTH_WIRE_TCP_H
#define BERTH_WIRE_TCP_H

#include "berth/berth.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TCP_HDR_LEN      20u
#define TCP_MAX_OPTS_LEN 40u
/* The largest value of the 16-bit window field (RFC 9293 §3.1). */
#define TCP_WINDOW_FIELD_MAX 65535u

#define TH_FIN 0x01u
#define TH_SYN 0x02u
#define TH_RST 0x04u
#define TH_PSH 0x08u
#define TH_ACK 0x10u
#define TH_URG 0x20u
#define TH_ECE 0x40u
#define TH_CWR 0x80u

#define TCP_SACK_MAX       4u
#define TCP_SACK_BLOCK_LEN 8u /* bytes per SACK block (RFC 2018 §3) */

struct berth_segment;
struct tcp_opts {
    bool has_mss, has_wscale, sack_ok, has_ts;
    uint16_t mss;
    uint8_t wscale; /* as received; RFC 7323 §2.3 clamps > 14 to 14 later */
    uint32_t ts_val, ts_ecr;
    uint8_t sack_count; /* blocks parsed (up to TCP_SACK_MAX) */
    struct {
        uint32_t start, end;
    } sack[TCP_SACK_MAX];
};

/* Sets o's four option flags to none or to timestamps alone, in one
 * 4-byte store: emit reads the four as one word (opts_ts_only, tcp.c), and
 * a load of bytes written by separate stores is not forwarded from them
 * (it waits for them to reach the cache). */
static inline void tcp_opts_set_ts_alone(struct tcp_opts *o, bool ts)
{
    static const bool ts_alone[4] = {false, false, false, true};
    uint32_t w = 0;
    if (ts)
        memcpy(&w, ts_alone, sizeof w);
    memcpy(o, &w, sizeof w); /* has_mss, has_wscale, sack_ok, has_ts */
}

struct tcp_seg {
    uint16_t sport, dport; /* host order */
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd; /* raw field, not scaled */
    uint16_t urp;
    uint16_t hdr_len; /* bytes, 20..60 */
    struct tcp_opts opts;
    const uint8_t *payload; /* points into the packet */
    uint32_t len;           /* payload bytes (SYN/FIN not counted) */
    bool v6; /* carried over IPv6 (set by the network layer, not parse) */
};

/* Parses seg[0..len) carried from src to dst (host order; the pseudo-header
 * checksum is verified). 0, or the berth_reason, checked in this order:
 * SHORT_PACKET, BAD_DATA_OFFSET, BAD_OPTION (an option whose length byte is
 * missing, < 2, runs past the header, or is wrong for a known kind: MSS 4,
 * WS 3, SACK-permitted 2, TS 10, SACK 2+8n with n >= 1), BAD_IP_LENGTH (len
 * > 65535: no pseudo-header can carry it), BAD_TCP_CHECKSUM, SYN_FIN,
 * SYN_RST. EOL ends the option list; unknown kinds are skipped; a repeated
 * option replaces the earlier one. Never reads outside seg[0..len); *out is
 * written only on success. */
int tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst,
              struct tcp_seg *out);
/* The same; with verify_csum false the checksum is not checked (the link
 * verified it: berth_input_flags' BERTH_IN_CSUM_OK), every other check is. */
int tcp_parse_csum(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst,
                   bool verify_csum, struct tcp_seg *out);

/* The same over IPv6: src and dst the 16-byte addresses, the pseudo-header
 * of RFC 8200 §8.1. Sets out->v6. */
int tcp_parse6(const uint8_t *seg, size_t len, const uint8_t *src,
               const uint8_t *dst, bool verify_csum, struct tcp_seg *out);

/* The options p[0..len) of a header: 0 or BERTH_REASON_BAD_OPTION, as
 * tcp_parse checks them; *o zeroed first, then filled. The common layouts
 * (NOP NOP TS; MSS, SACK-permitted + TS, NOP WS) are read at once; _walk
 * is the general walk alone, which must read every layout the same way
 * (the unit tests compare the two). */
int tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o);
int tcp_parse_options_walk(const uint8_t *p, size_t len, struct tcp_opts *o);

/* The SACK blocks of o that are emitted after `before` bytes of other
 * options: as many as fit in the 40 option bytes (Linux trims the same
 * way). */
static inline size_t tcp_opts_sack_blocks(const struct tcp_opts *o,
                                          size_t before)
{
    size_t n = o->sack_count < TCP_SACK_MAX ? o->sack_count : TCP_SACK_MAX;
    if (n == 0 || before + 4 + TCP_SACK_BLOCK_LEN > TCP_MAX_OPTS_LEN)
        return 0;
    size_t fit = (TCP_MAX_OPTS_LEN - before - 4) / TCP_SACK_BLOCK_LEN;
    return n < fit ? n : fit;
}

/* Bytes the options of o take on the wire, padded to a multiple of 4, laid
 * out as Linux does (tcp_options_write()): MSS; SACK-permitted + TS as
 * 04 02 08 0a, or NOP NOP TS, or NOP NOP SACK-permitted; NOP WS; NOP NOP
 * SACK blocks. The layout follows from which options are set, not from the
 * flags: a SYN sets MSS/SACK-permitted/WS (+TS), other segments TS and SACK
 * blocks, giving Linux's SYN and non-SYN layouts. SACK blocks beyond
 * TCP_SACK_MAX or beyond what fits in 40 bytes are left out (Linux trims
 * the same way: 3 blocks with TS, 4 without). At most TCP_MAX_OPTS_LEN.
 * Inline: the output path asks it for every segment. */
static inline size_t tcp_opts_len(const struct tcp_opts *o)
{
    /* Everything but the SACK blocks: MSS; SACK-permitted + TS, or NOP NOP
     * TS, or NOP NOP SACK-permitted; NOP WS. */
    size_t n = (o->has_mss ? 4u : 0u) + (o->has_wscale ? 4u : 0u);
    if (o->has_ts)
        n += 12;
    else if (o->sack_ok)
        n += 4;
    size_t blocks = tcp_opts_sack_blocks(o, n);
    if (blocks > 0) /* NOP NOP SACK */
        n += 4 + blocks * TCP_SACK_BLOCK_LEN;
    return (n + 3) & ~(size_t)3;
}

/* Writes the header and options of s at buf; s->len payload bytes must
 * already sit at buf + 20 + tcp_opts_len(&s->opts). Computes the checksum
 * over header and payload with the pseudo-header (header + s->len <=
 * 65535). Returns the header length. s->hdr_len and s->payload are
 * ignored; s->flags is written as is. */
size_t tcp_emit(uint8_t *buf, const struct tcp_seg *s, uint32_t src,
                uint32_t dst);
/* The same; with partial, the checksum field holds only the pseudo-header
 * sum (not complemented) for a link that completes it (TSO, NEEDS_CSUM). */
size_t tcp_emit_csum(uint8_t *buf, const struct tcp_seg *s, uint32_t src,
                     uint32_t dst, bool partial);
/* The same over IPv6 (the RFC 8200 §8.1 pseudo-header). */
size_t tcp_emit6(uint8_t *buf, const struct tcp_seg *s, const uint8_t *src,
                 const uint8_t *dst, bool partial);

/* tcp_emit_csum and tcp_emit6 in two steps, from the header's fields as
 * the caller holds them (no struct tcp_seg built first), with the options
 * laid out once: the output path's every segment. tcp_emit_options writes
 * the options of o at buf + 20 and returns the header length, 20 +
 * tcp_opts_len(o); the caller then puts the len payload bytes after the
 * header, and tcp_emit_header (_header6 over IPv6) writes the fixed header
 * (urgent pointer 0) and the checksum as tcp_emit_csum does. The same
 * bytes as the tcp_seg forms (test_tcp_wire compares them). */
size_t tcp_emit_options(uint8_t *buf, const struct tcp_opts *o);
void tcp_emit_header(uint8_t *buf, size_t hdr_len, uint16_t sport,
                     uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                     uint16_t wnd, uint32_t len, uint32_t src, uint32_t dst,
                     bool partial);
void tcp_emit_header6(uint8_t *buf, size_t hdr_len, uint16_t sport,
                      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                      uint16_t wnd, uint32_t len, const uint8_t *src,
                      const uint8_t *dst, bool partial);

/* The public form of a parsed or built segment carried from src to dst
 * (berth_decode(), the event log; the ports are the segment's): decode.c. */
void tcp_seg_public(const struct tcp_seg *seg, struct berth_endpoint src,
                    struct berth_endpoint dst, struct berth_segment *out);

#endif
