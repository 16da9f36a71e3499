/* UDP (RFC 768): sockets bound to a local port (one socket a port),
 * optionally connected to one peer; each holds a bounded queue of received
 * datagrams (cfg.udp_rcvq_max datagrams, cfg.udp_rcvq_bytes bytes, the
 * memory budget) and drops and counts beyond it. A datagram to a port
 * without a socket is answered with ICMP port unreachable (RFC 1122
 * §4.1.3.1), within the ICMP rate limit. Readiness goes through the same
 * handle table and event callback as TCP's. */
#include "ip/ip.h"

#include "wire/udp.h"

#include <string.h>

struct udp_dgram {
    struct udp_dgram *next;
    uint32_t src;
    uint16_t sport;
    uint16_t len;
    uint8_t data[];
};

struct udp_sock {
    struct hnode h;        /* in s->udp by lport, once bound */
    uint32_t laddr, raddr; /* host order; raddr 0: not connected */
    uint16_t lport, rport;
    int32_t sock;
    int16_t error; /* pending error (negative berth_errno), connected only */
    uint32_t q_count, q_bytes; /* what the queue holds */
    struct udp_dgram *q_head, *q_tail;
};

/* The public endpoint, in one place (the dual-stack endpoint changes it). */
static struct berth_endpoint ep_make(uint32_t addr, uint16_t port)
{
    return (struct berth_endpoint){.addr = addr, .port = port};
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
    for (struct hnode *h = htable_bucket(&s->udp, port_hash(port)); h;
         h = h->next) {
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

int udp_user_bind(struct berth_stack *s, struct udp_sock *u, uint32_t addr,
                  uint16_t port)
{
    if (u->lport)
        return BERTH_EINVAL;
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
    htable_insert(&s->udp, &u->h, port_hash(port));
    return 0;
}

int udp_user_connect(struct berth_stack *s, struct udp_sock *u, uint32_t addr,
                     uint16_t port)
{
    if (addr == 0 || port == 0)
        return BERTH_EINVAL;
    if (!u->lport) {
        int r = udp_user_bind(s, u, 0, 0);
        if (r)
            return r;
    }
    u->raddr = addr;
    u->rport = port;
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
    uint32_t daddr = to ? to->addr : u->raddr;
    uint16_t dport = to ? to->port : u->rport;
    if (to && (daddr == 0 || dport == 0))
        return BERTH_EINVAL;
    if (!daddr)
        return BERTH_EDESTADDRREQ;
    if (len > UDP_MAX_PAYLOAD)
        return BERTH_EMSGSIZE;
    if (!u->lport) {
        int r = udp_user_bind(s, u, 0, 0);
        if (r)
            return r;
    }
    uint8_t *udp = s->txbuf + IPV4_HDR_LEN;
    if (len)
        memcpy(udp + UDP_HDR_LEN, buf, len);
    size_t n = udp_emit(udp, u->lport, dport, len, s->cfg.addr, daddr);
    stack_count(s, BERTH_CTR_UDP_OUT);
    ip_send(s, daddr, IPPROTO_UDP_NUM, n);
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
        *from = ep_make(d->src, d->sport);
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

int udp_user_name(const struct udp_sock *u, bool peer,
                  struct berth_endpoint *out)
{
    if (peer && !u->raddr)
        return BERTH_ENOTCONN;
    *out = peer ? ep_make(u->raddr, u->rport) : ep_make(u->laddr, u->lport);
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

static int udp_drop(struct berth_stack *s, const struct ipv4_info *ip,
                    const struct udp_info *d, int sock, enum berth_reason why)
{
    stack_trace_drop(s, sock, false, ip->dst, d ? d->dport : 0, ip->src,
                     d ? d->sport : 0, why);
    return (int)why;
}

/* Queues a datagram on u, within its bounds and the memory budget. */
static int enqueue(struct berth_stack *s, struct udp_sock *u,
                   const struct ipv4_info *ip, const struct udp_info *d)
{
    size_t size = sizeof(struct udp_dgram) + d->payload_len;
    if (u->q_count >= s->cfg.udp_rcvq_max ||
        u->q_bytes + d->payload_len > s->cfg.udp_rcvq_bytes ||
        !stack_mem_fits(s, size)) {
        stack_count(s, BERTH_CTR_UDP_RCVBUF_ERRORS);
        return udp_drop(s, ip, d, u->sock, BERTH_REASON_UDP_QUEUE_FULL);
    }
    struct udp_dgram *g = mem_alloc_raw(&s->mem, size);
    if (!g) {
        stack_count(s, BERTH_CTR_UDP_RCVBUF_ERRORS);
        return udp_drop(s, ip, d, u->sock, BERTH_REASON_UDP_QUEUE_FULL);
    }
    g->next = NULL;
    g->src = ip->src;
    g->sport = d->sport;
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

int udp_input(struct berth_stack *s, const struct ipv4_info *ip, uint32_t flags)
{
    struct udp_info d;
    int r = udp_parse(ip->payload, ip->payload_len, ip->src, ip->dst,
                      !(flags & BERTH_IN_CSUM_OK), &d);
    if (r == 0 && d.dport == 0)
        r = BERTH_REASON_BAD_PORT;
    if (r != 0) {
        stack_count(s, BERTH_CTR_UDP_IN_ERRORS);
        return udp_drop(s, ip, NULL, -1, (enum berth_reason)r);
    }
    struct udp_sock *u = udp_find(s, d.dport);
    /* A connected socket takes datagrams from its peer only. */
    if (u && u->raddr && (u->raddr != ip->src || u->rport != d.sport))
        u = NULL;
    if (!u) {
        /* RFC 1122 §4.1.3.1: port unreachable, within the rate limit. */
        stack_count(s, BERTH_CTR_UDP_NO_PORTS);
        icmp_send_unreach(s, ip, ICMP_PORT_UNREACH);
        return udp_drop(s, ip, &d, -1, BERTH_REASON_UDP_NO_SOCKET);
    }
    return enqueue(s, u, ip, &d);
}

int udp_icmp_error(struct berth_stack *s, const struct icmp_err *e)
{
    struct udp_sock *u = udp_find(s, e->q.sport);
    if (!u)
        return BERTH_REASON_ICMP_NO_CONNECTION;
    if (e->type == ICMP_DEST_UNREACH && e->code == ICMP_FRAG_NEEDED) {
        if (s->cfg.pmtu_discovery && e->mtu >= s->cfg.pmtu_min)
            pmtu_set(s, e->v6, e->q.dst,
                     e->mtu); /* RFC 1191 §6.4: for the host */
        return 0;
    }
    /* As Linux without IP_RECVERR: only a connected socket hears of its
     * peer's errors, and only hard ones (RFC 1122 §4.1.3.3: UDP MUST pass
     * ICMP errors up; the socket API has no other way to say them). */
    if (!u->raddr || u->raddr != e->q.dst || u->rport != e->q.dport)
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
