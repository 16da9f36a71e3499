/* A timer armed already due at the wheel's current tick fires at the very
 * next berth_input()/berth_advance() at the same now, not a tick later.
 * run_timers (stack.c) skips the wheel's advance within a tick it has
 * already processed unless stack_timer_arm (stack.h) noted such a timer;
 * these tests fail if that note is never taken.
 *
 * The user-reachable way to arm one: berth_config.fin_wait_2_timeout = 0
 * (valid: only an upper bound is checked), so a closed socket's FIN-WAIT-2
 * ends at the ms tick it starts in. Every other TCP deadline is now plus a
 * positive delay (delack, msl, the RTO are checked > 0), which rounds up to
 * a later tick (tcp_tick, tcp.h). now is kept on a ms boundary: a zero
 * delay from mid-tick rounds up to the next tick too. */
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

/* What a's trace hook saw: the FIN-WAIT-2 timeout, and when. */
struct seen {
    unsigned fw2_timeouts;
    uint64_t fw2_timeout_at;
    unsigned changes; /* every state change */
};

struct pair {
    struct wire w;
    struct seen seen;
    struct berth_stack *a, *b; /* a: 198.18.0.2 (client), b: 198.18.0.1 */
};

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct seen *t = ctx;
    if (ev->kind != BERTH_TRACE_STATE)
        return;
    t->changes++;
    if (ev->old_state == BERTH_STATE_FIN_WAIT_2 &&
        ev->new_state == BERTH_STATE_CLOSED &&
        ev->reason == BERTH_REASON_FIN_WAIT_2_TIMEOUT) {
        t->fw2_timeouts++;
        t->fw2_timeout_at = ev->now;
    }
}

static struct berth_stack *stack_new(struct pair *p, uint32_t addr)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = &p->w;
    cfg.seed = addr;
    memcpy(cfg.secret, "timers_due key!!", sizeof cfg.secret);
    cfg.fin_wait_2_timeout = 0; /* a closed FIN-WAIT-2 ends at once */
    if (addr == ADDR_A) {
        cfg.trace = on_trace;
        cfg.trace_ctx = &p->seen;
    }
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

/* Delivers the oldest packet in flight at now; false when none is. */
static bool deliver_one(struct pair *p, uint64_t now)
{
    if (p->w.head == p->w.n)
        return false;
    struct pkt pk = p->w.q[p->w.head++];
    berth_input(pk.dst == ADDR_A ? p->a : p->b, pk.data, pk.len, now);
    free(pk.data);
    if (p->w.head == p->w.n)
        p->w.head = p->w.n = 0;
    return true;
}

/* Everything in flight, and what it causes, at now (bounded). */
static void pump(struct pair *p, uint64_t now)
{
    for (unsigned i = 0; i < 1000 && deliver_one(p, now); i++)
        ;
    assert_int_equal(p->w.n, 0);
}

static void pump_ctx(void *p, uint64_t now)
{
    pump(p, now);
}

/* b listens on 80; a connects; both ESTABLISHED, all at NOW. */
static void pair_connect(struct pair *p, int *listener, int *client,
                         int *server)
{
    memset(p, 0, sizeof *p);
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
    assert_int_equal(berth_connect(p->a, *client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    pump(p, NOW);
    *server = berth_accept(p->b, *listener, NULL);
    assert_true(*server >= 0);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p->a, *client, &info), 0);
    assert_int_equal(info.state, BERTH_STATE_ESTABLISHED);
}

/* b closes too; later than NOW, so whatever a has left times out as well.
 * Both stacks end empty. */
static void pair_finish(struct pair *p, int listener, int server)
{
    assert_int_equal(berth_close(p->b, server), 0);
    assert_int_equal(berth_close(p->b, listener), 0);
    wire_settle(&p->w, p->a, p->b, NOW + 1000, pump_ctx, p);
}

/* Armed between inputs, by an API call: a shuts down writing, b ACKs the
 * FIN (a: FIN-WAIT-2, socket open, no deadline); then a closes the socket,
 * which arms the FIN-WAIT-2 deadline at now + 0, the tick the wheel is at.
 * A berth_advance at the same now ends the connection. */
static void close_in_fin_wait_2_is_deleted_by_advance_at_same_now(void **st)
{
    (void)st;
    struct pair p;
    int listener, client, server;
    pair_connect(&p, &listener, &client, &server);
    assert_int_equal(berth_shutdown(p.a, client, BERTH_SHUT_WR), 0);
    pump(&p, NOW);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p.a, client, &info), 0);
    assert_int_equal(info.state, BERTH_STATE_FIN_WAIT_2);
    assert_int_equal(berth_next_deadline(p.a), UINT64_MAX);

    assert_int_equal(berth_close(p.a, client), 0);
    /* Due now: the wheel's next event is not after now. */
    assert_true(berth_next_deadline(p.a) <= NOW);
    assert_int_equal(p.seen.fw2_timeouts, 0);
    unsigned changes = p.seen.changes;

    berth_advance(p.a, NOW); /* the same now as the last input */
    assert_int_equal(p.seen.fw2_timeouts, 1);
    assert_int_equal(p.seen.fw2_timeout_at, NOW);
    assert_int_equal(p.seen.changes, changes + 1);
    assert_int_equal(berth_next_deadline(p.a), UINT64_MAX);
    assert_int_equal(berth_mem_bytes(p.a), 0); /* the TCB is gone */
    pair_finish(&p, listener, server);
}

/* Armed inside an input, after that input's timer run: a closes (FIN-WAIT-1,
 * orphaned); b's ACK of the FIN takes a to FIN-WAIT-2 with the deadline at
 * now + 0. b's next segment, at the same now, finds the connection already
 * timed out: the timer fires before the segment is processed. */
static void ack_into_fin_wait_2_is_deleted_by_next_input_at_same_now(void **st)
{
    (void)st;
    struct pair p;
    int listener, client, server;
    pair_connect(&p, &listener, &client, &server);
    assert_int_equal(berth_close(p.a, client), 0);
    assert_true(deliver_one(&p, NOW)); /* a's FIN to b */
    assert_int_equal(p.w.n - p.w.head, 1);
    /* b has answered with an ACK and nothing else: its FIN waits for its
     * application's close. */
    assert_true(deliver_one(&p, NOW)); /* b's ACK to a: FIN-WAIT-2 */
    assert_int_equal(p.w.n, 0);
    assert_int_equal(p.seen.fw2_timeouts, 0);
    assert_true(berth_next_deadline(p.a) <= NOW);

    /* b (CLOSE-WAIT) still sends: its segment reaches a at the same now. */
    assert_int_equal(berth_send(p.b, server, "x", 1), 1);
    assert_int_equal(p.w.n, 1);
    assert_true(deliver_one(&p, NOW));
    assert_int_equal(p.seen.fw2_timeouts, 1);
    assert_int_equal(p.seen.fw2_timeout_at, NOW);
    assert_int_equal(berth_next_deadline(p.a), UINT64_MAX);
    pair_finish(&p, listener, server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(close_in_fin_wait_2_is_deleted_by_advance_at_same_now),
        cmocka_unit_test(
            ack_into_fin_wait_2_is_deleted_by_next_input_at_same_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
