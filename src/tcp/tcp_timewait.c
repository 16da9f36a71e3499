/* TIME-WAIT (RFC 9293 §3.10.7.4, RFC 1337): 2*MSL in a compact entry once
 * no handle holds the TCB, re-ACKing a retransmitted FIN, ignoring RSTs,
 * and letting a new SYN take the 4-tuple over when that is safe. */
#include "tcp/tcp.h"

#include "base/seq.h"

enum tw_action {
    TW_DROP,    /* nothing to say */
    TW_ACK,     /* send our last ACK again */
    TW_RESTART, /* a retransmitted FIN: ACK it and restart 2*MSL */
    TW_NEW_SYN, /* a new connection may take the 4-tuple over */
};

/* What TIME-WAIT remembers, from a compact entry or a TCB. */
struct tw_view {
    uint32_t rcv_nxt;
    uint32_t rcv_wnd; /* the window we last advertised, in bytes */
    uint32_t ts_recent;
    bool has_ts;
};

/* RFC 6191 §2 with timestamps, else RFC 9293 §3.6.1: may a SYN reopen the
 * 4-tuple? With timestamps on both, a newer TSval decides; an equal one
 * falls back to the sequence number. */
static bool tw_syn_is_new(const struct tw_view *v, const struct tcp_seg *seg)
{
    if (v->has_ts && seg->opts.has_ts) {
        if (seg->opts.ts_val != v->ts_recent)
            return ts_lt(v->ts_recent, seg->opts.ts_val);
    }
    return seq_gt(seg->seq, v->rcv_nxt);
}

/* RFC 9293 §3.10.7.4 first: the acceptance test, with the window we last
 * advertised. */
static bool tw_in_window(const struct tw_view *v, const struct tcp_seg *seg)
{
    uint32_t end = v->rcv_nxt + v->rcv_wnd, space = tcp_seg_space(seg);
    if (space == 0)
        return v->rcv_wnd == 0 ? seg->seq == v->rcv_nxt
                               : seq_in(seg->seq, v->rcv_nxt, end);
    return v->rcv_wnd > 0 && (seq_in(seg->seq, v->rcv_nxt, end) ||
                              seq_in(seg->seq + space - 1, v->rcv_nxt, end));
}

/* The rules, shared by the compact entry and a TCB still in TIME-WAIT. */
static enum tw_action tw_decide(struct berth_stack *s, int sock,
                                const struct tcp_node *n,
                                const struct tw_view *v,
                                const struct tcp_seg *seg)
{
    uint32_t rcv_nxt = v->rcv_nxt;
    enum berth_reason why = BERTH_REASON_NONE;
    enum tw_action act = TW_ACK;
    if (seg->flags & TH_RST) {
        /* RFC 1337 §3 (fix F1): ignore RSTs in TIME-WAIT, so an old
         * duplicate cannot cut TIME-WAIT short. */
        why = BERTH_REASON_TIME_WAIT_RST;
        act = TW_DROP;
    } else if ((seg->flags & (TH_SYN | TH_ACK)) == TH_SYN) {
        /* RFC 9293 §3.6.1 and RFC 1122 §4.2.2.13: a new SYN may reopen the
         * 4-tuple if its sequence number is above the old RCV.NXT, so no
         * old duplicate can be mistaken for new data. */
        if (tw_syn_is_new(v, seg))
            return TW_NEW_SYN;
        why = BERTH_REASON_TIME_WAIT_SYN_OLD;
    } else if (!(seg->flags & TH_ACK) && tw_in_window(v, seg)) {
        /* RFC 9293 §3.10.7.4 fifth: "if the ACK bit is off, drop the
         * segment and return" (an acceptable one; the first step ACKs an
         * unacceptable one, below). */
        why = BERTH_REASON_NO_ACK_FLAG;
        act = TW_DROP;
    } else if ((seg->flags & TH_FIN) && seg->seq + seg->len + 1 == rcv_nxt) {
        return TW_RESTART; /* "The only thing that can arrive" */
    } else if (seg->seq == rcv_nxt && tcp_seg_space(seg) == 0) {
        return TW_DROP; /* an in-window ACK: nothing to do */
    } else {
        why = BERTH_REASON_SEQ_OUT_OF_WINDOW;
    }
    if (why != BERTH_REASON_NONE)
        stack_trace_drop(s, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport,
                         why);
    return act;
}

static uint64_t two_msl(const struct berth_stack *s)
{
    return s->now + 2ull * s->cfg.msl;
}

/* The ISN of a connection taking a TIME-WAIT 4-tuple over: above anything
 * the old incarnation sent, as Linux chooses it (old SND.NXT + 65537). */
static uint32_t reuse_isn(uint32_t old_snd_nxt)
{
    uint32_t isn = old_snd_nxt + TCP_WINDOW_FIELD_MAX + 2u;
    return isn ? isn : 1;
}

/* Our last ACK again, with timestamps when agreed (RFC 7323 §3.2: on
 * every segment, TIME-WAIT too). */
static void tw_ack(struct berth_stack *s, const struct tcp_timewait *tw)
{
    tcp_send_record_ack(s, &tw->n, tw->snd_nxt, tw->rcv_nxt, tw->rcv_wnd,
                        tw->has_ts, tw->ts_recent);
}

void tcp_timewait_free(struct berth_stack *s, struct tcp_timewait *tw)
{
    tcp_node_remove(s, &tw->n);
    timer_wheel_cancel(&s->wheel, &tw->n.timer);
    tcp_node_put_addrs(s, &tw->n);
    mem_free(&s->mem, tw, sizeof *tw);
}

static void tw_compact(struct berth_stack *s, struct tcp_conn *c,
                       uint64_t expires)
{
    /* Raw: the entry is written whole below (records pile up for 2*MSL,
     * so this is usually a fresh block, and calloc's zeroing is wasted). */
    struct tcp_timewait *tw = mem_alloc_raw(&s->mem, sizeof *tw);
    if (tw) {
        *tw = (struct tcp_timewait){
            .n = c->n,
            .snd_nxt = c->snd_max,
            .rcv_nxt = c->rcv_nxt,
            .ts_recent = c->ts_recent,
            .rcv_wnd = tcp_window_field(c->rcv_adv - c->rcv_nxt, c->rcv_wscale),
            .has_ts = (c->flags & TF_TS) != 0,
            .rcv_wscale = c->rcv_wscale,
            .oow_ack_tick = tcp_oow_tick_init(s, c),
        };
        stack_addr_ref(s, tw->n.v6, tw->n.raddr); /* the TCB's goes below */
        tw->n.kind = TCP_NODE_TIMEWAIT;
        timer_init(&tw->n.timer);
        tw->n.in_table = false;
    }
    /* The TCB and its buffers go; the entry takes its place in the table
     * (the same 4-tuple: its slot, no hashing again). */
    if (tw && c->n.in_table)
        tcp_node_replace(s, &c->n, &tw->n, c->hash);
    else
        tcp_node_remove(s, &c->n);
    timer_wheel_cancel(&s->wheel, &c->n.timer);
    tcp_conn_release(s, c);
    if (!tw)
        return;          /* no memory: TIME-WAIT is skipped, as Linux does */
    if (!tw->n.in_table) /* the TCB was not in the table */
        tcp_node_insert_hashed(s, &tw->n, tcp_node_hash(s, &tw->n));
    stack_timer_arm(s, &tw->n.timer, expires);
}

void tcp_time_wait(struct berth_stack *s, struct tcp_conn *c,
                   enum berth_reason why)
{
    tcp_set_state(s, c, BERTH_STATE_TIME_WAIT, why);
    stack_count(s, BERTH_CTR_TIME_WAIT_ENTERED);
    for (int i = 0; i < TCP_T__COUNT; i++)
        c->deadline[i] = 0;
    if (c->sock < 0) {
        tw_compact(s, c, two_msl(s));
        return;
    }
    /* A handle still holds it (unread data may remain): keep the TCB until
     * the application closes, then shrink. */
    tcp_timer_set(s, c, TCP_T_DELETE, two_msl(s));
}

void tcp_time_wait_shrink(struct berth_stack *s, struct tcp_conn *c)
{
    tw_compact(s, c, tcp_tick_us(s, c->deadline[TCP_T_DELETE]));
}

/* A SYN takes the 4-tuple over: the listener (if any) gets it with an ISN
 * above the old one. Without a listener, TIME-WAIT stays and ACKs. */
static bool tw_reuse(struct berth_stack *s, uint32_t src, uint32_t dst,
                     struct tcp_seg *seg, uint32_t old_snd_nxt)
{
    struct tcp_listener *l = tcp_listener_find(s, seg->v6, dst, seg->dport);
    if (!l)
        return false;
    stack_count(s, BERTH_CTR_TIME_WAIT_RECYCLED);
    tcp_listen_input(s, l, src, dst, seg, reuse_isn(old_snd_nxt));
    return true;
}

void tcp_timewait_input(struct berth_stack *s, struct tcp_timewait *tw,
                        uint32_t src, uint32_t dst, struct tcp_seg *seg)
{
    struct tw_view v = {tw->rcv_nxt, (uint32_t)tw->rcv_wnd << tw->rcv_wscale,
                        tw->ts_recent, tw->has_ts};
    switch (tw_decide(s, -1, &tw->n, &v, seg)) {
    case TW_DROP:
        return;
    case TW_NEW_SYN: {
        uint32_t old = tw->snd_nxt;
        struct tcp_listener *l = tcp_listener_find(s, seg->v6, dst, seg->dport);
        if (!l)
            break; /* ACK below */
        tcp_trace_state(s, -1, &tw->n, BERTH_STATE_TIME_WAIT,
                        BERTH_STATE_CLOSED, BERTH_REASON_TIME_WAIT_REUSE);
        tcp_timewait_free(s, tw);
        tw_reuse(s, src, dst, seg, old);
        return;
    }
    case TW_RESTART:
        stack_timer_arm(s, &tw->n.timer, two_msl(s));
        break;
    case TW_ACK:
        /* RFC 5961 §10: an invalid segment is answered at most once per
         * interval (Linux's tcp_timewait_check_oow_rate_limit). */
        if (tcp_oow_limited_tick(s, tw, seg))
            return;
        break;
    }
    tw_ack(s, tw);
}

bool tcp_time_wait_tcb_input(struct berth_stack *s, struct tcp_conn *c,
                             struct tcp_seg *seg)
{
    struct tw_view v = {c->rcv_nxt, c->rcv_adv - c->rcv_nxt, c->ts_recent,
                        (c->flags & TF_TS) != 0};
    switch (tw_decide(s, c->sock, &c->n, &v, seg)) {
    case TW_DROP:
        return true;
    case TW_NEW_SYN:
        if (!tcp_listener_find(s, c->n.v6, c->n.laddr, seg->dport))
            break;
        /* The handle keeps a closed socket; the 4-tuple is free again. */
        tcp_node_remove(s, &c->n);
        tcp_conn_delete(s, c, BERTH_REASON_TIME_WAIT_REUSE);
        tw_reuse(s, c->n.raddr, c->n.laddr, seg, c->snd_max);
        return false;
    case TW_RESTART:
        tcp_timer_set(s, c, TCP_T_DELETE, two_msl(s));
        break;
    case TW_ACK:
        if (tcp_oow_limited(s, c, seg)) /* RFC 5961 §10 */
            return true;
        break;
    }
    c->flags |= TF_ACK_NOW;
    return true;
}

void tcp_timewait_timer(struct berth_stack *s, struct tcp_timewait *tw)
{
    tcp_trace_state(s, -1, &tw->n, BERTH_STATE_TIME_WAIT, BERTH_STATE_CLOSED,
                    BERTH_REASON_TIME_WAIT_EXPIRED);
    tcp_timewait_free(s, tw);
}
