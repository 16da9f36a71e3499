/* The public socket API as an application sees it: bad handles of every
 * kind give BERTH_EBADF from every call, misuse gives the documented errno,
 * options round-trip, and the name tables and defaults match berth.h. Only
 * include/berth/berth.h is used; connected sockets come from two stacks
 * wired back to back. Every test ends with nothing allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#define ADDR(a, b, c, d)                                                       \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) |    \
     (uint32_t)(d))
#define ADDR_A ADDR(198, 18, 0, 2) /* berth_config_init's address */
#define ADDR_B ADDR(198, 18, 0, 1)
#define SEC    1000000ull
#define MS     1000ull

/* ---- a stack, or two stacks wired back to back ---- */

#define WIRE_Q 256
#include "wire.h"

struct pair {
    struct wire w;
    struct berth_stack *a, *b; /* a: 198.18.0.2, b: 198.18.0.1 */
    uint64_t now;
};

static struct berth_stack *stack_new(struct wire *w, uint32_t addr,
                                     uint32_t max_sockets)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = w;
    cfg.seed = addr;
    memcpy(cfg.secret, "test_api secret!", sizeof cfg.secret);
    if (max_sockets)
        cfg.max_sockets = max_sockets;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    assert_int_equal(berth_mem_allocs(s), 0);
    assert_int_equal(berth_mem_bytes(s), 0);
    return s;
}

/* Delivers everything in flight, and what that causes, in order. */
static void pump(struct pair *p)
{
    while (p->w.head < p->w.n) {
        struct pkt pk = p->w.q[p->w.head++];
        struct berth_stack *to = pk.dst == ADDR_A ? p->a : p->b;
        berth_input(to, pk.data, pk.len, p->now);
        free(pk.data);
    }
    p->w.head = p->w.n = 0;
}

static void pair_init(struct pair *p)
{
    memset(p, 0, sizeof *p);
    p->a = stack_new(&p->w, ADDR_A, 0);
    p->b = stack_new(&p->w, ADDR_B, 0);
}

/* A listener on b:80 and a connection a -> b:80, ESTABLISHED at both ends. */
static void pair_connect(struct pair *p, int *listener, int *client,
                         int *server)
{
    *listener = berth_socket(p->b);
    assert_true(*listener >= 0);
    assert_int_equal(berth_bind(p->b, *listener, 0, 80), 0);
    assert_int_equal(berth_listen(p->b, *listener, 8), 0);
    *client = berth_socket(p->a);
    assert_true(*client >= 0);
    assert_int_equal(berth_connect(p->a, *client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    pump(p);
    *server = berth_accept(p->b, *listener, NULL);
    assert_true(*server >= 0);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p->a, *client, &info), 0);
    assert_int_equal(info.state, BERTH_STATE_ESTABLISHED);
    assert_int_equal(berth_getinfo(p->b, *server, &info), 0);
    assert_int_equal(info.state, BERTH_STATE_ESTABLISHED);
}

/* Both stacks hold nothing any more: every socket was closed or aborted. */
static void pair_finish(struct pair *p)
{
    pump(p);
    assert_int_equal(berth_mem_allocs(p->a), 0);
    assert_int_equal(berth_mem_bytes(p->a), 0);
    assert_int_equal(berth_mem_allocs(p->b), 0);
    assert_int_equal(berth_mem_bytes(p->b), 0);
    berth_stack_destroy(p->a);
    berth_stack_destroy(p->b);
    for (size_t i = p->w.head; i < p->w.n; i++)
        free(p->w.q[i].data);
}

static void stack_finish(struct berth_stack *s, struct wire *w)
{
    assert_int_equal(berth_mem_allocs(s), 0);
    assert_int_equal(berth_mem_bytes(s), 0);
    berth_stack_destroy(s);
    for (size_t i = w->head; i < w->n; i++)
        free(w->q[i].data);
}

/* ---- bad handles ---- */

/* Every call that takes a handle, with h: BERTH_EBADF (poll, which returns
 * a mask, reports ERROR), and the stack is unchanged. */
static void assert_every_call_ebadf(struct berth_stack *s, int h)
{
    size_t allocs = berth_mem_allocs(s), bytes = berth_mem_bytes(s);
    uint8_t buf[16] = {0};
    int64_t v = 12345;
    struct berth_endpoint ep = {0};
    struct berth_tcp_info info;

    assert_int_equal(berth_bind(s, h, 0, 8080), BERTH_EBADF);
    assert_int_equal(berth_listen(s, h, 4), BERTH_EBADF);
    assert_int_equal(berth_accept(s, h, &ep), BERTH_EBADF);
    assert_int_equal(berth_accept(s, h, NULL), BERTH_EBADF);
    assert_int_equal(berth_connect(s, h, ADDR_B, 80), BERTH_EBADF);
    assert_int_equal(berth_send(s, h, buf, sizeof buf), BERTH_EBADF);
    assert_int_equal(berth_send(s, h, buf, 0), BERTH_EBADF);
    assert_int_equal(berth_recv(s, h, buf, sizeof buf), BERTH_EBADF);
    assert_int_equal(berth_shutdown(s, h, BERTH_SHUT_WR), BERTH_EBADF);
    assert_int_equal(berth_shutdown(s, h, BERTH_SHUT_RDWR), BERTH_EBADF);
    assert_true(berth_poll(s, h) & BERTH_EV_ERROR);
    assert_int_equal(berth_sock_error(s, h), BERTH_EBADF);
    for (int opt = BERTH_OPT_NODELAY; opt <= BERTH_OPT_USER_TIMEOUT; opt++) {
        assert_int_equal(berth_setopt(s, h, (enum berth_opt)opt, 1),
                         BERTH_EBADF);
        assert_int_equal(berth_getopt(s, h, (enum berth_opt)opt, &v),
                         BERTH_EBADF);
    }
    assert_int_equal(v, 12345); /* untouched */
    assert_int_equal(berth_getsockname(s, h, &ep), BERTH_EBADF);
    assert_int_equal(berth_getpeername(s, h, &ep), BERTH_EBADF);
    assert_int_equal(berth_getinfo(s, h, &info), BERTH_EBADF);
    assert_int_equal(berth_close(s, h), BERTH_EBADF);
    assert_int_equal(berth_abort(s, h), BERTH_EBADF);
    assert_int_equal(berth_mem_allocs(s), allocs);
    assert_int_equal(berth_mem_bytes(s), bytes);
}

static void closed_handle_gives_ebadf_everywhere(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int h = berth_socket(s);
    assert_true(h >= 0);
    assert_int_equal(berth_close(s, h), 0);
    assert_every_call_ebadf(s, h);

    /* A closed listener, and an aborted socket, likewise. */
    int l = berth_socket(s);
    assert_int_equal(berth_listen(s, l, 4), 0);
    assert_int_equal(berth_close(s, l), 0);
    assert_every_call_ebadf(s, l);
    int a = berth_socket(s);
    assert_int_equal(berth_abort(s, a), 0);
    assert_every_call_ebadf(s, a);
    stack_finish(s, &w);
}

static void stale_handle_gives_ebadf_after_slot_reuse(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int old = berth_socket(s);
    assert_true(old >= 0);
    assert_int_equal(berth_close(s, old), 0);
    int cur = berth_socket(s); /* most likely the same slot, reused */
    assert_true(cur >= 0);
    assert_int_not_equal(cur, old);
    assert_every_call_ebadf(s, old);

    /* The new handle is untouched by all that. */
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(s, cur, &info), 0);
    assert_int_equal(info.state, BERTH_STATE_CLOSED);
    assert_int_equal(berth_bind(s, cur, 0, 8080), 0);

    /* Many generations later the first handle is still stale. */
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(berth_close(s, cur), 0);
        cur = berth_socket(s);
        assert_true(cur >= 0);
        if (cur == old)
            break; /* the 10-bit generation wrapped: that is allowed */
        assert_int_equal(berth_getinfo(s, old, &info), BERTH_EBADF);
    }
    assert_int_equal(berth_close(s, cur), 0);
    stack_finish(s, &w);
}

static void negative_and_huge_handles_give_ebadf(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    /* On a stack with no socket at all, then with some. */
    const int bad[] = {-1, -2, INT_MIN, INT_MAX, 0, 1, 1 << 20, 1 << 30};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_every_call_ebadf(s, bad[i]);
    int h[3];
    for (int i = 0; i < 3; i++)
        h[i] = berth_socket(s);
    const int still_bad[] = {-1, INT_MIN, INT_MAX, 1 << 20, 1 << 30, 100000};
    for (size_t i = 0; i < sizeof still_bad / sizeof still_bad[0]; i++) {
        if (still_bad[i] != h[0] && still_bad[i] != h[1] &&
            still_bad[i] != h[2])
            assert_every_call_ebadf(s, still_bad[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(berth_close(s, h[i]), 0);
    stack_finish(s, &w);
}

/* ---- errno results ---- */

static void bind_twice_gives_einval(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int h = berth_socket(s);
    assert_int_equal(berth_bind(s, h, 0, 8080), 0);
    assert_int_equal(berth_bind(s, h, 0, 8080), BERTH_EINVAL);
    assert_int_equal(berth_bind(s, h, 0, 8081), BERTH_EINVAL);
    struct berth_endpoint ep;
    assert_int_equal(berth_getsockname(s, h, &ep), 0);
    assert_int_equal(ep.port, 8080);
    assert_int_equal(ep.addr, ADDR_A);
    assert_int_equal(berth_getpeername(s, h, &ep), BERTH_ENOTCONN);
    assert_int_equal(berth_close(s, h), 0);
    stack_finish(s, &w);
}

static void bind_to_port_in_use_gives_eaddrinuse(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int a = berth_socket(s), b = berth_socket(s), l = berth_socket(s);
    assert_int_equal(berth_bind(s, a, 0, 8080), 0);
    assert_int_equal(berth_bind(s, b, 0, 8080), BERTH_EADDRINUSE);
    assert_int_equal(berth_bind(s, b, ADDR_A, 8080), BERTH_EADDRINUSE);
    /* A listener's port is in use too. */
    assert_int_equal(berth_bind(s, l, ADDR_A, 80), 0);
    assert_int_equal(berth_listen(s, l, 4), 0);
    assert_int_equal(berth_bind(s, b, 0, 80), BERTH_EADDRINUSE);
    /* Closing gives the port back. */
    assert_int_equal(berth_close(s, a), 0);
    assert_int_equal(berth_bind(s, b, 0, 8080), 0);
    assert_int_equal(berth_close(s, l), 0);
    int c = berth_socket(s);
    assert_int_equal(berth_bind(s, c, 0, 80), 0);
    assert_int_equal(berth_close(s, b), 0);
    assert_int_equal(berth_close(s, c), 0);
    stack_finish(s, &w);
}

static void bind_to_other_address_gives_eaddrnotavail(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int h = berth_socket(s);
    assert_int_equal(berth_bind(s, h, ADDR(10, 0, 0, 1), 80),
                     BERTH_EADDRNOTAVAIL);
    assert_int_equal(berth_bind(s, h, ADDR_B, 80), BERTH_EADDRNOTAVAIL);
    assert_int_equal(berth_bind(s, h, ADDR_A, 80), 0); /* ours is fine */
    int any = berth_socket(s);
    assert_int_equal(berth_bind(s, any, 0, 0), 0); /* any address, any port */
    struct berth_endpoint ep;
    assert_int_equal(berth_getsockname(s, any, &ep), 0);
    assert_true(ep.port >= 32768 && ep.port <= 60999); /* ephemeral range */
    assert_int_equal(berth_close(s, h), 0);
    assert_int_equal(berth_close(s, any), 0);
    stack_finish(s, &w);
}

static void connect_twice_gives_ealready_then_eisconn(void **state)
{
    (void)state;
    struct pair p;
    pair_init(&p);
    int l = berth_socket(p.b);
    assert_int_equal(berth_bind(p.b, l, 0, 80), 0);
    assert_int_equal(berth_listen(p.b, l, 8), 0);
    int c = berth_socket(p.a);
    assert_int_equal(berth_connect(p.a, c, ADDR_B, 80), BERTH_EINPROGRESS);
    /* SYN-SENT: the attempt is under way. */
    assert_int_equal(berth_connect(p.a, c, ADDR_B, 80), BERTH_EALREADY);
    assert_int_equal(berth_connect(p.a, c, ADDR_B, 81), BERTH_EALREADY);
    pump(&p);
    /* ESTABLISHED. */
    assert_int_equal(berth_connect(p.a, c, ADDR_B, 80), BERTH_EISCONN);
    assert_int_equal(berth_sock_error(p.a, c), 0);
    struct berth_endpoint ep;
    assert_int_equal(berth_getpeername(p.a, c, &ep), 0);
    assert_int_equal(ep.addr, ADDR_B);
    assert_int_equal(ep.port, 80);
    /* listen() on a connected socket is refused. */
    assert_int_equal(berth_listen(p.a, c, 4), BERTH_EINVAL);
    int s = berth_accept(p.b, l, &ep);
    assert_true(s >= 0);
    assert_int_equal(ep.addr, ADDR_A);
    assert_int_equal(berth_abort(p.a, c), 0);
    pump(&p);
    assert_int_equal(berth_sock_error(p.b, s), BERTH_ECONNRESET);
    assert_int_equal(berth_close(p.b, s), 0);
    assert_int_equal(berth_close(p.b, l), 0);
    pair_finish(&p);
}

static void send_recv_unconnected_give_enotconn(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    uint8_t buf[8] = {1, 2, 3};
    int h = berth_socket(s);
    assert_int_equal(berth_send(s, h, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_recv(s, h, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_bind(s, h, 0, 8080), 0);
    assert_int_equal(berth_send(s, h, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_recv(s, h, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_shutdown(s, h, BERTH_SHUT_WR), BERTH_ENOTCONN);
    /* A listener is not connected either. */
    int l = berth_socket(s);
    assert_int_equal(berth_listen(s, l, 4), 0);
    assert_int_equal(berth_send(s, l, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_recv(s, l, buf, sizeof buf), BERTH_ENOTCONN);
    assert_int_equal(berth_connect(s, l, ADDR_B, 80), BERTH_EINVAL);
    assert_int_equal(berth_close(s, h), 0);
    assert_int_equal(berth_close(s, l), 0);
    stack_finish(s, &w);
}

static void send_after_shutdown_wr_gives_epipe(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_init(&p);
    pair_connect(&p, &l, &c, &s);
    uint8_t buf[100];
    memset(buf, 0x5a, sizeof buf);
    assert_int_equal(berth_send(p.a, c, buf, sizeof buf), (int)sizeof buf);
    assert_int_equal(berth_shutdown(p.a, c, BERTH_SHUT_WR), 0);
    assert_int_equal(berth_send(p.a, c, buf, sizeof buf), BERTH_EPIPE);
    assert_int_equal(berth_send(p.a, c, buf, 0), BERTH_EPIPE);
    pump(&p);
    /* The other side read everything, then end of stream; it can still
     * send, and our side still receives (half-close). */
    uint8_t in[200];
    assert_int_equal(berth_recv(p.b, s, in, sizeof in), 100);
    assert_memory_equal(in, buf, 100);
    assert_int_equal(berth_recv(p.b, s, in, sizeof in), 0);
    assert_int_equal(berth_send(p.b, s, buf, 10), 10);
    pump(&p);
    assert_int_equal(berth_recv(p.a, c, in, sizeof in), 10);
    assert_int_equal(berth_send(p.a, c, buf, sizeof buf), BERTH_EPIPE);
    /* A bad `how` is refused. */
    assert_int_equal(berth_shutdown(p.a, c, 0), BERTH_EINVAL);
    assert_int_equal(berth_shutdown(p.a, c, 4), BERTH_EINVAL);
    assert_int_equal(berth_shutdown(p.a, c, -1), BERTH_EINVAL);
    assert_int_equal(berth_abort(p.a, c), 0);
    assert_int_equal(berth_abort(p.b, s), 0);
    assert_int_equal(berth_close(p.b, l), 0);
    pair_finish(&p);
}

static void accept_on_non_listener_gives_einval(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_init(&p);
    struct berth_endpoint ep;
    int fresh = berth_socket(p.a);
    assert_int_equal(berth_accept(p.a, fresh, &ep), BERTH_EINVAL);
    assert_int_equal(berth_bind(p.a, fresh, 0, 8080), 0);
    assert_int_equal(berth_accept(p.a, fresh, NULL), BERTH_EINVAL);
    pair_connect(&p, &l, &c, &s);
    assert_int_equal(berth_accept(p.a, c, &ep), BERTH_EINVAL);
    assert_int_equal(berth_accept(p.b, s, &ep), BERTH_EINVAL);
    assert_int_equal(berth_accept(p.b, l, &ep), BERTH_EAGAIN); /* a listener */
    assert_int_equal(berth_close(p.a, fresh), 0);
    assert_int_equal(berth_abort(p.a, c), 0);
    assert_int_equal(berth_abort(p.b, s), 0);
    assert_int_equal(berth_close(p.b, l), 0);
    pair_finish(&p);
}

static void setopt_bad_values_give_einval(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int h = berth_socket(s);
    const struct {
        enum berth_opt opt;
        int64_t v;
    } bad[] = {
        {BERTH_OPT_KEEPIDLE, 0},
        {BERTH_OPT_KEEPIDLE, -1},
        {BERTH_OPT_KEEPIDLE, ((int64_t)UINT32_MAX + 1) * 1000}, /* > 49 days */
        {BERTH_OPT_KEEPINTVL, 0},
        {BERTH_OPT_KEEPINTVL, -5},
        {BERTH_OPT_KEEPCNT, 0},
        {BERTH_OPT_KEEPCNT, 256},
        {BERTH_OPT_KEEPCNT, -1},
        {BERTH_OPT_LINGER, -2},
        {BERTH_OPT_LINGER, INT64_MIN},
        {BERTH_OPT_SNDBUF, 0},
        {BERTH_OPT_SNDBUF, -1},
        {BERTH_OPT_SNDBUF, 10},
        {BERTH_OPT_SNDBUF, INT64_MAX},
        {BERTH_OPT_RCVBUF, 0},
        {BERTH_OPT_RCVBUF, 10},
        {BERTH_OPT_RCVBUF, INT64_MAX},
        {BERTH_OPT_MAXSEG, 0},
        {BERTH_OPT_MAXSEG, 10},
        {BERTH_OPT_MAXSEG, 1 << 20},
        {BERTH_OPT_USER_TIMEOUT, -1},
        {BERTH_OPT_USER_TIMEOUT, INT64_MAX},
    };
    int64_t before[BERTH_OPT_USER_TIMEOUT + 1];
    for (int o = 0; o <= BERTH_OPT_USER_TIMEOUT; o++)
        assert_int_equal(berth_getopt(s, h, (enum berth_opt)o, &before[o]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = berth_setopt(s, h, bad[i].opt, bad[i].v);
        if (r != BERTH_EINVAL)
            fail_msg("setopt %d = %lld: expected EINVAL, got %d", bad[i].opt,
                     (long long)bad[i].v, r);
    }
    /* Nothing changed. */
    for (int o = 0; o <= BERTH_OPT_USER_TIMEOUT; o++) {
        int64_t v;
        assert_int_equal(berth_getopt(s, h, (enum berth_opt)o, &v), 0);
        assert_int_equal(v, before[o]);
    }
    /* An option that does not exist. */
    int64_t v = 7;
    assert_int_equal(berth_setopt(s, h, (enum berth_opt)999, 1),
                     BERTH_ENOPROTOOPT);
    assert_int_equal(berth_getopt(s, h, (enum berth_opt)999, &v),
                     BERTH_ENOPROTOOPT);
    assert_int_equal(berth_close(s, h), 0);
    stack_finish(s, &w);
}

static void setopt_getopt_round_trip(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    int h = berth_socket(s);
    int64_t v = -99;
    /* Documented defaults first (keepidle's is checked with the config's,
     * in config_init_sets_documented_defaults). */
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_NODELAY, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_KEEPALIVE, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_LINGER, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_USER_TIMEOUT, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_SNDBUF, &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_RCVBUF, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_KEEPINTVL, &v), 0);
    assert_int_equal(v, 75 * SEC);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_KEEPCNT, &v), 0);
    assert_int_equal(v, 9);

    const struct {
        enum berth_opt opt;
        int64_t v;
    } set[] = {
        {BERTH_OPT_NODELAY, 1},
        {BERTH_OPT_NODELAY, 0},
        {BERTH_OPT_KEEPALIVE, 1},
        {BERTH_OPT_KEEPIDLE, 60 * SEC},
        {BERTH_OPT_KEEPINTVL, 10 * SEC},
        {BERTH_OPT_KEEPCNT, 5},
        {BERTH_OPT_KEEPCNT, 255},
        {BERTH_OPT_LINGER, 0},
        {BERTH_OPT_LINGER, -1},
        {BERTH_OPT_SNDBUF, 4096},
        {BERTH_OPT_RCVBUF, 8192},
        {BERTH_OPT_MAXSEG, 1000},
        {BERTH_OPT_USER_TIMEOUT, 5 * SEC},
        {BERTH_OPT_USER_TIMEOUT, 0},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        assert_int_equal(berth_setopt(s, h, set[i].opt, set[i].v), 0);
        assert_int_equal(berth_getopt(s, h, set[i].opt, &v), 0);
        if (v != set[i].v)
            fail_msg("option %d: set %lld, got %lld", set[i].opt,
                     (long long)set[i].v, (long long)v);
    }
    assert_int_equal(berth_setopt(s, h, BERTH_OPT_KEEPALIVE, 0), 0);
    assert_int_equal(berth_getopt(s, h, BERTH_OPT_KEEPALIVE, &v), 0);
    assert_int_equal(v, 0);

    /* A listener keeps options for the connections it creates. */
    int l = berth_socket(s);
    assert_int_equal(berth_listen(s, l, 4), 0);
    assert_int_equal(berth_setopt(s, l, BERTH_OPT_NODELAY, 1), 0);
    assert_int_equal(berth_getopt(s, l, BERTH_OPT_NODELAY, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(berth_close(s, h), 0);
    assert_int_equal(berth_close(s, l), 0);
    stack_finish(s, &w);
}

/* ---- names and defaults ---- */

static void strerror_and_errname_cover_every_code(void **state)
{
    (void)state;
    const struct {
        int code, val;
        const char *name, *msg;
    } all[] = {
#define ERRNO_ROW(n, v, m) {BERTH_##n, v, #n, m},
        BERTH_ERRNO_MAP(ERRNO_ROW)
#undef ERRNO_ROW
    };
    assert_int_equal(sizeof all / sizeof all[0], 24);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_int_equal(all[i].code, -all[i].val);
        assert_true(all[i].code < 0);
        assert_string_equal(berth_strerror(all[i].code), all[i].msg);
        assert_non_null(berth_errname(all[i].code));
        assert_string_equal(berth_errname(all[i].code), all[i].name);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(all[i].code, all[j].code);
    }
    /* Linux values, as documented. */
    assert_int_equal(BERTH_EBADF, -9);
    assert_int_equal(BERTH_EAGAIN, -11);
    assert_int_equal(BERTH_ECONNRESET, -104);
    assert_int_equal(BERTH_EINPROGRESS, -115);
    assert_string_equal(berth_strerror(BERTH_ECONNRESET),
                        "connection reset by peer");
    assert_string_equal(berth_errname(BERTH_ECONNRESET), "ECONNRESET");
    assert_string_equal(berth_errname(0), "OK");
    assert_non_null(berth_strerror(0));
    /* Unknown codes. */
    const int unknown[] = {-1, -10, -1000, 1, 9, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(berth_strerror(unknown[i]), "unknown error");
        assert_null(berth_errname(unknown[i]));
    }
}

static void state_names_print_rfc_spelling(void **state)
{
    (void)state;
    assert_string_equal(berth_state_name(BERTH_STATE_SYN_RECEIVED),
                        "SYN-RECEIVED");
    const char *const want[] = {
        "CLOSED",      "LISTEN",     "SYN-SENT",   "SYN-RECEIVED",
        "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT",
        "CLOSING",     "LAST-ACK",   "TIME-WAIT",
    };
    assert_int_equal(BERTH_STATE__COUNT, sizeof want / sizeof want[0]);
    for (int st = 0; st < BERTH_STATE__COUNT; st++)
        assert_string_equal(berth_state_name((enum berth_state)st), want[st]);
    /* Out of range: a string, never a crash. */
    assert_non_null(berth_state_name(BERTH_STATE__COUNT));
    assert_non_null(berth_state_name((enum berth_state)99));
}

static void counter_and_reason_names_match_the_lists(void **state)
{
    (void)state;
    const char *const ctr_names[] = {
#define CTR_NAME(n, d) #n,
        BERTH_COUNTER_MAP(CTR_NAME)
#undef CTR_NAME
    };
    const char *const ctr_strings[] = {
#define CTR_STR(n, d) d,
        BERTH_COUNTER_MAP(CTR_STR)
#undef CTR_STR
    };
    assert_int_equal(BERTH_CTR__COUNT, sizeof ctr_names / sizeof ctr_names[0]);
    for (int c = 0; c < BERTH_CTR__COUNT; c++) {
        assert_string_equal(berth_counter_name((enum berth_counter)c),
                            ctr_names[c]);
        assert_string_equal(berth_counter_string((enum berth_counter)c),
                            ctr_strings[c]);
    }
    assert_string_equal(berth_counter_name(BERTH_CTR_RETRANS_SEGS),
                        "RETRANS_SEGS");
    assert_string_equal(berth_counter_name(BERTH_CTR_CHALLENGE_ACKS_LIMITED),
                        "CHALLENGE_ACKS_LIMITED");

    const char *const rsn_names[] = {
#define RSN_NAME(n, d) #n,
        BERTH_REASON_MAP(RSN_NAME)
#undef RSN_NAME
    };
    const char *const rsn_strings[] = {
#define RSN_STR(n, d) d,
        BERTH_REASON_MAP(RSN_STR)
#undef RSN_STR
    };
    assert_int_equal(BERTH_REASON__COUNT,
                     sizeof rsn_names / sizeof rsn_names[0]);
    for (int r = 0; r < BERTH_REASON__COUNT; r++) {
        assert_string_equal(berth_reason_name((enum berth_reason)r),
                            rsn_names[r]);
        assert_string_equal(berth_reason_string((enum berth_reason)r),
                            rsn_strings[r]);
    }
    assert_string_equal(berth_reason_name(BERTH_REASON_SEQ_OUT_OF_WINDOW),
                        "SEQ_OUT_OF_WINDOW");
    assert_string_equal(berth_reason_name(BERTH_REASON_TIME_WAIT_RST),
                        "TIME_WAIT_RST");
    assert_int_equal(BERTH_REASON_NONE, 0); /* berth_input's 0 = accepted */
    /* Out of range: a string, never a crash. */
    assert_non_null(berth_counter_name(BERTH_CTR__COUNT));
    assert_non_null(berth_counter_string(BERTH_CTR__COUNT));
    assert_non_null(berth_reason_name(BERTH_REASON__COUNT));
    assert_non_null(berth_reason_string(BERTH_REASON__COUNT));

    /* A fresh stack has counted nothing. */
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 0);
    for (int c = 0; c < BERTH_CTR__COUNT; c++)
        assert_int_equal(berth_counter(s, (enum berth_counter)c), 0);
    for (int r = 0; r < BERTH_REASON__COUNT; r++)
        assert_int_equal(berth_drop_count(s, (enum berth_reason)r), 0);
    stack_finish(s, &w);
}

static void config_init_sets_documented_defaults(void **state)
{
    (void)state;
    struct berth_config cfg;
    memset(&cfg, 0xa5, sizeof cfg);
    berth_config_init(&cfg);
    assert_int_equal(cfg.addr, ADDR(198, 18, 0, 2));
    assert_null(cfg.tx);
    assert_null(cfg.event);
    assert_null(cfg.trace);
    assert_null(cfg.isn);
    assert_int_equal(cfg.max_sockets, 65536);
    assert_int_equal(cfg.ephemeral_lo, 32768);
    assert_int_equal(cfg.ephemeral_hi, 60999);
    assert_int_equal(cfg.mss, 1460);
    assert_int_equal(cfg.ttl, 64);
    assert_int_equal(cfg.sndbuf, 65536);
    assert_int_equal(cfg.rcvbuf, 65535);
    assert_int_equal(cfg.rto_initial, 1 * SEC);
    assert_int_equal(cfg.rto_min, 200 * MS);
    assert_int_equal(cfg.rto_max, 120 * SEC);
    assert_int_equal(cfg.syn_retries, 6);
    assert_int_equal(cfg.synack_retries, 5);
    assert_int_equal(cfg.max_retries, 15);
    assert_int_equal(cfg.msl, 30 * SEC);
    assert_int_equal(cfg.fin_wait_2_timeout, 60 * SEC);
    assert_int_equal(cfg.delack, 40 * MS);
    assert_int_equal(cfg.keepalive_interval, 75 * SEC);
    assert_int_equal(cfg.keepalive_count, 9);
    assert_int_equal(cfg.user_timeout, 0);
    assert_int_equal(cfg.challenge_ack_limit, 1000);
    assert_int_equal(cfg.syn_backlog, 256);
    /* The defaults make a working stack. */
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    assert_int_equal(berth_next_deadline(s), UINT64_MAX);
    assert_int_equal(berth_mem_allocs(s), 0);
    berth_stack_destroy(s);
    /* RFC 1122 §4.2.3.6: the keep-alive interval "MUST default to no less
     * than two hours"; berth.h documents 7200 s. */
    assert_true((uint64_t)cfg.keepalive_idle >= 7200 * SEC);
    assert_int_equal(cfg.keepalive_idle, 7200 * SEC);
}

static void max_sockets_bounds_open_handles(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 4);
    int h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = berth_socket(s);
        assert_true(h[i] >= 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(h[i], h[j]);
    }
    assert_int_equal(berth_socket(s), BERTH_EMFILE);
    assert_int_equal(berth_socket(s), BERTH_EMFILE);
    /* One closed: one more may be opened, and no more. */
    assert_int_equal(berth_close(s, h[2]), 0);
    h[2] = berth_socket(s);
    assert_true(h[2] >= 0);
    assert_int_equal(berth_socket(s), BERTH_EMFILE);
    for (int i = 0; i < 4; i++)
        assert_int_equal(berth_close(s, h[i]), 0);
    stack_finish(s, &w);
}

/* A handle given back by close() can be handed out again by the very next
 * call, whatever happened on it before (here: a connect, whose readiness
 * change was not reported yet). */
static void close_frees_its_handle_slot_at_once(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *s = stack_new(&w, ADDR_A, 2);
    int a = berth_socket(s), b = berth_socket(s);
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(berth_connect(s, b, ADDR_B, 80), BERTH_EINPROGRESS);
    assert_int_equal(berth_close(s, b), 0);
    b = berth_socket(s);
    assert_true(b >= 0);
    assert_int_equal(berth_socket(s), BERTH_EMFILE);
    /* The same after abort(), and after a listener's close(). */
    assert_int_equal(berth_connect(s, b, ADDR_B, 80), BERTH_EINPROGRESS);
    assert_int_equal(berth_abort(s, b), 0);
    b = berth_socket(s);
    assert_true(b >= 0);
    assert_int_equal(berth_listen(s, b, 4), 0);
    assert_int_equal(berth_close(s, b), 0);
    b = berth_socket(s);
    assert_true(b >= 0);
    assert_int_equal(berth_close(s, a), 0);
    assert_int_equal(berth_close(s, b), 0);
    stack_finish(s, &w);
}

static void accept_with_full_handle_table_gives_emfile(void **state)
{
    (void)state;
    /* b may hold 2 handles: the listener and one accepted connection. */
    struct pair p;
    memset(&p, 0, sizeof p);
    p.a = stack_new(&p.w, ADDR_A, 0);
    p.b = stack_new(&p.w, ADDR_B, 2);
    int l = berth_socket(p.b);
    assert_int_equal(berth_listen(p.b, l, 8), 0);
    struct berth_endpoint ep;
    assert_int_equal(berth_getsockname(p.b, l, &ep), 0);
    int c1 = berth_socket(p.a), c2 = berth_socket(p.a);
    assert_int_equal(berth_connect(p.a, c1, ADDR_B, ep.port),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_connect(p.a, c2, ADDR_B, ep.port),
                     BERTH_EINPROGRESS);
    pump(&p);
    int s1 = berth_accept(p.b, l, NULL);
    assert_true(s1 >= 0);
    assert_int_equal(berth_accept(p.b, l, NULL), BERTH_EMFILE);
    /* The connection is still queued: after a close it can be accepted.
     * (The advance keeps this test to accept(); that a closed slot is free
     * at once is close_frees_its_handle_slot_at_once.) */
    assert_int_equal(berth_abort(p.b, s1), 0);
    berth_advance(p.b, p.now);
    int s2 = berth_accept(p.b, l, NULL);
    assert_true(s2 >= 0);
    assert_int_equal(berth_abort(p.b, s2), 0);
    assert_int_equal(berth_close(p.b, l), 0);
    pump(&p);
    assert_int_equal(berth_sock_error(p.a, c1), BERTH_ECONNRESET);
    assert_int_equal(berth_sock_error(p.a, c2), BERTH_ECONNRESET);
    assert_int_equal(berth_close(p.a, c1), 0);
    assert_int_equal(berth_close(p.a, c2), 0);
    pair_finish(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(closed_handle_gives_ebadf_everywhere),
        cmocka_unit_test(stale_handle_gives_ebadf_after_slot_reuse),
        cmocka_unit_test(negative_and_huge_handles_give_ebadf),
        cmocka_unit_test(bind_twice_gives_einval),
        cmocka_unit_test(bind_to_port_in_use_gives_eaddrinuse),
        cmocka_unit_test(bind_to_other_address_gives_eaddrnotavail),
        cmocka_unit_test(connect_twice_gives_ealready_then_eisconn),
        cmocka_unit_test(send_recv_unconnected_give_enotconn),
        cmocka_unit_test(send_after_shutdown_wr_gives_epipe),
        cmocka_unit_test(accept_on_non_listener_gives_einval),
        cmocka_unit_test(setopt_bad_values_give_einval),
        cmocka_unit_test(setopt_getopt_round_trip),
        cmocka_unit_test(strerror_and_errname_cover_every_code),
        cmocka_unit_test(state_names_print_rfc_spelling),
        cmocka_unit_test(counter_and_reason_names_match_the_lists),
        cmocka_unit_test(config_init_sets_documented_defaults),
        cmocka_unit_test(max_sockets_bounds_open_handles),
        cmocka_unit_test(close_frees_its_handle_slot_at_once),
        cmocka_unit_test(accept_with_full_handle_table_gives_emfile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
