/* The runtime's batched small writes (src/rt/uring.c) to a fake TUN device
 * (a SOCK_SEQPACKET socketpair: one message per write, as the device takes
 * one packet): every packet queued arrives whole, in order, once, however
 * the batches fall; the last one queued may be written over before the
 * flush; a refused write is counted; a ring that is not set up
 * queues nothing (the runtime then writes directly). Skipped where the
 * kernel refuses io_uring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
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

static void packets_arrive_whole_in_order(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
    struct rt_uring u;
    int r = rt_uring_init(&u, fd[0]);
    if (r < 0) {
        close(fd[0]);
        close(fd[1]);
        skip();
    }
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

/* The packet queued last may be written over before the flush, with
 * another length; what arrives is the new packet, in its place. */
static void last_packet_written_over_before_the_flush(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
    struct rt_uring u;
    if (rt_uring_init(&u, fd[0]) < 0) {
        close(fd[0]);
        close(fd[1]);
        skip();
    }
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
    fill(last, 70, 9);
    rt_uring_requeue_last(&u, 70);
    assert_int_equal(u.queued, 3);
    struct rt_uring_result res;
    assert_int_equal(rt_uring_flush(&u, &res), 0);
    assert_int_equal(res.packets, 3);
    assert_int_equal(res.bytes, 60 + 60 + 70);
    assert_null(rt_uring_last(&u, &len)); /* flushed */
    uint8_t buf[256], want[256];
    const unsigned keys[] = {0, 1, 9};
    const size_t lens[] = {60, 60, 70};
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

/* The peer end closed: every write fails, each is counted. */
static void refused_writes_are_counted(void **state)
{
    (void)state;
    int fd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fd), 0);
    struct rt_uring u;
    if (rt_uring_init(&u, fd[0]) < 0) {
        close(fd[0]);
        close(fd[1]);
        skip();
    }
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
        cmocka_unit_test(refused_writes_are_counted),
        cmocka_unit_test(unused_ring_queues_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
