/* TCP header and options parse and emit (RFC 9293 §3.1-3.2, RFC 7323,
 * RFC 2018). Parse is the only place untrusted TCP bytes are checked; after
 * it succeeds the segment is well formed. Emit lays options out as Linux. */
#include "wire/tcp.h"

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

#include <stddef.h>
#include <string.h>

/* Option kinds (RFC 9293 §3.2, RFC 7323 §2-3, RFC 2018 §2-3). */
#define OPT_EOL       0u
#define OPT_NOP       1u
#define OPT_MSS       2u
#define OPT_WS        3u
#define OPT_SACK_PERM 4u
#define OPT_SACK      5u
#define OPT_TS        8u

#define OPT_MSS_LEN        4u
#define OPT_WS_LEN         3u
#define OPT_SACK_PERM_LEN  2u
#define OPT_TS_LEN         10u
#define OPT_SACK_BLOCK_LEN TCP_SACK_BLOCK_LEN

/* Reads one option of a known kind whose length byte is olen; p points at
 * the kind byte and p[0..olen) is inside the header. 0 or BAD_OPTION. */
static int parse_known_option(const uint8_t *p, size_t olen, struct tcp_opts *o)
{
    switch (p[0]) {
    case OPT_MSS: /* RFC 9293 §3.2: kind 2, length 4 */
        if (olen != OPT_MSS_LEN)
            return BERTH_REASON_BAD_OPTION;
        o->has_mss = true;
        o->mss = load_be16(p + 2);
        return 0;
    case OPT_WS: /* RFC 7323 §2.2: kind 3, length 3 */
        if (olen != OPT_WS_LEN)
            return BERTH_REASON_BAD_OPTION;
        o->has_wscale = true;
        o->wscale = p[2];
        return 0;
    case OPT_SACK_PERM: /* RFC 2018 §2: kind 4, length 2 */
        if (olen != OPT_SACK_PERM_LEN)
            return BERTH_REASON_BAD_OPTION;
        o->sack_ok = true;
        return 0;
    case OPT_TS: /* RFC 7323 §3.2: kind 8, length 10 */
        if (olen != OPT_TS_LEN)
            return BERTH_REASON_BAD_OPTION;
        o->has_ts = true;
        o->ts_val = load_be32(p + 2);
        o->ts_ecr = load_be32(p + 6);
        return 0;
    case OPT_SACK: { /* RFC 2018 §3: kind 5, length 2 + 8n, n >= 1 */
        if (olen < 2 + OPT_SACK_BLOCK_LEN ||
            (olen - 2) % OPT_SACK_BLOCK_LEN != 0)
            return BERTH_REASON_BAD_OPTION;
        /* 40 option bytes hold at most 4 blocks, so all of them fit. */
        size_t n = (olen - 2) / OPT_SACK_BLOCK_LEN;
        o->sack_count = (uint8_t)n;
        for (size_t i = 0; i < n; i++) {
            o->sack[i].start = load_be32(p + 2 + i * OPT_SACK_BLOCK_LEN);
            o->sack[i].end = load_be32(p + 6 + i * OPT_SACK_BLOCK_LEN);
        }
        return 0;
    }
    default: /* unknown kinds: skipped by their length (RFC 9293 §3.1) */
        return 0;
    }
}

/* Walks the options in p[0..len) into o, which starts zeroed. A later
 * option of the same kind replaces an earlier one. */
static int walk_options(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == OPT_EOL) /* RFC 9293 §3.2: end of the list */
            break;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* Every other kind has a length byte counting kind and length
         * (RFC 9293 §3.2); it must exist, be >= 2 and stay in the header,
         * or the rest of the list cannot be found (RFC 1122 §4.2.2.5). */
        if (len - i < 2)
            return BERTH_REASON_BAD_OPTION;
        size_t olen = p[i + 1];
        if (olen < 2 || olen > len - i)
            return BERTH_REASON_BAD_OPTION;
        int err = parse_known_option(p + i, olen, o);
        if (err != 0)
            return err;
        i += olen;
    }
    return 0;
}

/* The first words of the two layouts read at once (RFC 7323 Appendix A;
 * Linux's tcp_options_write() and write_options() below send them). */
#define OPTW_NOP_NOP_TS                                                        \
    (OPT_NOP << 24 | OPT_NOP << 16 | OPT_TS << 8 | OPT_TS_LEN)
#define OPTW_SACKPERM_TS                                                       \
    (OPT_SACK_PERM << 24 | OPT_SACK_PERM_LEN << 16 | OPT_TS << 8 | OPT_TS_LEN)
#define OPTW_MSS (OPT_MSS << 8 | OPT_MSS_LEN) /* top half */
#define OPTW_NOP_WS                                                            \
    (OPT_NOP << 16 | OPT_WS << 8 | OPT_WS_LEN) /* top 3 bytes                  \
                                                */

static inline int parse_options(const uint8_t *p, size_t len,
                                struct tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    /* The layouts nearly every segment carries are read at once, as BSD's
     * tcp_dooptions tests for TCPOPT_TSTAMP_HDR and Linux's
     * tcp_parse_aligned_timestamp: NOP NOP TS on every segment of a
     * connection with timestamps (RFC 7323 Appendix A), and Linux's SYN
     * and SYN-ACK, MSS, SACK-permitted + TS, NOP WS. Every byte of the
     * layout is checked, kinds and lengths, so the walk would read it the
     * same way (test_tcp_wire compares the two over many layouts). */
    if (len == 2u + OPT_TS_LEN && load_be32(p) == OPTW_NOP_NOP_TS) {
        o->has_ts = true;
        o->ts_val = load_be32(p + 4);
        o->ts_ecr = load_be32(p + 8);
        return 0;
    }
    if (len == 20u && load_be32(p) >> 16 == OPTW_MSS &&
        load_be32(p + 4) == OPTW_SACKPERM_TS &&
        load_be32(p + 16) >> 8 == OPTW_NOP_WS) {
        o->has_mss = true;
        o->mss = load_be16(p + 2);
        o->sack_ok = true;
        o->has_ts = true;
        o->ts_val = load_be32(p + 8);
        o->ts_ecr = load_be32(p + 12);
        o->has_wscale = true;
        o->wscale = p[19];
        return 0;
    }
    return walk_options(p, len, o);
}

int tcp_parse_options(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    return parse_options(p, len, o);
}

int tcp_parse_options_walk(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    return walk_options(p, len, o);
}

/* Checks run in this order, and the first failure is returned:
 *   1. at least the 20-byte header          SHORT_PACKET
 *   2. 20 <= data offset * 4 <= len          BAD_DATA_OFFSET
 *   3. options well formed                   BAD_OPTION
 *   4. length fits the pseudo-header         BAD_IP_LENGTH
 *   5. checksum with pseudo-header           BAD_TCP_CHECKSUM
 *   6. not SYN+FIN                           SYN_FIN
 *   7. not SYN+RST                           SYN_RST
 * Structure first, so that a malformed segment is named for its structure
 * whatever its checksum; flags last, so that only an intact segment is
 * blamed for an impossible flag combination. */
int tcp_parse(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst,
              struct tcp_seg *out)
{
    return tcp_parse_csum(seg, len, src, dst, true, out);
}

/* The pseudo-header of either family: computed once the length is known
 * to fit. */
struct pseudo {
    bool v6;
    uint32_t src4, dst4;
    const uint8_t *src6, *dst6;
};

static uint64_t pseudo_sum(const struct pseudo *p, size_t len)
{
    if (p->v6)
        return csum_pseudo_ipv6(p->src6, p->dst6, IPPROTO_TCP_NUM,
                                (uint32_t)len);
    return csum_pseudo_ipv4(p->src4, p->dst4, IPPROTO_TCP_NUM, (uint16_t)len);
}

/* Inline in each entry point (always_inline: gcc otherwise splits it and
 * calls the rest, spilling six registers per segment). */
__attribute__((always_inline)) static inline int
parse_seg(const uint8_t *seg, size_t len, const struct pseudo *ph,
          bool verify_csum, struct tcp_seg *out);

/* sum plus the segment seg[0..len) with a header of hdr_len bytes: the
 * usual header (20 bytes and NOP NOP TS) is summed at its constant
 * length, without the loop. */
static inline uint64_t seg_sum(uint64_t sum, const uint8_t *seg, size_t hdr_len,
                               size_t len)
{
    if (hdr_len == TCP_HDR_LEN + 2u + OPT_TS_LEN)
        return csum_add_head(sum, seg, TCP_HDR_LEN + 2u + OPT_TS_LEN, len);
    return csum_add(sum, seg, len);
}

int tcp_parse_csum(const uint8_t *seg, size_t len, uint32_t src, uint32_t dst,
                   bool verify_csum, struct tcp_seg *out)
{
    struct pseudo ph = {.src4 = src, .dst4 = dst};
    return parse_seg(seg, len, &ph, verify_csum, out);
}

int tcp_parse6(const uint8_t *seg, size_t len, const uint8_t *src,
               const uint8_t *dst, bool verify_csum, struct tcp_seg *out)
{
    struct pseudo ph = {.v6 = true, .src6 = src, .dst6 = dst};
    return parse_seg(seg, len, &ph, verify_csum, out);
}

__attribute__((always_inline)) static inline int
parse_seg(const uint8_t *seg, size_t len, const struct pseudo *ph,
          bool verify_csum, struct tcp_seg *out)
{
    if (len < TCP_HDR_LEN)
        return BERTH_REASON_SHORT_PACKET;
    size_t hdr_len = (size_t)(seg[12] >> 4) * 4;
    if (hdr_len < TCP_HDR_LEN || hdr_len > len)
        return BERTH_REASON_BAD_DATA_OFFSET;
    /* Timestamps alone (NOP NOP TS, parse_options' first fast path) need
     * no walk and cannot be malformed: they are read into *out at the end,
     * not into a struct to copy. */
    const uint8_t *op = seg + TCP_HDR_LEN;
    bool ts_only = hdr_len == TCP_HDR_LEN + 2u + OPT_TS_LEN &&
                   load_be32(op) == OPTW_NOP_NOP_TS;
    struct tcp_opts opts;
    if (!ts_only) {
        int err = parse_options(op, hdr_len - TCP_HDR_LEN, &opts);
        if (err != 0)
            return err;
    }
    /* IPv4's pseudo-header carries the length in 16 bits, and an IPv4
     * datagram can never hold more; IPv6's has 32 bits (RFC 8200 §8.1),
     * but without jumbograms its payload length is 16 bits too. */
    if (len > UINT16_MAX)
        return BERTH_REASON_BAD_IP_LENGTH;
    uint64_t sum = pseudo_sum(ph, len);
    if (verify_csum && csum_fold(seg_sum(sum, seg, hdr_len, len)) != 0)
        return BERTH_REASON_BAD_TCP_CHECKSUM;
    uint8_t flags = seg[13];
    /* No TCP sends these (Linux drops both); rejecting them here means the
     * state machine never has to decide which flag wins. */
    if ((flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN))
        return BERTH_REASON_SYN_FIN;
    if ((flags & (TH_SYN | TH_RST)) == (TH_SYN | TH_RST))
        return BERTH_REASON_SYN_RST;

    out->sport = load_be16(seg);
    out->dport = load_be16(seg + 2);
    out->seq = load_be32(seg + 4);
    out->ack = load_be32(seg + 8);
    out->flags = flags;
    out->wnd = load_be16(seg + 14);
    out->urp = load_be16(seg + 18);
    out->hdr_len = (uint16_t)hdr_len;
    out->payload = seg + hdr_len;
    out->len = (uint32_t)(len - hdr_len);
    if (ts_only)
        out->opts = (struct tcp_opts){.has_ts = true,
                                      .ts_val = load_be32(op + 4),
                                      .ts_ecr = load_be32(op + 8)};
    else
        out->opts = opts;
    out->v6 = ph->v6;
    return 0;
}

/* Writes the options of o at p in Linux's order (tcp_options_write()):
 * MSS; SACK-permitted folded into the TS word's padding, or NOP NOP TS, or
 * NOP NOP SACK-permitted; NOP WS; NOP NOP SACK. A SYN carries only the
 * first kinds and other segments only TS and SACK, so the one order gives
 * Linux's layout for both. Returns the bytes written, before padding. */
static size_t write_options(uint8_t *p, const struct tcp_opts *o)
{
    uint8_t *start = p;
    if (o->has_mss) {
        *p++ = OPT_MSS;
        *p++ = OPT_MSS_LEN;
        store_be16(p, o->mss);
        p += 2;
    }
    if (o->has_ts) {
        if (o->sack_ok) {
            *p++ = OPT_SACK_PERM;
            *p++ = OPT_SACK_PERM_LEN;
        } else {
            *p++ = OPT_NOP;
            *p++ = OPT_NOP;
        }
        *p++ = OPT_TS;
        *p++ = OPT_TS_LEN;
        store_be32(p, o->ts_val);
        store_be32(p + 4, o->ts_ecr);
        p += 8;
    } else if (o->sack_ok) {
        *p++ = OPT_NOP;
        *p++ = OPT_NOP;
        *p++ = OPT_SACK_PERM;
        *p++ = OPT_SACK_PERM_LEN;
    }
    if (o->has_wscale) {
        *p++ = OPT_NOP;
        *p++ = OPT_WS;
        *p++ = OPT_WS_LEN;
        *p++ = o->wscale;
    }
    size_t blocks = tcp_opts_sack_blocks(o, (size_t)(p - start));
    if (blocks > 0) {
        *p++ = OPT_NOP;
        *p++ = OPT_NOP;
        *p++ = OPT_SACK;
        *p++ = (uint8_t)(2 + blocks * OPT_SACK_BLOCK_LEN);
        for (size_t i = 0; i < blocks; i++) {
            store_be32(p, o->sack[i].start);
            store_be32(p + 4, o->sack[i].end);
            p += OPT_SACK_BLOCK_LEN;
        }
    }
    return (size_t)(p - start);
}

size_t tcp_emit(uint8_t *buf, const struct tcp_seg *s, uint32_t src,
                uint32_t dst)
{
    return tcp_emit_csum(buf, s, src, dst, false);
}

/* The options of o at buf + TCP_HDR_LEN, padded; returns the header
 * length. Inline in each entry point, as parse_seg. */
__attribute__((always_inline)) static inline size_t
emit_opts(uint8_t *buf, const struct tcp_opts *o);
/* The fixed header of a segment whose options (hdr_len bytes with the
 * header) and len payload bytes are in place at buf, and its checksum. */
__attribute__((always_inline)) static inline void
emit_hdr(uint8_t *buf, size_t hdr_len, uint16_t sport, uint16_t dport,
         uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, uint16_t urp,
         uint32_t len, const struct pseudo *ph, bool partial);

size_t tcp_emit_csum(uint8_t *buf, const struct tcp_seg *s, uint32_t src,
                     uint32_t dst, bool partial)
{
    struct pseudo ph = {.src4 = src, .dst4 = dst};
    size_t hl = emit_opts(buf, &s->opts);
    emit_hdr(buf, hl, s->sport, s->dport, s->seq, s->ack, s->flags, s->wnd,
             s->urp, s->len, &ph, partial);
    return hl;
}

size_t tcp_emit6(uint8_t *buf, const struct tcp_seg *s, const uint8_t *src,
                 const uint8_t *dst, bool partial)
{
    struct pseudo ph = {.v6 = true, .src6 = src, .dst6 = dst};
    size_t hl = emit_opts(buf, &s->opts);
    emit_hdr(buf, hl, s->sport, s->dport, s->seq, s->ack, s->flags, s->wnd,
             s->urp, s->len, &ph, partial);
    return hl;
}

size_t tcp_emit_options(uint8_t *buf, const struct tcp_opts *o)
{
    return emit_opts(buf, o);
}

void tcp_emit_header(uint8_t *buf, size_t hdr_len, uint16_t sport,
                     uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                     uint16_t wnd, uint32_t len, uint32_t src, uint32_t dst,
                     bool partial)
{
    struct pseudo ph = {.src4 = src, .dst4 = dst};
    emit_hdr(buf, hdr_len, sport, dport, seq, ack, flags, wnd, 0, len, &ph,
             partial);
}

void tcp_emit_header6(uint8_t *buf, size_t hdr_len, uint16_t sport,
                      uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                      uint16_t wnd, uint32_t len, const uint8_t *src,
                      const uint8_t *dst, bool partial)
{
    struct pseudo ph = {.v6 = true, .src6 = src, .dst6 = dst};
    emit_hdr(buf, hdr_len, sport, dport, seq, ack, flags, wnd, 0, len, &ph,
             partial);
}

/* True when o asks for timestamps alone (no MSS, WS, SACK-permitted or
 * SACK blocks): every segment of an established connection with
 * timestamps and nothing held out of order. */
_Static_assert(offsetof(struct tcp_opts, has_mss) == 0 &&
                   offsetof(struct tcp_opts, has_wscale) == 1 &&
                   offsetof(struct tcp_opts, sack_ok) == 2 &&
                   offsetof(struct tcp_opts, has_ts) == 3,
               "opts_ts_only reads the four option flags as one word, "
               "tcp_opts_set_ts_alone writes them so");
static inline bool opts_ts_only(const struct tcp_opts *o)
{
    /* The four flags as one word against has_ts alone (a bool is 0 or
     * 1): one compare, where the four tests took ten instructions a
     * segment. */
    static const bool ts_alone[4] = {false, false, false, true};
    uint32_t flags, want;
    memcpy(&flags, o, sizeof flags); /* the struct's first 4 bytes */
    memcpy(&want, ts_alone, sizeof want);
    return flags == want && o->sack_count == 0;
}

__attribute__((always_inline)) static inline size_t
emit_opts(uint8_t *buf, const struct tcp_opts *o)
{
    if (opts_ts_only(o)) {
        /* NOP NOP TS (RFC 7323 Appendix A), three word stores: what
         * write_options writes for these options, byte for byte. */
        store_be32(buf + TCP_HDR_LEN, OPTW_NOP_NOP_TS);
        store_be32(buf + TCP_HDR_LEN + 4, o->ts_val);
        store_be32(buf + TCP_HDR_LEN + 8, o->ts_ecr);
        return TCP_HDR_LEN + 2u + OPT_TS_LEN;
    }
    /* write_options writes what tcp_opts_len counts, in the same parts:
     * the length is what it wrote, padded to a word. Padding, if a layout
     * ever needs it, is EOL bytes (RFC 9293 §3.1): fewer than 4, so a
     * loop, not a call. */
    size_t written = write_options(buf + TCP_HDR_LEN, o);
    size_t opts_len = (written + 3) & ~(size_t)3;
    for (size_t i = written; i < opts_len; i++)
        buf[TCP_HDR_LEN + i] = 0;
    return TCP_HDR_LEN + opts_len;
}

__attribute__((always_inline)) static inline void
emit_hdr(uint8_t *buf, size_t hdr_len, uint16_t sport, uint16_t dport,
         uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, uint16_t urp,
         uint32_t len, const struct pseudo *ph, bool partial)
{
    /* The fixed header as five big-endian words (RFC 9293 §3.1): ports;
     * sequence; acknowledgment; data offset, flags and window; checksum
     * (zero while it is summed) and urgent pointer. */
    uint32_t ports = (uint32_t)sport << 16 | dport;
    uint32_t ofw = (uint32_t)(hdr_len / 4) << 28 | (uint32_t)flags << 16 | wnd;
    store_be32(buf, ports);
    store_be32(buf + 4, seq);
    store_be32(buf + 8, ack);
    store_be32(buf + 12, ofw);
    store_be32(buf + 16, urp);

    size_t seg_len = hdr_len + len;
    uint64_t sum = pseudo_sum(ph, seg_len);
    /* Partial: the pseudo-header's sum folded, not complemented; the link
     * adds the segment's bytes and complements (Linux's CHECKSUM_PARTIAL,
     * virtio's NEEDS_CSUM). */
    if (partial) {
        store_be16(buf + 16, (uint16_t)~csum_fold(sum));
        return;
    }
    /* The fixed header summed from the words just stored, not read back:
     * 8-byte loads spanning two of the 4-byte stores are not forwarded and
     * wait for both to reach the cache. A 32-bit word is congruent (mod
     * 0xffff) to the sum of its 16-bit halves, as in the pseudo-header.
     * The options are read back a word at a time (csum_sum_host32), the
     * text as it was copied. The sum differs from the segment's read whole
     * only by multiples of 0xffff, and neither is 0 (the pseudo-header's
     * protocol): the same checksum. */
    uint64_t host =
        hdr_len == TCP_HDR_LEN + 2u + OPT_TS_LEN /* unrolled */
            ? csum_sum_host32(buf + TCP_HDR_LEN, 2u + OPT_TS_LEN)
            : csum_sum_host32(buf + TCP_HDR_LEN, hdr_len - TCP_HDR_LEN);
    if (len > 0)
        host = csum_add_carry(host, csum_sum_host(buf + hdr_len, len));
    sum = csum_add_carry(sum, (uint64_t)ports + seq + ack + ofw + urp);
    store_be16(buf + 16, csum_fold(csum_add_carry(sum, csum_host_to_be(host))));
}
