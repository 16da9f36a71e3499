/* The POSIX layer (libberth-posix) in one process against the Linux kernel:
 * the test moves itself into a network namespace of its own
 * (unshare(CLONE_NEWNET), so nothing leaves it and it vanishes with the
 * process), starts the runtime on a TUN there, and plays the kernel peer
 * with libc's own sockets on 198.18.0.1. Blocking calls on two threads,
 * poll/epoll (level and edge) on berth descriptors next to a pipe,
 * non-blocking connect, EPIPE/SIGPIPE, MSG_PEEK, MSG_WAITALL, dup, options,
 * fork(), UDP datagrams.
 * Every wait is bounded (SO_RCVTIMEO, poll timeouts, alarm). Exit 77: not
 * root or no namespaces (skipped). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "berth/posix.h"

#define KERNEL_IP "198.18.0.1"
#define BERTH_IP  "198.18.0.2"

static struct sockaddr_in sin_of(const char *ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static void set_timeout(int fd, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    assert_int_equal(
        berth_posix_setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(
        berth_posix_setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
}

/* A kernel listener on 198.18.0.1:port. */
static int kernel_listen(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = sin_of(KERNEL_IP, port);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int kernel_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = sin_of(BERTH_IP, port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int berth_listener(uint16_t port)
{
    int fd = berth_posix_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    set_timeout(fd, 5000);
    struct sockaddr_in a = sin_of("0.0.0.0", port);
    assert_int_equal(berth_posix_bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(berth_posix_listen(fd, 8), 0);
    return fd;
}

/* A connected pair: berth's end (client) and the kernel's. */
static void pair(uint16_t port, int *b, int *k)
{
    int kl = kernel_listen(port);
    *b = berth_posix_socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*b >= 0);
    set_timeout(*b, 5000);
    struct sockaddr_in a = sin_of(KERNEL_IP, port);
    assert_int_equal(berth_posix_connect(*b, (struct sockaddr *)&a, sizeof a),
                     0);
    *k = accept4(kl, NULL, NULL, SOCK_CLOEXEC);
    assert_true(*k >= 0);
    struct timeval tv = {5, 0};
    setsockopt(*k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    close(kl);
}

static short poll1(int fd, short events, int ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------------
 * Blocking calls on two threads.
 */

struct server_result {
    int lfd;
    int accepted;
    char buf[64];
    ssize_t got;
    struct sockaddr_in peer;
};

static void *blocking_server(void *arg)
{
    struct server_result *r = arg;
    socklen_t len = sizeof r->peer;
    r->accepted =
        berth_posix_accept4(r->lfd, (struct sockaddr *)&r->peer, &len, 0);
    if (r->accepted >= 0) {
        set_timeout(r->accepted, 5000);
        r->got = berth_posix_recv(r->accepted, r->buf, sizeof r->buf, 0);
    }
    return NULL;
}

static void blocking_accept_and_recv_wake_when_the_kernel_connects(void **st)
{
    (void)st;
    struct server_result r = {.lfd = berth_listener(7001), .accepted = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, blocking_server, &r), 0);
    sleep_ms(150); /* the server sleeps in accept, then in recv */
    int k = kernel_connect(7001);
    sleep_ms(150);
    assert_int_equal(write(k, "ping", 4), 4);
    pthread_join(t, NULL);
    assert_true(r.accepted >= 0);
    assert_int_equal(r.got, 4);
    assert_memory_equal(r.buf, "ping", 4);
    assert_int_equal(ntohl(r.peer.sin_addr.s_addr), 0xc6120001u);
    /* berth's close sends FIN: the kernel reads EOF. */
    char c;
    assert_int_equal(berth_posix_close(r.accepted), 0);
    assert_int_equal(read(k, &c, 1), 0);
    close(k);
    assert_int_equal(berth_posix_close(r.lfd), 0);
}

struct reader {
    int fd;
    size_t n;
    char buf[1 << 20];
};

static void *read_all(void *arg)
{
    struct reader *r = arg;
    for (int i = 0; i < 100000 && r->n < sizeof r->buf; i++) {
        ssize_t n = read(r->fd, r->buf + r->n, sizeof r->buf - r->n);
        if (n <= 0)
            break;
        r->n += (size_t)n;
    }
    return NULL;
}

static void blocking_connect_returns_connected_and_names_match(void **st)
{
    (void)st;
    int b, k;
    pair(7002, &b, &k);
    struct sockaddr_in me, peer, kpeer;
    socklen_t l1 = sizeof me, l2 = sizeof peer, l3 = sizeof kpeer;
    assert_int_equal(berth_posix_getsockname(b, (struct sockaddr *)&me, &l1),
                     0);
    assert_int_equal(berth_posix_getpeername(b, (struct sockaddr *)&peer, &l2),
                     0);
    assert_int_equal(getpeername(k, (struct sockaddr *)&kpeer, &l3), 0);
    assert_int_equal(ntohl(me.sin_addr.s_addr), 0xc6120002u);
    assert_int_equal(me.sin_port, kpeer.sin_port);
    assert_int_equal(ntohs(peer.sin_port), 7002);
    /* A megabyte from berth in one blocking send, which sleeps for room
     * while a thread on the kernel side reads. */
    static char big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    static struct reader r;
    r.fd = k;
    r.n = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
    assert_int_equal(berth_posix_send(b, big, sizeof big, 0),
                     (ssize_t)sizeof big);
    pthread_join(t, NULL);
    assert_int_equal(r.n, sizeof big);
    assert_memory_equal(r.buf, big, sizeof big);
    assert_int_equal(berth_posix_close(b), 0);
    close(k);
}

/* ------------------------------------------------------------------------
 * Readiness: poll and epoll on berth descriptors next to a pipe.
 */

static void poll_and_epoll_see_berth_sockets_next_to_a_pipe(void **st)
{
    (void)st;
    int b, k, pp[2];
    pair(7003, &b, &k);
    assert_int_equal(pipe(pp), 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = b};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev), 0);
    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = pp[0]};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, pp[0], &ev), 0);
    struct epoll_event out[4];

    /* Nothing yet; connected: writable, not readable. */
    assert_int_equal(epoll_wait(ep, out, 4, 50), 0);
    assert_int_equal(poll1(b, POLLIN | POLLOUT, 0), POLLOUT);

    /* The kernel sends: edge on the berth fd, level in poll(). */
    assert_int_equal(write(k, "abc", 3), 3);
    assert_int_equal(epoll_wait(ep, out, 4, 2000), 1);
    assert_int_equal(out[0].data.fd, b);
    assert_true(out[0].events & EPOLLIN);
    assert_int_equal(epoll_wait(ep, out, 4, 50), 0); /* edge: once */
    assert_true(poll1(b, POLLIN, 0) & POLLIN);       /* level: still */

    /* The pipe next to it. */
    assert_int_equal(write(pp[1], "x", 1), 1);
    assert_int_equal(epoll_wait(ep, out, 4, 2000), 1);
    assert_int_equal(out[0].data.fd, pp[0]);
    char buf[16];
    assert_int_equal(read(pp[0], buf, 1), 1);

    /* Drain: not readable; new data is a new edge. */
    assert_int_equal(berth_posix_recv(b, buf, sizeof buf, 0), 3);
    assert_int_equal(poll1(b, POLLIN, 0), 0);
    assert_int_equal(write(k, "de", 2), 2);
    assert_int_equal(epoll_wait(ep, out, 4, 2000), 1);
    assert_int_equal(out[0].data.fd, b);
    assert_int_equal(berth_posix_recv(b, buf, sizeof buf, 0), 2);

    /* The peer's FIN: readable with RDHUP (poll), read gives EOF. */
    shutdown(k, SHUT_WR);
    short re = poll1(b, POLLIN | POLLRDHUP, 2000);
    assert_true(re & POLLIN);
    assert_true(re & POLLRDHUP);
    assert_int_equal(berth_posix_recv(b, buf, sizeof buf, 0), 0);
    /* Our close of the other half: HUP once both are done. */
    assert_int_equal(berth_posix_shutdown(b, SHUT_WR), 0);
    assert_int_equal(read(k, buf, 1), 0);
    assert_true(poll1(b, POLLIN, 2000) & POLLHUP);
    close(ep);
    close(pp[0]);
    close(pp[1]);
    close(k);
    assert_int_equal(berth_posix_close(b), 0);
}

static void select_sees_a_listener_with_a_connection_to_accept(void **st)
{
    (void)st;
    int l = berth_listener(7004);
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(l, &rd);
    struct timeval tv = {0, 50000};
    assert_int_equal(select(l + 1, &rd, NULL, NULL, &tv), 0);
    int k = kernel_connect(7004);
    FD_ZERO(&rd);
    FD_SET(l, &rd);
    tv = (struct timeval){2, 0};
    assert_int_equal(select(l + 1, &rd, NULL, NULL, &tv), 1);
    int a = berth_posix_accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(a >= 0);
    assert_true(fcntl(a, F_GETFL) & O_NONBLOCK);
    assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
    /* Accepted; queue empty again: accept would block. */
    assert_int_equal(berth_posix_fcntl(l, F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(berth_posix_accept4(l, NULL, NULL, 0), -1);
    assert_int_equal(errno, EAGAIN);
    close(k);
    berth_posix_close(a);
    berth_posix_close(l);
}

/* ------------------------------------------------------------------------
 * Connect: non-blocking, refused.
 */

static void nonblocking_connect_is_einprogress_then_writable(void **st)
{
    (void)st;
    int kl = kernel_listen(7005);
    int b = berth_posix_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(b >= 0);
    struct sockaddr_in a = sin_of(KERNEL_IP, 7005);
    assert_int_equal(berth_posix_connect(b, (struct sockaddr *)&a, sizeof a),
                     -1);
    assert_int_equal(errno, EINPROGRESS);
    /* Linux: a second connect while the handshake runs is EALREADY, or
     * EISCONN once it is done. */
    int rc = berth_posix_connect(b, (struct sockaddr *)&a, sizeof a);
    assert_true(rc == -1 && (errno == EALREADY || errno == EISCONN));
    assert_true(poll1(b, POLLOUT, 2000) & POLLOUT);
    int err = -1;
    socklen_t len = sizeof err;
    assert_int_equal(
        berth_posix_getsockopt(b, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, 0);
    assert_int_equal(berth_posix_connect(b, (struct sockaddr *)&a, sizeof a),
                     -1);
    assert_int_equal(errno, EISCONN);
    /* Non-blocking recv with nothing there. */
    char c;
    assert_int_equal(berth_posix_recv(b, &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    berth_posix_close(b);
    close(kl);
}

static void connect_to_a_closed_port_is_refused(void **st)
{
    (void)st;
    struct sockaddr_in a = sin_of(KERNEL_IP, 7999); /* nobody listens */
    int b = berth_posix_socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(berth_posix_connect(b, (struct sockaddr *)&a, sizeof a),
                     -1);
    assert_int_equal(errno, ECONNREFUSED);
    berth_posix_close(b);

    b = berth_posix_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_int_equal(berth_posix_connect(b, (struct sockaddr *)&a, sizeof a),
                     -1);
    assert_int_equal(errno, EINPROGRESS);
    short re = poll1(b, POLLOUT, 2000);
    assert_true(re & POLLOUT);
    assert_true(re & POLLHUP);
    int err = 0;
    socklen_t len = sizeof err;
    assert_int_equal(
        berth_posix_getsockopt(b, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    assert_int_equal(err, ECONNREFUSED);
    berth_posix_close(b);
}

/* ------------------------------------------------------------------------
 * EPIPE and SIGPIPE.
 */

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

static void send_after_shutdown_is_epipe_with_sigpipe_unless_nosignal(void **st)
{
    (void)st;
    struct sigaction sa = {.sa_handler = on_sigpipe}, old;
    sigaction(SIGPIPE, &sa, &old);
    int b, k;
    pair(7006, &b, &k);
    assert_int_equal(berth_posix_shutdown(b, SHUT_WR), 0);
    sigpipes = 0;
    assert_int_equal(berth_posix_send(b, "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(sigpipes, 0);
    assert_int_equal(berth_posix_send(b, "x", 1, 0), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(sigpipes, 1);
    /* writev is a send without flags: the signal too. */
    struct iovec iov = {"y", 1};
    assert_int_equal(berth_posix_writev(b, &iov, 1), -1);
    assert_int_equal(errno, EPIPE);
    assert_int_equal(sigpipes, 2);
    sigaction(SIGPIPE, &old, NULL);
    close(k);
    berth_posix_close(b);
}

static void peer_reset_is_econnreset(void **st)
{
    (void)st;
    int b, k;
    pair(7007, &b, &k);
    struct linger lg = {1, 0}; /* the kernel's close sends RST */
    setsockopt(k, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(k);
    assert_true(poll1(b, POLLIN, 2000) & POLLHUP);
    char c;
    assert_int_equal(berth_posix_recv(b, &c, 1, 0), -1);
    assert_int_equal(errno, ECONNRESET);
    berth_posix_close(b);
}

/* ------------------------------------------------------------------------
 * MSG_PEEK, MSG_WAITALL, MSG_DONTWAIT, FIONREAD.
 */

static void msg_peek_leaves_the_bytes_for_the_next_read(void **st)
{
    (void)st;
    int b, k;
    pair(7008, &b, &k);
    assert_int_equal(write(k, "hello world", 11), 11);
    assert_true(poll1(b, POLLIN, 2000) & POLLIN);
    sleep_ms(50); /* all eleven bytes in */
    int avail = 0;
    assert_int_equal(berth_posix_ioctl(b, FIONREAD, &avail), 0);
    assert_int_equal(avail, 11);
    char buf[32] = {0};
    assert_int_equal(berth_posix_recv(b, buf, 5, MSG_PEEK), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(berth_posix_recv(b, buf, 5, MSG_PEEK), 5);
    assert_int_equal(berth_posix_ioctl(b, FIONREAD, &avail), 0);
    assert_int_equal(avail, 11);
    assert_true(poll1(b, POLLIN, 0) & POLLIN); /* peeked is still readable */
    memset(buf, 0, sizeof buf);
    assert_int_equal(berth_posix_recv(b, buf, sizeof buf, 0), 11);
    assert_string_equal(buf, "hello world");
    assert_int_equal(berth_posix_recv(b, buf, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll1(b, POLLIN, 0), 0);
    close(k);
    berth_posix_close(b);
}

struct delayed_write {
    int fd;
    const char *s;
    int ms;
};

static void *write_later(void *arg)
{
    struct delayed_write *d = arg;
    sleep_ms(d->ms);
    ssize_t n = write(d->fd, d->s, strlen(d->s));
    (void)n;
    return NULL;
}

static void msg_waitall_waits_for_the_whole_buffer(void **st)
{
    (void)st;
    int b, k;
    pair(7009, &b, &k);
    assert_int_equal(write(k, "first-", 6), 6);
    struct delayed_write d = {k, "second", 150};
    pthread_t t;
    pthread_create(&t, NULL, write_later, &d);
    char buf[12];
    assert_int_equal(berth_posix_recv(b, buf, sizeof buf, MSG_WAITALL), 12);
    assert_memory_equal(buf, "first-second", 12);
    pthread_join(t, NULL);
    close(k);
    berth_posix_close(b);
}

static void rcvtimeo_bounds_a_blocking_recv_with_eagain(void **st)
{
    (void)st;
    int b, k;
    pair(7010, &b, &k);
    set_timeout(b, 100);
    char c;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(berth_posix_recv(b, &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms =
        (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 90);
    close(k);
    berth_posix_close(b);
}

/* ------------------------------------------------------------------------
 * Descriptors and options.
 */

static void dup_shares_the_socket_until_the_last_close(void **st)
{
    (void)st;
    int b, k;
    pair(7011, &b, &k);
    int d = berth_posix_dup(b);
    assert_true(d >= 0 && d != b);
    assert_true(berth_posix_is_socket(d));
    assert_int_equal(berth_posix_close(b), 0);
    assert_false(berth_posix_is_socket(b));
    /* Still connected through the duplicate. */
    assert_int_equal(berth_posix_send(d, "via-dup", 7, 0), 7);
    char buf[16];
    assert_int_equal(read(k, buf, sizeof buf), 7);
    assert_int_equal(poll1(k, POLLIN, 100), 0); /* no FIN yet */
    /* dup2 onto a berth fd closes that socket (the last reference). */
    int pp[2];
    assert_int_equal(pipe(pp), 0);
    assert_int_equal(berth_posix_dup3(pp[0], d, 0), d);
    assert_false(berth_posix_is_socket(d));
    assert_int_equal(read(k, buf, 1), 0); /* FIN */
    close(d);
    close(pp[0]);
    close(pp[1]);
    close(k);
}

static void options_have_linux_names_and_errno(void **st)
{
    (void)st;
    int b, k;
    pair(7012, &b, &k);
    int v = 1;
    socklen_t len = sizeof v;
    assert_int_equal(
        berth_posix_setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v), 0);
    v = 0;
    assert_int_equal(
        berth_posix_getsockopt(b, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    assert_int_equal(v, 1);
    v = 30;
    assert_int_equal(
        berth_posix_setsockopt(b, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v), 0);
    v = 0;
    assert_int_equal(
        berth_posix_getsockopt(b, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
    assert_int_equal(v, 30);
    assert_int_equal(berth_posix_getsockopt(b, SOL_SOCKET, SO_TYPE, &v, &len),
                     0);
    assert_int_equal(v, SOCK_STREAM);
    char cc[16] = {0};
    len = sizeof cc;
    assert_int_equal(
        berth_posix_getsockopt(b, IPPROTO_TCP, TCP_CONGESTION, cc, &len), 0);
    assert_string_equal(cc, "cubic");
    assert_int_equal(
        berth_posix_setsockopt(b, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3), -1);
    assert_int_equal(errno, ENOENT);
    struct tcp_info ti;
    len = sizeof ti;
    assert_int_equal(
        berth_posix_getsockopt(b, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    assert_int_equal(ti.tcpi_state, TCP_ESTABLISHED);
    v = 1;
    assert_int_equal(
        berth_posix_setsockopt(b, SOL_SOCKET, SO_BROADCAST, &v, sizeof v), -1);
    assert_int_equal(errno, ENOPROTOOPT);
    /* FIONBIO is O_NONBLOCK. */
    v = 1;
    assert_int_equal(berth_posix_ioctl(b, FIONBIO, &v), 0);
    assert_true(berth_posix_fcntl(b, F_GETFL, 0) & O_NONBLOCK);
    char c;
    assert_int_equal(berth_posix_recv(b, &c, 1, 0), -1);
    assert_int_equal(errno, EAGAIN);
    /* Not a berth socket: ENOTSOCK. */
    assert_int_equal(berth_posix_listen(0, 1), -1);
    assert_int_equal(errno, ENOTSOCK);
    /* Other families and types: refused (libc's, in the preload). */
    assert_int_equal(berth_posix_socket(AF_UNIX, SOCK_STREAM, 0), -1);
    assert_int_equal(errno, EAFNOSUPPORT);
    assert_int_equal(berth_posix_socket(AF_INET, SOCK_RAW, IPPROTO_TCP), -1);
    assert_int_equal(errno, EPROTONOSUPPORT);
    assert_int_equal(berth_posix_socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), -1);
    assert_int_equal(errno, EPROTONOSUPPORT);
    /* IPv6 TCP when the runtime has IPv6; IPV6_V6ONLY off by default. */
    int s6 = berth_posix_socket(AF_INET6, SOCK_STREAM, 0);
    if (berth_rt_ipv6(berth_posix_runtime())) {
        assert_true(s6 >= 0);
        len = sizeof v;
        assert_int_equal(
            berth_posix_getsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), 0);
        assert_int_equal(v, 0);
        assert_int_equal(berth_posix_close(s6), 0);
    } else {
        assert_int_equal(s6, -1);
        assert_int_equal(errno, EAFNOSUPPORT);
    }
    /* IPv6 options are not an IPv4 socket's. */
    len = sizeof v;
    assert_int_equal(
        berth_posix_getsockopt(b, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), -1);
    assert_int_equal(errno, ENOPROTOOPT);
    close(k);
    berth_posix_close(b);
}

/* UDP (SOCK_DGRAM) against a kernel UDP socket: datagrams whole with
 * their sender (sendto/recvfrom, recvmsg's msg_name), an empty datagram,
 * FIONREAD the next datagram's size, MSG_TRUNC (flag and returned
 * length), poll readiness on the descriptor, EMSGSIZE, and ECONNREFUSED
 * from a closed port's ICMP. */
static void udp_datagrams_against_the_kernel(void **st)
{
    (void)st;
    int k = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(k >= 0);
    struct timeval tv = {5, 0};
    setsockopt(k, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in ka = sin_of(KERNEL_IP, 7101);
    assert_int_equal(bind(k, (struct sockaddr *)&ka, sizeof ka), 0);
    int u = berth_posix_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    assert_true(u >= 0);
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(berth_posix_getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &len),
                     0);
    assert_int_equal(v, SOCK_DGRAM);
    struct sockaddr_in ua = sin_of("0.0.0.0", 7100);
    assert_int_equal(berth_posix_bind(u, (struct sockaddr *)&ua, sizeof ua), 0);
    char buf[64];
    assert_int_equal(berth_posix_recv(u, buf, sizeof buf, 0), -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(poll1(u, POLLIN, 0) & POLLIN, 0);
    assert_true(poll1(u, POLLOUT, 0) & POLLOUT);

    struct sockaddr_in ba = sin_of(BERTH_IP, 7100);
    assert_int_equal(
        sendto(k, "hello", 5, 0, (struct sockaddr *)&ba, sizeof ba), 5);
    assert_int_equal(sendto(k, "", 0, 0, (struct sockaddr *)&ba, sizeof ba), 0);
    assert_true(poll1(u, POLLIN, 2000) & POLLIN);
    int n = -1;
    assert_int_equal(berth_posix_ioctl(u, FIONREAD, &n), 0);
    assert_int_equal(n, 5);
    /* Two bytes of five: the rest is lost; MSG_TRUNC returns the length. */
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    assert_int_equal(berth_posix_recvfrom(u, buf, 2, MSG_TRUNC,
                                          (struct sockaddr *)&from, &flen),
                     5);
    assert_memory_equal(buf, "he", 2);
    assert_int_equal(flen, sizeof from);
    assert_int_equal(from.sin_addr.s_addr, ka.sin_addr.s_addr);
    assert_int_equal(from.sin_port, htons(7101));
    /* The empty datagram, with its sender in msg_name. */
    assert_true(poll1(u, POLLIN, 2000) & POLLIN);
    struct iovec iov = {buf, sizeof buf};
    struct msghdr m = {.msg_name = &from,
                       .msg_namelen = sizeof from,
                       .msg_iov = &iov,
                       .msg_iovlen = 1};
    memset(&from, 0, sizeof from);
    assert_int_equal(berth_posix_recvmsg(u, &m, 0), 0);
    assert_int_equal(m.msg_namelen, sizeof from);
    assert_int_equal(from.sin_port, htons(7101));
    assert_int_equal(m.msg_flags & MSG_TRUNC, 0);

    /* berth -> kernel, from berth's address and port. */
    assert_int_equal(
        berth_posix_sendto(u, "world", 5, 0, (struct sockaddr *)&ka, sizeof ka),
        5);
    flen = sizeof from;
    assert_int_equal(
        recvfrom(k, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 5);
    assert_memory_equal(buf, "world", 5);
    assert_int_equal(from.sin_addr.s_addr, ba.sin_addr.s_addr);
    assert_int_equal(from.sin_port, htons(7100));
    static char big[70000];
    assert_int_equal(berth_posix_sendto(u, big, sizeof big, 0,
                                        (struct sockaddr *)&ka, sizeof ka),
                     -1);
    assert_int_equal(errno, EMSGSIZE);

    /* connect() to a closed port: the ICMP answer is ECONNREFUSED. */
    struct sockaddr_in closed = sin_of(KERNEL_IP, 7199);
    assert_int_equal(
        berth_posix_connect(u, (struct sockaddr *)&closed, sizeof closed), 0);
    flen = sizeof from;
    assert_int_equal(
        berth_posix_getpeername(u, (struct sockaddr *)&from, &flen), 0);
    assert_int_equal(from.sin_port, htons(7199));
    assert_int_equal(berth_posix_send(u, "x", 1, 0), 1);
    assert_true(poll1(u, POLLIN, 2000) & POLLIN);
    assert_int_equal(berth_posix_recv(u, buf, sizeof buf, 0), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_int_equal(berth_posix_close(u), 0);
    close(k);
}

struct blocked_recv {
    int fd;
    ssize_t rc;
    int err;
    atomic_bool started, done;
};

static void *recv_blocked(void *arg)
{
    struct blocked_recv *r = arg;
    char buf[16];
    atomic_store(&r->started, true);
    r->rc = berth_posix_recv(r->fd, buf, sizeof buf, 0);
    r->err = errno;
    atomic_store(&r->done, true);
    return NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
}

/* signal(7): a handler without SA_RESTART interrupts a blocking recv
 * (EINTR); with SA_RESTART the recv goes on and returns the data that
 * comes later. The socket has no timeout (that would always be EINTR). */
static void
blocking_recv_is_interrupted_or_restarted_as_sa_restart_says(void **st)
{
    (void)st;
    int b, k;
    pair(7014, &b, &k);
    struct timeval none = {0, 0};
    berth_posix_setsockopt(b, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
    struct sigaction sa = {.sa_handler = on_usr1}, old;
    for (int restart = 0; restart < 2; restart++) {
        sa.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGUSR1, &sa, restart ? NULL : &old);
        struct blocked_recv r = {.fd = b};
        pthread_t t;
        pthread_create(&t, NULL, recv_blocked, &r);
        for (int i = 0; i < 1000 && !atomic_load(&r.started); i++)
            sleep_ms(5);
        sleep_ms(100); /* now asleep in recv, unless the machine is busy */
        if (restart) {
            pthread_kill(t, SIGUSR1);
            sleep_ms(100);
            assert_int_equal(write(k, "after", 5), 5);
        } else {
            /* A signal that comes before the recv sleeps is handled and
             * changes nothing; one comes every 50 ms (for at most 10 s)
             * until one finds it asleep, however slow the machine. */
            for (int i = 0; i < 200 && !atomic_load(&r.done); i++) {
                pthread_kill(t, SIGUSR1);
                sleep_ms(50);
            }
            if (!atomic_load(&r.done)) /* never interrupted: fail, not hang */
                assert_int_equal(write(k, "x", 1), 1);
        }
        pthread_join(t, NULL);
        if (restart) {
            assert_int_equal(r.rc, 5);
        } else {
            assert_int_equal(r.rc, -1);
            assert_int_equal(r.err, EINTR);
        }
    }
    sigaction(SIGUSR1, &old, NULL);
    close(k);
    berth_posix_close(b);
}

/* Writability: a full send buffer makes the descriptor unwritable; when
 * the kernel reads, room comes back as one EPOLLOUT edge. */
static void a_full_send_buffer_is_unwritable_until_the_peer_reads(void **st)
{
    (void)st;
    int b, k;
    pair(7016, &b, &k);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.fd = b};
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev), 0);
    struct epoll_event out[2];
    assert_int_equal(epoll_wait(ep, out, 2, 1000), 1); /* writable at once */
    assert_int_equal(epoll_wait(ep, out, 2, 0), 0);    /* edge: once */
    static char chunk[65536];
    size_t queued = 0;
    for (int i = 0; i < 4096; i++) { /* the kernel's window, then ours */
        ssize_t n = berth_posix_send(b, chunk, sizeof chunk, MSG_DONTWAIT);
        if (n < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        queued += (size_t)n;
    }
    assert_true(queued > 0);
    assert_int_equal(poll1(b, POLLOUT, 0), 0);
    /* The kernel drains everything: room again, one edge. */
    size_t got = 0;
    for (int i = 0; i < 100000 && got < queued; i++) {
        ssize_t n = read(k, chunk, sizeof chunk);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(got, queued);
    assert_int_equal(epoll_wait(ep, out, 2, 2000), 1);
    assert_true(out[0].events & EPOLLOUT);
    assert_true(poll1(b, POLLOUT, 0) & POLLOUT);
    close(ep);
    close(k);
    berth_posix_close(b);
}

/* The documented fork() rule: the runtime thread is not inherited, so the
 * child's copies of berth sockets fail with EBADF (close() works and does
 * not touch the parent's connection), and new IPv4 TCP sockets in the
 * child are refused (the preload library then gives them to libc). */
static void fork_child_gets_ebadf_and_the_parent_keeps_its_socket(void **st)
{
    (void)st;
    int b, k;
    pair(7013, &b, &k);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int ok = berth_posix_send(b, "child", 5, MSG_NOSIGNAL) == -1 &&
                 errno == EBADF;
        ok = ok && berth_posix_close(b) == 0;
        ok = ok && berth_posix_socket(AF_INET, SOCK_STREAM, 0) == -1 &&
             errno == EAFNOSUPPORT;
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(berth_posix_send(b, "parent", 6, 0), 6);
    char buf[16];
    assert_int_equal(read(k, buf, sizeof buf), 6);
    assert_memory_equal(buf, "parent", 6);
    close(k);
    berth_posix_close(b);
}

/* berth_posix_follow_fork: the runtime moves to the next fork()ed child,
 * which goes on with the connection (a new loop thread runs the inherited
 * stack); the parent's copy is EBADF. Runs last: the process has no
 * runtime afterwards. */
static void
follow_fork_moves_the_runtime_and_the_connection_to_the_child(void **st)
{
    (void)st;
    int b, k;
    pair(7015, &b, &k);
    berth_posix_follow_fork(true);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char buf[16];
        int ok = berth_posix_send(b, "child", 5, 0) == 5 &&
                 berth_posix_recv(b, buf, sizeof buf, 0) == 5 &&
                 memcmp(buf, "reply", 5) == 0 && berth_posix_close(b) == 0;
        berth_posix_stop(); /* what exit() would: the FIN goes out */
        _exit(ok ? 0 : 1);
    }
    char buf[16];
    assert_int_equal(read(k, buf, sizeof buf), 5); /* from the child */
    assert_memory_equal(buf, "child", 5);
    assert_int_equal(write(k, "reply", 5), 5);
    assert_int_equal(read(k, buf, sizeof buf), 0); /* the child's FIN */
    int status = -1;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(berth_posix_send(b, "x", 1, MSG_NOSIGNAL), -1);
    assert_int_equal(errno, EBADF);
    assert_int_equal(berth_posix_close(b), 0);
    close(k);
}

int main(void)
{
    if (getuid() != 0) {
        printf("SKIP: needs root (a network namespace and a TUN device)\n");
        return 77;
    }
    if (unshare(CLONE_NEWNET) < 0) {
        printf("SKIP: unshare(CLONE_NEWNET): %s\n", strerror(errno));
        return 77;
    }
    alarm(120); /* every wait below is bounded; this bounds the sum */
    struct berth_rt_config cfg;
    berth_rt_config_init(&cfg);
    char ctl[64], err[256];
    snprintf(ctl, sizeof ctl, "/tmp/berth-posix-test-%d.sock", (int)getpid());
    cfg.tun_name = "bpx0";
    cfg.ctl_path = ctl;
    if (berth_posix_start(&cfg, err, sizeof err) < 0) {
        printf("SKIP: cannot start the runtime: %s\n", err);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            blocking_accept_and_recv_wake_when_the_kernel_connects),
        cmocka_unit_test(blocking_connect_returns_connected_and_names_match),
        cmocka_unit_test(poll_and_epoll_see_berth_sockets_next_to_a_pipe),
        cmocka_unit_test(select_sees_a_listener_with_a_connection_to_accept),
        cmocka_unit_test(a_full_send_buffer_is_unwritable_until_the_peer_reads),
        cmocka_unit_test(nonblocking_connect_is_einprogress_then_writable),
        cmocka_unit_test(connect_to_a_closed_port_is_refused),
        cmocka_unit_test(
            send_after_shutdown_is_epipe_with_sigpipe_unless_nosignal),
        cmocka_unit_test(peer_reset_is_econnreset),
        cmocka_unit_test(msg_peek_leaves_the_bytes_for_the_next_read),
        cmocka_unit_test(msg_waitall_waits_for_the_whole_buffer),
        cmocka_unit_test(rcvtimeo_bounds_a_blocking_recv_with_eagain),
        cmocka_unit_test(dup_shares_the_socket_until_the_last_close),
        cmocka_unit_test(options_have_linux_names_and_errno),
        cmocka_unit_test(udp_datagrams_against_the_kernel),
        cmocka_unit_test(
            blocking_recv_is_interrupted_or_restarted_as_sa_restart_says),
        cmocka_unit_test(fork_child_gets_ebadf_and_the_parent_keeps_its_socket),
        cmocka_unit_test(
            follow_fork_moves_the_runtime_and_the_connection_to_the_child),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    berth_posix_stop();
    unlink(ctl);
    return failed ? 1 : 0;
}
