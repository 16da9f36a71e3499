/* Congestion control and loss recovery, the parts every algorithm shares:
 * slow start's growth (RFC 5681 §3.1; when it ends is the algorithm's, as
 * CUBIC's HyStart++), duplicate ACKs and fast retransmit (RFC 5681 §3), NewReno
 * partial ACKs (RFC 6582), SACK-based loss recovery (RFC 6675 §5; its
 * scoreboard, pipe and NextSeg are tcp_sack.c's) entered on RACK's loss marks
 * (RFC 8985, tcp_rack.c) and paced by PRR (RFC 6937), the undo of a spurious
 * recovery (RFC 3708), the response to a timeout with F-RTO's detection of a
 * spurious one (RFC 5682, RFC 4015), and restart after idle. How
 * the window grows in congestion avoidance, and how much it shrinks at a loss,
 * is the algorithm's (cc_newreno.c, cc_cubic.c). */
#include "tcp/tcp.h"

#include "base/seq.h"

const struct tcp_cc *tcp_cc_of(const struct tcp_conn *c)
{
    return c->cc_algo == BERTH_CC_NEWRENO ? &tcp_cc_newreno : &tcp_cc_cubic;
}

uint32_t tcp_flight_size(const struct tcp_conn *c)
{
    /* RFC 5681 §2 FlightSize, less what Limited Transmit sent: RFC 3042
     * §2 keeps those segments out of the flight that sets ssthresh. */
    return c->snd_max - c->snd_una - c->lt_sent;
}

uint32_t tcp_cc_limited_transmit(const struct tcp_conn *c)
{
    /* RFC 3042 §2 (RFC 5681 §3.2 step 1): on the first and second
     * duplicate ACK, one new segment each beyond cwnd. */
    if ((c->flags & TF_RECOVERY) || c->dupacks == 0 ||
        c->dupacks >= TCP_DUPTHRESH)
        return 0;
    return c->dupacks * c->snd_mss;
}

static uint32_t initial_window(const struct berth_stack *s,
                               const struct tcp_conn *c)
{
    uint32_t segs = s->cfg.initial_cwnd ? s->cfg.initial_cwnd : 1;
    return segs * c->snd_mss;
}

static void cc_init(struct berth_stack *s, struct tcp_conn *c)
{
    c->cwnd = initial_window(s, c);
    c->ssthresh = UINT32_MAX; /* RFC 5681 §3.1: arbitrarily high */
    /* RFC 6582 §3.2 step 1 starts recover at the ISS, and step 2 enters
     * recovery when the ACK "covers more than recover" (ack - 1 > recover).
     * The ISS is our SYN, so three duplicates of ISS+1 (the first segment of
     * data lost) would wait for the RTO, though no earlier recovery or
     * timeout exists for the check to guard (RFC 6582 §4); RFC 5681 §3.2
     * retransmits at once, as Linux and FreeBSD (snd_recover = ISS, tested
     * with ack > snd_recover) do. One below the ISS lets it. */
    c->recover = c->iss - 1;
    c->lt_sent = 0;
    c->high_rxt = c->iss;
    c->bytes_acked = 0;
    c->dupacks = 0;
    c->flags &= ~TF_RECOVERY;
    tcp_sack_clear(s, c);
    /* c->cc, zeroed with the TCB, is untouched so far: no data was acked
     * before this (HyStart++ has had no round), and what a SYN's timeout
     * told CUBIC (after_rto) stays. */
    tcp_cc_of(c)->init(c);
}

static void cc_restart_after_idle(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 5681 §4.1: after more than an RTO without sending, cwnd is no
     * larger than the restart window, min(IW, cwnd). */
    if (c->snd_una != c->snd_max || c->last_send == 0)
        return;
    if (tcp_ms_now(s) - c->last_send <= tcp_rto(s, c) / 1000u)
        return;
    uint32_t rw = initial_window(s, c);
    if (c->cwnd > rw)
        c->cwnd = rw;
    tcp_cc_of(c)->init(c); /* a new epoch for CUBIC */
}

/* RFC 5681 §3.2 step 2 / RFC 6582 step 2 / RFC 6675 §5 step 4. */
static void enter_recovery(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->flags & TF_SACK) {
        /* RFC 6675 §5.1: after a timeout, not before the cumulative ACK
         * reaches RecoveryPoint; otherwise at once. */
        if ((c->flags & TF_RTO_RECOVER) && !seq_gt(c->snd_una, c->recover))
            return;
    } else if (!seq_gt(c->snd_una - 1, c->recover)) {
        /* RFC 6582 §3.2 step 2: only if the ACK covers more than recover,
         * so losses from one window cause one reduction. */
        return;
    }
    stack_count(s, BERTH_CTR_FAST_RECOVERIES);
    c->flags &= ~TF_RTO_RECOVER;
    c->recover = c->snd_max - 1; /* the highest sequence number sent */
    /* RFC 3708 §2: remember the window, to restore it if D-SACKs show that
     * every retransmission of this recovery was unneeded. */
    c->prior_cwnd = c->cwnd;
    c->prior_ssthresh = c->ssthresh;
    c->undo_retrans = 0;
    c->ssthresh = tcp_cc_of(c)->ssthresh(s, c);
    c->lt_sent = 0;
    c->flags |= TF_RECOVERY;
    c->rtt_time = 0; /* Karn: the retransmission is not timed */
    c->high_rxt = c->snd_una;
    c->lr_flags &= ~(LR_TLP | LR_TLP_RETRANS); /* RFC 8985 §7.1 TLP_init */
    if (tcp_rack_on(c)) {
        /* RFC 6937 §3: on entering recovery. PRR sets cwnd on each ACK
         * (prr_on_ack), the first of them this one. */
        struct tcp_txlog *l = c->txlog;
        l->prr_delivered = 0;
        l->prr_out = 0;
        l->recover_fs = c->snd_max - c->snd_una;
        return;
    }
    if (c->flags & TF_SACK) {
        c->cwnd = c->ssthresh; /* RFC 6675 §5 step 4.2 */
    } else {
        c->cwnd = c->ssthresh + TCP_DUPTHRESH * c->snd_mss; /* RFC 5681 */
    }
    /* Retransmit the first segment presumed lost, at once. */
    tcp_output_range(s, c, c->snd_una, c->snd_mss);
}

/* RFC 6937 §3, PRR with Slow Start Reduction Bound (as Linux): on each ACK
 * in recovery, how much may be sent, as cwnd = pipe + sndcnt, so that
 * output's "cwnd - pipe >= SMSS" rule (RFC 6675 §5 step C) sends it. */
static void prr_on_ack(struct tcp_conn *c, uint32_t delivered)
{
    struct tcp_txlog *l = c->txlog;
    l->prr_delivered += delivered;
    uint32_t pipe = tcp_sack_pipe(c);
    int64_t sndcnt;
    if (pipe > c->ssthresh) {
        /* Proportional: sndcnt = CEIL(prr_delivered * ssthresh /
         * RecoverFS) - prr_out. */
        uint64_t fs = l->recover_fs ? l->recover_fs : 1;
        uint64_t due = ((uint64_t)l->prr_delivered * c->ssthresh + fs - 1) / fs;
        sndcnt = (int64_t)due - l->prr_out;
    } else {
        /* Slow start reduction bound: limit = MAX(prr_delivered - prr_out,
         * DeliveredData) + MSS; sndcnt = MIN(ssthresh - pipe, limit). */
        int64_t limit = (int64_t)l->prr_delivered - l->prr_out;
        if (limit < (int64_t)delivered)
            limit = delivered;
        limit += c->snd_mss;
        sndcnt = (int64_t)c->ssthresh - pipe;
        if (sndcnt > limit)
            sndcnt = limit;
    }
    if (sndcnt < 0)
        sndcnt = 0;
    /* The fast retransmit itself goes out on entry (as Linux's PRR). */
    if (l->prr_out == 0 && sndcnt < c->snd_mss && tcp_rack_lost_pending(c))
        sndcnt = c->snd_mss;
    uint64_t w = (uint64_t)pipe + (uint64_t)sndcnt;
    c->cwnd = w < c->snd_mss ? c->snd_mss : (w > UINT32_MAX ? UINT32_MAX : w);
}

static void cc_rack_lost(struct berth_stack *s, struct tcp_conn *c)
{
    if (!(c->flags & TF_RECOVERY))
        enter_recovery(s, c);
    if (c->flags & TF_RECOVERY)
        prr_on_ack(c, 0);
    tcp_output(s, c);
}

void tcp_cc_tlp_loss(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 8985 §7.4.2: a response equivalent to a fast recovery's, whose
     * retransmission the probe was: ssthresh by the algorithm, cwnd no
     * larger (Linux's CWR episode, ended at once). */
    c->ssthresh = tcp_cc_of(c)->ssthresh(s, c);
    if (c->cwnd > c->ssthresh)
        c->cwnd = c->ssthresh;
    if (stack_log_on(s)) /* inside tcp_cc_on_ack(), which logs it */
        s->log_cc_hint = (uint8_t)(BERTH_CC_LOSS + 1);
}

static void on_dupack(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->dupacks < 255)
        c->dupacks++;
    if (c->flags & TF_RECOVERY) {
        /* RFC 5681 §3.2 step 4: each further duplicate means a segment
         * left the network; with SACK the pipe accounts for it instead. */
        if (!(c->flags & TF_SACK))
            c->cwnd += c->snd_mss;
        return;
    }
    bool lost = (c->flags & TF_SACK) && tcp_sack_una_lost(c);
    if (c->dupacks >= TCP_DUPTHRESH || lost)
        enter_recovery(s, c);
}

static void on_new_ack_in_recovery(struct berth_stack *s, struct tcp_conn *c,
                                   uint32_t acked)
{
    if (seq_gt(c->snd_una, c->recover) && tcp_rack_on(c)) {
        /* RFC 6937 §3: PRR ends recovery with cwnd = ssthresh (as Linux's
         * tcp_end_cwnd_reduction). */
        c->cwnd = c->ssthresh;
        c->flags &= ~TF_RECOVERY;
        c->bytes_acked = 0;
        tcp_rack_recovery_done(c);
        return;
    }
    if (seq_gt(c->snd_una, c->recover)) {
        /* RFC 6582 §3.2 step 3, full acknowledgment, option (1): deflate
         * to min(ssthresh, max(FlightSize, SMSS) + SMSS). */
        uint32_t flight = tcp_flight_size(c);
        uint32_t w = (flight > c->snd_mss ? flight : c->snd_mss) + c->snd_mss;
        c->cwnd = w < c->ssthresh ? w : c->ssthresh;
        c->flags &= ~TF_RECOVERY;
        c->bytes_acked = 0;
        return;
    }
    if (c->flags & TF_SACK)
        return; /* RFC 6675: the pipe governs what is sent next */
    /* RFC 6582 §3.2 step 3, partial acknowledgment: resend the next hole,
     * deflate by what was acked, add back one SMSS if it was that much. */
    tcp_output_range(s, c, c->snd_una, c->snd_mss);
    c->cwnd = c->cwnd > acked ? c->cwnd - acked : c->snd_mss;
    if (acked >= c->snd_mss)
        c->cwnd += c->snd_mss;
}

static void grow(struct berth_stack *s, struct tcp_conn *c,
                 const struct tcp_seg *seg, uint32_t acked)
{
    /* RFC 7661's idea (and RFC 9438 §4.6's requirement): a window the
     * sender is not using is not validated, so it does not grow. */
    if (tcp_flight_size(c) + acked < c->cwnd / 2)
        return;
    if (c->cwnd < c->ssthresh && tcp_cc_of(c)->slow_start(s, c, seg, acked))
        return;
    tcp_cc_of(c)->cong_avoid(s, c, acked);
}

void tcp_cc_slow_start_grow(struct tcp_conn *c, uint32_t acked, uint32_t div)
{
    uint32_t inc = acked < c->snd_mss ? acked : c->snd_mss;
    c->cwnd += inc / div ? inc / div : 1;
}

static void frto_clear(struct tcp_conn *c)
{
    c->lr_flags &= ~(LR_FRTO_ACK1 | LR_FRTO_ACK2);
    c->prior_cwnd = 0;
}

/* RFC 5682 §2 (F-RTO) steps 2 and 3 after a timeout's retransmission of
 * SND.UNA; true if this ACK was F-RTO's, nothing else to do with it. An
 * ACK is "duplicate" if it acknowledges nothing new (RFC 5682 §2, with
 * SACK: new SACK information). */
static bool frto_on_ack(struct berth_stack *s, struct tcp_conn *c,
                        uint32_t acked, bool dupack)
{
    if (acked == 0 && !dupack)
        return false; /* a window update, data: not F-RTO's signal */
    if (c->lr_flags & LR_FRTO_ACK1) {
        /* Step 2a: a duplicate, or everything up to recover acked: the
         * conventional recovery goes on. */
        uint32_t data_end = tcp_snd_data_seq(c) + c->snd.len;
        bool fresh = seq_lt(c->snd_max, data_end) &&
                     seq_lt(c->snd_max, c->snd_una + c->snd_wnd);
        if (acked == 0 || seq_gt(c->snd_una, c->recover) || !fresh) {
            frto_clear(c);
            return false;
        }
        /* Step 2b: SND.UNA advanced: two new segments, not the
         * retransmissions go-back-N would send. */
        c->snd_nxt = c->snd_max;
        c->cwnd = c->snd_max - c->snd_una + 2u * c->snd_mss;
        c->lr_flags = (uint8_t)((c->lr_flags & ~LR_FRTO_ACK1) | LR_FRTO_ACK2);
        return true;
    }
    if (acked == 0) {
        /* Step 3a: a duplicate: the timeout was genuine; resend from
         * SND.UNA in slow start, cwnd at most 3 * SMSS. */
        frto_clear(c);
        c->cwnd = 3u * c->snd_mss;
        c->snd_nxt = c->snd_una;
        return true;
    }
    /* Step 3b: SND.UNA advanced again, by segments sent before the timeout
     * and never resent: it was spurious. The Eifel response (RFC 4015
     * §3.1): carry on with new data, cwnd = FlightSize + min(bytes_acked,
     * IW), ssthresh = pipe_prev, and the timeout's reduction is undone. */
    stack_count(s, BERTH_CTR_SPURIOUS_RTOS);
    uint32_t iw = initial_window(s, c);
    c->cwnd = c->snd_max - c->snd_una + (acked < iw ? acked : iw);
    c->ssthresh = c->prior_ssthresh;
    c->flags &= ~TF_RTO_RECOVER;
    c->bytes_acked = 0;
    tcp_rack_undo_rto(c);
    frto_clear(c);
    return true;
}

static void cc_on_ack(struct berth_stack *s, struct tcp_conn *c,
                      const struct tcp_seg *seg, uint32_t acked, bool dupack)
{
    bool rack = tcp_rack_on(c);
    uint32_t delivered = rack ? tcp_rack_on_ack(s, c, seg, acked) : acked;
    if ((c->lr_flags & (LR_FRTO_ACK1 | LR_FRTO_ACK2)) &&
        frto_on_ack(s, c, acked, dupack)) {
        c->dupacks = 0;
        c->lt_sent = 0;
    } else {
        if (acked > 0) {
            c->dupacks = 0;
            c->lt_sent = 0;
            if ((c->flags & TF_RTO_RECOVER) && seq_gt(c->snd_una, c->recover))
                c->flags &= ~TF_RTO_RECOVER;
            if (c->flags & TF_RECOVERY)
                on_new_ack_in_recovery(s, c, acked);
            else
                grow(s, c, seg, acked);
        }
        if (rack) {
            /* RFC 8985: RACK's marks start recovery (DupThresh lives on in
             * its reordering window, §6.2 step 4); duplicates are still
             * counted, for Limited Transmit (RFC 3042). */
            if (dupack && c->dupacks < 255 && !(c->flags & TF_RECOVERY))
                c->dupacks++;
            if (!(c->flags & TF_RECOVERY) && tcp_rack_lost_pending(c))
                enter_recovery(s, c);
            if (c->flags & TF_RECOVERY)
                prr_on_ack(c, delivered);
        } else if (dupack) {
            /* RFC 6675 §2: with SACK, an ACK that SACKs new data is a
             * duplicate "regardless of its status as a cumulative
             * acknowledgment". */
            on_dupack(s, c);
        }
    }
    if (c->snd_una == c->snd_max) {
        tcp_rack_free(s, c); /* nothing outstanding: the log goes */
    } else if (acked > 0 && (c->flags & TF_SACK) &&
               c->rexmit_kind == TCP_RX_RTO) {
        /* The RTO this ACK re-armed (before recovery or F-RTO ended on
         * it) becomes a PTO if a probe is now due (RFC 8985 §7.2). */
        tcp_rexmit_restart(s, c);
    }
}

static void cc_on_rto(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 5682 §2 step 1: F-RTO watches the first timeout of an episode
     * (not one in fast recovery, RFC 5682 §4), with SACK agreed (peers
     * without it keep the conventional recovery). RFC 4015 §3.1 (1):
     * pipe_prev = max(FlightSize, ssthresh), kept in prior_ssthresh. */
    bool frto = (c->flags & TF_SACK) && c->rexmits == 0 &&
                !(c->flags & (TF_RECOVERY | TF_RTO_RECOVER)) &&
                c->snd_una != c->iss;
    uint32_t flight = tcp_flight_size(c);
    uint32_t pipe_prev = flight > c->ssthresh ? flight : c->ssthresh;
    uint32_t cwnd_prev = c->cwnd;
    /* RFC 5681 §3.1 eq. 4: ssthresh once per loss episode (not again for
     * the backed-off retransmissions of the same segment), cwnd = LW. */
    if (c->rexmits == 0 && flight > 0)
        c->ssthresh = tcp_cc_of(c)->ssthresh(s, c);
    c->cwnd = c->snd_mss;
    c->bytes_acked = 0;
    c->dupacks = 0;
    frto_clear(c);
    c->flags &= ~TF_RECOVERY;
    c->flags |= TF_RTO_RECOVER;
    c->recover = c->snd_max - 1; /* RFC 6582 §3.2 step 4 */
    c->lt_sent = 0;
    c->high_rxt = c->snd_una; /* everything may be resent */
    /* RFC 2018 §8: after a timeout, SACK information is not trusted (the
     * receiver may have reneged); start over from SND.UNA. */
    tcp_sack_clear(s, c);
    tcp_rack_on_rto(c);
    if (tcp_cc_of(c)->on_rto)
        tcp_cc_of(c)->on_rto(c);
    if (frto) {
        c->lr_flags |= LR_FRTO_ACK1;
        c->prior_cwnd = cwnd_prev; /* the timeout may be undone */
        c->prior_ssthresh = pipe_prev;
        c->undo_retrans = 0; /* not a D-SACK undo (RFC 3708) */
    }
}

void tcp_cc_note_rexmit(struct tcp_conn *c)
{
    if (c->prior_cwnd && c->undo_retrans < UINT8_MAX)
        c->undo_retrans++;
    else
        c->prior_cwnd = 0; /* too many to track: no undo */
}

/* RFC 3708 §2 (detection) and RFC 2883 §4.2: a D-SACK for data we
 * fast-retransmitted says both copies arrived; the original was only late,
 * overtaken by the segments whose duplicate ACKs sent us into recovery.
 * Once every retransmission of that recovery has come back as a duplicate,
 * the loss was not one: the window goes back to where it was (the response
 * Linux gives, tcp_try_undo_dsack; timeouts are F-RTO's, tcp_cc_on_rto).
 * A link that duplicates packets can fake
 * this; the undo only restores what the sender had before. */
static void cc_on_dsack(struct berth_stack *s, struct tcp_conn *c,
                        uint32_t start, uint32_t end)
{
    if (!c->prior_cwnd || !seq_lt(start, c->high_rxt) || c->undo_retrans == 0)
        return;
    uint32_t segs = (end - start + c->snd_mss - 1) / c->snd_mss;
    c->undo_retrans = segs < c->undo_retrans ? c->undo_retrans - segs : 0;
    if (c->undo_retrans > 0)
        return;
    stack_count(s, BERTH_CTR_RECOVERIES_UNDONE);
    if (c->cwnd < c->prior_cwnd)
        c->cwnd = c->prior_cwnd;
    if (c->ssthresh == UINT32_MAX || c->ssthresh < c->prior_ssthresh)
        c->ssthresh = c->prior_ssthresh;
    c->prior_cwnd = 0;
    c->flags &= ~TF_RECOVERY;
}

/* ---- The event log's view (docs/events.md) ----
 * The entry points above change cwnd and ssthresh in many places; the log
 * compares the window before and after each, and names the cause from what
 * changed: recovery entered or left, an undo counted, HyStart++'s exit
 * (ssthresh set from infinite outside a recovery). Without a hook each
 * entry point is one branch more. */
struct cc_before {
    uint32_t cwnd, ssthresh, flags;
    uint64_t undone;
};

static struct cc_before cc_before(struct berth_stack *s,
                                  const struct tcp_conn *c)
{
    s->log_cc_hint = 0;
    return (struct cc_before){
        .cwnd = c->cwnd,
        .ssthresh = c->ssthresh,
        .flags = c->flags,
        .undone = s->counters[BERTH_CTR_SPURIOUS_RTOS] +
                  s->counters[BERTH_CTR_RECOVERIES_UNDONE],
    };
}

static enum berth_cc_cause cc_recovery_logged(struct berth_stack *s,
                                              const struct tcp_conn *c,
                                              const struct cc_before *b,
                                              enum berth_cc_cause cause)
{
    bool fast0 = b->flags & TF_RECOVERY, fast1 = c->flags & TF_RECOVERY;
    bool rto0 = b->flags & TF_RTO_RECOVER, rto1 = c->flags & TF_RTO_RECOVER;
    bool undone = s->counters[BERTH_CTR_SPURIOUS_RTOS] +
                      s->counters[BERTH_CTR_RECOVERIES_UNDONE] !=
                  b->undone;
    if (undone) {
        tcp_log_recovery(s, c, -1, rto0);
        return BERTH_CC_UNDO;
    }
    if (fast0 && !fast1)
        tcp_log_recovery(s, c, 0, false);
    if (rto0 && !rto1)
        tcp_log_recovery(s, c, 0, true);
    if (!fast0 && fast1)
        tcp_log_recovery(s, c, 1, false);
    if (!rto0 && rto1)
        tcp_log_recovery(s, c, 1, true);
    if (cause != BERTH_CC_ACK)
        return cause;
    if (s->log_cc_hint)
        return (enum berth_cc_cause)(s->log_cc_hint - 1);
    if (!fast0 && fast1)
        return BERTH_CC_LOSS;
    if (fast0 && !fast1)
        return BERTH_CC_RECOVERY_EXIT;
    if (fast1)
        return BERTH_CC_RECOVERY;
    if (b->ssthresh == UINT32_MAX && c->ssthresh != UINT32_MAX)
        return BERTH_CC_HYSTART;
    return b->cwnd < b->ssthresh ? BERTH_CC_SLOW_START : BERTH_CC_ACK;
}

static void cc_logged(struct berth_stack *s, const struct tcp_conn *c,
                      const struct cc_before *b, enum berth_cc_cause cause)
{
    cause = cc_recovery_logged(s, c, b, cause);
    if (c->cwnd != b->cwnd || c->ssthresh != b->ssthresh)
        tcp_log_cc(s, c, cause);
    s->log_cc_hint = 0;
}

void tcp_cc_init(struct berth_stack *s, struct tcp_conn *c)
{
    cc_init(s, c);
    if (stack_log_on(s))
        tcp_log_cc(s, c, BERTH_CC_INIT);
}

void tcp_cc_restart_after_idle(struct berth_stack *s, struct tcp_conn *c)
{
    if (!stack_log_on(s)) {
        cc_restart_after_idle(s, c);
        return;
    }
    struct cc_before b = cc_before(s, c);
    cc_restart_after_idle(s, c);
    cc_logged(s, c, &b, BERTH_CC_IDLE);
}

void tcp_cc_rack_lost(struct berth_stack *s, struct tcp_conn *c)
{
    if (!stack_log_on(s)) {
        cc_rack_lost(s, c);
        return;
    }
    struct cc_before b = cc_before(s, c);
    cc_rack_lost(s, c);
    cc_logged(s, c, &b, BERTH_CC_ACK);
}

void tcp_cc_on_ack(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_seg *seg, uint32_t acked, bool dupack)
{
    if (!stack_log_on(s)) {
        cc_on_ack(s, c, seg, acked, dupack);
        return;
    }
    struct cc_before b = cc_before(s, c);
    cc_on_ack(s, c, seg, acked, dupack);
    cc_logged(s, c, &b, BERTH_CC_ACK);
}

void tcp_cc_on_rto(struct berth_stack *s, struct tcp_conn *c)
{
    if (!stack_log_on(s)) {
        cc_on_rto(s, c);
        return;
    }
    struct cc_before b = cc_before(s, c);
    cc_on_rto(s, c);
    cc_logged(s, c, &b, BERTH_CC_RTO);
}

void tcp_cc_on_dsack(struct berth_stack *s, struct tcp_conn *c, uint32_t start,
                     uint32_t end)
{
    if (!stack_log_on(s)) {
        cc_on_dsack(s, c, start, end);
        return;
    }
    struct cc_before b = cc_before(s, c);
    cc_on_dsack(s, c, start, end);
    cc_logged(s, c, &b, BERTH_CC_UNDO);
}
