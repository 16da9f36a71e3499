/* The look-ahead of active opens (src/tcp/tcp_user.c, pick_ephemeral, and
 * tcp_connect_ahead in src/tcp/tcp_conn.c): when a connect takes its port,
 * the 4-tuple the next connect to the same destination will try first is
 * hashed and its table bucket prefetched; that connect takes the hash over.
 * Held here: the memo names the very port the next connect takes (else the
 * prefetch would warm the wrong bucket), its hash is the 4-tuple's keyed
 * hash computed fresh, and every connection lands in the table under its
 * own hash (a memo taken for another 4-tuple would file the TCB where no
 * lookup finds it), also when the memo names another port than the one
 * tried. Interleaved destinations, some sharing a memo, IPv4 and IPv6. One
 * stack whose SYNs go nowhere. White-box: it reads the stack's memos and TCBs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"

#define ADDR_A 0xc6120002u /* 198.18.0.2: ours */
#define ADDR_B 0xc6120001u /* 198.18.0.1: the destination */

static const uint8_t ours6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
                                  0,    0, 0, 0, 0, 0, 0, 2};
static const uint8_t peer6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0,
                                  0,    0, 0, 0, 0, 0, 0, 1};

#include "wire.h"

static struct wire the_wire;

static void wire_drop(void)
{
    for (size_t i = 0; i < the_wire.n; i++)
        free(the_wire.q[i].data);
    the_wire.head = the_wire.n = 0;
}

/* The memo written for (v6, raddr, rport): the one of them whose 4-tuple
 * is that destination's (a connect to it was just made, so there is one). */
static const struct tuple_memo *memo_of(const struct berth_stack *s, bool v6,
                                        uint32_t raddr, uint16_t rport)
{
    const struct tuple_memo *found = NULL;
    for (unsigned i = 0; i < TCP_PORT_NEXT; i++) {
        const struct tuple_memo *m = &s->port_next[i];
        if (m->valid && m->v6 == v6 && m->raddr == raddr && m->rport == rport)
            found = m;
    }
    return found;
}

#define DESTS  40
#define ROUNDS 30

static void next_connect_takes_the_port_and_hash_looked_ahead(void **state)
{
    (void)state;
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = ADDR_A;
    memcpy(cfg.addr6, ours6, 16);
    cfg.tx = wire_tx;
    cfg.tx_ctx = &the_wire;
    cfg.seed = 23;
    cfg.max_sockets = 2 * DESTS * ROUNDS;
    memcpy(cfg.secret, "connect ahead!!!", sizeof cfg.secret);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    static int h[DESTS * ROUNDS];
    uint32_t raddr_key[DESTS] = {0}; /* IPv6: the peer's id in the stack */
    bool stale[DESTS] = {false};
    unsigned taken = 0, predicted = 0, hits = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        for (unsigned d = 0; d < DESTS; d++) {
            /* Even destinations IPv4, odd ones IPv6; remote ports 1000+. */
            bool v6 = d & 1;
            uint16_t rport = (uint16_t)(1000 + d);
            /* What the last connect here looked ahead to, unless a
             * destination sharing the memo took it over since. */
            const struct tuple_memo *m =
                r > 0 ? memo_of(s, v6, raddr_key[d], rport) : NULL;
            uint16_t ahead = m ? m->lport : 0;
            int k = (int)(r * DESTS + d);
            h[k] = berth_socket(s);
            assert_true(h[k] >= 0);
            struct berth_endpoint to = v6 ? berth_endpoint_v6(peer6, rport)
                                          : berth_endpoint_v4(ADDR_B, rport);
            assert_int_equal(berth_connect_endpoint(s, h[k], &to),
                             BERTH_EINPROGRESS);
            wire_drop();
            int err = 0;
            struct tcp_conn *c = sock_conn(s, h[k], &err);
            assert_non_null(c);
            raddr_key[d] = c->n.raddr;
            /* Filed under its own hash: a lookup finds it. */
            uint64_t fresh = tcp_tuple_hash(s, v6, c->n.laddr, c->n.lport,
                                            c->n.raddr, c->n.rport);
            assert_int_equal(c->hash, (uint32_t)fresh);
            assert_ptr_equal(tcp_lookup(s, v6, c->n.laddr, c->n.lport,
                                        c->n.raddr, c->n.rport),
                             &c->n);
            if (ahead && !stale[d]) {
                predicted++;
                hits += c->n.lport == ahead;
            }
            /* The memo now: this destination's next first port, its hash
             * the one computed fresh. */
            m = memo_of(s, v6, c->n.raddr, rport);
            assert_non_null(m);
            assert_int_equal(m->laddr, c->n.laddr);
            assert_true(m->lport != c->n.lport);
            assert_true(m->hash == tcp_tuple_hash(s, v6, m->laddr, m->lport,
                                                  m->raddr, m->rport));
            /* Now and then the memo is made to name another port (as if
             * the counter had moved): the next connect must not take that
             * port's hash for the one it tries. */
            stale[d] = (r + d) % 5 == 0;
            if (stale[d]) {
                struct tuple_memo *w = (struct tuple_memo *)m;
                w->lport = (uint16_t)(w->lport + 7);
                w->hash = tcp_tuple_hash(s, v6, w->laddr, w->lport, w->raddr,
                                         w->rport);
            }
            taken++;
        }
    }
    /* The look-ahead names the port taken: only a destination sharing the
     * counter (1024 of them, 40 destinations) moves it in between. */
    assert_true(predicted > (ROUNDS - 1) * DESTS * 3 / 5);
    assert_true(hits * 10 >= predicted * 9);
    assert_int_equal(taken, DESTS * ROUNDS);
    /* Most connects found their first port free and looked ahead right. */
    assert_true(hits > (ROUNDS - 1) * DESTS / 2);
    for (unsigned k = 0; k < DESTS * ROUNDS; k++)
        assert_int_equal(berth_close(s, h[k]), 0);
    wire_drop();
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_connect_takes_the_port_and_hash_looked_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
