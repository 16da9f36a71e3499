/* berth command: the demo's ladder diagram (see ladder.h). Rows go to a
 * memory stream as events arrive; the kernel's states, when it is the left
 * side, are inferred from the segments as RFC 9293's diagram says. */
#include "ladder.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Columns: time | left states and calls | arrows | right: 95 in all. */
#define TIME_W   9
#define COL_W    14
#define MID_W    52
#define GAP_US   1000000u /* a silence this long gets a "... later ..." row */
#define PENDING  16       /* events kept from before the first SYN */
#define NOTE_MAX 40
#define QUEUE    32   /* berth's segments not yet known to be received */
#define GRACE    2000 /* us: uncontradicted for this long means received */

enum ev_kind { EV_STATE, EV_DROP, EV_APP };

/* An event seen before the connection's SYN told us its endpoints. */
struct pending {
    enum ev_kind kind;
    int side;
    struct berth_trace ev; /* EV_STATE, EV_DROP; EV_APP uses its fields */
    char what[NOTE_MAX];
};

/* What one side has sent, for relative numbers and retransmissions. */
struct flow {
    bool have_isn;
    uint32_t isn;
    uint32_t snd_max;  /* highest sequence offset sent, + SYN and FIN */
    bool lost;         /* a segment with sequence space was lost */
    uint32_t lost_off; /* the first such segment's offset */
};

struct ladder {
    bool left_inferred;
    FILE *rows;
    char *buf;
    size_t buf_len;
    bool locked;
    struct berth_endpoint cli, srv;
    struct pending pend[PENDING];
    int npend;
    struct flow flow[2];
    bool retransmitted; /* a retransmission was drawn */
    bool recovered;     /* ...of a segment the ladder saw lost */
    bool have_t0;
    uint64_t t0, last_t;
    enum berth_state state[2];
    bool opened[2], closed[2];
    uint64_t tw_since[2]; /* when TIME-WAIT was entered */
    /* Inference of the kernel's side (left_inferred). */
    bool kfin_sent, rfin_seen;
    uint32_t kfin_end; /* the kernel's FIN's sequence number + 1 */
    /* What berth sent, until the kernel's ACKs show it arrived (or GRACE
     * passes without a segment that shows it had not): segments cross on
     * the wire, and the kernel's state follows what it has received. */
    struct queued {
        uint64_t t;
        struct berth_segment seg;
    } q[QUEUE];
    int nq;
};

struct ladder *ladder_create(bool left_inferred)
{
    struct ladder *ld = calloc(1, sizeof *ld);
    if (!ld)
        return NULL;
    ld->left_inferred = left_inferred;
    ld->rows = open_memstream(&ld->buf, &ld->buf_len);
    if (!ld->rows) {
        free(ld);
        return NULL;
    }
    return ld;
}

void ladder_destroy(struct ladder *ld)
{
    if (!ld)
        return;
    if (ld->rows)
        fclose(ld->rows);
    free(ld->buf);
    free(ld);
}

/* ---------------------------------------------------------------------- */
/* Rows. */

static void print_time(struct ladder *ld, uint64_t t)
{
    if (!ld->have_t0) {
        ld->have_t0 = true;
        ld->t0 = ld->last_t = t;
        fprintf(ld->rows, "%*.3f", TIME_W, 0.0);
        return;
    }
    if (t > ld->last_t && t - ld->last_t >= GAP_US) {
        char note[48];
        int n = snprintf(note, sizeof note, "... %.3f s later ...",
                         (double)(t - ld->last_t) / 1e6);
        int pad = (MID_W - n) / 2;
        fprintf(ld->rows, "%*s  %*s |%*s%s%*s|\n", TIME_W, "", COL_W, "", pad,
                "", note, MID_W - n - pad, "");
    }
    if (t == ld->last_t)
        fprintf(ld->rows, "%*s", TIME_W, "");
    else
        fprintf(ld->rows, "%*.3f", TIME_W,
                (double)(t > ld->t0 ? t - ld->t0 : 0) / 1000.0);
    if (t > ld->last_t)
        ld->last_t = t;
}

/* One row: the left column, the middle (MID_W wide, or NULL for the two
 * timelines only), the right column. */
static void row(struct ladder *ld, uint64_t t, const char *left,
                const char *mid, const char *right)
{
    print_time(ld, t);
    fprintf(ld->rows, "  %*s |%-*s|%s%s\n", COL_W, left ? left : "", MID_W,
            mid ? mid : "", right ? " " : "", right ? right : "");
}

/* Text in the middle, centred or pushed to one side (-1 left, +1 right). */
static void mid_note(char *mid, const char *text, int align)
{
    size_t n = strlen(text);
    if (n > MID_W - 2)
        n = MID_W - 2;
    size_t at = align < 0 ? 1 : align > 0 ? MID_W - 1 - n : (MID_W - n) / 2;
    memset(mid, ' ', MID_W);
    memcpy(mid + at, text, n);
    mid[MID_W] = '\0';
}

/* An arrow from one side to the other with a label in it; a lost packet's
 * arrow stops short with an X. */
static void mid_arrow(char *mid, const char *label, int from, bool lost)
{
    int len = lost ? MID_W - 8 : MID_W;
    int n = (int)strlen(label);
    if (n > len - 6)
        n = len - 6;
    memset(mid, ' ', MID_W);
    char *a = from == 0 ? mid : mid + (MID_W - len);
    memset(a, '-', (size_t)len);
    int at = (len - n - 2) / 2;
    a[at] = ' ';
    memcpy(a + at + 1, label, (size_t)n);
    a[at + 1 + n] = ' ';
    if (from == 0)
        a[len - 1] = lost ? 'X' : '>';
    else
        a[0] = lost ? 'X' : '<';
    mid[MID_W] = '\0';
}

static void side_row(struct ladder *ld, uint64_t t, int side, const char *mid,
                     const char *text)
{
    row(ld, t, side == 0 ? text : NULL, mid, side == 1 ? text : NULL);
}

static bool ep_eq(struct berth_endpoint a, struct berth_endpoint b)
{
    return a.addr == b.addr && a.port == b.port;
}

/* ---------------------------------------------------------------------- */
/* States: from a stack's trace, or inferred for the kernel. */

static void state_row(struct ladder *ld, int side, uint64_t t,
                      enum berth_state st, enum berth_reason why, bool inferred)
{
    char name[COL_W + 1], mid[MID_W + 1], note[64];
    const char *m = NULL;
    snprintf(name, sizeof name, inferred ? "(%s)" : "%s", berth_state_name(st));
    if (st == BERTH_STATE_CLOSING) {
        mid_note(mid, "the FINs crossed: a simultaneous close",
                 side == 0 ? -1 : 1);
        m = mid;
    }
    if (why == BERTH_REASON_TIME_WAIT_EXPIRED) {
        snprintf(note, sizeof note, "TIME-WAIT over after %.3f s (2*MSL)",
                 (double)(t - ld->tw_since[side]) / 1e6);
        mid_note(mid, note, side == 0 ? -1 : 1);
        m = mid;
    }
    if (st == BERTH_STATE_TIME_WAIT)
        ld->tw_since[side] = t;
    if (st != BERTH_STATE_CLOSED && st != BERTH_STATE_LISTEN)
        ld->opened[side] = true;
    if (st == BERTH_STATE_CLOSED && ld->opened[side])
        ld->closed[side] = true;
    ld->state[side] = st;
    side_row(ld, t, side, m, name);
}

/* The kernel sent seg: RFC 9293 §3.3.2's transitions on sending. */
static void infer_sent(struct ladder *ld, uint64_t t,
                       const struct berth_segment *seg)
{
    enum berth_state k = ld->state[0], n = k;
    if (seg->flags & BERTH_TH_RST) {
        n = BERTH_STATE_CLOSED;
    } else if ((seg->flags & BERTH_TH_SYN) && !(seg->flags & BERTH_TH_ACK)) {
        if (k == BERTH_STATE_CLOSED)
            n = BERTH_STATE_SYN_SENT;
    } else if ((seg->flags & BERTH_TH_FIN) && !ld->kfin_sent) {
        ld->kfin_sent = true;
        ld->kfin_end = seg->seq + seg->len + 1;
        if (k == BERTH_STATE_ESTABLISHED)
            n = BERTH_STATE_FIN_WAIT_1;
        else if (k == BERTH_STATE_CLOSE_WAIT)
            n = BERTH_STATE_LAST_ACK;
    } else if ((seg->flags & BERTH_TH_FIN) && k == BERTH_STATE_CLOSED) {
        n = BERTH_STATE_LAST_ACK; /* its FIN again: our ACK never arrived */
    }
    if (n != k)
        state_row(ld, 0, t, n, BERTH_REASON_NONE, true);
}

/* The kernel received seg (sent by berth, not lost). */
static void infer_received(struct ladder *ld, uint64_t t,
                           const struct berth_segment *seg)
{
    enum berth_state k = ld->state[0], n = k;
    bool acks_fin = ld->kfin_sent && (seg->flags & BERTH_TH_ACK) &&
                    (int32_t)(seg->ack - ld->kfin_end) >= 0;
    if (seg->flags & BERTH_TH_RST) {
        n = BERTH_STATE_CLOSED;
    } else if ((seg->flags & BERTH_TH_SYN) && (seg->flags & BERTH_TH_ACK)) {
        if (k == BERTH_STATE_SYN_SENT)
            n = BERTH_STATE_ESTABLISHED;
    } else {
        if (acks_fin && k == BERTH_STATE_FIN_WAIT_1)
            n = BERTH_STATE_FIN_WAIT_2;
        else if (acks_fin && k == BERTH_STATE_CLOSING)
            n = BERTH_STATE_TIME_WAIT;
        else if (acks_fin && k == BERTH_STATE_LAST_ACK)
            n = BERTH_STATE_CLOSED;
        if ((seg->flags & BERTH_TH_FIN) && !ld->rfin_seen) {
            ld->rfin_seen = true;
            if (n == BERTH_STATE_ESTABLISHED)
                n = BERTH_STATE_CLOSE_WAIT;
            else if (n == BERTH_STATE_FIN_WAIT_1)
                n = BERTH_STATE_CLOSING;
            else if (n == BERTH_STATE_FIN_WAIT_2)
                n = BERTH_STATE_TIME_WAIT;
        }
    }
    if (n != k)
        state_row(ld, 0, t, n, BERTH_REASON_NONE, true);
}

static uint32_t seg_space(const struct berth_segment *seg)
{
    return seg->len + !!(seg->flags & BERTH_TH_SYN) +
           !!(seg->flags & BERTH_TH_FIN);
}

/* The kernel has received berth's first n queued segments: at time t, or
 * each at its own sending time (own). */
static void deliver(struct ladder *ld, int n, uint64_t t, bool own)
{
    for (int i = 0; i < n; i++)
        infer_received(ld, own ? ld->q[i].t : t, &ld->q[i].seg);
    memmove(ld->q, ld->q + n, (size_t)(ld->nq - n) * sizeof ld->q[0]);
    ld->nq -= n;
}

/* Segments sent GRACE ago or more, with nothing to say they were not
 * received, were. */
static void deliver_old(struct ladder *ld, uint64_t now)
{
    int n = 0;
    while (n < ld->nq && ld->q[n].t + GRACE <= now)
        n++;
    if (n > 0)
        deliver(ld, n, 0, true);
}

/* The kernel's segment acknowledges berth's up to seg->ack: everything
 * sent before the last segment it covers has arrived. */
static void deliver_acked(struct ladder *ld, const struct berth_segment *seg,
                          uint64_t now)
{
    int n = 0;
    if (!(seg->flags & BERTH_TH_ACK))
        return;
    for (int i = 0; i < ld->nq; i++) {
        const struct berth_segment *b = &ld->q[i].seg;
        uint32_t sp = seg_space(b);
        if (sp > 0 && (int32_t)(seg->ack - (b->seq + sp)) >= 0)
            n = i + 1;
    }
    deliver(ld, n, now, false);
}

static void enqueue(struct ladder *ld, uint64_t now,
                    const struct berth_segment *seg)
{
    if (ld->nq == QUEUE)
        deliver(ld, 1, 0, true);
    ld->q[ld->nq].t = now;
    ld->q[ld->nq].seg = *seg;
    ld->nq++;
}

/* ---------------------------------------------------------------------- */
/* Segments. */

static uint32_t rel(const struct flow *f, uint32_t v)
{
    return f->have_isn ? v - f->isn : v;
}

/* "GET / HTTP/1.0\r\n..." as a C string literal, cut to fit. */
static void quote(char *out, size_t size, const uint8_t *p, size_t n)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        char esc[8];
        if (p[i] == '\r' || p[i] == '\n')
            snprintf(esc, sizeof esc, "\\%c", p[i] == '\r' ? 'r' : 'n');
        else if (p[i] == '"' || p[i] == '\\')
            snprintf(esc, sizeof esc, "\\%c", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            snprintf(esc, sizeof esc, "%c", p[i]);
        else
            snprintf(esc, sizeof esc, "\\x%02x", p[i]);
        size_t el = strlen(esc);
        if (o + el + 5 > size) {
            strcpy(out + o, "\"...");
            return;
        }
        memcpy(out + o, esc, el);
        o += el;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static void details(const struct berth_segment *seg, const uint8_t *payload,
                    bool retx, bool lost, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
#define ADD(...)                                                               \
    do {                                                                       \
        if (o < size)                                                          \
            o += (size_t)snprintf(out + o, size - o, __VA_ARGS__);             \
    } while (0)
    if (retx)
        ADD("[retransmission] ");
    if (lost)
        ADD("[lost] ");
    if (seg->flags & BERTH_TH_SYN) {
        ADD("win=%u", seg->win);
        if (seg->mss)
            ADD(" mss=%u", seg->mss);
        if (seg->sack_ok)
            ADD(" sack_ok");
        if (seg->has_ts)
            ADD(" ts");
        if (seg->wscale >= 0)
            ADD(" wscale=%d", seg->wscale);
    }
    if (seg->len > 0 && o + 8 < size) {
        if (o > 0)
            ADD(" ");
        quote(out + o, size - o, payload, seg->len);
    }
#undef ADD
}

static void draw_segment(struct ladder *ld, int from, uint64_t now,
                         const struct berth_segment *seg,
                         const uint8_t *payload, bool lost)
{
    struct flow *mine = &ld->flow[from], *peer = &ld->flow[1 - from];
    char label[96], flags[40], det[MID_W - 3], mid[MID_W + 1];
    if ((seg->flags & BERTH_TH_SYN) && !mine->have_isn) {
        mine->have_isn = true;
        mine->isn = seg->seq;
    }
    uint32_t off = seg->seq - mine->isn;
    uint32_t end = off + seg_space(seg);
    /* Sequence space below what was sent already: a retransmission. */
    bool retx = end != off && (int32_t)(off - mine->snd_max) < 0;
    if ((int32_t)(end - mine->snd_max) > 0)
        mine->snd_max = end;
    if (lost && end != off && !mine->lost) {
        mine->lost = true;
        mine->lost_off = off;
    } else if (retx && !lost) {
        ld->retransmitted = true;
        if (mine->lost && (int32_t)(off - mine->lost_off) <= 0 &&
            (int32_t)(end - mine->lost_off) > 0)
            ld->recovered = true;
    }

    berth_flags_string(seg->flags, flags, sizeof flags);
    int n = snprintf(label, sizeof label, "%s seq=%" PRIu32, flags,
                     rel(mine, seg->seq));
    if (seg->flags & BERTH_TH_ACK)
        n += snprintf(label + n, sizeof label - (size_t)n, " ack=%" PRIu32,
                      rel(peer, seg->ack));
    if (seg->len > 0)
        snprintf(label + n, sizeof label - (size_t)n, " len=%" PRIu32,
                 seg->len);
    mid_arrow(mid, label, from, lost);
    row(ld, now, NULL, mid, NULL);
    details(seg, payload, retx, lost, det, sizeof det);
    if (det[0]) {
        mid_note(mid, det, 0);
        row(ld, now, NULL, mid, NULL);
    }
}

/* ---------------------------------------------------------------------- */
/* Which events belong to the ladder's connection. */

/* A trace or call on side's socket with these endpoints. Before the lock,
 * a client call whose port is not chosen yet (connect()) matches too. */
static bool matches(const struct ladder *ld, int side,
                    struct berth_endpoint local, struct berth_endpoint remote,
                    bool prelock)
{
    if (side == 0)
        return ep_eq(remote, ld->srv) &&
               (ep_eq(local, ld->cli) || (prelock && local.port == 0));
    return local.port == ld->srv.port && ep_eq(remote, ld->cli) &&
           (local.addr == 0 || local.addr == ld->srv.addr);
}

/* The server's listener opening, shown before the connection. */
static bool is_listen(const struct ladder *ld, int side,
                      const struct berth_trace *ev)
{
    return side == 1 && ev->kind == BERTH_TRACE_STATE &&
           ev->new_state == BERTH_STATE_LISTEN &&
           ev->local.port == ld->srv.port && ev->remote.addr == 0;
}

static void drop_row(struct ladder *ld, int side, const struct berth_trace *ev)
{
    char mid[MID_W + 1], note[64];
    snprintf(note, sizeof note, "%sdropped: %s%s", side == 0 ? "<- " : "",
             berth_reason_name(ev->reason), side == 1 ? " ->" : "");
    mid_note(mid, note, side == 0 ? -1 : 1);
    row(ld, ev->now, NULL, mid, NULL);
}

static void emit(struct ladder *ld, const struct pending *p)
{
    char mid[MID_W + 1];
    if (p->kind == EV_APP) {
        side_row(ld, p->ev.now, p->side, NULL, p->what);
    } else if (p->kind == EV_DROP) {
        drop_row(ld, p->side, &p->ev);
    } else if (is_listen(ld, p->side, &p->ev)) {
        mid_note(mid, "(listening socket)", 1);
        side_row(ld, p->ev.now, 1, mid, "LISTEN");
    } else {
        state_row(ld, p->side, p->ev.now, p->ev.new_state, p->ev.reason, false);
    }
}

static void add_pending(struct ladder *ld, enum ev_kind kind, int side,
                        const struct berth_trace *ev, const char *what)
{
    if (ld->npend == PENDING) { /* only the last moments before the SYN
                                   matter: forget the oldest */
        memmove(ld->pend, ld->pend + 1, (PENDING - 1) * sizeof ld->pend[0]);
        ld->npend--;
    }
    struct pending *p = &ld->pend[ld->npend++];
    p->kind = kind;
    p->side = side;
    p->ev = *ev;
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
}

/* The first SYN: now the connection is known; replay what led to it. */
static void lock(struct ladder *ld, struct berth_endpoint cli,
                 struct berth_endpoint srv)
{
    ld->locked = true;
    ld->cli = cli;
    ld->srv = srv;
    for (int i = 0; i < ld->npend; i++) {
        const struct pending *p = &ld->pend[i];
        if (is_listen(ld, p->side, &p->ev) ||
            matches(ld, p->side, p->ev.local, p->ev.remote, true))
            emit(ld, p);
    }
    ld->npend = 0;
}

void ladder_packet(struct ladder *ld, int from, uint64_t now,
                   const uint8_t *pkt, size_t len, bool lost)
{
    struct berth_segment seg;
    if (berth_decode(pkt, len, &seg) != 0 || seg.len > len)
        return;
    if (!ld->locked) {
        if (from != 0 ||
            (seg.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) != BERTH_TH_SYN)
            return;
        lock(ld, seg.src, seg.dst);
    }
    struct berth_endpoint a = from == 0 ? ld->cli : ld->srv;
    struct berth_endpoint b = from == 0 ? ld->srv : ld->cli;
    if (!ep_eq(seg.src, a) || !ep_eq(seg.dst, b))
        return;
    if (ld->left_inferred)
        deliver_old(ld, now);
    if (ld->left_inferred && from == 0) {
        deliver_acked(ld, &seg, now);
        infer_sent(ld, now, &seg);
    }
    draw_segment(ld, from, now, &seg, pkt + (len - seg.len), lost);
    if (ld->left_inferred && from == 1 && !lost)
        enqueue(ld, now, &seg);
}

void ladder_trace(struct ladder *ld, int side, const struct berth_trace *ev)
{
    enum ev_kind kind = ev->kind == BERTH_TRACE_STATE ? EV_STATE : EV_DROP;
    if (!ld->locked) {
        add_pending(ld, kind, side, ev, NULL);
        return;
    }
    if (!matches(ld, side, ev->local, ev->remote, false))
        return;
    deliver_old(ld, ev->now);
    struct pending p = {.kind = kind, .side = side, .ev = *ev};
    emit(ld, &p);
}

void ladder_app(struct ladder *ld, int side, uint64_t now,
                struct berth_endpoint local, struct berth_endpoint remote,
                const char *what)
{
    struct berth_trace ev = {.now = now, .local = local, .remote = remote};
    if (!ld->locked) {
        add_pending(ld, EV_APP, side, &ev, what);
        return;
    }
    if (!matches(ld, side, local, remote, false))
        return;
    deliver_old(ld, now);
    side_row(ld, now, side, NULL, what);
}

bool ladder_endpoints(const struct ladder *ld, struct berth_endpoint *client,
                      struct berth_endpoint *server)
{
    if (client)
        *client = ld->cli;
    if (server)
        *server = ld->srv;
    return ld->locked;
}

bool ladder_closed(const struct ladder *ld, int side)
{
    return ld->closed[side];
}

void ladder_print(struct ladder *ld, FILE *out, const char *left_title,
                  const char *right_title)
{
    char a[32], b[32];
    deliver(ld, ld->nq, 0, true);
    fflush(ld->rows);
    fprintf(out, "%*s  %*s |%*s| %s\n", TIME_W, "time ms", COL_W, left_title,
            MID_W, "", right_title);
    if (ld->locked)
        fprintf(out, "%*s |%*s| %s\n", TIME_W + 2 + COL_W,
                ep_str(ld->cli, a, sizeof a), MID_W, "",
                ep_str(ld->srv, b, sizeof b));
    fprintf(out, "%*s |%*s|\n", TIME_W + 2 + COL_W, "", MID_W, "");
    fwrite(ld->buf, 1, ld->buf_len, out);
}

/* ---------------------------------------------------------------------- */
/* One ladder per connection, to draw the one that shows most. */

struct ladders {
    bool left_inferred;
    int n; /* v[n - 1] is the spare: not locked yet */
    struct ladder *v[LADDERS_MAX];
};

struct ladders *ladders_create(bool left_inferred)
{
    struct ladders *ls = calloc(1, sizeof *ls);
    if (ls && !(ls->v[0] = ladder_create(left_inferred))) {
        free(ls);
        return NULL;
    }
    if (ls) {
        ls->n = 1;
        ls->left_inferred = left_inferred;
    }
    return ls;
}

void ladders_destroy(struct ladders *ls)
{
    if (!ls)
        return;
    for (int i = 0; i < ls->n; i++)
        ladder_destroy(ls->v[i]);
    free(ls);
}

/* A SYN from the left that no ladder follows yet: a new connection. */
static bool new_connection(const struct ladders *ls, const uint8_t *pkt,
                           size_t len, int from)
{
    struct berth_segment seg;
    if (from != 0 || berth_decode(pkt, len, &seg) != 0 ||
        (seg.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) != BERTH_TH_SYN)
        return false;
    for (int i = 0; i < ls->n; i++) {
        struct berth_endpoint c, s;
        if (ladder_endpoints(ls->v[i], &c, &s) && ep_eq(c, seg.src) &&
            ep_eq(s, seg.dst))
            return false;
    }
    return true;
}

void ladders_packet(struct ladders *ls, int from, uint64_t now,
                    const uint8_t *pkt, size_t len, bool lost)
{
    struct ladder *spare = ls->v[ls->n - 1];
    bool fresh = !spare->locked && new_connection(ls, pkt, len, from);
    for (int i = 0; i < ls->n; i++)
        if (ls->v[i]->locked || (ls->v[i] == spare && fresh))
            ladder_packet(ls->v[i], from, now, pkt, len, lost);
    if (spare->locked && ls->n < LADDERS_MAX &&
        (ls->v[ls->n] = ladder_create(ls->left_inferred)))
        ls->n++;
}

void ladders_trace(struct ladders *ls, int side, const struct berth_trace *ev)
{
    for (int i = 0; i < ls->n; i++)
        ladder_trace(ls->v[i], side, ev);
}

void ladders_app(struct ladders *ls, int side, uint64_t now,
                 struct berth_endpoint local, struct berth_endpoint remote,
                 const char *what)
{
    for (int i = 0; i < ls->n; i++)
        ladder_app(ls->v[i], side, now, local, remote, what);
}

struct ladder *ladders_first(const struct ladders *ls)
{
    return ls->v[0];
}

int ladders_pick(const struct ladders *ls, int *count, const char **why)
{
    int locked = 0, pick = -1, retx = -1;
    /* The shortest of each kind: a ladder is read, not scrolled. */
    for (int i = 0; i < ls->n; i++) {
        struct ladder *ld = ls->v[i];
        if (!ld->locked)
            continue;
        locked++;
        fflush(ld->rows);
        if (ld->recovered && (pick < 0 || ld->buf_len < ls->v[pick]->buf_len))
            pick = i;
        if (ld->retransmitted &&
            (retx < 0 || ld->buf_len < ls->v[retx]->buf_len))
            retx = i;
    }
    *count = locked;
    *why = NULL;
    if (pick >= 0)
        *why = "it shows a lost segment and its retransmission";
    else if (retx >= 0)
        *why = "it shows a retransmission", pick = retx;
    return pick >= 0 ? pick : 0;
}

struct ladder *ladders_get(const struct ladders *ls, int i)
{
    return ls->v[i];
}
