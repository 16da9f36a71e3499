/* The zero-copy data calls of the public API (berth.h): berth_recv_peek and
 * berth_recv_consume, berth_send_reserve and berth_send_commit. Two stacks
 * wired back to back whose packets are delivered one at a time, so a test
 * can leave a buffer half acknowledged and make its bytes wrap around the
 * end of the ring. Every byte is checked against a pattern; every test
 * ends with nothing allocated. Only include/berth/berth.h is used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#define ADDR_A 0xc6120002u /* 198.18.0.2 */
#define ADDR_B 0xc6120001u /* 198.18.0.1 */
#define SEC    1000000ull

#include "wire.h"

struct pair {
    struct wire w;
    struct berth_stack *a, *b; /* a: the client, b: the server */
    uint64_t now;
    int listener, client, server;
};

static struct berth_stack *stack_new(struct wire *w, uint32_t addr,
                                     uint32_t buf)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = w;
    cfg.seed = addr;
    memcpy(cfg.secret, "zerocopy secret!", sizeof cfg.secret);
    cfg.sndbuf = cfg.rcvbuf = buf;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

/* Delivers the oldest packet in flight; false when none. */
static bool pump_one(struct pair *p)
{
    if (p->w.head == p->w.n) {
        p->w.head = p->w.n = 0;
        return false;
    }
    struct pkt pk = p->w.q[p->w.head++];
    berth_input(pk.dst == ADDR_A ? p->a : p->b, pk.data, pk.len, p->now);
    free(pk.data);
    return true;
}

/* Delivers everything in flight and what it causes, then lets the delayed
 * ACK timers run and delivers what they send. */
static void pump(struct pair *p)
{
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 10000 && pump_one(p); k++)
            ;
        p->now += SEC / 2;
        berth_advance(p->a, p->now);
        berth_advance(p->b, p->now);
    }
    assert_int_equal(p->w.n - p->w.head, 0);
}

/* Connected: a's client socket to b's accepted one, 4 KiB buffers both
 * ways (one ring of the smallest size, so a few KiB wrap it). */
static void pair_up(struct pair *p)
{
    memset(p, 0, sizeof *p);
    p->a = stack_new(&p->w, ADDR_A, 4096);
    p->b = stack_new(&p->w, ADDR_B, 4096);
    p->listener = berth_socket(p->b);
    assert_int_equal(berth_bind(p->b, p->listener, 0, 80), 0);
    assert_int_equal(berth_listen(p->b, p->listener, 8), 0);
    p->client = berth_socket(p->a);
    assert_int_equal(berth_connect(p->a, p->client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    pump(p);
    p->server = berth_accept(p->b, p->listener, NULL);
    assert_true(p->server >= 0);
}

static void pair_down(struct pair *p)
{
    pump(p);
    p->now += 200 * SEC; /* TIME-WAIT and FIN-WAIT-2 expire */
    berth_advance(p->a, p->now);
    berth_advance(p->b, p->now);
    pump(p);
    assert_int_equal(berth_mem_bytes(p->a), 0);
    assert_int_equal(berth_mem_bytes(p->b), 0);
    berth_stack_destroy(p->a);
    berth_stack_destroy(p->b);
    while (p->w.head < p->w.n)
        free(p->w.q[p->w.head++].data);
}

/* The test stream: byte k is pattern(k). */
static uint8_t pattern(uint64_t k)
{
    return (uint8_t)(k * 131 + (k >> 8) * 7 + 1);
}

static void fill(uint8_t *d, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        d[i] = pattern(off + i);
}

static void check(const uint8_t *d, size_t n, uint64_t off)
{
    for (size_t i = 0; i < n; i++)
        if (d[i] != pattern(off + i))
            fail_msg("byte %llu: %u, want %u", (unsigned long long)(off + i),
                     d[i], pattern(off + i));
}

/* Sends n stream bytes from offset off with berth_send (all must fit). */
static void send_copy(struct berth_stack *s, int h, size_t n, uint64_t off)
{
    uint8_t buf[4096];
    assert_true(n <= sizeof buf);
    fill(buf, n, off);
    assert_int_equal(berth_send(s, h, buf, n), (int)n);
}

/* ---- receive ---- */

static void peek_shows_bytes_in_order_and_consume_opens_the_window(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2];
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), BERTH_EAGAIN);
    assert_null(sp[0].data);
    assert_int_equal(sp[0].len + sp[1].len, 0);
    send_copy(p.a, p.client, 3000, 0);
    pump(&p);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 3000);
    assert_int_equal(sp[0].len, 3000); /* a fresh ring: no wrap */
    assert_int_equal(sp[1].len, 0);
    check(sp[0].data, sp[0].len, 0);
    /* Peeking consumes nothing. */
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 3000);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p.a, p.client, &info), 0);
    assert_true(info.snd_wnd <= 4096 - 3000);
    /* A partial consume: the rest is shown from where it stopped. */
    assert_int_equal(berth_recv_consume(p.b, p.server, 1000), 1000);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 2000);
    check(sp[0].data, sp[0].len, 1000);
    assert_int_equal(berth_recv_consume(p.b, p.server, 2000), 2000);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), BERTH_EAGAIN);
    /* The peer heard that the window opened again. */
    pump(&p);
    assert_int_equal(berth_getinfo(p.a, p.client, &info), 0);
    assert_true(info.snd_wnd >= 4000);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void peek_gives_two_spans_when_the_ring_wraps(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    send_copy(p.a, p.client, 3000, 0);
    pump(&p);
    /* 500 bytes stay, at 2500 of the 4096-byte ring. */
    assert_int_equal(berth_recv_consume(p.b, p.server, 2500), 2500);
    pump(&p);
    send_copy(p.a, p.client, 3000, 3000);
    pump(&p);
    struct berth_span sp[2];
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 3500);
    assert_int_equal(sp[0].len, 4096 - 2500);
    assert_int_equal(sp[1].len, 3500 - (4096 - 2500));
    check(sp[0].data, sp[0].len, 2500);
    check(sp[1].data, sp[1].len, 2500 + sp[0].len);
    /* Consume past the wrap, then the rest. */
    assert_int_equal(berth_recv_consume(p.b, p.server, 2000), 2000);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 1500);
    assert_int_equal(sp[1].len, 0);
    check(sp[0].data, sp[0].len, 4500);
    assert_int_equal(berth_recv_consume(p.b, p.server, 1500), 1500);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void fin_after_data_shows_data_then_end_of_stream(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    send_copy(p.a, p.client, 1200, 0);
    assert_int_equal(berth_close(p.a, p.client), 0);
    pump(&p);
    assert_true(berth_poll(p.b, p.server) & BERTH_EV_RDHUP);
    struct berth_span sp[2];
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 1200);
    check(sp[0].data, sp[0].len, 0);
    assert_int_equal(berth_recv_consume(p.b, p.server, 700), 700);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 500);
    check(sp[0].data, sp[0].len, 700);
    assert_int_equal(berth_recv_consume(p.b, p.server, 500), 500);
    /* The end of the stream, as berth_recv says it, and it stays. */
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 0);
    assert_int_equal(sp[0].len + sp[1].len, 0);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 0);
    uint8_t c;
    assert_int_equal(berth_recv(p.b, p.server, &c, 1), 0);
    assert_int_equal(berth_recv_consume(p.b, p.server, 0), 0);
    assert_int_equal(berth_recv_consume(p.b, p.server, 1), BERTH_EINVAL);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void consume_more_than_readable_is_einval_and_changes_nothing(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    send_copy(p.a, p.client, 100, 0);
    pump(&p);
    assert_int_equal(berth_recv_consume(p.b, p.server, 101), BERTH_EINVAL);
    struct berth_span sp[2];
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 100);
    check(sp[0].data, sp[0].len, 0);
    /* berth_recv and the zero-copy calls see the same stream. */
    uint8_t buf[40];
    assert_int_equal(berth_recv(p.b, p.server, buf, sizeof buf), 40);
    check(buf, 40, 0);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 60);
    check(sp[0].data, sp[0].len, 40);
    assert_int_equal(berth_recv_consume(p.b, p.server, 60), 60);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

/* ---- send ---- */

static void reserve_commit_sends_what_was_written(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2];
    /* At most the buffer's size. */
    assert_int_equal(berth_send_reserve(p.a, p.client, 100000, sp), 4096);
    assert_int_equal(sp[0].len + sp[1].len, 4096);
    /* Write 2000, commit 1500 of them: the rest is not sent. */
    fill(sp[0].data, 2000, 0);
    assert_int_equal(berth_send_commit(p.a, p.client, 1500), 1500);
    pump(&p);
    uint8_t buf[4096];
    assert_int_equal(berth_recv(p.b, p.server, buf, sizeof buf), 1500);
    check(buf, 1500, 0);
    /* A reservation never committed is forgotten. */
    assert_int_equal(berth_send_reserve(p.a, p.client, 10, sp), 10);
    assert_int_equal(berth_send_reserve(p.a, p.client, 300, sp), 300);
    fill(sp[0].data, sp[0].len, 1500);
    fill(sp[1].data, sp[1].len, 1500 + sp[0].len);
    assert_int_equal(berth_send_commit(p.a, p.client, 300), 300);
    assert_int_equal(berth_send_commit(p.a, p.client, 0), 0);
    pump(&p);
    assert_int_equal(berth_recv(p.b, p.server, buf, sizeof buf), 300);
    check(buf, 300, 1500);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void reserve_gives_two_spans_when_the_send_ring_wraps(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2];
    assert_int_equal(berth_send_reserve(p.a, p.client, 3000, sp), 3000);
    assert_int_equal(sp[1].len, 0);
    fill(sp[0].data, 3000, 0);
    assert_int_equal(berth_send_commit(p.a, p.client, 3000), 3000);
    /* Deliver the first segment and its ACK only: the send buffer's head
     * moves past it, 1540 bytes still held. */
    assert_true(pump_one(&p)); /* 1460 bytes to b */
    assert_true(pump_one(&p)); /* the second segment */
    assert_true(pump_one(&p)); /* b's ACK of the first */
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p.a, p.client, &info), 0);
    assert_true(info.snd_queued > 0 && info.snd_queued < 3000);
    uint32_t held = info.snd_queued;
    /* Room to the configured size, wrapping past the ring's end. */
    int r = berth_send_reserve(p.a, p.client, 4096, sp);
    assert_int_equal(r, (int)(4096 - held));
    assert_true(sp[1].len > 0);
    assert_int_equal(sp[0].len + sp[1].len, 4096 - held);
    fill(sp[0].data, sp[0].len, 3000);
    fill(sp[1].data, sp[1].len, 3000 + sp[0].len);
    /* More than was reserved: refused, nothing queued. */
    assert_int_equal(berth_send_commit(p.a, p.client, (size_t)r + 1),
                     BERTH_EINVAL);
    assert_int_equal(berth_send_commit(p.a, p.client, (size_t)r), r);
    /* Full now. */
    assert_int_equal(berth_send_reserve(p.a, p.client, 1, sp), BERTH_EAGAIN);
    size_t total = 3000 + (size_t)r, got = 0;
    uint8_t buf[4096];
    for (int k = 0; k < 100 && got < total; k++) {
        pump(&p);
        int n;
        while ((n = berth_recv(p.b, p.server, buf, sizeof buf)) > 0) {
            check(buf, (size_t)n, got);
            got += (size_t)n;
        }
    }
    assert_int_equal(got, total);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

/* A buffer emptied (the send buffer when all it held is acknowledged, the
 * receive buffer when all is read) restarts at the start of the memory it
 * last used: the next 3000 bytes of a 4 KiB buffer do not wrap, and land
 * where the first 3000 did (in cache). After that restart the stream's
 * offsets still map right: a segment lost from the second round is
 * retransmitted with its own bytes, and the receiver's out-of-order copy
 * of the one after it stays where the retransmission completes it. */
static void
emptied_buffers_restart_at_their_start_and_retransmit_right(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2], rp[2];
    assert_int_equal(berth_send_reserve(p.a, p.client, 3000, sp), 3000);
    uint8_t *snd0 = sp[0].data;
    fill(sp[0].data, 3000, 0);
    assert_int_equal(berth_send_commit(p.a, p.client, 3000), 3000);
    pump(&p);
    assert_int_equal(berth_recv_peek(p.b, p.server, rp), 3000);
    uint8_t *rcv0 = rp[0].data;
    check(rp[0].data, 3000, 0);
    assert_int_equal(berth_recv_consume(p.b, p.server, 3000), 3000);
    pump(&p);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p.a, p.client, &info), 0);
    assert_int_equal(info.snd_queued, 0);
    /* Round two: from the start again, one span. */
    assert_int_equal(berth_send_reserve(p.a, p.client, 3000, sp), 3000);
    assert_ptr_equal(sp[0].data, snd0);
    assert_int_equal(sp[0].len, 3000);
    assert_int_equal(sp[1].len, 0);
    fill(sp[0].data, 3000, 3000);
    assert_int_equal(berth_send_commit(p.a, p.client, 3000), 3000);
    /* The first segment of round two is lost. */
    assert_true(p.w.n - p.w.head >= 2);
    free(p.w.q[p.w.head].data);
    p.w.head++;
    int r = 0;
    for (int k = 0; k < 20 && r < 3000; k++) {
        pump(&p);
        r = berth_recv_peek(p.b, p.server, rp);
    }
    assert_int_equal(r, 3000);
    assert_true(berth_counter(p.a, BERTH_CTR_RETRANS_SEGS) >= 1);
    assert_ptr_equal(rp[0].data, rcv0);
    assert_int_equal(rp[1].len, 0);
    check(rp[0].data, 3000, 3000);
    assert_int_equal(berth_recv_consume(p.b, p.server, 3000), 3000);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void zero_copy_both_ends_carry_a_long_stream(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    const uint64_t total = 200000;
    uint64_t sent = 0, got = 0;
    bool eof = false;
    for (int k = 0; k < 100000 && !eof; k++) {
        struct berth_span sp[2];
        if (sent < total) {
            int r = berth_send_reserve(p.a, p.client, total - sent, sp);
            if (r > 0) {
                fill(sp[0].data, sp[0].len, sent);
                fill(sp[1].data, sp[1].len, sent + sp[0].len);
                /* Commits a part, sometimes: what is left is reserved
                 * again next time. */
                int n = (k % 3 == 0 && r > 1) ? r / 2 : r;
                assert_int_equal(berth_send_commit(p.a, p.client, (size_t)n),
                                 n);
                sent += (uint64_t)n;
                if (sent == total)
                    assert_int_equal(berth_close(p.a, p.client), 0);
            } else {
                assert_int_equal(r, BERTH_EAGAIN);
            }
        }
        pump_one(&p);
        pump_one(&p);
        int r = berth_recv_peek(p.b, p.server, sp);
        if (r > 0) {
            check(sp[0].data, sp[0].len, got);
            check(sp[1].data, sp[1].len, got + sp[0].len);
            int n = (k % 5 == 0 && r > 1) ? r - 1 : r;
            assert_int_equal(berth_recv_consume(p.b, p.server, (size_t)n), n);
            got += (uint64_t)n;
        } else if (r == 0) {
            eof = true;
        } else {
            assert_int_equal(r, BERTH_EAGAIN);
            if (p.w.head == p.w.n) { /* idle: let the timers run */
                p.now += SEC / 10;
                berth_advance(p.a, p.now);
                berth_advance(p.b, p.now);
            }
        }
    }
    assert_true(eof);
    assert_int_equal(got, total);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

/* ---- errors ---- */

static void calls_on_bad_handles_and_wrong_kinds_fail(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2];
    int udp = berth_udp_socket(p.a);
    assert_true(udp >= 0);
    assert_int_equal(berth_recv_peek(p.a, udp, sp), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_recv_consume(p.a, udp, 1), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_send_reserve(p.a, udp, 1, sp), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_send_commit(p.a, udp, 1), BERTH_EOPNOTSUPP);
    assert_int_equal(berth_close(p.a, udp), 0);
    assert_int_equal(berth_recv_peek(p.b, p.listener, sp), BERTH_ENOTCONN);
    assert_int_equal(berth_send_reserve(p.b, p.listener, 1, sp),
                     BERTH_ENOTCONN);
    /* Never connected. */
    int fresh = berth_socket(p.a);
    assert_int_equal(berth_recv_peek(p.a, fresh, sp), BERTH_ENOTCONN);
    assert_int_equal(berth_send_reserve(p.a, fresh, 1, sp), BERTH_ENOTCONN);
    assert_int_equal(berth_send_commit(p.a, fresh, 1), BERTH_ENOTCONN);
    assert_int_equal(berth_close(p.a, fresh), 0);
    /* Closed handles. */
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_recv_peek(p.a, p.client, sp), BERTH_EBADF);
    assert_int_equal(berth_recv_consume(p.a, p.client, 0), BERTH_EBADF);
    assert_int_equal(berth_send_reserve(p.a, p.client, 1, sp), BERTH_EBADF);
    assert_int_equal(berth_send_commit(p.a, p.client, 0), BERTH_EBADF);
    assert_int_equal(berth_recv_peek(p.a, -1, sp), BERTH_EBADF);
    assert_null(sp[0].data);
    assert_int_equal(sp[0].len + sp[1].len, 0);
    pump(&p);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

static void send_after_shutdown_and_reset_fail(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct berth_span sp[2];
    assert_int_equal(berth_shutdown(p.a, p.client, BERTH_SHUT_WR), 0);
    assert_int_equal(berth_send_reserve(p.a, p.client, 1, sp), BERTH_EPIPE);
    assert_int_equal(berth_send_commit(p.a, p.client, 0), BERTH_EPIPE);
    pump(&p);
    /* The peer resets: the error comes from the next call, once. */
    assert_int_equal(berth_abort(p.b, p.server), 0);
    pump(&p);
    assert_int_equal(berth_recv_peek(p.a, p.client, sp), BERTH_ECONNRESET);
    assert_int_equal(berth_recv_peek(p.a, p.client, sp), 0);
    assert_int_equal(berth_send_reserve(p.a, p.client, 1, sp), BERTH_EPIPE);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

/* ---- the event log ---- */

struct app_log {
    int n;
    enum berth_app_call call[8];
    uint64_t len[8];
    int result[8];
};

static void log_app(void *ctx, const struct berth_log_event *ev)
{
    struct app_log *l = ctx;
    if (ev->kind != BERTH_LOG_APP || l->n >= 8)
        return;
    l->call[l->n] = ev->u.app.call;
    l->len[l->n] = ev->u.app.len;
    l->result[l->n++] = ev->u.app.result;
}

static void commit_and_consume_are_logged_as_send_and_recv(void **st)
{
    (void)st;
    struct pair p;
    pair_up(&p);
    struct app_log la = {0}, lb = {0};
    berth_set_log(p.a, log_app, &la);
    berth_set_log(p.b, log_app, &lb);
    struct berth_span sp[2];
    assert_int_equal(berth_send_reserve(p.a, p.client, 500, sp), 500);
    fill(sp[0].data, 500, 0);
    assert_int_equal(berth_send_commit(p.a, p.client, 400), 400);
    pump(&p);
    assert_int_equal(berth_recv_peek(p.b, p.server, sp), 400);
    assert_int_equal(berth_recv_consume(p.b, p.server, 300), 300);
    assert_int_equal(berth_recv_consume(p.b, p.server, 200), BERTH_EINVAL);
    /* A reserve and a peek are not logged. */
    assert_int_equal(la.n, 1);
    assert_int_equal(la.call[0], BERTH_APP_SEND);
    assert_int_equal(la.len[0], 400);
    assert_int_equal(la.result[0], 400);
    assert_int_equal(lb.n, 2);
    assert_int_equal(lb.call[0], BERTH_APP_RECV);
    assert_int_equal(lb.len[0], 300);
    assert_int_equal(lb.result[0], 300);
    assert_int_equal(lb.call[1], BERTH_APP_RECV);
    assert_int_equal(lb.result[1], BERTH_EINVAL);
    berth_set_log(p.a, NULL, NULL);
    berth_set_log(p.b, NULL, NULL);
    assert_int_equal(berth_close(p.a, p.client), 0);
    assert_int_equal(berth_close(p.b, p.server), 0);
    assert_int_equal(berth_close(p.b, p.listener), 0);
    pair_down(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            peek_shows_bytes_in_order_and_consume_opens_the_window),
        cmocka_unit_test(peek_gives_two_spans_when_the_ring_wraps),
        cmocka_unit_test(fin_after_data_shows_data_then_end_of_stream),
        cmocka_unit_test(
            consume_more_than_readable_is_einval_and_changes_nothing),
        cmocka_unit_test(reserve_commit_sends_what_was_written),
        cmocka_unit_test(reserve_gives_two_spans_when_the_send_ring_wraps),
        cmocka_unit_test(
            emptied_buffers_restart_at_their_start_and_retransmit_right),
        cmocka_unit_test(zero_copy_both_ends_carry_a_long_stream),
        cmocka_unit_test(calls_on_bad_handles_and_wrong_kinds_fail),
        cmocka_unit_test(send_after_shutdown_and_reset_fail),
        cmocka_unit_test(commit_and_consume_are_logged_as_send_and_recv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
