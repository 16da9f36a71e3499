/* What a seed makes of a run: the two stacks' configurations, the link's
 * impairments in each direction, the listeners, and every connection with
 * what each of its ends sends, how it reads and how it finishes. Drawn
 * once, before anything runs, from a stream of its own. */
#include <math.h>
#include <string.h>

#include "sim.h"

uint64_t rnd_log(uint64_t *d, uint64_t lo, uint64_t hi)
{
    if (hi <= lo || lo == 0)
        return rnd_range(d, lo, hi);
    double v = (double)lo * pow((double)hi / (double)lo, rnd_unit(d));
    return v >= (double)hi ? hi : (uint64_t)v;
}

static uint64_t pick(uint64_t *d, const uint64_t *set, size_t n)
{
    return set[rnd_next(d) % n];
}
#define PICK(d, ...)                                                           \
    pick((d), (const uint64_t[]){__VA_ARGS__},                                 \
         sizeof((const uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t))

const char *close_style_name(enum close_style c)
{
    static const char *const names[CLOSE__COUNT] = {
        "shutdown", "close-after-eof", "close-when-read", "simultaneous",
        "abort",    "linger0",         "close-unread",    "close-in-syn-sent",
    };
    return (unsigned)c < CLOSE__COUNT ? names[c] : "?";
}

/* ---------------------------------------------------------------------- */
/* Stacks. */

/* Random but sane settings, so that negotiation paths (window scaling,
 * timestamps, SACK on one side only) and timers run at many speeds. With
 * outages planned, the retry budget is sometimes cut so that an outage can
 * outlast it and the timeout paths run too. */
static void plan_config(struct world *w, int side, uint64_t *d, bool outages)
{
    struct berth_config *cfg = &w->cfg[side];
    berth_config_init(cfg);
    cfg->addr = SIM_ADDR(side);
    cfg->seed = rnd_next(d);
    for (size_t i = 0; i < sizeof(cfg->secret); i++)
        cfg->secret[i] = (uint8_t)rnd_next(d);
    cfg->max_sockets = SOCKMAP_SIZE;
    cfg->window_scaling = rnd_pct(d, 70);
    cfg->timestamps = rnd_pct(d, 70);
    cfg->sack = rnd_pct(d, 70);
    cfg->congestion = rnd_pct(d, 50) ? BERTH_CC_NEWRENO : BERTH_CC_CUBIC;
    cfg->initial_cwnd = (uint8_t)PICK(d, 1, 2, 4, 10, 10, 16);
    cfg->quickack = (uint8_t)PICK(d, 0, 2, 16);
    cfg->mss = (uint16_t)PICK(d, 536, 1200, 1460, 1460, 1460);
    /* Buffers are allocated (and zeroed) whole: quick worlds keep them
     * small enough for ASan, still past 64 KiB so that windows scale. */
    uint64_t big = w->full ? SIM_MIB : 256 * SIM_KIB;
    cfg->sndbuf = (uint32_t)PICK(d, 8 * SIM_KIB, 32 * SIM_KIB, 64 * SIM_KIB,
                                 128 * SIM_KIB, big);
    cfg->rcvbuf =
        (uint32_t)PICK(d, 4 * SIM_KIB, 16 * SIM_KIB, 65535, 128 * SIM_KIB, big);
    cfg->delack = PICK(d, 40 * SIM_MS, 40 * SIM_MS, 1 * SIM_MS, 100 * SIM_MS,
                       200 * SIM_MS);
    /* Short MSL and FIN-WAIT-2 timeout keep runs short in virtual time. */
    cfg->msl = rnd_range(d, 1 * SIM_SEC, 5 * SIM_SEC);
    cfg->fin_wait_2_timeout = rnd_range(d, 3 * SIM_SEC, 20 * SIM_SEC);
    cfg->syn_retries = (uint8_t)rnd_range(d, 4, 6);
    cfg->synack_retries = (uint8_t)rnd_range(d, 3, 5);
    if (outages && rnd_pct(d, 50)) {
        cfg->max_retries = (uint8_t)rnd_range(d, 4, 8);
        cfg->rto_max = rnd_range(d, 2 * SIM_SEC, 30 * SIM_SEC);
    }
    if (rnd_pct(d, 20))
        cfg->syn_backlog = (uint16_t)rnd_range(d, 1, 4);
    if (rnd_pct(d, 20)) /* RFC 5961 §7: the limiter's other path */
        cfg->challenge_ack_limit = (uint32_t)rnd_range(d, 1, 20);
    if (rnd_pct(d, 20)) /* quick and slow retransmission timers */
        cfg->rto_min = rnd_log(d, 20 * SIM_MS, 1 * SIM_SEC);
}

/* ---------------------------------------------------------------------- */
/* The link. */

enum {
    F_JITTER = 1u << 0,
    F_LOSS = 1u << 1,
    F_BURST = 1u << 2,
    F_DUP = 1u << 3,
    F_REORDER = 1u << 4,
    F_CORRUPT = 1u << 5,
    F_RATE = 1u << 6,
    F_OUTAGE = 1u << 7,
};

static unsigned plan_features(uint64_t *d)
{
    if (rnd_pct(d, 10))
        return 0; /* a clean link finds the plain bugs fastest */
    unsigned f = 0;
    for (unsigned bit = 0; bit < 8; bit++)
        if (rnd_pct(d, bit == 7 ? 15 : 35))
            f |= 1u << bit;
    return f;
}

static void plan_impair(struct world *w, int from, uint64_t *d, unsigned f)
{
    struct berth_memlink_impair *imp = &w->imp[from];
    berth_memlink_impair_init(imp);
    imp->delay = rnd_log(d, 100, (w->full ? 100 : 50) * SIM_MS);
    if (f & F_JITTER)
        imp->jitter = rnd_range(d, 0, imp->delay / 2 + 500);
    if (f & F_LOSS)
        imp->loss = rnd_unit(d) * (w->full ? 0.10 : 0.05);
    if (f & F_BURST) {
        imp->ge_good_to_bad = 0.002 + rnd_unit(d) * 0.05;
        imp->ge_bad_to_good = 0.2 + rnd_unit(d) * 0.6;
        imp->ge_loss_bad = 0.3 + rnd_unit(d) * 0.7;
        imp->ge_loss_good = rnd_pct(d, 50) ? 0 : rnd_unit(d) * 0.01;
    }
    if (f & F_DUP)
        imp->duplicate = rnd_unit(d) * 0.05;
    if (f & F_REORDER) {
        imp->reorder = rnd_unit(d) * 0.10;
        imp->reorder_delay = rnd_log(d, 500, 20 * SIM_MS);
    }
    if (f & F_CORRUPT)
        imp->corrupt = rnd_unit(d) * 0.05;
    if (f & F_RATE) {
        imp->rate = rnd_log(d, 125000, 12500000); /* 1 to 100 Mbit/s */
        /* At most about a second of queueing: more would make RTTs of
         * seconds, which user timeouts of 10 s do not survive by design. */
        uint64_t sec_pkts = imp->rate / 1500 > 4 ? imp->rate / 1500 : 4;
        if (rnd_pct(d, 50))
            imp->queue_packets =
                (uint32_t)rnd_log(d, 4, sec_pkts < 256 ? sec_pkts : 256);
        else
            imp->queue_bytes = rnd_log(d, 8 * SIM_KIB,
                                       imp->rate < 8 * SIM_KIB ? 8 * SIM_KIB
                                       : imp->rate > SIM_MIB   ? SIM_MIB
                                                               : imp->rate);
    }
}

/* One or two outages of seconds, in one direction or both. */
static void plan_outages(struct world *w, uint64_t *d)
{
    int n = (int)rnd_range(d, 1, 2);
    for (int i = 0; i < n; i++) {
        uint64_t start = rnd_range(d, 500 * SIM_MS, 10 * SIM_SEC);
        uint64_t len = rnd_log(d, 1 * SIM_SEC, (w->full ? 20 : 8) * SIM_SEC);
        int dirs = (int)rnd_range(d, 0, 2); /* 0, 1: one way; 2: both */
        for (int from = 0; from < 2; from++) {
            if (dirs != 2 && dirs != from)
                continue;
            int k = w->noutages[from]++;
            w->outage[from][k][0] = start;
            w->outage[from][k][1] = start + len;
        }
    }
}

static void plan_link(struct world *w, uint64_t *d, unsigned f)
{
    plan_impair(w, 0, d, f);
    if (rnd_pct(d, 60)) {
        w->imp[1] = w->imp[0]; /* symmetric */
        w->imp[1].delay = w->imp[0].delay;
    } else {
        plan_impair(w, 1, d, rnd_pct(d, 50) ? f : plan_features(d));
    }
    if (f & F_OUTAGE)
        plan_outages(w, d);
}

/* ---------------------------------------------------------------------- */
/* Applications. */

static void plan_opts(uint64_t *d, struct sock_opts *o, bool buffers, bool full)
{
    uint64_t big = full ? 2 * SIM_MIB : 256 * SIM_KIB;
    memset(o, 0, sizeof(*o));
    o->cc = -1;
    o->nodelay = rnd_pct(d, 30);
    if (rnd_pct(d, 50))
        o->cc = rnd_pct(d, 50) ? BERTH_CC_NEWRENO : BERTH_CC_CUBIC;
    if (buffers && rnd_pct(d, 30))
        o->sndbuf = (uint32_t)rnd_log(d, 2 * SIM_KIB, big);
    if (buffers && rnd_pct(d, 30))
        o->rcvbuf = (uint32_t)rnd_log(d, 2 * SIM_KIB, big);
    if (buffers && rnd_pct(d, 10))
        o->maxseg = (uint32_t)rnd_range(d, 200, 1460);
    if (rnd_pct(d, 15)) {
        o->keepidle = rnd_range(d, 1 * SIM_SEC, 10 * SIM_SEC);
        o->keepintvl = rnd_range(d, 500 * SIM_MS, 3 * SIM_SEC);
        o->keepcnt = (uint32_t)rnd_range(d, 2, 6);
    }
    if (rnd_pct(d, 10))
        o->user_timeout = rnd_range(d, 10 * SIM_SEC, 60 * SIM_SEC);
}

/* Mostly small, sometimes bulk: most bugs need few bytes, some need
 * windows to fill, wrap or scale. */
static uint64_t plan_bytes(struct world *w, uint64_t *d)
{
    unsigned r = (unsigned)rnd_range(d, 0, 99);
    if (r < 15)
        return 0;
    if (r < 50)
        return rnd_range(d, 1, 2000);
    if (r < 80)
        return rnd_log(d, 2000, 64 * SIM_KIB);
    if (r < 95)
        return rnd_log(d, 64 * SIM_KIB, w->full ? SIM_MIB : 256 * SIM_KIB);
    return rnd_log(d, w->full ? SIM_MIB : 256 * SIM_KIB,
                   w->full ? 4 * SIM_MIB : 512 * SIM_KIB);
}

static enum close_style plan_close(uint64_t *d, bool initiator)
{
    unsigned r = (unsigned)rnd_range(d, 0, 99);
    if (initiator && r < 3)
        return CLOSE_IN_HANDSHAKE;
    if (r < 7)
        return CLOSE_ABORT;
    if (r < 10)
        return CLOSE_LINGER0;
    if (r < 13)
        return CLOSE_UNREAD;
    if (r < 45)
        return CLOSE_SHUTDOWN;
    if (r < 75)
        return CLOSE_AFTER_EOF;
    return CLOSE_WHEN_READ;
}

static void plan_end(struct world *w, struct end *e, int side, uint64_t *d,
                     bool initiator)
{
    struct end_plan *p = &e->p;
    memset(e, 0, sizeof(*e));
    e->side = side;
    e->sock = -1;
    p->total = plan_bytes(w, d);
    p->max_send = (uint32_t)rnd_log(d, 1, 64 * SIM_KIB);
    p->max_recv = (uint32_t)rnd_log(d, 1, 64 * SIM_KIB);
    /* Tiny writes of a big stream cost a packet each (NODELAY): bound the
     * number of writes, which bounds a run's packets and its time. */
    uint64_t writes = w->full ? 20000 : 2000;
    if (p->max_send < p->total / writes)
        p->max_send = (uint32_t)(p->total / writes);
    if (rnd_pct(d, 50)) {
        p->send_pause_pct = (unsigned)rnd_range(d, 1, 30);
        p->send_pause_max = rnd_log(d, 1 * SIM_MS, 2 * SIM_SEC);
    }
    if (rnd_pct(d, 40)) {
        p->read_stall_pct = (unsigned)rnd_range(d, 1, 20);
        p->read_stall_max = rnd_log(d, 1 * SIM_MS, 3 * SIM_SEC);
    }
    p->close = plan_close(d, initiator);
    p->abort_after = rnd_log(d, 1 * SIM_MS, 5 * SIM_SEC);
    p->close_delay = rnd_pct(d, 50) ? 0 : rnd_log(d, 1 * SIM_MS, 2 * SIM_SEC);
    plan_opts(d, &p->opts, initiator, w->full);
    p->seed = rnd_next(d);
    p->dice = rnd_next(d);
}

static void plan_listeners(struct world *w, uint64_t *d)
{
    w->nlsn = (int)rnd_range(d, 1, w->full ? 4 : 3);
    for (int i = 0; i < w->nlsn; i++) {
        struct listener *l = &w->lsn[i];
        memset(l, 0, sizeof(*l));
        l->side = (int)rnd_range(d, 0, 1);
        l->sock = -1;
        l->port = (uint16_t)(1000 + i);
        l->backlog =
            rnd_pct(d, 50) ? (int)rnd_range(d, 1, 4) : (int)rnd_log(d, 8, 128);
        if (rnd_pct(d, 40))
            l->accept_delay_max = rnd_log(d, 1 * SIM_MS, 300 * SIM_MS);
        if (rnd_pct(d, 8))
            l->close_at =
                rnd_range(d, 100 * SIM_MS, (w->full ? 20 : 5) * SIM_SEC);
        plan_opts(d, &l->opts, true, w->full);
        l->dice = rnd_next(d);
    }
}

static void plan_conn(struct world *w, struct conn *c, uint64_t *d,
                      const struct conn *prev)
{
    unsigned r = (unsigned)rnd_range(d, 0, 99);
    c->kind = r < 8 ? CONN_SIMOPEN : r < 13 ? CONN_REFUSED : CONN_NORMAL;
    c->listener = (int)rnd_range(d, 0, (uint64_t)w->nlsn - 1);
    c->open_at = rnd_range(d, 0, (w->full ? 20 : 5) * SIM_SEC);
    c->reuse = -1;
    /* Bursts: several connections to one listener at one instant. */
    if (prev && prev->kind == CONN_NORMAL && c->kind == CONN_NORMAL &&
        rnd_pct(d, 30)) {
        c->listener = prev->listener;
        c->open_at = prev->open_at;
    }
    /* 4-tuple reuse: the same client port to the same listener as an
     * earlier connection, later (the other may still be in TIME-WAIT). */
    if (prev && c->kind == CONN_NORMAL && rnd_pct(d, 8)) {
        const struct conn *old =
            &w->conns[rnd_range(d, 0, (uint64_t)c->id - 1)];
        if (old->kind == CONN_NORMAL && old->reuse < 0) {
            c->reuse = old->id;
            c->listener = old->listener;
            c->open_at = old->open_at + rnd_range(d, 1, 20) * SIM_SEC;
        }
    }
    c->init_side = c->kind == CONN_NORMAL ? 1 - w->lsn[c->listener].side
                                          : (int)rnd_range(d, 0, 1);
    for (int s = 0; s < 2; s++)
        plan_end(w, &c->e[s], s, d,
                 c->kind == CONN_SIMOPEN || s == c->init_side);
    if (c->kind == CONN_SIMOPEN) {
        c->port[0] = (uint16_t)(20000 + c->id);
        c->port[1] = (uint16_t)(30000 + c->id);
        for (int s = 0; s < 2; s++)
            if (c->e[s].p.close == CLOSE_IN_HANDSHAKE)
                c->e[s].p.close = CLOSE_AFTER_EOF;
    }
    bool graceful = c->e[0].p.close <= CLOSE_WHEN_READ &&
                    c->e[1].p.close <= CLOSE_WHEN_READ;
    if (graceful && rnd_pct(d, 12))
        c->e[0].p.close = c->e[1].p.close = CLOSE_SIMULTANEOUS;
}

const uint8_t sim_addr6[2][16] = {
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 1},
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2},
};

/* IPv4, IPv6 or both (drawn last, so a seed's other draws are what they
 * were before IPv6). With IPv6 both stacks have an IPv6 address and the
 * listeners take both families (bound to ::, app.c); a connection's
 * family is the world's, or in a mixed world its own draw. */
static void plan_family(struct world *w, uint64_t *d)
{
    unsigned r = (unsigned)rnd_range(d, 0, 99);
    w->family = r < 40 ? FAMILY_IPV4 : r < 70 ? FAMILY_IPV6 : FAMILY_MIXED;
    if (w->family == FAMILY_IPV4)
        return;
    for (int side = 0; side < 2; side++)
        memcpy(w->cfg[side].addr6, sim_addr6[side], 16);
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        c->v6 = w->family == FAMILY_IPV6 || rnd_pct(d, 50);
        if (c->reuse >= 0) /* the same 4-tuple: the same family */
            c->v6 = w->conns[c->reuse].v6;
    }
}

/* Applications give up on what has not ended by then: far beyond what
 * any legitimate transfer needs, so that a stall is a finding. */
static void plan_deadline(struct world *w)
{
    uint64_t last_open = 0, bytes = 0;
    for (int i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        if (c->open_at > last_open)
            last_open = c->open_at;
        bytes += c->e[0].p.total + c->e[1].p.total;
    }
    w->giveup_at = last_open + 600 * SIM_SEC + bytes / (8 * SIM_KIB) * SIM_SEC;
}

/* The longest a packet can take one way: base delay, jitter, a reorder
 * hold-back, and a full bottleneck FIFO ahead of it. */
static uint64_t one_way_max(const struct berth_memlink_impair *m)
{
    uint64_t t = m->delay + m->jitter + (m->reorder > 0 ? m->reorder_delay : 0);
    if (m->rate) {
        uint64_t q =
            m->queue_bytes ? m->queue_bytes : (uint64_t)m->queue_packets * 1600;
        t += (q + 1600) * SIM_SEC / m->rate;
    }
    return t;
}

static void plan_rtt_bound(struct world *w)
{
    uint64_t delack = w->cfg[0].delack > w->cfg[1].delack ? w->cfg[0].delack
                                                          : w->cfg[1].delack;
    w->rtt_bound = one_way_max(&w->imp[0]) + one_way_max(&w->imp[1]) + delack;
}

void plan_world(struct world *w)
{
    uint64_t d = w->seed ^ 0x5851f42d4c957f2dull;
    unsigned f = plan_features(&d);
    for (int side = 0; side < 2; side++)
        plan_config(w, side, &d, (f & F_OUTAGE) != 0);
    plan_link(w, &d, f);
    plan_listeners(w, &d);
    w->nconns = (int)(w->full ? rnd_range(&d, 5, 50) : rnd_range(&d, 2, 12));
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        memset(c, 0, sizeof(*c));
        c->id = i;
        c->wscale[0] = c->wscale[1] = -2;
        plan_conn(w, c, &d, i ? &w->conns[i - 1] : NULL);
    }
    w->isn_dice = rnd_next(&d);
    plan_family(w, &d);
    plan_deadline(w);
    plan_rtt_bound(w);
}
