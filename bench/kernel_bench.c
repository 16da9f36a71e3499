/* kernel-bench: the Linux kernel's side of the benchmarks, and the kernel
 * peers of the TUN runs. Subcommands:
 *   lifecycle   epoll client and server over 127.0.0.1 (two processes)
 *   bulk        one stream over 127.0.0.1 (two processes; --chunk: write size)
 *   mem         N loopback connections held by several processes; memory
 *               (--family 6: over ::1, results mem6_*)
 *               from /proc/slabinfo (established, TIME-WAIT, SYN queue)
 *   send, recv  one stream to/from a peer (TUN and veth runs)
 *   echo, pingpong  request/response round trips
 *   rusage      runs a command and reports its CPU time
 *   synflood    forged SYNs through a raw socket to a (local) listener:
 *               SYNs absorbed per CPU-second (the kernel's loopback
 *               delivers them in the sender's context, so this process's
 *               CPU time is the sending plus the kernel's SYN handling)
 * Each prints one RESULT line (bench.h). */
#define _GNU_SOURCE /* accept4 */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MSG 64

static struct sockaddr_in addr_of(const char *host, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        bench_die("bad address %s", host);
    return a;
}

static int listen_on(const char *host, uint16_t port, int backlog, bool nb)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr_of(host, port);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, backlog) != 0)
        bench_die("listen %s:%u: %s", host, port, strerror(errno));
    return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            bench_die("write: %s", strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
}

static bool read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Waits for a child; its CPU time in *cpu_ns. Exit status returned. */
static int reap(pid_t pid, uint64_t *cpu_ns)
{
    int st = 0;
    struct rusage ru;
    while (wait4(pid, &st, 0, &ru) < 0)
        if (errno != EINTR)
            bench_die("wait4: %s", strerror(errno));
    *cpu_ns = bench_rusage_ns(&ru);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- lifecycle ---- */

static int lc_server(int nports, uint16_t base, uint64_t n, int ready_fd,
                     uint64_t max_ns)
{
    int ep = epoll_create1(0);
    int lfd[256];
    for (int k = 0; k < nports; k++) {
        lfd[k] = listen_on("127.0.0.1", (uint16_t)(base + k), 4096, true);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)k};
        epoll_ctl(ep, EPOLL_CTL_ADD, lfd[k], &ev);
    }
    if (write(ready_fd, "r", 1) != 1)
        return 1;
    close(ready_fd);
    uint64_t done = 0, t0 = bench_wall_ns();
    uint8_t buf[MSG * 4], resp[MSG];
    memset(resp, 'y', sizeof resp);
    struct epoll_event evs[256];
    while (done < n && bench_wall_ns() - t0 < max_ns) {
        int m = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < m; i++) {
            uint64_t d = evs[i].data.u64;
            if (d < 256) {
                for (;;) {
                    int c = accept4(lfd[d], NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0)
                        break;
                    struct epoll_event ev = {.events = EPOLLIN,
                                             .data.u64 = 256 + (uint64_t)c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            int c = (int)(d - 256);
            ssize_t r = read(c, buf, sizeof buf);
            if (r > 0) {
                if (write(c, resp, sizeof resp) != (ssize_t)sizeof resp)
                    bench_die("server write: %s", strerror(errno));
            } else if (r == 0 || errno != EAGAIN) {
                close(c); /* also leaves the epoll set */
                done++;
            }
        }
    }
    return done == n ? 0 : 1;
}

static int lc_connect(int ep, const struct sockaddr_in *a)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        bench_die("socket: %s", strerror(errno));
    if (connect(fd, (const struct sockaddr *)a, sizeof *a) != 0 &&
        errno != EINPROGRESS)
        bench_die("connect: %s", strerror(errno));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET,
                             .data.u64 = (uint64_t)fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return fd;
}

static int cmd_lifecycle(int argc, char **argv)
{
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 50000);
    int inflight = (int)bench_arg_u64(argc, argv, "--inflight", 64);
    int nports = (int)bench_arg_u64(argc, argv, "--ports", 128);
    uint16_t base = (uint16_t)bench_arg_u64(argc, argv, "--base-port", 20000);
    uint64_t max_ns =
        bench_arg_u64(argc, argv, "--max-seconds", 60) * 1000000000ull;
    if (nports < 1 || nports > 256)
        bench_die("--ports: 1..256");
    int pfd[2];
    if (pipe(pfd) != 0)
        bench_die("pipe");
    pid_t srv = fork();
    if (srv == 0) {
        close(pfd[0]);
        _exit(lc_server(nports, base, n, pfd[1], max_ns));
    }
    close(pfd[1]);
    char c;
    if (read(pfd[0], &c, 1) != 1)
        bench_die("server failed to start");
    close(pfd[0]);

    struct sockaddr_in a[256];
    for (int k = 0; k < nports; k++)
        a[k] = addr_of("127.0.0.1", (uint16_t)(base + k));
    int ep = epoll_create1(0);
    uint8_t req[MSG], buf[MSG * 4];
    memset(req, 'x', sizeof req);
    static uint8_t sent[1 << 20]; /* per fd: request sent */
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    uint64_t started = 0, done = 0, errors = 0;
    for (int k = 0; k < inflight && started < n; k++) {
        int fd = lc_connect(ep, &a[started % (uint64_t)nports]);
        sent[fd] = 0;
        started++;
    }
    struct epoll_event evs[256];
    while (done < started && bench_wall_ns() - t0 < max_ns) {
        int m = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < m; i++) {
            int fd = (int)evs[i].data.u64;
            uint32_t e = evs[i].events;
            if ((e & EPOLLOUT) && !sent[fd]) {
                sent[fd] = 1;
                if (write(fd, req, sizeof req) != (ssize_t)sizeof req) {
                    errors++;
                    goto finish;
                }
            }
            if (!(e & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r < MSG)
                errors++;
        finish:
            close(fd);
            done++;
            if (started < n) {
                int nfd = lc_connect(ep, &a[started % (uint64_t)nports]);
                sent[nfd] = 0;
                started++;
            }
        }
    }
    uint64_t client_cpu = bench_cpu_ns() - c0;
    uint64_t server_cpu = 0;
    int st = reap(srv, &server_cpu);
    uint64_t t1 = bench_wall_ns();
    double wall = (double)(t1 - t0) / 1e9;
    double cpu = (double)(client_cpu + server_cpu) / 1e9;
    bench_result_begin("lifecycle");
    bench_result_s("stack", "kernel");
    bench_result_u64("conns", done);
    bench_result_u64("errors", errors + (n - done) + (st != 0));
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("client_cpu_s", (double)client_cpu / 1e9);
    bench_result_f("server_cpu_s", (double)server_cpu / 1e9);
    bench_result_f("conn_per_s", (double)done / wall);
    bench_result_f("cpu_us_per_conn", cpu * 1e6 / (double)(done ? done : 1));
    bench_result_end();
    return errors || st ? 1 : 0;
}

/* ---- bulk over loopback ---- */

#define BULK_BUF (1u << 20)

static int cmd_bulk(int argc, char **argv)
{
    uint64_t total = bench_arg_u64(argc, argv, "--bytes", 4ull << 30);
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 20999);
    /* The client's write size (berth-bench bulk writes 256 KiB a call):
     * 1 MiB by default, at most that. */
    uint64_t chunk = bench_arg_u64(argc, argv, "--chunk", BULK_BUF);
    if (chunk == 0 || chunk > BULK_BUF)
        bench_die("bulk: --chunk must be 1 to %u bytes", BULK_BUF);
    int lfd = listen_on("127.0.0.1", port, 16, false);
    pid_t srv = fork();
    if (srv == 0) {
        int c = accept(lfd, NULL, NULL);
        uint8_t *buf = malloc(BULK_BUF);
        uint64_t got = 0;
        ssize_t r;
        while ((r = read(c, buf, BULK_BUF)) > 0)
            got += (uint64_t)r;
        _exit(got == total ? 0 : 1);
    }
    close(lfd);
    uint8_t *buf = calloc(1, BULK_BUF);
    struct sockaddr_in a = addr_of("127.0.0.1", port);
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        bench_die("bulk connect: %s", strerror(errno));
    for (uint64_t left = total; left;) {
        size_t len = left < chunk ? (size_t)left : (size_t)chunk;
        write_all(fd, buf, len);
        left -= len;
    }
    close(fd);
    uint64_t client_cpu = bench_cpu_ns() - c0, server_cpu = 0;
    int st = reap(srv, &server_cpu);
    double wall = (double)(bench_wall_ns() - t0) / 1e9;
    double cpu = (double)(client_cpu + server_cpu) / 1e9;
    bench_result_begin("bulk");
    bench_result_s("stack", "kernel");
    bench_result_u64("bytes", total);
    bench_result_u64("complete", st == 0);
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("gbit_per_wall_s", (double)total * 8 / wall / 1e9);
    bench_result_f("gbyte_per_cpu_s", (double)total / cpu / 1e9);
    bench_result_end();
    return st;
}

/* ---- memory ---- */

struct slab {
    const char *name;
    double bytes; /* active objects x object size */
    double objs;
};

static struct slab slabs[] = {
    {"TCP", 0, 0},
    {"tw_sock_TCP", 0, 0},
    {"request_sock_TCP", 0, 0},
    {"TCPv6", 0, 0}, /* --family 6: the same records of IPv6 sockets */
    {"tw_sock_TCPv6", 0, 0},
    {"request_sock_TCPv6", 0, 0},
    {"sock_inode_cache", 0, 0},
    {"filp", 0, 0},
    {"dentry", 0, 0},
    {"tcp_bind_bucket", 0, 0},
    {"tcp_bind2_bucket", 0, 0},
    {"inet_peer_cache", 0, 0},
    {"skbuff_head_cache", 0, 0},
};
#define NSLABS (sizeof slabs / sizeof slabs[0])

static void slab_read(double bytes[NSLABS], double objs[NSLABS])
{
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f)
        bench_die("/proc/slabinfo: %s (needs root)", strerror(errno));
    char line[512];
    for (size_t i = 0; i < NSLABS; i++)
        bytes[i] = objs[i] = 0;
    while (fgets(line, sizeof line, f)) {
        char name[128];
        unsigned long active, num, size;
        if (sscanf(line, "%127s %lu %lu %lu", name, &active, &num, &size) != 4)
            continue;
        for (size_t i = 0; i < NSLABS; i++)
            if (strcmp(name, slabs[i].name) == 0) {
                bytes[i] = (double)active * (double)size;
                objs[i] = (double)active;
            }
    }
    fclose(f);
}

static double meminfo_slab(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Slab: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* A worker holds `n` connections to its own listener: both ends are its
 * file descriptors. Commands on `cmd`: 'c' close the client ends first
 * (TIME-WAIT on that side) and then the server ends; 'q' exit. With
 * `defer`, the listener uses TCP_DEFER_ACCEPT: the final ACKs are dropped
 * and each connection stays a SYN-queue entry (request sock). */
static bool mem_v6; /* --family 6: over ::1 */

/* A listener on ::1 (the IPv6 loopback). */
static int listen6(uint16_t port, int backlog)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_port = htons(port),
                             .sin6_addr = in6addr_loopback};
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, backlog) != 0)
        bench_die("listen [::1]:%u: %s", port, strerror(errno));
    return fd;
}

static int mem_worker(uint16_t port, int n, bool defer, int cmd, int rep)
{
    int lfd = mem_v6 ? listen6(port, 65535)
                     : listen_on("127.0.0.1", port, 65535, false);
    if (defer) {
        int secs = 600;
        setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof secs);
    }
    int *cl = calloc((size_t)n, sizeof(int)), *sv = calloc((size_t)n, 4);
    struct sockaddr_in a = addr_of("127.0.0.1", port);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                              .sin6_port = htons(port),
                              .sin6_addr = in6addr_loopback};
    struct sockaddr *to =
        mem_v6 ? (struct sockaddr *)&a6 : (struct sockaddr *)&a;
    socklen_t tolen = mem_v6 ? sizeof a6 : sizeof a;
    int accepted = 0;
    for (int i = 0; i < n; i++) {
        cl[i] = socket(mem_v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
        if (cl[i] < 0 || connect(cl[i], to, tolen) != 0)
            bench_die("mem connect %d: %s", i, strerror(errno));
        if (!defer && (i % 1000 == 999 || i == n - 1))
            while (accepted <= i)
                sv[accepted++] = accept(lfd, NULL, NULL);
    }
    char c = 'r';
    if (write(rep, &c, 1) != 1)
        return 1;
    while (read(cmd, &c, 1) == 1 && c != 'q') {
        if (c == 'c' && !defer) {
            for (int i = 0; i < n; i++)
                close(cl[i]);
            char b[16];
            for (int i = 0; i < n; i++) {
                while (read(sv[i], b, sizeof b) > 0)
                    ;
                close(sv[i]);
            }
        }
        if (write(rep, &c, 1) != 1)
            return 1;
    }
    return write(rep, &c, 1) == 1 ? 0 : 1;
}

static void mem_broadcast(int nw, int *cmd, int *rep, char c)
{
    for (int w = 0; w < nw; w++)
        if (write(cmd[w], &c, 1) != 1)
            bench_die("worker %d gone", w);
    for (int w = 0; w < nw; w++) {
        char r;
        if (read(rep[w], &r, 1) != 1)
            bench_die("worker %d failed", w);
    }
}

static void mem_report(const char *name, const double b0[], const double b1[],
                       const double o0[], const double o1[], double slab0,
                       double n)
{
    double total = 0;
    bench_result_begin(name);
    bench_result_s("stack", "kernel");
    bench_result_f("conns", n);
    for (size_t i = 0; i < NSLABS; i++) {
        double d = (b1[i] - b0[i]) / n;
        total += d;
        if (b1[i] != b0[i]) {
            char key[64];
            snprintf(key, sizeof key, "%s_bytes", slabs[i].name);
            bench_result_f(key, d);
            snprintf(key, sizeof key, "%s_objs", slabs[i].name);
            bench_result_f(key, (o1[i] - o0[i]) / n);
        }
    }
    bench_result_f("slab_listed_bytes", total);
    bench_result_f("meminfo_slab_bytes", (meminfo_slab() - slab0) / n);
    bench_result_end();
}

static int cmd_mem(int argc, char **argv)
{
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 100000);
    uint64_t per = bench_arg_u64(argc, argv, "--per-process", 9000);
    uint16_t base = (uint16_t)bench_arg_u64(argc, argv, "--base-port", 21000);
    mem_v6 = bench_arg_u64(argc, argv, "--family", 4) == 6;
    int nw = (int)((n + per - 1) / per);
    if (nw > 64)
        bench_die("mem: at most 64 workers");
    for (int defer = 0; defer < 2; defer++) {
        int cmd[64], rep[64];
        pid_t pid[64];
        double b0[NSLABS], o0[NSLABS], b1[NSLABS], o1[NSLABS];
        slab_read(b0, o0);
        double slab0 = meminfo_slab();
        for (int w = 0; w < nw; w++) {
            int c[2], r[2];
            if (pipe(c) || pipe(r))
                bench_die("pipe");
            int cnt = (int)(w == nw - 1 ? n - per * (uint64_t)w : per);
            pid[w] = fork();
            if (pid[w] == 0) {
                close(c[1]);
                close(r[0]);
                _exit(mem_worker((uint16_t)(base + w + defer * 100), cnt, defer,
                                 c[0], r[1]));
            }
            close(c[0]);
            close(r[1]);
            cmd[w] = c[1];
            rep[w] = r[0];
            char x;
            if (read(rep[w], &x, 1) != 1)
                bench_die("mem worker %d failed to connect", w);
        }
        usleep(200000);
        slab_read(b1, o1);
        mem_report(defer    ? (mem_v6 ? "mem6_syn_queue" : "mem_syn_queue")
                   : mem_v6 ? "mem6_established"
                            : "mem_established",
                   b0, b1, o0, o1, slab0, (double)n);
        if (!defer) {
            mem_broadcast(nw, cmd, rep, 'c');
            usleep(200000);
            double b2[NSLABS], o2[NSLABS];
            slab_read(b2, o2);
            mem_report(mem_v6 ? "mem6_time_wait" : "mem_time_wait", b0, b2, o0,
                       o2, slab0, (double)n);
        }
        mem_broadcast(nw, cmd, rep, 'q');
        for (int w = 0; w < nw; w++) {
            uint64_t cpu;
            reap(pid[w], &cpu);
            close(cmd[w]);
            close(rep[w]);
        }
    }
    return 0;
}

/* ---- streams and round trips with a peer (TUN, veth) ---- */

/* Waits until our FIN is acknowledged (the peer got everything). */
static void wait_fin_acked(int fd, uint64_t max_ns)
{
    uint64_t t0 = bench_wall_ns();
    while (bench_wall_ns() - t0 < max_ns) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
            return;
        if (ti.tcpi_state == TCP_CLOSE || ti.tcpi_state == TCP_TIME_WAIT ||
            ti.tcpi_state == TCP_FIN_WAIT2)
            return;
        usleep(200);
    }
}

static int cmd_send(int argc, char **argv)
{
    const char *host = bench_arg_str(argc, argv, "--host", "127.0.0.1");
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 9000);
    uint64_t total = bench_arg_u64(argc, argv, "--bytes", 1ull << 30);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    struct sockaddr_in a = addr_of(host, port);
    uint8_t *buf = calloc(1, BULK_BUF);
    int fd = -1;
    uint64_t t0 = bench_wall_ns();
    for (int i = 0; i < 100; i++) { /* the peer may still be starting */
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(20000);
    }
    if (fd < 0)
        bench_die("send: connect %s:%u: %s", host, port, strerror(errno));
    uint64_t c0 = bench_cpu_ns(), w0 = bench_wall_ns();
    (void)t0;
    for (uint64_t left = total; left;) {
        size_t len = left < BULK_BUF ? (size_t)left : BULK_BUF;
        write_all(fd, buf, len);
        left -= len;
    }
    shutdown(fd, SHUT_WR);
    wait_fin_acked(fd, max_s * 1000000000ull);
    uint64_t w1 = bench_wall_ns(), c1 = bench_cpu_ns();
    close(fd);
    double wall = (double)(w1 - w0) / 1e9;
    bench_result_begin("send");
    bench_result_u64("bytes", total);
    bench_result_f("wall_s", wall);
    bench_result_f("sender_cpu_s", (double)(c1 - c0) / 1e9);
    bench_result_f("gbit_per_s", (double)total * 8 / wall / 1e9);
    bench_result_end();
    return 0;
}

static int cmd_recv(int argc, char **argv)
{
    const char *host = bench_arg_str(argc, argv, "--host", "0.0.0.0");
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 9000);
    int lfd = listen_on(host, port, 16, false);
    int c = accept(lfd, NULL, NULL);
    uint8_t *buf = malloc(BULK_BUF);
    uint64_t got = 0;
    ssize_t r;
    /* From the first byte to EOF: the sender's setup (a TUN device, a
     * handshake) is not counted. */
    uint64_t w0 = 0, c0 = 0;
    while ((r = read(c, buf, BULK_BUF)) > 0) {
        if (got == 0) {
            w0 = bench_wall_ns();
            c0 = bench_cpu_ns();
        }
        got += (uint64_t)r;
    }
    uint64_t w1 = bench_wall_ns(), c1 = bench_cpu_ns();
    close(c);
    close(lfd);
    double wall = got ? (double)(w1 - w0) / 1e9 : 0;
    bench_result_begin("recv");
    bench_result_u64("bytes", got);
    bench_result_f("wall_s", wall);
    bench_result_f("receiver_cpu_s", got ? (double)(c1 - c0) / 1e9 : 0);
    bench_result_f("gbit_per_s", wall > 0 ? (double)got * 8 / wall / 1e9 : 0);
    bench_result_end();
    return 0;
}

static int cmd_echo(int argc, char **argv)
{
    const char *host = bench_arg_str(argc, argv, "--host", "0.0.0.0");
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 7);
    int lfd = listen_on(host, port, 16, false);
    int c = accept(lfd, NULL, NULL);
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t buf[4096];
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0)
        write_all(c, buf, (size_t)r);
    close(c);
    close(lfd);
    return 0;
}

static int cmd_pingpong(int argc, char **argv)
{
    const char *host = bench_arg_str(argc, argv, "--host", "127.0.0.1");
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 7);
    uint64_t count = bench_arg_u64(argc, argv, "--count", 100000);
    uint64_t max_ns =
        bench_arg_u64(argc, argv, "--max-seconds", 10) * 1000000000ull;
    size_t size = (size_t)bench_arg_u64(argc, argv, "--size", MSG);
    struct sockaddr_in a = addr_of(host, port);
    int fd = -1;
    for (int i = 0; i < 100; i++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
            break;
        close(fd);
        fd = -1;
        usleep(20000);
    }
    if (fd < 0)
        bench_die("pingpong: connect %s:%u: %s", host, port, strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    uint8_t buf[4096] = {0};
    if (size > sizeof buf)
        size = sizeof buf;
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns(), done = 0;
    while (done < count && bench_wall_ns() - t0 < max_ns) {
        write_all(fd, buf, size);
        if (!read_full(fd, buf, size))
            bench_die("pingpong: connection ended");
        done++;
    }
    uint64_t t1 = bench_wall_ns(), c1 = bench_cpu_ns();
    close(fd);
    double wall = (double)(t1 - t0) / 1e9;
    bench_result_begin("pingpong");
    bench_result_u64("round_trips", done);
    bench_result_f("wall_s", wall);
    bench_result_f("rt_per_s", (double)done / wall);
    bench_result_f("us_per_rt", wall * 1e6 / (double)done);
    bench_result_f("client_cpu_s", (double)(c1 - c0) / 1e9);
    bench_result_end();
    return 0;
}

/* Runs argv after "--" and reports its CPU time and wall time. */
static int cmd_rusage(int argc, char **argv)
{
    int i = 1;
    while (i < argc && strcmp(argv[i], "--") != 0)
        i++;
    if (i + 1 >= argc)
        bench_die("rusage: usage: rusage [--name N] -- command args");
    const char *name = bench_arg_str(i, argv, "--name", "process");
    uint64_t t0 = bench_wall_ns();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[i + 1], argv + i + 1);
        _exit(127);
    }
    uint64_t cpu = 0;
    int st = reap(pid, &cpu);
    bench_result_begin("rusage");
    bench_result_s("name", name);
    bench_result_u64("status", (uint64_t)st);
    bench_result_f("cpu_s", (double)cpu / 1e9);
    bench_result_f("wall_s", (double)(bench_wall_ns() - t0) / 1e9);
    bench_result_end();
    return st;
}

/* ---- synflood ---- */

static volatile sig_atomic_t flood_stop;

static void on_flood_signal(int sig)
{
    (void)sig;
    flood_stop = 1;
}

static uint32_t flood_sum16(uint32_t s, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)b[i] << 8 | b[i + 1];
    return s;
}

static uint16_t flood_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)~s;
}

/* Makes the n-th SYN unique (a new source address in 10.128.0.0/9 for
 * each of 2^23, then a new port), so every one reaches the listener as a
 * new connection rather than a duplicate; both checksums redone. */
static void flood_unique(uint8_t *b, uint64_t n)
{
    uint32_t src = 0x0a800000u | (uint32_t)(n & 0x7fffffu);
    uint16_t sport = (uint16_t)(1024 + (n >> 23) % 60000);
    b[12] = (uint8_t)(src >> 24);
    b[13] = (uint8_t)(src >> 16);
    b[14] = (uint8_t)(src >> 8);
    b[15] = (uint8_t)src;
    b[20] = (uint8_t)(sport >> 8);
    b[21] = (uint8_t)sport;
    b[10] = b[11] = b[36] = b[37] = 0;
    uint16_t c = flood_fold(flood_sum16(0, b, 20));
    b[10] = (uint8_t)(c >> 8);
    b[11] = (uint8_t)c;
    uint8_t ph[12] = {b[12], b[13], b[14], b[15], b[16], b[17],
                      b[18], b[19], 0,     6,     0,     40};
    c = flood_fold(flood_sum16(flood_sum16(0, ph, 12), b + 20, 40));
    b[36] = (uint8_t)(c >> 8);
    b[37] = (uint8_t)c;
}

/* Forged SYNs from 10.128.0.0/9 to host:port, as berth-bench synflood
 * builds them (MSS, SACK-permitted, timestamps, window scale), for
 * --seconds or until SIGINT/SIGTERM. With --listen, a listener on
 * host:port that never accepts (else the caller provides one). The
 * namespace must route 10.128.0.0/9 (to lo: the SYN-ACKs then die as
 * not-for-us, after the kernel built and sent them). */
static int cmd_synflood(int argc, char **argv)
{
    const char *host = bench_arg_str(argc, argv, "--host", "127.0.0.1");
    uint16_t port = (uint16_t)bench_arg_u64(argc, argv, "--port", 20000);
    uint64_t secs = bench_arg_u64(argc, argv, "--seconds", 5);
    int lfd = bench_arg_flag(argc, argv, "--listen")
                  ? listen_on(host, port, 4096, true)
                  : -1;
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0)
        bench_die("raw socket: %s (needs root)", strerror(errno));
    struct sockaddr_in dst = addr_of(host, port);
    enum { N = 4096, LEN = 60 };
    static uint8_t pkt[N][LEN];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    uint32_t daddr = ntohl(dst.sin_addr.s_addr);
    for (int i = 0; i < N; i++) {
        uint8_t *b = pkt[i], *tcp = b + 20;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t src = 0x0a800000u | (uint32_t)(x >> 40 & 0x7fffffu);
        uint16_t sport = (uint16_t)(1024 + (x >> 20) % 60000);
        uint32_t seq = (uint32_t)(x >> 8);
        uint8_t h[60] = {0x45,
                         0,
                         0,
                         LEN,
                         0,
                         0,
                         0x40,
                         0,
                         64,
                         6,
                         0,
                         0,
                         (uint8_t)(src >> 24),
                         (uint8_t)(src >> 16),
                         (uint8_t)(src >> 8),
                         (uint8_t)src,
                         (uint8_t)(daddr >> 24),
                         (uint8_t)(daddr >> 16),
                         (uint8_t)(daddr >> 8),
                         (uint8_t)daddr,
                         (uint8_t)(sport >> 8),
                         (uint8_t)sport,
                         (uint8_t)(port >> 8),
                         (uint8_t)port,
                         (uint8_t)(seq >> 24),
                         (uint8_t)(seq >> 16),
                         (uint8_t)(seq >> 8),
                         (uint8_t)seq,
                         0,
                         0,
                         0,
                         0,
                         10 << 4,
                         0x02,
                         0xfa,
                         0xf0,
                         0,
                         0,
                         0,
                         0,
                         2,
                         4,
                         0x05,
                         0xb4,
                         4,
                         2,
                         8,
                         10,
                         0,
                         0,
                         0,
                         1,
                         0,
                         0,
                         0,
                         0,
                         1,
                         3,
                         3,
                         7};
        memcpy(b, h, LEN);
        uint16_t c = flood_fold(flood_sum16(0, b, 20));
        b[10] = (uint8_t)(c >> 8);
        b[11] = (uint8_t)c;
        uint8_t ph[12] = {b[12], b[13], b[14], b[15], b[16], b[17],
                          b[18], b[19], 0,     6,     0,     40};
        c = flood_fold(flood_sum16(flood_sum16(0, ph, 12), tcp, 40));
        tcp[16] = (uint8_t)(c >> 8);
        tcp[17] = (uint8_t)c;
    }
    signal(SIGINT, on_flood_signal);
    signal(SIGTERM, on_flood_signal);
    uint64_t t0 = bench_wall_ns(), c0 = bench_cpu_ns();
    uint64_t end = t0 + secs * 1000000000ull, sent = 0, failed = 0;
    while (!flood_stop && bench_wall_ns() < end) {
        for (int k = 0; k < 256; k++, sent++) {
            uint8_t *b = pkt[sent % N];
            flood_unique(b, sent);
            if (sendto(fd, b, LEN, 0, (struct sockaddr *)&dst, sizeof dst) !=
                LEN)
                failed++;
        }
    }
    double wall = (double)(bench_wall_ns() - t0) / 1e9;
    double cpu = (double)(bench_cpu_ns() - c0) / 1e9;
    bench_result_begin("synflood");
    bench_result_s("stack", "kernel");
    bench_result_u64("syns", sent - failed);
    bench_result_u64("send_errors", failed);
    bench_result_f("absorb_cpu_s", cpu);
    bench_result_f("syns_per_cpu_s", (double)(sent - failed) / cpu);
    bench_result_f("syns_per_s", (double)(sent - failed) / wall);
    bench_result_end();
    close(fd);
    if (lfd >= 0)
        close(lfd);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fprintf(stderr, "usage: kernel-bench lifecycle|bulk|mem|send|recv|"
                        "echo|pingpong|rusage|synflood [--option value ...]\n");
        return 2;
    }
    const char *cmd = argv[1];
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"lifecycle", cmd_lifecycle},
                {"bulk", cmd_bulk},
                {"mem", cmd_mem},
                {"send", cmd_send},
                {"recv", cmd_recv},
                {"echo", cmd_echo},
                {"pingpong", cmd_pingpong},
                {"rusage", cmd_rusage},
                {"synflood", cmd_synflood}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kernel-bench: unknown command '%s'\n", cmd);
    return 2;
}
