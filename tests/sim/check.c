/* The invariants. While the run goes: every byte read is the next byte
 * the peer wrote (app.c checks content), EOF comes only after all of it,
 * an error reaches the application only when something explains it, a RST
 * leaves a side only when its application reset or its TCB is gone, and a
 * timeout happens only after enough losses. At the end: each connection
 * delivered everything unless it had a licence not to, nothing is left in
 * either stack (no TCB, no timer, no byte of memory), and the counters
 * agree with what the link and the applications saw. */
#include <inttypes.h>

#include "sim.h"

static char side_name(int side)
{
    return (char)('A' + side);
}

/* ---------------------------------------------------------------------- */
/* Licences: what may go wrong, and why. */

/* Its listener closed early: queued connections were reset, later SYNs
 * refused. */
static bool listener_gone(const struct world *w, const struct conn *c)
{
    return c->kind == CONN_NORMAL && w->lsn[c->listener].closed;
}

/* A connection may end without delivering everything: a side reset it on
 * purpose or gave up, got an error, or the network outlasted its retries
 * (a licensed timeout); a refused connection never carried anything, nor
 * need one whose listener closed early. */
bool conn_licensed(const struct world *w, const struct conn *c, int side)
{
    (void)side; /* either end's reason is both ends' reason */
    if (c->kind == CONN_REFUSED || listener_gone(w, c))
        return true;
    for (int s = 0; s < 2; s++)
        if (end_abortive(&c->e[s]) || c->e[s].err || c->timed_out[s])
            return true;
    return false;
}

/* A side may be reset by its peer when the peer's application reset the
 * connection, or the peer's stack forgot it (a timeout, FIN-WAIT-2 or
 * TIME-WAIT expiry) and so answers with "no such connection", or the
 * listener holding it unaccepted was closed. */
static bool may_be_reset(const struct world *w, const struct conn *c, int side)
{
    int peer = 1 - side;
    const struct end *p = &c->e[peer];
    return end_abortive(p) || p->err || c->forgot[peer] ||
           (p->st == END_UNBORN && listener_gone(w, c));
}

/* How many losses since the last sign of progress must explain a
 * timeout: each expiry of the retransmission timer, or each unanswered
 * probe, needs a packet of the connection lost in either direction, apart
 * from a few early ones that a delay spike can cause (TIMEOUT_SLACK). The
 * loss that stopped the data may come before the last ACK that advanced,
 * so a retransmission limit of R needs R such losses, not R + 1. */
static uint32_t timeout_needs(const struct world *w, const struct conn *c,
                              int side, enum berth_state from,
                              enum berth_reason why)
{
    const struct berth_config *cfg = &w->cfg[side];
    uint32_t limit;
    switch (why) {
    case BERTH_REASON_SYN_RETRIES:
        limit = cfg->syn_retries + 1u; /* no progress before: all count */
        break;
    case BERTH_REASON_SYNACK_RETRIES:
        limit = cfg->synack_retries + 1u;
        break;
    case BERTH_REASON_KEEPALIVE_TIMEOUT: {
        const struct sock_opts *o = &c->e[side].p.opts;
        if (c->kind == CONN_NORMAL && side != c->init_side && !o->keepidle)
            o = &w->lsn[c->listener].opts;
        limit = o->keepcnt ? o->keepcnt : cfg->keepalive_count;
        break;
    }
    default: /* RETRANSMIT_LIMIT: SYN-RECEIVED counts SYN-ACK retries */
        limit = from == BERTH_STATE_SYN_RECEIVED ? cfg->synack_retries
                                                 : cfg->max_retries;
    }
    /* Probes are seconds apart: no delay spike makes one fail. */
    if (why == BERTH_REASON_KEEPALIVE_TIMEOUT)
        return limit;
    return limit > TIMEOUT_SLACK ? limit - TIMEOUT_SLACK : 1;
}

bool check_timeout_licensed(struct world *w, struct conn *c, int side,
                            enum berth_state from, enum berth_reason why)
{
    if (end_abortive(&c->e[side]))
        return true;
    if (why == BERTH_REASON_USER_TIMEOUT) {
        /* RFC 5482: nothing acknowledged for the user timeout. Some loss
         * must have happened within it (or just before it started). */
        uint64_t ut = c->e[side].p.opts.user_timeout;
        if (c->kind == CONN_NORMAL && side != c->init_side && !ut)
            ut = w->lsn[c->listener].opts.user_timeout;
        uint64_t recent = c->last_drop_at > c->zero_window_at[1 - side]
                              ? c->last_drop_at
                              : c->zero_window_at[1 - side];
        if (recent && recent + ut + 2 * SIM_SEC >= w->now)
            return true;
        world_fail(w, INV_TIMEOUT,
                   "conn %d: %c gave up (USER_TIMEOUT of %.1f s) but no "
                   "packet of it was lost and the peer's window was open "
                   "in that time (states %s | %s)",
                   c->id, side_name(side), (double)ut / 1e6, c->path[0],
                   c->path[1]);
        return false;
    }
    uint32_t need = timeout_needs(w, c, side, from, why);
    uint32_t have = why == BERTH_REASON_KEEPALIVE_TIMEOUT
                        ? c->drops_since_heard[side]
                        : c->drops_since_ack[side];
    if (have >= need)
        return true;
    world_fail(w, INV_TIMEOUT,
               "conn %d: %c gave up (%s in %s) after only %u packets lost "
               "since its last progress; its limits need at least %u "
               "(states %s | %s)",
               c->id, side_name(side), berth_reason_name(why),
               berth_state_name(from), have, need, c->path[0], c->path[1]);
    return false;
}

/* ---------------------------------------------------------------------- */
/* Checks as the run goes. */

void check_rst_sent(struct world *w, struct conn *c, int side)
{
    const struct end *e = &c->e[side];
    if (c->gone[side] || end_abortive(e) || e->err || w->giving_up ||
        c->ghost[side])
        return;
    if (c->kind == CONN_REFUSED && side != c->init_side)
        return; /* the refusal itself */
    /* RFC 9293 §3.10.7.3 and §3.10.7.4 first: an unacceptable ACK in
     * SYN-SENT or SYN-RECEIVED draws <SEQ=SEG.ACK><CTL=RST>, e.g. a SYN-ACK
     * still retransmitted for an earlier user of the same 4-tuple. */
    if (c->state[side] == BERTH_STATE_SYN_SENT ||
        c->state[side] == BERTH_STATE_SYN_RECEIVED)
        return;
    if (e->st == END_UNBORN && listener_gone(w, c))
        return; /* a closed listener's queue, or its port now refusing */
    /* No TCB here yet, and the 4-tuple had an earlier user: a listener
     * answers that connection's late segments with RST (RFC 9293
     * §3.10.7.2: an ACK to LISTEN), which the wire shows under this one. */
    if (e->st == END_UNBORN && c->reuse >= 0)
        return;
    /* A SYN cookie binds the peer's ISN, which only its segment at IRS+1
     * shows (RFC 4987 §3.6): an ACK without text that overtook it fails
     * the check and, as any bad ACK in LISTEN, draws <SEQ=SEG.ACK><CTL=RST>
     * (RFC 9293 §3.10.7.2; Linux does the same). */
    if (e->st == END_UNBORN && c->cookie_failed[side])
        return;
    world_fail(w, INV_RST,
               "conn %d: %c sent a RST though its application did not reset "
               "and its TCB is alive (%s; states %s | %s)",
               c->id, side_name(side), close_style_name(e->p.close), c->path[0],
               c->path[1]);
}

/* RFC 9293 §3.8.6: no byte beyond the right edge the receiver advertised,
 * except the one byte of a zero-window probe (§3.8.6.1), and no segment
 * starting beyond it (§3.10.7.4: the receiver drops it, ACK and all). The
 * edge is the highest one advertised in any packet the link carries: the
 * sender cannot know of more. SYN windows are never scaled (RFC 7323
 * §2.2); the others are when both SYNs carried the option. */
static void window_sent(struct world *w, struct conn *c, int from,
                        const struct berth_segment *g)
{
    int to = 1 - from;
    if (!c->has_edge[to] || (c->window_reported & 1) ||
        (g->flags & (BERTH_TH_SYN | BERTH_TH_RST)))
        return;
    uint32_t end = g->seq + g->len, edge = c->edge[to];
    bool beyond = g->len > 1    ? (int32_t)(end - edge) > 0
                  : g->len == 1 ? (int32_t)(g->seq - edge) > 0
                                : false; /* check_dropped_ack() judges */
    if (!beyond)
        return;
    /* Is the window shut (edge = the ACK `to` last sent)? */
    bool shut = c->has_ack[from] && c->max_ack[from] == edge;
    c->window_reported |= 1;
    world_fail(w, INV_WINDOW,
               "conn %d: %c sent %s[%u, %u) beyond the %swindow %c "
               "advertised (right edge %u)",
               c->id, side_name(from), g->len ? "" : "an empty segment ",
               g->seq, end, shut ? "zero " : "", side_name(to), edge);
}

/* RFC 9293 §3.10.7.4: a segment without text is acceptable when RCV.NXT <=
 * SEG.SEQ < RCV.NXT + RCV.WND (SEG.SEQ = RCV.NXT for a zero window). A
 * side's current ACK (SEQ = its SND.NXT, not a keepalive probe or an old
 * copy) dropped as out of window by its peer means the pair disagree on
 * where the window ends: its ACK, window and echo are lost, and a peer
 * doing keepalive declares a live connection dead. */
void check_dropped_ack(struct world *w, struct conn *c, int side,
                       enum berth_reason why)
{
    const struct berth_segment *g = &w->rx_seg;
    if (why != BERTH_REASON_SEQ_OUT_OF_WINDOW || w->rx_conn != c ||
        !w->rx_current || g->len != 0 || (c->window_reported & 2) ||
        (g->flags & (BERTH_TH_SYN | BERTH_TH_FIN | BERTH_TH_RST)))
        return;
    /* A sender that filled the window has its SND.NXT at the right edge:
     * until that data arrives, its ACKs sit on the edge, outside the test
     * (Linux's tcp_sequence takes the edge; the RFC does not). Both agree
     * on the edge; the data, when it arrives, moves it. */
    if (c->has_edge[side] && g->seq == c->edge[side])
        return;
    c->window_reported |= 2;
    world_fail(w, INV_WINDOW,
               "conn %d: %c dropped %c's current ACK as out of window (SEQ "
               "%u = %c's SND.NXT; %c advertised up to %u)",
               c->id, side_name(side), side_name(1 - side), g->seq,
               side_name(1 - side), side_name(side), c->edge[side]);
}

/* The edge a side advertises never moves left (RFC 9293 §3.8.6.2.2; the
 * README promises it), apart from what rounding to the scale loses. */
static void window_advertised(struct world *w, struct conn *c, int from,
                              const struct berth_segment *g)
{
    if (!(g->flags & BERTH_TH_ACK) || (g->flags & BERTH_TH_RST))
        return;
    bool scaled =
        !(g->flags & BERTH_TH_SYN) && c->wscale[0] >= 0 && c->wscale[1] >= 0;
    unsigned shift = scaled ? (unsigned)c->wscale[from] : 0;
    uint32_t edge = g->ack + ((uint32_t)g->win << shift);
    if (!c->has_edge[from] || (int32_t)(edge - c->edge[from]) > 0) {
        c->has_edge[from] = true;
        c->edge[from] = edge;
    } else if ((int32_t)(c->edge[from] - edge) >= (int32_t)(1u << shift) &&
               !(g->flags & BERTH_TH_SYN) && !(c->window_reported & 4)) {
        /* (A SYN may be an old duplicate starting a new incarnation.) */
        c->window_reported |= 4;
        world_fail(w, INV_WINDOW,
                   "conn %d: %c moved its window's right edge left, from %u "
                   "to %u",
                   c->id, side_name(from), c->edge[from], edge);
    }
}

void check_window(struct world *w, struct conn *c, int from,
                  const struct berth_segment *g)
{
    if (g->flags & BERTH_TH_SYN)
        c->wscale[from] = (int8_t)(g->wscale >= 0 ? g->wscale : -1);
    window_sent(w, c, from, g);
    window_advertised(w, c, from, g);
}

/* ---------------------------------------------------------------------- */
/* What a segment carries. */

/* Options by the rules: MSS, window scale and SACK-permitted only on SYNs
 * (RFC 9293 §3.7.1, RFC 7323 §2.2, RFC 2018 §2), a shift of at most 14
 * (RFC 7323 §2.3); once both SYNs offered timestamps every segment but a
 * RST carries one, and none otherwise (RFC 7323 §3.2); SACK blocks only
 * when both offered SACK (RFC 2018 §2). */
static const char *wire_options(struct conn *c, int from,
                                const struct berth_segment *g)
{
    if (g->flags & BERTH_TH_SYN) {
        if (c->syn_seen[from] && c->iss[from] == g->seq)
            c->syn_rexmit = true;
        c->syn_seen[from] = true;
        c->iss[from] = g->seq;
        c->ts_offered[from] = g->has_ts;
        c->sack_offered[from] = g->sack_ok;
        return g->wscale > 14 ? "a SYN offers a window scale above 14" : NULL;
    }
    if (g->mss || g->wscale >= 0 || g->sack_ok)
        return "MSS, window scale or SACK-permitted outside a SYN";
    if (!c->syn_seen[0] || !c->syn_seen[1] || (g->flags & BERTH_TH_RST))
        return NULL;
    bool ts = c->ts_offered[0] && c->ts_offered[1];
    if (ts && !g->has_ts)
        return "no timestamp, though both SYNs offered them";
    if (!ts && g->has_ts)
        return "a timestamp, though they were not agreed";
    if (g->sack_count && !(c->sack_offered[0] && c->sack_offered[1]))
        return "SACK blocks, though SACK was not agreed";
    return NULL;
}

/* SACK blocks (RFC 2018 §3, RFC 2883): non-empty, only of data the peer
 * sent, and above the ACK except a first D-SACK block. */
static const char *wire_sack(const struct conn *c, int from,
                             const struct berth_segment *g)
{
    int to = 1 - from;
    for (unsigned i = 0; i < g->sack_count; i++) {
        uint32_t a = g->sack[i].start, b = g->sack[i].end;
        if ((int32_t)(b - a) <= 0)
            return "an empty or inverted SACK block";
        if (c->has_end[to] && (int32_t)(b - c->max_end[to]) > 0)
            return "a SACK block of data the peer never sent";
        if (i > 0 && (int32_t)(a - g->ack) < 0)
            return "a SACK block below the ACK that is not the first";
    }
    return NULL;
}

/* Payload bytes are the stream's bytes at their offset from ISN + 1, the
 * FIN sits right after the last byte the application wrote before it
 * closed, and no ACK covers what the peer never sent. */
static const char *wire_stream(const struct conn *c, int from,
                               const struct berth_segment *g,
                               const uint8_t *pkt, size_t len, char *buf,
                               size_t size)
{
    const struct end *e = &c->e[from];
    int to = 1 - from;
    /* (A SYN-ACK may still answer an earlier user of the 4-tuple.) */
    if ((g->flags & BERTH_TH_ACK) &&
        !(g->flags & (BERTH_TH_RST | BERTH_TH_SYN)) && c->has_end[to] &&
        (int32_t)(g->ack - c->max_end[to]) > 0)
        return "an ACK of data the peer never sent";
    if (!c->syn_seen[from] || (g->flags & (BERTH_TH_SYN | BERTH_TH_RST)))
        return NULL;
    uint32_t off = g->seq - (c->iss[from] + 1);
    if (g->len > 0) {
        /* IPv6 as berth sends it: 40 bytes, no extension headers. */
        size_t hdr = pkt[0] >> 4 == 6 ? 40u : (size_t)(pkt[0] & 0x0f) * 4u;
        hdr += (size_t)(pkt[hdr + 12] >> 4) * 4u;
        if ((uint64_t)off + g->len > e->sent + e->writing || hdr + g->len > len)
            snprintf(buf, size,
                     "bytes [%u, %u) the application never wrote "
                     "(it wrote %llu)",
                     off, off + g->len, (unsigned long long)e->sent);
        else if (stream_check(e->p.seed, off, pkt + hdr, g->len) < g->len)
            snprintf(buf, size,
                     "bytes at [%u, %u) that differ from what the "
                     "application wrote",
                     off, off + g->len);
        if (buf[0])
            return buf;
    }
    if ((g->flags & BERTH_TH_FIN) &&
        (!e->fin || off + g->len != e->sent_at_fin)) {
        snprintf(buf, size, "a FIN at offset %u (the application %s)",
                 off + g->len,
                 e->fin ? "wrote another length" : "never closed");
        return buf;
    }
    return NULL;
}

void check_wire(struct world *w, struct conn *c, int from,
                const struct berth_segment *g, const uint8_t *pkt, size_t len)
{
    char buf[128] = "";
    const char *why = wire_options(c, from, g);
    if (!why)
        why = wire_sack(c, from, g);
    if (!why)
        why = wire_stream(c, from, g, pkt, len, buf, sizeof(buf));
    if (!why || c->wire_reported)
        return;
    c->wire_reported = true;
    char fl[32];
    berth_flags_string(g->flags, fl, sizeof(fl));
    world_fail(w, INV_WIRE, "conn %d: %c sent %s seq %u ack %u len %u with %s",
               c->id, side_name(from), fl, g->seq, g->ack, g->len, why);
}

void check_error_seen(struct world *w, struct conn *c, int side, int err)
{
    bool ok;
    switch (err) {
    case BERTH_ECONNRESET:
        ok = may_be_reset(w, c, side);
        break;
    case BERTH_ETIMEDOUT:
        ok = c->timed_out[side]; /* the trace showed which, and why */
        break;
    case BERTH_ECONNREFUSED:
        /* RFC 9293 §3.10.7.4 second: a RST in SYN-RECEIVED reached from
         * SYN-SENT (simultaneous open) is a refusal too. */
        ok = c->kind == CONN_REFUSED || listener_gone(w, c) ||
             (!c->established[side] && may_be_reset(w, c, side));
        break;
    default:
        ok = false;
    }
    if (!ok)
        world_fail(w, INV_ERROR,
                   "conn %d: %c saw %s that nothing explains (%s/%s; "
                   "states %s | %s)",
                   c->id, side_name(side), berth_errname(err),
                   close_style_name(c->e[0].p.close),
                   close_style_name(c->e[1].p.close), c->path[0], c->path[1]);
}

/* EOF means the peer asked for a FIN and every byte before it arrived. */
void check_eof(struct world *w, struct conn *c, int side)
{
    const struct end *e = &c->e[side], *p = &c->e[1 - side];
    if (!p->fin)
        world_fail(w, INV_DATA,
                   "conn %d: %c read EOF but the peer never closed", c->id,
                   side_name(side));
    else if (e->received != p->sent_at_fin)
        world_fail(w, INV_DATA,
                   "conn %d: %c read EOF after %" PRIu64 " bytes of %" PRIu64,
                   c->id, side_name(side), e->received, p->sent_at_fin);
}

/* Not an invariant but a measurement: SRTT far beyond the longest round
 * trip the path allows (twice it, plus 4 s). RFC 7323 Appendix E accepts
 * single inflated TSecr samples after lost ACKs (bounded by RTO + RTT),
 * and a retransmitted SYN's SYN-ACK echoes the first SYN's TSval; but a
 * Karn-timed segment waiting behind a whole loss recovery (BSD stops
 * timing on fast retransmit and partial ACKs) inflates it too. Counted,
 * and printed with -v, for a look with --bulk. */
void check_rtt(struct world *w, struct conn *c, int side)
{
    struct berth_tcp_info i;
    const struct end *e = &c->e[side];
    if (c->rtt_reported || c->syn_rexmit || e->sock < 0 ||
        berth_getinfo(w->st[side], e->sock, &i) != 0 || i.srtt == 0)
        return;
    if (i.srtt <= 2 * w->rtt_bound + 4 * SIM_SEC)
        return;
    c->rtt_reported = true;
    w->rtt_outliers++;
    world_log(w, side,
              "conn %d: SRTT %.3f s, RTO %.3f s; the path's round trip is at "
              "most %.3f s",
              c->id, i.srtt / 1e6, i.rto / 1e6, (double)w->rtt_bound / 1e6);
}

/* ---------------------------------------------------------------------- */
/* At the end. */

static bool reads_to_eof(enum close_style s)
{
    return s == CLOSE_SHUTDOWN || s == CLOSE_AFTER_EOF;
}

/* Without a licence, both directions arrived whole and the reader saw EOF
 * when its plan waits for it. */
static void check_direction(struct world *w, struct conn *c, int rx_side)
{
    const struct end *rx = &c->e[rx_side], *tx = &c->e[1 - rx_side];
    if (conn_licensed(w, c, rx_side))
        return;
    if (tx->sent != tx->p.total || rx->received != tx->p.total ||
        rx->rx_hash != tx->tx_hash)
        world_fail(w, INV_DATA,
                   "conn %d: %c->%c delivered %" PRIu64 " of %" PRIu64
                   " bytes (written %" PRIu64 ")%s; states %s | %s",
                   c->id, side_name(1 - rx_side), side_name(rx_side),
                   rx->received, tx->p.total, tx->sent,
                   rx->rx_hash != tx->tx_hash ? ", hash differs" : "",
                   c->path[0], c->path[1]);
    else if (reads_to_eof(rx->p.close) && !rx->eof)
        world_fail(w, INV_DATA, "conn %d: %c never read EOF (states %s | %s)",
                   c->id, side_name(rx_side), c->path[0], c->path[1]);
}

void check_conn_final(struct world *w, struct conn *c)
{
    if (c->kind == CONN_REFUSED) {
        const struct end *e = &c->e[c->init_side];
        if (c->established[0] || c->established[1])
            world_fail(w, INV_ERROR,
                       "conn %d: a connection to a closed port was "
                       "established",
                       c->id);
        if (!e->err && !end_abortive(e))
            world_fail(w, INV_ERROR,
                       "conn %d: connect to a closed port did not fail", c->id);
        return;
    }
    check_direction(w, c, 0);
    check_direction(w, c, 1);
}

static void print_entry(void *ctx, int sock, const struct berth_tcp_info *i)
{
    struct world *w = ctx;
    world_fail(w, INV_LEAK,
               "left behind: handle %d %s %u -> %u, timer %" PRIu64, sock,
               berth_state_name(i->state), i->local.port, i->remote.port,
               i->next_timer);
}

static void check_stack_empty(struct world *w, int side)
{
    struct berth_stack *st = w->st[side];
    if (berth_foreach(st, print_entry, w) != 0)
        world_fail(w, INV_LEAK, "stack %c still holds sockets or connections",
                   side_name(side));
    if (berth_next_deadline(st) != UINT64_MAX)
        world_fail(w, INV_LEAK, "stack %c still has a timer armed at %" PRIu64,
                   side_name(side), berth_next_deadline(st));
    if (berth_mem_allocs(st) != 0 || berth_mem_bytes(st) != 0)
        world_fail(w, INV_LEAK, "stack %c leaks %zu allocations, %zu bytes",
                   side_name(side), berth_mem_allocs(st), berth_mem_bytes(st));
}

#define CTR(side, name) berth_counter(w->st[side], BERTH_CTR_##name)

static void expect_eq(struct world *w, int side, const char *what, uint64_t a,
                      uint64_t b)
{
    if (a != b)
        world_fail(w, INV_COUNTER, "stack %c: %s: %" PRIu64 " != %" PRIu64,
                   side_name(side), what, a, b);
}

static void expect_le(struct world *w, int side, const char *what, uint64_t a,
                      uint64_t b)
{
    if (a > b)
        world_fail(w, INV_COUNTER, "stack %c: %s: %" PRIu64 " > %" PRIu64,
                   side_name(side), what, a, b);
}

/* Connections from `side` that could have become passive opens on the
 * other side: not simultaneous opens, not to closed ports. */
static uint64_t connects_to_listeners(const struct world *w, int side)
{
    uint64_t n = 0;
    for (int i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        if (c->kind == CONN_NORMAL && c->init_side == side && c->port[side])
            n++;
    }
    return n;
}

static void check_counters(struct world *w, int side)
{
    struct berth_memlink_stats out, in;
    berth_memlink_stats(w->link, side, &out);
    berth_memlink_stats(w->link, 1 - side, &in);
    /* Both families: IPv4's counters and IPv6's (IP6_*) add up. */
    uint64_t ip_out = CTR(side, IP_OUT) + CTR(side, IP6_OUT);
    uint64_t ip_in = CTR(side, IP_IN) + CTR(side, IP6_IN);
    uint64_t ip_drops = CTR(side, IP_IN_DROPPED) + CTR(side, IP6_IN_DROPPED);
    expect_eq(w, side, "IP_OUT + IP6_OUT vs packets the link got", ip_out,
              out.sent);
    expect_eq(w, side, "IP_IN + IP6_IN vs packets the link delivered", ip_in,
              in.delivered);
    /* Beside TCP: UDP datagrams (udp.c) and the ICMP a closed UDP port
     * draws at the end. */
    expect_eq(w, side, "SEGS_IN + UDP + ICMP + parse drops vs IP_IN + IP6_IN",
              CTR(side, SEGS_IN) + CTR(side, UDP_IN) + CTR(side, UDP_NO_PORTS) +
                  CTR(side, ICMP_IN) + ip_drops + CTR(side, IN_ERRS) +
                  CTR(side, UDP_IN_ERRORS) + CTR(side, UDP_RCVBUF_ERRORS),
              ip_in);
    expect_eq(w, side, "parse drops vs corrupted copies delivered",
              ip_drops + CTR(side, IN_ERRS) + CTR(side, UDP_IN_ERRORS) +
                  CTR(side, ICMP_IN_ERRORS),
              in.corrupt_delivered);
    expect_eq(w, side, "corrupted packets accepted", in.corrupt_accepted, 0);
    expect_le(w, side, "RETRANS_SEGS vs SEGS_OUT", CTR(side, RETRANS_SEGS),
              CTR(side, SEGS_OUT));
    expect_le(w, side, "SEGS_OUT vs IP_OUT + IP6_OUT", CTR(side, SEGS_OUT),
              ip_out);
    expect_eq(w, side, "CURR_ESTAB at the end", CTR(side, CURR_ESTAB), 0);
    /* A state change missing from the transition table (tcp_fsm.c) is
     * counted as a drop with no reason. */
    expect_eq(w, side, "state changes not in the transition table",
              berth_drop_count(w->st[side], BERTH_REASON_NONE), 0);
    expect_eq(w, side, "ACTIVE_OPENS vs connects", CTR(side, ACTIVE_OPENS),
              w->connects[side]);
    expect_eq(w, side, "PASSIVE_OPENS vs SYN-RECEIVED->ESTABLISHED traced",
              CTR(side, PASSIVE_OPENS), w->passive_traced[side]);
    expect_le(w, side, "PASSIVE_OPENS vs the peer's connects to listeners",
              CTR(side, PASSIVE_OPENS),
              connects_to_listeners(w, 1 - side) + w->ghosts[side]);
    expect_eq(w, side, "TIME_WAIT_ENTERED vs traced",
              CTR(side, TIME_WAIT_ENTERED), w->tw_traced[side]);
    expect_eq(w, side, "RST_OUT vs RSTs on the link", CTR(side, RST_OUT),
              w->rst_seen[side]);
    expect_le(w, side, "ESTAB_RESETS vs RST_IN", CTR(side, ESTAB_RESETS),
              CTR(side, RST_IN));
    expect_le(w, side, "ECONNREFUSED seen vs ATTEMPT_FAILS", w->refused[side],
              CTR(side, ATTEMPT_FAILS));
}

void check_world_final(struct world *w)
{
    for (int i = 0; i < w->nconns; i++)
        check_conn_final(w, &w->conns[i]);
    if (berth_memlink_in_flight(w->link) != 0)
        world_fail(w, INV_LEAK, "%zu packets still in flight after the drain",
                   berth_memlink_in_flight(w->link));
    for (int side = 0; side < 2; side++) {
        check_stack_empty(w, side);
        check_counters(w, side);
    }
}
