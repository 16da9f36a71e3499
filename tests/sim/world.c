/* One run: the two stacks and the link a seed configures, the hooks that
 * watch them (readiness events feed the applications' work list; the
 * trace and the tap feed the invariants), and the driver that moves
 * virtual time from one thing to do to the next, bounded in steps and in
 * time. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define LOOP_LIMIT   20000000u            /* driver iterations per run */
#define WORK_LIMIT   1000000u             /* work items at one instant */
#define DRAIN_TIME   (2 * 3600 * SIM_SEC) /* after the apps: timers end */
#define PCAP_SNAPLEN 65535u

/* ---------------------------------------------------------------------- */
/* Reporting. */

void world_log(struct world *w, int side, const char *fmt, ...)
{
    if (!w->verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("%11.6f %c ", (double)w->now / 1e6, side < 0 ? ' ' : 'A' + side);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
}

const char *invariant_tag(enum invariant i)
{
    static const char *const tags[INV__COUNT] = {
#define INV_TAG(name, tag, what) tag,
        INVARIANT_MAP(INV_TAG)
#undef INV_TAG
    };
    return (unsigned)i < INV__COUNT ? tags[i] : "?";
}

void world_fail(struct world *w, enum invariant inv, const char *fmt, ...)
{
    va_list ap;
    if (w->ignore & (1u << inv)) {
        w->ignored[inv]++;
        return;
    }
    if (w->nfails < MAX_FAILS) {
        char *m = w->fails[w->nfails];
        int n = snprintf(m, sizeof(w->fails[0]), "[%s] t=%.6f ",
                         invariant_tag(inv), (double)w->now / 1e6);
        va_start(ap, fmt);
        vsnprintf(m + n, sizeof(w->fails[0]) - (size_t)n, fmt, ap);
        va_end(ap);
        if (w->verbose)
            printf("%11.6f   FAIL %s\n", (double)w->now / 1e6, m + n);
    }
    w->nfails++;
}

/* ---------------------------------------------------------------------- */
/* Sockets, connections and the work list. */

void world_map_sock(struct world *w, int side, int h, int kind, int idx)
{
    struct sockref *r = &w->sockmap[side][(unsigned)h % SOCKMAP_SIZE];
    *r = (struct sockref){h, kind, idx};
}

void world_unmap_sock(struct world *w, int side, int h)
{
    struct sockref *r = &w->sockmap[side][(unsigned)h % SOCKMAP_SIZE];
    if (r->handle == h)
        r->kind = 0;
}

/* Handles are (generation << 21 | index) with index < max_sockets =
 * SOCKMAP_SIZE, so the low bits are the slot and the full handle tells a
 * stale one. */
static const struct sockref *sockref_of(const struct world *w, int side, int h)
{
    const struct sockref *r =
        &w->sockmap[side][((unsigned)h & ((1u << 21) - 1)) % SOCKMAP_SIZE];
    return r->kind && r->handle == h ? r : NULL;
}

struct conn *world_find_conn(struct world *w, int side, uint16_t lport,
                             uint16_t rport)
{
    struct conn *k = w->connecting;
    if (k && k->port[side] == 0 && k->port[1 - side] == rport &&
        k->e[side].st == END_CONNECTING) {
        k->port[side] = lport; /* its SYN is leaving: now we know */
        return k;
    }
    /* A 4-tuple may be reused: the newest connection that is alive on
     * this side owns what this side does (an older one may linger in
     * TIME-WAIT there), else the newest. */
    struct conn *best = NULL;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (!c->opened || c->port[side] != lport || c->port[1 - side] != rport)
            continue;
        if (!best || (c->alive[side] && !best->alive[side]) ||
            (c->alive[side] == best->alive[side] &&
             c->open_seq > best->open_seq))
            best = c;
    }
    return best;
}

void world_push(struct world *w, int side, int kind, int idx)
{
    bool *dirty = kind == 1   ? &w->conns[idx].e[side].dirty
                  : kind == 3 ? &w->udp.dirty[side]
                              : &w->lsn[idx].dirty;
    if (*dirty)
        return;
    if (w->nwork == w->work_cap) {
        size_t cap = w->work_cap ? w->work_cap * 2 : 256;
        struct work *n = realloc(w->work, cap * sizeof(*n));
        if (!n) {
            world_fail(w, INV_DRIVER, "out of memory for the work list");
            return;
        }
        w->work = n;
        w->work_cap = cap;
    }
    *dirty = true;
    w->work[w->nwork++] = (struct work){side, kind, idx};
}

/* The application calls that follow happen at `now`: the stack must know
 * (its timers up to now run first, as in a real event loop). */
void world_sync(struct world *w, int side)
{
    berth_advance(w->st[side], w->now);
}

static void drain_work(struct world *w)
{
    size_t i;
    for (i = 0; i < w->nwork && i < WORK_LIMIT; i++) {
        struct work k = w->work[i]; /* the list may grow and move */
        if (k.kind == 1) {
            struct conn *c = &w->conns[k.idx];
            c->e[k.side].dirty = false;
            app_end_kick(w, c, k.side);
        } else if (k.kind == 3) {
            w->udp.dirty[k.side] = false;
            sim_udp_kick(w, k.side);
        } else {
            w->lsn[k.idx].dirty = false;
            app_listener_kick(w, &w->lsn[k.idx]);
        }
    }
    if (i < w->nwork) {
        world_fail(w, INV_DRIVER,
                   "work at one instant does not settle (livelock)");
        for (; i < w->nwork; i++) {
            struct work k = w->work[i];
            if (k.kind == 1)
                w->conns[k.idx].e[k.side].dirty = false;
            else if (k.kind == 2)
                w->lsn[k.idx].dirty = false;
            else
                w->udp.dirty[k.side] = false;
        }
    }
    w->nwork = 0;
    events_check_states(w);
}

static bool has_work(void *ctx)
{
    return ((const struct world *)ctx)->nwork > 0;
}

/* ---------------------------------------------------------------------- */
/* Hooks. */

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct side_ctx *h = ctx;
    (void)events; /* the application polls what it needs */
    const struct sockref *r = sockref_of(h->w, h->side, sock);
    if (r)
        world_push(h->w, h->side, r->kind, r->idx);
}

/* ISNs from the seed, a fifth of them just below 2^32 so that sequence
 * numbers wrap early in the connection. A pure function of the 4-tuple and
 * the time, like RFC 6528's. */
static uint32_t on_isn(void *ctx, struct berth_endpoint local,
                       struct berth_endpoint remote, uint64_t now)
{
    struct side_ctx *h = ctx;
    uint64_t x = h->w->isn_dice ^ ((uint64_t)local.port << 16) ^
                 ((uint64_t)remote.port << 32) ^ ((uint64_t)h->side << 63);
    x = rnd_next(&x) ^ now;
    x = rnd_next(&x);
    if (x % 5 == 0)
        return 0xffffffffu - (uint32_t)((x >> 8) % 200000u);
    return (uint32_t)(x >> 16);
}

static bool reason_is_timeout(enum berth_reason r)
{
    return r == BERTH_REASON_RETRANSMIT_LIMIT ||
           r == BERTH_REASON_SYN_RETRIES || r == BERTH_REASON_USER_TIMEOUT ||
           r == BERTH_REASON_KEEPALIVE_TIMEOUT ||
           r == BERTH_REASON_SYNACK_RETRIES;
}

static const char *state_abbrev(enum berth_state st)
{
    static const char *const names[BERTH_STATE__COUNT] = {
        "CL", "LI", "SS", "SR", "ES", "FW1", "FW2", "CW", "CG", "LA", "TW"};
    return (unsigned)st < BERTH_STATE__COUNT ? names[st] : "?";
}

static bool is_listener_port(const struct world *w, int side, uint16_t port)
{
    for (int i = 0; i < w->nlsn; i++)
        if (w->lsn[i].side == side && w->lsn[i].port == port)
            return true;
    return false;
}

static void trace_state(struct world *w, int side, struct conn *c,
                        const struct berth_trace *ev)
{
    enum berth_state st = ev->new_state;
    if (c) {
        size_t n = strlen(c->path[side]);
        if (n + 5 < sizeof(c->path[side]))
            snprintf(c->path[side] + n, sizeof(c->path[side]) - n, "%s%s",
                     n ? " " : "", state_abbrev(st));
        c->state[side] = st;
        c->established[side] |= st == BERTH_STATE_ESTABLISHED;
    }
    if ((unsigned)ev->old_state < BERTH_STATE__COUNT &&
        (unsigned)st < BERTH_STATE__COUNT)
        w->trans[ev->old_state][st]++;
    world_log(w, side, "conn %d: %s -> %s (%s)", c ? c->id : -1,
              berth_state_name(ev->old_state), berth_state_name(st),
              berth_reason_name(ev->reason));
    if (ev->old_state == BERTH_STATE_SYN_RECEIVED &&
        st == BERTH_STATE_ESTABLISHED &&
        is_listener_port(w, side, ev->local.port))
        w->passive_traced[side]++;
    if (st == BERTH_STATE_TIME_WAIT)
        w->tw_traced[side]++;
    if (!c)
        return;
    c->gone[side] = st == BERTH_STATE_CLOSED || st == BERTH_STATE_LISTEN;
    c->alive[side] = !c->gone[side];
    if (!c->gone[side])
        return;
    c->gone_why[side] = ev->reason;
    if (reason_is_timeout(ev->reason)) {
        check_timeout_licensed(w, c, side, ev->old_state, ev->reason);
        c->timed_out[side] = true;
        c->forgot[side] = true;
    }
    if (ev->reason == BERTH_REASON_FIN_WAIT_2_TIMEOUT ||
        ev->reason == BERTH_REASON_TIME_WAIT_EXPIRED)
        c->forgot[side] = true;
}

/* Drops by the listener are losses as far as the peer's retries go. */
/* Segments a side's listener dropped as a policy count as losses. A
 * segment failing the cookie check whose ACK carries a current cookie tag
 * is dropped without a RST (tcp_listen.c listen_cookie_ack: it may be a
 * reordered cookie connection's text); a dead cookie connection's peer
 * (the server aborted it and the RST was lost, or overtaken) resends into
 * that silence until its retries or user timeout end it. When the drop is
 * answered with a RST, that RST ends the peer before any timeout. */
/* Likewise an answer a side's rate limiter suppressed (RFC 5961 §10, as
 * Linux's tcp_oow_rate_limited: a keepalive probe, which carries no text,
 * is answered at most once per interval), and a SYN-SENT side's drop of
 * the answer an old incarnation's TIME-WAIT gave its SYN (that attempt
 * got nowhere). */
static bool reason_is_listener_drop(enum berth_reason r)
{
    return r == BERTH_REASON_ACCEPT_QUEUE_FULL ||
           r == BERTH_REASON_SYN_QUEUE_FULL ||
           r == BERTH_REASON_TIME_WAIT_SYN_OLD ||
           r == BERTH_REASON_SYNCOOKIE_INVALID ||
           r == BERTH_REASON_OOW_ACK_LIMITED ||
           r == BERTH_REASON_SYN_SENT_BAD_ACK;
}

static struct conn *newest_conn(struct world *w, int side, uint16_t lport,
                                uint16_t rport)
{
    struct conn *best = NULL;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->opened && c->port[side] == lport && c->port[1 - side] == rport &&
            (!best || c->open_seq > best->open_seq))
            best = c;
    }
    return best;
}

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct side_ctx *h = ctx;
    struct world *w = h->w;
    struct conn *c =
        world_find_conn(w, h->side, ev->local.port, ev->remote.port);
    /* A SYN refused by an old incarnation's TIME-WAIT is the new one's. */
    if (c && ev->kind == BERTH_TRACE_DROP &&
        ev->reason == BERTH_REASON_TIME_WAIT_SYN_OLD)
        c = newest_conn(w, h->side, ev->local.port, ev->remote.port);
    /* Inside a driver run: the driver rewrites w->now when it returns. */
    if (ev->now > w->now)
        w->now = ev->now;
    if (ev->kind == BERTH_TRACE_STATE) {
        trace_state(w, h->side, c, ev);
        return;
    }
    w->drops_by_reason[h->side][ev->reason]++;
    if (c)
        check_dropped_ack(w, c, h->side, ev->reason);
    if (w->verbose)
        world_log(w, h->side, "conn %d: drop %s", c ? c->id : -1,
                  berth_reason_name(ev->reason));
    if (c && ev->reason == BERTH_REASON_SYNCOOKIE_INVALID)
        c->cookie_failed[h->side] = true;
    if (c && reason_is_listener_drop(ev->reason)) {
        c->last_drop_at = ev->now;
        for (int s = 0; s < 2; s++) {
            c->drops_since_ack[s]++;
            c->drops_since_heard[s]++;
        }
    }
}

static void pcap_record(FILE *f, uint64_t now, const uint8_t *pkt, size_t len)
{
    uint32_t n = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (uint32_t)len;
    uint32_t hdr[4] = {(uint32_t)(now / SIM_SEC), (uint32_t)(now % SIM_SEC), n,
                       (uint32_t)len};
    fwrite(hdr, sizeof(hdr), 1, f);
    fwrite(pkt, 1, n, f);
}

static void tap_log(struct world *w, int from, const struct berth_segment *g,
                    unsigned fate)
{
    char fl[32];
    berth_flags_string(g->flags, fl, sizeof(fl));
    world_log(w, from, "  %u>%u %s seq %u ack %u win %u len %u%s%s%s%s%s",
              g->src.port, g->dst.port, fl, g->seq, g->ack, g->win, g->len,
              fate & BERTH_MEMLINK_FATE_DROPPED ? " LOST" : "",
              fate & BERTH_MEMLINK_FATE_QUEUE_FULL ? " QUEUE-DROP" : "",
              fate & BERTH_MEMLINK_FATE_DUPLICATED ? " DUP" : "",
              fate & BERTH_MEMLINK_FATE_DELAYED ? " LATE" : "",
              fate & BERTH_MEMLINK_FATE_CORRUPTED ? " CORRUPT" : "");
}

static void count_loss(struct conn *c, uint64_t now)
{
    c->drops++;
    c->last_drop_at = now;
    for (int s = 0; s < 2; s++) {
        c->drops_since_ack[s]++;
        c->drops_since_heard[s]++;
    }
}

/* A packet leaves: the checks of what a side sends, and the losses the
 * link decides at once (a loss counts against both sides' retry budgets:
 * a lost ACK stalls the sender as much as lost data). */
static void on_tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                   size_t len, unsigned fate)
{
    struct world *w = ctx;
    struct berth_segment g;
    if (now > w->now)
        w->now = now; /* as in on_trace */
    if (w->pcap)
        pcap_record(w->pcap, now, pkt, len);
    events_on_tap(w, from, pkt, len);
    if (berth_decode(pkt, len, &g) != 0)
        return;
    if (w->verbose >= 2)
        tap_log(w, from, &g, fate);
    if (g.flags & BERTH_TH_RST)
        w->rst_seen[from]++;
    struct conn *c = world_find_conn(w, from, g.src.port, g.dst.port);
    if (!c)
        return;
    if (g.flags & BERTH_TH_RST) {
        c->rsts[from]++;
        check_rst_sent(w, c, from);
    }
    check_wire(w, c, from, &g, pkt, len);
    check_window(w, c, from, &g);
    uint32_t end =
        g.seq + g.len + !!(g.flags & BERTH_TH_SYN) + !!(g.flags & BERTH_TH_FIN);
    if (!(g.flags & BERTH_TH_RST) &&
        (!c->has_end[from] || (int32_t)(end - c->max_end[from]) > 0)) {
        c->has_end[from] = true;
        c->max_end[from] = end;
    }
    if ((g.flags & BERTH_TH_ACK) && g.win == 0 && !(g.flags & BERTH_TH_RST))
        c->zero_window_at[from] = now;
    /* A corrupted copy is a loss too (its bit may hide which connection
     * it was, so it is charged here; with a duplicate, maybe twice). */
    if (fate & (BERTH_MEMLINK_FATE_LOST | BERTH_MEMLINK_FATE_CORRUPTED))
        count_loss(c, now);
}

/* A copy arrives intact: news from the peer, and an ACK above the highest
 * so far is progress, for the side it reaches. Only a packet that reaches its
 * sender's highest sequence number counts: older ones (retransmissions,
 * keepalive probes at SND.NXT-1) may be dropped by the receiver as out of
 * window. In SYN-SENT only a SYN moves things on (RFC 9293 §3.10.7.3 fifth). */
static void on_rx(void *ctx, int to, uint64_t now, const uint8_t *pkt,
                  size_t len, bool corrupted)
{
    struct world *w = ctx;
    struct berth_segment g;
    int from = 1 - to;
    (void)now;
    events_on_rx(w, to, pkt, len, corrupted);
    w->rx_conn = NULL;
    if (sim_udp_rx(w, to, pkt, len, corrupted))
        return;
    if (corrupted || berth_decode(pkt, len, &g) != 0)
        return; /* charged as a loss when it was sent */
    struct conn *c = world_find_conn(w, from, g.src.port, g.dst.port);
    if (!c)
        return;
    w->rx_seg = g;
    w->rx_conn = c;
    w->rx_current = (int32_t)(g.seq + g.len - c->max_end[from]) == 0;
    uint32_t end =
        g.seq + g.len + !!(g.flags & BERTH_TH_SYN) + !!(g.flags & BERTH_TH_FIN);
    if ((g.flags & BERTH_TH_RST) || (int32_t)(end - c->max_end[from]) < 0 ||
        (c->state[to] == BERTH_STATE_SYN_SENT && !(g.flags & BERTH_TH_SYN)))
        return;
    c->drops_since_heard[to] = 0;
    if ((g.flags & BERTH_TH_ACK) &&
        (!c->has_ack[to] || (int32_t)(g.ack - c->max_ack[to]) > 0)) {
        c->has_ack[to] = true;
        c->max_ack[to] = g.ack;
        c->drops_since_ack[to] = 0;
    }
}

/* ---------------------------------------------------------------------- */
/* Setting up and tearing down. */

static int world_stacks(struct world *w)
{
    for (int side = 0; side < 2; side++) {
        struct berth_config *cfg = &w->cfg[side];
        w->hk[side] = (struct side_ctx){w, side};
        cfg->tx = berth_memlink_tx;
        cfg->tx_ctx = berth_memlink_tx_ctx(w->link, side);
        cfg->event = on_event;
        cfg->event_ctx = &w->hk[side];
        cfg->trace = on_trace;
        cfg->trace_ctx = &w->hk[side];
        cfg->isn = on_isn;
        cfg->isn_ctx = &w->hk[side];
        cfg->log = events_on_log;
        cfg->log_ctx = &w->hk[side];
        w->st[side] = berth_stack_create(cfg, 0);
        if (!w->st[side])
            return -1;
        berth_memlink_attach(w->link, side, w->st[side]);
        if (berth_mem_allocs(w->st[side]) != 0)
            world_fail(w, INV_LEAK, "a fresh stack holds %zu allocations",
                       berth_mem_allocs(w->st[side]));
    }
    return 0;
}

int world_init(struct world *w, uint64_t seed, bool full, int verbose,
               FILE *pcap, unsigned ignore)
{
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    sim_udp_plan(w);
    w->ignore = ignore;
    w->full = full;
    w->verbose = verbose;
    w->pcap = pcap;
    plan_world(w);
    w->link = berth_memlink_create(seed * 0x9e3779b97f4a7c15ull + 7);
    if (!w->link)
        return -1;
    for (int from = 0; from < 2; from++) {
        berth_memlink_set_impair(w->link, from, &w->imp[from]);
        for (int i = 0; i < w->noutages[from]; i++)
            berth_memlink_add_outage(w->link, from, w->outage[from][i][0],
                                     w->outage[from][i][1]);
    }
    berth_memlink_set_tap(w->link, on_tap, w);
    berth_memlink_set_rx_tap(w->link, on_rx, w);
    return world_stacks(w);
}

void world_free(struct world *w)
{
    for (int side = 0; side < 2; side++)
        if (w->st[side])
            berth_stack_destroy(w->st[side]);
    berth_memlink_destroy(w->link);
    free(w->work);
    w->work = NULL;
}

/* ---------------------------------------------------------------------- */
/* The driver. */

/* The applications' deadline: whatever has not ended is given up on, and
 * check.c decides whether it had the right not to end. */
static void give_up_all(struct world *w)
{
    w->giving_up = true;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        for (int s = 0; s < 2; s++) {
            if (c->opened)
                app_give_up(w, c, s);
            c->e[s].st = END_DONE;
        }
        c->opened = true;
    }
}

static void world_finish(struct world *w)
{
    w->apps_done_at = w->now;
    sim_udp_close(w);
    app_close_listeners(w);
    drain_work(w);
    /* Everything is closed: the stacks' own timers (retransmitted FINs,
     * FIN-WAIT-2, TIME-WAIT) must run out by themselves. */
    if (berth_memlink_run(w->link, &w->now, w->now + DRAIN_TIME) != 0)
        world_fail(w, INV_DRIVER,
                   "the stacks keep working after every socket closed "
                   "(livelock)");
    drain_work(w);
    events_check_final(w);
    sim_udp_check(w);
    check_world_final(w);
}

void world_run(struct world *w)
{
    app_open_listeners(w);
    for (uint64_t guard = 0;; guard++) {
        app_run_timers(w);
        sim_udp_run(w);
        drain_work(w);
        if (app_all_done(w) && sim_udp_next(w) == UINT64_MAX)
            break;
        if (guard >= LOOP_LIMIT || w->now >= w->giveup_at) {
            if (guard >= LOOP_LIMIT)
                world_fail(w, INV_DRIVER, "driver loop limit reached");
            give_up_all(w);
            continue;
        }
        uint64_t next = app_next_timer(w);
        if (sim_udp_next(w) < next)
            next = sim_udp_next(w);
        if (next > w->giveup_at)
            next = w->giveup_at;
        int r = berth_memlink_run_until(w->link, &w->now, next, has_work, w);
        if (r == BERTH_MEMLINK_ESTEPS) {
            world_fail(w, INV_DRIVER, "link step limit reached (livelock)");
            give_up_all(w);
        }
    }
    world_finish(w);
}
