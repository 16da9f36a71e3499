/* UDP between two stacks over the in-memory link (public API only):
 * sendto/recvfrom with the peer's address, connected sockets, ephemeral
 * binding, datagram boundaries and truncation, the API's refusals, a
 * large datagram, port unreachable seen as ECONNREFUSED by a connected
 * sender, and nothing leaked once the sockets are closed (RFC 768). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "berth/memlink.h"

#define A      0
#define B      1
#define A_ADDR 0xc6120001u /* 198.18.0.1 */
#define B_ADDR 0xc6120002u /* 198.18.0.2 */
#define MS     1000ull

struct world {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    uint64_t now;
    uint32_t events[2]; /* OR of the event masks per side (handle 0..) */
};

static void on_event(void *ctx, int sock, uint32_t ev)
{
    uint32_t *mask = ctx;
    (void)sock;
    *mask |= ev;
}

static void world_init(struct world *w)
{
    memset(w, 0, sizeof *w);
    w->link = berth_memlink_create(3);
    assert_non_null(w->link);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side == A ? A_ADDR : B_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(w->link, side);
        cfg.event = on_event;
        cfg.event_ctx = &w->events[side];
        cfg.seed = 5 + (uint64_t)side;
        w->st[side] = berth_stack_create(&cfg, 0);
        assert_non_null(w->st[side]);
        berth_memlink_attach(w->link, side, w->st[side]);
    }
}

static void world_run(struct world *w)
{
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + 10 * MS), 0);
}

static void world_fini(struct world *w)
{
    for (int side = 0; side < 2; side++) {
        assert_int_equal(berth_mem_bytes(w->st[side]), 0);
        berth_stack_destroy(w->st[side]);
    }
    berth_memlink_destroy(w->link);
}

static void sendto_recvfrom_carry_the_peers_address(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int srv = berth_udp_socket(w.st[B]);
    assert_true(srv >= 0);
    assert_int_equal(berth_bind(w.st[B], srv, 0, 53), 0);
    int cli = berth_udp_socket(w.st[A]);
    struct berth_endpoint to = {.addr = B_ADDR, .port = 53}, from, name;
    /* Unbound: sending binds an ephemeral port (RFC 6056 range). */
    assert_int_equal(berth_sendto(w.st[A], cli, "query", 5, &to), 5);
    assert_int_equal(berth_sendto(w.st[A], cli, "", 0, &to), 0);
    assert_int_equal(berth_getsockname(w.st[A], cli, &name), 0);
    assert_true(name.port >= 32768 && name.port <= 60999);
    world_run(&w);
    assert_true(w.events[B] & BERTH_EV_READABLE);
    char buf[64];
    assert_int_equal(berth_recvfrom(w.st[B], srv, buf, sizeof buf, &from), 5);
    assert_memory_equal(buf, "query", 5);
    assert_int_equal(from.addr, A_ADDR);
    assert_int_equal(from.port, name.port);
    /* Datagram boundaries: the empty one is a datagram of its own. */
    assert_int_equal(berth_recvfrom(w.st[B], srv, buf, sizeof buf, &from), 0);
    assert_int_equal(berth_recv(w.st[B], srv, buf, sizeof buf), BERTH_EAGAIN);
    /* The answer goes back to the address the query came from. */
    assert_int_equal(berth_sendto(w.st[B], srv, "answer!", 7, &from), 7);
    world_run(&w);
    assert_int_equal(berth_poll(w.st[A], cli),
                     BERTH_EV_READABLE | BERTH_EV_WRITABLE);
    /* Reading less than the datagram: its tail is lost (recvfrom(2)). */
    assert_int_equal(berth_recvfrom(w.st[A], cli, buf, 3, &from), 3);
    assert_memory_equal(buf, "ans", 3);
    assert_int_equal(from.port, 53);
    assert_int_equal(berth_recv(w.st[A], cli, buf, sizeof buf), BERTH_EAGAIN);
    assert_int_equal(berth_counter(w.st[B], BERTH_CTR_UDP_IN), 2);
    assert_int_equal(berth_counter(w.st[A], BERTH_CTR_UDP_OUT), 2);
    assert_int_equal(berth_close(w.st[A], cli), 0);
    assert_int_equal(berth_close(w.st[B], srv), 0);
    world_fini(&w);
}

static void api_refusals_rfc768_sockets(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    struct berth_stack *s = w.st[A];
    int u = berth_udp_socket(s);
    char big[65508] = {0};
    struct berth_endpoint to = {.addr = B_ADDR, .port = 9}, ep;
    assert_int_equal(berth_send(s, u, "x", 1), BERTH_EDESTADDRREQ);
    assert_int_equal(berth_sendto(s, u, big, sizeof big, &to), BERTH_EMSGSIZE);
    assert_int_equal(berth_getpeername(s, u, &ep), BERTH_ENOTCONN);
    assert_int_equal(berth_listen(s, u, 1), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_shutdown(s, u, BERTH_SHUT_WR), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_setopt(s, u, BERTH_OPT_NODELAY, 1),
                     BERTH_ENOPROTOOPT);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(s, u, &info), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_bind(s, u, 0, 7000), 0);
    assert_int_equal(berth_bind(s, u, 0, 7001), BERTH_EINVAL);
    int v = berth_udp_socket(s);
    assert_int_equal(berth_bind(s, v, 0, 7000), BERTH_EADDRINUSE);
    assert_int_equal(berth_bind(s, v, 0x01020304u, 7002), BERTH_EADDRNOTAVAIL);
    /* UDP and TCP ports are separate spaces. */
    int t = berth_socket(s);
    assert_int_equal(berth_bind(s, t, 0, 7000), 0);
    assert_int_equal(berth_close(s, t), 0);
    assert_int_equal(berth_close(s, u), 0);
    /* A closed port is free again. */
    assert_int_equal(berth_bind(s, v, 0, 7000), 0);
    assert_int_equal(berth_close(s, v), 0);
    assert_int_equal(berth_close(s, v), BERTH_EBADF);
    world_fini(&w);
}

static void
connected_socket_hears_port_unreachable_as_econnrefused(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int u = berth_udp_socket(w.st[A]);
    assert_int_equal(berth_connect(w.st[A], u, B_ADDR, 4444), 0);
    assert_int_equal(berth_send(w.st[A], u, "anyone?", 7), 7);
    world_run(&w); /* B has no socket on 4444: ICMP port unreachable */
    assert_int_equal(berth_counter(w.st[B], BERTH_CTR_UDP_NO_PORTS), 1);
    assert_int_equal(berth_counter(w.st[B], BERTH_CTR_ICMP_OUT_DEST_UNREACHS),
                     1);
    assert_true(berth_poll(w.st[A], u) & BERTH_EV_ERROR);
    char buf[8];
    assert_int_equal(berth_recv(w.st[A], u, buf, sizeof buf),
                     BERTH_ECONNREFUSED);
    assert_int_equal(berth_sock_error(w.st[A], u), 0); /* taken once */
    assert_int_equal(berth_close(w.st[A], u), 0);
    world_fini(&w);
}

static void large_datagram_and_queue_bound(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int srv = berth_udp_socket(w.st[B]);
    assert_int_equal(berth_bind(w.st[B], srv, 0, 9000), 0);
    int cli = berth_udp_socket(w.st[A]);
    assert_int_equal(berth_connect(w.st[A], cli, B_ADDR, 9000), 0);
    static uint8_t out[65507], in[65507];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i * 7);
    /* The largest payload an IPv4 datagram carries, whole. */
    assert_int_equal(berth_send(w.st[A], cli, out, sizeof out), 65507);
    /* More than the queue's bytes (256 KiB) in 4 more. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(berth_send(w.st[A], cli, out, sizeof out), 65507);
    world_run(&w);
    assert_int_equal(berth_recv(w.st[B], srv, in, sizeof in), 65507);
    assert_memory_equal(in, out, sizeof out);
    assert_int_equal(berth_counter(w.st[B], BERTH_CTR_UDP_IN), 4);
    assert_int_equal(berth_counter(w.st[B], BERTH_CTR_UDP_RCVBUF_ERRORS), 1);
    assert_int_equal(berth_drop_count(w.st[B], BERTH_REASON_UDP_QUEUE_FULL), 1);
    /* Closing with datagrams still queued frees them. */
    assert_int_equal(berth_close(w.st[B], srv), 0);
    assert_int_equal(berth_close(w.st[A], cli), 0);
    world_fini(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sendto_recvfrom_carry_the_peers_address),
        cmocka_unit_test(api_refusals_rfc768_sockets),
        cmocka_unit_test(
            connected_socket_hears_port_unreachable_as_econnrefused),
        cmocka_unit_test(large_datagram_and_queue_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
