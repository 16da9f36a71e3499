/* IPv6 below TCP (RFC 8200): the header parse with its extension headers
 * walked within bounds, emit, the pseudo-header checksum, the per-stack
 * address table, RFC 5952 text, berth_decode of IPv6, and the record
 * sizes the issue sets for IPv6 (the records are the IPv4 ones). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ip/addr6.h"
#include "tcp/tcp.h"
#include "wire/checksum.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

static const uint8_t SRC[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 1};
static const uint8_t DST[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2};

/* A SYN from SRC:40000 to DST:80 behind the extension headers exts[0..n)
 * (each given as its bytes, Next Header written here). Returns the
 * packet's length. */
static size_t build(uint8_t *p, const uint8_t *const *exts,
                    const uint8_t *ext_nh, const size_t *ext_len, size_t n)
{
    struct tcp_seg s = {.sport = 40000,
                        .dport = 80,
                        .seq = 1000,
                        .flags = TH_SYN,
                        .wnd = 65535};
    size_t off = IPV6_HDR_LEN;
    for (size_t i = 0; i < n; i++) {
        memcpy(p + off, exts[i], ext_len[i]);
        p[off] = i + 1 < n ? ext_nh[i + 1] : IPV6_NH_TCP;
        off += ext_len[i];
    }
    size_t tl = tcp_emit6(p + off, &s, SRC, DST, false);
    ipv6_emit(p, SRC, DST, n ? ext_nh[0] : IPV6_NH_TCP, 64, 0x12345,
              (uint16_t)(off - IPV6_HDR_LEN + tl));
    return off + tl;
}

static void plain_syn_parses_with_fields(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = build(p, NULL, NULL, NULL, 0);
    struct ipv6_info ip;
    assert_int_equal(ipv6_parse(p, n, &ip), 0);
    assert_int_equal(ip.proto, IPV6_NH_TCP);
    assert_int_equal(ip.flow, 0x12345);
    assert_int_equal(ip.hop_limit, 64);
    assert_memory_equal(ip.src, SRC, 16);
    assert_memory_equal(ip.dst, DST, 16);
    assert_int_equal(ip.payload_len, 20);
    struct tcp_seg seg;
    assert_int_equal(
        tcp_parse6(ip.payload, ip.payload_len, ip.src, ip.dst, true, &seg), 0);
    assert_true(seg.v6);
    assert_int_equal(seg.sport, 40000);
    /* RFC 8200 §8.1: a flipped address bit breaks the checksum. */
    uint8_t other[16];
    memcpy(other, SRC, 16);
    other[15] ^= 1;
    assert_int_equal(
        tcp_parse6(ip.payload, ip.payload_len, other, ip.dst, true, &seg),
        BERTH_REASON_BAD_TCP_CHECKSUM);
    /* Link padding past the payload length is ignored. */
    assert_int_equal(ipv6_parse(p, n + 6, &ip), 0);
    assert_int_equal(ip.payload_len, 20);
}

static void header_checks_in_order(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = build(p, NULL, NULL, NULL, 0);
    struct ipv6_info ip;
    assert_int_equal(ipv6_parse(p, 39, &ip), BERTH_REASON_SHORT_PACKET);
    p[0] = 0x70;
    assert_int_equal(ipv6_parse(p, n, &ip), BERTH_REASON_BAD_IP_VERSION);
    p[0] = 0x60;
    p[5]++; /* payload length one past the packet */
    assert_int_equal(ipv6_parse(p, n, &ip), BERTH_REASON_BAD_IP6_LENGTH);
}

/* RFC 8200 §4.2: the two high bits of an unknown option's type. */
static void options_follow_their_action_bits(void **state)
{
    (void)state;
    static const uint8_t types[] = {0x1e, 0x5e, 0x9e, 0xde};
    static const int want[] = {0, BERTH_REASON_IP6_OPTION_DISCARD,
                               BERTH_REASON_IP6_OPTION_DISCARD,
                               BERTH_REASON_IP6_OPTION_DISCARD};
    for (size_t t = 0; t < 4; t++) {
        for (int which = 0; which < 2; which++) { /* HBH, DstOpts */
            uint8_t e[8] = {0, 0, types[t], 2, 0xaa, 0xbb, 0 /*Pad1*/, 0};
            const uint8_t *exts[] = {e};
            uint8_t nh[] = {which ? IPV6_NH_DSTOPTS : IPV6_NH_HOPOPTS};
            size_t len[] = {8};
            uint8_t p[256];
            size_t n = build(p, exts, nh, len, 1);
            struct ipv6_info ip;
            assert_int_equal(ipv6_parse(p, n, &ip), want[t]);
            if (want[t] == 0) {
                assert_int_equal(ip.proto, IPV6_NH_TCP);
                assert_int_equal(ip.ext_count, 1);
                assert_int_equal(ip.payload_len, 20);
            }
        }
    }
}

static void bad_chains_are_refused(void **state)
{
    (void)state;
    uint8_t pad[8] = {0, 0, 1, 4, 0, 0, 0, 0};  /* PadN of 4 */
    uint8_t over[8] = {0, 0, 1, 6, 0, 0, 0, 0}; /* PadN past the header */
    uint8_t rh0[8] = {0, 0, 0, 1};              /* type 0, segments left 1 */
    uint8_t rh0_done[8] = {0, 0, 0, 0};         /* type 0 even when done */
    uint8_t rh4[8] = {0, 0, 4, 2};              /* type 4, 2 left */
    uint8_t rh4_done[8] = {0, 0, 4, 0};
    uint8_t frag[8] = {0, 0, 0, 1};             /* offset 0, M set */
    uint8_t frag_later[8] = {0, 0, 0x05, 0x00}; /* offset 160, M clear */
    uint8_t atomic[8] = {0};
    struct {
        const uint8_t *e[3];
        uint8_t nh[3];
        size_t n;
        int want;
    } cases[] = {
        {{pad, pad},
         {IPV6_NH_DSTOPTS, IPV6_NH_HOPOPTS},
         2,
         BERTH_REASON_BAD_EXT_HEADER}, /* §4.1: HBH only first */
        {{over}, {IPV6_NH_HOPOPTS}, 1, BERTH_REASON_BAD_EXT_HEADER},
        {{rh0}, {IPV6_NH_ROUTING}, 1, BERTH_REASON_IP6_ROUTING_TYPE0},
        {{rh0_done}, {IPV6_NH_ROUTING}, 1, BERTH_REASON_IP6_ROUTING_TYPE0},
        {{rh4}, {IPV6_NH_ROUTING}, 1, BERTH_REASON_IP6_ROUTING_UNKNOWN},
        {{rh4_done}, {IPV6_NH_ROUTING}, 1, 0},
        {{pad, rh4_done, atomic},
         {IPV6_NH_HOPOPTS, IPV6_NH_ROUTING, IPV6_NH_FRAGMENT},
         3,
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len[3] = {8, 8, 8};
        uint8_t p[256];
        size_t n = build(p, cases[i].e, cases[i].nh, len, cases[i].n);
        struct ipv6_info ip;
        assert_int_equal(ipv6_parse(p, n, &ip), cases[i].want);
    }
    /* Fragments end the walk and say so (the stack drops them for TCP). */
    const uint8_t *e[] = {frag};
    uint8_t nh[] = {IPV6_NH_FRAGMENT};
    size_t len[] = {8};
    uint8_t p[256];
    size_t n = build(p, e, nh, len, 1);
    struct ipv6_info ip;
    assert_int_equal(ipv6_parse(p, n, &ip), 0);
    assert_true(ip.fragment && ip.frag_more && ip.frag_offset == 0);
    e[0] = frag_later;
    n = build(p, e, nh, len, 1);
    assert_int_equal(ipv6_parse(p, n, &ip), 0);
    assert_true(ip.fragment && !ip.frag_more && ip.frag_offset == 1280);
    struct berth_segment d;
    assert_int_equal(berth_decode(p, n, &d), BERTH_REASON_IP6_FRAGMENT);
    /* A header longer than what is left of the payload. */
    uint8_t longer[8] = {0, 1, 1, 4};
    e[0] = longer;
    nh[0] = IPV6_NH_DSTOPTS;
    n = build(p, e, nh, len, 1);
    assert_int_equal(ipv6_parse(p, IPV6_HDR_LEN + 8, &ip),
                     BERTH_REASON_BAD_IP6_LENGTH);
    p[4] = 0;
    p[5] = 12; /* payload length 12: the header claims 16 */
    assert_int_equal(ipv6_parse(p, n, &ip), BERTH_REASON_BAD_EXT_HEADER);
}

/* At most IPV6_MAX_EXT_HEADERS headers: a long chain costs a bounded walk. */
static void too_many_headers_refused(void **state)
{
    (void)state;
    uint8_t pad[8] = {0, 0, 1, 4};
    const uint8_t *e[IPV6_MAX_EXT_HEADERS + 1];
    uint8_t nh[IPV6_MAX_EXT_HEADERS + 1];
    size_t len[IPV6_MAX_EXT_HEADERS + 1];
    for (size_t i = 0; i <= IPV6_MAX_EXT_HEADERS; i++) {
        e[i] = pad;
        nh[i] = IPV6_NH_DSTOPTS;
        len[i] = 8;
    }
    uint8_t p[512];
    struct ipv6_info ip;
    size_t n = build(p, e, nh, len, IPV6_MAX_EXT_HEADERS);
    assert_int_equal(ipv6_parse(p, n, &ip), 0);
    n = build(p, e, nh, len, IPV6_MAX_EXT_HEADERS + 1);
    assert_int_equal(ipv6_parse(p, n, &ip), BERTH_REASON_BAD_EXT_HEADER);
}

static void decode_reports_ipv6_endpoints(void **state)
{
    (void)state;
    uint8_t p[256];
    size_t n = build(p, NULL, NULL, NULL, 0);
    struct berth_segment d;
    assert_int_equal(berth_decode(p, n, &d), 0);
    assert_int_equal(d.src.family, BERTH_AF_INET6);
    assert_memory_equal(d.src.addr6, SRC, 16);
    assert_memory_equal(d.dst.addr6, DST, 16);
    assert_int_equal(d.src.port, 40000);
    assert_int_equal(d.flags, BERTH_TH_SYN);
    char buf[BERTH_ADDRSTRLEN + 8];
    assert_string_equal(berth_endpoint_string(&d.src, buf, sizeof buf),
                        "[2001:db8:b::1]:40000");
}

/* RFC 5952 §4: lower case, no leading zeros, the longest zero run (the
 * first of equals) as "::", a single zero group not shortened; §5 mapped. */
static void addresses_print_as_rfc5952(void **state)
{
    (void)state;
    struct {
        uint8_t a[16];
        const char *want;
    } cases[] = {
        {{0x20, 0x01, 0x0d, 0xb8, [15] = 1}, "2001:db8::1"},
        {{0}, "::"},
        {{[15] = 1}, "::1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
         "2001:db8:0:1::1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1},
         "2001:db8::1:0:0:1"},
        {{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
         "2001:db8:0:1:1:1:1:1"},
        {{0xfe, 0x80, [8] = 0xab, 0xcd}, "fe80::abcd:0:0:0"},
        {{[10] = 0xff, 0xff, 198, 18, 0, 1}, "::ffff:198.18.0.1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct berth_endpoint ep = berth_endpoint_v6(cases[i].a, 80);
        char buf[BERTH_ADDRSTRLEN];
        assert_string_equal(berth_addr_string(&ep, buf, sizeof buf),
                            cases[i].want);
    }
    struct berth_endpoint v4 = berth_endpoint_v4(0xc6120002u, 80);
    char buf[32];
    assert_string_equal(berth_endpoint_string(&v4, buf, sizeof buf),
                        "198.18.0.2:80");
}

/* Interning: one entry per address, refcounted, ids reused; id 0 is ::. */
static void addresses_interned_once_and_freed(void **state)
{
    (void)state;
    struct mem mem = {0}, tmem = {0};
    struct addr6_table t;
    uint8_t key[16] = "addr6 test key";
    assert_int_equal(addr6_table_init(&t, &mem, &tmem, key), 0);
    int64_t a = addr6_intern(&t, SRC, false);
    int64_t b = addr6_intern(&t, DST, false);
    assert_true(a > 0 && b > 0 && a != b);
    assert_int_equal(addr6_intern(&t, SRC, false), a);
    assert_int_equal(addr6_count(&t), 2);
    assert_memory_equal(addr6_get(&t, (uint32_t)a), SRC, 16);
    static const uint8_t zero[16];
    assert_memory_equal(addr6_get(&t, 0), zero, 16);
    addr6_unref(&t, (uint32_t)a);
    assert_int_equal(addr6_find(&t, SRC), a); /* one reference left */
    addr6_unref(&t, (uint32_t)a);
    assert_int_equal(addr6_find(&t, SRC), -1);
    addr6_unref(&t, (uint32_t)b);
    assert_int_equal(mem.bytes, 0); /* entries gone, tables in tmem */
    /* Many addresses: the table grows, every id maps back. */
    int64_t ids[300];
    for (int i = 0; i < 300; i++) {
        uint8_t x[16];
        memcpy(x, SRC, 16);
        x[14] = (uint8_t)(i >> 8);
        x[15] = (uint8_t)i;
        ids[i] = addr6_intern(&t, x, false);
        assert_true(ids[i] > 0);
    }
    for (int i = 0; i < 300; i++) {
        assert_int_equal(addr6_get(&t, (uint32_t)ids[i])[15], (uint8_t)i);
        addr6_unref(&t, (uint32_t)ids[i]);
    }
    assert_int_equal(addr6_count(&t), 0);
    assert_int_equal(mem.bytes, 0);
    addr6_table_fini(&t);
    assert_int_equal(tmem.bytes, 0);
}

/* The limits hold for IPv6 records: they are the IPv4 ones, the
 * addresses interned (one entry per peer address, shared). */
static void ipv6_records_keep_the_ipv4_sizes(void **state)
{
    (void)state;
    assert_true(sizeof(struct tcp_conn) <= 512);
    assert_true(sizeof(struct tcp_synreq) <= 64);
    assert_true(sizeof(struct tcp_timewait) <= 64);
    /* Even a record alone with its peer's entry is within 96 bytes. */
    assert_true(sizeof(struct tcp_timewait) + sizeof(struct addr6_entry) <= 96);
    assert_true(sizeof(struct tcp_synreq) + sizeof(struct addr6_entry) <= 96);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_syn_parses_with_fields),
        cmocka_unit_test(header_checks_in_order),
        cmocka_unit_test(options_follow_their_action_bits),
        cmocka_unit_test(bad_chains_are_refused),
        cmocka_unit_test(too_many_headers_refused),
        cmocka_unit_test(decode_reports_ipv6_endpoints),
        cmocka_unit_test(addresses_print_as_rfc5952),
        cmocka_unit_test(addresses_interned_once_and_freed),
        cmocka_unit_test(ipv6_records_keep_the_ipv4_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
