/* ICMP for IPv4 (RFC 792, RFC 1122 §3.2.2): echo replies, error messages
 * handed to the transport that sent what they quote, destination
 * unreachable for what we cannot deliver, and the token bucket that
 * limits every ICMP message we send (RFC 4443 §2.4 (f)). */
#include "ip/ip.h"

#include "wire/tcp.h"
#include "wire/udp.h"

#include <string.h>

#define USEC_PER_SEC 1000000u

/* RFC 4443 §2.4 (f), the token bucket: icmp_rate tokens per second, at
 * most icmp_burst saved up; each message takes one. Kept in µs of credit
 * (a token is 10^6 / icmp_rate µs), which needs no division per call. The
 * bucket starts full. ICMPv6 (icmp6.c) draws on the same bucket. */
bool icmp_allowed(struct berth_stack *s)
{
    const struct berth_config *cfg = &s->cfg;
    if (cfg->icmp_rate == 0)
        return true;
    uint64_t cost = USEC_PER_SEC / cfg->icmp_rate;
    if (cost == 0)
        cost = 1;
    uint64_t cap = cost * (cfg->icmp_burst ? cfg->icmp_burst : 1u);
    if (!s->icmp_bucket_started) {
        s->icmp_bucket_started = true;
        s->icmp_credit = cap;
    } else if (s->now > s->icmp_credit_at) {
        uint64_t add = s->now - s->icmp_credit_at;
        s->icmp_credit = add >= cap || s->icmp_credit + add > cap
                             ? cap
                             : s->icmp_credit + add;
    }
    s->icmp_credit_at = s->now;
    if (s->icmp_credit < cost) {
        stack_count(s, BERTH_CTR_ICMP_RATE_LIMITED);
        return false;
    }
    s->icmp_credit -= cost;
    return true;
}

static int icmp_drop(struct berth_stack *s, const struct ipv4_info *ip,
                     enum berth_reason why)
{
    stack_trace_drop(s, -1, false, ip->dst, 0, ip->src, 0, why);
    return (int)why;
}

/* RFC 792 echo / RFC 1122 §3.2.2.6: the reply carries the request's
 * identifier, sequence number and data, back to its source. */
static int echo_reply(struct berth_stack *s, const struct ipv4_info *ip,
                      const struct icmp_info *m)
{
    stack_count(s, BERTH_CTR_ICMP_IN_ECHOS);
    if (!s->cfg.icmp_echo)
        return icmp_drop(s, ip, BERTH_REASON_ICMP_IGNORED);
    if (!icmp_allowed(s))
        return icmp_drop(s, ip, BERTH_REASON_ICMP_RATE_LIMITED);
    uint8_t *icmp = s->txbuf + IPV4_HDR_LEN;
    memcpy(icmp + ICMP_HDR_LEN, m->data, m->data_len);
    size_t n = icmp_emit(icmp, ICMP_ECHO_REPLY, 0,
                         (uint32_t)m->id << 16 | m->seq, m->data_len);
    stack_count(s, BERTH_CTR_ICMP_OUT);
    stack_count(s, BERTH_CTR_ICMP_OUT_ECHO_REPS);
    ip_send(s, ip->src, IPPROTO_ICMP_NUM, n);
    return 0;
}

/* An error message: what it quotes must be a datagram we sent (our
 * address as its source); the transport that sent it validates the rest
 * (RFC 5927 §4.1) and acts (RFC 1122 §3.2.2.1, §4.2.3.9; RFC 5461). */
static int error_input(struct berth_stack *s, const struct ipv4_info *ip,
                       const struct icmp_info *m)
{
    struct icmp_err e = {.type = m->type, .code = m->code};
    if (m->type == ICMP_DEST_UNREACH && m->code == ICMP_FRAG_NEEDED)
        e.mtu = m->mtu;
    int r = icmp_quote_parse(m, &e.q);
    if (r == 0 && e.q.src != s->cfg.addr)
        r = BERTH_REASON_ICMP_BAD_QUOTE;
    if (r == 0) {
        if (e.q.proto == IPPROTO_TCP_NUM)
            r = tcp_icmp_error(s, &e);
        else if (e.q.proto == IPPROTO_UDP_NUM)
            r = udp_icmp_error(s, &e);
        else
            r = BERTH_REASON_ICMP_NO_CONNECTION;
    }
    if (r == 0)
        return 0;
    if (r == BERTH_REASON_ICMP_BAD_QUOTE ||
        r == BERTH_REASON_ICMP_NO_CONNECTION ||
        r == BERTH_REASON_ICMP_SEQ_OUT_OF_WINDOW)
        stack_count(s, BERTH_CTR_ICMP_REJECTED);
    if (r == BERTH_REASON_ICMP_BAD_QUOTE)
        return icmp_drop(s, ip, (enum berth_reason)r);
    stack_trace_drop(s, -1, false, e.q.src, e.q.sport, e.q.dst, e.q.dport,
                     (enum berth_reason)r);
    return r;
}

int icmp_input(struct berth_stack *s, const struct ipv4_info *ip)
{
    stack_count(s, BERTH_CTR_ICMP_IN);
    struct icmp_info m;
    int r = icmp_parse(ip->payload, ip->payload_len, &m);
    if (r != 0) {
        stack_count(s, BERTH_CTR_ICMP_IN_ERRORS);
        return icmp_drop(s, ip, (enum berth_reason)r);
    }
    switch (m.type) {
    case ICMP_ECHO:
        return echo_reply(s, ip, &m);
    case ICMP_DEST_UNREACH:
        stack_count(s, BERTH_CTR_ICMP_IN_DEST_UNREACHS);
        return error_input(s, ip, &m);
    case ICMP_TIME_EXCEEDED:
        stack_count(s, BERTH_CTR_ICMP_IN_TIME_EXCEEDS);
        return error_input(s, ip, &m);
    case ICMP_PARAM_PROBLEM:
        stack_count(s, BERTH_CTR_ICMP_IN_PARM_PROBS);
        return error_input(s, ip, &m);
    default:
        /* Echo replies (we send no requests), redirects (RFC 1122
         * §3.2.2.2: a host on a point-to-point link has no better first
         * hop), source quench (RFC 6633: ignored), timestamps. */
        return icmp_drop(s, ip, BERTH_REASON_ICMP_IGNORED);
    }
}

bool icmp_send_unreach(struct berth_stack *s, const struct ipv4_info *ip,
                       uint8_t code)
{
    if (!icmp_allowed(s))
        return false;
    /* RFC 792 / RFC 1812 §4.3.2.3: the offending datagram's header and
     * as much of its data as fits in 576 bytes. */
    const uint8_t *orig = ip->payload - ip->hdr_len;
    size_t qlen = (size_t)ip->hdr_len + ip->payload_len;
    if (qlen > ICMP_QUOTE_MAX)
        qlen = ICMP_QUOTE_MAX;
    uint8_t *icmp = s->txbuf + IPV4_HDR_LEN;
    memcpy(icmp + ICMP_HDR_LEN, orig, qlen);
    size_t n = icmp_emit(icmp, ICMP_DEST_UNREACH, code, 0, qlen);
    stack_count(s, BERTH_CTR_ICMP_OUT);
    stack_count(s, BERTH_CTR_ICMP_OUT_DEST_UNREACHS);
    ip_send(s, ip->src, IPPROTO_ICMP_NUM, n);
    return true;
}
