/* Link tests of the memory budget (berth_config.mem_limit, issue 12): two
 * stacks over the in-memory link, public API only. Readers that stop
 * reading while writers keep writing over many connections push a stack
 * into pressure and to its limit; each test checks the behaviour of that
 * threshold, that usage never passes the limit, that every byte arrives
 * intact once the readers read again, and that nothing leaked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"
#include "berth/memlink.h"

#define CLIENT      0
#define SERVER      1
#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */
#define PORT        80

#define MS  1000ull
#define SEC 1000000ull
#define KIB 1024u

#define MAX_CONNS 64

struct conn {
    int c, s;       /* client's and server's sockets */
    uint16_t cport; /* client's port */
    uint8_t wscale; /* the server's receive window shift */
    uint64_t sent, rcvd;
    uint32_t right_edge; /* highest ack + window the server offered */
    bool edge_known;
};

struct pair {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    size_t base_allocs[2], base_bytes[2];
    uint64_t now;
    int lsn;
    struct conn k[MAX_CONNS];
    int n;
    int edge_moved_left; /* server offers whose right edge went back */
    int watch_sock;      /* client socket whose events are recorded */
    int watch_writable;  /* WRITABLE reports for it */
    uint16_t drop_port;  /* filter: drop client data to this port ... */
    int drop_data_left;  /* ... this many segments */
    int dropped;
};

static struct conn *conn_by_port(struct pair *p, uint16_t cport)
{
    for (int i = 0; i < p->n; i++)
        if (p->k[i].cport == cport)
            return &p->k[i];
    return NULL;
}

/* RFC 9293 §3.8.6.2.2: the right edge the server offers (SEG.ACK + the
 * scaled window) never moves left. Checked on every segment it sends. */
static void on_tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                   size_t len, unsigned fate)
{
    struct pair *p = ctx;
    struct berth_segment seg;
    (void)now;
    (void)fate;
    if (from != SERVER || berth_decode(pkt, len, &seg) != 0 ||
        !(seg.flags & BERTH_TH_ACK) ||
        (seg.flags & (BERTH_TH_SYN | BERTH_TH_RST)))
        return;
    struct conn *k = conn_by_port(p, seg.dst.port);
    if (!k || k->s < 0)
        return;
    uint32_t edge = seg.ack + ((uint32_t)seg.win << k->wscale);
    if (k->edge_known && (int32_t)(edge - k->right_edge) < 0)
        p->edge_moved_left++;
    if (!k->edge_known || (int32_t)(edge - k->right_edge) > 0)
        k->right_edge = edge;
    k->edge_known = true;
}

static struct berth_memlink_verdict
on_filter(void *ctx, int from, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct pair *p = ctx;
    struct berth_segment seg;
    (void)now;
    if (from == CLIENT && p->drop_data_left > 0 &&
        berth_decode(pkt, len, &seg) == 0 && seg.len > 0 &&
        seg.src.port == p->drop_port) {
        p->drop_data_left--;
        p->dropped++;
        return berth_memlink_drop();
    }
    return berth_memlink_pass();
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct pair *p = ctx;
    if (sock == p->watch_sock && (events & BERTH_EV_WRITABLE))
        p->watch_writable++;
}

static struct pair *pair_new(uint64_t seed, size_t limit_client,
                             size_t limit_server)
{
    struct pair *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->link = berth_memlink_create(seed);
    assert_non_null(p->link);
    berth_memlink_set_tap(p->link, on_tap, p);
    berth_memlink_set_filter(p->link, on_filter, p);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side == CLIENT ? CLIENT_ADDR : SERVER_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(p->link, side);
        cfg.seed = seed * 2 + (uint64_t)side;
        cfg.mem_limit = side == CLIENT ? limit_client : limit_server;
        if (side == CLIENT) {
            cfg.event = on_event;
            cfg.event_ctx = p;
        }
        for (size_t i = 0; i < sizeof cfg.secret; i++)
            cfg.secret[i] = (uint8_t)(seed + i * 7 + (size_t)side);
        p->st[side] = berth_stack_create(&cfg, p->now);
        assert_non_null(p->st[side]);
        berth_memlink_attach(p->link, side, p->st[side]);
        p->base_allocs[side] = berth_mem_allocs(p->st[side]);
        p->base_bytes[side] = berth_mem_bytes(p->st[side]);
    }
    p->watch_sock = -1;
    p->lsn = berth_socket(p->st[SERVER]);
    assert_true(p->lsn >= 0);
    assert_int_equal(berth_bind(p->st[SERVER], p->lsn, SERVER_ADDR, PORT), 0);
    assert_int_equal(berth_listen(p->st[SERVER], p->lsn, MAX_CONNS), 0);
    return p;
}

static void run_for(struct pair *p, uint64_t us)
{
    assert_int_equal(berth_memlink_run(p->link, &p->now, p->now + us), 0);
}

static size_t mem_used(struct pair *p, int side)
{
    struct berth_mem_state m;
    berth_mem_state(p->st[side], &m);
    return m.used;
}

/* Usage never passes the limit: buffers are refused above it, and TCBs
 * were all made before the buffers filled. */
static void assert_within_budget(struct pair *p, int side)
{
    struct berth_mem_state m;
    berth_mem_state(p->st[side], &m);
    if (m.limit && m.used > m.limit) {
        print_error("side %d uses %zu bytes, limit %zu\n", side, m.used,
                    m.limit);
        fail();
    }
    if (m.level != BERTH_MEM_NORMAL)
        assert_int_equal(m.cached, 0); /* the cache is emptied */
}

/* n more connections: connect, handshake, accept. */
static void open_conns(struct pair *p, int n)
{
    int first = p->n;
    assert_true(first + n <= MAX_CONNS);
    for (int i = first; i < first + n; i++) {
        struct conn *k = &p->k[i];
        *k = (struct conn){.s = -1};
        k->c = berth_socket(p->st[CLIENT]);
        assert_true(k->c >= 0);
        assert_int_equal(berth_connect(p->st[CLIENT], k->c, SERVER_ADDR, PORT),
                         BERTH_EINPROGRESS);
        struct berth_endpoint me;
        assert_int_equal(berth_getsockname(p->st[CLIENT], k->c, &me), 0);
        k->cport = me.port;
    }
    p->n = first + n;
    run_for(p, 100 * MS);
    for (int i = first; i < p->n; i++) {
        struct berth_endpoint peer;
        int s = berth_accept(p->st[SERVER], p->lsn, &peer);
        assert_true(s >= 0);
        struct conn *k = conn_by_port(p, peer.port);
        assert_non_null(k);
        k->s = s;
        struct berth_tcp_info in;
        assert_int_equal(berth_getinfo(p->st[SERVER], s, &in), 0);
        k->wscale = in.rcv_wscale;
    }
}

/* The byte at offset `off` of connection i's stream. */
static uint8_t pattern(int i, uint64_t off)
{
    return (uint8_t)((off * 7 + (uint64_t)i * 131 + (off >> 11)) % 251);
}

/* Each writer sends what its socket takes, up to `target` bytes. */
static void write_some(struct pair *p, uint64_t target)
{
    uint8_t buf[16 * KIB];
    for (int i = 0; i < p->n; i++) {
        struct conn *k = &p->k[i];
        if (k->sent >= target)
            continue;
        size_t n = target - k->sent < sizeof buf ? (size_t)(target - k->sent)
                                                 : sizeof buf;
        for (size_t j = 0; j < n; j++)
            buf[j] = pattern(i, k->sent + j);
        int r = berth_send(p->st[CLIENT], k->c, buf, n);
        if (r == BERTH_EAGAIN)
            continue;
        assert_true(r > 0);
        k->sent += (uint64_t)r;
    }
}

/* Each reader takes everything there is and checks it. */
static void read_all(struct pair *p)
{
    uint8_t buf[16 * KIB];
    for (int i = 0; i < p->n; i++) {
        struct conn *k = &p->k[i];
        for (int round = 0; round < 64; round++) {
            int r = berth_recv(p->st[SERVER], k->s, buf, sizeof buf);
            if (r == BERTH_EAGAIN || r == 0)
                break;
            assert_true(r > 0);
            for (int j = 0; j < r; j++)
                if (buf[j] != pattern(i, k->rcvd + (uint64_t)j)) {
                    print_error("conn %d: byte %llu differs\n", i,
                                (unsigned long long)(k->rcvd + (uint64_t)j));
                    fail();
                }
            k->rcvd += (uint64_t)r;
        }
    }
}

/* Writers write, nobody reads, for `rounds` steps of 10 ms. */
static void stuck_readers(struct pair *p, uint64_t target, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        write_some(p, target);
        run_for(p, 10 * MS);
        assert_within_budget(p, CLIENT);
        assert_within_budget(p, SERVER);
    }
}

/* Readers read again until every stream arrived whole (bounded). */
static void drain(struct pair *p, uint64_t target)
{
    for (int r = 0; r < 100000; r++) {
        write_some(p, target);
        read_all(p);
        bool done = true;
        for (int i = 0; i < p->n; i++)
            done = done && p->k[i].rcvd == target;
        if (done)
            return;
        run_for(p, 10 * MS);
        assert_within_budget(p, CLIENT);
        assert_within_budget(p, SERVER);
    }
    fail_msg("streams not delivered after 1000 s");
}

/* Close everything, let TIME-WAIT pass, and check nothing leaked. */
static void pair_finish(struct pair *p)
{
    for (int i = 0; i < p->n; i++) {
        assert_int_equal(berth_close(p->st[CLIENT], p->k[i].c), 0);
        assert_int_equal(berth_close(p->st[SERVER], p->k[i].s), 0);
    }
    assert_int_equal(berth_close(p->st[SERVER], p->lsn), 0);
    run_for(p, 3600 * SEC);
    assert_int_equal(p->edge_moved_left, 0);
    for (int side = 0; side < 2; side++) {
        assert_int_equal(berth_mem_allocs(p->st[side]), p->base_allocs[side]);
        assert_int_equal(berth_mem_bytes(p->st[side]), p->base_bytes[side]);
        assert_true(berth_next_deadline(p->st[side]) == UINT64_MAX);
        struct berth_mem_state m;
        berth_mem_state(p->st[side], &m);
        assert_int_equal(m.level, BERTH_MEM_NORMAL);
        berth_stack_destroy(p->st[side]);
    }
    berth_memlink_destroy(p->link);
    free(p);
}

/* 32 readers stop reading while their writers keep writing: 32 windows of
 * 64 KiB promise 2 MiB to a receiver whose limit is 1 MiB. It enters
 * pressure (the cache emptied), data that would take it over the limit is
 * dropped with an ACK (MEM_LIMIT), usage never passes the limit; once the
 * readers read, every byte arrives intact and the stack returns to normal
 * and to its baseline. */
static void stuck_readers_push_receiver_to_pressure_and_limit(void **state)
{
    (void)state;
    struct pair *p = pair_new(1, 0, 1024 * KIB);
    open_conns(p, 32);
    stuck_readers(p, 256 * KIB, 300);
    struct berth_mem_state m;
    berth_mem_state(p->st[SERVER], &m);
    assert_int_equal(m.limit, 1024 * KIB);
    assert_int_equal(m.pressure, 768 * KIB);
    assert_int_equal(m.low, 512 * KIB);
    assert_true(m.level != BERTH_MEM_NORMAL);
    assert_true(m.pressure_entered >= 1);
    assert_true(m.used > m.pressure);
    assert_true(berth_drop_count(p->st[SERVER], BERTH_REASON_MEM_LIMIT) > 0);
    assert_true(berth_counter(p->st[SERVER], BERTH_CTR_MEM_PRESSURE_ENTERED) >=
                1);
    drain(p, 256 * KIB);
    run_for(p, 1 * SEC); /* buffers read out go back */
    assert_true(mem_used(p, SERVER) < 512 * KIB);
    berth_advance(p->st[SERVER], p->now);
    berth_mem_state(p->st[SERVER], &m);
    assert_int_equal(m.level, BERTH_MEM_NORMAL);
    pair_finish(p);
}

/* Under pressure a window that the application reads open again reopens
 * only to the buffer allocated (at least 4 KiB), not to the 64 KiB
 * configured, and its right edge never moves left (RFC 9293 §3.8.6.2.2);
 * the transfer goes on in small steps, intact. */
static void pressure_reopens_windows_only_to_the_allocated_buffer(void **state)
{
    (void)state;
    struct pair *p = pair_new(2, 0, 1024 * KIB);
    open_conns(p, 32);
    stuck_readers(p, 128 * KIB, 200);
    struct berth_mem_state m;
    berth_mem_state(p->st[SERVER], &m);
    assert_true(m.level != BERTH_MEM_NORMAL);
    /* One reader reads everything it has; the others stay stuck. */
    struct conn *k = &p->k[0];
    struct berth_tcp_info in;
    assert_int_equal(berth_getinfo(p->st[SERVER], k->s, &in), 0);
    uint32_t edge0 = in.rcv_nxt + in.rcv_wnd;
    uint8_t buf[16 * KIB];
    for (int i = 0; i < 64; i++) {
        int r = berth_recv(p->st[SERVER], k->s, buf, sizeof buf);
        if (r <= 0)
            break;
        for (int j = 0; j < r; j++)
            assert_int_equal(buf[j], pattern(0, k->rcvd + (uint64_t)j));
        k->rcvd += (uint64_t)r;
    }
    assert_true(k->rcvd > 0);
    run_for(p, 100 * MS);
    berth_mem_state(p->st[SERVER], &m);
    assert_true(m.level != BERTH_MEM_NORMAL);
    assert_int_equal(berth_getinfo(p->st[SERVER], k->s, &in), 0);
    /* Without pressure the read would reopen the window to 64 KiB. Under
     * pressure the edge stays where it was promised, or moves by at most
     * the smallest buffer (nothing is queued: the buffer went back). */
    assert_int_equal(in.rcv_queued, 0);
    uint32_t edge1 = in.rcv_nxt + in.rcv_wnd;
    assert_true((int32_t)(edge1 - edge0) >= 0);
    assert_true(edge1 - edge0 <= 4 * KIB);
    assert_true(in.rcv_wnd < 60 * KIB);
    uint32_t offered = in.rcv_wnd;
    assert_int_equal(berth_getinfo(p->st[CLIENT], k->c, &in), 0);
    assert_true(in.snd_wnd <= offered);
    drain(p, 128 * KIB);
    pair_finish(p);
}

/* A writer's stack at its pressure threshold: send buffers stop growing.
 * berth_send() takes what fits in the buffer it has (or BERTH_EAGAIN), the
 * bytes buffered stay, the socket is not writable until its buffer has
 * room again, and WRITABLE comes back when the readers read: every stream
 * then completes intact. */
static void pressure_stops_send_buffers_growing(void **state)
{
    (void)state;
    struct pair *p = pair_new(3, 512 * KIB, 0);
    open_conns(p, 16);
    stuck_readers(p, 256 * KIB, 200);
    struct berth_mem_state m;
    berth_mem_state(p->st[CLIENT], &m);
    assert_true(m.level != BERTH_MEM_NORMAL);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_MEM_SND_LIMITED) > 0);
    /* Some connection was cut short below its configured 64 KiB. */
    int limited = 0;
    for (int i = 0; i < p->n; i++) {
        struct berth_tcp_info in;
        assert_int_equal(berth_getinfo(p->st[CLIENT], p->k[i].c, &in), 0);
        if (in.snd_queued < 64 * KIB && p->k[i].sent < 256 * KIB) {
            limited++;
            assert_false(berth_poll(p->st[CLIENT], p->k[i].c) &
                         BERTH_EV_WRITABLE);
            uint8_t b = pattern(i, p->k[i].sent);
            int r = berth_send(p->st[CLIENT], p->k[i].c, &b, 1);
            /* The buffer it has may still take a byte; never more. */
            if (r == 1)
                p->k[i].sent++;
            else
                assert_int_equal(r, BERTH_EAGAIN);
            assert_int_equal(berth_getinfo(p->st[CLIENT], p->k[i].c, &in), 0);
            assert_true(in.snd_queued <= 64 * KIB);
        }
    }
    assert_true(limited > 0);
    drain(p, 256 * KIB);
    pair_finish(p);
}

/* Out-of-order data is the first thing refused: under pressure, segments
 * behind a hole that would need buffer memory are dropped
 * (MEM_PRESSURE_OOO) while in-order data is still taken; the sender
 * retransmits and the stream arrives whole. */
static void pressure_drops_out_of_order_data_first(void **state)
{
    (void)state;
    struct pair *p = pair_new(4, 0, 1024 * KIB);
    open_conns(p, 33);
    /* 32 stuck streams make the pressure; the 33rd stays idle. */
    p->n = 32;
    stuck_readers(p, 128 * KIB, 200);
    p->n = 33;
    struct berth_mem_state m;
    berth_mem_state(p->st[SERVER], &m);
    assert_true(m.level != BERTH_MEM_NORMAL);
    /* Lose the 33rd stream's first segment: the next ones are out of
     * order, and its receive buffer is empty (none allocated). */
    struct conn *k = &p->k[32];
    p->drop_port = k->cport;
    p->drop_data_left = 1;
    uint64_t ooo =
        berth_drop_count(p->st[SERVER], BERTH_REASON_MEM_PRESSURE_OOO);
    uint8_t buf[3000];
    for (size_t j = 0; j < sizeof buf; j++)
        buf[j] = pattern(32, j);
    assert_int_equal(berth_setopt(p->st[CLIENT], k->c, BERTH_OPT_NODELAY, 1),
                     0);
    assert_int_equal(berth_send(p->st[CLIENT], k->c, buf, sizeof buf),
                     (int)sizeof buf);
    k->sent = sizeof buf;
    run_for(p, 50 * MS); /* before the retransmission timeout */
    assert_int_equal(p->dropped, 1);
    assert_true(berth_drop_count(p->st[SERVER], BERTH_REASON_MEM_PRESSURE_OOO) >
                ooo);
    /* The rest is retransmitted in order and taken. */
    for (int r = 0; r < 500 && k->rcvd < sizeof buf; r++) {
        run_for(p, 10 * MS);
        int n = berth_recv(p->st[SERVER], k->s, buf, sizeof buf);
        if (n > 0) {
            for (int j = 0; j < n; j++)
                assert_int_equal(buf[j], pattern(32, k->rcvd + (uint64_t)j));
            k->rcvd += (uint64_t)n;
        }
    }
    assert_int_equal(k->rcvd, sizeof buf);
    drain(p, 128 * KIB);
    pair_finish(p);
}

/* At the limit a connection without a buffer gets none: 63 writers whose
 * readers stopped hold the client's 256 KiB in 4 KiB send buffers (pressure
 * stopped them growing), so the 64th, established but idle until now, gets
 * BERTH_EAGAIN and is not writable; once the readers read and the buffers
 * drain, memory frees, WRITABLE is reported and its data goes out. */
static void at_the_limit_a_connection_without_a_buffer_gets_none(void **state)
{
    (void)state;
    struct pair *p = pair_new(6, 256 * KIB, 0);
    open_conns(p, 64);
    p->n = 63;
    stuck_readers(p, 256 * KIB, 200);
    p->n = 64;
    struct conn *k = &p->k[63];
    struct berth_mem_state m;
    berth_mem_state(p->st[CLIENT], &m);
    assert_true(m.used + 4 * KIB > m.limit); /* not even 4 KiB fits */
    berth_advance(p->st[CLIENT], p->now);
    p->watch_sock = k->c;
    uint8_t b = pattern(63, 0);
    assert_int_equal(berth_send(p->st[CLIENT], k->c, &b, 1), BERTH_EAGAIN);
    assert_false(berth_poll(p->st[CLIENT], k->c) & BERTH_EV_WRITABLE);
    struct berth_tcp_info in;
    assert_int_equal(berth_getinfo(p->st[CLIENT], k->c, &in), 0);
    assert_int_equal(in.snd_queued, 0);
    run_for(p, 1 * SEC); /* nothing frees while the readers are stuck */
    assert_int_equal(p->watch_writable, 0);
    assert_int_equal(berth_send(p->st[CLIENT], k->c, &b, 1), BERTH_EAGAIN);
    /* The readers read: buffers drain and free; the waiter hears it. */
    for (int r = 0; r < 1000 && !p->watch_writable; r++) {
        read_all(p);
        run_for(p, 10 * MS);
    }
    assert_true(p->watch_writable > 0);
    assert_true(berth_poll(p->st[CLIENT], k->c) & BERTH_EV_WRITABLE);
    drain(p, 256 * KIB);
    pair_finish(p);
}

/* mem_limit 0 is unlimited: the same stuck readers take all their windows
 * and the stack never reports pressure. */
static void unlimited_budget_never_presses(void **state)
{
    (void)state;
    struct pair *p = pair_new(5, 0, 0);
    open_conns(p, 32);
    stuck_readers(p, 256 * KIB, 200);
    struct berth_mem_state m;
    berth_mem_state(p->st[SERVER], &m);
    assert_int_equal(m.limit, 0);
    assert_int_equal(m.level, BERTH_MEM_NORMAL);
    assert_int_equal(m.pressure_entered, 0);
    assert_true(m.used > 1024 * KIB); /* 32 full 64 KiB buffers */
    assert_int_equal(berth_drop_count(p->st[SERVER], BERTH_REASON_MEM_LIMIT),
                     0);
    drain(p, 256 * KIB);
    pair_finish(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stuck_readers_push_receiver_to_pressure_and_limit),
        cmocka_unit_test(pressure_reopens_windows_only_to_the_allocated_buffer),
        cmocka_unit_test(pressure_stops_send_buffers_growing),
        cmocka_unit_test(pressure_drops_out_of_order_data_first),
        cmocka_unit_test(at_the_limit_a_connection_without_a_buffer_gets_none),
        cmocka_unit_test(unlimited_budget_never_presses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
