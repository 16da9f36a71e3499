/* Flow steering for shards (src/rt/steer.c): the owner of a packet is a
 * function of its flow only, an ICMP error goes with the TCP segment it
 * quotes, anything else but unfragmented IPv4 TCP belongs to shard 0, flows
 * spread over the shards, the port an active open picks steers its replies back
 * to the opening shard, and the eBPF program the kernel runs computes exactly
 * what rt_steer_owner() does (run with BPF_PROG_TEST_RUN on the same packets;
 * skipped without the right to load a program). */
#include <errno.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "rt/rt_impl.h"

#define KEY       UINT64_C(0x0123456789abcdef)
#define PEER_ADDR 0xc6120001u /* 198.18.0.1 */
#define BERTH     0xc6120002u /* 198.18.0.2 */

/* An IPv4 TCP header pair from the kernel's side (the peer) to berth. */
static size_t make_packet(uint8_t *p, uint32_t saddr, uint16_t sport,
                          uint16_t dport, uint8_t proto, uint16_t frag,
                          unsigned ihl_words)
{
    size_t ihl = ihl_words * 4u, len = ihl + 20;
    memset(p, 0, len);
    p[0] = (uint8_t)(0x40 | ihl_words);
    p[2] = (uint8_t)(len >> 8);
    p[3] = (uint8_t)len;
    p[6] = (uint8_t)(frag >> 8);
    p[7] = (uint8_t)frag;
    p[8] = 64;
    p[9] = proto;
    for (int i = 0; i < 4; i++) {
        p[12 + i] = (uint8_t)(saddr >> (24 - 8 * i));
        p[16 + i] = (uint8_t)(BERTH >> (24 - 8 * i));
    }
    p[ihl] = (uint8_t)(sport >> 8);
    p[ihl + 1] = (uint8_t)sport;
    p[ihl + 2] = (uint8_t)(dport >> 8);
    p[ihl + 3] = (uint8_t)dport;
    p[ihl + 12] = 5 << 4;
    return len;
}

/* An ICMP error from a router (outer source 198.18.0.1) quoting the TCP
 * segment berth sent to (peer, pport) from its port bport. */
static size_t make_icmp(uint8_t *p, uint8_t type, uint32_t peer, uint16_t pport,
                        uint16_t bport, unsigned qihl_words)
{
    size_t n = make_packet(p, PEER_ADDR, 0, 0, 1, 0x4000, 5);
    uint8_t *icmp = p + 20, *q = icmp + 8;
    size_t qhl = qihl_words * 4u;
    memset(icmp, 0, 8 + qhl + 8);
    icmp[0] = type;
    icmp[1] = type == 3 ? 4 : 0; /* fragmentation needed */
    q[0] = (uint8_t)(0x40 | qihl_words);
    q[9] = 6;
    for (int i = 0; i < 4; i++) {
        q[12 + i] = (uint8_t)(BERTH >> (24 - 8 * i));
        q[16 + i] = (uint8_t)(peer >> (24 - 8 * i));
    }
    q[qhl] = (uint8_t)(bport >> 8);
    q[qhl + 1] = (uint8_t)bport;
    q[qhl + 2] = (uint8_t)(pport >> 8);
    q[qhl + 3] = (uint8_t)pport;
    (void)n;
    return 20 + 8 + qhl + 8;
}

static uint64_t next_rand(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 16;
}

static void owner_is_shard_zero_for_what_has_no_ports(void **state)
{
    (void)state;
    uint8_t p[80];
    size_t n = make_packet(p, PEER_ADDR, 40000, 80, 17, 0, 5); /* UDP */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
    n = make_packet(p, PEER_ADDR, 40000, 80, 6, 0x0010, 5); /* offset 16 */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
    n = make_packet(p, PEER_ADDR, 40000, 80, 6, 0x2000, 5); /* MF */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
    p[0] = 0x60; /* IPv6 */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
    n = make_packet(p, PEER_ADDR, 40000, 80, 6, 0, 5);
    assert_int_equal(rt_steer_owner(KEY, 1, p, n), 0);
    assert_int_equal(rt_steer_owner(KEY, 4, p, 22), 0); /* ports cut off */
    n = make_icmp(p, 8, PEER_ADDR, 40000, 80, 5);       /* an echo request */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
    n = make_icmp(p, 3, PEER_ADDR, 40000, 80, 5);
    p[20 + 8 + 9] = 17; /* quoting UDP */
    assert_int_equal(rt_steer_owner(KEY, 4, p, n), 0);
}

/* An ICMP error (destination unreachable, time exceeded) belongs to the
 * shard of the TCP connection whose segment it quotes, with or without IP
 * options in the quoted header: PMTUD reaches every shard. */
static void icmp_errors_follow_the_quoted_connection(void **state)
{
    (void)state;
    uint8_t p[120], t[80];
    uint64_t x = 11;
    for (int i = 0; i < 2000; i++) {
        uint32_t a = (uint32_t)next_rand(&x);
        uint16_t sp = (uint16_t)next_rand(&x), dp = (uint16_t)next_rand(&x);
        size_t m = make_packet(t, a, sp, dp, 6, 0x4000, 5);
        size_t n = make_icmp(p, i % 2 ? 3 : 11, a, sp, dp, i % 3 ? 5 : 7);
        for (unsigned q = 2; q <= 4; q++)
            assert_int_equal(rt_steer_owner(KEY, q, p, n),
                             rt_steer_owner(KEY, q, t, m));
    }
}

/* The owner is the hash of (peer address, peer port, berth's port) modulo
 * the shards, with or without IP options; 20k random flows spread within
 * 10 % of even over 2 and 4 shards. */
static void flows_spread_and_owner_follows_the_hash(void **state)
{
    (void)state;
    uint8_t p[80];
    uint64_t x = 42;
    unsigned count2[2] = {0}, count4[4] = {0};
    for (int i = 0; i < 20000; i++) {
        uint32_t a = 0xc6120000u | (uint32_t)(next_rand(&x) & 0xffff);
        uint16_t sp = (uint16_t)next_rand(&x), dp = (uint16_t)next_rand(&x);
        size_t n = make_packet(p, a, sp, dp, 6, 0x4000 /* DF */, 5);
        unsigned h = rt_steer_hash(KEY, a, sp, dp);
        assert_true(h <= 0xffff);
        assert_int_equal(rt_steer_owner(KEY, 2, p, n), h % 2);
        assert_int_equal(rt_steer_owner(KEY, 4, p, n), h % 4);
        size_t m = make_packet(p, a, sp, dp, 6, 0, 7); /* 8 bytes options */
        assert_int_equal(rt_steer_owner(KEY, 4, p, m), h % 4);
        count2[h % 2]++;
        count4[h % 4]++;
    }
    for (int k = 0; k < 2; k++)
        assert_true(count2[k] > 9000 && count2[k] < 11000);
    for (int k = 0; k < 4; k++)
        assert_true(count4[k] > 4500 && count4[k] < 5500);
    /* Another key, another assignment. */
    unsigned same = 0;
    for (uint16_t sp = 1000; sp < 2000; sp++)
        same += rt_steer_hash(KEY, PEER_ADDR, sp, 80) % 2 ==
                rt_steer_hash(KEY + 1, PEER_ADDR, sp, 80) % 2;
    assert_true(same > 350 && same < 650);
}

/* An active open from shard k towards PEER:9000 takes a local port whose
 * replies (PEER:9000 -> berth:port) the steering brings to shard k: the
 * stack's port search asks port_ok. */
static void active_opens_pick_ports_that_steer_back(void **state)
{
    (void)state;
    for (unsigned shard = 0; shard < 3; shard++) {
        struct berth_rt rt;
        memset(&rt, 0, sizeof rt);
        rt.steer_key = KEY;
        rt.shard = shard;
        rt.nshards = 3;
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = BERTH;
        cfg.port_ok = rt_steer_port_ok;
        cfg.port_ok_ctx = &rt;
        struct berth_stack *s = berth_stack_create(&cfg, 1000000);
        assert_non_null(s);
        uint8_t p[80];
        for (int i = 0; i < 200; i++) {
            int h = berth_socket(s);
            assert_true(h >= 0);
            assert_int_equal(berth_connect(s, h, PEER_ADDR, 9000),
                             BERTH_EINPROGRESS);
            struct berth_endpoint local;
            assert_int_equal(berth_getsockname(s, h, &local), 0);
            size_t n = make_packet(p, PEER_ADDR, 9000, local.port, 6, 0, 5);
            assert_int_equal(rt_steer_owner(KEY, 3, p, n), shard);
        }
        berth_stack_destroy(s);
    }
}

/* The kernel's view: BPF_PROG_TEST_RUN hands a socket filter the packet
 * after an Ethernet header, with the network header at the start as the
 * TUN driver does; its return value must be the hash (the driver takes it
 * modulo the queues) or 0. */
static int run_prog(int fd, const uint8_t *ip, size_t len, uint32_t *ret)
{
    uint8_t frame[128];
    memset(frame, 0, 14);
    frame[12] = 0x08; /* ETH_P_IP */
    memcpy(frame + 14, ip, len);
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.test.prog_fd = (uint32_t)fd;
    a.test.data_in = (uint64_t)(uintptr_t)frame;
    a.test.data_size_in = (uint32_t)(14 + len);
    a.test.repeat = 1;
    if (syscall(SYS_bpf, BPF_PROG_TEST_RUN, &a, sizeof a) < 0)
        return -errno;
    *ret = a.test.retval;
    return 0;
}

static void ebpf_program_computes_the_owner(void **state)
{
    (void)state;
    char err[128];
    int fd = rt_steer_load(KEY, err, sizeof err);
    if (fd < 0 && (errno == EPERM || errno == EACCES || errno == ENOSYS)) {
        print_message("skipped: %s\n", err);
        skip();
    }
    assert_true(fd >= 0);
    uint8_t p[80];
    uint64_t x = 7;
    uint32_t ret = 0;
    for (int i = 0; i < 500; i++) {
        uint32_t a = (uint32_t)next_rand(&x);
        uint16_t sp = (uint16_t)next_rand(&x), dp = (uint16_t)next_rand(&x);
        size_t n = make_packet(p, a, sp, dp, 6, 0x4000, i % 2 ? 5 : 6);
        int rc = run_prog(fd, p, n, &ret);
        if (rc == -524 /* ENOTSUPP */ || rc == -EOPNOTSUPP || rc == -EINVAL) {
            close(fd);
            print_message("skipped: BPF_PROG_TEST_RUN: %s\n", strerror(-rc));
            skip();
        }
        assert_int_equal(rc, 0);
        assert_int_equal(ret, rt_steer_hash(KEY, a, sp, dp));
        for (unsigned q = 2; q <= 4; q++)
            assert_int_equal(ret % q, rt_steer_owner(KEY, q, p, n));
    }
    uint8_t e[120];
    for (int i = 0; i < 200; i++) { /* ICMP errors quoting TCP */
        uint32_t a = (uint32_t)next_rand(&x);
        uint16_t sp = (uint16_t)next_rand(&x), dp = (uint16_t)next_rand(&x);
        size_t n = make_icmp(e, i % 2 ? 3 : 11, a, sp, dp, i % 3 ? 5 : 6);
        assert_int_equal(run_prog(fd, e, n, &ret), 0);
        assert_int_equal(ret, rt_steer_hash(KEY, a, sp, dp));
        for (unsigned q = 2; q <= 4; q++)
            assert_int_equal(ret % q, rt_steer_owner(KEY, q, e, n));
    }
    size_t n = make_icmp(e, 0, PEER_ADDR, 1, 2, 5); /* an echo reply */
    assert_int_equal(run_prog(fd, e, n, &ret), 0);
    assert_int_equal(ret, 0);
    n = make_packet(p, PEER_ADDR, 1, 2, 17, 0, 5);
    assert_int_equal(run_prog(fd, p, n, &ret), 0);
    assert_int_equal(ret, 0);
    n = make_packet(p, PEER_ADDR, 1, 2, 6, 0x0001, 5);
    assert_int_equal(run_prog(fd, p, n, &ret), 0);
    assert_int_equal(ret, 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(owner_is_shard_zero_for_what_has_no_ports),
        cmocka_unit_test(flows_spread_and_owner_follows_the_hash),
        cmocka_unit_test(icmp_errors_follow_the_quoted_connection),
        cmocka_unit_test(active_opens_pick_ports_that_steer_back),
        cmocka_unit_test(ebpf_program_computes_the_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
