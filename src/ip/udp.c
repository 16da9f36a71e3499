/* UDP (RFC 768): sockets bound to a local port (one socket a port),
 * optionally connected to one peer; each holds a bounded queue of received
 * datagrams (cfg.udp_rcvq_max datagrams, cfg.udp_rcvq_bytes bytes, the
 * memory budget) and drops and counts beyond it. A datagram to a port
 * without a socket is answered with ICMP port unreachable (RFC 1122
 * §4.1.3.1), within the ICMP rate limit. Readiness goes through the same
 * handle table and event callback as TCP's.
 *
 * Both families: a socket bound to an IPv4 address (or 0.0.0.0) takes
 * IPv4 only, one bound to our IPv6 address IPv6 only, one bound to "::"
 * both, reporting IPv4 peers as ::ffff:a.b.c.d (as Linux without
 * IPV6_V6ONLY). An unbound socket binds on first use by its peer's
 * family: IPv4 for an IPv4 peer, "::" for an IPv6 or mapped one. */
#include "ip/ip.h"

#include "wire/udp.h"

#include <string.h>

struct udp_dgram {
    struct udp_dgram *next;
    struct berth_endpoint from; /* as received (IPv4 never mapped) */
    uint16_t len;
    uint8_t data[];
};

/* What a bound socket takes. */
enum udp_bound {
    UDP_BOUND_NONE,
    UDP_BOUND_V4,   /* an IPv4 address or 0.0.0.0 */
    UDP_BOUND_V6,   /* our IPv6 address */
    UDP_BOUND_DUAL, /* "::": both families */
};

struct udp_sock {
    struct hnode h;             /* in s->udp by lport, once bound */
    uint8_t bound;              /* enum udp_bound; lport != 0 once bound */
    uint32_t laddr;             /* host order */
    uint16_t lport, rport;      /* rport 0: not connected */
    struct berth_endpoint peer; /* when connected: IPv4 (a mapped peer
                                   unmapped) or IPv6 */
    int32_t sock;
    int16_t error; /* pending error (negative berth_errno), connected only */
    uint32_t q_count, q_bytes; /* what the queue holds */
    struct udp_dgram *q_head, *q_tail;
};

/* An endpoint as the socket reports it: an IPv4 one as ::ffff:a.b.c.d on
 * a dual-stack socket (RFC 4291 §2.5.5.2). */
static struct berth_endpoint ep_report(const struct udp_sock *u,
                                       const struct berth_endpoint *ep)
{
    if (u->bound != UDP_BOUND_DUAL || ep->family == BERTH_AF_INET6)
        return *ep;
    uint8_t a[16] = {[10] = 0xff, [11] = 0xff};
    a[12] = (uint8_t)(ep->addr >> 24);
    a[13] = (uint8_t)(ep->addr >> 16);
    a[14] = (uint8_t)(ep->addr >> 8);
    a[15] = (uint8_t)ep->addr;
    return berth_endpoint_v6(a, ep->port);
}

/* A peer endpoint as the wire carries it: mapped addresses unmapped. */
static struct berth_endpoint ep_wire(const struct berth_endpoint *ep)
{
    uint32_t v4;
    if (berth_endpoint_v4mapped(ep, &v4))
        return berth_endpoint_v4(v4, ep->port);
    return *ep;
}

static bool ep_unspecified(const struct berth_endpoint *ep)
{
    if (ep->family != BERTH_AF_INET6)
        return ep->addr == 0;
    for (int i = 0; i < 16; i++)
        if (ep->addr6[i])
            return false;
    return true;
}

/* Whether a socket bound as u is takes (or may send to) a peer of this
 * family. */
static bool family_ok(const struct udp_sock *u, bool v6)
{
    return u->bound == UDP_BOUND_DUAL || u->bound == UDP_BOUND_NONE ||
           (u->bound == UDP_BOUND_V6) == v6;
}

static bool ep_equal(const struct berth_endpoint *a,
                     const struct berth_endpoint *b)
{
    if (a->family != b->family || a->port != b->port)
        return false;
    return a->family == BERTH_AF_INET6 ? memcmp(a->addr6, b->addr6, 16) == 0
                                       : a->addr == b->addr;
}

static uint64_t port_hash(uint16_t port)
{
    return (uint64_t)port * 0x9e3779b97f4a7c15ull >> 16;
}

static uint64_t udp_rehash(const struct hnode *h, void *ctx)
{
    (void)ctx;
    return port_hash(((const struct udp_sock *)h)->lport);
}

static struct udp_sock *udp_find(const struct berth_stack *s, uint16_t port)
{
    if (!s->udp.buckets)
        return NULL;
    struct htable_iter it;
    for (struct hnode *h = htable_first(&s->udp, port_hash(port), &it); h;
         h = htable_next(&s->udp, &it)) {
        struct udp_sock *u = (struct udp_sock *)h;
        if (u->lport == port)
            return u;
    }
    return NULL;
}

int udp_user_socket(struct berth_stack *s)
{
    if (!s->udp.buckets &&
        htable_init(&s->udp, &s->tmem, 8, udp_rehash, NULL) != 0)
        return BERTH_ENOMEM;
    struct udp_sock *u = mem_alloc(&s->mem, sizeof *u);
    if (!u)
        return BERTH_ENOMEM;
    int h = sock_alloc(s, SOCK_UDP, u);
    if (h < 0) {
        mem_free(&s->mem, u, sizeof *u);
        return h;
    }
    u->sock = h;
    return h;
}

/* RFC 6056 §3.3.2 style, as TCP's: a random start, then the next free. */
static int pick_port(struct berth_stack *s)
{
    uint32_t lo = s->cfg.ephemeral_lo, n = s->cfg.ephemeral_hi - lo + 1;
    uint32_t start = (uint32_t)rng_below(&s->rng, n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(lo + (start + i) % n);
        if (!udp_find(s, p))
            return p;
    }
    return BERTH_EADDRNOTAVAIL;
}

int udp_user_bind(struct berth_stack *s, struct udp_sock *u,
                  const struct berth_endpoint *ep)
{
    if (u->lport)
        return BERTH_EINVAL;
    uint16_t port = ep->port;
    uint32_t addr = ep->addr;
    uint8_t bound = UDP_BOUND_V4;
    if (ep->family == BERTH_AF_INET6 && !berth_endpoint_v4mapped(ep, &addr)) {
        if (!s->ipv6) /* as TCP's bind: no such address here */
            return BERTH_EADDRNOTAVAIL;
        if (ep_unspecified(ep))
            bound = UDP_BOUND_DUAL;
        else if (memcmp(ep->addr6, s->cfg.addr6, 16) == 0)
            bound = UDP_BOUND_V6;
        else
            return BERTH_EADDRNOTAVAIL;
        addr = 0;
    }
    if (addr != 0 && addr != s->cfg.addr)
        return BERTH_EADDRNOTAVAIL;
    if (port == 0) {
        int p = pick_port(s);
        if (p < 0)
            return p;
        port = (uint16_t)p;
    } else if (udp_find(s, port)) {
        return BERTH_EADDRINUSE;
    }
    u->laddr = s->cfg.addr;
    u->lport = port;
    u->bound = bound;
    htable_insert(&s->udp, &u->h, port_hash(port));
    return 0;
}

/* Binds an unbound socket for a peer: "::" for an IPv6 (or mapped) one
 * when IPv6 is on, else 0.0.0.0; the port from the ephemeral range. */
static int autobind(struct berth_stack *s, struct udp_sock *u,
                    const struct berth_endpoint *to)
{
    if (u->lport)
        return 0;
    static const uint8_t any6[16];
    struct berth_endpoint any = to->family == BERTH_AF_INET6 && s->ipv6
                                    ? berth_endpoint_v6(any6, 0)
                                    : berth_endpoint_v4(0, 0);
    return udp_user_bind(s, u, &any);
}

int udp_user_connect(struct berth_stack *s, struct udp_sock *u,
                     const struct berth_endpoint *ep)
{
    struct berth_endpoint peer = ep_wire(ep);
    if (ep_unspecified(&peer) || peer.port == 0)
        return BERTH_EINVAL;
    int r = autobind(s, u, ep);
    if (r)
        return r;
    if (!family_ok(u, peer.family == BERTH_AF_INET6))
        return BERTH_EAFNOSUPPORT;
    u->peer = peer;
    u->rport = peer.port;
    u->error = 0;
    return 0;
}

int udp_user_sendto(struct berth_stack *s, struct udp_sock *u, const void *buf,
                    size_t len, const struct berth_endpoint *to)
{
    if (u->error) { /* a refusal the peer's ICMP reported, as Linux */
        int e = u->error;
        u->error = 0;
        return e;
    }
    if (!to && !u->rport)
        return BERTH_EDESTADDRREQ;
    struct berth_endpoint dst = to ? ep_wire(to) : u->peer;
    if (ep_unspecified(&dst) || dst.port == 0)
        return BERTH_EINVAL;
    bool v6 = dst.family == BERTH_AF_INET6;
    if (len > (v6 ? UDP6_MAX_PAYLOAD : UDP_MAX_PAYLOAD))
        return BERTH_EMSGSIZE;
    int r = autobind(s, u, to ? to : &u->peer);
    if (r)
        return r;
    if (!family_ok(u, v6) || (v6 && !s->ipv6))
        return BERTH_EAFNOSUPPORT;
    uint8_t *udp = s->txbuf + (v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN);
    if (len)
        memcpy(udp + UDP_HDR_LEN, buf, len);
    stack_count(s, BERTH_CTR_UDP_OUT);
    if (v6) {
        size_t n =
            udp_emit6(udp, u->lport, dst.port, len, s->cfg.addr6, dst.addr6);
        ip6_send(s, dst.addr6, IPPROTO_UDP_NUM, n);
    } else {
        size_t n =
            udp_emit(udp, u->lport, dst.port, len, s->cfg.addr, dst.addr);
        ip_send(s, dst.addr, IPPROTO_UDP_NUM, n);
    }
    return (int)len;
}

int udp_user_recvfrom(struct berth_stack *s, struct udp_sock *u, void *buf,
                      size_t len, struct berth_endpoint *from)
{
    if (u->error) {
        int e = u->error;
        u->error = 0;
        sock_mark(s, u->sock);
        return e;
    }
    struct udp_dgram *d = u->q_head;
    if (!d)
        return BERTH_EAGAIN;
    /* A datagram is read whole or its tail is lost (as recvfrom(2)). */
    size_t n = d->len < len ? d->len : len;
    if (n)
        memcpy(buf, d->data, n);
    if (from)
        *from = ep_report(u, &d->from);
    u->q_head = d->next;
    if (!u->q_head)
        u->q_tail = NULL;
    u->q_count--;
    u->q_bytes -= d->len;
    mem_free(&s->mem, d, sizeof *d + d->len);
    sock_mark(s, u->sock);
    return (int)n;
}

uint32_t udp_poll(const struct udp_sock *u)
{
    uint32_t ev = BERTH_EV_WRITABLE; /* datagrams go out at once */
    if (u->q_head || u->error)
        ev |= BERTH_EV_READABLE;
    if (u->error)
        ev |= BERTH_EV_ERROR;
    return ev;
}

int udp_user_take_error(struct udp_sock *u)
{
    int e = u->error;
    u->error = 0;
    return e;
}

int udp_user_name(const struct berth_stack *s, const struct udp_sock *u,
                  bool peer, struct berth_endpoint *out)
{
    if (peer && !u->rport)
        return BERTH_ENOTCONN;
    if (peer) {
        *out = ep_report(u, &u->peer);
    } else if (u->bound == UDP_BOUND_V6 || u->bound == UDP_BOUND_DUAL) {
        static const uint8_t any6[16];
        *out = berth_endpoint_v6(u->bound == UDP_BOUND_V6 ? s->cfg.addr6 : any6,
                                 u->lport);
    } else {
        *out = berth_endpoint_v4(u->laddr, u->lport);
    }
    return 0;
}

void udp_user_close(struct berth_stack *s, struct udp_sock *u)
{
    while (u->q_head) {
        struct udp_dgram *d = u->q_head;
        u->q_head = d->next;
        mem_free(&s->mem, d, sizeof *d + d->len);
    }
    if (u->lport)
        htable_remove(&s->udp, &u->h, port_hash(u->lport));
    mem_free(&s->mem, u, sizeof *u);
}

void udp_fini(struct berth_stack *s)
{
    if (s->udp.buckets)
        htable_fini(&s->udp);
}

/* A received datagram: its source and, for the port unreachable it may
 * draw, its packet (one of ip4, ip6). */
struct udp_in {
    struct berth_endpoint from;
    const struct ipv4_info *ip4;
    const struct ipv6_info *ip6;
};

static int udp_drop(struct berth_stack *s, const struct udp_in *in,
                    const struct udp_info *d, int sock, enum berth_reason why)
{
    /* IPv6 addresses are not interned for UDP: the trace shows none. */
    uint32_t dst = in->ip4 ? in->ip4->dst : 0, src = in->ip4 ? in->ip4->src : 0;
    stack_trace_drop(s, sock, false, dst, d ? d->dport : 0, src,
                     d ? d->sport : 0, why);
    return (int)why;
}

/* Queues a datagram on u, within its bounds and the memory budget. */
static int enqueue(struct berth_stack *s, struct udp_sock *u,
                   const struct udp_in *in, const struct udp_info *d)
{
    size_t size = sizeof(struct udp_dgram) + d->payload_len;
    if (u->q_count >= s->cfg.udp_rcvq_max ||
        u->q_bytes + d->payload_len > s->cfg.udp_rcvq_bytes ||
        !stack_mem_fits(s, size)) {
        stack_count(s, BERTH_CTR_UDP_RCVBUF_ERRORS);
        return udp_drop(s, in, d, u->sock, BERTH_REASON_UDP_QUEUE_FULL);
    }
    struct udp_dgram *g = mem_alloc_raw(&s->mem, size);
    if (!g) {
        stack_count(s, BERTH_CTR_UDP_RCVBUF_ERRORS);
        return udp_drop(s, in, d, u->sock, BERTH_REASON_UDP_QUEUE_FULL);
    }
    g->next = NULL;
    g->from = in->from;
    g->len = d->payload_len;
    memcpy(g->data, d->payload, d->payload_len);
    if (u->q_tail)
        u->q_tail->next = g;
    else
        u->q_head = g;
    u->q_tail = g;
    u->q_count++;
    u->q_bytes += d->payload_len;
    stack_count(s, BERTH_CTR_UDP_IN);
    sock_mark(s, u->sock);
    return 0;
}

/* A parsed datagram of either family for port d->dport. */
static int deliver(struct berth_stack *s, const struct udp_in *in,
                   const struct udp_info *d)
{
    struct udp_sock *u = udp_find(s, d->dport);
    bool v6 = in->from.family == BERTH_AF_INET6;
    if (u && !family_ok(u, v6))
        u = NULL;
    /* A connected socket takes datagrams from its peer only. */
    if (u && u->rport && !ep_equal(&u->peer, &in->from))
        u = NULL;
    if (!u) {
        /* RFC 1122 §4.1.3.1, RFC 4443 §3.1: port unreachable, within
         * the rate limit. */
        stack_count(s, BERTH_CTR_UDP_NO_PORTS);
        if (in->ip6)
            icmp6_send_unreach(s, in->ip6, ICMP6_PORT_UNREACH);
        else
            icmp_send_unreach(s, in->ip4, ICMP_PORT_UNREACH);
        return udp_drop(s, in, d, -1, BERTH_REASON_UDP_NO_SOCKET);
    }
    return enqueue(s, u, in, d);
}

/* A datagram of either family (in->ip4 or in->ip6): parsed against its
 * pseudo-header (unless the link verified the checksum), then delivered;
 * a malformed one, or one to port 0, is dropped and counted. */
static int input(struct berth_stack *s, struct udp_in *in, uint32_t flags)
{
    bool check_csum = !(flags & BERTH_IN_CSUM_OK);
    struct udp_info d;
    int r = in->ip6 ? udp_parse6(in->ip6->payload, in->ip6->payload_len,
                                 in->ip6->src, in->ip6->dst, check_csum, &d)
                    : udp_parse(in->ip4->payload, in->ip4->payload_len,
                                in->ip4->src, in->ip4->dst, check_csum, &d);
    if (r == 0 && d.dport == 0)
        r = BERTH_REASON_BAD_PORT;
    if (r != 0) {
        stack_count(s, BERTH_CTR_UDP_IN_ERRORS);
        return udp_drop(s, in, NULL, -1, (enum berth_reason)r);
    }
    in->from = in->ip6 ? berth_endpoint_v6(in->ip6->src, d.sport)
                       : berth_endpoint_v4(in->ip4->src, d.sport);
    return deliver(s, in, &d);
}

int udp_input(struct berth_stack *s, const struct ipv4_info *ip, uint32_t flags)
{
    struct udp_in in = {.ip4 = ip};
    return input(s, &in, flags);
}

int udp_input6(struct berth_stack *s, const struct ipv6_info *ip,
               uint32_t flags)
{
    struct udp_in in = {.ip6 = ip};
    return input(s, &in, flags);
}

int udp_icmp_error(struct berth_stack *s, const struct icmp_err *e)
{
    struct udp_sock *u = udp_find(s, e->q.sport);
    if (!u)
        return BERTH_REASON_ICMP_NO_CONNECTION;
    if (e->type == ICMP_DEST_UNREACH && e->code == ICMP_FRAG_NEEDED) {
        /* RFC 1191 §6.4, RFC 8201 §5.2: for the host (an IPv6 peer only
         * if a connection holds its address: the cache keys by id). */
        if (s->cfg.pmtu_discovery && e->mtu >= s->cfg.pmtu_min &&
            (!e->v6 || e->q.dst != 0))
            pmtu_set(s, e->v6, e->q.dst, e->mtu);
        return 0;
    }
    /* As Linux without IP_RECVERR: only a connected socket hears of its
     * peer's errors, and only hard ones (RFC 1122 §4.1.3.3: UDP MUST pass
     * ICMP errors up; the socket API has no other way to say them). */
    struct berth_endpoint to = e->v6 ? berth_endpoint_v6(e->dst6, e->q.dport)
                                     : berth_endpoint_v4(e->q.dst, e->q.dport);
    if (!u->rport || !ep_equal(&u->peer, &to))
        return BERTH_REASON_ICMP_NO_CONNECTION;
    if (e->type != ICMP_DEST_UNREACH)
        return BERTH_REASON_ICMP_IGNORED;
    switch (e->code) {
    case ICMP_PORT_UNREACH:
        u->error = BERTH_ECONNREFUSED;
        break;
    case ICMP_PROTO_UNREACH:
        u->error = BERTH_ENOPROTOOPT;
        break;
    case ICMP_NET_ANO:
    case ICMP_HOST_ANO:
    case ICMP_PKT_FILTERED:
        u->error = BERTH_EHOSTUNREACH;
        break;
    default:
        return BERTH_REASON_ICMP_IGNORED;
    }
    sock_mark(s, u->sock);
    return 0;
}
