/* The lifecycle workload (lifecycle.h): event callbacks for the client
 * and server stacks and the drivers. */
#include "lifecycle.h"

#include "bench.h"

#include <stdlib.h>
#include <string.h>

#define IDX_MASK ((1u << 21) - 1u) /* handle -> slot index (berth's layout) */

/* Per-handle state bits. */
enum {
    S_LISTENER = 0x01,
    S_SENT = 0x02,  /* client: request sent; server: response sent */
    S_IDLE = 0x04,  /* client: a held idle connection */
    S_UP = 0x08,    /* client: connected (idle connections) */
    S_CLOSED = 0x10 /* server: closed (the handle may be reused later) */
};

/* The client's connect, over the family lc->v6 says. */
static int lc_connect(const struct lc *lc, struct berth_stack *s, int h,
                      uint16_t port)
{
    if (!lc->v6)
        return berth_connect(s, h, PAIR_SERVER_ADDR, port);
    struct berth_endpoint to = berth_endpoint_v6(pair_addr6[1], port);
    return berth_connect_endpoint(s, h, &to);
}

static uint8_t msg[LC_MSG];

/* Reads what is there, adding the bytes to *got; returns berth_recv's last
 * result. berth_recv copies all it has up to the buffer's size, so a
 * shorter read took everything and no second call is made just to hear
 * EAGAIN (kernel-bench reads once per readiness event too), unless the
 * peer's FIN is in: the next call returns its 0. */
static int lc_read(struct berth_stack *s, int sock, uint32_t ev, uint8_t *got)
{
    uint8_t buf[256];
    int n;
    do {
        n = berth_recv(s, sock, buf, sizeof buf);
        if (n > 0)
            *got = (uint8_t)(*got + n);
    } while (n == (int)sizeof buf ||
             (n > 0 && (ev & (BERTH_EV_RDHUP | BERTH_EV_HUP))));
    return n;
}

static uint32_t slot(const struct lc *lc, int side, int sock)
{
    return (uint32_t)side * lc->nstate + ((uint32_t)sock & IDX_MASK);
}

static void lc_start(struct lc *lc)
{
    struct berth_stack *s = lc->p->st[0];
    int h = berth_socket(s);
    if (h < 0) {
        lc->errors++;
        return;
    }
    uint32_t i = slot(lc, 0, h);
    lc->state[i] = 0;
    lc->got[i] = 0;
    uint16_t port = lc->port[lc->next_port++ % lc->nports];
    int r = lc_connect(lc, s, h, port);
    if (r != BERTH_EINPROGRESS) {
        lc->errors++;
        berth_close(s, h);
        return;
    }
    lc->started++;
}

static void client_event(void *ctx, int sock, uint32_t ev)
{
    struct lc *lc = ctx;
    struct berth_stack *s = lc->p->st[0];
    uint32_t i = slot(lc, 0, sock);
    if (ev & BERTH_EV_ERROR) {
        lc->errors++;
        berth_close(s, sock);
        return;
    }
    if (lc->state[i] & S_IDLE) {
        if ((ev & BERTH_EV_WRITABLE) && !(lc->state[i] & S_UP)) {
            lc->state[i] |= S_UP;
            lc->idle_connected++;
        }
        return;
    }
    if ((ev & BERTH_EV_WRITABLE) && !(lc->state[i] & S_SENT)) {
        lc->state[i] |= S_SENT;
        if (berth_send(s, sock, msg, LC_MSG) != LC_MSG)
            lc->errors++;
    }
    if (ev & (BERTH_EV_READABLE | BERTH_EV_HUP)) {
        int n = lc_read(s, sock, ev, &lc->got[i]);
        if (lc->got[i] >= LC_MSG || n == 0) {
            berth_close(s, sock);
            lc->client_done++;
            if (lc->started < lc->target)
                lc_start(lc);
        }
    }
}

static void server_accept(struct lc *lc, int lsock)
{
    struct berth_stack *s = lc->p->st[1];
    for (;;) {
        int h = berth_accept(s, lsock, NULL);
        if (h < 0)
            break;
        uint32_t i = slot(lc, 1, h);
        lc->state[i] = 0;
        lc->got[i] = 0;
        if (lc->target == 0) /* hold mode: no data will come */
            lc->idle_accepted++;
    }
}

static void server_event(void *ctx, int sock, uint32_t ev)
{
    struct lc *lc = ctx;
    struct berth_stack *s = lc->p->st[1];
    uint32_t i = slot(lc, 1, sock);
    if (lc->state[i] & S_LISTENER) {
        server_accept(lc, sock);
        return;
    }
    if (lc->state[i] & S_CLOSED)
        return;
    if (ev & BERTH_EV_ERROR) {
        lc->errors++;
        lc->state[i] |= S_CLOSED;
        berth_close(s, sock);
        return;
    }
    if (!(ev & (BERTH_EV_READABLE | BERTH_EV_HUP)))
        return;
    int n = lc_read(s, sock, ev, &lc->got[i]);
    if (lc->got[i] >= LC_MSG && !(lc->state[i] & S_SENT)) {
        lc->state[i] |= S_SENT;
        if (berth_send(s, sock, msg, LC_MSG) != LC_MSG)
            lc->errors++;
    }
    if (n == 0) {
        lc->state[i] |= S_CLOSED;
        berth_close(s, sock);
        lc->server_done++;
    }
}

int lc_init(struct lc *lc, struct pair *p, struct berth_config cfg[2],
            bool virtual_time, unsigned nports)
{
    memset(lc, 0, sizeof *lc);
    memset(msg, 'x', sizeof msg);
    lc->p = p;
    if (nports < 1 || nports > LC_MAX_PORTS)
        return -1;
    cfg[0].event = client_event;
    cfg[0].event_ctx = lc;
    cfg[1].event = server_event;
    cfg[1].event_ctx = lc;
    uint32_t ns = cfg[0].max_sockets > cfg[1].max_sockets ? cfg[0].max_sockets
                                                          : cfg[1].max_sockets;
    lc->nstate = ns;
    lc->state = calloc(2 * (size_t)ns, 1);
    lc->got = calloc(2 * (size_t)ns, 1);
    if (!lc->state || !lc->got)
        return -1;
    size_t link =
        (size_t)(cfg[0].sndbuf > cfg[1].sndbuf ? cfg[0].sndbuf : cfg[1].sndbuf);
    link = 4 * link + (16u << 20);
    if (pair_init(p, cfg, virtual_time, link) != 0)
        return -1;
    struct berth_stack *s = p->st[1];
    lc->nports = nports;
    for (unsigned k = 0; k < nports; k++) {
        int h = berth_socket(s);
        lc->port[k] = (uint16_t)(5000 + k);
        struct berth_endpoint any6 =
            berth_endpoint_v6((uint8_t[16]){0}, lc->port[k]);
        if (h < 0 || berth_bind_endpoint(s, h, &any6) != 0 ||
            berth_listen(s, h, 4096) != 0)
            return -1;
        lc->listener[k] = h;
        lc->state[slot(lc, 1, h)] = S_LISTENER;
    }
    return 0;
}

void lc_destroy(struct lc *lc)
{
    pair_destroy(lc->p);
    free(lc->state);
    free(lc->got);
    free(lc->idle_socks);
}

uint64_t lc_run(struct lc *lc, uint64_t n, unsigned inflight, uint64_t max_ns)
{
    uint64_t t0 = bench_wall_ns();
    lc->target = n;
    lc->started = lc->client_done = lc->server_done = 0;
    for (unsigned k = 0; k < inflight && lc->started < n; k++)
        lc_start(lc);
    while (lc->server_done < lc->started || !pktq_empty(&lc->p->q)) {
        pair_run(lc->p, 4096);
        if (bench_wall_ns() - t0 > max_ns)
            break;
        if (pktq_empty(&lc->p->q) && lc->p->virtual_time) {
            /* Waiting on a timer: move virtual time to it. */
            uint64_t d = pair_next_deadline(lc->p);
            if (d == UINT64_MAX)
                break;
            pair_advance_to(lc->p, d);
        }
    }
    lc->target = 0;
    return lc->server_done < lc->client_done ? lc->server_done
                                             : lc->client_done;
}

uint64_t lc_hold(struct lc *lc, uint64_t n, unsigned batch)
{
    struct berth_stack *s = lc->p->st[0];
    free(lc->idle_socks);
    lc->idle_socks = calloc(n ? n : 1, sizeof(int));
    lc->idle_connected = lc->idle_accepted = 0;
    lc->target = 0;
    uint64_t opened = 0;
    while (opened < n) {
        for (unsigned k = 0; k < batch && opened < n; k++) {
            int h = berth_socket(s);
            if (h < 0)
                bench_die("hold: berth_socket: %s", berth_strerror(h));
            uint32_t i = slot(lc, 0, h);
            lc->state[i] = S_IDLE;
            uint16_t port = lc->port[lc->next_port++ % lc->nports];
            int r = lc_connect(lc, s, h, port);
            if (r != BERTH_EINPROGRESS)
                bench_die("hold: berth_connect: %s", berth_strerror(r));
            lc->idle_socks[opened++] = h;
        }
        pair_run(lc->p, UINT64_MAX);
    }
    return lc->idle_accepted < lc->idle_connected ? lc->idle_accepted
                                                  : lc->idle_connected;
}
