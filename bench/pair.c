/* Two berth stacks over the immediate in-memory link (pair.h). */
#include "pair.h"

#include "bench.h"

#include <string.h>

const uint8_t pair_addr6[2][16] = {{0xfd, [15] = 1}, {0xfd, [15] = 2}};

/* One packet into side i's stack, marked busy meanwhile. */
static void deliver(struct pair *p, int i, const uint8_t *pkt, size_t len)
{
    bool was = p->busy[i];
    p->busy[i] = true;
    berth_input_flags(p->st[i], pkt, len, p->now,
                      p->offload ? BERTH_IN_CSUM_OK : 0);
    p->busy[i] = was;
}

/* The side a packet of side e goes to, or -1: the link joins two addresses
 * per family, and a packet for any other (a SYN-ACK to a forged source)
 * goes nowhere, as does everything of a side that loses all it sends. */
static int route(struct pair_end *e, const uint8_t *pkt, size_t len)
{
    struct pair *p = e->p;
    bool v6 = len >= 40 && pkt[0] >> 4 == 6;
    uint32_t dst = len >= 20
                       ? (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 |
                             (uint32_t)pkt[18] << 8 | pkt[19]
                       : 0;
    uint32_t peer = e->side ? PAIR_CLIENT_ADDR : PAIR_SERVER_ADDR;
    bool to_peer =
        v6 ? memcmp(pkt + 24, pair_addr6[1 - e->side], 16) == 0 : dst == peer;
    if (p->drop_from[e->side] || !to_peer) {
        p->dropped++;
        return -1;
    }
    return 1 - e->side;
}

/* Whether a packet for side `to` may be handed over now (pair.h). */
static bool may_hand_over(const struct pair *p, int to)
{
    return p->handoff && !p->nested && !p->busy[to] && !p->queued[to];
}

static void pair_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct pair_end *e = ctx;
    struct pair *p = e->p;
    int to = route(e, pkt, len);
    if (to < 0)
        return;
    if (may_hand_over(p, to)) {
        p->nested++;
        p->handed++;
        deliver(p, to, pkt, len);
        p->nested--;
        return;
    }
    if (pktq_push(&p->q, (uint8_t)to, pkt, len))
        p->queued[to]++;
}

/* A TSO super-segment (berth_config.tso_max): handed on whole, as the
 * receiving side of a GRO link would see it. */
static void pair_tx_gso(void *ctx, const uint8_t *pkt, size_t len,
                        uint16_t seg_size)
{
    (void)seg_size;
    pair_tx(ctx, pkt, len);
}

/* Scatter-gather (pair_init_sg): the headers and the text's spans in the
 * sender's send buffer go to the peer's berth_input_sg as they are, so
 * the text is copied once, from one stack's send buffer into the other's
 * receive buffer; or, queued, gathered into the queue's record. */
static void pair_tx_sg(void *ctx, const uint8_t *hdr, size_t hdr_len,
                       const struct berth_iov *spans, size_t nspans,
                       uint16_t seg_size)
{
    struct pair_end *e = ctx;
    struct pair *p = e->p;
    (void)seg_size;
    int to = route(e, hdr, hdr_len);
    if (to < 0)
        return;
    if (may_hand_over(p, to)) {
        p->nested++;
        p->handed++;
        bool was = p->busy[to];
        p->busy[to] = true;
        berth_input_sg(p->st[to], hdr, hdr_len, spans, nspans, p->now,
                       p->offload ? BERTH_IN_CSUM_OK : 0);
        p->busy[to] = was;
        p->nested--;
        return;
    }
    struct pktq_piece pc[3] = {{hdr, hdr_len}};
    for (size_t i = 0; i < nspans && i < 2; i++) /* tx_sg gives at most 2 */
        pc[i + 1] = (struct pktq_piece){spans[i].base, spans[i].len};
    if (pktq_push_pieces(&p->q, (uint8_t)to, pc, 1 + (nspans < 2 ? nspans : 2)))
        p->queued[to]++;
}

int pair_init(struct pair *p, struct berth_config cfg[2], bool virtual_time,
              size_t link_bytes)
{
    return pair_init_sg(p, cfg, virtual_time, link_bytes, false);
}

int pair_init_sg(struct pair *p, struct berth_config cfg[2], bool virtual_time,
                 size_t link_bytes, bool sg)
{
    memset(p, 0, sizeof *p);
    p->sg = sg;
    p->virtual_time = virtual_time;
    p->now = virtual_time ? 1000000 : bench_wall_ns() / 1000;
    if (pktq_init(&p->q, link_bytes) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        p->end[i] = (struct pair_end){p, i};
        cfg[i].addr = i ? PAIR_SERVER_ADDR : PAIR_CLIENT_ADDR;
        memcpy(cfg[i].addr6, pair_addr6[i], 16);
        cfg[i].tx = pair_tx;
        cfg[i].tx_ctx = &p->end[i];
        if (cfg[i].tso_max) {
            p->offload = true;
            cfg[i].tx_gso = pair_tx_gso;
        }
        if (sg)
            cfg[i].tx_sg = pair_tx_sg;
        cfg[i].seed = 1 + (uint64_t)i;
        for (int k = 0; k < 16; k++)
            cfg[i].secret[k] = (uint8_t)(k * 7 + i);
        p->st[i] = berth_stack_create(&cfg[i], p->now);
        if (!p->st[i])
            return -1;
    }
    return 0;
}

void pair_destroy(struct pair *p)
{
    for (int i = 0; i < 2; i++)
        if (p->st[i])
            berth_stack_destroy(p->st[i]);
    pktq_free(&p->q);
}

uint64_t pair_next_deadline(const struct pair *p)
{
    uint64_t a = berth_next_deadline(p->st[0]);
    uint64_t b = berth_next_deadline(p->st[1]);
    return a < b ? a : b;
}

void pair_tick(struct pair *p)
{
    if (!p->virtual_time)
        p->now = bench_wall_ns() / 1000;
    for (int i = 0; i < 2; i++)
        if (berth_next_deadline(p->st[i]) <= p->now) {
            p->busy[i] = true;
            berth_advance(p->st[i], p->now);
            p->busy[i] = false;
        }
    if (p->tick_hook)
        p->tick_hook(p->tick_ctx);
}

/* Up to PAIR_BATCH queued packets at a time: each side's share goes into
 * its stack in one berth_input_batch(), side 0's first (the two sides'
 * packets are independent; each side's keep their order). */
#define PAIR_BATCH 64

static void deliver_batch(struct pair *p, int i, struct berth_pkt *pkts,
                          size_t n)
{
    p->queued[i] -= n;
    bool was = p->busy[i];
    p->busy[i] = true;
    berth_input_batch(p->st[i], pkts, n, p->now);
    p->busy[i] = was;
}

uint64_t pair_run(struct pair *p, uint64_t max)
{
    uint64_t n = 0;
    struct pktq_pkt pkt[PAIR_BATCH];
    struct berth_pkt in[2][PAIR_BATCH];
    uint32_t flags = p->offload ? BERTH_IN_CSUM_OK : 0;
    size_t got;
    while (n < max &&
           (got = pktq_peek_n(&p->q, pkt,
                              max - n < PAIR_BATCH ? max - n : PAIR_BATCH))) {
        size_t k[2] = {0, 0};
        for (size_t j = 0; j < got; j++)
            in[pkt[j].tag][k[pkt[j].tag]++] =
                (struct berth_pkt){pkt[j].data, pkt[j].len, flags};
        for (int i = 0; i < 2; i++)
            if (k[i])
                deliver_batch(p, i, in[i], k[i]);
        pktq_pop_n(&p->q, got);
        n += got;
        if (n / 64 != (n - got) / 64)
            pair_tick(p);
    }
    pair_tick(p);
    return n;
}

void pair_advance_to(struct pair *p, uint64_t t)
{
    for (int guard = 0; guard < 1000000; guard++) {
        pair_run(p, UINT64_MAX);
        uint64_t d = pair_next_deadline(p);
        if (d > t)
            break;
        if (d > p->now)
            p->now = d;
        pair_tick(p);
    }
    if (t > p->now)
        p->now = t;
    pair_run(p, UINT64_MAX);
}
