/* lwip-bench: lwIP's side of the benchmarks (Debian's liblwip-dev 2.1.3),
 * the same work as berth-bench in one process: a client and a server on
 * one lwIP instance talking through lwIP's loopback (packets to the
 * netif's own address are copied into a pbuf and queued, then input by
 * netif_poll). Debian builds lwIP with NO_SYS=0, so everything runs in
 * lwIP's tcpip thread, as lwIP's raw-API applications do there: the main
 * thread only starts the work and waits. Subcommands:
 *   lifecycle [--conns N] [--inflight 64] [--tw-cap 256]
 *   bulk [--bytes N]
 * Each prints one RESULT line (bench.h).
 *
 * TIME-WAIT: Debian's lwIP allocates PCBs with malloc, so TIME-WAIT PCBs
 * live 2 MSL = 2 minutes on a linear list that every SYN lookup and every
 * new local port walks, and after 16,384 connections no port is left. An
 * lwIP with its usual fixed PCB pool (MEMP_NUM_TCP_PCB) instead recycles
 * the oldest TIME-WAIT PCB when the pool is empty (tcp_kill_timewait);
 * --tw-cap N does exactly that before each new connection, as a pool of
 * about 2*inflight + N PCBs would. --tw-cap 0 leaves lwIP as built. */
#include "bench.h"

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MSG 64

static struct netif nif;
static ip_addr_t addr;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int finished;

static void signal_done(void)
{
    pthread_mutex_lock(&done_mu);
    finished = 1;
    pthread_cond_signal(&done_cv);
    pthread_mutex_unlock(&done_mu);
}

/* Waits for signal_done() or the time bound; true if done. */
static int wait_done(uint64_t max_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)max_s;
    pthread_mutex_lock(&done_mu);
    while (!finished)
        if (pthread_cond_timedwait(&done_cv, &done_mu, &ts) != 0)
            break;
    int f = finished;
    pthread_mutex_unlock(&done_mu);
    return f;
}

/* Nothing leaves the process: every packet goes to our own address, which
 * lwIP loops back before calling output. */
static err_t nif_output(struct netif *n, struct pbuf *p, const ip4_addr_t *a)
{
    (void)n;
    (void)p;
    (void)a;
    return ERR_RTE;
}

static err_t nif_init(struct netif *n)
{
    n->name[0] = 'b';
    n->name[1] = 'e';
    n->output = nif_output;
    n->mtu = 1500;
    n->flags = NETIF_FLAG_LINK_UP;
    return ERR_OK;
}

static void init_done(void *arg)
{
    (void)arg;
    ip_addr_t mask, gw;
    IP_ADDR4(&addr, 10, 0, 0, 1);
    IP_ADDR4(&mask, 255, 255, 255, 0);
    IP_ADDR4(&gw, 0, 0, 0, 0);
    netif_add(&nif, ip_2_ip4(&addr), ip_2_ip4(&mask), ip_2_ip4(&gw), NULL,
              nif_init, tcpip_input);
    netif_set_default(&nif);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
    signal_done();
}

static void lwip_start(void)
{
    tcpip_init(init_done, NULL);
    if (!wait_done(10))
        bench_die("lwIP did not start");
    finished = 0;
}

/* ---- lifecycle ---- */

static struct {
    uint64_t target, started, client_done, server_done, errors;
    unsigned inflight, tw_cap, nports, next_port;
    uint64_t tw_killed;
    uint8_t msg[MSG];
} lc;

/* Per-connection state lives in the tcp_arg pointer: bytes received, and
 * bit 8 once we answered. */
#define ST_SENT 0x100u

static void lc_start(void);

/* tcp_kill_timewait(): abort the TIME-WAIT PCB that has been there
 * longest, as lwIP does when its PCB pool is empty. */
static void tw_cap(void)
{
    unsigned n = 0;
    struct tcp_pcb *oldest = NULL;
    u32_t age = 0;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next) {
        n++;
        if ((u32_t)(tcp_ticks - p->tmr) >= age) {
            age = tcp_ticks - p->tmr;
            oldest = p;
        }
    }
    if (n >= lc.tw_cap && oldest) {
        tcp_abort(oldest);
        lc.tw_killed++;
    }
}

static void cl_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    lc.errors++;
    lc.client_done++;
    lc.server_done++; /* the server side will not finish either */
    if (lc.started < lc.target)
        lc_start();
}

static err_t cl_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)err;
    uintptr_t st = (uintptr_t)arg;
    if (p) {
        st += p->tot_len;
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
    }
    if (st >= MSG || !p) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK)
            lc.errors++;
        lc.client_done++;
        if (lc.started < lc.target)
            lc_start();
        return ERR_OK;
    }
    tcp_arg(pcb, (void *)st);
    return ERR_OK;
}

static err_t cl_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK ||
        tcp_write(pcb, lc.msg, MSG, TCP_WRITE_FLAG_COPY) != ERR_OK)
        lc.errors++;
    tcp_output(pcb);
    return ERR_OK;
}

static void lc_start(void)
{
    if (lc.tw_cap)
        tw_cap();
    struct tcp_pcb *pcb = tcp_new();
    if (!pcb) {
        lc.errors++;
        return;
    }
    lc.started++;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, cl_recv);
    tcp_err(pcb, cl_err);
    u16_t port = (u16_t)(5000 + lc.next_port++ % lc.nports);
    if (tcp_connect(pcb, &addr, port, cl_connected) != ERR_OK) {
        lc.errors++;
        lc.client_done++;
        lc.server_done++;
        tcp_abort(pcb);
    }
}

static void srv_err(void *arg, err_t err)
{
    (void)arg;
    (void)err;
    lc.errors++;
}

static err_t srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)err;
    uintptr_t st = (uintptr_t)arg;
    if (!p) {
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        if (tcp_close(pcb) != ERR_OK)
            lc.errors++;
        if (++lc.server_done == lc.target)
            signal_done();
        return ERR_OK;
    }
    st += p->tot_len;
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    if ((st & 0xffu) >= MSG && !(st & ST_SENT)) {
        st |= ST_SENT;
        if (tcp_write(pcb, lc.msg, MSG, TCP_WRITE_FLAG_COPY) != ERR_OK)
            lc.errors++;
        tcp_output(pcb);
    }
    tcp_arg(pcb, (void *)st);
    return ERR_OK;
}

static err_t srv_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, srv_recv);
    tcp_err(pcb, srv_err);
    return ERR_OK;
}

static void lc_begin(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < lc.nports; k++) {
        struct tcp_pcb *l = tcp_new();
        if (!l || tcp_bind(l, IP_ADDR_ANY, (u16_t)(5000 + k)) != ERR_OK)
            bench_die("lwIP: bind failed");
        l = tcp_listen_with_backlog(l, 255);
        if (!l)
            bench_die("lwIP: listen failed");
        tcp_accept(l, srv_accept);
    }
    signal_done();
}

static void lc_go(void *arg)
{
    (void)arg;
    for (unsigned k = 0; k < lc.inflight && lc.started < lc.target; k++)
        lc_start();
}

static int cmd_lifecycle(int argc, char **argv)
{
    lc.target = bench_arg_u64(argc, argv, "--conns", 100000);
    lc.inflight = (unsigned)bench_arg_u64(argc, argv, "--inflight", 64);
    lc.tw_cap = (unsigned)bench_arg_u64(argc, argv, "--tw-cap", 256);
    lc.nports = (unsigned)bench_arg_u64(argc, argv, "--ports", 1);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    memset(lc.msg, 'x', sizeof lc.msg);
    lwip_start();
    tcpip_callback(lc_begin, NULL);
    if (!wait_done(10))
        bench_die("lwIP: listeners");
    finished = 0;
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    tcpip_callback(lc_go, NULL);
    int ok = wait_done(max_s);
    uint64_t t1 = bench_wall_ns(), c1 = bench_cpu_ns();
    LOCK_TCPIP_CORE();
    uint64_t done = lc.server_done, errors = lc.errors;
    unsigned tw = 0;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p; p = p->next)
        tw++;
    UNLOCK_TCPIP_CORE();
    double wall = (double)(t1 - t0) / 1e9, cpu = (double)(c1 - c0) / 1e9;
    bench_result_begin("lifecycle");
    bench_result_s("stack", "lwip");
    bench_result_u64("conns", done);
    bench_result_u64("errors", errors + (ok ? 0 : 1));
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("conn_per_s", (double)done / wall);
    bench_result_f("cpu_us_per_conn", cpu * 1e6 / (double)(done ? done : 1));
    bench_result_u64("tw_cap", lc.tw_cap);
    bench_result_u64("tw_recycled", lc.tw_killed);
    bench_result_u64("time_wait_left", tw);
    bench_result_end();
    fflush(stdout);
    _exit(ok && errors == 0 ? 0 : 1); /* lwIP's thread never ends */
}

/* ---- bulk ---- */

static struct {
    uint64_t total, queued, received;
    struct tcp_pcb *client;
    int closed;
    uint8_t buf[65536];
} bk;

static void bk_fill(struct tcp_pcb *pcb)
{
    while (bk.queued < bk.total) {
        u16_t room = tcp_sndbuf(pcb);
        uint64_t left = bk.total - bk.queued;
        u16_t len = left < room ? (u16_t)left : room;
        if (len == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 1)
            break;
        if (tcp_write(pcb, bk.buf, len, TCP_WRITE_FLAG_COPY) != ERR_OK)
            break;
        bk.queued += len;
    }
    tcp_output(pcb);
    if (bk.queued == bk.total && !bk.closed) {
        bk.closed = 1;
        tcp_close(pcb);
    }
}

static err_t bk_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)len;
    if (!bk.closed)
        bk_fill(pcb);
    return ERR_OK;
}

static err_t bk_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        bench_die("lwIP bulk: connect failed");
    bk_fill(pcb);
    return ERR_OK;
}

static err_t bk_srv_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p,
                         err_t err)
{
    (void)arg;
    (void)err;
    if (!p) {
        tcp_close(pcb);
        signal_done();
        return ERR_OK;
    }
    bk.received += p->tot_len;
    /* The application reads the data out, as a socket reader would. */
    for (struct pbuf *q = p; q; q = q->next)
        memcpy(bk.buf, q->payload, q->len);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static err_t bk_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    (void)err;
    tcp_recv(pcb, bk_srv_recv);
    return ERR_OK;
}

static void bk_begin(void *arg)
{
    (void)arg;
    struct tcp_pcb *l = tcp_new();
    tcp_bind(l, IP_ADDR_ANY, 5001);
    l = tcp_listen_with_backlog(l, 4);
    tcp_accept(l, bk_accept);
    bk.client = tcp_new();
    tcp_sent(bk.client, bk_sent);
    tcp_connect(bk.client, &addr, 5001, bk_connected);
}

static int cmd_bulk(int argc, char **argv)
{
    bk.total = bench_arg_u64(argc, argv, "--bytes", 1ull << 30);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    lwip_start();
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    tcpip_callback(bk_begin, NULL);
    int ok = wait_done(max_s);
    uint64_t t1 = bench_wall_ns(), c1 = bench_cpu_ns();
    LOCK_TCPIP_CORE();
    uint64_t got = bk.received;
    UNLOCK_TCPIP_CORE();
    double wall = (double)(t1 - t0) / 1e9, cpu = (double)(c1 - c0) / 1e9;
    bench_result_begin("bulk");
    bench_result_s("stack", "lwip");
    bench_result_u64("mss", TCP_MSS);
    bench_result_u64("bytes", got);
    bench_result_u64("complete", ok && got == bk.total);
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("gbit_per_wall_s", (double)got * 8 / wall / 1e9);
    bench_result_f("gbyte_per_cpu_s", (double)got / cpu / 1e9);
    bench_result_end();
    fflush(stdout);
    _exit(ok && got == bk.total ? 0 : 1);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "lifecycle") == 0)
        return cmd_lifecycle(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "bulk") == 0)
        return cmd_bulk(argc - 1, argv + 1);
    fprintf(stderr, "usage: lwip-bench lifecycle|bulk [--option value ...]\n");
    return 2;
}
