/* Unit tests for the public decoder (src/wire/decode.c): berth_decode() on
 * whole IPv4/TCP packets, and berth_flags_string() names and truncation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "berth/berth.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#define SRC 0xc6120001u /* 198.18.0.1 */
#define DST 0xc6120002u /* 198.18.0.2 */

/* A whole packet: IPv4 header, then s with s->len payload bytes of 'x'. */
static size_t make_packet(uint8_t *pkt, const struct tcp_seg *s)
{
    size_t olen = tcp_opts_len(&s->opts);
    memset(pkt + IPV4_HDR_LEN + TCP_HDR_LEN + olen, 'x', s->len);
    size_t hdr = tcp_emit(pkt + IPV4_HDR_LEN, s, SRC, DST);
    ipv4_emit(pkt, SRC, DST, IPPROTO_TCP_NUM, 64, 7, (uint16_t)(hdr + s->len));
    return IPV4_HDR_LEN + hdr + s->len;
}

static struct tcp_seg syn_ack(void)
{
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.sport = 80;
    s.dport = 40000;
    s.seq = 1000;
    s.ack = 2001;
    s.flags = TH_SYN | TH_ACK;
    s.wnd = 65160;
    s.opts.has_mss = s.opts.has_wscale = s.opts.sack_ok = s.opts.has_ts = true;
    s.opts.mss = 1460;
    s.opts.wscale = 7;
    s.opts.ts_val = 123456;
    s.opts.ts_ecr = 654321;
    return s;
}

static void berth_decode_reads_syn_ack_with_all_options(void **state)
{
    (void)state;
    uint8_t pkt[100];
    struct tcp_seg s = syn_ack();
    size_t n = make_packet(pkt, &s);
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, n, &d), 0);
    assert_int_equal(d.src.addr, SRC);
    assert_int_equal(d.src.port, 80);
    assert_int_equal(d.dst.addr, DST);
    assert_int_equal(d.dst.port, 40000);
    assert_int_equal(d.seq, 1000);
    assert_int_equal(d.ack, 2001);
    assert_int_equal(d.flags, BERTH_TH_SYN | BERTH_TH_ACK);
    assert_int_equal(d.win, 65160);
    assert_int_equal(d.len, 0);
    assert_int_equal(d.mss, 1460);
    assert_int_equal(d.wscale, 7);
    assert_true(d.sack_ok);
    assert_true(d.has_ts);
    assert_int_equal(d.ts_val, 123456);
    assert_int_equal(d.ts_ecr, 654321);
}

/* Absent options read as mss 0 and wscale -1 (WS 0 is a real value). */
static void berth_decode_reports_absent_options(void **state)
{
    (void)state;
    uint8_t pkt[100];
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.flags = TH_PSH | TH_ACK;
    s.len = 11;
    size_t n = make_packet(pkt, &s);
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, n, &d), 0);
    assert_int_equal(d.len, 11);
    assert_int_equal(d.mss, 0);
    assert_int_equal(d.wscale, -1);
    assert_false(d.sack_ok);
    assert_false(d.has_ts);

    s = syn_ack();
    s.opts.wscale = 0;
    n = make_packet(pkt, &s);
    assert_int_equal(berth_decode(pkt, n, &d), 0);
    assert_int_equal(d.wscale, 0);
}

static void berth_decode_ignores_link_padding(void **state)
{
    (void)state;
    uint8_t pkt[60];
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.flags = TH_ACK;
    size_t n = make_packet(pkt, &s);
    memset(pkt + n, 0, sizeof(pkt) - n); /* Ethernet minimum frame */
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, sizeof(pkt), &d), 0);
    assert_int_equal(d.len, 0);
}

static void berth_decode_rejects_protocol_other_than_tcp(void **state)
{
    (void)state;
    uint8_t pkt[28] = {0};
    ipv4_emit(pkt, SRC, DST, 17, 64, 1, 8); /* UDP */
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, sizeof(pkt), &d), BERTH_REASON_NOT_TCP);
}

/* IPv4 reasons come first, then TCP ones, unchanged. */
static void berth_decode_passes_on_ip_and_tcp_reasons(void **state)
{
    (void)state;
    uint8_t pkt[100];
    struct tcp_seg s = syn_ack();
    size_t n = make_packet(pkt, &s);
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, 10, &d), BERTH_REASON_SHORT_PACKET);
    pkt[0] = 0x75; /* version 7: neither IPv4 nor IPv6 */
    assert_int_equal(berth_decode(pkt, n, &d), BERTH_REASON_BAD_IP_VERSION);
    pkt[0] = 0x45;
    pkt[8]--; /* TTL decremented, checksum not updated */
    assert_int_equal(berth_decode(pkt, n, &d), BERTH_REASON_BAD_IP_CHECKSUM);
    pkt[8]++;
    pkt[IPV4_HDR_LEN + 4]++; /* TCP seq changed: TCP checksum wrong */
    assert_int_equal(berth_decode(pkt, n, &d), BERTH_REASON_BAD_TCP_CHECKSUM);
    pkt[IPV4_HDR_LEN + 4]--;
    s.flags = TH_SYN | TH_FIN;
    n = make_packet(pkt, &s);
    assert_int_equal(berth_decode(pkt, n, &d), BERTH_REASON_SYN_FIN);
}

/* berth_segment.flags holds BERTH_TH_* only: ECE and CWR are dropped. */
static void berth_decode_keeps_only_named_flags(void **state)
{
    (void)state;
    uint8_t pkt[100];
    struct tcp_seg s = syn_ack();
    s.flags |= TH_ECE | TH_CWR;
    size_t n = make_packet(pkt, &s);
    struct berth_segment d;
    assert_int_equal(berth_decode(pkt, n, &d), 0);
    assert_int_equal(d.flags, BERTH_TH_SYN | BERTH_TH_ACK);
}

/* Random bytes and mutated packets never crash the decoder. */
static void berth_decode_survives_mutated_packets(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 99);
    for (int round = 0; round < 20000; round++) {
        uint8_t buf[100];
        struct tcp_seg s = syn_ack();
        s.flags = (uint8_t)rng_next(&rng);
        size_t n = make_packet(buf, &s);
        for (int m = 0; m < 3; m++)
            buf[rng_next(&rng) % n] ^= (uint8_t)rng_next(&rng);
        if (rng_next(&rng) % 2)
            n = (size_t)(rng_next(&rng) % (n + 1));
        uint8_t *pkt = test_malloc(n ? n : 1);
        memcpy(pkt, buf, n);
        struct berth_segment d;
        int r = berth_decode(pkt, n, &d);
        assert_true(r >= 0 && r < BERTH_REASON__COUNT);
        if (r == 0)
            assert_int_equal(d.flags & ~0x3fu, 0);
        test_free(pkt);
    }
}

static void berth_flags_string_names_flags_in_order(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(
        berth_flags_string(BERTH_TH_SYN | BERTH_TH_ACK, buf, sizeof(buf)),
        "SYN,ACK");
    assert_string_equal(
        berth_flags_string(BERTH_TH_FIN | BERTH_TH_ACK, buf, sizeof(buf)),
        "FIN,ACK");
    assert_string_equal(berth_flags_string(BERTH_TH_RST, buf, sizeof(buf)),
                        "RST");
    assert_string_equal(berth_flags_string(BERTH_TH_ACK, buf, sizeof(buf)),
                        "ACK");
    assert_string_equal(
        berth_flags_string(BERTH_TH_PSH | BERTH_TH_ACK, buf, sizeof(buf)),
        "PSH,ACK");
    assert_string_equal(berth_flags_string(BERTH_TH_SYN, buf, sizeof(buf)),
                        "SYN");
    assert_string_equal(berth_flags_string(0x3f, buf, sizeof(buf)),
                        "SYN,FIN,RST,PSH,ACK,URG");
}

static void berth_flags_string_says_none_without_flags(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(berth_flags_string(0, buf, sizeof(buf)), "none");
    assert_string_equal(berth_flags_string(0xc0, buf, sizeof(buf)), "none");
}

/* Every buffer size: a terminated prefix of the full string, and not one
 * byte written past size. */
static void berth_flags_string_truncates_safely(void **state)
{
    (void)state;
    static const uint8_t cases[] = {0, 0x3f, 0x12, 0x04};
    for (size_t c = 0; c < sizeof(cases); c++) {
        char full[64];
        berth_flags_string(cases[c], full, sizeof(full));
        for (size_t size = 0; size <= strlen(full) + 2; size++) {
            char buf[64];
            memset(buf, '#', sizeof(buf));
            assert_ptr_equal(berth_flags_string(cases[c], buf, size), buf);
            for (size_t i = size; i < sizeof(buf); i++)
                assert_int_equal(buf[i], '#');
            if (size == 0)
                continue;
            size_t len = strlen(buf);
            assert_true(len < size);
            assert_int_equal(len,
                             size - 1 < strlen(full) ? size - 1 : strlen(full));
            assert_memory_equal(buf, full, len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(berth_decode_reads_syn_ack_with_all_options),
        cmocka_unit_test(berth_decode_reports_absent_options),
        cmocka_unit_test(berth_decode_ignores_link_padding),
        cmocka_unit_test(berth_decode_rejects_protocol_other_than_tcp),
        cmocka_unit_test(berth_decode_passes_on_ip_and_tcp_reasons),
        cmocka_unit_test(berth_decode_keeps_only_named_flags),
        cmocka_unit_test(berth_decode_survives_mutated_packets),
        cmocka_unit_test(berth_flags_string_names_flags_in_order),
        cmocka_unit_test(berth_flags_string_says_none_without_flags),
        cmocka_unit_test(berth_flags_string_truncates_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
