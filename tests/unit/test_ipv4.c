/* Unit tests for the IPv4 header (src/wire/ipv4.c): emit → parse round
 * trips, each rejection reason from a real malformed packet, and seeded
 * mutations of valid packets that parse must survive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"

#define SRC 0xc6120001u /* 198.18.0.1 */
#define DST 0xc6120002u /* 198.18.0.2 */

/* Recomputes the header checksum over IHL*4 bytes (as a sender would). */
static void fix_ip_checksum(uint8_t *pkt)
{
    size_t hlen = (size_t)(pkt[0] & 0x0f) * 4;
    pkt[10] = pkt[11] = 0;
    uint16_t c = csum_fold(csum_add(0, pkt, hlen));
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
}

/* A valid datagram: 20-byte header and payload_len bytes of pattern. */
static size_t make_packet(uint8_t *pkt, uint16_t payload_len)
{
    size_t n =
        ipv4_emit(pkt, SRC, DST, IPPROTO_TCP_NUM, 64, 0x1234, payload_len);
    for (size_t i = 0; i < payload_len; i++)
        pkt[n + i] = (uint8_t)(i * 7 + 1);
    return n + payload_len;
}

/* RFC 791 §3.1: version 4, IHL 5, total length, DF, TTL, protocol. */
static void ipv4_emit_writes_exact_header_with_df_and_checksum(void **state)
{
    (void)state;
    uint8_t pkt[20];
    assert_int_equal(ipv4_emit(pkt, SRC, DST, 6, 64, 0xbeef, 40), 20);
    static const uint8_t expect[20] = {
        0x45, 0x00, 0x00, 0x3c, 0xbe, 0xef, 0x40, 0x00, 0x40, 0x06,
        0x00, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x02,
    };
    assert_memory_equal(pkt, expect, 10);
    assert_memory_equal(pkt + 12, expect + 12, 8);
    assert_int_equal(csum_fold(csum_add(0, pkt, 20)), 0);
}

static void ipv4_emit_then_parse_round_trips(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 31337);
    uint8_t pkt[1600];
    for (int round = 0; round < 2000; round++) {
        uint32_t src = (uint32_t)rng_next(&rng);
        uint32_t dst = (uint32_t)rng_next(&rng);
        uint8_t proto = (uint8_t)rng_next(&rng);
        uint8_t ttl = (uint8_t)rng_next(&rng);
        uint16_t id = (uint16_t)rng_next(&rng);
        uint16_t plen = (uint16_t)(rng_next(&rng) % 1500);
        size_t n = ipv4_emit(pkt, src, dst, proto, ttl, id, plen);
        struct ipv4_info ip;
        assert_int_equal(ipv4_parse(pkt, n + plen, &ip), 0);
        assert_int_equal(ip.src, src);
        assert_int_equal(ip.dst, dst);
        assert_int_equal(ip.proto, proto);
        assert_int_equal(ip.ttl, ttl);
        assert_int_equal(ip.tos, 0);
        assert_int_equal(ip.id, id);
        assert_int_equal(ip.hdr_len, 20);
        assert_ptr_equal(ip.payload, pkt + 20);
        assert_int_equal(ip.payload_len, plen);
    }
}

/* Ethernet pads short frames: bytes after total_len are not payload. */
static void ipv4_parse_ignores_link_padding_beyond_total_length(void **state)
{
    (void)state;
    uint8_t pkt[64] = {0};
    size_t n = make_packet(pkt, 6);
    memset(pkt + n, 0xaa, sizeof(pkt) - n);
    struct ipv4_info ip;
    assert_int_equal(ipv4_parse(pkt, sizeof(pkt), &ip), 0);
    assert_int_equal(ip.payload_len, 6);
}

/* IP options (IHL > 5) are skipped: the payload starts after them. */
static void ipv4_parse_skips_ip_options(void **state)
{
    (void)state;
    for (unsigned ihl = 6; ihl <= 15; ihl++) {
        uint8_t pkt[100] = {0};
        size_t hlen = ihl * 4;
        ipv4_emit(pkt, SRC, DST, 6, 64, 1, 0);
        pkt[0] = (uint8_t)(0x40 | ihl);
        memset(pkt + 20, 0x01, hlen - 20); /* NOPs */
        pkt[hlen] = 0x5a;
        pkt[2] = 0;
        pkt[3] = (uint8_t)(hlen + 1);
        fix_ip_checksum(pkt);
        struct ipv4_info ip;
        assert_int_equal(ipv4_parse(pkt, hlen + 1, &ip), 0);
        assert_int_equal(ip.hdr_len, hlen);
        assert_ptr_equal(ip.payload, pkt + hlen);
        assert_int_equal(ip.payload_len, 1);
        assert_int_equal(ip.payload[0], 0x5a);
    }
}

static void ipv4_parse_rejects_packet_shorter_than_header(void **state)
{
    (void)state;
    uint8_t pkt[20];
    make_packet(pkt, 0);
    struct ipv4_info ip;
    for (size_t len = 0; len < 20; len++)
        assert_int_equal(ipv4_parse(pkt, len, &ip), BERTH_REASON_SHORT_PACKET);
    assert_int_equal(ipv4_parse(pkt, 20, &ip), 0);
}

static void ipv4_parse_rejects_version_other_than_4(void **state)
{
    (void)state;
    uint8_t pkt[40];
    size_t n = make_packet(pkt, 20);
    struct ipv4_info ip;
    for (unsigned v = 0; v < 16; v++) {
        if (v == 4)
            continue;
        pkt[0] = (uint8_t)(v << 4 | 5);
        fix_ip_checksum(pkt);
        assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IP_VERSION);
    }
}

static void ipv4_parse_rejects_ihl_below_5(void **state)
{
    (void)state;
    uint8_t pkt[40];
    size_t n = make_packet(pkt, 20);
    struct ipv4_info ip;
    for (unsigned ihl = 0; ihl < 5; ihl++) {
        pkt[0] = (uint8_t)(0x40 | ihl);
        assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IHL);
    }
}

/* IHL 15 says 60 header bytes; a 40-byte datagram cannot hold them. */
static void ipv4_parse_rejects_ihl_beyond_packet(void **state)
{
    (void)state;
    uint8_t pkt[40];
    make_packet(pkt, 0);
    pkt[0] = 0x4f;
    struct ipv4_info ip;
    assert_int_equal(ipv4_parse(pkt, 20, &ip), BERTH_REASON_BAD_IHL);
    assert_int_equal(ipv4_parse(pkt, 59, &ip), BERTH_REASON_BAD_IHL);
}

static void ipv4_parse_rejects_total_length_beyond_buffer(void **state)
{
    (void)state;
    uint8_t pkt[60];
    size_t n = make_packet(pkt, 40);
    struct ipv4_info ip;
    /* The datagram was cut short in transit. */
    assert_int_equal(ipv4_parse(pkt, n - 1, &ip), BERTH_REASON_BAD_IP_LENGTH);
    pkt[2] = 0xff;
    pkt[3] = 0xff;
    fix_ip_checksum(pkt);
    assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IP_LENGTH);
}

static void ipv4_parse_rejects_total_length_below_header(void **state)
{
    (void)state;
    uint8_t pkt[60];
    size_t n = make_packet(pkt, 40);
    pkt[2] = 0;
    pkt[3] = 19;
    fix_ip_checksum(pkt);
    struct ipv4_info ip;
    assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IP_LENGTH);
}

static void ipv4_parse_rejects_bad_header_checksum(void **state)
{
    (void)state;
    uint8_t pkt[60];
    size_t n = make_packet(pkt, 40);
    struct ipv4_info ip;
    pkt[8] ^= 0x01; /* TTL changed, checksum not updated */
    assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IP_CHECKSUM);
    pkt[8] ^= 0x01;
    pkt[11] ^= 0x80;
    assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_BAD_IP_CHECKSUM);
}

/* berth does not reassemble: first fragments (MF) and later ones (offset
 * nonzero) are both dropped, even with a valid checksum. */
static void ipv4_parse_rejects_fragments(void **state)
{
    (void)state;
    uint8_t pkt[60];
    size_t n = make_packet(pkt, 40);
    struct ipv4_info ip;
    static const uint16_t frag_fields[] = {0x2000, 0x0001, 0x1fff,
                                           0x20b9, 0x6000, 0x4001};
    for (size_t i = 0; i < sizeof(frag_fields) / sizeof(frag_fields[0]); i++) {
        pkt[6] = (uint8_t)(frag_fields[i] >> 8);
        pkt[7] = (uint8_t)frag_fields[i];
        fix_ip_checksum(pkt);
        assert_int_equal(ipv4_parse(pkt, n, &ip), BERTH_REASON_IP_FRAGMENT);
    }
    /* DF alone, or no flags at all, is a whole datagram. */
    pkt[6] = 0;
    pkt[7] = 0;
    fix_ip_checksum(pkt);
    assert_int_equal(ipv4_parse(pkt, n, &ip), 0);
}

/* Parse either rejects or returns exactly what the bytes say. */
static int check_parse_consistent(const uint8_t *pkt, size_t len)
{
    struct ipv4_info ip;
    int r = ipv4_parse(pkt, len, &ip);
    if (r != 0) {
        assert_true(r > 0 && r < BERTH_REASON__COUNT);
        return r;
    }
    size_t hlen = (size_t)(pkt[0] & 0x0f) * 4;
    size_t total = load_be16(pkt + 2);
    assert_true(len >= 20);
    assert_int_equal(pkt[0] >> 4, 4);
    assert_int_equal(ip.hdr_len, hlen);
    assert_true(hlen >= 20 && hlen <= total && total <= len);
    assert_int_equal(csum_fold(csum_add(0, pkt, hlen)), 0);
    assert_int_equal(load_be16(pkt + 6) & 0x3fff, 0);
    assert_int_equal(ip.tos, pkt[1]);
    assert_int_equal(ip.id, load_be16(pkt + 4));
    assert_int_equal(ip.ttl, pkt[8]);
    assert_int_equal(ip.proto, pkt[9]);
    assert_int_equal(ip.src, load_be32(pkt + 12));
    assert_int_equal(ip.dst, load_be32(pkt + 16));
    assert_ptr_equal(ip.payload, pkt + hlen);
    assert_int_equal(ip.payload_len, total - hlen);
    return 0;
}

/* Seeded and bounded: bit flips, byte overwrites and truncations of valid
 * packets, half of them with the checksum repaired so that later checks
 * are reached. Run under ASan, an out-of-bounds read fails the test. */
static void ipv4_parse_survives_mutated_packets(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 0xfeedface);
    int seen[BERTH_REASON__COUNT] = {0};
    for (int round = 0; round < 20000; round++) {
        uint8_t orig[100];
        size_t n = make_packet(orig, (uint16_t)(rng_next(&rng) % 80));
        unsigned flips = 1 + (unsigned)(rng_next(&rng) % 4);
        for (unsigned f = 0; f < flips; f++) {
            size_t at = (size_t)(rng_next(&rng) % 24);
            if (rng_next(&rng) % 2)
                orig[at] ^= (uint8_t)(1u << (rng_next(&rng) % 8));
            else
                orig[at] = (uint8_t)rng_next(&rng);
        }
        if (rng_next(&rng) % 2 && (orig[0] & 0x0f) * 4 <= n)
            fix_ip_checksum(orig);
        size_t len = n;
        if (rng_next(&rng) % 4 == 0)
            len = (size_t)(rng_next(&rng) % (n + 1));
        /* Exactly len bytes on the heap, so ASan sees any overread. */
        uint8_t *pkt = test_malloc(len ? len : 1);
        memcpy(pkt, orig, len);
        seen[check_parse_consistent(pkt, len)]++;
        test_free(pkt);
    }
    /* The mutations reach every outcome, acceptance included. */
    static const int outcomes[] = {
        0,
        BERTH_REASON_SHORT_PACKET,
        BERTH_REASON_BAD_IP_VERSION,
        BERTH_REASON_BAD_IHL,
        BERTH_REASON_BAD_IP_LENGTH,
        BERTH_REASON_BAD_IP_CHECKSUM,
        BERTH_REASON_IP_FRAGMENT,
    };
    for (size_t i = 0; i < sizeof(outcomes) / sizeof(outcomes[0]); i++)
        assert_true(seen[outcomes[i]] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv4_emit_writes_exact_header_with_df_and_checksum),
        cmocka_unit_test(ipv4_emit_then_parse_round_trips),
        cmocka_unit_test(ipv4_parse_ignores_link_padding_beyond_total_length),
        cmocka_unit_test(ipv4_parse_skips_ip_options),
        cmocka_unit_test(ipv4_parse_rejects_packet_shorter_than_header),
        cmocka_unit_test(ipv4_parse_rejects_version_other_than_4),
        cmocka_unit_test(ipv4_parse_rejects_ihl_below_5),
        cmocka_unit_test(ipv4_parse_rejects_ihl_beyond_packet),
        cmocka_unit_test(ipv4_parse_rejects_total_length_beyond_buffer),
        cmocka_unit_test(ipv4_parse_rejects_total_length_below_header),
        cmocka_unit_test(ipv4_parse_rejects_bad_header_checksum),
        cmocka_unit_test(ipv4_parse_rejects_fragments),
        cmocka_unit_test(ipv4_parse_survives_mutated_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
