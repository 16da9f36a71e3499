/* berth-sim --selftest: the link's new impairments do what memlink.h says
 * (bottleneck pacing and tail drop, outages, Gilbert–Elliott burst
 * statistics, one seed one outcome), checked on raw packets without
 * stacks: the simulator's findings are only as good as its link. */
#include <math.h>
#include <string.h>

#include "sim.h"

#define PKT_LEN 1000

struct probe {
    unsigned fates[4096];
    size_t n;
};

static void probe_tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                      size_t len, unsigned fate)
{
    struct probe *p = ctx;
    (void)from;
    (void)now;
    (void)pkt;
    (void)len;
    if (p->n < sizeof(p->fates) / sizeof(p->fates[0]))
        p->fates[p->n++] = fate;
}

static int expect(bool ok, const char *what)
{
    printf("  %-66s %s\n", what, ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

static struct berth_memlink *link_with(const struct berth_memlink_impair *imp,
                                       struct probe *p, uint64_t seed)
{
    struct berth_memlink *link = berth_memlink_create(seed);
    if (!link)
        return NULL;
    berth_memlink_set_impair(link, 0, imp);
    berth_memlink_set_tap(link, probe_tap, p);
    memset(p, 0, sizeof(*p));
    return link;
}

/* The delivery instants, one per step of the driver (nothing attached:
 * packets are counted undeliverable, but their times are real). */
static size_t delivery_times(struct berth_memlink *link, uint64_t *at,
                             size_t max)
{
    size_t n = 0;
    uint64_t now = berth_memlink_time(link);
    while (n < max && berth_memlink_in_flight(link) > 0) {
        uint64_t t = berth_memlink_next_event(link);
        size_t before = berth_memlink_in_flight(link);
        berth_memlink_run(link, &now, t);
        for (size_t k = berth_memlink_in_flight(link); k < before && n < max;
             k++)
            at[n++] = t;
    }
    return n;
}

/* 100 packets of 1000 B at once into 1 MB/s with a 20-packet FIFO: 20
 * leave 1 ms apart after the base delay, 80 are tail-dropped. */
static int bottleneck_paces_and_tail_drops(void)
{
    struct berth_memlink_impair imp;
    struct probe p;
    uint8_t pkt[PKT_LEN] = {0x45};
    uint64_t at[128];
    berth_memlink_impair_init(&imp);
    imp.rate = 1000000;
    imp.queue_packets = 20;
    struct berth_memlink *link = link_with(&imp, &p, 1);
    for (int i = 0; i < 100; i++)
        berth_memlink_tx(berth_memlink_tx_ctx(link, 0), pkt, sizeof(pkt));
    size_t n = delivery_times(link, at, 128);
    struct berth_memlink_stats st;
    berth_memlink_stats(link, 0, &st);
    bool paced = n == 20;
    for (size_t i = 0; paced && i < n; i++)
        paced = at[i] == 1000 + (i + 1) * 1000; /* delay + serialization */
    int bad = expect(paced, "bottleneck: 1 ms apart after the base delay");
    bad += expect(st.tail_dropped == 80 && st.max_queue_delay == 20000,
                  "bottleneck: 80 tail drops, 20 ms the longest wait");
    bad += expect((p.fates[99] & BERTH_MEMLINK_FATE_TAIL_DROP) &&
                      (p.fates[99] & BERTH_MEMLINK_FATE_QUEUE_FULL) &&
                      !(p.fates[0] & BERTH_MEMLINK_FATE_QUEUE_FULL),
                  "bottleneck: tail drops are QUEUE_FULL | TAIL_DROP");
    berth_memlink_destroy(link);
    return bad;
}

/* Packets sent in [2 s, 5 s) are lost; before and after, delivered. */
static int outage_drops_its_window_only(void)
{
    struct berth_memlink_impair imp;
    struct probe p;
    uint8_t pkt[PKT_LEN] = {0x45};
    berth_memlink_impair_init(&imp);
    struct berth_memlink *link = link_with(&imp, &p, 2);
    int bad = expect(berth_memlink_add_outage(link, 0, 5, 5) == BERTH_EINVAL,
                     "outage: an empty window is refused");
    berth_memlink_add_outage(link, 0, 2 * SIM_SEC, 5 * SIM_SEC);
    uint64_t now = 0;
    for (int i = 0; i < 7; i++) {
        berth_memlink_set_time(link, now);
        berth_memlink_tx(berth_memlink_tx_ctx(link, 0), pkt, sizeof(pkt));
        now += SIM_SEC;
    }
    struct berth_memlink_stats st;
    berth_memlink_stats(link, 0, &st);
    bool ok = st.outage_dropped == 3;
    for (size_t i = 0; i < p.n; i++)
        ok = ok && ((p.fates[i] & BERTH_MEMLINK_FATE_OUTAGE) != 0) ==
                       (i >= 2 && i < 5);
    bad += expect(ok, "outage: exactly the packets sent at 2, 3, 4 s lost");
    berth_memlink_destroy(link);
    return bad;
}

/* Gilbert with p(g->b) 0.1, p(b->g) 0.5, loss 0 / 1: stationary loss
 * 0.1 / 0.6 = 1/6 and bursts of mean 1 / 0.5 = 2 packets. */
static int gilbert_elliott_matches_its_stationary_rates(void)
{
    struct berth_memlink_impair imp;
    struct probe p;
    uint8_t pkt[64] = {0x45};
    berth_memlink_impair_init(&imp);
    imp.ge_good_to_bad = 0.1;
    imp.ge_bad_to_good = 0.5;
    imp.ge_loss_bad = 1.0;
    struct berth_memlink *link = link_with(&imp, &p, 3);
    size_t lost = 0, bursts = 0;
    bool in_burst = false;
    for (int i = 0; i < 4000; i++) {
        berth_memlink_tx(berth_memlink_tx_ctx(link, 0), pkt, sizeof(pkt));
        bool l = (p.fates[i] & BERTH_MEMLINK_FATE_BURST) != 0;
        lost += l;
        bursts += l && !in_burst;
        in_burst = l;
    }
    double rate = (double)lost / 4000,
           mean = bursts ? (double)lost / bursts : 0;
    int bad = expect(fabs(rate - 1.0 / 6) < 0.03, "bursts: loss rate near 1/6");
    bad += expect(fabs(mean - 2.0) < 0.3, "bursts: mean burst near 2 packets");
    berth_memlink_destroy(link);
    return bad;
}

/* One seed, one outcome; another seed, another. */
static unsigned fates_of(uint64_t seed, uint64_t *hash)
{
    struct berth_memlink_impair imp;
    struct probe p;
    uint8_t pkt[200] = {0x45};
    berth_memlink_impair_init(&imp);
    imp.loss = 0.1;
    imp.duplicate = 0.05;
    imp.corrupt = 0.05;
    imp.jitter = 500;
    imp.ge_good_to_bad = 0.05;
    imp.ge_bad_to_good = 0.5;
    imp.ge_loss_bad = 0.7;
    imp.rate = 200000;
    imp.queue_bytes = 8000;
    struct berth_memlink *link = link_with(&imp, &p, seed);
    for (int i = 0; i < 500; i++) {
        berth_memlink_set_time(link, (uint64_t)i * 700);
        berth_memlink_tx(berth_memlink_tx_ctx(link, 0), pkt, sizeof(pkt));
    }
    *hash = fnv1a(0xcbf29ce484222325ull, (const uint8_t *)p.fates,
                  p.n * sizeof(p.fates[0]));
    berth_memlink_destroy(link);
    return (unsigned)p.n;
}

static int same_seed_same_fates(void)
{
    uint64_t a, b, c;
    fates_of(7, &a);
    fates_of(7, &b);
    fates_of(8, &c);
    return expect(a == b && a != c, "determinism: same seed, same fates");
}

int selftest_run(void)
{
    printf("berth-sim: link self-test\n");
    int bad = bottleneck_paces_and_tail_drops();
    bad += outage_drops_its_window_only();
    bad += gilbert_elliott_matches_its_stationary_rates();
    bad += same_seed_same_fates();
    printf("berth-sim: link self-test %s\n", bad ? "FAILED" : "passed");
    return bad ? 1 : 0;
}
