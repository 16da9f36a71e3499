/* berth command: the ladder model (see ladder.h) and its text rendering.
 * Segments, states and calls become rows as they arrive; a side that is not
 * a berth stack has its states inferred from the segments, as RFC 9293's
 * state diagram says, once the segments it received are known. */
#include "ladder_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define COL_W   LADDER_COL_W
#define MID_W   LADDER_MID_W
#define TIME_W  9
#define PENDING 16   /* events kept from before the first SYN */
#define QUEUE   64   /* segments not yet known to be received */
#define GRACE   2000 /* us: uncontradicted for this long means received */
#define RANGES  32   /* sequence ranges remembered per side */

enum ev_kind { EV_STATE, EV_DROP, EV_APP };

/* An event seen before the connection's SYN told us its endpoints. */
struct pending {
    enum ev_kind kind;
    int side;
    struct berth_trace ev; /* EV_STATE, EV_DROP; EV_APP uses its fields */
    char what[40];
};

/* What one side has sent, for relative numbers, retransmissions and
 * out-of-order segments. Offsets are relative to the ISN. */
struct flow {
    bool have_isn;
    uint32_t isn;
    int wscale;              /* its SYN's window scale, -1 if none */
    uint32_t snd_max;        /* highest offset sent, + SYN and FIN */
    uint32_t snd_max_before; /* ...before the segment being drawn */
    uint64_t max_t;          /* when snd_max last grew */
    bool synack_sent;        /* a SYN,ACK was seen from this side */
    bool lost;               /* a segment with sequence space was lost */
    uint32_t lost_off;       /* the first such segment's offset */
    struct {
        uint32_t lo, hi;
    } seen[RANGES]; /* sequence space seen sent, merged, sorted */
    int nseen;
    bool fin;         /* a FIN was seen... */
    uint32_t fin_off; /* ...at this offset */
    bool acked;       /* an ACK was sent: last_ack, last_win */
    uint32_t last_ack;
    uint16_t last_win;
};

/* Inference of one side's state (when not given). */
struct infer {
    bool on;
    bool fin_sent, fin_seen;
    uint32_t fin_end; /* its FIN's sequence number + 1 */
    bool syn_sent;
    uint32_t syn_end; /* its SYN's sequence number + 1 */
    /* What the other side sent, until this side's ACKs show it arrived (or
     * the grace passes without a segment that shows it had not): segments
     * cross on the wire, and a state follows what was received. */
    struct queued {
        uint64_t t;
        struct berth_segment seg;
    } q[QUEUE];
    int nq;
};

struct ladder {
    struct ladder_opts o;
    struct lrow *rows;
    size_t nrows, cap;
    bool locked;
    struct cap_addr cli, srv;
    struct pending pend[PENDING];
    int npend;
    struct flow flow[2];
    struct infer inf[2];
    size_t segments, lost;
    bool retransmitted; /* a retransmission was drawn */
    bool recovered;     /* ...of a segment the ladder saw lost */
    enum berth_state state[2];
    bool opened[2], closed[2];
    uint64_t tw_since[2]; /* when TIME-WAIT was entered */
    uint64_t last_t;
};

struct ladder *ladder_new(const struct ladder_opts *o)
{
    struct ladder *ld = calloc(1, sizeof *ld);
    if (!ld)
        return NULL;
    ld->o = *o;
    if (!ld->o.grace)
        ld->o.grace = GRACE;
    ld->inf[0].on = o->infer[0];
    ld->inf[1].on = o->infer[1];
    ld->flow[0].wscale = ld->flow[1].wscale = -1;
    return ld;
}

struct ladder *ladder_create(bool left_inferred)
{
    struct ladder_opts o = {.infer = {left_inferred, false}};
    return ladder_new(&o);
}

void ladder_destroy(struct ladder *ld)
{
    if (!ld)
        return;
    free(ld->rows);
    free(ld);
}

/* ---------------------------------------------------------------------- */
/* Rows. */

static struct lrow *row_add(struct ladder *ld, uint64_t t)
{
    if (ld->nrows == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 64;
        struct lrow *r = realloc(ld->rows, cap * sizeof *r);
        if (!r)
            return NULL;
        ld->rows = r;
        ld->cap = cap;
    }
    struct lrow *r = &ld->rows[ld->nrows++];
    memset(r, 0, sizeof *r);
    /* Rows stay in time order even when an inferred state is placed at the
     * time its segment was sent. */
    r->t = t < ld->last_t ? ld->last_t : t;
    ld->last_t = r->t;
    return r;
}

/* text into a column, cut to fit (a call's name is short; the cut is
 * deliberate, not an accident snprintf should warn of). */
static void side_text(char *dst, size_t size, const char *text)
{
    size_t n = strlen(text);
    if (n >= size)
        n = size - 1;
    memcpy(dst, text, n);
    dst[n] = '\0';
}

static void side_row(struct ladder *ld, uint64_t t, int side, const char *text)
{
    struct lrow *r = row_add(ld, t);
    if (r)
        side_text(r->side[side], sizeof r->side[side], text);
}

static void note_row(struct ladder *ld, uint64_t t, int align, bool explain,
                     const char *text)
{
    struct lrow *r = row_add(ld, t);
    if (!r)
        return;
    r->mid = MID_NOTE;
    r->dir = align;
    r->explain = explain;
    snprintf(r->text, sizeof r->text, "%s", text);
}

static bool ep_eq(const struct cap_addr *a, const struct cap_addr *b)
{
    return cap_addr_eq(a, b);
}

/* The one place that reads berth's endpoint type. */
static struct cap_addr ep_from(struct berth_endpoint e)
{
    if (e.family != BERTH_AF_INET6)
        return cap_addr_v4(e.addr, e.port);
    struct cap_addr a = {.fam = 6, .port = e.port};
    memcpy(a.a, e.addr6, 16);
    return a;
}

static bool ep_any_addr(const struct cap_addr *a)
{
    static const uint8_t zero[16];
    return !memcmp(a->a, zero, sizeof zero);
}

/* ---------------------------------------------------------------------- */
/* States: given (a trace, an event log) or inferred. */

static void state_row(struct ladder *ld, int side, uint64_t t,
                      enum berth_state st, enum berth_reason why, bool inferred,
                      const char *rule)
{
    char note[96];
    const char *m = NULL;
    if (st == BERTH_STATE_CLOSING && !ld->o.explain)
        m = "the FINs crossed: a simultaneous close";
    if (why == BERTH_REASON_TIME_WAIT_EXPIRED) {
        snprintf(note, sizeof note, "TIME-WAIT over after %.3f s (2*MSL)",
                 (double)(t - ld->tw_since[side]) / 1e6);
        m = note;
    }
    if (st == BERTH_STATE_TIME_WAIT)
        ld->tw_since[side] = t;
    if (st != BERTH_STATE_CLOSED && st != BERTH_STATE_LISTEN)
        ld->opened[side] = true;
    if (st == BERTH_STATE_CLOSED && ld->opened[side])
        ld->closed[side] = true;
    ld->state[side] = st;
    struct lrow *r = row_add(ld, t);
    if (!r)
        return;
    snprintf(r->side[side], sizeof r->side[side], inferred ? "(%s)" : "%s",
             berth_state_name(st));
    r->state[side] = true;
    r->inferred[side] = inferred;
    if (m || (rule && ld->o.explain)) {
        r->mid = MID_NOTE;
        r->dir = side == 0 ? -1 : 1;
        r->explain = !m;
        snprintf(r->text, sizeof r->text, "%s", m ? m : rule);
    }
}

void ladder_state(struct ladder *ld, int side, uint64_t now,
                  enum berth_state st, bool inferred, const char *note)
{
    state_row(ld, side, now, st, BERTH_REASON_NONE, inferred, NULL);
    if (note)
        note_row(ld, now, side == 0 ? -1 : 1, false, note);
}

/* ---------------------------------------------------------------------- */
/* The inference rules: RFC 9293's state diagram (§3.3.2) as seen from the
 * wire, one screen. An end in a state of `from` that sends or receives
 * `ev` goes to `to`; the first matching rule applies. */

enum infer_ev {
    SND_SYN,            /* a SYN without ACK */
    SND_SYN_ACK,        /* a SYN,ACK */
    SND_FIN,            /* its first FIN */
    SND_FIN_AGAIN,      /* its FIN again */
    SND_RST,            /* a RST */
    RCV_SYN,            /* a SYN without ACK */
    RCV_SYN_ACK,        /* a SYN,ACK acknowledging our SYN */
    RCV_ACK_OF_SYN,     /* an ACK covering our SYN */
    RCV_ACK_OF_FIN,     /* an ACK covering our FIN */
    RCV_FIN,            /* the peer's FIN */
    RCV_FIN_ACK_OF_FIN, /* the peer's FIN with the ACK of ours */
    RCV_RST,            /* a RST (taken as in window) */
    RCV_RST_ACK_OF_SYN, /* a RST acknowledging our SYN */
};

#define ST(x) (1u << BERTH_STATE_##x)
#define SYNCHRONIZED                                                           \
    (ST(SYN_RECEIVED) | ST(ESTABLISHED) | ST(FIN_WAIT_1) | ST(FIN_WAIT_2) |    \
     ST(CLOSE_WAIT) | ST(CLOSING) | ST(LAST_ACK) | ST(TIME_WAIT))

static const struct infer_rule {
    unsigned from; /* ST() mask */
    enum infer_ev ev;
    enum berth_state to;
    const char *why; /* --explain */
} RULES[] = {
    {ST(CLOSED), SND_SYN, BERTH_STATE_SYN_SENT,
     "sent SYN (active OPEN) -> SYN-SENT (RFC 9293 §3.10.1)"},
    {ST(LISTEN) | ST(CLOSED), SND_SYN_ACK, BERTH_STATE_SYN_RECEIVED,
     "sent SYN,ACK: a SYN arrived in LISTEN -> SYN-RECEIVED "
     "(RFC 9293 §3.10.7.2)"},
    {ST(ESTABLISHED) | ST(SYN_RECEIVED), SND_FIN, BERTH_STATE_FIN_WAIT_1,
     "sent FIN (CLOSE) -> FIN-WAIT-1 (RFC 9293 §3.10.4)"},
    {ST(CLOSE_WAIT), SND_FIN, BERTH_STATE_LAST_ACK,
     "sent FIN (CLOSE) in CLOSE-WAIT -> LAST-ACK (RFC 9293 §3.10.4)"},
    {ST(CLOSED), SND_FIN_AGAIN, BERTH_STATE_LAST_ACK,
     "its FIN again: the ACK of it was lost, so still LAST-ACK "
     "(RFC 9293 §3.10.7.4 eighth)"},
    {~0u, SND_RST, BERTH_STATE_CLOSED,
     "sent RST: the connection is aborted -> CLOSED "
     "(RFC 9293 §3.10.5, §3.10.7.1)"},
    {ST(LISTEN), RCV_SYN, BERTH_STATE_SYN_RECEIVED,
     "SYN in LISTEN -> SYN-RECEIVED (RFC 9293 §3.10.7.2)"},
    {ST(SYN_SENT), RCV_SYN, BERTH_STATE_SYN_RECEIVED,
     "SYN without ACK in SYN-SENT: a simultaneous open -> SYN-RECEIVED "
     "(RFC 9293 §3.10.7.3)"},
    {ST(SYN_SENT), RCV_SYN_ACK, BERTH_STATE_ESTABLISHED,
     "SYN,ACK acknowledging our SYN in SYN-SENT -> ESTABLISHED "
     "(RFC 9293 §3.10.7.3)"},
    {ST(SYN_RECEIVED), RCV_SYN_ACK, BERTH_STATE_ESTABLISHED,
     "SYN,ACK acknowledging our SYN in SYN-RECEIVED (a simultaneous open) "
     "-> ESTABLISHED (RFC 9293 §3.10.7.4 fifth)"},
    {ST(SYN_RECEIVED), RCV_ACK_OF_SYN, BERTH_STATE_ESTABLISHED,
     "ACK of our SYN in SYN-RECEIVED -> ESTABLISHED "
     "(RFC 9293 §3.10.7.4 fifth)"},
    {ST(FIN_WAIT_1), RCV_ACK_OF_FIN, BERTH_STATE_FIN_WAIT_2,
     "ACK of our FIN in FIN-WAIT-1 -> FIN-WAIT-2 (RFC 9293 §3.10.7.4 fifth)"},
    {ST(CLOSING), RCV_ACK_OF_FIN, BERTH_STATE_TIME_WAIT,
     "ACK of our FIN in CLOSING -> TIME-WAIT (RFC 9293 §3.10.7.4 fifth)"},
    {ST(LAST_ACK), RCV_ACK_OF_FIN, BERTH_STATE_CLOSED,
     "ACK of our FIN in LAST-ACK -> CLOSED (RFC 9293 §3.10.7.4 fifth)"},
    {ST(FIN_WAIT_1), RCV_FIN_ACK_OF_FIN, BERTH_STATE_TIME_WAIT,
     "FIN in FIN-WAIT-1 with ACK of our FIN -> TIME-WAIT "
     "(RFC 9293 §3.10.7.4 eighth)"},
    {ST(ESTABLISHED) | ST(SYN_RECEIVED), RCV_FIN, BERTH_STATE_CLOSE_WAIT,
     "FIN in ESTABLISHED -> CLOSE-WAIT (RFC 9293 §3.10.7.4 eighth)"},
    {ST(FIN_WAIT_1), RCV_FIN, BERTH_STATE_CLOSING,
     "FIN in FIN-WAIT-1 without ACK of our FIN: the FINs crossed -> "
     "CLOSING (RFC 9293 §3.10.7.4 eighth)"},
    {ST(FIN_WAIT_2), RCV_FIN, BERTH_STATE_TIME_WAIT,
     "FIN in FIN-WAIT-2 -> TIME-WAIT (RFC 9293 §3.10.7.4 eighth)"},
    {ST(SYN_SENT), RCV_RST_ACK_OF_SYN, BERTH_STATE_CLOSED,
     "RST with an acceptable ACK in SYN-SENT: connection refused -> "
     "CLOSED (RFC 9293 §3.10.7.3)"},
    {SYNCHRONIZED, RCV_RST, BERTH_STATE_CLOSED,
     "RST in window: connection reset -> CLOSED (RFC 9293 §3.10.7.4 "
     "second)"},
};
#define NRULES (sizeof RULES / sizeof RULES[0])

/* Applies the rule for side s's state and ev, if any: true if one did. */
static bool infer_apply(struct ladder *ld, int s, uint64_t t, enum infer_ev ev)
{
    for (size_t i = 0; i < NRULES; i++) {
        const struct infer_rule *r = &RULES[i];
        if (r->ev != ev || !(r->from & (1u << ld->state[s])))
            continue;
        if (r->to != ld->state[s])
            state_row(ld, s, t, r->to, BERTH_REASON_NONE, true, r->why);
        return true;
    }
    return false;
}

void ladder_print_rules(FILE *out)
{
    for (size_t i = 0; i < NRULES; i++)
        fprintf(out, "%s\n", RULES[i].why);
}

/* Side s sent seg. */
static void infer_sent(struct ladder *ld, int s, uint64_t t,
                       const struct berth_segment *seg)
{
    struct infer *in = &ld->inf[s];
    if (seg->flags & BERTH_TH_RST) {
        infer_apply(ld, s, t, SND_RST);
    } else if (seg->flags & BERTH_TH_SYN) {
        in->syn_sent = true;
        in->syn_end = seg->seq + 1;
        infer_apply(ld, s, t,
                    seg->flags & BERTH_TH_ACK ? SND_SYN_ACK : SND_SYN);
    } else if ((seg->flags & BERTH_TH_FIN) && !in->fin_sent) {
        in->fin_sent = true;
        in->fin_end = seg->seq + seg->len + 1;
        infer_apply(ld, s, t, SND_FIN);
    } else if (seg->flags & BERTH_TH_FIN) {
        infer_apply(ld, s, t, SND_FIN_AGAIN);
    }
}

/* Side s received seg (sent by the other side, not lost): §3.10.7's
 * checks in order — RST, SYN, ACK, FIN. */
static void infer_received(struct ladder *ld, int s, uint64_t t,
                           const struct berth_segment *seg)
{
    struct infer *in = &ld->inf[s];
    bool ack = seg->flags & BERTH_TH_ACK;
    bool acks_syn =
        in->syn_sent && ack && (int32_t)(seg->ack - in->syn_end) >= 0;
    bool acks_fin =
        in->fin_sent && ack && (int32_t)(seg->ack - in->fin_end) >= 0;
    if (seg->flags & BERTH_TH_RST) {
        if (!acks_syn || !infer_apply(ld, s, t, RCV_RST_ACK_OF_SYN))
            infer_apply(ld, s, t, RCV_RST);
        return;
    }
    if (seg->flags & BERTH_TH_SYN) {
        if (!ack || acks_syn)
            infer_apply(ld, s, t, ack ? RCV_SYN_ACK : RCV_SYN);
        return;
    }
    bool fin = (seg->flags & BERTH_TH_FIN) && !in->fin_seen;
    in->fin_seen |= fin;
    /* A FIN that also acknowledges ours: one rule for both. */
    if (fin && acks_fin && infer_apply(ld, s, t, RCV_FIN_ACK_OF_FIN))
        return;
    if (acks_syn)
        infer_apply(ld, s, t, RCV_ACK_OF_SYN);
    if (acks_fin)
        infer_apply(ld, s, t, RCV_ACK_OF_FIN);
    if (fin)
        infer_apply(ld, s, t, RCV_FIN);
}

static uint32_t seg_space(const struct berth_segment *seg)
{
    return seg->len + !!(seg->flags & BERTH_TH_SYN) +
           !!(seg->flags & BERTH_TH_FIN);
}

/* Side s has received the other's first n queued segments: at time t, or
 * each at its own sending time (own). */
static void deliver(struct ladder *ld, int s, int n, uint64_t t, bool own)
{
    struct infer *in = &ld->inf[s];
    for (int i = 0; i < n; i++)
        infer_received(ld, s, own ? in->q[i].t : t, &in->q[i].seg);
    memmove(in->q, in->q + n, (size_t)(in->nq - n) * sizeof in->q[0]);
    in->nq -= n;
}

/* Segments sent a grace ago or more, with nothing to say they were not
 * received, were. */
static void deliver_old(struct ladder *ld, uint64_t now)
{
    for (int s = 0; s < 2; s++) {
        int n = 0;
        while (n < ld->inf[s].nq && ld->inf[s].q[n].t + ld->o.grace <= now)
            n++;
        if (n > 0)
            deliver(ld, s, n, 0, true);
    }
}

/* Side s's segment acknowledges the other's up to seg->ack: everything
 * sent before the last segment it covers has arrived. */
static void deliver_acked(struct ladder *ld, int s,
                          const struct berth_segment *seg, uint64_t now)
{
    struct infer *in = &ld->inf[s];
    int n = 0;
    if (!(seg->flags & BERTH_TH_ACK))
        return;
    for (int i = 0; i < in->nq; i++) {
        const struct berth_segment *b = &in->q[i].seg;
        uint32_t sp = seg_space(b);
        if (sp > 0 && (int32_t)(seg->ack - (b->seq + sp)) >= 0)
            n = i + 1;
    }
    deliver(ld, s, n, now, false);
}

static void enqueue(struct ladder *ld, int s, uint64_t now,
                    const struct berth_segment *seg)
{
    struct infer *in = &ld->inf[s];
    if (ld->o.near[s]) {
        infer_received(ld, s, now, seg);
        return;
    }
    if (in->nq == QUEUE)
        deliver(ld, s, 1, 0, true);
    in->q[in->nq].t = now;
    in->q[in->nq].seg = *seg;
    in->nq++;
}

static void deliver_all(struct ladder *ld)
{
    for (int s = 0; s < 2; s++)
        deliver(ld, s, ld->inf[s].nq, 0, true);
}

/* ---------------------------------------------------------------------- */
/* Segments. */

static uint32_t rel(const struct flow *f, uint32_t v)
{
    return f->have_isn ? v - f->isn : v;
}

/* Records [lo, hi) as seen; true if any of it was seen before. */
static bool seen_add(struct flow *f, uint32_t lo, uint32_t hi)
{
    bool overlap = false;
    int i = 0;
    for (; i < f->nseen; i++)
        if ((int32_t)(hi - f->seen[i].lo) > 0 &&
            (int32_t)(f->seen[i].hi - lo) > 0)
            overlap = true;
    /* Merge with every range it touches, then insert in order. */
    for (i = 0; i < f->nseen;) {
        if ((int32_t)(hi - f->seen[i].lo) >= 0 &&
            (int32_t)(f->seen[i].hi - lo) >= 0) {
            if ((int32_t)(f->seen[i].lo - lo) < 0)
                lo = f->seen[i].lo;
            if ((int32_t)(f->seen[i].hi - hi) > 0)
                hi = f->seen[i].hi;
            memmove(f->seen + i, f->seen + i + 1,
                    (size_t)(f->nseen - i - 1) * sizeof f->seen[0]);
            f->nseen--;
        } else {
            i++;
        }
    }
    if (f->nseen == RANGES) { /* forget the oldest hole */
        f->seen[1].lo = f->seen[0].lo;
        memmove(f->seen, f->seen + 1, (RANGES - 1) * sizeof f->seen[0]);
        f->nseen--;
    }
    for (i = 0; i < f->nseen && (int32_t)(f->seen[i].lo - lo) < 0; i++)
        ;
    memmove(f->seen + i + 1, f->seen + i,
            (size_t)(f->nseen - i) * sizeof f->seen[0]);
    f->seen[i].lo = lo;
    f->seen[i].hi = hi;
    f->nseen++;
    return overlap;
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

#define ADD(...)                                                               \
    do {                                                                       \
        if (o < size)                                                          \
            o += (size_t)snprintf(out + o, size - o, __VA_ARGS__);             \
    } while (0)

static void details(const struct ladder *ld, int from,
                    const struct berth_segment *seg, const uint8_t *payload,
                    uint32_t plen, unsigned marks, char *out, size_t size)
{
    const struct flow *peer = &ld->flow[1 - from];
    size_t o = 0;
    out[0] = '\0';
    if (marks & LM_RETX)
        ADD(marks & LM_UNSEEN ? "[retransmission, first copy not captured] "
                              : "[retransmission] ");
    if (marks & LM_OOO)
        ADD("[out-of-order] ");
    if (marks & LM_LOST)
        ADD("[lost] ");
    if (marks & LM_ZERO_WIN)
        ADD("[zero window] ");
    if (marks & LM_PROBE)
        ADD("[%s] ", marks & LM_ZW ? "zero-window probe" : "keep-alive");
    if (marks & LM_WIN_UPD)
        ADD("[window update] ");
    if (marks & LM_RST)
        ADD("[reset] ");
    if (marks & LM_DUPACK)
        ADD("[dup ACK] ");
    if (seg->flags & BERTH_TH_SYN) {
        if (seg->mss)
            ADD("mss=%u ", seg->mss);
        if (seg->sack_ok)
            ADD("sack_ok ");
        if (seg->has_ts)
            ADD("ts ");
        if (seg->wscale >= 0)
            ADD("wscale=%d ", seg->wscale);
    }
    /* SACK blocks name the peer's data, relative to its ISN (RFC 2018). */
    for (unsigned i = 0; i < seg->sack_count && i < 4; i++)
        ADD("%s%" PRIu32 "-%" PRIu32 "%s",
            i ? "," : "sack=", rel(peer, seg->sack[i].start),
            rel(peer, seg->sack[i].end), i + 1 == seg->sack_count ? " " : "");
    if (plen > 0 && o + 8 < size)
        quote(out + o, size - o, payload, plen);
    else if (o > 0)
        out[o - 1] = '\0'; /* the trailing space */
}

/* The rule a segment's numbers follow (--explain), RFC 9293 §3.4. */
static void explain(const struct ladder *ld, int from,
                    const struct berth_segment *seg, unsigned marks, char *out,
                    size_t size)
{
    const struct flow *mine = &ld->flow[from], *peer = &ld->flow[1 - from];
    uint32_t seq = rel(mine, seg->seq), ack = rel(peer, seg->ack);
    bool ack_of_syn = (seg->flags & BERTH_TH_ACK) && ack == 1 &&
                      !(seg->flags & BERTH_TH_SYN) && !mine->acked;
    bool ack_of_fin = (seg->flags & BERTH_TH_ACK) && peer->fin &&
                      ack == peer->fin_off + 1 &&
                      (!mine->acked || mine->last_ack != ack);
    bool dup = marks & LM_DUPACK;
    size_t o = 0;
    out[0] = '\0';
    if (seg->flags & BERTH_TH_RST) {
        ADD("RST: abort, never answered; accepted only with seq in the "
            "receiver's window (RFC 9293 §3.10.7, RFC 5961 §3)");
        return;
    }
    if (marks & LM_RETX)
        ADD("sent before: resent after a timeout or duplicate ACKs "
            "(RFC 9293 §3.8.1, RFC 5681 §3.2). ");
    if ((seg->flags & BERTH_TH_SYN) && !(seg->flags & BERTH_TH_ACK))
        ADD("SYN: the ISN is shown as seq=0; a SYN consumes one sequence "
            "number, so data starts at 1 (RFC 9293 §3.4)");
    else if (seg->flags & BERTH_TH_SYN)
        ADD("SYN,ACK: ack=%" PRIu32 " = the peer's ISN + 1, since a SYN "
            "consumes one sequence number (RFC 9293 §3.4)",
            ack);
    else if (seg->flags & BERTH_TH_FIN)
        ADD("FIN%s: consumes one sequence number, so its ACK is "
            "ack=%" PRIu32 " (RFC 9293 §3.4)",
            seg->len ? " after the data" : "", seq + seg->len + 1);
    else if (seg->len > 0)
        ADD("data: bytes %" PRIu32 "..%" PRIu32 ", acknowledged by "
            "ack=%" PRIu32 " = seq + len (RFC 9293 §3.4)",
            seq, seq + seg->len - 1, seq + seg->len);
    else if (ack_of_syn)
        ADD("ACK of the SYN: ack=1 = the peer's ISN + 1; the three-way "
            "handshake is complete (RFC 9293 §3.5)");
    else if (ack_of_fin)
        ADD("ACK of the FIN: ack=%" PRIu32 " = the FIN's seq %" PRIu32
            " + 1 (RFC 9293 §3.4)",
            ack, peer->fin_off);
    else if (dup)
        ADD("duplicate ACK: ack=%" PRIu32 " again, the same window: "
            "something above it is missing (RFC 5681 §2, §3.2)",
            ack);
    else if (seg->flags & BERTH_TH_ACK)
        ADD("ack=%" PRIu32 ": the next byte expected; all before it "
            "arrived (RFC 9293 §3.4)",
            ack);
    if (marks & LM_ZERO_WIN)
        ADD("; window 0: the receiver's buffer is full, the sender "
            "probes it (RFC 9293 §3.8.6.1)");
}
#undef ADD

/* The marks of a segment from one side, updating that side's flow. */
static unsigned classify(struct ladder *ld, int from, uint64_t now,
                         const struct berth_segment *seg, bool lost)
{
    struct flow *mine = &ld->flow[from];
    unsigned marks = lost ? LM_LOST : 0;
    uint32_t off = seg->seq - mine->isn;
    uint32_t end = off + seg_space(seg);
    mine->snd_max_before = mine->snd_max;
    if (end != off) {
        bool below = (int32_t)(off - mine->snd_max) < 0;
        bool again = seen_add(mine, off, end);
        /* Sequence space seen before: a retransmission. Below the highest
         * sent but never seen: reordered if it comes soon after the
         * highest (within half a round trip: a quarter of the grace), else
         * the repair of a copy lost before the capture point. */
        /* A SYN,ACK after one's own SYN (a simultaneous open) carries
         * the same sequence number, and is no retransmission. */
        bool synack = (seg->flags & (BERTH_TH_SYN | BERTH_TH_ACK)) ==
                      (BERTH_TH_SYN | BERTH_TH_ACK);
        if (synack && !mine->synack_sent)
            ; /* no mark */
        else if (again)
            marks |= LM_RETX;
        else if (below && now - mine->max_t <= ld->o.grace / 4)
            marks |= LM_OOO;
        else if (below)
            marks |= LM_RETX | LM_UNSEEN;
        mine->synack_sent |= synack;
        if ((int32_t)(end - mine->snd_max) > 0) {
            mine->snd_max = end;
            mine->max_t = now;
        }
    }
    if (seg->win == 0 && !(seg->flags & BERTH_TH_RST))
        marks |= LM_ZERO_WIN;
    /* One byte below what was sent, with at most one byte: a probe of a
     * zero window (RFC 9293 §3.8.6.1) or a keep-alive (§3.8.4). */
    if (!(seg->flags & (BERTH_TH_SYN | BERTH_TH_FIN | BERTH_TH_RST)) &&
        seg->len <= 1 && off + 1 == mine->snd_max_before)
        marks = (marks | LM_PROBE) & ~(unsigned)(LM_RETX | LM_OOO);
    if ((marks & LM_PROBE) && ld->flow[1 - from].acked &&
        ld->flow[1 - from].last_win == 0)
        marks |= LM_ZW;
    /* The same ACK and window again, with nothing sent, while the peer
     * has more outstanding: a duplicate ACK (RFC 5681 §2). */
    const struct flow *peer = &ld->flow[1 - from];
    if ((seg->flags & BERTH_TH_ACK) && end == off && mine->acked &&
        !(seg->flags & (BERTH_TH_SYN | BERTH_TH_FIN | BERTH_TH_RST)) &&
        mine->last_ack == rel(peer, seg->ack) && mine->last_win == seg->win &&
        (int32_t)(peer->snd_max - rel(peer, seg->ack)) > 0 &&
        !(marks & LM_PROBE))
        marks |= LM_DUPACK;
    /* The same ACK again with nothing sent, but a new window. */
    if ((seg->flags & BERTH_TH_ACK) && end == off && mine->acked &&
        mine->last_ack == rel(&ld->flow[1 - from], seg->ack) &&
        mine->last_win != seg->win)
        marks |= LM_WIN_UPD;
    if (seg->flags & BERTH_TH_RST)
        marks |= LM_RST;
    if (seg->flags & (BERTH_TH_SYN | BERTH_TH_FIN | BERTH_TH_RST))
        marks |= LM_SYN_FIN;
    if (lost && end != off && !mine->lost) {
        mine->lost = true;
        mine->lost_off = off;
    } else if ((marks & LM_RETX) && !lost) {
        ld->retransmitted = true;
        if (mine->lost && (int32_t)(off - mine->lost_off) <= 0 &&
            (int32_t)(end - mine->lost_off) > 0)
            ld->recovered = true;
    }
    return marks;
}

/* The window in bytes: scaled once both SYNs offered scaling, never on a
 * SYN (RFC 7323 §2.2, §2.3). */
static uint32_t window(const struct ladder *ld, int from,
                       const struct berth_segment *seg)
{
    int ws = ld->flow[from].wscale;
    if (seg->flags & BERTH_TH_SYN || ws < 0 || ld->flow[1 - from].wscale < 0)
        return seg->win;
    return (uint32_t)seg->win << (ws > 14 ? 14 : ws);
}

/* A packet's arrow from side `from`, counted; its label is the caller's
 * to write (before any other row is added). */
static struct lrow *arrow_row(struct ladder *ld, int from, uint64_t now,
                              unsigned marks, bool lost)
{
    ld->segments++;
    ld->lost += lost;
    struct lrow *r = row_add(ld, now);
    if (!r)
        return NULL;
    r->mid = MID_ARROW;
    r->dir = from;
    r->marks = marks;
    return r;
}

/* The details beneath an arrow (marks, options, payload), if any. */
static void detail_row(struct ladder *ld, uint64_t now, unsigned marks,
                       const char *text)
{
    size_t n = ld->nrows;
    if (!text[0])
        return;
    note_row(ld, now, 0, false, text);
    if (ld->nrows > n) { /* not out of memory */
        ld->rows[n].detail = true;
        ld->rows[n].marks = marks;
    }
}

static void draw_segment(struct ladder *ld, int from, uint64_t now,
                         const struct berth_segment *seg,
                         const uint8_t *payload, uint32_t plen, bool lost)
{
    struct flow *mine = &ld->flow[from], *peer = &ld->flow[1 - from];
    char flags[40], text[LADDER_TEXT];
    if ((seg->flags & BERTH_TH_SYN) && !mine->have_isn) {
        mine->have_isn = true;
        mine->isn = seg->seq;
        mine->wscale = seg->wscale;
    }
    if (!mine->have_isn) { /* the capture starts mid-connection */
        mine->have_isn = true;
        mine->isn = seg->seq - 1;
    }
    if ((seg->flags & BERTH_TH_ACK) && !peer->have_isn) {
        peer->have_isn = true;
        peer->isn = seg->ack - 1;
    }
    unsigned marks = classify(ld, from, now, seg, lost);
    struct lrow *r = arrow_row(ld, from, now, marks, lost);
    if (!r)
        return;
    berth_flags_string(seg->flags, flags, sizeof flags);
    int n = snprintf(r->text, sizeof r->text, "%s seq=%" PRIu32, flags,
                     rel(mine, seg->seq));
    if (seg->flags & BERTH_TH_ACK)
        n += snprintf(r->text + n, sizeof r->text - (size_t)n, " ack=%" PRIu32,
                      rel(peer, seg->ack));
    if (seg->len > 0)
        n += snprintf(r->text + n, sizeof r->text - (size_t)n, " len=%" PRIu32,
                      seg->len);
    snprintf(r->text + n, sizeof r->text - (size_t)n, " win=%" PRIu32,
             window(ld, from, seg));
    details(ld, from, seg, payload, plen < seg->len ? plen : seg->len, marks,
            text, MID_W - 3);
    detail_row(ld, now, marks, text);
    if (ld->o.explain) {
        explain(ld, from, seg, marks, text, sizeof text);
        if (text[0])
            note_row(ld, now, 0, true, text);
    }
    if (seg->flags & BERTH_TH_FIN) {
        mine->fin = true;
        mine->fin_off = rel(mine, seg->seq) + seg->len;
    }
    if (seg->flags & BERTH_TH_ACK) {
        mine->acked = true;
        mine->last_ack = rel(peer, seg->ack);
        mine->last_win = seg->win;
    }
}

/* Side s sends data or a FIN while SYN-RECEIVED: it cannot before it is
 * ESTABLISHED (RFC 9293 §3.10.7.4), so the ACK of its SYN has arrived:
 * the queue up to the first segment that acknowledges the SYN. */
static void deliver_syn_ack(struct ladder *ld, int s,
                            const struct berth_segment *seg, uint64_t now)
{
    struct infer *in = &ld->inf[s];
    if (ld->state[s] != BERTH_STATE_SYN_RECEIVED || !in->syn_sent ||
        (seg->flags & BERTH_TH_SYN) ||
        (seg->len == 0 && !(seg->flags & BERTH_TH_FIN)))
        return;
    for (int i = 0; i < in->nq; i++) {
        const struct berth_segment *b = &in->q[i].seg;
        if ((b->flags & BERTH_TH_ACK) && (int32_t)(b->ack - in->syn_end) >= 0) {
            deliver(ld, s, i + 1, now, false);
            return;
        }
    }
}

void ladder_segment(struct ladder *ld, int from, uint64_t now,
                    const struct berth_segment *seg, const uint8_t *payload,
                    uint32_t plen, bool lost)
{
    deliver_old(ld, now);
    if (ld->inf[from].on) {
        deliver_syn_ack(ld, from, seg, now);
        deliver_acked(ld, from, seg, now);
        infer_sent(ld, from, now, seg);
    }
    draw_segment(ld, from, now, seg, payload, plen, lost);
    if (ld->inf[1 - from].on && !lost)
        enqueue(ld, 1 - from, now, seg);
}

/* ---------------------------------------------------------------------- */
/* Live input: which events belong to the ladder's connection. */

/* A trace or call on side's socket with these endpoints. Before the lock,
 * a client call whose port is not chosen yet (connect()) matches too. */
static bool matches(const struct ladder *ld, int side,
                    struct berth_endpoint local, struct berth_endpoint remote,
                    bool prelock)
{
    struct cap_addr l = ep_from(local), r = ep_from(remote);
    if (side == 0)
        return ep_eq(&r, &ld->srv) &&
               (ep_eq(&l, &ld->cli) || (prelock && l.port == 0));
    return l.port == ld->srv.port && ep_eq(&r, &ld->cli) &&
           (ep_any_addr(&l) || ep_eq(&l, &ld->srv));
}

/* The server's listener opening, shown before the connection. */
static bool is_listen(const struct ladder *ld, int side,
                      const struct berth_trace *ev)
{
    struct cap_addr r = ep_from(ev->remote);
    return side == 1 && ev->kind == BERTH_TRACE_STATE &&
           ev->new_state == BERTH_STATE_LISTEN &&
           ev->local.port == ld->srv.port && ep_any_addr(&r);
}

static void drop_row(struct ladder *ld, int side, const struct berth_trace *ev)
{
    char note[96];
    snprintf(note, sizeof note, "%sdropped: %s%s", side == 0 ? "<- " : "",
             berth_reason_name(ev->reason), side == 1 ? " ->" : "");
    note_row(ld, ev->now, side == 0 ? -1 : 1, false, note);
}

static void emit(struct ladder *ld, const struct pending *p)
{
    if (p->kind == EV_APP) {
        side_row(ld, p->ev.now, p->side, p->what);
    } else if (p->kind == EV_DROP) {
        drop_row(ld, p->side, &p->ev);
    } else if (is_listen(ld, p->side, &p->ev)) {
        state_row(ld, 1, p->ev.now, BERTH_STATE_LISTEN, BERTH_REASON_NONE,
                  false, NULL);
        struct lrow *r = &ld->rows[ld->nrows - 1];
        r->mid = MID_NOTE;
        r->dir = 1;
        snprintf(r->text, sizeof r->text, "(listening socket)");
    } else {
        state_row(ld, p->side, p->ev.now, p->ev.new_state, p->ev.reason, false,
                  NULL);
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

void ladder_lock(struct ladder *ld, const struct cap_addr *cli,
                 const struct cap_addr *srv)
{
    ld->locked = true;
    ld->cli = *cli;
    ld->srv = *srv;
    /* What led to the first SYN, now that the connection is known. */
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
    struct cap_addr src = ep_from(seg.src), dst = ep_from(seg.dst);
    if (!ld->locked) {
        if (from != 0 ||
            (seg.flags & (BERTH_TH_SYN | BERTH_TH_ACK)) != BERTH_TH_SYN)
            return;
        ladder_lock(ld, &src, &dst);
    }
    const struct cap_addr *a = from == 0 ? &ld->cli : &ld->srv;
    const struct cap_addr *b = from == 0 ? &ld->srv : &ld->cli;
    if (!ep_eq(&src, a) || !ep_eq(&dst, b))
        return;
    ladder_segment(ld, from, now, &seg, pkt + (len - seg.len), seg.len, lost);
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
    if (matches(ld, side, local, remote, false))
        ladder_call(ld, side, now, what);
}

void ladder_call(struct ladder *ld, int side, uint64_t now, const char *what)
{
    deliver_old(ld, now);
    side_row(ld, now, side, what);
}

/* ---------------------------------------------------------------------- */
/* Datagrams: UDP (RFC 768) and the ICMP errors that answer it. No
 * connection and no state: an arrow per datagram between the two hosts,
 * its payload (or what an error quotes) beneath. */

/* The transport header of an IPv4 or IPv6 packet (no extension headers):
 * its offset, with *proto and the addresses; -1 when there is none. */
static long dgram_strip(const uint8_t *p, size_t n, uint8_t *proto,
                        struct cap_addr *src, struct cap_addr *dst)
{
    memset(src, 0, sizeof *src);
    memset(dst, 0, sizeof *dst);
    if (n >= 20 && p[0] >> 4 == 4) {
        size_t ihl = (size_t)(p[0] & 15) * 4;
        if (ihl < 20 || n < ihl)
            return -1;
        *proto = p[9];
        src->fam = dst->fam = 4;
        memcpy(src->a, p + 12, 4);
        memcpy(dst->a, p + 16, 4);
        return (long)ihl;
    }
    if (n >= 40 && p[0] >> 4 == 6) {
        *proto = p[6];
        src->fam = dst->fam = 6;
        memcpy(src->a, p + 8, 16);
        memcpy(dst->a, p + 24, 16);
        return 40;
    }
    return -1;
}

static bool same_host(const struct cap_addr *a, const struct cap_addr *b)
{
    return a->fam == b->fam && !memcmp(a->a, b->a, a->fam == 6 ? 16 : 4);
}

/* "UDP 40001 > 7 len=5" for a UDP header with n bytes after it. */
static void udp_label(char *out, size_t size, const uint8_t *u)
{
    unsigned len = (unsigned)(u[4] << 8 | u[5]);
    snprintf(out, size, "UDP %u > %u len=%u", (unsigned)(u[0] << 8 | u[1]),
             (unsigned)(u[2] << 8 | u[3]), len >= 8 ? len - 8 : 0);
}

void ladder_datagram(struct ladder *ld, int from, uint64_t now,
                     const uint8_t *pkt, size_t len, bool lost)
{
    uint8_t proto = 0;
    struct cap_addr src, dst;
    long off = dgram_strip(pkt, len, &proto, &src, &dst);
    const struct cap_addr *a = from == 0 ? &ld->cli : &ld->srv;
    const struct cap_addr *b = from == 0 ? &ld->srv : &ld->cli;
    if (off < 0 || !ld->locked || !same_host(&src, a) || !same_host(&dst, b))
        return;
    const uint8_t *t = pkt + off;
    size_t n = len - (size_t)off;
    char label[LADDER_TEXT], detail[LADDER_TEXT] = "";
    size_t o = lost ? (size_t)snprintf(detail, sizeof detail, "[lost] ") : 0;
    if (proto == 17 && n >= 8) {
        udp_label(label, sizeof label, t);
        if (n > 8)
            quote(detail + o, MID_W - 3 - o, t + 8, n - 8);
    } else if ((proto == 1 && n >= 8 && t[0] == 3) ||
               (proto == 58 && n >= 8 && t[0] == 1)) {
        /* RFC 792 type 3 (code 3: port), RFC 4443 type 1 (code 4: port). */
        bool port = proto == 1 ? t[1] == 3 : t[1] == 4;
        snprintf(label, sizeof label, "%s unreachable (%s)",
                 proto == 1 ? "ICMP" : "ICMPv6", port ? "port" : "other");
        uint8_t qp = 0;
        struct cap_addr qs, qd;
        long q = dgram_strip(t + 8, n - 8, &qp, &qs, &qd);
        char what[64] = "the datagram";
        if (q >= 0 && qp == 17 && n - 8 >= (size_t)q + 8)
            udp_label(what, sizeof what, t + 8 + q);
        snprintf(detail + o, sizeof detail - o, "quoting %s", what);
    } else {
        return;
    }
    deliver_old(ld, now);
    unsigned marks = lost ? LM_LOST : 0;
    struct lrow *r = arrow_row(ld, from, now, marks, lost);
    if (!r)
        return;
    snprintf(r->text, sizeof r->text, "%s", label);
    detail_row(ld, now, marks, detail);
}

bool ladder_endpoints(const struct ladder *ld, struct cap_addr *client,
                      struct cap_addr *server)
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

size_t ladder_segments(const struct ladder *ld, size_t *lost)
{
    if (lost)
        *lost = ld->lost;
    return ld->segments;
}

const struct lrow *ladder_rows(struct ladder *ld, size_t *n,
                               const struct cap_addr **cli,
                               const struct cap_addr **srv)
{
    deliver_all(ld);
    *n = ld->nrows;
    *cli = ld->locked ? &ld->cli : NULL;
    *srv = ld->locked ? &ld->srv : NULL;
    return ld->rows;
}

/* ---------------------------------------------------------------------- */
/* The text rendering. */

/* Columns n bytes of UTF-8 take ("§" is two bytes, one column). */
static size_t cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Text in the middle, centred or pushed to one side (-1 left, +1 right),
 * into mid (MID_W columns, up to MID_W + 8 bytes). */
static void mid_note(char *mid, const char *text, size_t n, int align)
{
    while (cols(text, n) > MID_W - 2)
        n--;
    size_t w = cols(text, n);
    size_t at = align < 0 ? 1 : align > 0 ? MID_W - 1 - w : (MID_W - w) / 2;
    memset(mid, ' ', at);
    memcpy(mid + at, text, n);
    memset(mid + at + n, ' ', MID_W - at - w);
    mid[MID_W - w + n] = '\0';
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

struct clock {
    bool have_t0;
    uint64_t t0, last;
};

/* The time column: blank while the time stays the same; a long silence
 * first gets a row of its own. */
static void print_time(FILE *out, struct clock *c, uint64_t t)
{
    if (!c->have_t0) {
        c->have_t0 = true;
        c->t0 = c->last = t;
        fprintf(out, "%*.3f", TIME_W, 0.0);
        return;
    }
    if (t > c->last && t - c->last >= LADDER_GAP_US) {
        char note[48], mid[MID_W + 16];
        int n = snprintf(note, sizeof note, "... %.3f s later ...",
                         (double)(t - c->last) / 1e6);
        mid_note(mid, note, (size_t)n, 0);
        fprintf(out, "%*s  %*s |%s|\n", TIME_W, "", COL_W, "", mid);
    }
    if (t == c->last)
        fprintf(out, "%*s", TIME_W, "");
    else
        fprintf(out, "%*.3f", TIME_W,
                (double)(t > c->t0 ? t - c->t0 : 0) / 1000.0);
    if (t > c->last)
        c->last = t;
}

static void print_line(FILE *out, const char *left, const char *mid,
                       const char *right)
{
    fprintf(out, "  %*s |%s|%s%s\n", COL_W, left, mid, right[0] ? " " : "",
            right);
}

/* A note longer than the middle: wrapped at spaces, one line each. */
static void print_note(FILE *out, struct clock *c, const struct lrow *r)
{
    const char *s = r->text;
    bool first = true;
    size_t max = MID_W - 4;
    do {
        size_t n = strlen(s);
        if (cols(s, n) > max) {
            n = 0;
            while (s[n] && cols(s, n + 1) <= max)
                n++;
            size_t k = n;
            while (k > max / 2 && s[k] != ' ')
                k--;
            if (s[k] == ' ')
                n = k;
            while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
                n--; /* never inside a character */
        }
        char mid[MID_W + 16];
        mid_note(mid, s, n, r->dir);
        if (first)
            print_time(out, c, r->t);
        else
            fprintf(out, "%*s", TIME_W, "");
        print_line(out, first ? r->side[0] : "", mid, first ? r->side[1] : "");
        first = false;
        s += n;
        while (*s == ' ')
            s++;
    } while (*s);
}

void ladder_print(struct ladder *ld, FILE *out, const char *left_title,
                  const char *right_title)
{
    size_t n;
    const struct cap_addr *cli, *srv;
    const struct lrow *rows = ladder_rows(ld, &n, &cli, &srv);
    char a[64], b[64], blank[MID_W + 1];
    memset(blank, ' ', MID_W);
    blank[MID_W] = '\0';
    fprintf(out, "%*s  %*s |%s| %s\n", TIME_W, "time ms", COL_W, left_title,
            blank, right_title);
    if (cli)
        fprintf(out, "%*s |%s| %s\n", TIME_W + 2 + COL_W,
                cap_addr_str(cli, a, sizeof a), blank,
                cap_addr_str(srv, b, sizeof b));
    fprintf(out, "%*s |%s|\n", TIME_W + 2 + COL_W, "", blank);
    struct clock c = {0};
    for (size_t i = 0; i < n; i++) {
        const struct lrow *r = &rows[i];
        char mid[MID_W + 1];
        if (r->mid == MID_NOTE) {
            print_note(out, &c, r);
            continue;
        }
        if (r->mid == MID_ARROW)
            mid_arrow(mid, r->text, r->dir, r->marks & LM_LOST);
        else
            memcpy(mid, blank, sizeof mid);
        print_time(out, &c, r->t);
        print_line(out, r->side[0], mid, r->side[1]);
    }
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
    struct cap_addr src = ep_from(seg.src), dst = ep_from(seg.dst);
    for (int i = 0; i < ls->n; i++) {
        struct cap_addr c, s;
        if (ladder_endpoints(ls->v[i], &c, &s) && ep_eq(&c, &src) &&
            ep_eq(&s, &dst))
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
        if (ld->recovered && (pick < 0 || ld->nrows < ls->v[pick]->nrows))
            pick = i;
        if (ld->retransmitted && (retx < 0 || ld->nrows < ls->v[retx]->nrows))
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
