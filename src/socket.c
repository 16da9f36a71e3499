/* The socket API: checked handles, the BSD-like calls, options, readiness
 * reporting and connection info. Calls record what they want; tcp_output()
 * decides what goes on the wire. */
#include "base/seq.h"
#include "stack.h"
#include "tcp/tcp.h"

#include <string.h>

/* ---- handles ---- */

int sock_handle(const struct berth_stack *s, uint32_t idx)
{
    return (int)(((uint32_t)s->socks[idx].gen << SOCK_IDX_BITS) | idx);
}

static struct sock *sock_get(const struct berth_stack *s, int h)
{
    if (h < 0)
        return NULL;
    uint32_t idx = (uint32_t)h & ((1u << SOCK_IDX_BITS) - 1);
    uint32_t gen = (uint32_t)h >> SOCK_IDX_BITS;
    if (idx >= s->nsocks)
        return NULL;
    struct sock *k = &s->socks[idx];
    if (k->kind == SOCK_FREE || k->gen != gen)
        return NULL;
    return k;
}

static int grow_socks(struct berth_stack *s)
{
    uint32_t n = s->nsocks ? s->nsocks * 2 : 16;
    if (n > s->cfg.max_sockets)
        n = s->cfg.max_sockets;
    if (n <= s->nsocks)
        return BERTH_EMFILE;
    struct sock *a = mem_alloc(&s->tmem, n * sizeof *a);
    if (!a)
        return BERTH_ENOMEM;
    if (s->socks)
        memcpy(a, s->socks, s->nsocks * sizeof *a);
    mem_free(&s->tmem, s->socks, s->nsocks * sizeof *a);
    for (uint32_t i = n; i-- > s->nsocks;) {
        a[i].kind = SOCK_FREE;
        a[i].next = s->free_sock;
        s->free_sock = (int32_t)i;
    }
    s->socks = a;
    s->nsocks = n;
    return 0;
}

int sock_alloc(struct berth_stack *s, enum sock_kind kind, void *obj)
{
    if (s->free_sock < 0) {
        int r = grow_socks(s);
        if (r)
            return r;
    }
    uint32_t idx = (uint32_t)s->free_sock;
    struct sock *k = &s->socks[idx];
    s->free_sock = k->next;
    k->kind = (uint8_t)kind;
    k->obj = obj;
    k->dirty = false;
    k->ev_seen = 0;
    k->next = -1;
    return sock_handle(s, idx);
}

static void ready_unlink(struct berth_stack *s, struct sock *k)
{
    if (k->prev >= 0)
        s->socks[k->prev].next = k->next;
    else
        s->ready_head = k->next;
    if (k->next >= 0)
        s->socks[k->next].prev = k->prev;
    else
        s->ready_tail = k->prev;
    k->dirty = false;
}

void sock_release(struct berth_stack *s, int h)
{
    struct sock *k = sock_get(s, h);
    if (!k)
        return;
    if (k->dirty) /* nothing to report to a handle that is gone */
        ready_unlink(s, k);
    k->kind = SOCK_FREE;
    k->obj = NULL;
    k->gen = (uint16_t)((k->gen + 1) & SOCK_GEN_MASK);
    k->next = s->free_sock;
    s->free_sock = (int32_t)(k - s->socks);
}

static uint32_t sock_events(const struct berth_stack *s, const struct sock *k)
{
    (void)s;
    if (k->kind == SOCK_LISTEN) {
        const struct tcp_listener *l = k->obj;
        return l->aq_count ? BERTH_EV_READABLE : 0;
    }
    return tcp_poll(k->obj);
}

void sock_mark(struct berth_stack *s, int h)
{
    struct sock *k = sock_get(s, h);
    if (!k || k->dirty)
        return;
    k->dirty = true;
    k->next = -1;
    k->prev = s->ready_tail;
    int32_t idx = (int32_t)(k - s->socks);
    if (s->ready_tail >= 0)
        s->socks[s->ready_tail].next = idx;
    else
        s->ready_head = idx;
    s->ready_tail = idx;
}

void sock_flush_events(struct berth_stack *s)
{
    if (s->in_flush)
        return; /* a callback's own calls are reported by this loop */
    s->in_flush = true;
    /* Bounded: a callback that keeps re-marking sockets cannot spin here. */
    for (uint32_t guard = 0; s->ready_head >= 0 && guard < 1u << 22; guard++) {
        int32_t idx = s->ready_head;
        struct sock *k = &s->socks[idx];
        ready_unlink(s, k);
        uint32_t ev = sock_events(s, k);
        if (ev == k->ev_seen)
            continue;
        k->ev_seen = ev;
        if (s->cfg.event)
            s->cfg.event(s->cfg.event_ctx, sock_handle(s, (uint32_t)idx), ev);
    }
    s->in_flush = false;
}

/* The application looked: what it saw is the new reference for changes. */
static void sock_seen(struct berth_stack *s, struct sock *k)
{
    k->ev_seen = sock_events(s, k);
}

static struct tcp_conn *conn_of(const struct berth_stack *s, int h, int *err)
{
    struct sock *k = sock_get(s, h);
    if (!k) {
        *err = BERTH_EBADF;
        return NULL;
    }
    if (k->kind != SOCK_CONN) {
        *err = k->kind == SOCK_LISTEN ? BERTH_ENOTCONN : BERTH_EBADF;
        return NULL;
    }
    return k->obj;
}

/* ---- creating, binding, listening ---- */

int berth_socket(struct berth_stack *s)
{
    struct tcp_conn *c = tcp_conn_new(s);
    if (!c)
        return BERTH_ENOMEM;
    int h = sock_alloc(s, SOCK_CONN, c);
    if (h < 0) {
        tcp_conn_release(s, c);
        return h;
    }
    c->sock = h;
    return h;
}

static int pick_ephemeral(struct berth_stack *s, uint32_t raddr, uint16_t rport)
{
    /* RFC 6056 §3.3.2 style: a random start, then the next free port. */
    uint32_t lo = s->cfg.ephemeral_lo, n = s->cfg.ephemeral_hi - lo + 1;
    uint32_t start = (uint32_t)rng_below(&s->rng, n);
    for (uint32_t i = 0; i < n; i++) {
        uint16_t p = (uint16_t)(lo + (start + i) % n);
        if (stack_port_bound(s, p) || tcp_listener_find(s, s->cfg.addr, p))
            continue;
        if (rport && tcp_lookup(s, s->cfg.addr, p, raddr, rport))
            continue;
        return p;
    }
    return BERTH_EADDRNOTAVAIL;
}

int berth_bind(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    if (c->n.lport || c->state != BERTH_STATE_CLOSED)
        return BERTH_EINVAL;
    if (addr != 0 && addr != s->cfg.addr)
        return BERTH_EADDRNOTAVAIL;
    if (port == 0) {
        int p = pick_ephemeral(s, 0, 0);
        if (p < 0)
            return p;
        port = (uint16_t)p;
    } else if (stack_port_bound(s, port) ||
               tcp_listener_find(s, s->cfg.addr, port)) {
        return BERTH_EADDRINUSE;
    }
    stack_port_set(s, port, true);
    c->flags |= TF_BOUND;
    c->n.laddr = s->cfg.addr;
    c->n.lport = port;
    return 0;
}

int berth_listen(struct berth_stack *s, int sock, int backlog)
{
    struct sock *k = sock_get(s, sock);
    if (!k)
        return BERTH_EBADF;
    uint32_t bl = backlog < 1       ? 1u
                  : backlog > 65535 ? 65535u
                                    : (uint32_t)backlog;
    if (k->kind == SOCK_LISTEN) {
        ((struct tcp_listener *)k->obj)->backlog = bl;
        return 0;
    }
    struct tcp_conn *c = k->obj;
    if (c->state != BERTH_STATE_CLOSED || (c->flags & TF_CONNECTED) || c->error)
        return BERTH_EINVAL;
    if (!c->n.lport) {
        int r = berth_bind(s, sock, 0, 0);
        if (r)
            return r;
    }
    struct tcp_listener *l = mem_alloc(&s->mem, sizeof *l);
    if (!l)
        return BERTH_ENOMEM;
    l->addr = 0; /* one address per stack: bound means any of ours */
    l->port = c->n.lport;
    l->sock = sock;
    l->backlog = bl;
    l->tmpl = c; /* the socket's TCB keeps the options connections inherit */
    htable_insert(&s->listeners, &l->h, tcp_port_hash(l->port));
    k->kind = SOCK_LISTEN;
    k->obj = l;
    c->sock = -1;
    tcp_trace_state(s, sock, &c->n, BERTH_STATE_CLOSED, BERTH_STATE_LISTEN,
                    BERTH_REASON_APP_LISTEN);
    return 0;
}

int berth_accept(struct berth_stack *s, int sock, struct berth_endpoint *peer)
{
    struct sock *k = sock_get(s, sock);
    if (!k)
        return BERTH_EBADF;
    if (k->kind != SOCK_LISTEN)
        return BERTH_EINVAL;
    struct tcp_listener *l = k->obj;
    if (!l->aq_head) {
        sock_seen(s, k);
        return BERTH_EAGAIN;
    }
    /* Reserve the handle first so a full table leaves the queue intact. */
    int h = sock_alloc(s, SOCK_CONN, NULL);
    if (h < 0)
        return h;
    k = sock_get(s, sock); /* the slot array may have moved */
    struct tcp_conn *c = tcp_listener_accept(s, l);
    sock_get(s, h)->obj = c;
    c->sock = h;
    if (peer)
        *peer = (struct berth_endpoint){c->n.raddr, c->n.rport};
    sock_seen(s, k);
    sock_mark(s, h);
    return h;
}

/* ---- connecting ---- */

int berth_connect(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    if (c->state == BERTH_STATE_SYN_SENT ||
        c->state == BERTH_STATE_SYN_RECEIVED)
        return BERTH_EALREADY;
    if (c->state != BERTH_STATE_CLOSED || (c->flags & TF_CONNECTED))
        return BERTH_EISCONN;
    if (addr == 0 || port == 0)
        return BERTH_EINVAL;
    if (!c->n.lport) {
        int p = pick_ephemeral(s, addr, port);
        if (p < 0)
            return p;
        c->n.lport = (uint16_t)p;
    } else if (tcp_lookup(s, s->cfg.addr, c->n.lport, addr, port)) {
        return BERTH_EADDRNOTAVAIL;
    }
    c->n.laddr = s->cfg.addr;
    c->n.raddr = addr;
    c->n.rport = port;
    c->error = 0;
    c->flags &= (TF_NODELAY | TF_KEEPALIVE | TF_LINGER0 | TF_BOUND);
    c->iss = tcp_isn(s, c->n.laddr, c->n.lport, addr, port);
    c->ts_offset = tcp_ts_offset(s, &c->n);
    c->synopts = 0;
    c->snd_wscale = c->rcv_wscale = 0;
    c->snd_una = c->snd_nxt = c->snd_max = c->iss;
    c->rcv_mss = tcp_our_mss(s, c);
    c->snd_mss = TCP_DEFAULT_MSS < c->rcv_mss ? TCP_DEFAULT_MSS : c->rcv_mss;
    tcp_cc_init(s, c);
    c->rto_base = s->cfg.rto_initial;
    c->backoff = 0;
    c->rexmits = 0;
    c->persist_shift = 0;
    tcp_node_insert(s, &c->n);
    /* RFC 9293 §3.10.1 OPEN: send <SEQ=ISS><CTL=SYN>, enter SYN-SENT. */
    tcp_set_state(s, c, BERTH_STATE_SYN_SENT, BERTH_REASON_APP_CONNECT);
    stack_count(s, BERTH_CTR_ACTIVE_OPENS);
    tcp_output(s, c);
    return BERTH_EINPROGRESS;
}

/* ---- data ---- */

int berth_send(struct berth_stack *s, int sock, const void *buf, size_t len)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err;
    if (c->error) { /* the pending error first, as BSD does */
        err = c->error;
        c->error = 0;
        return err;
    }
    switch (c->state) {
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_CLOSE_WAIT:
        if (c->flags & TF_FIN_QUEUED)
            return BERTH_EPIPE;
        break;
    case BERTH_STATE_SYN_SENT:
    case BERTH_STATE_SYN_RECEIVED:
        return BERTH_EAGAIN; /* not connected yet: wait for WRITABLE */
    case BERTH_STATE_CLOSED:
        return (c->flags & TF_CONNECTED) ? BERTH_EPIPE : BERTH_ENOTCONN;
    default:
        return BERTH_EPIPE;
    }
    if (len == 0)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    if (tcp_conn_reserve_snd(s, c, len) != 0)
        return BERTH_ENOMEM;
    uint32_t n = ring_write(&c->snd, buf, (uint32_t)len);
    if (n == 0) {
        sock_seen(s, sock_get(s, sock));
        return BERTH_EAGAIN;
    }
    tcp_output(s, c);
    sock_seen(s, sock_get(s, sock));
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
    uint32_t cap = c->rcvbuf_size;
    uint32_t now_wnd = cap - c->rcv.len;
    uint32_t max = 65535u << c->rcv_wscale; /* RFC 7323 §2.3 */
    if (now_wnd > max)
        now_wnd = max;
    uint32_t cur = c->rcv_adv - c->rcv_nxt;
    uint32_t step = cap / 2 < c->rcv_mss ? cap / 2 : c->rcv_mss;
    if (now_wnd >= 2 * cur && now_wnd - cur >= step) {
        c->flags |= TF_ACK_NOW;
        tcp_output(s, c);
    }
}

int berth_recv(struct berth_stack *s, int sock, void *buf, size_t len)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err;
    if (c->rcv.len > 0 && len > 0) {
        if (len > INT32_MAX)
            len = INT32_MAX;
        uint32_t n = ring_read(&c->rcv, buf, (uint32_t)len);
        window_update(s, c);
        tcp_conn_trim_buffers(s, c); /* read out: give the buffer back */
        sock_seen(s, sock_get(s, sock));
        return (int)n;
    }
    sock_seen(s, sock_get(s, sock));
    if (c->error) {
        err = c->error;
        c->error = 0;
        return err;
    }
    if (c->flags & (TF_RCVD_FIN | TF_RD_SHUT))
        return 0;
    if (c->state == BERTH_STATE_CLOSED)
        return (c->flags & TF_CONNECTED) ? 0 : BERTH_ENOTCONN;
    return len == 0 ? 0 : BERTH_EAGAIN;
}

/* ---- closing ---- */

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

int berth_shutdown(struct berth_stack *s, int sock, int how)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err;
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
        sock_mark(s, sock);
    }
    if (how & BERTH_SHUT_WR)
        app_fin(s, c, BERTH_REASON_APP_SHUTDOWN);
    return 0;
}

static void release_port(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->flags & TF_BOUND) {
        stack_port_set(s, c->n.lport, false);
        c->flags &= ~TF_BOUND;
    }
}

/* Sends RST if the state has a peer that knows us, then deletes. */
static void abort_conn(struct berth_stack *s, struct tcp_conn *c,
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

static void close_listener(struct berth_stack *s, int sock, struct sock *k)
{
    struct tcp_listener *l = k->obj;
    tcp_trace_state(s, sock, &l->tmpl->n, BERTH_STATE_LISTEN,
                    BERTH_STATE_CLOSED, BERTH_REASON_APP_CLOSE);
    sock_release(s, sock);
    tcp_listener_close(s, l);
}

/* close() and abort() both give the handle back first: a listener closes
 * at once; a connection goes on without a handle (or is freed). Returns the
 * connection, or NULL with *ret set. */
static struct tcp_conn *release_handle(struct berth_stack *s, int sock,
                                       int *ret)
{
    struct sock *k = sock_get(s, sock);
    *ret = k ? 0 : BERTH_EBADF;
    if (!k)
        return NULL;
    if (k->kind == SOCK_LISTEN) {
        close_listener(s, sock, k);
        return NULL;
    }
    struct tcp_conn *c = k->obj;
    release_port(s, c);
    sock_release(s, sock);
    c->sock = -1;
    if (c->state == BERTH_STATE_CLOSED) {
        tcp_conn_release(s, c);
        return NULL;
    }
    return c;
}

int berth_close(struct berth_stack *s, int sock)
{
    int ret;
    struct tcp_conn *c = release_handle(s, sock, &ret);
    if (!c)
        return ret;
    switch (c->state) {
    case BERTH_STATE_SYN_SENT: /* RFC 9293 §3.10.4: delete the TCB */
        tcp_conn_delete(s, c, BERTH_REASON_APP_CLOSE);
        return 0;
    case BERTH_STATE_TIME_WAIT:
        tcp_time_wait_shrink(s, c);
        return 0;
    default:
        break;
    }
    /* Linger 0, or unread data (RFC 2525 §2.17; Linux): reset, don't FIN. */
    if ((c->flags & TF_LINGER0) || c->rcv.len > 0) {
        abort_conn(s, c, BERTH_REASON_APP_CLOSE);
        return 0;
    }
    app_fin(s, c, BERTH_REASON_APP_CLOSE);
    if (c->state == BERTH_STATE_FIN_WAIT_2)
        tcp_timer_set(s, c, TCP_T_LINGER2, s->now + s->cfg.fin_wait_2_timeout);
    tcp_conn_release(s, c);
    return 0;
}

int berth_abort(struct berth_stack *s, int sock)
{
    int ret;
    struct tcp_conn *c = release_handle(s, sock, &ret);
    if (c)
        abort_conn(s, c, BERTH_REASON_APP_ABORT);
    return ret;
}

/* ---- readiness, errors, names ---- */

uint32_t berth_poll(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    return k ? sock_events(s, k) : BERTH_EV_ERROR | BERTH_EV_HUP;
}

int berth_sock_error(struct berth_stack *s, int sock)
{
    int err = 0;
    struct tcp_conn *c = conn_of(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? 0 : err;
    err = c->error;
    c->error = 0;
    return err;
}

static const struct tcp_node *node_of(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    if (!k)
        return NULL;
    if (k->kind == SOCK_LISTEN)
        return &((const struct tcp_listener *)k->obj)->tmpl->n;
    return &((const struct tcp_conn *)k->obj)->n;
}

int berth_getsockname(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out)
{
    const struct tcp_node *n = node_of(s, sock);
    if (!n)
        return BERTH_EBADF;
    *out = (struct berth_endpoint){n->laddr, n->lport};
    return 0;
}

int berth_getpeername(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out)
{
    const struct tcp_node *n = node_of(s, sock);
    if (!n)
        return BERTH_EBADF;
    if (!n->rport)
        return BERTH_ENOTCONN;
    *out = (struct berth_endpoint){n->raddr, n->rport};
    return 0;
}

/* ---- options and info ---- */

/* Options apply to the socket's TCB; for a listener, to the template its
 * connections inherit. */
static struct tcp_conn *opt_target(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    if (!k)
        return NULL;
    if (k->kind == SOCK_LISTEN)
        return ((struct tcp_listener *)k->obj)->tmpl;
    return k->obj;
}

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

static int set_buffer_opt(struct tcp_conn *c, enum berth_opt opt, int64_t v)
{
    if (v < 1024 || v > (64 << 20))
        return BERTH_EINVAL;
    if (!before_connect(c))
        return BERTH_EINVAL; /* buffers are sized once, before use */
    if (opt == BERTH_OPT_SNDBUF)
        c->sndbuf_size = (uint32_t)v;
    else
        c->rcvbuf_size = (uint32_t)v;
    return 0;
}

int berth_setopt(struct berth_stack *s, int sock, enum berth_opt opt, int64_t v)
{
    struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return BERTH_EBADF;
    switch (opt) {
    case BERTH_OPT_NODELAY:
        set_flag(c, TF_NODELAY, v != 0);
        if (v && c->sock >= 0)
            tcp_output(s, c); /* what Nagle held back goes now */
        return 0;
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
        if (v < 1000 || v / 1000 > UINT32_MAX)
            return BERTH_EINVAL;
        if (opt == BERTH_OPT_KEEPIDLE)
            c->keep_idle_ms = (uint32_t)(v / 1000);
        else
            c->keep_intvl_ms = (uint32_t)(v / 1000);
        return 0;
    case BERTH_OPT_KEEPCNT:
        if (v < 1 || v > 255)
            return BERTH_EINVAL;
        c->keep_cnt = (uint8_t)v;
        return 0;
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
        return set_buffer_opt(c, opt, v);
    case BERTH_OPT_MAXSEG:
        if (v < 64 || v > TX_MAX_MSS || !before_connect(c))
            return BERTH_EINVAL;
        c->user_mss = (uint16_t)v;
        return 0;
    case BERTH_OPT_USER_TIMEOUT:
        if (v < 0 || v / 1000 >= UINT32_MAX)
            return BERTH_EINVAL;
        c->user_timeout_ms = (uint32_t)((v + 999) / 1000);
        return 0;
    case BERTH_OPT_CONGESTION:
        if (v != BERTH_CC_NEWRENO && v != BERTH_CC_CUBIC)
            return BERTH_EINVAL;
        c->cc_algo = (uint8_t)v;
        tcp_cc_of(c)->init(c); /* a new algorithm starts a new epoch */
        return 0;
    }
    return BERTH_ENOPROTOOPT;
}

int berth_getopt(const struct berth_stack *s, int sock, enum berth_opt opt,
                 int64_t *v)
{
    const struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return BERTH_EBADF;
    switch (opt) {
    case BERTH_OPT_NODELAY:
        *v = (c->flags & TF_NODELAY) != 0;
        return 0;
    case BERTH_OPT_KEEPALIVE:
        *v = (c->flags & TF_KEEPALIVE) != 0;
        return 0;
    case BERTH_OPT_KEEPIDLE:
        *v = (int64_t)c->keep_idle_ms * 1000;
        return 0;
    case BERTH_OPT_KEEPINTVL:
        *v = (int64_t)c->keep_intvl_ms * 1000;
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
        *v = (int64_t)c->user_timeout_ms * 1000;
        return 0;
    case BERTH_OPT_CONGESTION:
        *v = c->cc_algo;
        return 0;
    }
    return BERTH_ENOPROTOOPT;
}

static void listener_info(const struct tcp_listener *l,
                          struct berth_tcp_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = BERTH_STATE_LISTEN;
    out->local = (struct berth_endpoint){l->tmpl->n.laddr, l->port};
    out->accept_queue = l->aq_count;
    out->accept_backlog = l->backlog;
    out->syn_queue = l->syn_count;
    out->next_timer = UINT64_MAX;
}

static uint64_t timer_deadline(const struct timer *t)
{
    return timer_armed(t) ? t->expires * TIMER_TICK_US : UINT64_MAX;
}

static void conn_info(const struct berth_stack *s, const struct tcp_conn *c,
                      struct berth_tcp_info *out);

int berth_getinfo(const struct berth_stack *s, int sock,
                  struct berth_tcp_info *out)
{
    const struct sock *k = sock_get(s, sock);
    if (!k)
        return BERTH_EBADF;
    if (k->kind == SOCK_LISTEN)
        listener_info(k->obj, out);
    else
        conn_info(s, k->obj, out);
    return 0;
}

/* What a table entry without a TCB can tell. */
static void node_info(const struct tcp_node *n, struct berth_tcp_info *out)
{
    memset(out, 0, sizeof *out);
    out->local = (struct berth_endpoint){n->laddr, n->lport};
    out->remote = (struct berth_endpoint){n->raddr, n->rport};
    out->next_timer = timer_deadline(&n->timer);
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

size_t berth_foreach(const struct berth_stack *s,
                     void (*fn)(void *ctx, int sock,
                                const struct berth_tcp_info *info),
                     void *ctx)
{
    struct berth_tcp_info info;
    size_t count = 0;
    /* Handles first (listeners, and TCBs out of the table: CLOSED). */
    for (uint32_t i = 0; i < s->nsocks; i++) {
        const struct sock *k = &s->socks[i];
        if (k->kind == SOCK_FREE)
            continue;
        if (k->kind == SOCK_CONN && ((struct tcp_conn *)k->obj)->n.in_table)
            continue; /* reported with the table */
        berth_getinfo(s, sock_handle(s, i), &info);
        fn(ctx, sock_handle(s, i), &info);
        count++;
    }
    for (size_t b = 0; b <= s->conns.mask; b++) {
        for (struct hnode *h = s->conns.buckets[b]; h; h = h->next) {
            const struct tcp_node *n = (const struct tcp_node *)h;
            int sock = -1;
            if (n->kind == TCP_NODE_CONN) {
                const struct tcp_conn *c = (const struct tcp_conn *)n;
                conn_info(s, c, &info);
                sock = c->sock;
            } else {
                node_info(n, &info);
            }
            fn(ctx, sock, &info);
            count++;
        }
    }
    return count;
}

static void conn_info(const struct berth_stack *s, const struct tcp_conn *c,
                      struct berth_tcp_info *out)
{
    memset(out, 0, sizeof *out);
    out->state = (enum berth_state)c->state;
    out->local = (struct berth_endpoint){c->n.laddr, c->n.lport};
    out->remote = (struct berth_endpoint){c->n.raddr, c->n.rport};
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
}
