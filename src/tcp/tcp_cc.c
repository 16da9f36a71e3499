/* Congestion control and loss recovery, the parts every algorithm shares:
 * slow start, duplicate ACKs and fast retransmit (RFC 5681 §3), NewReno
 * partial ACKs (RFC 6582), SACK-based recovery with the scoreboard, pipe
 * and NextSeg (RFC 6675), the response to a timeout and restart after idle.
 * How the window grows in congestion avoidance, and how much it shrinks at
 * a loss, is the algorithm's (cc_newreno.c, cc_cubic.c). */
#include "tcp/tcp.h"

#include "base/seq.h"

#include <string.h>

#define DUPTHRESH 3u /* RFC 5681 §3.2, RFC 6675 §2 */

/* HyStart++, RFC 9406 §4.3 (RTTs in ms). */
#define HS_NONE            0xffffu /* no RTT sample yet */
#define HS_DONE            0xffu   /* hs_css: HyStart++ is over */
#define HS_MIN_RTT_THRESH  4u
#define HS_MAX_RTT_THRESH  16u
#define HS_MIN_RTT_DIVISOR 8u
#define HS_N_RTT_SAMPLE    8u
#define HS_CSS_GROWTH_DIV  4u
#define HS_CSS_ROUNDS      5u

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
    if ((c->flags & TF_RECOVERY) || c->dupacks == 0 || c->dupacks >= DUPTHRESH)
        return 0;
    return c->dupacks * c->snd_mss;
}

static uint32_t initial_window(const struct berth_stack *s,
                               const struct tcp_conn *c)
{
    uint32_t segs = s->cfg.initial_cwnd ? s->cfg.initial_cwnd : 1;
    return segs * c->snd_mss;
}

void tcp_cc_init(struct berth_stack *s, struct tcp_conn *c)
{
    c->cwnd = initial_window(s, c);
    c->ssthresh = UINT32_MAX; /* RFC 5681 §3.1: arbitrarily high */
    c->recover = c->iss;      /* RFC 6582 §3.2 step 1 */
    c->lt_sent = 0;
    c->high_rxt = c->iss;
    c->bytes_acked = 0;
    c->dupacks = 0;
    c->flags &= ~TF_RECOVERY;
    c->hs_round_end = c->iss;
    c->hs_last_min = c->hs_cur_min = c->hs_css_base = HS_NONE;
    c->hs_samples = 0;
    c->hs_css = 0;
    tcp_sack_clear(s, c);
    tcp_cc_of(c)->init(c);
}

void tcp_cc_restart_after_idle(struct berth_stack *s, struct tcp_conn *c)
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
    if (c->flags & TF_SACK) {
        c->cwnd = c->ssthresh; /* RFC 6675 §5 step 4.2 */
    } else {
        c->cwnd = c->ssthresh + DUPTHRESH * c->snd_mss; /* RFC 5681 */
    }
    /* Retransmit the first segment presumed lost, at once. */
    tcp_output_range(s, c, c->snd_una, c->snd_mss);
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
    if (c->dupacks >= DUPTHRESH || lost)
        enter_recovery(s, c);
}

static void on_new_ack_in_recovery(struct berth_stack *s, struct tcp_conn *c,
                                   uint32_t acked)
{
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

/* HyStart++ (RFC 9406 §4.2), for CUBIC as RFC 9438 §4.10 asks, in the
 * first slow start only (ssthresh still "arbitrarily high", §4.3): each
 * round's least RTT is compared with the last round's; a rise of
 * clamp(last / 8, 4 ms, 16 ms) means a queue is building, and slow start
 * turns into Conservative Slow Start (growth / 4). If the RTT falls back
 * below where CSS began, slow start resumes; after 5 rounds of CSS,
 * congestion avoidance begins (ssthresh = cwnd) without a loss. RTTs come
 * from the echoed timestamps of every ACK (RFC 7323 §4.1): without
 * timestamps berth times one segment per round, fewer than the 8 samples
 * a round needs, and plain slow start (RFC 5681) is used. Returns the
 * divisor for this ACK's growth, or 0 if slow start just ended. */
static uint32_t hystart(struct berth_stack *s, struct tcp_conn *c,
                        const struct tcp_seg *seg)
{
    if (c->cc_algo != BERTH_CC_CUBIC || !(c->flags & TF_TS) ||
        c->ssthresh != UINT32_MAX || c->hs_css == HS_DONE)
        return 1;
    if (seq_geq(c->snd_una, c->hs_round_end)) { /* a new round */
        if (c->hs_css && ++c->hs_css > HS_CSS_ROUNDS) {
            c->hs_css = HS_DONE;
            c->ssthresh = c->cwnd; /* §4.2: into congestion avoidance */
            return 0;
        }
        c->hs_last_min = c->hs_cur_min;
        c->hs_cur_min = HS_NONE;
        c->hs_samples = 0;
        c->hs_round_end = c->snd_max;
    }
    if (seg->opts.has_ts && seg->opts.ts_ecr) {
        uint32_t rtt = tcp_ts_now(s, c->ts_offset) - seg->opts.ts_ecr;
        if (rtt < c->hs_cur_min)
            c->hs_cur_min = (uint16_t)rtt;
        if (c->hs_samples < UINT8_MAX)
            c->hs_samples++;
    }
    if (c->hs_samples >= HS_N_RTT_SAMPLE && c->hs_cur_min != HS_NONE &&
        c->hs_last_min != HS_NONE) {
        if (!c->hs_css) {
            uint32_t th = c->hs_last_min / HS_MIN_RTT_DIVISOR;
            th = th < HS_MIN_RTT_THRESH   ? HS_MIN_RTT_THRESH
                 : th > HS_MAX_RTT_THRESH ? HS_MAX_RTT_THRESH
                                          : th;
            if (c->hs_cur_min >= c->hs_last_min + th) {
                c->hs_css = 1;
                c->hs_css_base = c->hs_cur_min;
            }
        } else if (c->hs_cur_min < c->hs_css_base) {
            c->hs_css = 0; /* a spurious exit: back to slow start */
            c->hs_css_base = HS_NONE;
        }
    }
    return c->hs_css ? HS_CSS_GROWTH_DIV : 1;
}

static void grow(struct berth_stack *s, struct tcp_conn *c,
                 const struct tcp_seg *seg, uint32_t acked)
{
    /* RFC 7661's idea (and RFC 9438 §4.6's requirement): a window the
     * sender is not using is not validated, so it does not grow. */
    if (tcp_flight_size(c) + acked < c->cwnd / 2)
        return;
    if (c->cwnd < c->ssthresh) {
        uint32_t div = hystart(s, c, seg);
        if (div) {
            /* RFC 5681 §3.1 eq. 2 (slow start; RFC 3465 with L = 1 SMSS),
             * divided in Conservative Slow Start (RFC 9406 §4.2). */
            uint32_t inc = acked < c->snd_mss ? acked : c->snd_mss;
            c->cwnd += inc / div ? inc / div : 1;
            return;
        }
    }
    tcp_cc_of(c)->cong_avoid(s, c, acked);
}

void tcp_cc_on_ack(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_seg *seg, uint32_t acked, bool dupack)
{
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
    /* RFC 6675 §2: with SACK, an ACK that SACKs new data is a duplicate
     * "regardless of its status as a cumulative acknowledgment". */
    if (dupack)
        on_dupack(s, c);
}

void tcp_cc_on_rto(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 5681 §3.1 eq. 4: ssthresh once per loss episode (not again for
     * the backed-off retransmissions of the same segment), cwnd = LW. */
    if (c->rexmits == 0 && tcp_flight_size(c) > 0)
        c->ssthresh = tcp_cc_of(c)->ssthresh(s, c);
    c->cwnd = c->snd_mss;
    c->bytes_acked = 0;
    c->dupacks = 0;
    c->prior_cwnd = 0; /* a timeout is not undone */
    c->flags &= ~TF_RECOVERY;
    c->flags |= TF_RTO_RECOVER;
    c->recover = c->snd_max - 1; /* RFC 6582 §3.2 step 4 */
    c->lt_sent = 0;
    c->high_rxt = c->snd_una; /* everything may be resent */
    /* RFC 2018 §8: after a timeout, SACK information is not trusted (the
     * receiver may have reneged); start over from SND.UNA. */
    tcp_sack_clear(s, c);
    if (tcp_cc_of(c)->on_rto)
        tcp_cc_of(c)->on_rto(c);
}

/* ---- the scoreboard (RFC 6675 §3) ---- */

static struct tcp_sack_block *blocks(struct tcp_scoreboard *b)
{
    return b->ext ? b->ext : b->in;
}

static const struct tcp_sack_block *blocks_c(const struct tcp_scoreboard *b)
{
    return b->ext ? b->ext : b->in;
}

static void board_free(struct berth_stack *s, struct tcp_scoreboard *b)
{
    mem_free(&s->mem, b->ext, (size_t)b->cap * sizeof *b->ext);
    b->ext = NULL;
    b->cap = 0;
}

void tcp_sack_clear(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->sacked.ext)
        board_free(s, &c->sacked);
    c->sacked.n = 0;
}

/* One block per 512 bytes of send buffer at most (1/64 of it): a peer
 * reporting tiny blocks cannot make the array grow further. */
static uint32_t board_limit(const struct tcp_conn *c)
{
    uint32_t n = c->sndbuf_size / 512u;
    if (n > UINT16_MAX)
        n = UINT16_MAX;
    return n > TCP_SACKBOARD_INLINE ? n : TCP_SACKBOARD_INLINE;
}

/* Room for one more block, or false. */
static bool board_room(struct berth_stack *s, struct tcp_conn *c)
{
    struct tcp_scoreboard *b = &c->sacked;
    uint32_t cap = b->ext ? b->cap : TCP_SACKBOARD_INLINE;
    if (b->n < cap)
        return true;
    uint32_t limit = board_limit(c);
    if (cap >= limit)
        return false;
    uint32_t grown = cap * 2 < limit ? cap * 2 : limit;
    struct tcp_sack_block *nb = mem_alloc_raw(&s->mem, grown * sizeof *nb);
    if (!nb)
        return false;
    memcpy(nb, blocks(b), b->n * sizeof *nb);
    if (b->ext)
        board_free(s, b);
    b->ext = nb;
    b->cap = (uint16_t)grown;
    return true;
}

static void board_trim(struct berth_stack *s, struct tcp_scoreboard *b,
                       uint32_t una)
{
    struct tcp_sack_block *blk = blocks(b);
    uint16_t k = 0;
    for (uint16_t i = 0; i < b->n; i++) {
        if (seq_leq(blk[i].end, una))
            continue;
        blk[k] = blk[i];
        if (seq_lt(blk[k].start, una))
            blk[k].start = una;
        k++;
    }
    b->n = k;
    if (b->ext && k <= TCP_SACKBOARD_INLINE) { /* back inline */
        memcpy(b->in, b->ext, k * sizeof *b->ext);
        board_free(s, b);
    }
}

/* Adds [start, end), merging; returns the bytes newly covered. */
static uint32_t board_add(struct berth_stack *s, struct tcp_conn *c,
                          uint32_t start, uint32_t end)
{
    struct tcp_scoreboard *b = &c->sacked;
    struct tcp_sack_block *blk = blocks(b);
    /* Blocks [i, j) overlap or touch [start, end). */
    uint16_t i = 0;
    while (i < b->n && seq_lt(blk[i].end, start))
        i++;
    uint16_t j = i;
    uint32_t had = 0;
    while (j < b->n && seq_leq(blk[j].start, end)) {
        had += blk[j].end - blk[j].start;
        j++;
    }
    if (i == j) {
        /* A separate block: room for it, or forget the highest one (not
         * the new one if it is the highest itself). */
        if (!board_room(s, c)) {
            if (i == b->n)
                return 0;
            b->n--;
        }
        blk = blocks(b);
        memmove(&blk[i + 1], &blk[i], (size_t)(b->n - i) * sizeof *blk);
        b->n++;
        j = i + 1;
    } else {
        start = seq_min(start, blk[i].start);
        end = seq_max(end, blk[j - 1].end);
        /* Blocks i+1 .. j-1 merge into block i. */
        memmove(&blk[i + 1], &blk[j], (size_t)(b->n - j) * sizeof *blk);
        b->n = (uint16_t)(b->n - (j - i - 1));
    }
    blk[i].start = start;
    blk[i].end = end;
    return end - start - had;
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
 * Linux gives, tcp_try_undo_dsack; RFC 4015 §3 does the same for timeouts,
 * which berth does not undo). A link that duplicates packets can fake
 * this; the undo only restores what the sender had before. */
static void on_dsack(struct berth_stack *s, struct tcp_conn *c, uint32_t start,
                     uint32_t end)
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

bool tcp_sack_update(struct berth_stack *s, struct tcp_conn *c,
                     const struct tcp_seg *seg)
{
    board_trim(s, &c->sacked, c->snd_una);
    if (!(c->flags & TF_SACK) || seg->opts.sack_count == 0)
        return false;
    uint32_t added = 0;
    for (uint8_t i = 0; i < seg->opts.sack_count; i++) {
        uint32_t start = seg->opts.sack[i].start, end = seg->opts.sack[i].end;
        /* RFC 2883 §4: a block at or below the cumulative ACK is a D-SACK,
         * as is a first block inside the second; neither marks new data.
         * Blocks beyond what we sent are bogus. */
        if (!seq_lt(start, end) || seq_gt(end, c->snd_max))
            continue;
        if (seq_leq(end, seg->ack) ||
            (i == 0 && seg->opts.sack_count > 1 &&
             seq_geq(start, seg->opts.sack[1].start) &&
             seq_leq(end, seg->opts.sack[1].end))) {
            if (i == 0)
                on_dsack(s, c, start, end);
            continue;
        }
        /* Of an old ACK (below SND.UNA), a block may be acknowledged
         * already: nothing of it is news. */
        start = seq_max(start, c->snd_una);
        if (seq_lt(start, end))
            added += board_add(s, c, start, end);
    }
    return added > 0;
}

/* RFC 6675 §4 IsLost for an octet below block i (and above block i-1):
 * DupThresh discontiguous SACKed sequences above it, i.e. blocks i..n-1,
 * or more than (DupThresh - 1) * SMSS bytes in them. */
static bool lost_below(const struct tcp_conn *c, uint16_t i, uint32_t above)
{
    return (uint32_t)(c->sacked.n - i) >= DUPTHRESH ||
           above > (DUPTHRESH - 1) * c->snd_mss;
}

static uint32_t sacked_bytes(const struct tcp_scoreboard *b)
{
    const struct tcp_sack_block *blk = blocks_c(b);
    uint32_t bytes = 0;
    for (uint16_t i = 0; i < b->n; i++)
        bytes += blk[i].end - blk[i].start;
    return bytes;
}

bool tcp_sack_una_lost(const struct tcp_conn *c)
{
    /* Every block lies above SND.UNA (the board is trimmed to it). */
    return lost_below(c, 0, sacked_bytes(&c->sacked));
}

/* The unSACKed ranges ("holes") in [SND.UNA, SND.MAX), in order: hole i
 * ends where block i starts; the last runs to SND.MAX. */
static bool hole(const struct tcp_conn *c, uint16_t i, uint32_t *a, uint32_t *b)
{
    const struct tcp_sack_block *blk = blocks_c(&c->sacked);
    if (i > c->sacked.n)
        return false;
    *a = i == 0 ? c->snd_una : blk[i - 1].end;
    *b = i < c->sacked.n ? blk[i].start : c->snd_max;
    return true;
}

static uint32_t retransmitted_in(const struct tcp_conn *c, uint32_t a,
                                 uint32_t b)
{
    uint32_t end = seq_min(b, c->high_rxt);
    return seq_gt(end, a) ? end - a : 0;
}

uint32_t tcp_sack_pipe(const struct tcp_conn *c)
{
    /* RFC 6675 §4 SetPipe: an unSACKed octet counts once if it is not lost
     * and once more if it was retransmitted. IsLost is the same for a whole
     * hole (no SACKed data inside it), so it is decided per hole, from the
     * top down with the SACKed bytes above counted along: linear in the
     * number of blocks. */
    const struct tcp_sack_block *blk = blocks_c(&c->sacked);
    uint32_t pipe = 0, above = 0, a = 0, b = 0;
    for (uint16_t i = c->sacked.n + 1; i-- > 0;) {
        if (i < c->sacked.n)
            above += blk[i].end - blk[i].start;
        hole(c, i, &a, &b);
        if (!seq_lt(a, b))
            continue;
        if (!lost_below(c, i, above))
            pipe += b - a;
        pipe += retransmitted_in(c, a, b);
    }
    return pipe;
}

bool tcp_sack_next_seg(const struct tcp_conn *c, uint32_t *seq, uint32_t *len,
                       bool *rexmit)
{
    const struct tcp_sack_block *blk = blocks_c(&c->sacked);
    uint32_t a = 0, b = 0;
    /* Rule 1: the first lost unSACKed octet above HighRxt. */
    uint32_t above = sacked_bytes(&c->sacked);
    for (uint16_t i = 0; hole(c, i, &a, &b); i++) {
        uint32_t from = seq_max(a, c->high_rxt);
        if (seq_lt(from, b) && lost_below(c, i, above)) {
            *seq = from;
            *len = seq_min(b - from, c->snd_mss);
            *rexmit = true;
            return true;
        }
        if (i < c->sacked.n)
            above -= blk[i].end - blk[i].start;
    }
    /* Rule 2: new data, if the receiver's window allows. */
    uint32_t data_end = tcp_snd_data_seq(c) + c->snd.len;
    uint32_t edge = c->snd_una + c->snd_wnd;
    if (seq_lt(c->snd_max, data_end) && seq_lt(c->snd_max, edge)) {
        *seq = c->snd_max;
        *len = seq_min(seq_min(data_end, edge) - c->snd_max, c->snd_mss);
        *rexmit = false;
        return true;
    }
    /* Rule 3: the first unSACKed octet above HighRxt, lost or not, below
     * the highest SACKed octet (1.b); above it NextSeg fails (rule 5). */
    if (c->sacked.n == 0)
        return false;
    uint32_t top = blk[c->sacked.n - 1].start;
    for (uint16_t i = 0; i < c->sacked.n && hole(c, i, &a, &b); i++) {
        uint32_t from = seq_max(a, c->high_rxt);
        if (seq_lt(from, b) && seq_lt(from, top)) {
            *seq = from;
            *len = seq_min(b - from, c->snd_mss);
            *rexmit = true;
            return true;
        }
    }
    return false; /* Rule 4 (rescue retransmission) is not used */
}
