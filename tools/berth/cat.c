/* berth command: `berth cat`, like nc over berth's TCP. stdin goes to the
 * connection and the connection to stdout through non-blocking descriptors
 * watched by the runtime; berth's own flow control (a full send buffer, a
 * closed window) is the backpressure both ways. stdin is read straight into
 * the socket's send buffer (berth_send_reserve, readv, berth_send_commit).
 * What arrives coalesced (a super-packet from a TUN with offloads) is
 * written to stdout straight from the receive buffer (berth_recv_peek,
 * writev, berth_recv_consume of what went out); small pieces are copied
 * into a batch written when it is full or the loop iteration ends: one
 * write() per wake-up, not per packet. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "cat.h"
#include "cmds.h"
#include "common.h"

/* The most read from stdin at once, and stdout's batch of small pieces. */
#define CAT_BUF (256 * 1024)
/* Readable bytes that go to stdout at once, without the copy into the
 * batch: a coalesced super-packet's worth (a copy of 16 KiB costs more than
 * a write(): a null syscall takes about 170 ns on the machine measured). */
#define ZC_MIN (16 * 1024)
#define ROUNDS 64 /* per callback; the tick carries on if there is more */

struct side {
    bool pollable;   /* epoll works on it (not a regular file, /dev/null) */
    bool watched;    /* waiting for it: stdin readable, stdout writable */
    int saved_flags; /* to restore O_NONBLOCK as it was; -1 if untouched */
    uint8_t *buf;    /* stdout's batch of small pieces */
    size_t off, len; /* buf[off, len) pending */
};

struct cat {
    const char *prog;
    struct berth_rt *rt;
    struct berth_stack *st;
    struct sockopts so;
    struct berth_endpoint target; /* connect mode */
    bool listen_mode, verbose;
    uint64_t connect_timeout; /* us; 0: the stack's SYN retries decide */
    uint64_t connect_deadline;
    int lsn, sock;
    bool connected;
    struct side in, out; /* stdin -> connection, connection -> stdout */
    bool in_eof;         /* stdin ended (or given up after the peer's FIN) */
    bool fin_sent;       /* shutdown(WR) done */
    bool peer_eof;       /* recv returned 0 */
    bool again;          /* a pump stopped at ROUNDS */
    bool finished;
    int exit_code;
};

static void pump_in(struct cat *k);
static void pump_out(struct cat *k, bool flush);

static bool fd_pollable(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return false;
    struct epoll_event ev = {.events = EPOLLIN};
    bool ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0;
    close(ep);
    return ok;
}

static void side_init(struct side *s, int fd)
{
    s->pollable = fd_pollable(fd);
    s->saved_flags = -1;
    if (s->pollable) {
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0 && !(fl & O_NONBLOCK) &&
            fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0)
            s->saved_flags = fl;
    }
}

static void side_restore(struct side *s, int fd)
{
    if (s->saved_flags >= 0)
        fcntl(fd, F_SETFL, s->saved_flags);
    s->saved_flags = -1;
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
    struct cat *k = ctx;
    (void)events;
    if (fd == 0)
        pump_in(k);
    else
        pump_out(k, true);
}

static void watch(struct cat *k, struct side *s, int fd, bool on)
{
    if (!s->pollable || s->watched == on)
        return;
    if (on)
        s->watched = berth_rt_watch_fd(k->rt, fd, fd ? EPOLLOUT : EPOLLIN,
                                       on_fd, k) == 0;
    else
        s->watched = berth_rt_unwatch_fd(k->rt, fd) != 0;
}

static void finish(struct cat *k, int code)
{
    if (k->finished)
        return;
    k->finished = true;
    k->exit_code = code;
    watch(k, &k->in, 0, false);
    watch(k, &k->out, 1, false);
    if (k->sock >= 0) {
        if (code == 0)
            berth_close(k->st, k->sock);
        else
            berth_abort(k->st, k->sock);
        k->sock = -1;
    }
    if (k->lsn >= 0)
        berth_close(k->st, k->lsn);
    k->lsn = -1;
    berth_rt_exit(k->rt);
}

static void fail(struct cat *k, const char *what, int err)
{
    char ep[64];
    error_line(k->prog, "%s%s%s: %s", what, *what ? " " : "",
               ep_str(k->target, ep, sizeof ep), berth_strerror(err));
    finish(k, 1);
}

/* stdin -> connection, read straight into the send buffer, until it is
 * full or stdin would block; at stdin's end, shutdown(WR). */
static void pump_in(struct cat *k)
{
    struct side *s = &k->in;
    for (int round = 0; round < ROUNDS; round++) {
        if (!k->connected || k->fin_sent || k->finished)
            return;
        if (k->in_eof) {
            watch(k, s, 0, false);
            k->fin_sent = true;
            berth_shutdown(k->st, k->sock, BERTH_SHUT_WR);
            return;
        }
        struct berth_span sp[2];
        int room = berth_send_reserve(k->st, k->sock, CAT_BUF, sp);
        if (room == BERTH_EAGAIN) {
            watch(k, s, 0, false); /* WRITABLE brings us back */
            return;
        }
        if (room < 0) {
            fail(k, "", room);
            return;
        }
        struct iovec iov[2] = {{sp[0].data, sp[0].len},
                               {sp[1].data, sp[1].len}};
        ssize_t n = readv(0, iov, sp[1].len ? 2 : 1);
        if (n > 0) {
            int r = berth_send_commit(k->st, k->sock, (size_t)n);
            if (r < 0) {
                fail(k, "", r);
                return;
            }
        } else if (n == 0) {
            k->in_eof = true;
        } else if (errno == EAGAIN) {
            /* Nothing read: the reservation is forgotten. Once the peer has
             * finished, what stdin has ready is all we send: an idle
             * terminal must not keep us open. Otherwise we sleep until
             * stdin is readable: going round again here would set `again`
             * and spin the loop on an idle pipe. */
            if (!k->peer_eof) {
                watch(k, s, 0, true);
                return;
            }
            k->in_eof = true;
        } else if (errno != EINTR) {
            error_line(k->prog, "reading stdin: %s", strerror(errno));
            finish(k, 1);
            return;
        }
    }
    k->again = true;
}

/* Writes the batch (the bytes in out.buf) and behind it the n bytes of sp,
 * straight from the receive buffer, in one writev(); consumes the part of
 * sp that went out. 1 when all of it went, 0 when stdout would block
 * before that (its writability brings us back), -1 after an error. */
static int write_out(struct cat *k, const struct berth_span sp[2], size_t n)
{
    struct side *s = &k->out;
    size_t pend = s->len - s->off;
    struct iovec iov[3];
    int cnt = 0;
    if (pend)
        iov[cnt++] = (struct iovec){s->buf + s->off, pend};
    for (int i = 0; i < 2 && n; i++)
        if (sp[i].len)
            iov[cnt++] = (struct iovec){sp[i].data, sp[i].len};
    ssize_t w = cnt ? writev(1, iov, cnt) : 0;
    if (w < 0) {
        if (errno == EINTR)
            return 0; /* the caller goes round again */
        if (errno == EAGAIN) {
            watch(k, s, 1, true);
            return 0;
        }
        error_line(k->prog, "writing stdout: %s", strerror(errno));
        finish(k, 1);
        return -1;
    }
    if ((size_t)w < pend) {
        s->off += (size_t)w;
        return 0;
    }
    s->off = s->len = 0;
    size_t taken = (size_t)w - pend;
    if (taken) {
        int r = berth_recv_consume(k->st, k->sock, taken);
        if (r < 0) {
            fail(k, "", r);
            return -1;
        }
    }
    if (taken < n)
        return 0;
    watch(k, s, 1, false);
    return 1;
}

/* connection -> stdout. What arrives coalesced (ZC_MIN bytes or more
 * readable) is written at once straight from the receive buffer
 * (berth_recv_peek, writev, berth_recv_consume of what stdout took),
 * behind the batch; what arrives in small pieces (packets without
 * offloads) is copied into the batch, written when it is full, the peer
 * has finished, or on `flush` (the end of a loop iteration, or stdout
 * writable again): one write() per wake-up, not per small packet. What
 * stdout does not take stays in the receive buffer, so a slow stdout
 * closes the window. Bounded by ROUNDS; stops when stdout would block or
 * nothing is left. */
static void pump_out(struct cat *k, bool flush)
{
    struct side *s = &k->out;
    for (int round = 0; round < ROUNDS; round++) {
        if (k->finished)
            return;
        struct berth_span sp[2] = {{NULL, 0}, {NULL, 0}};
        int r = BERTH_EAGAIN;
        /* While stdout is blocked only its writability (flush) goes on. */
        if (k->connected && !k->peer_eof && (flush || !s->watched))
            r = berth_recv_peek(k->st, k->sock, sp);
        if (r < 0 && r != BERTH_EAGAIN) {
            fail(k, "", r);
            return;
        }
        if (r == 0) {
            k->peer_eof = true;
            write_out(k, sp, 0);
            pump_in(k); /* may end stdin now (see pump_in) */
            return;
        }
        size_t n = r > 0 ? (size_t)r : 0;
        if (n && n < ZC_MIN && n <= CAT_BUF - s->len) {
            r = berth_recv(k->st, k->sock, s->buf + s->len, n);
            if (r < 0) {
                fail(k, "", r);
                return;
            }
            s->len += (size_t)r;
            continue;
        }
        if (!n && (s->off == s->len || !(flush || k->peer_eof)))
            return; /* the batch waits for the flush */
        if (write_out(k, sp, n) <= 0 && (k->finished || s->watched))
            return;
    }
    k->again = true;
}

/* Done when both directions are finished and our FIN is acknowledged
 * (TIME-WAIT or CLOSED), so nothing we sent can still be lost. */
static bool all_done(struct cat *k)
{
    if (!k->connected || !k->peer_eof || !k->fin_sent ||
        k->out.off < k->out.len)
        return false;
    struct berth_tcp_info ti;
    if (berth_getinfo(k->st, k->sock, &ti) != 0)
        return true;
    return ti.state == BERTH_STATE_TIME_WAIT || ti.state == BERTH_STATE_CLOSED;
}

static void connected(struct cat *k)
{
    k->connected = true;
    k->connect_deadline = UINT64_MAX;
    if (k->verbose) {
        char ep[64];
        berth_getpeername(k->st, k->sock, &k->target);
        k->target = endpoint_unmap(k->target);
        fprintf(stderr, "%s: connected %s %s\n", k->prog,
                k->listen_mode ? "from" : "to",
                ep_str(k->target, ep, sizeof ep));
    }
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct cat *k = ctx;
    if (sock == k->lsn && k->sock < 0) {
        struct berth_endpoint peer;
        int c = berth_accept(k->st, k->lsn, &peer);
        if (c < 0)
            return;
        /* One connection: later ones are refused (RST), like nc -l. */
        berth_close(k->st, k->lsn);
        k->lsn = -1;
        k->sock = c;
        k->target = endpoint_unmap(peer);
        sockopts_apply(k->st, c, &k->so);
        connected(k);
    } else if (sock != k->sock || k->finished) {
        return;
    }
    if (!k->connected) {
        int err = berth_sock_error(k->st, k->sock);
        if (err != 0) {
            fail(k, "connect to", err);
            return;
        }
        if (!(events & BERTH_EV_WRITABLE))
            return;
        connected(k);
    }
    pump_out(k, false);
    pump_in(k);
}

static uint64_t on_tick(void *ctx, uint64_t now)
{
    struct cat *k = ctx;
    if (k->again && !k->finished) {
        k->again = false;
        pump_out(k, true);
        pump_in(k);
    }
    /* The end of the iteration: the batch goes to stdout now (unless
     * stdout is blocked: its writability brings us back). */
    if (!k->finished && k->out.off < k->out.len && !k->out.watched)
        pump_out(k, true);
    if (!k->finished && !k->connected && k->connect_deadline <= now) {
        char ep[64], t[32];
        error_line(k->prog, "connect to %s: timed out after %s",
                   ep_str(k->target, ep, sizeof ep),
                   time_str(k->connect_timeout, t, sizeof t));
        finish(k, 1);
    }
    if (!k->finished && all_done(k))
        finish(k, 0);
    if (k->again)
        return now;
    return k->connected || k->finished ? UINT64_MAX : k->connect_deadline;
}

/* SIGINT/SIGTERM (or the control socket's `stop`): reset the connection
 * and go; a signal exits 128 + its number after "interrupted", as nc and
 * curl do under a shell. */
static void on_stop(void *ctx)
{
    struct cat *k = ctx;
    int sig = berth_rt_stop_signal(k->rt);
    if (k->finished)
        return;
    if (sig) {
        error_line(k->prog, "interrupted");
        finish(k, 128 + sig);
    } else {
        finish(k, 1);
    }
}

static void cat_usage(FILE *f, bool udp)
{
    if (udp)
        fprintf(f, "usage: berth cat -u [options] HOST PORT\n"
                   "       berth cat -u [options] --listen PORT\n"
                   "\n"
                   "Like nc -u, over berth's UDP: each read of stdin is one "
                   "datagram to the\npeer, each datagram from the peer is "
                   "written to stdout. With --listen the\nfirst datagram's "
                   "sender becomes the peer. After stdin's end berth waits\n"
                   "for --wait without a datagram, then exits 0; the peer's "
                   "ICMP port\nunreachable exits 1 (\"connection refused\").\n"
                   "  -u, --udp            UDP instead of TCP\n"
                   "  -l, --listen PORT    take datagrams on PORT\n"
                   "  -w, --wait TIME      quiet time after stdin's end "
                   "(default 1 s)\n"
                   "  -v, --verbose        say who the peer is\n"
                   "\n");
    else
        fprintf(
            f,
            "usage: berth cat [options] HOST PORT\n"
            "       berth cat [options] --listen PORT\n"
            "\n"
            "Like nc, over berth's TCP: stdin goes to the connection, the "
            "connection to\nstdout. At the end of stdin berth sends FIN "
            "(shutdown) and keeps reading\nuntil the peer closes, then "
            "exits 0; a refused, reset or timed-out\nconnection exits 1. "
            "After the peer's FIN, what stdin has ready is still sent.\n"
            "  -u, --udp            datagrams instead (berth cat -u --help)\n"
            "  -l, --listen PORT    accept one connection on PORT instead\n"
            "  -v, --verbose        say what happens: connecting, "
            "connected, closed\n"
            "  --connect-timeout TIME  give up connecting after TIME "
            "(default: the\n"
            "                       SYN retries, about 127 s)\n"
            "\n");
    common_usage(f);
}

/* The option of one mode only at argv[*i]: TCP's --connect-timeout (more
 * than 0), UDP's -w/--wait. 1 taken, 0 not one, -1 after a usage error. */
static int mode_option(struct common *c, struct cat_args *a, int argc,
                       char **argv, int *i)
{
    const char *v;
    int r;
    if (a->udp) {
        r = opt_value(c->prog, argc, argv, i, "--wait", &v);
        if (r == 0)
            r = opt_value(c->prog, argc, argv, i, "-w", &v);
        if (r > 0 && parse_time(c->prog, "--wait", v, &a->wait) != 0)
            return -1;
        return r;
    }
    r = opt_value(c->prog, argc, argv, i, "--connect-timeout", &v);
    if (r <= 0)
        return r;
    if (parse_time(c->prog, "--connect-timeout", v, &a->connect_timeout) != 0)
        return -1;
    if (a->connect_timeout == 0) {
        usage_error(c->prog,
                    "bad --connect-timeout value '%s': want more than 0", v);
        return -1;
    }
    return 1;
}

int cat_args(struct common *c, struct cat_args *a, int argc, char **argv)
{
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cat_usage(stdout, a->udp);
            exit(0);
        }
        if (!strcmp(argv[i], "-u") || !strcmp(argv[i], "--udp"))
            continue; /* the caller looked for it first */
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            a->verbose = true;
            continue;
        }
        int r = mode_option(c, a, argc, argv, &i);
        if (r == 0) {
            r = opt_value(c->prog, argc, argv, &i, "--listen", &v);
            if (r == 0)
                r = opt_value(c->prog, argc, argv, &i, "-l", &v);
            if (r > 0) {
                a->listen_mode = true;
                if (parse_port(c->prog, v, &a->port) != 0)
                    return -1;
            }
        }
        if (r == 0 && argv[i][0] == '-' && argv[i][1])
            r = common_option(c, argc, argv, &i);
        else if (r == 0 && npos < 2)
            pos[npos++] = argv[i], r = 1;
        if (r == 0)
            usage_error(c->prog, "unexpected argument '%s'", argv[i]);
        if (r <= 0)
            return -1;
    }
    if (a->listen_mode && npos == 0)
        return 0;
    if (a->listen_mode || npos != 2) {
        usage_error(c->prog, a->listen_mode ? "--listen takes no HOST PORT"
                                            : "want HOST PORT or --listen "
                                              "PORT");
        return -1;
    }
    if (parse_addr(pos[0], &a->target) != 0) {
        usage_error(c->prog, "bad HOST '%s': want an IPv4 or IPv6 address",
                    pos[0]);
        return -1;
    }
    return parse_port(c->prog, pos[1], &a->target.port);
}

/* Opens the listener or starts connecting. 0, or 1 after a message. */
static int cat_open(struct common *c, struct cat *k, uint16_t port)
{
    int s = berth_socket(k->st), r = s;
    if (s >= 0)
        r = sockopts_apply(k->st, s, &k->so);
    if (k->listen_mode) {
        k->lsn = s;
        if (r >= 0)
            r = bind_any(k->st, s, port);
        if (r >= 0)
            r = berth_listen(k->st, s, 1);
        if (r < 0) {
            error_line(c->prog, "cannot listen on port %u: %s", port,
                       berth_strerror(r));
            return 1;
        }
        print_listening(c, k->rt, "listening", port);
        return 0;
    }
    k->sock = s;
    if (k->verbose) {
        char ep[64];
        fprintf(stderr, "%s: connecting to %s...\n", c->prog,
                ep_str(k->target, ep, sizeof ep));
    }
    if (k->connect_timeout)
        k->connect_deadline = berth_rt_now(k->rt) + k->connect_timeout;
    if (r >= 0)
        r = berth_connect_endpoint(k->st, s, &k->target);
    if (r < 0 && r != BERTH_EINPROGRESS) {
        char ep[64];
        error_line(c->prog, "connect to %s: %s",
                   ep_str(k->target, ep, sizeof ep), berth_strerror(r));
        return 1;
    }
    return 0;
}

int cmd_cat(int argc, char **argv)
{
    struct common c;
    struct cat_args a = {.wait = 1000000};
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-u") || !strcmp(argv[i], "--udp"))
            a.udp = true;
    common_init(&c, a.udp ? "berth cat -u" : "berth cat");
    if (cat_args(&c, &a, argc, argv) != 0 || common_finish(&c) != 0)
        return EXIT_USAGE;
    if (a.udp)
        return cat_udp(&c, &a); /* udp.c */
    struct cat k = {.prog = c.prog,
                    .listen_mode = a.listen_mode,
                    .verbose = a.verbose,
                    .target = a.target,
                    .connect_timeout = a.connect_timeout,
                    .lsn = -1,
                    .sock = -1,
                    .connect_deadline = UINT64_MAX};
    uint16_t port = a.port;
    k.so = c.so;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error, not a death */
    k.out.buf = malloc(CAT_BUF);
    if (!k.out.buf) {
        error_line(k.prog, "out of memory");
        return 1;
    }
    k.rt = common_rt_create(&c);
    if (!k.rt) {
        free(k.out.buf);
        return 1;
    }
    k.st = berth_rt_stack(k.rt);
    side_init(&k.in, 0);
    side_init(&k.out, 1);
    int rc = cat_open(&c, &k, port);
    if (rc == 0) {
        struct berth_rt_app app = {on_event, on_tick, on_stop, &k};
        berth_rt_set_app(k.rt, &app);
        int r = berth_rt_run(k.rt);
        if (r < 0)
            error_line(k.prog, "event loop failed: %s", strerror(-r));
        rc = r < 0 || !k.finished ? 1 : k.exit_code;
        if (k.verbose && k.connected)
            fprintf(stderr, "%s: closed%s\n", k.prog,
                    rc == 0 ? "" : " (reset)");
    }
    side_restore(&k.in, 0);
    side_restore(&k.out, 1);
    berth_rt_destroy(k.rt);
    free(k.out.buf);
    return rc;
}
