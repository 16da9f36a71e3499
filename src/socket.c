/* The BSD-like calls of the socket API: socket, bind, listen, accept,
 * connect, send, recv, shutdown, close, abort. Each checks its handle and
 * hands the TCB work to the engine's user calls (tcp/tcp_user.c). */
#include "stack.h"
#include "tcp/tcp.h"

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

int berth_bind(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    return tcp_user_bind(s, c, addr, port);
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
                                 .lport = l ? l->port : 0};
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
        *peer = (struct berth_endpoint){c->n.raddr, c->n.rport};
    sock_seen(s, sock);
    sock_mark(s, h);
    if (stack_log_on(s)) /* under the accepted connection */
        tcp_log_app(s, h, &c->n, BERTH_APP_ACCEPT, 0, h);
    return h;
}

/* ---- connecting, data ---- */

int berth_connect(struct berth_stack *s, int sock, uint32_t addr, uint16_t port)
{
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? BERTH_EINVAL : err;
    int r = tcp_user_connect(s, c, addr, port);
    return app_logged(s, sock, BERTH_APP_CONNECT, 0, r);
}

int berth_send(struct berth_stack *s, int sock, const void *buf, size_t len)
{
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
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err;
    int n = tcp_user_read(s, c, buf, len);
    sock_seen(s, sock);
    n = n > 0 ? n : tcp_user_read_end(c, len);
    return app_logged(s, sock, BERTH_APP_RECV, len, n);
}

/* ---- closing ---- */

int berth_shutdown(struct berth_stack *s, int sock, int how)
{
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
    sock_release(s, sock);
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
