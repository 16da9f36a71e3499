/* Link tests: whole TCP connection lifecycles between two berth stacks over
 * the in-memory link, through the public API only — opens, transfers,
 * half-closes, closes, aborts and timeouts, with chosen and random packet
 * loss. Each test ends with both stacks back to their allocation baseline
 * (after TIME-WAIT has expired) and no timer left. */
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

#define CLIENT      0           /* side 0 of the link */
#define SERVER      1           /* side 1 */
#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */

#define MS  1000ull
#define SEC 1000000ull
#define KIB 1024u
#define MIB (1024u * 1024u)

#define LOG_MAX 512 /* state changes kept per side */

struct state_change {
    uint64_t now;
    uint16_t lport, rport;
    enum berth_state old_state, new_state;
    enum berth_reason reason;
};

struct hook_ctx {
    struct pair *p;
    int side;
};

/* Chosen-packet rules for the link filter. */
struct rules {
    int drop_data_nth[2]; /* drop the nth payload segment from a side */
    bool drop_first_fin;  /* from either side */
    bool drop_first_synack;
    bool blackhole;      /* drop everything */
    bool drop_pure_acks; /* drop segments without payload, SYN or FIN */
    int nth_packet;      /* the nth packet on the link (1-based) ... */
    struct berth_memlink_verdict nth_verdict; /* ... gets this fate */
    int packets_seen;
    int data_seen[2];
    bool fin_dropped, synack_dropped;
    int chosen_drops;
};

struct pair {
    struct berth_memlink *link;
    struct berth_stack *st[2];
    size_t base_allocs[2], base_bytes[2];
    uint64_t now;
    struct hook_ctx hook[2];
    struct state_change log[2][LOG_MAX];
    size_t nlog[2];
    uint64_t events[2];
    struct rules rules;
    uint64_t tap_hash; /* every packet with its time: replay checks */
};

/* ---------------------------------------------------------------------- */
/* Hooks. */

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct hook_ctx *h = ctx;
    struct pair *p = h->p;
    if (ev->kind != BERTH_TRACE_STATE || p->nlog[h->side] >= LOG_MAX)
        return;
    struct state_change *c = &p->log[h->side][p->nlog[h->side]++];
    c->now = ev->now;
    c->lport = ev->local.port;
    c->rport = ev->remote.port;
    c->old_state = ev->old_state;
    c->new_state = ev->new_state;
    c->reason = ev->reason;
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct hook_ctx *h = ctx;
    (void)sock;
    (void)events;
    h->p->events[h->side]++;
}

static struct berth_memlink_verdict
on_filter(void *ctx, int from, const uint8_t *pkt, size_t len, uint64_t now)
{
    struct rules *r = &((struct pair *)ctx)->rules;
    struct berth_segment seg;
    (void)now;
    if (r->blackhole)
        goto drop;
    if (++r->packets_seen == r->nth_packet) {
        r->chosen_drops++;
        return r->nth_verdict;
    }
    if (berth_decode(pkt, len, &seg) != 0)
        return berth_memlink_pass();
    if (seg.len > 0 && ++r->data_seen[from] == r->drop_data_nth[from])
        goto drop;
    if (r->drop_pure_acks && seg.len == 0 &&
        !(seg.flags & (BERTH_TH_SYN | BERTH_TH_FIN | BERTH_TH_RST)))
        goto drop;
    if (r->drop_first_fin && !r->fin_dropped && (seg.flags & BERTH_TH_FIN)) {
        r->fin_dropped = true;
        goto drop;
    }
    if (r->drop_first_synack && !r->synack_dropped &&
        (seg.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) ==
            (BERTH_TH_SYN | BERTH_TH_ACK)) {
        r->synack_dropped = true;
        goto drop;
    }
    return berth_memlink_pass();
drop:
    r->chosen_drops++;
    return berth_memlink_drop();
}

static uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void on_tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                   size_t len, unsigned fate)
{
    struct pair *p = ctx;
    uint64_t meta[3] = {(uint64_t)from, now, fate};
    p->tap_hash = fnv1a(p->tap_hash, meta, sizeof(meta));
    p->tap_hash = fnv1a(p->tap_hash, pkt, len);
}

/* ---------------------------------------------------------------------- */
/* The pair of stacks. */

static struct pair *pair_new(uint64_t seed)
{
    struct pair *p = calloc(1, sizeof(*p));
    assert_non_null(p);
    p->link = berth_memlink_create(seed);
    assert_non_null(p->link);
    p->tap_hash = 0xcbf29ce484222325ull;
    berth_memlink_set_filter(p->link, on_filter, p);
    berth_memlink_set_tap(p->link, on_tap, p);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        p->hook[side] = (struct hook_ctx){p, side};
        cfg.addr = side == CLIENT ? CLIENT_ADDR : SERVER_ADDR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(p->link, side);
        cfg.trace = on_trace;
        cfg.trace_ctx = &p->hook[side];
        cfg.event = on_event;
        cfg.event_ctx = &p->hook[side];
        cfg.seed = seed * 2 + (uint64_t)side;
        for (size_t i = 0; i < sizeof(cfg.secret); i++)
            cfg.secret[i] = (uint8_t)(seed + i * 13 + (size_t)side);
        p->st[side] = berth_stack_create(&cfg, p->now);
        assert_non_null(p->st[side]);
        berth_memlink_attach(p->link, side, p->st[side]);
        p->base_allocs[side] = berth_mem_allocs(p->st[side]);
        p->base_bytes[side] = berth_mem_bytes(p->st[side]);
    }
    return p;
}

static void set_impair_both(struct pair *p,
                            const struct berth_memlink_impair *imp)
{
    berth_memlink_set_impair(p->link, CLIENT, imp);
    berth_memlink_set_impair(p->link, SERVER, imp);
}

/* Lets every timer run out — TIME-WAIT lasts 2*MSL = 60 s, FIN-WAIT-2 and
 * retransmissions end within the hour — then checks nothing leaked and
 * nothing is left to do, and frees the pair. */
static void pair_finish(struct pair *p)
{
    assert_int_equal(berth_memlink_run(p->link, &p->now, p->now + 3600 * SEC),
                     0);
    assert_int_equal(berth_memlink_in_flight(p->link), 0);
    for (int side = 0; side < 2; side++) {
        assert_int_equal(berth_mem_allocs(p->st[side]), p->base_allocs[side]);
        assert_int_equal(berth_mem_bytes(p->st[side]), p->base_bytes[side]);
        assert_true(berth_next_deadline(p->st[side]) == UINT64_MAX);
    }
    for (int side = 0; side < 2; side++)
        berth_stack_destroy(p->st[side]);
    berth_memlink_destroy(p->link);
    free(p);
}

static void run_for(struct pair *p, uint64_t us)
{
    assert_int_equal(berth_memlink_run(p->link, &p->now, p->now + us), 0);
}

struct readiness {
    struct berth_stack *st;
    int sock;
    uint32_t mask;
};

static bool is_ready(void *ctx)
{
    const struct readiness *r = ctx;
    return (berth_poll(r->st, r->sock) & r->mask) != 0;
}

/* Runs until the socket shows one of `mask`, failing after `limit` µs. */
static void run_until_ready(struct pair *p, int side, int sock, uint32_t mask,
                            uint64_t limit)
{
    struct readiness r = {p->st[side], sock, mask};
    assert_int_equal(
        berth_memlink_run_until(p->link, &p->now, p->now + limit, is_ready, &r),
        1);
}

static enum berth_state sock_state(struct pair *p, int side, int sock)
{
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(p->st[side], sock, &info), 0);
    return info.state;
}

/* The states a connection passed through on one side, oldest first, as
 * "SYN-SENT ESTABLISHED FIN-WAIT-1 ...". */
static const char *state_path(struct pair *p, int side, uint16_t lport,
                              uint16_t rport)
{
    static char buf[1024]; /* tests are single-threaded */
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->nlog[side]; i++) {
        const struct state_change *c = &p->log[side][i];
        if (c->lport != lport || c->rport != rport)
            continue;
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", o ? " " : "",
                              berth_state_name(c->new_state));
        if (o >= sizeof(buf))
            break;
    }
    return buf;
}

/* The last state change of a connection. */
static const struct state_change *last_change(struct pair *p, int side,
                                              uint16_t lport, uint16_t rport)
{
    for (size_t i = p->nlog[side]; i-- > 0;) {
        const struct state_change *c = &p->log[side][i];
        if (c->lport == lport && c->rport == rport)
            return c;
    }
    return NULL;
}

static void assert_path_ends_with(struct pair *p, int side, uint16_t lport,
                                  uint16_t rport, const char *tail)
{
    const char *path = state_path(p, side, lport, rport);
    size_t n = strlen(path), m = strlen(tail);
    if (n < m || strcmp(path + n - m, tail) != 0 ||
        (n > m && path[n - m - 1] != ' ')) {
        print_error("%s path \"%s\" does not end with \"%s\"\n",
                    side == CLIENT ? "client" : "server", path, tail);
        fail();
    }
}

/* A connection, as seen from both sides. */
struct conn {
    int lsn;        /* server's listener */
    int c, s;       /* client's and server's connected sockets */
    uint16_t cport; /* client's (ephemeral) port */
    uint16_t sport; /* server's port */
};

static void listen_on(struct pair *p, uint16_t port, struct conn *k)
{
    k->sport = port;
    k->lsn = berth_socket(p->st[SERVER]);
    assert_true(k->lsn >= 0);
    assert_int_equal(berth_bind(p->st[SERVER], k->lsn, SERVER_ADDR, port), 0);
    assert_int_equal(berth_listen(p->st[SERVER], k->lsn, 16), 0);
}

/* Listen, connect, complete the three-way handshake and accept. */
static void establish(struct pair *p, uint16_t port, struct conn *k)
{
    struct berth_endpoint peer, me;
    listen_on(p, port, k);
    k->c = berth_socket(p->st[CLIENT]);
    assert_true(k->c >= 0);
    assert_int_equal(berth_connect(p->st[CLIENT], k->c, SERVER_ADDR, port),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_getsockname(p->st[CLIENT], k->c, &me), 0);
    k->cport = me.port;
    run_until_ready(p, CLIENT, k->c, BERTH_EV_WRITABLE, 600 * SEC);
    run_until_ready(p, SERVER, k->lsn, BERTH_EV_READABLE, 600 * SEC);
    k->s = berth_accept(p->st[SERVER], k->lsn, &peer);
    assert_true(k->s >= 0);
    assert_int_equal(peer.addr, CLIENT_ADDR);
    assert_int_equal(peer.port, k->cport);
    assert_int_equal(sock_state(p, CLIENT, k->c), BERTH_STATE_ESTABLISHED);
    assert_int_equal(sock_state(p, SERVER, k->s), BERTH_STATE_ESTABLISHED);
}

static void send_all(struct pair *p, int side, int sock, const char *msg)
{
    size_t n = strlen(msg);
    assert_int_equal(berth_send(p->st[side], sock, msg, n), (int)n);
}

/* Waits until `want` bytes are readable and reads exactly them. */
static void recv_exact(struct pair *p, int side, int sock, const char *want)
{
    char buf[256];
    size_t n = strlen(want), got = 0;
    assert_true(n < sizeof(buf));
    for (int i = 0; i < 1000 && got < n; i++) {
        run_until_ready(p, side, sock, BERTH_EV_READABLE, 600 * SEC);
        int r = berth_recv(p->st[side], sock, buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_int_equal(got, n);
    assert_memory_equal(buf, want, n);
}

static void recv_eof(struct pair *p, int side, int sock)
{
    char c;
    run_until_ready(p, side, sock, BERTH_EV_READABLE, 600 * SEC);
    assert_int_equal(berth_recv(p->st[side], sock, &c, 1), 0);
}

/* ---------------------------------------------------------------------- */
/* Streams of checkable bytes: byte i of a stream is a function of (seed,
 * i), so the receiver checks content and order exactly; a hash of each
 * end is compared as well. */

struct stream {
    int from;     /* sending side */
    int tx, rx;   /* sender's and receiver's sockets */
    size_t total; /* bytes to transfer */
    size_t sent, received;
    uint64_t seed; /* content */
    uint64_t dice; /* sizes of sends and recvs */
    size_t max_send, max_recv;
    bool shutdown_when_sent; /* FIN after the last byte */
    bool shut, eof;
    bool reading;          /* false: the receiver does not read (zero window) */
    size_t first_mismatch; /* SIZE_MAX if none */
    uint64_t tx_hash, rx_hash;
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint8_t stream_byte(uint64_t seed, size_t i)
{
    return (uint8_t)(mix(seed ^ (i / 8)) >> (8 * (i % 8)));
}

static size_t dice_upto(uint64_t *d, size_t max)
{
    *d = mix(*d);
    return 1 + (size_t)(*d % max);
}

static void stream_init(struct stream *s, int from, int tx, int rx,
                        size_t total, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->from = from;
    s->tx = tx;
    s->rx = rx;
    s->total = total;
    s->seed = seed;
    s->dice = seed * 7 + 1;
    s->max_send = 20000;
    s->max_recv = 9000;
    s->reading = true;
    s->first_mismatch = SIZE_MAX;
    s->tx_hash = s->rx_hash = 0xcbf29ce484222325ull;
}

static void stream_send(struct pair *p, struct stream *s)
{
    static uint8_t buf[64 * KIB];
    struct berth_stack *st = p->st[s->from];
    for (int i = 0; i < 8 && s->sent < s->total; i++) {
        size_t n = dice_upto(&s->dice, s->max_send);
        if (n > s->total - s->sent)
            n = s->total - s->sent;
        for (size_t j = 0; j < n; j++)
            buf[j] = stream_byte(s->seed, s->sent + j);
        int r = berth_send(st, s->tx, buf, n);
        if (r == BERTH_EAGAIN)
            break;
        assert_true(r > 0 && (size_t)r <= n);
        s->tx_hash = fnv1a(s->tx_hash, buf, (size_t)r);
        s->sent += (size_t)r;
    }
    if (s->sent == s->total && s->shutdown_when_sent && !s->shut) {
        assert_int_equal(berth_shutdown(st, s->tx, BERTH_SHUT_WR), 0);
        s->shut = true;
    }
}

static void stream_recv(struct pair *p, struct stream *s)
{
    static uint8_t buf[64 * KIB];
    struct berth_stack *st = p->st[1 - s->from];
    for (int i = 0; i < 16 && s->reading && !s->eof; i++) {
        size_t n = dice_upto(&s->dice, s->max_recv);
        int r = berth_recv(st, s->rx, buf, n);
        if (r == BERTH_EAGAIN)
            break;
        assert_true(r >= 0);
        if (r == 0) {
            s->eof = true;
            break;
        }
        for (size_t j = 0; j < (size_t)r; j++)
            if (s->first_mismatch == SIZE_MAX &&
                buf[j] != stream_byte(s->seed, s->received + j))
                s->first_mismatch = s->received + j;
        s->rx_hash = fnv1a(s->rx_hash, buf, (size_t)r);
        s->received += (size_t)r;
    }
}

static bool stream_done(const struct stream *s)
{
    return s->received == s->total && (!s->shutdown_when_sent || s->eof);
}

/* Moves the streams along in 1 ms steps of virtual time until all are
 * done, failing after `limit` µs. */
static void pump(struct pair *p, struct stream *s, int n, uint64_t limit)
{
    uint64_t end = p->now + limit;
    for (;;) {
        bool done = true;
        for (int i = 0; i < n; i++) {
            stream_send(p, &s[i]);
            stream_recv(p, &s[i]);
            done = done && stream_done(&s[i]);
        }
        if (done)
            break;
        if (p->now >= end) {
            for (int i = 0; i < n; i++)
                print_error("stream %d: sent %zu received %zu of %zu%s\n", i,
                            s[i].sent, s[i].received, s[i].total,
                            s[i].eof ? " +EOF" : "");
            fail_msg("transfer did not complete in %llu s of virtual time",
                     (unsigned long long)(limit / SEC));
        }
        run_for(p, 1 * MS);
    }
    for (int i = 0; i < n; i++) {
        if (s[i].first_mismatch != SIZE_MAX)
            fail_msg("stream %d: byte %zu is wrong", i, s[i].first_mismatch);
        assert_int_equal(s[i].received, s[i].total);
        assert_true(s[i].rx_hash == s[i].tx_hash);
    }
}

/* ---------------------------------------------------------------------- */
/* Opening and closing. */

/* RFC 9293 §3.6, Figure 12 (normal close), the client closing first. */
static void short_connection_client_closes_first(void **state)
{
    (void)state;
    struct pair *p = pair_new(1);
    struct conn k;
    establish(p, 80, &k);

    send_all(p, CLIENT, k.c, "GET / HTTP/1.0\r\n\r\n");
    recv_exact(p, SERVER, k.s, "GET / HTTP/1.0\r\n\r\n");
    send_all(p, SERVER, k.s, "HTTP/1.0 200 OK\r\n\r\nhello");
    recv_exact(p, CLIENT, k.c, "HTTP/1.0 200 OK\r\n\r\nhello");

    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    recv_eof(p, SERVER, k.s);
    /* Long enough for any delayed ACK: the FIN is acked on its own. */
    run_for(p, 200 * MS);
    assert_int_equal(sock_state(p, SERVER, k.s), BERTH_STATE_CLOSE_WAIT);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    run_for(p, 1 * SEC);

    assert_string_equal(state_path(p, CLIENT, k.cport, 80),
                        "SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 "
                        "TIME-WAIT");
    assert_path_ends_with(p, SERVER, 80, k.cport,
                          "ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");

    /* TIME-WAIT lasts 2*MSL (RFC 9293 §3.6.1): 60 s by default. */
    uint64_t tw_start = last_change(p, CLIENT, k.cport, 80)->now;
    run_for(p, 59 * SEC);
    assert_int_equal(last_change(p, CLIENT, k.cport, 80)->new_state,
                     BERTH_STATE_TIME_WAIT);
    run_for(p, 2 * SEC);
    const struct state_change *c = last_change(p, CLIENT, k.cport, 80);
    assert_int_equal(c->new_state, BERTH_STATE_CLOSED);
    assert_int_equal(c->reason, BERTH_REASON_TIME_WAIT_EXPIRED);
    assert_true(c->now - tw_start >= 60 * SEC - 10 * MS &&
                c->now - tw_start <= 60 * SEC + 100 * MS);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_TIME_WAIT_ENTERED),
                     1);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_ACTIVE_OPENS), 1);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_PASSIVE_OPENS), 1);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS), 0);
    pair_finish(p);
}

/* The mirror image: the server closes first and waits out TIME-WAIT. */
static void short_connection_server_closes_first(void **state)
{
    (void)state;
    struct pair *p = pair_new(2);
    struct conn k;
    establish(p, 80, &k);

    send_all(p, CLIENT, k.c, "GET / HTTP/1.0\r\n\r\n");
    recv_exact(p, SERVER, k.s, "GET / HTTP/1.0\r\n\r\n");
    send_all(p, SERVER, k.s, "HTTP/1.0 200 OK\r\n\r\nhello");
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);

    recv_exact(p, CLIENT, k.c, "HTTP/1.0 200 OK\r\n\r\nhello");
    recv_eof(p, CLIENT, k.c);
    assert_true(berth_poll(p->st[CLIENT], k.c) & BERTH_EV_RDHUP);
    run_for(p, 200 * MS);
    assert_int_equal(sock_state(p, CLIENT, k.c), BERTH_STATE_CLOSE_WAIT);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    run_for(p, 1 * SEC);

    assert_path_ends_with(p, SERVER, 80, k.cport,
                          "ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT");
    assert_string_equal(state_path(p, CLIENT, k.cport, 80),
                        "SYN-SENT ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");
    run_for(p, 61 * SEC);
    assert_path_ends_with(p, SERVER, 80, k.cport, "TIME-WAIT CLOSED");
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_TIME_WAIT_ENTERED),
                     1);
    pair_finish(p);
}

/* RFC 9293 §3.6, Figure 13: both FINs cross; each side sees the other's
 * FIN in FIN-WAIT-1, goes to CLOSING, and to TIME-WAIT on the ACK. */
static void simultaneous_close_passes_closing_on_both_sides(void **state)
{
    (void)state;
    struct pair *p = pair_new(3);
    struct conn k;
    establish(p, 80, &k);
    send_all(p, CLIENT, k.c, "ping");
    recv_exact(p, SERVER, k.s, "ping");
    run_for(p, 200 * MS);

    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    run_for(p, 1 * SEC);

    assert_string_equal(state_path(p, CLIENT, k.cport, 80),
                        "SYN-SENT ESTABLISHED FIN-WAIT-1 CLOSING TIME-WAIT");
    assert_path_ends_with(p, SERVER, 80, k.cport,
                          "ESTABLISHED FIN-WAIT-1 CLOSING TIME-WAIT");
    run_for(p, 61 * SEC);
    assert_path_ends_with(p, CLIENT, k.cport, 80, "TIME-WAIT CLOSED");
    assert_path_ends_with(p, SERVER, 80, k.cport, "TIME-WAIT CLOSED");
    pair_finish(p);
}

/* RFC 9293 §3.5, Figure 7: two SYNs cross; both sides go SYN-SENT →
 * SYN-RECEIVED → ESTABLISHED, and data flows both ways. */
static void simultaneous_open_establishes_both_sides(void **state)
{
    (void)state;
    struct pair *p = pair_new(4);
    int a = berth_socket(p->st[CLIENT]);
    int b = berth_socket(p->st[SERVER]);
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(berth_bind(p->st[CLIENT], a, CLIENT_ADDR, 5000), 0);
    assert_int_equal(berth_bind(p->st[SERVER], b, SERVER_ADDR, 6000), 0);
    assert_int_equal(berth_connect(p->st[CLIENT], a, SERVER_ADDR, 6000),
                     BERTH_EINPROGRESS);
    assert_int_equal(berth_connect(p->st[SERVER], b, CLIENT_ADDR, 5000),
                     BERTH_EINPROGRESS);
    run_until_ready(p, CLIENT, a, BERTH_EV_WRITABLE | BERTH_EV_ERROR, 10 * SEC);
    run_until_ready(p, SERVER, b, BERTH_EV_WRITABLE | BERTH_EV_ERROR, 10 * SEC);
    assert_int_equal(berth_sock_error(p->st[CLIENT], a), 0);
    assert_int_equal(berth_sock_error(p->st[SERVER], b), 0);
    assert_int_equal(sock_state(p, CLIENT, a), BERTH_STATE_ESTABLISHED);
    assert_int_equal(sock_state(p, SERVER, b), BERTH_STATE_ESTABLISHED);
    assert_string_equal(state_path(p, CLIENT, 5000, 6000),
                        "SYN-SENT SYN-RECEIVED ESTABLISHED");
    assert_string_equal(state_path(p, SERVER, 6000, 5000),
                        "SYN-SENT SYN-RECEIVED ESTABLISHED");

    send_all(p, CLIENT, a, "from a");
    send_all(p, SERVER, b, "from b");
    recv_exact(p, SERVER, b, "from a");
    recv_exact(p, CLIENT, a, "from b");

    assert_int_equal(berth_close(p->st[CLIENT], a), 0);
    recv_eof(p, SERVER, b);
    assert_int_equal(berth_close(p->st[SERVER], b), 0);
    run_for(p, 1 * SEC);
    assert_path_ends_with(p, CLIENT, 5000, 6000, "TIME-WAIT");
    assert_path_ends_with(p, SERVER, 6000, 5000, "LAST-ACK CLOSED");
    pair_finish(p);
}

/* ---------------------------------------------------------------------- */
/* Data transfer. */

/* A megabyte each way at once, in random-sized sends and receives; every
 * byte arrives once, in order. */
static void bulk_transfer_both_ways_arrives_exactly(void **state)
{
    (void)state;
    struct pair *p = pair_new(5);
    struct conn k;
    struct stream s[2];
    establish(p, 80, &k);
    stream_init(&s[0], CLIENT, k.c, k.s, 1 * MIB, 0x1111);
    stream_init(&s[1], SERVER, k.s, k.c, 1 * MIB, 0x2222);
    s[0].shutdown_when_sent = s[1].shutdown_when_sent = true;
    pump(p, s, 2, 120 * SEC);

    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS), 0);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_RETRANS_SEGS), 0);
    pair_finish(p);
}

/* RFC 9293 §3.6: after the client's FIN the connection is half-closed;
 * the server keeps sending 100 KiB while the client sits in FIN-WAIT-2. */
static void half_close_server_keeps_sending_after_client_fin(void **state)
{
    (void)state;
    struct pair *p = pair_new(6);
    struct conn k;
    struct stream down;
    establish(p, 80, &k);

    send_all(p, CLIENT, k.c, "GET /big HTTP/1.0\r\n\r\n");
    assert_int_equal(berth_shutdown(p->st[CLIENT], k.c, BERTH_SHUT_WR), 0);
    recv_exact(p, SERVER, k.s, "GET /big HTTP/1.0\r\n\r\n");
    recv_eof(p, SERVER, k.s);
    run_for(p, 200 * MS);
    assert_int_equal(sock_state(p, CLIENT, k.c), BERTH_STATE_FIN_WAIT_2);
    assert_int_equal(sock_state(p, SERVER, k.s), BERTH_STATE_CLOSE_WAIT);
    /* Writing after SHUT_WR is a broken pipe. */
    assert_int_equal(berth_send(p->st[CLIENT], k.c, "x", 1), BERTH_EPIPE);

    stream_init(&down, SERVER, k.s, k.c, 100 * KIB, 0x3333);
    down.shutdown_when_sent = true;
    pump(p, &down, 1, 60 * SEC);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    run_for(p, 1 * SEC);
    assert_int_equal(sock_state(p, CLIENT, k.c), BERTH_STATE_TIME_WAIT);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);

    assert_string_equal(state_path(p, CLIENT, k.cport, 80),
                        "SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 "
                        "TIME-WAIT");
    assert_path_ends_with(p, SERVER, 80, k.cport,
                          "ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED");
    pair_finish(p);
}

/* Chosen losses: the SYN-ACK, the client's 3rd data segment and the first
 * FIN are each dropped once; retransmission (RFC 9293 §3.8.1, RFC 6298)
 * recovers every one and the bytes arrive exactly. */
static void chosen_drops_synack_third_segment_first_fin_recovered(void **state)
{
    (void)state;
    struct pair *p = pair_new(7);
    struct conn k;
    struct stream up;
    p->rules.drop_first_synack = true;
    p->rules.drop_data_nth[CLIENT] = 3;
    p->rules.drop_first_fin = true;
    establish(p, 80, &k);
    assert_true(p->rules.synack_dropped);

    stream_init(&up, CLIENT, k.c, k.s, 64 * KIB, 0x4444);
    up.shutdown_when_sent = true;
    pump(p, &up, 1, 120 * SEC);
    assert_true(p->rules.data_seen[CLIENT] >= 3);
    assert_true(p->rules.fin_dropped);

    send_all(p, SERVER, k.s, "thanks");
    recv_exact(p, CLIENT, k.c, "thanks");
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    recv_eof(p, CLIENT, k.c);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(p->rules.chosen_drops, 3);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS) >= 2);
    pair_finish(p);
}

/* Data crosses in both directions and every pure ACK is lost for a while:
 * both sides time out and retransmit their oldest segment (RFC 6298 §5.4),
 * which the other side has already received. Each side must still accept
 * the other's ACKs: an ACK with SEG.SEQ below the peer's RCV.NXT fails the
 * acceptability test (RFC 9293 §3.10.7.4) and is dropped, ACK field and
 * all, so ACKs must carry the highest sequence number sent, not one
 * wound back for the retransmission. */
static void crossed_data_with_lost_acks_recovers_on_both_sides(void **state)
{
    (void)state;
    struct pair *p = pair_new(16);
    struct conn k;
    struct stream s[2];
    establish(p, 80, &k);
    run_for(p, 100 * MS);

    stream_init(&s[0], CLIENT, k.c, k.s, 4 * 1460, 0x9999);
    stream_init(&s[1], SERVER, k.s, k.c, 4 * 1460, 0xaaaa);
    s[0].max_send = s[1].max_send = 4 * 1460;
    /* Whatever the segment size (timestamps take 12 bytes of each), the
     * tail must not wait for an ACK that the filter is about to drop. */
    assert_int_equal(berth_setopt(p->st[CLIENT], k.c, BERTH_OPT_NODELAY, 1), 0);
    assert_int_equal(berth_setopt(p->st[SERVER], k.s, BERTH_OPT_NODELAY, 1), 0);
    p->rules.drop_pure_acks = true;
    stream_send(p, &s[0]);
    stream_send(p, &s[1]);
    assert_int_equal(s[0].sent, s[0].total);
    assert_int_equal(s[1].sent, s[1].total);
    /* Both receive everything; the ACKs are lost; both RTOs fire. */
    run_for(p, 20 * MS);
    stream_recv(p, &s[0]);
    stream_recv(p, &s[1]);
    assert_int_equal(s[0].received, s[0].total);
    assert_int_equal(s[1].received, s[1].total);
    run_for(p, 1500 * MS);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS) > 0);
    assert_true(berth_counter(p->st[SERVER], BERTH_CTR_RETRANS_SEGS) > 0);
    p->rules.drop_pure_acks = false;

    /* From here the link is perfect: within a few RTOs both sides must
     * see their data acknowledged. */
    run_for(p, 10 * SEC);
    struct berth_tcp_info ci, si;
    assert_int_equal(berth_getinfo(p->st[CLIENT], k.c, &ci), 0);
    assert_int_equal(berth_getinfo(p->st[SERVER], k.s, &si), 0);
    assert_int_equal(ci.state, BERTH_STATE_ESTABLISHED);
    assert_int_equal(si.state, BERTH_STATE_ESTABLISHED);
    assert_int_equal(ci.unacked, 0);
    assert_int_equal(si.unacked, 0);

    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

enum closer { SERVER_FIRST, CLIENT_FIRST, BOTH_AT_ONCE };

/* A request and a reply, then a close in the given order, each step
 * waiting as long as retransmission needs. Returns how many packets
 * crossed the link. */
static int exchange_with_nth_packet(enum closer who, int n,
                                    struct berth_memlink_verdict v)
{
    struct pair *p = pair_new(17);
    struct conn k;
    p->rules.nth_packet = n;
    p->rules.nth_verdict = v;
    establish(p, 80, &k);
    send_all(p, CLIENT, k.c, "GET / HTTP/1.0\r\n\r\n");
    recv_exact(p, SERVER, k.s, "GET / HTTP/1.0\r\n\r\n");
    send_all(p, SERVER, k.s, "HTTP/1.0 200 OK\r\n\r\nhello");
    recv_exact(p, CLIENT, k.c, "HTTP/1.0 200 OK\r\n\r\nhello");
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    switch (who) {
    case SERVER_FIRST:
        assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
        recv_eof(p, CLIENT, k.c);
        assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
        break;
    case CLIENT_FIRST:
        assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
        recv_eof(p, SERVER, k.s);
        assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
        break;
    case BOTH_AT_ONCE:
        assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
        assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
        break;
    }
    run_for(p, 200 * SEC);
    assert_path_ends_with(p, CLIENT, k.cport, 80, "CLOSED");
    assert_path_ends_with(p, SERVER, 80, k.cport, "CLOSED");
    int seen = p->rules.packets_seen;
    pair_finish(p);
    return seen;
}

static void single_faults(enum closer who)
{
    int clean = exchange_with_nth_packet(who, 0, berth_memlink_pass());
    assert_true(clean >= 9 && clean < 30);
    for (int n = 1; n <= clean; n++) {
        print_message("packet %d of %d: lost, duplicated, delayed\n", n, clean);
        exchange_with_nth_packet(who, n, berth_memlink_drop());
        exchange_with_nth_packet(who, n, berth_memlink_duplicate());
        exchange_with_nth_packet(who, n, berth_memlink_delay(5 * MS));
    }
}

/* Whichever single packet of a short connection is lost, duplicated or
 * held back past its successors, the exchange completes and both sides
 * end CLOSED (RFC 9293 §3.8.1 retransmission, §3.10.7.4 duplicates). */
static void server_closing_first_survives_any_single_packet_fault(void **state)
{
    (void)state;
    single_faults(SERVER_FIRST);
}

static void client_closing_first_survives_any_single_packet_fault(void **state)
{
    (void)state;
    single_faults(CLIENT_FIRST);
}

static void simultaneous_close_survives_any_single_packet_fault(void **state)
{
    (void)state;
    single_faults(BOTH_AT_ONCE);
}

static void transfer_over_lossy_link(uint64_t seed, size_t bytes,
                                     uint64_t *tap_hash)
{
    struct pair *p = pair_new(seed);
    struct berth_memlink_impair imp;
    struct conn k;
    struct stream s[2];

    berth_memlink_impair_init(&imp);
    imp.loss = 0.10;
    imp.duplicate = 0.05;
    imp.reorder = 0.10;
    imp.jitter = 300;
    set_impair_both(p, &imp);

    establish(p, 80, &k);
    stream_init(&s[0], CLIENT, k.c, k.s, bytes, seed ^ 0x5555);
    stream_init(&s[1], SERVER, k.s, k.c, bytes / 2, seed ^ 0x6666);
    s[0].shutdown_when_sent = s[1].shutdown_when_sent = true;
    pump(p, s, 2, 1200 * SEC);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);

    struct berth_memlink_stats st;
    berth_memlink_stats(p->link, CLIENT, &st);
    assert_true(st.lost > 0 && st.duplicated > 0 && st.reordered > 0);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS) > 0);
    *tap_hash = p->tap_hash;
    pair_finish(p);
}

/* 10 % loss, 5 % duplication, 10 % reordering and jitter, both ways. */
static void lossy_link_transfer_completes_exactly(void **state)
{
    uint64_t h;
    (void)state;
    transfer_over_lossy_link(8, 256 * KIB, &h);
}

/* Buffers are taken as data needs them: 4 KiB for a short message, grown
 * (contents kept) up to the configured size for a long one, given back to
 * the stack's cache when empty and taken from it by the next connection. */
static void buffers_grow_with_data_and_come_back_from_the_cache(void **state)
{
    (void)state;
    struct pair *p = pair_new(3);
    struct conn k;
    establish(p, 80, &k);
    struct berth_stack *cl = p->st[CLIENT];
    size_t b0 = berth_mem_bytes(cl);
    assert_int_equal(berth_mem_cached(cl), 0);
    send_all(p, CLIENT, k.c, "a short request");
    /* The buffer, and while data is in flight its send log (RACK's
     * per-segment times, RFC 8985): a few hundred bytes. */
    assert_in_range(berth_mem_bytes(cl) - b0, 4 * KIB + 1, 4 * KIB + KIB);
    static char big[40000];
    memset(big, 'x', sizeof big);
    assert_int_equal(berth_send(cl, k.c, big, sizeof big), (int)sizeof big);
    /* Grown to the class that holds 40015 bytes; the 4 KiB one is cached. */
    assert_in_range(berth_mem_bytes(cl) - b0, 64 * KIB + 1, 64 * KIB + KIB);
    assert_int_equal(berth_mem_cached(cl), 4 * KIB);
    /* The receiver gets every byte in order across the growth. */
    char got[256];
    size_t total = 0;
    for (int i = 0; i < 10000 && total < sizeof big + 15; i++) {
        run_until_ready(p, SERVER, k.s, BERTH_EV_READABLE, 600 * SEC);
        int r = berth_recv(p->st[SERVER], k.s, got, sizeof got);
        assert_true(r > 0);
        for (int j = 0; j < r; j++, total++)
            assert_int_equal(got[j],
                             total < 15 ? "a short request"[total] : 'x');
    }
    assert_int_equal(total, sizeof big + 15);
    run_for(p, 1 * SEC); /* everything acknowledged: the buffer goes back */
    assert_int_equal(berth_mem_bytes(cl), b0);
    assert_int_equal(berth_mem_cached(cl), 68 * KIB);
    /* The next message takes a cached buffer: nothing new is allocated. */
    size_t allocs = berth_mem_allocs(cl);
    send_all(p, CLIENT, k.c, "again");
    assert_int_equal(berth_mem_cached(cl), 64 * KIB);
    assert_int_equal(berth_mem_allocs(cl), allocs + 2); /* and the log */
    recv_exact(p, SERVER, k.s, "again");
    assert_int_equal(berth_close(cl, k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* Sets SNDBUF and RCVBUF of a socket; returns what RCVBUF reads back. */
static int64_t set_buffers(struct pair *p, int side, int sock, int64_t snd,
                           int64_t rcv)
{
    int64_t v = 0;
    assert_int_equal(berth_setopt(p->st[side], sock, BERTH_OPT_SNDBUF, snd), 0);
    assert_int_equal(berth_setopt(p->st[side], sock, BERTH_OPT_RCVBUF, rcv), 0);
    assert_int_equal(berth_getopt(p->st[side], sock, BERTH_OPT_SNDBUF, &v), 0);
    assert_int_equal(v, snd);
    assert_int_equal(berth_getopt(p->st[side], sock, BERTH_OPT_RCVBUF, &v), 0);
    return v;
}

/* SNDBUF and RCVBUF change on live sockets, as Linux allows: both sides
 * grow and shrink both buffers in the middle of a transfer both ways, over
 * a link that loses and reorders (so reassembly and the SACK scoreboard
 * hold data when the bounds move). Shrinking below what is held keeps it;
 * the window's right edge never moves left (RFC 9293 §3.8.6.2.2); a
 * receive buffer beyond what the agreed window-scale shift can advertise
 * is clamped to it (RFC 7323 §2.3: 256 KiB before connect gives shift 3
 * with this stack's rule; 65535 << 3 is the most it can say). Every byte
 * arrives once, in order. */
static void buffers_resized_mid_transfer_keep_the_data(void **state)
{
    (void)state;
    struct pair *p = pair_new(11);
    struct berth_memlink_impair imp;
    berth_memlink_impair_init(&imp);
    imp.loss = 0.02;
    imp.reorder = 0.05;
    imp.jitter = 200;
    set_impair_both(p, &imp);
    struct conn k;
    k.sport = 80;
    k.lsn = berth_socket(p->st[SERVER]);
    assert_true(k.lsn >= 0);
    /* 256 KiB on both before the handshake: a window-scale shift of 3. */
    set_buffers(p, SERVER, k.lsn, 256 * KIB, 256 * KIB);
    assert_int_equal(berth_bind(p->st[SERVER], k.lsn, SERVER_ADDR, 80), 0);
    assert_int_equal(berth_listen(p->st[SERVER], k.lsn, 16), 0);
    k.c = berth_socket(p->st[CLIENT]);
    set_buffers(p, CLIENT, k.c, 256 * KIB, 256 * KIB);
    assert_int_equal(berth_connect(p->st[CLIENT], k.c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    run_until_ready(p, CLIENT, k.c, BERTH_EV_WRITABLE, 600 * SEC);
    run_until_ready(p, SERVER, k.lsn, BERTH_EV_READABLE, 600 * SEC);
    k.s = berth_accept(p->st[SERVER], k.lsn, NULL);
    assert_true(k.s >= 0);
    int sock[2] = {k.c, k.s};

    struct stream s[2];
    stream_init(&s[0], CLIENT, k.c, k.s, 2 * MIB, 0x7777);
    stream_init(&s[1], SERVER, k.s, k.c, 2 * MIB, 0x8888);
    s[0].shutdown_when_sent = s[1].shutdown_when_sent = true;
    /* Every 256 KiB of the client's stream, both sides resize: shrink far
     * below what is queued, grow beyond the shift's reach (clamped), shrink
     * again, grow back. */
    static const struct {
        int64_t snd, rcv, rcv_read_back;
    } steps[] = {
        {2 * KIB, 2 * KIB, 2 * KIB},
        {4 * MIB, 4 * MIB, 65535 << 3},
        {8 * KIB, 16 * KIB, 16 * KIB},
        {128 * KIB, 128 * KIB, 128 * KIB},
    };
    size_t next = 0;
    uint64_t end = p->now + 1200 * SEC;
    while (!(stream_done(&s[0]) && stream_done(&s[1]))) {
        if (next < 4 && s[0].received >= (next + 1) * (512 * KIB) / 2) {
            for (int side = 0; side < 2; side++)
                assert_int_equal(set_buffers(p, side, sock[side],
                                             steps[next].snd, steps[next].rcv),
                                 steps[next].rcv_read_back);
            next++;
        }
        for (int i = 0; i < 2; i++) {
            stream_send(p, &s[i]);
            stream_recv(p, &s[i]);
        }
        if (p->now >= end)
            fail_msg("transfer stalled: %zu and %zu of %zu bytes",
                     s[0].received, s[1].received, s[0].total);
        run_for(p, 1 * MS);
    }
    assert_int_equal(next, 4);
    for (int i = 0; i < 2; i++) {
        if (s[i].first_mismatch != SIZE_MAX)
            fail_msg("stream %d: byte %zu is wrong", i, s[i].first_mismatch);
        assert_true(s[i].rx_hash == s[i].tx_hash);
    }
    struct berth_memlink_stats st;
    berth_memlink_stats(p->link, CLIENT, &st);
    assert_true(st.lost > 0 && st.reordered > 0);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* Determinism (docs/ARCHITECTURE.md): the same seed gives the same packets at
 * the same instants, so a failing seed replays exactly. */
static void same_seed_replays_identical_packets(void **state)
{
    uint64_t h1, h2, h3;
    (void)state;
    transfer_over_lossy_link(9, 32 * KIB, &h1);
    transfer_over_lossy_link(9, 32 * KIB, &h2);
    transfer_over_lossy_link(10, 32 * KIB, &h3);
    assert_true(h1 == h2);
    assert_true(h1 != h3);
}

/* Corrupted packets fail the checksum (RFC 9293 §3.1) and are dropped;
 * retransmission fills the gaps. */
static void corrupted_packets_are_dropped_and_transfer_completes(void **state)
{
    (void)state;
    struct pair *p = pair_new(11);
    struct berth_memlink_impair imp;
    struct conn k;
    struct stream up;
    berth_memlink_impair_init(&imp);
    imp.corrupt = 0.05;
    set_impair_both(p, &imp);
    establish(p, 80, &k);
    stream_init(&up, CLIENT, k.c, k.s, 128 * KIB, 0x7777);
    up.shutdown_when_sent = true;
    pump(p, &up, 1, 600 * SEC);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);

    struct berth_memlink_stats st;
    berth_memlink_stats(p->link, CLIENT, &st);
    assert_true(st.corrupted > 0);
    uint64_t bad = berth_counter(p->st[SERVER], BERTH_CTR_IP_IN_DROPPED) +
                   berth_counter(p->st[SERVER], BERTH_CTR_BAD_CSUM);
    assert_true(bad > 0);
    pair_finish(p);
}

/* Zero window (RFC 9293 §3.8.6.1): the receiver does not read until the
 * sender's buffer is full; the sender probes the closed window, and the
 * transfer completes once the receiver reads. */
static void zero_window_is_probed_and_transfer_completes(void **state)
{
    (void)state;
    struct pair *p = pair_new(12);
    struct conn k;
    struct stream up;
    establish(p, 80, &k);
    stream_init(&up, CLIENT, k.c, k.s, 512 * KIB, 0x8888);
    up.shutdown_when_sent = true;
    up.reading = false;

    /* Fill the receiver's buffer and then the sender's, until the window is
     * shut with nothing in flight. A last sub-MSS window may be used only
     * after the sender's SWS override (§3.8.6.2.1): keep going. */
    struct berth_tcp_info ci, si;
    bool full = false;
    for (int i = 0; i < 2000 && !full; i++) {
        run_for(p, 10 * MS);
        size_t before = up.sent;
        stream_send(p, &up);
        assert_int_equal(berth_getinfo(p->st[CLIENT], k.c, &ci), 0);
        full = up.sent == before && ci.snd_wnd == 0 && ci.unacked == 0;
    }
    assert_true(full);
    assert_int_equal(berth_getinfo(p->st[SERVER], k.s, &si), 0);
    assert_int_equal(si.rcv_wnd, 0);
    assert_int_equal(si.rcv_queued + ci.snd_queued, up.sent);
    assert_int_equal(berth_send(p->st[CLIENT], k.c, "x", 1), BERTH_EAGAIN);

    /* The window stays shut for a while: persist probes, no abort, and no
     * byte gets past the closed window. */
    run_for(p, 10 * SEC);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_PERSIST_PROBES) > 0);
    assert_int_equal(sock_state(p, CLIENT, k.c), BERTH_STATE_ESTABLISHED);
    struct berth_tcp_info si2;
    assert_int_equal(berth_getinfo(p->st[SERVER], k.s, &si2), 0);
    assert_int_equal(si2.rcv_queued, si.rcv_queued);

    up.reading = true;
    pump(p, &up, 1, 120 * SEC);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* ---------------------------------------------------------------------- */
/* Failures. */

/* berth_abort sends RST (RFC 9293 §3.10.5 ABORT); the peer's next call
 * reports ECONNRESET. */
static void abort_resets_the_peer_with_econnreset(void **state)
{
    (void)state;
    struct pair *p = pair_new(13);
    struct conn k;
    establish(p, 80, &k);
    send_all(p, CLIENT, k.c, "hello");
    recv_exact(p, SERVER, k.s, "hello");

    assert_int_equal(berth_abort(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    run_until_ready(p, CLIENT, k.c, BERTH_EV_ERROR | BERTH_EV_HUP, 10 * SEC);
    int err = berth_sock_error(p->st[CLIENT], k.c);
    if (err == 0) {
        char c;
        err = berth_recv(p->st[CLIENT], k.c, &c, 1);
    }
    assert_int_equal(err, BERTH_ECONNRESET);
    const struct state_change *c = last_change(p, CLIENT, k.cport, 80);
    assert_non_null(c);
    assert_int_equal(c->new_state, BERTH_STATE_CLOSED);
    assert_int_equal(c->reason, BERTH_REASON_RCV_RST);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_ESTAB_RESETS), 1);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_RST_OUT), 1);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    pair_finish(p);
}

/* RFC 9293 §3.10.7.1: a SYN to a port without a listener is answered with
 * RST,ACK; SYN-SENT takes it as a refusal (§3.10.7.3). */
static void connect_without_listener_is_refused(void **state)
{
    (void)state;
    struct pair *p = pair_new(14);
    int c = berth_socket(p->st[CLIENT]);
    assert_true(c >= 0);
    assert_int_equal(berth_connect(p->st[CLIENT], c, SERVER_ADDR, 81),
                     BERTH_EINPROGRESS);
    run_until_ready(p, CLIENT, c, BERTH_EV_ERROR, 10 * SEC);
    assert_true(p->now <= 3 * MS); /* one round trip, no retries */
    assert_int_equal(berth_sock_error(p->st[CLIENT], c), BERTH_ECONNREFUSED);
    assert_int_equal(berth_drop_count(p->st[SERVER], BERTH_REASON_NO_SOCKET),
                     1);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_RST_OUT), 1);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_ATTEMPT_FAILS), 1);
    assert_int_equal(berth_close(p->st[CLIENT], c), 0);
    pair_finish(p);
}

/* RFC 1122 §4.2.3.6: with keepalive on (idle 1 s, interval 1 s, 3 probes)
 * and a peer that has gone silent, the connection is aborted with
 * ETIMEDOUT about idle + interval × count = 4 s later. */
static void keepalive_silent_peer_times_out(void **state)
{
    (void)state;
    struct pair *p = pair_new(15);
    struct conn k;
    establish(p, 80, &k);
    struct berth_stack *c = p->st[CLIENT];
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPIDLE, 1 * SEC), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPINTVL, 1 * SEC), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPCNT, 3), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPALIVE, 1), 0);
    p->rules.blackhole = true;
    uint64_t start = p->now;

    run_until_ready(p, CLIENT, k.c, BERTH_EV_ERROR, 60 * SEC);
    uint64_t took = p->now - start;
    if (took < 3900 * MS || took > 4200 * MS)
        fail_msg("keepalive gave up after %llu ms, expected about 4000",
                 (unsigned long long)(took / MS));
    assert_int_equal(berth_sock_error(c, k.c), BERTH_ETIMEDOUT);
    assert_int_equal(berth_counter(c, BERTH_CTR_KEEPALIVE_PROBES), 3);
    assert_int_equal(berth_counter(c, BERTH_CTR_KEEPALIVE_TIMEOUTS), 1);
    const struct state_change *last = last_change(p, CLIENT, k.cport, 80);
    assert_int_equal(last->new_state, BERTH_STATE_CLOSED);
    assert_int_equal(last->reason, BERTH_REASON_KEEPALIVE_TIMEOUT);

    assert_int_equal(berth_close(c, k.c), 0);
    /* The server never hears of it; it gives up its side by itself. */
    assert_int_equal(berth_abort(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* Keepalive probes (RFC 1122 §4.2.3.6) answered by a live peer keep the
 * connection up however long it idles. */
static void keepalive_answered_by_live_peer_keeps_connection(void **state)
{
    (void)state;
    struct pair *p = pair_new(18);
    struct conn k;
    establish(p, 80, &k);
    struct berth_stack *c = p->st[CLIENT];
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPIDLE, 1 * SEC), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPINTVL, 1 * SEC), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPCNT, 3), 0);
    assert_int_equal(berth_setopt(c, k.c, BERTH_OPT_KEEPALIVE, 1), 0);
    run_for(p, 20 * SEC);
    assert_int_equal(sock_state(p, CLIENT, k.c), BERTH_STATE_ESTABLISHED);
    assert_int_equal(berth_sock_error(c, k.c), 0);
    uint64_t probes = berth_counter(c, BERTH_CTR_KEEPALIVE_PROBES);
    assert_true(probes >= 9 && probes <= 20);
    assert_int_equal(berth_counter(c, BERTH_CTR_KEEPALIVE_TIMEOUTS), 0);
    /* Still usable. */
    send_all(p, CLIENT, k.c, "still there?");
    recv_exact(p, SERVER, k.s, "still there?");
    assert_int_equal(berth_close(c, k.c), 0);
    recv_eof(p, SERVER, k.s);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* Linger 0: close() aborts with RST (RFC 9293 §3.10.5) and the peer sees
 * ECONNRESET. */
static void close_with_linger_zero_resets_the_peer(void **state)
{
    (void)state;
    struct pair *p = pair_new(19);
    struct conn k;
    establish(p, 80, &k);
    assert_int_equal(berth_setopt(p->st[CLIENT], k.c, BERTH_OPT_LINGER, 0), 0);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    run_until_ready(p, SERVER, k.s, BERTH_EV_ERROR | BERTH_EV_HUP, 10 * SEC);
    char ch;
    int err = berth_sock_error(p->st[SERVER], k.s);
    if (err == 0)
        err = berth_recv(p->st[SERVER], k.s, &ch, 1);
    assert_int_equal(err, BERTH_ECONNRESET);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_ABORT_ON_CLOSE), 1);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_TIME_WAIT_ENTERED),
                     0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* Closing with unread received data resets the connection rather than
 * pretending a graceful close (RFC 2525 §2.17, RFC 9293 §3.10.4). */
static void close_with_unread_data_resets_the_peer(void **state)
{
    (void)state;
    struct pair *p = pair_new(20);
    struct conn k;
    establish(p, 80, &k);
    send_all(p, SERVER, k.s, "you will never read this");
    run_until_ready(p, CLIENT, k.c, BERTH_EV_READABLE, 10 * SEC);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    run_until_ready(p, SERVER, k.s, BERTH_EV_ERROR | BERTH_EV_HUP, 10 * SEC);
    char ch;
    int err = berth_sock_error(p->st[SERVER], k.s);
    if (err == 0)
        err = berth_recv(p->st[SERVER], k.s, &ch, 1);
    assert_int_equal(err, BERTH_ECONNRESET);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_RST_OUT), 1);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* A SYN that is never answered is retransmitted syn_retries (6) times with
 * the RTO doubling from 1 s (RFC 6298 §5.5): the attempt fails with
 * ETIMEDOUT after 1+2+4+8+16+32+64 = 127 s, as on Linux. */
static void connect_to_silent_host_times_out_after_syn_retries(void **state)
{
    (void)state;
    struct pair *p = pair_new(21);
    p->rules.blackhole = true;
    int c = berth_socket(p->st[CLIENT]);
    assert_true(c >= 0);
    assert_int_equal(berth_connect(p->st[CLIENT], c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    struct berth_endpoint me;
    assert_int_equal(berth_getsockname(p->st[CLIENT], c, &me), 0);
    run_until_ready(p, CLIENT, c, BERTH_EV_ERROR, 600 * SEC);
    if (p->now < 126 * SEC || p->now > 128 * SEC)
        fail_msg("SYN-SENT gave up after %llu ms, expected 127000",
                 (unsigned long long)(p->now / MS));
    assert_int_equal(berth_sock_error(p->st[CLIENT], c), BERTH_ETIMEDOUT);
    assert_int_equal(p->rules.chosen_drops, 7); /* SYN + 6 retries */
    const struct state_change *last = last_change(p, CLIENT, me.port, 80);
    assert_non_null(last);
    assert_int_equal(last->new_state, BERTH_STATE_CLOSED);
    assert_int_equal(last->reason, BERTH_REASON_SYN_RETRIES);
    assert_int_equal(berth_counter(p->st[CLIENT], BERTH_CTR_ATTEMPT_FAILS), 1);
    assert_int_equal(berth_close(p->st[CLIENT], c), 0);
    pair_finish(p);
}

/* A closed socket does not wait in FIN-WAIT-2 forever for a peer that
 * never closes: fin_wait_2_timeout (60 s, like Linux's tcp_fin_timeout).
 * The peer's late FIN then meets no connection and draws a RST. */
static void fin_wait_2_of_closed_socket_times_out(void **state)
{
    (void)state;
    struct pair *p = pair_new(22);
    struct conn k;
    establish(p, 80, &k);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    recv_eof(p, SERVER, k.s);
    run_for(p, 200 * MS);
    uint64_t fw2 = last_change(p, CLIENT, k.cport, 80)->now;
    assert_int_equal(last_change(p, CLIENT, k.cport, 80)->new_state,
                     BERTH_STATE_FIN_WAIT_2);
    run_for(p, 61 * SEC);
    const struct state_change *c = last_change(p, CLIENT, k.cport, 80);
    assert_int_equal(c->new_state, BERTH_STATE_CLOSED);
    assert_int_equal(c->reason, BERTH_REASON_FIN_WAIT_2_TIMEOUT);
    assert_true(c->now - fw2 >= 59 * SEC && c->now - fw2 <= 61 * SEC);

    assert_int_equal(sock_state(p, SERVER, k.s), BERTH_STATE_CLOSE_WAIT);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    run_for(p, 1 * SEC);
    assert_path_ends_with(p, SERVER, 80, k.cport, "LAST-ACK CLOSED");
    assert_int_equal(last_change(p, SERVER, 80, k.cport)->reason,
                     BERTH_REASON_RCV_RST);
    pair_finish(p);
}

/* RFC 5482 user timeout: data unacknowledged for longer than it aborts the
 * connection with ETIMEDOUT, well before the retransmission limit. */
static void user_timeout_aborts_unacknowledged_data(void **state)
{
    (void)state;
    struct pair *p = pair_new(23);
    struct conn k;
    establish(p, 80, &k);
    assert_int_equal(
        berth_setopt(p->st[CLIENT], k.c, BERTH_OPT_USER_TIMEOUT, 3 * SEC), 0);
    p->rules.blackhole = true;
    uint64_t start = p->now;
    send_all(p, CLIENT, k.c, "into the void");
    run_until_ready(p, CLIENT, k.c, BERTH_EV_ERROR, 600 * SEC);
    uint64_t took = p->now - start;
    if (took < 2900 * MS || took > 3500 * MS)
        fail_msg("user timeout fired after %llu ms, expected about 3000",
                 (unsigned long long)(took / MS));
    assert_int_equal(berth_sock_error(p->st[CLIENT], k.c), BERTH_ETIMEDOUT);
    assert_int_equal(last_change(p, CLIENT, k.cport, 80)->reason,
                     BERTH_REASON_USER_TIMEOUT);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_abort(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* The link's one-way delay is what the stacks measure: the handshake
 * takes one round trip, and the smoothed RTT settles near 2 × delay. */
static void link_delay_sets_the_round_trip(void **state)
{
    (void)state;
    struct pair *p = pair_new(25);
    struct berth_memlink_impair imp;
    struct conn k;
    berth_memlink_impair_init(&imp);
    imp.delay = 50 * MS;
    set_impair_both(p, &imp);
    listen_on(p, 80, &k);
    k.c = berth_socket(p->st[CLIENT]);
    assert_int_equal(berth_connect(p->st[CLIENT], k.c, SERVER_ADDR, 80),
                     BERTH_EINPROGRESS);
    run_until_ready(p, CLIENT, k.c, BERTH_EV_WRITABLE, 10 * SEC);
    assert_int_equal(p->now, 100 * MS);
    k.s = -1;
    run_until_ready(p, SERVER, k.lsn, BERTH_EV_READABLE, 10 * SEC);
    assert_int_equal(p->now, 150 * MS);
    k.s = berth_accept(p->st[SERVER], k.lsn, NULL);
    assert_true(k.s >= 0);

    struct stream up;
    stream_init(&up, CLIENT, k.c, k.s, 256 * KIB, 0xbbbb);
    up.shutdown_when_sent = true;
    pump(p, &up, 1, 120 * SEC);
    struct berth_tcp_info ci;
    assert_int_equal(berth_getinfo(p->st[CLIENT], k.c, &ci), 0);
    assert_true(ci.srtt >= 95 * MS && ci.srtt <= 160 * MS);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

/* A link that holds only 8 packets each way drops the rest of a burst
 * (counted as queue_full), like a small router buffer; the sender backs
 * off and the transfer still completes exactly. */
static void small_link_queue_drops_bursts_and_transfer_completes(void **state)
{
    (void)state;
    struct pair *p = pair_new(26);
    struct berth_memlink_impair imp;
    struct conn k;
    struct stream up;
    berth_memlink_impair_init(&imp);
    imp.delay = 5 * MS;
    set_impair_both(p, &imp);
    berth_memlink_set_queue_limit(p->link, 8);
    establish(p, 80, &k);
    stream_init(&up, CLIENT, k.c, k.s, 512 * KIB, 0xcccc);
    up.shutdown_when_sent = true;
    pump(p, &up, 1, 600 * SEC);
    struct berth_memlink_stats st;
    berth_memlink_stats(p->link, CLIENT, &st);
    assert_true(st.queue_full > 0);
    assert_true(berth_counter(p->st[CLIENT], BERTH_CTR_RETRANS_SEGS) > 0);
    assert_int_equal(berth_close(p->st[CLIENT], k.c), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.s), 0);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

#define MANY 64

/* Many connections open, exchange and close at the same instants: each
 * request gets its own reply, and everything is freed at the end. */
static void many_concurrent_connections_each_get_their_reply(void **state)
{
    (void)state;
    struct pair *p = pair_new(24);
    struct conn k;
    int c[MANY], sv[MANY];
    bool replied[MANY] = {false}, done[MANY] = {false};
    int accepted = 0, finished = 0;
    listen_on(p, 80, &k);
    for (int i = 0; i < MANY; i++) {
        c[i] = berth_socket(p->st[CLIENT]);
        assert_true(c[i] >= 0);
        assert_int_equal(berth_connect(p->st[CLIENT], c[i], SERVER_ADDR, 80),
                         BERTH_EINPROGRESS);
        sv[i] = -1;
    }
    for (int step = 0; step < 100000 && finished < MANY; step++) {
        run_for(p, 1 * MS);
        struct berth_endpoint peer;
        int s;
        while ((s = berth_accept(p->st[SERVER], k.lsn, &peer)) >= 0) {
            assert_true(accepted < MANY);
            sv[accepted++] = s;
        }
        for (int i = 0; i < MANY; i++) {
            char req[32], buf[64];
            uint32_t ev = berth_poll(p->st[CLIENT], c[i]);
            if ((ev & BERTH_EV_WRITABLE) && !replied[i] && !done[i]) {
                snprintf(req, sizeof(req), "request %d", i);
                int r = berth_send(p->st[CLIENT], c[i], req, strlen(req));
                if (r > 0)
                    replied[i] = true; /* sent; the reply comes next */
            }
            if (i < accepted && sv[i] >= 0) {
                int r = berth_recv(p->st[SERVER], sv[i], buf, sizeof(buf) - 1);
                if (r > 0) {
                    buf[r] = '\0';
                    /* Echo it back, upper-cased, and close. */
                    for (int j = 0; j < r; j++)
                        if (buf[j] >= 'a' && buf[j] <= 'z')
                            buf[j] = (char)(buf[j] - 'a' + 'A');
                    assert_int_equal(
                        berth_send(p->st[SERVER], sv[i], buf, (size_t)r), r);
                    assert_int_equal(berth_close(p->st[SERVER], sv[i]), 0);
                    sv[i] = -1;
                }
            }
            if (replied[i] && !done[i]) {
                int r = berth_recv(p->st[CLIENT], c[i], buf, sizeof(buf) - 1);
                if (r > 0) {
                    buf[r] = '\0';
                    snprintf(req, sizeof(req), "REQUEST %d", i);
                    assert_string_equal(buf, req);
                    assert_int_equal(berth_close(p->st[CLIENT], c[i]), 0);
                    done[i] = true;
                    finished++;
                }
            }
        }
    }
    assert_int_equal(finished, MANY);
    assert_int_equal(accepted, MANY);
    assert_int_equal(berth_counter(p->st[SERVER], BERTH_CTR_PASSIVE_OPENS),
                     MANY);
    assert_int_equal(berth_close(p->st[SERVER], k.lsn), 0);
    pair_finish(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(short_connection_client_closes_first),
        cmocka_unit_test(short_connection_server_closes_first),
        cmocka_unit_test(simultaneous_close_passes_closing_on_both_sides),
        cmocka_unit_test(simultaneous_open_establishes_both_sides),
        cmocka_unit_test(bulk_transfer_both_ways_arrives_exactly),
        cmocka_unit_test(half_close_server_keeps_sending_after_client_fin),
        cmocka_unit_test(chosen_drops_synack_third_segment_first_fin_recovered),
        cmocka_unit_test(crossed_data_with_lost_acks_recovers_on_both_sides),
        cmocka_unit_test(server_closing_first_survives_any_single_packet_fault),
        cmocka_unit_test(client_closing_first_survives_any_single_packet_fault),
        cmocka_unit_test(simultaneous_close_survives_any_single_packet_fault),
        cmocka_unit_test(lossy_link_transfer_completes_exactly),
        cmocka_unit_test(same_seed_replays_identical_packets),
        cmocka_unit_test(buffers_grow_with_data_and_come_back_from_the_cache),
        cmocka_unit_test(buffers_resized_mid_transfer_keep_the_data),
        cmocka_unit_test(corrupted_packets_are_dropped_and_transfer_completes),
        cmocka_unit_test(zero_window_is_probed_and_transfer_completes),
        cmocka_unit_test(abort_resets_the_peer_with_econnreset),
        cmocka_unit_test(connect_without_listener_is_refused),
        cmocka_unit_test(keepalive_silent_peer_times_out),
        cmocka_unit_test(keepalive_answered_by_live_peer_keeps_connection),
        cmocka_unit_test(close_with_linger_zero_resets_the_peer),
        cmocka_unit_test(close_with_unread_data_resets_the_peer),
        cmocka_unit_test(connect_to_silent_host_times_out_after_syn_retries),
        cmocka_unit_test(fin_wait_2_of_closed_socket_times_out),
        cmocka_unit_test(user_timeout_aborts_unacknowledged_data),
        cmocka_unit_test(many_concurrent_connections_each_get_their_reply),
        cmocka_unit_test(link_delay_sets_the_round_trip),
        cmocka_unit_test(small_link_queue_drops_bursts_and_transfer_completes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
