/* The event log's core side (docs/events.md): each function fills one typed
 * struct berth_log_event and hands it to the hook (berth_config.log). The
 * sites call them only behind stack_log_on(), one predictable branch when no
 * hook is set; the JSON writer is the runtime's (src/rt/events.c). */
#include "tcp/tcp.h"

#include "wire/tcp.h"

static void emit(struct berth_stack *s, struct berth_log_event *ev, int sock,
                 bool v6, uint32_t laddr, uint16_t lport, uint32_t raddr,
                 uint16_t rport)
{
    ev->now = s->now;
    ev->sock = sock;
    ev->local = stack_endpoint(s, v6, laddr, lport);
    ev->remote = stack_endpoint(s, v6, raddr, rport);
    s->cfg.log(s->cfg.log_ctx, ev);
}

static void emit_conn(struct berth_stack *s, const struct tcp_conn *c,
                      struct berth_log_event *ev)
{
    emit(s, ev, c->sock, c->n.v6, c->n.laddr, c->n.lport, c->n.raddr,
         c->n.rport);
}

void tcp_log_state(struct berth_stack *s, int sock, const struct tcp_node *n,
                   enum berth_state old, enum berth_state st,
                   enum berth_reason why)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_STATE};
    ev.u.state.from = old;
    ev.u.state.to = st;
    ev.u.state.cause = why;
    emit(s, &ev, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport);
}

void tcp_log_drop(struct berth_stack *s, int sock, bool v6, uint32_t laddr,
                  uint16_t lport, uint32_t raddr, uint16_t rport,
                  enum berth_reason why)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_DROP};
    ev.u.drop = why;
    emit(s, &ev, sock, v6, laddr, lport, raddr, rport);
}

void tcp_log_segment(struct berth_stack *s, bool out, bool v6, uint32_t src,
                     uint32_t dst, const struct tcp_seg *seg)
{
    struct berth_segment pub;
    tcp_seg_public(seg, stack_endpoint(s, v6, src, 0),
                   stack_endpoint(s, v6, dst, 0), &pub);
    struct berth_log_event ev = {
        .kind = out ? BERTH_LOG_SEG_OUT : BERTH_LOG_SEG_IN, .seg = &pub};
    if (out)
        emit(s, &ev, -1, v6, src, seg->sport, dst, seg->dport);
    else
        emit(s, &ev, -1, v6, dst, seg->dport, src, seg->sport);
}

void tcp_log_rtt(struct berth_stack *s, const struct tcp_conn *c,
                 uint32_t sample)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_RTT};
    ev.u.rtt.sample = sample;
    ev.u.rtt.srtt = c->srtt;
    ev.u.rtt.rttvar = c->rttvar;
    ev.u.rtt.rto = tcp_rto(s, c);
    emit_conn(s, c, &ev);
}

void tcp_log_cc(struct berth_stack *s, const struct tcp_conn *c,
                enum berth_cc_cause cause)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_CC};
    ev.u.cc.cwnd = c->cwnd;
    ev.u.cc.ssthresh = c->ssthresh;
    ev.u.cc.inflight = c->snd_max - c->snd_una;
    ev.u.cc.pipe = (c->flags & TF_SACK) ? tcp_sack_pipe(c) : tcp_flight_size(c);
    ev.u.cc.cause = cause;
    emit_conn(s, c, &ev);
}

void tcp_log_recovery(struct berth_stack *s, const struct tcp_conn *c,
                      int event, bool rto)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_RECOVERY};
    ev.u.recovery.event = event;
    ev.u.recovery.rto = rto;
    ev.u.recovery.recover = c->recover;
    emit_conn(s, c, &ev);
}

void tcp_log_sack(struct berth_stack *s, const struct tcp_conn *c)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_SACK};
    ev.u.sack.blocks = c->sacked.n;
    ev.u.sack.sacked = tcp_sack_sacked_bytes(c);
    uint32_t start, end;
    for (uint32_t i = 0; i < 4 && tcp_sack_block(c, i, &start, &end); i++) {
        ev.u.sack.range[i].start = start;
        ev.u.sack.range[i].end = end;
        ev.u.sack.count = (uint8_t)(i + 1);
    }
    emit_conn(s, c, &ev);
}

void tcp_log_timer(struct berth_stack *s, const struct tcp_conn *c,
                   enum tcp_deadline which, enum berth_timer_action action)
{
    static const enum berth_timer names[TCP_T__COUNT] = {
        [TCP_T_REXMIT] = BERTH_TIMER_RTO,
        [TCP_T_PERSIST] = BERTH_TIMER_PERSIST,
        [TCP_T_DELACK] = BERTH_TIMER_DELACK,
        [TCP_T_KEEPALIVE] = BERTH_TIMER_KEEPALIVE,
        [TCP_T_DELETE] = BERTH_TIMER_DELETE,
    };
    struct berth_log_event ev = {.kind = BERTH_LOG_TIMER};
    ev.u.timer.timer = names[which];
    if (which == TCP_T_REXMIT && c->rexmit_kind == TCP_RX_REO)
        ev.u.timer.timer = BERTH_TIMER_REO;
    if (which == TCP_T_REXMIT && c->rexmit_kind == TCP_RX_TLP)
        ev.u.timer.timer = BERTH_TIMER_TLP;
    ev.u.timer.action = action;
    if (action == BERTH_TIMER_SET)
        ev.u.timer.at = tcp_tick_us(s, c->deadline[which]);
    emit_conn(s, c, &ev);
}

void tcp_log_app(struct berth_stack *s, int sock, const struct tcp_node *n,
                 enum berth_app_call call, uint64_t len, int result)
{
    struct berth_log_event ev = {.kind = BERTH_LOG_APP};
    ev.u.app.call = call;
    ev.u.app.len = len;
    ev.u.app.result = result;
    if (n)
        emit(s, &ev, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport);
    else
        emit(s, &ev, sock, false, 0, 0, 0, 0);
}

void berth_set_log(struct berth_stack *s,
                   void (*fn)(void *ctx, const struct berth_log_event *ev),
                   void *ctx)
{
    s->cfg.log = fn;
    s->cfg.log_ctx = ctx;
}
