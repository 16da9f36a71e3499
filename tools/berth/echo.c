/* berth command: `berth echo`, the echo service (RFC 862) on berth's TCP.
 * Each connection has one buffer: what was read is sent back before more
 * is read, so a peer that does not read its echo is flow-controlled. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"
#include "conntab.h"

#define ECHO_BUF 65536

struct echo_conn {
    struct ctab_node node; /* key: the socket handle */
    size_t off, len;       /* buf[off, len) still to send back */
    bool eof;              /* the peer finished sending */
    uint8_t buf[ECHO_BUF];
};

struct echo {
    struct berth_rt *rt;
    struct berth_stack *st;
    struct sockopts so;
    int lsn;
    struct ctab conns;
    uint64_t accepted, bytes;
};

static void echo_close(struct echo *e, struct echo_conn *c, bool abort)
{
    int sock = (int)c->node.key;
    if (abort)
        berth_abort(e->st, sock);
    else
        berth_close(e->st, sock);
    ctab_remove(&e->conns, &c->node);
    free(c);
}

static void echo_pump(struct echo *e, struct echo_conn *c)
{
    int sock = (int)c->node.key;
    /* Bounded by what the stack holds: each round sends or reads. */
    for (int round = 0; round < 4096; round++) {
        while (c->off < c->len) {
            int r = berth_send(e->st, sock, c->buf + c->off, c->len - c->off);
            if (r == BERTH_EAGAIN)
                return; /* WRITABLE brings us back */
            if (r < 0) {
                echo_close(e, c, true);
                return;
            }
            c->off += (size_t)r;
            e->bytes += (uint64_t)r;
        }
        c->off = c->len = 0;
        if (c->eof) {
            echo_close(e, c, false); /* all echoed: FIN */
            return;
        }
        int r = berth_recv(e->st, sock, c->buf, sizeof c->buf);
        if (r == BERTH_EAGAIN)
            return;
        if (r < 0) {
            echo_close(e, c, false);
            return;
        }
        if (r == 0)
            c->eof = true;
        c->len = (size_t)r;
    }
}

static void echo_accept(struct echo *e)
{
    for (;;) {
        int s = berth_accept(e->st, e->lsn, NULL);
        if (s < 0)
            return; /* EAGAIN, or out of handles: the next SYN retries */
        sockopts_apply(e->st, s, &e->so);
        struct echo_conn *c = calloc(1, sizeof *c);
        if (!c || ctab_insert(&e->conns, &c->node, s) != 0) {
            free(c);
            berth_abort(e->st, s);
            continue;
        }
        e->accepted++;
        echo_pump(e, c);
    }
}

static void echo_event(void *ctx, int sock, uint32_t events)
{
    struct echo *e = ctx;
    (void)events;
    if (sock == e->lsn) {
        echo_accept(e);
        return;
    }
    struct ctab_node *n = ctab_find(&e->conns, sock);
    if (n)
        echo_pump(e, CTAB_ENTRY(n, struct echo_conn, node));
}

static void echo_stop(void *ctx)
{
    struct echo *e = ctx;
    if (e->lsn >= 0)
        berth_close(e->st, e->lsn);
    e->lsn = -1;
    while (e->conns.first)
        echo_close(e, CTAB_ENTRY(e->conns.first, struct echo_conn, node),
                   false);
}

static void echo_usage(FILE *f)
{
    fprintf(f, "usage: berth echo [--port N] [options]\n"
               "\n"
               "Echo server (RFC 862): every byte received is sent back; "
               "the connection\ncloses after the peer's FIN once "
               "everything is echoed.\n"
               "  --port N             port to listen on (7)\n"
               "  --threads N          shards, as berth http's (default: "
               "the online CPUs)\n"
               "\n");
    common_usage(f);
}

/* One echo server on a shard's stack; 0 or -1 (message printed). */
static int echo_listen(const struct common *c, struct echo *e,
                       struct berth_rt *rt, uint16_t port)
{
    e->so = c->so;
    e->lsn = -1;
    ctab_init(&e->conns);
    e->rt = rt;
    e->st = berth_rt_stack(rt);
    int r = e->lsn = berth_socket(e->st);
    if (r >= 0)
        r = sockopts_apply(e->st, e->lsn, &e->so);
    if (r >= 0)
        r = bind_any(e->st, e->lsn, port);
    if (r >= 0)
        r = berth_listen(e->st, e->lsn, 1024);
    if (r < 0) {
        error_line(c->prog, "cannot listen on port %u: %s", port,
                   berth_strerror(r));
        return -1;
    }
    struct berth_rt_app app = {echo_event, NULL, echo_stop, e};
    berth_rt_set_app(rt, &app);
    return 0;
}

static void echo_free(struct echo *e)
{
    while (e->conns.first) { /* the stack goes with the runtime */
        struct ctab_node *n = e->conns.first;
        ctab_remove(&e->conns, n);
        free(CTAB_ENTRY(n, struct echo_conn, node));
    }
    ctab_free(&e->conns);
}

int cmd_echo(int argc, char **argv)
{
    struct common c;
    uint16_t port = 7;
    unsigned threads = common_default_threads();
    common_init(&c, "berth echo");
    for (int i = 1; i < argc; i++) {
        const char *v;
        uint64_t n;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            echo_usage(stdout);
            return 0;
        }
        int r = opt_value(c.prog, argc, argv, &i, "--port", &v);
        if (r > 0 && parse_port(c.prog, v, &port) != 0)
            return EXIT_USAGE;
        if (r == 0 &&
            (r = opt_value(c.prog, argc, argv, &i, "--threads", &v)) > 0) {
            if (!strcmp(v, "auto"))
                threads = common_default_threads();
            else if (parse_uint(c.prog, "--threads", v, 1, 64, &n) != 0)
                return EXIT_USAGE;
            else
                threads = (unsigned)n;
        }
        if (common_option_last(&c, r, argc, argv, &i) != 0)
            return EXIT_USAGE;
    }
    if (common_finish(&c) != 0)
        return EXIT_USAGE;

    struct berth_rt_group *g = common_rt_group_create(&c, threads);
    if (!g)
        return 1;
    /* A listener and an echo server on every shard. */
    unsigned n = berth_rt_group_size(g), made = 0;
    struct echo *e = calloc(n, sizeof *e);
    while (e && made < n &&
           echo_listen(&c, &e[made], berth_rt_group_shard(g, made), port) == 0)
        made++;
    int r = -1;
    if (made == n) {
        print_listening(&c, berth_rt_group_shard(g, 0), "listening", port);
        r = berth_rt_group_run(g);
        uint64_t accepted = 0, bytes = 0;
        for (unsigned i = 0; i < n; i++) {
            accepted += e[i].accepted;
            bytes += e[i].bytes;
        }
        fprintf(stderr,
                "%s: stopped: %" PRIu64 " connections, %" PRIu64
                " bytes echoed\n",
                c.prog, accepted, bytes);
    }
    for (unsigned i = 0; e && i < n; i++)
        echo_free(&e[i]);
    free(e);
    berth_rt_group_destroy(g);
    return r < 0 ? 1 : 0;
}
