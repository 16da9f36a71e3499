/* IPv4 reassembly for UDP and ICMP (src/ip/frag.c), through the public
 * input path: fragments in any order make the datagram whole; an exact
 * duplicate is ignored; an overlap abandons the datagram (RFC 5722 §3);
 * impossible fragments are refused; an incomplete datagram is abandoned
 * after 30 s; a flood of first fragments cannot hold more than the bound;
 * TCP fragments are dropped and counted (RFC 791 §3.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

#define PEER 0xc6120001u /* 198.18.0.1 */
#define US   0xc6120002u /* 198.18.0.2 */
#define SEC  1000000ull

static uint8_t dgram[9000]; /* UDP header + payload */
static size_t dgram_len;

static struct berth_stack *stack_with_socket(int *sock)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = US;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    *sock = berth_udp_socket(s);
    assert_int_equal(berth_bind(s, *sock, 0, 53), 0);
    return s;
}

static void make_dgram(size_t payload)
{
    for (size_t i = 0; i < payload; i++)
        dgram[UDP_HDR_LEN + i] = (uint8_t)(i * 13 + 5);
    dgram_len = udp_emit(dgram, 4000, 53, payload, PEER, US);
}

/* Sends bytes [off, off + len) of dgram as one fragment. */
static int send_frag(struct berth_stack *s, uint16_t id, uint8_t proto,
                     size_t off, size_t len, bool more, uint64_t now)
{
    uint8_t p[IPV4_HDR_LEN + sizeof dgram];
    ipv4_emit(p, PEER, US, proto, 64, id, (uint16_t)len);
    store_be16(p + 6, (uint16_t)((more ? 0x2000u : 0) | off / 8));
    store_be16(p + 10, 0);
    store_be16(p + 10, csum_fold(csum_add(0, p, IPV4_HDR_LEN)));
    /* Offsets beyond the test's datagram carry its first bytes. */
    memcpy(p + IPV4_HDR_LEN, off + len <= sizeof dgram ? dgram + off : dgram,
           len);
    return berth_input(s, p, IPV4_HDR_LEN + len, now);
}

static void expect_dgram(struct berth_stack *s, int sock, size_t payload)
{
    static uint8_t buf[sizeof dgram];
    struct berth_endpoint from;
    assert_int_equal(berth_recvfrom(s, sock, buf, sizeof buf, &from),
                     (int)payload);
    assert_memory_equal(buf, dgram + UDP_HDR_LEN, payload);
    assert_int_equal(from.port, 4000);
}

static void fragments_in_any_order_make_the_datagram(void **state)
{
    (void)state;
    int u;
    struct berth_stack *s = stack_with_socket(&u);
    make_dgram(4000); /* 4008 bytes: fragments of 1480, 1480, 1048 */
    assert_int_equal(send_frag(s, 1, 17, 2960, 1048, false, 0), 0);
    assert_int_equal(send_frag(s, 1, 17, 0, 1480, true, 0), 0);
    assert_int_equal(berth_recv(s, u, dgram, 0), BERTH_EAGAIN);
    /* An exact duplicate changes nothing (RFC 8200 §4.5 allows it). */
    assert_int_equal(send_frag(s, 1, 17, 0, 1480, true, 0), 0);
    assert_int_equal(send_frag(s, 1, 17, 1480, 1480, true, 0), 0);
    expect_dgram(s, u, 4000);
    assert_int_equal(berth_counter(s, BERTH_CTR_IP_REASM_OKS), 1);
    assert_int_equal(berth_counter(s, BERTH_CTR_IP_REASM_REQDS), 4);
    /* Interleaved datagrams (ids 2 and 3) are kept apart. */
    make_dgram(2000);
    assert_int_equal(send_frag(s, 2, 17, 0, 1000, true, 1), 0);
    assert_int_equal(send_frag(s, 3, 17, 1000, 1008, false, 1), 0);
    assert_int_equal(send_frag(s, 3, 17, 0, 1000, true, 1), 0);
    expect_dgram(s, u, 2000);
    assert_int_equal(send_frag(s, 2, 17, 1000, 1008, false, 1), 0);
    expect_dgram(s, u, 2000);
    assert_int_equal(berth_close(s, u), 0);
    assert_int_equal(berth_mem_bytes(s), 0);
    berth_stack_destroy(s);
}

static void overlap_abandons_the_datagram_rfc5722(void **state)
{
    (void)state;
    int u;
    struct berth_stack *s = stack_with_socket(&u);
    make_dgram(3000);
    assert_int_equal(send_frag(s, 7, 17, 0, 1480, true, 0), 0);
    /* Starts inside the first: the whole datagram goes. */
    assert_int_equal(send_frag(s, 7, 17, 1472, 1480, true, 0),
                     BERTH_REASON_FRAG_OVERLAP);
    assert_int_equal(send_frag(s, 7, 17, 2952, 56, false, 0), 0);
    assert_int_equal(berth_recv(s, u, dgram, 0), BERTH_EAGAIN);
    assert_int_equal(berth_counter(s, BERTH_CTR_IP_REASM_FAILS), 1);
    assert_int_equal(berth_drop_count(s, BERTH_REASON_FRAG_OVERLAP), 1);
    /* Impossible: a middle fragment not a multiple of 8, an empty one, one
     * beyond 65535 bytes, and a second, different end. */
    assert_int_equal(send_frag(s, 8, 17, 0, 1001, true, 0),
                     BERTH_REASON_FRAG_BAD);
    assert_int_equal(send_frag(s, 8, 17, 8, 0, true, 0), BERTH_REASON_FRAG_BAD);
    assert_int_equal(send_frag(s, 8, 17, 65528, 16, false, 0),
                     BERTH_REASON_FRAG_BAD);
    assert_int_equal(send_frag(s, 9, 17, 1480, 100, false, 0), 0);
    assert_int_equal(send_frag(s, 9, 17, 1480, 200, false, 0),
                     BERTH_REASON_FRAG_BAD);
    assert_int_equal(berth_close(s, u), 0);
    berth_stack_destroy(s);
}

static void incomplete_datagram_abandoned_after_30s(void **state)
{
    (void)state;
    int u;
    struct berth_stack *s = stack_with_socket(&u);
    make_dgram(3000);
    assert_int_equal(send_frag(s, 5, 17, 0, 1480, true, 0), 0);
    berth_advance(s, 30 * SEC - 1);
    assert_int_equal(berth_drop_count(s, BERTH_REASON_FRAG_TIMEOUT), 0);
    berth_advance(s, 30 * SEC);
    assert_int_equal(berth_drop_count(s, BERTH_REASON_FRAG_TIMEOUT), 1);
    /* The rest now starts a new datagram that never completes. */
    assert_int_equal(send_frag(s, 5, 17, 1480, 1528, false, 30 * SEC), 0);
    assert_int_equal(berth_recv(s, u, dgram, 0), BERTH_EAGAIN);
    assert_int_equal(berth_close(s, u), 0);
    berth_stack_destroy(s);
}

static void flood_of_first_fragments_is_bounded(void **state)
{
    (void)state;
    int u;
    struct berth_stack *s = stack_with_socket(&u);
    make_dgram(8000);
    /* 1000 datagrams started, never finished: the oldest give way. */
    for (uint16_t id = 0; id < 1000; id++)
        assert_int_equal(send_frag(s, id, 17, 0, 7000, true, id), 0);
    assert_true(berth_drop_count(s, BERTH_REASON_FRAG_NO_ROOM) >= 990);
    /* And a real one still completes. */
    assert_int_equal(send_frag(s, 2000, 17, 0, 4000, true, 2000), 0);
    assert_int_equal(send_frag(s, 2000, 17, 4000, 4008, false, 2000), 0);
    expect_dgram(s, u, 8000);
    assert_int_equal(berth_close(s, u), 0);
    berth_stack_destroy(s);
}

static void tcp_fragments_dropped_and_counted(void **state)
{
    (void)state;
    int u;
    struct berth_stack *s = stack_with_socket(&u);
    make_dgram(100);
    assert_int_equal(send_frag(s, 1, 6, 0, 64, true, 0),
                     BERTH_REASON_IP_FRAGMENT);
    assert_int_equal(send_frag(s, 1, 6, 64, 44, false, 0),
                     BERTH_REASON_IP_FRAGMENT);
    assert_int_equal(berth_drop_count(s, BERTH_REASON_IP_FRAGMENT), 2);
    assert_int_equal(berth_counter(s, BERTH_CTR_IP_REASM_REQDS), 0);
    assert_int_equal(berth_close(s, u), 0);
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fragments_in_any_order_make_the_datagram),
        cmocka_unit_test(overlap_abandons_the_datagram_rfc5722),
        cmocka_unit_test(incomplete_datagram_abandoned_after_30s),
        cmocka_unit_test(flood_of_first_fragments_is_bounded),
        cmocka_unit_test(tcp_fragments_dropped_and_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
