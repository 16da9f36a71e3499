/* Timers: a connection's deadlines (retransmission, persist, delayed ACK,
 * keepalive, deletion after FIN-WAIT-2 or 2MSL) share one wheel timer armed at
 * the earliest; what happens when each passes; RTT estimation (RFC 6298).
 * The retransmission deadline is also RACK's reordering timer or the TLP's
 * PTO (RFC 8985 §8: one timer, c->rexmit_kind says which). */
#include "tcp/tcp.h"

#include "base/seq.h"

#include <stddef.h>

#define CLOCK_GRANULARITY_US TIMER_TICK_US /* G in RFC 6298 §2 */

static uint64_t user_timeout_us(const struct tcp_conn *c)
{
    return (uint64_t)c->user_timeout_ms * USEC_PER_MS;
}

static uint64_t keep_idle_us(const struct tcp_conn *c)
{
    return (uint64_t)c->keep_idle_ms * USEC_PER_MS;
}

static uint64_t keep_intvl_us(const struct tcp_conn *c)
{
    return (uint64_t)c->keep_intvl_ms * USEC_PER_MS;
}

/* How far ahead of now (in ms, negative: overdue) a deadline's tick is. */
static int32_t tick_ahead(const struct berth_stack *s, uint32_t tick)
{
    return (int32_t)(tick - (uint32_t)(s->now / USEC_PER_MS));
}

/* The wheel timer armed `ahead` ms from now: the deadline's tick as a
 * wheel tick (tcp_tick_us's time, in ticks). */
static void arm_ahead(struct berth_stack *s, struct tcp_conn *c, int32_t ahead)
{
    stack_timer_arm_tick(s, &c->n.timer,
                         (uint64_t)((int64_t)(s->now / USEC_PER_MS) + ahead));
}

static void rearm(struct berth_stack *s, struct tcp_conn *c)
{
    /* The earliest deadline (a set one is never 0, tcp_tick), each one's
     * distance from now taken once. */
    uint32_t earliest = 0;
    int32_t ahead = 0;
    for (int i = 0; i < TCP_T__COUNT; i++) {
        uint32_t d = c->deadline[i];
        if (!d)
            continue;
        int32_t a = tick_ahead(s, d);
        if (!earliest || a < ahead) {
            earliest = d;
            ahead = a;
        }
    }
    if (earliest)
        arm_ahead(s, c, ahead);
    else
        timer_wheel_cancel(&s->wheel, &c->n.timer);
}

/* Whether a deadline other than `which` is set, read word by word and
 * stopping at a set one: a wider load over deadline[which], just stored,
 * would not be forwarded from that store. */
static bool other_deadline_set(const struct tcp_conn *c,
                               enum tcp_deadline which)
{
    for (int i = 0; i < TCP_T__COUNT; i++)
        if (i != (int)which && c->deadline[i])
            return true;
    return false;
}

void tcp_timer_set_slow(struct berth_stack *s, struct tcp_conn *c,
                        enum tcp_deadline which, uint32_t tick)
{
    if (stack_log_on(s) && c->deadline[which] != tick) {
        c->deadline[which] = tick;
        tcp_log_timer(s, c, which, BERTH_TIMER_SET);
    }
    c->deadline[which] = tick;
    /* The only one set (the retransmission deadline of a connection that
     * sent after everything was acknowledged): armed at it, as rearm
     * would find. */
    if (other_deadline_set(c, which))
        rearm(s, c);
    else
        arm_ahead(s, c, tick_ahead(s, tick));
}

void tcp_timer_clear_slow(struct berth_stack *s, struct tcp_conn *c,
                          enum tcp_deadline which)
{
    c->deadline[which] = 0;
    if (stack_log_on(s))
        tcp_log_timer(s, c, which, BERTH_TIMER_CANCEL);
    /* The last one cleared (an ACK of everything outstanding clears the
     * retransmission deadline, usually the only one): the wheel timer
     * goes, as rearm would find, without its earliest-deadline search. */
    if (other_deadline_set(c, which))
        rearm(s, c);
    else
        timer_wheel_cancel(&s->wheel, &c->n.timer);
}

uint32_t tcp_backoff(const struct berth_stack *s, uint32_t base, unsigned shift)
{
    uint64_t v = (uint64_t)base << (shift < 32 ? shift : 32);
    return v > s->cfg.rto_max ? s->cfg.rto_max : (uint32_t)v;
}

uint32_t tcp_rto(const struct berth_stack *s, const struct tcp_conn *c)
{
    /* RFC 6298 §5.5: back off by doubling, up to the maximum. */
    return tcp_backoff(s, c->rto_base, c->backoff);
}

void tcp_rtt_sample(struct berth_stack *s, struct tcp_conn *c, uint32_t r)
{
    if (!(c->flags & TF_RTT_VALID)) {
        /* RFC 6298 §2.2: the first measurement. */
        c->srtt = r;
        c->rttvar = r / 2;
        c->flags |= TF_RTT_VALID;
    } else {
        /* RFC 6298 §2.3, with alpha = 1/8 and beta = 1/4. */
        uint32_t err = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3 * c->rttvar + err) / 4;
        c->srtt = (7 * c->srtt + r) / 8;
    }
    c->lr_flags &= ~LR_PROBED; /* RFC 8985 §7.3: a new RTT sample */
    uint32_t var4 = 4 * c->rttvar;
    uint64_t rto = (uint64_t)c->srtt +
                   (var4 > CLOCK_GRANULARITY_US ? var4 : CLOCK_GRANULARITY_US);
    /* RFC 6298 §2.4-2.5: a minimum (configurable; see berth_config) and a
     * maximum. */
    if (rto < s->cfg.rto_min)
        rto = s->cfg.rto_min;
    if (rto > s->cfg.rto_max)
        rto = s->cfg.rto_max;
    c->rto_base = (uint32_t)rto;
    if (stack_log_on(s))
        tcp_log_rtt(s, c, r);
}

void tcp_rexmit_restart(struct berth_stack *s, struct tcp_conn *c)
{
    c->rexmit_kind = TCP_RX_RTO;
    if (c->snd_una == c->snd_max) {
        tcp_timer_clear(s, c, TCP_T_REXMIT); /* RFC 6298 §5.2 */
        return;
    }
    uint64_t when = s->now + tcp_rto(s, c); /* RFC 6298 §5.1, §5.3 */
    /* RFC 5482: give up exactly when the user timeout passes. */
    if (c->user_timeout_ms) {
        uint64_t give_up =
            s->now - tcp_us_since(s, c->unacked_since) + user_timeout_us(c);
        if (give_up < when)
            when = give_up;
    }
    if (tcp_rack_arm_tlp(s, c, when))
        return; /* RFC 8985 §7.2: a loss probe before the RTO */
    tcp_timer_set(s, c, TCP_T_REXMIT, when);
}

void tcp_keepalive_reset(struct berth_stack *s, struct tcp_conn *c)
{
    /* Cheap on every segment: the timer notices the new reference when it
     * fires and re-arms itself. Any answer also resets the probe count
     * (keepalive and zero-window probes alike). */
    c->last_rcv = tcp_ms_clock(s);
    c->probes_unanswered = 0;
}

void tcp_keepalive_start(struct berth_stack *s, struct tcp_conn *c)
{
    bool idle_state = c->state == BERTH_STATE_ESTABLISHED ||
                      c->state == BERTH_STATE_CLOSE_WAIT;
    if (!(c->flags & TF_KEEPALIVE) || !idle_state)
        return;
    c->last_rcv = tcp_ms_clock(s);
    tcp_timer_set(s, c, TCP_T_KEEPALIVE, s->now + keep_idle_us(c));
}

static bool user_timeout_passed(const struct berth_stack *s,
                                const struct tcp_conn *c)
{
    return c->user_timeout_ms &&
           tcp_us_since(s, c->unacked_since) >= user_timeout_us(c);
}

/* Each handler returns false if the connection is gone. */
static bool on_rexmit(struct berth_stack *s, struct tcp_conn *c)
{
    switch (c->rexmit_kind) {
    case TCP_RX_REO:
        tcp_rack_reo_timeout(s, c);
        return true;
    case TCP_RX_TLP:
        tcp_rack_tlp_timeout(s, c);
        return true;
    default:
        break;
    }
    /* RFC 5482 / Linux's TCP_USER_TIMEOUT: the user timeout bounds every
     * retransmission, the SYN's included; whichever of it and the retry
     * limit comes first ends the connection (as Linux's
     * tcp_write_timeout()). */
    if (user_timeout_passed(s, c)) {
        bool opening = c->state == BERTH_STATE_SYN_SENT;
        stack_count(s, opening ? BERTH_CTR_ATTEMPT_FAILS : BERTH_CTR_TIMEOUTS);
        tcp_conn_fail(s, c, tcp_timeout_error(c), BERTH_REASON_USER_TIMEOUT);
        return false;
    }
    if (c->state == BERTH_STATE_SYN_SENT && c->rexmits >= s->cfg.syn_retries) {
        stack_count(s, BERTH_CTR_ATTEMPT_FAILS);
        tcp_conn_fail(s, c, tcp_timeout_error(c), BERTH_REASON_SYN_RETRIES);
        return false;
    }
    uint8_t limit = c->state == BERTH_STATE_SYN_RECEIVED ? s->cfg.synack_retries
                                                         : s->cfg.max_retries;
    if (c->state != BERTH_STATE_SYN_SENT && c->rexmits >= limit) {
        stack_count(s, BERTH_CTR_TIMEOUTS);
        tcp_conn_fail(s, c, tcp_timeout_error(c),
                      BERTH_REASON_RETRANSMIT_LIMIT);
        return false;
    }
    stack_count(s, BERTH_CTR_RTO_EXPIRED);
    tcp_mtu_blackhole_check(s, c);
    tcp_cc_on_rto(s, c); /* before the backoff: it counts loss episodes */
    if (c->backoff < 255)
        c->backoff++;
    if (c->rexmits < 255)
        c->rexmits++;
    if (c->snd_una == c->iss)
        c->flags |= TF_SYN_REXMIT;
    c->rtt_time = 0;         /* RFC 6298 §3: Karn's algorithm */
    c->snd_nxt = c->snd_una; /* go back: resend from the first unacked */

    tcp_output(s, c);
    return true;
}

static bool on_persist(struct berth_stack *s, struct tcp_conn *c)
{
    if (user_timeout_passed(s, c) && (c->flags & TF_PERSIST)) {
        stack_count(s, BERTH_CTR_TIMEOUTS);
        tcp_conn_fail(s, c, tcp_timeout_error(c), BERTH_REASON_USER_TIMEOUT);
        return false;
    }
    if (c->probes_unanswered >= s->cfg.max_retries) {
        stack_count(s, BERTH_CTR_TIMEOUTS);
        tcp_conn_fail(s, c, tcp_timeout_error(c),
                      BERTH_REASON_RETRANSMIT_LIMIT);
        return false;
    }
    if (!(c->flags & TF_PERSIST)) {
        c->flags |= TF_PERSIST;
        c->unacked_since = tcp_ms_clock(s);
    }
    tcp_send_persist_probe(s, c);
    c->probes_unanswered++;
    /* Probes back off like retransmissions (RFC 1122 §4.2.2.17), even when
     * each is answered: the interval grows until the window opens. */
    if (c->persist_shift < 255)
        c->persist_shift++;
    tcp_timer_set(s, c, TCP_T_PERSIST,
                  s->now + tcp_backoff(s, tcp_rto(s, c), c->persist_shift));
    return true;
}

static bool on_delack(struct berth_stack *s, struct tcp_conn *c)
{
    c->flags |= TF_ACK_NOW;
    stack_count(s, BERTH_CTR_DELAYED_ACKS);
    tcp_output(s, c);
    return true;
}

static bool on_keepalive(struct berth_stack *s, struct tcp_conn *c)
{
    bool idle_state = c->state == BERTH_STATE_ESTABLISHED ||
                      c->state == BERTH_STATE_CLOSE_WAIT;
    if (!(c->flags & TF_KEEPALIVE) || !idle_state)
        return true;
    /* RFC 1122 §4.2.3.6: probe only an idle connection; with data in flight
     * the retransmission timer watches the peer. */
    if (c->snd_una != c->snd_max || c->snd.len > 0) {
        c->probes_unanswered = 0;
        tcp_timer_set(s, c, TCP_T_KEEPALIVE, s->now + keep_idle_us(c));
        return true;
    }
    uint64_t idle_end = s->now - tcp_us_since(s, c->last_rcv) + keep_idle_us(c);
    if (c->probes_unanswered == 0 && s->now < idle_end) {
        tcp_timer_set(s, c, TCP_T_KEEPALIVE, idle_end);
        return true;
    }
    if (c->probes_unanswered >= c->keep_cnt) {
        stack_count(s, BERTH_CTR_KEEPALIVE_TIMEOUTS);
        tcp_conn_fail(s, c, tcp_timeout_error(c),
                      BERTH_REASON_KEEPALIVE_TIMEOUT);
        return false;
    }
    tcp_send_keepalive(s, c);
    c->probes_unanswered++;
    tcp_timer_set(s, c, TCP_T_KEEPALIVE, s->now + keep_intvl_us(c));
    return true;
}

static bool on_delete(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->state == BERTH_STATE_TIME_WAIT) {
        tcp_conn_delete(s, c, BERTH_REASON_TIME_WAIT_EXPIRED);
        return false;
    }
    if (c->state == BERTH_STATE_FIN_WAIT_2) {
        /* Like Linux (tcp_fin_timeout): a closed socket's FIN-WAIT-2 ends
         * quietly. */
        tcp_conn_delete(s, c, BERTH_REASON_FIN_WAIT_2_TIMEOUT);
        return false;
    }
    return true;
}

static bool (*const handlers[TCP_T__COUNT])(struct berth_stack *,
                                            struct tcp_conn *) = {
    [TCP_T_REXMIT] = on_rexmit, [TCP_T_PERSIST] = on_persist,
    [TCP_T_DELACK] = on_delack, [TCP_T_KEEPALIVE] = on_keepalive,
    [TCP_T_DELETE] = on_delete,
};

static void conn_timers(struct berth_stack *s, struct tcp_conn *c)
{
    for (int i = 0; i < TCP_T__COUNT; i++) {
        if (!c->deadline[i] || tick_ahead(s, c->deadline[i]) > 0)
            continue;
        c->deadline[i] = 0;
        if (stack_log_on(s))
            tcp_log_timer(s, c, (enum tcp_deadline)i, BERTH_TIMER_FIRE);
        if (!handlers[i](s, c))
            return;
    }
    rearm(s, c);
}

void tcp_timer_fire(struct timer *t, void *ctx)
{
    struct berth_stack *s = ctx;
    struct tcp_node *n =
        (struct tcp_node *)((char *)t - offsetof(struct tcp_node, timer));
    switch (n->kind) {
    case TCP_NODE_CONN:
        conn_timers(s, (struct tcp_conn *)n);
        break;
    case TCP_NODE_SYNREQ:
        tcp_synreq_timer(s, (struct tcp_synreq *)n);
        break;
    case TCP_NODE_TIMEWAIT:
        tcp_timewait_timer(s, (struct tcp_timewait *)n);
        break;
    }
}
