/* Ephemeral ports of active opens, RFC 6056 §3.3.4 (Algorithm 4, the
 * double-hash selection): successive connects to one destination take
 * nearby free ports of their own sequence, different destinations start
 * far apart, occupied and refused ports are skipped, and a destination
 * whose range is used up gets BERTH_EADDRNOTAVAIL. One stack whose SYNs go
 * nowhere: each connection stays in SYN-SENT and keeps its 4-tuple. Only
 * include/berth/berth.h is used; every test ends with nothing allocated.
 * Also the bound of the 4-tuple table's sizing hint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#define ADDR_A 0xc6120002u /* 198.18.0.2: ours */
#define ADDR_B 0xc6120001u /* 198.18.0.1: the destination */

#include "wire.h"

static struct wire the_wire;

static void stack_config(struct berth_config *cfg)
{
    berth_config_init(cfg);
    cfg->addr = ADDR_A;
    cfg->tx = wire_tx;
    cfg->tx_ctx = &the_wire;
    cfg->seed = 17;
    memcpy(cfg->secret, "test_ports key!!", sizeof cfg->secret);
}

/* Forgets the SYNs sent: nobody answers. */
static void wire_drop(void)
{
    for (size_t i = 0; i < the_wire.n; i++)
        free(the_wire.q[i].data);
    the_wire.head = the_wire.n = 0;
}

/* A connect to ADDR_B:rport; its local port, or the error. */
static int connect_port(struct berth_stack *s, int *h, uint16_t rport)
{
    *h = berth_socket(s);
    assert_true(*h >= 0);
    int r = berth_connect(s, *h, ADDR_B, rport);
    wire_drop();
    if (r != BERTH_EINPROGRESS) {
        assert_int_equal(berth_close(s, *h), 0);
        *h = -1;
        return r;
    }
    struct berth_endpoint ep;
    assert_int_equal(berth_getsockname(s, *h, &ep), 0);
    return ep.port;
}

static void close_all(struct berth_stack *s, const int *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (h[i] >= 0)
            assert_int_equal(berth_close(s, h[i]), 0);
    wire_drop();
    assert_int_equal(berth_mem_bytes(s), 0);
    berth_stack_destroy(s);
}

/* Distance from a to b going up through a range of n ports from lo. */
static uint32_t ahead(uint32_t a, uint32_t b, uint32_t lo, uint32_t n)
{
    return ((b - lo) + n - (a - lo)) % n;
}

#define SEQ 200

/* The counter moves past each port taken (by 1 to 4, the random part
 * included), so each connect to one destination takes a port a little
 * ahead of the last one: its first probe found it free. */
static void connects_to_one_destination_walk_their_own_sequence(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[SEQ];
    int port[SEQ];
    uint32_t n = cfg.ephemeral_hi - cfg.ephemeral_lo + 1;
    for (int i = 0; i < SEQ; i++) {
        port[i] = connect_port(s, &h[i], 80);
        assert_true(port[i] >= cfg.ephemeral_lo && port[i] <= cfg.ephemeral_hi);
    }
    uint32_t jumps[5] = {0};
    for (int i = 1; i < SEQ; i++) {
        uint32_t d = ahead((uint32_t)port[i - 1], (uint32_t)port[i],
                           cfg.ephemeral_lo, n);
        assert_true(d >= 1 && d <= 4);
        jumps[d]++;
    }
    /* The random advance is not a constant: several step sizes occur. */
    int sizes = 0;
    for (int d = 1; d <= 4; d++)
        sizes += jumps[d] > 0;
    assert_true(sizes == 4);
    close_all(s, h, SEQ);
}

#define DESTS 64

/* Different destinations (here: remote ports) start at unrelated places
 * of the range: their keyed offsets differ. */
static void destinations_start_far_apart(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[DESTS];
    int port[DESTS];
    uint32_t lo = cfg.ephemeral_lo, n = cfg.ephemeral_hi - lo + 1;
    for (int i = 0; i < DESTS; i++)
        port[i] = connect_port(s, &h[i], (uint16_t)(1000 + i));
    /* Eight equal parts of the range: a spread start hits most of them
     * (64 uniform draws miss a given eighth with probability 2e-4). */
    unsigned parts = 0;
    for (int i = 0; i < DESTS; i++)
        parts |= 1u << ((uint32_t)(port[i] - (int)lo) * 8 / n);
    assert_int_equal(parts, 0xffu);
    /* and are not one sequence: few neighbours are within 8 ports. */
    int close_pairs = 0;
    for (int i = 1; i < DESTS; i++)
        close_pairs +=
            ahead((uint32_t)port[i - 1], (uint32_t)port[i], lo, n) <= 8;
    assert_true(close_pairs <= 2);
    close_all(s, h, DESTS);
}

#define RANGE 16

/* A range of 16 ports: 16 connects to one destination take them all,
 * the 17th finds none (RFC 6056 §3.3.4: the search gives up after
 * num_ephemeral probes); another destination still has all 16. */
static void full_range_gives_eaddrnotavail(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    cfg.ephemeral_lo = 40000;
    cfg.ephemeral_hi = 40000 + RANGE - 1;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[2 * RANGE + 1];
    bool seen[RANGE] = {false};
    for (int i = 0; i < RANGE; i++) {
        int p = connect_port(s, &h[i], 80);
        assert_true(p >= 40000 && p < 40000 + RANGE);
        assert_false(seen[p - 40000]);
        seen[p - 40000] = true;
    }
    assert_int_equal(connect_port(s, &h[RANGE], 80), BERTH_EADDRNOTAVAIL);
    assert_int_equal(h[RANGE], -1);
    for (int i = RANGE + 1; i <= 2 * RANGE; i++) {
        int p = connect_port(s, &h[i], 81);
        assert_true(p >= 40000 && p < 40000 + RANGE);
    }
    close_all(s, h, 2 * RANGE + 1);
}

/* A port a socket has bound, or a listener holds, is never taken by a
 * connect; the search goes on past it. */
static void bound_and_listening_ports_are_skipped(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    cfg.ephemeral_lo = 40000;
    cfg.ephemeral_hi = 40000 + RANGE - 1;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[RANGE + 1];
    int held[2];
    held[0] = berth_socket(s);
    assert_int_equal(berth_bind(s, held[0], 0, 40003), 0);
    held[1] = berth_socket(s);
    assert_int_equal(berth_bind(s, held[1], 0, 40011), 0);
    assert_int_equal(berth_listen(s, held[1], 8), 0);
    for (int i = 0; i < RANGE - 2; i++) {
        int p = connect_port(s, &h[i], 80);
        assert_true(p >= 40000 && p < 40000 + RANGE);
        assert_true(p != 40003 && p != 40011);
    }
    for (int i = RANGE - 2; i <= RANGE; i++)
        assert_int_equal(connect_port(s, &h[i], 80), BERTH_EADDRNOTAVAIL);
    assert_int_equal(berth_close(s, held[0]), 0);
    assert_int_equal(berth_close(s, held[1]), 0);
    close_all(s, h, RANGE + 1);
}

/* port_ok (a sharded runtime's steering) refuses odd ports: every port
 * taken is even, and none at all when it refuses everything. */
static bool even_only(void *ctx, uint32_t raddr, uint16_t rport, uint16_t lport)
{
    (void)raddr;
    (void)rport;
    if (ctx)
        return false;
    return (lport & 1) == 0;
}

static void refused_ports_are_skipped(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    cfg.port_ok = even_only;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[SEQ + 1];
    for (int i = 0; i < SEQ; i++) {
        int p = connect_port(s, &h[i], 80);
        assert_true(p > 0);
        assert_int_equal(p & 1, 0);
    }
    berth_stack_destroy(s); /* h[] die with it */
    wire_drop();

    cfg.port_ok_ctx = &cfg; /* refuse everything */
    s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    assert_int_equal(connect_port(s, &h[0], 80), BERTH_EADDRNOTAVAIL);
    close_all(s, h, 1);
}

/* The table sizing hint (berth.h: expected_conns) is bounded at 2^24; a
 * stack created with a large one works as any other. */
static void expected_conns_hint_is_bounded(void **state)
{
    (void)state;
    struct berth_config cfg;
    stack_config(&cfg);
    cfg.expected_conns = (1u << 24) + 1;
    assert_null(berth_stack_create(&cfg, 0));
    cfg.expected_conns = 100000;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    int h[RANGE];
    for (int i = 0; i < RANGE; i++)
        assert_true(connect_port(s, &h[i], 80) > 0);
    close_all(s, h, RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connects_to_one_destination_walk_their_own_sequence),
        cmocka_unit_test(destinations_start_far_apart),
        cmocka_unit_test(full_range_gives_eaddrnotavail),
        cmocka_unit_test(bound_and_listening_ports_are_skipped),
        cmocka_unit_test(refused_ports_are_skipped),
        cmocka_unit_test(expected_conns_hint_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
