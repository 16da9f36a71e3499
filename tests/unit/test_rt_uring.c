/* The runtime's batched small writes (src/rt/uring.c) to a fake TUN device
 * (a SOCK_SEQPACKET socketpair: one message per write, as the device takes
 * one packet): every packet queued arrives whole, in order, once, however
 * the batches fall; the last one queued may be written over before the
 * flush, and the runtime merges an ACK into the next one there; a refused
 * write is counted; a ring that is not set up queues nothing (the runtime
 * then writes directly). Skipped where the kernel refuses io_uring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rt/rt_impl.h"

static void fill(uint8_t *p, size_t len, unsigned k)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(k * 7 + i);
}

static size_t len_of(unsigned k)
{
    return 40 + k % (RT_URING_SLOT - 40 + 1);
}

/* A queue writing into one end of a fresh SEQPACKET pair (fd[1] reads);
 * false, and nothing left open, where io_uring is unavailable. */
static bool uring_pair(struct rt_uring *u, int fd[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
    if (rt_uring_init(u, fd[0]) == 0)
        return true;
    close(fd[0]);
    close(fd[1]);
    return false;
}

static void packets_arrive_whole_in_order(void **state)
{
    (void)state;
    int fd[2];
    struct rt_uring u;
    if (!uring_pair(&u, fd))
        skip();
    /* 300 packets in batches of 1 to 64 (a full ring refuses a slot). */
    unsigned sent = 0, got = 0;
    struct rt_uring_result total = {0};
    for (unsigned batch = 1; sent < 300 && batch < 100; batch++) {
        unsigned n = batch % 64 + 1;
        for (unsigned i = 0; i < n && sent < 300; i++) {
            uint8_t *slot = rt_uring_slot(&u, len_of(sent));
            assert_non_null(slot);
            fill(slot, len_of(sent), sent);
            rt_uring_queue(&u, len_of(sent));
            sent++;
        }
        if (n == 64)
            assert_null(rt_uring_slot(&u, 40)); /* full: flush first */
        struct rt_uring_result res;
        assert_int_equal(rt_uring_flush(&u, &res), 0);
        assert_int_equal(u.queued, 0);
        total.packets += res.packets;
        total.bytes += res.bytes;
        total.errors += res.errors;
        uint8_t buf[256], want[256];
        ssize_t m;
        while ((m = recv(fd[1], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            assert_int_equal((size_t)m, len_of(got));
            fill(want, len_of(got), got);
            assert_memory_equal(buf, want, (size_t)m);
            got++;
        }
        assert_int_equal(got, sent);
    }
    assert_int_equal(sent, 300);
    assert_int_equal(total.packets, 300);
    assert_int_equal(total.errors, 0);
    /* Too large for a slot: written directly instead. */
    assert_null(rt_uring_slot(&u, RT_URING_SLOT + 1));
    rt_uring_destroy(&u);
    close(fd[0]);
    close(fd[1]);
}

/* The packet queued last may be written over before the flush (the same
 * length: a newer ACK of its connection); what arrives is the new packet,
 * in its place. */
static void last_packet_written_over_before_the_flush(void **state)
{
    (void)state;
    int fd[2];
    struct rt_uring u;
    if (!uring_pair(&u, fd))
        skip();
    size_t len;
    assert_null(rt_uring_last(&u, &len)); /* nothing queued */
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *slot = rt_uring_slot(&u, 60);
        fill(slot, 60, i);
        rt_uring_queue(&u, 60);
    }
    uint8_t *last = rt_uring_last(&u, &len);
    assert_non_null(last);
    assert_int_equal(len, 60);
    assert_ptr_equal(last, u.slots + 2 * RT_URING_SLOT);
    fill(last, 60, 9);
    assert_int_equal(u.queued, 3);
    struct rt_uring_result res;
    assert_int_equal(rt_uring_flush(&u, &res), 0);
    assert_int_equal(res.packets, 3);
    assert_int_equal(res.bytes, 3 * 60);
    assert_null(rt_uring_last(&u, &len)); /* flushed */
    uint8_t buf[256], want[256];
    const unsigned keys[] = {0, 1, 9};
    const size_t lens[] = {60, 60, 60};
    for (unsigned i = 0; i < 3; i++) {
        ssize_t m = recv(fd[1], buf, sizeof buf, MSG_DONTWAIT);
        assert_int_equal(m, (ssize_t)lens[i]);
        fill(want, lens[i], keys[i]);
        assert_memory_equal(buf, want, lens[i]);
    }
    assert_true(recv(fd[1], buf, sizeof buf, MSG_DONTWAIT) < 0);
    rt_uring_destroy(&u);
    close(fd[0]);
    close(fd[1]);
}

/* A pure ACK over IPv4 with the timestamp option (NOP NOP TS), ports 9000
 * -> 40000, SEQ 1000: 52 bytes. */
static size_t make_ack(uint8_t *p, uint32_t ack)
{
    memset(p, 0, 52);
    p[0] = 0x45;
    p[3] = 52;
    p[6] = 0x40; /* DF */
    p[8] = 64;
    p[9] = 6;
    p[12] = 198, p[13] = 18, p[15] = 2;
    p[16] = 198, p[17] = 18, p[19] = 1;
    uint8_t *t = p + 20;
    t[0] = 9000 >> 8, t[1] = 9000 & 255, t[2] = 40000 >> 8, t[3] = 40000 & 255;
    t[6] = 1000 >> 8, t[7] = 1000 & 255;
    t[8] = (uint8_t)(ack >> 24), t[9] = (uint8_t)(ack >> 16);
    t[10] = (uint8_t)(ack >> 8), t[11] = (uint8_t)ack;
    t[12] = 8 << 4;
    t[13] = 0x10; /* ACK */
    t[14] = 0xff, t[15] = 0xff;
    t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
    return 52;
}

/* The ACK number of the packet a TUN write took (virtio-net header
 * first). */
static uint32_t written_ack(int fd)
{
    uint8_t b[256];
    ssize_t m = recv(fd, b, sizeof b, MSG_DONTWAIT);
    assert_int_equal(m, RT_VNET_HDR_LEN + 52);
    const uint8_t *t = b + RT_VNET_HDR_LEN + 20;
    return (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 |
           t[11];
}

/* The runtime's send path (loop.c) with offloads: ACKs the stack sends
 * while the loop works are queued; one that acknowledges more than the
 * one queued just before it takes its place (a duplicate does not), and
 * it still counts towards RT_TX_BATCH, so the queue is written when it
 * was before merging: after the 16th ACK. */
static void loop_merges_acks_and_flushes_on_time(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
    struct berth_rt *rt = calloc(1, sizeof *rt);
    assert_non_null(rt);
    if (rt_uring_init(&rt->txq, fd[0]) < 0) {
        free(rt);
        close(fd[0]);
        close(fd[1]);
        skip();
    }
    rt->tunfd = fd[0];
    rt->offload.vnet = true;
    rt->in_loop = true;
    rt->txcopy = malloc(2 * RT_TXCOPY_LEN);
    rt->rx_imp = rt_impair_create(16);
    rt->tx_imp = rt_impair_create(16);
    assert_non_null(rt->txcopy);
    uint8_t a[64];
    /* 5000, 6000, 7000: one packet, 7000; then a duplicate of it. */
    for (uint32_t k = 5000; k <= 7000; k += 1000)
        rt_stack_tx(rt, a, make_ack(a, k));
    assert_int_equal(rt->txq.queued, 1);
    rt_stack_tx(rt, a, make_ack(a, 7000));
    assert_int_equal(rt->txq.queued, 2);
    assert_int_equal(rt->stats.tx_acks_merged, 2);
    uint8_t b[8];
    assert_true(recv(fd[1], b, sizeof b, MSG_DONTWAIT) < 0); /* queued */
    rt_tx_flush(rt);
    assert_int_equal(written_ack(fd[1]), 7000);
    assert_int_equal(written_ack(fd[1]), 7000);
    assert_true(recv(fd[1], b, sizeof b, MSG_DONTWAIT) < 0);
    assert_int_equal(rt->stats.tx_packets, 2);
    /* 16 ACKs, each more: written as one when the 16th is handed over. */
    for (uint32_t k = 1; k <= RT_TX_BATCH; k++) {
        assert_true(recv(fd[1], b, sizeof b, MSG_DONTWAIT) < 0);
        rt_stack_tx(rt, a, make_ack(a, 7000 + k * 100));
    }
    assert_int_equal(rt->txq.queued, 0);
    assert_int_equal(written_ack(fd[1]), 7000 + RT_TX_BATCH * 100);
    assert_true(recv(fd[1], b, sizeof b, MSG_DONTWAIT) < 0);
    assert_int_equal(rt->stats.tx_acks_merged, 2 + RT_TX_BATCH - 1);
    assert_int_equal(rt->stats.tx_packets, 3);
    /* Outside the loop (another thread's send): written at once. */
    rt->in_loop = false;
    rt_stack_tx(rt, a, make_ack(a, 9000));
    assert_int_equal(written_ack(fd[1]), 9000);
    rt_uring_destroy(&rt->txq);
    rt_impair_destroy(rt->rx_imp);
    rt_impair_destroy(rt->tx_imp);
    free(rt->txcopy);
    free(rt);
    close(fd[0]);
    close(fd[1]);
}

/* The peer end closed: every write fails, each is counted. */
static void refused_writes_are_counted(void **state)
{
    (void)state;
    int fd[2];
    struct rt_uring u;
    if (!uring_pair(&u, fd))
        skip();
    close(fd[1]);
    signal(SIGPIPE, SIG_IGN); /* a socket's EPIPE; a TUN device has none */
    for (unsigned i = 0; i < 5; i++) {
        uint8_t *slot = rt_uring_slot(&u, 60);
        assert_non_null(slot);
        fill(slot, 60, i);
        rt_uring_queue(&u, 60);
    }
    struct rt_uring_result res;
    assert_int_equal(rt_uring_flush(&u, &res), 0);
    assert_int_equal(res.packets, 0);
    assert_int_equal(res.errors, 5);
    rt_uring_destroy(&u);
    close(fd[0]);
}

/* A ring never set up (or given up) queues nothing and flushes nothing. */
static void unused_ring_queues_nothing(void **state)
{
    (void)state;
    struct rt_uring u;
    memset(&u, 0, sizeof u);
    u.ring_fd = -1;
    assert_null(rt_uring_slot(&u, 40));
    size_t len;
    assert_null(rt_uring_last(&u, &len));
    struct rt_uring_result res;
    assert_int_equal(rt_uring_flush(&u, &res), 0);
    assert_int_equal(res.packets + res.errors, 0);
    rt_uring_destroy(&u); /* nothing to undo */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(packets_arrive_whole_in_order),
        cmocka_unit_test(last_packet_written_over_before_the_flush),
        cmocka_unit_test(loop_merges_acks_and_flushes_on_time),
        cmocka_unit_test(refused_writes_are_counted),
        cmocka_unit_test(unused_ring_queues_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
