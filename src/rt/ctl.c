/* The control socket: a unix stream socket where `berth ss`, `berth stat`
 * and friends ask a running instance. The server side (rt_ctl_*) takes one
 * command line per connection, has the runtime print the answer into memory
 * and sends it without ever blocking the loop; the client side is
 * berth_rt_ctl_request(). */
#define _GNU_SOURCE /* accept4 */
#include "rt_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_MAX_CLIENTS 8
#define CTL_LINE_MAX    1024
#define CTL_TIMEOUT     (5 * RT_US_PER_S) /* a client's whole exchange */
#define CTL_LISTEN_TAG  UINT64_MAX

struct ctl_client {
    int fd;            /* -1: free slot */
    uint64_t deadline; /* dropped when it passes, answered or not */
    size_t inlen;      /* bytes of the command line read so far */
    char in[CTL_LINE_MAX];
    char *out; /* the answer once the command ran; NULL before */
    size_t outlen, outoff;
};

struct rt_ctl {
    int epfd, lfd;
    char *path;
    struct ctl_client clients[CTL_MAX_CLIENTS];
};

/* ------------------------------------------------------------------------
 * Paths.
 */

/* TUN names are per network namespace, so control sockets are too: the
 * namespace PID 1 is in (the host's, as a rule) keeps the short names;
 * any other gets a directory named after its inode, the number `ip netns
 * identify` and `lsns -t net` show. When PID 1's namespace cannot be
 * looked at (not root, a sandbox), the initial namespace's fixed inode
 * tells it; on kernels without one the inode is always used. */
/* The initial network namespace's fixed inode (Linux's PROC_NET_INIT_INO,
 * since 6.x): how to recognise it when PID 1 cannot be looked at. */
#define RT_NET_INIT_INO 0xEFFFFFF9u

char *berth_rt_ctl_dir(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat self, init;
    char base[160];
    if (geteuid() == 0)
        snprintf(base, sizeof base, "/run/berth");
    else if (xdg && *xdg)
        snprintf(base, sizeof base, "%s/berth", xdg);
    else
        snprintf(base, sizeof base, "/tmp/berth-%u", (unsigned)getuid());
    bool host = false;
    if (stat("/proc/self/ns/net", &self) < 0)
        host = true; /* no /proc: nothing better than the short name */
    else if (stat("/proc/1/ns/net", &init) == 0)
        host = init.st_ino == self.st_ino && init.st_dev == self.st_dev;
    else
        host = self.st_ino == RT_NET_INIT_INO;
    if (host)
        snprintf(buf, size, "%s", base);
    else
        snprintf(buf, size, "%s/net-%lu", base, (unsigned long)self.st_ino);
    return buf;
}

char *berth_rt_default_ctl_path(const char *tun_name, char *buf, size_t size)
{
    char dir[200];
    if (!tun_name || !*tun_name)
        tun_name = "berth0";
    snprintf(buf, size, "%s/%s.sock", berth_rt_ctl_dir(dir, sizeof dir),
             tun_name);
    return buf;
}

/* mkdir -p of the socket's directory; the directories we create are 0700.
 * The one holding the socket must be ours or root's, and not writable by
 * others unless sticky (like /tmp): a directory someone else controls
 * could have the socket swapped under us. */
static int make_parent(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0; /* relative name in the cwd, or directly under / */
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        bool last = *p == '\0';
        if (*p == '/' || last) {
            char saved = *p;
            *p = '\0';
            if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", dir,
                         strerror(errno));
                return -1;
            }
            *p = saved;
        }
        if (last)
            break;
    }
    struct stat st;
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
        (st.st_uid != geteuid() && st.st_uid != 0) ||
        ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))) {
        snprintf(err, errlen,
                 "control socket directory %s is not a private directory", dir);
        return -1;
    }
    return 0;
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa->sun_path)
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, path, strlen(path));
    return 0;
}

bool berth_rt_ctl_alive(const char *path)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path) < 0)
        return false;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool alive = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return alive;
}

/* A socket file left by a crashed instance is removed; a live instance
 * (one that accepts a connection) is an error. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return 0;
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket", path);
        return -1;
    }
    if (berth_rt_ctl_alive(path)) {
        snprintf(err, errlen,
                 "another berth instance answers at %s (another --tun, or "
                 "--ctl PATH)",
                 path);
        return -1;
    }
    unlink(path);
    return 0;
}

/* ------------------------------------------------------------------------
 * The server.
 */

static int ctl_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (fill_addr(&sa, path) < 0) {
        snprintf(err, errlen, "control socket path too long: %s", path);
        return -1;
    }
    if (make_parent(path, err, errlen) < 0 || clear_stale(path, err, errlen))
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fd, 16) < 0) {
        snprintf(err, errlen, "cannot listen on control socket %s: %s", path,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

struct rt_ctl *rt_ctl_open(const char *path, char *err, size_t errlen)
{
    struct rt_ctl *c = calloc(1, sizeof *c);
    char *copy = strdup(path);
    if (!c || !copy) {
        snprintf(err, errlen, "control socket: out of memory");
        free(c);
        free(copy);
        return NULL;
    }
    c->path = copy;
    c->epfd = c->lfd = -1;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
    c->lfd = ctl_listen(path, err, errlen);
    if (c->lfd < 0) {
        free(copy);
        free(c);
        return NULL;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CTL_LISTEN_TAG};
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (c->epfd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->lfd, &ev) < 0) {
        snprintf(err, errlen, "control socket: epoll: %s", strerror(errno));
        rt_ctl_close(c);
        return NULL;
    }
    return c;
}

int rt_ctl_fd(const struct rt_ctl *c)
{
    return c->epfd;
}

static void client_close(struct rt_ctl *c, struct ctl_client *k)
{
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    free(k->out);
    memset(k, 0, sizeof *k);
    k->fd = -1;
}

void rt_ctl_close(struct rt_ctl *c)
{
    if (!c)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            client_close(c, &c->clients[i]);
    if (c->lfd >= 0) {
        close(c->lfd);
        unlink(c->path);
        /* A namespace's directory (.../net-INODE) goes with its last
         * instance; rmdir fails while other sockets are there. */
        char *slash = strrchr(c->path, '/');
        if (slash) {
            *slash = '\0';
            const char *base = strrchr(c->path, '/');
            if (base && !strncmp(base + 1, "net-", 4))
                rmdir(c->path);
        }
    }
    if (c->epfd >= 0)
        close(c->epfd);
    free(c->path);
    free(c);
}

void rt_ctl_forget(struct rt_ctl *c)
{
    if (!c)
        return;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            close(c->clients[i].fd);
    if (c->lfd >= 0)
        close(c->lfd);
    if (c->epfd >= 0)
        close(c->epfd);
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        free(c->clients[i].out);
    free(c->path);
    free(c);
}

static void ctl_accept(struct rt_ctl *c, uint64_t now)
{
    /* Bounded: a flood of connections cannot keep the loop here. */
    for (int n = 0; n < 4 * CTL_MAX_CLIENTS; n++) {
        int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct ctl_client *k = NULL;
        for (int i = 0; i < CTL_MAX_CLIENTS && !k; i++)
            if (c->clients[i].fd < 0)
                k = &c->clients[i];
        struct epoll_event ev = {.events = EPOLLIN};
        if (k) {
            ev.data.u64 = (uint64_t)(k - c->clients);
            if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
                k->fd = fd;
                k->deadline = now + CTL_TIMEOUT;
                continue;
            }
        }
        static const char busy[] = "error: control socket busy\n";
        (void)!send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
    }
}

/* Sends what the socket takes; closes the client once all is out. */
static void client_send(struct rt_ctl *c, struct ctl_client *k)
{
    while (k->outoff < k->outlen) {
        ssize_t n = send(k->fd, k->out + k->outoff, k->outlen - k->outoff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return; /* EPOLLOUT brings us back */
        if (n <= 0)
            break;
        k->outoff += (size_t)n;
    }
    /* Whatever the client sent after its line is read away first: closing
     * a unix socket with unread input makes the peer's read fail with
     * ECONNRESET instead of ending at EOF. */
    char sink[256];
    for (int i = 0; i < 16 && read(k->fd, sink, sizeof sink) > 0; i++)
        ;
    client_close(c, k);
}

/* Runs the command and starts sending its answer. */
static void client_answer(struct rt_ctl *c, struct ctl_client *k,
                          rt_ctl_handler handler, void *ctx)
{
    k->in[k->inlen < CTL_LINE_MAX ? k->inlen : CTL_LINE_MAX - 1] = '\0';
    k->in[strcspn(k->in, "\r\n")] = '\0';
    FILE *f = open_memstream(&k->out, &k->outlen);
    if (!f) {
        client_close(c, k);
        return;
    }
    if (k->inlen >= CTL_LINE_MAX - 1)
        fprintf(f, "error: command line too long\n");
    else
        handler(ctx, k->in, f);
    if (fclose(f) != 0 || !k->out) {
        client_close(c, k);
        return;
    }
    struct epoll_event ev = {.events = EPOLLOUT,
                             .data.u64 = (uint64_t)(k - c->clients)};
    epoll_ctl(c->epfd, EPOLL_CTL_MOD, k->fd, &ev);
    client_send(c, k);
}

static void client_read(struct rt_ctl *c, struct ctl_client *k,
                        rt_ctl_handler handler, void *ctx)
{
    for (;;) {
        ssize_t n = read(k->fd, k->in + k->inlen, CTL_LINE_MAX - 1 - k->inlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 || (n == 0 && k->inlen == 0)) {
            client_close(c, k); /* error, or left without a word */
            return;
        }
        bool eof = n == 0;
        k->inlen += (size_t)n;
        if (eof || memchr(k->in, '\n', k->inlen) ||
            k->inlen >= CTL_LINE_MAX - 1) {
            client_answer(c, k, handler, ctx);
            return;
        }
    }
}

void rt_ctl_poll(struct rt_ctl *c, uint64_t now, rt_ctl_handler handler,
                 void *ctx)
{
    struct epoll_event evs[CTL_MAX_CLIENTS + 1];
    int n = epoll_wait(c->epfd, evs, CTL_MAX_CLIENTS + 1, 0);
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == CTL_LISTEN_TAG) {
            ctl_accept(c, now);
            continue;
        }
        struct ctl_client *k = &c->clients[evs[i].data.u64];
        if (k->fd < 0)
            continue; /* closed earlier in this batch */
        if (k->out)
            client_send(c, k);
        else
            client_read(c, k, handler, ctx);
    }
    for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
        struct ctl_client *k = &c->clients[i];
        if (k->fd >= 0 && k->deadline <= now)
            client_close(c, k);
    }
}

uint64_t rt_ctl_next_deadline(const struct rt_ctl *c)
{
    uint64_t t = UINT64_MAX;
    for (int i = 0; i < CTL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0 && c->clients[i].deadline < t)
            t = c->clients[i].deadline;
    return t;
}

/* ------------------------------------------------------------------------
 * The client.
 */

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int ctl_exchange(int fd, const char *command, FILE *out)
{
    struct timeval tv = {.tv_sec = CTL_TIMEOUT / RT_US_PER_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = send_all(fd, command, strlen(command));
    if (rc == 0)
        rc = send_all(fd, "\n", 1);
    if (rc < 0)
        return rc;
    shutdown(fd, SHUT_WR);
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n == 0)
            return 0;
        if (out && fwrite(buf, 1, (size_t)n, out) != (size_t)n)
            return -EIO;
    }
}

int berth_rt_ctl_request(const char *ctl_path, const char *command, FILE *out)
{
    struct sockaddr_un sa;
    int rc = fill_addr(&sa, ctl_path);
    if (rc < 0)
        return rc;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        rc = -errno;
    else
        rc = ctl_exchange(fd, command, out);
    close(fd);
    return rc;
}
