/* Receiving in place over a fake TUN device (a SOCK_SEQPACKET socketpair:
 * one message per read, as the device gives one packet): the runtime's
 * rt_tun_read() reads the flow it expects with its payload straight into
 * the connection's receive buffer (berth_rx_place, berth_input_placed),
 * and everything else (out of order, retransmitted, another connection,
 * other header sizes, too little room, a reset, TIME-WAIT) is put together
 * and taken as usual, over IPv4 and IPv6. Every case ends with the bytes
 * exactly as sent and
 * nothing allocated. Sender a (TSO super-segments, as the kernel's GRO
 * hands them to TUN), receiver b behind the fake device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth/berth.h"
#include "rt/rt_impl.h"

#define ADDR_A 0xc6120001u /* the kernel's side: sender */
#define ADDR_B 0xc6120002u /* berth: receiver */
/* The same over IPv6 (both stacks have these with use_v6): 2001:db8:b::1
 * and ::2. */
static const uint8_t addr6_a[16] = {0x20, 1, 0xd, 0xb8, 0, 0xb, [15] = 1};
static const uint8_t addr6_b[16] = {0x20, 1, 0xd, 0xb8, 0, 0xb, [15] = 2};
static bool use_v6; /* the connections of the test run over IPv6 */
#define QMAX 1024

struct pkt {
    uint32_t dst;
    size_t len;
    uint16_t seg_size;
    uint8_t *data;
};

struct env {
    struct pkt q[QMAX];
    size_t n;
    struct berth_stack *a, *b;
    int fd[2]; /* [0] the kernel's end, [1] the device berth reads */
    uint8_t *buf;
    struct rt_tun_rx rx;
    uint64_t taken, whole; /* reads the stack had in place / as usual */
};

static uint64_t fake_now;

static uint64_t fake_clock(void)
{
    return fake_now;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void queue(void *ctx, const uint8_t *pkt, size_t len, uint16_t seg)
{
    struct env *e = ctx;
    assert_true(e->n < QMAX);
    struct pkt *p = &e->q[e->n++];
    p->dst = pkt[0] >> 4 == 6
                 ? (memcmp(pkt + 24, addr6_b, 16) ? ADDR_A : ADDR_B)
                 : be32(pkt + 16);
    p->len = len;
    p->seg_size = seg;
    p->data = malloc(len);
    assert_non_null(p->data);
    memcpy(p->data, pkt, len);
}

static void tx(void *ctx, const uint8_t *pkt, size_t len)
{
    queue(ctx, pkt, len, 0);
}

static void tx_gso(void *ctx, const uint8_t *pkt, size_t len, uint16_t seg)
{
    queue(ctx, pkt, len, seg);
}

static struct berth_stack *stack_new(struct env *e, uint32_t addr,
                                     uint32_t rcvbuf)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    if (use_v6)
        memcpy(cfg.addr6, addr == ADDR_A ? addr6_a : addr6_b, 16);
    cfg.tx = tx;
    cfg.tx_ctx = e;
    cfg.seed = addr;
    memcpy(cfg.secret, "test_rx_place ke", sizeof cfg.secret);
    if (addr == ADDR_A) {
        cfg.tso_max = 65535;
        cfg.tx_gso = tx_gso;
    }
    if (rcvbuf)
        cfg.rcvbuf = rcvbuf;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

/* The packet as the device gives it: a virtio-net header (NEEDS_CSUM, as
 * for the kernel's own traffic; GSO_TCPV4 for a super-packet), then the
 * datagram. */
static void device_write(struct env *e, const uint8_t *pkt, size_t len,
                         uint16_t seg)
{
    uint8_t *m = malloc(RT_VNET_HDR_LEN + len);
    assert_non_null(m);
    struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM};
    if (seg) {
        h.gso_type = pkt[0] >> 4 == 6 ? VIRTIO_NET_HDR_GSO_TCPV6
                                      : VIRTIO_NET_HDR_GSO_TCPV4;
        h.gso_size = seg;
    }
    memcpy(m, &h, sizeof h);
    memcpy(m + RT_VNET_HDR_LEN, pkt, len);
    assert_int_equal(send(e->fd[0], m, RT_VNET_HDR_LEN + len, 0),
                     (ssize_t)(RT_VNET_HDR_LEN + len));
    free(m);
}

/* What the runtime's loop does with one read. */
static void device_read(struct env *e)
{
    bool taken = false;
    uint64_t now = 0;
    ssize_t n = rt_tun_read(&e->rx, e->b, true, &now, &taken);
    assert_true(n > (ssize_t)RT_VNET_HDR_LEN);
    assert_int_equal(now, fake_now);
    if (taken) {
        e->taken++;
        return;
    }
    e->whole++;
    assert_int_equal(rt_tun_rx_prepare(e->buf, (size_t)n), 0);
    berth_input_flags(e->b, e->buf + RT_VNET_HDR_LEN,
                      (size_t)n - RT_VNET_HDR_LEN, now,
                      rt_tun_rx_flags(e->buf));
}

/* Packet i of the queue to its stack: to b through the device. */
static void deliver(struct env *e, const struct pkt *p)
{
    if (p->dst == ADDR_B) {
        device_write(e, p->data, p->len, p->seg_size);
        device_read(e);
    } else {
        berth_input(e->a, p->data, p->len, fake_now);
    }
}

/* Everything in flight, and what it causes, in order; `hold` (may be
 * NULL) decides which data packets to b are kept back instead. */
static size_t pump(struct env *e, bool (*hold)(struct env *, struct pkt *),
                   struct pkt *held, size_t nheld)
{
    for (int round = 0; round < 64 && e->n; round++) {
        struct pkt q[QMAX];
        size_t n = e->n;
        memcpy(q, e->q, n * sizeof *q);
        e->n = 0;
        for (size_t i = 0; i < n; i++) {
            if (hold && nheld < 8 && hold(e, &q[i])) {
                held[nheld++] = q[i];
                continue;
            }
            deliver(e, &q[i]);
            free(q[i].data);
        }
    }
    return nheld;
}

static void env_init(struct env *e, uint32_t rcvbuf)
{
    memset(e, 0, sizeof *e);
    fake_now = 1000;
    e->a = stack_new(e, ADDR_A, 0);
    e->b = stack_new(e, ADDR_B, rcvbuf);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, e->fd), 0);
    int big = 1 << 20;
    setsockopt(e->fd[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    assert_int_equal(fcntl(e->fd[1], F_SETFL, O_NONBLOCK), 0);
    size_t cap = 65536 + RT_VNET_HDR_LEN;
    e->buf = malloc(cap);
    assert_non_null(e->buf);
    rt_tun_rx_init(&e->rx, e->fd[1], e->buf, cap, fake_clock);
}

static void env_fini(struct env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->q[i].data);
    e->n = 0;
    assert_int_equal(berth_mem_allocs(e->a), 0);
    assert_int_equal(berth_mem_bytes(e->a), 0);
    assert_int_equal(berth_mem_allocs(e->b), 0);
    assert_int_equal(berth_mem_bytes(e->b), 0);
    berth_stack_destroy(e->a);
    berth_stack_destroy(e->b);
    /* Nothing left unread on the device. */
    uint8_t c;
    assert_int_equal(recv(e->fd[1], &c, 1, MSG_DONTWAIT), -1);
    close(e->fd[0]);
    close(e->fd[1]);
    free(e->buf);
}

/* A connection a -> b:port; returns b's socket (a's in *client). */
static int connect_pair(struct env *e, uint16_t port, int *client)
{
    int l = berth_socket(e->b);
    static const uint8_t any6[16];
    struct berth_endpoint at =
        use_v6 ? berth_endpoint_v6(any6, port) : berth_endpoint_v4(0, port);
    assert_int_equal(berth_bind_endpoint(e->b, l, &at), 0);
    assert_int_equal(berth_listen(e->b, l, 4), 0);
    *client = berth_socket(e->a);
    struct berth_endpoint to = use_v6 ? berth_endpoint_v6(addr6_b, port)
                                      : berth_endpoint_v4(ADDR_B, port);
    assert_int_equal(berth_connect_endpoint(e->a, *client, &to),
                     BERTH_EINPROGRESS);
    pump(e, NULL, NULL, 0);
    int s = berth_accept(e->b, l, NULL);
    assert_true(s >= 0);
    berth_close(e->b, l);
    return s;
}

static uint8_t pattern(uint64_t i, unsigned salt)
{
    return (uint8_t)(i * 31 + 7 + salt * 101);
}

struct stream {
    int client, server;
    unsigned salt;
    uint64_t sent, got, total;
};

static void send_some(struct env *e, struct stream *st, size_t max)
{
    uint8_t chunk[16384];
    while (st->sent < st->total && max) {
        size_t n = st->total - st->sent;
        n = n < sizeof chunk ? n : sizeof chunk;
        n = n < max ? n : max;
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern(st->sent + i, st->salt);
        int w = berth_send(e->a, st->client, chunk, n);
        if (w <= 0)
            break;
        st->sent += (uint64_t)w;
        max -= (size_t)w;
    }
}

/* Reads (peek and consume, as berth cat) and checks every byte. */
static void read_check(struct env *e, struct stream *st)
{
    struct berth_span sp[2];
    int r;
    while ((r = berth_recv_peek(e->b, st->server, sp)) > 0) {
        for (size_t i = 0; i < sp[0].len; i++)
            assert_int_equal(sp[0].data[i], pattern(st->got + i, st->salt));
        st->got += sp[0].len;
        for (size_t i = 0; i < sp[1].len; i++)
            assert_int_equal(sp[1].data[i], pattern(st->got + i, st->salt));
        st->got += sp[1].len;
        assert_int_equal(berth_recv_consume(e->b, st->server, (size_t)r), r);
    }
}

/* Small data packets through the device, read by the application: the
 * flow is learnt from the first, and the buffer it is read into is kept
 * from the next on (berth_rx_place asks for it); afterwards the room is
 * there. */
static void warm_up(struct env *e, struct stream *st)
{
    for (int i = 0; i < 3; i++) {
        send_some(e, st, 1000);
        pump(e, NULL, NULL, 0);
        read_check(e, st);
    }
    assert_int_equal(st->got, 3000);
    struct berth_endpoint l = use_v6
                                  ? berth_endpoint_v6(addr6_b, e->rx.local.port)
                                  : berth_endpoint_v4(ADDR_B, e->rx.local.port);
    struct berth_span sp[2];
    assert_true(berth_rx_place(e->b, &l, &e->rx.remote, sp) > 0);
}

/* Sends and reads until everything arrived, with `hold` applied to the
 * data in flight at each step (the held packets go last, in reverse). */
static void transfer(struct env *e, struct stream *st, size_t nst, bool read,
                     bool (*hold)(struct env *, struct pkt *))
{
    for (int step = 0; step < 4000; step++) {
        bool done = true;
        for (size_t k = 0; k < nst; k++) {
            send_some(e, &st[k], 256 * 1024);
            done = done && st[k].got == st[k].total;
        }
        if (done)
            return;
        struct pkt held[8];
        size_t nheld = pump(e, hold, held, 0);
        while (nheld) {
            deliver(e, &held[--nheld]);
            free(held[nheld].data);
        }
        pump(e, NULL, NULL, 0);
        fake_now += 1000;
        berth_advance(e->a, fake_now);
        berth_advance(e->b, fake_now);
        pump(e, NULL, NULL, 0);
        if (read || step % 8 == 7)
            for (size_t k = 0; k < nst; k++)
                read_check(e, &st[k]);
    }
    fail_msg("transfer did not finish");
}

static void close_both(struct env *e, struct stream *st)
{
    berth_abort(e->a, st->client);
    berth_abort(e->b, st->server);
    pump(e, NULL, NULL, 0);
}

/* The common case: a bulk transfer whose super-packets land in place, the
 * application reading as they come. */
static void in_order_super_packets_are_taken_in_place(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 4 << 20);
    struct stream st = {.salt = 1, .total = 8 << 20};
    st.server = connect_pair(&e, 80, &st.client);
    transfer(&e, &st, 1, true, NULL);
    assert_true(e.rx.placed > 50);
    assert_int_equal(e.taken, e.rx.placed);
    /* Nearly every data packet: the first one of the flow is read whole. */
    assert_true(e.rx.missed <= 2);
    /* The buffer it is read into stays while empty (it is the one asked
     * for), and goes with the connection. */
    assert_true(berth_mem_bytes(e.b) >= 4096 + 512);
    close_both(&e, &st);
    env_fini(&e);
}

/* The same over IPv6: the flow is learnt from the IPv6 header, the
 * super-packets (GSO_TCPV6) are read in place, the payload length of the
 * headers taken apart is the TCP header's. */
static void in_order_super_packets_over_ipv6_are_taken_in_place(void **state)
{
    (void)state;
    use_v6 = true;
    struct env e;
    env_init(&e, 4 << 20);
    struct stream st = {.salt = 9, .total = 8 << 20};
    st.server = connect_pair(&e, 80, &st.client);
    assert_int_equal(e.rx.local.family, BERTH_AF_INET); /* not learnt yet */
    transfer(&e, &st, 1, true, NULL);
    assert_int_equal(e.rx.local.family, BERTH_AF_INET6);
    assert_true(e.rx.placed > 50);
    assert_int_equal(e.taken, e.rx.placed);
    assert_true(e.rx.missed <= 2);
    close_both(&e, &st);
    env_fini(&e);
}

/* Every other data packet to b: kept back and delivered after the one
 * behind it (reordering), and then once more (a retransmission). */
static bool swap_every_other(struct env *e, struct pkt *p)
{
    (void)e;
    static unsigned k;
    return p->dst == ADDR_B && p->len > 60 && (k++ % 2) == 0;
}

static void out_of_order_and_duplicates_are_put_together(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 2, .total = 2 << 20};
    st.server = connect_pair(&e, 80, &st.client);
    transfer(&e, &st, 1, true, swap_every_other);
    assert_true(e.rx.missed > 10); /* read towards the ring, then whole */
    assert_true(e.rx.placed > 0);
    /* A packet received already, once more: a duplicate, answered and
     * dropped, never written into the buffer. */
    struct berth_tcp_info ti;
    assert_int_equal(berth_getinfo(e.b, st.server, &ti), 0);
    close_both(&e, &st);
    env_fini(&e);
}

static void out_of_order_over_ipv6_is_put_together(void **state)
{
    use_v6 = true;
    out_of_order_and_duplicates_are_put_together(state);
}

/* After every test: a failed IPv6 one leaves the next on IPv4. */
static int v4_again(void **state)
{
    (void)state;
    use_v6 = false;
    return 0;
}

/* Two flows at once: the flow expected is the last one that sent data;
 * the other's packets are read towards it and put together. */
static void another_connection_is_put_together(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st[2] = {{.salt = 3, .total = 3 << 20},
                           {.salt = 4, .total = 3 << 20}};
    st[0].server = connect_pair(&e, 80, &st[0].client);
    st[1].server = connect_pair(&e, 81, &st[1].client);
    transfer(&e, st, 2, true, NULL);
    assert_true(e.rx.placed > 0);
    assert_true(e.rx.missed > 0);
    close_both(&e, &st[0]);
    close_both(&e, &st[1]);
    env_fini(&e);
}

/* The application does not read for a while: the room runs short of a
 * super-packet (it is read partly into the rest of the read buffer and put
 * together, the buffer grows), then the window closes; all arrives. */
static void too_little_room_and_closed_window_are_put_together(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 256 * 1024);
    struct stream st = {.salt = 5, .total = 2 << 20};
    st.server = connect_pair(&e, 80, &st.client);
    transfer(&e, &st, 1, false, NULL);
    assert_true(e.rx.placed > 0);
    assert_true(e.rx.missed > 0);
    close_both(&e, &st);
    env_fini(&e);
}

/* A data packet whose TCP header is longer than the flow's (4 NOPs more
 * options): the payload does not start where the room does; put together
 * and taken whole. */
static void other_header_size_is_put_together(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 6, .total = 64 << 10};
    st.server = connect_pair(&e, 80, &st.client);
    warm_up(&e, &st);
    send_some(&e, &st, 3000);
    assert_true(e.n >= 1);
    struct pkt *p = &e.q[0];
    assert_int_equal(p->dst, ADDR_B);
    size_t ihl = 20, thl = (size_t)(p->data[ihl + 12] >> 4) * 4;
    uint8_t *m = malloc(p->len + 4);
    assert_non_null(m);
    memcpy(m, p->data, ihl + thl);
    memset(m + ihl + thl, 1, 4); /* NOP NOP NOP NOP */
    memcpy(m + ihl + thl + 4, p->data + ihl + thl, p->len - ihl - thl);
    m[ihl + 12] = (uint8_t)(((thl + 4) / 4) << 4 | (m[ihl + 12] & 15));
    m[2] = (uint8_t)((p->len + 4) >> 8);
    m[3] = (uint8_t)(p->len + 4);
    m[10] = m[11] = 0;
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2)
        sum += (uint32_t)m[i] << 8 | m[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    m[10] = (uint8_t)(~sum >> 8);
    m[11] = (uint8_t)~sum;
    uint64_t missed = e.rx.missed, placed = e.rx.placed;
    device_write(&e, m, p->len + 4, p->seg_size);
    device_read(&e);
    free(m);
    assert_int_equal(e.rx.missed, missed + 1);
    assert_int_equal(e.rx.placed, placed);
    free(p->data);
    memmove(&e.q[0], &e.q[1], (e.n - 1) * sizeof e.q[0]);
    e.n--;
    transfer(&e, &st, 1, true, NULL);
    close_both(&e, &st);
    env_fini(&e);
}

/* A reset: read towards the room (it has no payload: whole), it ends the
 * connection; nothing is placed for the flow afterwards. */
static void reset_ends_placement(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 7, .total = 512 << 10};
    st.server = connect_pair(&e, 80, &st.client);
    transfer(&e, &st, 1, true, NULL);
    assert_true(e.rx.placed > 0);
    berth_abort(e.a, st.client); /* RST to b */
    pump(&e, NULL, NULL, 0);
    struct berth_span sp[2];
    assert_int_equal(berth_recv_peek(e.b, st.server, sp), BERTH_ECONNRESET);
    struct berth_endpoint l = berth_endpoint_v4(ADDR_B, 80);
    struct berth_endpoint r = e.rx.remote;
    assert_int_equal(berth_rx_place(e.b, &l, &r, sp), 0);
    berth_close(e.b, st.server);
    env_fini(&e);
}

/* b closes first and holds TIME-WAIT; an old data packet of the flow comes
 * again: nothing to place it in, read whole, answered with an ACK. */
static void time_wait_gets_nothing_placed(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 8, .total = 256 << 10};
    st.server = connect_pair(&e, 80, &st.client);
    /* Keep a copy of one data packet to b. */
    send_some(&e, &st, 2000);
    assert_true(e.n >= 1 && e.q[0].dst == ADDR_B);
    struct pkt old = e.q[0];
    old.data = malloc(old.len);
    assert_non_null(old.data);
    memcpy(old.data, e.q[0].data, old.len);
    transfer(&e, &st, 1, true, NULL);
    berth_close(e.b, st.server);
    pump(&e, NULL, NULL, 0);
    berth_close(e.a, st.client);
    pump(&e, NULL, NULL, 0);
    struct berth_endpoint l = berth_endpoint_v4(ADDR_B, 80);
    struct berth_span sp[2];
    assert_int_equal(berth_rx_place(e.b, &l, &e.rx.remote, sp), 0);
    uint64_t whole = e.whole;
    device_write(&e, old.data, old.len, old.seg_size);
    device_read(&e);
    free(old.data);
    assert_int_equal(e.whole, whole + 1);
    assert_true(e.n >= 1); /* TIME-WAIT's ACK (RFC 9293 §3.10.7.4) */
    pump(&e, NULL, NULL, 0);
    /* TIME-WAIT ends. */
    fake_now += 300ull * 1000 * 1000;
    berth_advance(e.a, fake_now);
    berth_advance(e.b, fake_now);
    env_fini(&e);
}

/* The core refuses what is not the asked connection's next data, however
 * it is handed in: nothing taken, nothing changed. */
static void input_placed_refuses_without_placement(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 9, .total = 64 << 10};
    st.server = connect_pair(&e, 80, &st.client);
    warm_up(&e, &st);
    send_some(&e, &st, 1000);
    assert_true(e.n >= 1 && e.q[0].dst == ADDR_B);
    struct pkt *p = &e.q[0];
    size_t hl = 20 + (size_t)(p->data[32] >> 4) * 4;
    uint8_t other[1000];
    struct berth_span sp[2] = {{other, sizeof other}, {NULL, 0}};
    /* Not where the room is (no berth_rx_place at all). */
    assert_int_equal(berth_input_placed(e.b, p->data, hl, sp, p->len - hl,
                                        fake_now, BERTH_IN_CSUM_OK),
                     BERTH_EAGAIN);
    /* Without the checksum verified by the link. */
    struct berth_endpoint l = berth_endpoint_v4(ADDR_B, 80);
    struct berth_endpoint r =
        berth_endpoint_v4(ADDR_A, (uint16_t)(p->data[20] << 8 | p->data[21]));
    assert_true(berth_rx_place(e.b, &l, &r, sp) > 0);
    assert_int_equal(
        berth_input_placed(e.b, p->data, hl, sp, p->len - hl, fake_now, 0),
        BERTH_EAGAIN);
    struct berth_tcp_info ti;
    assert_int_equal(berth_getinfo(e.b, st.server, &ti), 0);
    assert_int_equal(ti.rcv_nxt - ti.irs, 3001); /* nothing taken */
    pump(&e, NULL, NULL, 0);
    read_check(&e, &st);
    assert_int_equal(st.got, 4000);
    close_both(&e, &st);
    env_fini(&e);
}

/* The kept buffer read out (nothing held out of order) restarts at its
 * start at once, not only at the next berth_rx_place: data that arrives
 * the usual way (here: handed to berth_input, not read from the device)
 * lands where the last data did, in the memory it warmed. */
static void kept_buffer_read_out_restarts_at_its_start(void **state)
{
    (void)state;
    struct env e;
    env_init(&e, 1 << 20);
    struct stream st = {.salt = 11, .total = 64 << 10};
    st.server = connect_pair(&e, 80, &st.client);
    warm_up(&e, &st); /* ends with a placement asked on the empty buffer */
    struct berth_endpoint l = berth_endpoint_v4(ADDR_B, e.rx.local.port);
    struct berth_span sp[2];
    assert_true(berth_rx_place(e.b, &l, &e.rx.remote, sp) > 0);
    const uint8_t *start = sp[0].data;
    uint64_t taken = e.taken;
    for (int round = 0; round < 3; round++) {
        send_some(&e, &st, 1000);
        for (int k = 0; k < 8 && e.n; k++) {
            struct pkt q[QMAX];
            size_t n = e.n;
            memcpy(q, e.q, n * sizeof *q);
            e.n = 0;
            for (size_t i = 0; i < n; i++) {
                if (q[i].dst == ADDR_B)
                    berth_input_flags(e.b, q[i].data, q[i].len, fake_now,
                                      BERTH_IN_CSUM_OK);
                else
                    berth_input(e.a, q[i].data, q[i].len, fake_now);
                free(q[i].data);
            }
        }
        assert_int_equal(berth_recv_peek(e.b, st.server, sp), 1000);
        assert_ptr_equal(sp[0].data, start);
        read_check(&e, &st);
    }
    assert_int_equal(st.got, 6000);
    assert_int_equal(e.taken, taken); /* none came through the device */
    close_both(&e, &st);
    env_fini(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_super_packets_are_taken_in_place),
        cmocka_unit_test_teardown(
            in_order_super_packets_over_ipv6_are_taken_in_place, v4_again),
        cmocka_unit_test(out_of_order_and_duplicates_are_put_together),
        cmocka_unit_test_teardown(out_of_order_over_ipv6_is_put_together,
                                  v4_again),
        cmocka_unit_test(another_connection_is_put_together),
        cmocka_unit_test(too_little_room_and_closed_window_are_put_together),
        cmocka_unit_test(other_header_size_is_put_together),
        cmocka_unit_test(reset_ends_placement),
        cmocka_unit_test(time_wait_gets_nothing_placed),
        cmocka_unit_test(input_placed_refuses_without_placement),
        cmocka_unit_test(kept_buffer_read_out_restarts_at_its_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
