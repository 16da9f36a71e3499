/* berth command: `berth demo` over the in-memory link — when there is no
 * TUN (not root, no /dev/net/tun) or with --memlink. Two berth stacks in
 * one process, in virtual time: the server runs the same HTTP server as
 * `berth http`, the client asks what the demo's curl commands ask. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/memlink.h"
#include "demo.h"
#include "http.h"
#include "ladder.h"

#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1: where the kernel would be */
#define RUN_LIMIT   (3600 * UINT64_C(1000000)) /* virtual-time bound: 1 h */
#define RESP_HEAD   4096

/* The client: job 0 is one HTTP/1.0 request on a short connection, job 1
 * the keep-alive requests on one connection; then it is done. */
struct mclient {
    struct memdemo *m;
    int job;       /* 0, 1, or 2 when done */
    int sock;      /* -1 between jobs */
    int next;      /* requests sent on this connection */
    bool eof_wait; /* HTTP/1.0: the server closes after the response */
    char head[RESP_HEAD];
    size_t hlen;
    bool in_body;
    int status;         /* of the response being read */
    uint64_t size;      /* its Content-Length */
    uint64_t body_left; /* body bytes still to come */
    struct demo_result res[2];
};

struct memdemo {
    struct demo_opts *o;
    struct berth_memlink *link;
    struct berth_stack *st[2]; /* 0 client, 1 server */
    struct http_server *srv;
    struct ladders *ld;
    struct mclient cli;
    FILE *pcap;
    struct berth_events *events; /* the server's event log, or NULL */
};

/* ---------------------------------------------------------------------- */
/* Observers: the link's tap (ladder, capture), traces, the server's calls. */

static void pcap_write(FILE *f, uint64_t now, const uint8_t *pkt, size_t len)
{
    uint32_t h[4] = {(uint32_t)(now / 1000000), (uint32_t)(now % 1000000),
                     (uint32_t)len, (uint32_t)len};
    fwrite(h, sizeof h, 1, f);
    fwrite(pkt, 1, len, f);
}

static FILE *pcap_open(const char *path)
{
    char err[256];
    int fd = berth_rt_create_file(path, false, err, sizeof err);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    /* LINKTYPE_RAW (101): packets start with the IPv4 header. */
    uint32_t g[6] = {0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 101};
    if (f)
        fwrite(g, sizeof g, 1, f);
    return f;
}

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    struct memdemo *m = ctx;
    ladders_packet(m->ld, from, now, pkt, len, fate & BERTH_MEMLINK_FATE_LOST);
    if (m->pcap)
        pcap_write(m->pcap, now, pkt, len);
}

static void trace0(void *ctx, const struct berth_trace *ev)
{
    struct memdemo *m = ctx;
    ladders_trace(m->ld, 0, ev);
}

static void trace1(void *ctx, const struct berth_trace *ev)
{
    struct memdemo *m = ctx;
    ladders_trace(m->ld, 1, ev);
}

static void note(struct memdemo *m, int side, int sock, const char *what)
{
    struct berth_endpoint local = {0}, remote = {0};
    berth_getsockname(m->st[side], sock, &local);
    berth_getpeername(m->st[side], sock, &remote);
    ladders_app(m->ld, side, berth_memlink_time(m->link), local, remote, what);
}

static void server_note(void *ctx, int sock, const char *what)
{
    note(ctx, 1, sock, what);
}

static uint64_t link_clock(void *ctx)
{
    struct memdemo *m = ctx;
    return berth_memlink_time(m->link);
}

static void server_event(void *ctx, int sock, uint32_t events)
{
    struct memdemo *m = ctx;
    http_server_event(m->srv, sock, events);
}

/* ---------------------------------------------------------------------- */
/* The client. */

static void client_note(struct mclient *k, const char *what)
{
    struct memdemo *m = k->m;
    struct berth_endpoint local = {CLIENT_ADDR, 0};
    struct berth_endpoint remote = {m->o->c.rt.addr, 80};
    berth_getsockname(m->st[0], k->sock, &local);
    ladders_app(m->ld, 0, berth_memlink_time(m->link), local, remote, what);
}

static void client_start(struct mclient *k)
{
    struct memdemo *m = k->m;
    k->sock = berth_socket(m->st[0]);
    k->next = 0;
    k->hlen = 0;
    k->in_body = false;
    k->eof_wait = false;
    if (k->sock < 0) {
        snprintf(k->res[k->job].error, sizeof k->res[0].error, "socket: %s",
                 berth_strerror(k->sock));
        k->job = 2;
        return;
    }
    client_note(k, "connect()");
    k->res[k->job].connections++;
    berth_connect(m->st[0], k->sock, m->o->c.rt.addr, 80);
}

/* Done with this connection (err NULL: as planned); on to the next job. */
static void client_end(struct mclient *k, const char *err)
{
    if (err && !k->res[k->job].error[0])
        snprintf(k->res[k->job].error, sizeof k->res[0].error, "%s", err);
    client_note(k, "close()");
    berth_close(k->m->st[0], k->sock);
    k->sock = -1;
    if (++k->job < 2)
        client_start(k);
}

static void client_send(struct mclient *k)
{
    char req[256];
    const char *path = k->job == 0 ? "/" : DEMO_PATHS[k->next];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.%d\r\nHost: 198.18.0.2\r\n"
                     "User-Agent: berth-demo\r\nAccept: */*\r\n\r\n",
                     path, k->job == 0 ? 0 : 1);
    char what[32];
    snprintf(what, sizeof what, "send %d B", n);
    client_note(k, what);
    if (berth_send(k->m->st[0], k->sock, req, (size_t)n) != n) {
        client_end(k, "the request did not fit the send buffer");
        return;
    }
    k->next++;
}

static void response_done(struct mclient *k, int status, uint64_t size)
{
    struct demo_result *r = &k->res[k->job];
    if (r->n < DEMO_MAX_REQ) {
        r->status[r->n] = status;
        r->size[r->n] = size;
        r->n++;
    }
    k->hlen = 0;
    k->in_body = false;
    if (k->job == 0)
        k->eof_wait = true; /* HTTP/1.0: the server closes */
    else if (k->next < DEMO_NPATHS)
        client_send(k);
    else
        client_end(k, NULL);
}

/* Feeds response bytes: a head (status, Content-Length), then its body. */
static void client_consume(struct mclient *k, const uint8_t *p, size_t n)
{
    while (n > 0 && k->sock >= 0) {
        if (k->in_body) {
            size_t take = n < k->body_left ? n : (size_t)k->body_left;
            k->body_left -= take;
            p += take;
            n -= take;
        } else {
            size_t take =
                n < RESP_HEAD - 1 - k->hlen ? n : RESP_HEAD - 1 - k->hlen;
            memcpy(k->head + k->hlen, p, take);
            k->hlen += take;
            k->head[k->hlen] = '\0';
            char *end = strstr(k->head, "\r\n\r\n"), *cl;
            if (!end || sscanf(k->head, "HTTP/1.%*d %d", &k->status) != 1 ||
                !(cl = strstr(k->head, "Content-Length: "))) {
                if (end || k->hlen == RESP_HEAD - 1)
                    client_end(k, "bad response");
                return; /* a partial head: wait for more */
            }
            k->size = strtoull(cl + 16, NULL, 10);
            size_t extra = k->hlen - (size_t)(end + 4 - k->head);
            k->in_body = true;
            k->body_left = k->size;
            /* Bytes past the head in this read are body: go again. */
            p += take - extra;
            n -= take - extra;
            k->hlen = 0;
        }
        if (k->in_body && k->body_left == 0)
            response_done(k, k->status, k->size);
    }
}

static void client_read(struct mclient *k)
{
    uint8_t buf[16384];
    /* Bounded by what the stack holds; the next event brings the rest. */
    for (int i = 0; i < 1024 && k->sock >= 0; i++) {
        int r = berth_recv(k->m->st[0], k->sock, buf, sizeof buf);
        if (r == BERTH_EAGAIN)
            return;
        if (r < 0) {
            client_end(k, berth_strerror(r));
            return;
        }
        if (r == 0) {
            client_note(k, "recv EOF");
            client_end(k, k->eof_wait ? NULL : "connection closed early");
            return;
        }
        char what[32];
        snprintf(what, sizeof what, "recv %d B", r);
        client_note(k, what);
        client_consume(k, buf, (size_t)r);
    }
}

static void client_event(void *ctx, int sock, uint32_t events)
{
    struct memdemo *m = ctx;
    struct mclient *k = &m->cli;
    if (sock != k->sock)
        return;
    if (events & BERTH_EV_ERROR) {
        int err = berth_sock_error(m->st[0], sock);
        if (err) {
            client_end(k, berth_strerror(err));
            return;
        }
    }
    if ((events & BERTH_EV_WRITABLE) && k->next == 0)
        client_send(k);
    if (k->sock >= 0 && (events & (BERTH_EV_READABLE | BERTH_EV_HUP)))
        client_read(k);
}

/* ---------------------------------------------------------------------- */
/* Setup and the run. */

static int make_stacks(struct memdemo *m)
{
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg = m->o->c.rt.stack;
        cfg.addr = side == 0 ? CLIENT_ADDR : m->o->c.rt.addr;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(m->link, side);
        cfg.event = side == 0 ? client_event : server_event;
        cfg.event_ctx = m;
        cfg.trace = side == 0 ? trace0 : trace1;
        cfg.trace_ctx = m;
        if (side == 1 && m->events) { /* berth's side, as in the TUN story */
            cfg.log = berth_events_hook;
            cfg.log_ctx = m->events;
        }
        /* Fixed randomness: the same story every time. */
        cfg.seed = 7 + (uint64_t)side;
        for (size_t i = 0; i < sizeof cfg.secret; i++)
            cfg.secret[i] = (uint8_t)(i * 13 + (size_t)side);
        m->st[side] = berth_stack_create(&cfg, 0);
        if (!m->st[side])
            return -1;
        berth_memlink_attach(m->link, side, m->st[side]);
    }
    return 0;
}

/* Runs until the client is done, the first connection has left TIME-WAIT
 * and nothing is left to happen. */
static int drive(struct memdemo *m)
{
    uint64_t now = 0;
    bool stopped = false;
    for (int guard = 0; guard < 1000000; guard++) {
        uint64_t t = http_server_tick(m->srv, now);
        if (!stopped && m->cli.job >= 2 &&
            ladder_closed(ladders_first(m->ld), 1)) {
            http_server_stop(m->srv); /* closes the listener */
            stopped = true;
        }
        uint64_t next = berth_memlink_next_event(m->link);
        if (t < next)
            next = t;
        if (next == UINT64_MAX)
            return stopped ? 0 : -1;
        if (next > RUN_LIMIT)
            return -1;
        if (berth_memlink_run(m->link, &now, next) != 0)
            return -1;
    }
    return -1;
}

static void print_story(struct memdemo *m, const char *why, int rc)
{
    char a[16], msl[24], tw[24];
    const struct berth_config *cfg = &m->o->c.rt.stack;
    printf("berth demo: %s\n"
           "Telling the same story over the in-memory link instead: two "
           "berth stacks in\none process, in virtual time. The client at "
           "198.18.0.1 asks what the demo's\ncurl would ask; the server at "
           "%s:80 runs the same HTTP server as\n`berth http`:\n\n"
           "  1. GET / over HTTP/1.0: a short connection, the server "
           "closes first\n"
           "  2. GET /, /bytes/1000 and /bytes/1000000 over one keep-alive "
           "connection\n\n"
           "One connection, segment by segment. Sequence numbers are "
           "relative to\neach side's ISN; MSL is %s, so TIME-WAIT lasts %s "
           "(virtual time is free).\n\n",
           why, ip_str(m->o->c.rt.addr, a, sizeof a),
           time_str(cfg->msl, msl, sizeof msl),
           time_str(2 * cfg->msl, tw, sizeof tw));
    demo_print_ladder(stdout, m->ld, "client (berth)", "server (http)");
    demo_print_udp(stdout);
    m->cli.res[0].command = "1. GET / (HTTP/1.0)";
    m->cli.res[1].command = "2. GET / /bytes/1000 /bytes/1000000";
    demo_print_results(stdout, "the client", m->cli.res, 2);
    demo_print_counters(stdout, m->st[1], m->st[0]);
    bool clean =
        berth_mem_bytes(m->st[0]) == 0 && berth_mem_bytes(m->st[1]) == 0;
    printf("\nMemory: %s\n", clean ? "both stacks are back to zero bytes "
                                     "held (nothing leaked)"
                                   : "NOT back to zero: something leaked");
    if (m->pcap)
        printf("Capture: %s (virtual time; tshark -r %s)\n", m->o->pcap,
               m->o->pcap);
    demo_print_events(stdout, m->o);
    demo_write_figure(stdout, m->o, m->ld, "client (berth)", "server (http)");
    demo_print_next(stdout, m->o);
    if (rc != 0)
        printf("\nberth demo: the run did not settle as expected\n");
}

/* --impair applies to the in-memory link too, both directions, so the
 * ladder can show losses and retransmissions. */
static void apply_impair(struct berth_memlink *link,
                         const struct berth_impair *imp)
{
    struct berth_memlink_impair mi;
    berth_memlink_impair_init(&mi);
    mi.loss = imp->drop_all ? 1.0 : imp->loss;
    mi.duplicate = imp->dup;
    mi.reorder = imp->reorder;
    mi.jitter = imp->jitter;
    if (imp->delay)
        mi.delay = imp->delay;
    for (int side = 0; side < 2; side++)
        berth_memlink_set_impair(link, side, &mi);
}

int demo_memlink(struct demo_opts *o, const char *why)
{
    struct memdemo m = {.o = o};
    char err[160];
    int rc = 1;
    m.cli.m = &m;
    m.cli.sock = -1;
    const struct berth_impair *imp = &o->c.rt.impair;
    m.link = berth_memlink_create(imp->seed ? imp->seed : 1);
    if (m.link)
        apply_impair(m.link, imp);
    m.ld = ladders_create(false);
    if (o->events) {
        m.events = berth_events_open(o->events, 0, err, sizeof err);
        if (!m.events) {
            error_line(o->c.prog, "%s (no event log)", err);
            o->events = NULL;
        }
    }
    if (!m.link || !m.ld || make_stacks(&m) != 0) {
        error_line(o->c.prog, "cannot create the in-memory link and stacks");
        goto out;
    }
    struct http_config hc;
    http_config_init(&hc);
    hc.so.keepalive = o->c.so.keepalive;
    hc.date = false; /* virtual time: a server without a clock */
    m.srv = http_server_create(m.st[1], &hc, link_clock, &m, err, sizeof err);
    if (!m.srv) {
        error_line(o->c.prog, "%s", err);
        goto out;
    }
    http_server_set_note(m.srv, server_note, &m);
    if (o->pcap)
        m.pcap = pcap_open(o->pcap);
    berth_memlink_set_tap(m.link, tap, &m);
    client_start(&m.cli);
    rc = drive(&m) == 0 ? 0 : 1;
    if (m.events) { /* complete before the story names it */
        berth_set_log(m.st[1], NULL, NULL);
        if (berth_events_close(m.events) < 0)
            error_line(o->c.prog, "event log %s incomplete", o->events);
        m.events = NULL;
    }
    for (int j = 0; j < 2; j++)
        if (m.cli.res[j].error[0] || m.cli.res[j].n == 0)
            rc = 1;
    print_story(&m, why, rc);
out:
    if (m.pcap)
        fclose(m.pcap);
    if (m.events) {
        if (m.st[1])
            berth_set_log(m.st[1], NULL, NULL);
        berth_events_close(m.events);
    }
    http_server_destroy(m.srv);
    for (int side = 0; side < 2; side++)
        if (m.st[side])
            berth_stack_destroy(m.st[side]);
    if (m.link)
        berth_memlink_destroy(m.link);
    ladders_destroy(m.ld);
    return rc;
}
