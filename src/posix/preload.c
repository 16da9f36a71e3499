/* libberth-preload.so: an unmodified dynamically linked program's TCP and
 * UDP sockets, IPv4 and IPv6, on berth. Each interposed call asks one
 * lock-free question (is this fd a berth socket?) and goes to the POSIX
 * layer (posix.c) or to the next definition, libc's (dlsym(RTLD_NEXT)).
 *
 * The rule for which sockets are berth's (README, "berth run"):
 *   - socket(AF_INET or AF_INET6, SOCK_STREAM or SOCK_DGRAM, 0|TCP|UDP)
 *     makes a berth socket (AF_INET6 only when the runtime has IPv6, and
 *     for SOCK_DGRAM when the core has IPv6 UDP); every other family and
 *     type (AF_UNIX, AF_NETLINK, raw) is libc's.
 *   - A berth socket that binds to an address other than the any address
 *     (0.0.0.0, ::) and berth's own (BERTH_ADDR, BERTH_ADDR6), or connects
 *     to loopback (127.0.0.0/8, ::1, ::ffff:127.x), is handed to the kernel
 *     (same fd number, flags and options replayed): loopback and host
 *     addresses stay the kernel's, so local resolvers and services work.
 *   - A datagram socket not bound yet that connects or sends to an address
 *     off berth's link (BERTH_PEER's subnet, BERTH_PEER6's prefix) is
 *     handed to the kernel too: a resolver's DNS to the host's nameserver.
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
REAL(sendmmsg)
REAL(recvmmsg)
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
typedef int (*sendmmsg_fn)(int, struct mmsghdr *, unsigned int, int);
typedef int (*recvmmsg_fn)(int, struct mmsghdr *, unsigned int, int,
                           struct timespec *);
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
    if ((domain == AF_INET || domain == AF_INET6) &&
        ((base == SOCK_STREAM && (protocol == 0 || protocol == IPPROTO_TCP)) ||
         (base == SOCK_DGRAM && (protocol == 0 || protocol == IPPROTO_UDP))) &&
        !berth_posix_in_runtime() && owner()) {
        int fd = berth_posix_socket(domain, type, protocol);
        if (fd >= 0 || errno != EAFNOSUPPORT)
            return fd;
    }
    return CALL(socket, socket_fn, domain, type, protocol);
}

/* The berth socket fd becomes a kernel socket of the same family and type
 * with the same number, flags and the options that matter before a
 * connection. 0 or -1. */
static int handoff(int fd)
{
    int fl = berth_posix_fcntl(fd, F_GETFL, 0);
    int fdfl = berth_posix_fcntl(fd, F_GETFD, 0);
    int domain = AF_INET, type = SOCK_STREAM;
    socklen_t il = sizeof domain;
    berth_posix_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &il);
    il = sizeof type;
    berth_posix_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &il);
    int k = CALL(socket, socket_fn, domain,
                 type | SOCK_CLOEXEC |
                     (fl >= 0 && (fl & O_NONBLOCK) ? SOCK_NONBLOCK : 0),
                 0);
    if (k < 0)
        return -1;
    static const struct {
        int level, name;
    } OPTS[] = {
        {SOL_SOCKET, SO_REUSEADDR},  {SOL_SOCKET, SO_REUSEPORT},
        {SOL_SOCKET, SO_KEEPALIVE},  {SOL_SOCKET, SO_RCVTIMEO},
        {SOL_SOCKET, SO_SNDTIMEO},   {SOL_SOCKET, SO_LINGER},
        {SOL_SOCKET, SO_BROADCAST},  {IPPROTO_TCP, TCP_NODELAY},
        {IPPROTO_IPV6, IPV6_V6ONLY},
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

/* An address of either family as IPv4 (an IPv6 one only when it is
 * ::ffff:a.b.c.d). */
static bool as_v4(const struct sockaddr *addr, socklen_t len, uint32_t *v4)
{
    if (addr->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        *v4 = ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr);
        return true;
    }
    if (addr->sa_family == AF_INET6 &&
        len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            *v4 = ntohl(a->s6_addr32[3]);
            return true;
        }
    }
    return false;
}

/* The environment's address (BERTH_ADDR, BERTH_ADDR6), or the default. */
static uint32_t my_v4(void)
{
    const char *mine = getenv("BERTH_ADDR");
    struct in_addr ia;
    return mine && inet_pton(AF_INET, mine, &ia) == 1 ? ntohl(ia.s_addr)
                                                      : 0xc6120002u;
}

static struct in6_addr my_v6(void)
{
    const char *mine = getenv("BERTH_ADDR6");
    struct in6_addr a;
    if (!mine || inet_pton(AF_INET6, mine, &a) != 1)
        inet_pton(AF_INET6, "2001:db8:b::2", &a);
    return a;
}

/* berth's link of one family: BERTH_PEER's IPv4 subnet or BERTH_PEER6's
 * IPv6 prefix ("ADDRESS/PREFIX"; defaults 198.18.0.1/24 and
 * 2001:db8:b::1/64, a missing PREFIX as in the default). The address
 * into p (4 or 16 bytes); the prefix length, or -1 when it does not parse. */
static int peer_prefix(int af, uint8_t p[16])
{
    bool v6 = af == AF_INET6;
    const char *dflt = v6 ? "2001:db8:b::1/64" : "198.18.0.1/24";
    const char *peer = getenv(v6 ? "BERTH_PEER6" : "BERTH_PEER");
    char buf[80];
    snprintf(buf, sizeof buf, "%s", peer && *peer ? peer : dflt);
    char *slash = strchr(buf, '/');
    int max = v6 ? 128 : 32;
    int prefix = slash ? atoi(slash + 1) : atoi(strchr(dflt, '/') + 1);
    if (slash)
        *slash = 0;
    if (inet_pton(af, buf, p) != 1 || prefix < 0 || prefix > max)
        return -1;
    return prefix;
}

/* Whether the first plen bits of two addresses (network order) agree. */
static bool prefix_match(const uint8_t *a, const uint8_t *p, int plen)
{
    for (int bit = 0; bit < plen; bit++)
        if ((a[bit / 8] ^ p[bit / 8]) & (0x80 >> (bit % 8)))
            return false;
    return true;
}

/* Whether an address lies on berth's link (peer_prefix of its family). */
static bool on_link(const struct sockaddr *addr, socklen_t len)
{
    uint8_t p[16];
    int plen;
    uint32_t v4;
    if (as_v4(addr, len, &v4)) {
        uint32_t a = htonl(v4);
        plen = peer_prefix(AF_INET, p);
        return plen >= 0 && prefix_match((const uint8_t *)&a, p, plen);
    }
    if (addr->sa_family != AF_INET6 ||
        len < (socklen_t)sizeof(struct sockaddr_in6))
        return false;
    plen = peer_prefix(AF_INET6, p);
    return plen >= 0 &&
           prefix_match(((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr,
                        p, plen);
}

/* The rule (README, "Which sockets are berth's"): whether a berth socket
 * binding (binding), connecting or sending (not) to addr is the kernel's.
 * Loopback (127.0.0.0/8, ::1, ::ffff:127.x) always; a bind to an address
 * that is neither the any address nor berth's; and a datagram (dgram) to an
 * address off berth's link, so a resolver's DNS reaches the host's
 * nameserver. */
static bool kernel_addr(const struct sockaddr *addr, socklen_t len,
                        bool binding, bool dgram)
{
    if (!addr)
        return false;
    uint32_t v4;
    if (as_v4(addr, len, &v4)) {
        if ((v4 >> 24) == 127)
            return true;
        if (binding)
            return v4 != INADDR_ANY && v4 != my_v4();
        return dgram && !on_link(addr, len);
    }
    if (addr->sa_family != AF_INET6 ||
        len < (socklen_t)sizeof(struct sockaddr_in6))
        return false; /* berth's layer gives the error */
    const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(a))
        return true;
    if (binding) {
        struct in6_addr me = my_v6();
        return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_ARE_ADDR_EQUAL(a, &me);
    }
    return dgram && !on_link(addr, len);
}

static bool is_dgram(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    return berth_posix_getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
           type == SOCK_DGRAM;
}

/* A berth socket berth has not bound yet (no local port): one that may
 * still become the kernel's. */
static bool unbound(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (berth_posix_getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return false;
    return ss.ss_family == AF_INET6
               ? ((struct sockaddr_in6 *)&ss)->sin6_port == 0
               : ((struct sockaddr_in *)&ss)->sin_port == 0;
}

EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (is_berth(fd)) {
        if (!kernel_addr(addr, len, true, false))
            return berth_posix_bind(fd, addr, len);
        if (handoff(fd) < 0)
            return -1;
    }
    return CALL(bind, bind_fn, fd, addr, len);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    if (is_berth(fd)) {
        bool dgram = is_dgram(fd);
        if (!kernel_addr(addr, len, false, dgram) || (dgram && !unbound(fd)))
            return berth_posix_connect(fd, addr, len);
        if (handoff(fd) < 0)
            return -1;
    }
    return CALL(connect, bind_fn, fd, addr, len);
}

/* A datagram to an address the kernel serves, from a berth socket that is
 * not bound yet: the socket becomes the kernel's first. true when the call
 * goes to the kernel (after a successful hand-off). */
static bool dgram_to_kernel(int fd, const struct sockaddr *addr, socklen_t len)
{
    return addr && is_dgram(fd) && kernel_addr(addr, len, false, true) &&
           unbound(fd) && handoff(fd) == 0;
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
    if (is_berth(fd) && !dgram_to_kernel(fd, addr, alen))
        return berth_posix_sendto(fd, buf, len, flags, addr, alen);
    return CALL(sendto, sendto_fn, fd, buf, len, flags, addr, alen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (is_berth(fd) && !dgram_to_kernel(fd, msg->msg_name, msg->msg_namelen))
        return berth_posix_sendmsg(fd, msg, flags);
    return CALL(sendmsg, sendmsg_fn, fd, msg, flags);
}

/* sendmmsg(2) and recvmmsg(2) (glibc's resolver sends its A and AAAA
 * queries with one sendmmsg): one message at a time through the layer,
 * as many as go without blocking after the first. */
EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
    if (!is_berth(fd) ||
        (vlen > 0 && dgram_to_kernel(fd, vec[0].msg_hdr.msg_name,
                                     vec[0].msg_hdr.msg_namelen)))
        return CALL(sendmmsg, sendmmsg_fn, fd, vec, vlen, flags);
    unsigned int i = 0;
    for (; i < vlen && i < 1024; i++) {
        ssize_t n = berth_posix_sendmsg(fd, &vec[i].msg_hdr,
                                        flags | (i ? MSG_DONTWAIT : 0));
        if (n < 0)
            return i ? (int)i : -1;
        vec[i].msg_len = (unsigned int)n;
    }
    return (int)i;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
                    struct timespec *timeout)
{
    if (!is_berth(fd))
        return CALL(recvmmsg, recvmmsg_fn, fd, vec, vlen, flags, timeout);
    unsigned int i = 0;
    for (; i < vlen && i < 1024; i++) {
        bool more = i > 0 && (flags & MSG_WAITFORONE);
        ssize_t n = berth_posix_recvmsg(fd, &vec[i].msg_hdr,
                                        (flags & ~MSG_WAITFORONE) |
                                            (more ? MSG_DONTWAIT : 0));
        if (n < 0)
            return i ? (int)i : -1;
        vec[i].msg_len = (unsigned int)n;
    }
    return (int)i;
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

/* fcntl(2) under both its names: fcntl, and fcntl64, glibc's LFS name
 * (what a program built with _FILE_OFFSET_BITS=64 calls); each goes on to
 * libc's definition of the same name. The third argument is an int, a
 * long or a pointer: passed on as a long, which holds any of them on the
 * ABIs glibc supports. */
#define FCNTL(name)                                                            \
    EXPORT int name(int fd, int cmd, ...)                                      \
    {                                                                          \
        va_list ap;                                                            \
        va_start(ap, cmd);                                                     \
        long arg = va_arg(ap, long);                                           \
        va_end(ap);                                                            \
        if (is_berth(fd))                                                      \
            return berth_posix_fcntl(fd, cmd, arg);                            \
        return CALL(name, fcntl_fn, fd, cmd, arg);                             \
    }

FCNTL(fcntl)
FCNTL(fcntl64)

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
