/* The event log's hook (docs/events.md) between two stacks over the
 * in-memory link: every segment the counters count is logged once each
 * way; the states run as RFC 9293 draws them, with their causes; the RTT
 * and window the log reports last are berth_getinfo()'s; a lost segment
 * shows as a SACK scoreboard change, a recovery entered and left, and a
 * window reduced for a loss; a segment to a closed port as a drop with its
 * reason and the RST that answers it; and removing the hook stops it. */
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
#define MAX_STATES  32

struct log {
    uint64_t kinds[BERTH_LOG_APP + 1];
    struct berth_log_event states[MAX_STATES];
    int nstates;
    struct berth_log_event last_rtt, last_cc;
    bool cc_loss, cc_hystart, recovery_enter, recovery_exit, sack;
    bool delete_set, delete_fired;
    uint64_t app_sent; /* bytes BERTH_APP_SEND returned */
    int connect_result;
    enum berth_reason drop;
    bool rst_after_drop;
};

struct world {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    struct log log[2];
    uint64_t now;
    int drop_data; /* the client's data segments to drop (the first ones) */
};

static void on_log(void *ctx, const struct berth_log_event *ev)
{
    struct log *l = ctx;
    l->kinds[ev->kind]++;
    switch (ev->kind) {
    case BERTH_LOG_STATE:
        if (l->nstates < MAX_STATES)
            l->states[l->nstates++] = *ev;
        break;
    case BERTH_LOG_RTT:
        l->last_rtt = *ev;
        break;
    case BERTH_LOG_CC:
        l->last_cc = *ev;
        l->cc_loss |= ev->u.cc.cause == BERTH_CC_LOSS;
        l->cc_hystart |= ev->u.cc.cause == BERTH_CC_HYSTART;
        break;
    case BERTH_LOG_RECOVERY:
        l->recovery_enter |= ev->u.recovery.event == 1;
        l->recovery_exit |= ev->u.recovery.event == 0;
        break;
    case BERTH_LOG_SACK:
        l->sack |= ev->u.sack.blocks > 0;
        break;
    case BERTH_LOG_TIMER:
        if (ev->u.timer.timer == BERTH_TIMER_DELETE) {
            l->delete_set |= ev->u.timer.action == BERTH_TIMER_SET;
            l->delete_fired |= ev->u.timer.action == BERTH_TIMER_FIRE;
        }
        break;
    case BERTH_LOG_APP:
        if (ev->u.app.call == BERTH_APP_SEND && ev->u.app.result > 0)
            l->app_sent += (uint64_t)ev->u.app.result;
        if (ev->u.app.call == BERTH_APP_CONNECT)
            l->connect_result = ev->u.app.result;
        break;
    case BERTH_LOG_DROP:
        l->drop = ev->u.drop;
        break;
    case BERTH_LOG_SEG_OUT:
        l->rst_after_drop |=
            l->drop != BERTH_REASON_NONE && (ev->seg->flags & BERTH_TH_RST);
        break;
    case BERTH_LOG_SEG_IN:
        break;
    }
}

static struct berth_memlink_verdict
filter(void *ctx, int from, const uint8_t *pkt, size_t len, uint64_t now)
{
    (void)now;
    struct world *w = ctx;
    struct berth_segment seg;
    if (from == CLIENT && w->drop_data > 0 &&
        berth_decode(pkt, len, &seg) == 0 && seg.len > 0) {
        w->drop_data--;
        return berth_memlink_drop();
    }
    return berth_memlink_pass();
}

static void world_init_bufs(struct world *w, uint32_t buf)
{
    memset(w, 0, sizeof *w);
    w->link = berth_memlink_create(11);
    assert_non_null(w->link);
    berth_memlink_set_filter(w->link, filter, w);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side == CLIENT ? CLIENT_ADDR : SERVER_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(w->link, side);
        cfg.seed = 200 + (uint64_t)side;
        cfg.msl = 1 * SEC;
        if (buf)
            cfg.sndbuf = cfg.rcvbuf = buf;
        cfg.log = on_log;
        cfg.log_ctx = &w->log[side];
        w->st[side] = berth_stack_create(&cfg, 0);
        assert_non_null(w->st[side]);
        berth_memlink_attach(w->link, side, w->st[side]);
    }
}

static void world_init(struct world *w)
{
    world_init_bufs(w, 0);
}

static void world_free(struct world *w)
{
    for (int side = 0; side < 2; side++) {
        assert_int_equal(berth_mem_bytes(w->st[side]), 0);
        berth_stack_destroy(w->st[side]);
    }
    berth_memlink_destroy(w->link);
}

static void run(struct world *w, uint64_t us)
{
    assert_int_equal(berth_memlink_run(w->link, &w->now, w->now + us), 0);
}

/* A connection to a listener; returns the client's handle, *srv the
 * accepted one. */
static int open_pair(struct world *w, int *srv)
{
    int l = berth_socket(w->st[SERVER]);
    assert_int_equal(berth_bind(w->st[SERVER], l, 0, 80), 0);
    assert_int_equal(berth_listen(w->st[SERVER], l, 8), 0);
    int c = berth_socket(w->st[CLIENT]);
    assert_int_equal(berth_connect(w->st[CLIENT], c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    run(w, 50 * MS);
    *srv = berth_accept(w->st[SERVER], l, NULL);
    assert_true(*srv >= 0);
    assert_int_equal(berth_close(w->st[SERVER], l), 0);
    return c;
}

/* Sends n bytes from the client, reading them at the server. */
static void transfer(struct world *w, int c, int s, size_t n)
{
    static uint8_t buf[16384];
    size_t sent = 0, got = 0;
    for (int guard = 0; guard < 100000 && got < n; guard++) {
        if (sent < n) {
            size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
            int r = berth_send(w->st[CLIENT], c, buf, k);
            if (r > 0)
                sent += (size_t)r;
        }
        run(w, 1 * MS);
        int r;
        while ((r = berth_recv(w->st[SERVER], s, buf, sizeof buf)) > 0)
            got += (size_t)r;
    }
    assert_int_equal(got, n);
}

static void assert_state(const struct berth_log_event *ev,
                         enum berth_state from, enum berth_state to,
                         enum berth_reason cause)
{
    assert_string_equal(berth_state_name(ev->u.state.from),
                        berth_state_name(from));
    assert_string_equal(berth_state_name(ev->u.state.to), berth_state_name(to));
    assert_string_equal(berth_reason_name(ev->u.state.cause),
                        berth_reason_name(cause));
}

/* RFC 9293 §3.5 Figure 6 as the client's log tells it, every segment once,
 * and the log's last RTT and window are what berth_getinfo() says. */
static void lifecycle_logged_completely(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int s, c = open_pair(&w, &s);
    transfer(&w, c, s, 200000);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(w.st[CLIENT], c, &info), 0);
    struct log *cl = &w.log[CLIENT];
    assert_true(cl->kinds[BERTH_LOG_RTT] > 0);
    assert_int_equal(cl->last_rtt.u.rtt.srtt, info.srtt);
    assert_int_equal(cl->last_rtt.u.rtt.rto, info.rto);
    assert_int_equal(cl->last_cc.u.cc.cwnd, info.cwnd);
    assert_int_equal(cl->last_cc.u.cc.ssthresh, info.ssthresh);
    assert_int_equal(cl->app_sent, 200000);
    assert_int_equal(cl->connect_result, BERTH_EINPROGRESS);
    /* The client closes first: FIN-WAIT-1, -2, TIME-WAIT, 2 MSL, gone. */
    assert_int_equal(berth_close(w.st[CLIENT], c), 0);
    run(&w, 10 * MS);
    assert_int_equal(berth_close(w.st[SERVER], s), 0);
    run(&w, 3 * SEC);
    assert_true(cl->nstates >= 6);
    assert_state(&cl->states[0], BERTH_STATE_CLOSED, BERTH_STATE_SYN_SENT,
                 BERTH_REASON_APP_CONNECT);
    assert_state(&cl->states[1], BERTH_STATE_SYN_SENT, BERTH_STATE_ESTABLISHED,
                 BERTH_REASON_RCV_SYN_ACK);
    assert_state(&cl->states[2], BERTH_STATE_ESTABLISHED,
                 BERTH_STATE_FIN_WAIT_1, BERTH_REASON_APP_CLOSE);
    assert_state(&cl->states[3], BERTH_STATE_FIN_WAIT_1, BERTH_STATE_FIN_WAIT_2,
                 BERTH_REASON_RCV_ACK);
    assert_state(&cl->states[4], BERTH_STATE_FIN_WAIT_2, BERTH_STATE_TIME_WAIT,
                 BERTH_REASON_RCV_FIN);
    assert_state(&cl->states[cl->nstates - 1], BERTH_STATE_TIME_WAIT,
                 BERTH_STATE_CLOSED, BERTH_REASON_TIME_WAIT_EXPIRED);
    assert_true(cl->delete_set);
    for (int side = 0; side < 2; side++) {
        assert_int_equal(w.log[side].kinds[BERTH_LOG_SEG_OUT],
                         berth_counter(w.st[side], BERTH_CTR_SEGS_OUT));
        assert_int_equal(w.log[side].kinds[BERTH_LOG_SEG_IN],
                         berth_counter(w.st[side], BERTH_CTR_SEGS_IN));
    }
    /* The server saw LISTEN -> SYN-RECEIVED -> ESTABLISHED first. */
    struct log *sl = &w.log[SERVER];
    assert_state(&sl->states[0], BERTH_STATE_CLOSED, BERTH_STATE_LISTEN,
                 BERTH_REASON_APP_LISTEN);
    assert_state(&sl->states[1], BERTH_STATE_LISTEN, BERTH_STATE_SYN_RECEIVED,
                 BERTH_REASON_RCV_SYN);
    assert_state(&sl->states[2], BERTH_STATE_SYN_RECEIVED,
                 BERTH_STATE_ESTABLISHED, BERTH_REASON_RCV_ACK);
    world_free(&w);
}

/* RFC 6675: one lost data segment; the sender's log shows the SACKed data
 * above it, recovery entered and left, and the window cut for the loss. */
static void lost_segment_logged_as_recovery(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int s, c = open_pair(&w, &s);
    transfer(&w, c, s, 30000); /* a window to lose from */
    w.drop_data = 1;
    transfer(&w, c, s, 200000);
    struct log *cl = &w.log[CLIENT];
    assert_true(cl->sack);
    assert_true(cl->recovery_enter);
    assert_true(cl->recovery_exit);
    assert_true(cl->cc_loss);
    assert_int_equal(berth_abort(w.st[CLIENT], c), 0);
    assert_int_equal(berth_abort(w.st[SERVER], s), 0);
    run(&w, 10 * MS);
    world_free(&w);
}

/* RFC 9406: through a bottleneck whose queue grows the RTT, HyStart++ ends
 * the first slow start without a loss; the log names it. */
static void hystart_exit_logged(void **state)
{
    (void)state;
    struct world w;
    world_init_bufs(&w, 4u << 20);
    struct berth_memlink_impair imp;
    berth_memlink_impair_init(&imp);
    imp.delay = 20 * MS;
    imp.rate = 2u << 20; /* 2 MB/s */
    imp.queue_packets = 4000;
    berth_memlink_set_impair(w.link, CLIENT, &imp);
    int s, c = open_pair(&w, &s);
    transfer(&w, c, s, 3u << 20);
    assert_true(w.log[CLIENT].cc_hystart);
    assert_false(w.log[CLIENT].cc_loss);
    assert_int_equal(berth_abort(w.st[CLIENT], c), 0);
    assert_int_equal(berth_abort(w.st[SERVER], s), 0);
    run(&w, 10 * MS);
    world_free(&w);
}

/* RFC 9293 §3.10.7.1: a SYN to a closed port is a drop (NO_SOCKET) and
 * draws a RST; without the hook nothing is logged. */
static void closed_port_drop_and_rst_logged(void **state)
{
    (void)state;
    struct world w;
    world_init(&w);
    int c = berth_socket(w.st[CLIENT]);
    assert_int_equal(berth_connect(w.st[CLIENT], c, SERVER_ADDR, 81),
                     BERTH_EINPROGRESS);
    run(&w, 50 * MS);
    assert_int_equal(w.log[SERVER].drop, BERTH_REASON_NO_SOCKET);
    assert_true(w.log[SERVER].rst_after_drop);
    assert_int_equal(berth_sock_error(w.st[CLIENT], c), BERTH_ECONNREFUSED);
    struct log *cl = &w.log[CLIENT];
    assert_state(&cl->states[cl->nstates - 1], BERTH_STATE_SYN_SENT,
                 BERTH_STATE_CLOSED, BERTH_REASON_RCV_RST);
    berth_set_log(w.st[CLIENT], NULL, NULL);
    uint64_t before = 0, after = 0;
    for (int k = 0; k <= BERTH_LOG_APP; k++)
        before += cl->kinds[k];
    assert_int_equal(berth_close(w.st[CLIENT], c), 0);
    int c2 = berth_socket(w.st[CLIENT]);
    assert_int_equal(berth_connect(w.st[CLIENT], c2, SERVER_ADDR, 81),
                     BERTH_EINPROGRESS);
    run(&w, 50 * MS);
    for (int k = 0; k <= BERTH_LOG_APP; k++)
        after += cl->kinds[k];
    assert_int_equal(after, before);
    assert_int_equal(berth_close(w.st[CLIENT], c2), 0);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle_logged_completely),
        cmocka_unit_test(lost_segment_logged_as_recovery),
        cmocka_unit_test(hystart_exit_logged),
        cmocka_unit_test(closed_port_drop_and_rst_logged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
