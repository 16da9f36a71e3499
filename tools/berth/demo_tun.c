/* berth command: `berth demo` with the real kernel as the peer. In a
 * throwaway network namespace, the runtime creates the TUN device and runs
 * the HTTP server in this process; the kernel's curl (a child, in the same
 * namespace) fetches a page over a short connection, then several over one
 * keep-alive connection. One connection is drawn as a ladder: the first,
 * or with --impair the first that shows a retransmission. */
#define _GNU_SOURCE /* setns */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"
#include "http.h"
#include "ladder.h"

extern char **environ;

#define US         UINT64_C(1000000)
#define RUN_BUDGET (30 * US) /* beyond TIME-WAIT: the demo has failed */
#define CURL_MAX_S "10"

/* A child process (ip, curl) and what it printed. */
struct child {
    pid_t pid; /* 0 when none */
    int pidfd; /* -1: poll waitpid from the tick instead */
    int out;   /* read end of its stdout+stderr */
    char buf[4096];
    size_t len;
    int status;
};

enum phase { PH_START, PH_CURL1, PH_CURL2, PH_LINGER, PH_DONE };

struct tundemo {
    struct demo_opts *o;
    char ns[64];
    int home_ns; /* our original network namespace */
    struct berth_rt *rt;
    struct http_server *srv;
    struct ladders *ld;
    enum phase phase;
    struct child child;
    struct demo_result res[2];
    uint64_t deadline;
    char failure[200]; /* set when the demo went wrong */
    bool told;         /* the story was printed */
    uint64_t now;      /* the stack's time of the event being handled */
};

/* The one global: a signal outside the runtime's life (it blocks SIGINT
 * and SIGTERM while it runs and turns them into a graceful stop). */
static volatile sig_atomic_t g_signalled;

static void on_signal(int sig)
{
    (void)sig;
    g_signalled = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* ---------------------------------------------------------------------- */
/* Children. */

static bool in_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[512];
    if (!path)
        path = "/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > 0 && n + strlen(name) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
            if (access(buf, X_OK) == 0)
                return true;
        }
        p += n + (e ? 1 : 0);
    }
    return false;
}

/* Starts argv with stdout and stderr into a pipe, default signal handling
 * and nothing blocked (the runtime blocks SIGINT/SIGTERM in us). */
static int spawn(struct child *c, char *const argv[])
{
    int p[2];
    memset(c, 0, sizeof *c);
    c->pidfd = c->out = -1;
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGHUP);
    sigaddset(&def, SIGPIPE);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    int r = posix_spawnp(&c->pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(p[1]);
    if (r != 0) {
        close(p[0]);
        c->pid = 0;
        return -r;
    }
    c->out = p[0];
    return 0;
}

/* Everything it printed (it has exited, or will at EOF). */
static void child_read(struct child *c)
{
    while (c->out >= 0 && c->len < sizeof c->buf - 1) {
        ssize_t n = read(c->out, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        c->len += (size_t)n;
    }
    c->buf[c->len] = '\0';
}

/* Reaps an exited child: true once it is gone. */
static bool child_reap(struct child *c, int flags)
{
    if (c->pid <= 0)
        return true;
    pid_t r;
    do
        r = waitpid(c->pid, &c->status, flags);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    c->pid = 0;
    child_read(c);
    if (c->out >= 0)
        close(c->out);
    if (c->pidfd >= 0)
        close(c->pidfd);
    c->out = c->pidfd = -1;
    return true;
}

/* Ends a child we started: SIGTERM, then SIGKILL after a second. */
static void child_kill(struct child *c)
{
    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    for (int i = 0; i < 100 && !child_reap(c, WNOHANG); i++)
        usleep(10000);
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        child_reap(c, 0);
    }
}

/* Runs a short command to completion; 0, or -1 with its output in err. */
static int run(char *const argv[], char *err, size_t errlen)
{
    struct child c;
    int r = spawn(&c, argv);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", argv[0], strerror(-r));
        return -1;
    }
    child_read(&c);
    child_reap(&c, 0);
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0)
        return 0;
    char *nl = strchr(c.buf, '\n');
    if (nl)
        *nl = '\0';
    snprintf(err, errlen, "%s %s: %s", argv[0], argv[1],
             c.buf[0] ? c.buf : "failed");
    return -1;
}

/* ---------------------------------------------------------------------- */
/* The namespace. */

static int ns_enter(struct tundemo *d, char *why, size_t whylen)
{
    char path[128];
    snprintf(d->ns, sizeof d->ns, "berth-demo-%d", (int)getpid());
    char *add[] = {"ip", "netns", "add", d->ns, NULL};
    if (run(add, why, whylen) < 0)
        return -1;
    d->home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/var/run/netns/%s", d->ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (d->home_ns < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
        snprintf(why, whylen, "cannot enter network namespace %s: %s", d->ns,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Back home, and the namespace deleted (with anything left in it). */
static void ns_leave(struct tundemo *d)
{
    char err[256];
    if (d->home_ns >= 0) {
        if (setns(d->home_ns, CLONE_NEWNET) < 0)
            error_line(d->o->c.prog,
                       "cannot return to the original network "
                       "namespace: %s",
                       strerror(errno));
        close(d->home_ns);
        d->home_ns = -1;
    }
    if (!d->ns[0])
        return;
    char *del[] = {"ip", "netns", "del", d->ns, NULL};
    if (run(del, err, sizeof err) < 0)
        error_line(d->o->c.prog, "%s (remove it with: ip netns del %s)", err,
                   d->ns);
    else if (d->told)
        printf("Network namespace %s removed.\n", d->ns);
    d->ns[0] = '\0';
}

/* ---------------------------------------------------------------------- */
/* The two curl runs. */

static void on_child(void *ctx, int fd, uint32_t events);

static bool start_curl(struct tundemo *d, int which)
{
    static char fmt[] = "%{http_code} %{size_download} %{num_connects}\\n";
    static char curl[] = "curl", s[] = "-sS", mt[] = "--max-time",
                secs[] = CURL_MAX_S, w[] = "-w", h10[] = "--http1.0",
                o[] = "-o", null[] = "/dev/null";
    char url[DEMO_NPATHS][64], a[16];
    char *argv[24];
    int n = 0;
    argv[n++] = curl;
    argv[n++] = s;
    argv[n++] = mt;
    argv[n++] = secs;
    argv[n++] = w;
    argv[n++] = fmt;
    if (which == 0)
        argv[n++] = h10;
    for (int i = 0; i < (which == 0 ? 1 : DEMO_NPATHS); i++) {
        snprintf(url[i], sizeof url[i], "http://%s%s",
                 ip_str(d->o->c.rt.addr, a, sizeof a), DEMO_PATHS[i]);
        argv[n++] = o;
        argv[n++] = null;
        argv[n++] = url[i];
    }
    argv[n] = NULL;
    int r = spawn(&d->child, argv);
    if (r < 0) {
        snprintf(d->res[which].error, sizeof d->res[which].error,
                 "cannot run curl: %s", strerror(-r));
        return false;
    }
    d->child.pidfd = (int)syscall(SYS_pidfd_open, d->child.pid, 0);
    if (d->child.pidfd >= 0 &&
        berth_rt_watch_fd(d->rt, d->child.pidfd, EPOLLIN, on_child, d) < 0) {
        close(d->child.pidfd);
        d->child.pidfd = -1; /* the tick polls waitpid instead */
    }
    return true;
}

/* "200 368 1" per transfer (status, body bytes, new connections), or
 * curl's error line. */
static void parse_curl(struct demo_result *r, const struct child *c)
{
    const char *p = c->buf;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        int st, conns;
        unsigned long long size;
        if (sscanf(p, "%d %llu %d", &st, &size, &conns) == 3) {
            if (r->n < DEMO_MAX_REQ) {
                r->status[r->n] = st;
                r->size[r->n++] = size;
            }
            r->connections += conns;
        } else if (n > 0 && !r->error[0]) {
            snprintf(r->error, sizeof r->error, "%.*s", (int)n, p);
        }
        p += n + (e ? 1 : 0);
    }
    if (!r->error[0] && !(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0))
        snprintf(r->error, sizeof r->error, "curl ended with status %d",
                 WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
}

/* A curl run ended: on to the next step. */
static void curl_done(struct tundemo *d)
{
    if (d->phase == PH_CURL1) {
        parse_curl(&d->res[0], &d->child);
        d->phase = PH_CURL2;
        if (!start_curl(d, 1))
            d->phase = PH_LINGER;
    } else if (d->phase == PH_CURL2) {
        parse_curl(&d->res[1], &d->child);
        d->phase = PH_LINGER;
    }
}

static void on_child(void *ctx, int fd, uint32_t events)
{
    struct tundemo *d = ctx;
    (void)events;
    berth_rt_unwatch_fd(d->rt, fd);
    if (child_reap(&d->child, 0)) /* a readable pidfd: it has exited */
        curl_done(d);
}

/* ---------------------------------------------------------------------- */
/* The runtime's application. */

static void fail(struct tundemo *d, const char *why)
{
    if (!d->failure[0])
        snprintf(d->failure, sizeof d->failure, "%s", why);
    child_kill(&d->child);
    d->phase = PH_DONE;
    berth_rt_stop(d->rt);
}

static uint64_t rt_clock(void *ctx)
{
    return berth_rt_now(ctx);
}

static void app_event(void *ctx, int sock, uint32_t events)
{
    struct tundemo *d = ctx;
    http_server_event(d->srv, sock, events);
}

static uint64_t app_tick(void *ctx, uint64_t now)
{
    struct tundemo *d = ctx;
    struct http_stats st;
    uint64_t next = http_server_tick(d->srv, now);
    if (d->phase == PH_START) {
        d->deadline = now + RUN_BUDGET + 2 * d->o->c.rt.stack.msl;
        d->phase = PH_CURL1;
        if (!start_curl(d, 0))
            fail(d, "cannot run curl");
    }
    if (d->child.pid > 0 && d->child.pidfd < 0 &&
        child_reap(&d->child, WNOHANG))
        curl_done(d);
    http_server_stats(d->srv, &st);
    /* The end: both curls done, the first connection out of TIME-WAIT. */
    if (d->phase == PH_LINGER && ladder_closed(ladders_first(d->ld), 1) &&
        st.open == 0) {
        d->phase = PH_DONE;
        berth_rt_stop(d->rt);
    }
    if (d->phase != PH_DONE && now >= d->deadline)
        fail(d, "the demo did not finish in time");
    if (d->phase != PH_DONE) {
        if (d->child.pid > 0 && d->child.pidfd < 0 && now + 20000 < next)
            next = now + 20000; /* no pidfd: poll for the child */
        if (d->deadline < next)
            next = d->deadline;
    }
    return next;
}

static void app_stop(void *ctx)
{
    struct tundemo *d = ctx;
    if (d->phase != PH_DONE)
        fail(d, "interrupted");
    http_server_stop(d->srv);
}

/* berth's rows get a fresh reading of the clock (the stack's `now` is one
 * per loop iteration, so all of berth's answers to a packet would show
 * the packet's time, and the ladder printed none for them); never earlier
 * than the row before, so the rows stay in order. */
static uint64_t row_time(struct tundemo *d, uint64_t t)
{
    if (t < d->now)
        t = d->now;
    d->now = t;
    return t;
}

static void app_note(void *ctx, int sock, const char *what)
{
    struct tundemo *d = ctx;
    struct berth_stack *s = berth_rt_stack(d->rt);
    struct berth_endpoint local = {0}, remote = {0};
    berth_getsockname(s, sock, &local);
    berth_getpeername(s, sock, &remote);
    /* The listener is dual-stack: its IPv4 connections' names read
     * ::ffff:a.b.c.d; the ladder knows them by their IPv4 packets. */
    ladders_app(d->ld, 1, row_time(d, berth_rt_now(d->rt)),
                endpoint_unmap(local), endpoint_unmap(remote), what);
}

static void app_tap(void *ctx, int dir, uint64_t now, const uint8_t *pkt,
                    size_t len)
{
    struct tundemo *d = ctx;
    /* A received packet keeps the time it was read; berth's own, now. */
    now = row_time(d, dir == 0 ? now : berth_rt_now(d->rt));
    ladders_packet(d->ld, dir == 0 ? 0 : 1, now, pkt, len, false);
}

static void app_trace(void *ctx, const struct berth_trace *ev)
{
    struct tundemo *d = ctx;
    struct berth_trace e = *ev;
    e.now = row_time(d, berth_rt_now(d->rt));
    ladders_trace(d->ld, 1, &e);
}

/* ---------------------------------------------------------------------- */
/* The story. */

static void print_intro(const struct tundemo *d)
{
    char a[16], p[16], msl[24], tw[24];
    const struct berth_rt_config *rc = &d->o->c.rt;
    ip_str(rc->addr, a, sizeof a);
    printf("berth demo: the kernel's curl talks to berth over a TUN device, "
           "inside a\nthrowaway network namespace (%s, removed at the "
           "end).\n\n"
           "    kernel %s  <--- tun %s --->  berth %s:80 (`berth http`)\n\n"
           "  1. curl --http1.0 http://%s/                (a short "
           "connection)\n"
           "  2. curl http://%s/ .../bytes/1000 .../bytes/1000000   (one "
           "keep-alive)\n\n"
           "One connection, segment by segment. Sequence numbers are "
           "relative to\neach side's ISN. berth's states come from its "
           "trace; the kernel's (in\nparentheses) are inferred from the "
           "segments. MSL is %s here, so TIME-WAIT\ntakes %s.\n\n",
           d->ns, ip_str(rc->peer_addr, p, sizeof p),
           rc->tun_name ? rc->tun_name : "berth0", a, a, a,
           time_str(rc->stack.msl, msl, sizeof msl),
           time_str(2 * rc->stack.msl, tw, sizeof tw));
    fflush(stdout);
}

static void print_story(struct tundemo *d)
{
    char a[16];
    ip_str(d->o->c.rt.addr, a, sizeof a);
    demo_print_ladder(stdout, d->ld, "kernel (curl)", "berth (http)");
    demo_print_udp(stdout);
    char c1[96], c2[160];
    snprintf(c1, sizeof c1, "1. curl --http1.0 http://%s/", a);
    snprintf(c2, sizeof c2,
             "2. curl http://%s/ http://%s/bytes/1000 "
             "http://%s/bytes/1000000",
             a, a, a);
    d->res[0].command = c1;
    d->res[1].command = c2;
    demo_print_results(stdout, "curl", d->res, 2);
    demo_print_counters(stdout, berth_rt_stack(d->rt), NULL);
    if (d->o->pcap)
        printf("\nCapture: %s (wireshark, or tshark -r %s)\n", d->o->pcap,
               d->o->pcap);
    demo_print_events(stdout, d->o);
    demo_write_figure(stdout, d->o, d->ld, "kernel (curl)", "berth (http)");
    demo_print_next(stdout, d->o);
}

/* Why the TUN story cannot be told here, or NULL. */
static const char *tun_impossible(void)
{
    if (geteuid() != 0)
        return "not running as root, so no TUN device.";
    if (access("/dev/net/tun", R_OK | W_OK) != 0)
        return "no usable /dev/net/tun here.";
    if (!in_path("ip"))
        return "no 'ip' command (iproute2) to make a network namespace.";
    if (!in_path("curl"))
        return "no curl to play the kernel's client.";
    return NULL;
}

/* The runtime in the namespace, the server, the run. 0, 1, or -1 when
 * the runtime could not start (why[] says why). */
static int run_demo(struct tundemo *d, char *why, size_t whylen)
{
    struct berth_rt_config rc = d->o->c.rt;
    char ctl[300], err[256];
    if (!rc.ctl_path) { /* not the default: a real berth0 may have it */
        snprintf(ctl, sizeof ctl, "%s/ctl.sock", d->o->dir);
        rc.ctl_path = ctl;
    }
    rc.pcap_path = d->o->pcap;
    rc.events_path = d->o->events;
    /* The ladder draws every segment as the wire carries it: with offloads
     * the tap would see TSO super-segments and partial checksums that the
     * kernel completes after it. A teaching run keeps the link plain. */
    rc.no_offload = true;
    d->rt = berth_rt_create(&rc, err, sizeof err);
    if (!d->rt) {
        snprintf(why, whylen, "the TUN runtime did not start (%s).", err);
        return -1;
    }
    struct http_config hc;
    http_config_init(&hc);
    hc.so.keepalive = d->o->c.so.keepalive;
    berth_rt_set_trace(d->rt, app_trace, d);
    berth_rt_set_tap(d->rt, app_tap, d);
    d->srv = http_server_create(berth_rt_stack(d->rt), &hc, rt_clock, d->rt,
                                err, sizeof err);
    if (!d->srv) {
        error_line(d->o->c.prog, "%s", err);
        return 1;
    }
    http_server_set_note(d->srv, app_note, d);
    struct berth_rt_app app = {app_event, app_tick, app_stop, d};
    berth_rt_set_app(d->rt, &app);
    print_intro(d);
    int r = berth_rt_run(d->rt);
    child_kill(&d->child);
    print_story(d);
    d->told = true;
    if (r < 0)
        error_line(d->o->c.prog, "event loop failed: %s", strerror(-r));
    if (d->failure[0])
        error_line(d->o->c.prog, "%s", d->failure);
    bool ok = r == 0 && !d->failure[0];
    for (int i = 0; i < 2; i++)
        ok = ok && !d->res[i].error[0] && d->res[i].n > 0;
    return ok ? 0 : 1;
}

int demo_tun(struct demo_opts *o, char *why, size_t whylen)
{
    struct tundemo d = {.o = o, .home_ns = -1};
    const char *no = tun_impossible();
    if (no) {
        snprintf(why, whylen, "%s", no);
        return -1;
    }
    d.ld = ladders_create(true);
    if (!d.ld) {
        snprintf(why, whylen, "out of memory.");
        return -1;
    }
    /* The TUN story's MSL is short: TIME-WAIT is waited out for real. */
    uint64_t msl = o->c.rt.stack.msl;
    if (!o->c.msl_set)
        o->c.rt.stack.msl = 1 * US;
    g_signalled = 0;
    catch_signals();
    int rc = -1;
    if (ns_enter(&d, why, whylen) == 0 && !g_signalled)
        rc = run_demo(&d, why, whylen);
    if (g_signalled && rc != 0) {
        rc = 1;
        error_line(o->c.prog, "interrupted");
    }
    http_server_destroy(d.srv);
    if (d.rt)
        berth_rt_destroy(d.rt); /* deletes the TUN device */
    ns_leave(&d);
    ladders_destroy(d.ld);
    o->c.rt.stack.msl = msl; /* the in-memory story keeps its default */
    return rc;
}
