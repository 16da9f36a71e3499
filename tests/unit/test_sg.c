/* Scatter-gather transmit and receive (berth_config.tx_sg,
 * berth_input_sg): a segment's text leaves the send buffer in place as one
 * or two spans (two when it wraps) with only the headers built, its
 * checksum complete when computed over the spans (a single segment) or
 * the pseudo-header sum (a TSO super-segment); a packet in pieces is taken
 * with its checksum verified over the pieces at any offsets and its text
 * copied from them into the receive buffer, in order or out of order.
 * Two stacks back to back: a sends a patterned stream to b, the link
 * between them queues every packet (gathered), may lose some once, and
 * hands b each one whole or cut into pieces. Every test ends with nothing
 * allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"
#include "wire/checksum.h"
#include "wire/checksum_sg.h"

#define ADDR_A  0xc6120002u /* sender */
#define ADDR_B  0xc6120001u /* receiver */
#define MS      1000ull
#define QMAX    4096
#define TOTAL   (1u << 20) /* bytes each transfer carries */
#define SNDBUF  20000u     /* no multiple of the MSS: the text wraps */
#define MAX_ITE 200000

struct pkt {
    uint32_t dst;
    size_t len;
    uint16_t seg_size;
    uint8_t *data;
};

enum rx_mode {
    RX_WHOLE,  /* berth_input (super-segments: flagged CSUM_OK) */
    RX_PIECES, /* berth_input_sg, cut after the headers and inside the text */
    RX_SPLIT_HEADERS, /* berth_input_sg, cut inside the IP header */
};

struct wire {
    struct pkt q[QMAX];
    size_t n;
    enum rx_mode rx;
    uint32_t rx_flags;      /* given to berth_input_sg */
    size_t drop_every;      /* > 0: lose every such data packet to b once */
    size_t data_to_b;       /* data packets to b so far */
    size_t sg_calls;        /* tx_sg calls */
    size_t two_spans;       /* of them, with the text wrapping (2 spans) */
    size_t supers;          /* of them, TSO super-segments */
    size_t csum_ok;         /* of them, whose checksum checked out */
    size_t text_through_tx; /* packets with text through tx (not tx_sg) */
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

/* IPv6 in this link: 2001:db8::N, N the low byte of the IPv4 address. */
static const uint8_t V6[16] = {0x20, 0x01, 0x0d, 0xb8};

static bool is_v6(const uint8_t *ip)
{
    return ip[0] >> 4 == 6;
}

static size_t iphl_of(const uint8_t *ip)
{
    return is_v6(ip) ? 40 : 20;
}

static size_t hdrs_of(const uint8_t *ip)
{
    return iphl_of(ip) + (size_t)(ip[iphl_of(ip) + 12] >> 4) * 4;
}

static uint32_t dst_of(const uint8_t *ip)
{
    return is_v6(ip) ? (ADDR_A & ~0xffu) | ip[39] : be32(ip + 16);
}

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 31 + 7 + i / 251);
}

/* RFC 9293 §3.1 verification over the whole gathered packet. */
static bool tcp_csum_verifies(const uint8_t *ip, size_t len)
{
    size_t h = iphl_of(ip);
    uint64_t sum =
        is_v6(ip) ? csum_pseudo_ipv6(ip + 8, ip + 24, 6, (uint32_t)(len - h))
                  : csum_pseudo_ipv4(be32(ip + 12), be32(ip + 16), 6,
                                     (uint16_t)(len - h));
    return csum_fold(csum_add(sum, ip + h, len - h)) == 0;
}

static void queue(struct wire *w, uint8_t *data, size_t len, uint16_t seg_size)
{
    assert_true(w->n < QMAX);
    w->q[w->n++] = (struct pkt){dst_of(data), len, seg_size, data};
}

static void wire_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct wire *w = ctx;
    if (len > hdrs_of(pkt))
        w->text_through_tx++;
    uint8_t *d = malloc(len);
    assert_non_null(d);
    memcpy(d, pkt, len);
    queue(w, d, len, 0);
}

static void wire_tx_sg(void *ctx, const uint8_t *hdr, size_t hdr_len,
                       const struct berth_iov *spans, size_t nspans,
                       uint16_t seg_size)
{
    struct wire *w = ctx;
    w->sg_calls++;
    /* The headers alone, then one or two spans of text, none empty. */
    assert_int_equal(hdr_len, hdrs_of(hdr));
    assert_true(nspans == 1 || nspans == 2);
    size_t len = hdr_len;
    for (size_t i = 0; i < nspans; i++) {
        assert_true(spans[i].len > 0);
        len += spans[i].len;
    }
    if (is_v6(hdr))
        assert_int_equal(be16(hdr + 4), len - 40);
    else
        assert_int_equal(be16(hdr + 2), len);
    if (nspans == 2)
        w->two_spans++;
    uint8_t *d = malloc(len), *p = d + hdr_len;
    assert_non_null(d);
    memcpy(d, hdr, hdr_len);
    for (size_t i = 0; i < nspans; i++) {
        memcpy(p, spans[i].base, spans[i].len);
        p += spans[i].len;
    }
    if (seg_size) {
        /* The pseudo-header sum: completed as a NEEDS_CSUM link does. */
        w->supers++;
        assert_true(len - hdr_len > seg_size);
        assert_int_equal((len - hdr_len) % seg_size, 0);
        size_t h = iphl_of(d);
        uint16_t c = csum_fold(csum_add(0, d + h, len - h));
        d[h + 16] = (uint8_t)(c >> 8);
        d[h + 17] = (uint8_t)c;
    }
    if (tcp_csum_verifies(d, len))
        w->csum_ok++;
    queue(w, d, len, seg_size);
}

/* p cut into pieces, each in memory of its own: the headers plus `extra`
 * bytes of text, then spans of 1, 7 and 5 bytes (odd offsets for the
 * checksum), then the rest in two. */
static int input_pieces(struct berth_stack *to, const struct pkt *p,
                        size_t hdr_len, uint32_t flags, uint64_t now)
{
    static const size_t cuts[] = {1, 7, 5};
    struct berth_iov sp[5];
    uint8_t *mem[6];
    size_t n = 0, off = hdr_len < p->len ? hdr_len : p->len;
    mem[0] = malloc(off ? off : 1);
    assert_non_null(mem[0]);
    memcpy(mem[0], p->data, off);
    while (off < p->len && n < 5) {
        size_t k = p->len - off;
        if (n < 3 && k > cuts[n])
            k = cuts[n];
        else if (n == 3 && k > 1)
            k = k / 2;
        mem[n + 1] = malloc(k);
        assert_non_null(mem[n + 1]);
        memcpy(mem[n + 1], p->data + off, k);
        sp[n] = (struct berth_iov){mem[n + 1], k};
        off += k;
        n++;
    }
    assert_int_equal(off, p->len);
    int r = berth_input_sg(to, mem[0], hdr_len < p->len ? hdr_len : p->len, sp,
                           n, now, flags);
    for (size_t i = 0; i <= n; i++)
        free(mem[i]);
    return r;
}

struct pair {
    struct wire w;
    struct berth_stack *a, *b;
    uint64_t now;
    int listener, client, server;
    size_t sent, received;
    uint8_t got[TOTAL];
};

static struct berth_stack *stack_new(struct wire *w, uint32_t addr, bool sg,
                                     uint32_t tso_max, uint32_t buf)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    memcpy(cfg.addr6, V6, 16);
    cfg.addr6[15] = (uint8_t)addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = w;
    cfg.tx_sg = sg ? wire_tx_sg : NULL;
    cfg.tso_max = tso_max;
    cfg.mss = 1001; /* odd: segments and wraps start at odd offsets */
    cfg.sndbuf = buf;
    cfg.rcvbuf = buf;
    cfg.seed = addr;
    memcpy(cfg.secret, "test_sg key 0123", sizeof cfg.secret);
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

/* Delivers everything in flight, in order (and what that causes later). */
static void pump(struct pair *p)
{
    struct wire *w = &p->w;
    for (size_t i = 0; i < w->n; i++) {
        struct pkt pk = w->q[i];
        struct berth_stack *to = pk.dst == ADDR_A ? p->a : p->b;
        bool text = pk.len > hdrs_of(pk.data);
        if (to == p->b && text && w->drop_every &&
            ++w->data_to_b % w->drop_every == 0) {
            free(pk.data);
            continue; /* lost (its retransmission is a later packet) */
        }
        int r;
        if (to == p->a || w->rx == RX_WHOLE)
            r = berth_input_flags(to, pk.data, pk.len, p->now,
                                  pk.seg_size ? BERTH_IN_CSUM_OK : 0);
        else if (w->rx == RX_PIECES)
            r = input_pieces(to, &pk, hdrs_of(pk.data) + (text ? 3 : 0),
                             w->rx_flags, p->now);
        else
            r = input_pieces(to, &pk, 10, w->rx_flags, p->now);
        assert_int_equal(r, 0);
        free(pk.data);
    }
    w->n = 0;
}

/* The send buffer (no multiple of the MSS, so the text wraps) is a's; b's
 * receive buffer is smaller with TSO, so the window, not the send buffer,
 * limits a: its send buffer never empties (an empty one is given back, and
 * the next starts at its memory's start). */
static void pair_open_fam(struct pair *p, bool sg, uint32_t tso_max,
                          enum rx_mode rx, bool v6)
{
    memset(p, 0, sizeof *p);
    p->w.rx = rx;
    p->a = stack_new(&p->w, ADDR_A, sg, tso_max, tso_max ? 100000 : SNDBUF);
    p->b = stack_new(&p->w, ADDR_B, false, 0, tso_max ? 30000 : 65535);
    p->listener = berth_socket(p->b);
    uint8_t any[16] = {0}, to[16];
    memcpy(to, V6, 16);
    to[15] = (uint8_t)ADDR_B;
    struct berth_endpoint l6 = berth_endpoint_v6(any, 80);
    struct berth_endpoint b6 = berth_endpoint_v6(to, 80);
    if (v6)
        assert_int_equal(berth_bind_endpoint(p->b, p->listener, &l6), 0);
    else
        assert_int_equal(berth_bind(p->b, p->listener, 0, 80), 0);
    assert_int_equal(berth_listen(p->b, p->listener, 8), 0);
    p->client = berth_socket(p->a);
    assert_int_equal(v6 ? berth_connect_endpoint(p->a, p->client, &b6)
                        : berth_connect(p->a, p->client, ADDR_B, 80),
                     BERTH_EINPROGRESS);
    for (int i = 0; i < 4 && p->w.n; i++)
        pump(p);
    p->server = berth_accept(p->b, p->listener, NULL);
    assert_true(p->server >= 0);
}

static void pair_open(struct pair *p, bool sg, uint32_t tso_max,
                      enum rx_mode rx)
{
    pair_open_fam(p, sg, tso_max, rx, false);
}

static void pair_close(struct pair *p)
{
    berth_abort(p->a, p->client);
    berth_abort(p->b, p->server);
    berth_close(p->b, p->listener);
    for (size_t i = 0; i < p->w.n; i++)
        free(p->w.q[i].data);
    p->w.n = 0;
    assert_int_equal(berth_mem_allocs(p->a), 0);
    assert_int_equal(berth_mem_bytes(p->a), 0);
    assert_int_equal(berth_mem_allocs(p->b), 0);
    assert_int_equal(berth_mem_bytes(p->b), 0);
    berth_stack_destroy(p->a);
    berth_stack_destroy(p->b);
}

/* TOTAL patterned bytes from a to b: sent as the send buffer takes them
 * (in pieces of odd sizes), read as they come; time moves 10 ms whenever
 * the link is idle (retransmissions). Checks every byte. */
static void transfer(struct pair *p)
{
    static uint8_t buf[7777];
    for (int it = 0; it < MAX_ITE && p->received < TOTAL; it++) {
        while (p->sent < TOTAL) {
            size_t k =
                TOTAL - p->sent < sizeof buf ? TOTAL - p->sent : sizeof buf;
            for (size_t i = 0; i < k; i++)
                buf[i] = pattern(p->sent + i);
            int r = berth_send(p->a, p->client, buf, k);
            if (r <= 0)
                break;
            p->sent += (size_t)r;
        }
        if (p->w.n) {
            pump(p);
        } else {
            p->now += 10 * MS;
            berth_advance(p->a, p->now);
            berth_advance(p->b, p->now);
        }
        int r;
        while ((r = berth_recv(p->b, p->server, p->got + p->received,
                               TOTAL - p->received)) > 0)
            p->received += (size_t)r;
    }
    assert_int_equal(p->received, TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        if (p->got[i] != pattern(i))
            fail_msg("byte %zu: %u, not %u", i, p->got[i], pattern(i));
}

static struct pair P;

static void sg_checksum_over_pieces_equals_contiguous(void **state)
{
    (void)state;
    /* Every cut of a 61-byte stream into a first piece and up to three
     * spans (odd and even offsets, empty pieces, a shorter length) sums as
     * the contiguous bytes do. */
    uint8_t d[61];
    for (size_t i = 0; i < sizeof d; i++)
        d[i] = (uint8_t)(pattern(i) ^ 0xa5);
    size_t n = sizeof d;
    for (size_t a = 0; a <= n; a++)
        for (size_t b = a; b <= n; b++)
            for (size_t c = b; c <= n; c += 3) {
                struct berth_iov sp[3] = {
                    {d + a, b - a}, {d + b, c - b}, {d + c, n - c}};
                for (size_t len = n - 2; len <= n; len++) {
                    uint16_t want = csum_fold(csum_add(7, d, len));
                    uint16_t got = csum_fold(csum_add_iov(7, d, a, sp, 3, len));
                    if (got != want)
                        fail_msg("cut %zu/%zu/%zu len %zu: %04x, not %04x", a,
                                 b, c, len, got, want);
                }
            }
}

static void sg_single_segments_intact_checksummed_over_spans(void **state)
{
    (void)state;
    pair_open(&P, true, 0, RX_WHOLE);
    transfer(&P);
    /* Every text segment went through tx_sg, none through tx; the
     * checksum computed over the spans verifies on every one (b checks
     * it again: berth_input without CSUM_OK). Some wrapped. */
    assert_true(P.w.sg_calls >= TOTAL / 1460);
    assert_int_equal(P.w.text_through_tx, 0);
    assert_int_equal(P.w.csum_ok, P.w.sg_calls);
    assert_true(P.w.two_spans > 0);
    assert_int_equal(P.w.supers, 0);
    assert_int_equal(berth_counter(P.b, BERTH_CTR_BAD_CSUM), 0);
    pair_close(&P);
}

static void sg_tso_super_segments_intact(void **state)
{
    (void)state;
    pair_open(&P, true, 65535, RX_WHOLE);
    transfer(&P);
    /* Super-segments with the partial checksum, completed by the link as
     * virtio's NEEDS_CSUM; the single segments between them complete. */
    assert_true(P.w.supers > 0);
    assert_true(P.w.two_spans > 0);
    assert_int_equal(P.w.text_through_tx, 0);
    assert_int_equal(P.w.csum_ok, P.w.sg_calls);
    pair_close(&P);
}

static void sg_retransmissions_and_out_of_order_through_pieces(void **state)
{
    (void)state;
    /* Both ways in pieces: every 29th data packet lost once, so text is
     * resent from the send buffer in place, and what follows a hole is
     * stored out of order from the pieces; b verifies the checksums over
     * the pieces (no CSUM_OK). */
    pair_open(&P, true, 0, RX_PIECES);
    P.w.drop_every = 29;
    transfer(&P);
    assert_true(berth_counter(P.a, BERTH_CTR_RETRANS_SEGS) > 0);
    assert_true(berth_counter(P.b, BERTH_CTR_OOO_QUEUED) > 0);
    assert_int_equal(berth_counter(P.b, BERTH_CTR_BAD_CSUM), 0);
    assert_int_equal(P.w.csum_ok, P.w.sg_calls);
    pair_close(&P);
}

static void sg_receive_of_super_segments_in_pieces(void **state)
{
    (void)state;
    /* TSO out, taken in pieces with the link's CSUM_OK (as the in-process
     * link's hand-over does), with losses. */
    pair_open(&P, true, 65535, RX_PIECES);
    P.w.rx_flags = BERTH_IN_CSUM_OK;
    P.w.drop_every = 13;
    transfer(&P);
    assert_true(P.w.supers > 0);
    assert_true(berth_counter(P.b, BERTH_CTR_OOO_QUEUED) > 0);
    pair_close(&P);
}

static void sg_receive_with_headers_split_is_gathered(void **state)
{
    (void)state;
    /* Pieces cut inside the IP header: taken all the same (gathered). */
    pair_open(&P, false, 0, RX_SPLIT_HEADERS);
    transfer(&P);
    assert_int_equal(P.w.sg_calls, 0);
    assert_int_equal(berth_counter(P.b, BERTH_CTR_BAD_CSUM), 0);
    pair_close(&P);
}

static void sg_receive_bad_checksum_in_a_piece_is_dropped(void **state)
{
    (void)state;
    pair_open(&P, false, 0, RX_PIECES);
    const char msg[] = "scatter-gather";
    assert_int_equal(berth_send(P.a, P.client, msg, sizeof msg), sizeof msg);
    assert_int_equal(P.w.n, 1);
    struct pkt pk = P.w.q[0];
    P.w.n = 0;
    /* One byte of the text, in the 7-byte span (at an odd offset), is
     * changed: the checksum over the pieces fails, the drop is counted,
     * nothing is delivered; the packet as sent is taken. */
    size_t h = hdrs_of(pk.data);
    pk.data[h + 3 + 1 + 2] ^= 0x40;
    assert_int_equal(input_pieces(P.b, &pk, h + 3, 0, P.now),
                     BERTH_REASON_BAD_TCP_CHECKSUM);
    assert_int_equal(berth_counter(P.b, BERTH_CTR_BAD_CSUM), 1);
    char got[64];
    assert_int_equal(berth_recv(P.b, P.server, got, sizeof got), BERTH_EAGAIN);
    pk.data[h + 3 + 1 + 2] ^= 0x40;
    assert_int_equal(input_pieces(P.b, &pk, h + 3, 0, P.now), 0);
    assert_int_equal(berth_recv(P.b, P.server, got, sizeof got), sizeof msg);
    assert_memory_equal(got, msg, sizeof msg);
    free(pk.data);
    pair_close(&P);
}

static void sg_ipv6_both_ways_in_pieces(void **state)
{
    (void)state;
    /* IPv6: text sent by spans, the checksum with IPv6's pseudo-header
     * computed over them, taken in pieces (TCP right after the fixed
     * header) and verified over them, with losses; and TSO. */
    pair_open_fam(&P, true, 0, RX_PIECES, true);
    P.w.drop_every = 31;
    transfer(&P);
    assert_true(P.w.two_spans > 0);
    assert_int_equal(P.w.csum_ok, P.w.sg_calls);
    assert_true(berth_counter(P.b, BERTH_CTR_OOO_QUEUED) > 0);
    assert_int_equal(berth_counter(P.b, BERTH_CTR_BAD_CSUM), 0);
    pair_close(&P);
    pair_open_fam(&P, true, 65535, RX_PIECES, true);
    transfer(&P);
    assert_true(P.w.supers > 0);
    assert_int_equal(P.w.csum_ok, P.w.sg_calls);
    pair_close(&P);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sg_checksum_over_pieces_equals_contiguous),
        cmocka_unit_test(sg_single_segments_intact_checksummed_over_spans),
        cmocka_unit_test(sg_tso_super_segments_intact),
        cmocka_unit_test(sg_retransmissions_and_out_of_order_through_pieces),
        cmocka_unit_test(sg_receive_of_super_segments_in_pieces),
        cmocka_unit_test(sg_receive_with_headers_split_is_gathered),
        cmocka_unit_test(sg_receive_bad_checksum_in_a_piece_is_dropped),
        cmocka_unit_test(sg_ipv6_both_ways_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
