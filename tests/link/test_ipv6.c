/* Link tests of IPv6 and the dual-stack API (RFC 8200; Linux's IPV6_V6ONLY
 * semantics): two stacks over the in-memory link, through the public API
 * only. IPv6 handshakes, transfers and closes; an IPv6 listener on ::
 * taking IPv4 peers, reported as ::ffff:a.b.c.d; V6ONLY refusing them;
 * binds and connects of the wrong family refused; MSS 1440 from a 1500
 * MTU. Each test ends with both stacks back to zero bytes (after
 * TIME-WAIT) and no timer left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "berth/memlink.h"

#define CLIENT 0
#define SERVER 1
#define MS     1000ull
#define SEC    1000000ull

/* 2001:db8:b::1 and ::2 (RFC 3849 documentation prefix). */
static const uint8_t addr6[2][16] = {
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 1},
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2},
};
static const uint32_t addr4[2] = {0xc6120001u, 0xc6120002u};

struct pair {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    uint64_t now;
    unsigned v4_packets, v6_packets;
    uint16_t syn_mss[2]; /* the MSS option of each side's SYN */
};

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    (void)now;
    (void)fate;
    struct pair *p = ctx;
    struct berth_segment seg;
    assert_int_equal(berth_decode(pkt, len, &seg), 0);
    if (seg.src.family == BERTH_AF_INET6)
        p->v6_packets++;
    else
        p->v4_packets++;
    if (seg.flags & BERTH_TH_SYN)
        p->syn_mss[from] = seg.mss;
}

static struct pair *pair_new(bool v6[2])
{
    struct pair *p = test_calloc(1, sizeof *p);
    p->link = berth_memlink_create(7);
    p->now = 1 * SEC;
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = addr4[side];
        if (v6[side])
            memcpy(cfg.addr6, addr6[side], 16);
        cfg.seed = 100u + (unsigned)side;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(p->link, side);
        p->st[side] = berth_stack_create(&cfg, p->now);
        assert_non_null(p->st[side]);
        berth_memlink_attach(p->link, side, p->st[side]);
    }
    berth_memlink_set_tap(p->link, tap, p);
    return p;
}

static void run_for(struct pair *p, uint64_t us)
{
    assert_int_equal(berth_memlink_run(p->link, &p->now, p->now + us), 0);
}

/* Everything ends: TIME-WAIT runs out, the stacks hold nothing. */
static void pair_finish(struct pair *p)
{
    run_for(p, 70 * SEC);
    for (int side = 0; side < 2; side++) {
        assert_int_equal(berth_mem_bytes(p->st[side]), 0);
        assert_int_equal(berth_next_deadline(p->st[side]), UINT64_MAX);
        berth_stack_destroy(p->st[side]);
    }
    berth_memlink_destroy(p->link);
    test_free(p);
}

static int listen_on(struct pair *p, const struct berth_endpoint *ep,
                     bool v6only)
{
    struct berth_stack *s = p->st[SERVER];
    int l = berth_socket(s);
    assert_true(l >= 0);
    if (v6only)
        assert_int_equal(berth_setopt(s, l, BERTH_OPT_V6ONLY, 1), 0);
    assert_int_equal(berth_bind_endpoint(s, l, ep), 0);
    assert_int_equal(berth_listen(s, l, 8), 0);
    return l;
}

/* Client connects to ep, sends msg; the server accepts, reads it, answers
 * with it, both close. Returns the accepted peer endpoint. */
static struct berth_endpoint exchange(struct pair *p, int l,
                                      const struct berth_endpoint *to)
{
    struct berth_stack *c = p->st[CLIENT], *s = p->st[SERVER];
    static const char msg[] = "hello over the dual stack";
    int h = berth_socket(c);
    assert_int_equal(berth_connect_endpoint(c, h, to), BERTH_EINPROGRESS);
    run_for(p, 100 * MS);
    assert_true(berth_poll(c, h) & BERTH_EV_WRITABLE);
    assert_int_equal(berth_send(c, h, msg, sizeof msg), (int)sizeof msg);
    run_for(p, 100 * MS);
    struct berth_endpoint peer;
    int a = berth_accept(s, l, &peer);
    assert_true(a >= 0);
    char buf[64];
    assert_int_equal(berth_recv(s, a, buf, sizeof buf), (int)sizeof msg);
    assert_memory_equal(buf, msg, sizeof msg);
    assert_int_equal(berth_send(s, a, buf, sizeof msg), (int)sizeof msg);
    run_for(p, 100 * MS);
    assert_int_equal(berth_recv(c, h, buf, sizeof buf), (int)sizeof msg);
    struct berth_endpoint me;
    assert_int_equal(berth_getpeername(c, h, &me), 0);
    assert_int_equal(me.family, to->family);
    assert_memory_equal(me.addr6, to->addr6, 16);
    assert_int_equal(me.addr, to->addr);
    assert_int_equal(berth_close(c, h), 0);
    assert_int_equal(berth_close(s, a), 0);
    run_for(p, 1 * SEC);
    return peer;
}

static void ipv6_handshake_data_close_and_mss_1440(void **state)
{
    (void)state;
    struct pair *p = pair_new((bool[2]){true, true});
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, 80);
    int l = listen_on(p, &any6, false);
    struct berth_endpoint to = berth_endpoint_v6(addr6[SERVER], 80);
    struct berth_endpoint peer = exchange(p, l, &to);
    assert_int_equal(peer.family, BERTH_AF_INET6);
    assert_memory_equal(peer.addr6, addr6[CLIENT], 16);
    assert_int_equal(p->v4_packets, 0);
    assert_true(p->v6_packets >= 8);
    /* RFC 9293 §3.7.1: MTU 1500 minus 40 + 20 bytes of headers. */
    assert_int_equal(p->syn_mss[CLIENT], 1440);
    assert_int_equal(p->syn_mss[SERVER], 1440);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_IP6_IN),
                     berth_counter(p->st[CLIENT], BERTH_CTR_IP6_OUT));
    assert_int_equal(berth_close(p->st[SERVER], l), 0);
    pair_finish(p);
}

/* RFC 3493 §3.7 and Linux: a listener on :: without V6ONLY takes IPv4
 * connections; accept and getpeername say ::ffff:a.b.c.d. */
static void dual_stack_listener_takes_ipv4_as_mapped(void **state)
{
    (void)state;
    struct pair *p = pair_new((bool[2]){true, true});
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, 80);
    int l = listen_on(p, &any6, false);
    struct berth_endpoint to = berth_endpoint_v4(addr4[SERVER], 80);
    struct berth_endpoint peer = exchange(p, l, &to);
    assert_int_equal(peer.family, BERTH_AF_INET6);
    uint32_t v4 = 0;
    assert_true(berth_endpoint_v4mapped(&peer, &v4));
    assert_int_equal(v4, addr4[CLIENT]);
    assert_int_equal(p->v6_packets, 0);
    assert_true(p->v4_packets >= 8);
    /* The client side too can use a mapped address to reach IPv4. */
    uint8_t m[16] = {[10] = 0xff, [11] = 0xff, 198, 18, 0, 2};
    struct berth_endpoint mapped = berth_endpoint_v6(m, 80);
    peer = exchange(p, l, &mapped);
    assert_true(berth_endpoint_v4mapped(&peer, NULL));
    assert_int_equal(p->v6_packets, 0);
    assert_int_equal(berth_close(p->st[SERVER], l), 0);
    pair_finish(p);
}

/* V6ONLY: the IPv4 SYN finds no listener and is refused with a RST. */
static void v6only_listener_refuses_ipv4(void **state)
{
    (void)state;
    struct pair *p = pair_new((bool[2]){true, true});
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, 80);
    int l = listen_on(p, &any6, true);
    struct berth_stack *c = p->st[CLIENT];
    int h = berth_socket(c);
    struct berth_endpoint to = berth_endpoint_v4(addr4[SERVER], 80);
    assert_int_equal(berth_connect_endpoint(c, h, &to), BERTH_EINPROGRESS);
    run_for(p, 100 * MS);
    assert_int_equal(berth_sock_error(c, h), BERTH_ECONNREFUSED);
    assert_int_equal(berth_drop_count(p->st[SERVER], BERTH_REASON_NO_SOCKET),
                     1);
    assert_int_equal(berth_close(c, h), 0);
    /* ... while IPv6 still gets through. */
    struct berth_endpoint to6 = berth_endpoint_v6(addr6[SERVER], 80);
    exchange(p, l, &to6);
    int64_t v = 0;
    assert_int_equal(berth_getopt(p->st[SERVER], l, BERTH_OPT_V6ONLY, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(berth_close(p->st[SERVER], l), 0);
    pair_finish(p);
}

/* Families that do not fit are refused before anything is sent. */
static void wrong_family_binds_and_connects_refused(void **state)
{
    (void)state;
    struct pair *p = pair_new((bool[2]){true, false});
    struct berth_stack *c = p->st[CLIENT], *s4 = p->st[SERVER];
    /* A stack without an IPv6 address. */
    int h = berth_socket(s4);
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, 80);
    assert_int_equal(berth_bind_endpoint(s4, h, &any6), BERTH_EADDRNOTAVAIL);
    struct berth_endpoint to6 = berth_endpoint_v6(addr6[CLIENT], 80);
    assert_int_equal(berth_connect_endpoint(s4, h, &to6), BERTH_EADDRNOTAVAIL);
    assert_int_equal(berth_close(s4, h), 0);
    /* Not our address; bound IPv4 then IPv6; V6ONLY then mapped. */
    h = berth_socket(c);
    struct berth_endpoint other = berth_endpoint_v6(addr6[SERVER], 0);
    assert_int_equal(berth_bind_endpoint(c, h, &other), BERTH_EADDRNOTAVAIL);
    assert_int_equal(berth_bind(c, h, 0, 0), 0);
    assert_int_equal(berth_connect_endpoint(c, h, &other), BERTH_EINVAL);
    assert_int_equal(berth_close(c, h), 0);
    h = berth_socket(c);
    assert_int_equal(berth_setopt(c, h, BERTH_OPT_V6ONLY, 1), 0);
    uint8_t m[16] = {[10] = 0xff, [11] = 0xff, 198, 18, 0, 2};
    struct berth_endpoint mapped = berth_endpoint_v6(m, 80);
    assert_int_equal(berth_connect_endpoint(c, h, &mapped), BERTH_EINVAL);
    assert_int_equal(berth_bind_endpoint(c, h, &mapped), BERTH_EINVAL);
    assert_int_equal(berth_close(c, h), 0);
    assert_int_equal(p->v4_packets + p->v6_packets, 0);
    pair_finish(p);
}

struct walk {
    const uint8_t *peer;
    unsigned records, wrong;
};

static void walk_record(void *ctx, int sock, const struct berth_tcp_info *i)
{
    struct walk *w = ctx;
    if (sock >= 0) /* the listener */
        return;
    w->records++;
    if (i->remote.family != BERTH_AF_INET6 ||
        memcmp(i->remote.addr6, w->peer, 16) != 0 ||
        i->local.family != BERTH_AF_INET6)
        w->wrong++;
}

/* Many IPv6 peers at once: each peer address is kept once however many
 * records use it, and given back with the last of them. */
static void ipv6_connections_share_interned_addresses(void **state)
{
    (void)state;
    struct pair *p = pair_new((bool[2]){true, true});
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, 80);
    int l = listen_on(p, &any6, false);
    struct berth_endpoint to = berth_endpoint_v6(addr6[SERVER], 80);
    int h[6];
    for (int i = 0; i < 6; i++) {
        h[i] = berth_socket(p->st[CLIENT]);
        assert_int_equal(berth_connect_endpoint(p->st[CLIENT], h[i], &to),
                         BERTH_EINPROGRESS);
    }
    run_for(p, 100 * MS);
    for (int i = 0; i < 6; i++) {
        int a = berth_accept(p->st[SERVER], l, NULL);
        assert_true(a >= 0);
        assert_int_equal(berth_close(p->st[SERVER], a), 0);
        assert_int_equal(berth_close(p->st[CLIENT], h[i]), 0);
    }
    run_for(p, 1 * SEC);
    /* The records left (TIME-WAIT) all name the peer's IPv6 address. */
    struct walk w = {0};
    for (int side = 0; side < 2; side++) {
        w.peer = addr6[!side];
        berth_foreach(p->st[side], walk_record, &w);
    }
    assert_true(w.records >= 6);
    assert_int_equal(w.wrong, 0);
    assert_int_equal(berth_close(p->st[SERVER], l), 0);
    pair_finish(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ipv6_handshake_data_close_and_mss_1440),
        cmocka_unit_test(dual_stack_listener_takes_ipv4_as_mapped),
        cmocka_unit_test(v6only_listener_refuses_ipv4),
        cmocka_unit_test(wrong_family_binds_and_connects_refused),
        cmocka_unit_test(ipv6_connections_share_interned_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
