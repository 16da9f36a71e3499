/* Unit tests for the TCP header and options (src/wire/tcp.c): emit → parse
 * round trips over option combinations, Linux's byte layout, each rejection
 * reason from a real malformed segment, and seeded mutations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define SRC 0xc6120001u /* 198.18.0.1 */
#define DST 0xc6120002u /* 198.18.0.2 */

/* Recomputes the TCP checksum of seg[0..len) from SRC to DST. */
static void fix_tcp_checksum(uint8_t *seg, size_t len)
{
    seg[16] = seg[17] = 0;
    uint64_t sum = csum_pseudo_ipv4(SRC, DST, 6, (uint16_t)len);
    uint16_t c = csum_fold(csum_add(sum, seg, len));
    seg[16] = (uint8_t)(c >> 8);
    seg[17] = (uint8_t)c;
}

/* A segment with raw option bytes (opts_len a multiple of 4 up to 40, or
 * any length when the data offset is set by hand afterwards), payload of
 * pattern bytes, and a correct checksum. Returns its length. */
static size_t make_raw_segment(uint8_t *seg, uint8_t flags, const uint8_t *opts,
                               size_t opts_len, size_t payload_len)
{
    size_t hdr = TCP_HDR_LEN + opts_len;
    memset(seg, 0, TCP_HDR_LEN);
    seg[0] = 0x30; /* sport 12345 */
    seg[1] = 0x39;
    seg[3] = 80;
    seg[4] = 0x11; /* seq 0x11223344 */
    seg[5] = 0x22;
    seg[6] = 0x33;
    seg[7] = 0x44;
    seg[12] = (uint8_t)(hdr / 4 << 4);
    seg[13] = flags;
    seg[14] = 0xff; /* window 65535 */
    seg[15] = 0xff;
    if (opts_len > 0)
        memcpy(seg + TCP_HDR_LEN, opts, opts_len);
    for (size_t i = 0; i < payload_len; i++)
        seg[hdr + i] = (uint8_t)(i + 1);
    fix_tcp_checksum(seg, hdr + payload_len);
    return hdr + payload_len;
}

/* Parses a segment built from option bytes; returns the reason. */
static int parse_with_options(const uint8_t *opts, size_t opts_len,
                              struct tcp_seg *out)
{
    uint8_t seg[100];
    size_t n = make_raw_segment(seg, TH_ACK, opts, opts_len, 3);
    return tcp_parse(seg, n, SRC, DST, out);
}

/* ---- emit: Linux's layout, byte for byte ---------------------------- */

/* Emits s with no payload into buf and checks the options against want. */
static void check_emitted_options(const struct tcp_seg *s, const uint8_t *want,
                                  size_t want_len)
{
    uint8_t buf[TCP_HDR_LEN + TCP_MAX_OPTS_LEN];
    assert_int_equal(tcp_opts_len(&s->opts), want_len);
    assert_int_equal(tcp_emit(buf, s, SRC, DST), TCP_HDR_LEN + want_len);
    assert_int_equal(buf[12] >> 4, (TCP_HDR_LEN + want_len) / 4);
    if (want_len > 0)
        assert_memory_equal(buf + TCP_HDR_LEN, want, want_len);
}

static struct tcp_seg syn_segment(void)
{
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.sport = 40000;
    s.dport = 80;
    s.seq = 0x01020304;
    s.flags = TH_SYN;
    s.wnd = 64240;
    s.opts.has_mss = true;
    s.opts.mss = 1460;
    return s;
}

/* Linux SYN: MSS, SACK-permitted folded into the TS word, NOP WS. */
static void tcp_emit_syn_options_match_linux_layout(void **state)
{
    (void)state;
    struct tcp_seg s = syn_segment();
    s.opts.sack_ok = s.opts.has_ts = s.opts.has_wscale = true;
    s.opts.ts_val = 0xa1b2c3d4;
    s.opts.ts_ecr = 0;
    s.opts.wscale = 7;
    static const uint8_t want[] = {
        0x02, 0x04, 0x05, 0xb4,                         /* MSS 1460 */
        0x04, 0x02, 0x08, 0x0a, 0xa1, 0xb2, 0xc3, 0xd4, /* SACKOK, TS */
        0x00, 0x00, 0x00, 0x00,                         /* TS ecr */
        0x01, 0x03, 0x03, 0x07,                         /* NOP, WS 7 */
    };
    check_emitted_options(&s, want, sizeof(want));
}

static void tcp_emit_syn_with_ts_without_sack_uses_nop_nop_ts(void **state)
{
    (void)state;
    struct tcp_seg s = syn_segment();
    s.opts.has_ts = s.opts.has_wscale = true;
    s.opts.ts_val = 1;
    s.opts.ts_ecr = 2;
    s.opts.wscale = 14;
    static const uint8_t want[] = {
        0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03, 0x03, 0x0e,
    };
    check_emitted_options(&s, want, sizeof(want));
}

static void
tcp_emit_syn_with_sack_without_ts_uses_nop_nop_sackperm(void **state)
{
    (void)state;
    struct tcp_seg s = syn_segment();
    s.opts.sack_ok = s.opts.has_wscale = true;
    s.opts.wscale = 0;
    static const uint8_t want[] = {
        0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02, 0x01, 0x03, 0x03, 0x00,
    };
    check_emitted_options(&s, want, sizeof(want));
}

static void tcp_emit_syn_with_mss_only(void **state)
{
    (void)state;
    struct tcp_seg s = syn_segment();
    s.opts.mss = 536;
    static const uint8_t want[] = {0x02, 0x04, 0x02, 0x18};
    check_emitted_options(&s, want, sizeof(want));
}

/* Linux established segment: NOP NOP TS, then NOP NOP SACK. */
static void tcp_emit_ack_options_match_linux_layout(void **state)
{
    (void)state;
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.flags = TH_ACK;
    s.opts.has_ts = true;
    s.opts.ts_val = 0x11111111;
    s.opts.ts_ecr = 0x22222222;
    s.opts.sack_count = 2;
    s.opts.sack[0].start = 0x0a0b0c0d;
    s.opts.sack[0].end = 0x0a0b0c0e;
    s.opts.sack[1].start = 5;
    s.opts.sack[1].end = 6;
    static const uint8_t want[] = {
        0x01, 0x01, 0x08, 0x0a, 0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22,
        0x22, 0x01, 0x01, 0x05, 0x12, 0x0a, 0x0b, 0x0c, 0x0d, 0x0a, 0x0b,
        0x0c, 0x0e, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06,
    };
    check_emitted_options(&s, want, sizeof(want));
}

static void tcp_emit_without_options_is_20_bytes(void **state)
{
    (void)state;
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.flags = TH_RST | TH_ACK;
    check_emitted_options(&s, NULL, 0);
}

/* 40 option bytes hold 3 SACK blocks next to TS, 4 without (as Linux). */
static void tcp_emit_trims_sack_blocks_to_fit_option_space(void **state)
{
    (void)state;
    struct tcp_opts o;
    memset(&o, 0, sizeof(o));
    o.sack_count = TCP_SACK_MAX;
    assert_int_equal(tcp_opts_len(&o), 4 + 4 * 8);
    o.has_ts = true;
    assert_int_equal(tcp_opts_len(&o), 12 + 4 + 3 * 8);
    o.sack_count = 200; /* nonsense counts are clamped, never overrun */
    assert_int_equal(tcp_opts_len(&o), 40);
    o.has_mss = o.has_wscale = o.sack_ok = true;
    assert_int_equal(tcp_opts_len(&o), 20 + 4 + 2 * 8);

    uint8_t buf[TCP_HDR_LEN + TCP_MAX_OPTS_LEN];
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.opts = o;
    assert_int_equal(tcp_emit(buf, &s, SRC, DST), 60);
    struct tcp_seg p;
    assert_int_equal(tcp_parse(buf, 60, SRC, DST, &p), 0);
    assert_int_equal(p.opts.sack_count, 2);
}

/* RFC 9293 §3.1: every field in place, checksum over header + payload. */
static void tcp_emit_writes_header_fields_and_checksum(void **state)
{
    (void)state;
    uint8_t buf[TCP_HDR_LEN + 12 + 5];
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.sport = 0xabcd;
    s.dport = 0x1234;
    s.seq = 0xdeadbeef;
    s.ack = 0x01020304;
    s.flags = TH_PSH | TH_ACK;
    s.wnd = 0x5678;
    s.urp = 0x9abc;
    s.opts.has_ts = true;
    s.len = 5;
    memcpy(buf + TCP_HDR_LEN + 12, "hello", 5);
    assert_int_equal(tcp_emit(buf, &s, SRC, DST), 32);
    static const uint8_t want[] = {0xab, 0xcd, 0x12, 0x34, 0xde, 0xad,
                                   0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
                                   0x80, 0x18, 0x56, 0x78};
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(load_be16(buf + 18), 0x9abc);
    uint64_t sum = csum_pseudo_ipv4(SRC, DST, 6, sizeof(buf));
    assert_int_equal(csum_fold(csum_add(sum, buf, sizeof(buf))), 0);
}

/* The output path's emit in two steps from fields (tcp_emit_options, then
 * tcp_emit_header or _header6, the payload placed between) writes the
 * very bytes tcp_emit_csum and tcp_emit6 write for the same segment,
 * over seeded random headers, option sets (SACK blocks 0 to 4, trimmed or
 * not), payloads, both families and both checksum kinds. The fields form
 * gets options whose unused fields (MSS and WS values without their flag,
 * SACK blocks beyond the count, timestamps without has_ts) hold garbage:
 * conn_out leaves those unset, so emit must not read them. */
static void tcp_emit_in_two_steps_matches_tcp_emit(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 0x5e9f1e1d);
    static const uint8_t src6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t dst6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
    unsigned with_sack = 0, with_ts = 0, syn_layout = 0;
    for (int round = 0; round < 20000; round++) {
        struct tcp_seg s;
        memset(&s, 0, sizeof s);
        s.sport = (uint16_t)rng_next(&rng);
        s.dport = (uint16_t)rng_next(&rng);
        s.seq = (uint32_t)rng_next(&rng);
        s.ack = (uint32_t)rng_next(&rng);
        s.flags = (uint8_t)rng_next(&rng);
        s.wnd = (uint16_t)rng_next(&rng);
        uint32_t r = (uint32_t)rng_next(&rng);
        s.opts.has_ts = r & 1;
        if (r & 2) { /* a SYN's options */
            s.opts.has_mss = true;
            s.opts.mss = (uint16_t)rng_next(&rng);
            s.opts.has_wscale = (r & 4) != 0;
            s.opts.wscale = (uint8_t)(rng_next(&rng) % 15);
            s.opts.sack_ok = (r & 8) != 0;
            syn_layout++;
        } else {
            s.opts.sack_count = (uint8_t)((r >> 4) % 5);
        }
        if (s.opts.has_ts) {
            s.opts.ts_val = (uint32_t)rng_next(&rng);
            s.opts.ts_ecr = (uint32_t)rng_next(&rng);
            with_ts++;
        }
        for (unsigned i = 0; i < s.opts.sack_count; i++) {
            s.opts.sack[i].start = (uint32_t)rng_next(&rng);
            s.opts.sack[i].end = (uint32_t)rng_next(&rng);
        }
        with_sack += s.opts.sack_count > 0;
        s.len = (uint32_t)(rng_next(&rng) % 65);
        bool v6 = (r >> 8) & 1, partial = (r >> 9) & 1;

        struct tcp_opts o;
        memset(&o, 0xa5, sizeof o);
        o.has_mss = s.opts.has_mss;
        o.has_wscale = s.opts.has_wscale;
        o.sack_ok = s.opts.sack_ok;
        o.has_ts = s.opts.has_ts;
        o.sack_count = s.opts.sack_count;
        if (o.has_mss)
            o.mss = s.opts.mss;
        if (o.has_wscale)
            o.wscale = s.opts.wscale;
        if (o.has_ts) {
            o.ts_val = s.opts.ts_val;
            o.ts_ecr = s.opts.ts_ecr;
        }
        for (unsigned i = 0; i < o.sack_count; i++)
            o.sack[i] = s.opts.sack[i];

        uint8_t a[TCP_HDR_LEN + TCP_MAX_OPTS_LEN + 64];
        uint8_t b[sizeof a];
        size_t hl = TCP_HDR_LEN + tcp_opts_len(&s.opts);
        assert_int_equal(TCP_HDR_LEN + tcp_opts_len(&o), hl);
        memset(a, 0x5a, sizeof a);
        for (uint32_t i = 0; i < s.len; i++)
            a[hl + i] = (uint8_t)rng_next(&rng);
        memcpy(b, a, sizeof a);
        size_t ha, hb = tcp_emit_options(b, &o);
        if (v6) {
            ha = tcp_emit6(a, &s, src6, dst6, partial);
            tcp_emit_header6(b, hb, s.sport, s.dport, s.seq, s.ack, s.flags,
                             s.wnd, s.len, src6, dst6, partial);
        } else {
            ha = tcp_emit_csum(a, &s, SRC, DST, partial);
            tcp_emit_header(b, hb, s.sport, s.dport, s.seq, s.ack, s.flags,
                            s.wnd, s.len, SRC, DST, partial);
        }
        assert_int_equal(ha, hl);
        assert_int_equal(hb, hl);
        assert_memory_equal(a, b, sizeof a);
    }
    assert_true(with_sack > 1000 && with_ts > 1000 && syn_layout > 1000);
}

/* ---- round trips --------------------------------------------------- */

static void check_opts_equal(const struct tcp_opts *got,
                             const struct tcp_opts *want, size_t sacks)
{
    assert_int_equal(got->has_mss, want->has_mss);
    assert_int_equal(got->has_wscale, want->has_wscale);
    assert_int_equal(got->sack_ok, want->sack_ok);
    assert_int_equal(got->has_ts, want->has_ts);
    if (want->has_mss)
        assert_int_equal(got->mss, want->mss);
    if (want->has_wscale)
        assert_int_equal(got->wscale, want->wscale);
    if (want->has_ts) {
        assert_int_equal(got->ts_val, want->ts_val);
        assert_int_equal(got->ts_ecr, want->ts_ecr);
    }
    assert_int_equal(got->sack_count, sacks);
    for (size_t i = 0; i < sacks; i++) {
        assert_int_equal(got->sack[i].start, want->sack[i].start);
        assert_int_equal(got->sack[i].end, want->sack[i].end);
    }
}

/* Every combination of MSS, WS, SACK-permitted, TS and 0..4 SACK blocks,
 * on SYN and non-SYN segments, with random values and payloads. */
static void
tcp_emit_then_parse_round_trips_all_option_combinations(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 2024);
    uint8_t buf[TCP_HDR_LEN + TCP_MAX_OPTS_LEN + 1500];
    for (unsigned combo = 0; combo < 16 * 5 * 2; combo++) {
        for (int rep = 0; rep < 20; rep++) {
            struct tcp_seg s;
            memset(&s, 0, sizeof(s));
            s.sport = (uint16_t)rng_next(&rng);
            s.dport = (uint16_t)rng_next(&rng);
            s.seq = (uint32_t)rng_next(&rng);
            s.ack = (uint32_t)rng_next(&rng);
            s.flags = combo & 1 ? TH_SYN | (rep & 1 ? TH_ACK : 0)
                                : (uint8_t)(rng_next(&rng) & 0xfd);
            s.wnd = (uint16_t)rng_next(&rng);
            s.urp = (uint16_t)rng_next(&rng);
            s.opts.has_mss = combo >> 1 & 1;
            s.opts.has_wscale = combo >> 2 & 1;
            s.opts.sack_ok = combo >> 3 & 1;
            s.opts.has_ts = combo >> 4 & 1;
            s.opts.sack_count = (uint8_t)((combo >> 5) % 5);
            s.opts.mss = (uint16_t)rng_next(&rng);
            s.opts.wscale = (uint8_t)rng_next(&rng);
            s.opts.ts_val = (uint32_t)rng_next(&rng);
            s.opts.ts_ecr = (uint32_t)rng_next(&rng);
            for (size_t i = 0; i < TCP_SACK_MAX; i++) {
                s.opts.sack[i].start = (uint32_t)rng_next(&rng);
                s.opts.sack[i].end = (uint32_t)rng_next(&rng);
            }
            if ((s.flags & (TH_SYN | TH_FIN)) == (TH_SYN | TH_FIN))
                s.flags &= (uint8_t)~TH_FIN;
            s.len = (uint32_t)(rng_next(&rng) % 1500);
            size_t olen = tcp_opts_len(&s.opts);
            assert_true(olen % 4 == 0 && olen <= TCP_MAX_OPTS_LEN);
            for (size_t i = 0; i < s.len; i++)
                buf[TCP_HDR_LEN + olen + i] = (uint8_t)rng_next(&rng);

            size_t hdr = tcp_emit(buf, &s, SRC, DST);
            assert_int_equal(hdr, TCP_HDR_LEN + olen);
            struct tcp_seg p;
            assert_int_equal(tcp_parse(buf, hdr + s.len, SRC, DST, &p), 0);
            assert_int_equal(p.sport, s.sport);
            assert_int_equal(p.dport, s.dport);
            assert_int_equal(p.seq, s.seq);
            assert_int_equal(p.ack, s.ack);
            assert_int_equal(p.flags, s.flags);
            assert_int_equal(p.wnd, s.wnd);
            assert_int_equal(p.urp, s.urp);
            assert_int_equal(p.hdr_len, hdr);
            assert_ptr_equal(p.payload, buf + hdr);
            assert_int_equal(p.len, s.len);
            /* Linux: MSS 4, TS 12 (or SACK-permitted 4), WS 4; the rest
             * of the 40 bytes holds NOP NOP SACK and 8 bytes a block. */
            size_t fixed = 4u * s.opts.has_mss + 4u * s.opts.has_wscale +
                           (s.opts.has_ts ? 12u : 4u * s.opts.sack_ok);
            size_t fit = (40 - fixed - 4) / 8;
            size_t sacks = s.opts.sack_count < fit ? s.opts.sack_count : fit;
            check_opts_equal(&p.opts, &s.opts, sacks);
        }
    }
}

/* ---- parse: structure ---------------------------------------------- */

static void tcp_parse_rejects_segment_shorter_than_header(void **state)
{
    (void)state;
    uint8_t seg[20];
    make_raw_segment(seg, TH_ACK, NULL, 0, 0);
    struct tcp_seg p;
    for (size_t len = 0; len < 20; len++)
        assert_int_equal(tcp_parse(seg, len, SRC, DST, &p),
                         BERTH_REASON_SHORT_PACKET);
    assert_int_equal(tcp_parse(seg, 20, SRC, DST, &p), 0);
}

static void tcp_parse_rejects_data_offset_below_5(void **state)
{
    (void)state;
    uint8_t seg[40];
    size_t n = make_raw_segment(seg, TH_ACK, NULL, 0, 20);
    struct tcp_seg p;
    for (unsigned off = 0; off < 5; off++) {
        seg[12] = (uint8_t)(off << 4);
        fix_tcp_checksum(seg, n);
        assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                         BERTH_REASON_BAD_DATA_OFFSET);
    }
}

/* Data offset 15 says 60 header bytes; the segment has 24. */
static void tcp_parse_rejects_data_offset_beyond_segment(void **state)
{
    (void)state;
    uint8_t seg[24];
    static const uint8_t nops[4] = {1, 1, 1, 1};
    size_t n = make_raw_segment(seg, TH_ACK, nops, 4, 0);
    seg[12] = 0xf0;
    fix_tcp_checksum(seg, n);
    struct tcp_seg p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                     BERTH_REASON_BAD_DATA_OFFSET);
    seg[12] = 0x70; /* 28 > 24 */
    fix_tcp_checksum(seg, n);
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                     BERTH_REASON_BAD_DATA_OFFSET);
}

/* ---- parse: options ------------------------------------------------- */

/* RFC 9293 §3.2: the length counts kind and length bytes; 0 would loop. */
static void tcp_parse_rejects_option_with_length_0(void **state)
{
    (void)state;
    static const uint8_t opts[] = {30, 0, 1, 1};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p),
                     BERTH_REASON_BAD_OPTION);
}

static void tcp_parse_rejects_option_with_length_1(void **state)
{
    (void)state;
    static const uint8_t opts[] = {1, 1, 30, 1};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p),
                     BERTH_REASON_BAD_OPTION);
}

static void tcp_parse_rejects_option_running_past_header(void **state)
{
    (void)state;
    /* An unknown option claims 6 bytes with 4 left; the payload after it
     * must not be read as option bytes. */
    static const uint8_t opts[] = {2, 4, 5, 0xb4, 30, 6, 0, 0};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p),
                     BERTH_REASON_BAD_OPTION);
    static const uint8_t ts_cut[] = {1, 1, 8, 10, 0, 0, 0, 1};
    assert_int_equal(parse_with_options(ts_cut, sizeof(ts_cut), &p),
                     BERTH_REASON_BAD_OPTION);
}

/* A kind byte as the header's last byte, its length byte missing. */
static void tcp_parse_rejects_option_missing_length_byte(void **state)
{
    (void)state;
    static const uint8_t opts[] = {1, 1, 1, 2};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p),
                     BERTH_REASON_BAD_OPTION);
    static const uint8_t unknown[] = {1, 1, 1, 200};
    assert_int_equal(parse_with_options(unknown, sizeof(unknown), &p),
                     BERTH_REASON_BAD_OPTION);
}

static void tcp_parse_rejects_mss_with_length_3(void **state)
{
    (void)state;
    static const uint8_t opts[] = {2, 3, 5, 1};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p),
                     BERTH_REASON_BAD_OPTION);
}

/* Known kinds have exact lengths (RFC 9293 §3.2, RFC 7323 §2.2 and §3.2,
 * RFC 2018 §2 and §3); a wrong one is malformed, not unknown. */
static void tcp_parse_rejects_known_options_of_wrong_length(void **state)
{
    (void)state;
    static const uint8_t bad[][12] = {
        {2, 6, 5, 0xb4, 0, 0, 1, 1},           /* MSS 6 */
        {3, 2, 1, 1},                          /* WS 2 */
        {3, 4, 7, 0},                          /* WS 4 */
        {4, 3, 0, 1},                          /* SACK-permitted 3 */
        {8, 8, 0, 0, 0, 1, 0, 0},              /* TS 8 */
        {8, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, /* TS 12 */
        {5, 2, 1, 1},                          /* SACK with no block */
        {5, 9, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1},  /* SACK 9 */
        {5, 11, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1}, /* SACK 11 */
    };
    static const size_t lens[] = {8, 4, 4, 4, 8, 12, 4, 12, 12};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct tcp_seg p;
        assert_int_equal(parse_with_options(bad[i], lens[i], &p),
                         BERTH_REASON_BAD_OPTION);
    }
}

/* RFC 9293 §3.2: EOL ends the list; what follows is padding, even if it
 * would not parse as options. */
static void tcp_parse_stops_at_end_of_option_list(void **state)
{
    (void)state;
    static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 0, 30, 0, 2};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p), 0);
    assert_true(p.opts.has_mss);
    assert_int_equal(p.opts.mss, 1460);
    assert_false(p.opts.has_wscale);
}

/* RFC 9293 §3.1 and RFC 1122 §4.2.2.5: unknown kinds are skipped by their
 * length, and options after them are still read. */
static void tcp_parse_skips_unknown_options_by_length(void **state)
{
    (void)state;
    static const uint8_t opts[] = {30,  6, 0xff, 0xff, 0xff, 0xff, 1, 1,
                                   254, 2, 3,    3,    9,    1,    1, 1};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p), 0);
    assert_true(p.opts.has_wscale);
    assert_int_equal(p.opts.wscale, 9);
    assert_false(p.opts.has_mss || p.opts.sack_ok || p.opts.has_ts);
    assert_int_equal(p.opts.sack_count, 0);
}

static void tcp_parse_reads_all_known_options(void **state)
{
    (void)state;
    static const uint8_t opts[] = {
        2, 4, 0x23, 0x28, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 1, 3, 3, 15,
    };
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p), 0);
    assert_true(p.opts.has_mss && p.opts.sack_ok && p.opts.has_ts &&
                p.opts.has_wscale);
    assert_int_equal(p.opts.mss, 9000);
    assert_int_equal(p.opts.ts_val, 7);
    assert_int_equal(p.opts.ts_ecr, 9);
    assert_int_equal(p.opts.wscale, 15); /* raw: clamping is not wire's */
}

static void tcp_parse_reads_four_sack_blocks(void **state)
{
    (void)state;
    uint8_t opts[36] = {1, 1, 5, 34};
    for (size_t i = 0; i < 32; i++)
        opts[4 + i] = (uint8_t)i;
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p), 0);
    assert_int_equal(p.opts.sack_count, 4);
    assert_int_equal(p.opts.sack[0].start, 0x00010203);
    assert_int_equal(p.opts.sack[3].end, 0x1c1d1e1f);
}

static void tcp_parse_later_option_replaces_earlier(void **state)
{
    (void)state;
    static const uint8_t opts[] = {2, 4, 0x05, 0xb4, 2, 4, 0x02, 0x18};
    struct tcp_seg p;
    assert_int_equal(parse_with_options(opts, sizeof(opts), &p), 0);
    assert_int_equal(p.opts.mss, 536);
}

/* ---- parse: checksum, flags, and their order ------------------------ */

static void tcp_parse_rejects_bad_checksum(void **state)
{
    (void)state;
    uint8_t seg[40];
    size_t n = make_raw_segment(seg, TH_ACK, NULL, 0, 20);
    struct tcp_seg p;
    seg[30] ^= 0x40; /* a payload bit flipped in transit */
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
    seg[30] ^= 0x40;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), 0);
    /* RFC 9293 §3.1: the pseudo-header binds the segment to its addresses. */
    assert_int_equal(tcp_parse(seg, n, SRC, DST + 1, &p),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
    /* ... and to its length. */
    assert_int_equal(tcp_parse(seg, n - 2, SRC, DST, &p),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
}

static void tcp_parse_rejects_syn_fin(void **state)
{
    (void)state;
    uint8_t seg[20];
    size_t n = make_raw_segment(seg, TH_SYN | TH_FIN, NULL, 0, 0);
    struct tcp_seg p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_SYN_FIN);
    n = make_raw_segment(seg, TH_SYN | TH_FIN | TH_ACK | TH_PSH, NULL, 0, 0);
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_SYN_FIN);
}

static void tcp_parse_rejects_syn_rst(void **state)
{
    (void)state;
    uint8_t seg[20];
    size_t n = make_raw_segment(seg, TH_SYN | TH_RST, NULL, 0, 0);
    struct tcp_seg p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_SYN_RST);
    n = make_raw_segment(seg, TH_SYN | TH_RST | TH_ACK, NULL, 0, 0);
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_SYN_RST);
    /* All three: SYN+FIN is checked first. */
    n = make_raw_segment(seg, TH_SYN | TH_RST | TH_FIN, NULL, 0, 0);
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_SYN_FIN);
}

/* Other combinations are the state machine's business, not malformed. */
static void
tcp_parse_accepts_flag_combinations_without_syn_conflict(void **state)
{
    (void)state;
    static const uint8_t ok[] = {
        0,
        TH_SYN,
        TH_SYN | TH_ACK,
        TH_FIN | TH_ACK,
        TH_RST,
        TH_RST | TH_ACK,
        TH_RST | TH_FIN,
        TH_SYN | TH_ECE | TH_CWR,
        0xff & (uint8_t)~TH_SYN,
    };
    for (size_t i = 0; i < sizeof(ok); i++) {
        uint8_t seg[20];
        size_t n = make_raw_segment(seg, ok[i], NULL, 0, 0);
        struct tcp_seg p;
        assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), 0);
        assert_int_equal(p.flags, ok[i]);
    }
}

/* Order: structure before checksum before flags (see tcp.c). */
static void
tcp_parse_reports_structure_before_checksum_before_flags(void **state)
{
    (void)state;
    static const uint8_t bad_opt[] = {2, 3, 5, 1};
    uint8_t seg[40];
    size_t n = make_raw_segment(seg, TH_SYN | TH_FIN, bad_opt, 4, 0);
    seg[4] ^= 1; /* checksum now wrong as well */
    struct tcp_seg p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_BAD_OPTION);
    n = make_raw_segment(seg, TH_SYN | TH_FIN, NULL, 0, 0);
    seg[4] ^= 1;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
}

/* No IPv4 datagram carries 65536 TCP bytes: the pseudo-header cannot. */
static void tcp_parse_rejects_length_beyond_pseudo_header(void **state)
{
    (void)state;
    size_t n = 65536;
    uint8_t *seg = test_calloc(1, n);
    make_raw_segment(seg, TH_ACK, NULL, 0, 0);
    struct tcp_seg p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p),
                     BERTH_REASON_BAD_IP_LENGTH);
    test_free(seg);
}

static void tcp_parse_leaves_output_untouched_on_failure(void **state)
{
    (void)state;
    static const uint8_t opts[] = {2, 4, 5, 0xb4, 3, 2, 0, 0};
    uint8_t seg[40];
    size_t n = make_raw_segment(seg, TH_ACK, opts, sizeof(opts), 0);
    struct tcp_seg p, before;
    memset(&p, 0x5a, sizeof(p));
    before = p;
    assert_int_equal(tcp_parse(seg, n, SRC, DST, &p), BERTH_REASON_BAD_OPTION);
    assert_memory_equal(&p, &before, sizeof(p));
}

/* ---- mutations ------------------------------------------------------ */

/* The test's own option walk, the oracle for what parse must report:
 * the last MSS/WS/TS/SACK-permitted/SACK seen before EOL. */
static void oracle_options(const uint8_t *p, size_t len, struct tcp_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < len && p[i] != 0;) {
        if (p[i] == 1) {
            i++;
            continue;
        }
        assert_true(i + 1 < len);
        size_t olen = p[i + 1];
        assert_true(olen >= 2 && i + olen <= len);
        if (p[i] == 2) {
            assert_int_equal(olen, 4);
            o->has_mss = true;
            o->mss = load_be16(p + i + 2);
        } else if (p[i] == 3) {
            assert_int_equal(olen, 3);
            o->has_wscale = true;
            o->wscale = p[i + 2];
        } else if (p[i] == 4) {
            assert_int_equal(olen, 2);
            o->sack_ok = true;
        } else if (p[i] == 8) {
            assert_int_equal(olen, 10);
            o->has_ts = true;
            o->ts_val = load_be32(p + i + 2);
            o->ts_ecr = load_be32(p + i + 6);
        } else if (p[i] == 5) {
            assert_true(olen >= 10 && (olen - 2) % 8 == 0);
            o->sack_count = (uint8_t)((olen - 2) / 8);
            for (size_t b = 0; b < o->sack_count; b++) {
                o->sack[b].start = load_be32(p + i + 2 + 8 * b);
                o->sack[b].end = load_be32(p + i + 6 + 8 * b);
            }
        }
        i += olen;
    }
}

/* Parse either rejects with a valid reason or reports what the bytes say. */
static int check_parse_consistent(const uint8_t *seg, size_t len)
{
    struct tcp_seg p;
    int r = tcp_parse(seg, len, SRC, DST, &p);
    if (r != 0) {
        assert_true(r > 0 && r < BERTH_REASON__COUNT);
        return r;
    }
    size_t hdr = (size_t)(seg[12] >> 4) * 4;
    assert_true(hdr >= 20 && hdr <= len);
    assert_int_equal(p.hdr_len, hdr);
    assert_int_equal(p.sport, load_be16(seg));
    assert_int_equal(p.dport, load_be16(seg + 2));
    assert_int_equal(p.seq, load_be32(seg + 4));
    assert_int_equal(p.ack, load_be32(seg + 8));
    assert_int_equal(p.flags, seg[13]);
    assert_int_equal(p.wnd, load_be16(seg + 14));
    assert_int_equal(p.urp, load_be16(seg + 18));
    assert_ptr_equal(p.payload, seg + hdr);
    assert_int_equal(p.len, len - hdr);
    assert_false((p.flags & TH_SYN) && (p.flags & (TH_FIN | TH_RST)));
    uint64_t sum = csum_pseudo_ipv4(SRC, DST, 6, (uint16_t)len);
    assert_int_equal(csum_fold(csum_add(sum, seg, len)), 0);
    struct tcp_opts want;
    oracle_options(seg + 20, hdr - 20, &want);
    check_opts_equal(&p.opts, &want, want.sack_count);
    return 0;
}

/* A random valid segment: random options through emit, or random raw
 * option bytes (often malformed) behind a valid checksum. */
static size_t random_segment(struct rng *rng, uint8_t *buf)
{
    size_t payload = (size_t)(rng_next(rng) % 64);
    if (rng_next(rng) % 2) {
        struct tcp_seg s;
        memset(&s, 0, sizeof(s));
        uint64_t bits = rng_next(rng);
        s.sport = (uint16_t)bits;
        s.seq = (uint32_t)(bits >> 16);
        s.flags = (uint8_t)(bits >> 48) & (uint8_t)~TH_FIN;
        s.opts.has_mss = bits >> 8 & 1;
        s.opts.has_wscale = bits >> 9 & 1;
        s.opts.sack_ok = bits >> 10 & 1;
        s.opts.has_ts = bits >> 11 & 1;
        s.opts.sack_count = (uint8_t)(bits >> 12 & 7);
        s.opts.mss = (uint16_t)(bits >> 20);
        s.opts.ts_val = (uint32_t)rng_next(rng);
        for (size_t i = 0; i < TCP_SACK_MAX; i++)
            s.opts.sack[i].start = (uint32_t)rng_next(rng);
        s.len = (uint32_t)payload;
        memset(buf + TCP_HDR_LEN + tcp_opts_len(&s.opts), 0x77, payload);
        return tcp_emit(buf, &s, SRC, DST) + payload;
    }
    uint8_t opts[40];
    size_t olen = 4 * (size_t)(rng_next(rng) % 11);
    static const uint8_t kinds[] = {0, 1, 2, 3, 4, 5, 8, 30};
    for (size_t i = 0; i < olen; i++) {
        uint64_t x = rng_next(rng);
        opts[i] = x % 3 == 0 ? kinds[x / 3 % sizeof(kinds)]
                             : (uint8_t)(x % 3 == 1 ? x / 3 % 12 : x >> 8);
    }
    return make_raw_segment(buf, (uint8_t)rng_next(rng), opts, olen, payload);
}

/* Seeded and bounded: bit flips, byte overwrites and truncations of
 * segments, half with the checksum repaired so that option and flag checks
 * are reached. Each mutant sits in an exact-size heap block so that ASan
 * catches any read past its end. */
static void tcp_parse_survives_mutated_segments(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 0xc0ffee);
    int seen[BERTH_REASON__COUNT] = {0};
    for (int round = 0; round < 50000; round++) {
        uint8_t buf[TCP_HDR_LEN + TCP_MAX_OPTS_LEN + 64];
        size_t n = random_segment(&rng, buf);
        unsigned muts = (unsigned)(rng_next(&rng) % 4);
        for (unsigned m = 0; m < muts; m++) {
            size_t at = (size_t)(rng_next(&rng) % n);
            if (rng_next(&rng) % 2)
                buf[at] ^= (uint8_t)(1u << (rng_next(&rng) % 8));
            else
                buf[at] = (uint8_t)rng_next(&rng);
        }
        if (rng_next(&rng) % 4 == 0)
            n = (size_t)(rng_next(&rng) % (n + 1));
        if (n >= 18 && rng_next(&rng) % 2)
            fix_tcp_checksum(buf, n);
        uint8_t *seg = test_malloc(n ? n : 1);
        memcpy(seg, buf, n);
        seen[check_parse_consistent(seg, n)]++;
        test_free(seg);
    }
    static const int outcomes[] = {
        0,
        BERTH_REASON_SHORT_PACKET,
        BERTH_REASON_BAD_DATA_OFFSET,
        BERTH_REASON_BAD_OPTION,
        BERTH_REASON_BAD_TCP_CHECKSUM,
        BERTH_REASON_SYN_FIN,
        BERTH_REASON_SYN_RST,
    };
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        assert_true(seen[outcomes[i]] > 0);
}

/* ---- the option fast paths ------------------------------------------ */

/* Every field of both, whatever the flags say: the fast paths and the walk
 * start from a zeroed struct, so even unset fields must agree. */
static void assert_opts_identical(const struct tcp_opts *a,
                                  const struct tcp_opts *b)
{
    assert_int_equal(a->has_mss, b->has_mss);
    assert_int_equal(a->has_wscale, b->has_wscale);
    assert_int_equal(a->sack_ok, b->sack_ok);
    assert_int_equal(a->has_ts, b->has_ts);
    assert_int_equal(a->mss, b->mss);
    assert_int_equal(a->wscale, b->wscale);
    assert_int_equal(a->ts_val, b->ts_val);
    assert_int_equal(a->ts_ecr, b->ts_ecr);
    assert_int_equal(a->sack_count, b->sack_count);
    for (size_t i = 0; i < TCP_SACK_MAX; i++) {
        assert_int_equal(a->sack[i].start, b->sack[i].start);
        assert_int_equal(a->sack[i].end, b->sack[i].end);
    }
}

/* tcp_parse_options (with the fast paths) against the walk alone over
 * p[0..len), placed at the end of an exact-size heap block so that ASan
 * catches a read past it. Returns the verdict. */
static int check_fast_matches_walk(const uint8_t *p, size_t len)
{
    uint8_t *q = test_malloc(len ? len : 1);
    memcpy(q, p, len);
    struct tcp_opts fast, walk;
    memset(&fast, 0xa5, sizeof(fast));
    memset(&walk, 0x5a, sizeof(walk));
    int rf = tcp_parse_options(q, len, &fast);
    int rw = tcp_parse_options_walk(q, len, &walk);
    test_free(q);
    assert_int_equal(rf, rw);
    assert_true(rf == 0 || rf == BERTH_REASON_BAD_OPTION);
    if (rf == 0)
        assert_opts_identical(&fast, &walk);
    return rf;
}

/* The two layouts the fast paths read (NOP NOP TS; Linux's SYN: MSS,
 * SACK-permitted + TS, NOP WS) and every mutation of one byte to each of
 * its 256 values, of two bytes at random, every prefix and every
 * extension by up to 20 more bytes: the fast paths must read exactly
 * what the walk reads and reject exactly what it rejects. */
static void tcp_parse_option_fast_paths_match_the_walk(void **state)
{
    (void)state;
    static const uint8_t ts[12] = {1,    1,    8,    10,   0x12, 0x34,
                                   0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};
    static const uint8_t syn[20] = {2,    4,    5,    0xb4, 4,    2,    8,
                                    10,   0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                    0x77, 0x88, 1,    3,    3,    7};
    static const struct {
        const uint8_t *p;
        size_t len;
    } layouts[] = {{ts, sizeof ts}, {syn, sizeof syn}};
    struct rng rng;
    rng_seed(&rng, 0xfa57);
    int ok = 0, bad = 0;
    for (size_t l = 0; l < 2; l++) {
        const uint8_t *base = layouts[l].p;
        size_t n = layouts[l].len;
        uint8_t b[TCP_MAX_OPTS_LEN];
        /* Unchanged: read by the fast path, and fully. */
        assert_int_equal(check_fast_matches_walk(base, n), 0);
        for (size_t at = 0; at < n; at++) {
            for (unsigned v = 0; v < 256; v++) {
                memcpy(b, base, n);
                b[at] = (uint8_t)v;
                if (check_fast_matches_walk(b, n) == 0)
                    ok++;
                else
                    bad++;
            }
        }
        for (int round = 0; round < 20000; round++) {
            memcpy(b, base, n);
            b[rng_next(&rng) % n] = (uint8_t)rng_next(&rng);
            b[rng_next(&rng) % n] = (uint8_t)rng_next(&rng);
            check_fast_matches_walk(b, n);
        }
        for (size_t len = 0; len < n; len++)
            check_fast_matches_walk(base, len);
        for (size_t extra = 1; extra + n <= TCP_MAX_OPTS_LEN; extra++) {
            for (int round = 0; round < 200; round++) {
                memcpy(b, base, n);
                for (size_t i = n; i < n + extra; i++)
                    b[i] = round % 3 == 0   ? 0
                           : round % 3 == 1 ? (uint8_t)(rng_next(&rng) % 2)
                                            : (uint8_t)rng_next(&rng);
                check_fast_matches_walk(b, n + extra);
            }
        }
    }
    /* The mutations reach both verdicts (a changed value is still read;
     * a changed kind or length is caught). */
    assert_true(ok > 0 && bad > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_emit_syn_options_match_linux_layout),
        cmocka_unit_test(tcp_emit_syn_with_ts_without_sack_uses_nop_nop_ts),
        cmocka_unit_test(
            tcp_emit_syn_with_sack_without_ts_uses_nop_nop_sackperm),
        cmocka_unit_test(tcp_emit_syn_with_mss_only),
        cmocka_unit_test(tcp_emit_ack_options_match_linux_layout),
        cmocka_unit_test(tcp_emit_without_options_is_20_bytes),
        cmocka_unit_test(tcp_emit_trims_sack_blocks_to_fit_option_space),
        cmocka_unit_test(tcp_emit_writes_header_fields_and_checksum),
        cmocka_unit_test(tcp_emit_in_two_steps_matches_tcp_emit),
        cmocka_unit_test(
            tcp_emit_then_parse_round_trips_all_option_combinations),
        cmocka_unit_test(tcp_parse_rejects_segment_shorter_than_header),
        cmocka_unit_test(tcp_parse_rejects_data_offset_below_5),
        cmocka_unit_test(tcp_parse_rejects_data_offset_beyond_segment),
        cmocka_unit_test(tcp_parse_rejects_option_with_length_0),
        cmocka_unit_test(tcp_parse_rejects_option_with_length_1),
        cmocka_unit_test(tcp_parse_rejects_option_running_past_header),
        cmocka_unit_test(tcp_parse_rejects_option_missing_length_byte),
        cmocka_unit_test(tcp_parse_rejects_mss_with_length_3),
        cmocka_unit_test(tcp_parse_rejects_known_options_of_wrong_length),
        cmocka_unit_test(tcp_parse_stops_at_end_of_option_list),
        cmocka_unit_test(tcp_parse_skips_unknown_options_by_length),
        cmocka_unit_test(tcp_parse_reads_all_known_options),
        cmocka_unit_test(tcp_parse_reads_four_sack_blocks),
        cmocka_unit_test(tcp_parse_later_option_replaces_earlier),
        cmocka_unit_test(tcp_parse_rejects_bad_checksum),
        cmocka_unit_test(tcp_parse_rejects_syn_fin),
        cmocka_unit_test(tcp_parse_rejects_syn_rst),
        cmocka_unit_test(
            tcp_parse_accepts_flag_combinations_without_syn_conflict),
        cmocka_unit_test(
            tcp_parse_reports_structure_before_checksum_before_flags),
        cmocka_unit_test(tcp_parse_rejects_length_beyond_pseudo_header),
        cmocka_unit_test(tcp_parse_leaves_output_untouched_on_failure),
        cmocka_unit_test(tcp_parse_survives_mutated_segments),
        cmocka_unit_test(tcp_parse_option_fast_paths_match_the_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
