/* Initial sequence numbers (RFC 6528 §3): ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey), M a timer ticking every 4 microseconds,
 * F a keyed hash. White-box: tcp_isn() is called directly, at times set
 * with berth_advance(); the SYN that connect() sends is checked too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "berth/berth.h"
#include "stack.h"
#include "tcp/tcp.h"

#define ADDR(a, b, c, d)                                                       \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) |    \
     (uint32_t)(d))
#define LOCAL  ADDR(198, 18, 0, 2)
#define REMOTE ADDR(198, 18, 0, 1)
#define SEC    1000000ull

static const uint8_t secret_a[16] = "isn test secret";
static const uint8_t secret_b[16] = "isn test secreT";

/* The last packet the stack sent. */
struct capture {
    uint8_t pkt[1600];
    size_t len;
    unsigned count;
};

static void capture_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct capture *c = ctx;
    assert_true(len <= sizeof c->pkt);
    memcpy(c->pkt, pkt, len);
    c->len = len;
    c->count++;
}

static struct berth_stack *stack_with_secret(const uint8_t secret[16],
                                             struct capture *cap)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    memcpy(cfg.secret, secret, sizeof cfg.secret);
    cfg.tx = capture_tx;
    cfg.tx_ctx = cap;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    return s;
}

static uint32_t isn_at(struct berth_stack *s, uint64_t now, uint16_t lport,
                       uint32_t raddr, uint16_t rport)
{
    berth_advance(s, now);
    return tcp_isn(s, false, LOCAL, lport, raddr, rport);
}

/* RFC 6528 §3: "M is the 4 microsecond timer", so
 * the same 4-tuple 4 s later gets an ISN larger by exactly 1,000,000. */
static void same_tuple_4s_later_is_larger_by_1000000(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s = stack_with_secret(secret_a, &cap);
    uint32_t first = isn_at(s, 1 * SEC, 40000, REMOTE, 80);
    uint32_t again = tcp_isn(s, false, LOCAL, 40000, REMOTE, 80);
    assert_int_equal(again, first); /* a function of the time and tuple */
    uint32_t later = isn_at(s, 5 * SEC, 40000, REMOTE, 80);
    assert_int_equal((uint32_t)(later - first), 1000000u);
    uint32_t much_later = isn_at(s, 3605 * SEC, 40000, REMOTE, 80);
    assert_int_equal((uint32_t)(much_later - first), 901000000u);
    berth_stack_destroy(s);
}

/* The 4 us granularity: three microseconds change nothing, the fourth adds
 * one. */
static void isn_clock_ticks_every_4_microseconds(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s = stack_with_secret(secret_a, &cap);
    uint32_t base = isn_at(s, 2 * SEC, 1234, REMOTE, 80);
    assert_int_equal(isn_at(s, 2 * SEC + 1, 1234, REMOTE, 80), base);
    assert_int_equal(isn_at(s, 2 * SEC + 3, 1234, REMOTE, 80), base);
    assert_int_equal(isn_at(s, 2 * SEC + 4, 1234, REMOTE, 80), base + 1);
    assert_int_equal(isn_at(s, 2 * SEC + 7, 1234, REMOTE, 80), base + 1);
    assert_int_equal(isn_at(s, 2 * SEC + 8, 1234, REMOTE, 80), base + 2);
    berth_stack_destroy(s);
}

/* The clock part is 32 bits of 4 us ticks: it comes back to the same value
 * after 2^32 * 4 us (about 4.77 hours; RFC 9293 §3.4.1's "cycles
 * approximately every 4.55 hours" for the original 4 us clock). */
static void isn_clock_wraps_modulo_2_32(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s = stack_with_secret(secret_a, &cap);
    uint32_t a = isn_at(s, 10 * SEC, 5555, REMOTE, 443);
    uint32_t b = isn_at(s, 10 * SEC + 4ull * (1ull << 32), 5555, REMOTE, 443);
    assert_int_equal(a, b);
    uint32_t c =
        isn_at(s, 10 * SEC + 4ull * (1ull << 32) + 4 * 1000, 5555, REMOTE, 443);
    assert_int_equal((uint32_t)(c - a), 1000u);
    berth_stack_destroy(s);
}

/* RFC 6528 §3: F depends on every element of the 4-tuple, so different
 * connections get unrelated sequence spaces at the same moment. */
static void different_tuples_get_different_isns(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s = stack_with_secret(secret_a, &cap);
    berth_advance(s, 3 * SEC);
    const struct {
        uint32_t laddr;
        uint16_t lport;
        uint32_t raddr;
        uint16_t rport;
    } t[] = {
        {LOCAL, 40000, REMOTE, 80},
        {LOCAL, 40001, REMOTE, 80},               /* local port */
        {LOCAL, 40000, REMOTE, 81},               /* remote port */
        {LOCAL, 40000, ADDR(10, 0, 0, 1), 80},    /* remote address */
        {ADDR(198, 18, 0, 3), 40000, REMOTE, 80}, /* local address */
        {LOCAL, 80, REMOTE, 40000},               /* ports swapped */
        {REMOTE, 40000, LOCAL, 80},               /* addresses swapped */
    };
    enum { N = sizeof t / sizeof t[0] };
    uint32_t isn[N];
    for (int i = 0; i < N; i++) {
        isn[i] =
            tcp_isn(s, false, t[i].laddr, t[i].lport, t[i].raddr, t[i].rport);
        for (int j = 0; j < i; j++)
            if (isn[i] == isn[j])
                fail_msg("tuples %d and %d share ISN %u", i, j, isn[i]);
    }
    /* And not merely offset by the same amount over time: 1 s later each
     * moved by exactly 250000, no more. */
    berth_advance(s, 4 * SEC);
    for (int i = 0; i < N; i++) {
        uint32_t later =
            tcp_isn(s, false, t[i].laddr, t[i].lport, t[i].raddr, t[i].rport);
        assert_int_equal((uint32_t)(later - isn[i]), 250000u);
    }
    /* Consecutive local ports do not give consecutive ISNs (F is a hash). */
    unsigned near = 0;
    for (uint16_t p = 50000; p < 50100; p++) {
        uint32_t d = tcp_isn(s, false, LOCAL, (uint16_t)(p + 1), REMOTE, 80) -
                     tcp_isn(s, false, LOCAL, p, REMOTE, 80);
        if (d < 65536u || d > 0u - 65536u)
            near++;
    }
    assert_true(near <= 2);
    berth_stack_destroy(s);
}

/* RFC 6528 §3: the secret key keys F; another secret, another ISN for the
 * same tuple at the same time. */
static void different_secret_gives_different_isn(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s1 = stack_with_secret(secret_a, &cap);
    struct berth_stack *s2 = stack_with_secret(secret_b, &cap);
    struct berth_stack *s3 = stack_with_secret(secret_a, &cap);
    unsigned same = 0;
    for (uint16_t p = 40000; p < 40010; p++) {
        uint32_t a = isn_at(s1, 7 * SEC, p, REMOTE, 80);
        uint32_t b = isn_at(s2, 7 * SEC, p, REMOTE, 80);
        uint32_t c = isn_at(s3, 7 * SEC, p, REMOTE, 80);
        assert_int_equal(a, c); /* the same secret: the same ISN */
        if (a == b)
            same++;
    }
    assert_int_equal(same, 0);
    berth_stack_destroy(s1);
    berth_stack_destroy(s2);
    berth_stack_destroy(s3);
}

/* What the hook was asked. */
struct hook_log {
    unsigned calls;
    struct berth_endpoint local, remote;
    uint64_t now;
};

static uint32_t fixed_isn(void *ctx, struct berth_endpoint local,
                          struct berth_endpoint remote, uint64_t now)
{
    struct hook_log *log = ctx;
    log->calls++;
    log->local = local;
    log->remote = remote;
    log->now = now;
    return 4294967000u;
}

/* cfg.isn replaces RFC 6528 entirely: tcp_isn returns what it returns, it
 * is told the tuple and the time, and connect()'s SYN carries it. */
static void configured_isn_hook_overrides(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct hook_log log = {0};
    struct berth_config cfg;
    berth_config_init(&cfg);
    memcpy(cfg.secret, secret_a, sizeof cfg.secret);
    cfg.tx = capture_tx;
    cfg.tx_ctx = &cap;
    cfg.isn = fixed_isn;
    cfg.isn_ctx = &log;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);

    assert_int_equal(isn_at(s, 9 * SEC, 40000, REMOTE, 80), 4294967000u);
    assert_int_equal(isn_at(s, 13 * SEC, 40000, REMOTE, 80), 4294967000u);
    assert_int_equal(log.calls, 2);
    assert_int_equal(log.local.addr, LOCAL);
    assert_int_equal(log.local.port, 40000);
    assert_int_equal(log.remote.addr, REMOTE);
    assert_int_equal(log.remote.port, 80);
    assert_int_equal(log.now, 13 * SEC);

    int c = berth_socket(s);
    assert_int_equal(berth_connect(s, c, REMOTE, 80), BERTH_EINPROGRESS);
    assert_int_equal(log.calls, 3);
    assert_int_equal(log.remote.port, 80);
    struct berth_segment seg;
    assert_int_equal(cap.count, 1);
    assert_int_equal(berth_decode(cap.pkt, cap.len, &seg), 0);
    assert_int_equal(seg.flags, BERTH_TH_SYN);
    assert_int_equal(seg.seq, 4294967000u);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(s, c, &info), 0);
    assert_int_equal(info.iss, 4294967000u);
    assert_int_equal(berth_close(s, c), 0);
    assert_int_equal(berth_mem_allocs(s), 0);
    berth_stack_destroy(s);
}

/* Without a hook, the SYN connect() sends carries tcp_isn() of its tuple at
 * that moment: the generator above is the one in use. */
static void connect_uses_rfc6528_isn(void **state)
{
    (void)state;
    struct capture cap = {0};
    struct berth_stack *s = stack_with_secret(secret_a, &cap);
    berth_advance(s, 21 * SEC + 8);
    int c = berth_socket(s);
    assert_int_equal(berth_connect(s, c, REMOTE, 443), BERTH_EINPROGRESS);
    struct berth_endpoint me;
    assert_int_equal(berth_getsockname(s, c, &me), 0);
    struct berth_segment seg;
    assert_int_equal(cap.count, 1);
    assert_int_equal(berth_decode(cap.pkt, cap.len, &seg), 0);
    assert_int_equal(seg.flags, BERTH_TH_SYN);
    assert_int_equal(seg.src.port, me.port);
    assert_int_equal(seg.seq, tcp_isn(s, false, LOCAL, me.port, REMOTE, 443));
    assert_int_equal(berth_close(s, c), 0);
    assert_int_equal(berth_mem_allocs(s), 0);
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_tuple_4s_later_is_larger_by_1000000),
        cmocka_unit_test(isn_clock_ticks_every_4_microseconds),
        cmocka_unit_test(isn_clock_wraps_modulo_2_32),
        cmocka_unit_test(different_tuples_get_different_isns),
        cmocka_unit_test(different_secret_gives_different_isn),
        cmocka_unit_test(configured_isn_hook_overrides),
        cmocka_unit_test(connect_uses_rfc6528_isn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
