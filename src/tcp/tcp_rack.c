/* RACK-TLP (RFC 8985), the loss detection of a sender with SACK: the send
 * log (a record per data segment outstanding: when it was last sent,
 * whether it was SACKed, lost, retransmitted), RACK's time-based loss marks
 * with the reordering window and its timer, Tail Loss Probes, and the pipe
 * and NextSeg rule 1 that recovery (tcp_cc.c) reads from the marks. */
#include "tcp/tcp.h"

#include "base/seq.h"

#include <string.h>

#define TXLOG_MIN_CAP     16u
#define TLP_MAX_ACK_DELAY (200u * USEC_PER_MS) /* §7.2, Linux's delack max */
/* The least PTO: on a path of microseconds (a TUN link), 2 * SRTT is below
 * the scheduling noise of a user-space stack on a busy host, and a probe
 * would be sent before an ACK already on its way (Linux adds 2 ms for the
 * same reason, TCP_TIMEOUT_MIN). */
#define TLP_MIN_PTO (10u * USEC_PER_MS)
#define REO_PERSIST 16u /* §6.2 step 4 */

/* ---- the send log ---- */

static uint32_t now32(const struct berth_stack *s)
{
    return (uint32_t)s->now;
}

/* One record per 256 bytes of send buffer at most: a sender of tiny
 * segments merges the newest ones (coarser times only delay a mark). */
static uint32_t log_limit(const struct tcp_conn *c)
{
    uint32_t n = c->sndbuf_size / 256u;
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    return n > TXLOG_MIN_CAP ? n : TXLOG_MIN_CAP;
}

static size_t log_size(uint32_t cap)
{
    return sizeof(struct tcp_txlog) + (size_t)cap * sizeof(struct tcp_txseg);
}

/* A record's share of the pipe (RFC 6675 §4 SetPipe, as Linux's
 * packets_out - sacked - lost + retrans). */
static uint32_t rec_pipe(const struct tcp_txseg *r)
{
    if (r->flags & TXSEG_SACKED)
        return 0;
    uint32_t len = r->end - r->start;
    return ((r->flags & TXSEG_LOST) ? 0 : len) +
           ((r->flags & TXSEG_RETRANS) ? len : 0);
}

static uint32_t rec_lost_unsent(const struct tcp_txseg *r)
{
    uint32_t f = r->flags;
    bool pending = (f & TXSEG_LOST) && !(f & (TXSEG_RETRANS | TXSEG_SACKED));
    return pending ? r->end - r->start : 0;
}

/* Every change of a record goes through here or rec_del, so the sums the
 * log keeps stay exact. */
static void rec_unaccount(struct tcp_txlog *l, const struct tcp_txseg *r)
{
    l->rec_bytes -= r->end - r->start;
    l->rec_pipe -= rec_pipe(r);
    l->lost_unsent -= rec_lost_unsent(r);
    if (r->flags & TXSEG_SACKED)
        l->segs_sacked--;
}

static void rec_account(struct tcp_txlog *l, const struct tcp_txseg *r)
{
    l->rec_bytes += r->end - r->start;
    l->rec_pipe += rec_pipe(r);
    l->lost_unsent += rec_lost_unsent(r);
    if (r->flags & TXSEG_SACKED)
        l->segs_sacked++;
}

static void rec_set(struct tcp_txlog *l, struct tcp_txseg *r, uint32_t start,
                    uint32_t end, uint32_t flags)
{
    rec_unaccount(l, r);
    r->start = start;
    r->end = end;
    r->flags = flags;
    rec_account(l, r);
}

size_t tcp_rack_log_min_size(void)
{
    return log_size(TXLOG_MIN_CAP);
}

void tcp_rack_free(struct berth_stack *s, struct tcp_conn *c)
{
    if (!c->txlog)
        return;
    mem_free(&s->mem, c->txlog, c->txlog->size);
    c->txlog = NULL;
}

/* Room for one more record at the end: compacts, or doubles up to the
 * limit; false if full. */
static bool log_room(struct berth_stack *s, struct tcp_conn *c)
{
    struct tcp_txlog *l = c->txlog;
    if (l->head + l->n < l->cap)
        return true;
    if (l->head > 0) {
        memmove(l->seg, l->seg + l->head, l->n * sizeof l->seg[0]);
        l->head = 0;
        return true;
    }
    uint32_t cap = l->cap * 2u, limit = log_limit(c);
    if (cap > limit)
        cap = limit;
    if (cap <= l->cap)
        return false;
    /* Both logs exist while the records move. */
    if (!stack_mem_fits(s, log_size(cap)))
        return false;
    struct tcp_txlog *g = mem_alloc_raw(&s->mem, log_size(cap));
    if (!g)
        return false;
    memcpy(g, l, sizeof *l);
    memcpy(g->seg, l->seg, l->n * sizeof l->seg[0]);
    g->size = (uint32_t)log_size(cap);
    g->cap = (uint16_t)cap;
    mem_free(&s->mem, l, l->size);
    c->txlog = g;
    return true;
}

static struct tcp_txseg *rec(const struct tcp_txlog *l, uint32_t i)
{
    return (struct tcp_txseg *)&l->seg[l->head + i];
}

/* Splits record i at seq (inside it): i keeps [start, seq), i+1 gets the
 * rest with the same time and flags. False without room. */
static bool rec_split(struct berth_stack *s, struct tcp_conn *c, uint32_t i,
                      uint32_t seq)
{
    if (!log_room(s, c))
        return false;
    struct tcp_txlog *l = c->txlog;
    struct tcp_txseg *lo = rec(l, i), *hi = lo + 1;
    memmove(hi, lo, (l->n - i) * sizeof *lo);
    l->n++;
    uint32_t end = lo->end;
    rec_set(l, lo, lo->start, seq, lo->flags); /* the one accounted */
    hi->start = seq;
    hi->end = end;
    rec_account(l, hi);
    return true;
}

static void log_append(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                       uint32_t end, uint32_t flags)
{
    if (!log_room(s, c)) {
        /* Full: the newest record takes the segment in (its time becomes
         * the later one, which can only delay a loss mark). */
        struct tcp_txlog *l = c->txlog;
        struct tcp_txseg *last = rec(l, l->n - 1);
        rec_set(l, last, last->start, end, last->flags | flags);
        last->xmit = now32(s);
        return;
    }
    struct tcp_txlog *l = c->txlog;
    struct tcp_txseg *r = rec(l, l->n++);
    *r = (struct tcp_txseg){
        .start = seq, .end = end, .xmit = now32(s), .flags = flags};
    rec_account(l, r);
}

/* The log counts against the stack's memory budget like the buffers
 * (tcp_conn.c): when the budget refuses, the log is not made or not grown,
 * and recovery falls back to RFC 6675's DupThresh (tcp_rack_on()) or the
 * newest records are merged, as when the allocation itself fails.
 *
 * The log is made for the first data outstanding, with its one record:
 * what clearing the header, then log_append, wrote (a record of new data,
 * flags 0, accounted: its length in the log's bytes and pipe), written at
 * once. Cleared first, the header was read back at once: gcc cleared it by
 * 16-byte stores at offsets 6, 22, 38 and 54 (size and cap written apart),
 * and log_append's load of lost_unsent (offset 52) spans two of them, which
 * a store cannot forward: the load waited for both stores to reach the
 * cache, 5 % of the lifecycle's time on that one load (perf). */
static void log_start(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                      uint32_t end)
{
    size_t size = log_size(TXLOG_MIN_CAP);
    if (!stack_mem_fits(s, size))
        return; /* RFC 6675's DupThresh recovery serves */
    struct tcp_txlog *l = mem_alloc_raw(&s->mem, size);
    if (!l)
        return;
    *l = (struct tcp_txlog){
        .size = (uint32_t)size,
        .cap = TXLOG_MIN_CAP,
        .n = 1,
        .fack = c->snd_una,
        .rec_bytes = end - seq,
        .rec_pipe = end - seq,
        .prr_out /* RFC 6937 §3 */ = (c->flags & TF_RECOVERY) ? end - seq : 0,
    };
    l->seg[0] = (struct tcp_txseg){.start = seq, .end = end, .xmit = now32(s)};
    c->txlog = l;
}

void tcp_rack_sent(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                   uint32_t end, bool retrans)
{
    if (!(c->flags & TF_SACK))
        return;
    if (!c->txlog) {
        log_start(s, c, seq, end);
        return;
    }
    struct tcp_txlog *l = c->txlog;
    if (c->flags & TF_RECOVERY)
        l->prr_out += end - seq; /* RFC 6937 §3: prr_out */
    uint32_t top = l->n ? rec(l, l->n - 1)->end : seq;
    if (!retrans || seq_geq(seq, top)) {
        /* §6.1 RACK_transmit_new_data. */
        log_append(s, c, seq_max(seq, top), end, 0);
        return;
    }
    /* §6.1 RACK_retransmit_data: the records [seq, end) covers, split at
     * its edges so each keeps its own time (without room, a record is
     * marked whole). One batch of ACKs shares a time: when the newest
     * record went out in this tick, before this retransmission, times tie
     * and sequence would put it after; the record is marked so. */
    const struct tcp_txseg *top_rec = l->n ? rec(l, l->n - 1) : NULL;
    uint32_t after =
        top_rec && top_rec->xmit == now32(s) && seq_geq(top_rec->start, end)
            ? TXSEG_AFTER_HIGHER
            : 0;
    for (uint32_t i = 0; i < c->txlog->n; i++) {
        struct tcp_txseg *r = rec(c->txlog, i);
        if (!seq_lt(r->start, end))
            break;
        if (!seq_gt(r->end, seq))
            continue;
        if (seq_gt(seq, r->start) && rec_split(s, c, i, seq))
            continue; /* the upper half is the next record */
        if (seq_lt(end, r->end))
            rec_split(s, c, i, end);
        l = c->txlog;
        r = rec(l, i);
        uint32_t f = (r->flags & ~(TXSEG_SACKED | TXSEG_AFTER_HIGHER)) |
                     TXSEG_RETRANS | TXSEG_EVER_RX | after;
        rec_set(l, r, r->start, r->end, f);
        r->xmit = now32(s);
    }
    l = c->txlog;
    if (l->n && seq_gt(end, rec(l, l->n - 1)->end))
        log_append(s, c, rec(l, l->n - 1)->end, end, TXSEG_EVER_RX);
}

/* ---- RACK (§6.2) ---- */

/* RACK_sent_after: t1 later, or the same time and a higher end. */
static bool sent_after(uint32_t t1, uint32_t seq1, uint32_t t2, uint32_t seq2)
{
    return (int32_t)(t1 - t2) > 0 || (t1 == t2 && seq_gt(seq1, seq2));
}

/* Step 2 (RACK_update) and step 3 (RACK_detect_reordering) for a record
 * newly delivered, cumulatively or by SACK. */
static void rack_delivered(struct berth_stack *s, struct tcp_conn *c,
                           const struct tcp_txseg *r, const struct tcp_seg *ack)
{
    struct tcp_txlog *l = c->txlog;
    uint32_t rtt = now32(s) - r->xmit;
    if (seq_gt(r->end, l->fack)) {
        l->fack = r->end;
    } else if (seq_lt(r->end, l->fack) && !(r->flags & TXSEG_EVER_RX)) {
        c->lr_flags |= LR_REORDER_SEEN;
    }
    if (r->flags & TXSEG_EVER_RX) {
        /* Ambiguous: the ACK may be for an earlier copy. It is not if the
         * echoed TSval is not older than the retransmission (ms clock). */
        if ((c->flags & TF_TS) && ack->opts.has_ts && ack->opts.ts_ecr) {
            uint32_t echoed_ms = tcp_ts_now(s, c->ts_offset) - ack->opts.ts_ecr;
            if ((uint64_t)echoed_ms * USEC_PER_MS > (uint64_t)rtt + USEC_PER_MS)
                return;
        }
        if (l->min_rtt == 0 || rtt < l->min_rtt)
            return;
    } else if (l->min_rtt == 0 || rtt < l->min_rtt) {
        l->min_rtt = rtt ? rtt : 1;
    }
    c->lr_flags &= ~LR_PROBED; /* §7.3 condition 2: a new RTT sample */
    l->rtt = rtt;
    if (!l->rack_valid || sent_after(r->xmit, r->end, l->xmit_ts, l->end_seq)) {
        l->xmit_ts = r->xmit;
        l->end_seq = r->end;
        l->rack_valid = true;
    }
}

/* Step 4: RACK_update_reo_wnd, in µs. */
static uint32_t reo_wnd(struct tcp_conn *c)
{
    struct tcp_txlog *l = c->txlog;
    if (l->dsack_round_set && seq_geq(c->snd_una, l->dsack_round))
        l->dsack_round_set = false;
    if (!l->dsack_round_set && l->dsack_now) {
        l->dsack_round = c->snd_max;
        l->dsack_round_set = true;
        if (c->reo_mult < UINT8_MAX)
            c->reo_mult++;
        c->reo_persist = REO_PERSIST;
    }
    if (!(c->lr_flags & LR_REORDER_SEEN)) {
        if (c->flags & (TF_RECOVERY | TF_RTO_RECOVER))
            return 0;
        if (l->segs_sacked >= TCP_DUPTHRESH)
            return 0;
    }
    uint32_t min_rtt = l->min_rtt ? l->min_rtt : c->srtt;
    uint64_t w = (uint64_t)(c->reo_mult + 1u) * (min_rtt / 4u);
    uint32_t srtt = (c->flags & TF_RTT_VALID) ? c->srtt : UINT32_MAX;
    return w < srtt ? (uint32_t)w : srtt;
}

/* Step 5: RACK_detect_loss_and_arm_timer. Returns whether anything is
 * newly lost. */
static bool detect_loss(struct berth_stack *s, struct tcp_conn *c)
{
    struct tcp_txlog *l = c->txlog;
    if (!l->rack_valid)
        return false;
    uint32_t reo = reo_wnd(c), timeout = 0, now = now32(s);
    bool lost = false;
    for (uint32_t i = 0; i < l->n; i++) {
        struct tcp_txseg *r = rec(l, i);
        uint32_t f = r->flags;
        if ((f & TXSEG_SACKED) || ((f & TXSEG_LOST) && !(f & TXSEG_RETRANS)))
            continue;
        if (!sent_after(l->xmit_ts, l->end_seq, r->xmit, r->end))
            continue;
        /* A retransmission that followed the newest data of its tick is
         * not shown lost by a delivery of that tick (it may be that
         * data's); one of a later tick, or the RTO, shows it. */
        if ((f & TXSEG_AFTER_HIGHER) && r->xmit == l->xmit_ts)
            continue;
        int32_t remaining = (int32_t)(r->xmit + l->rtt + reo - now);
        if (remaining <= 0) {
            /* Lost; a lost retransmission is lost again (§3.1, §6.2). */
            rec_set(l, r, r->start, r->end, (f | TXSEG_LOST) & ~TXSEG_RETRANS);
            lost = true;
        } else if ((uint32_t)remaining > timeout) {
            timeout = (uint32_t)remaining;
        }
    }
    if (timeout) {
        /* §8: one timer; the RTO is re-armed when this one passes. */
        c->rexmit_kind = TCP_RX_REO;
        tcp_timer_set(s, c, TCP_T_REXMIT, s->now + timeout);
    }
    return lost;
}

/* §7.4 TLP_process_ack. */
static void tlp_process_ack(struct berth_stack *s, struct tcp_conn *c,
                            const struct tcp_seg *seg, uint32_t acked)
{
    if (!(c->lr_flags & LR_TLP) || seq_lt(seg->ack, c->tlp_end))
        return;
    bool dsack = c->txlog && c->txlog->tlp_dsack;
    if (!(c->lr_flags & LR_TLP_RETRANS) || dsack) {
        c->lr_flags &= ~(LR_TLP | LR_TLP_RETRANS); /* delivered, or Case 1 */
    } else if (seq_gt(seg->ack, c->tlp_end)) {
        c->lr_flags &= ~(LR_TLP | LR_TLP_RETRANS);
        tcp_cc_tlp_loss(s, c); /* the probe repaired a single loss */
    } else if (acked == 0 && seg->opts.sack_count == 0 && seg->len == 0) {
        c->lr_flags &= ~(LR_TLP | LR_TLP_RETRANS); /* Case 2 */
    }
}

void tcp_rack_on_dsack(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    (void)start;
    if (!c->txlog)
        return;
    c->txlog->dsack_now = true;
    if ((c->lr_flags & LR_TLP) && end == c->tlp_end)
        c->txlog->tlp_dsack = true;
}

/* Marks the records the scoreboard covers whole as SACKed, walking both
 * in sequence order; a record a block edge cuts is split there first, so
 * marks stay exact. */
static void mark_sacked(struct berth_stack *s, struct tcp_conn *c,
                        const struct tcp_seg *seg)
{
    uint32_t j = 0, bs = 0, be = 0;
    bool have = tcp_sack_block(c, j, &bs, &be);
    for (uint32_t i = 0; have && i < c->txlog->n; i++) {
        struct tcp_txseg *r = rec(c->txlog, i);
        while (have && seq_leq(be, r->start))
            have = tcp_sack_block(c, ++j, &bs, &be);
        if (!have)
            break;
        if (!seq_lt(bs, r->end) || (r->flags & TXSEG_SACKED))
            continue;
        if (seq_gt(bs, r->start) || seq_lt(be, r->end)) {
            /* Cut at the first edge inside; the pieces come in turn. */
            uint32_t cut = seq_gt(bs, r->start) ? bs : be;
            if (!rec_split(s, c, i, cut))
                continue;
            r = rec(c->txlog, i);
            if (seq_gt(bs, r->start))
                continue; /* the lower piece lies below the block */
        }
        rec_set(c->txlog, r, r->start, r->end,
                (r->flags | TXSEG_SACKED) & ~TXSEG_RETRANS);
        rack_delivered(s, c, r, seg);
    }
}

/* The common ACK of a request/response connection: the one record is
 * acknowledged whole, nothing is or was SACKed, no D-SACK. The general
 * path below with what it would find already known: DeliveredData is
 * what SND.UNA moved, the record is delivered (§6.2 steps 2-3), and with
 * it gone the log's sums are all zero; no block to mark, no loss to find
 * (detect_loss runs only with SACK blocks or a D-SACK). */
static bool ack_single_whole(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_seg *seg, uint32_t acked)
{
    struct tcp_txlog *l = c->txlog;
    if (l->n != 1 || c->sacked.n > 0 || l->sacked_prev > 0 || l->dsack_now)
        return false;
    struct tcp_txseg *r = rec(l, 0);
    if (!seq_leq(r->end, c->snd_una) || (r->flags & TXSEG_SACKED))
        return false;
    rack_delivered(s, c, r, seg);
    l->head = 0;
    l->n = 0;
    l->rec_bytes = l->rec_pipe = l->lost_unsent = l->segs_sacked = 0;
    tlp_process_ack(s, c, seg, acked);
    l->tlp_dsack = false;
    return true;
}

uint32_t tcp_rack_on_ack(struct berth_stack *s, struct tcp_conn *c,
                         const struct tcp_seg *seg, uint32_t acked)
{
    if (ack_single_whole(s, c, seg, acked))
        return acked;
    struct tcp_txlog *l = c->txlog;
    /* RFC 6937 §3: DeliveredData = change_in(snd.una) + change_in(SACKd). */
    uint32_t sacked = tcp_sack_sacked_bytes(c);
    int64_t d = (int64_t)acked + sacked - l->sacked_prev;
    uint32_t delivered = d > 0 ? (uint32_t)d : 0;
    l->sacked_prev = sacked;
    /* Records cumulatively acknowledged: delivered (unless SACKed before),
     * then gone; one cut by SND.UNA keeps its upper part. */
    uint32_t gone = 0;
    while (gone < l->n) {
        struct tcp_txseg *r = rec(l, gone);
        if (!seq_leq(r->end, c->snd_una)) {
            if (seq_lt(r->start, c->snd_una))
                rec_set(l, r, c->snd_una, r->end, r->flags);
            break;
        }
        if (!(r->flags & TXSEG_SACKED))
            rack_delivered(s, c, r, seg);
        rec_unaccount(l, r);
        gone++;
    }
    l->head += gone;
    l->n -= gone;
    if (l->n == 0)
        l->head = 0;
    if (c->sacked.n > 0 && seg->opts.sack_count > 0)
        mark_sacked(s, c, seg);
    tlp_process_ack(s, c, seg, acked);
    l = c->txlog;
    if (c->sacked.n > 0 || l->dsack_now)
        detect_loss(s, c);
    l->dsack_now = false;
    l->tlp_dsack = false;
    return delivered;
}

uint32_t tcp_rack_last_start(const struct tcp_conn *c, uint32_t end)
{
    const struct tcp_txlog *l = c->txlog;
    for (uint32_t i = l ? l->n : 0; i-- > 0;) {
        uint32_t start = rec(l, i)->start;
        if (seq_lt(start, end))
            return start; /* the last below end: a FIN alone is passed */
    }
    return end;
}

bool tcp_rack_lost_pending(const struct tcp_conn *c)
{
    return c->txlog && c->txlog->lost_unsent > 0;
}

uint32_t tcp_rack_pipe(const struct tcp_conn *c)
{
    const struct tcp_txlog *l = c->txlog;
    uint32_t outstanding = c->snd_max - c->snd_una;
    uint32_t uncovered =
        outstanding > l->rec_bytes ? outstanding - l->rec_bytes : 0;
    return uncovered + l->rec_pipe;
}

bool tcp_rack_next_lost(const struct tcp_conn *c, uint32_t *seq, uint32_t *len)
{
    const struct tcp_txlog *l = c->txlog;
    if (l->lost_unsent == 0)
        return false;
    for (uint32_t i = 0; i < l->n; i++) {
        const struct tcp_txseg *r = rec(l, i);
        if (rec_lost_unsent(r)) {
            *seq = r->start;
            *len = seq_min(r->end - r->start, c->snd_mss);
            return true;
        }
    }
    return false;
}

void tcp_rack_on_rto(struct tcp_conn *c)
{
    /* TLP_init (§7.1) for RTO recovery. */
    c->lr_flags &= ~(LR_TLP | LR_TLP_RETRANS);
    struct tcp_txlog *l = c->txlog;
    if (!l)
        return;
    /* RFC 2018 §8: the scoreboard is cleared, and so are the marks; the
     * go-back-N after a timeout resends everything in order. */
    for (uint32_t i = 0; i < l->n; i++) {
        struct tcp_txseg *r = rec(l, i);
        rec_set(l, r, r->start, r->end, r->flags & TXSEG_EVER_RX);
    }
    l->sacked_prev = 0;
    l->rack_valid = false;
}

void tcp_rack_undo_rto(struct tcp_conn *c)
{
    struct tcp_txlog *l = c->txlog;
    for (uint32_t i = 0; l && i < l->n; i++) {
        struct tcp_txseg *r = rec(l, i);
        rec_set(l, r, r->start, r->end, r->flags & ~TXSEG_LOST);
    }
}

void tcp_rack_recovery_done(struct tcp_conn *c)
{
    /* §6.2 step 4: after 16 recoveries without a D-SACK, the window's
     * multiplier starts over. */
    if (c->reo_persist > 0 && --c->reo_persist == 0)
        c->reo_mult = 0;
}

void tcp_rack_reo_timeout(struct berth_stack *s, struct tcp_conn *c)
{
    c->rexmit_kind = TCP_RX_RTO;
    if (tcp_rack_on(c) && detect_loss(s, c))
        tcp_cc_rack_lost(s, c);
    if (c->rexmit_kind == TCP_RX_RTO)
        tcp_rexmit_restart(s, c);
}

/* ---- TLP (§7) ---- */

bool tcp_rack_arm_tlp(struct berth_stack *s, struct tcp_conn *c,
                      uint64_t rto_at)
{
    /* §7.2: after new data or an ACK of new data, unless in recovery or
     * with SACKed data (the reordering timer's case); §7.3 condition 1
     * (one probe at a time) and 2 (a sample since the last one). */
    if (!tcp_rack_on(c) || (c->flags & (TF_RECOVERY | TF_RTO_RECOVER)) ||
        c->sacked.n > 0 || (c->lr_flags & (LR_TLP | LR_PROBED)) ||
        c->rexmits > 0 || (c->flags & TF_PERSIST) ||
        (c->lr_flags & (LR_FRTO_ACK1 | LR_FRTO_ACK2)))
        return false;
    uint64_t pto = USEC_PER_SEC;
    if (c->flags & TF_RTT_VALID) {
        /* One segment in flight (a FIN sent after it adds no segment the
         * receiver would ACK at once): its ACK may be delayed. */
        uint32_t fin = (c->flags & TF_FIN_SENT) ? 1u : 0u;
        pto = 2ull * c->srtt;
        if (c->snd_max - c->snd_una - fin <= c->snd_mss)
            pto += TLP_MAX_ACK_DELAY;
        if (pto < TLP_MIN_PTO)
            pto = TLP_MIN_PTO;
    }
    /* TLP_calc_PTO: no later than the RTO would fire. */
    uint64_t when = s->now + pto < rto_at ? s->now + pto : rto_at;
    c->rexmit_kind = TCP_RX_TLP;
    tcp_timer_set(s, c, TCP_T_REXMIT, when);
    return true;
}

void tcp_rack_tlp_timeout(struct berth_stack *s, struct tcp_conn *c)
{
    c->rexmit_kind = TCP_RX_RTO;
    bool retrans = false;
    if (!(c->lr_flags & (LR_TLP | LR_PROBED)) &&
        tcp_output_probe(s, c, &retrans)) {
        /* TLP_send_probe: TLP.end_seq = SND.NXT. */
        stack_count(s, BERTH_CTR_LOSS_PROBES);
        c->tlp_end = c->snd_max;
        c->lr_flags |= LR_TLP;
        if (retrans)
            c->lr_flags |= LR_TLP_RETRANS;
    }
    /* Sent or not (a closed window, say), the next deadline is the RTO,
     * not another PTO: none is armed until an RTT sample (§7.3). */
    c->lr_flags |= LR_PROBED;
    tcp_rexmit_restart(s, c);
}
