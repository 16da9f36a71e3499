/* Options and introspection of the socket API: set/get options, pending
 * errors, names, poll, per-connection info and the walk over every record.
 * What a TCB holds is read and written by tcp/tcp_user.c. */
#include "ip/ip.h"
#include "stack.h"
#include "tcp/tcp.h"

/* Options apply to the socket's TCB; for a listener, to the template its
 * connections inherit. */
static struct tcp_conn *opt_target(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    if (!k || k->kind == SOCK_UDP)
        return NULL;
    if (k->kind == SOCK_LISTEN)
        return ((struct tcp_listener *)k->obj)->tmpl;
    return k->obj;
}

/* Whether a live handle is a UDP socket (no options, no TCP info). */
static bool is_udp(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    return k && k->kind == SOCK_UDP;
}

int berth_setopt(struct berth_stack *s, int sock, enum berth_opt opt, int64_t v)
{
    struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return is_udp(s, sock) ? BERTH_ENOPROTOOPT : BERTH_EBADF;
    return tcp_user_setopt(s, c, opt, v);
}

int berth_getopt(const struct berth_stack *s, int sock, enum berth_opt opt,
                 int64_t *v)
{
    const struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return is_udp(s, sock) ? BERTH_ENOPROTOOPT : BERTH_EBADF;
    return tcp_user_getopt(s, c, opt, v);
}

uint32_t berth_poll(const struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    return k ? sock_events(k) : BERTH_EV_ERROR | BERTH_EV_HUP;
}

int berth_sock_error(struct berth_stack *s, int sock)
{
    const struct sock *k = sock_get(s, sock);
    if (k && k->kind == SOCK_UDP)
        return udp_user_take_error(k->obj);
    int err = 0;
    struct tcp_conn *c = sock_conn(s, sock, &err);
    if (!c)
        return err == BERTH_ENOTCONN ? 0 : err;
    return tcp_user_take_error(c);
}

int berth_getsockname(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out)
{
    if (is_udp(s, sock))
        return udp_user_name(s, sock_get(s, sock)->obj, false, out);
    const struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return BERTH_EBADF;
    *out = tcp_conn_endpoint(s, c, true);
    return 0;
}

int berth_getpeername(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out)
{
    if (is_udp(s, sock))
        return udp_user_name(s, sock_get(s, sock)->obj, true, out);
    const struct tcp_conn *c = opt_target(s, sock);
    if (!c)
        return BERTH_EBADF;
    if (!c->n.rport)
        return BERTH_ENOTCONN;
    *out = tcp_conn_endpoint(s, c, false);
    return 0;
}

int berth_getinfo(const struct berth_stack *s, int sock,
                  struct berth_tcp_info *out)
{
    const struct sock *k = sock_get(s, sock);
    if (!k)
        return BERTH_EBADF;
    if (k->kind == SOCK_UDP)
        return BERTH_EOPNOTSUPP;
    if (k->kind == SOCK_LISTEN)
        tcp_listener_info(s, k->obj, out);
    else
        tcp_conn_info(s, k->obj, out);
    return 0;
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
        if (k->kind == SOCK_FREE || k->kind == SOCK_UDP)
            continue; /* UDP sockets are not TCP records */
        if (k->kind == SOCK_CONN && ((struct tcp_conn *)k->obj)->n.in_table)
            continue; /* reported with the table */
        berth_getinfo(s, sock_handle(s, i), &info);
        fn(ctx, sock_handle(s, i), &info);
        count++;
    }
    return count + tcp_foreach_record(s, fn, ctx);
}
