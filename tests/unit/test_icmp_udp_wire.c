/* Unit tests for the ICMP and UDP wire formats (src/wire/icmp.c,
 * src/wire/udp.c): emit -> parse round trips, each rejection reason, the
 * quoted datagram of an error message, UDP's optional checksum over IPv4
 * (RFC 768), and seeded mutations that parse must survive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define SRC 0xc6120001u /* 198.18.0.1 */
#define DST 0xc6120002u /* 198.18.0.2 */

static void icmp_echo_round_trip_keeps_id_seq_and_data(void **state)
{
    (void)state;
    uint8_t m[8 + 64];
    for (int i = 0; i < 64; i++)
        m[8 + i] = (uint8_t)(i * 3);
    size_t n = icmp_emit(m, ICMP_ECHO, 0, 0x12345678u, 64);
    assert_int_equal(n, sizeof m);
    struct icmp_info info;
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(info.type, ICMP_ECHO);
    assert_int_equal(info.id, 0x1234);
    assert_int_equal(info.seq, 0x5678);
    assert_int_equal(info.data_len, 64);
    assert_memory_equal(info.data, m + 8, 64);
    assert_false(icmp_is_error(info.type));
}

static void icmp_short_and_bad_checksum_rejected_rfc792(void **state)
{
    (void)state;
    uint8_t m[8 + 4] = {0};
    icmp_emit(m, ICMP_ECHO, 0, 1, 4);
    struct icmp_info info;
    assert_int_equal(icmp_parse(m, 7, &info), BERTH_REASON_ICMP_SHORT);
    /* The checksum covers the data too: any flipped bit is caught. */
    for (size_t i = 0; i < sizeof m; i++) {
        m[i] ^= 0x10;
        assert_int_equal(icmp_parse(m, sizeof m, &info),
                         BERTH_REASON_BAD_ICMP_CHECKSUM);
        m[i] ^= 0x10;
    }
    assert_int_equal(icmp_parse(m, sizeof m, &info), 0);
}

/* An error message quoting a TCP segment: header + 8 bytes (RFC 792). */
static size_t make_error(uint8_t *m, uint8_t ihl_words, size_t after)
{
    uint8_t *q = m + 8;
    memset(q, 0, 60 + 8);
    q[0] = (uint8_t)(0x40 | ihl_words);
    store_be16(q + 2, 1500);
    q[9] = IPPROTO_TCP_NUM;
    store_be32(q + 12, DST);
    store_be32(q + 16, SRC);
    size_t hl = (size_t)ihl_words * 4;
    store_be16(q + hl, 50000);
    store_be16(q + hl + 2, 80);
    store_be32(q + hl + 4, 0xdeadbeefu);
    return icmp_emit(m, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280, hl + after);
}

static void icmp_error_quote_gives_addresses_ports_and_seq(void **state)
{
    (void)state;
    uint8_t m[8 + 60 + 8];
    size_t n = make_error(m, 5, 8);
    struct icmp_info info;
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_true(icmp_is_error(info.type));
    assert_int_equal(info.mtu, 1280); /* RFC 1191 §4 */
    struct icmp_quote q;
    assert_int_equal(icmp_quote_parse(&info, &q), 0);
    assert_int_equal(q.src, DST);
    assert_int_equal(q.dst, SRC);
    assert_int_equal(q.proto, IPPROTO_TCP_NUM);
    assert_int_equal(q.total_len, 1500);
    assert_int_equal(q.sport, 50000);
    assert_int_equal(q.dport, 80);
    assert_int_equal(q.seq, 0xdeadbeefu);
    /* With IP options (IHL 15) the ports follow the options. */
    n = make_error(m, 15, 8);
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(icmp_quote_parse(&info, &q), 0);
    assert_int_equal(q.sport, 50000);
}

static void icmp_error_quote_too_short_or_not_ipv4_rejected(void **state)
{
    (void)state;
    uint8_t m[8 + 60 + 8];
    struct icmp_info info;
    struct icmp_quote q;
    size_t n = make_error(m, 5, 7); /* one byte short of the 8 */
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(icmp_quote_parse(&info, &q), BERTH_REASON_ICMP_BAD_QUOTE);
    n = make_error(m, 15, 4); /* IHL says 60, then only 4 bytes */
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(icmp_quote_parse(&info, &q), BERTH_REASON_ICMP_BAD_QUOTE);
    n = make_error(m, 4, 8); /* IHL below 5 */
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(icmp_quote_parse(&info, &q), BERTH_REASON_ICMP_BAD_QUOTE);
    make_error(m, 5, 8);
    m[8] = 0x65; /* version 6 */
    n = icmp_emit(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, 28);
    assert_int_equal(icmp_parse(m, n, &info), 0);
    assert_int_equal(icmp_quote_parse(&info, &q), BERTH_REASON_ICMP_BAD_QUOTE);
}

static void udp_round_trip_and_checksum_rfc768(void **state)
{
    (void)state;
    uint8_t u[8 + 13];
    memcpy(u + 8, "hello, berth!", 13);
    size_t n = udp_emit(u, 5353, 53, 13, SRC, DST);
    assert_int_equal(n, sizeof u);
    assert_int_not_equal(load_be16(u + 6), 0); /* always computed */
    struct udp_info info;
    assert_int_equal(udp_parse(u, n, SRC, DST, true, &info), 0);
    assert_int_equal(info.sport, 5353);
    assert_int_equal(info.dport, 53);
    assert_int_equal(info.payload_len, 13);
    assert_memory_equal(info.payload, "hello, berth!", 13);
    /* The pseudo-header counts: another destination fails. */
    assert_int_equal(udp_parse(u, n, SRC, DST + 1, true, &info),
                     BERTH_REASON_BAD_UDP_CHECKSUM);
    /* ... unless the link checked it already. */
    assert_int_equal(udp_parse(u, n, SRC, DST + 1, false, &info), 0);
    /* RFC 768: a zero checksum field means none was computed: accepted. */
    store_be16(u + 6, 0);
    assert_int_equal(udp_parse(u, n, SRC, DST + 1, true, &info), 0);
}

static void udp_length_field_checked_and_padding_ignored(void **state)
{
    (void)state;
    uint8_t u[8 + 4 + 6] = {0};
    size_t n = udp_emit(u, 1, 2, 4, SRC, DST);
    struct udp_info info;
    /* Bytes past the length field (link padding) are not payload. */
    assert_int_equal(udp_parse(u, sizeof u, SRC, DST, true, &info), 0);
    assert_int_equal(info.payload_len, 4);
    assert_int_equal(udp_parse(u, 7, SRC, DST, true, &info),
                     BERTH_REASON_UDP_BAD_LENGTH);
    assert_int_equal(udp_parse(u, n - 1, SRC, DST, true, &info),
                     BERTH_REASON_UDP_BAD_LENGTH); /* length beyond data */
    store_be16(u + 4, 7);                          /* below the header */
    assert_int_equal(udp_parse(u, n, SRC, DST, false, &info),
                     BERTH_REASON_UDP_BAD_LENGTH);
}

/* Seeded mutations: parse never reads outside the buffer (ASan) and
 * either rejects or returns fields within it. */
static void mutations_never_read_outside(void **state)
{
    (void)state;
    struct rng rng;
    rng_seed(&rng, 13);
    uint8_t buf[8 + 60 + 16];
    for (int round = 0; round < 20000; round++) {
        size_t n = make_error(buf, 5, 16);
        for (int k = 0; k < 4; k++)
            buf[rng_next(&rng) % n] = (uint8_t)rng_next(&rng);
        size_t len = rng_next(&rng) % (n + 1);
        struct icmp_info info;
        if (icmp_parse(buf, len, &info) == 0) {
            struct icmp_quote q;
            (void)icmp_quote_parse(&info, &q);
            assert_true(info.data + info.data_len <= buf + len);
        }
        struct udp_info u;
        if (udp_parse(buf, len, SRC, DST, true, &u) == 0)
            assert_true(u.payload + u.payload_len <= buf + len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(icmp_echo_round_trip_keeps_id_seq_and_data),
        cmocka_unit_test(icmp_short_and_bad_checksum_rejected_rfc792),
        cmocka_unit_test(icmp_error_quote_gives_addresses_ports_and_seq),
        cmocka_unit_test(icmp_error_quote_too_short_or_not_ipv4_rejected),
        cmocka_unit_test(udp_round_trip_and_checksum_rfc768),
        cmocka_unit_test(udp_length_field_checked_and_padding_ignored),
        cmocka_unit_test(mutations_never_read_outside),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
