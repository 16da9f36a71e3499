/* CUBIC (RFC 9438): after a loss the window follows
 *   W_cubic(t) = C * (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 * (§4.2), never below the Reno-friendly estimate W_est (§4.3); a loss
 * multiplies cwnd by beta = 0.7 (§4.6) and remembers W_max, lowered further
 * when the loss came before the old W_max was reached (fast convergence,
 * §4.7). Windows are counted in segments, as in the RFC, in fixed point
 * (integers: no libm, and the state fits in 28 bytes with HyStart++'s).
 * The first slow start ends by HyStart++ (RFC 9406), as §4.10 asks. */
#include "tcp/tcp.h"

#include "base/seq.h"

/* Windows are segments scaled by 2^10 (W_SHIFT); times are ms. */
#define W_SHIFT 10
/* C = 0.4 segments / s^3 (§5): with d in ms and W in segments << 10,
 * C * d^3 = 0.4 * 2^10 / 10^9 * d^3 = 4 * d^3 / 5^10. */
#define CUBIC_C_NUM 4u
#define CUBIC_C_DEN 9765625u /* 5^10 */
/* |t - K| beyond this (17 minutes) gives the same clamped answers, and the
 * cube stays within 64 bits. */
#define CUBIC_D_MAX (1 << 20)
/* beta = 0.7 (§4.6); alpha_cubic = 3 * (1 - beta) / (1 + beta) = 9 / 17
 * (§4.3); fast convergence's (1 + beta) / 2 = 17 / 20 (§4.7). */
#define BETA_NUM  7u
#define BETA_DEN  10u
#define ALPHA_NUM 9u
#define ALPHA_DEN 17u
#define FAST_NUM  17u
#define FAST_DEN  20u
/* W_est keeps 16 more fractional bits in w_est_frac: one ACK adds
 * alpha * acked / cwnd segments, well below 2^-10 in a large window. */
#define EST_FRAC 16

/* HyStart++, RFC 9406 §4.3 (RTTs in ms). */
#define HS_NONE            0xffffu /* no RTT sample yet */
#define HS_DONE            7u      /* hs_css: HyStart++ is over */
#define HS_MIN_RTT_THRESH  4u
#define HS_MAX_RTT_THRESH  16u
#define HS_MIN_RTT_DIVISOR 8u
#define HS_N_RTT_SAMPLE    8u
#define HS_CSS_GROWTH_DIV  4u
#define HS_CSS_ROUNDS      5u
#define HS_SAMPLES_MAX     15u /* hs_samples saturates: only >= 8 counts */

uint32_t tcp_cubic_root(uint64_t x)
{
    /* Bit by bit from the top (Hacker's Delight, icbrt64): y is the
     * largest with y^3 <= x, and x becomes the remainder x - y^3. */
    uint64_t y = 0;
    for (int shift = 63; shift >= 0; shift -= 3) {
        y <<= 1;
        uint64_t b = 3 * y * (y + 1) + 1; /* (y + 1)^3 - y^3 */
        if ((x >> shift) >= b) {
            x -= b << shift;
            y++;
        }
    }
    /* The nearer of y and y + 1: (y + 1/2)^3 = y^3 + (12y^2 + 6y + 1) / 8. */
    if (8 * x >= 12 * y * y + 6 * y + 1)
        y++;
    return (uint32_t)y;
}

/* W_cubic(t) (§4.2 eq. 1), t in ms since the epoch began; segments << 10,
 * at least 0. */
static uint64_t w_cubic(const struct cubic_state *q, int64_t t)
{
    int64_t d = t - (int64_t)q->k;
    if (d > CUBIC_D_MAX)
        d = CUBIC_D_MAX;
    if (d < -CUBIC_D_MAX)
        d = -CUBIC_D_MAX;
    int64_t w = (int64_t)q->w_max +
                (int64_t)CUBIC_C_NUM * d * d * d / (int64_t)CUBIC_C_DEN;
    return w > 0 ? (uint64_t)w : 0;
}

static void cubic_init(struct tcp_conn *c)
{
    c->cc.cubic.epoch_start = 0; /* W_max is kept across epochs */
}

/* cwnd in segments << 10, to the nearest. */
static uint32_t cwnd_segs(const struct tcp_conn *c)
{
    uint64_t w = (((uint64_t)c->cwnd << W_SHIFT) + c->snd_mss / 2) / c->snd_mss;
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

/* W_est in segments << 26. */
static uint64_t w_est(const struct cubic_state *q)
{
    return (uint64_t)q->w_est << EST_FRAC | q->w_est_frac;
}

static void set_w_est(struct cubic_state *q, uint64_t est)
{
    if (est >> EST_FRAC > UINT32_MAX)
        est = (uint64_t)UINT32_MAX << EST_FRAC;
    q->w_est = (uint32_t)(est >> EST_FRAC);
    q->w_est_frac = (uint16_t)est;
}

static void cubic_start_epoch(struct berth_stack *s, struct tcp_conn *c,
                              uint32_t cwnd)
{
    struct cubic_state *q = &c->cc.cubic;
    q->epoch_start = tcp_ms_now(s);
    /* §4.8: the first avoidance stage after a timeout starts the curve at
     * the current window (W_max = cwnd, K = 0); so does a window that grew
     * past W_max. */
    if (q->after_rto || q->w_max < cwnd)
        q->w_max = cwnd;
    q->after_rto = 0;
    /* §4.2 eq. 2: K = cbrt((W_max - cwnd) / C), in ms. */
    q->k =
        tcp_cubic_root((uint64_t)(q->w_max - cwnd) * CUBIC_C_DEN / CUBIC_C_NUM);
    set_w_est(q, ((uint64_t)c->cwnd << (W_SHIFT + EST_FRAC)) / c->snd_mss);
}

/* §4.3: W_est grows by alpha_cubic segments per window acknowledged. */
static void grow_w_est(struct cubic_state *q, const struct tcp_conn *c,
                       uint32_t acked)
{
    uint64_t add = ((uint64_t)ALPHA_NUM * acked << (W_SHIFT + EST_FRAC)) /
                   ((uint64_t)ALPHA_DEN * c->cwnd);
    set_w_est(q, w_est(q) + add);
}

static void cubic_cong_avoid(struct berth_stack *s, struct tcp_conn *c,
                             uint32_t acked)
{
    struct cubic_state *q = &c->cc.cubic;
    uint32_t cwnd = cwnd_segs(c);
    if (!q->epoch_start)
        cubic_start_epoch(s, c, cwnd);
    /* §4.2: the target is W_cubic one RTT ahead, within [cwnd, 1.5 cwnd]. */
    uint32_t rtt = ((c->srtt ? c->srtt : 100000u) + 500u) / 1000u;
    int64_t t = (int64_t)(uint32_t)(tcp_ms_now(s) - q->epoch_start);
    uint64_t target = w_cubic(q, t + rtt);
    if (target < cwnd)
        target = cwnd;
    if (target > (uint64_t)cwnd * 3 / 2)
        target = (uint64_t)cwnd * 3 / 2;
    /* §4.3: the Reno-friendly region. */
    grow_w_est(q, c, acked);
    uint64_t bytes;
    if (w_cubic(q, t) << EST_FRAC < w_est(q)) {
        /* W_est in bytes; the + 1 makes up for its truncation, so that a
         * whole number of bytes does not come out one short. */
        bytes = (w_est(q) + 1) * c->snd_mss >> (W_SHIFT + EST_FRAC);
    } else {
        /* §4.4-4.5: (target - cwnd) / cwnd per acknowledged segment. */
        bytes = c->cwnd;
        if (cwnd)
            bytes += (target - cwnd) * acked / cwnd;
    }
    if (bytes > c->cwnd)
        c->cwnd = bytes > (1u << 30) ? (1u << 30) : (uint32_t)bytes;
}

static uint32_t cubic_ssthresh(struct berth_stack *s, struct tcp_conn *c)
{
    (void)s;
    struct cubic_state *q = &c->cc.cubic;
    uint32_t cwnd = cwnd_segs(c);
    /* §4.7 fast convergence: a loss before reaching the old W_max means
     * the available capacity dropped: release more. */
    if (cwnd < q->w_max)
        q->w_max = (uint32_t)((uint64_t)cwnd * FAST_NUM / FAST_DEN);
    else
        q->w_max = cwnd;
    q->epoch_start = 0;
    /* §4.6 Figure 5: ssthresh = flight_size * beta, at least 2 segments. */
    uint32_t th =
        (uint32_t)((uint64_t)tcp_flight_size(c) * BETA_NUM / BETA_DEN);
    return th > 2u * c->snd_mss ? th : 2u * c->snd_mss;
}

/* RTTs are kept as ms + 1, so that a zeroed state has no sample. */
static uint16_t rtt_none(void)
{
    return 0;
}
static uint16_t rtt_store(uint32_t ms) /* ms < HS_NONE */
{
    return (uint16_t)(ms + 1u);
}
static uint32_t rtt_ms(uint16_t kept)
{
    return kept ? kept - 1u : HS_NONE;
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
    struct cubic_state *q = &c->cc.cubic;
    if (!(c->flags & TF_TS) || c->ssthresh != UINT32_MAX ||
        q->hs_css == HS_DONE)
        return 1;
    if (!q->hs_rounds || seq_geq(c->snd_una, q->hs_round_end)) {
        /* A new round (the first at the first ACK). */
        if (q->hs_css && ++q->hs_css > HS_CSS_ROUNDS) {
            q->hs_css = HS_DONE;
            c->ssthresh = c->cwnd; /* §4.2: into congestion avoidance */
            return 0;
        }
        q->hs_rounds = 1;
        q->hs_last_min = q->hs_cur_min;
        q->hs_cur_min = rtt_none();
        q->hs_samples = 0;
        q->hs_round_end = c->snd_max;
    }
    if (seg->opts.has_ts && seg->opts.ts_ecr) {
        uint32_t rtt = tcp_ts_now(s, c->ts_offset) - seg->opts.ts_ecr;
        if (rtt < rtt_ms(q->hs_cur_min))
            q->hs_cur_min = rtt_store(rtt);
        if (q->hs_samples < HS_SAMPLES_MAX)
            q->hs_samples++;
    }
    uint32_t cur = rtt_ms(q->hs_cur_min), last = rtt_ms(q->hs_last_min);
    if (q->hs_samples >= HS_N_RTT_SAMPLE && cur != HS_NONE && last != HS_NONE) {
        if (!q->hs_css) {
            uint32_t th = last / HS_MIN_RTT_DIVISOR;
            th = th < HS_MIN_RTT_THRESH   ? HS_MIN_RTT_THRESH
                 : th > HS_MAX_RTT_THRESH ? HS_MAX_RTT_THRESH
                                          : th;
            if (cur >= last + th) {
                q->hs_css = 1;
                q->hs_css_base = q->hs_cur_min;
            }
        } else if (cur < rtt_ms(q->hs_css_base)) {
            q->hs_css = 0; /* a spurious exit: back to slow start */
            q->hs_css_base = rtt_none();
        }
    }
    return q->hs_css ? HS_CSS_GROWTH_DIV : 1;
}

static bool cubic_slow_start(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_seg *ack, uint32_t acked)
{
    uint32_t div = hystart(s, c, ack);
    if (!div)
        return false;
    tcp_cc_slow_start_grow(c, acked, div);
    return true;
}

static void cubic_on_rto(struct tcp_conn *c)
{
    c->cc.cubic.epoch_start = 0;
    c->cc.cubic.after_rto = 1;
}

const struct tcp_cc tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .cong_avoid = cubic_cong_avoid,
    .ssthresh = cubic_ssthresh,
    .on_rto = cubic_on_rto,
    .slow_start = cubic_slow_start,
};
