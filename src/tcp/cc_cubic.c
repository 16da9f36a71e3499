/* CUBIC (RFC 9438): after a loss the window follows
 *   W_cubic(t) = C * (t - K)^3 + W_max,   K = cbrt((W_max - cwnd_epoch) / C)
 * (§4.2), never below the Reno-friendly estimate W_est (§4.3); a loss
 * multiplies cwnd by beta = 0.7 (§4.6) and remembers W_max, lowered further
 * when the loss came before the old W_max was reached (fast convergence,
 * §4.7). Windows are counted in segments here, as in the RFC. */
#include "tcp/tcp.h"

#include <math.h>

#define CUBIC_C    0.4f /* §5: segments / s^3 */
#define CUBIC_BETA 0.7f /* §4.6 */
/* §4.3: alpha_cubic = 3 * (1 - beta) / (1 + beta) */
#define CUBIC_ALPHA (3.0f * (1.0f - CUBIC_BETA) / (1.0f + CUBIC_BETA))

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
};
