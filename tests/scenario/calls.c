/* The API lines of a script: socket calls with their expected results, and
 * the checks (poll, error, state, info, counter, drop, events, mem,
 * deadline). Every value the stack returns is compared exactly. */
#include "scenario.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static void format_result(int64_t v, char *buf, size_t size)
{
    const char *name = v < 0 ? scn_errno_name(v) : NULL;
    if (name)
        snprintf(buf, size, "%s", name);
    else
        snprintf(buf, size, "%" PRId64, v);
}

static int check_result(struct scn_runner *r, const char *what, int64_t got,
                        int64_t want)
{
    if (got == want)
        return 0;
    char g[32], w[32];
    format_result(got, g, sizeof(g));
    format_result(want, w, sizeof(w));
    return scn_fail(r, "expected %s = %s, got %s", what, w, g);
}

static int handle(const struct scn_runner *r, const struct scn_call *c)
{
    return r->vars[c->var].handle;
}

/* The default local port follows the socket the script last bound or
 * connected, so that its segment lines need no local-port. */
/* bind/connect with the line's family: an IPv6 address through the
 * endpoint calls, IPv4 through the plain ones (as IPv4 callers use). */
static int call_bind(struct scn_runner *r, int h, const struct scn_call *c)
{
    if (!c->v6)
        return berth_bind(r->s, h, c->addr, c->port);
    struct berth_endpoint ep = berth_endpoint_v6(c->addr6, c->port);
    return berth_bind_endpoint(r->s, h, &ep);
}

static int call_connect(struct scn_runner *r, int h, const struct scn_call *c)
{
    if (!c->v6)
        return berth_connect(r->s, h, c->addr, c->port);
    struct berth_endpoint ep = berth_endpoint_v6(c->addr6, c->port);
    return berth_connect_endpoint(r->s, h, &ep);
}

static void learn_lport(struct scn_runner *r, int sock)
{
    struct berth_endpoint ep;
    if (berth_getsockname(r->s, sock, &ep) == 0 && ep.port != 0) {
        r->has_lport = true;
        r->lport = ep.port;
    }
}

static int call_new_handle(struct scn_runner *r, const struct scn_event *ev)
{
    const struct scn_call *c = &ev->call;
    bool acc = ev->kind == SCN_ACCEPT, udp = ev->kind == SCN_UDP_SOCKET;
    int rc = acc   ? berth_accept(r->s, handle(r, c), NULL)
             : udp ? berth_udp_socket(r->s)
                   : berth_socket(r->s);
    const char *what = acc ? "accept" : udp ? "udp_socket" : "socket";
    if (c->has_expect)
        return check_result(r, what, rc, c->expect);
    if (rc < 0) {
        char g[32];
        format_result(rc, g, sizeof(g));
        return scn_fail(r, "expected %s to return a handle, got %s", what, g);
    }
    r->vars[c->out_var] = (struct scn_var){.handle = rc, .udp = udp};
    return 0;
}

static int call_send(struct scn_runner *r, const struct scn_call *c)
{
    struct scn_var *v = &r->vars[c->var];
    uint8_t *buf = malloc(c->arg ? (size_t)c->arg : 1);
    if (!buf)
        return scn_fail(r, "out of memory");
    for (int64_t i = 0; i < c->arg; i++)
        buf[i] = scn_pattern(v->sent + (uint64_t)i);
    int rc = berth_send(r->s, v->handle, buf, (size_t)c->arg);
    free(buf);
    if (rc > 0 && !v->udp)
        v->sent += (uint64_t)rc;
    return check_result(r, "send", rc, c->has_expect ? c->expect : c->arg);
}

static int call_recv(struct scn_runner *r, const struct scn_call *c)
{
    struct scn_var *v = &r->vars[c->var];
    uint8_t *buf = malloc(c->arg ? (size_t)c->arg : 1);
    if (!buf)
        return scn_fail(r, "out of memory");
    int rc = berth_recv(r->s, v->handle, buf, (size_t)c->arg);
    int64_t bad = -1;
    for (int i = 0; i < rc && bad < 0; i++) {
        if (buf[i] != scn_pattern(v->rcvd + (uint64_t)i))
            bad = i;
    }
    free(buf);
    if (check_result(r, "recv", rc, c->has_expect ? c->expect : c->arg) != 0)
        return -1;
    if (bad >= 0)
        return scn_fail(r,
                        "recv: byte %" PRId64 " (stream offset %" PRIu64
                        ") is not the peer's pattern",
                        bad, v->rcvd + (uint64_t)bad);
    if (rc > 0 && !v->udp)
        v->rcvd += (uint64_t)rc;
    return 0;
}

static void forget_events(struct scn_runner *r, int sock)
{
    for (size_t i = 0; i < r->nevrecs; i++) {
        if (r->evrecs[i].sock == sock)
            r->evrecs[i].mask = 0;
    }
}

/* Calls whose result is 0 on success (connect: EINPROGRESS). */
static int call_simple(struct scn_runner *r, const struct scn_event *ev)
{
    const struct scn_call *c = &ev->call;
    int h = handle(r, c);
    int rc;
    const char *what;
    int64_t want = c->has_expect ? c->expect : 0;
    switch (ev->kind) {
    case SCN_BIND:
        what = "bind";
        rc = call_bind(r, h, c);
        if (rc == 0 && c->port != 0)
            learn_lport(r, h);
        break;
    case SCN_LISTEN:
        what = "listen";
        rc = berth_listen(r->s, h, (int)c->arg);
        break;
    case SCN_CONNECT:
        what = "connect";
        want = c->has_expect ? c->expect : BERTH_EINPROGRESS;
        rc = call_connect(r, h, c);
        learn_lport(r, h);
        break;
    case SCN_SHUTDOWN:
        what = "shutdown";
        rc = berth_shutdown(r->s, h, (int)c->arg);
        break;
    case SCN_CLOSE:
    case SCN_ABORT:
        what = ev->kind == SCN_CLOSE ? "close" : "abort";
        rc =
            ev->kind == SCN_CLOSE ? berth_close(r->s, h) : berth_abort(r->s, h);
        if (rc == 0)
            forget_events(r, h); /* the handle may be reused */
        break;
    default:
        what = "setopt";
        rc = berth_setopt(r->s, h, (enum berth_opt)c->which, c->arg);
        break;
    }
    return check_result(r, what, rc, want);
}

static int check_state(struct scn_runner *r, const struct scn_call *c)
{
    struct berth_tcp_info info;
    int rc = berth_getinfo(r->s, handle(r, c), &info);
    if (c->which < 0)
        return check_result(r, "getinfo", rc, c->arg);
    if (rc != 0)
        return check_result(r, "getinfo", rc, 0);
    if ((int)info.state == c->which)
        return 0;
    return scn_fail(r, "expected state %s, got %s",
                    berth_state_name((enum berth_state)c->which),
                    berth_state_name(info.state));
}

static void format_field(const struct scn_field *f, uint64_t v, char *buf,
                         size_t size)
{
    if (f->kind == SCN_F_STATE)
        snprintf(buf, size, "%s", berth_state_name((enum berth_state)v));
    else if (f->kind == SCN_F_ADDR)
        scn_format_addr((uint32_t)v, buf, size);
    else if (f->kind == SCN_F_TIME && v != SCN_NO_TIME)
        snprintf(buf, size, "%" PRIu64 "us", v);
    else
        snprintf(buf, size, "%" PRIu64, v);
}

static int check_info(struct scn_runner *r, const struct scn_call *c)
{
    struct berth_tcp_info info;
    int rc = berth_getinfo(r->s, handle(r, c), &info);
    if (rc != 0)
        return check_result(r, "getinfo", rc, 0);
    const struct scn_field *f = c->field;
    uint64_t v = scn_field_get(&info, f);
    const struct scn_tuple *tp = scn_tuple_find(
        r, info.local.port, info.remote.addr, info.remote.port, false);
    if (f->kind == SCN_F_OUR_SEQ && tp && tp->has_iss)
        v = (uint32_t)(v - tp->iss);
    if (v == (uint64_t)c->arg)
        return 0;
    char g[32], w[32];
    format_field(f, v, g, sizeof(g));
    format_field(f, (uint64_t)c->arg, w, sizeof(w));
    return scn_fail(r, "expected info %s %s, got %s", f->name, w, g);
}

static int check_mask(struct scn_runner *r, const char *what, uint32_t got,
                      uint32_t want)
{
    if (got == want)
        return 0;
    char g[96], w[96];
    scn_evmask_format(got, g, sizeof(g));
    scn_evmask_format(want, w, sizeof(w));
    return scn_fail(r, "expected %s %s, got %s", what, w, g);
}

static int check_events(struct scn_runner *r, const struct scn_call *c)
{
    int h = handle(r, c);
    uint32_t got = 0;
    for (size_t i = 0; i < r->nevrecs; i++) {
        if (r->evrecs[i].sock == h) {
            got = r->evrecs[i].mask;
            r->evrecs[i].mask = 0;
        }
    }
    return check_mask(r, "events", got, (uint32_t)c->arg);
}

static int check_count(struct scn_runner *r, const struct scn_event *ev)
{
    const struct scn_call *c = &ev->call;
    bool ctr = ev->kind == SCN_COUNTER;
    uint64_t got = ctr ? berth_counter(r->s, (enum berth_counter)c->which)
                       : berth_drop_count(r->s, (enum berth_reason)c->which);
    if (got == (uint64_t)c->arg)
        return 0;
    return scn_fail(r, "expected %s %s %" PRId64 ", got %" PRIu64,
                    ctr ? "counter" : "drop",
                    ctr ? berth_counter_name((enum berth_counter)c->which)
                        : berth_reason_name((enum berth_reason)c->which),
                    c->arg, got);
}

static int check_mem(struct scn_runner *r)
{
    size_t allocs = berth_mem_allocs(r->s), bytes = berth_mem_bytes(r->s);
    if (allocs == r->base_allocs && bytes == r->base_bytes)
        return 0;
    return scn_fail(r,
                    "expected mem baseline (%zu allocations, %zu bytes), "
                    "got %zu allocations, %zu bytes",
                    r->base_allocs, r->base_bytes, allocs, bytes);
}

static int check_deadline(struct scn_runner *r, const struct scn_call *c)
{
    uint64_t d = berth_next_deadline(r->s);
    if (d == c->when)
        return 0;
    char g[32], w[32];
    scn_format_time(d, g, sizeof(g));
    scn_format_time(c->when, w, sizeof(w));
    return scn_fail(r, "expected deadline %s, got %s", w, g);
}

int scn_call_run(struct scn_runner *r, const struct scn_event *ev)
{
    const struct scn_call *c = &ev->call;
    switch (ev->kind) {
    case SCN_SOCKET:
    case SCN_ACCEPT:
    case SCN_UDP_SOCKET:
        return call_new_handle(r, ev);
    case SCN_SEND:
        return call_send(r, c);
    case SCN_RECV:
        return call_recv(r, c);
    case SCN_POLL:
        return check_mask(r, "poll", berth_poll(r->s, handle(r, c)),
                          (uint32_t)c->arg);
    case SCN_ERROR:
        return check_result(r, "error", berth_sock_error(r->s, handle(r, c)),
                            c->arg);
    case SCN_STATE:
        return check_state(r, c);
    case SCN_INFO:
        return check_info(r, c);
    case SCN_COUNTER:
    case SCN_DROP:
        return check_count(r, ev);
    case SCN_EVENTS:
        return check_events(r, c);
    case SCN_MEM:
        return check_mem(r);
    case SCN_DEADLINE:
        return check_deadline(r, c);
    default:
        return call_simple(r, ev);
    }
}
