/* berth command: `berth ladder FILE.pcap` — any capture's connections
 * (--list), one of them drawn as the textbook ladder in text or SVG, with
 * both ends' states inferred from the segments, or taken from berth's event
 * log (--events), and lost segments found by comparing the two ends'
 * captures (--other). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "cmds.h"
#include "common.h"
#include "ladder.h"

#define HEAD_MAX   64 /* payload bytes kept per segment: enough to quote */
#define FILTER_MAX 2

/* A segment of a capture, kept after the file is read. */
struct seg {
    uint64_t t;
    struct cap_addr src, dst;
    struct berth_segment s;
    uint8_t head[HEAD_MAX];
    uint32_t plen; /* bytes in head */
    int conn;      /* index into the connection list */
    bool lost;     /* --other: never reached the other end */
    bool matched;  /* --other: found in the other capture */
};

struct segs {
    struct seg *v;
    size_t n, cap;
    uint64_t skipped;
};

/* A connection: a 4-tuple from its SYN (or its first segment) on. */
struct conn {
    struct cap_addr cli, srv;
    bool syn; /* opened by a SYN in the capture */
    uint32_t cli_isn;
    size_t segs[2]; /* sent by client, by server */
    uint64_t bytes[2];
    uint64_t first, last;
    bool fin[2], rst;
};

struct conns {
    struct conn *v;
    int n, cap;
};

struct opts {
    const char *file, *other, *events, *svg;
    bool list, explain, full;
    int conn; /* --conn N (1-based), 0: by filter or the first */
    struct cap_addr filter[FILTER_MAX];
    int nfilter;
    const char *titles[2];
};

static const char *prog = "berth ladder";

/* ---------------------------------------------------------------------- */
/* Reading. */

static int segs_read(const char *path, struct segs *out)
{
    char err[300];
    struct capture *c = capture_open(path, err, sizeof err);
    if (!c) {
        error_line(prog, "%s", err);
        return -1;
    }
    struct cap_packet p;
    int r;
    while ((r = capture_next(c, &p, err, sizeof err)) == 1) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 256;
            struct seg *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                error_line(prog, "out of memory reading %s", path);
                capture_close(c);
                return -1;
            }
            out->v = v, out->cap = cap;
        }
        struct seg *s = &out->v[out->n++];
        memset(s, 0, sizeof *s);
        s->t = p.t;
        s->src = p.src, s->dst = p.dst;
        s->s = p.seg;
        s->plen = p.plen < HEAD_MAX ? p.plen : HEAD_MAX;
        memcpy(s->head, p.payload, s->plen);
    }
    if (r < 0)
        error_line(prog, "%s: %s (reading what came before)", path, err);
    out->skipped = capture_skipped(c);
    capture_close(c);
    return 0;
}

static bool same_tuple(const struct conn *c, const struct seg *s)
{
    return (cap_addr_eq(&s->src, &c->cli) && cap_addr_eq(&s->dst, &c->srv)) ||
           (cap_addr_eq(&s->src, &c->srv) && cap_addr_eq(&s->dst, &c->cli));
}

/* Splits segments into connections: by 4-tuple, and a SYN with a new ISN
 * on a tuple already seen starts a new connection (the port reused). */
static int conns_split(struct segs *ss, struct conns *cs)
{
    for (size_t i = 0; i < ss->n; i++) {
        struct seg *s = &ss->v[i];
        bool syn = (s->s.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) == BERTH_TH_SYN;
        int k = -1;
        for (int j = cs->n - 1; j >= 0 && k < 0; j--)
            if (same_tuple(&cs->v[j], s))
                k = j;
        /* The client's SYN with a new ISN: the 4-tuple reused. (The
         * server's SYN is a simultaneous open.) */
        if (k >= 0 && syn && cs->v[k].syn && cs->v[k].cli_isn != s->s.seq &&
            cap_addr_eq(&s->src, &cs->v[k].cli))
            k = -1;
        if (k < 0) {
            if (cs->n == cs->cap) {
                int cap = cs->cap ? cs->cap * 2 : 16;
                struct conn *v = realloc(cs->v, (size_t)cap * sizeof *v);
                if (!v)
                    return -1;
                cs->v = v, cs->cap = cap;
            }
            k = cs->n++;
            struct conn *c = &cs->v[k];
            memset(c, 0, sizeof *c);
            /* The client is whoever sent the SYN; without one, the sender
             * of the first segment seen. */
            bool synack = (s->s.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) ==
                          (BERTH_TH_SYN | BERTH_TH_ACK);
            c->cli = synack ? s->dst : s->src;
            c->srv = synack ? s->src : s->dst;
            c->first = s->t;
        }
        struct conn *c = &cs->v[k];
        if (syn && !c->syn)
            c->syn = true, c->cli_isn = s->s.seq;
        int from = cap_addr_eq(&s->src, &c->cli) ? 0 : 1;
        c->segs[from]++;
        c->bytes[from] += s->s.len;
        c->last = s->t;
        c->fin[from] |= (s->s.flags & BERTH_TH_FIN) != 0;
        c->rst |= (s->s.flags & BERTH_TH_RST) != 0;
        s->conn = k;
    }
    return 0;
}

static bool filter_match(const struct cap_addr *f, const struct cap_addr *e)
{
    static const uint8_t zero[16];
    bool any_addr = !memcmp(f->a, zero, sizeof zero);
    return (f->port == 0 || f->port == e->port) &&
           (any_addr ||
            (f->fam == e->fam && !memcmp(f->a, e->a, f->fam == 6 ? 16 : 4)));
}

static bool conn_match(const struct opts *o, const struct conn *c)
{
    for (int i = 0; i < o->nfilter; i++)
        if (!filter_match(&o->filter[i], &c->cli) &&
            !filter_match(&o->filter[i], &c->srv))
            return false;
    if (o->nfilter == 2 && cap_addr_eq(&c->cli, &c->srv))
        return false;
    return true;
}

static void list(FILE *out, const struct opts *o, const struct conns *cs,
                 const struct segs *ss)
{
    fprintf(out, "%3s  %-24s %-24s %7s %7s %10s %10s  %s\n", "N", "client",
            "server", "segs>", "<segs", "bytes>", "<bytes", "seen, duration");
    for (int i = 0; i < cs->n; i++) {
        const struct conn *c = &cs->v[i];
        if (!conn_match(o, c))
            continue;
        char a[64], b[64], seen[64];
        snprintf(seen, sizeof seen, "%s%s%s", c->syn ? "SYN" : "mid-stream",
                 c->fin[0] && c->fin[1] ? ", FIN both ways"
                 : c->fin[0]            ? ", FIN from client"
                 : c->fin[1]            ? ", FIN from server"
                                        : "",
                 c->rst ? ", RST" : "");
        fprintf(out,
                "%3d  %-24s %-24s %7zu %7zu %10" PRIu64 " %10" PRIu64
                "  %s, %.3f s\n",
                i + 1, cap_addr_str(&c->cli, a, sizeof a),
                cap_addr_str(&c->srv, b, sizeof b), c->segs[0], c->segs[1],
                c->bytes[0], c->bytes[1], seen,
                (double)(c->last - c->first) / 1e6);
    }
    if (ss->skipped)
        fprintf(out, "(%" PRIu64 " records were not TCP over IP: skipped)\n",
                ss->skipped);
}

/* ---------------------------------------------------------------------- */
/* --other: the other end's capture. */

static bool seg_same(const struct seg *a, const struct seg *b)
{
    return cap_addr_eq(&a->src, &b->src) && cap_addr_eq(&a->dst, &b->dst) &&
           a->s.seq == b->s.seq && a->s.ack == b->s.ack &&
           a->s.flags == b->s.flags && a->s.len == b->s.len &&
           a->s.win == b->s.win && a->s.has_ts == b->s.has_ts &&
           (!a->s.has_ts || a->s.ts_val == b->s.ts_val);
}

/* The first of v[0..n) (sorted by time) at or after t. */
static size_t first_at(const struct seg *v, size_t n, uint64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#define MATCH_BEFORE (60 * UINT64_C(1000000)) /* a copy's transit, at most */
#define MATCH_AFTER  (1 * UINT64_C(1000000))  /* the clocks' disagreement */

/* Marks lost the sender's segments (snd, one direction) that the receiver's
 * capture (rcv) does not hold. Each copy the receiver got is matched to the
 * latest equal copy sent before it (so of two identical SYN,ACKs, the one
 * that was answered), or failing that the earliest after it. Returns the
 * segments lost. */
static size_t mark_lost(struct seg *snd, size_t nsnd, const struct seg *rcv,
                        size_t nrcv)
{
    for (size_t i = 0; i < nsnd; i++)
        snd[i].matched = false;
    for (size_t j = 0; j < nrcv; j++) {
        uint64_t t = rcv[j].t;
        size_t at =
            first_at(snd, nsnd, t > MATCH_BEFORE ? t - MATCH_BEFORE : 0);
        size_t best = nsnd;
        for (size_t i = at; i < nsnd && snd[i].t <= t + MATCH_AFTER; i++) {
            if (snd[i].matched || !seg_same(&snd[i], &rcv[j]))
                continue;
            if (best == nsnd || snd[i].t <= t)
                best = i;
            if (snd[i].t > t)
                break;
        }
        if (best < nsnd)
            snd[best].matched = true;
    }
    size_t lost = 0;
    for (size_t i = 0; i < nsnd; i++) {
        snd[i].lost = !snd[i].matched;
        lost += snd[i].lost;
    }
    return lost;
}

/* The connection's segments from both captures, each direction taken from
 * the capture that holds more of it (its sender's), lost where the other
 * does not hold it; merged by time (the two clocks are taken to agree). */
static int merge_other(const struct opts *o, struct seg **v, size_t *n,
                       const struct conn *c)
{
    struct segs os = {0};
    if (segs_read(o->other, &os) != 0)
        return -1;
    struct seg *dir[2][2] = {{NULL}}; /* [capture][direction] */
    size_t nd[2][2] = {{0}};
    struct seg *src[2] = {*v, os.v};
    size_t nsrc[2] = {*n, os.n};
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 2; d++)
            dir[k][d] = calloc(nsrc[k] ? nsrc[k] : 1, sizeof(struct seg));
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < nsrc[k]; i++) {
            const struct seg *s = &src[k][i];
            if (!same_tuple(c, s))
                continue;
            int d = cap_addr_eq(&s->src, &c->cli) ? 0 : 1;
            if (dir[k][d])
                dir[k][d][nd[k][d]++] = *s;
        }
    size_t total = 0;
    struct seg *out = calloc(*n + os.n + 1, sizeof *out);
    for (int d = 0; d < 2; d++) {
        /* The sender's capture holds more of the direction (the other
         * lacks what was lost) or, as many, holds it earlier (a copy is
         * captured as it leaves, and later where it arrives). */
        int snd = nd[0][d] > nd[1][d] ? 0 : nd[0][d] < nd[1][d] ? 1 : -1;
        if (snd < 0)
            snd = nd[0][d] && nd[1][d] && dir[1][d] && dir[0][d] &&
                          dir[1][d][0].t < dir[0][d][0].t
                      ? 1
                      : 0;
        if (!out || !dir[snd][d] || !dir[1 - snd][d])
            continue;
        mark_lost(dir[snd][d], nd[snd][d], dir[1 - snd][d], nd[1 - snd][d]);
        memcpy(out + total, dir[snd][d], nd[snd][d] * sizeof *out);
        total += nd[snd][d];
    }
    /* Stable merge by time: insertion sort of two sorted runs. */
    for (size_t i = 1; out && i < total; i++) {
        struct seg x = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1].t > x.t) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = x;
    }
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < 2; d++)
            free(dir[k][d]);
    free(os.v);
    if (!out) {
        error_line(prog, "out of memory");
        return -1;
    }
    free(*v);
    *v = out;
    *n = total;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* --events: berth's event log (docs/events.md, schema berth-events/1). */

/* The value after "key": in a JSON line, as text: a string's contents (no
 * escapes in the fields read here) or a number's digits. NULL if absent. */
static const char *json_get(const char *line, const char *key, char *buf,
                            size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] && p[n] != '"' && n + 1 < size)
            n++;
    } else {
        while (p[n] && strchr("-0123456789.", p[n]) && n + 1 < size)
            n++;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static int state_by_name(const char *s)
{
    for (int i = 0; i < BERTH_STATE__COUNT; i++)
        if (!strcmp(s, berth_state_name((enum berth_state)i)))
            return i;
    return -1;
}

struct logstate {
    uint64_t t;
    size_t nsent; /* segments berth had sent before it, in the log */
    enum berth_state from, st;
    char cause[48];
};

/* What the log says of the connection. */
struct evlog {
    struct logstate *v; /* its state changes, in order */
    size_t n, cap;
    int side;        /* berth's end: 0 client, 1 server; -1 not found yet */
    char id[32];     /* its "conn" */
    uint64_t conn_t; /* its tcp:conn line's time */
    bool have_syn;
    uint64_t syn_t; /* when berth sent or received the SYN */
    size_t sent;    /* segment_sent lines so far */
    struct logseg {
        uint32_t seq, ack, len;
        char flags[24]; /* "PSH,ACK", as berth_flags_string() writes */
        bool matched;
    } * rcvd; /* the segments berth received, in order */
    size_t nrcvd, rcvd_cap;
};

/* A tcp:segment_received line's segment. 0, or -1 out of memory. */
static int log_received(struct evlog *e, const char *line)
{
    char seq[16], ack[16], len[16];
    if (!json_get(line, "seq", seq, sizeof seq) ||
        !json_get(line, "ack", ack, sizeof ack) ||
        !json_get(line, "len", len, sizeof len))
        return 0;
    if (e->nrcvd == e->rcvd_cap) {
        size_t cap = e->rcvd_cap ? e->rcvd_cap * 2 : 64;
        struct logseg *nv = realloc(e->rcvd, cap * sizeof *nv);
        if (!nv)
            return -1;
        e->rcvd = nv, e->rcvd_cap = cap;
    }
    struct logseg *g = &e->rcvd[e->nrcvd++];
    g->seq = (uint32_t)strtoul(seq, NULL, 10);
    g->ack = (uint32_t)strtoul(ack, NULL, 10);
    g->len = (uint32_t)strtoul(len, NULL, 10);
    if (!json_get(line, "flags", g->flags, sizeof g->flags))
        g->flags[0] = '\0';
    g->matched = false;
    return 0;
}

/* The log shows what berth received: a segment the other end sent (the
 * capture holds it) that the log never received was lost. Copies are
 * matched in order, within a window. Returns those marked. */
static size_t log_mark_lost(struct evlog *e, const struct conn *c,
                            struct seg *v, size_t n)
{
    size_t lost = 0, base = 0;
    if (e->side < 0 || e->nrcvd == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int from = cap_addr_eq(&v[i].src, &c->cli) ? 0 : 1;
        if (from == e->side || v[i].lost)
            continue;
        char flags[40];
        berth_flags_string(v[i].s.flags, flags, sizeof flags);
        uint32_t ack = v[i].s.flags & BERTH_TH_ACK ? v[i].s.ack : 0;
        bool found = false;
        size_t lo = base > 64 ? base - 64 : 0;
        size_t hi = base + 4096 < e->nrcvd ? base + 4096 : e->nrcvd;
        for (size_t j = lo; j < hi && !found; j++) {
            struct logseg *g = &e->rcvd[j];
            if (g->matched || g->seq != v[i].s.seq || g->len != v[i].s.len ||
                (g->ack != ack && (v[i].s.flags & BERTH_TH_ACK)) ||
                strcmp(g->flags, flags) != 0)
                continue;
            g->matched = found = true;
            base = j;
        }
        v[i].lost = !found;
        lost += !found;
    }
    return lost;
}

/* A tcp:conn line: is it the connection between c's ends, and which end
 * was berth? */
static bool log_conn(struct evlog *e, const char *line, const char *id,
                     uint64_t t, const struct conn *c)
{
    char l[96], r[96];
    struct cap_addr la, ra;
    if (!json_get(line, "local", l, sizeof l) ||
        !json_get(line, "remote", r, sizeof r) || cap_addr_parse(l, &la) ||
        cap_addr_parse(r, &ra))
        return false;
    if (cap_addr_eq(&la, &c->cli) && cap_addr_eq(&ra, &c->srv))
        e->side = 0;
    else if (cap_addr_eq(&la, &c->srv) && cap_addr_eq(&ra, &c->cli))
        e->side = 1;
    else
        return false;
    snprintf(e->id, sizeof e->id, "%s", id);
    e->conn_t = t;
    return true;
}

/* A line of the connection: segments are counted (and the SYN's time
 * kept), state changes kept. 0, or -1 out of memory. */
static int log_line(struct evlog *e, const char *line, const char *name,
                    uint64_t t)
{
    char buf[48];
    bool seg = !strcmp(name, "tcp:segment_sent") ||
               !strcmp(name, "tcp:segment_received");
    e->sent += !strcmp(name, "tcp:segment_sent");
    if (!strcmp(name, "tcp:segment_received") && log_received(e, line) != 0)
        return -1;
    if (seg && !e->have_syn && json_get(line, "flags", buf, sizeof buf) &&
        !strcmp(buf, "SYN"))
        e->have_syn = true, e->syn_t = t;
    if (strcmp(name, "tcp:state") != 0 ||
        !json_get(line, "to", buf, sizeof buf) || state_by_name(buf) < 0)
        return 0;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 16;
        struct logstate *nv = realloc(e->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        e->v = nv, e->cap = cap;
    }
    struct logstate *ls = &e->v[e->n++];
    ls->t = t;
    ls->st = (enum berth_state)state_by_name(buf);
    ls->nsent = e->sent;
    int from =
        json_get(line, "from", buf, sizeof buf) ? state_by_name(buf) : -1;
    ls->from = from < 0 ? ls->st : (enum berth_state)from;
    if (!json_get(line, "cause", ls->cause, sizeof ls->cause))
        ls->cause[0] = '\0';
    return 0;
}

/* The log's states for connection c (its first in the log): which side
 * berth was, and the offset to add to the log's times so that its SYN
 * lines up with the capture's (v, n: the connection's segments). */
static int events_read(const char *path, const struct conn *c,
                       const struct seg *v, size_t n, struct evlog *e,
                       int64_t *offset)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        error_line(prog, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], buf[128];
    memset(e, 0, sizeof *e);
    e->side = -1;
    if (!fgets(line, sizeof line, f) ||
        !json_get(line, "schema", buf, sizeof buf) ||
        strncmp(buf, "berth-events/1", 14) != 0) {
        error_line(prog, "%s: not a berth event log of schema berth-events/1",
                   path);
        fclose(f);
        return -1;
    }
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char id[32], t[32];
        const char *name = json_get(line, "name", buf, sizeof buf);
        if (!name || !json_get(line, "conn", id, sizeof id) ||
            !json_get(line, "time", t, sizeof t))
            continue;
        uint64_t at = strtoull(t, NULL, 10);
        if (!e->id[0] && !strcmp(name, "tcp:conn"))
            log_conn(e, line, id, at, c);
        else if (e->id[0] && !strcmp(id, e->id))
            rc = log_line(e, line, name, at);
    }
    fclose(f);
    if (rc != 0 || e->side < 0) {
        error_line(prog,
                   rc ? "out of memory reading %s"
                      : "%s has no connection between these endpoints",
                   path);
        return -1;
    }
    /* The capture's first SYN of this connection, else its first segment. */
    int64_t syn_cap = -1;
    for (size_t i = 0; i < n && syn_cap < 0; i++)
        if ((v[i].s.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) == BERTH_TH_SYN)
            syn_cap = (int64_t)v[i].t;
    if (e->have_syn && syn_cap >= 0)
        *offset = syn_cap - (int64_t)e->syn_t;
    else
        *offset = (n ? (int64_t)v[0].t : 0) - (int64_t)e->conn_t;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Drawing. */

/* Where the capture was taken, from its handshake: at the client, the
 * SYN,ACK comes a round trip after the SYN and the ACK right after it; at
 * the server, the other way round. -1 (near neither) without a handshake.
 * *rtt: the handshake's round trip (0 if none). */
static int near_side(const struct seg *v, size_t n, uint64_t *rtt)
{
    uint64_t t[3] = {0};
    int got = 0;
    static const uint8_t want[3] = {BERTH_TH_SYN, BERTH_TH_SYN | BERTH_TH_ACK,
                                    BERTH_TH_ACK};
    for (size_t i = 0; i < n && got < 3; i++) {
        uint8_t f = v[i].s.flags & (BERTH_TH_SYN | BERTH_TH_ACK | BERTH_TH_RST);
        if (f == want[got])
            t[got++] = v[i].t;
        else if (got == 1 && f == BERTH_TH_SYN)
            t[0] = v[i].t; /* the SYN again: time from the last copy */
    }
    *rtt = 0;
    if (got < 3)
        return -1;
    /* SYNs from both ends (a simultaneous open): no such pattern. */
    for (size_t i = 0; i < n; i++)
        if ((v[i].s.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) == BERTH_TH_SYN &&
            !cap_addr_eq(&v[i].src, &v[0].src))
            return -1;
    uint64_t a = t[1] - t[0], b = t[2] - t[1];
    *rtt = a + b;
    return a >= b ? 0 : 1;
}

/* Where the capture begins, for the inferred ends: a listener waits for a
 * SYN (unless the server's first answer is a RST: no listener, CLOSED);
 * without the SYN, both ends are taken as ESTABLISHED. The log's first
 * state change says where berth's end began. */
static void start_states(struct ladder *ld, const struct ladder_opts *lo,
                         const struct conn *c, const struct seg *v, size_t n,
                         const struct evlog *e)
{
    uint64_t t0 = n ? v[0].t : 0;
    /* The server's first segment: a RST (no listener) or its own SYN (a
     * simultaneous open) means it was not listening. */
    bool refused = false;
    for (size_t i = 0; i < n; i++)
        if (cap_addr_eq(&v[i].src, &c->srv)) {
            refused =
                (v[i].s.flags & BERTH_TH_RST) ||
                (v[i].s.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) == BERTH_TH_SYN;
            break;
        }
    for (int s = 0; s < 2; s++) {
        if (!lo->infer[s])
            continue;
        if (c->syn && s == 1 && !refused)
            ladder_state(ld, 1, t0, BERTH_STATE_LISTEN, true, NULL);
        else if (!c->syn)
            ladder_state(ld, s, t0, BERTH_STATE_ESTABLISHED, true,
                         s == 0 ? "the capture starts mid-connection" : NULL);
    }
    if (e->n > 0 && e->v[0].from == BERTH_STATE_LISTEN)
        ladder_state(ld, e->side, t0, BERTH_STATE_LISTEN, false, NULL);
}

/* The log's states due before a segment at `now`, berth having sent
 * `sent` of the connection's segments so far. A state is drawn before the
 * first segment not earlier than it, and after the segments berth sent
 * before it (the log's order, exact where times are equal); if the
 * capture lacks some of those, once it is more than the grace old. */
static void log_states(struct ladder *ld, const struct evlog *e, size_t *li,
                       int64_t offset, int64_t now, size_t sent, uint64_t grace,
                       bool explain)
{
    for (; *li < e->n; (*li)++) {
        const struct logstate *ls = &e->v[*li];
        int64_t at = (int64_t)ls->t + offset;
        if (at > now || (sent < ls->nsent && at + (int64_t)grace > now))
            return;
        char note[80];
        snprintf(note, sizeof note, "berth's log: %s", ls->cause);
        ladder_state(ld, e->side, (uint64_t)at, ls->st, false,
                     explain && ls->cause[0] ? note : NULL);
    }
}

static int write_svg(const struct opts *o, struct ladder *ld)
{
    char err[300];
    int fd = berth_rt_create_file(o->svg, false, err, sizeof err);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        error_line(prog, "%s", fd < 0 ? err : strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    ladder_print_svg(ld, f, o->titles[0], o->titles[1], o->full);
    if (fclose(f) != 0) {
        error_line(prog, "%s: %s", o->svg, strerror(errno));
        return 1;
    }
    return 0;
}

static int draw(const struct opts *o, const struct conn *c, struct seg *v,
                size_t n)
{
    struct evlog e = {.side = -1};
    int64_t offset = 0;
    if (o->events && events_read(o->events, c, v, n, &e, &offset) != 0) {
        free(e.v);
        free(e.rcvd);
        return 1;
    }
    /* Without the other end's capture, the log tells what was lost on
     * the way to berth. */
    if (!o->other)
        log_mark_lost(&e, c, v, n);
    struct ladder_opts lo = {.infer = {e.side != 0, e.side != 1},
                             .explain = o->explain};
    /* The far end's inference waits twice the round trip (at least 2 ms)
     * for a segment that shows it had not received one yet. Two captures
     * merged: each segment at its sending time, near neither. */
    uint64_t rtt;
    int near = near_side(v, n, &rtt);
    lo.grace = 2 * rtt > 2000 ? 2 * rtt : 2000;
    if (o->other)
        near = -1;
    if (near >= 0)
        lo.near[near] = true;
    /* The log's SYN is when berth's end sent or received it: at the far
     * end, half a round trip from where the capture saw it. */
    if (e.side >= 0 && near >= 0 && e.side != near)
        offset += (int64_t)(rtt / 2);
    struct ladder *ld = ladder_new(&lo);
    if (!ld) {
        free(e.v);
        free(e.rcvd);
        error_line(prog, "out of memory");
        return 1;
    }
    ladder_lock(ld, &c->cli, &c->srv);
    start_states(ld, &lo, c, v, n, &e);
    size_t sent = 0, li = 0;
    for (size_t i = 0; i < n; i++) {
        const struct seg *s = &v[i];
        int from = cap_addr_eq(&s->src, &c->cli) ? 0 : 1;
        log_states(ld, &e, &li, offset, (int64_t)s->t, sent, lo.grace,
                   o->explain);
        ladder_segment(ld, from, s->t, &s->s, s->head, s->plen, s->lost);
        sent += from == e.side;
    }
    log_states(ld, &e, &li, offset, INT64_MAX, SIZE_MAX, 0, o->explain);
    free(e.v);
    free(e.rcvd);
    ladder_print(ld, stdout, o->titles[0], o->titles[1]);
    int rc = o->svg ? write_svg(o, ld) : 0;
    ladder_destroy(ld);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Options. */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: berth ladder FILE.pcap [ENDPOINT [ENDPOINT]] [options]\n"
            "\n"
            "Draws one TCP connection of a capture (berth's, or tcpdump's on "
            "any\ninterface) as the textbook ladder: both ends as columns, "
            "each segment an\narrow with its flags, relative seq/ack, length "
            "and window, each end's\nstate beside it (inferred from the "
            "segments, in parentheses).\nRetransmissions, out-of-order "
            "segments, zero windows and resets are\nmarked. ENDPOINT "
            "(ADDR:PORT, ADDR, :PORT, [IPV6]:PORT) picks the\nconnection "
            "with those ends; otherwise the first.\n"
            "\n"
            "  --list               list the capture's connections and exit\n"
            "  --rules              print the rules the states are inferred "
            "by, and exit\n"
            "  --conn N             draw connection N of --list\n"
            "  --explain            annotate each segment and state change "
            "with its rule\n"
            "                       (RFC 9293)\n"
            "  --svg FILE           also write the ladder as an SVG figure\n"
            "  --full               draw every segment in the SVG (default: "
            "long runs of\n"
            "                       data and ACKs are elided)\n"
            "  --other FILE.pcap    the other end's capture: segments one "
            "end sent that\n"
            "                       the other never got are marked lost\n"
            "  --events LOG         berth's event log of this run: its "
            "states are drawn\n"
            "                       instead of inferred\n"
            "  --titles LEFT,RIGHT  the columns' names (default: "
            "client,server)\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static char titles[128];
    o->titles[0] = "client";
    o->titles[1] = "server";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        int r;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--rules")) {
            ladder_print_rules(stdout);
            return 1;
        }
        if (!strcmp(a, "--list")) {
            o->list = true;
        } else if (!strcmp(a, "--explain")) {
            o->explain = true;
        } else if (!strcmp(a, "--full")) {
            o->full = true;
        } else if ((r = opt_value(prog, argc, argv, &i, "--svg", &val))) {
            if (r < 0)
                return -1;
            o->svg = val;
        } else if ((r = opt_value(prog, argc, argv, &i, "--other", &val))) {
            if (r < 0)
                return -1;
            o->other = val;
        } else if ((r = opt_value(prog, argc, argv, &i, "--events", &val))) {
            if (r < 0)
                return -1;
            o->events = val;
        } else if ((r = opt_value(prog, argc, argv, &i, "--conn", &val))) {
            uint64_t v;
            if (r < 0 || parse_uint(prog, "--conn", val, 1, 1000000, &v))
                return -1;
            o->conn = (int)v;
        } else if ((r = opt_value(prog, argc, argv, &i, "--titles", &val))) {
            char *comma;
            if (r < 0)
                return -1;
            snprintf(titles, sizeof titles, "%s", val);
            if (!(comma = strchr(titles, ','))) {
                usage_error(prog, "--titles wants LEFT,RIGHT");
                return -1;
            }
            *comma = '\0';
            o->titles[0] = titles;
            o->titles[1] = comma + 1;
        } else if (a[0] == '-' && a[1]) {
            usage_error(prog, "unknown option '%s'", a);
            return -1;
        } else if (!o->file) {
            o->file = a;
        } else if (o->nfilter < FILTER_MAX) {
            struct cap_addr *f = &o->filter[o->nfilter];
            char buf[80];
            /* ":80" is any address, port 80. */
            snprintf(buf, sizeof buf, "%s%s", a[0] == ':' ? "0.0.0.0" : "", a);
            if (cap_addr_parse(buf, f) != 0) {
                usage_error(prog,
                            "bad endpoint '%s' (ADDR:PORT, ADDR, :PORT "
                            "or [IPV6]:PORT)",
                            a);
                return -1;
            }
            o->nfilter++;
        } else {
            usage_error(prog, "at most two endpoints pick a connection");
            return -1;
        }
    }
    if (!o->file) {
        usage_error(prog, "missing FILE.pcap");
        return -1;
    }
    return 0;
}

int cmd_ladder(int argc, char **argv)
{
    struct opts o;
    memset(&o, 0, sizeof o);
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : EXIT_USAGE;
    struct segs ss = {0};
    struct conns cs = {0};
    int rc = 1;
    if (segs_read(o.file, &ss) != 0)
        goto out;
    if (conns_split(&ss, &cs) != 0) {
        error_line(prog, "out of memory");
        goto out;
    }
    if (o.list) {
        list(stdout, &o, &cs, &ss);
        rc = 0;
        goto out;
    }
    int pick = -1, matching = 0;
    if (o.conn) {
        if (o.conn > cs.n) {
            error_line(prog, "%s has %d connection%s (see --list)", o.file,
                       cs.n, cs.n == 1 ? "" : "s");
            goto out;
        }
        pick = o.conn - 1;
    } else {
        for (int i = 0; i < cs.n; i++)
            if (conn_match(&o, &cs.v[i]) && matching++ == 0)
                pick = i;
    }
    if (pick < 0) {
        error_line(prog, "%s: no TCP connection%s", o.file,
                   o.nfilter ? " between those endpoints" : "");
        goto out;
    }
    if (matching > 1)
        fprintf(stderr,
                "%s: %d connections match; drawing the first (--list shows "
                "them, --conn N picks one)\n",
                prog, matching);
    /* The connection's segments, in the capture's order. */
    size_t n = 0;
    for (size_t i = 0; i < ss.n; i++)
        if (ss.v[i].conn == pick)
            ss.v[n++] = ss.v[i];
    if (o.other && merge_other(&o, &ss.v, &n, &cs.v[pick]) != 0)
        goto out;
    rc = draw(&o, &cs.v[pick], ss.v, n);
out:
    free(ss.v);
    free(cs.v);
    return rc;
}
