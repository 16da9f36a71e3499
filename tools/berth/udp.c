/* berth commands over UDP (RFC 768): `berth cat -u`, like nc -u (each read
 * of stdin is one datagram to the peer, each datagram from it goes to
 * stdout), and `berth udp-echo`, the echo service (RFC 862) for
 * datagrams. No handshake, no close: cat -u ends a quiet while after
 * stdin's end, or at once on the peer's port unreachable (ECONNREFUSED). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cat.h"
#include "cmds.h"
#include "common.h"

#define DGRAM_MAX 65527u /* the largest UDP payload: IPv6's (IPv4's 65507) */
#define ROUNDS    64     /* datagrams per callback; the tick carries on */

struct ucat {
    const char *prog;
    struct berth_rt *rt;
    struct berth_stack *st;
    struct berth_endpoint peer; /* connect mode: the target */
    bool listen_mode, verbose, have_peer, in_pollable, in_watched;
    bool in_eof, again, finished;
    int in_saved_flags;
    uint64_t wait;     /* us of quiet after stdin's end (or --wait) */
    uint64_t quiet_at; /* when that quiet ends; UINT64_MAX: not yet */
    int sock, exit_code;
    uint64_t sent, rcvd; /* datagrams */
    uint8_t *buf;
};

static void ucat_finish(struct ucat *k, int code)
{
    if (k->finished)
        return;
    k->finished = true;
    k->exit_code = code;
    if (k->in_watched)
        berth_rt_unwatch_fd(k->rt, 0);
    k->in_watched = false;
    if (k->sock >= 0)
        berth_close(k->st, k->sock);
    k->sock = -1;
    berth_rt_exit(k->rt);
}

static void ucat_fail(struct ucat *k, int err)
{
    char ep[64];
    error_line(k->prog, "%s: %s", ep_str(k->peer, ep, sizeof ep),
               berth_strerror(err));
    ucat_finish(k, 1);
}

/* stdin -> datagrams: one per read, to the peer (none yet in listen mode:
 * stdin waits for the first datagram to name one, as nc -u -l). */
static void ucat_in(struct ucat *k)
{
    for (int round = 0; round < ROUNDS; round++) {
        if (k->finished || k->in_eof || !k->have_peer)
            return;
        ssize_t n = read(0, k->buf, DGRAM_MAX);
        if (n < 0 && errno == EAGAIN)
            return; /* the watch brings us back */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            error_line(k->prog, "reading stdin: %s", strerror(errno));
            ucat_finish(k, 1);
            return;
        }
        if (n == 0) {
            k->in_eof = true;
            if (k->in_watched)
                berth_rt_unwatch_fd(k->rt, 0);
            k->in_watched = false;
            k->quiet_at = berth_rt_now(k->rt) + k->wait;
            return;
        }
        int r = berth_send(k->st, k->sock, k->buf, (size_t)n);
        if (r < 0) {
            ucat_fail(k, r);
            return;
        }
        k->sent++;
    }
    k->again = true;
}

static void on_stdin(void *ctx, int fd, uint32_t events)
{
    (void)fd;
    (void)events;
    ucat_in(ctx);
}

static void ucat_start_input(struct ucat *k)
{
    if (k->in_pollable && !k->in_watched && !k->in_eof)
        k->in_watched = berth_rt_watch_fd(k->rt, 0, EPOLLIN, on_stdin, k) == 0;
    if (!k->in_watched)
        k->again = true; /* a regular file: read in the tick */
    ucat_in(k);
}

/* datagrams -> stdout, whole, one write each. */
static void ucat_out(struct ucat *k)
{
    for (int round = 0; round < ROUNDS && !k->finished; round++) {
        struct berth_endpoint from;
        int r = berth_recvfrom(k->st, k->sock, k->buf, DGRAM_MAX, &from);
        if (r == BERTH_EAGAIN)
            return;
        if (r < 0) {
            ucat_fail(k, r);
            return;
        }
        if (!k->have_peer) { /* listen mode: the first sender is the peer */
            k->peer = from;
            k->have_peer = true;
            berth_connect_endpoint(k->st, k->sock, &from);
            if (k->verbose) {
                char ep[64];
                fprintf(stderr, "%s: datagrams from %s\n", k->prog,
                        ep_str(endpoint_unmap(from), ep, sizeof ep));
            }
            ucat_start_input(k);
        }
        k->rcvd++;
        if (k->in_eof)
            k->quiet_at = berth_rt_now(k->rt) + k->wait;
        for (size_t off = 0; off < (size_t)r;) {
            ssize_t n = write(1, k->buf + off, (size_t)r - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                error_line(k->prog, "writing stdout: %s", strerror(errno));
                ucat_finish(k, 1);
                return;
            }
            off += (size_t)n;
        }
    }
    k->again = true;
}

static void ucat_event(void *ctx, int sock, uint32_t events)
{
    struct ucat *k = ctx;
    (void)events;
    if (sock == k->sock && !k->finished)
        ucat_out(k);
}

static uint64_t ucat_tick(void *ctx, uint64_t now)
{
    struct ucat *k = ctx;
    if (k->again && !k->finished) {
        k->again = false;
        ucat_out(k);
        if (!k->in_watched)
            ucat_in(k);
    }
    if (!k->finished && k->in_eof && now >= k->quiet_at)
        ucat_finish(k, 0);
    if (k->finished)
        return UINT64_MAX;
    return k->again ? now : k->in_eof ? k->quiet_at : UINT64_MAX;
}

static void ucat_stop(void *ctx)
{
    struct ucat *k = ctx;
    int sig = berth_rt_stop_signal(k->rt);
    if (k->finished)
        return;
    if (sig)
        error_line(k->prog, "interrupted");
    ucat_finish(k, sig ? 128 + sig : 1);
}

static int ucat_open(struct common *c, struct ucat *k, uint16_t port)
{
    int r = k->sock = berth_udp_socket(k->st);
    if (r >= 0 && k->listen_mode)
        r = bind_any(k->st, k->sock, port); /* both families */
    if (r >= 0 && !k->listen_mode)
        r = berth_connect_endpoint(k->st, k->sock, &k->peer);
    if (r < 0) {
        error_line(c->prog, "cannot open a UDP socket on port %u: %s", port,
                   berth_strerror(r));
        return 1;
    }
    k->have_peer = !k->listen_mode;
    if (k->listen_mode)
        print_listening(c, k->rt, "taking datagrams", port);
    return 0;
}

int cat_udp(struct common *c, const struct cat_args *a)
{
    struct ucat k = {.prog = c->prog,
                     .peer = a->target,
                     .listen_mode = a->listen_mode,
                     .verbose = a->verbose,
                     .sock = -1,
                     .wait = a->wait,
                     .quiet_at = UINT64_MAX,
                     .in_saved_flags = -1};
    uint16_t port = a->port;
    signal(SIGPIPE, SIG_IGN);
    k.buf = malloc(DGRAM_MAX);
    if (!k.buf) {
        error_line(k.prog, "out of memory");
        return 1;
    }
    k.rt = common_rt_create(c);
    if (!k.rt) {
        free(k.buf);
        return 1;
    }
    k.st = berth_rt_stack(k.rt);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event probe = {.events = EPOLLIN};
    k.in_pollable = ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, 0, &probe) == 0;
    if (ep >= 0)
        close(ep);
    if (k.in_pollable) {
        int fl = fcntl(0, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK) &&
            fcntl(0, F_SETFL, fl | O_NONBLOCK) == 0)
            k.in_saved_flags = fl;
    }
    int rc = ucat_open(c, &k, port);
    if (rc == 0) {
        struct berth_rt_app app = {ucat_event, ucat_tick, ucat_stop, &k};
        berth_rt_set_app(k.rt, &app);
        if (k.have_peer)
            ucat_start_input(&k);
        int r = berth_rt_run(k.rt);
        if (r < 0)
            error_line(k.prog, "event loop failed: %s", strerror(-r));
        rc = r < 0 || !k.finished ? 1 : k.exit_code;
        if (k.verbose)
            fprintf(stderr,
                    "%s: %" PRIu64 " datagrams sent, %" PRIu64 " received\n",
                    k.prog, k.sent, k.rcvd);
    }
    if (k.in_saved_flags >= 0)
        fcntl(0, F_SETFL, k.in_saved_flags);
    berth_rt_destroy(k.rt);
    free(k.buf);
    return rc;
}

/* ---- berth udp-echo ---- */

struct uecho {
    struct berth_stack *st;
    int sock;
    uint64_t dgrams, bytes;
    uint8_t *buf;
};

static void uecho_event(void *ctx, int sock, uint32_t events)
{
    struct uecho *e = ctx;
    (void)events;
    if (sock != e->sock)
        return;
    /* Bounded: each round takes one datagram from the queue. */
    for (int round = 0; round < 4096; round++) {
        struct berth_endpoint from;
        int r = berth_recvfrom(e->st, sock, e->buf, DGRAM_MAX, &from);
        if (r < 0)
            return; /* EAGAIN (or an error no reply can fix) */
        if (berth_sendto(e->st, sock, e->buf, (size_t)r, &from) == r) {
            e->dgrams++;
            e->bytes += (uint64_t)r;
        }
    }
}

static void uecho_stop(void *ctx)
{
    struct uecho *e = ctx;
    if (e->sock >= 0)
        berth_close(e->st, e->sock);
    e->sock = -1;
}

static void uecho_usage(FILE *f)
{
    fprintf(f, "usage: berth udp-echo [--port N] [options]\n"
               "\n"
               "UDP echo server (RFC 862): every datagram received is sent "
               "back to its\nsender, whole.\n"
               "  --port N             port to take datagrams on (7)\n"
               "\n");
    common_usage(f);
}

int cmd_udp_echo(int argc, char **argv)
{
    struct common c;
    uint16_t port = 7;
    common_init(&c, "berth udp-echo");
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            uecho_usage(stdout);
            return 0;
        }
        int r = opt_value(c.prog, argc, argv, &i, "--port", &v);
        if (r > 0 && parse_port(c.prog, v, &port) != 0)
            return EXIT_USAGE;
        if (common_option_last(&c, r, argc, argv, &i) != 0)
            return EXIT_USAGE;
    }
    if (common_finish(&c) != 0)
        return EXIT_USAGE;
    struct uecho e = {.sock = -1, .buf = malloc(DGRAM_MAX)};
    if (!e.buf)
        return 1;
    struct berth_rt *rt = common_rt_create(&c);
    if (!rt) {
        free(e.buf);
        return 1;
    }
    e.st = berth_rt_stack(rt);
    int r = e.sock = berth_udp_socket(e.st);
    if (r >= 0)
        r = bind_any(e.st, e.sock, port); /* both families */
    if (r < 0) {
        error_line(c.prog, "cannot take datagrams on port %u: %s", port,
                   berth_strerror(r));
        berth_rt_destroy(rt);
        free(e.buf);
        return 1;
    }
    struct berth_rt_app app = {uecho_event, NULL, uecho_stop, &e};
    berth_rt_set_app(rt, &app);
    print_listening(&c, rt, "taking datagrams", port);
    r = berth_rt_run(rt);
    fprintf(stderr,
            "%s: stopped: %" PRIu64 " datagrams, %" PRIu64 " bytes echoed\n",
            c.prog, e.dgrams, e.bytes);
    berth_rt_destroy(rt);
    free(e.buf);
    return r < 0 ? 1 : 0;
}
