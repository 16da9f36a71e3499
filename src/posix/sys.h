/* The kernel calls the POSIX layer makes on its own descriptors, as raw
 * system calls: inside libberth-preload.so the libc names (close, recv,
 * fcntl...) are the interposed ones, and the layer must reach the kernel,
 * not itself. */
#ifndef BERTH_POSIX_SYS_H
#define BERTH_POSIX_SYS_H

#include <stddef.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static inline int sys_close(int fd)
{
    return (int)syscall(SYS_close, fd);
}

static inline ssize_t sys_recv(int fd, void *buf, size_t len, int flags)
{
    return (ssize_t)syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
}

static inline ssize_t sys_send(int fd, const void *buf, size_t len, int flags)
{
    return (ssize_t)syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

static inline int sys_fcntl(int fd, int cmd, long arg)
{
    return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static inline int sys_ioctl(int fd, unsigned long req, void *arg)
{
    return (int)syscall(SYS_ioctl, fd, req, arg);
}

static inline int sys_dup3(int fd, int newfd, int flags)
{
    return (int)syscall(SYS_dup3, fd, newfd, flags);
}

static inline int sys_shutdown(int fd, int how)
{
    return (int)syscall(SYS_shutdown, fd, how);
}

#endif
