/* The POSIX socket layer (include/berth/posix.h): the runtime's loop on a
 * thread of its own, one lock around every call into the stack, and a
 * kernel descriptor per berth socket whose readiness mirrors the socket's.
 *
 * Why a socketpair and not an eventfd: an eventfd is always writable unless
 * its counter is full, and then it is readable too, so it cannot say
 * "neither readable nor writable" (a connect in progress, a full send
 * buffer with nothing to read) and it has no EPOLLHUP/EPOLLRDHUP. One end
 * (A) of an AF_UNIX stream socketpair can show every combination, and the
 * layer drives it from the other end (B) and from its own duplicate of A
 * (W), never through the application's descriptor:
 *   readable  <=> a byte is queued B -> A          (sent from B, drained on W)
 *   writable  <=> A's send buffer is not charged   (filled from W, drained
 *                 on B; A's SO_SNDBUF is the minimum, so a byte or two do)
 *   RDHUP     <=> shutdown(B, SHUT_WR): A reads EOF, EPOLLIN|EPOLLRDHUP
 *   HUP       <=> shutdown(B, SHUT_RDWR): EPOLLHUP as well (final, as TCP's)
 * EPOLLERR is not mirrored: an error shows as HUP, readable and writable
 * (then SO_ERROR, recv or send report it), which is what Linux's tcp_poll
 * also reports for a failed or reset connection. Every change the kernel
 * sees on A is a real wake-up, so edge-triggered epoll works: berth reports
 * a change of readiness (readable after empty, writable after full), and
 * the mirror turns it into an edge on A.
 *
 * Blocking calls release the lock and poll(W): the mirror is persistent
 * state, so a change between the check and the poll is not lost, a signal
 * interrupts the wait (EINTR, or a restart as signal(7) says for
 * SA_RESTART), and SO_RCVTIMEO/SO_SNDTIMEO are poll timeouts. Nothing
 * spins.
 *
 * MSG_PEEK is emulated: the core has no peek, so peeked bytes are read out
 * of the connection into a per-socket buffer that later reads consume
 * first (the peer sees the window open a little earlier than Linux's).
 */
#define _GNU_SOURCE
#include "berth/posix.h"

#include "linux_map.h"
#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

#define FD_LIMIT     (1 << 20) /* berth sockets live below this fd */
#define HASH_BUCKETS 4096u
#define COPY_CHUNK   65536u

struct psock {
    int bsock;  /* berth handle; -1 once released */
    int wfd;    /* our duplicate of A: poll, fill, drain */
    int peer;   /* B: the mirror's far end */
    int refs;   /* application descriptors (dup) pointing here */
    int busy;   /* calls waiting with the lock released */
    bool stale; /* inherited across fork(): not this process's */
    bool nonblock;
    bool listening;  /* berth_listen() succeeded */
    bool connecting; /* connect() started or accepted: has a connection */
    bool shut_wr;
    bool bound_any; /* bound to 0.0.0.0 or ::: getsockname says so, as
                       Linux */
    int family;     /* AF_INET or AF_INET6: the sockaddrs it takes and gives */
    bool dgram;     /* SOCK_DGRAM (UDP): the peek buffer holds one datagram */
    struct berth_endpoint peek_from; /* dgram: the peeked datagram's sender */
    int v6only;      /* IPV6_V6ONLY where the core has no option (UDP) */
    int broadcast;   /* SO_BROADCAST: remembered */
    bool dconnected; /* dgram: connect() gave it a default peer */
    bool peek_dgram; /* dgram: the peek buffer holds a datagram (maybe
                        empty: peek_len 0) */
    /* The mirror's state (what A shows now). */
    bool m_readable, m_full, m_rdhup, m_hup;
    int64_t rcvtimeo, sndtimeo; /* us; 0 = none */
    int reuseaddr, reuseport, quickack;
    uint8_t *peek; /* MSG_PEEK's bytes, consumed first */
    size_t peek_len, peek_cap;
    struct psock *hnext; /* by bsock */
};

static struct {
    pthread_mutex_t lock;
    struct berth_rt *rt;
    struct berth_stack *stack;
    pthread_t thread;
    bool thread_started;
    bool forked;      /* a child of fork(), or a parent that gave its runtime
                         to one (follow_fork): no runtime here */
    bool follow_fork; /* the runtime moves to the next fork()ed
                         child (berth_posix_follow_fork) */
    atomic_bool handed_over; /* ... and did: our loop thread parks */
    /* Forked workers (berth_posix_workers): the next `workers` children
     * fork()ed become shards 0..workers-1; fork_worker is the index the
     * fork in progress gives (-1: not a worker's). */
    unsigned workers, next_worker;
    int fork_worker;
    bool stopped; /* berth_posix_stop() ran */
    bool atexit_done;
    uint64_t grace; /* the runtime's shutdown_grace, us */
    pid_t pid;      /* the process that started the runtime */
    int wakefd;
    bool wake_pending;
    struct psock *hash[HASH_BUCKETS];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER, .wakefd = -1};

static _Atomic(struct psock *) g_fd[FD_LIMIT];

static void lock(void)
{
    pthread_mutex_lock(&g.lock);
}

static void unlock(void)
{
    pthread_mutex_unlock(&g.lock);
}

static int fail(int err)
{
    errno = err;
    return -1;
}

/* A vfork()ed child (posix_spawn, Python's subprocess) shares our memory
 * but runs no fork handler: until it executes, the descriptors it closes
 * are its own copies, and the calls must go to the kernel without touching
 * the parent's state. Its pid tells it apart (a fork()ed child is marked
 * by its handler instead). */
bool berth_posix_is_socket(int fd)
{
    return fd >= 0 && fd < FD_LIMIT &&
           atomic_load_explicit(&g_fd[fd], memory_order_acquire) != NULL &&
           (g.forked || getpid() == g.pid);
}

/* Set on the loop thread and while this thread starts the runtime. */
static _Thread_local bool t_in_runtime;

bool berth_posix_in_runtime(void)
{
    return t_in_runtime;
}

struct berth_rt *berth_posix_runtime(void)
{
    return g.rt;
}

/* ------------------------------------------------------------------------
 * The handle table (berth handle -> psock), for the stack's events.
 */

static unsigned hash_of(int bsock)
{
    return ((unsigned)bsock * 2654435761u) % HASH_BUCKETS;
}

static void hash_add(struct psock *p)
{
    unsigned h = hash_of(p->bsock);
    p->hnext = g.hash[h];
    g.hash[h] = p;
}

static void hash_del(struct psock *p)
{
    for (struct psock **pp = &g.hash[hash_of(p->bsock)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            return;
        }
    }
}

static struct psock *hash_find(int bsock)
{
    for (struct psock *p = g.hash[hash_of(bsock)]; p; p = p->hnext)
        if (p->bsock == bsock)
            return p;
    return NULL;
}

/* ------------------------------------------------------------------------
 * The mirror.
 */

static void drain(int fd)
{
    char buf[256];
    for (int i = 0; i < 64; i++)
        if (sys_recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
            return;
}

/* Charge A's send buffer until the kernel calls it full: one or two bytes
 * with SO_SNDBUF at its minimum (unix_writable: wmem * 4 <= sndbuf). */
static void fill(int fd)
{
    for (int i = 0; i < 16; i++) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT))
            return;
        if (sys_send(fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
            return;
    }
}

/* Lock held. Makes A show the berth socket's readiness. */
static void mirror(struct psock *p)
{
    if (p->stale || p->m_hup)
        return;
    uint32_t ev = p->bsock >= 0 ? berth_poll(g.stack, p->bsock)
                                : BERTH_EV_HUP | BERTH_EV_READABLE;
    bool hup = ev & BERTH_EV_HUP;
    if (p->listening)
        hup = p->bsock < 0;
    if (hup) {
        drain(p->peer);
        sys_shutdown(p->peer, SHUT_RDWR);
        p->m_hup = p->m_rdhup = true;
        return;
    }
    if ((ev & BERTH_EV_RDHUP) && !p->m_rdhup) {
        sys_shutdown(p->peer, SHUT_WR);
        p->m_rdhup = true;
    }
    bool r = p->peek_len > 0 || p->peek_dgram ||
             (ev & (BERTH_EV_READABLE | BERTH_EV_ERROR | BERTH_EV_RDHUP));
    bool w;
    if (p->listening)
        w = false;
    else if (!p->connecting || p->shut_wr)
        w = true; /* as Linux: a fresh or shut-down socket polls writable */
    else
        w = ev & (BERTH_EV_WRITABLE | BERTH_EV_ERROR);
    if (!p->m_rdhup && r != p->m_readable) {
        if (r)
            sys_send(p->peer, "r", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            drain(p->wfd);
        p->m_readable = r;
    }
    if (w == p->m_full) {
        if (w)
            drain(p->peer);
        else
            fill(p->wfd);
        p->m_full = !w;
    }
}

/* Lock held. The stack may have new deadlines or queued packets: make the
 * loop recompute its wait. One eventfd write per loop iteration at most. */
static void wake(void)
{
    if (g.wake_pending || g.wakefd < 0)
        return;
    uint64_t one = 1;
    g.wake_pending = true;
    if (write(g.wakefd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, the loop will wake anyway. */
    }
}

/* ------------------------------------------------------------------------
 * The runtime thread.
 */

static void rt_lock_fn(void *ctx)
{
    (void)ctx;
    lock();
    if (atomic_load(&g.handed_over)) {
        /* The runtime belongs to a child now (follow_fork): the loop
         * thread of the parent must not read the TUN device or the
         * control socket it shares with it. It sleeps until the process
         * ends, all signals blocked. */
        unlock();
        sigset_t all;
        sigfillset(&all);
        for (;;)
            sigsuspend(&all);
    }
}

static void rt_unlock_fn(void *ctx)
{
    (void)ctx;
    unlock();
}

static void on_wake(void *ctx, int fd, uint32_t events)
{
    (void)ctx;
    (void)events;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) {
        /* EAGAIN: nothing pending */
    }
    g.wake_pending = false;
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    (void)ctx;
    (void)events;
    struct psock *p = hash_find(sock);
    if (p)
        mirror(p);
}

/* Shutdown (berth_posix_stop): every socket closes as at process exit. */
static void on_stop(void *ctx)
{
    (void)ctx;
    for (unsigned h = 0; h < HASH_BUCKETS; h++) {
        for (struct psock *p = g.hash[h]; p; p = p->hnext) {
            berth_close(g.stack, p->bsock);
            p->bsock = -1;
            mirror(p);
        }
        g.hash[h] = NULL;
    }
}

static void *loop_main(void *arg)
{
    (void)arg;
    t_in_runtime = true;
    int rc = berth_rt_run(g.rt);
    if (rc < 0)
        fprintf(stderr, "berth: the runtime stopped: %s\n", strerror(-rc));
    return NULL;
}

static void atfork_prepare(void)
{
    lock();
    g.fork_worker = -1;
    if (g.rt && g.next_worker < g.workers)
        g.fork_worker = (int)g.next_worker++;
}

/* Lock held: this process no longer has the runtime; its berth sockets
 * are inherited copies (EBADF, close() works). */
static void disown_locked(void)
{
    g.forked = true;
    g.rt = NULL;
    g.stack = NULL;
    g.thread_started = false;
    for (int fd = 0; fd < FD_LIMIT; fd++) {
        struct psock *p = atomic_load(&g_fd[fd]);
        if (p)
            p->stale = true;
    }
    memset(g.hash, 0, sizeof g.hash);
}

static void atfork_parent(void)
{
    if (g.fork_worker >= 0) {
        /* The workers run the shards: our loop parks at once, our stack
         * stays as it is for the next worker to inherit, and is given up
         * with the last. */
        atomic_store(&g.handed_over, true);
        if (g.next_worker == g.workers)
            disown_locked();
    } else if (g.follow_fork && g.rt) {
        disown_locked();
        atomic_store(&g.handed_over, true);
    }
    unlock();
}

static int start_thread(void);

/* A worker's child (other than the first) gets its own mirror of each
 * inherited socket: the socketpair it inherited is shared with the other
 * workers, whose layers fill and drain it for their own stacks. A new pair
 * takes the place of the old under every number: the application's
 * descriptors (flags kept), W and B. 0 or -1. */
static int remirror(struct psock *p)
{
    int sv[2], one = 1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    int rc = setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one);
    for (int fd = 0; fd < FD_LIMIT && rc == 0; fd++) {
        if (atomic_load(&g_fd[fd]) != p)
            continue;
        int fl = sys_fcntl(fd, F_GETFL, 0), fdfl = sys_fcntl(fd, F_GETFD, 0);
        if (sys_dup3(sv[0], fd,
                     fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0 ||
            (fl >= 0 && sys_fcntl(fd, F_SETFL, fl) < 0))
            rc = -1;
    }
    if (rc == 0 && (sys_dup3(sv[0], p->wfd, O_CLOEXEC) < 0 ||
                    sys_dup3(sv[1], p->peer, O_CLOEXEC) < 0))
        rc = -1;
    sys_close(sv[0]);
    sys_close(sv[1]);
    p->m_readable = p->m_full = p->m_rdhup = p->m_hup = false;
    mirror(p);
    return rc;
}

/* Lock held, in the child: shard i of the workers' runtime. The first
 * worker goes on with the runtime as inherited (its queue, its control
 * socket); each other one attaches its own queue, a wake-up eventfd of
 * its own and new mirrors. */
static void become_worker(unsigned i)
{
    char err[256];
    g.workers = g.next_worker = 0; /* a worker's own forks are plain */
    g.pid = getpid();
    g.wake_pending = false;
    atomic_store(&g.handed_over, false); /* the parent's, after an
                                            earlier worker */
    int rc = 0;
    if (i > 0) {
        t_in_runtime = true;
        rc = berth_rt_fork_shard(g.rt, i, err, sizeof err);
        t_in_runtime = false;
        if (rc == 0) {
            sys_close(g.wakefd);
            g.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            rc = g.wakefd < 0 ? -1
                 : berth_rt_watch_fd(g.rt, g.wakefd, EPOLLIN, on_wake, NULL) < 0
                     ? -1
                     : 0;
            if (rc < 0)
                snprintf(err, sizeof err, "wake-up eventfd: %s",
                         strerror(errno));
        }
        for (unsigned h = 0; h < HASH_BUCKETS && rc == 0; h++)
            for (struct psock *p = g.hash[h]; p && rc == 0; p = p->hnext)
                if ((rc = remirror(p)) < 0)
                    snprintf(err, sizeof err, "socket mirror: %s",
                             strerror(errno));
    }
    if (rc == 0 && start_thread() != 0) {
        rc = -1;
        snprintf(err, sizeof err, "cannot start the loop thread");
    }
    if (rc < 0) {
        fprintf(stderr, "berth: worker %u cannot run its shard: %s\n", i, err);
        disown_locked();
        return;
    }
    wake();
}

/* The child either takes the runtime over (follow_fork: the memory it
 * inherited is the stack's state as the lock left it; a new loop thread
 * runs it) or holds inherited copies only. */
static void atfork_child(void)
{
    pthread_mutex_init(&g.lock, NULL);
    if (g.fork_worker >= 0) {
        become_worker((unsigned)g.fork_worker);
        return;
    }
    if (g.follow_fork && g.rt) {
        g.follow_fork = false; /* the first child only */
        g.pid = getpid();
        g.wake_pending = false;
        if (start_thread() != 0) {
            fprintf(stderr, "berth: the forked child cannot run the "
                            "runtime\n");
            berth_posix_forked_child();
            return;
        }
        wake();
        return;
    }
    berth_posix_forked_child();
}

void berth_posix_forked_child(void)
{
    lock();
    disown_locked();
    unlock();
}

void berth_posix_follow_fork(bool on)
{
    lock();
    g.follow_fork = on;
    unlock();
}

/* The loop thread takes no signals: they belong to the program's. 0 or
 * pthread_create's error. */
static int start_thread(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&g.thread, NULL, loop_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    g.thread_started = rc == 0;
    return rc;
}

static int start_locked(const struct berth_rt_config *cfg, char *err,
                        size_t errlen)
{
    if (g.rt || g.forked || g.stopped) {
        snprintf(err, errlen, "the runtime %s",
                 g.rt       ? "is already running"
                 : g.forked ? "belongs to the parent process (fork)"
                            : "was stopped");
        return fail(g.rt ? EALREADY : ENETDOWN);
    }
    struct berth_rt_config c = *cfg;
    c.no_signals = true;
    /* Each berth socket holds two descriptors of the layer's besides the
     * program's: the soft limit of open files goes up to the hard one (as
     * Go's runtime does), so a program reaches its limit no sooner. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct berth_rt *rt = berth_rt_create(&c, err, errlen);
    if (!rt)
        return fail(ENETDOWN);
    g.wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = g.wakefd < 0
                 ? -errno
                 : berth_rt_watch_fd(rt, g.wakefd, EPOLLIN, on_wake, NULL);
    if (rc < 0) {
        snprintf(err, errlen, "wake-up eventfd: %s", strerror(-rc));
        berth_rt_destroy(rt);
        if (g.wakefd >= 0)
            sys_close(g.wakefd);
        g.wakefd = -1;
        return fail(-rc);
    }
    struct berth_rt_app app = {.on_event = on_event, .on_stop = on_stop};
    berth_rt_set_app(rt, &app);
    berth_rt_set_lock(rt, rt_lock_fn, rt_unlock_fn, NULL);
    g.rt = rt;
    g.stack = berth_rt_stack(rt);
    g.grace = c.shutdown_grace;
    g.pid = getpid();
    rc = start_thread();
    if (rc != 0) {
        snprintf(err, errlen, "pthread_create: %s", strerror(rc));
        berth_rt_destroy(rt);
        g.rt = NULL;
        return fail(rc);
    }
    if (!g.atexit_done) {
        g.atexit_done = true;
        atexit(berth_posix_stop);
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    }
    return 0;
}

int berth_posix_start(const struct berth_rt_config *cfg, char *err,
                      size_t errlen)
{
    lock();
    t_in_runtime = true;
    int rc = start_locked(cfg, err, errlen);
    t_in_runtime = false;
    unlock();
    return rc;
}

/* Bounded: shutdown_grace plus a second, then the thread is left to the
 * process's exit. */
void berth_posix_stop(void)
{
    lock();
    if (!g.rt || g.forked) {
        unlock();
        return;
    }
    struct berth_rt *rt = g.rt;
    uint64_t wait_us = g.grace + 1000000u; /* the loop's own bound, and a
                                               second to spare */
    berth_rt_stop(rt);
    wake();
    g.stopped = true;
    unlock();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait_us / 1000000u);
    ts.tv_nsec += (long)(wait_us % 1000000u) * 1000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(g.thread, NULL, &ts) != 0) {
        fprintf(stderr, "berth: the runtime did not finish its shutdown\n");
        return;
    }
    lock();
    g.rt = NULL;
    g.stack = NULL;
    t_in_runtime = true; /* removing the device may take a kernel socket */
    berth_rt_destroy(rt);
    t_in_runtime = false;
    unlock();
}

static int parse_addr(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return -1;
    *out = ntohl(a.s_addr);
    return 0;
}

int berth_posix_config_from_env(struct berth_rt_config *cfg, char *err,
                                size_t errlen)
{
    berth_rt_config_init(cfg);
    const char *v;
    if ((v = getenv("BERTH_TUN")) && *v)
        cfg->tun_name = v;
    if ((v = getenv("BERTH_ADDR")) && *v && parse_addr(v, &cfg->addr) < 0) {
        snprintf(err, errlen, "BERTH_ADDR '%s': not an IPv4 address", v);
        return -1;
    }
    if ((v = getenv("BERTH_PEER")) && *v) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", v);
        char *slash = strchr(buf, '/');
        if (slash) {
            *slash = 0;
            cfg->peer_prefix = (uint8_t)atoi(slash + 1);
        }
        if (parse_addr(buf, &cfg->peer_addr) < 0) {
            snprintf(err, errlen, "BERTH_PEER '%s': not A.B.C.D[/N]", v);
            return -1;
        }
    }
    if ((v = getenv("BERTH_ADDR6")) && *v &&
        inet_pton(AF_INET6, v, cfg->addr6) != 1) {
        snprintf(err, errlen, "BERTH_ADDR6 '%s': not an IPv6 address", v);
        return -1;
    }
    if ((v = getenv("BERTH_PEER6")) && *v) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", v);
        char *slash = strchr(buf, '/');
        if (slash) {
            *slash = 0;
            cfg->peer_prefix6 = (uint8_t)atoi(slash + 1);
        }
        if (inet_pton(AF_INET6, buf, cfg->peer_addr6) != 1) {
            snprintf(err, errlen, "BERTH_PEER6 '%s': not ADDRESS[/N]", v);
            return -1;
        }
    }
    /* "on" (addresses given: IPv6 or fail), "off", or auto. */
    if ((v = getenv("BERTH_IPV6")) && *v)
        cfg->ipv6 = !strcmp(v, "off")  ? BERTH_RT_IPV6_OFF
                    : !strcmp(v, "on") ? BERTH_RT_IPV6_ON
                                       : BERTH_RT_IPV6_AUTO;
    if ((v = getenv("BERTH_MTU")) && *v)
        cfg->mtu = (uint16_t)atoi(v);
    if ((v = getenv("BERTH_IMPAIR")) && *v) {
        char e[200];
        if (berth_impair_parse(v, &cfg->impair, e, sizeof e) < 0) {
            snprintf(err, errlen, "BERTH_IMPAIR: %s", e);
            return -1;
        }
    }
    if ((v = getenv("BERTH_PCAP")) && *v)
        cfg->pcap_path = v;
    if ((v = getenv("BERTH_EVENTS")) && *v)
        cfg->events_path = v;
    if ((v = getenv("BERTH_CTL")) && *v)
        cfg->ctl_path = v;
    if ((v = getenv("BERTH_TRACE")) && *v) {
        cfg->trace = fopen(v, "we");
        if (!cfg->trace) {
            snprintf(err, errlen, "BERTH_TRACE %s: %s", v, strerror(errno));
            return -1;
        }
        setvbuf(cfg->trace, NULL, _IOLBF, 0);
    }
    if (cfg->stack.mss > cfg->mtu - 40)
        cfg->stack.mss = (uint16_t)(cfg->mtu - 40);
    return 0;
}

/* Lock held: start from the environment on first use. */
static int ensure_started(void)
{
    if (g.rt)
        return 0;
    if (g.forked || g.stopped)
        return fail(EAFNOSUPPORT);
    struct berth_rt_config cfg;
    char err[256];
    const char *ff = getenv("BERTH_FOLLOW_FORK");
    const char *wk = getenv("BERTH_WORKERS");
    /* One worker is the runtime moving to it. */
    g.follow_fork = (ff && !strcmp(ff, "1")) || (wk && !strcmp(wk, "1"));
    g.workers = wk && atoi(wk) > 1 && atoi(wk) <= 64 ? (unsigned)atoi(wk) : 0;
    int ok = berth_posix_config_from_env(&cfg, err, sizeof err);
    cfg.fork_shards = g.workers;
    t_in_runtime = true; /* the runtime's own sockets (the TUN device's
                            ioctls) are the kernel's */
    if (ok >= 0)
        ok = start_locked(&cfg, err, sizeof err);
    t_in_runtime = false;
    if (ok < 0) {
        int e = errno ? errno : ENETDOWN;
        fprintf(stderr, "berth: cannot start: %s\n", err);
        return fail(e);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Sockets and descriptors.
 */

static void psock_free(struct psock *p)
{
    sys_close(p->wfd);
    sys_close(p->peer);
    free(p->peek);
    free(p);
}

/* Lock held: the berth handle is gone or given up. */
static void psock_release(struct psock *p)
{
    if (p->bsock >= 0 && !p->stale && g.stack) {
        hash_del(p);
        berth_close(g.stack, p->bsock);
        wake();
    }
    p->bsock = -1;
    mirror(p); /* HUP: wakes any thread still waiting on it */
    if (p->busy == 0)
        psock_free(p);
}

/* The layer's own descriptors (B, W) go above FD_SETSIZE when the limit
 * allows, so the numbers a program sees stay as low as with the kernel's
 * sockets (select() handles only those below FD_SETSIZE). */
static int dup_high(int fd)
{
    int h = sys_fcntl(fd, F_DUPFD_CLOEXEC, FD_SETSIZE);
    return h >= 0 ? h : sys_fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

/* Lock held. The application's descriptor for a new berth socket. */
static int psock_new(int bsock, int flags)
{
    int sv[2], one = 1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    struct psock *p = calloc(1, sizeof *p);
    int peer = dup_high(sv[1]);
    sys_close(sv[1]);
    int wfd = dup_high(sv[0]);
    if (!p || peer < 0 || wfd < 0 || sv[0] >= FD_LIMIT ||
        setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &one, sizeof one) < 0 ||
        (!(flags & SOCK_CLOEXEC) && sys_fcntl(sv[0], F_SETFD, 0) < 0) ||
        ((flags & SOCK_NONBLOCK) &&
         sys_fcntl(sv[0], F_SETFL, O_RDWR | O_NONBLOCK) < 0)) {
        int e = !p ? ENOMEM : sv[0] >= FD_LIMIT ? EMFILE : errno;
        free(p);
        sys_close(sv[0]);
        if (peer >= 0)
            sys_close(peer);
        if (wfd >= 0)
            sys_close(wfd);
        return fail(e);
    }
    p->bsock = bsock;
    p->wfd = wfd;
    p->peer = peer;
    p->refs = 1;
    p->nonblock = (flags & SOCK_NONBLOCK) != 0;
    hash_add(p);
    atomic_store_explicit(&g_fd[sv[0]], p, memory_order_release);
    return sv[0];
}

/* Lock held: the live psock behind fd, or NULL with errno set. */
static struct psock *get(int fd)
{
    if (fd < 0 || fd >= FD_LIMIT) {
        errno = EBADF;
        return NULL;
    }
    struct psock *p = atomic_load(&g_fd[fd]);
    if (!p) {
        errno = ENOTSOCK;
        return NULL;
    }
    if (p->stale) {
        static atomic_bool warned;
        if (!atomic_exchange(&warned, true))
            fprintf(stderr,
                    "berth: fd %d is a berth socket of the parent process: "
                    "berth sockets are not inherited across fork() (EBADF)\n",
                    fd);
        errno = EBADF;
        return NULL;
    }
    if (p->bsock < 0 || !g.stack) {
        errno = g.stopped ? ENETDOWN : EBADF;
        return NULL;
    }
    return p;
}

#define LOCKED_GET(p, fd)                                                      \
    lock();                                                                    \
    struct psock *p = get(fd);                                                 \
    if (!p) {                                                                  \
        int get_errno_ = errno;                                                \
        unlock();                                                              \
        return fail(get_errno_);                                               \
    }

/* berth's negative errno as the call's result. */
static int berr(int rc)
{
    return fail(-rc);
}

/* Lock held: whether the core takes IPv6 datagram sockets (IPv6 UDP came
 * after IPv4's): a UDP handle bound to [::]:0 and closed, asked once per
 * runtime. Without it an AF_INET6 datagram socket is the kernel's. */
static bool udp6_supported(void)
{
    static struct berth_rt *asked;
    static bool ok;
    if (asked == g.rt)
        return ok;
    asked = g.rt;
    int u = berth_udp_socket(g.stack);
    if (u < 0)
        return ok = false;
    struct berth_endpoint any = {.family = BERTH_AF_INET6};
    ok = berth_bind_endpoint(g.stack, u, &any) == 0;
    berth_close(g.stack, u);
    return ok;
}

/* AF_INET and AF_INET6 (when the runtime speaks IPv6), SOCK_STREAM (TCP)
 * and SOCK_DGRAM (UDP). */
int berth_posix_socket(int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain != AF_INET && domain != AF_INET6)
        return fail(EAFNOSUPPORT);
    bool dgram = base == SOCK_DGRAM;
    if ((base != SOCK_STREAM && !dgram) ||
        (protocol != 0 && protocol != (dgram ? IPPROTO_UDP : IPPROTO_TCP)))
        return fail(EPROTONOSUPPORT);
    lock();
    if (ensure_started() < 0) {
        int e = errno;
        unlock();
        return fail(e);
    }
    if (domain == AF_INET6 &&
        (!berth_rt_ipv6(g.rt) || (dgram && !udp6_supported()))) {
        unlock();
        return fail(EAFNOSUPPORT);
    }
    int bs = dgram ? berth_udp_socket(g.stack) : berth_socket(g.stack);
    int fd = bs < 0 ? berr(bs) : psock_new(bs, type);
    if (bs >= 0 && fd < 0) {
        int e = errno;
        berth_close(g.stack, bs);
        errno = e;
    }
    if (fd >= 0) {
        struct psock *p = atomic_load(&g_fd[fd]);
        p->family = domain;
        p->dgram = dgram;
        mirror(p);
    }
    unlock();
    return fd;
}

/* The sockaddr a call gives, as an endpoint of the socket's family:
 * sockaddr_in on an AF_INET socket, sockaddr_in6 on an AF_INET6 one (Linux:
 * EAFNOSUPPORT for the other family, EINVAL when too short). */
static int ep_of(const struct psock *p, const struct sockaddr *addr,
                 socklen_t len, struct berth_endpoint *ep)
{
    if (!addr || len < (socklen_t)sizeof(sa_family_t))
        return fail(EINVAL);
    memset(ep, 0, sizeof *ep);
    if (p->family == AF_INET6) {
        if (addr->sa_family != AF_INET6)
            return fail(len < (socklen_t)sizeof(struct sockaddr_in6)
                            ? EINVAL
                            : EAFNOSUPPORT);
        if (len < (socklen_t)sizeof(struct sockaddr_in6))
            return fail(EINVAL);
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;
        *ep = berth_endpoint_v6(s6->sin6_addr.s6_addr, ntohs(s6->sin6_port));
        return 0;
    }
    if (len < (socklen_t)sizeof(struct sockaddr_in))
        return fail(EINVAL);
    if (addr->sa_family != AF_INET)
        return fail(EAFNOSUPPORT);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
    *ep = berth_endpoint_v4(ntohl(sin->sin_addr.s_addr), ntohs(sin->sin_port));
    return 0;
}

/* An endpoint as the socket's family names it: an IPv4 endpoint on an
 * AF_INET6 socket is ::ffff:a.b.c.d (RFC 4291 section 2.5.5.2), as Linux
 * reports IPv4 peers of a dual-stack socket. */
static void ep_out(const struct psock *p, struct berth_endpoint ep,
                   struct sockaddr *addr, socklen_t *len)
{
    if (!addr || !len)
        return;
    union {
        struct sockaddr_in sin;
        struct sockaddr_in6 sin6;
    } u;
    size_t n;
    memset(&u, 0, sizeof u);
    uint32_t v4 = ep.addr;
    if (p->family == AF_INET6) {
        u.sin6.sin6_family = AF_INET6;
        u.sin6.sin6_port = htons(ep.port);
        if (ep.family == BERTH_AF_INET6) {
            memcpy(u.sin6.sin6_addr.s6_addr, ep.addr6, 16);
        } else if (v4 != 0 || ep.port != 0) {
            uint8_t *a = u.sin6.sin6_addr.s6_addr;
            a[10] = a[11] = 0xff;
            a[12] = (uint8_t)(v4 >> 24);
            a[13] = (uint8_t)(v4 >> 16);
            a[14] = (uint8_t)(v4 >> 8);
            a[15] = (uint8_t)v4;
        }
        n = sizeof u.sin6;
    } else {
        if (ep.family == BERTH_AF_INET6 && !berth_endpoint_v4mapped(&ep, &v4))
            v4 = 0;
        u.sin.sin_family = AF_INET;
        u.sin.sin_port = htons(ep.port);
        u.sin.sin_addr.s_addr = htonl(v4);
        n = sizeof u.sin;
    }
    memcpy(addr, &u, *len < n ? *len : n);
    *len = (socklen_t)n;
}

/* The any address of either family (v4 0.0.0.0, v6 ::). */
static bool ep_is_any(const struct berth_endpoint *ep)
{
    if (ep->family != BERTH_AF_INET6)
        return ep->addr == 0;
    for (int i = 0; i < 16; i++)
        if (ep->addr6[i])
            return false;
    return true;
}

int berth_posix_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    LOCKED_GET(p, fd);
    struct berth_endpoint ep;
    if (ep_of(p, addr, len, &ep) < 0) {
        int e = errno;
        unlock();
        return fail(e);
    }
    int rc = berth_bind_endpoint(g.stack, p->bsock, &ep);
    if (rc == 0)
        p->bound_any = ep_is_any(&ep);
    unlock();
    return rc < 0 ? berr(rc) : 0;
}

int berth_posix_listen(int fd, int backlog)
{
    LOCKED_GET(p, fd);
    int rc = berth_listen(g.stack, p->bsock, backlog);
    if (rc == 0) {
        p->listening = true;
        mirror(p);
    }
    unlock();
    return rc < 0 ? berr(rc) : 0;
}

/* Lock held; releases it while waiting. 0 when A shows `events` (or HUP),
 * -1 with errno: EINTR, EAGAIN (deadline passed), or the socket was closed
 * meanwhile (EBADF). deadline: CLOCK_MONOTONIC us, 0 = none. */
static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* signal(7): a blocking socket call interrupted by a handler installed
 * with SA_RESTART is restarted, unless the socket has a timeout. The
 * handler that ran is not known here: restart only if every caught signal
 * has SA_RESTART (Python's handlers do not: it sees EINTR and retries).
 * Fault signals (a sanitizer's SIGSEGV handler) do not interrupt a wait. */
static bool restart_after_signal(void)
{
    static const int FAULTS[] = {SIGSEGV, SIGBUS, SIGFPE,  SIGILL,
                                 SIGTRAP, SIGSYS, SIGKILL, SIGSTOP};
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        bool fault = false;
        for (size_t i = 0; i < sizeof FAULTS / sizeof FAULTS[0]; i++)
            fault = fault || sig == FAULTS[i];
        if (fault || sigaction(sig, NULL, &sa) < 0)
            continue;
        bool caught = (sa.sa_flags & SA_SIGINFO) ||
                      (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN);
        if (caught && !(sa.sa_flags & SA_RESTART))
            return false;
    }
    return true;
}

static int wait_for(struct psock *p, short events, uint64_t deadline)
{
    int ms = -1;
    if (deadline) {
        uint64_t now = mono_us();
        if (now >= deadline)
            return fail(EAGAIN);
        uint64_t d = (deadline - now + 999) / 1000;
        ms = d > INT32_MAX ? INT32_MAX : (int)d;
    }
    struct pollfd pfd = {.fd = p->wfd, .events = events};
    p->busy++;
    unlock();
    int n = poll(&pfd, 1, ms);
    int e = errno;
    lock();
    p->busy--;
    if (p->bsock < 0 || p->stale) {
        if (p->refs == 0 && p->busy == 0)
            psock_free(p);
        return fail(EBADF);
    }
    if (n < 0 && e == EINTR && !deadline && restart_after_signal())
        return 0; /* the caller looks again and waits again */
    if (n < 0)
        return fail(e);
    if (n == 0)
        return fail(EAGAIN);
    return 0;
}

static uint64_t deadline_of(int64_t timeo)
{
    return timeo > 0 ? mono_us() + (uint64_t)timeo : 0;
}

int berth_posix_accept4(int fd, struct sockaddr *addr, socklen_t *len,
                        int flags)
{
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return fail(EINVAL);
    LOCKED_GET(p, fd);
    uint64_t deadline = deadline_of(p->rcvtimeo);
    int nfd;
    for (;;) {
        if (!p->listening) {
            unlock();
            return fail(EINVAL);
        }
        struct berth_endpoint peer;
        int bs = berth_accept(g.stack, p->bsock, &peer);
        mirror(p);
        if (bs >= 0) {
            nfd = psock_new(bs, flags);
            if (nfd < 0) {
                int e = errno;
                berth_abort(g.stack, bs);
                wake();
                unlock();
                return fail(e);
            }
            struct psock *c = atomic_load(&g_fd[nfd]);
            c->connecting = true;
            mirror(c);
            c->family = p->family;
            ep_out(c, peer, addr, len);
            break;
        }
        if (bs != BERTH_EAGAIN) {
            unlock();
            return berr(bs);
        }
        if (p->nonblock || wait_for(p, POLLIN, deadline) < 0) {
            int e = p->nonblock ? EAGAIN : errno;
            unlock();
            return fail(e);
        }
    }
    unlock();
    return nfd;
}

/* Lock held: a connect whose handshake started earlier. */
static int connect_again(struct psock *p)
{
    uint32_t ev = berth_poll(g.stack, p->bsock);
    if (ev & BERTH_EV_ERROR) {
        int err = berth_sock_error(g.stack, p->bsock);
        mirror(p);
        return err ? berr(err) : fail(ECONNABORTED);
    }
    struct berth_tcp_info info;
    berth_getinfo(g.stack, p->bsock, &info);
    if (info.state == BERTH_STATE_SYN_SENT ||
        info.state == BERTH_STATE_SYN_RECEIVED)
        return fail(EALREADY);
    return fail(EISCONN);
}

int berth_posix_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    LOCKED_GET(p, fd);
    struct berth_endpoint ep;
    int rc;
    if (ep_of(p, addr, len, &ep) < 0) {
        int e = errno;
        unlock();
        return fail(e);
    }
    if (p->dgram) {
        /* UDP: the default peer, at once (RFC 768 has no handshake). */
        rc = berth_connect_endpoint(g.stack, p->bsock, &ep);
        if (rc == 0)
            p->dconnected = true;
        mirror(p);
        unlock();
        return rc < 0 ? berr(rc) : 0;
    }
    if (p->listening) {
        unlock();
        return fail(EISCONN);
    }
    if (p->connecting) {
        rc = connect_again(p);
        int e = errno;
        unlock();
        return rc < 0 ? fail(e) : 0;
    }
    rc = berth_connect_endpoint(g.stack, p->bsock, &ep);
    if (rc != BERTH_EINPROGRESS) {
        unlock();
        return rc < 0 ? berr(rc) : 0;
    }
    p->connecting = true;
    mirror(p);
    wake();
    if (p->nonblock) {
        unlock();
        return fail(EINPROGRESS);
    }
    /* Blocking: until connected or failed (SO_SNDTIMEO bounds it, as
     * Linux's: then EINPROGRESS). */
    uint64_t deadline = deadline_of(p->sndtimeo);
    for (;;) {
        uint32_t ev = berth_poll(g.stack, p->bsock);
        if (ev & BERTH_EV_ERROR) {
            int err = berth_sock_error(g.stack, p->bsock);
            mirror(p);
            unlock();
            return fail(err ? -err : ECONNREFUSED);
        }
        if (ev & (BERTH_EV_WRITABLE | BERTH_EV_HUP | BERTH_EV_READABLE))
            break;
        if (wait_for(p, POLLOUT, deadline) < 0) {
            int e = errno == EAGAIN ? EINPROGRESS : errno;
            unlock();
            return fail(e);
        }
    }
    unlock();
    return 0;
}

/* ------------------------------------------------------------------------
 * Data.
 */

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        n += iov[i].iov_len;
    return n;
}

/* Lock held: queue as much of iov (from byte `skip`) as fits. Bytes
 * queued, or berth's error when none. */
static int send_some(struct psock *p, const struct iovec *iov, int iovcnt,
                     size_t skip)
{
    size_t done = 0;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        const uint8_t *base = (const uint8_t *)iov[i].iov_base + skip;
        len -= skip;
        skip = 0;
        int rc = berth_send(g.stack, p->bsock, base, len);
        if (rc < 0)
            return done ? (int)done : rc;
        done += (size_t)rc;
        if ((size_t)rc < len || done > INT32_MAX / 2)
            break;
    }
    return (int)done;
}

static ssize_t do_send(struct psock *p, const struct iovec *iov, int iovcnt,
                       int flags, bool *sigpipe)
{
    size_t want = iov_total(iov, iovcnt), done = 0;
    bool nb = p->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = deadline_of(p->sndtimeo);
    if (p->listening)
        return fail(ENOTCONN);
    for (;;) {
        int rc = send_some(p, iov, iovcnt, done);
        mirror(p);
        wake();
        if (rc > 0)
            done += (size_t)rc;
        if (done == want && (want > 0 || rc >= 0))
            return (ssize_t)done;
        if (rc < 0 && rc != BERTH_EAGAIN) {
            if (done)
                return (ssize_t)done;
            if (rc == BERTH_EPIPE && !(flags & MSG_NOSIGNAL))
                *sigpipe = true;
            return berr(rc);
        }
        if (nb)
            return done ? (ssize_t)done : fail(EAGAIN);
        if (wait_for(p, POLLOUT, deadline) < 0)
            return done ? (ssize_t)done : -1;
    }
}

/* Lock held: copy out of the peek buffer, consuming unless peeking. */
static size_t from_peek(struct psock *p, const struct iovec *iov, int iovcnt,
                        bool consume)
{
    size_t off = 0;
    for (int i = 0; i < iovcnt && off < p->peek_len; i++) {
        size_t n = iov[i].iov_len;
        if (n > p->peek_len - off)
            n = p->peek_len - off;
        memcpy(iov[i].iov_base, p->peek + off, n);
        off += n;
    }
    if (consume) {
        memmove(p->peek, p->peek + off, p->peek_len - off);
        p->peek_len -= off;
    }
    return off;
}

/* Lock held: MSG_PEEK reads up to `want` bytes into the peek buffer. */
static int peek_fill(struct psock *p, size_t want)
{
    if (want > p->peek_cap) {
        uint8_t *nb = realloc(p->peek, want);
        if (!nb)
            return BERTH_ENOMEM;
        p->peek = nb;
        p->peek_cap = want;
    }
    if (p->peek_len >= want)
        return (int)p->peek_len;
    int rc = berth_recv(g.stack, p->bsock, p->peek + p->peek_len,
                        want - p->peek_len);
    if (rc > 0)
        p->peek_len += (size_t)rc;
    return rc;
}

/* Lock held: read into iov from byte `skip`. Bytes, 0 at EOF, or berth's
 * error. */
static int recv_some(struct psock *p, const struct iovec *iov, int iovcnt,
                     size_t skip)
{
    size_t done = 0;
    for (int i = 0; i < iovcnt; i++) {
        size_t len = iov[i].iov_len;
        if (skip >= len) {
            skip -= len;
            continue;
        }
        uint8_t *base = (uint8_t *)iov[i].iov_base + skip;
        len -= skip;
        skip = 0;
        int rc = berth_recv(g.stack, p->bsock, base, len);
        if (rc <= 0)
            return done ? (int)done : rc;
        done += (size_t)rc;
        if ((size_t)rc < len || done > INT32_MAX / 2)
            break;
    }
    return (int)done;
}

static ssize_t do_recv(struct psock *p, const struct iovec *iov, int iovcnt,
                       int flags)
{
    size_t want = iov_total(iov, iovcnt), done = 0;
    bool nb = p->nonblock || (flags & MSG_DONTWAIT);
    bool peek = flags & MSG_PEEK;
    bool waitall = (flags & MSG_WAITALL) && !peek;
    uint64_t deadline = deadline_of(p->rcvtimeo);
    if (p->listening)
        return fail(ENOTCONN);
    if (want == 0)
        return 0;
    for (;;) {
        int rc;
        if (peek) {
            rc = peek_fill(p, want);
            if (p->peek_len > 0)
                rc = (int)from_peek(p, iov, iovcnt, false);
        } else {
            if (done == 0 && p->peek_len > 0)
                done = from_peek(p, iov, iovcnt, true);
            rc = done == want ? 0 : recv_some(p, iov, iovcnt, done);
            if (rc > 0)
                done += (size_t)rc;
        }
        mirror(p);
        wake(); /* a window update may be due */
        if (peek && rc > 0)
            return rc;
        if (done == want || (done > 0 && !waitall))
            return (ssize_t)done;
        if (rc == 0)
            return (ssize_t)done; /* end of stream */
        if (rc < 0 && rc != BERTH_EAGAIN)
            return done ? (ssize_t)done : berr(rc);
        if (nb)
            return done ? (ssize_t)done : fail(EAGAIN);
        if (wait_for(p, POLLIN, deadline) < 0)
            return done ? (ssize_t)done : -1;
    }
}

/* ------------------------------------------------------------------------
 * Datagrams (UDP). A datagram is sent whole or not at all; a receive takes
 * one whole datagram into the socket's buffer (the peek buffer, 64 KiB), so
 * MSG_PEEK, MSG_TRUNC and FIONREAD know its length, as Linux's udp_recvmsg.
 */

#define DGRAM_MAX 65535u

/* Lock held: the next datagram into the peek buffer if none is held.
 * 0, or berth's error (BERTH_EAGAIN: none queued). */
static int dgram_hold(struct psock *p)
{
    if (p->peek_dgram)
        return 0;
    if (p->peek_cap < DGRAM_MAX) {
        uint8_t *nb = realloc(p->peek, DGRAM_MAX);
        if (!nb)
            return BERTH_ENOMEM;
        p->peek = nb;
        p->peek_cap = DGRAM_MAX;
    }
    int rc =
        berth_recvfrom(g.stack, p->bsock, p->peek, DGRAM_MAX, &p->peek_from);
    if (rc < 0)
        return rc;
    p->peek_len = (size_t)rc;
    p->peek_dgram = true;
    return 0;
}

static ssize_t do_recv_dgram(struct psock *p, struct msghdr *msg, int flags)
{
    bool nb = p->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = deadline_of(p->rcvtimeo);
    for (;;) {
        int rc = dgram_hold(p);
        if (rc == 0) {
            size_t dlen = p->peek_len;
            size_t n = from_peek(p, msg->msg_iov, (int)msg->msg_iovlen, false);
            if (msg->msg_name)
                ep_out(p, p->peek_from, msg->msg_name, &msg->msg_namelen);
            else
                msg->msg_namelen = 0;
            msg->msg_controllen = 0;
            msg->msg_flags = dlen > n ? MSG_TRUNC : 0;
            if (!(flags & MSG_PEEK)) {
                p->peek_len = 0;
                p->peek_dgram = false;
            }
            mirror(p);
            return (flags & MSG_TRUNC) ? (ssize_t)dlen : (ssize_t)n;
        }
        mirror(p);
        if (rc != BERTH_EAGAIN)
            return berr(rc); /* ECONNREFUSED: an ICMP port unreachable */
        if (nb)
            return fail(EAGAIN);
        if (wait_for(p, POLLIN, deadline) < 0)
            return -1;
    }
}

static ssize_t do_send_dgram(struct psock *p, const struct msghdr *msg,
                             int flags)
{
    struct berth_endpoint to, *top = NULL;
    if (msg->msg_name && msg->msg_namelen) {
        if (ep_of(p, msg->msg_name, msg->msg_namelen, &to) < 0)
            return -1;
        top = &to;
    }
    size_t want = iov_total(msg->msg_iov, (int)msg->msg_iovlen);
    if (want > DGRAM_MAX)
        return fail(EMSGSIZE);
    const uint8_t *buf = msg->msg_iovlen > 0 ? msg->msg_iov[0].iov_base : NULL;
    uint8_t *flat = NULL;
    if (msg->msg_iovlen > 1) {
        flat = malloc(want ? want : 1);
        if (!flat)
            return fail(ENOMEM);
        size_t off = 0;
        for (size_t i = 0; i < msg->msg_iovlen; i++) {
            memcpy(flat + off, msg->msg_iov[i].iov_base,
                   msg->msg_iov[i].iov_len);
            off += msg->msg_iov[i].iov_len;
        }
        buf = flat;
    }
    bool nb = p->nonblock || (flags & MSG_DONTWAIT);
    uint64_t deadline = deadline_of(p->sndtimeo);
    ssize_t ret;
    for (;;) {
        int rc = berth_sendto(g.stack, p->bsock, buf, want, top);
        mirror(p);
        wake();
        if (rc >= 0) {
            ret = (ssize_t)want;
            break;
        }
        if (rc != BERTH_EAGAIN || nb) {
            ret = berr(rc);
            break;
        }
        if (wait_for(p, POLLOUT, deadline) < 0) {
            ret = -1;
            break;
        }
    }
    int e = errno;
    free(flat);
    errno = e;
    return ret;
}

static void raise_sigpipe(bool sigpipe)
{
    if (sigpipe)
        pthread_kill(pthread_self(), SIGPIPE);
}

ssize_t berth_posix_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    bool sigpipe = false;
    LOCKED_GET(p, fd);
    ssize_t n = p->dgram ? do_send_dgram(p, msg, flags)
                         : do_send(p, msg->msg_iov, (int)msg->msg_iovlen, flags,
                                   &sigpipe);
    int e = errno;
    unlock();
    raise_sigpipe(sigpipe);
    errno = e;
    return n;
}

ssize_t berth_posix_send(int fd, const void *buf, size_t len, int flags)
{
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    return berth_posix_sendmsg(fd, &m, flags);
}

/* A connected TCP socket ignores the address (as Linux); a UDP socket
 * sends to it. */
ssize_t berth_posix_sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *addr, socklen_t alen)
{
    struct iovec iov = {(void *)buf, len};
    struct msghdr m = {.msg_name = (void *)addr,
                       .msg_namelen = addr ? alen : 0,
                       .msg_iov = &iov,
                       .msg_iovlen = 1};
    return berth_posix_sendmsg(fd, &m, flags);
}

ssize_t berth_posix_writev(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov,
                       .msg_iovlen = (size_t)iovcnt};
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return fail(EINVAL);
    return berth_posix_sendmsg(fd, &m, 0);
}

ssize_t berth_posix_recvmsg(int fd, struct msghdr *msg, int flags)
{
    LOCKED_GET(p, fd);
    if (p->dgram) {
        ssize_t n = do_recv_dgram(p, msg, flags);
        int e = errno;
        unlock();
        errno = e;
        return n;
    }
    ssize_t n = do_recv(p, msg->msg_iov, (int)msg->msg_iovlen, flags);
    int e = errno;
    unlock();
    /* TCP has no source address or control data to give. */
    msg->msg_namelen = 0;
    msg->msg_controllen = 0;
    msg->msg_flags = 0;
    errno = e;
    return n;
}

ssize_t berth_posix_recv(int fd, void *buf, size_t len, int flags)
{
    struct iovec iov = {buf, len};
    LOCKED_GET(p, fd);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n =
        p->dgram ? do_recv_dgram(p, &m, flags) : do_recv(p, &iov, 1, flags);
    int e = errno;
    unlock();
    errno = e;
    return n;
}

ssize_t berth_posix_recvfrom(int fd, void *buf, size_t len, int flags,
                             struct sockaddr *addr, socklen_t *alen)
{
    lock();
    struct psock *p = get(fd);
    bool dgram = p && p->dgram;
    unlock();
    if (!dgram) {
        /* TCP: no address to give (and a closed fd fails in recv) */
        if (alen)
            *alen = 0;
        return berth_posix_recv(fd, buf, len, flags);
    }
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_name = addr,
                       .msg_namelen = addr && alen ? *alen : 0,
                       .msg_iov = &iov,
                       .msg_iovlen = 1};
    ssize_t n = berth_posix_recvmsg(fd, &m, flags);
    if (n >= 0 && alen)
        *alen = addr ? m.msg_namelen : 0;
    return n;
}

ssize_t berth_posix_readv(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov,
                       .msg_iovlen = (size_t)iovcnt};
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return fail(EINVAL);
    return berth_posix_recvmsg(fd, &m, 0);
}

ssize_t berth_posix_sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    /* By copying: pread from the offset (or the file position), send what
     * the connection takes, advance by exactly that much, so a short send
     * loses nothing. A pipe (no position) is read and sent whole. */
    uint8_t *buf = malloc(COPY_CHUNK);
    if (!buf)
        return fail(ENOMEM);
    off_t pos = offset ? *offset : lseek(in_fd, 0, SEEK_CUR);
    bool seekable = pos >= 0;
    size_t total = 0;
    ssize_t rc = 0;
    while (total < count) {
        size_t n = count - total < COPY_CHUNK ? count - total : COPY_CHUNK;
        ssize_t got =
            seekable ? pread(in_fd, buf, n, pos) : read(in_fd, buf, n);
        if (got <= 0) {
            rc = got;
            break;
        }
        ssize_t sent =
            seekable ? berth_posix_send(out_fd, buf, (size_t)got, 0) : 0;
        if (!seekable) {
            for (ssize_t off = 0; off < got; off += sent) {
                sent =
                    berth_posix_send(out_fd, buf + off, (size_t)(got - off), 0);
                if (sent <= 0) {
                    rc = -1;
                    break;
                }
            }
            if (rc < 0)
                break;
            sent = got;
        }
        if (sent <= 0) {
            rc = -1;
            break;
        }
        total += (size_t)sent;
        pos += sent;
        if (sent < got)
            break;
    }
    int e = errno;
    free(buf);
    if (offset)
        *offset = pos;
    else if (seekable)
        lseek(in_fd, pos, SEEK_SET);
    if (total == 0 && rc < 0)
        return fail(e);
    return (ssize_t)total;
}

int berth_posix_shutdown(int fd, int how)
{
    if (how < SHUT_RD || how > SHUT_RDWR)
        return fail(EINVAL);
    LOCKED_GET(p, fd);
    int rc = berth_shutdown(g.stack, p->bsock, how + 1); /* SHUT_RD = 0 */
    if (rc == 0 && (how == SHUT_WR || how == SHUT_RDWR))
        p->shut_wr = true;
    mirror(p);
    wake();
    unlock();
    return rc < 0 ? berr(rc) : 0;
}

int berth_posix_close(int fd)
{
    if (fd < 0 || fd >= FD_LIMIT)
        return fail(EBADF);
    lock();
    struct psock *p = atomic_load(&g_fd[fd]);
    if (!p) {
        unlock();
        return fail(EBADF);
    }
    atomic_store(&g_fd[fd], NULL);
    sys_close(fd);
    if (--p->refs == 0)
        psock_release(p);
    unlock();
    return 0;
}

/* ------------------------------------------------------------------------
 * Descriptors: dup, fcntl, ioctl.
 */

int berth_posix_dup3(int fd, int newfd, int flags)
{
    if (newfd < 0 || newfd >= FD_LIMIT)
        return fail(EBADF);
    lock();
    struct psock *p = fd >= 0 && fd < FD_LIMIT ? atomic_load(&g_fd[fd]) : NULL;
    struct psock *old = atomic_load(&g_fd[newfd]);
    int rc = sys_dup3(fd, newfd, flags);
    if (rc < 0) {
        int e = errno;
        unlock();
        return fail(e);
    }
    /* newfd's old berth socket loses a descriptor, as close() would. */
    if (old) {
        atomic_store(&g_fd[newfd], NULL);
        if (--old->refs == 0)
            psock_release(old);
    }
    if (p) {
        p->refs++;
        atomic_store(&g_fd[newfd], p);
    }
    unlock();
    return newfd;
}

static int dup_from(int fd, int min, bool cloexec)
{
    LOCKED_GET(p, fd);
    int nfd = sys_fcntl(fd, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, min);
    if (nfd >= FD_LIMIT) {
        sys_close(nfd);
        unlock();
        return fail(EMFILE);
    }
    if (nfd >= 0) {
        p->refs++;
        atomic_store(&g_fd[nfd], p);
    }
    int e = errno;
    unlock();
    errno = e;
    return nfd;
}

int berth_posix_dup(int fd)
{
    return dup_from(fd, 0, false);
}

int berth_posix_fcntl(int fd, int cmd, long arg)
{
    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return dup_from(fd, (int)arg, cmd == F_DUPFD_CLOEXEC);
    LOCKED_GET(p, fd);
    int rc = sys_fcntl(fd, cmd, arg);
    int e = errno;
    if (rc >= 0 && cmd == F_SETFL)
        p->nonblock = (arg & O_NONBLOCK) != 0;
    unlock();
    errno = e;
    return rc;
}

int berth_posix_ioctl(int fd, unsigned long req, void *arg)
{
    LOCKED_GET(p, fd);
    int rc = 0, e = 0;
    struct berth_tcp_info info;
    switch (req) {
    case FIONBIO:
        rc = sys_ioctl(fd, req, arg);
        e = errno;
        if (rc == 0)
            p->nonblock = *(int *)arg != 0;
        break;
    case FIONREAD: /* SIOCINQ */
    case TIOCOUTQ: /* SIOCOUTQ */
        if (p->listening) {
            rc = -1;
            e = EINVAL;
            break;
        }
        if (p->dgram) {
            /* Linux's UDP: the next datagram's size; nothing queued out */
            int r = req == FIONREAD ? dgram_hold(p) : BERTH_EAGAIN;
            *(int *)arg = r == 0 ? (int)p->peek_len : 0;
            mirror(p);
            break;
        }
        berth_getinfo(g.stack, p->bsock, &info);
        *(int *)arg = req == FIONREAD ? (int)(info.rcv_queued + p->peek_len)
                                      : (int)info.snd_queued;
        break;
    default: /* SIOCGIF* and the like work on any socket */
        rc = sys_ioctl(fd, req, arg);
        e = errno;
    }
    unlock();
    errno = e;
    return rc;
}

/* ------------------------------------------------------------------------
 * Names and options.
 */

int berth_posix_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!addr || !len)
        return fail(EFAULT);
    LOCKED_GET(p, fd);
    struct berth_endpoint ep = {0};
    int rc = berth_getsockname(g.stack, p->bsock, &ep);
    if (rc == 0 && p->bound_any && !p->connecting && !p->dconnected)
        /* a listener (or a UDP socket) bound to the any address */
        ep = (struct berth_endpoint){
            .port = ep.port,
            .family = p->family == AF_INET6 ? BERTH_AF_INET6 : BERTH_AF_INET};
    unlock();
    if (rc < 0 && rc != BERTH_ENOTCONN)
        return berr(rc);
    ep_out(p, rc < 0 ? (struct berth_endpoint){0} : ep, addr, len);
    return 0;
}

int berth_posix_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (!addr || !len)
        return fail(EFAULT);
    LOCKED_GET(p, fd);
    struct berth_endpoint ep;
    int rc = p->listening ? BERTH_ENOTCONN
                          : berth_getpeername(g.stack, p->bsock, &ep);
    if (rc == 0 && !p->dgram &&
        !(berth_poll(g.stack, p->bsock) & BERTH_EV_WRITABLE)) {
        struct berth_tcp_info info;
        berth_getinfo(g.stack, p->bsock, &info);
        if (info.state == BERTH_STATE_SYN_SENT ||
            info.state == BERTH_STATE_CLOSED)
            rc = BERTH_ENOTCONN;
    }
    unlock();
    if (rc < 0)
        return berr(rc);
    ep_out(p, ep, addr, len);
    return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
    if (!val || !len || *len < (socklen_t)sizeof(int))
        return fail(EINVAL);
    memcpy(val, &v, sizeof v);
    *len = sizeof v;
    return 0;
}

static int get_int(const void *val, socklen_t len, int *v)
{
    if (!val || len < (socklen_t)sizeof(int))
        return fail(EINVAL);
    memcpy(v, val, sizeof *v);
    return 0;
}

static int put_timeval(void *val, socklen_t *len, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    if (!val || !len || *len < (socklen_t)sizeof tv)
        return fail(EINVAL);
    memcpy(val, &tv, sizeof tv);
    *len = sizeof tv;
    return 0;
}

static void fill_tcp_info(struct psock *p, struct tcp_info *ti)
{
    struct berth_tcp_info in;
    memset(ti, 0, sizeof *ti);
    if (berth_getinfo(g.stack, p->bsock, &in) == 0)
        linux_tcp_info(&in, ti);
}

/* Lock held: SOL_SOCKET's integer options without a berth option; -1 for
 * one it does not know. */
static int socket_int_opt(struct psock *p, int name)
{
    switch (name) {
    case SO_TYPE:
        return p->dgram ? SOCK_DGRAM : SOCK_STREAM;
    case SO_DOMAIN:
        return p->family;
    case SO_PROTOCOL:
        return p->dgram ? IPPROTO_UDP : IPPROTO_TCP;
    case SO_BROADCAST:
        return p->broadcast;
    case SO_ACCEPTCONN:
        return p->listening;
    case SO_ERROR: {
        int err = p->listening ? 0 : -berth_sock_error(g.stack, p->bsock);
        mirror(p);
        return err;
    }
    case SO_REUSEADDR:
        return p->reuseaddr;
    case SO_REUSEPORT:
        return p->reuseport;
    }
    return -1;
}

/* Lock held: copies a value out as getsockopt does (truncated to *len). */
static int put_bytes(void *val, socklen_t *len, const void *src, size_t n)
{
    if (!val || !len)
        return fail(EFAULT);
    socklen_t m = *len < (socklen_t)n ? *len : (socklen_t)n;
    memcpy(val, src, m);
    *len = m;
    return 0;
}

/* Lock held: the options that are not plain integers. 1 if name is not one
 * of them. */
static int get_struct_opt(struct psock *p, int level, int name, void *val,
                          socklen_t *len)
{
    int64_t v = -1;
    if (level == SOL_SOCKET && name == SO_LINGER) {
        berth_getopt(g.stack, p->bsock, BERTH_OPT_LINGER, &v);
        struct linger l = {v >= 0, v > 0 ? (int)(v / 1000000) : 0};
        if (!val || !len || *len < (socklen_t)sizeof l)
            return fail(EINVAL);
        return put_bytes(val, len, &l, sizeof l);
    }
    if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))
        return put_timeval(val, len,
                           name == SO_RCVTIMEO ? p->rcvtimeo : p->sndtimeo);
    if (level == IPPROTO_TCP && name == TCP_INFO) {
        struct tcp_info ti;
        fill_tcp_info(p, &ti);
        return put_bytes(val, len, &ti, sizeof ti);
    }
    if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
        char cc[16] = "cubic"; /* TCP_CA_NAME_MAX */
        berth_getopt(g.stack, p->bsock, BERTH_OPT_CONGESTION, &v);
        if (v == BERTH_CC_NEWRENO)
            strcpy(cc, "reno");
        return put_bytes(val, len, cc, sizeof cc);
    }
    return 1;
}

int berth_posix_getsockopt(int fd, int level, int name, void *val,
                           socklen_t *len)
{
    LOCKED_GET(p, fd);
    const struct linux_int_opt *m = linux_int_opt(level, name);
    int rc, x = -1;
    int64_t v = 0;
    if (m) {
        int r = berth_getopt(g.stack, p->bsock, m->opt, &v);
        rc = r < 0 ? berr(r) : put_int(val, len, (int)(v / m->factor));
    } else if ((rc = get_struct_opt(p, level, name, val, len)) <= 0) {
        /* done */
    } else {
        if (level == SOL_SOCKET)
            x = socket_int_opt(p, name);
        else if (level == IPPROTO_TCP && name == TCP_QUICKACK && !p->dgram)
            x = p->quickack;
        else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY &&
                 p->family == AF_INET6)
            x = berth_getopt(g.stack, p->bsock, BERTH_OPT_V6ONLY, &v) == 0
                    ? (int)v
                    : p->v6only;
        rc = x < 0 ? fail(ENOPROTOOPT) : put_int(val, len, x);
    }
    int e = errno;
    unlock();
    errno = e;
    return rc;
}

static int set_linger(struct psock *p, const void *val, socklen_t len)
{
    struct linger l;
    if (!val || len < (socklen_t)sizeof l)
        return fail(EINVAL);
    memcpy(&l, val, sizeof l);
    int64_t v = !l.l_onoff ? -1 : (int64_t)l.l_linger * 1000000;
    int r = berth_setopt(g.stack, p->bsock, BERTH_OPT_LINGER, v);
    return r < 0 ? berr(r) : 0;
}

static int set_timeo(int64_t *slot, const void *val, socklen_t len)
{
    struct timeval tv;
    if (!val || len < (socklen_t)sizeof tv)
        return fail(EINVAL);
    memcpy(&tv, val, sizeof tv);
    if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        return fail(EDOM);
    *slot = tv.tv_sec < 0 ? 0 : (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    return 0;
}

static int set_congestion(struct psock *p, const void *val, socklen_t len)
{
    char name[16] = {0};
    if (!val || len < 1)
        return fail(EINVAL);
    memcpy(name, val, len < (socklen_t)sizeof name - 1 ? len : sizeof name - 1);
    int64_t cc;
    if (!strcmp(name, "cubic"))
        cc = BERTH_CC_CUBIC;
    else if (!strcmp(name, "reno") || !strcmp(name, "newreno"))
        cc = BERTH_CC_NEWRENO;
    else
        return fail(ENOENT); /* Linux: no such algorithm */
    int r = berth_setopt(g.stack, p->bsock, BERTH_OPT_CONGESTION, cc);
    return r < 0 ? berr(r) : 0;
}

static int set_int_opt(struct psock *p, const struct linux_int_opt *m,
                       const void *val, socklen_t len)
{
    int x;
    if (get_int(val, len, &x) < 0)
        return -1;
    enum berth_opt opt = m->opt;
    int64_t v = (int64_t)x * m->factor;
    if (opt == BERTH_OPT_SNDBUF || opt == BERTH_OPT_RCVBUF) {
        /* Linux accepts any size at any time (clamped); berth sizes its
         * buffers once, before the connection: later changes and sizes
         * out of berth's range are accepted and ignored. */
        if (v < 1024)
            v = 1024;
        if (v > (64 << 20))
            v = 64 << 20;
        berth_setopt(g.stack, p->bsock, opt, v);
        return 0;
    }
    if (opt == BERTH_OPT_NODELAY || opt == BERTH_OPT_KEEPALIVE)
        v = x != 0;
    int r = berth_setopt(g.stack, p->bsock, opt, v);
    return r < 0 ? berr(r) : 0;
}

/* IPV6_V6ONLY (RFC 3493 section 5.3; Linux's default off): the core's
 * option where it has one, else (UDP before IPv6 UDP) remembered. */
static int set_v6only(struct psock *p, const void *val, socklen_t len)
{
    int x;
    if (get_int(val, len, &x) < 0)
        return -1;
    int r = berth_setopt(g.stack, p->bsock, BERTH_OPT_V6ONLY, x != 0);
    if (r == BERTH_ENOPROTOOPT && p->dgram)
        r = 0;
    if (r == 0)
        p->v6only = x != 0;
    return r < 0 ? berr(r) : 0;
}

int berth_posix_setsockopt(int fd, int level, int name, const void *val,
                           socklen_t len)
{
    LOCKED_GET(p, fd);
    const struct linux_int_opt *m = linux_int_opt(level, name);
    int rc, x = 0;
    if (m)
        rc = set_int_opt(p, m, val, len);
    else if (level == SOL_SOCKET && name == SO_LINGER)
        rc = set_linger(p, val, len);
    else if (level == SOL_SOCKET && name == SO_RCVTIMEO)
        rc = set_timeo(&p->rcvtimeo, val, len);
    else if (level == SOL_SOCKET && name == SO_SNDTIMEO)
        rc = set_timeo(&p->sndtimeo, val, len);
    else if (level == IPPROTO_TCP && name == TCP_CONGESTION)
        rc = set_congestion(p, val, len);
    else if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY &&
             p->family == AF_INET6)
        rc = set_v6only(p, val, len);
    else if (level == SOL_SOCKET && name == SO_BROADCAST && p->dgram) {
        /* Remembered: berth has no broadcast address to refuse. */
        rc = get_int(val, len, &x);
        if (rc == 0)
            p->broadcast = x != 0;
    } else if ((level == SOL_SOCKET &&
                (name == SO_REUSEADDR || name == SO_REUSEPORT)) ||
               (level == IPPROTO_TCP && name == TCP_QUICKACK)) {
        /* Accepted and remembered; berth has no equivalent to apply
         * (bind already ignores TIME-WAIT entries; ACKs follow berth's own
         * quick-ACK rule). */
        rc = get_int(val, len, &x);
        if (rc == 0) {
            int *slot = name == SO_REUSEADDR   ? &p->reuseaddr
                        : name == SO_REUSEPORT ? &p->reuseport
                                               : &p->quickack;
            *slot = x != 0;
        }
    } else {
        rc = fail(ENOPROTOOPT);
    }
    int e = errno;
    mirror(p);
    wake();
    unlock();
    errno = e;
    return rc;
}
