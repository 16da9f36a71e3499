/* libberth-preload.so: an unmodified dynamically linked program's IPv4 TCP
 * sockets on berth. Each interposed call asks one lock-free question (is
 * this fd a berth socket?) and goes to the POSIX layer (posix.c) or to the
 * next definition, libc's (dlsym(RTLD_NEXT)).
 *
 * The rule for which sockets are berth's:
 *   - socket(AF_INET, SOCK_STREAM, 0|IPPROTO_TCP) makes a berth socket;
 *     every other family and type (AF_UNIX, AF_INET6, AF_NETLINK, UDP,
 *     raw) is libc's.
 *   - A berth socket that binds to an address other than 0.0.0.0 or
 *     berth's own, or connects to 127.0.0.0/8, is handed to the kernel
 *     (same fd number, flags and options replayed): loopback and host
 *     addresses stay the kernel's, so local resolvers and services work.
 *   - One process owns the runtime: the first one that makes a berth
 *     socket records itself in BERTH_OWNER_PID. Processes it execs keep
 *     the pid and start their own runtime; any other process in the tree
 *     (fork+exec, or a fork()ed child of the owner) uses the kernel for new
 *     sockets, and inherited berth sockets give EBADF (close() works).
 */
#define _GNU_SOURCE
#include "berth/posix.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* The next definition of `name` (libc's), resolved on first use. */
#define REAL(name)                                                             \
    static void *real_##name##_ptr(void)                                       \
    {                                                                          \
        static void *fn;                                                       \
        if (!fn)                                                               \
            fn = dlsym(RTLD_NEXT, #name);                                      \
        return fn;                                                             \
    }

REAL(socket)
REAL(bind)
REAL(listen)
REAL(accept4)
REAL(connect)
REAL(send)
REAL(sendto)
REAL(sendmsg)
REAL(recv)
REAL(recvfrom)
REAL(recvmsg)
REAL(read)
REAL(write)
REAL(readv)
REAL(writev)
REAL(shutdown)
REAL(close)
REAL(getsockopt)
REAL(setsockopt)
REAL(getsockname)
REAL(getpeername)
REAL(fcntl)
REAL(fcntl64)
REAL(ioctl)
REAL(dup)
REAL(dup2)
REAL(dup3)
REAL(sendfile)
REAL(sendfile64)
REAL(__read_chk)
REAL(__recv_chk)
REAL(__recvfrom_chk)
REAL(close_range)
REAL(closefrom)

/* Calls through the resolved pointer (a missing symbol: ENOSYS). */
#define CALL(name, type, ...)                                                  \
    (real_##name##_ptr() ? ((type)real_##name##_ptr())(__VA_ARGS__)            \
                         : (errno = ENOSYS, -1))

typedef int (*socket_fn)(int, int, int);
typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_fn)(int, int);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int,
                             const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *,
                               socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*iov_fn)(int, const struct iovec *, int);
typedef int (*int_int_fn)(int, int);
typedef int (*close_fn)(int);
typedef int (*close_range_fn)(unsigned int, unsigned int, int);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);
typedef int (*setsockopt_fn)(int, int, int, const void *, socklen_t);
typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*fcntl_fn)(int, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef int (*dup3_fn)(int, int, int);
typedef ssize_t (*sendfile_fn)(int, int, off_t *, size_t);
typedef ssize_t (*read_chk_fn)(int, void *, size_t, size_t);
typedef ssize_t (*recv_chk_fn)(int, void *, size_t, size_t, int);
typedef ssize_t (*recvfrom_chk_fn)(int, void *, size_t, size_t, int,
                                   struct sockaddr *, socklen_t *);

/* glibc's fortified entry points and the LFS names have no prototypes in
 * the headers we compile with. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
                          int flags);
EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
                              int flags, struct sockaddr *addr,
                              socklen_t *alen);
EXPORT int fcntl64(int fd, int cmd, ...);
EXPORT int close_range(unsigned int first, unsigned int last, int flags);
EXPORT void closefrom(int lowfd);
EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count);

static bool is_berth(int fd)
{
    return berth_posix_is_socket(fd);
}

/* This process may own the runtime (see the rule above). */
static bool owner(void)
{
    static int state = -1; /* per process image: exec starts over */
    static pid_t pid;
    if (state >= 0 && pid == getpid())
        return state;
    pid = getpid();
    const char *o = getenv("BERTH_OWNER_PID");
    state = !o || !*o || atol(o) == (long)pid;
    if (state && (!o || !*o)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", (long)pid);
        setenv("BERTH_OWNER_PID", buf, 1);
    }
    return state;
}

EXPORT int socket(int domain, int type, int protocol)
{
    int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain == AF_INET && base == SOCK_STREAM &&
        (protocol == 0 || protocol == IPPROTO_TCP) && owner()) {
        int fd = berth_posix_socket(domain, type, protocol);
        if (fd >= 0 || errno != EAFNOSUPPORT)
            return fd;
    }
    return CALL(socket, socket_fn, domain, type, protocol);
}

/* The berth socket fd becomes a kernel socket with the same number, flags
 * and the options that matter before a connection. 0 or -1. */
static int handoff(int fd)
{
    int fl = berth_posix_fcntl(fd, F_GETFL, 0);
    int fdfl = berth_posix_fcntl(fd, F_GETFD, 0);
    int k = CALL(socket, socket_fn, AF_INET,
                 SOCK_STREAM | SOCK_CLOEXEC |
                     (fl >= 0 && (fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0),
                 0);
    if (k < 0)
        return -1;
    static const struct {
        int level, name;
    } OPTS[] = {
        {SOL_SOCKET, SO_REUSEADDR}, {SOL_SOCKET, SO_REUSEPORT},
        {SOL_SOCKET, SO_KEEPALIVE}, {SOL_SOCKET, SO_RCVTIMEO},
        {SOL_SOCKET, SO_SNDTIMEO},  {SOL_SOCKET, SO_LINGER},
        {IPPROTO_TCP, TCP_NODELAY},
    };
    for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++) {
        char val[64];
        socklen_t len = sizeof val;
        if (berth_posix_getsockopt(fd, OPTS[i].level, OPTS[i].name, val,
                                   &len) == 0)
            CALL(setsockopt, setsockopt_fn, k, OPTS[i].level, OPTS[i].name, val,
                 len);
    }
    int rc = berth_posix_dup3(k, fd,
                              fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0);
    int e = errno;
    CALL(close, close_fn, k);
    errno = e;
    return rc < 0 ? -1 : 0;
}

static bool kernel_addr(const struct sockaddr *addr, socklen_t len,
                        bool binding)
{
    if (!addr || len < (socklen_t)sizeof(struct sockaddr_in) ||
        addr->sa_family != AF_INET)
        return false;
    uint32_t a = ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr);
    if ((a >> 24) == 127)
        return true;
    if (!binding || a == INADDR_ANY)
        return false;
    struct berth_endpoint me;
    /* Bound to one of the host's addresses, not berth's: the kernel's. */
    const char *mine = getenv("BERTH_ADDR");
    struct in_addr ia;
    me.addr = mine && inet_pton(AF_INET, mine, &ia) == 1 ? ntohl(ia.s_addr)
                                                         : 0xc6120002u;
    return a != me.addr;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (is_berth(fd)) {
        if (!kernel_addr(addr, len, true))
            return berth_posix_bind(fd, addr, len);
        if (handoff(fd) < 0)
            return -1;
    }
    return CALL(bind, bind_fn, fd, addr, len);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (is_berth(fd)) {
        if (!kernel_addr(addr, len, false))
            return berth_posix_connect(fd, addr, len);
        if (handoff(fd) < 0)
            return -1;
    }
    return CALL(connect, bind_fn, fd, addr, len);
}

EXPORT int listen(int fd, int backlog)
{
    if (is_berth(fd))
        return berth_posix_listen(fd, backlog);
    return CALL(listen, listen_fn, fd, backlog);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    if (is_berth(fd))
        return berth_posix_accept4(fd, addr, len, flags);
    return CALL(accept4, accept4_fn, fd, addr, len, flags);
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    return accept4(fd, addr, len, 0);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    if (is_berth(fd))
        return berth_posix_send(fd, buf, len, flags);
    return CALL(send, send_fn, fd, buf, len, flags);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen)
{
    if (is_berth(fd))
        return berth_posix_sendto(fd, buf, len, flags, addr, alen);
    return CALL(sendto, sendto_fn, fd, buf, len, flags, addr, alen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (is_berth(fd))
        return berth_posix_sendmsg(fd, msg, flags);
    return CALL(sendmsg, sendmsg_fn, fd, msg, flags);
}

EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    if (is_berth(fd))
        return berth_posix_recv(fd, buf, len, flags);
    return CALL(recv, recv_fn, fd, buf, len, flags);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen)
{
    if (is_berth(fd))
        return berth_posix_recvfrom(fd, buf, len, flags, addr, alen);
    return CALL(recvfrom, recvfrom_fn, fd, buf, len, flags, addr, alen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (is_berth(fd))
        return berth_posix_recvmsg(fd, msg, flags);
    return CALL(recvmsg, recvmsg_fn, fd, msg, flags);
}

EXPORT ssize_t read(int fd, void *buf, size_t len)
{
    if (is_berth(fd))
        return berth_posix_recv(fd, buf, len, 0);
    return CALL(read, read_fn, fd, buf, len);
}

EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
    if (is_berth(fd))
        return berth_posix_send(fd, buf, len, 0);
    return CALL(write, write_fn, fd, buf, len);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
    if (is_berth(fd))
        return berth_posix_readv(fd, iov, iovcnt);
    return CALL(readv, iov_fn, fd, iov, iovcnt);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    if (is_berth(fd))
        return berth_posix_writev(fd, iov, iovcnt);
    return CALL(writev, iov_fn, fd, iov, iovcnt);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
    if (is_berth(fd) && len <= buflen)
        return berth_posix_recv(fd, buf, len, 0);
    return CALL(__read_chk, read_chk_fn, fd, buf, len, buflen);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
                          int flags)
{
    if (is_berth(fd) && len <= buflen)
        return berth_posix_recv(fd, buf, len, flags);
    return CALL(__recv_chk, recv_chk_fn, fd, buf, len, buflen, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
                              int flags, struct sockaddr *addr, socklen_t *alen)
{
    if (is_berth(fd) && len <= buflen)
        return berth_posix_recvfrom(fd, buf, len, flags, addr, alen);
    return CALL(__recvfrom_chk, recvfrom_chk_fn, fd, buf, len, buflen, flags,
                addr, alen);
}

EXPORT int shutdown(int fd, int how)
{
    if (is_berth(fd))
        return berth_posix_shutdown(fd, how);
    return CALL(shutdown, int_int_fn, fd, how);
}

EXPORT int close(int fd)
{
    if (is_berth(fd))
        return berth_posix_close(fd);
    return CALL(close, close_fn, fd);
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
    if (is_berth(fd))
        return berth_posix_getsockopt(fd, level, name, val, len);
    return CALL(getsockopt, getsockopt_fn, fd, level, name, val, len);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val,
                      socklen_t len)
{
    if (is_berth(fd))
        return berth_posix_setsockopt(fd, level, name, val, len);
    return CALL(setsockopt, setsockopt_fn, fd, level, name, val, len);
}

EXPORT int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (is_berth(fd))
        return berth_posix_getsockname(fd, addr, len);
    return CALL(getsockname, name_fn, fd, addr, len);
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
    if (is_berth(fd))
        return berth_posix_getpeername(fd, addr, len);
    return CALL(getpeername, name_fn, fd, addr, len);
}

/* fcntl's third argument is an int, a long or a pointer: passed on as
 * a long, which holds any of them on the ABIs glibc supports. */
EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    if (is_berth(fd))
        return berth_posix_fcntl(fd, cmd, arg);
    return CALL(fcntl, fcntl_fn, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    if (is_berth(fd))
        return berth_posix_fcntl(fd, cmd, arg);
    return CALL(fcntl64, fcntl_fn, fd, cmd, arg);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (is_berth(fd))
        return berth_posix_ioctl(fd, req, arg);
    return CALL(ioctl, ioctl_fn, fd, req, arg);
}

EXPORT int dup(int fd)
{
    if (is_berth(fd))
        return berth_posix_dup(fd);
    return CALL(dup, close_fn, fd);
}

EXPORT int dup2(int fd, int newfd)
{
    if (is_berth(fd) || is_berth(newfd)) {
        if (fd == newfd)
            return fd;
        return berth_posix_dup3(fd, newfd, 0);
    }
    return CALL(dup2, int_int_fn, fd, newfd);
}

EXPORT int dup3(int fd, int newfd, int flags)
{
    if (is_berth(fd) || is_berth(newfd)) {
        if (fd == newfd) {
            errno = EINVAL;
            return -1;
        }
        return berth_posix_dup3(fd, newfd, flags);
    }
    return CALL(dup3, dup3_fn, fd, newfd, flags);
}

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
    if (is_berth(out_fd))
        return berth_posix_sendfile(out_fd, in_fd, offset, count);
    return CALL(sendfile, sendfile_fn, out_fd, in_fd, offset, count);
}

EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
    if (is_berth(out_fd))
        return berth_posix_sendfile(out_fd, in_fd, offset, count);
    return CALL(sendfile64, sendfile_fn, out_fd, in_fd, offset, count);
}

/* close_range(2) and closefrom(3) close berth sockets in the range as
 * close() does (a descriptor the layer did not see close would keep its
 * socket, and its number would be taken for a berth socket when reused). */
static void close_berth_range(unsigned int first, unsigned int last)
{
    for (unsigned int fd = first; fd <= last && fd < (1u << 20); fd++)
        if (is_berth((int)fd))
            berth_posix_close((int)fd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    if (!(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
        close_berth_range(first, last);
    return CALL(close_range, close_range_fn, first, last, flags);
}

EXPORT void closefrom(int lowfd)
{
    close_berth_range(lowfd < 0 ? 0 : (unsigned int)lowfd, ~0u);
    void (*fn)(int) = (void (*)(int))real_closefrom_ptr();
    if (fn)
        fn(lowfd);
}
