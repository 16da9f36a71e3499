/* LISTEN (RFC 9293 §3.10.7.2) and the listener's two bounded queues: the
 * SYN queue of half-open request records (SYN-RECEIVED, retransmitting
 * their SYN-ACK) and the accept queue of established connections. */
#include "tcp/tcp.h"

#include "base/seq.h"

/* An echoed TSval or a send time older than this (ms) is no RTT sample. */
#define SYNREQ_RTT_MAX_MS 60000u

struct tcp_listener *tcp_listener_find(struct berth_stack *s, uint32_t addr,
                                       uint16_t port)
{
    struct hnode *h = htable_bucket(&s->listeners, tcp_port_hash(port));
    for (; h; h = h->next) {
        struct tcp_listener *l = (struct tcp_listener *)h;
        if (l->port == port && (l->addr == 0 || l->addr == addr))
            return l;
    }
    return NULL;
}

static void synreq_drop(struct berth_stack *s, struct tcp_synreq *r,
                        enum berth_reason why)
{
    stack_trace_drop(s, -1, r->n.laddr, r->n.lport, r->n.raddr, r->n.rport,
                     why);
}

static void synreq_free(struct berth_stack *s, struct tcp_synreq *r)
{
    struct tcp_listener *l = tcp_listener_find(s, r->n.laddr, r->n.lport);
    if (l && l->syn_count > 0)
        l->syn_count--;
    tcp_node_remove(s, &r->n);
    timer_wheel_cancel(&s->wheel, &r->n.timer);
    mem_free(&s->mem, r, sizeof *r);
}

/* The entry leaves the SYN queue: the listener stays in LISTEN. */
static void synreq_delete(struct berth_stack *s, struct tcp_synreq *r,
                          enum berth_state to, enum berth_reason why)
{
    tcp_trace_state(s, -1, &r->n, BERTH_STATE_SYN_RECEIVED, to, why);
    synreq_free(s, r);
}

/* Drops (counted and traced) a SYN the full queues have no room for;
 * true if it did. */
static bool listener_overflow_drop(struct berth_stack *s,
                                   struct tcp_listener *l, uint32_t src,
                                   uint32_t dst, const struct tcp_seg *seg)
{
    /* Like Linux: with the accept queue full, new SYNs are dropped too. */
    enum berth_reason why = BERTH_REASON_NONE;
    if (l->aq_count >= l->backlog) {
        stack_count(s, BERTH_CTR_LISTEN_OVERFLOWS);
        why = BERTH_REASON_ACCEPT_QUEUE_FULL;
    } else if (l->syn_count >= s->cfg.syn_backlog) {
        stack_count(s, BERTH_CTR_SYN_QUEUE_DROPS);
        why = BERTH_REASON_SYN_QUEUE_FULL;
    }
    if (why == BERTH_REASON_NONE)
        return false;
    stack_count(s, BERTH_CTR_LISTEN_DROPS);
    stack_trace_drop(s, -1, dst, seg->dport, src, seg->sport, why);
    return true;
}

void tcp_listen_input(struct berth_stack *s, struct tcp_listener *l,
                      uint32_t src, uint32_t dst, struct tcp_seg *seg,
                      uint32_t isn)
{
    /* RFC 9293 §3.10.7.2 first: an incoming RST is ignored. */
    if (seg->flags & TH_RST) {
        stack_trace_drop(s, -1, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_RST_NO_SOCKET);
        return;
    }
    /* Second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>. */
    if (seg->flags & TH_ACK) {
        stack_trace_drop(s, -1, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_LISTEN_ACK);
        tcp_send_rst_for(s, src, dst, seg);
        return;
    }
    if (!(seg->flags & TH_SYN)) {
        stack_trace_drop(s, -1, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_LISTEN_NO_SYN);
        return;
    }
    if (listener_overflow_drop(s, l, src, dst, seg))
        return;
    /* Third: a SYN. A request record, not a TCB (DESIGN.md §2). Text in
     * the SYN is not kept (no Fast Open); the peer sends it again. */
    struct tcp_synreq *r = mem_alloc(&s->mem, sizeof *r);
    if (!r)
        return;
    r->n.kind = TCP_NODE_SYNREQ;
    timer_init(&r->n.timer);
    r->n.laddr = dst;
    r->n.lport = seg->dport;
    r->n.raddr = src;
    r->n.rport = seg->sport;
    r->irs = seg->seq;
    r->iss = isn ? isn : tcp_isn(s, dst, seg->dport, src, seg->sport);
    r->peer_mss = tcp_peer_mss(s, seg, tcp_our_mss(s, l->tmpl));
    r->opts = tcp_synopts_accept(s, seg);
    r->ts_recent = seg->opts.ts_val;
    tcp_node_insert(s, &r->n);
    l->syn_count++;
    tcp_trace_state(s, -1, &r->n, BERTH_STATE_LISTEN, BERTH_STATE_SYN_RECEIVED,
                    BERTH_REASON_RCV_SYN);
    tcp_send_synack(s, r, l->tmpl);
    timer_wheel_arm(&s->wheel, &r->n.timer, s->now + s->cfg.rto_initial);
}

void tcp_synreq_timer(struct berth_stack *s, struct tcp_synreq *r)
{
    struct tcp_listener *l = tcp_listener_find(s, r->n.laddr, r->n.lport);
    if (!l || r->retries >= s->cfg.synack_retries) {
        stack_count(s, BERTH_CTR_SYN_QUEUE_DROPS);
        synreq_drop(s, r, BERTH_REASON_SYNACK_RETRIES);
        synreq_delete(s, r, BERTH_STATE_CLOSED, BERTH_REASON_SYNACK_RETRIES);
        return;
    }
    /* Exponential backoff, as the RTO's: 1 s, 2 s, 4 s, ... after the
     * first SYN-ACK. */
    r->retries++;
    stack_count(s, BERTH_CTR_SYNACK_RETRANS);
    stack_count(s, BERTH_CTR_RETRANS_SEGS);
    tcp_send_synack(s, r, l->tmpl);
    timer_wheel_arm(&s->wheel, &r->n.timer,
                    s->now + tcp_backoff(s, s->cfg.rto_initial, r->retries));
}

/* The window our SYN-ACK offered: unscaled (RFC 7323 §2.2). */
static uint32_t initial_window(const struct tcp_conn *tmpl)
{
    return tcp_window_field(tmpl->rcvbuf_size, 0);
}

/* The third segment of the handshake arrived and is valid: the request
 * becomes a TCB in SYN-RECEIVED, queued for accept. */
static struct tcp_conn *synreq_promote(struct berth_stack *s,
                                       struct tcp_synreq *r,
                                       struct tcp_listener *l)
{
    struct tcp_conn *c = tcp_conn_new(s);
    if (!c)
        return NULL;
    tcp_conn_copy_options(c, l->tmpl);
    struct tcp_open o = {.laddr = r->n.laddr,
                         .raddr = r->n.raddr,
                         .lport = r->n.lport,
                         .rport = r->n.rport,
                         .iss = r->iss,
                         .state = BERTH_STATE_SYN_RECEIVED,
                         .irs = r->irs,
                         .ts_recent = r->ts_recent,
                         .rcv_wnd = initial_window(l->tmpl),
                         .peer_mss = r->peer_mss,
                         .synopts = r->opts & (uint8_t)~SYNOPT_RESENT,
                         .syn_rexmit = r->retries != 0};
    synreq_free(s, r);
    tcp_conn_open(s, c, &o);
    c->listener = l;
    if (l->aq_tail)
        l->aq_tail->aq_next = c;
    else
        l->aq_head = c;
    l->aq_tail = c;
    l->aq_count++;
    stack_count(s, BERTH_CTR_PASSIVE_OPENS);
    sock_mark(s, l->sock);
    return c;
}

/* Our bare ACK: <SEQ=ISS+1><ACK=IRS+1><CTL=ACK>. After the SYN-ACK,
 * windows are scaled and timestamps ride along when they were agreed (RFC
 * 7323 §2.2, §3.2). */
static void synreq_ack(struct berth_stack *s, const struct tcp_synreq *r,
                       const struct tcp_conn *tmpl)
{
    uint8_t shift =
        (r->opts & SYNOPT_WS) ? tcp_wscale_for(tmpl->rcvbuf_size) : 0;
    tcp_send_record_ack(s, &r->n, r->iss + 1, r->irs + 1,
                        tcp_window_field(initial_window(tmpl), shift),
                        (r->opts & SYNOPT_TS) != 0, r->ts_recent);
}

/* The peer retransmitted its SYN: our SYN-ACK was lost; send it again. */
static enum tcp_step synreq_dup_syn(struct berth_stack *s, struct tcp_synreq *r,
                                    const struct tcp_listener *l,
                                    const struct tcp_seg *seg)
{
    if ((seg->flags & (TH_SYN | TH_ACK | TH_RST)) != TH_SYN ||
        seg->seq != r->irs)
        return STEP_NEXT;
    /* RFC 7323 §4.3 rule (2) (SEG.SEQ = IRS <= Last.ACK.sent): echo the
     * SYN that arrived last, so the peer's RTT sample from our SYN-ACK
     * times this round trip, not the one its lost SYN began. */
    if ((r->opts & SYNOPT_TS) && seg->opts.has_ts &&
        !ts_lt(seg->opts.ts_val, r->ts_recent))
        r->ts_recent = seg->opts.ts_val;
    stack_count(s, BERTH_CTR_SYNACK_RETRANS);
    tcp_send_synack(s, r, l->tmpl);
    r->opts |= SYNOPT_RESENT; /* Karn: no longer timed without TS */
    return STEP_DONE;
}

/* RFC 9293 §3.10.7.4 first, for a request record: RCV.NXT = IRS+1 and the
 * window we offered in the SYN-ACK. Out of window: an ACK, unless a RST. */
static enum tcp_step synreq_check_seq(struct berth_stack *s,
                                      struct tcp_synreq *r,
                                      const struct tcp_listener *l,
                                      const struct tcp_seg *seg)
{
    uint32_t nxt = r->irs + 1, wnd = initial_window(l->tmpl);
    uint32_t space = tcp_seg_space(seg);
    if (seq_in(seg->seq, nxt, nxt + wnd) ||
        (space > 0 && seq_in(seg->seq + space - 1, nxt, nxt + wnd)))
        return STEP_NEXT;
    if (seg->flags & TH_RST) {
        synreq_drop(s, r, BERTH_REASON_RST_OUT_OF_WINDOW);
    } else {
        synreq_drop(s, r, BERTH_REASON_SEQ_OUT_OF_WINDOW);
        synreq_ack(s, r, l->tmpl);
    }
    return STEP_DONE;
}

/* Second, RST: SYN-RECEIVED from a passive OPEN goes back to LISTEN (the
 * listener never left it); RFC 5961 §3.2: only an exact RST does that,
 * else a challenge ACK. */
static enum tcp_step synreq_check_rst(struct berth_stack *s,
                                      struct tcp_synreq *r,
                                      const struct tcp_listener *l,
                                      const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_RST))
        return STEP_NEXT;
    if (seg->seq != r->irs + 1) {
        synreq_drop(s, r, BERTH_REASON_RST_IN_WINDOW_CHALLENGE);
        stack_count(s, BERTH_CTR_CHALLENGE_ACKS);
        synreq_ack(s, r, l->tmpl);
        return STEP_DONE;
    }
    stack_count(s, BERTH_CTR_RST_IN);
    stack_count(s, BERTH_CTR_ATTEMPT_FAILS);
    synreq_delete(s, r, BERTH_STATE_LISTEN, BERTH_REASON_RCV_RST);
    return STEP_GONE;
}

/* Fourth, SYN, SYN-RECEIVED from a passive OPEN: return to LISTEN. */
static enum tcp_step synreq_check_syn(struct berth_stack *s,
                                      struct tcp_synreq *r,
                                      const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_SYN))
        return STEP_NEXT;
    synreq_drop(s, r, BERTH_REASON_SYN_CHALLENGE);
    synreq_delete(s, r, BERTH_STATE_LISTEN, BERTH_REASON_RCV_SYN);
    return STEP_GONE;
}

/* Fifth, ACK: it must acknowledge our SYN exactly, else the segment is an
 * old duplicate and gets <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.5). */
static enum tcp_step synreq_check_ack(struct berth_stack *s,
                                      struct tcp_synreq *r,
                                      const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_ACK)) {
        synreq_drop(s, r, BERTH_REASON_NO_ACK_FLAG);
        return STEP_DONE;
    }
    if (seg->ack != r->iss + 1) {
        synreq_drop(s, r, BERTH_REASON_SYN_RECEIVED_BAD_ACK);
        tcp_send_rst_for(s, r->n.raddr, r->n.laddr, seg);
        return STEP_DONE;
    }
    return STEP_NEXT;
}

/* Like Linux (tcp_abort_on_overflow = 0): with the accept queue full, the
 * final ACK is dropped; the SYN-ACK keeps being retransmitted and a later
 * ACK finds room. */
static enum tcp_step synreq_check_room(struct berth_stack *s,
                                       struct tcp_synreq *r,
                                       const struct tcp_listener *l)
{
    if (l->aq_count < l->backlog)
        return STEP_NEXT;
    stack_count(s, BERTH_CTR_LISTEN_OVERFLOWS);
    stack_count(s, BERTH_CTR_LISTEN_DROPS);
    synreq_drop(s, r, BERTH_REASON_ACCEPT_QUEUE_FULL);
    return STEP_DONE;
}

/* The handshake's RTT sample (µs; 0: none), from the SYN-ACK to the ACK
 * that completes it, so the first RTO follows the path, not the initial
 * 1 s (RFC 6298 §2.2), as an active open's SYN does. With timestamps, the
 * ACK's TSecr is the TSval of the SYN-ACK it answers (RFC 7323 §4.1 RTTM:
 * even a retransmitted one). Without, the SYN-ACK's send time is where the
 * entry's timer was armed (its expiry less the timeout), if the SYN-ACK was
 * sent once (Karn, RFC 6298 §3): no field of the 64-byte entry is needed. */
static uint32_t synreq_rtt(const struct berth_stack *s,
                           const struct tcp_synreq *r,
                           const struct tcp_seg *seg)
{
    if ((r->opts & SYNOPT_TS) && seg->opts.has_ts && seg->opts.ts_ecr) {
        uint32_t ms = tcp_ts_now(s, tcp_ts_offset(s, &r->n)) - seg->opts.ts_ecr;
        return ms < SYNREQ_RTT_MAX_MS ? (ms ? ms : 1) * USEC_PER_MS : 0;
    }
    if (r->retries || (r->opts & (SYNOPT_RESENT | SYNOPT_TS)) ||
        !r->n.timer.pprev)
        return 0;
    uint64_t sent = r->n.timer.expires * TIMER_TICK_US - s->cfg.rto_initial;
    uint64_t rtt = s->now - sent;
    return sent <= s->now && rtt < SYNREQ_RTT_MAX_MS * USEC_PER_MS
               ? (uint32_t)(rtt ? rtt : 1)
               : 0;
}

/* RFC 9293 §3.10.7.4 for a SYN-queue entry, as a chain of steps in the
 * RFC's order (as synchronized_input in tcp_input.c). Input contract: seg
 * is not modified by these steps; the promoted TCB's input may modify it
 * in place (see synchronized_input). A record whose listener is gone only
 * answers nothing and waits for its timer. */
void tcp_synreq_input(struct berth_stack *s, struct tcp_synreq *r,
                      struct tcp_seg *seg)
{
    struct tcp_listener *l = tcp_listener_find(s, r->n.laddr, r->n.lport);
    if (!l) {
        synreq_drop(s, r,
                    (seg->flags & TH_RST) ? BERTH_REASON_RST_OUT_OF_WINDOW
                                          : BERTH_REASON_SEQ_OUT_OF_WINDOW);
        return;
    }
    enum tcp_step st = synreq_dup_syn(s, r, l, seg);
    if (st == STEP_NEXT)
        st = synreq_check_seq(s, r, l, seg);
    if (st == STEP_NEXT)
        st = synreq_check_rst(s, r, l, seg);
    if (st == STEP_NEXT)
        st = synreq_check_syn(s, r, seg);
    if (st == STEP_NEXT)
        st = synreq_check_ack(s, r, seg);
    if (st == STEP_NEXT)
        st = synreq_check_room(s, r, l);
    if (st != STEP_NEXT)
        return;
    uint32_t rtt = synreq_rtt(s, r, seg);
    struct tcp_conn *c = synreq_promote(s, r, l);
    if (!c)
        return;
    if (rtt)
        tcp_rtt_sample(s, c, rtt);
    tcp_conn_input(s, c, seg); /* SYN-RECEIVED -> ESTABLISHED, text */
}

struct tcp_conn *tcp_listener_accept(struct berth_stack *s,
                                     struct tcp_listener *l)
{
    (void)s;
    struct tcp_conn *c = l->aq_head;
    if (!c)
        return NULL;
    l->aq_head = c->aq_next;
    if (!l->aq_head)
        l->aq_tail = NULL;
    l->aq_count--;
    c->aq_next = NULL;
    c->listener = NULL;
    return c;
}

void tcp_listener_unqueue(struct berth_stack *s, struct tcp_conn *c)
{
    (void)s;
    struct tcp_listener *l = c->listener;
    struct tcp_conn **pp = &l->aq_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->aq_next;
    }
    if (!*pp)
        return;
    *pp = c->aq_next;
    if (l->aq_tail == c)
        l->aq_tail = prev;
    l->aq_count--;
    c->aq_next = NULL;
    c->listener = NULL;
}

void tcp_listener_close(struct berth_stack *s, struct tcp_listener *l)
{
    /* Connections never accepted are reset (as Linux does). */
    while (l->aq_head) {
        struct tcp_conn *c = tcp_listener_accept(s, l);
        if (tcp_state_synchronized(c->state))
            tcp_send_abort_rst(s, c);
        stack_count(s, BERTH_CTR_ABORT_ON_CLOSE);
        tcp_conn_delete(s, c, BERTH_REASON_APP_CLOSE);
    }
    /* Half-open entries: the table is walked once (listener close is rare;
     * entries carry no list links, to stay small). */
    for (size_t b = 0; l->syn_count > 0 && b <= s->conns.mask; b++) {
        struct hnode *h = s->conns.buckets[b];
        while (h) {
            struct hnode *next = h->next;
            struct tcp_synreq *r = (struct tcp_synreq *)h;
            if (r->n.kind == TCP_NODE_SYNREQ && r->n.lport == l->port &&
                (l->addr == 0 || l->addr == r->n.laddr))
                synreq_delete(s, r, BERTH_STATE_CLOSED, BERTH_REASON_APP_CLOSE);
            h = next;
        }
    }
    htable_remove(&s->listeners, &l->h, tcp_port_hash(l->port));
    stack_port_set(s, l->port, false);
    mem_free(&s->mem, l->tmpl, sizeof *l->tmpl);
    mem_free(&s->mem, l, sizeof *l);
}
