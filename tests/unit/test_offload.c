/* The core's side of a link's offloads (TUN's virtio-net header): input
 * whose checksum the link verified (BERTH_IN_CSUM_OK), large segments in
 * (a link's coalesced super-packets) with correct ACK accounting, and TSO
 * super-segments out under berth_config.tso_max, which respect cwnd and the
 * peer's window, carry whole MSS and a partial checksum that completes to
 * each piece's. Two stacks back to back; the "link" either cuts
 * super-segments the way Linux's GSO does or hands them on whole. Every
 * test ends with nothing allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"
#include "wire/checksum.h"

#define ADDR_A 0xc6120002u /* sender (tso) */
#define ADDR_B 0xc6120001u /* receiver */
#define MS     1000ull

struct pkt {
    uint32_t dst;
    size_t len;
    uint16_t seg_size; /* > 0: came through tx_gso */
    uint8_t *data;
};

struct wire {
    struct pkt q[512];
    size_t n;
    size_t supers;    /* super-segments sent */
    size_t full;      /* of them, as large as tso_max (65535) allows */
    size_t data_to_b; /* packets with data to b, super or not */
    uint32_t max_len; /* largest TCP payload in one packet */
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static size_t thl_of(const uint8_t *ip)
{
    return (size_t)(ip[20 + 12] >> 4) * 4;
}

static uint32_t payload_len(const uint8_t *ip, size_t len)
{
    return (uint32_t)(len - 20 - thl_of(ip));
}

static void queue(struct wire *w, const uint8_t *pkt, size_t len,
                  uint16_t seg_size)
{
    assert_true(w->n < 512);
    struct pkt *p = &w->q[w->n++];
    p->dst = be32(pkt + 16);
    p->len = len;
    p->seg_size = seg_size;
    p->data = malloc(len);
    assert_non_null(p->data);
    memcpy(p->data, pkt, len);
    uint32_t pl = payload_len(pkt, len);
    if (pl > w->max_len)
        w->max_len = pl;
    if (pl > 0 && p->dst == ADDR_B)
        w->data_to_b++;
}

static void wire_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    queue(ctx, pkt, len, 0);
}

static void wire_tx_gso(void *ctx, const uint8_t *pkt, size_t len,
                        uint16_t seg_size)
{
    struct wire *w = ctx;
    assert_true(seg_size > 0);
    /* A whole number of MSS, more than one. */
    uint32_t pl = payload_len(pkt, len);
    assert_true(pl > seg_size);
    assert_int_equal(pl % seg_size, 0);
    w->supers++;
    if (pl == (65535 - (len - pl)) / seg_size * seg_size)
        w->full++;
    queue(w, pkt, len, seg_size);
}

static void tcp_csum_set(uint8_t *ip, size_t len)
{
    uint8_t *tcp = ip + 20;
    size_t tl = len - 20;
    put16(tcp + 16, 0);
    uint64_t sum =
        csum_pseudo_ipv4(be32(ip + 12), be32(ip + 16), 6, (uint16_t)tl);
    put16(tcp + 16, csum_fold(csum_add(sum, tcp, tl)));
}

static void ip_csum_set(uint8_t *ip)
{
    put16(ip + 10, 0);
    put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}

/* What a NEEDS_CSUM packet's checksum becomes when the link completes it:
 * the data summed onto the field's pseudo-header sum, complemented. */
static uint16_t csum_completed(const uint8_t *ip, size_t len)
{
    return (uint16_t)csum_fold(csum_add(0, ip + 20, len - 20));
}

struct pair {
    struct wire w;
    struct berth_stack *a, *b;
    uint64_t now;
};

static struct berth_stack *stack_new(struct wire *w, uint32_t addr,
                                     uint32_t tso_max, uint32_t rcvbuf)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = w;
    cfg.seed = addr;
    cfg.quickack = 0; /* the ACK policy from the first segment */
    if (rcvbuf)
        cfg.rcvbuf = rcvbuf;
    memcpy(cfg.secret, "test_offload key", sizeof cfg.secret);
    cfg.tso_max = tso_max;
    cfg.tx_gso = tso_max ? wire_tx_gso : NULL;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

/* Cuts a super-segment as Linux's tcp_gso_segment does: seq advances by
 * seg_size, PSH and FIN only on the last piece, IP id counting up, every
 * checksum complete. */
static void split_deliver(struct berth_stack *to, const struct pkt *p,
                          uint64_t now)
{
    size_t hl = 20 + thl_of(p->data);
    uint32_t pl = (uint32_t)(p->len - hl);
    uint8_t buf[1600];
    for (uint32_t off = 0, k = 0; off < pl; off += p->seg_size, k++) {
        uint32_t n = pl - off < p->seg_size ? pl - off : p->seg_size;
        assert_true(hl + n <= sizeof buf);
        memcpy(buf, p->data, hl);
        memcpy(buf + hl, p->data + hl + off, n);
        put16(buf + 2, (uint16_t)(hl + n));
        put16(buf + 4, (uint16_t)(be16(p->data + 4) + k));
        put32(buf + 20 + 4, be32(p->data + 24) + off);
        if (off + n < pl)
            buf[20 + 13] &= (uint8_t)~0x09u; /* FIN, PSH */
        ip_csum_set(buf);
        tcp_csum_set(buf, hl + n);
        assert_int_equal(berth_input(to, buf, hl + n, now), 0);
    }
}

/* Delivers everything in flight, and what that causes, in order. With
 * whole, super-segments reach the receiver as one segment flagged
 * CSUM_OK (as a TUN read of a coalesced packet); else they are cut. */
static void pump(struct pair *p, bool whole)
{
    for (size_t i = 0; i < p->w.n; i++) {
        struct pkt pk = p->w.q[i];
        struct berth_stack *to = pk.dst == ADDR_A ? p->a : p->b;
        if (pk.seg_size && !whole)
            split_deliver(to, &pk, p->now);
        else
            assert_int_equal(
                berth_input_flags(to, pk.data, pk.len, p->now,
                                  pk.seg_size ? BERTH_IN_CSUM_OK : 0),
                0);
        free(pk.data);
    }
    p->w.n = 0;
}

static void drop_all(struct pair *p)
{
    for (size_t i = 0; i < p->w.n; i++)
        free(p->w.q[i].data);
    p->w.n = 0;
}

static void pair_connect(struct pair *p, uint32_t tso_max, uint32_t rcvbuf,
                         int *listener, int *client, int *server)
{
    memset(p, 0, sizeof *p);
    p->a = stack_new(&p->w, ADDR_A, tso_max, 0);
    p->b = stack_new(&p->w, ADDR_B, 0, rcvbuf);
    *listener = berth_socket(p->b);
    assert_int_equal(berth_bind(p->b, *listener, 0, 80), 0);
    assert_int_equal(berth_listen(p->b, *listener, 8), 0);
    *client = berth_socket(p->a);
    assert_int_equal(berth_connect(p->a, *client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    for (int i = 0; i < 4 && p->w.n; i++)
        pump(p, false);
    *server = berth_accept(p->b, *listener, NULL);
    assert_true(*server >= 0);
}

static void pair_finish(struct pair *p, int listener, int client, int server)
{
    berth_abort(p->a, client);
    berth_abort(p->b, server);
    berth_close(p->b, listener);
    drop_all(p);
    assert_int_equal(berth_mem_allocs(p->a), 0);
    assert_int_equal(berth_mem_bytes(p->a), 0);
    assert_int_equal(berth_mem_allocs(p->b), 0);
    assert_int_equal(berth_mem_bytes(p->b), 0);
    berth_stack_destroy(p->a);
    berth_stack_destroy(p->b);
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 31 + 7);
}

/* ---- checksum-verified input ---- */

/* A SYN to b:80 from a:40000 with a correct checksum, then spoiled. */
static size_t make_syn(uint8_t *buf)
{
    memset(buf, 0, 40);
    buf[0] = 0x45;
    put16(buf + 2, 40);
    buf[8] = 64;
    buf[9] = 6;
    put32(buf + 12, ADDR_A);
    put32(buf + 16, ADDR_B);
    ip_csum_set(buf);
    put16(buf + 20, 40000);
    put16(buf + 22, 80);
    put32(buf + 24, 1000);
    buf[32] = 5 << 4;
    buf[33] = 0x02; /* SYN */
    put16(buf + 34, 65535);
    tcp_csum_set(buf, 40);
    return 40;
}

static void input_bad_tcp_checksum_accepted_only_with_csum_ok(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *b = stack_new(&w, ADDR_B, 0, 0);
    int l = berth_socket(b);
    assert_int_equal(berth_bind(b, l, 0, 80), 0);
    assert_int_equal(berth_listen(b, l, 8), 0);
    uint8_t syn[40];
    size_t n = make_syn(syn);
    syn[36] ^= 0x5a; /* the checksum field: wrong now */
    /* RFC 9293 §3.1: a segment whose checksum fails is discarded ... */
    assert_int_equal(berth_input(b, syn, n, 0), BERTH_REASON_BAD_TCP_CHECKSUM);
    assert_int_equal(berth_input_flags(b, syn, n, 0, 0),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
    assert_int_equal(w.n, 0);
    assert_int_equal(berth_counter(b, BERTH_CTR_BAD_CSUM), 2);
    /* ... unless the link verified it (or it never crossed a wire). */
    assert_int_equal(berth_input_flags(b, syn, n, 0, BERTH_IN_CSUM_OK), 0);
    assert_int_equal(w.n, 1); /* the SYN-ACK */
    assert_int_equal(w.q[0].data[33], 0x12);
    /* The IPv4 header checksum is still checked. */
    uint8_t syn2[40];
    make_syn(syn2);
    put16(syn2 + 20, 40001);
    syn2[10] ^= 1;
    assert_int_equal(berth_input_flags(b, syn2, n, 0, BERTH_IN_CSUM_OK),
                     BERTH_REASON_BAD_IP_CHECKSUM);
    for (size_t i = 0; i < w.n; i++)
        free(w.q[i].data);
    berth_close(b, l);
    assert_int_equal(berth_mem_bytes(b), 0);
    berth_stack_destroy(b);
}

/* ---- TSO out ---- */

static size_t send_pattern(struct pair *p, int sock, size_t from, size_t n)
{
    static uint8_t buf[65536]; /* one berth_send() when it all fits */
    size_t sent = 0;
    while (sent < n) {
        size_t k = n - sent < sizeof buf ? n - sent : sizeof buf;
        for (size_t i = 0; i < k; i++)
            buf[i] = pattern(from + sent + i);
        int r = berth_send(p->a, sock, buf, k);
        if (r <= 0)
            break;
        sent += (size_t)r;
    }
    return sent;
}

static void tso_first_flight_is_one_super_segment_of_cwnd(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_connect(&p, 65535, 0, &l, &c, &s);
    struct berth_tcp_info ai;
    assert_int_equal(berth_getinfo(p.a, c, &ai), 0);
    uint32_t cwnd = ai.cwnd;
    assert_int_equal(send_pattern(&p, c, 0, 60000), 60000);
    /* RFC 5681 §3.1: no more than cwnd in flight; TSO sends it as one
     * super-segment of whole MSS (the MSS less the timestamp option). */
    assert_int_equal(p.w.n, 1);
    assert_int_equal(p.w.supers, 1);
    uint16_t mss = p.w.q[0].seg_size;
    assert_int_equal(mss, ai.snd_mss - 12);
    uint32_t pl = payload_len(p.w.q[0].data, p.w.q[0].len);
    assert_int_equal(pl, cwnd / mss * mss);
    assert_true(pl <= cwnd);
    /* The checksum field holds the pseudo-header sum: completed by the
     * link it is the checksum of the whole segment. */
    struct pkt *q = &p.w.q[0];
    uint16_t done = csum_completed(q->data, q->len);
    uint8_t copy[65536];
    memcpy(copy, q->data, q->len);
    tcp_csum_set(copy, q->len);
    assert_int_equal(done, be16(copy + 36));
    pair_finish(&p, l, c, s);
}

static void tso_super_segment_limited_by_peer_window(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_connect(&p, 65535, 8192, &l, &c, &s);
    struct berth_tcp_info ai;
    assert_int_equal(berth_getinfo(p.a, c, &ai), 0);
    uint32_t wnd = ai.snd_wnd;
    assert_true(wnd <= 8192);
    assert_int_equal(send_pattern(&p, c, 0, 30000), 30000);
    /* RFC 9293 §3.8.6: nothing beyond SND.UNA + SND.WND. */
    uint32_t total = 0;
    for (size_t i = 0; i < p.w.n; i++)
        total += payload_len(p.w.q[i].data, p.w.q[i].len);
    assert_true(total <= wnd);
    assert_int_equal(p.w.supers, 1);
    pair_finish(&p, l, c, s);
}

static void tso_off_by_default_every_segment_one_mss(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_connect(&p, 0, 0, &l, &c, &s);
    assert_int_equal(send_pattern(&p, c, 0, 60000), 60000);
    assert_int_equal(p.w.supers, 0);
    assert_true(p.w.n > 1);
    struct berth_tcp_info ai;
    assert_int_equal(berth_getinfo(p.a, c, &ai), 0);
    assert_true(p.w.max_len <= ai.snd_mss);
    pair_finish(&p, l, c, s);
}

/* A stream of 1 MiB with TSO, carried either way by the link: cut into
 * MSS pieces (the kernel's GSO) or whole (a receiver taking super-packets),
 * arrives intact and in order. */
/* Sends `total` pattern bytes from c to s a millisecond round at a time
 * (at most 10000 rounds), reading each round out in buf-sized pieces and
 * checking every byte; fails unless all of them arrived. */
static void transfer_pattern(struct pair *p, int c, int s, size_t total,
                             bool whole)
{
    static uint8_t buf[65536];
    size_t sent = 0, got = 0;
    for (int round = 0; round < 10000 && got < total; round++) {
        if (sent < total)
            sent += send_pattern(p, c, sent, total - sent);
        p->now += MS;
        pump(p, whole);
        berth_advance(p->a, p->now);
        berth_advance(p->b, p->now);
        for (;;) {
            int r = berth_recv(p->b, s, buf, sizeof buf);
            if (r <= 0)
                break;
            for (int i = 0; i < r; i++)
                assert_int_equal(buf[i], pattern(got + (size_t)i));
            got += (size_t)r;
        }
    }
    assert_int_equal(got, total);
}

static void tso_transfer_intact(bool whole)
{
    struct pair p;
    int l, c, s;
    pair_connect(&p, 65535, 262144, &l, &c, &s);
    const size_t total = 1 << 20;
    transfer_pattern(&p, c, s, total, whole);
    assert_true(p.w.supers > 0); /* TSO was used */
    assert_int_equal(berth_counter(p.a, BERTH_CTR_RETRANS_SEGS), 0);
    pair_finish(&p, l, c, s);
}

static void tso_transfer_intact_when_link_cuts_segments(void **state)
{
    (void)state;
    tso_transfer_intact(false);
}

static void tso_transfer_intact_when_receiver_takes_super_packets(void **state)
{
    (void)state;
    tso_transfer_intact(true);
}

/* A bulk transfer limited by the receiver's window (1 MiB, read out each
 * round) with the sender's buffer larger: each window update opens room
 * for some super-segments and a remainder. The remainder waits for the
 * next ACK while most of the window is in flight (tso_should_defer, as
 * Linux's tcp_tso_should_defer), so most data leaves in full
 * super-segments. This lockstep link often ACKs everything in flight
 * before the window update comes (then the remainder goes: no ACK would
 * follow), so partial ones remain: 108 against 204 full ones for 16 MiB;
 * without the deferral 285 against 195. */
static void tso_partial_super_segment_waits_for_the_next_ack(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_connect(&p, 65535, 1 << 20, &l, &c, &s);
    assert_int_equal(berth_setopt(p.a, c, BERTH_OPT_SNDBUF, 4 << 20), 0);
    const size_t total = 16 << 20;
    transfer_pattern(&p, c, s, total, true);
    assert_int_equal(berth_counter(p.a, BERTH_CTR_RETRANS_SEGS), 0);
    size_t partial = p.w.data_to_b - p.w.full;
    assert_true(partial < p.w.full);
    pair_finish(&p, l, c, s);
}

/* The hold-back has a time bound, as Linux's (tcp_tso_should_defer: only
 * while the last send was recent, 1 ms): a remainder held for the next ACK
 * still waits when the application adds a byte at the same instant, and
 * goes when it does so more than a millisecond after the last send. The
 * link is stepped a packet at a time to catch the moment: an ACK reached
 * a, whose window lets a whole MSS more go, with more queued and at least
 * two MSS in flight, and a sent nothing. */
static void tso_hold_back_ends_a_millisecond_after_the_last_send(void **state)
{
    (void)state;
    struct pair p;
    int l, c, s;
    pair_connect(&p, 65535, 1 << 20, &l, &c, &s);
    assert_int_equal(berth_setopt(p.a, c, BERTH_OPT_SNDBUF, 4 << 20), 0);
    static uint8_t buf[65536];
    const size_t total = 16 << 20;
    size_t sent = 0, got = 0;
    bool held = false;
    for (int round = 0; round < 10000 && got < total && !held; round++) {
        if (sent < total)
            sent += send_pattern(&p, c, sent, total - sent);
        p.now += MS;
        for (size_t i = 0; i < p.w.n && !held; i++) {
            struct pkt pk = p.w.q[i];
            struct berth_stack *to = pk.dst == ADDR_A ? p.a : p.b;
            size_t before = p.w.n;
            assert_int_equal(
                berth_input_flags(to, pk.data, pk.len, p.now,
                                  pk.seg_size ? BERTH_IN_CSUM_OK : 0),
                0);
            struct berth_tcp_info ti;
            assert_int_equal(berth_getinfo(p.a, c, &ti), 0);
            uint32_t wnd = ti.snd_wnd < ti.cwnd ? ti.snd_wnd : ti.cwnd;
            uint32_t usable = wnd > ti.unacked ? wnd - ti.unacked : 0;
            held = to == p.a && p.w.n == before &&
                   ti.snd_queued - ti.unacked >= ti.snd_mss &&
                   usable >= ti.snd_mss && ti.unacked >= 2 * ti.snd_mss;
            if (held) {
                /* The rest of the queue stays in flight. */
                memmove(p.w.q, p.w.q + i + 1,
                        (p.w.n - i - 1) * sizeof p.w.q[0]);
                p.w.n -= i + 1;
            }
            free(pk.data);
        }
        if (!held) {
            p.w.n = 0;
            berth_advance(p.a, p.now);
            berth_advance(p.b, p.now);
            int r;
            while ((r = berth_recv(p.b, s, buf, sizeof buf)) > 0)
                got += (size_t)r;
        }
    }
    assert_true(held);
    size_t n0 = p.w.data_to_b;
    /* A byte more at the same instant: still held. */
    berth_advance(p.a, p.now);
    assert_int_equal(send_pattern(&p, c, sent, 1), 1);
    sent++;
    assert_int_equal(p.w.data_to_b, n0);
    /* A millisecond later: still within the bound (the ms clock may have
     * ticked once since the last send). Two: it goes. */
    p.now += MS;
    berth_advance(p.a, p.now);
    assert_int_equal(send_pattern(&p, c, sent, 1), 1);
    sent++;
    assert_int_equal(p.w.data_to_b, n0);
    p.now += MS;
    berth_advance(p.a, p.now);
    assert_int_equal(send_pattern(&p, c, sent, 1), 1);
    assert_true(p.w.data_to_b > n0);
    pair_finish(&p, l, c, s);
}

/* ---- large segments in: ACK accounting ---- */

/* A segment from a:40000 to b:80 (no options but MSS 1460 on a SYN), its
 * checksum field left zero: only CSUM_OK input takes it. */
static size_t make_seg(uint8_t *buf, uint32_t seq, uint32_t ack, uint8_t flags,
                       uint32_t len)
{
    size_t thl = (flags & 0x02) ? 24 : 20;
    memset(buf, 0, 20 + thl);
    buf[0] = 0x45;
    put16(buf + 2, (uint16_t)(20 + thl + len));
    buf[8] = 64;
    buf[9] = 6;
    put32(buf + 12, ADDR_A);
    put32(buf + 16, ADDR_B);
    ip_csum_set(buf);
    put16(buf + 20, 40000);
    put16(buf + 22, 80);
    put32(buf + 24, seq);
    put32(buf + 28, ack);
    buf[32] = (uint8_t)(thl / 4 << 4);
    buf[33] = flags;
    put16(buf + 34, 65535);
    if (thl == 24) {
        buf[40] = 2;
        buf[41] = 4;
        put16(buf + 42, 1460);
    }
    for (uint32_t i = 0; i < len; i++)
        buf[20 + thl + i] = pattern(i);
    return 20 + thl + len;
}

/* RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: a segment of several full-sized
 * segments is ACKed at once; after it, "full-sized" is still one MSS (the
 * large segment does not inflate it): one more MSS waits for the delayed
 * ACK, a second one is ACKed at once. */
static void large_segment_acked_at_once_and_mss_stays_full_sized(void **state)
{
    (void)state;
    struct wire w = {0};
    struct berth_stack *b = stack_new(&w, ADDR_B, 0, 0);
    int l = berth_socket(b);
    assert_int_equal(berth_bind(b, l, 0, 80), 0);
    assert_int_equal(berth_listen(b, l, 8), 0);
    static uint8_t buf[65536];
    size_t n = make_seg(buf, 1000, 0, 0x02, 0);
    assert_int_equal(berth_input_flags(b, buf, n, 0, BERTH_IN_CSUM_OK), 0);
    assert_int_equal(w.n, 1);
    uint32_t iss = be32(w.q[0].data + 24);
    free(w.q[0].data);
    w.n = 0;
    n = make_seg(buf, 1001, iss + 1, 0x10, 0);
    assert_int_equal(berth_input_flags(b, buf, n, 0, BERTH_IN_CSUM_OK), 0);
    int s = berth_accept(b, l, NULL);
    assert_true(s >= 0);
    assert_int_equal(w.n, 0);

    uint32_t seq = 1001, big = 10 * 1460;
    n = make_seg(buf, seq, iss + 1, 0x10, big);
    assert_int_equal(berth_input_flags(b, buf, n, MS, BERTH_IN_CSUM_OK), 0);
    seq += big;
    assert_int_equal(w.n, 1); /* ACKed at once */
    assert_int_equal(be32(w.q[0].data + 28), seq);
    free(w.q[0].data);
    w.n = 0;
    struct berth_tcp_info bi;
    assert_int_equal(berth_getinfo(b, s, &bi), 0);
    assert_int_equal(bi.rcv_queued, big);

    n = make_seg(buf, seq, iss + 1, 0x10, 1460);
    assert_int_equal(berth_input_flags(b, buf, n, 2 * MS, BERTH_IN_CSUM_OK), 0);
    seq += 1460;
    assert_int_equal(w.n, 0); /* one full-sized segment: delayed */
    n = make_seg(buf, seq, iss + 1, 0x10, 1460);
    assert_int_equal(berth_input_flags(b, buf, n, 3 * MS, BERTH_IN_CSUM_OK), 0);
    seq += 1460;
    assert_int_equal(w.n, 1); /* the second: ACKed at once */
    assert_int_equal(be32(w.q[0].data + 28), seq);
    free(w.q[0].data);
    w.n = 0;

    berth_abort(b, s);
    berth_close(b, l);
    for (size_t i = 0; i < w.n; i++)
        free(w.q[i].data);
    assert_int_equal(berth_mem_bytes(b), 0);
    assert_int_equal(berth_mem_allocs(b), 0);
    berth_stack_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(input_bad_tcp_checksum_accepted_only_with_csum_ok),
        cmocka_unit_test(tso_first_flight_is_one_super_segment_of_cwnd),
        cmocka_unit_test(tso_super_segment_limited_by_peer_window),
        cmocka_unit_test(tso_off_by_default_every_segment_one_mss),
        cmocka_unit_test(tso_transfer_intact_when_link_cuts_segments),
        cmocka_unit_test(tso_transfer_intact_when_receiver_takes_super_packets),
        cmocka_unit_test(tso_partial_super_segment_waits_for_the_next_ack),
        cmocka_unit_test(tso_hold_back_ends_a_millisecond_after_the_last_send),
        cmocka_unit_test(large_segment_acked_at_once_and_mss_stays_full_sized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
