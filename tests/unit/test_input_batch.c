/* berth_input_batch(): several packets in one call take the same course as
 * one berth_input() each, except that readiness is reported once, after
 * the last packet; a timer a packet arms already due still fires before
 * the next packet; the return value counts the drops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#define ADDR(a, b, c, d)                                                       \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) |    \
     (uint32_t)(d))
#define ADDR_A ADDR(198, 18, 0, 2)
#define ADDR_B ADDR(198, 18, 0, 1)
#define NOW    5000000ull /* 5 s: a ms (wheel tick) boundary */
#define WIRE_Q 64

#include "wire.h"

struct pair {
    struct wire w;
    struct berth_stack *a, *b; /* a: client, b: server */
    int server;                /* b's accepted socket, -1 before */
    /* b's event hook on `server` reads what is there: how many times it
     * was called with data, and the bytes of each call. */
    unsigned reads;
    size_t read_len[8];
    unsigned fw2_timeouts; /* a's FIN-WAIT-2 timeouts (trace) */
};

static void on_event(void *ctx, int sock, uint32_t ev)
{
    struct pair *p = ctx;
    if (sock != p->server || !(ev & BERTH_EV_READABLE))
        return;
    char buf[64];
    int n = berth_recv(p->b, sock, buf, sizeof buf);
    if (n <= 0) /* the peer's FIN */
        return;
    assert_true(p->reads < 8);
    p->read_len[p->reads++] = (size_t)n;
}

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct pair *p = ctx;
    if (ev->kind == BERTH_TRACE_STATE &&
        ev->old_state == BERTH_STATE_FIN_WAIT_2 &&
        ev->new_state == BERTH_STATE_CLOSED &&
        ev->reason == BERTH_REASON_FIN_WAIT_2_TIMEOUT)
        p->fw2_timeouts++;
}

static struct berth_stack *stack_new(struct pair *p, uint32_t addr)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = &p->w;
    cfg.seed = addr;
    memcpy(cfg.secret, "input_batch key!", sizeof cfg.secret);
    cfg.fin_wait_2_timeout = 0; /* a closed FIN-WAIT-2 ends at once */
    cfg.event = on_event;
    cfg.event_ctx = p;
    cfg.trace = on_trace;
    cfg.trace_ctx = p;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

static struct berth_stack *dst_stack(struct pair *p, const struct pkt *pk)
{
    return pk->dst == ADDR_A ? p->a : p->b;
}

/* Everything in flight, one packet per call, at now (bounded). */
static void pump(struct pair *p, uint64_t now)
{
    for (unsigned i = 0; i < 1000 && p->w.head < p->w.n; i++) {
        struct pkt pk = p->w.q[p->w.head++];
        berth_input(dst_stack(p, &pk), pk.data, pk.len, now);
        free(pk.data);
    }
    assert_int_equal(p->w.head, p->w.n);
    p->w.head = p->w.n = 0;
}

static void pump_ctx(void *p, uint64_t now)
{
    pump(p, now);
}

/* The packets in flight, all for one stack, in one batch; returns what
 * the batch returned. */
static size_t deliver_batch(struct pair *p, struct berth_stack *to,
                            uint64_t now)
{
    /* Zeroed: gcc -O2 cannot see that n bounds the reads. */
    struct berth_pkt pkts[WIRE_Q] = {0};
    size_t n = 0;
    for (size_t i = p->w.head; i < p->w.n; i++, n++) {
        assert_ptr_equal(dst_stack(p, &p->w.q[i]), to);
        pkts[n] = (struct berth_pkt){p->w.q[i].data, p->w.q[i].len, 0};
    }
    size_t head = p->w.head, end = p->w.n;
    p->w.head = p->w.n = end; /* what the batch sends goes behind */
    size_t r = berth_input_batch(to, pkts, n, now);
    for (size_t i = head; i < end; i++)
        free(p->w.q[i].data);
    memmove(p->w.q, p->w.q + end, (p->w.n - end) * sizeof p->w.q[0]);
    p->w.n -= end;
    p->w.head = 0;
    return r;
}

/* b listens on 80; a connects with Nagle off; both ESTABLISHED. */
static void pair_connect(struct pair *p, int *listener, int *client)
{
    memset(p, 0, sizeof *p);
    p->server = -1;
    p->a = stack_new(p, ADDR_A);
    p->b = stack_new(p, ADDR_B);
    berth_advance(p->a, NOW);
    berth_advance(p->b, NOW);
    *listener = berth_socket(p->b);
    assert_true(*listener >= 0);
    assert_int_equal(berth_bind(p->b, *listener, 0, 80), 0);
    assert_int_equal(berth_listen(p->b, *listener, 8), 0);
    *client = berth_socket(p->a);
    assert_true(*client >= 0);
    assert_int_equal(berth_setopt(p->a, *client, BERTH_OPT_NODELAY, 1), 0);
    assert_int_equal(berth_connect(p->a, *client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    pump(p, NOW);
    p->server = berth_accept(p->b, *listener, NULL);
    assert_true(p->server >= 0);
}

/* Everything closed and delivered: both stacks end empty. */
static void pair_finish(struct pair *p, int listener, int client)
{
    berth_close(p->a, client);
    assert_int_equal(berth_close(p->b, p->server), 0);
    assert_int_equal(berth_close(p->b, listener), 0);
    wire_settle(&p->w, p->a, p->b, NOW + 1000, pump_ctx, p);
}

/* Three segments one call each: the hook hears b's socket after each and
 * reads one segment each time. In one batch: once, after the last, with
 * the three segments' bytes there together; b ACKs all of them. */
static void batch_reports_readiness_once_after_the_last(void **st)
{
    (void)st;
    struct pair p;
    int listener, client;
    pair_connect(&p, &listener, &client);
    for (int i = 0; i < 3; i++)
        assert_int_equal(berth_send(p.a, client, "abcd", 4), 4);
    assert_int_equal(p.w.n, 3);
    pump(&p, NOW);
    assert_int_equal(p.reads, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(p.read_len[i], 4);

    p.reads = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(berth_send(p.a, client, "efgh", 4), 4);
    assert_int_equal(p.w.n, 3);
    assert_int_equal(deliver_batch(&p, p.b, NOW), 0);
    assert_int_equal(p.reads, 1);
    assert_int_equal(p.read_len[0], 12);
    struct berth_tcp_info info;
    pump(&p, NOW); /* b's ACKs */
    assert_int_equal(berth_getinfo(p.a, client, &info), 0);
    assert_int_equal(info.unacked, 0);
    pair_finish(&p, listener, client);
}

/* Packets that are not ours are dropped and counted in the return; the
 * good ones around them are taken. */
static void batch_counts_its_drops(void **st)
{
    (void)st;
    struct pair p;
    int listener, client;
    pair_connect(&p, &listener, &client);
    assert_int_equal(berth_send(p.a, client, "ab", 2), 2);
    assert_int_equal(p.w.n, 1);
    uint8_t other[64], trunc[10];
    memcpy(other, p.w.q[0].data, 40);
    other[19] ^= 1; /* another destination address */
    memcpy(trunc, p.w.q[0].data, sizeof trunc);
    struct berth_pkt pkts[3] = {{other, 40, 0},
                                {p.w.q[0].data, p.w.q[0].len, 0},
                                {trunc, sizeof trunc, 0}};
    assert_int_equal(berth_input_batch(p.b, pkts, 3, NOW), 2);
    assert_int_equal(p.reads, 1);
    assert_int_equal(p.read_len[0], 2);
    free(p.w.q[0].data);
    memmove(p.w.q, p.w.q + 1, (p.w.n - 1) * sizeof p.w.q[0]);
    p.w.n--;
    assert_int_equal(berth_input_batch(p.b, pkts, 0, NOW), 0);
    pump(&p, NOW);
    pair_finish(&p, listener, client);
}

/* a closes (FIN-WAIT-1); b ACKs the FIN and sends a byte, both reaching a
 * in one batch at the same now: the ACK takes a to FIN-WAIT-2 with its
 * deadline at now + 0, and that timer fires before the byte is taken, as
 * it would between two calls (test_timers_due.c): the byte finds no
 * connection. */
static void timer_armed_due_in_batch_fires_before_next_packet(void **st)
{
    (void)st;
    struct pair p;
    int listener, client;
    pair_connect(&p, &listener, &client);
    assert_int_equal(berth_close(p.a, client), 0);
    struct pkt fin = p.w.q[0];
    p.w.n = 0;
    berth_input(p.b, fin.data, fin.len, NOW);
    free(fin.data);
    assert_int_equal(p.w.n, 1); /* b's ACK of the FIN */
    assert_int_equal(berth_send(p.b, p.server, "x", 1), 1);
    assert_int_equal(p.w.n, 2);
    assert_int_equal(p.fw2_timeouts, 0);
    deliver_batch(&p, p.a, NOW);
    assert_int_equal(p.fw2_timeouts, 1);
    assert_int_equal(berth_next_deadline(p.a), UINT64_MAX);
    assert_int_equal(berth_mem_bytes(p.a), 0);
    pump(&p, NOW); /* a's RST for the byte */
    pair_finish(&p, listener, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(batch_reports_readiness_once_after_the_last),
        cmocka_unit_test(batch_counts_its_drops),
        cmocka_unit_test(timer_armed_due_in_batch_fires_before_next_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
