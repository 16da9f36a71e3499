/* CUBIC (RFC 9438): after a loss the window follows
 *   W_cubic(t) = C * (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 * (§4.2), never below the Reno-friendly estimate W_est (§4.3); a loss
 * multiplies cwnd by beta = 0.7 (§4.6) and remembers W_max, lowered further
 * when the loss came before the old W_max was reached (fast convergence,
 * §4.7). Windows are counted in segments here, as in the RFC. The first
 * slow start ends by HyStart++ (RFC 9406), as §4.10 asks. */
#include "tcp/tcp.h"

#include "base/seq.h"

#include <math.h>

#define CUBIC_C    0.4f /* §5: segments / s^3 */
#define CUBIC_BETA 0.7f /* §4.6 */
/* §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta) */
#define CUBIC_ALPHA (3.0f * (1.0f - CUBIC_BETA) / (1.0f + CUBIC_BETA))

/* HyStart++, RFC 9406 §4.3 (RTTs in ms). */
#define HS_NONE            0xffffu /* no RTT sample yet */
#define HS_DONE            7u      /* hs_css: HyStart++ is over */
#define HS_MIN_RTT_THRESH  4u
#define HS_MAX_RTT_THRESH  16u
#define HS_MIN_RTT_DIVISOR 8u
#define HS_N_RTT_SAMPLE    8u
#define HS_CSS_GROWTH_DIV  4u
#define HS_CSS_ROUNDS      5u

static void cubic_init(struct tcp_conn *c)
{
    c->cc.cubic.epoch_start = 0; /* W_max is kept across epochs */
}

static void cubic_start_epoch(struct berth_stack *s, struct tcp_conn *c,
                              float cwnd)
{
    struct cubic_state *q = &c->cc.cubic;
    q->epoch_start = tcp_ms_now(s);
    /* §4.8: the first avoidance stage after a timeout starts the curve at
     * the current window (W_max = cwnd, K = 0); so does a window that grew
     * past W_max. */
    if (q->after_rto || q->w_max < cwnd)
        q->w_max = cwnd;
    q->after_rto = false;
    q->k = cbrtf((q->w_max - cwnd) / CUBIC_C); /* §4.2 eq. 2 */
    q->w_est = cwnd;
}

static void cubic_cong_avoid(struct berth_stack *s, struct tcp_conn *c,
                             uint32_t acked)
{
    struct cubic_state *q = &c->cc.cubic;
    float mss = (float)c->snd_mss;
    float cwnd = (float)c->cwnd / mss;
    if (!q->epoch_start)
        cubic_start_epoch(s, c, cwnd);
    /* §4.2: the target is W_cubic one RTT ahead, within [cwnd, 1.5 cwnd]. */
    float rtt = (float)(c->srtt ? c->srtt : 100000u) / 1e6f;
    float t = (float)(tcp_ms_now(s) - q->epoch_start) / 1e3f;
    float d = t + rtt - q->k;
    float target = CUBIC_C * d * d * d + q->w_max;
    if (target < cwnd)
        target = cwnd;
    if (target > 1.5f * cwnd)
        target = 1.5f * cwnd;
    /* §4.3: the Reno-friendly region. */
    float segs = (float)acked / mss;
    q->w_est += CUBIC_ALPHA * segs / cwnd;
    float d0 = t - q->k;
    float w_cubic = CUBIC_C * d0 * d0 * d0 + q->w_max;
    float next;
    if (w_cubic < q->w_est)
        next = q->w_est > cwnd ? q->w_est : cwnd;
    else /* §4.4-4.5: (target - cwnd) / cwnd per acknowledged segment */
        next = cwnd + (target - cwnd) / cwnd * segs;
    uint64_t bytes = (uint64_t)(next * mss);
    if (bytes > c->cwnd)
        c->cwnd = bytes > (1u << 30) ? (1u << 30) : (uint32_t)bytes;
}

static uint32_t cubic_ssthresh(struct berth_stack *s, struct tcp_conn *c)
{
    (void)s;
    struct cubic_state *q = &c->cc.cubic;
    float cwnd = (float)c->cwnd / (float)c->snd_mss;
    /* §4.7 fast convergence: a loss before reaching the old W_max means
     * the available capacity dropped: release more. */
    if (cwnd < q->w_max)
        q->w_max = cwnd * (1.0f + CUBIC_BETA) / 2.0f;
    else
        q->w_max = cwnd;
    q->epoch_start = 0;
    /* §4.6 Figure 5: ssthresh = flight_size * beta, at least 2 segments. */
    uint32_t th = (uint32_t)((float)tcp_flight_size(c) * CUBIC_BETA);
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
        if (q->hs_samples < UINT8_MAX)
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
    c->cc.cubic.after_rto = true;
}

const struct tcp_cc tcp_cc_cubic = {
    .name = "cubic",
    .init = cubic_init,
    .cong_avoid = cubic_cong_avoid,
    .ssthresh = cubic_ssthresh,
    .on_rto = cubic_on_rto,
    .slow_start = cubic_slow_start,
};
