/* The BSD-like calls of the socket API: socket, bind, listen, accept,
 * connect, send, recv, shutdown, close, abort. Each checks its handle and
 * hands the TCB work to the engine's user calls (tcp/tcp_user.c). */
#include "ip/ip.h"
#include "stack.h"
#include "tcp/tcp.h"

/* The UDP socket of a handle, or NULL (a TCP handle, or none). */
static struct udp_sock *udp_of(const struct berth_stack *s, int sock)
{
    struct sock *k = sock_get(s, sock);
    return k && k->kind == SOCK_UDP ? k->obj : NULL;
}

/* The event log's record of a call on a handle (docs/events.md), under its
 * connection's 4-tuple when it has one; returns the call's result. */
static int app_logged(struct berth_stack *s, int sock, enum berth_app_call call,
                      uint64_t len, int result)
{
    if (stack_log_on(s)) {
        struct sock *k = sock_get(s, sock);
        const struct tcp_conn *c =
            k && k->kind == SOCK_CONN ? (const struct tcp_conn *)k->obj : NULL;
        tcp_log_app(s, sock, c ? &c->n : NULL, call, len, result);
    }
    return result;
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
    tcp_user_attach(c, h);
    return h;
}

int berth_udp_socket(struct berth_stack *s)
{
    return udp_user_socket(s);
}

int berth_bind(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    struct berth_endpoint ep = berth_endpoint_v4(addr, port);
    return berth_bind_endpoint(s, sock, &ep);
}

int berth_bind_endpoint(struct berth_stack *s, int sock,
                        const struct berth_endpoint *ep)
{
    struct udp_sock *u = udp_of(s, sock);
    if (u)
        return udp_user_bind(s, u, ep);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    return tcp_user_bind(s, c, ep);
}

static int listen_call(struct berth_stack *s, int sock, int backlog);

int berth_listen(struct berth_stack *s, int sock, int backlog)
{
    int r = listen_call(s, sock, backlog);
    if (stack_log_on(s)) {
        struct sock *k = sock_get(s, sock);
        const struct tcp_listener *l =
            k && k->kind == SOCK_LISTEN ? k->obj : NULL;
        struct tcp_node local = {.laddr = l ? l->addr : 0,
                                 .lport = l ? l->port : 0,
                                 .v6 = l && l->v6};
        tcp_log_app(s, sock, l ? &local : NULL, BERTH_APP_LISTEN, 0, r);
    }
    return r;
}

static int listen_call(struct berth_stack *s, int sock, int backlog)
{
    struct sock *k = sock_get(s, sock);
    if (!k)
        return BERTH_EBADF;
    uint32_t bl = backlog < 1       ? 1u
                  : backlog > 65535 ? 65535u
                                    : (uint32_t)backlog;
    if (k->kind == SOCK_LISTEN) {
        tcp_user_set_backlog(k->obj, bl);
        return 0;
    }
    if (k->kind == SOCK_UDP)
        return BERTH_EOPNOTSUPP;
    int err;
    struct tcp_listener *l = tcp_user_listen(s, k->obj, sock, bl, &err);
    if (!l)
        return err;
    k = sock_get(s, sock);
    k->kind = SOCK_LISTEN;
    k->obj = l;
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
        sock_seen(s, sock);
        return BERTH_EAGAIN;
    }
    /* Reserve the handle first so a full table leaves the queue intact. */
    int h = sock_alloc(s, SOCK_CONN, NULL);
    if (h < 0)
        return h;
    struct tcp_conn *c = tcp_listener_accept(s, l);
    sock_get(s, h)->obj = c;
    tcp_user_attach(c, h);
    if (peer)
        *peer = tcp_conn_endpoint(s, c, false);
    sock_seen(s, sock);
    sock_mark(s, h);
    if (stack_log_on(s)) /* under the accepted connection */
        tcp_log_app(s, h, &c->n, BERTH_APP_ACCEPT, 0, h);
    return h;
}

/* ---- connecting, data ---- */

int berth_connect(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    struct berth_endpoint ep = berth_endpoint_v4(addr, port);
    return berth_connect_endpoint(s, sock, &ep);
}

int berth_connect_endpoint(struct berth_stack *s, int sock,
                           const struct berth_endpoint *ep)
{
    struct udp_sock *u = udp_of(s, sock);
    if (u)
        return udp_user_connect(s, u, ep);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    int r = tcp_user_connect(s, c, ep);
    return app_logged(s, sock, BERTH_APP_CONNECT, 0, r);
}

int berth_send(struct berth_stack *s, int sock, const void *buf, size_t len)
{
    if (udp_of(s, sock))
        return berth_sendto(s, sock, buf, len, NULL);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    err = tcp_user_send_ready(c);
    if (err || len == 0)
        return app_logged(s, sock, BERTH_APP_SEND, len, err);
    int n = tcp_user_send(s, c, buf, len);
    if (n != BERTH_ENOMEM)
        sock_seen(s, sock);
    return app_logged(s, sock, BERTH_APP_SEND, len, n);
}

int berth_recv(struct berth_stack *s, int sock, void *buf, size_t len)
{
    if (udp_of(s, sock))
        return berth_recvfrom(s, sock, buf, len, NULL);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    int n = tcp_user_read(s, c, buf, len);
    sock_seen(s, sock);
    n = n > 0 ? n : tcp_user_read_end(c, len);
    return app_logged(s, sock, BERTH_APP_RECV, len, n);
}

/* ---- zero-copy data (berth.h): the buffers' bytes in place ---- */

static void spans_out(struct berth_span span[2], uint8_t *p[2],
                      const uint32_t len[2])
{
    for (int i = 0; i < 2; i++)
        span[i] = (struct berth_span){p[i], len[i]};
}

int berth_recv_peek(struct berth_stack *s, int sock, struct berth_span span[2])
{
    uint8_t *p[2] = {NULL, NULL};
    uint32_t len[2] = {0, 0};
    spans_out(span, p, len);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    sock_seen(s, sock);
    if (c->rcv.len == 0)
        return tcp_user_read_end(c, 1);
    uint32_t n = ring_span(&c->rcv, 0, c->rcv.len, p, len);
    spans_out(span, p, len);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int berth_recv_consume(struct berth_stack *s, int sock, size_t n)
{
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return app_logged(s, sock, BERTH_APP_RECV, n, err);
    if (n > c->rcv.len || n > INT32_MAX)
        return app_logged(s, sock, BERTH_APP_RECV, n, BERTH_EINVAL);
    int r = n ? tcp_user_consume(s, c, (uint32_t)n) : 0;
    sock_seen(s, sock);
    return app_logged(s, sock, BERTH_APP_RECV, n, r);
}

/* Bytes the send buffer may take now (its configured size less what it
 * holds, within the memory allocated). */
static uint32_t send_room(const struct tcp_conn *c)
{
    uint32_t room =
        c->sndbuf_size > c->snd.len ? c->sndbuf_size - c->snd.len : 0;
    return room < ring_free(&c->snd) ? room : ring_free(&c->snd);
}

int berth_send_reserve(struct berth_stack *s, int sock, size_t len,
                       struct berth_span span[2])
{
    uint8_t *p[2] = {NULL, NULL};
    uint32_t lens[2] = {0, 0};
    spans_out(span, p, lens);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    err = tcp_user_send_ready(c);
    if (err)
        return err;
    if (len > INT32_MAX)
        len = INT32_MAX;
    uint32_t want =
        c->sndbuf_size > c->snd.len ? c->sndbuf_size - c->snd.len : 0;
    if (len < want)
        want = (uint32_t)len;
    if (want && tcp_conn_reserve_snd(s, c, want) != 0)
        return BERTH_ENOMEM;
    uint32_t room = send_room(c);
    if (room > want)
        room = want;
    if (room == 0) {
        sock_seen(s, sock); /* full: WRITABLE comes with room */
        return len ? BERTH_EAGAIN : 0;
    }
    uint32_t n = ring_span(&c->snd, c->snd.len, room, p, lens);
    spans_out(span, p, lens);
    return (int)n;
}

int berth_send_commit(struct berth_stack *s, int sock, size_t n)
{
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return app_logged(s, sock, BERTH_APP_SEND, n, err);
    err = tcp_user_send_ready(c);
    if (err)
        return app_logged(s, sock, BERTH_APP_SEND, n, err);
    if (n > send_room(c))
        return app_logged(s, sock, BERTH_APP_SEND, n, BERTH_EINVAL);
    if (n) {
        ring_commit(&c->snd, (uint32_t)n);
        tcp_output(s, c);
    }
    sock_seen(s, sock);
    return app_logged(s, sock, BERTH_APP_SEND, n, (int)n);
}

/* UDP datagrams (a TCP handle ignores `to`, and `from` is its peer). */
int berth_sendto(struct berth_stack *s, int sock, const void *buf, size_t len,
                 const struct berth_endpoint *to)
{
    struct udp_sock *u = udp_of(s, sock);
    if (!u)
        return berth_send(s, sock, buf, len);
    int n = udp_user_sendto(s, u, buf, len, to);
    sock_seen(s, sock);
    return n;
}

int berth_recvfrom(struct berth_stack *s, int sock, void *buf, size_t len,
                   struct berth_endpoint *from)
{
    struct udp_sock *u = udp_of(s, sock);
    if (!u) {
        int n = berth_recv(s, sock, buf, len);
        if (n >= 0 && from && berth_getpeername(s, sock, from) != 0)
            *from = (struct berth_endpoint){0};
        return n;
    }
    int n = udp_user_recvfrom(s, u, buf, len, from);
    sock_seen(s, sock);
    return n;
}

/* ---- closing ---- */

int berth_shutdown(struct berth_stack *s, int sock, int how)
{
    if (udp_of(s, sock))
        return BERTH_EOPNOTSUPP;
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    int r = tcp_user_shutdown(s, c, how);
    return app_logged(s, sock, BERTH_APP_SHUTDOWN, 0, r);
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
    void *obj = k->obj;
    bool listener = k->kind == SOCK_LISTEN;
    bool udp = k->kind == SOCK_UDP;
    sock_release(s, sock);
    if (udp) {
        udp_user_close(s, obj);
        return NULL;
    }
    if (listener) {
        tcp_user_close_listener(s, sock, obj);
        return NULL;
    }
    return tcp_user_detach(s, obj);
}

int berth_close(struct berth_stack *s, int sock)
{
    if (stack_log_on(s))
        app_logged(s, sock, BERTH_APP_CLOSE, 0,
                   sock_get(s, sock) ? 0 : BERTH_EBADF);
    int ret;
    struct tcp_conn *c = release_handle(s, sock, &ret);
    if (c)
        tcp_user_close(s, c);
    return ret;
}

int berth_abort(struct berth_stack *s, int sock)
{
    if (stack_log_on(s))
        app_logged(s, sock, BERTH_APP_ABORT, 0,
                   sock_get(s, sock) ? 0 : BERTH_EBADF);
    int ret;
    struct tcp_conn *c = release_handle(s, sock, &ret);
    if (c)
        tcp_user_abort(s, c, BERTH_REASON_APP_ABORT);
    return ret;
}
