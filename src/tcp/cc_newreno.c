/* NewReno's window law (RFC 5681 §3.1): plain slow start up to ssthresh;
 * in congestion avoidance, one SMSS more per window of data acknowledged
 * (counted in bytes, RFC 3465); at a loss, half the flight. Recovery itself is
 * in tcp_cc.c (RFC 6582). */
#include "tcp/tcp.h"

static void newreno_init(struct tcp_conn *c)
{
    (void)c;
}

static void newreno_cong_avoid(struct berth_stack *s, struct tcp_conn *c,
                               uint32_t acked)
{
    (void)s;
    /* RFC 5681 §3.1 eq. 3 with byte counting: cwnd += SMSS once a full
     * cwnd of data has been acknowledged. */
    c->bytes_acked += acked;
    if (c->bytes_acked >= c->cwnd) {
        c->bytes_acked -= c->cwnd;
        c->cwnd += c->snd_mss;
    }
}

static bool newreno_slow_start(struct berth_stack *s, struct tcp_conn *c,
                               const struct tcp_seg *ack, uint32_t acked)
{
    (void)s;
    (void)ack;
    tcp_cc_slow_start_grow(c, acked, 1); /* plain, until ssthresh */
    return true;
}

static uint32_t newreno_ssthresh(struct berth_stack *s, struct tcp_conn *c)
{
    (void)s;
    /* RFC 5681 §3.1 eq. 4: max(FlightSize / 2, 2 * SMSS). */
    uint32_t half = tcp_flight_size(c) / 2;
    return half > 2u * c->snd_mss ? half : 2u * c->snd_mss;
}

const struct tcp_cc tcp_cc_newreno = {
    .name = "newreno",
    .init = newreno_init,
    .cong_avoid = newreno_cong_avoid,
    .ssthresh = newreno_ssthresh,
    .slow_start = newreno_slow_start,
};
