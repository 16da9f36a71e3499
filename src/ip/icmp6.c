/* ICMPv6 (RFC 4443): echo replies within the token bucket ICMP shares
 * (§2.4 (f)), error messages handed to the transport that sent what they
 * quote (in ICMPv4's terms, so TCP and UDP have one path), Packet Too Big
 * for Path MTU Discovery (RFC 8201), and destination unreachable for what
 * we cannot deliver. */
#include "ip/ip.h"

#include <string.h>

static int icmp6_drop(struct berth_stack *s, enum berth_reason why)
{
    stack_trace_drop(s, -1, false, 0, 0, 0, 0, why);
    return (int)why;
}

/* RFC 4443 §4.2: the reply carries the request's identifier, sequence
 * number and data, back to its source, from the address it was sent to
 * (ours: the caller took only packets to our unicast address). */
static int echo_reply(struct berth_stack *s, const struct ipv6_info *ip,
                      const struct icmp_info *m)
{
    stack_count(s, BERTH_CTR_ICMP_IN_ECHOS);
    if (!s->cfg.icmp_echo)
        return icmp6_drop(s, BERTH_REASON_ICMP_IGNORED);
    if (!icmp_allowed(s))
        return icmp6_drop(s, BERTH_REASON_ICMP_RATE_LIMITED);
    uint8_t dst[16];
    memcpy(dst, ip->src, 16); /* ip->src points into the packet */
    uint8_t *icmp = s->txbuf + IPV6_HDR_LEN;
    memmove(icmp + ICMP_HDR_LEN, m->data, m->data_len);
    size_t n = icmp6_emit(icmp, s->cfg.addr6, dst, ICMP6_ECHO_REPLY, 0,
                          (uint32_t)m->id << 16 | m->seq, m->data_len);
    stack_count(s, BERTH_CTR_ICMP_OUT);
    stack_count(s, BERTH_CTR_ICMP_OUT_ECHO_REPS);
    ip6_send(s, dst, IPV6_NH_ICMP6, n);
    return 0;
}

/* RFC 4443 §3 in ICMPv4's terms (as Linux's icmpv6_err_convert): which
 * errors are hard follows RFC 5461 §4 and Linux (port unreachable and the
 * administrative codes); no route, beyond scope and address unreachable
 * are soft, as host unreachable is. */
static void err_convert(const struct icmp_info *m, struct icmp_err *e)
{
    e->type = ICMP_DEST_UNREACH;
    switch (m->type) {
    case ICMP6_PACKET_TOO_BIG:
        e->code = ICMP_FRAG_NEEDED;
        e->mtu = m->mtu;
        return;
    case ICMP6_TIME_EXCEEDED:
        e->type = ICMP_TIME_EXCEEDED;
        e->code = m->code;
        return;
    case ICMP6_PARAM_PROBLEM:
        e->type = ICMP_PARAM_PROBLEM;
        e->code = m->code;
        return;
    default:
        break;
    }
    switch (m->code) {
    case ICMP6_NO_ROUTE:
        e->code = ICMP_NET_UNREACH;
        break;
    case ICMP6_PORT_UNREACH:
        e->code = ICMP_PORT_UNREACH;
        break;
    case ICMP6_ADM_PROHIBITED:
    case ICMP6_POLICY_FAIL:
    case ICMP6_REJECT_ROUTE:
        e->code = ICMP_PKT_FILTERED;
        break;
    default:
        e->code = ICMP_HOST_UNREACH;
        break;
    }
}

/* An error message: what it quotes must be a packet we sent (our address
 * as its source, to a peer we hold records for: its address is interned,
 * else nothing of ours can be concerned); the transport validates the
 * rest (RFC 5927 §4.1) and acts. */
static int error_input(struct berth_stack *s, const struct icmp_info *m)
{
    struct icmp6_quote q6;
    struct icmp_err e = {.v6 = true};
    err_convert(m, &e);
    int r = icmp6_quote_parse(m, &q6);
    if (r == 0 && memcmp(q6.src, s->cfg.addr6, 16) != 0)
        r = BERTH_REASON_ICMP_BAD_QUOTE;
    /* A TCP peer's address is interned while a record holds it; UDP's
     * are not, so UDP matches the quoted address itself. */
    int64_t dst = r == 0 ? addr6_find(&s->addr6, q6.dst) : -1;
    if (r == 0 && dst < 0 && q6.proto == IPPROTO_TCP_NUM)
        r = BERTH_REASON_ICMP_NO_CONNECTION;
    if (r == 0) {
        e.dst6 = q6.dst;
        e.q = (struct icmp_quote){
            .src = s->addr6_id,
            .dst = dst < 0 ? 0 : (uint32_t)dst,
            .proto = q6.proto,
            .total_len = q6.total_len,
            .sport = q6.sport,
            .dport = q6.dport,
            .seq = q6.seq,
        };
        r = q6.proto == IPPROTO_TCP_NUM ? tcp_icmp_error(s, &e)
                                        : udp_icmp_error(s, &e);
    }
    if (r == 0)
        return 0;
    if (r == BERTH_REASON_ICMP_BAD_QUOTE ||
        r == BERTH_REASON_ICMP_NO_CONNECTION ||
        r == BERTH_REASON_ICMP_SEQ_OUT_OF_WINDOW)
        stack_count(s, BERTH_CTR_ICMP_REJECTED);
    if (r == BERTH_REASON_ICMP_BAD_QUOTE || dst <= 0)
        return icmp6_drop(s, (enum berth_reason)r);
    stack_trace_drop(s, -1, true, e.q.src, e.q.sport, e.q.dst, e.q.dport,
                     (enum berth_reason)r);
    return r;
}

int icmp6_input(struct berth_stack *s, const struct ipv6_info *ip)
{
    stack_count(s, BERTH_CTR_ICMP_IN);
    struct icmp_info m;
    int r = icmp6_parse(ip->payload, ip->payload_len, ip->src, ip->dst, &m);
    if (r != 0) {
        stack_count(s, BERTH_CTR_ICMP_IN_ERRORS);
        return icmp6_drop(s, (enum berth_reason)r);
    }
    switch (m.type) {
    case ICMP6_ECHO:
        return echo_reply(s, ip, &m);
    case ICMP6_DEST_UNREACH:
        stack_count(s, BERTH_CTR_ICMP_IN_DEST_UNREACHS);
        return error_input(s, &m);
    case ICMP6_PACKET_TOO_BIG:
        stack_count(s, BERTH_CTR_ICMP6_IN_PKT_TOOBIGS);
        return error_input(s, &m);
    case ICMP6_TIME_EXCEEDED:
        stack_count(s, BERTH_CTR_ICMP_IN_TIME_EXCEEDS);
        return error_input(s, &m);
    case ICMP6_PARAM_PROBLEM:
        stack_count(s, BERTH_CTR_ICMP_IN_PARM_PROBS);
        return error_input(s, &m);
    default:
        /* Echo replies (we send no requests); RFC 4443 §2.4 (a), (b):
         * unknown errors (type < 128) are passed to the transport only
         * if known, informational ones silently discarded; neighbour
         * discovery (RFC 4861) is not needed on a point-to-point TUN. */
        return icmp6_drop(s, BERTH_REASON_ICMP_IGNORED);
    }
}

bool icmp6_send_unreach(struct berth_stack *s, const struct ipv6_info *ip,
                        uint8_t code)
{
    if (!icmp_allowed(s))
        return false;
    /* RFC 4443 §3.1: as much of the invoking packet as fits in the
     * minimum MTU (§2.4 (c)). */
    const uint8_t *orig = ip->src - 8; /* the packet's first byte */
    size_t qlen = (size_t)(ip->payload - orig) + ip->payload_len;
    if (qlen > ICMP6_QUOTE_MAX)
        qlen = ICMP6_QUOTE_MAX;
    uint8_t dst[16];
    memcpy(dst, ip->src, 16);
    uint8_t *icmp = s->txbuf + IPV6_HDR_LEN;
    memmove(icmp + ICMP_HDR_LEN, orig, qlen);
    size_t n =
        icmp6_emit(icmp, s->cfg.addr6, dst, ICMP6_DEST_UNREACH, code, 0, qlen);
    stack_count(s, BERTH_CTR_ICMP_OUT);
    stack_count(s, BERTH_CTR_ICMP_OUT_DEST_UNREACHS);
    ip6_send(s, dst, IPV6_NH_ICMP6, n);
    return true;
}
