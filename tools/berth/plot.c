/* berth command: `berth plot LOG|CAPTURE` — reads berth's event log (the
 * sender's true cwnd, ssthresh and RTT estimate) or a pcap capture (all of
 * it estimated from the packets, and the figure says so), picks one
 * connection and writes its time-sequence graph as SVG (plot_svg.c), and
 * PNG through rsvg-convert when asked. */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/berth.h"
#include "capture.h"
#include "cmds.h"
#include "common.h"
#include "plot.h"

extern char **environ;

#define PLOT_MAX_CONNS 4096
#define JSON_NODES     256

void *plot_push(void **v, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        void *nv = realloc(*v, c * elem);
        if (!nv)
            return NULL;
        *v = nv;
        *cap = c;
    }
    void *e = (char *)*v + (*n)++ * elem;
    memset(e, 0, elem);
    return e;
}

void plot_free(struct plot *p)
{
    free(p->segs.v);
    free(p->acks.v);
    free(p->sacks.v);
    free(p->cc.v);
    free(p->flight.v);
    free(p->rtt.v);
    free(p->marks.v);
}

struct plot_opts {
    const char *input, *svg, *png;
    int conn; /* 0: the one that sent the most */
    bool list;
};

/* A connection as the first pass sees it. */
struct conn_sum {
    int id;
    char local[64], remote[64];
    uint64_t sent, received; /* payload bytes, by berth */
    uint32_t segs;
};

/* ---------------------------------------------------------------------- */
/* The sender's side, shared by both inputs: what a data segment and an ACK
 * add to the graph. */

struct flow {
    bool have_base;
    uint32_t base;      /* the sender's ISN */
    uint32_t max_end;   /* highest relative sequence sent, + 1 */
    int rwscale;        /* the receiver's window shift; -1: unknown */
    int ws_snd, ws_rcv; /* offered in each SYN; -2: not seen, -1: none */
    double t0;
    bool have_t0;
};

static double rel_time(struct flow *f, double t)
{
    if (!f->have_t0) {
        f->t0 = t;
        f->have_t0 = true;
    }
    return t - f->t0;
}

static void window_scale(struct flow *f)
{
    if (f->ws_snd == -2 || f->ws_rcv == -2)
        return;
    /* RFC 7323 §2.2: scaling only when both SYNs offered it. */
    f->rwscale = f->ws_snd >= 0 && f->ws_rcv >= 0
                     ? (f->ws_rcv > 14 ? 14 : f->ws_rcv)
                     : 0;
}

static int add_data(struct plot *p, struct flow *f, double t,
                    const struct berth_segment *g)
{
    if (g->flags & BERTH_TH_SYN) {
        f->base = g->seq;
        f->have_base = true;
        f->ws_snd = g->wscale;
        window_scale(f);
    }
    uint32_t span =
        g->len + !!(g->flags & BERTH_TH_SYN) + !!(g->flags & BERTH_TH_FIN);
    if (!f->have_base || span == 0)
        return 0;
    struct plot_seg *s = PLOT_PUSH(p, segs);
    if (!s)
        return -1;
    s->t = t;
    s->start = g->seq - f->base;
    s->end = s->start + span;
    s->flags = g->flags;
    s->retrans = p->segs.n > 1 && s->start < f->max_end;
    if (s->retrans) {
        p->retrans_segs++;
        p->retrans_bytes += g->len;
    } else {
        p->bytes += g->len;
    }
    if (s->end > f->max_end)
        f->max_end = s->end;
    return 0;
}

static int add_ack(struct plot *p, struct flow *f, double t,
                   const struct berth_segment *g)
{
    if (g->flags & BERTH_TH_SYN) {
        f->ws_rcv = g->wscale;
        window_scale(f);
    }
    if (!f->have_base || !(g->flags & BERTH_TH_ACK))
        return 0;
    struct plot_ack *a = PLOT_PUSH(p, acks);
    if (!a)
        return -1;
    a->t = t;
    a->ack = g->ack - f->base;
    a->has_edge = f->rwscale >= 0 || (g->flags & BERTH_TH_SYN);
    uint32_t shift =
        (g->flags & BERTH_TH_SYN) || f->rwscale < 0 ? 0 : (uint32_t)f->rwscale;
    a->edge = a->ack + ((uint32_t)g->win << shift);
    for (unsigned i = 0; i < g->sack_count && i < 4; i++) {
        struct plot_sack *s = PLOT_PUSH(p, sacks);
        if (!s)
            return -1;
        s->t = t;
        s->start = g->sack[i].start - f->base;
        s->end = g->sack[i].end - f->base;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* berth's event log. */

/* The segment of a tcp:segment_* event's data. */
static void json_segment(const struct jnode *j, int d, struct berth_segment *g)
{
    memset(g, 0, sizeof *g);
    g->wscale = -1;
    double v;
    char flags[64];
    json_str(j, json_get(j, d, "flags"), flags, sizeof flags);
    static const struct {
        const char *name;
        uint8_t bit;
    } names[] = {{"SYN", BERTH_TH_SYN}, {"FIN", BERTH_TH_FIN},
                 {"RST", BERTH_TH_RST}, {"PSH", BERTH_TH_PSH},
                 {"ACK", BERTH_TH_ACK}, {"URG", BERTH_TH_URG}};
    for (char *tok = strtok(flags, ","); tok; tok = strtok(NULL, ","))
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(tok, names[i].name))
                g->flags |= names[i].bit;
    if (json_num(j, d, "seq", &v))
        g->seq = (uint32_t)v;
    if (json_num(j, d, "ack", &v))
        g->ack = (uint32_t)v;
    if (json_num(j, d, "len", &v))
        g->len = (uint32_t)v;
    if (json_num(j, d, "win", &v))
        g->win = (uint16_t)v;
    int o = json_get(j, d, "opts");
    if (json_num(j, o, "wscale", &v))
        g->wscale = (int16_t)v;
    int sack = json_get(j, o, "sack");
    for (int b = sack >= 0 ? j[sack].child : -1; b >= 0 && g->sack_count < 4;
         b = j[b].next) {
        int s = j[b].child, e = s >= 0 ? j[s].next : -1;
        if (s < 0 || e < 0)
            continue;
        g->sack[g->sack_count].start = (uint32_t)j[s].num;
        g->sack[g->sack_count].end = (uint32_t)j[e].num;
        g->sack_count++;
    }
}

/* Each line's root, name, conn and data; false for a line to skip. */
struct line {
    struct jnode j[JSON_NODES];
    int root, data, conn;
    double time;
};

static bool line_parse(struct line *l, const char *text, size_t len)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    l->root = json_parse(text, len, l->j, JSON_NODES);
    if (l->root < 0)
        return false;
    double c;
    l->conn = json_num(l->j, l->root, "conn", &c) ? (int)c : 0;
    l->data = json_get(l->j, l->root, "data");
    return json_num(l->j, l->root, "time", &l->time);
}

static bool is_event(const struct line *l, const char *name)
{
    return json_str_is(l->j, json_get(l->j, l->root, "name"), name);
}

/* First pass: the connections, and which to draw. */
static int log_scan(FILE *f, const char *path, struct conn_sum *cs, int *ncs,
                    char *err, size_t errlen)
{
    struct line *l = malloc(sizeof *l);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    *ncs = 0;
    if (!l)
        return -1;
    while ((n = getline(&text, &cap, f)) > 0) {
        lineno++;
        if (lineno == 1) {
            l->root = json_parse(text, (size_t)n - (text[n - 1] == '\n'), l->j,
                                 JSON_NODES);
            int s = json_get(l->j, l->root, "schema");
            char schema[64];
            json_str(l->j, s, schema, sizeof schema);
            if (strncmp(schema, "berth-events/1", 14) != 0) {
                snprintf(err, errlen,
                         "%s: not a berth event log (first line has no "
                         "schema berth-events/1)",
                         path);
                rc = -1;
                break;
            }
            continue;
        }
        if (!line_parse(l, text, (size_t)n) || l->conn <= 0)
            continue;
        if (l->conn > PLOT_MAX_CONNS)
            continue;
        struct conn_sum *c = &cs[l->conn - 1];
        if (l->conn > *ncs) {
            for (int i = *ncs; i < l->conn; i++)
                cs[i] = (struct conn_sum){.id = i + 1};
            *ncs = l->conn;
        }
        if (is_event(l, "tcp:conn")) {
            json_str(l->j, json_get(l->j, l->data, "local"), c->local,
                     sizeof c->local);
            json_str(l->j, json_get(l->j, l->data, "remote"), c->remote,
                     sizeof c->remote);
        } else if (is_event(l, "tcp:segment_sent") ||
                   is_event(l, "tcp:segment_received")) {
            double len = 0;
            json_num(l->j, l->data, "len", &len);
            if (is_event(l, "tcp:segment_sent"))
                c->sent += (uint64_t)len;
            else
                c->received += (uint64_t)len;
            c->segs++;
        }
    }
    if (lineno == 0 && rc == 0) {
        snprintf(err, errlen, "%s: empty", path);
        rc = -1;
    }
    free(text);
    free(l);
    return rc;
}

static void log_event(struct plot *p, struct flow *f, const struct line *l,
                      bool berth_sends)
{
    double t = rel_time(f, l->time);
    struct berth_segment g;
    double v;
    const struct jnode *j = l->j;
    if (is_event(l, "tcp:segment_sent") ||
        is_event(l, "tcp:segment_received")) {
        json_segment(j, l->data, &g);
        bool sent = is_event(l, "tcp:segment_sent");
        if (sent == berth_sends)
            add_data(p, f, t, &g);
        else
            add_ack(p, f, t, &g);
    } else if (is_event(l, "tcp:cc") && berth_sends) {
        struct plot_cc *c = PLOT_PUSH(p, cc);
        if (!c)
            return;
        c->t = t;
        c->cwnd = json_num(j, l->data, "cwnd", &v) ? (uint32_t)v : 0;
        c->ssthresh =
            json_num(j, l->data, "ssthresh", &v) ? (uint32_t)v : UINT32_MAX;
        c->inflight = json_num(j, l->data, "inflight", &v) ? (uint32_t)v : 0;
    } else if (is_event(l, "tcp:rtt") && berth_sends) {
        struct plot_rtt *r = PLOT_PUSH(p, rtt);
        if (!r)
            return;
        r->t = t;
        r->sample = json_num(j, l->data, "sample", &v) ? v : 0;
        r->srtt = json_num(j, l->data, "srtt", &v) ? v : -1;
        r->rto = json_num(j, l->data, "rto", &v) ? v : -1;
    } else if (is_event(l, "tcp:recovery") && berth_sends) {
        int ev = json_get(j, l->data, "event");
        struct plot_mark *m = PLOT_PUSH(p, marks);
        if (!m)
            return;
        m->t = t;
        m->kind = json_str_is(j, ev, "enter") ? MARK_RECOVERY_ENTER
                                              : MARK_RECOVERY_EXIT;
    } else if (is_event(l, "tcp:timer") && berth_sends &&
               json_str_is(j, json_get(j, l->data, "action"), "fire") &&
               json_str_is(j, json_get(j, l->data, "timer"), "rto")) {
        struct plot_mark *m = PLOT_PUSH(p, marks);
        if (m) {
            m->t = t;
            m->kind = MARK_RTO;
        }
    }
}

static int pick_conn(const struct conn_sum *cs, int ncs, int want, char *err,
                     size_t errlen)
{
    if (want > 0) {
        if (want > ncs) {
            snprintf(err, errlen, "no connection %d (there are %d)", want, ncs);
            return -1;
        }
        return want;
    }
    int best = 0;
    uint64_t most = 0;
    for (int i = 0; i < ncs; i++) {
        uint64_t b = cs[i].sent > cs[i].received ? cs[i].sent : cs[i].received;
        if (best == 0 || b > most) {
            best = i + 1;
            most = b;
        }
    }
    if (best == 0)
        snprintf(err, errlen, "no connection in the log");
    return best ? best : -1;
}

static int read_log(const struct plot_opts *o, struct plot *p, char *err,
                    size_t errlen)
{
    FILE *f = fopen(o->input, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", o->input, strerror(errno));
        return -1;
    }
    struct conn_sum *cs = calloc(PLOT_MAX_CONNS, sizeof *cs);
    struct line *l = malloc(sizeof *l);
    int ncs = 0, rc = -1;
    if (!cs || !l) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (log_scan(f, o->input, cs, &ncs, err, errlen) < 0)
        goto out;
    if (o->list) {
        printf("%-5s %-22s %-22s %12s %12s %7s\n", "conn", "local", "remote",
               "sent B", "received B", "segs");
        for (int i = 0; i < ncs; i++)
            printf("%-5d %-22s %-22s %12" PRIu64 " %12" PRIu64 " %7" PRIu32
                   "\n",
                   cs[i].id, cs[i].local, cs[i].remote, cs[i].sent,
                   cs[i].received, cs[i].segs);
        rc = 0;
        goto out;
    }
    int id = pick_conn(cs, ncs, o->conn, err, errlen);
    if (id < 0)
        goto out;
    const struct conn_sum *c = &cs[id - 1];
    bool berth_sends = c->sent >= c->received;
    snprintf(p->title, sizeof p->title, "connection %d: %s %s %s", id, c->local,
             berth_sends ? "->" : "<-", c->remote);
    snprintf(p->source, sizeof p->source,
             "from berth's event log: the %s's true cwnd, ssthresh and RTT",
             berth_sends ? "sender (berth)" : "receiver (berth)");
    struct flow fl = {.rwscale = -1, .ws_snd = -2, .ws_rcv = -2};
    rewind(f);
    char *text = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&text, &cap, f)) > 0)
        if (line_parse(l, text, (size_t)n) && l->conn == id)
            log_event(p, &fl, l, berth_sends);
    free(text);
    rc = 0;
out:
    free(l);
    free(cs);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* A capture, through the ladder's reader (capture.h): pcap or pcapng; raw
 * IP, Ethernet, Linux cooked, loopback; IPv4 and IPv6. */

/* One connection of a capture: a 4-tuple from its first packet until a
 * new SYN follows a RST or FINs both ways (a reused 4-tuple, as after
 * TIME-WAIT, is another connection). */
struct cap_conn {
    struct cap_addr a, b; /* a: the first packet's source */
    uint64_t bytes[2];    /* payload a -> b, b -> a */
    uint64_t first, last; /* packet ordinals */
    uint8_t fins;         /* bit 0: a sent FIN, bit 1: b */
    bool rst;
};

/* The first pass: the connections. Their number, or -1 (err says why). */
static int cap_scan(const char *path, struct cap_conn *cc, char *err,
                    size_t errlen)
{
    struct capture *c = capture_open(path, err, errlen);
    if (!c)
        return -1;
    struct cap_packet pk;
    int ncc = 0, r;
    for (uint64_t k = 0; (r = capture_next(c, &pk, err, errlen)) == 1; k++) {
        const struct berth_segment *g = &pk.seg;
        int i;
        for (i = ncc - 1; i >= 0; i--) /* the newest of the tuple */
            if ((cap_addr_eq(&cc[i].a, &pk.src) &&
                 cap_addr_eq(&cc[i].b, &pk.dst)) ||
                (cap_addr_eq(&cc[i].a, &pk.dst) &&
                 cap_addr_eq(&cc[i].b, &pk.src)))
                break;
        bool syn = (g->flags & (BERTH_TH_SYN | BERTH_TH_ACK)) == BERTH_TH_SYN;
        if (i >= 0 && syn && (cc[i].rst || cc[i].fins == 3))
            i = -1;
        if (i < 0) {
            if (ncc == PLOT_MAX_CONNS)
                continue;
            i = ncc++;
            cc[i] = (struct cap_conn){.a = pk.src, .b = pk.dst, .first = k};
        }
        int dir = cap_addr_eq(&cc[i].a, &pk.src) ? 0 : 1;
        cc[i].bytes[dir] += g->len;
        cc[i].last = k;
        cc[i].rst |= (g->flags & BERTH_TH_RST) != 0;
        if (g->flags & BERTH_TH_FIN)
            cc[i].fins |= (uint8_t)(1u << dir);
    }
    if (r < 0)
        error_line("berth plot", "%s: %s (reading what came before)", path,
                   err);
    capture_close(c);
    return ncc;
}

/* The second pass: connection c's segments and ACKs into the plot, with
 * RTT samples from the ACKs (Karn: never from a resent segment). */
static int cap_draw(const char *path, const struct cap_conn *c,
                    const struct cap_addr *snd, const struct cap_addr *rcv,
                    struct plot *p, char *err, size_t errlen)
{
    struct capture *cap = capture_open(path, err, errlen);
    if (!cap)
        return -1;
    struct flow fl = {.rwscale = -1, .ws_snd = -2, .ws_rcv = -2};
    struct cap_packet pk;
    uint32_t max_ack = 0;
    size_t timed = 0; /* next segment that may give an RTT sample */
    for (uint64_t k = 0;
         k <= c->last && capture_next(cap, &pk, err, errlen) == 1; k++) {
        const struct berth_segment *g = &pk.seg;
        bool from_snd = cap_addr_eq(&pk.src, snd) && cap_addr_eq(&pk.dst, rcv);
        bool from_rcv = cap_addr_eq(&pk.src, rcv) && cap_addr_eq(&pk.dst, snd);
        if (k < c->first || (!from_snd && !from_rcv))
            continue;
        double rt = rel_time(&fl, (double)pk.t);
        if (from_snd) {
            add_data(p, &fl, rt, g);
            continue;
        }
        add_ack(p, &fl, rt, g);
        if (!fl.have_base || !(g->flags & BERTH_TH_ACK))
            continue;
        uint32_t ack = g->ack - fl.base;
        if (ack <= max_ack)
            continue;
        max_ack = ack;
        /* Karn: the newest segment this ACK covers, if never resent. */
        const struct plot_seg *last = NULL;
        bool resent = false;
        while (timed < p->segs.n && p->segs.v[timed].end <= ack) {
            last = &p->segs.v[timed];
            resent |= last->retrans;
            timed++;
        }
        struct plot_rtt *r = last && !resent ? PLOT_PUSH(p, rtt) : NULL;
        if (r) {
            r->t = rt;
            r->sample = rt - last->t;
            r->srtt = r->rto = -1;
        }
    }
    capture_close(cap);
    return 0;
}

static int read_capture(const struct plot_opts *o, struct plot *p, char *err,
                        size_t errlen)
{
    struct cap_conn *cc = calloc(PLOT_MAX_CONNS, sizeof *cc);
    if (!cc) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int ncc = cap_scan(o->input, cc, err, errlen), rc = -1;
    char a[64], b[64];
    if (ncc < 0)
        goto out;
    if (o->list) {
        printf("%-5s %-22s %-22s %12s %12s\n", "conn", "A", "B", "A->B B",
               "B->A B");
        for (int i = 0; i < ncc; i++)
            printf("%-5d %-22s %-22s %12" PRIu64 " %12" PRIu64 "\n", i + 1,
                   cap_addr_str(&cc[i].a, a, sizeof a),
                   cap_addr_str(&cc[i].b, b, sizeof b), cc[i].bytes[0],
                   cc[i].bytes[1]);
        rc = 0;
        goto out;
    }
    int id = o->conn;
    if (id > ncc || ncc == 0) {
        snprintf(err, errlen, "no connection %d in the capture (there are %d)",
                 id, ncc);
        goto out;
    }
    if (id <= 0) { /* the one that carried the most */
        id = 1;
        for (int i = 1; i < ncc; i++)
            if (cc[i].bytes[0] + cc[i].bytes[1] >
                cc[id - 1].bytes[0] + cc[id - 1].bytes[1])
                id = i + 1;
    }
    const struct cap_conn *c = &cc[id - 1];
    const struct cap_addr *snd = c->bytes[0] >= c->bytes[1] ? &c->a : &c->b;
    const struct cap_addr *rcv = c->bytes[0] >= c->bytes[1] ? &c->b : &c->a;
    snprintf(p->title, sizeof p->title, "connection %d: %s -> %s", id,
             cap_addr_str(snd, a, sizeof a), cap_addr_str(rcv, b, sizeof b));
    snprintf(p->source, sizeof p->source,
             "from a capture: cwnd ESTIMATED as bytes in flight, ssthresh "
             "unknown, RTT from ACKs");
    p->estimated = true;
    rc = cap_draw(o->input, c, snd, rcv, p, err, errlen);
out:
    free(cc);
    return rc;
}

/* ---------------------------------------------------------------------- */

/* Bytes in flight, as the segments and ACKs show them (SND.MAX - SND.UNA;
 * a capture has nothing better, and the log's cc events come only when the
 * window changes): both series merged in time order. */
static int plot_flight(struct plot *p)
{
    uint32_t max_end = 0, max_ack = 0;
    size_t i = 0, j = 0;
    while (i < p->segs.n || j < p->acks.n) {
        bool seg = j >= p->acks.n ||
                   (i < p->segs.n && p->segs.v[i].t <= p->acks.v[j].t);
        double t;
        if (seg) {
            t = p->segs.v[i].t;
            if (p->segs.v[i].end > max_end)
                max_end = p->segs.v[i].end;
            i++;
        } else {
            t = p->acks.v[j].t;
            if (p->acks.v[j].ack > max_ack && p->acks.v[j].ack <= max_end)
                max_ack = p->acks.v[j].ack;
            j++;
        }
        struct plot_flight *f = PLOT_PUSH(p, flight);
        if (!f)
            return -1;
        f->t = t;
        f->bytes = max_end - max_ack;
    }
    return 0;
}

static void plot_summary(const struct plot *p, FILE *out)
{
    uint32_t cmax = 0, cmin = UINT32_MAX, fmax = 0;
    for (size_t i = 0; i < p->cc.n; i++) {
        if (p->cc.v[i].cwnd > cmax)
            cmax = p->cc.v[i].cwnd;
        if (p->cc.v[i].cwnd < cmin)
            cmin = p->cc.v[i].cwnd;
    }
    for (size_t i = 0; i < p->flight.n; i++)
        fmax = p->flight.v[i].bytes > fmax ? p->flight.v[i].bytes : fmax;
    double rmin = 0, rmax = 0, rsum = 0;
    for (size_t i = 0; i < p->rtt.n; i++) {
        double s = p->rtt.v[i].sample;
        rmin = i == 0 || s < rmin ? s : rmin;
        rmax = s > rmax ? s : rmax;
        rsum += s;
    }
    size_t recov = 0, rto = 0;
    for (size_t i = 0; i < p->marks.n; i++) {
        recov += p->marks.v[i].kind == MARK_RECOVERY_ENTER;
        rto += p->marks.v[i].kind == MARK_RTO;
    }
    fprintf(out, "%s\n%s\n", p->title, p->source);
    fprintf(out,
            "  segments %zu (%" PRIu32 " retransmitted), %" PRIu64
            " bytes new, %" PRIu64 " resent, over %.3f s\n",
            p->segs.n, p->retrans_segs, p->bytes, p->retrans_bytes,
            p->tmax / 1e6);
    fprintf(out, "  ACKs %zu, SACK blocks %zu\n", p->acks.n, p->sacks.n);
    if (p->cc.n)
        fprintf(out, "  cwnd %" PRIu32 "..%" PRIu32 " bytes\n", cmin, cmax);
    fprintf(out, "  in flight at most %" PRIu32 " bytes%s\n", fmax,
            p->estimated ? " (a capture has no cwnd)" : "");
    if (p->rtt.n)
        fprintf(out, "  RTT samples %zu: %.2f / %.2f / %.2f ms (min/avg/max)\n",
                p->rtt.n, rmin / 1e3, rsum / (double)p->rtt.n / 1e3,
                rmax / 1e3);
    if (!p->estimated)
        fprintf(out, "  recoveries %zu, retransmission timeouts %zu\n", recov,
                rto);
}

/* rsvg-convert SVG -o PNG; 0, or -1 with a message. */
static int render_png(const char *svg, const char *png, char *err,
                      size_t errlen)
{
    char *argv[] = {"rsvg-convert", "-b",        "white", "-o",
                    (char *)png,    (char *)svg, NULL};
    pid_t pid;
    int r = posix_spawnp(&pid, "rsvg-convert", NULL, NULL, argv, environ);
    if (r != 0) {
        snprintf(err, errlen,
                 "cannot run rsvg-convert (%s): install librsvg2-bin for PNG",
                 strerror(r));
        return -1;
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(err, errlen, "rsvg-convert failed on %s", svg);
        return -1;
    }
    return 0;
}

static int write_svg(const struct plot *p, const char *path, char *err,
                     size_t errlen)
{
    int fd = berth_rt_create_file(path, false, err, errlen);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int r = plot_svg(p, f);
    if (fclose(f) != 0 || r != 0) {
        snprintf(err, errlen, "%s: write failed", path);
        return -1;
    }
    return 0;
}

static void plot_usage(FILE *f)
{
    fprintf(f,
            "usage: berth plot LOG|CAPTURE [--svg FILE] [--png FILE] "
            "[--conn N] [--list]\n"
            "\n"
            "Draws one connection as a time-sequence graph (Stevens/tcptrace "
            "style):\nsegments (retransmissions in red), the ACK line, the "
            "receive window's\nright edge, SACKed ranges; below it, on the "
            "same time axis, the sender's\ncongestion window and ssthresh, "
            "and its RTT samples with SRTT and RTO.\nFrom berth's event log "
            "(--events) these are berth's true values; from a\npcap capture "
            "they are estimated (cwnd as bytes in flight) and the figure\n"
            "says so. Without --svg/--png it prints a summary.\n"
            "\n"
            "  --svg FILE    write the figure (never through a symlink)\n"
            "  --png FILE    render it to PNG with rsvg-convert "
            "(librsvg2-bin)\n"
            "  --conn N      the connection to draw (default: the one that "
            "sent the most)\n"
            "  --list        list the connections\n");
}

int cmd_plot(int argc, char **argv)
{
    const char *prog = "berth plot";
    struct plot_opts o = {0};
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            plot_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--list")) {
            o.list = true;
        } else if ((r = opt_value(prog, argc, argv, &i, "--svg", &v))) {
            if (r < 0)
                return EXIT_USAGE;
            o.svg = v;
        } else if ((r = opt_value(prog, argc, argv, &i, "--png", &v))) {
            if (r < 0)
                return EXIT_USAGE;
            o.png = v;
        } else if ((r = opt_value(prog, argc, argv, &i, "--conn", &v))) {
            uint64_t n;
            if (r < 0 || parse_uint(prog, "--conn", v, 1, PLOT_MAX_CONNS, &n))
                return EXIT_USAGE;
            o.conn = (int)n;
        } else if (argv[i][0] == '-' || o.input) {
            usage_error(prog, "unexpected '%s'", argv[i]);
            return EXIT_USAGE;
        } else {
            o.input = argv[i];
        }
    }
    if (!o.input) {
        usage_error(prog, "which event log or capture?");
        return EXIT_USAGE;
    }
    struct plot p = {0};
    char err[512] = "";
    int rc = capture_sniff(o.input) ? read_capture(&o, &p, err, sizeof err)
                                    : read_log(&o, &p, err, sizeof err);
    if (rc == 0 && o.list) {
        plot_free(&p);
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < p.segs.n; i++)
        p.tmax = p.segs.v[i].t > p.tmax ? p.segs.v[i].t : p.tmax;
    for (size_t i = 0; rc == 0 && i < p.acks.n; i++)
        p.tmax = p.acks.v[i].t > p.tmax ? p.acks.v[i].t : p.tmax;
    if (rc == 0 && plot_flight(&p) < 0) {
        snprintf(err, sizeof err, "out of memory");
        rc = -1;
    }
    char tmp[300] = "";
    if (rc == 0 && o.png && !o.svg) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/berth-plot-XXXXXX.svg",
                 dir && *dir ? dir : "/tmp");
        int fd = mkstemps(tmp, 4);
        if (fd < 0) {
            snprintf(err, sizeof err, "cannot create %s", tmp);
            rc = -1;
            tmp[0] = 0;
        } else {
            close(fd);
            unlink(tmp); /* created again, safely, by write_svg */
        }
    }
    const char *svg = o.svg ? o.svg : tmp[0] ? tmp : NULL;
    if (rc == 0 && svg)
        rc = write_svg(&p, svg, err, sizeof err);
    if (rc == 0 && o.png)
        rc = render_png(svg, o.png, err, sizeof err);
    if (tmp[0])
        unlink(tmp);
    if (rc == 0 && !svg)
        plot_summary(&p, stdout);
    if (rc == 0 && svg)
        printf("%s: %s (%s)\n", o.png ? o.png : svg, p.title,
               p.estimated ? "estimated from a capture" : "berth's event log");
    if (rc != 0)
        error_line(prog, "%s", err);
    plot_free(&p);
    return rc == 0 ? 0 : 1;
}
