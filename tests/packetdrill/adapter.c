/* berth behind packetdrill's --so_filename interface (packetdrill.h): the
 * script's system calls become berth_ socket calls, its packets berth_input(),
 * and the stack's packets are queued for packetdrill to sniff. Time is
 * virtual: usleep() and a wait for an outbound packet move the clock,
 * running berth_advance() at each deadline on the way, so a script runs in
 * milliseconds and gives the same result on a loaded machine.
 *
 * Public API only (include/berth/berth.h), and the Linux numbers the POSIX
 * layer uses (src/posix/linux_map.c: one table for both). Built without
 * sanitizers: packetdrill dlopen()s this object with RTLD_DEEPBIND.
 */
#define _GNU_SOURCE
#include <berth/berth.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "packetdrill.h"
#include "posix/linux_map.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55 /* Linux's asm-generic/socket.h */
#endif

/* Handles map to descriptors far above packetdrill's own. */
#define SOCK_FD_BASE  1000
#define MAX_SOCKS     1024
#define EPOLL_FD_BASE 3000
#define MAX_EPOLLS    16
#define MAX_EPOLL_REG 16
/* A wait for an outbound packet gives up after this much virtual time with
 * nothing sent (the interface has no timeout of its own). */
#define SNIFF_LIMIT_US (600ull * 1000000)
/* packetdrill spins on gettimeofday() for the last microseconds before an
 * event: each call moves the clock this much. */
#define SPIN_STEP_US 1
#define START_US     1000000ull

struct txpkt {
    struct txpkt *next;
    uint64_t time;
    size_t len;
    uint8_t data[];
};

/* A thread sleeping in a blocking call. `stale` is set when the stack
 * changed since it last looked; it then holds `nstale` up until it has
 * looked again, so that the main thread sees what it did. */
struct waiter {
    struct waiter *next;
    uint64_t deadline; /* UINT64_MAX: none */
    pthread_cond_t cv;
    bool stale;
};

struct epoll_reg {
    int sock; /* berth handle, -1 if free */
    uint32_t events;
    uint64_t data;
    uint32_t pending; /* EPOLLET: edges since the last report */
};

struct epoll_inst {
    bool used;
    struct epoll_reg reg[MAX_EPOLL_REG];
};

struct adapter {
    pthread_mutex_t mu;
    pthread_cond_t quiet; /* nstale reached zero */
    struct berth_stack *s;
    uint64_t now;
    struct txpkt *txq, **txq_tail;
    struct waiter *waiters;
    unsigned nstale;
    bool nonblock[MAX_SOCKS];
    struct epoll_inst ep[MAX_EPOLLS];
    bool verbose;
    uint16_t mss; /* berth_config.mss */
};

/* ------------------------------------------------------------------------
 * Stack callbacks.
 */
static void on_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct adapter *a = ctx;
    struct txpkt *p = malloc(sizeof(*p) + len);
    if (!p)
        abort();
    p->next = NULL;
    p->time = a->now;
    p->len = len;
    memcpy(p->data, pkt, len);
    *a->txq_tail = p;
    a->txq_tail = &p->next;
}

static uint32_t to_epoll(uint32_t ev)
{
    uint32_t e = 0;
    if (ev & BERTH_EV_READABLE)
        e |= EPOLLIN;
    if (ev & BERTH_EV_WRITABLE)
        e |= EPOLLOUT;
    if (ev & BERTH_EV_ERROR)
        e |= EPOLLERR;
    if (ev & BERTH_EV_HUP)
        e |= EPOLLHUP;
    if (ev & BERTH_EV_RDHUP)
        e |= EPOLLRDHUP;
    return e;
}

/* berth's readiness edge: EPOLLET registrations remember it. */
static void on_event(void *ctx, int sock, uint32_t events)
{
    struct adapter *a = ctx;
    for (int i = 0; i < MAX_EPOLLS; i++) {
        if (!a->ep[i].used)
            continue;
        for (int j = 0; j < MAX_EPOLL_REG; j++) {
            struct epoll_reg *r = &a->ep[i].reg[j];
            if (r->sock == sock)
                r->pending |=
                    to_epoll(events) & (r->events | EPOLLERR | EPOLLHUP);
        }
    }
}

/* ------------------------------------------------------------------------
 * The virtual clock and the sleeping threads.
 */

/* The stack may have changed: every sleeping thread looks again. */
static void changed(struct adapter *a)
{
    for (struct waiter *w = a->waiters; w; w = w->next) {
        if (!w->stale) {
            w->stale = true;
            a->nstale++;
            pthread_cond_signal(&w->cv);
        }
    }
}

/* Wait until every woken thread has looked and acted. */
static void quiesce(struct adapter *a)
{
    while (a->nstale > 0)
        pthread_cond_wait(&a->quiet, &a->mu);
}

static uint64_t next_event(const struct adapter *a)
{
    uint64_t d = berth_next_deadline(a->s);
    for (const struct waiter *w = a->waiters; w; w = w->next)
        if (w->deadline < d)
            d = w->deadline;
    return d;
}

/* Moves the clock to `target`, stopping at every stack deadline and
 * sleeping-call timeout on the way. */
static void advance_to(struct adapter *a, uint64_t target)
{
    for (int guard = 0; guard < 1000000; guard++) {
        quiesce(a);
        uint64_t d = next_event(a);
        if (d > target)
            break;
        if (d > a->now)
            a->now = d;
        berth_advance(a->s, a->now);
        changed(a);
        if (d <= a->now && next_event(a) <= a->now) {
            /* Due now and not cleared: let the sleepers act, then the
             * guard bounds a stack that never clears a deadline. */
            quiesce(a);
            if (next_event(a) <= a->now)
                a->now++;
        }
    }
    if (target > a->now)
        a->now = target;
    berth_advance(a->s, a->now);
    changed(a);
    quiesce(a);
}

/* Sleep until the stack changes or `deadline` passes. Returns with the
 * caller counted in nstale: it must call looked() after acting. */
static void sleep_on(struct adapter *a, uint64_t deadline)
{
    struct waiter w = {.deadline = deadline};
    pthread_cond_init(&w.cv, NULL);
    w.next = a->waiters;
    a->waiters = &w;
    while (!w.stale)
        pthread_cond_wait(&w.cv, &a->mu);
    for (struct waiter **pp = &a->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == &w) {
            *pp = w.next;
            break;
        }
    }
    pthread_cond_destroy(&w.cv);
}

static void looked(struct adapter *a)
{
    if (--a->nstale == 0)
        pthread_cond_broadcast(&a->quiet);
}

/* ------------------------------------------------------------------------
 * Descriptors.
 */
static int fail(int err)
{
    errno = err;
    return -1;
}

/* berth's codes are negative Linux errno values. */
static int berr(int r)
{
    return r < 0 ? fail(-r) : r;
}

static int sock_of(int fd)
{
    if (fd < SOCK_FD_BASE || fd >= SOCK_FD_BASE + MAX_SOCKS)
        return -1;
    return fd - SOCK_FD_BASE;
}

static struct epoll_inst *epoll_of(struct adapter *a, int fd)
{
    if (fd < EPOLL_FD_BASE || fd >= EPOLL_FD_BASE + MAX_EPOLLS ||
        !a->ep[fd - EPOLL_FD_BASE].used)
        return NULL;
    return &a->ep[fd - EPOLL_FD_BASE];
}

static void epoll_forget(struct adapter *a, int sock)
{
    for (int i = 0; i < MAX_EPOLLS; i++)
        for (int j = 0; j < MAX_EPOLL_REG; j++)
            if (a->ep[i].used && a->ep[i].reg[j].sock == sock)
                a->ep[i].reg[j].sock = -1;
}

#define LOCKED(a, expr)                                                        \
    ({                                                                         \
        pthread_mutex_lock(&(a)->mu);                                          \
        __typeof__(expr) r_ = (expr);                                          \
        changed(a);                                                            \
        pthread_mutex_unlock(&(a)->mu);                                        \
        r_;                                                                    \
    })

/* Runs `try` until it stops saying EAGAIN, sleeping between tries unless
 * the socket is non-blocking (or `dontwait`). A try that says EAGAIN wakes
 * no one: two sleepers would otherwise wake each other forever. */
typedef int (*try_fn)(struct adapter *a, int sock, void *arg);

static int blocking(struct adapter *a, int sock, bool dontwait, try_fn try,
                    void *arg)
{
    pthread_mutex_lock(&a->mu);
    bool counted = false;
    int r;
    for (;;) {
        r = try(a, sock, arg);
        if (r != BERTH_EAGAIN)
            changed(a);
        if (counted)
            looked(a);
        if (r != BERTH_EAGAIN || dontwait ||
            (sock >= 0 && sock < MAX_SOCKS && a->nonblock[sock]))
            break;
        sleep_on(a, UINT64_MAX);
        counted = true;
    }
    pthread_mutex_unlock(&a->mu);
    return r;
}

/* ------------------------------------------------------------------------
 * The interface.
 */
/* After the script (packetdrill has closed every socket and reset every
 * connection), the stack's timers run out within this much virtual time and
 * it must hold nothing: what is left leaked. */
#define DRAIN_LIMIT_US (3600ull * 1000000)

static void pd_free(void *ud)
{
    struct adapter *a = ud;
    uint64_t limit = a->now + DRAIN_LIMIT_US;
    for (int i = 0; i < 1000000; i++) {
        uint64_t d = berth_next_deadline(a->s);
        if (d == UINT64_MAX || d > limit)
            break;
        a->now = d > a->now ? d : a->now + 1;
        berth_advance(a->s, a->now);
    }
    if (berth_mem_bytes(a->s) != 0) {
        fprintf(stderr,
                "berth adapter: %zu bytes in %zu blocks still held an hour "
                "of virtual time after the script ended\n",
                berth_mem_bytes(a->s), berth_mem_allocs(a->s));
        exit(EXIT_FAILURE);
    }
    berth_stack_destroy(a->s);
    while (a->txq) {
        struct txpkt *p = a->txq;
        a->txq = p->next;
        free(p);
    }
    free(a);
}

static int pd_socket(void *ud, int domain, int type, int protocol)
{
    struct adapter *a = ud;
    if (domain != AF_INET || (type & 0xf) != SOCK_STREAM ||
        (protocol != 0 && protocol != IPPROTO_TCP))
        return fail(EAFNOSUPPORT);
    int h = LOCKED(a, berth_socket(a->s));
    if (h < 0)
        return berr(h);
    if (h >= MAX_SOCKS) {
        LOCKED(a, berth_abort(a->s, h));
        return fail(EMFILE);
    }
    pthread_mutex_lock(&a->mu);
    a->nonblock[h] = (type & SOCK_NONBLOCK) != 0;
    pthread_mutex_unlock(&a->mu);
    return SOCK_FD_BASE + h;
}

static int sockaddr_endpoint(const struct sockaddr *sa, socklen_t len,
                             uint32_t *addr, uint16_t *port)
{
    const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
    if (!sa || len < sizeof(*sin) || sin->sin_family != AF_INET)
        return fail(EAFNOSUPPORT);
    *addr = ntohl(sin->sin_addr.s_addr);
    *port = ntohs(sin->sin_port);
    return 0;
}

static void endpoint_sockaddr(struct berth_endpoint ep, struct sockaddr *sa,
                              socklen_t *len)
{
    if (!sa || !len)
        return;
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(ep.port),
                              .sin_addr.s_addr = htonl(ep.addr)};
    memcpy(sa, &sin, *len < sizeof(sin) ? *len : sizeof(sin));
    *len = sizeof(sin);
}

static int pd_bind(void *ud, int fd, const struct sockaddr *sa, socklen_t len)
{
    struct adapter *a = ud;
    uint32_t addr;
    uint16_t port;
    if (sockaddr_endpoint(sa, len, &addr, &port) < 0)
        return -1;
    return berr(LOCKED(a, berth_bind(a->s, sock_of(fd), addr, port)));
}

static int pd_listen(void *ud, int fd, int backlog)
{
    struct adapter *a = ud;
    return berr(LOCKED(a, berth_listen(a->s, sock_of(fd), backlog)));
}

static int try_accept(struct adapter *a, int sock, void *arg)
{
    return berth_accept(a->s, sock, arg);
}

static int pd_accept(void *ud, int fd, struct sockaddr *sa, socklen_t *len)
{
    struct adapter *a = ud;
    struct berth_endpoint peer;
    int h = blocking(a, sock_of(fd), false, try_accept, &peer);
    if (h < 0)
        return berr(h);
    if (h >= MAX_SOCKS) {
        LOCKED(a, berth_abort(a->s, h));
        return fail(EMFILE);
    }
    pthread_mutex_lock(&a->mu);
    a->nonblock[h] = false;
    pthread_mutex_unlock(&a->mu);
    endpoint_sockaddr(peer, sa, len);
    return SOCK_FD_BASE + h;
}

/* A blocking connect sleeps until the handshake ends either way. */
static int try_connected(struct adapter *a, int sock, void *arg)
{
    (void)arg;
    uint32_t ev = berth_poll(a->s, sock);
    if (ev & (BERTH_EV_ERROR | BERTH_EV_HUP)) {
        int err = berth_sock_error(a->s, sock);
        return err ? err : BERTH_ECONNREFUSED;
    }
    return (ev & BERTH_EV_WRITABLE) ? 0 : BERTH_EAGAIN;
}

static int pd_connect(void *ud, int fd, const struct sockaddr *sa,
                      socklen_t len)
{
    struct adapter *a = ud;
    uint32_t addr;
    uint16_t port;
    int sock = sock_of(fd);
    if (sockaddr_endpoint(sa, len, &addr, &port) < 0)
        return -1;
    pthread_mutex_lock(&a->mu);
    int r = berth_connect(a->s, sock, addr, port);
    bool nonblock = sock >= 0 && a->nonblock[sock];
    changed(a);
    pthread_mutex_unlock(&a->mu);
    if (r != BERTH_EINPROGRESS || nonblock)
        return berr(r);
    return berr(blocking(a, sock, false, try_connected, NULL));
}

struct io {
    void *buf;
    size_t len;
};

static int try_recv(struct adapter *a, int sock, void *arg)
{
    struct io *io = arg;
    return berth_recv(a->s, sock, io->buf, io->len);
}

static ssize_t do_recv(struct adapter *a, int fd, void *buf, size_t len,
                       int flags)
{
    if (flags & ~MSG_DONTWAIT)
        return fail(EOPNOTSUPP);
    struct io io = {buf, len};
    return berr(blocking(a, sock_of(fd), flags & MSG_DONTWAIT, try_recv, &io));
}

static ssize_t pd_read(void *ud, int fd, void *buf, size_t count)
{
    return do_recv(ud, fd, buf, count, 0);
}

static ssize_t pd_recv(void *ud, int fd, void *buf, size_t len, int flags)
{
    return do_recv(ud, fd, buf, len, flags);
}

static ssize_t pd_recvfrom(void *ud, int fd, void *buf, size_t len, int flags,
                           struct sockaddr *sa, socklen_t *salen)
{
    (void)sa;
    if (salen)
        *salen = 0;
    return do_recv(ud, fd, buf, len, flags);
}

/* Gathers an iovec into one buffer (scatter on the way out). */
static void *gather(const struct iovec *iov, int n, size_t *len)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf)
        abort();
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_base)
            memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        else
            memset(buf + off, 0, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    *len = total;
    return buf;
}

static void scatter(const struct iovec *iov, int n, const uint8_t *buf,
                    size_t len)
{
    for (int i = 0; i < n && len > 0; i++) {
        size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
        if (iov[i].iov_base)
            memcpy(iov[i].iov_base, buf, k);
        buf += k;
        len -= k;
    }
}

static ssize_t do_recvv(struct adapter *a, int fd, const struct iovec *iov,
                        int n, int flags)
{
    size_t len;
    uint8_t *buf = gather(iov, n, &len);
    ssize_t r = do_recv(a, fd, buf, len, flags);
    if (r > 0)
        scatter(iov, n, buf, (size_t)r);
    free(buf);
    return r;
}

static ssize_t pd_readv(void *ud, int fd, const struct iovec *iov, int n)
{
    return do_recvv(ud, fd, iov, n, 0);
}

static ssize_t pd_recvmsg(void *ud, int fd, struct msghdr *msg, int flags)
{
    msg->msg_namelen = 0;
    msg->msg_controllen = 0;
    msg->msg_flags = 0;
    return do_recvv(ud, fd, msg->msg_iov, (int)msg->msg_iovlen, flags);
}

/* A blocking send queues everything before it returns (as Linux); a
 * non-blocking one what fits. */
struct sendio {
    const uint8_t *buf;
    size_t len, done;
    bool dontwait;
};

static int try_send(struct adapter *a, int sock, void *arg)
{
    struct sendio *io = arg;
    while (io->done < io->len) {
        int r = berth_send(a->s, sock, io->buf + io->done, io->len - io->done);
        if (r < 0)
            return (r == BERTH_EAGAIN && io->done > 0 &&
                    (io->dontwait || a->nonblock[sock]))
                       ? (int)io->done
                       : r;
        io->done += (size_t)r;
    }
    return (int)io->done;
}

static ssize_t do_send(struct adapter *a, int fd, const void *buf, size_t len,
                       int flags)
{
    if (flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL))
        return fail(EOPNOTSUPP);
    int sock = sock_of(fd);
    if (sock < 0)
        return fail(EBADF);
    struct sendio io = {buf, len, 0, (flags & MSG_DONTWAIT) != 0};
    return berr(blocking(a, sock, io.dontwait, try_send, &io));
}

static ssize_t pd_write(void *ud, int fd, const void *buf, size_t count)
{
    return do_send(ud, fd, buf, count, 0);
}

static ssize_t pd_send(void *ud, int fd, const void *buf, size_t len, int flags)
{
    return do_send(ud, fd, buf, len, flags);
}

static ssize_t pd_sendto(void *ud, int fd, const void *buf, size_t len,
                         int flags, const struct sockaddr *sa, socklen_t salen)
{
    (void)sa;
    (void)salen;
    return do_send(ud, fd, buf, len, flags);
}

static ssize_t pd_writev(void *ud, int fd, const struct iovec *iov, int n)
{
    size_t len;
    void *buf = gather(iov, n, &len);
    ssize_t r = do_send(ud, fd, buf, len, 0);
    free(buf);
    return r;
}

static ssize_t pd_sendmsg(void *ud, int fd, const struct msghdr *msg, int flags)
{
    if (msg->msg_controllen)
        return fail(EOPNOTSUPP);
    size_t len;
    void *buf = gather(msg->msg_iov, (int)msg->msg_iovlen, &len);
    ssize_t r = do_send(ud, fd, buf, len, flags);
    free(buf);
    return r;
}

static int pd_fcntl(void *ud, int fd, int cmd, ...)
{
    struct adapter *a = ud;
    int sock = sock_of(fd);
    if (sock < 0)
        return fail(EBADF);
    va_list ap;
    va_start(ap, cmd);
    int arg = (cmd == F_SETFL) ? va_arg(ap, int) : 0;
    va_end(ap);
    int r = 0;
    pthread_mutex_lock(&a->mu);
    if (cmd == F_GETFL)
        r = O_RDWR | (a->nonblock[sock] ? O_NONBLOCK : 0);
    else if (cmd == F_SETFL)
        a->nonblock[sock] = (arg & O_NONBLOCK) != 0;
    else
        r = -EINVAL;
    pthread_mutex_unlock(&a->mu);
    return berr(r);
}

static int pd_ioctl(void *ud, int fd, unsigned long request, ...)
{
    struct adapter *a = ud;
    va_list ap;
    va_start(ap, request);
    int *out = va_arg(ap, int *);
    va_end(ap);
    struct berth_tcp_info info;
    int r = LOCKED(a, berth_getinfo(a->s, sock_of(fd), &info));
    if (r < 0)
        return berr(r);
    switch (request) {
    case SIOCINQ:
        *out = (int)info.rcv_queued;
        return 0;
    case SIOCOUTQ:
        *out = (int)info.snd_queued;
        return 0;
    default:
        return fail(ENOTTY);
    }
}

static int pd_close(void *ud, int fd)
{
    struct adapter *a = ud;
    struct epoll_inst *ep = epoll_of(a, fd);
    if (ep) {
        ep->used = false;
        return 0;
    }
    int sock = sock_of(fd);
    pthread_mutex_lock(&a->mu);
    epoll_forget(a, sock);
    int r = berth_close(a->s, sock);
    changed(a);
    pthread_mutex_unlock(&a->mu);
    return berr(r);
}

static int pd_shutdown(void *ud, int fd, int how)
{
    struct adapter *a = ud;
    static const int map[] = {[SHUT_RD] = BERTH_SHUT_RD,
                              [SHUT_WR] = BERTH_SHUT_WR,
                              [SHUT_RDWR] = BERTH_SHUT_RDWR};
    if (how < 0 || how > SHUT_RDWR)
        return fail(EINVAL);
    return berr(LOCKED(a, berth_shutdown(a->s, sock_of(fd), map[how])));
}

/* TCP_INFO in Linux's layout and units (posix/linux_map.c), for the
 * scripts' tcpi_ assertions. */
static int tcp_info(struct adapter *a, int sock, void *val, socklen_t *len)
{
    struct berth_tcp_info in;
    int r = berth_getinfo(a->s, sock, &in);
    if (r < 0)
        return r;
    struct tcp_info ti;
    linux_tcp_info(&in, &ti);
    /* The MSS we advertise: the stack's, capped by TCP_MAXSEG. */
    int64_t maxseg = 0;
    berth_getopt(a->s, sock, BERTH_OPT_MAXSEG, &maxseg);
    ti.tcpi_advmss = maxseg > 0 && maxseg < a->mss ? (uint32_t)maxseg : a->mss;
    /* Linux's struct has grown past glibc's: the fields after glibc's
     * (tcpi_pacing_rate onward), which berth does not keep, read 0. */
    socklen_t n = *len < sizeof(ti) ? *len : (socklen_t)sizeof(ti);
    memset(val, 0, *len);
    memcpy(val, &ti, n);
    return 0;
}

/* SO_MEMINFO (Linux's sk_meminfo: rmem_alloc, rcvbuf, wmem_alloc, sndbuf,
 * fwd_alloc, wmem_queued, optmem, backlog, drops): the bytes berth holds. */
static int sk_meminfo(struct adapter *a, int sock, void *val, socklen_t *len)
{
    struct berth_tcp_info in;
    int64_t sndbuf = 0, rcvbuf = 0;
    int r = berth_getinfo(a->s, sock, &in);
    if (r < 0)
        return r;
    berth_getopt(a->s, sock, BERTH_OPT_SNDBUF, &sndbuf);
    berth_getopt(a->s, sock, BERTH_OPT_RCVBUF, &rcvbuf);
    uint32_t m[9] = {in.rcv_queued,
                     (uint32_t)rcvbuf,
                     in.snd_queued,
                     (uint32_t)sndbuf,
                     0,
                     in.snd_queued,
                     0,
                     0,
                     0};
    socklen_t n = *len < sizeof(m) ? *len : (socklen_t)sizeof(m);
    memcpy(val, m, n);
    *len = n;
    return 0;
}

static int pd_getsockopt(void *ud, int fd, int level, int name, void *val,
                         socklen_t *len)
{
    struct adapter *a = ud;
    int sock = sock_of(fd);
    int v = 0;
    if (!val || !len || *len < sizeof(int))
        return fail(EINVAL);
    pthread_mutex_lock(&a->mu);
    int r = 0;
    if (level == IPPROTO_TCP && name == TCP_INFO) {
        r = tcp_info(a, sock, val, len);
        pthread_mutex_unlock(&a->mu);
        return berr(r);
    }
    if (level == IPPROTO_TCP && name == TCP_CC_INFO) {
        /* Linux's CUBIC and Reno have no get_info: success, length 0. */
        r = berth_getinfo(a->s, sock, &(struct berth_tcp_info){0});
        pthread_mutex_unlock(&a->mu);
        if (r == 0)
            *len = 0;
        return berr(r);
    }
    if (level == SOL_SOCKET && name == SO_MEMINFO) {
        r = sk_meminfo(a, sock, val, len);
        pthread_mutex_unlock(&a->mu);
        return berr(r);
    }
    if (level == SOL_SOCKET && name == SO_ERROR) {
        struct berth_tcp_info info;
        r = berth_getinfo(a->s, sock, &info);
        v = r < 0 ? 0 : -berth_sock_error(a->s, sock);
    } else if (level == IPPROTO_TCP && name == TCP_MAXSEG) {
        /* Linux reports the effective send MSS once connected. */
        struct berth_tcp_info info;
        int64_t x;
        r = berth_getinfo(a->s, sock, &info);
        if (r == 0 && info.state != BERTH_STATE_CLOSED &&
            info.state != BERTH_STATE_LISTEN &&
            info.state != BERTH_STATE_SYN_SENT) {
            v = (int)info.snd_mss;
        } else if (r == 0) {
            r = berth_getopt(a->s, sock, BERTH_OPT_MAXSEG, &x);
            v = (int)x;
        }
    } else {
        const struct linux_int_opt *m = linux_int_opt(level, name);
        int64_t x = 0;
        r = m ? berth_getopt(a->s, sock, m->opt, &x) : BERTH_ENOPROTOOPT;
        v = m ? (int)(x / m->factor) : 0;
    }
    pthread_mutex_unlock(&a->mu);
    if (r < 0)
        return berr(r);
    memcpy(val, &v, sizeof(v));
    *len = sizeof(v);
    return 0;
}

static int pd_setsockopt(void *ud, int fd, int level, int name, const void *val,
                         socklen_t len)
{
    struct adapter *a = ud;
    int sock = sock_of(fd);
    int v;
    const struct linux_int_opt *m = linux_int_opt(level, name);
    if (!m &&
        !(level == SOL_SOCKET && (name == SO_REUSEADDR || name == SO_LINGER)))
        return fail(ENOPROTOOPT);
    if (!val || len < sizeof(int))
        return fail(EINVAL);
    memcpy(&v, val, sizeof(v));
    if (level == SOL_SOCKET && name == SO_REUSEADDR) {
        /* berth binds a port held only by TIME-WAIT entries anyway. */
        struct berth_tcp_info info;
        return berr(LOCKED(a, berth_getinfo(a->s, sock, &info)));
    }
    if (level == SOL_SOCKET && name == SO_LINGER) {
        const struct linger *l = val;
        if (len < sizeof(*l))
            return fail(EINVAL);
        int64_t x = l->l_onoff ? (int64_t)l->l_linger * 1000000 : -1;
        return berr(LOCKED(a, berth_setopt(a->s, sock, BERTH_OPT_LINGER, x)));
    }
    int64_t x = (int64_t)v * m->factor;
    /* socket(7): Linux doubles SO_SNDBUF and SO_RCVBUF for its overhead and
     * getsockopt() returns the doubled value; berth's buffers are bytes of
     * data. */
    if (level == SOL_SOCKET && (name == SO_SNDBUF || name == SO_RCVBUF))
        x *= 2;
    return berr(LOCKED(a, berth_setopt(a->s, sock, m->opt, x)));
}

/* ------------------------------------------------------------------------
 * poll and epoll: readiness from berth_poll(); edges from on_event().
 */
struct pollarg {
    struct pollfd *fds;
    nfds_t n;
    uint64_t deadline;
};

static int try_poll(struct adapter *a, int sock, void *arg)
{
    (void)sock;
    struct pollarg *p = arg;
    int ready = 0;
    for (nfds_t i = 0; i < p->n; i++) {
        int s = sock_of(p->fds[i].fd);
        struct berth_tcp_info info;
        p->fds[i].revents = 0;
        if (s < 0 || berth_getinfo(a->s, s, &info) < 0) {
            p->fds[i].revents = POLLNVAL;
        } else {
            uint32_t e = to_epoll(berth_poll(a->s, s));
            short m = (short)((
                e & (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLRDHUP)));
            p->fds[i].revents = m & (p->fds[i].events | POLLERR | POLLHUP);
        }
        ready += p->fds[i].revents != 0;
    }
    if (ready == 0 && a->now < p->deadline)
        return BERTH_EAGAIN;
    return ready;
}

/* Like blocking(), with a timeout on the virtual clock. */
static int blocking_until(struct adapter *a, try_fn try, void *arg,
                          uint64_t *deadline, int timeout_ms)
{
    pthread_mutex_lock(&a->mu);
    *deadline =
        timeout_ms < 0 ? UINT64_MAX : a->now + (uint64_t)timeout_ms * 1000;
    bool counted = false;
    int r;
    for (;;) {
        r = try(a, -1, arg);
        if (r != BERTH_EAGAIN)
            changed(a);
        if (counted)
            looked(a);
        if (r != BERTH_EAGAIN)
            break;
        sleep_on(a, *deadline);
        counted = true;
    }
    pthread_mutex_unlock(&a->mu);
    return r;
}

static int pd_poll(void *ud, struct pollfd *fds, nfds_t n, int timeout)
{
    struct pollarg p = {.fds = fds, .n = n};
    return berr(blocking_until(ud, try_poll, &p, &p.deadline, timeout));
}

static int pd_epoll_create(void *ud, int size)
{
    struct adapter *a = ud;
    if (size <= 0)
        return fail(EINVAL);
    for (int i = 0; i < MAX_EPOLLS; i++) {
        if (!a->ep[i].used) {
            memset(&a->ep[i], 0, sizeof(a->ep[i]));
            a->ep[i].used = true;
            for (int j = 0; j < MAX_EPOLL_REG; j++)
                a->ep[i].reg[j].sock = -1;
            return EPOLL_FD_BASE + i;
        }
    }
    return fail(EMFILE);
}

static int pd_epoll_ctl(void *ud, int epfd, int op, int fd,
                        struct epoll_event *ev)
{
    struct adapter *a = ud;
    int sock = sock_of(fd);
    pthread_mutex_lock(&a->mu);
    struct epoll_inst *ep = epoll_of(a, epfd);
    struct epoll_reg *found = NULL, *free_reg = NULL;
    int r = 0;
    if (!ep || sock < 0) {
        r = -EBADF;
        goto out;
    }
    for (int j = 0; j < MAX_EPOLL_REG; j++) {
        if (ep->reg[j].sock == sock)
            found = &ep->reg[j];
        else if (ep->reg[j].sock < 0 && !free_reg)
            free_reg = &ep->reg[j];
    }
    if (op == EPOLL_CTL_DEL) {
        if (found)
            found->sock = -1;
        r = found ? 0 : -ENOENT;
    } else if ((op == EPOLL_CTL_ADD && found) ||
               (op == EPOLL_CTL_MOD && !found)) {
        r = found ? -EEXIST : -ENOENT;
    } else if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) {
        struct epoll_reg *reg = found ? found : free_reg;
        if (!reg) {
            r = -ENOSPC;
            goto out;
        }
        reg->sock = sock;
        reg->events = ev->events;
        reg->data = ev->data.u64;
        /* Adding (or modifying) reports the current readiness once. */
        reg->pending = to_epoll(berth_poll(a->s, sock)) &
                       (ev->events | EPOLLERR | EPOLLHUP);
    } else {
        r = -EINVAL;
    }
out:
    pthread_mutex_unlock(&a->mu);
    return r < 0 ? fail(-r) : 0;
}

struct epollarg {
    struct epoll_inst *ep;
    struct epoll_event *out;
    int max;
    uint64_t deadline;
};

static int try_epoll(struct adapter *a, int sock, void *arg)
{
    (void)sock;
    struct epollarg *p = arg;
    int n = 0;
    for (int j = 0; j < MAX_EPOLL_REG && n < p->max; j++) {
        struct epoll_reg *r = &p->ep->reg[j];
        if (r->sock < 0)
            continue;
        uint32_t now_ev = to_epoll(berth_poll(a->s, r->sock)) &
                          (r->events | EPOLLERR | EPOLLHUP);
        uint32_t e = (r->events & EPOLLET) ? (r->pending & now_ev) : now_ev;
        r->pending = 0;
        if (!e)
            continue;
        p->out[n].events = e;
        p->out[n].data.u64 = r->data;
        n++;
    }
    if (n == 0 && a->now < p->deadline)
        return BERTH_EAGAIN;
    return n;
}

static int pd_epoll_wait(void *ud, int epfd, struct epoll_event *events,
                         int maxevents, int timeout)
{
    struct adapter *a = ud;
    struct epollarg p = {.out = events, .max = maxevents};
    pthread_mutex_lock(&a->mu);
    p.ep = epoll_of(a, epfd);
    pthread_mutex_unlock(&a->mu);
    if (!p.ep || maxevents <= 0)
        return fail(p.ep ? EINVAL : EBADF);
    return berr(blocking_until(a, try_epoll, &p, &p.deadline, timeout));
}

static int pd_pipe(void *ud, int fds[2])
{
    (void)ud;
    (void)fds;
    return fail(ENOSYS);
}

static int pd_splice(void *ud, int in, loff_t *off_in, int out, loff_t *off_out,
                     size_t len, unsigned flags)
{
    (void)ud, (void)in, (void)off_in, (void)out, (void)off_out, (void)len,
        (void)flags;
    return fail(ENOSYS);
}

/* ------------------------------------------------------------------------
 * Packets and time.
 */
static int pd_netdev_send(void *ud, const void *buf, size_t count)
{
    struct adapter *a = ud;
    pthread_mutex_lock(&a->mu);
    quiesce(a);
    int r = berth_input(a->s, buf, count, a->now);
    if (a->verbose && r)
        fprintf(stderr, "berth: dropped the script's packet: %s\n",
                berth_reason_string((enum berth_reason)r));
    changed(a);
    quiesce(a);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)(p[len - 1] << 8);
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* packetdrill does not check the checksums of what the stack sends: a bad
 * one would pass every script. RFC 791 §3.1 and RFC 9293 §3.1. */
static const char *bad_checksum(const uint8_t *p, size_t len)
{
    if (len < 20 || (p[0] >> 4) != 4)
        return "not an IPv4 packet";
    size_t ihl = (size_t)(p[0] & 0xf) * 4;
    size_t tot = (size_t)(p[2] << 8 | p[3]);
    if (ihl < 20 || tot < ihl || tot > len)
        return "IPv4 lengths inconsistent";
    if (fold(sum16(0, p, ihl)) != 0xffff)
        return "IPv4 header checksum wrong";
    if (p[9] != IPPROTO_TCP)
        return NULL;
    uint32_t sum = sum16(0, p + 12, 8); /* pseudo-header addresses */
    sum += IPPROTO_TCP + (uint32_t)(tot - ihl);
    if (fold(sum16(sum, p + ihl, tot - ihl)) != 0xffff)
        return "TCP checksum wrong";
    return NULL;
}

static int pd_netdev_receive(void *ud, void *buf, size_t *count,
                             long long *time_usecs)
{
    struct adapter *a = ud;
    pthread_mutex_lock(&a->mu);
    uint64_t limit = a->now + SNIFF_LIMIT_US;
    quiesce(a);
    while (!a->txq) {
        uint64_t d = next_event(a);
        if (d > limit) {
            fprintf(stderr,
                    "berth adapter: waiting for a packet, but the stack sent "
                    "none within %llu s of virtual time\n",
                    SNIFF_LIMIT_US / 1000000);
            exit(EXIT_FAILURE);
        }
        advance_to(a, d > a->now ? d : a->now + 1);
    }
    struct txpkt *p = a->txq;
    a->txq = p->next;
    if (!a->txq)
        a->txq_tail = &a->txq;
    pthread_mutex_unlock(&a->mu);
    const char *bad = bad_checksum(p->data, p->len);
    if (bad) {
        fprintf(stderr, "berth adapter: the stack sent a packet with %s\n",
                bad);
        exit(EXIT_FAILURE);
    }
    size_t n = p->len < *count ? p->len : *count;
    memcpy(buf, p->data, n);
    *count = n;
    *time_usecs = (long long)p->time;
    free(p);
    return 0;
}

static int pd_usleep(void *ud, useconds_t usec)
{
    struct adapter *a = ud;
    pthread_mutex_lock(&a->mu);
    advance_to(a, a->now + usec);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

static int pd_gettimeofday(void *ud, struct timeval *tv, struct timezone *tz)
{
    struct adapter *a = ud;
    (void)tz;
    pthread_mutex_lock(&a->mu);
    advance_to(a, a->now + SPIN_STEP_US);
    tv->tv_sec = (time_t)(a->now / 1000000);
    tv->tv_usec = (suseconds_t)(a->now % 1000000);
    pthread_mutex_unlock(&a->mu);
    return 0;
}

/* ------------------------------------------------------------------------
 * Flags (--so_flags): space-separated NAME=VALUE for berth_config.
 */
static int set_flag(struct adapter *a, struct berth_config *cfg,
                    const char *name, const char *val)
{
    unsigned b[4];
    unsigned long long v = strtoull(val, NULL, 0);
    if (!strcmp(name, "addr")) {
        if (sscanf(val, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) != 4)
            return -1;
        cfg->addr = b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
    } else if (!strcmp(name, "sack")) {
        cfg->sack = v != 0;
    } else if (!strcmp(name, "timestamps")) {
        cfg->timestamps = v != 0;
    } else if (!strcmp(name, "window_scaling")) {
        cfg->window_scaling = v != 0;
    } else if (!strcmp(name, "sndbuf")) {
        cfg->sndbuf = (uint32_t)v;
    } else if (!strcmp(name, "rcvbuf")) {
        cfg->rcvbuf = (uint32_t)v;
    } else if (!strcmp(name, "initial_cwnd")) {
        cfg->initial_cwnd = (uint8_t)v;
    } else if (!strcmp(name, "congestion")) {
        cfg->congestion =
            !strcmp(val, "newreno") ? BERTH_CC_NEWRENO : BERTH_CC_CUBIC;
    } else if (!strcmp(name, "quickack")) {
        cfg->quickack = (uint8_t)v;
    } else if (!strcmp(name, "verbose")) {
        a->verbose = v != 0;
    } else {
        return -1;
    }
    return 0;
}

/* The one symbol the object exports (packetdrill.h). */
__attribute__((visibility("default"))) void
packetdrill_interface_init(const char *flags,
                           struct packetdrill_interface *ifc);

void packetdrill_interface_init(const char *flags,
                                struct packetdrill_interface *ifc)
{
    struct adapter *a = calloc(1, sizeof(*a));
    if (!a)
        abort();
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->quiet, NULL);
    a->txq_tail = &a->txq;
    a->now = START_US;

    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = 192u << 24 | 168u << 16 | 1; /* packetdrill's 192.168.0.1 */
    cfg.tx = on_tx;
    cfg.tx_ctx = a;
    cfg.event = on_event;
    cfg.event_ctx = a;
    cfg.max_sockets = MAX_SOCKS;
    cfg.seed = 1;
    char *copy = strdup(flags ? flags : "");
    for (char *save, *tok = strtok_r(copy, " ,", &save); tok;
         tok = strtok_r(NULL, " ,", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || (*eq = 0, set_flag(a, &cfg, tok, eq + 1) < 0)) {
            fprintf(stderr, "berth adapter: unknown flag '%s'\n", tok);
            exit(EXIT_FAILURE);
        }
    }
    free(copy);
    a->mss = cfg.mss;
    a->s = berth_stack_create(&cfg, a->now);
    if (!a->s) {
        fprintf(stderr, "berth adapter: berth_stack_create failed\n");
        exit(EXIT_FAILURE);
    }

    *ifc = (struct packetdrill_interface){
        .userdata = a,
        .free = pd_free,
        .socket = pd_socket,
        .bind = pd_bind,
        .listen = pd_listen,
        .accept = pd_accept,
        .connect = pd_connect,
        .read = pd_read,
        .readv = pd_readv,
        .recv = pd_recv,
        .recvfrom = pd_recvfrom,
        .recvmsg = pd_recvmsg,
        .write = pd_write,
        .writev = pd_writev,
        .send = pd_send,
        .sendto = pd_sendto,
        .sendmsg = pd_sendmsg,
        .fcntl = pd_fcntl,
        .ioctl = pd_ioctl,
        .close = pd_close,
        .shutdown = pd_shutdown,
        .getsockopt = pd_getsockopt,
        .setsockopt = pd_setsockopt,
        .poll = pd_poll,
        .netdev_send = pd_netdev_send,
        .netdev_receive = pd_netdev_receive,
        .usleep = pd_usleep,
        .gettimeofday = pd_gettimeofday,
        .epoll_create = pd_epoll_create,
        .epoll_ctl = pd_epoll_ctl,
        .epoll_wait = pd_epoll_wait,
        .pipe = pd_pipe,
        .splice = pd_splice,
    };
}
