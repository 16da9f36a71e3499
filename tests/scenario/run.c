/* Runs a parsed script against one berth stack in virtual time: advances the
 * clock through every deadline up to each event, captures what the stack
 * transmits, injects the peer's segments and matches the expected ones. */
#include "scenario.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG 512

static void print_traces(struct scn_runner *r)
{
    unsigned n = r->ntraces < SCN_TRACE_RING ? r->ntraces : SCN_TRACE_RING;
    if (n == 0 || r->verbose)
        return;
    fprintf(stderr, "  recent trace events:\n");
    for (unsigned i = r->ntraces - n; i < r->ntraces; i++)
        fprintf(stderr, "    %s\n", r->traces[i % SCN_TRACE_RING]);
}

int scn_fail(struct scn_runner *r, const char *fmt, ...)
{
    va_list ap;
    if (r->ev)
        fprintf(stderr, "%s:%d: ", r->sc->file, r->ev->line);
    else
        fprintf(stderr, "%s: ", r->sc->file);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (r->ev)
        fprintf(stderr, "  at: %s\n", r->ev->text);
    print_traces(r);
    return -1;
}

struct scn_tuple *scn_tuple_find(struct scn_runner *r, uint16_t lport,
                                 uint32_t raddr, uint16_t rport, bool create)
{
    for (size_t i = 0; i < r->ntuples; i++) {
        struct scn_tuple *t = &r->tuples[i];
        if (t->lport == lport && t->raddr == raddr && t->rport == rport)
            return t;
    }
    if (!create || r->ntuples == SCN_MAX_TUPLES)
        return NULL;
    struct scn_tuple *t = &r->tuples[r->ntuples++];
    *t = (struct scn_tuple){.lport = lport, .raddr = raddr, .rport = rport};
    return t;
}

/* ---- hooks ------------------------------------------------------------ */

static void on_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct scn_runner *r = ctx;
    if (r->qhead == r->qlen) {
        r->qhead = r->qlen = 0; /* all matched: reuse the array */
    }
    if (r->qlen == r->qcap) {
        size_t cap = r->qcap ? r->qcap * 2 : 16;
        struct scn_pkt *q =
            cap > SCN_MAX_PENDING ? NULL : realloc(r->q, cap * sizeof(*q));
        if (!q) {
            r->q_overflow = true;
            return;
        }
        r->q = q;
        r->qcap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        r->q_overflow = true;
        return;
    }
    memcpy(copy, pkt, len);
    r->q[r->qlen++] = (struct scn_pkt){r->now, len, copy};
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct scn_runner *r = ctx;
    for (size_t i = 0; i < r->nevrecs; i++) {
        if (r->evrecs[i].sock == sock) {
            r->evrecs[i].mask |= events;
            return;
        }
    }
    if (r->nevrecs == SCN_MAX_EVRECS) {
        r->evrec_overflow = true;
        return;
    }
    r->evrecs[r->nevrecs++] = (struct scn_evrec){sock, events};
}

static void on_trace(void *ctx, const struct berth_trace *ev)
{
    struct scn_runner *r = ctx;
    char t[32], la[SCN_EPSTRLEN], ra[SCN_EPSTRLEN];
    char *line = r->traces[r->ntraces++ % SCN_TRACE_RING];
    scn_format_time(ev->now, t, sizeof(t));
    scn_format_ep(&ev->local, la, sizeof(la));
    scn_format_ep(&ev->remote, ra, sizeof(ra));
    if (ev->kind == BERTH_TRACE_STATE)
        snprintf(line, 192, "%s sock %d %s:%u-%s:%u %s -> %s (%s)", t, ev->sock,
                 la, ev->local.port, ra, ev->remote.port,
                 berth_state_name(ev->old_state),
                 berth_state_name(ev->new_state),
                 berth_reason_name(ev->reason));
    else
        snprintf(line, 192, "%s sock %d %s:%u-%s:%u drop %s", t, ev->sock, la,
                 ev->local.port, ra, ev->remote.port,
                 berth_reason_name(ev->reason));
    if (r->verbose)
        fprintf(stderr, "    trace %s\n", line);
}

static uint32_t on_isn(void *ctx, struct berth_endpoint local,
                       struct berth_endpoint remote, uint64_t now)
{
    const struct scn_runner *r = ctx;
    (void)local;
    (void)remote;
    (void)now;
    return r->sc->isn;
}

/* ---- time ------------------------------------------------------------- */

/* Runs every deadline up to t, then t itself. */
static int advance_to(struct scn_runner *r, uint64_t t)
{
    unsigned i = 0;
    for (;; i++) {
        uint64_t d = berth_next_deadline(r->s);
        if (d > t)
            break;
        if (i == SCN_MAX_ADVANCES) {
            char ts[32];
            scn_format_time(t, ts, sizeof(ts));
            return scn_fail(r, "timers did not settle before %s (%u advances)",
                            ts, i);
        }
        r->now = d > r->now ? d : r->now;
        berth_advance(r->s, r->now);
    }
    r->now = t;
    berth_advance(r->s, t);
    if (r->q_overflow)
        return scn_fail(r, "more than %u packets pending (or no memory)",
                        SCN_MAX_PENDING);
    if (r->evrec_overflow)
        return scn_fail(r, "events reported for too many sockets");
    return 0;
}

/* ---- outbound --------------------------------------------------------- */

static struct scn_opt *ts_opt(struct scn_seg *seg)
{
    for (int i = 0; i < seg->nopts; i++) {
        if (seg->opts[i].kind == SCN_OPT_TS)
            return &seg->opts[i];
    }
    return NULL;
}

/* A captured packet in script terms: our seq made relative to our ISS and
 * our TSval to our first TSval, when known. SACK blocks on what we send
 * are in the peer's sequence space: absolute. */
static void got_format(struct scn_runner *r, const struct scn_pkt *p,
                       struct scn_got *g, char *buf, size_t size)
{
    char t[32], src[SCN_EPSTRLEN], dst[SCN_EPSTRLEN];
    scn_decode(p->data, p->len, g);
    scn_format_time(p->time, t, sizeof(t));
    if (g->malformed && g->d.src.port == 0 && g->d.dst.port == 0) {
        snprintf(buf, size, "malformed packet (%s), %zu bytes, at %s",
                 g->malformed, p->len, t);
        return;
    }
    const struct scn_tuple *tp =
        scn_tuple_find(r, g->d.src.port, g->d.dst.addr, g->d.dst.port, false);
    if (tp && tp->has_iss)
        g->seg.seq -= tp->iss;
    struct scn_opt *ts = ts_opt(&g->seg);
    bool ts_abs = ts && !(tp && tp->has_ts_base);
    if (ts && !ts_abs)
        ts->a -= tp->ts_base;
    char seg[256];
    scn_seg_format(&g->seg, true, seg, sizeof(seg));
    scn_format_ep(&g->d.src, src, sizeof(src));
    scn_format_ep(&g->d.dst, dst, sizeof(dst));
    snprintf(buf, size, "%s at %s (%s:%u > %s:%u%s%s%s%s)", seg, t, src,
             g->d.src.port, dst, g->d.dst.port,
             tp && tp->has_iss ? "" : ", seq absolute",
             ts_abs ? ", TSval absolute" : "",
             g->malformed ? ", MALFORMED: " : "",
             g->malformed ? g->malformed : "");
}

static int check_nothing_pending(struct scn_runner *r, const char *when)
{
    if (r->qhead == r->qlen)
        return 0;
    char got[MSG];
    struct scn_got g;
    got_format(r, &r->q[r->qhead], &g, got, sizeof(got));
    return scn_fail(r, "unexpected segment %s: %s", when, got);
}

/* First payload byte that differs from the pattern, or -1. */
static int64_t payload_mismatch(const struct scn_got *g, uint64_t off)
{
    for (uint32_t i = 0; i < g->d.len; i++) {
        if (g->payload[i] != scn_pattern(off + i))
            return i;
    }
    return -1;
}

/* Checks addresses, ports and payload; diff gets what differs. */
static void check_wire_ends(struct scn_runner *r, const struct scn_seg *want,
                            const struct scn_got *g, const struct scn_tuple *tp,
                            char *diff, size_t size)
{
    const struct scn_script *sc = r->sc;
    size_t used = strlen(diff);
    uint16_t rport = want->has_port ? want->port : sc->remote_port;
    uint16_t lport = want->has_lport ? want->lport : r->lport;
#define ADD(...)                                                               \
    do {                                                                       \
        if (used < size)                                                       \
            used += (size_t)snprintf(diff + used, size - used, __VA_ARGS__);   \
    } while (0)
    bool v6 = sc->v6 && !want->ipv4;
    bool addrs_ok = v6 ? g->d.src.family == BERTH_AF_INET6 &&
                             g->d.dst.family == BERTH_AF_INET6 &&
                             memcmp(g->d.src.addr6, sc->local6, 16) == 0 &&
                             memcmp(g->d.dst.addr6, sc->remote6, 16) == 0
                       : g->d.src.family == BERTH_AF_INET &&
                             g->d.src.addr == sc->local_addr &&
                             g->d.dst.addr == sc->remote_addr;
    if (!addrs_ok)
        ADD("%saddresses", used ? ", " : "");
    if (g->d.dst.port != rport)
        ADD("%sremote port (want %u)", used ? ", " : "", rport);
    if (g->d.src.port != lport)
        ADD("%slocal port (want %u)", used ? ", " : "", lport);
    if (g->d.len > 0 && g->d.len == want->len) {
        uint32_t data_seq = g->d.seq + ((g->seg.flags & BERTH_TH_SYN) ? 1 : 0);
        int64_t bad =
            tp && tp->has_iss
                ? payload_mismatch(g, (uint32_t)(data_seq - tp->iss - 1u))
                : 0;
        if (!tp || !tp->has_iss)
            ADD("%spayload (our ISS unknown)", used ? ", " : "");
        else if (bad >= 0)
            ADD("%spayload byte %" PRId64, used ? ", " : "", bad);
    }
#undef ADD
}

static int expect_out(struct scn_runner *r, const struct scn_event *ev)
{
    char want[MSG], got[MSG], diff[MSG], t[32];
    struct scn_seg w = ev->seg;
    scn_seg_format(&w, true, want, sizeof(want));
    scn_format_time(ev->time, t, sizeof(t));
    if (r->qhead == r->qlen) {
        char d[32];
        scn_format_time(berth_next_deadline(r->s), d, sizeof(d));
        return scn_fail(r, "expected %s at %s, got nothing (next deadline %s)",
                        want, t, d);
    }
    struct scn_pkt *p = &r->q[r->qhead++];
    struct scn_got g;
    scn_decode(p->data, p->len, &g);
    struct scn_tuple *tp =
        g.malformed
            ? NULL
            : scn_tuple_find(r, g.d.src.port, g.d.dst.addr, g.d.dst.port, true);
    if (tp && (g.seg.flags & BERTH_TH_SYN) && !tp->has_iss) {
        tp->has_iss = true; /* the first SYN we send fixes our ISS */
        tp->iss = g.d.seq;
    }
    if (tp && g.d.has_ts && !tp->has_ts_base) {
        tp->has_ts_base = true; /* and the first TSval our TS clock */
        tp->ts_base = g.d.ts_val;
    }
    if (!r->has_lport && !g.malformed && !w.has_lport) {
        r->has_lport = true; /* nothing told us the port: learn it */
        r->lport = g.d.src.port;
    }
    got_format(r, p, &g, got, sizeof(got));
    diff[0] = '\0';
    if (!g.malformed) {
        scn_seg_diff(&w, &g.seg, diff, sizeof(diff));
        check_wire_ends(r, &w, &g, tp, diff, sizeof(diff));
    }
    uint64_t sent = p->time;
    free(p->data);
    p->data = NULL;
    if (g.malformed)
        return scn_fail(r, "expected %s at %s, got %s", want, t, got);
    if (diff[0])
        return scn_fail(r, "expected %s at %s, got %s\n  differs: %s", want, t,
                        got, diff);
    if (sent != ev->time)
        return scn_fail(r, "expected %s at %s, got %s\n  differs: time", want,
                        t, got);
    return 0;
}

/* ---- inbound ---------------------------------------------------------- */

static int inject(struct scn_runner *r, const uint8_t *pkt, size_t len)
{
    int rc = berth_input(r->s, pkt, len, r->now);
    if (r->verbose)
        fprintf(stderr, "    berth_input: %s\n",
                rc == 0 ? "accepted"
                        : berth_reason_name((enum berth_reason)rc));
    return 0;
}

/* peer-isn on the line, else the peer's first SYN on the 4-tuple, else
 * the peer_isn directive. */
static void learn_peer_isn(struct scn_tuple *tp, const struct scn_seg *seg,
                           const struct scn_script *sc)
{
    if (seg->has_peer_isn) {
        tp->has_peer = true;
        tp->peer_isn = seg->peer_isn;
    } else if ((seg->flags & BERTH_TH_SYN) && !tp->has_peer) {
        tp->has_peer = true;
        tp->peer_isn = seg->seq;
    } else if (!tp->has_peer && sc->has_peer_isn) {
        tp->has_peer = true;
        tp->peer_isn = sc->peer_isn;
    }
}

/* The peer's echo of our numbers, written relative, made absolute: TSecr
 * (to our first TSval; only with ACK set, RFC 7323 §3.2: without it the
 * field echoes nothing) and SACK blocks (to our ISS). */
static void rebase_ours(struct scn_seg *seg, const struct scn_tuple *tp)
{
    struct scn_opt *ts = ts_opt(seg);
    if (ts && tp->has_ts_base && (seg->flags & BERTH_TH_ACK))
        ts->b += tp->ts_base;
    for (unsigned i = 0; i < seg->nsack && tp->has_iss; i++) {
        seg->sack[i].start += tp->iss;
        seg->sack[i].end += tp->iss;
    }
}

static int inject_seg(struct scn_runner *r, const struct scn_event *ev)
{
    const struct scn_script *sc = r->sc;
    const struct scn_seg *seg = &ev->seg;
    if (!seg->has_lport && !r->has_lport)
        return scn_fail(r, "no local port known: bind first, or give "
                           "local-port N (or the local directive's port)");
    uint16_t lport = seg->has_lport ? seg->lport : r->lport;
    uint16_t rport = seg->has_port ? seg->port : sc->remote_port;
    bool v6 = sc->v6 && !seg->ipv4;
    /* An IPv6 4-tuple's raddr key is 0 (decoded IPv6 endpoints say so). */
    struct scn_tuple *tp =
        scn_tuple_find(r, lport, v6 ? 0 : sc->remote_addr, rport, true);
    if (!tp)
        return scn_fail(r, "more than %d 4-tuples", SCN_MAX_TUPLES);
    learn_peer_isn(tp, seg, sc);
    if (seg->len > 0 && !tp->has_peer)
        return scn_fail(r, "payload but no peer ISN on this 4-tuple: show "
                           "the SYN, or give peer-isn N");
    uint32_t data_seq = seg->seq + ((seg->flags & BERTH_TH_SYN) ? 1u : 0u);
    struct scn_seg wire_seg = *seg;
    rebase_ours(&wire_seg, tp);
    struct scn_wire w = {
        .v6 = v6,
        .src6 = sc->remote6,
        .dst6 = sc->local6,
        .src = sc->remote_addr,
        .dst = sc->local_addr,
        .sport = rport,
        .dport = lport,
        .seq = seg->seq,
        .ack = !seg->has_ack ? 0
               : tp->has_iss ? tp->iss + seg->ack
                             : seg->ack,
        .pay_off = (uint32_t)(data_seq - tp->peer_isn - 1u),
    };
    size_t len;
    uint8_t *pkt = scn_build(&wire_seg, &w, &len);
    if (!pkt)
        return scn_fail(r, "cannot build the segment (options over 40 "
                           "bytes?)");
    inject(r, pkt, len);
    free(pkt);
    return 0;
}

/* ---- the script ------------------------------------------------------- */

static int run_event(struct scn_runner *r, const struct scn_event *ev)
{
    r->ev = ev;
    if (advance_to(r, ev->time) != 0)
        return -1;
    if (r->verbose) {
        char t[32];
        scn_format_time(ev->time, t, sizeof(t));
        fprintf(stderr, "%s:%d: %s\n", r->sc->file, ev->line, ev->text);
    }
    if (ev->kind == SCN_SEG_OUT)
        return expect_out(r, ev);
    if (ev->kind == SCN_DGRAM_OUT)
        return scn_dgram_expect(r, ev);
    if (check_nothing_pending(r, "before this event") != 0)
        return -1;
    switch (ev->kind) {
    case SCN_SEG_IN:
        return inject_seg(r, ev);
    case SCN_RAW_IN:
        return inject(r, ev->raw, ev->raw_len);
    case SCN_DGRAM_IN:
        return scn_dgram_inject(r, ev);
    default:
        return scn_call_run(r, ev);
    }
}

static void config_hooks(struct scn_runner *r, struct berth_config *cfg)
{
    *cfg = r->sc->cfg;
    cfg->tx = on_tx;
    cfg->tx_ctx = r;
    cfg->event = on_event;
    cfg->event_ctx = r;
    cfg->trace = on_trace;
    cfg->trace_ctx = r;
    if (r->sc->has_isn) {
        cfg->isn = on_isn;
        cfg->isn_ctx = r;
    }
    /* A constant secret: RFC 6528 ISNs are then the same on every run. */
    memcpy(cfg->secret, "berth-scenario!!", sizeof(cfg->secret));
}

static int run_script(struct scn_runner *r)
{
    const struct scn_script *sc = r->sc;
    for (size_t i = 0; i < sc->nev; i++) {
        if (run_event(r, &sc->ev[i]) != 0)
            return -1;
        /* The stack counts a state change missing from its transition
         * table (src/tcp/tcp_fsm.c) as a drop with no reason: a bug. */
        if (berth_drop_count(r->s, BERTH_REASON_NONE) != 0)
            return scn_fail(r, "a state change not in the transition table "
                               "(see the trace)");
    }
    return check_nothing_pending(r, "after the last event");
}

int scn_run(const struct scn_script *sc, bool verbose)
{
    struct scn_runner *r = calloc(1, sizeof(*r));
    if (!r) {
        fprintf(stderr, "%s: out of memory\n", sc->file);
        return -1;
    }
    r->sc = sc;
    r->verbose = verbose;
    r->has_lport = sc->has_lport;
    r->lport = sc->local_port;
    for (int i = 0; i < SCN_MAX_VARS; i++)
        r->vars[i].handle = -1;
    struct berth_config cfg;
    config_hooks(r, &cfg);
    r->s = berth_stack_create(&cfg, 0);
    int rc;
    if (!r->s) {
        rc = scn_fail(r, "berth_stack_create failed");
    } else {
        r->base_allocs = berth_mem_allocs(r->s);
        r->base_bytes = berth_mem_bytes(r->s);
        rc = run_script(r);
        berth_stack_destroy(r->s);
    }
    for (size_t i = r->qhead; i < r->qlen; i++)
        free(r->q[i].data);
    free(r->q);
    free(r);
    return rc;
}
