/* Goodput against loss and RTT, in virtual time: one bulk transfer per
 * cell through a 100 Mbit/s bottleneck, once with CUBIC and SACK and once
 * with NewReno without SACK, so that what loss recovery is worth shows. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define BULK_BYTES (8 * SIM_MIB)
#define BULK_BUF   (4 * SIM_MIB) /* sndbuf = rcvbuf: above the largest BDP */
#define BULK_RATE  12500000u     /* bytes/s: 100 Mbit/s */
#define BULK_LIMIT (3600 * SIM_SEC)
#define BULK_PORT  5001

static const double LOSSES[] = {0, 0.005, 0.01, 0.02, 0.05, 0.10, 0.20};
static const unsigned RTTS_MS[] = {1, 10, 50, 200};
#define NLOSS (sizeof(LOSSES) / sizeof(LOSSES[0]))
#define NRTT  (sizeof(RTTS_MS) / sizeof(RTTS_MS[0]))

struct bulk {
    int verbose;
    struct berth_memlink *link;
    struct berth_stack *st[2]; /* 0 sends, 1 receives */
    int lsn, tx, rx;
    uint64_t now, sent, rcvd;
    bool dirty;
    uint8_t buf[64 * 1024];
};

static void bulk_event(void *ctx, int sock, uint32_t ev)
{
    (void)sock;
    (void)ev;
    ((struct bulk *)ctx)->dirty = true;
}

static bool bulk_dirty(void *ctx)
{
    return ((struct bulk *)ctx)->dirty;
}

static void bulk_tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                     size_t len, unsigned fate)
{
    struct berth_segment g;
    char fl[32];
    (void)ctx;
    if (berth_decode(pkt, len, &g) != 0)
        return;
    berth_flags_string(g.flags, fl, sizeof(fl));
    printf("%11.6f %c %s seq %u ack %u win %u len %u sack %u%s%s\n",
           (double)now / 1e6, 'A' + from, fl, g.seq, g.ack, g.win, g.len,
           g.sack_count, fate & BERTH_MEMLINK_FATE_LOST ? " LOST" : "",
           fate & BERTH_MEMLINK_FATE_TAIL_DROP ? " (tail drop)" : "");
}

static int bulk_setup(struct bulk *b, int cc, bool sack, unsigned rtt_ms,
                      double loss)
{
    struct berth_memlink_impair imp;
    uint64_t bdp = (uint64_t)BULK_RATE * rtt_ms / 1000;
    b->link = berth_memlink_create(rtt_ms * 1000003u + (uint64_t)(loss * 1e6));
    if (!b->link)
        return -1;
    if (b->verbose > 0)
        berth_memlink_set_tap(b->link, bulk_tap, b);
    berth_memlink_impair_init(&imp);
    imp.delay = rtt_ms * SIM_MS / 2;
    imp.loss = loss;
    imp.rate = BULK_RATE;
    imp.queue_bytes = bdp > 64 * SIM_KIB ? bdp : 64 * SIM_KIB;
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = SIM_ADDR(side);
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(b->link, side);
        cfg.event = bulk_event;
        cfg.event_ctx = b;
        cfg.seed = (uint64_t)side + 1;
        cfg.sack = sack;
        cfg.congestion = (uint8_t)cc;
        cfg.sndbuf = cfg.rcvbuf = BULK_BUF;
        berth_memlink_set_impair(b->link, side, &imp);
        b->st[side] = berth_stack_create(&cfg, 0);
        if (!b->st[side])
            return -1;
        berth_memlink_attach(b->link, side, b->st[side]);
    }
    b->lsn = berth_socket(b->st[1]);
    b->tx = berth_socket(b->st[0]);
    if (berth_bind(b->st[1], b->lsn, 0, BULK_PORT) != 0 ||
        berth_listen(b->st[1], b->lsn, 1) != 0 ||
        berth_connect(b->st[0], b->tx, SIM_ADDR(1), BULK_PORT) !=
            BERTH_EINPROGRESS)
        return -1;
    return 0;
}

static void bulk_pump(struct bulk *b)
{
    berth_advance(b->st[0], b->now);
    berth_advance(b->st[1], b->now);
    if (b->rx < 0)
        b->rx = berth_accept(b->st[1], b->lsn, NULL);
    while (b->sent < BULK_BYTES) {
        size_t n = sizeof(b->buf);
        if (n > BULK_BYTES - b->sent)
            n = BULK_BYTES - b->sent;
        int r = berth_send(b->st[0], b->tx, b->buf, n);
        if (r <= 0)
            break;
        b->sent += (uint64_t)r;
    }
    while (b->rx >= 0) {
        int r = berth_recv(b->st[1], b->rx, b->buf, sizeof(b->buf));
        if (r <= 0)
            break;
        b->rcvd += (uint64_t)r;
    }
}

static void bulk_report(const struct bulk *b)
{
    struct berth_memlink_stats m;
    struct berth_tcp_info i;
    berth_memlink_stats(b->link, 0, &m);
    printf("bulk: %llu of %llu bytes in %.3f s; link A->B: %llu packets, "
           "%llu lost, %llu tail drops, longest queue wait %.1f ms\n",
           (unsigned long long)b->rcvd, (unsigned long long)BULK_BYTES,
           (double)b->now / 1e6, (unsigned long long)m.sent,
           (unsigned long long)m.lost, (unsigned long long)m.tail_dropped,
           (double)m.max_queue_delay / 1e3);
    for (int c = 0; c < BERTH_CTR__COUNT; c++)
        if (berth_counter(b->st[0], (enum berth_counter)c))
            printf("  A %-20s %llu\n",
                   berth_counter_name((enum berth_counter)c),
                   (unsigned long long)berth_counter(b->st[0],
                                                     (enum berth_counter)c));
    if (berth_getinfo(b->st[0], b->tx, &i) == 0)
        printf("  A %s srtt %u rto %u snd_wnd %u snd_mss %u unacked %u\n",
               berth_state_name(i.state), i.srtt, i.rto, i.snd_wnd, i.snd_mss,
               i.unacked);
}

/* Goodput in Mbit/s from the connect to the last byte read; false when
 * the time bound came first (then *mbps is what got through). */
static bool bulk_run(int cc, bool sack, unsigned rtt_ms, double loss,
                     double *mbps, uint64_t *rexmit, uint64_t *dropped,
                     int verbose)
{
    struct bulk *b = calloc(1, sizeof(*b));
    bool done = false;
    *mbps = 0;
    if (!b)
        return false;
    b->rx = -1;
    b->verbose = verbose;
    if (bulk_setup(b, cc, sack, rtt_ms, loss) == 0) {
        for (int guard = 0;
             guard < 10000000 && b->rcvd < BULK_BYTES && b->now < BULK_LIMIT;
             guard++) {
            b->dirty = false;
            bulk_pump(b);
            if (b->rcvd >= BULK_BYTES)
                break;
            if (berth_memlink_run_until(b->link, &b->now, BULK_LIMIT,
                                        bulk_dirty, b) != 1)
                break;
        }
        if (b->now > 0)
            *mbps = (double)b->rcvd * 8 / (double)b->now;
        done = b->rcvd >= BULK_BYTES;
        struct berth_memlink_stats m;
        berth_memlink_stats(b->link, 0, &m);
        *rexmit = berth_counter(b->st[0], BERTH_CTR_RETRANS_SEGS);
        *dropped = m.lost + m.tail_dropped;
        if (verbose >= 0)
            bulk_report(b);
    }
    for (int side = 0; side < 2; side++)
        if (b->st[side])
            berth_stack_destroy(b->st[side]);
    berth_memlink_destroy(b->link);
    free(b);
    return done;
}

static void table_one(FILE *out, const char *title, int cc, bool sack)
{
    fprintf(out, "\n%s\n  loss \\ RTT", title);
    for (size_t j = 0; j < NRTT; j++)
        fprintf(out, " %8u ms", RTTS_MS[j]);
    fputc('\n', out);
    for (size_t i = 0; i < NLOSS; i++) {
        fprintf(out, "  %7.1f %% ", LOSSES[i] * 100);
        for (size_t j = 0; j < NRTT; j++) {
            double g;
            uint64_t rx, dr;
            if (bulk_run(cc, sack, RTTS_MS[j], LOSSES[i], &g, &rx, &dr, -1))
                fprintf(out, "  %9.3f", g);
            else
                fprintf(out, "  <%8.3f", g); /* not done in an hour */
        }
        fputc('\n', out);
        fflush(out);
    }
}

void table_print(FILE *out)
{
    fprintf(out, "Goodput in Mbit/s (virtual time) of one 8 MiB transfer, from "
                 "connect to\nthe last byte read, through a 100 Mbit/s "
                 "bottleneck with a FIFO of one BDP\n(at least 64 KiB), random "
                 "loss in both directions, base RTT as given;\nsndbuf = rcvbuf "
                 "= 4 MiB, window scaling and timestamps on. \"<x\": not done\n"
                 "after an hour of virtual time.\n");
    table_one(out, "CUBIC + SACK", BERTH_CC_CUBIC, true);
    table_one(out, "NewReno, no SACK", BERTH_CC_NEWRENO, false);
}

int table_cell(int cc, bool sack, unsigned rtt_ms, double loss,
               double max_rexmit, uint64_t max_drops, int verbose)
{
    double g;
    uint64_t rexmit = 0, dropped = 0;
    bool done =
        bulk_run(cc, sack, rtt_ms, loss, &g, &rexmit, &dropped, verbose);
    printf("%s%s, RTT %u ms, loss %.1f %%: %s%.3f Mbit/s\n",
           cc == BERTH_CC_CUBIC ? "CUBIC" : "NewReno", sack ? " + SACK" : "",
           rtt_ms, loss * 100, done ? "" : "not done, ", g);
    if (max_drops > 0) {
        bool ok = done && dropped <= max_drops;
        printf("%s: %llu packets dropped A->B (at most %llu allowed)\n",
               ok ? "ok" : "FAIL", (unsigned long long)dropped,
               (unsigned long long)max_drops);
        if (!ok)
            return 1;
    }
    if (max_rexmit <= 0)
        return 0;
    /* Deterministic (virtual time): how much was sent twice per packet the
     * link dropped. SACK recovery should resend little more than the
     * holes; go-back-N after a timeout, or a receiver that forgot what it
     * held, resends far more. */
    double ratio = dropped ? (double)rexmit / (double)dropped : 0;
    bool ok = done && (double)rexmit <= max_rexmit * (double)dropped + 8;
    printf("%s: %llu segments retransmitted for %llu packets dropped A->B "
           "(%.2f each; at most %.2f allowed)\n",
           ok ? "ok" : "FAIL", (unsigned long long)rexmit,
           (unsigned long long)dropped, ratio, max_rexmit);
    return ok ? 0 : 1;
}
