/* Many IPv6 peers at one stack (RFC 8200; RFC 4987 §3.6 SYN cookies; RFC
 * 9293 §3.10.7.2): the per-stack address table under churn. Handshakes
 * from hundreds of distinct sources, each peer's records holding its
 * interned address; SYN cookies that must still check out after the
 * address's id was freed and handed to another peer (the cookie hashes the
 * address, not the id); everything freed at the end. Packets are built
 * here and fed to berth_input(); what the stack sends is captured. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/tcp.h"
#include "wire/ipv6.h"
#include "wire/tcp.h"

#define PEERS 300
#define SEC   1000000ull

static const uint8_t OURS[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2};

struct cap {
    unsigned n;
    struct {
        uint8_t dst[16];
        uint16_t dport;
        uint32_t seq, ack;
        uint8_t flags;
    } seg[8 * PEERS];
};

static void tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct cap *c = ctx;
    struct ipv6_info ip;
    struct tcp_seg s;
    assert_int_equal(ipv6_parse(pkt, len, &ip), 0);
    assert_int_equal(
        tcp_parse6(ip.payload, ip.payload_len, ip.src, ip.dst, true, &s), 0);
    assert_true(c->n < 8 * PEERS);
    memcpy(c->seg[c->n].dst, ip.dst, 16);
    c->seg[c->n].dport = s.dport;
    c->seg[c->n].seq = s.seq;
    c->seg[c->n].ack = s.ack;
    c->seg[c->n].flags = s.flags;
    c->n++;
}

static void peer_addr(unsigned i, uint8_t a[16])
{
    static const uint8_t base[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x0c};
    memcpy(a, base, 16);
    a[13] = (uint8_t)(i >> 16);
    a[14] = (uint8_t)(i >> 8);
    a[15] = (uint8_t)(i + 1);
}

/* A segment from peer i (port 40000 + i) to our port 80. */
static void send_from(struct berth_stack *s, unsigned i, uint8_t flags,
                      uint32_t seq, uint32_t ack, uint64_t now)
{
    uint8_t pkt[128], src[16];
    peer_addr(i, src);
    struct tcp_seg seg = {.sport = (uint16_t)(40000 + i),
                          .dport = 80,
                          .seq = seq,
                          .ack = ack,
                          .flags = flags,
                          .wnd = 65535};
    if (flags & TH_SYN) {
        seg.opts.has_mss = true;
        seg.opts.mss = 1440;
    }
    size_t tl = tcp_emit6(pkt + IPV6_HDR_LEN, &seg, src, OURS, false);
    ipv6_emit(pkt, src, OURS, IPV6_NH_TCP, 64, 1, (uint16_t)tl);
    assert_int_equal(berth_input(s, pkt, IPV6_HDR_LEN + tl, now), 0);
}

static struct berth_stack *stack_new(struct cap *cap, uint8_t cookies)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    memcpy(cfg.addr6, OURS, 16);
    cfg.tx = tx;
    cfg.tx_ctx = cap;
    cfg.syncookies = cookies;
    cfg.syn_backlog = 2 * PEERS;
    cfg.seed = 3;
    memset(cfg.secret, 0x42, sizeof cfg.secret);
    struct berth_stack *s = berth_stack_create(&cfg, SEC);
    assert_non_null(s);
    int l = berth_socket(s);
    struct berth_endpoint any = berth_endpoint_v6((uint8_t[16]){0}, 80);
    assert_int_equal(berth_bind_endpoint(s, l, &any), 0);
    assert_int_equal(berth_listen(s, l, 2 * PEERS), 0);
    return s;
}

/* Accepts every connection: each reports its own peer, in its family. */
static unsigned accept_all(struct berth_stack *s, int l)
{
    unsigned n = 0;
    bool seen[PEERS] = {0};
    for (;;) {
        struct berth_endpoint peer;
        int c = berth_accept(s, l, &peer);
        if (c < 0)
            break;
        assert_int_equal(peer.family, BERTH_AF_INET6);
        unsigned i = (unsigned)peer.port - 40000u;
        assert_true(i < PEERS && !seen[i]);
        uint8_t want[16];
        peer_addr(i, want);
        assert_memory_equal(peer.addr6, want, 16);
        seen[i] = true;
        assert_int_equal(berth_abort(s, c), 0);
        n++;
    }
    return n;
}

/* The SYN-ACK sent to peer i. */
static const uint32_t *synack_to(const struct cap *cap, unsigned i)
{
    uint8_t a[16];
    peer_addr(i, a);
    for (unsigned k = 0; k < cap->n; k++)
        if (cap->seg[k].dport == 40000 + i &&
            memcmp(cap->seg[k].dst, a, 16) == 0 &&
            (cap->seg[k].flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK))
            return &cap->seg[k].seq;
    fail_msg("no SYN-ACK to peer %u", i);
    return NULL;
}

/* SYN queue: every peer's entry holds its address; the final ACKs, in
 * reverse order, complete every handshake. */
static void syn_queue_entries_hold_each_peer(void **state)
{
    (void)state;
    static struct cap cap;
    memset(&cap, 0, sizeof cap);
    struct berth_stack *s = stack_new(&cap, 0);
    /* The first SYN also makes the listener's eviction ring. */
    send_from(s, 0, TH_SYN, 1000, 0, 2 * SEC);
    size_t before = berth_mem_bytes(s);
    for (unsigned i = 1; i < PEERS; i++)
        send_from(s, i, TH_SYN, 1000 + i, 0, 2 * SEC);
    /* One 64-byte entry and one 32-byte address per peer (IPv6 records
     * are the IPv4 ones; the issue allows 96 bytes). */
    assert_int_equal(berth_mem_bytes(s) - before, (PEERS - 1) * 96);
    for (unsigned k = PEERS; k-- > 0;)
        send_from(s, k, TH_ACK, 1001 + k, *synack_to(&cap, k) + 1, 3 * SEC);
    assert_int_equal(accept_all(s, 0), PEERS);
    berth_advance(s, 10 * SEC);
    assert_int_equal(berth_close(s, 0), 0);
    assert_int_equal(berth_mem_bytes(s), 0);
    berth_stack_destroy(s);
}

/* RFC 4987 §3.6 with cookies always on: no state per SYN. The peers whose
 * SYNs come first are interned only while their SYN is processed; their
 * ids then go to later peers. Their ACKs must still validate: the cookie
 * hashes the address (its keyed digest), not an id. */
static void cookies_check_out_after_ids_are_reused(void **state)
{
    (void)state;
    static struct cap cap;
    memset(&cap, 0, sizeof cap);
    struct berth_stack *s = stack_new(&cap, 2);
    size_t listener = berth_mem_bytes(s);
    for (unsigned i = 0; i < PEERS; i++)
        send_from(s, i, TH_SYN, 5000 + i, 0, 2 * SEC);
    assert_int_equal(berth_mem_bytes(s), listener); /* nothing kept */
    assert_int_equal(berth_counter(s, BERTH_CTR_SYNCOOKIES_SENT), PEERS);
    /* Other sources come and go in between (ids handed out again). */
    for (unsigned i = PEERS; i < 2 * PEERS; i++)
        send_from(s, i % PEERS + PEERS, TH_ACK | TH_RST, 1, 1, 3 * SEC);
    for (unsigned k = 0; k < PEERS; k++)
        send_from(s, k, TH_ACK, 5001 + k, *synack_to(&cap, k) + 1, 4 * SEC);
    assert_int_equal(berth_counter(s, BERTH_CTR_SYNCOOKIES_RECV), PEERS);
    assert_int_equal(berth_counter(s, BERTH_CTR_SYNCOOKIES_FAILED), 0);
    assert_int_equal(accept_all(s, 0), PEERS);
    /* A cookie for one peer does not open a connection for another. */
    send_from(s, 7, TH_SYN, 9000, 0, 5 * SEC);
    uint32_t isn = cap.seg[cap.n - 1].seq;
    send_from(s, 8, TH_ACK, 9001, isn + 1, 5 * SEC);
    assert_int_equal(berth_counter(s, BERTH_CTR_SYNCOOKIES_FAILED), 1);
    berth_advance(s, 10 * SEC);
    assert_int_equal(berth_close(s, 0), 0);
    assert_int_equal(berth_mem_bytes(s), 0);
    berth_stack_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syn_queue_entries_hold_each_peer),
        cmocka_unit_test(cookies_check_out_after_ids_are_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
