/* LISTEN (RFC 9293 §3.10.7.2) and the listener's two bounded queues: the
 * SYN queue of half-open request records (SYN-RECEIVED, retransmitting
 * their SYN-ACK) and the accept queue of established connections. */
#include "tcp/tcp.h"

#include "base/seq.h"
#include "tcp/tcp_syncookie.h"

/* SYN-queue pressure. Linux (reqsk_timer_handler) lowers the SYN-ACK retry
 * threshold of entries already retransmitted once the queue is more than
 * half full, and with the queue full and no cookies drops every new SYN,
 * so a slow flood (about 4 SYN/s against 256 entries living 63 s) keeps
 * legitimate clients out for good. berth: an entry created while the queue
 * is more than half full (itself included) is retransmitted at most
 * SYNQ_PRESSURE_RETRIES times (its life shrinks from 63 s to 7 s); and with
 * cookies off, a full queue evicts its oldest entry for the new SYN, so a new
 * client always gets a SYN-ACK (RFC 4987 §3.4, "Recycling the Oldest Half-Open
 * TCB"). */
#define SYNQ_PRESSURE_RETRIES 2u

/* The eviction order: 4-tuples in arrival order (see tcp_listener). */
struct synring_slot {
    uint32_t laddr, raddr;
    uint16_t rport;
    bool v6;
};
struct tcp_synring {
    uint32_t cap, head, len;
    struct synring_slot slot[];
};

static size_t synring_size(uint32_t cap)
{
    return sizeof(struct tcp_synring) + cap * sizeof(struct synring_slot);
}

void tcp_listener_free_synring(struct berth_stack *s, struct tcp_listener *l)
{
    if (l->synring)
        mem_free(&s->mem, l->synring, synring_size(l->synring->cap));
    l->synring = NULL;
}

/* Remembers r's arrival; when the ring is full its oldest slot is
 * forgotten (that entry then lives out its retransmissions). */
static void synring_push(struct berth_stack *s, struct tcp_listener *l,
                         const struct tcp_synreq *r)
{
    if (!l->synring) {
        uint32_t cap = 2u * s->cfg.syn_backlog + 2u;
        l->synring = mem_alloc(&s->mem, synring_size(cap));
        if (!l->synring)
            return;
        l->synring->cap = cap;
    }
    struct tcp_synring *q = l->synring;
    if (q->len == q->cap) {
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    q->slot[(q->head + q->len) % q->cap] =
        (struct synring_slot){r->n.laddr, r->n.raddr, r->n.rport, r->n.v6};
    q->len++;
}

/* The oldest entry still in l's SYN queue, taken off the ring; NULL if
 * none is left there. */
static struct tcp_synreq *synring_pop_oldest(struct berth_stack *s,
                                             struct tcp_listener *l)
{
    struct tcp_synring *q = l->synring;
    while (q && q->len > 0) {
        struct synring_slot e = q->slot[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        /* An IPv6 slot's ids may have been freed and handed out again
         * since: then this finds another entry of the same listener or
         * none, either of which is a fair one to evict. */
        struct tcp_node *n =
            tcp_lookup(s, e.v6, e.laddr, l->port, e.raddr, e.rport);
        if (n && n->kind == TCP_NODE_SYNREQ)
            return (struct tcp_synreq *)n;
    }
    return NULL;
}

/* An echoed TSval or a send time older than this (ms) is no RTT sample. */
#define SYNREQ_RTT_MAX_MS 60000u

/* A listener takes its own family; an IPv6 one without v6only takes IPv4
 * too (RFC 3493 §3.7, Linux's default). One address per family and stack:
 * a listener is bound to any of ours. */
struct tcp_listener *tcp_listener_find(struct berth_stack *s, bool v6,
                                       uint32_t addr, uint16_t port)
{
    (void)addr;
    struct htable_iter it;
    uint64_t hash = tcp_port_hash(port);
    for (struct hnode *h = htable_first(&s->listeners, hash, &it); h;
         h = htable_next(&s->listeners, &it)) {
        struct tcp_listener *l = (struct tcp_listener *)h;
        if (l->port == port && (l->v6 == v6 || (l->v6 && !l->v6only)))
            return l;
    }
    return NULL;
}

static void synreq_drop(struct berth_stack *s, struct tcp_synreq *r,
                        enum berth_reason why)
{
    stack_trace_drop(s, -1, r->n.v6, r->n.laddr, r->n.lport, r->n.raddr,
                     r->n.rport, why);
}

/* l: the entry's listener, or NULL if it is gone. */
static void synreq_free_of(struct berth_stack *s, struct tcp_synreq *r,
                           struct tcp_listener *l)
{
    if (l && l->syn_count > 0)
        l->syn_count--;
    tcp_node_remove(s, &r->n);
    timer_wheel_cancel(&s->wheel, &r->n.timer);
    tcp_node_put_addrs(s, &r->n);
    mem_free(&s->mem, r, sizeof *r);
}

static void synreq_free(struct berth_stack *s, struct tcp_synreq *r)
{
    synreq_free_of(s, r, tcp_listener_find(s, r->n.v6, r->n.laddr, r->n.lport));
}

/* The entry leaves the SYN queue: the listener stays in LISTEN. */
static void synreq_delete(struct berth_stack *s, struct tcp_synreq *r,
                          enum berth_state to, enum berth_reason why)
{
    tcp_trace_state(s, -1, &r->n, BERTH_STATE_SYN_RECEIVED, to, why);
    synreq_free(s, r);
}

static void listen_drop(struct berth_stack *s, uint32_t src, uint32_t dst,
                        const struct tcp_seg *seg, enum berth_reason why)
{
    stack_count(s, BERTH_CTR_LISTEN_DROPS);
    stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport, why);
}

/* Makes room in a full SYN queue without cookies: the oldest entry goes
 * (see SYNQ_PRESSURE_RETRIES). False if the SYN must be dropped. */
static bool synq_make_room(struct berth_stack *s, struct tcp_listener *l,
                           uint32_t src, uint32_t dst,
                           const struct tcp_seg *seg)
{
    if (l->syn_count < s->cfg.syn_backlog)
        return true;
    stack_count(s, BERTH_CTR_SYN_QUEUE_DROPS);
    struct tcp_synreq *old = synring_pop_oldest(s, l);
    if (!old) {
        listen_drop(s, src, dst, seg, BERTH_REASON_SYN_QUEUE_FULL);
        return false;
    }
    synreq_drop(s, old, BERTH_REASON_SYN_QUEUE_EVICTED);
    synreq_delete(s, old, BERTH_STATE_CLOSED, BERTH_REASON_SYN_QUEUE_EVICTED);
    return true;
}

/* ---- SYN cookies (RFC 4987 §3.6; tcp_syncookie.c has the encoding) ---- */

static bool cookie_for_syn(const struct berth_stack *s,
                           const struct tcp_listener *l)
{
    return s->cfg.syncookies == 2 ||
           (s->cfg.syncookies == 1 && l->syn_count >= s->cfg.syn_backlog);
}

/* Whether an ACK that matches no SYN-queue entry may be a cookie: cookies
 * always on, or one sent within the last two periods (the cookie's
 * lifetime), so that blind guesses meet no cookie check when there was no
 * flood (as Linux's tcp_synq_no_recent_overflow). */
static bool cookie_for_ack(const struct berth_stack *s,
                           const struct tcp_listener *l)
{
    if (s->cfg.syncookies == 2)
        return true;
    return s->cfg.syncookies == 1 && l->cookie_sent_at &&
           s->now - (l->cookie_sent_at - 1) < 2 * TCP_COOKIE_PERIOD_US;
}

static struct tcp_cookie_tuple cookie_tuple(const struct berth_stack *s,
                                            uint32_t src, uint32_t dst,
                                            const struct tcp_seg *seg,
                                            uint32_t irs)
{
    /* An IPv6 address enters the cookie as its keyed digest. */
    return (struct tcp_cookie_tuple){.laddr = stack_addr_key(s, seg->v6, dst),
                                     .raddr = stack_addr_key(s, seg->v6, src),
                                     .lport = seg->dport,
                                     .rport = seg->sport,
                                     .irs = irs};
}

/* Answers a SYN with a cookie SYN-ACK and keeps nothing. The ISN carries
 * the MSS class; without timestamps there is nowhere to carry window
 * scaling and SACK-permitted, so the SYN-ACK does not offer them (RFC 4987
 * §3.6: "the server loses the ability to use ... options"). */
static void listen_send_cookie(struct berth_stack *s, struct tcp_listener *l,
                               uint32_t src, uint32_t dst,
                               const struct tcp_seg *seg)
{
    struct tcp_synreq r = {0};
    r.n.v6 = seg->v6; /* not in the table: holds no reference */
    r.n.laddr = dst;
    r.n.lport = seg->dport;
    r.n.raddr = src;
    r.n.rport = seg->sport;
    r.irs = seg->seq;
    r.opts = tcp_synopts_accept(s, seg);
    if (!(r.opts & SYNOPT_TS))
        r.opts = 0;
    r.ts_recent = seg->opts.ts_val;
    uint16_t mss = tcp_peer_mss(s, seg, tcp_our_mss_fam(s, l->tmpl, seg->v6));
    struct tcp_cookie_tuple t = cookie_tuple(s, src, dst, seg, seg->seq);
    r.iss = tcp_cookie_isn(s->cfg.secret, &t, mss, s->now);
    stack_count(s, BERTH_CTR_SYNCOOKIES_SENT);
    l->cookie_sent_at = s->now + 1; /* 0: never */
    tcp_send_cookie_synack(s, &r, l->tmpl);
}

static void listener_enqueue(struct berth_stack *s, struct tcp_listener *l,
                             struct tcp_conn *c);
static uint32_t initial_window(const struct tcp_conn *tmpl);

/* Builds, if there is room, the connection a valid cookie stands for. */
static void cookie_open(struct berth_stack *s, struct tcp_listener *l,
                        uint32_t src, uint32_t dst, struct tcp_seg *seg,
                        uint16_t mss)
{
    /* With timestamps, our TSval (echoed in TSecr) carries what the SYN
     * agreed to; without, nothing beyond the MSS was offered. */
    uint8_t opts = 0;
    if (seg->opts.has_ts && s->cfg.timestamps) {
        opts = tcp_cookie_synopts(seg->opts.ts_ecr);
        if (!s->cfg.window_scaling)
            opts &= (uint8_t) ~(SYNOPT_WS | SYNOPT_WSCALE_MASK);
        if (!s->cfg.sack)
            opts &= (uint8_t)~SYNOPT_SACK;
    }
    /* Like Linux: with the accept queue full the ACK is dropped. */
    if (l->aq_count >= l->backlog) {
        stack_count(s, BERTH_CTR_LISTEN_OVERFLOWS);
        listen_drop(s, src, dst, seg, BERTH_REASON_ACCEPT_QUEUE_FULL);
        return;
    }
    struct tcp_conn *c = tcp_conn_new(s);
    if (!c)
        return;
    tcp_conn_copy_options(c, l->tmpl);
    struct tcp_open o = {.v6 = seg->v6,
                         .laddr = dst,
                         .raddr = src,
                         .lport = seg->dport,
                         .rport = seg->sport,
                         .iss = seg->ack - 1,
                         .state = BERTH_STATE_SYN_RECEIVED,
                         .irs = seg->seq - 1,
                         .ts_recent = seg->opts.ts_val,
                         .rcv_wnd = initial_window(l->tmpl),
                         .peer_mss = mss,
                         .synopts = opts};
    tcp_conn_open(s, c, &o);
    /* The cookie stood for the SYN's queue entry: its LISTEN ->
     * SYN-RECEIVED is traced now. */
    tcp_trace_state(s, -1, &c->n, BERTH_STATE_LISTEN, BERTH_STATE_SYN_RECEIVED,
                    BERTH_REASON_RCV_SYN);
    listener_enqueue(s, l, c);
    tcp_conn_input(s, c, seg); /* SYN-RECEIVED -> ESTABLISHED, text */
}

/* An ACK that matches no SYN-queue entry, while cookies may be out: true
 * if it was taken as a cookie (valid or not). The check costs the same
 * either way (tcp_cookie_check). */
static bool listen_cookie_ack(struct berth_stack *s, struct tcp_listener *l,
                              uint32_t src, uint32_t dst, struct tcp_seg *seg)
{
    if (!cookie_for_ack(s, l) || (seg->flags & TH_SYN))
        return false;
    struct tcp_cookie_tuple t = cookie_tuple(s, src, dst, seg, seg->seq - 1);
    uint16_t mss;
    if (!tcp_cookie_check(s->cfg.secret, &t, seg->ack - 1, s->now, &mss)) {
        /* Stale, forged or simply not a cookie: as any bad ACK in LISTEN,
         * <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2 second). But the
         * cookie binds the peer's ISN, which only the segment at IRS+1
         * shows: text (or a FIN) further on that overtook it, acknowledging
         * an ISN with a current cookie tag, is likely a cookie connection's
         * and is dropped without a RST (Linux and FreeBSD reset it, killing
         * the connection); the peer resends it behind its ACK. Any other
         * (a dead connection's late data: its ACK has the tag 1 time in
         * 16) gets the RST. */
        stack_count(s, BERTH_CTR_SYNCOOKIES_FAILED);
        stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_SYNCOOKIE_INVALID);
        bool text = seg->len > 0 || (seg->flags & TH_FIN);
        if (!text || !tcp_cookie_tagged(seg->ack - 1, s->now))
            tcp_send_rst_for(s, src, dst, seg);
        return true;
    }
    stack_count(s, BERTH_CTR_SYNCOOKIES_RECV);
    cookie_open(s, l, src, dst, seg, mss);
    return true;
}

/* RFC 9293 §3.10.7.2 third: a SYN. A request record, not a TCB
 * (docs/ARCHITECTURE.md), in the table; the SYN-ACK goes out. */
static void synreq_create(struct berth_stack *s, struct tcp_listener *l,
                          uint32_t src, uint32_t dst, const struct tcp_seg *seg,
                          uint32_t isn)
{
    /* Text in the SYN is not kept (no Fast Open); the peer sends it
     * again. */
    struct tcp_synreq *r = mem_alloc(&s->mem, sizeof *r);
    if (!r)
        return;
    r->n.kind = TCP_NODE_SYNREQ;
    timer_init(&r->n.timer);
    tcp_node_set_addrs(s, &r->n, seg->v6, dst, seg->dport, src, seg->sport);
    r->irs = seg->seq;
    r->iss = isn ? isn : tcp_isn(s, seg->v6, dst, seg->dport, src, seg->sport);
    r->peer_mss = tcp_peer_mss(s, seg, tcp_our_mss_fam(s, l->tmpl, seg->v6));
    r->opts = tcp_synopts_accept(s, seg);
    if (l->syn_count + 1 > s->cfg.syn_backlog / 2u)
        r->pressured = 1;
    r->ts_recent = seg->opts.ts_val;
    tcp_node_insert(s, &r->n);
    l->syn_count++;
    if (s->cfg.syncookies == 0)
        synring_push(s, l, r);
    tcp_trace_state(s, -1, &r->n, BERTH_STATE_LISTEN, BERTH_STATE_SYN_RECEIVED,
                    BERTH_REASON_RCV_SYN);
    tcp_send_synack(s, r, l->tmpl);
    stack_timer_arm(s, &r->n.timer, s->now + s->cfg.rto_initial);
}

void tcp_listen_input(struct berth_stack *s, struct tcp_listener *l,
                      uint32_t src, uint32_t dst, struct tcp_seg *seg,
                      uint32_t isn)
{
    /* RFC 9293 §3.10.7.2 first: an incoming RST is ignored. */
    if (seg->flags & TH_RST) {
        stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_RST_NO_SOCKET);
        return;
    }
    /* Second: any ACK is bad here: <SEQ=SEG.ACK><CTL=RST>. */
    if (seg->flags & TH_ACK) {
        if (listen_cookie_ack(s, l, src, dst, seg))
            return;
        stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_LISTEN_ACK);
        tcp_send_rst_for(s, src, dst, seg);
        return;
    }
    if (!(seg->flags & TH_SYN)) {
        stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport,
                         BERTH_REASON_LISTEN_NO_SYN);
        return;
    }
    /* Like Linux: with the accept queue full, new SYNs are dropped too,
     * cookies or not (a cookie could not become a connection). */
    if (l->aq_count >= l->backlog) {
        stack_count(s, BERTH_CTR_LISTEN_OVERFLOWS);
        listen_drop(s, src, dst, seg, BERTH_REASON_ACCEPT_QUEUE_FULL);
        return;
    }
    /* A SYN taking a TIME-WAIT 4-tuple over (isn given) needs its ISN
     * above the old incarnation's (RFC 9293 §3.6.1): no cookie for it. */
    if (!isn && cookie_for_syn(s, l)) {
        listen_send_cookie(s, l, src, dst, seg);
        return;
    }
    if (!synq_make_room(s, l, src, dst, seg))
        return;
    synreq_create(s, l, src, dst, seg, isn);
}

void tcp_synreq_timer(struct berth_stack *s, struct tcp_synreq *r)
{
    struct tcp_listener *l =
        tcp_listener_find(s, r->n.v6, r->n.laddr, r->n.lport);
    uint32_t limit = s->cfg.synack_retries;
    if (r->pressured && limit > SYNQ_PRESSURE_RETRIES)
        limit = SYNQ_PRESSURE_RETRIES; /* see SYNQ_PRESSURE_RETRIES */
    if (!l || r->retries >= limit) {
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
    stack_timer_arm(s, &r->n.timer,
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
    struct tcp_open o = {.v6 = r->n.v6,
                         .laddr = r->n.laddr,
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
                         .syn_rexmit = r->retries != 0,
                         .replaces = r->n.in_table ? &r->n : NULL,
                         .hash = r->n.in_table ? tcp_node_hash(s, &r->n) : 0};
    /* The TCB takes the entry's place in the table; the entry goes after
     * (its removal then has nothing to do). */
    tcp_conn_open(s, c, &o);
    synreq_free_of(s, r, l);
    listener_enqueue(s, l, c);
    return c;
}

/* A passive open's TCB joins the accept queue. */
static void listener_enqueue(struct berth_stack *s, struct tcp_listener *l,
                             struct tcp_conn *c)
{
    c->listener = l;
    if (l->v6 && !c->n.v6) /* an IPv4 peer of a dual-stack listener */
        c->flags |= TF_V4MAPPED;
    if (l->aq_tail)
        l->aq_tail->aq_next = c;
    else
        l->aq_head = c;
    l->aq_tail = c;
    l->aq_count++;
    stack_count(s, BERTH_CTR_PASSIVE_OPENS);
    sock_mark(s, l->sock);
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
        if (tcp_challenge_budget(s, -1, &r->n))
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
static bool synreq_ts_rtt(const struct tcp_synreq *r, const struct tcp_seg *seg)
{
    return (r->opts & SYNOPT_TS) && seg->opts.has_ts && seg->opts.ts_ecr;
}

/* The sample from the ACK's TSecr, taken once the TCB exists: its
 * ts_offset is the entry's (the same 4-tuple), computed once. */
static uint32_t synreq_ts_sample(const struct berth_stack *s,
                                 const struct tcp_conn *c,
                                 const struct tcp_seg *seg)
{
    uint32_t ms = tcp_ts_now(s, c->ts_offset) - seg->opts.ts_ecr;
    return ms < SYNREQ_RTT_MAX_MS ? (ms ? ms : 1) * USEC_PER_MS : 0;
}

/* Without timestamps (synreq_ts_rtt false), from the entry's timer. */
static uint32_t synreq_rtt(struct berth_stack *s, const struct tcp_synreq *r)
{
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
    struct tcp_listener *l =
        tcp_listener_find(s, r->n.v6, r->n.laddr, r->n.lport);
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
    bool ts_rtt = synreq_ts_rtt(r, seg);
    uint32_t rtt = ts_rtt ? 0 : synreq_rtt(s, r);
    struct tcp_conn *c = synreq_promote(s, r, l);
    if (!c)
        return;
    if (ts_rtt)
        rtt = synreq_ts_sample(s, c, seg);
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
    struct htable_iter it;
    for (struct hnode *h = htable_walk_first(&s->conns, &it);
         l->syn_count > 0 && h; h = htable_walk_next(&s->conns, &it)) {
        struct tcp_synreq *r = (struct tcp_synreq *)h;
        if (r->n.kind == TCP_NODE_SYNREQ && r->n.lport == l->port &&
            (l->addr == 0 || l->addr == r->n.laddr))
            synreq_delete(s, r, BERTH_STATE_CLOSED, BERTH_REASON_APP_CLOSE);
    }
    tcp_listener_free_synring(s, l);
    htable_remove(&s->listeners, &l->h, tcp_port_hash(l->port));
    stack_port_set(s, l->port, false);
    mem_free(&s->mem, l->tmpl, sizeof *l->tmpl);
    mem_free(&s->mem, l, sizeof *l);
}
