/* ICMP errors about segments a connection sent (RFC 9293 §3.9.2.2, RFC
 * 1122 §4.2.3.9, RFC 5461): validated against the connection (RFC 5927
 * §4.1), soft errors remembered, hard errors ending an opening connection,
 * and Path MTU Discovery's "fragmentation needed" (RFC 1191 §6) or, over
 * IPv6, Packet Too Big (RFC 8201; icmp6.c tells it in ICMPv4's terms). Also the
 * black-hole detection that lowers the MSS when full-sized segments keep
 * timing out (RFC 4821 style). */
#include "base/seq.h"
#include "ip/ip.h"
#include "tcp/tcp.h"

/* The error an ICMP message means to the application (Linux's
 * icmp_err_convert, so programs see what they see on Linux). */
static int icmp_errno(const struct icmp_err *e)
{
    if (e->type == ICMP_PARAM_PROBLEM)
        return BERTH_EPROTO;
    if (e->type != ICMP_DEST_UNREACH)
        return BERTH_EHOSTUNREACH; /* time exceeded */
    switch (e->code) {
    case ICMP_NET_UNREACH:
    case ICMP_NET_ANO:
        return BERTH_ENETUNREACH;
    case ICMP_PROTO_UNREACH:
        return BERTH_ENOPROTOOPT;
    case ICMP_PORT_UNREACH:
        return BERTH_ECONNREFUSED;
    default:
        return BERTH_EHOSTUNREACH;
    }
}

/* RFC 9293 §3.9.2.2: Destination Unreachable codes 2-4 are hard errors
 * (4, fragmentation needed, is PMTUD's business); the administrative
 * codes 9, 10 and 13 (RFC 1812 §5.2.7.1) are treated alike, as Linux
 * does. Everything else is soft. */
static bool icmp_hard(const struct icmp_err *e)
{
    if (e->type != ICMP_DEST_UNREACH)
        return false;
    return e->code == ICMP_PROTO_UNREACH || e->code == ICMP_PORT_UNREACH ||
           e->code == ICMP_NET_ANO || e->code == ICMP_HOST_ANO ||
           e->code == ICMP_PKT_FILTERED;
}

/* RFC 1191 §7: without a next-hop MTU (an old router), the largest
 * plateau below the size of the datagram that did not fit. */
static uint16_t plateau_below(uint16_t len)
{
    static const uint16_t plateaus[] = {32000, 17914, 8166, 4352, 2002,
                                        1492,  1006,  508,  296,  68};
    for (unsigned i = 0; i < sizeof plateaus / sizeof plateaus[0]; i++)
        if (plateaus[i] < len)
            return plateaus[i];
    return 68;
}

/* The IP and TCP headers below the MTU: 40 over IPv4, 60 over IPv6. */
static uint16_t tcp_ip_hdrs(const struct tcp_conn *c)
{
    return c->n.v6 ? 60u : 40u;
}

/* The smallest path MTU believed: cfg.pmtu_min over IPv4; over IPv6 the
 * minimum link MTU, 1280 (RFC 8201 §4: a Packet Too Big reporting less
 * MUST NOT reduce the path MTU below it), so the MSS floor is 1220. */
static uint16_t pmtu_floor(const struct berth_stack *s, bool v6)
{
    return v6 ? IPV6_MIN_MTU : s->cfg.pmtu_min;
}

/* RFC 1191 §6: "fragmentation needed and DF set" lowers the connection's
 * MSS to the next-hop MTU less the headers, never below the floor
 * (cfg.pmtu_min); the destination's cache entry learns it; and the
 * segments the router dropped are sent again at the new size at once
 * (§6.5: this is not congestion, so the window stays as it is; as Linux's
 * tcp_simple_retransmit). */
static int pmtu_input(struct berth_stack *s, struct tcp_conn *c,
                      const struct icmp_err *e)
{
    if (!s->cfg.pmtu_discovery)
        return BERTH_REASON_ICMP_PMTU_IGNORED;
    uint32_t mtu = e->mtu || e->v6 ? e->mtu : plateau_below(e->q.total_len);
    /* A datagram no larger than the MTU reported could not have needed
     * fragmenting (RFC 1191 §6.1: such a message is not believed; RFC
     * 8201 §4 likewise never raises a path's MTU from a Packet Too Big). */
    if (mtu >= e->q.total_len)
        return BERTH_REASON_ICMP_PMTU_IGNORED;
    if (mtu < pmtu_floor(s, c->n.v6))
        mtu = pmtu_floor(s, c->n.v6);
    pmtu_set(s, c->n.v6, c->n.raddr, (uint16_t)mtu);
    uint16_t mss = (uint16_t)(mtu - tcp_ip_hdrs(c)); /* IP + TCP headers */
    if (mss >= c->snd_mss)
        return BERTH_REASON_ICMP_PMTU_IGNORED;
    c->snd_mss = mss;
    stack_count(s, BERTH_CTR_PMTU_DECREASES);
    /* In fast recovery the recovery's own retransmissions (at the new
     * MSS) repair what the router dropped. */
    if (tcp_state_synchronized(c->state) && !(c->flags & TF_RECOVERY) &&
        c->snd_una != c->snd_max && seq_lt(c->snd_una, c->snd_nxt)) {
        c->rtt_time = 0;         /* Karn: what follows is resent */
        c->snd_nxt = c->snd_una; /* go back, at the new size */
        tcp_output(s, c);
    }
    return 0;
}

int tcp_icmp_error(struct berth_stack *s, const struct icmp_err *e)
{
    struct tcp_node *n =
        tcp_lookup(s, e->v6, e->q.src, e->q.sport, e->q.dst, e->q.dport);
    if (!n || n->kind != TCP_NODE_CONN)
        return BERTH_REASON_ICMP_NO_CONNECTION;
    struct tcp_conn *c = (struct tcp_conn *)n;
    /* RFC 5927 §4.1 (and RFC 5961 in spirit): an error about a segment we
     * sent quotes a sequence number in SND.UNA..SND.NXT-1; anything else
     * is forged or stale and changes nothing. */
    if (seq_lt(e->q.seq, c->snd_una) || !seq_lt(e->q.seq, c->snd_max))
        return BERTH_REASON_ICMP_SEQ_OUT_OF_WINDOW;
    if (e->type == ICMP_DEST_UNREACH && e->code == ICMP_FRAG_NEEDED)
        return pmtu_input(s, c, e);
    int err = icmp_errno(e);
    /* RFC 5461 §4 and RFC 9293 §3.9.2.2: a hard error aborts a connection
     * still opening; once synchronized it is taken as soft (a middlebox's
     * forged message must not kill a working connection). Soft errors
     * never abort (MUST-56): they are remembered and reported only if the
     * connection then times out (tcp_timeout_error). */
    if (c->state == BERTH_STATE_SYN_SENT && icmp_hard(e)) {
        stack_count(s, BERTH_CTR_ICMP_HARD_ERRORS);
        stack_count(s, BERTH_CTR_ATTEMPT_FAILS);
        tcp_conn_fail(s, c, err, BERTH_REASON_ICMP_HARD_ERROR);
        return 0;
    }
    c->soft_error = (int16_t)err;
    stack_count(s, BERTH_CTR_ICMP_SOFT_ERRORS);
    return 0;
}

int tcp_timeout_error(const struct tcp_conn *c)
{
    return c->soft_error ? c->soft_error : BERTH_ETIMEDOUT;
}

void tcp_mtu_blackhole_check(struct berth_stack *s, struct tcp_conn *c)
{
    /* The segment at SND.UNA timed out mtu_probing times in a row and is
     * full-sized (at least the MSS less the most options can take): a
     * router may be dropping it for its size without telling us (RFC 4821
     * §1, RFC 2923 §2.1). Halve the MSS, down to the floor; the path's
     * cache entry learns the smaller size. */
    uint8_t n = s->cfg.mtu_probing;
    uint16_t floor = (uint16_t)(pmtu_floor(s, c->n.v6) - tcp_ip_hdrs(c));
    if (n == 0 || c->rexmits + 1u != n || c->snd_mss <= floor ||
        !tcp_state_synchronized(c->state) ||
        c->snd_max - c->snd_una < (uint32_t)c->snd_mss - 40u)
        return;
    uint16_t mss = c->snd_mss / 2u < floor ? floor : c->snd_mss / 2u;
    c->snd_mss = mss;
    pmtu_set(s, c->n.v6, c->n.raddr, (uint16_t)(mss + tcp_ip_hdrs(c)));
    stack_count(s, BERTH_CTR_MTU_BLACKHOLE_PROBES);
}
