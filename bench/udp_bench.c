/* UDP datagram cost, berth against the kernel in the same run (RFC 768):
 *   rtt    request/response round trips per second (one datagram each
 *          way, an echo server), as a DNS-like exchange does
 *   blast  one-way datagrams per second, the receiver draining its queue
 * berth: two stacks in this process joined by the immediate in-memory link
 * (pair.h); kernel: two UDP sockets on 127.0.0.1 in this process. Both
 * count the whole path (stack, copies, the kernel's syscalls on its side).
 * Usage: udp-bench [--size BYTES] [--count N]. Prints RESULT lines and
 * the ratio; never fails on timing. */
#include "bench.h"
#include "pair.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64

static uint8_t buf[65536];

static double berth_run(uint64_t n, size_t size, bool blast)
{
    struct pair p;
    struct berth_config cfg[2];
    for (int i = 0; i < 2; i++)
        berth_config_init(&cfg[i]);
    cfg[1].udp_rcvq_max = 4 * BATCH;
    if (pair_init(&p, cfg, false, 64u << 20) != 0)
        bench_die("pair_init failed");
    int srv = berth_udp_socket(p.st[1]), cli = berth_udp_socket(p.st[0]);
    if (berth_bind(p.st[1], srv, 0, 7) != 0 ||
        berth_connect(p.st[0], cli, PAIR_SERVER_ADDR, 7) != 0)
        bench_die("berth UDP setup failed");
    memset(buf, 'b', size);
    uint64_t t0 = bench_wall_ns(), got = 0;
    for (uint64_t i = 0; i < n; i += blast ? BATCH : 1) {
        for (int k = 0; k < (blast ? BATCH : 1); k++)
            berth_send(p.st[0], cli, buf, size);
        pair_run(&p, UINT64_MAX);
        struct berth_endpoint from;
        int r;
        while ((r = berth_recvfrom(p.st[1], srv, buf, sizeof buf, &from)) >=
               0) {
            got++;
            if (!blast)
                berth_sendto(p.st[1], srv, buf, (size_t)r, &from);
        }
        if (!blast) {
            pair_run(&p, UINT64_MAX);
            if (berth_recv(p.st[0], cli, buf, sizeof buf) != (int)size)
                bench_die("berth: no echo");
        }
    }
    uint64_t ns = bench_wall_ns() - t0;
    if (got != n)
        bench_die("berth: %llu of %llu datagrams arrived",
                  (unsigned long long)got, (unsigned long long)n);
    berth_close(p.st[0], cli);
    berth_close(p.st[1], srv);
    pair_destroy(&p);
    return (double)n / ((double)ns / 1e9);
}

static int udp_sock(uint16_t port)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int big = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0)
        bench_die("kernel UDP socket: %m");
    return s;
}

static double kernel_run(uint64_t n, size_t size, bool blast)
{
    int srv = udp_sock(0), cli = udp_sock(0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    getsockname(srv, (struct sockaddr *)&sa, &sl);
    if (connect(cli, (struct sockaddr *)&sa, sizeof sa) != 0)
        bench_die("connect: %m");
    memset(buf, 'k', size);
    uint64_t t0 = bench_wall_ns(), got = 0;
    for (uint64_t i = 0; i < n; i += blast ? BATCH : 1) {
        for (int k = 0; k < (blast ? BATCH : 1); k++)
            if (send(cli, buf, size, 0) != (ssize_t)size)
                bench_die("send: %m");
        for (int k = 0; k < (blast ? BATCH : 1); k++) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t r = recvfrom(srv, buf, sizeof buf, 0,
                                 (struct sockaddr *)&from, &fl);
            if (r < 0)
                bench_die("recvfrom: %m");
            got++;
            if (!blast)
                sendto(srv, buf, (size_t)r, 0, (struct sockaddr *)&from, fl);
        }
        if (!blast && recv(cli, buf, sizeof buf, 0) != (ssize_t)size)
            bench_die("kernel: no echo");
    }
    uint64_t ns = bench_wall_ns() - t0;
    close(srv);
    close(cli);
    if (got != n)
        bench_die("kernel: %llu of %llu", (unsigned long long)got,
                  (unsigned long long)n);
    return (double)n / ((double)ns / 1e9);
}

int main(int argc, char **argv)
{
    size_t size = (size_t)bench_arg_u64(argc, argv, "--size", 64);
    uint64_t n = bench_arg_u64(argc, argv, "--count", 200000);
    if (size == 0 || size > 65507)
        bench_die("--size: 1..65507");
    n = (n + BATCH - 1) / BATCH * BATCH;
    for (int blast = 0; blast < 2; blast++) {
        const char *what = blast ? "udp_blast" : "udp_rtt";
        double b = berth_run(n, size, blast), k = kernel_run(n, size, blast);
        bench_result_begin(what);
        bench_result_u64("size", size);
        bench_result_u64("count", n);
        bench_result_f("berth_per_s", b);
        bench_result_f("kernel_per_s", k);
        bench_result_f("ratio", b / k);
        bench_result_end();
        fprintf(stderr, "%-9s %5zu B: berth %10.0f/s  kernel %10.0f/s  x%.2f\n",
                what, size, b, k, b / k);
    }
    return 0;
}
