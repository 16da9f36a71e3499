/* berth's POSIX socket layer (libberth-posix): BSD socket calls with Linux's
 * semantics and errno, over one runtime (rt.h) whose loop runs on a thread
 * of its own. Every call takes one lock, calls the core, and wakes the loop
 * if the stack's deadlines may have moved. Thread-safe.
 *
 * Every berth socket is a real kernel file descriptor: one end of an
 * AF_UNIX socketpair whose readiness mirrors the berth socket's (see
 * src/posix/posix.c for why a socketpair and not an eventfd), so poll,
 * select and epoll (level- and edge-triggered) work on it next to pipes,
 * files and timers. Only the calls below know it is a berth socket; reading
 * or writing it with the kernel's read()/write() reaches the mirror, not the
 * connection (the LD_PRELOAD library, libberth-preload.so, routes those
 * calls here).
 *
 * Calls return what libc's return (-1 with errno set on failure). TCP and
 * UDP, IPv4 and IPv6 (an AF_INET6 socket takes and gives sockaddr_in6, IPv4
 * peers as ::ffff:a.b.c.d, IPV6_V6ONLY off by default as Linux's):
 * berth_posix_socket() refuses other families and types with
 * EAFNOSUPPORT / EPROTONOSUPPORT (the preload library gives those to libc).
 * A UDP socket sends each datagram whole (sendto/sendmsg with an address,
 * or the connect()ed peer) and receives one whole datagram per call, with
 * its sender, MSG_PEEK and MSG_TRUNC; an ICMP port unreachable shows as
 * ECONNREFUSED on the next call, as Linux's.
 */
#ifndef BERTH_POSIX_H
#define BERTH_POSIX_H

#include "berth/rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the runtime (TUN, stack, control socket) and its loop thread. The
 * configuration's no_signals is forced on: the program owns its signals.
 * The soft limit of open files is raised to the hard limit: each berth
 * socket also holds two descriptors of the layer's (above FD_SETSIZE when
 * the limit allows).
 * 0, or -1 with a one-line message in err (then errno is set too). Calling
 * it while running is an error (EALREADY). */
int berth_posix_start(const struct berth_rt_config *cfg, char *err,
                      size_t errlen);
/* The configuration from the environment, as `berth run` passes it:
 * BERTH_TUN, BERTH_ADDR, BERTH_PEER (A.B.C.D[/prefix]), BERTH_ADDR6,
 * BERTH_PEER6 (ADDRESS[/prefix]), BERTH_IPV6 (on, off, auto), BERTH_MTU,
 * BERTH_IMPAIR, BERTH_PCAP, BERTH_CTL, BERTH_TRACE (a file). 0, or -1 with
 * a message. */
int berth_posix_config_from_env(struct berth_rt_config *cfg, char *err,
                                size_t errlen);
/* Closes every berth socket (gracefully, FIN), lets the loop finish the
 * closes for up to the configured shutdown_grace, joins the thread and
 * destroys the runtime. Sockets still open afterwards fail with EBADF or
 * ENETDOWN. Registered with atexit() by berth_posix_start(). */
void berth_posix_stop(void);
/* The running runtime, or NULL (for `berth_rt_stats`...; take no lock). */
struct berth_rt *berth_posix_runtime(void);

/* Is fd a berth socket of this process? Lock-free (the preload library
 * asks on every call). False in a vfork()ed
 * child: it shares our memory, not our descriptors. */
bool berth_posix_is_socket(int fd);

/* True on the runtime's loop thread, and while a call starts the runtime:
 * the sockets the runtime makes itself (the TUN device's ioctls) are the
 * kernel's, and the preload library gives them to libc. */
bool berth_posix_in_runtime(void);

/* AF_INET or AF_INET6 (EAFNOSUPPORT when the runtime has no IPv6, or for a
 * datagram socket when the core has no IPv6 UDP), SOCK_STREAM (TCP) or
 * SOCK_DGRAM (UDP), else EPROTONOSUPPORT. */
int berth_posix_socket(int domain, int type, int protocol);
int berth_posix_bind(int fd, const struct sockaddr *addr, socklen_t len);
int berth_posix_listen(int fd, int backlog);
int berth_posix_accept4(int fd, struct sockaddr *addr, socklen_t *len,
                        int flags);
int berth_posix_connect(int fd, const struct sockaddr *addr, socklen_t len);
ssize_t berth_posix_send(int fd, const void *buf, size_t len, int flags);
ssize_t berth_posix_sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *addr, socklen_t alen);
ssize_t berth_posix_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t berth_posix_recv(int fd, void *buf, size_t len, int flags);
ssize_t berth_posix_recvfrom(int fd, void *buf, size_t len, int flags,
                             struct sockaddr *addr, socklen_t *alen);
ssize_t berth_posix_recvmsg(int fd, struct msghdr *msg, int flags);
ssize_t berth_posix_readv(int fd, const struct iovec *iov, int iovcnt);
ssize_t berth_posix_writev(int fd, const struct iovec *iov, int iovcnt);
int berth_posix_shutdown(int fd, int how);
int berth_posix_close(int fd);
int berth_posix_getsockopt(int fd, int level, int name, void *val,
                           socklen_t *len);
int berth_posix_setsockopt(int fd, int level, int name, const void *val,
                           socklen_t len);
int berth_posix_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int berth_posix_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
/* F_GETFL, F_SETFL (O_NONBLOCK), F_GETFD, F_SETFD (FD_CLOEXEC), F_DUPFD,
 * F_DUPFD_CLOEXEC; other commands act on the kernel fd. */
int berth_posix_fcntl(int fd, int cmd, long arg);
/* FIONREAD (SIOCINQ), FIONBIO, TIOCOUTQ (SIOCOUTQ); other requests go to
 * the kernel descriptor (SIOCGIF* and the like work on any socket). */
int berth_posix_ioctl(int fd, unsigned long req, void *arg);
int berth_posix_dup(int fd);
/* newfd may be a berth socket (it is closed first) or any other fd. */
int berth_posix_dup3(int fd, int newfd, int flags);
/* Copies count bytes from in_fd (a file, pipe...) to the berth socket
 * out_fd, as sendfile(2) does (offset NULL: from in_fd's position). */
ssize_t berth_posix_sendfile(int out_fd, int in_fd, off_t *offset,
                             size_t count);

/* Marks the process as a fork()ed child: inherited berth sockets are not
 * this process's (the runtime thread is not inherited): every call on
 * them fails with EBADF except close(), which releases only the kernel
 * descriptors. Installed with pthread_atfork() by berth_posix_start(). */
void berth_posix_forked_child(void);
/* Instead, the runtime moves to the next fork()ed child (once): the child
 * goes on with every berth socket and connection, a new loop thread runs
 * them; the parent's copies become inherited ones (EBADF, close() works).
 * For a server whose next fork() is its one worker, or a daemon's fork
 * (nginx with one worker process). BERTH_FOLLOW_FORK=1 in the environment
 * (`berth run --follow-fork`) turns it on.
 * BERTH_WORKERS=N (`berth run --workers N`, N > 1) instead gives the
 * program's next N fork()ed children a shard each (rt.h's
 * berth_rt_fork_shard(): the runtime is created with fork_shards = N):
 * the first goes on with the runtime as inherited, the others attach a
 * TUN queue of their own, keep their copy of the stack (the listeners),
 * and get new mirrors under the inherited descriptor numbers; the parent
 * gives the runtime up after the Nth. */
void berth_posix_follow_fork(bool on);

#ifdef __cplusplus
}
#endif
#endif
