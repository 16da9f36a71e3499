/* The user calls of RFC 9293 §3.10: OPEN (active and passive), SEND,
 * RECEIVE, CLOSE, ABORT, STATUS, with the socket options that set a TCB and
 * the teardown of every record. The socket layer (src/sock*.c) owns the
 * handles and calls these; it writes no TCB field itself. */
#include "tcp/tcp.h"

#include "base/siphash.h"

#include <string.h>

/* ---- ports and OPEN ---- */

/* Our address of a family, as records keep it. */
static uint32_t our_addr(const struct berth_stack *s, bool v6)
{
    return v6 ? s->addr6_id : s->cfg.addr;
}

/* A port no listener of either family holds: the stack has one port space,
 * shared by IPv4 and IPv6 (stricter than Linux, which lets an IPv4 and a
 * V6ONLY IPv6 socket share one). */
static bool port_listened(struct berth_stack *s, uint16_t port)
{
    /* Any listener on the port is found by one of the two families'
     * tcp_listener_find(): one walk of its bucket asks both. */
    struct htable_iter it;
    for (struct hnode *h =
             htable_first(&s->listeners, tcp_port_hash(port), &it);
         h; h = htable_next(&s->listeners, &it)) {
        if (((const struct tcp_listener *)h)->port == port)
            return true;
    }
    return false;
}

/* Whether local port p may carry a new connection to (raddr, rport), or,
 * with rport 0 (a bind to port 0), be bound at all. The cheap checks come
 * first: the 4-tuple lookup reads a bucket that, among many connections,
 * is a cold cache line. */
static bool port_usable(struct berth_stack *s, bool v6, uint32_t raddr,
                        uint16_t rport, uint16_t p)
{
    if (stack_port_bound(s, p) || port_listened(s, p))
        return false;
    if (!rport)
        return true;
    if (!v6 && s->cfg.port_ok && /* IPv4: raddr is an address */
        !s->cfg.port_ok(s->cfg.port_ok_ctx, raddr, rport, p))
        return false;
    return !tcp_lookup(s, v6, our_addr(s, v6), p, raddr, rport);
}

/* RFC 6056 §3.3.4's F and G in one keyed hash of the destination (local
 * address, remote address and port), as Linux's port_offset: the low 32
 * bits are the offset, the high ones pick the counter. SipHash-2-4 (a
 * PRF: the chosen ports show the offset to the peer); the key's length
 * (16 bytes for IPv4, 40 for IPv6) keeps it apart from the ISN's 12- and
 * 36-byte inputs under the same secret. */
#define PORT_HASH_DOMAIN 0x706f7274u /* "port" */
static uint64_t port_offset(struct berth_stack *s, bool v6, uint32_t raddr,
                            uint16_t rport)
{
    if (v6) {
        struct {
            uint8_t laddr[16], raddr[16];
            uint32_t rport, domain;
        } k;
        memcpy(k.laddr, addr6_get(&s->addr6, s->addr6_id), 16);
        memcpy(k.raddr, addr6_get(&s->addr6, raddr), 16);
        k.rport = rport;
        k.domain = PORT_HASH_DOMAIN;
        return siphash24(s->cfg.secret, &k, sizeof k);
    }
    struct {
        uint32_t laddr, raddr, rport, domain;
    } k = {s->cfg.addr, raddr, rport, PORT_HASH_DOMAIN};
    return siphash24(s->cfg.secret, &k, sizeof k);
}

/* The ephemeral port of an active open: RFC 6056 §3.3.4, Algorithm 4
 * ("double-hash port selection"), as Linux's __inet_hash_connect. The
 * search starts at F(destination) + table[G(destination)] and the counter
 * then moves past the ports it used, so successive connects to one
 * destination walk a sequence of their own and usually find a free port
 * at the first probe (each probe costs a 4-tuple lookup), while the
 * sequences of different destinations are unrelated (F is keyed). As
 * Linux since 5.18 (after Klein and Pinkas, "Device tracking via Linux's
 * new TCP source port selection algorithm", 2022), the counter advances
 * by a random amount when the search was short, so the next port is not
 * predictable from this one: 1 to 4 here (Linux: up to 8 steps of 2, its
 * connects taking even ports). Each port skipped is one a destination's
 * sequence uses up: at an average advance of 2.5 a destination's
 * sequence comes back to its own older ports after range / 2.5 connects
 * (11k in the default range, 26k in 1024-65535; with 1M connections to
 * 64 destinations in the latter, 1 to 8 made one connect in four probe
 * twice). A bind to port 0 has no destination: a
 * random start (§3.3.2's), no counter. One draw of the generator either
 * way, as before. */
static int pick_ephemeral(struct berth_stack *s, bool v6, uint32_t raddr,
                          uint16_t rport)
{
    uint32_t lo = s->cfg.ephemeral_lo, n = s->cfg.ephemeral_hi - lo + 1;
    if (!rport) {
        uint32_t start = (uint32_t)rng_below(&s->rng, n);
        for (uint32_t i = 0; i < n; i++) {
            uint16_t p = (uint16_t)(lo + (start + i) % n);
            if (port_usable(s, v6, 0, 0, p))
                return p;
        }
        return BERTH_EADDRNOTAVAIL;
    }
    uint64_t h = port_offset(s, v6, raddr, rport);
    uint32_t g = (uint32_t)(h >> 32) & (TCP_PORT_PERTURB - 1);
    uint32_t *table = &s->port_perturb[g];
    uint32_t start = (uint32_t)(((uint64_t)(uint32_t)h + *table) % n);
    uint32_t jitter = (uint32_t)rng_below(&s->rng, n < 4 ? n : 4);
    /* The first port tried was known when the last connect to this
     * destination (or one sharing its counter) took its port: its 4-tuple
     * was hashed and its bucket prefetched then (tcp_connect_ahead). */
    uint32_t laddr = our_addr(s, v6);
    struct tuple_memo *ahead = &s->port_next[g % TCP_PORT_NEXT];
    tcp_connect_take(s, ahead, v6, laddr, (uint16_t)(lo + start), raddr, rport);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(lo + (start + i) % n);
        if (!port_usable(s, v6, raddr, rport, p))
            continue;
        *table += (i > jitter ? i : jitter) + 1;
        uint32_t next = (uint32_t)(((uint64_t)(uint32_t)h + *table) % n);
        tcp_connect_ahead(s, ahead, v6, laddr, (uint16_t)(lo + next), raddr,
                          rport);
        return p;
    }
    return BERTH_EADDRNOTAVAIL;
}

static bool addr6_is_any(const uint8_t *a)
{
    for (int i = 0; i < 16; i++)
        if (a[i])
            return false;
    return true;
}

/* The family and address a bind to ep gives, or an error: IPv4 any or
 * ours; IPv6 any (dual-stack unless V6ONLY) or ours (IPv6 only); IPv6
 * ::ffff:a.b.c.d with a.b.c.d any or ours (IPv4 only, names mapped). As
 * Linux's inet6_bind: a V6ONLY socket cannot bind a mapped address. */
static int bind_target(const struct berth_stack *s, const struct tcp_conn *c,
                       const struct berth_endpoint *ep, bool *v6,
                       uint32_t *flags)
{
    uint32_t v4 = ep->addr;
    *v6 = false;
    *flags = 0;
    if (ep->family == BERTH_AF_INET6) {
        if (berth_endpoint_v4mapped(ep, &v4)) {
            if (c->flags & TF_V6ONLY)
                return BERTH_EINVAL;
            *flags = TF_V4MAPPED;
        } else {
            if (!s->ipv6)
                return BERTH_EADDRNOTAVAIL;
            bool any = addr6_is_any(ep->addr6);
            if (!any && memcmp(ep->addr6, s->cfg.addr6, 16) != 0)
                return BERTH_EADDRNOTAVAIL;
            *v6 = true;
            *flags = any ? 0 : TF_ADDR6_BOUND;
            return 0;
        }
    } else if (ep->family != BERTH_AF_INET) {
        return BERTH_EINVAL;
    }
    return v4 != 0 && v4 != s->cfg.addr ? BERTH_EADDRNOTAVAIL : 0;
}

void tcp_user_attach(struct tcp_conn *c, int sock)
{
    c->sock = sock;
}

int tcp_user_bind(struct berth_stack *s, struct tcp_conn *c,
                  const struct berth_endpoint *ep)
{
    if (c->n.lport || c->state != BERTH_STATE_CLOSED)
        return BERTH_EINVAL;
    bool v6;
    uint32_t flags;
    int err = bind_target(s, c, ep, &v6, &flags);
    if (err)
        return err;
    uint16_t port = ep->port;
    if (port == 0) {
        int p = pick_ephemeral(s, v6, 0, 0);
        if (p < 0)
            return p;
        port = (uint16_t)p;
    } else if (stack_port_bound(s, port) || port_listened(s, port)) {
        return BERTH_EADDRINUSE;
    }
    stack_port_set(s, port, true);
    c->flags |= TF_BOUND | flags;
    c->n.v6 = v6;
    c->n.laddr = our_addr(s, v6);
    c->n.lport = port;
    return 0;
}

struct berth_endpoint tcp_conn_endpoint(const struct berth_stack *s,
                                        const struct tcp_conn *c, bool local)
{
    const struct tcp_node *n = &c->n;
    struct berth_endpoint ep =
        local ? stack_endpoint(s, n->v6, n->laddr, n->lport)
              : stack_endpoint(s, n->v6, n->raddr, n->rport);
    if (!n->v6 && (c->flags & TF_V4MAPPED)) {
        /* RFC 4291 §2.5.5.2: ::ffff:a.b.c.d */
        uint8_t a[16] = {[10] = 0xff, [11] = 0xff};
        a[12] = (uint8_t)(ep.addr >> 24);
        a[13] = (uint8_t)(ep.addr >> 16);
        a[14] = (uint8_t)(ep.addr >> 8);
        a[15] = (uint8_t)ep.addr;
        ep = berth_endpoint_v6(a, ep.port);
    }
    return ep;
}

/* Passive OPEN (RFC 9293 §3.10.1): the TCB becomes the template its
 * listener's connections inherit options from. */
struct tcp_listener *tcp_user_listen(struct berth_stack *s, struct tcp_conn *c,
                                     int sock, uint32_t backlog, int *err)
{
    *err = BERTH_EINVAL;
    if (c->state != BERTH_STATE_CLOSED || (c->flags & TF_CONNECTED) || c->error)
        return NULL;
    struct berth_endpoint any = {0};
    *err = c->n.lport ? 0 : tcp_user_bind(s, c, &any);
    if (*err)
        return NULL;
    struct tcp_listener *l = mem_alloc(&s->mem, sizeof *l);
    *err = l ? 0 : BERTH_ENOMEM;
    if (!l)
        return NULL;
    l->addr = 0; /* one address per stack: bound means any of ours */
    l->port = c->n.lport;
    l->v6 = c->n.v6;
    l->v6only = (c->flags & (TF_V6ONLY | TF_ADDR6_BOUND)) != 0;
    l->sock = sock;
    l->backlog = backlog;
    l->tmpl = c;
    htable_insert(&s->listeners, &l->h, tcp_port_hash(l->port));
    c->sock = -1;
    tcp_trace_state(s, sock, &c->n, BERTH_STATE_CLOSED, BERTH_STATE_LISTEN,
                    BERTH_REASON_APP_LISTEN);
    return l;
}

void tcp_user_set_backlog(struct tcp_listener *l, uint32_t backlog)
{
    l->backlog = backlog;
}

/* Active OPEN (RFC 9293 §3.10.1): send <SEQ=ISS><CTL=SYN>, SYN-SENT. */
static int connect_open(struct berth_stack *s, struct tcp_conn *c, bool v6,
                        uint32_t addr, uint16_t port, uint32_t fam_flags);

/* The family a connect to ep uses, with its flags: IPv4, or IPv6, or
 * IPv4 through a mapped address (Linux: ENETUNREACH with V6ONLY). A socket
 * bound already keeps its family. */
static int connect_family(const struct berth_stack *s, const struct tcp_conn *c,
                          const struct berth_endpoint *ep, bool *v6,
                          uint32_t *v4, uint32_t *flags)
{
    bool bound = c->n.lport != 0;
    *flags = 0;
    *v4 = ep->addr;
    *v6 = ep->family == BERTH_AF_INET6;
    if (ep->family != BERTH_AF_INET && ep->family != BERTH_AF_INET6)
        return BERTH_EINVAL;
    if (*v6 && berth_endpoint_v4mapped(ep, v4)) {
        if (c->flags & (TF_V6ONLY | TF_ADDR6_BOUND))
            return BERTH_EINVAL;
        *v6 = false;
        *flags = TF_V4MAPPED;
        if (bound && !c->n.v6 && !(c->flags & TF_V4MAPPED))
            return BERTH_EINVAL;
        return 0;
    }
    if (*v6 && !s->ipv6)
        return BERTH_EADDRNOTAVAIL;
    if (bound && (c->n.v6 != *v6 || (c->flags & TF_V4MAPPED)))
        return BERTH_EINVAL;
    if (*v6 && addr6_is_any(ep->addr6))
        return BERTH_EINVAL;
    return 0;
}

int tcp_user_connect(struct berth_stack *s, struct tcp_conn *c,
                     const struct berth_endpoint *ep)
{
    if (c->state == BERTH_STATE_SYN_SENT ||
        c->state == BERTH_STATE_SYN_RECEIVED)
        return BERTH_EALREADY;
    if (c->state != BERTH_STATE_CLOSED || (c->flags & TF_CONNECTED))
        return BERTH_EISCONN;
    bool v6;
    uint32_t addr, fam_flags;
    int err = connect_family(s, c, ep, &v6, &addr, &fam_flags);
    if (err)
        return err;
    uint16_t port = ep->port;
    if ((!v6 && addr == 0) || port == 0)
        return BERTH_EINVAL;
    if (v6) { /* held until the TCB takes its own reference */
        int64_t id = addr6_intern(&s->addr6, ep->addr6, false);
        if (id < 0)
            return BERTH_ENOMEM;
        addr = (uint32_t)id;
    }
    err = connect_open(s, c, v6, addr, port, fam_flags);
    stack_addr_unref(s, v6, addr);
    return err;
}

static int connect_open(struct berth_stack *s, struct tcp_conn *c, bool v6,
                        uint32_t addr, uint16_t port, uint32_t fam_flags)
{
    uint32_t laddr = our_addr(s, v6);
    uint16_t lport = c->n.lport;
    if (!lport) {
        int p = pick_ephemeral(s, v6, addr, port);
        if (p < 0)
            return p;
        lport = (uint16_t)p;
    } else if (tcp_lookup(s, v6, laddr, lport, addr, port)) {
        return BERTH_EADDRNOTAVAIL;
    }
    c->error = c->soft_error = 0;
    c->flags &= (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0 | TF_BOUND | TF_V6ONLY |
                 TF_ADDR6_BOUND);
    c->flags |= fam_flags;
    struct tcp_open o = {.v6 = v6,
                         .laddr = laddr,
                         .raddr = addr,
                         .lport = lport,
                         .rport = port,
                         .iss = tcp_isn(s, v6, laddr, lport, addr, port),
                         .state = BERTH_STATE_SYN_SENT,
                         .why = BERTH_REASON_APP_CONNECT};
    tcp_conn_open(s, c, &o);
    stack_count(s, BERTH_CTR_ACTIVE_OPENS);
    tcp_output(s, c);
    return BERTH_EINPROGRESS;
}

/* ---- SEND and RECEIVE ---- */

int tcp_user_take_error(struct tcp_conn *c)
{
    int err = c->error;
    c->error = 0;
    return err;
}

int tcp_user_send_ready(struct tcp_conn *c)
{
    if (c->error) /* the pending error first, as BSD does */
        return tcp_user_take_error(c);
    switch (c->state) {
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_CLOSE_WAIT:
        return (c->flags & TF_FIN_QUEUED) ? BERTH_EPIPE : 0;
    case BERTH_STATE_SYN_SENT:
    case BERTH_STATE_SYN_RECEIVED:
        return BERTH_EAGAIN; /* not connected yet: wait for WRITABLE */
    case BERTH_STATE_CLOSED:
        return (c->flags & TF_CONNECTED) ? BERTH_EPIPE : BERTH_ENOTCONN;
    default:
        return BERTH_EPIPE;
    }
}

int tcp_user_send(struct berth_stack *s, struct tcp_conn *c, const void *buf,
                  size_t len)
{
    if (len > INT32_MAX)
        len = INT32_MAX;
    /* The configured size bounds what is queued, not the allocation (a
     * shrunk SNDBUF leaves a larger ring until it drains). */
    uint32_t room =
        c->sndbuf_size > c->snd.len ? c->sndbuf_size - c->snd.len : 0;
    if (len > room)
        len = room;
    if (len == 0)
        return BERTH_EAGAIN;
    if (tcp_conn_reserve_snd(s, c, len) != 0)
        return BERTH_ENOMEM;
    uint32_t n = ring_write(&c->snd, buf, (uint32_t)len);
    if (n == 0)
        return BERTH_EAGAIN;
    tcp_output(s, c);
    return (int)n;
}

static bool peer_may_send(const struct tcp_conn *c)
{
    return !(c->flags & TF_RCVD_FIN) && (c->state == BERTH_STATE_ESTABLISHED ||
                                         c->state == BERTH_STATE_FIN_WAIT_1 ||
                                         c->state == BERTH_STATE_FIN_WAIT_2);
}

/* After the application reads: tell the peer about the room it made when
 * that matters (the window at least doubles by at least an SWS step, as
 * Linux's tcp_cleanup_rbuf does), e.g. reopening a zero window. */
static void window_update(struct berth_stack *s, struct tcp_conn *c)
{
    if (!peer_may_send(c))
        return;
    uint32_t now_wnd = tcp_rcv_space(s, c);
    uint32_t cur = c->rcv_adv - c->rcv_nxt;
    if (now_wnd >= 2 * cur && now_wnd - cur >= tcp_rcv_sws_step(c)) {
        c->flags |= TF_ACK_NOW;
        tcp_output(s, c);
    }
}

/* Everything read and nothing held out of order (so nothing written ahead
 * of the readable end): the next data lands at the buffer's start, in the
 * memory the last of it warmed, without a wrap. That matters for a buffer
 * the stack keeps (the one a link reads into in place, rx_place.c); one it
 * gives back (tcp_conn_trim_buffers) comes back from the buffer cache, the
 * last one given, with its head at 0 too. The send buffer restarts that
 * way when everything in it is acknowledged. */
static void rcv_rewind(struct tcp_conn *c)
{
    if (c->rcv.len == 0 && assembler_empty(&c->ooo))
        ring_rewind(&c->rcv);
}

int tcp_user_read(struct berth_stack *s, struct tcp_conn *c, void *buf,
                  size_t len)
{
    if (c->rcv.len == 0 || len == 0)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    uint32_t n = ring_read(&c->rcv, buf, (uint32_t)len);
    rcv_rewind(c);
    window_update(s, c);
    tcp_conn_trim_buffers(s, c); /* read out: give the buffer back */
    return (int)n;
}

int tcp_user_consume(struct berth_stack *s, struct tcp_conn *c, uint32_t n)
{
    n = ring_drop(&c->rcv, n);
    rcv_rewind(c);
    window_update(s, c);
    tcp_conn_trim_buffers(s, c);
    return (int)n;
}

int tcp_user_read_end(struct tcp_conn *c, size_t len)
{
    if (c->error)
        return tcp_user_take_error(c);
    if (c->flags & (TF_RCVD_FIN | TF_RD_SHUT))
        return 0;
    if (c->state == BERTH_STATE_CLOSED)
        return (c->flags & TF_CONNECTED) ? 0 : BERTH_ENOTCONN;
    return len == 0 ? 0 : BERTH_EAGAIN;
}

/* ---- CLOSE and ABORT ---- */

/* The application is done sending (RFC 9293 §3.10.4 CLOSE). */
static void app_fin(struct berth_stack *s, struct tcp_conn *c,
                    enum berth_reason why)
{
    if (c->flags & TF_FIN_QUEUED)
        return;
    switch (c->state) {
    case BERTH_STATE_SYN_RECEIVED:
    case BERTH_STATE_ESTABLISHED:
        c->flags |= TF_FIN_QUEUED;
        tcp_set_state(s, c, BERTH_STATE_FIN_WAIT_1, why);
        break;
    case BERTH_STATE_CLOSE_WAIT:
        c->flags |= TF_FIN_QUEUED;
        tcp_set_state(s, c, BERTH_STATE_LAST_ACK, why);
        break;
    default:
        return;
    }
    tcp_output(s, c);
}

int tcp_user_shutdown(struct berth_stack *s, struct tcp_conn *c, int how)
{
    if (how < BERTH_SHUT_RD || how > BERTH_SHUT_RDWR)
        return BERTH_EINVAL;
    if (c->state == BERTH_STATE_CLOSED)
        return BERTH_ENOTCONN;
    if (c->state == BERTH_STATE_SYN_SENT) {
        if (how & BERTH_SHUT_WR) /* like Linux: the attempt is given up */
            tcp_conn_delete(s, c, BERTH_REASON_APP_SHUTDOWN);
        return 0;
    }
    if (how & BERTH_SHUT_RD) {
        /* BSD semantics: unread and later data is discarded (but ACKed). */
        c->flags |= TF_RD_SHUT;
        ring_drop(&c->rcv, c->rcv.len);
        sock_mark(s, c->sock);
    }
    if (how & BERTH_SHUT_WR)
        app_fin(s, c, BERTH_REASON_APP_SHUTDOWN);
    return 0;
}

/* Sends RST if the state has a peer that knows us, then deletes. */
void tcp_user_abort(struct berth_stack *s, struct tcp_conn *c,
                    enum berth_reason why)
{
    switch (c->state) {
    case BERTH_STATE_SYN_RECEIVED:
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_FIN_WAIT_1:
    case BERTH_STATE_FIN_WAIT_2:
    case BERTH_STATE_CLOSE_WAIT:
        /* RFC 9293 §3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>. */
        tcp_send_abort_rst(s, c);
        stack_count(s, BERTH_CTR_ABORT_ON_CLOSE);
        break;
    default:
        break;
    }
    tcp_conn_delete(s, c, why);
}

struct tcp_conn *tcp_user_detach(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->flags & TF_BOUND) {
        stack_port_set(s, c->n.lport, false);
        c->flags &= ~TF_BOUND;
    }
    c->sock = -1;
    if (c->state == BERTH_STATE_CLOSED) {
        tcp_conn_release(s, c);
        return NULL;
    }
    return c;
}

void tcp_user_close(struct berth_stack *s, struct tcp_conn *c)
{
    switch (c->state) {
    case BERTH_STATE_SYN_SENT: /* RFC 9293 §3.10.4: delete the TCB */
        tcp_conn_delete(s, c, BERTH_REASON_APP_CLOSE);
        return;
    case BERTH_STATE_TIME_WAIT:
        tcp_time_wait_shrink(s, c);
        return;
    default:
        break;
    }
    /* Linger 0, or unread data (RFC 2525 §2.17; Linux): reset, don't FIN. */
    if ((c->flags & TF_LINGER0) || c->rcv.len > 0) {
        tcp_user_abort(s, c, BERTH_REASON_APP_CLOSE);
        return;
    }
    app_fin(s, c, BERTH_REASON_APP_CLOSE);
    if (c->state == BERTH_STATE_FIN_WAIT_2)
        tcp_timer_set(s, c, TCP_T_DELETE, s->now + s->cfg.fin_wait_2_timeout);
    tcp_conn_release(s, c);
}

void tcp_user_close_listener(struct berth_stack *s, int sock,
                             struct tcp_listener *l)
{
    tcp_trace_state(s, sock, &l->tmpl->n, BERTH_STATE_LISTEN,
                    BERTH_STATE_CLOSED, BERTH_REASON_APP_CLOSE);
    tcp_listener_close(s, l);
}

uint32_t tcp_listener_poll(const struct tcp_listener *l)
{
    return l->aq_count ? BERTH_EV_READABLE : 0;
}

/* ---- options on a TCB ---- */

static bool before_connect(const struct tcp_conn *c)
{
    return c->state == BERTH_STATE_CLOSED && !(c->flags & TF_CONNECTED) &&
           !c->snd.buf && !c->rcv.buf;
}

static void set_flag(struct tcp_conn *c, uint32_t flag, bool on)
{
    if (on)
        c->flags |= flag;
    else
        c->flags &= ~flag;
}

static void window_update(struct berth_stack *s, struct tcp_conn *c);

/* SO_SNDBUF / SO_RCVBUF, at any time (as Linux). The buffers are allocated
 * on demand up to these sizes (tcp_conn_reserve_snd/rcv), so a change only
 * moves the bound: bytes already held stay (a shrink below them waits for
 * them to drain; send() accepts nothing meanwhile), the right edge we
 * advertised never moves left (RFC 9293 §3.8.6.2.2; tcp_rcv_space() and
 * tcp_conn_reserve_rcv() keep room up to it), and the reassembly and SACK
 * bounds follow the new size for what arrives next. */
static int set_buffer_opt(struct berth_stack *s, struct tcp_conn *c,
                          enum berth_opt opt, int64_t v)
{
    if (v < 1024 || v > (64 << 20))
        return BERTH_EINVAL;
    uint32_t size = (uint32_t)v;
    bool opened = c->state != BERTH_STATE_CLOSED;
    if (opt == BERTH_OPT_SNDBUF) {
        c->sndbuf_size = size;
    } else {
        /* RFC 7323 §2.2-2.3: the shift our SYN offered stays; the window
         * field cannot say more than 65535 << shift, so a larger buffer is
         * clamped to that. */
        uint32_t max = (uint32_t)TCP_WINDOW_FIELD_MAX << c->rcv_wscale;
        c->rcvbuf_size = opened && size > max ? max : size;
    }
    if (opened) {
        window_update(s, c); /* a grown buffer may reopen the window */
        sock_mark(s, c->sock);
    }
    return 0;
}

/* Keepalive (RFC 1122 §4.2.3.6): on/off, idle, interval, probes. */
static int set_keepalive_opt(struct berth_stack *s, struct tcp_conn *c,
                             enum berth_opt opt, int64_t v)
{
    switch (opt) {
    case BERTH_OPT_KEEPALIVE:
        set_flag(c, TF_KEEPALIVE, v != 0);
        if (v)
            tcp_keepalive_start(s, c);
        else
            tcp_timer_clear(s, c, TCP_T_KEEPALIVE);
        return 0;
    case BERTH_OPT_KEEPIDLE:
    case BERTH_OPT_KEEPINTVL:
        /* Millisecond resolution, like the timer wheel. */
        if (v < USEC_PER_MS || (uint64_t)v > TCP_MAX_TIMEOUT_US)
            return BERTH_EINVAL;
        if (opt == BERTH_OPT_KEEPIDLE)
            c->keep_idle_ms = (uint32_t)(v / USEC_PER_MS);
        else
            c->keep_intvl_ms = (uint32_t)(v / USEC_PER_MS);
        return 0;
    default: /* BERTH_OPT_KEEPCNT */
        if (v < 1 || v > 255)
            return BERTH_EINVAL;
        c->keep_cnt = (uint8_t)v;
        return 0;
    }
}

int tcp_user_setopt(struct berth_stack *s, struct tcp_conn *c,
                    enum berth_opt opt, int64_t v)
{
    switch (opt) {
    case BERTH_OPT_NODELAY:
        set_flag(c, TF_NODELAY, v != 0);
        if (v && c->sock >= 0)
            tcp_output(s, c); /* what Nagle held back goes now */
        return 0;
    case BERTH_OPT_KEEPALIVE:
    case BERTH_OPT_KEEPIDLE:
    case BERTH_OPT_KEEPINTVL:
    case BERTH_OPT_KEEPCNT:
        return set_keepalive_opt(s, c, opt, v);
    case BERTH_OPT_LINGER:
        /* -1: graceful close (default). 0: close sends RST. A positive time
         * behaves like -1: a sans-IO stack never blocks in close(). */
        if (v < -1 || v > UINT32_MAX)
            return BERTH_EINVAL;
        set_flag(c, TF_LINGER0, v == 0);
        c->linger = (int32_t)(v < 0 ? -1 : v > INT32_MAX ? INT32_MAX : v);
        return 0;
    case BERTH_OPT_SNDBUF:
    case BERTH_OPT_RCVBUF:
        return set_buffer_opt(s, c, opt, v);
    case BERTH_OPT_MAXSEG:
        if (v < 64 || v > TX_MAX_MSS || !before_connect(c))
            return BERTH_EINVAL;
        c->user_mss = (uint16_t)v;
        return 0;
    case BERTH_OPT_USER_TIMEOUT:
        if (v < 0 || (uint64_t)v > TCP_MAX_TIMEOUT_US)
            return BERTH_EINVAL;
        c->user_timeout_ms = (uint32_t)((v + USEC_PER_MS - 1) / USEC_PER_MS);
        return 0;
    case BERTH_OPT_CONGESTION:
        if (v != BERTH_CC_NEWRENO && v != BERTH_CC_CUBIC)
            return BERTH_EINVAL;
        c->cc_algo = (uint8_t)v;
        tcp_cc_of(c)->init(c); /* a new algorithm starts a new epoch */
        return 0;
    case BERTH_OPT_V6ONLY:
        /* Linux: IPV6_V6ONLY only before bind (EINVAL after). */
        if (c->n.lport || !before_connect(c))
            return BERTH_EINVAL;
        set_flag(c, TF_V6ONLY, v != 0);
        return 0;
    }
    return BERTH_ENOPROTOOPT;
}

/* ---- teardown of the stack ---- */

static void conn_destroy(struct berth_stack *s, struct tcp_conn *c)
{
    tcp_ack_forget(s, c);
    tcp_conn_free_buffers(s, c);
    mem_free(&s->mem, c, sizeof *c);
}

void tcp_destroy_table(struct berth_stack *s)
{
    struct htable_iter it;
    for (struct hnode *h = htable_walk_first(&s->conns, &it); h;
         h = htable_walk_next(&s->conns, &it)) {
        struct tcp_node *n = (struct tcp_node *)h;
        n->in_table = false;
        if (n->kind == TCP_NODE_CONN) {
            struct tcp_conn *c = (struct tcp_conn *)n;
            if (c->sock < 0 && !c->listener) /* else freed by holder */
                conn_destroy(s, c);
        } else if (n->kind == TCP_NODE_SYNREQ) {
            mem_free(&s->mem, n, sizeof(struct tcp_synreq));
        } else {
            mem_free(&s->mem, n, sizeof(struct tcp_timewait));
        }
    }
    htable_clear(&s->conns);
    tcp_conn_cache_clear(s);
}

void tcp_destroy_listener(struct berth_stack *s, struct tcp_listener *l)
{
    /* Connections waiting in the accept queue have no handle. */
    for (struct tcp_conn *c = l->aq_head, *next; c; c = next) {
        next = c->aq_next;
        conn_destroy(s, c);
    }
    conn_destroy(s, l->tmpl);
    tcp_listener_free_synring(s, l);
    mem_free(&s->mem, l, sizeof *l);
}

void tcp_destroy_conn(struct berth_stack *s, struct tcp_conn *c)
{
    conn_destroy(s, c);
}

/* ---- STATUS: options and info ---- */

int tcp_user_getopt(const struct berth_stack *s, const struct tcp_conn *c,
                    enum berth_opt opt, int64_t *v)
{
    switch (opt) {
    case BERTH_OPT_NODELAY:
        *v = (c->flags & TF_NODELAY) != 0;
        return 0;
    case BERTH_OPT_KEEPALIVE:
        *v = (c->flags & TF_KEEPALIVE) != 0;
        return 0;
    case BERTH_OPT_KEEPIDLE:
        *v = (int64_t)c->keep_idle_ms * USEC_PER_MS;
        return 0;
    case BERTH_OPT_KEEPINTVL:
        *v = (int64_t)c->keep_intvl_ms * USEC_PER_MS;
        return 0;
    case BERTH_OPT_KEEPCNT:
        *v = c->keep_cnt;
        return 0;
    case BERTH_OPT_LINGER:
        *v = (c->flags & TF_LINGER0) ? 0 : c->linger;
        return 0;
    case BERTH_OPT_SNDBUF:
        *v = c->sndbuf_size;
        return 0;
    case BERTH_OPT_RCVBUF:
        *v = c->rcvbuf_size;
        return 0;
    case BERTH_OPT_MAXSEG:
        *v = c->snd_mss ? c->snd_mss : tcp_our_mss(s, c);
        return 0;
    case BERTH_OPT_USER_TIMEOUT:
        *v = (int64_t)c->user_timeout_ms * USEC_PER_MS;
        return 0;
    case BERTH_OPT_CONGESTION:
        *v = c->cc_algo;
        return 0;
    case BERTH_OPT_V6ONLY:
        *v = (c->flags & TF_V6ONLY) != 0;
        return 0;
    }
    return BERTH_ENOPROTOOPT;
}

static uint64_t timer_deadline(const struct timer *t)
{
    return timer_armed(t) ? t->expires * TIMER_TICK_US : UINT64_MAX;
}

void tcp_listener_info(const struct berth_stack *s,
                       const struct tcp_listener *l, struct berth_tcp_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = BERTH_STATE_LISTEN;
    out->local = tcp_conn_endpoint(s, l->tmpl, true);
    out->local.port = l->port;
    out->remote.family = out->local.family;          /* ss: [::]:* for IPv6 */
    if (l->v6 && !(l->tmpl->flags & TF_ADDR6_BOUND)) /* bound to :: */
        memset(out->local.addr6, 0, sizeof out->local.addr6);
    out->accept_queue = l->aq_count;
    out->accept_backlog = l->backlog;
    out->syn_queue = l->syn_count;
    out->next_timer = UINT64_MAX;
}

/* What a table entry without a TCB can tell. */
static void record_info(const struct tcp_node *n, struct berth_tcp_info *out)
{
    if (n->kind == TCP_NODE_SYNREQ) {
        const struct tcp_synreq *r = (const struct tcp_synreq *)n;
        out->state = BERTH_STATE_SYN_RECEIVED;
        out->iss = out->snd_una = r->iss;
        out->snd_nxt = r->iss + 1;
        out->irs = r->irs;
        out->rcv_nxt = r->irs + 1;
        out->snd_mss = r->peer_mss;
        out->retransmits = r->retries;
    } else {
        const struct tcp_timewait *tw = (const struct tcp_timewait *)n;
        out->state = BERTH_STATE_TIME_WAIT;
        out->snd_una = out->snd_nxt = tw->snd_nxt;
        out->rcv_nxt = tw->rcv_nxt;
        out->rcv_wnd = tw->rcv_wnd;
    }
}

void tcp_conn_info(const struct berth_stack *s, const struct tcp_conn *c,
                   struct berth_tcp_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = (enum berth_state)c->state;
    out->local = tcp_conn_endpoint(s, c, true);
    out->remote = tcp_conn_endpoint(s, c, false);
    out->iss = c->iss;
    out->irs = c->irs;
    out->snd_una = c->snd_una;
    out->snd_nxt = c->snd_nxt;
    out->snd_wnd = c->snd_wnd;
    out->rcv_nxt = c->rcv_nxt;
    out->rcv_wnd = c->rcv_adv - c->rcv_nxt;
    out->snd_mss = c->snd_mss;
    out->srtt = c->srtt;
    out->rttvar = c->rttvar;
    out->rto = tcp_rto(s, c);
    out->retransmits = c->rexmits;
    out->total_retrans = c->total_retrans;
    out->snd_queued = c->snd.len;
    out->rcv_queued = c->rcv.len;
    out->unacked = c->snd_max - c->snd_una;
    out->cwnd = c->cwnd;
    out->ssthresh = c->ssthresh;
    out->snd_wscale = c->snd_wscale;
    out->rcv_wscale = c->rcv_wscale;
    out->timestamps = (c->flags & TF_TS) != 0;
    out->sack = (c->flags & TF_SACK) != 0;
    out->congestion = (enum berth_cc)c->cc_algo;
    out->next_timer = timer_deadline(&c->n.timer);
    out->recovery = (c->flags & TF_RECOVERY)      ? BERTH_RECOVERY_FAST
                    : (c->flags & TF_RTO_RECOVER) ? BERTH_RECOVERY_RTO
                                                  : BERTH_RECOVERY_NONE;
}

/* Any record of the 4-tuple table; returns its handle (or -1). */
int tcp_node_info(const struct berth_stack *s, const struct tcp_node *n,
                  struct berth_tcp_info *out)
{
    if (n->kind == TCP_NODE_CONN) {
        const struct tcp_conn *c = (const struct tcp_conn *)n;
        tcp_conn_info(s, c, out);
        return c->sock;
    }
    memset(out, 0, sizeof *out);
    out->local = stack_endpoint(s, n->v6, n->laddr, n->lport);
    out->remote = stack_endpoint(s, n->v6, n->raddr, n->rport);
    out->next_timer = timer_deadline(&n->timer);
    record_info(n, out);
    return -1;
}

size_t tcp_foreach_record(const struct berth_stack *s,
                          void (*fn)(void *ctx, int sock,
                                     const struct berth_tcp_info *info),
                          void *ctx)
{
    struct berth_tcp_info info;
    size_t count = 0;
    struct htable_iter it;
    for (struct hnode *h = htable_walk_first(&s->conns, &it); h;
         h = htable_walk_next(&s->conns, &it)) {
        int sock = tcp_node_info(s, (const struct tcp_node *)h, &info);
        fn(ctx, sock, &info);
        count++;
    }
    return count;
}
