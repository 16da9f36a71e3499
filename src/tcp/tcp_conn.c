/* TCBs and the 4-tuple table: creation, opening (tcp_conn_open, the one
 * place), state changes (all through tcp_set_state), deletion, buffers,
 * initial sequence numbers, readiness. */
#include "tcp/tcp.h"

#include "base/bufcache.h"
#include "base/siphash.h"

#include <string.h>

struct tuple_key {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
};

uint64_t tcp_tuple_hash(const struct berth_stack *s, uint32_t laddr,
                        uint16_t lport, uint32_t raddr, uint16_t rport)
{
    /* Keyed (DESIGN.md §2): an attacker who does not know the secret
     * cannot aim many 4-tuples at one bucket. */
    struct tuple_key k = {laddr, raddr, lport, rport};
    return siphash24(s->cfg.secret, &k, sizeof k);
}

uint64_t tcp_node_rehash(const struct hnode *h, void *ctx)
{
    const struct tcp_node *n = (const struct tcp_node *)h;
    return tcp_tuple_hash(ctx, n->laddr, n->lport, n->raddr, n->rport);
}

uint64_t tcp_listener_rehash(const struct hnode *h, void *ctx)
{
    (void)ctx;
    return tcp_port_hash(((const struct tcp_listener *)h)->port);
}

struct tcp_node *tcp_lookup(struct berth_stack *s, uint32_t laddr,
                            uint16_t lport, uint32_t raddr, uint16_t rport)
{
    uint64_t h = tcp_tuple_hash(s, laddr, lport, raddr, rport);
    for (struct hnode *x = htable_bucket(&s->conns, h); x; x = x->next) {
        struct tcp_node *n = (struct tcp_node *)x;
        if (n->lport == lport && n->rport == rport && n->raddr == raddr &&
            n->laddr == laddr)
            return n;
    }
    return NULL;
}

void tcp_node_insert(struct berth_stack *s, struct tcp_node *n)
{
    htable_insert(&s->conns, &n->h,
                  tcp_tuple_hash(s, n->laddr, n->lport, n->raddr, n->rport));
    n->in_table = true;
}

void tcp_node_remove(struct berth_stack *s, struct tcp_node *n)
{
    if (!n->in_table)
        return;
    htable_remove(&s->conns, &n->h,
                  tcp_tuple_hash(s, n->laddr, n->lport, n->raddr, n->rport));
    n->in_table = false;
}

struct tcp_conn *tcp_conn_new(struct berth_stack *s)
{
    struct tcp_conn *c = mem_alloc(&s->mem, sizeof *c);
    if (!c)
        return NULL;
    c->n.kind = TCP_NODE_CONN;
    timer_init(&c->n.timer);
    c->sock = -1;
    c->state = BERTH_STATE_CLOSED;
    c->keep_cnt = s->cfg.keepalive_count;
    c->keep_idle_ms = (uint32_t)(s->cfg.keepalive_idle / USEC_PER_MS);
    c->keep_intvl_ms = (uint32_t)(s->cfg.keepalive_interval / USEC_PER_MS);
    c->user_timeout_ms =
        (uint32_t)((s->cfg.user_timeout + USEC_PER_MS - 1) / USEC_PER_MS);
    c->linger = -1;
    c->sndbuf_size = s->cfg.sndbuf;
    c->rcvbuf_size = s->cfg.rcvbuf;
    c->rto_base = s->cfg.rto_initial;
    c->cc_algo = s->cfg.congestion;
    assembler_init(&c->ooo);
    return c;
}

/* The one place a TCB is opened for a 4-tuple: an active OPEN (RFC 9293
 * §3.10.1: SYN-SENT, SND.UNA = SND.NXT = ISS before the SYN goes out) or a
 * SYN-queue entry whose handshake completes (§3.10.7.2: SYN-RECEIVED, our
 * SYN-ACK already sent, RCV.NXT = IRS+1). */
void tcp_conn_open(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_open *o)
{
    bool passive = o->state == BERTH_STATE_SYN_RECEIVED;
    c->n.laddr = o->laddr;
    c->n.lport = o->lport;
    c->n.raddr = o->raddr;
    c->n.rport = o->rport;
    c->iss = o->iss;
    c->ts_offset = tcp_ts_offset(s, &c->n);
    c->synopts = 0;
    c->snd_wscale = c->rcv_wscale = 0;
    c->snd_una = c->snd_nxt = c->snd_max = o->iss;
    c->rcv_mss = tcp_our_mss(s, c);
    c->snd_mss = TCP_DEFAULT_MSS < c->rcv_mss ? TCP_DEFAULT_MSS : c->rcv_mss;
    if (passive) {
        c->snd_nxt = c->snd_max = o->iss + 1; /* the SYN-ACK is out */
        c->irs = o->irs;
        c->rcv_nxt = o->irs + 1;
        c->rcv_adv = c->rcv_nxt + o->rcv_wnd;
        c->snd_mss = o->peer_mss;
    }
    tcp_cc_init(s, c);
    c->rto_base = s->cfg.rto_initial;
    c->backoff = c->rexmits = c->persist_shift = 0;
    if (passive) {
        c->snd_wl1 = o->irs;
        c->last_ack_sent = c->rcv_nxt;
        c->synopts = o->synopts;
        tcp_apply_synopts(s, c, o->synopts, o->ts_recent);
        if (o->syn_rexmit)
            c->flags |= TF_SYN_REXMIT;
    }
    tcp_node_insert(s, &c->n);
    if (o->why == BERTH_REASON_NONE) /* traced with the request record */
        c->state = (uint8_t)o->state;
    else
        tcp_set_state(s, c, o->state, o->why);
}

void tcp_conn_copy_options(struct tcp_conn *dst, const struct tcp_conn *src)
{
    dst->flags |= src->flags & (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0);
    dst->keep_cnt = src->keep_cnt;
    dst->keep_idle_ms = src->keep_idle_ms;
    dst->keep_intvl_ms = src->keep_intvl_ms;
    dst->user_timeout_ms = src->user_timeout_ms;
    dst->sndbuf_size = src->sndbuf_size;
    dst->rcvbuf_size = src->rcvbuf_size;
    dst->user_mss = src->user_mss;
    dst->linger = src->linger;
    dst->cc_algo = src->cc_algo;
}

bool tcp_state_synchronized(enum berth_state st)
{
    switch (st) {
    case BERTH_STATE_CLOSED:
    case BERTH_STATE_LISTEN:
    case BERTH_STATE_SYN_SENT:
        return false;
    case BERTH_STATE_SYN_RECEIVED:
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_FIN_WAIT_1:
    case BERTH_STATE_FIN_WAIT_2:
    case BERTH_STATE_CLOSE_WAIT:
    case BERTH_STATE_CLOSING:
    case BERTH_STATE_LAST_ACK:
    case BERTH_STATE_TIME_WAIT:
    case BERTH_STATE__COUNT:
        break;
    }
    return true;
}

static bool counts_as_established(enum berth_state st)
{
    /* RFC 1213 tcpCurrEstab: ESTABLISHED or CLOSE-WAIT. */
    return st == BERTH_STATE_ESTABLISHED || st == BERTH_STATE_CLOSE_WAIT;
}

void tcp_set_state(struct berth_stack *s, struct tcp_conn *c,
                   enum berth_state st, enum berth_reason why)
{
    enum berth_state old = c->state;
    if (old == st)
        return;
    if (counts_as_established(old) && !counts_as_established(st))
        s->counters[BERTH_CTR_CURR_ESTAB]--;
    if (!counts_as_established(old) && counts_as_established(st))
        s->counters[BERTH_CTR_CURR_ESTAB]++;
    if (st == BERTH_STATE_ESTABLISHED)
        c->flags |= TF_CONNECTED;
    c->state = (uint8_t)st;
    sock_mark(s, c->sock);
    tcp_trace_state(s, c->sock, &c->n, old, st, why);
}

void tcp_trace_state(struct berth_stack *s, int sock, const struct tcp_node *n,
                     enum berth_state old, enum berth_state st,
                     enum berth_reason why)
{
    tcp_fsm_check(s, sock, n, old, st, why);
    if (!s->cfg.trace)
        return;
    struct berth_trace ev = {
        .kind = BERTH_TRACE_STATE,
        .now = s->now,
        .sock = sock,
        .local = {n->laddr, n->lport},
        .remote = {n->raddr, n->rport},
        .old_state = old,
        .new_state = st,
        .reason = why,
    };
    s->cfg.trace(s->cfg.trace_ctx, &ev);
}

void tcp_conn_free_buffers(struct berth_stack *s, struct tcp_conn *c)
{
    bufcache_put(&s->bufs, &s->mem, c->snd.buf, c->snd.cap);
    bufcache_put(&s->bufs, &s->mem, c->rcv.buf, c->rcv.cap);
    memset(&c->snd, 0, sizeof c->snd);
    memset(&c->rcv, 0, sizeof c->rcv);
    assembler_clear(&c->ooo, &s->mem);
    tcp_sack_clear(s, c);
    tcp_rack_free(s, c); /* the send log goes with the send data */
}

/* Makes r hold at least `need` bytes (readable plus written ahead), up to
 * `max`, the configured size: buffers start at the smallest size class that
 * fits and double as data needs them, so a short request costs 4 KiB, not
 * the whole configured buffer. Growing moves the contents (their offsets
 * from head are kept: out-of-order data stays where reassembly put it). */
static int ring_reserve(struct berth_stack *s, struct ring *r, uint64_t need,
                        uint32_t max)
{
    if (need > max)
        need = max;
    if (r->buf && r->cap >= need)
        return 0;
    size_t class = bufcache_class_size((uint32_t)need);
    uint32_t cap = class < max ? (uint32_t) class : max;
    uint8_t *mem = bufcache_get(&s->bufs, &s->mem, cap);
    if (!mem)
        return BERTH_ENOMEM;
    struct ring grown;
    ring_init(&grown, mem, cap);
    if (r->buf) {
        ring_move(&grown, r);
        bufcache_put(&s->bufs, &s->mem, r->buf, r->cap);
    }
    *r = grown;
    return 0;
}

static void free_ring(struct berth_stack *s, struct ring *r)
{
    bufcache_put(&s->bufs, &s->mem, r->buf, r->cap);
    memset(r, 0, sizeof *r);
}

void tcp_conn_trim_buffers(struct berth_stack *s, struct tcp_conn *c)
{
    /* An empty buffer goes back at once and comes back when data does: an
     * idle connection holds only its TCB. The window we advertise follows
     * the configured size, not the allocation, so the peer sees nothing. */
    if (c->snd.buf && c->snd.len == 0)
        free_ring(s, &c->snd);
    if (c->rcv.buf && c->rcv.len == 0 && assembler_empty(&c->ooo))
        free_ring(s, &c->rcv);
}

int tcp_conn_reserve_snd(struct berth_stack *s, struct tcp_conn *c, uint64_t n)
{
    return ring_reserve(s, &c->snd, (uint64_t)c->snd.len + n, c->sndbuf_size);
}

int tcp_conn_reserve_rcv(struct berth_stack *s, struct tcp_conn *c, uint64_t n)
{
    return ring_reserve(s, &c->rcv, (uint64_t)c->rcv.len + n, c->rcvbuf_size);
}

void tcp_conn_delete(struct berth_stack *s, struct tcp_conn *c,
                     enum berth_reason why)
{
    tcp_node_remove(s, &c->n);
    timer_wheel_cancel(&s->wheel, &c->n.timer);
    memset(c->deadline, 0, sizeof c->deadline);
    tcp_set_state(s, c, BERTH_STATE_CLOSED, why);
    sock_mark(s, c->sock);
    tcp_conn_release(s, c);
}

void tcp_conn_release(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->sock >= 0 || c->n.in_table || c->listener)
        return;
    timer_wheel_cancel(&s->wheel, &c->n.timer);
    tcp_conn_free_buffers(s, c);
    mem_free(&s->mem, c, sizeof *c);
}

void tcp_conn_fail(struct berth_stack *s, struct tcp_conn *c, int err,
                   enum berth_reason why)
{
    c->error = (int16_t)err;
    /* RFC 9293 §3.10.7.4: a reset flushes the queues; data not yet read is
     * lost (the application sees the error instead). */
    tcp_conn_free_buffers(s, c);
    if (c->listener)
        tcp_listener_unqueue(s, c); /* never accepted: nobody to tell */
    tcp_conn_delete(s, c, why);
}

uint32_t tcp_isn(struct berth_stack *s, uint32_t laddr, uint16_t lport,
                 uint32_t raddr, uint16_t rport)
{
    if (s->cfg.isn)
        return s->cfg.isn(s->cfg.isn_ctx, (struct berth_endpoint){laddr, lport},
                          (struct berth_endpoint){raddr, rport}, s->now);
    /* RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport,
     * secretkey), M a 4-microsecond timer, F a keyed hash. */
    struct tuple_key k = {laddr, raddr, lport, rport};
    uint32_t f = (uint32_t)siphash24(s->cfg.secret, &k, sizeof k);
    return (uint32_t)(s->now / 4) + f;
}

uint32_t tcp_poll(const struct tcp_conn *c)
{
    uint32_t ev = 0;
    bool eof = (c->flags & (TF_RCVD_FIN | TF_RD_SHUT)) != 0;
    if (c->rcv.len > 0 || eof)
        ev |= BERTH_EV_READABLE;
    if (c->flags & TF_RCVD_FIN)
        ev |= BERTH_EV_RDHUP;
    if (c->error)
        ev |= BERTH_EV_ERROR | BERTH_EV_READABLE | BERTH_EV_WRITABLE;
    bool can_send = c->state == BERTH_STATE_ESTABLISHED ||
                    c->state == BERTH_STATE_CLOSE_WAIT;
    if (can_send && !(c->flags & TF_FIN_QUEUED) &&
        c->snd.len < c->sndbuf_size) /* the buffer grows up to that */
        ev |= BERTH_EV_WRITABLE;
    /* Like Linux: HUP once both directions are finished, or the
     * connection is gone. */
    bool closed = c->state == BERTH_STATE_CLOSED && (c->flags & TF_CONNECTED);
    if (closed || c->error ||
        ((c->flags & TF_RCVD_FIN) && (c->flags & TF_FIN_QUEUED)))
        ev |= BERTH_EV_HUP;
    return ev;
}
