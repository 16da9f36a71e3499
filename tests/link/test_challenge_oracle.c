/* The challenge-ACK side channel (CVE-2016-5696) run against one berth
 * stack, through the public API only, with the attacker's packets built
 * here: an off-path attacker sends one spoofed RST for a victim's 4-tuple
 * (in the victim's window or not: its guess), then 1000 in-window RSTs on
 * its own connection within the same second, and counts the challenge ACKs
 * it receives. With one fixed stack-wide budget it counted 999 when the
 * guess hit the window and 1000 when it missed (RFC 5961 §7 throttling as
 * first deployed). berth limits challenge ACKs per connection and draws the
 * stack-wide budget of each second at random (base + 0..base), so the two
 * cases count the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "berth/berth.h"

#define SERVER_ADDR   0xc6120002u /* 198.18.0.2 */
#define VICTIM_ADDR   0xc6120007u /* 198.18.0.7 */
#define ATTACKER_ADDR 0xc6120009u /* 198.18.0.9 */
#define VICTIM_PORT   5555
#define ATTACKER_PORT 6666
#define SERVER_PORT   80
#define MS            1000ull
#define SEC           1000000ull
#define ATTACK_RSTS   1000
#define TRIALS        24

struct peer {
    uint32_t addr;
    uint16_t port;
    uint32_t seq;     /* our next sequence number (the stack's RCV.NXT) */
    uint32_t ack;     /* the stack's ISS + 1 */
    uint32_t answers; /* ACKs (without SYN or RST) the stack sent us */
};

struct world {
    struct berth_stack *s;
    struct peer victim, attacker;
    uint64_t now;
};

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint32_t add16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
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

/* An option-less IPv4/TCP segment from (src, sport) to the server. */
static void inject(struct world *w, uint32_t src, uint16_t sport, uint32_t seq,
                   uint32_t ack, uint8_t flags)
{
    uint8_t pkt[40] = {0};
    pkt[0] = 0x45;
    put16(pkt + 2, sizeof pkt);
    pkt[6] = 0x40; /* DF */
    pkt[8] = 64;
    pkt[9] = 6;
    put32(pkt + 12, src);
    put32(pkt + 16, SERVER_ADDR);
    put16(pkt + 10, fold(add16(0, pkt, 20)));
    uint8_t *t = pkt + 20;
    put16(t, sport);
    put16(t + 2, SERVER_PORT);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    uint8_t pseudo[12];
    memcpy(pseudo, pkt + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, 20);
    put16(t + 16, fold(add16(add16(0, pseudo, 12), t, 20)));
    assert_int_equal(berth_input(w->s, pkt, sizeof pkt, w->now), 0);
}

static void on_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct world *w = ctx;
    struct berth_segment seg;
    assert_int_equal(berth_decode(pkt, len, &seg), 0);
    struct peer *p = seg.dst.addr == VICTIM_ADDR ? &w->victim : &w->attacker;
    if (seg.flags & BERTH_TH_SYN)
        p->ack = seg.seq + 1;
    else if (!(seg.flags & BERTH_TH_RST))
        p->answers++;
}

static void handshake(struct world *w, struct peer *p, int listener)
{
    p->seq = 1000;
    inject(w, p->addr, p->port, p->seq, 0, BERTH_TH_SYN);
    p->seq++;
    inject(w, p->addr, p->port, p->seq, p->ack, BERTH_TH_ACK);
    assert_true(berth_accept(w->s, listener, NULL) >= 0);
    p->answers = 0;
}

/* One run of the attack on a fresh stack keyed with `key`: hit says
 * whether the spoofed RST lands in the victim's window. Returns the
 * challenge ACKs the attacker counted. */
static uint32_t attack(uint8_t key, bool hit, uint64_t ratelimit, int rsts)
{
    struct world w = {.victim = {VICTIM_ADDR, VICTIM_PORT, 0, 0, 0},
                      .attacker = {ATTACKER_ADDR, ATTACKER_PORT, 0, 0, 0},
                      .now = 1 * SEC};
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.tx = on_tx;
    cfg.tx_ctx = &w;
    cfg.seed = key;
    memset(cfg.secret, key, sizeof cfg.secret);
    cfg.invalid_ratelimit = ratelimit;
    cfg.timestamps = cfg.sack = cfg.window_scaling = false;
    w.s = berth_stack_create(&cfg, w.now);
    assert_non_null(w.s);
    int l = berth_socket(w.s);
    assert_int_equal(berth_bind(w.s, l, 0, SERVER_PORT), 0);
    assert_int_equal(berth_listen(w.s, l, 16), 0);
    handshake(&w, &w.victim, l);
    handshake(&w, &w.attacker, l);

    w.now = 3 * SEC; /* a fresh second for the budget */
    uint32_t guess = hit ? w.victim.seq + 100 : w.victim.seq + (1u << 31);
    inject(&w, VICTIM_ADDR, VICTIM_PORT, guess, 0, BERTH_TH_RST);
    for (int i = 0; i < rsts; i++) {
        w.now += 200; /* within the second: 2500 in half of it */
        inject(&w, ATTACKER_ADDR, ATTACKER_PORT, w.attacker.seq + 1 + i, 0,
               BERTH_TH_RST);
    }
    uint32_t victim_challenged = w.victim.answers;
    assert_int_equal(victim_challenged, hit ? 1 : 0);
    uint32_t seen = w.attacker.answers;
    berth_stack_destroy(w.s);
    return seen;
}

/* RFC 5961 §7 and §10 with the default per-connection limit: whatever the
 * key, the attacker counts the same in both cases. */
static void oracle_cases_indistinguishable(void **state)
{
    (void)state;
    for (int k = 1; k <= TRIALS; k++) {
        uint32_t h = attack((uint8_t)k, true, 500 * MS, ATTACK_RSTS);
        uint32_t m = attack((uint8_t)k, false, 500 * MS, ATTACK_RSTS);
        assert_int_equal(h, m);
        assert_int_equal(h, 1); /* one per connection per 500 ms */
    }
}

/* Without the per-connection limit, the stack-wide budget alone: drawn
 * at random in [1000, 2000] each second, so an attacker who exhausts it
 * (2500 RSTs) counts a number that spreads over hundreds from key to key,
 * and the one challenge the victim's connection took says nothing about
 * the guess (as Linux since 4.7). */
static void budget_randomised_between_base_and_twice(void **state)
{
    (void)state;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int k = 1; k <= TRIALS; k++) {
        uint32_t m = attack((uint8_t)k, false, 0, 2500);
        uint32_t h = attack((uint8_t)k, true, 0, 2500);
        assert_true(m >= 1000 && m <= 2000);
        assert_true(h >= 999 && h <= 2000); /* the victim's took one */
        lo = m < lo ? m : lo;
        hi = m > hi ? m : hi;
    }
    assert_true(hi - lo > 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(oracle_cases_indistinguishable),
        cmocka_unit_test(budget_randomised_between_base_and_twice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
