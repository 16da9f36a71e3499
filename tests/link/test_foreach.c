/* berth_foreach (the `ss -tan` view): a server stack holding one of each
 * kind of entry — a listener, an established connection, a half-open
 * SYN-queue entry and a compact TIME-WAIT entry — reports each exactly once
 * with its state and 4-tuple, including those that have no handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "berth/memlink.h"

#define CLIENT      0
#define SERVER      1
#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */
#define MS          1000ull
#define SEC         1000000ull

struct world {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    uint64_t now;
    uint16_t mute_port; /* client port whose pure ACKs the link drops */
};

static struct berth_memlink_verdict
filter(void *ctx, int from, const uint8_t *pkt, size_t len, uint64_t now)
{
    (void)now;
    struct world *w = ctx;
    struct berth_segment seg;
    if (from == CLIENT && berth_decode(pkt, len, &seg) == 0 &&
        seg.src.port == w->mute_port && seg.flags == BERTH_TH_ACK)
        return berth_memlink_drop();
    return berth_memlink_pass();
}

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->link = berth_memlink_create(7);
    assert_non_null(w->link);
    berth_memlink_set_filter(w->link, filter, w);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side == CLIENT ? CLIENT_ADDR : SERVER_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(w->link, side);
        cfg.seed = 100 + (uint64_t)side;
        w->st[side] = berth_stack_create(&cfg, 0);
        assert_non_null(w->st[side]);
        berth_memlink_attach(w->link, side, w->st[side]);
    }
}

static int connect_from(struct world *w, uint16_t port)
{
    int c = berth_socket(w->st[CLIENT]);
    assert_true(c >= 0);
    assert_int_equal(berth_bind(w->st[CLIENT], c, 0, port), 0);
    assert_int_equal(berth_connect(w->st[CLIENT], c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + 10 * MS), 0);
    return c;
}

struct tally {
    int by_state[BERTH_STATE__COUNT];
    int without_handle;
    uint16_t port_of[BERTH_STATE__COUNT];
};

static void count(void *ctx, int sock, const struct berth_tcp_info *info)
{
    struct tally *t = ctx;
    t->by_state[info->state]++;
    t->port_of[info->state] = info->remote.port;
    if (sock < 0)
        t->without_handle++;
    assert_int_equal(info->local.addr, SERVER_ADDR);
}

static void foreach_reports_every_kind_of_entry(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct berth_stack *srv = w.st[SERVER];
    int l = berth_socket(srv);
    assert_int_equal(berth_bind(srv, l, 0, 80), 0);
    assert_int_equal(berth_listen(srv, l, 8), 0);

    int a = connect_from(&w, 1001); /* stays ESTABLISHED */
    int accepted = berth_accept(srv, l, NULL);
    assert_true(accepted >= 0);

    int c = connect_from(&w, 1003); /* server closes first: TIME-WAIT */
    int sc = berth_accept(srv, l, NULL);
    assert_true(sc >= 0);
    assert_int_equal(berth_close(srv, sc), 0);
    assert_int_equal(berth_memlink_run(w.link, &w.now, w.now + 10 * MS), 0);
    assert_int_equal(berth_close(w.st[CLIENT], c), 0);
    assert_int_equal(berth_memlink_run(w.link, &w.now, w.now + 10 * MS), 0);

    w.mute_port = 1002; /* its third segment never arrives: half-open */
    int b = connect_from(&w, 1002);

    struct tally t = {0};
    assert_int_equal(berth_foreach(srv, count, &t), 4);
    assert_int_equal(t.by_state[BERTH_STATE_LISTEN], 1);
    assert_int_equal(t.by_state[BERTH_STATE_ESTABLISHED], 1);
    assert_int_equal(t.port_of[BERTH_STATE_ESTABLISHED], 1001);
    assert_int_equal(t.by_state[BERTH_STATE_SYN_RECEIVED], 1);
    assert_int_equal(t.port_of[BERTH_STATE_SYN_RECEIVED], 1002);
    assert_int_equal(t.by_state[BERTH_STATE_TIME_WAIT], 1);
    assert_int_equal(t.port_of[BERTH_STATE_TIME_WAIT], 1003);
    assert_int_equal(t.without_handle, 2); /* SYN-RECEIVED and TIME-WAIT */

    /* Everything ends: nothing is left to report or to free. */
    berth_abort(w.st[CLIENT], a);
    berth_abort(w.st[CLIENT], b);
    berth_close(srv, accepted);
    berth_close(srv, l);
    assert_int_equal(berth_memlink_run(w.link, &w.now, w.now + 3600 * SEC), 0);
    struct tally none = {0};
    assert_int_equal(berth_foreach(srv, count, &none), 0);
    assert_int_equal(berth_mem_allocs(srv), 0);
    assert_int_equal(berth_mem_allocs(w.st[CLIENT]), 0);
    for (int side = 0; side < 2; side++)
        berth_stack_destroy(w.st[side]);
    berth_memlink_destroy(w.link);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(foreach_reports_every_kind_of_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
