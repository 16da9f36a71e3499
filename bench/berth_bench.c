/* berth-bench: berth's side of the benchmarks, two stacks in one process
 * over the immediate in-memory link (pair.h). Subcommands:
 *   lifecycle  connections per second and CPU per connection
 *   bulk       one stream, bytes per CPU-second and per wall-second
 *   mem        bytes per idle connection, TIME-WAIT and SYN-queue entry
 *              (--family 6: the same over IPv6, results mem6_*)
 *   scale      lifecycle and timer cost with K idle connections held
 *   synflood   SYNs absorbed per CPU-second (SYN cookies), and the
 *              lifecycle rate with a flood interleaved
 *   shards     the lifecycle on N pinned threads, a pair each (shards.c)
 * Each prints one RESULT line (bench.h). */
#include "bench.h"
#include "lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void base_config(struct berth_config cfg[2])
{
    for (int i = 0; i < 2; i++)
        berth_config_init(&cfg[i]);
}

static uint64_t stack_counter_sum(const struct pair *p, enum berth_counter c)
{
    return berth_counter(p->st[0], c) + berth_counter(p->st[1], c);
}

/* ---- synflood ---- */

/* Forged SYNs from random sources in 10.128.0.0/9 (never the client's),
 * with MSS, SACK-permitted, timestamps and window scale as Linux sends
 * them; checksums right, so each one reaches the listener. */
#define FLOOD_PKTS    4096u
#define FLOOD_PKT_LEN 60u /* IPv4 20 + TCP 20 + options 20 */

struct flood {
    uint8_t (*pkt)[FLOOD_PKT_LEN];
    struct pair *p;
    uint64_t sent;
    uint32_t per_tick; /* SYNs injected at each pair_tick */
};

static uint32_t sum16(uint32_t s, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)b[i] << 8 | b[i + 1];
    return s;
}

static uint16_t fold16(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)~s;
}

static void put_be(uint8_t *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
}

static void flood_build(struct flood *f, uint16_t port)
{
    f->pkt = calloc(FLOOD_PKTS, FLOOD_PKT_LEN);
    if (!f->pkt)
        bench_die("synflood: out of memory");
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint32_t i = 0; i < FLOOD_PKTS; i++) {
        uint8_t *b = f->pkt[i], *t = b + 20;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t src = 0x0a800000u | (uint32_t)(x >> 40 & 0x7fffffu);
        b[0] = 0x45;
        put_be(b + 2, FLOOD_PKT_LEN, 2);
        b[6] = 0x40;
        b[8] = 64;
        b[9] = 6;
        put_be(b + 12, src, 4);
        put_be(b + 16, PAIR_SERVER_ADDR, 4);
        put_be(b + 10, fold16(sum16(0, b, 20)), 2);
        put_be(t, 1024 + (x >> 20) % 60000, 2);
        put_be(t + 2, port, 2);
        put_be(t + 4, x >> 8, 4);
        t[12] = 10 << 4; /* 40 bytes of header */
        t[13] = 0x02;    /* SYN */
        put_be(t + 14, 64240, 2);
        static const uint8_t opts[20] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
                                         0, 1, 0,    0,    0, 0, 1, 3,  3, 7};
        memcpy(t + 20, opts, sizeof opts);
        uint8_t ph[12];
        memcpy(ph, b + 12, 8);
        ph[8] = 0;
        ph[9] = 6;
        put_be(ph + 10, 40, 2);
        put_be(t + 16, fold16(sum16(sum16(0, ph, 12), t, 40)), 2);
    }
}

/* Makes the n-th SYN unique (a new source for each of 2^23, then a new
 * port), so each is a new half-open connection, not a duplicate; both
 * checksums redone (kernel-bench synflood does the same). */
static void flood_unique(uint8_t *b, uint64_t n)
{
    put_be(b + 12, 0x0a800000u | (uint32_t)(n & 0x7fffffu), 4);
    put_be(b + 20, 1024 + (n >> 23) % 60000, 2);
    put_be(b + 10, 0, 2);
    put_be(b + 36, 0, 2);
    put_be(b + 10, fold16(sum16(0, b, 20)), 2);
    uint8_t ph[12];
    memcpy(ph, b + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    put_be(ph + 10, 40, 2);
    put_be(b + 36, fold16(sum16(sum16(0, ph, 12), b + 20, 40)), 2);
}

static void flood_inject(struct flood *f, uint64_t n)
{
    struct berth_stack *s = f->p->st[1];
    for (uint64_t i = 0; i < n; i++, f->sent++) {
        uint8_t *b = f->pkt[f->sent % FLOOD_PKTS];
        flood_unique(b, f->sent);
        berth_input(s, b, FLOOD_PKT_LEN, f->p->now);
    }
}

static void flood_tick(void *ctx)
{
    struct flood *f = ctx;
    flood_inject(f, f->per_tick);
}

static int cmd_synflood(int argc, char **argv)
{
    uint64_t syns = bench_arg_u64(argc, argv, "--syns", 2000000);
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 50000);
    /* Forged SYNs per 64 packets of the legitimate lifecycles. */
    uint32_t ratio = (uint32_t)bench_arg_u64(argc, argv, "--per-tick", 64);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    struct berth_config cfg[2];
    struct pair p;
    struct lc lc;

    /* Without a flood: the reference lifecycle rate, on its own pair. */
    base_config(cfg);
    if (lc_init(&lc, &p, cfg, false, 1) != 0)
        bench_die("synflood: setup failed");
    uint64_t t0 = bench_wall_ns();
    uint64_t base_done = lc_run(&lc, n, 64, max_s * 1000000000ull);
    double base_wall = (double)(bench_wall_ns() - t0) / 1e9;
    lc_destroy(&lc);

    base_config(cfg);
    if (lc_init(&lc, &p, cfg, false, 1) != 0)
        bench_die("synflood: setup failed");
    struct flood f = {.p = &p, .per_tick = ratio};
    flood_build(&f, lc.port[0]);

    /* Absorbing: the server alone (its SYN-ACKs to the forged sources are
     * lost), until the SYN queue is full and cookies answer. */
    p.drop_from[1] = true;
    uint64_t c0 = bench_cpu_ns();
    t0 = bench_wall_ns();
    for (uint64_t i = 0; i < syns; i += 4096) {
        flood_inject(&f, syns - i < 4096 ? syns - i : 4096);
        pair_tick(&p);
    }
    double absorb_cpu = (double)(bench_cpu_ns() - c0) / 1e9;
    double absorb_wall = (double)(bench_wall_ns() - t0) / 1e9;
    uint64_t cookies = berth_counter(p.st[1], BERTH_CTR_SYNCOOKIES_SENT);
    p.drop_from[1] = false;
    pair_run(&p, UINT64_MAX);
    /* The client stack idled through the absorbing: bring its clock (which
     * stamps its connects) up to now. */
    for (int i = 0; i < 2; i++)
        berth_advance(p.st[i], p.now);

    /* Legitimate lifecycles with the flood interleaved. */
    uint64_t sent0 = f.sent,
             valid0 = berth_counter(p.st[1], BERTH_CTR_SYNCOOKIES_RECV);
    p.tick_hook = flood_tick;
    p.tick_ctx = &f;
    t0 = bench_wall_ns();
    uint64_t done = lc_run(&lc, n, 64, max_s * 1000000000ull);
    double wall = (double)(bench_wall_ns() - t0) / 1e9;
    p.tick_hook = NULL;

    bench_result_begin("synflood");
    bench_result_s("stack", "berth");
    bench_result_u64("syns", syns);
    bench_result_f("absorb_cpu_s", absorb_cpu);
    bench_result_f("syns_per_cpu_s", (double)syns / absorb_cpu);
    bench_result_f("syns_per_s", (double)syns / absorb_wall);
    bench_result_u64("cookies_sent", cookies);
    bench_result_u64("base_conns", base_done);
    bench_result_f("base_conn_per_s", (double)base_done / base_wall);
    bench_result_u64("conns", done);
    bench_result_u64("errors", lc.errors + (n - done) + (n - base_done));
    bench_result_f("conn_per_s", (double)done / wall);
    bench_result_f("flood_syns_per_s", (double)(f.sent - sent0) / wall);
    bench_result_u64("cookie_conns",
                     berth_counter(p.st[1], BERTH_CTR_SYNCOOKIES_RECV) -
                         valid0);
    bench_result_end();
    free(f.pkt);
    lc_destroy(&lc);
    return done == n && base_done == n ? 0 : 1;
}

/* ---- lifecycle ---- */

/* --log-hook: the event log on, into a hook that only counts, so the
 * figure is the core's cost of building every event (docs/events.md); the
 * runtime's JSON writing comes on top. */
static void count_event(void *ctx, const struct berth_log_event *ev)
{
    (void)ev;
    ++*(uint64_t *)ctx;
}

static int cmd_lifecycle(int argc, char **argv)
{
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 200000);
    unsigned inflight = (unsigned)bench_arg_u64(argc, argv, "--inflight", 64);
    unsigned ports = (unsigned)bench_arg_u64(argc, argv, "--ports", 128);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    /* --virtual: time stands still (repeatable, for callgrind). */
    bool virt = bench_arg_flag(argc, argv, "--virtual");
    /* --buf: socket buffer size (default: berth's defaults). */
    uint64_t buf = bench_arg_u64(argc, argv, "--buf", 0);
    bool log = bench_arg_flag(argc, argv, "--log-hook");
    /* --offload: the link of bulk --offload (no checksum verified, TSO
     * allowed: pair.h); --handoff: no copy into the link's queue. Off by
     * default: the reference figures are the plain link's. */
    bool offload = bench_arg_flag(argc, argv, "--offload");
    bool handoff = bench_arg_flag(argc, argv, "--handoff");
    uint64_t events = 0;
    struct berth_config cfg[2];
    base_config(cfg);
    for (int i = 0; i < 2 && buf; i++)
        cfg[i].sndbuf = cfg[i].rcvbuf = (uint32_t)buf;
    for (int i = 0; i < 2 && offload; i++)
        cfg[i].tso_max = 65535;
    for (int i = 0; i < 2 && log; i++) {
        cfg[i].log = count_event;
        cfg[i].log_ctx = &events;
    }
    struct pair p;
    struct lc lc;
    if (lc_init(&lc, &p, cfg, virt, ports) != 0)
        bench_die("lifecycle: setup failed");
    p.handoff = handoff;
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    uint64_t done = lc_run(&lc, n, inflight, max_s * 1000000000ull);
    uint64_t t1 = bench_wall_ns(), c1 = bench_cpu_ns();
    if (done != n || lc.errors)
        fprintf(stderr, "lifecycle: %llu of %llu done, %llu errors\n",
                (unsigned long long)done, (unsigned long long)n,
                (unsigned long long)lc.errors);
    double wall = (double)(t1 - t0) / 1e9, cpu = (double)(c1 - c0) / 1e9;
    bench_result_begin("lifecycle");
    bench_result_s("stack", "berth");
    bench_result_u64("buf", cfg[0].sndbuf);
    bench_result_u64("offload", offload);
    bench_result_u64("handoff", handoff);
    bench_result_u64("conns", done);
    bench_result_u64("errors", lc.errors + (n - done));
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("conn_per_s", (double)done / wall);
    bench_result_f("cpu_us_per_conn", cpu * 1e6 / (double)(done ? done : 1));
    bench_result_f("segs_per_conn",
                   (double)stack_counter_sum(&p, BERTH_CTR_SEGS_OUT) /
                       (double)(done ? done : 1));
    bench_result_u64("time_wait",
                     berth_counter(p.st[0], BERTH_CTR_TIME_WAIT_ENTERED));
    if (log)
        bench_result_f("events_per_conn",
                       (double)events / (double)(done ? done : 1));
    bench_result_end();
    lc_destroy(&lc);
    return done == n && lc.errors == 0 ? 0 : 1;
}

/* ---- bulk ---- */

/* --verify: the stream's byte at offset k is pat[k % BULK_PERIOD], random
 * bytes with a prime period (no buffer, MSS or ring size is a multiple of
 * it, so a byte misplaced, lost or duplicated shows). pat holds the period
 * repeated over BULK_CHUNK + BULK_PERIOD bytes: the stream from any offset
 * k is pat + k % BULK_PERIOD, for up to BULK_CHUNK bytes, with no copy. */
#define BULK_CHUNK  (256u * 1024u)
#define BULK_PERIOD 65521u

struct bulk {
    struct pair *p;
    int csock, ssock, lsock;
    uint64_t total, sent, received;
    bool client_closed, server_done;
    bool zerocopy, verify;
    bool writable; /* the client heard WRITABLE since its last EAGAIN */
    uint64_t bad;  /* bytes that failed the pattern check */
    uint8_t pat[BULK_CHUNK + BULK_PERIOD]; /* what the client sends */
    uint8_t rbuf[BULK_CHUNK];              /* where the server reads */
};

static void pattern_init(uint8_t *pat, size_t n)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < BULK_PERIOD; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        pat[i] = (uint8_t)(x >> 56);
    }
    for (size_t i = BULK_PERIOD; i < n; i++)
        pat[i] = pat[i - BULK_PERIOD];
}

/* Checks n received bytes at stream offset off (any n: in chunks). */
static void pattern_check(struct bulk *b, const uint8_t *d, size_t n,
                          uint64_t off)
{
    while (n > 0) {
        size_t k = n < BULK_CHUNK ? n : BULK_CHUNK;
        if (memcmp(d, b->pat + off % BULK_PERIOD, k) != 0)
            b->bad += k;
        d += k;
        off += k;
        n -= k;
    }
}

/* Writes the stream's bytes from offset off into n bytes at d. */
static void pattern_fill(const struct bulk *b, uint8_t *d, size_t n,
                         uint64_t off)
{
    while (n > 0) {
        size_t k = n < BULK_CHUNK ? n : BULK_CHUNK;
        memcpy(d, b->pat + off % BULK_PERIOD, k);
        d += k;
        off += k;
        n -= k;
    }
}

/* --zerocopy: the client writes straight into the send buffer (without
 * --verify it writes nothing there, just as the copying client sends the
 * same static buffer over and over: the application's making of its data
 * is not measured either way; what is saved is the copy into the stack). */
static int bulk_send_zc(struct bulk *b, struct berth_stack *s, uint64_t left)
{
    struct berth_span sp[2];
    size_t len = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
    int r = berth_send_reserve(s, b->csock, len, sp);
    if (r <= 0)
        return r;
    if (b->verify) {
        pattern_fill(b, sp[0].data, sp[0].len, b->sent);
        pattern_fill(b, sp[1].data, sp[1].len, b->sent + sp[0].len);
    }
    return berth_send_commit(s, b->csock, (size_t)r);
}

/* One write of up to BULK_CHUNK bytes (the main loop's step, cmd_bulk).
 * The client writes from the main loop, not from its WRITABLE callback:
 * between two writes the link delivers what the peer sent meanwhile (its
 * ACKs), as the kernel's loopback does within a write() (the receiver's
 * processing and its ACK run in the sender's transmit, the ACK taken from
 * the socket's backlog before the next chunk is copied), so the data in
 * flight stays what the receiver has not yet acknowledged, not a whole
 * send buffer written ahead of the ACKs. */
static void bulk_client_send(struct bulk *b)
{
    struct berth_stack *s = b->p->st[0];
    if (b->sent < b->total) {
        uint64_t left = b->total - b->sent;
        int r;
        if (b->zerocopy) {
            r = bulk_send_zc(b, s, left);
        } else {
            size_t len = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
            r = berth_send(s, b->csock, b->pat + b->sent % BULK_PERIOD, len);
        }
        if (r <= 0) {
            b->writable = false; /* until WRITABLE says there is room */
            return;
        }
        b->sent += (uint64_t)r;
    }
    if (b->sent == b->total && !b->client_closed) {
        b->client_closed = true;
        berth_close(s, b->csock);
    }
}

static void bulk_client_event(void *ctx, int sock, uint32_t ev)
{
    struct bulk *b = ctx;
    (void)sock;
    if (ev & BERTH_EV_ERROR)
        bench_die("bulk: client error");
    if (ev & BERTH_EV_WRITABLE)
        b->writable = true;
}

/* Reads what is there: 0 at the end of the stream, < 0 when nothing is. */
static int bulk_read(struct bulk *b, struct berth_stack *s, int sock)
{
    if (!b->zerocopy) {
        int r = berth_recv(s, sock, b->rbuf, sizeof b->rbuf);
        if (r > 0 && b->verify)
            pattern_check(b, b->rbuf, (size_t)r, b->received);
        return r;
    }
    /* --zerocopy: the bytes are looked at (with --verify) in the receive
     * buffer, then consumed. */
    struct berth_span sp[2];
    int r = berth_recv_peek(s, sock, sp);
    if (r <= 0)
        return r;
    if (b->verify) {
        pattern_check(b, sp[0].data, sp[0].len, b->received);
        pattern_check(b, sp[1].data, sp[1].len, b->received + sp[0].len);
    }
    return berth_recv_consume(s, sock, (size_t)r);
}

static void bulk_server_event(void *ctx, int sock, uint32_t ev)
{
    struct bulk *b = ctx;
    struct berth_stack *s = b->p->st[1];
    (void)ev;
    if (sock == b->lsock) {
        int h = berth_accept(s, b->lsock, NULL);
        if (h >= 0)
            b->ssock = h;
        sock = h;
        if (h < 0)
            return;
    }
    if (sock != b->ssock || b->server_done)
        return;
    int r;
    while ((r = bulk_read(b, s, sock)) > 0)
        b->received += (uint64_t)r;
    if (r == 0) {
        b->server_done = true;
        berth_close(s, sock);
    }
}

/* Options: --bytes, --mss, --buf (both buffers), --max-seconds; the link:
 * --offload (TSO super-segments up to 64 KiB handed over whole, no checksum
 * verified: pair.h), --handoff (no copy into the link's queue), --sg
 * (scatter-gather: text sent from the send buffer in place, taken into the
 * receive buffer from there, pair.h); the application: --zerocopy
 * (berth_send_reserve/commit and berth_recv_peek/consume instead of
 * berth_send/recv), --verify (the content is checked: complete=1 only if every
 * byte arrived in order). */
static int cmd_bulk(int argc, char **argv)
{
    static struct bulk b;
    uint64_t total = bench_arg_u64(argc, argv, "--bytes", 4ull << 30);
    uint64_t mss = bench_arg_u64(argc, argv, "--mss", 1460);
    uint64_t bufsz = bench_arg_u64(argc, argv, "--buf", 4u << 20);
    uint64_t max_s = bench_arg_u64(argc, argv, "--max-seconds", 60);
    bool offload = bench_arg_flag(argc, argv, "--offload");
    bool handoff = bench_arg_flag(argc, argv, "--handoff");
    struct berth_config cfg[2];
    base_config(cfg);
    for (int i = 0; i < 2; i++) {
        cfg[i].mss = (uint16_t)mss;
        cfg[i].sndbuf = (uint32_t)bufsz;
        cfg[i].rcvbuf = (uint32_t)bufsz;
        cfg[i].event_ctx = &b;
        if (offload)
            cfg[i].tso_max = 65535;
    }
    cfg[0].event = bulk_client_event;
    cfg[1].event = bulk_server_event;
    struct pair p;
    memset(&b, 0, sizeof b);
    b.p = &p;
    b.total = total;
    b.ssock = b.lsock = -1;
    b.zerocopy = bench_arg_flag(argc, argv, "--zerocopy");
    b.verify = bench_arg_flag(argc, argv, "--verify");
    pattern_init(b.pat, sizeof b.pat);
    bool sg = bench_arg_flag(argc, argv, "--sg");
    if (pair_init_sg(&p, cfg, false, 4 * bufsz + (16u << 20), sg) != 0)
        bench_die("bulk: setup failed (mss %llu)", (unsigned long long)mss);
    p.handoff = handoff;
    b.lsock = berth_socket(p.st[1]);
    if (berth_bind(p.st[1], b.lsock, 0, 5001) != 0 ||
        berth_listen(p.st[1], b.lsock, 16) != 0)
        bench_die("bulk: listen failed");
    b.csock = berth_socket(p.st[0]);
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    berth_connect(p.st[0], b.csock, PAIR_SERVER_ADDR, 5001);
    uint64_t deadline = t0 + max_s * 1000000000ull;
    /* A chunk, then what the link holds (bulk_client_send). */
    while (!b.server_done && bench_wall_ns() < deadline) {
        if (b.writable && !b.client_closed)
            bulk_client_send(&b);
        pair_run(&p, 1024);
    }
    uint64_t t1 = bench_wall_ns(), c1 = bench_cpu_ns();
    double wall = (double)(t1 - t0) / 1e9, cpu = (double)(c1 - c0) / 1e9;
    uint64_t segs = berth_counter(p.st[0], BERTH_CTR_SEGS_OUT);
    bool complete = b.received == total && b.bad == 0;
    bench_result_begin("bulk");
    bench_result_s("stack", "berth");
    bench_result_u64("mss", mss);
    bench_result_u64("buf", bufsz);
    bench_result_u64("offload", offload);
    bench_result_u64("handoff", handoff);
    bench_result_u64("sg", sg);
    bench_result_u64("zerocopy", b.zerocopy);
    bench_result_u64("verify", b.verify);
    bench_result_u64("bytes", b.received);
    bench_result_u64("complete", complete);
    bench_result_u64("bad_bytes", b.bad);
    bench_result_f("wall_s", wall);
    bench_result_f("cpu_s", cpu);
    bench_result_f("gbit_per_wall_s", (double)b.received * 8 / wall / 1e9);
    bench_result_f("gbyte_per_cpu_s", (double)b.received / cpu / 1e9);
    bench_result_f("data_segs", (double)segs);
    /* The TCP work per byte, to compare link schedules: segments the
     * client sent (TSO super-segments count once) and the server's (its
     * ACKs and window updates), per GB delivered. */
    uint64_t acks = berth_counter(p.st[1], BERTH_CTR_SEGS_OUT);
    double gb = (double)(b.received ? b.received : 1) / 1e9;
    bench_result_f("ack_segs", (double)acks);
    bench_result_f("data_segs_per_gb", (double)segs / gb);
    bench_result_f("ack_segs_per_gb", (double)acks / gb);
    bench_result_u64("retrans", stack_counter_sum(&p, BERTH_CTR_RETRANS_SEGS));
    bench_result_u64("link_queued", p.q.packets);
    bench_result_u64("link_handed", p.handed);
    bench_result_u64("link_dropped", p.q.dropped);
    bench_result_end();
    pair_destroy(&p);
    return complete ? 0 : 1;
}

/* ---- memory ---- */

static int cmd_mem(int argc, char **argv)
{
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 100000);
    /* --family 6: the same over IPv6 (results mem6_*): the records are the
     * IPv4 ones, with the peer's address interned once per stack. */
    bool v6 = bench_arg_u64(argc, argv, "--family", 4) == 6;
    struct berth_config cfg[2];
    base_config(cfg);
    for (int i = 0; i < 2; i++)
        cfg[i].max_sockets = (uint32_t)(n + 1024);
    cfg[1].syn_backlog = 65535;
    struct pair p;
    struct lc lc;
    size_t rss0 = bench_rss_bytes();
    if (lc_init(&lc, &p, cfg, true, (unsigned)(n / 10000 + 1)) != 0)
        bench_die("mem: setup failed");
    lc.v6 = v6;
    size_t m0[2] = {berth_mem_bytes(p.st[0]), berth_mem_bytes(p.st[1])};
    size_t rss1 = bench_rss_bytes();
    uint64_t up = lc_hold(&lc, n, 256);
    if (up != n)
        bench_die("mem: %llu of %llu established", (unsigned long long)up,
                  (unsigned long long)n);
    size_t rss2 = bench_rss_bytes();
    size_t m1[2] = {berth_mem_bytes(p.st[0]), berth_mem_bytes(p.st[1])};
    double dn = (double)n;
    bench_result_begin(v6 ? "mem6_established" : "mem_established");
    bench_result_s("stack", "berth");
    bench_result_u64("conns", n);
    bench_result_f("client_bytes", (double)(m1[0] - m0[0]) / dn);
    bench_result_f("server_bytes", (double)(m1[1] - m0[1]) / dn);
    bench_result_f("pair_bytes", (double)(m1[0] - m0[0] + m1[1] - m0[1]) / dn);
    bench_result_f("rss_pair_bytes", (double)(rss2 - rss1) / dn);
    bench_result_f("tables_bytes", (double)(rss1 - rss0));
    bench_result_end();

    /* Then one 64-byte request and response on a sample of them: the
     * buffers exist now (a sample: at full size they take gigabytes). */
    uint64_t ns = n < 2000 ? n : 2000;
    uint8_t req[LC_MSG] = {0}, buf[256];
    for (uint64_t k = 0; k < ns; k++)
        berth_send(p.st[0], lc.idle_socks[k], req, sizeof req);
    pair_run(&p, UINT64_MAX);
    /* The server answered each (server_event); the client reads it. */
    pair_advance_to(&p, p.now + 100000); /* delayed ACKs */
    for (uint64_t k = 0; k < ns; k++)
        while (berth_recv(p.st[0], lc.idle_socks[k], buf, sizeof buf) > 0)
            ;
    pair_advance_to(&p, p.now + 100000);
    size_t m2[2] = {berth_mem_bytes(p.st[0]), berth_mem_bytes(p.st[1])};
    bench_result_begin(v6 ? "mem6_after_request" : "mem_after_request");
    bench_result_s("stack", "berth");
    bench_result_u64("conns", ns);
    bench_result_f("client_bytes", (double)(m2[0] - m1[0]) / (double)ns +
                                       (double)(m1[0] - m0[0]) / dn);
    bench_result_f("server_bytes", (double)(m2[1] - m1[1]) / (double)ns +
                                       (double)(m1[1] - m0[1]) / dn);
    bench_result_f("pair_bytes",
                   (double)(m2[0] - m1[0] + m2[1] - m1[1]) / (double)ns +
                       (double)(m1[0] - m0[0] + m1[1] - m0[1]) / dn);
    bench_result_end();

    /* TIME-WAIT: the client closes first; the server closes on EOF. */
    for (uint64_t k = 0; k < n; k++)
        berth_close(p.st[0], lc.idle_socks[k]);
    /* Until every close is through (a FIN the link's queue bound dropped
     * is resent after an RTO), in 100 ms steps of virtual time, at most
     * 20 s: well within 2*MSL, so no entry expires meanwhile. */
    for (int k = 0;
         k < 200 && berth_counter(p.st[0], BERTH_CTR_TIME_WAIT_ENTERED) < n;
         k++) {
        pair_run(&p, UINT64_MAX);
        pair_advance_to(&p, p.now + 100000);
    }
    pair_run(&p, UINT64_MAX);
    pair_advance_to(&p, p.now + 100000);
    size_t m3[2] = {berth_mem_bytes(p.st[0]), berth_mem_bytes(p.st[1])};
    uint64_t tw = berth_counter(p.st[0], BERTH_CTR_TIME_WAIT_ENTERED);
    bench_result_begin(v6 ? "mem6_time_wait" : "mem_time_wait");
    bench_result_s("stack", "berth");
    bench_result_u64("entries", tw);
    bench_result_f("bytes", (double)(m3[0] - m0[0]) / (double)(tw ? tw : 1));
    bench_result_f("server_left_bytes", (double)(m3[1] - m0[1]));
    bench_result_end();
    lc_destroy(&lc);

    /* SYN queue: the server's SYN-ACKs are lost, so every SYN stays a
     * half-open entry. */
    base_config(cfg);
    for (int i = 0; i < 2; i++)
        cfg[i].max_sockets = (uint32_t)(n + 1024);
    cfg[1].syn_backlog = 65535;
    if (lc_init(&lc, &p, cfg, true, (unsigned)(n / 20000 + 1)) != 0)
        bench_die("mem: setup failed");
    lc.v6 = v6;
    p.drop_from[1] = true;
    size_t s0 = berth_mem_bytes(p.st[1]);
    size_t rss3 = bench_rss_bytes();
    lc_hold(&lc, n, 256);
    size_t s1 = berth_mem_bytes(p.st[1]);
    size_t rss4 = bench_rss_bytes();
    uint64_t drops = berth_counter(p.st[1], BERTH_CTR_LISTEN_DROPS) +
                     berth_counter(p.st[1], BERTH_CTR_SYN_QUEUE_DROPS);
    bench_result_begin(v6 ? "mem6_syn_queue" : "mem_syn_queue");
    bench_result_s("stack", "berth");
    bench_result_u64("entries", n - drops);
    bench_result_f("bytes", (double)(s1 - s0) / (double)(n - drops));
    bench_result_f("client_syn_sent_bytes",
                   (double)berth_mem_bytes(p.st[0]) / dn);
    bench_result_f("rss_pair_bytes", (double)(rss4 - rss3) / dn);
    bench_result_end();
    lc_destroy(&lc);
    return 0;
}

/* ---- scale ---- */

static int cmd_scale(int argc, char **argv)
{
    uint64_t idle = bench_arg_u64(argc, argv, "--idle", 1000);
    uint64_t n = bench_arg_u64(argc, argv, "--conns", 100000);
    unsigned rounds = (unsigned)bench_arg_u64(argc, argv, "--rounds", 2);
    struct berth_config cfg[2];
    base_config(cfg);
    for (int i = 0; i < 2; i++) {
        cfg[i].max_sockets = (uint32_t)(idle + 4096);
        cfg[i].ephemeral_lo = 1024;
        cfg[i].ephemeral_hi = 65535;
        /* What is measured is the cost of a lifecycle beside K idle
         * connections, not the memory budget: 1M idle connections hold
         * about 1 GB, beyond the default 256 MiB, and the budget would
         * rightly refuse the lifecycles their buffers. */
        cfg[i].mem_limit = (size_t)16 << 30;
        /* The sizing hint (berth.h) each side would give, knowing what it
         * holds: the idle connections, and on the client (which closes
         * first) the TIME-WAIT entries of the lifecycles, which outlive
         * the run; 4096 for those in flight. The 4-tuple tables then
         * never grow during the run. --no-hint: start small and grow. */
        if (!bench_arg_flag(argc, argv, "--no-hint")) {
            uint64_t hint = idle + 4096 + (i == 0 ? n : 0);
            cfg[i].expected_conns =
                (uint32_t)(hint < (1u << 24) ? hint : (1u << 24));
        }
    }
    struct pair p;
    struct lc lc;
    if (lc_init(&lc, &p, cfg, true, 64) != 0)
        bench_die("scale: setup failed");
    uint64_t t0 = bench_wall_ns();
    uint64_t up = lc_hold(&lc, idle, 256);
    if (up != idle)
        bench_die("scale: %llu of %llu idle connections",
                  (unsigned long long)up, (unsigned long long)idle);
    fprintf(stderr, "scale: %llu idle connections up in %.1f s\n",
            (unsigned long long)idle, (double)(bench_wall_ns() - t0) / 1e9);

    /* Lifecycle cost with them held. */
    uint64_t c0 = bench_cpu_ns(), w0 = bench_wall_ns();
    uint64_t done = lc_run(&lc, n, 64, 120000000000ull);
    uint64_t c1 = bench_cpu_ns(), w1 = bench_wall_ns();

    /* Timer cost: keepalive on every idle connection (1 s idle, 1 s
     * interval); each expiry sends a probe, the peer ACKs it, the timer
     * is armed again. Time jumps from deadline to deadline. */
    for (uint64_t k = 0; k < idle; k++) {
        int h = lc.idle_socks[k];
        berth_setopt(p.st[0], h, BERTH_OPT_KEEPIDLE, 1000000);
        berth_setopt(p.st[0], h, BERTH_OPT_KEEPINTVL, 1000000);
        berth_setopt(p.st[0], h, BERTH_OPT_KEEPALIVE, 1);
    }
    uint64_t probes0 = berth_counter(p.st[0], BERTH_CTR_KEEPALIVE_PROBES);
    uint64_t end = p.now + (uint64_t)rounds * 1000000 + 500000;
    uint64_t c2 = bench_cpu_ns(), w2 = bench_wall_ns();
    uint64_t advances = 0;
    for (;;) {
        uint64_t d = pair_next_deadline(&p);
        if (d > end)
            break;
        pair_advance_to(&p, d);
        advances++;
    }
    uint64_t c3 = bench_cpu_ns(), w3 = bench_wall_ns();
    uint64_t probes =
        berth_counter(p.st[0], BERTH_CTR_KEEPALIVE_PROBES) - probes0;
    bench_result_begin("scale");
    bench_result_s("stack", "berth");
    bench_result_u64("idle", idle);
    bench_result_u64("expected_conns_client", cfg[0].expected_conns);
    bench_result_u64("expected_conns_server", cfg[1].expected_conns);
    bench_result_u64("conns", done);
    bench_result_u64("errors", lc.errors + (n - done));
    bench_result_f("cpu_us_per_conn",
                   (double)(c1 - c0) / 1e3 / (double)(done ? done : 1));
    bench_result_f("wall_us_per_conn",
                   (double)(w1 - w0) / 1e3 / (double)(done ? done : 1));
    bench_result_u64("timers", probes);
    bench_result_u64("advances", advances);
    bench_result_f("cpu_ns_per_timer",
                   (double)(c3 - c2) / (double)(probes ? probes : 1));
    bench_result_f("wall_ns_per_timer",
                   (double)(w3 - w2) / (double)(probes ? probes : 1));
    bench_result_f("mem_bytes", (double)(berth_mem_bytes(p.st[0]) +
                                         berth_mem_bytes(p.st[1])));
    bench_result_f("rss_bytes", (double)bench_rss_bytes());
    bench_result_end();
    lc_destroy(&lc);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: berth-bench lifecycle|bulk|mem|scale|synflood|"
                        "shards "
                        "[--option value ...]\n");
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "lifecycle") == 0)
        return cmd_lifecycle(argc - 1, argv + 1);
    if (strcmp(cmd, "bulk") == 0)
        return cmd_bulk(argc - 1, argv + 1);
    if (strcmp(cmd, "mem") == 0)
        return cmd_mem(argc - 1, argv + 1);
    if (strcmp(cmd, "scale") == 0)
        return cmd_scale(argc - 1, argv + 1);
    if (strcmp(cmd, "synflood") == 0)
        return cmd_synflood(argc - 1, argv + 1);
    if (strcmp(cmd, "shards") == 0)
        return cmd_shards(argc - 1, argv + 1);
    fprintf(stderr, "berth-bench: unknown command '%s'\n", cmd);
    return 2;
}
