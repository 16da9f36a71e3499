/* The in-memory link: two stacks joined in virtual time. It owns the
 * packets in flight (one delay queue for both directions), one impairment
 * model per direction (impair_model.c, shared with the TUN runtime), the
 * test hooks (filter, taps) and the driver that interleaves deliveries with
 * the stacks' timers. */
#include "berth/memlink.h"
#include "rt/impair_model.h"

#include <stdlib.h>
#include <string.h>

#define MEMLINK_DEFAULT_DELAY         1000u /* 1 ms one way */
#define MEMLINK_DEFAULT_REORDER_DELAY 2000u /* enough to overtake at 1 ms */
#define MEMLINK_DEFAULT_QUEUE_LIMIT   4096u
#define MEMLINK_DEFAULT_MAX_STEPS     10000000u

/* A queued copy's tag: the side it goes to, and whether a bit was flipped
 * (the receiver must reject it). */
#define TAG_TO_SIDE   1u
#define TAG_CORRUPTED 2u

struct mside {
    struct berth_memlink *link; /* back pointer: the tx hook gets only us */
    int side;
    struct berth_stack *stack;        /* receives packets sent to this side */
    struct berth_memlink_impair imp;  /* for packets this side sends ... */
    struct impair_model model;        /* ... as the model's settings */
    struct berth_memlink_stats stats; /* for packets this side sends */
    size_t queued;                    /* copies in flight from this side */
};

struct berth_memlink {
    struct mside sides[2];
    uint64_t now;              /* last instant reached; never decreases */
    struct impair_queue queue; /* both directions, on (at, send order) */
    size_t queue_limit;        /* per direction */
    uint64_t max_steps;
    berth_memlink_filter_fn filter;
    void *filter_ctx;
    berth_memlink_tap_fn tap;
    void *tap_ctx;
    berth_memlink_rx_tap_fn rx_tap;
    void *rx_tap_ctx;
};

/* ---------------------------------------------------------------------- */

/* The public settings in the model's terms (no drop_all here). */
/* Whether flipping `bit` of an IPv6 packet hits a header field no checksum
 * covers (RFC 8200 §3: the traffic class, the flow label, the hop limit;
 * IPv6 has no header checksum): TCP ignores them, so such a copy is as
 * good as intact and is delivered as one, not counted as corrupted. */
static bool ipv6_unchecked_bit(const uint8_t *pkt, size_t len, uint64_t bit)
{
    if (bit == IMPAIR_NO_BIT || len < 40 || pkt[0] >> 4 != 6)
        return false;
    uint64_t byte = bit / 8;
    return (byte == 0 && bit % 8 < 4) || byte == 1 || byte == 2 || byte == 3 ||
           byte == 7;
}

static void memlink_params(const struct berth_memlink_impair *imp,
                           struct impair_params *p)
{
    memset(p, 0, sizeof *p);
    p->loss = imp->loss;
    p->dup = imp->duplicate;
    p->reorder = imp->reorder;
    p->reorder_delay = imp->reorder_delay;
    p->delay = imp->delay;
    p->jitter = imp->jitter;
    p->corrupt = imp->corrupt;
    p->ge_good_to_bad = imp->ge_good_to_bad;
    p->ge_bad_to_good = imp->ge_bad_to_good;
    p->ge_loss_good = imp->ge_loss_good;
    p->ge_loss_bad = imp->ge_loss_bad;
    p->rate = imp->rate;
    p->queue_packets = imp->queue_packets;
    p->queue_bytes = imp->queue_bytes;
}

/* ---------------------------------------------------------------------- */

void berth_memlink_impair_init(struct berth_memlink_impair *imp)
{
    memset(imp, 0, sizeof(*imp));
    imp->delay = MEMLINK_DEFAULT_DELAY;
    imp->reorder_delay = MEMLINK_DEFAULT_REORDER_DELAY;
}

struct berth_memlink *berth_memlink_create(uint64_t seed)
{
    struct berth_memlink *link = calloc(1, sizeof(*link));
    if (!link)
        return NULL;
    for (int i = 0; i < 2; i++) {
        struct mside *s = &link->sides[i];
        s->link = link;
        s->side = i;
        impair_model_init(&s->model, seed, (uint64_t)i);
        berth_memlink_impair_init(&s->imp);
        memlink_params(&s->imp, &s->model.p);
    }
    link->queue_limit = MEMLINK_DEFAULT_QUEUE_LIMIT;
    link->max_steps = MEMLINK_DEFAULT_MAX_STEPS;
    return link;
}

void berth_memlink_destroy(struct berth_memlink *link)
{
    if (!link)
        return;
    impair_queue_free(&link->queue);
    impair_model_free(&link->sides[0].model);
    impair_model_free(&link->sides[1].model);
    free(link);
}

void *berth_memlink_tx_ctx(struct berth_memlink *link, int side)
{
    return &link->sides[side & 1];
}

void berth_memlink_attach(struct berth_memlink *link, int side,
                          struct berth_stack *stack)
{
    link->sides[side & 1].stack = stack;
}

void berth_memlink_set_impair(struct berth_memlink *link, int from_side,
                              const struct berth_memlink_impair *imp)
{
    struct mside *s = &link->sides[from_side & 1];
    s->imp = *imp;
    memlink_params(imp, &s->model.p);
}

void berth_memlink_get_impair(const struct berth_memlink *link, int from_side,
                              struct berth_memlink_impair *out)
{
    *out = link->sides[from_side & 1].imp;
}
int berth_memlink_add_outage(struct berth_memlink *link, int from_side,
                             uint64_t start, uint64_t end)
{
    struct impair_model *m = &link->sides[from_side & 1].model;
    return impair_model_add_outage(m, start, end) ? 0 : BERTH_EINVAL;
}

void berth_memlink_clear_outages(struct berth_memlink *link, int from_side)
{
    link->sides[from_side & 1].model.noutages = 0;
}

void berth_memlink_set_filter(struct berth_memlink *link,
                              berth_memlink_filter_fn fn, void *ctx)
{
    link->filter = fn;
    link->filter_ctx = ctx;
}

void berth_memlink_set_tap(struct berth_memlink *link, berth_memlink_tap_fn fn,
                           void *ctx)
{
    link->tap = fn;
    link->tap_ctx = ctx;
}

void berth_memlink_set_rx_tap(struct berth_memlink *link,
                              berth_memlink_rx_tap_fn fn, void *ctx)
{
    link->rx_tap = fn;
    link->rx_tap_ctx = ctx;
}

void berth_memlink_set_queue_limit(struct berth_memlink *link, size_t packets)
{
    link->queue_limit = packets;
}

void berth_memlink_set_max_steps(struct berth_memlink *link, uint64_t steps)
{
    link->max_steps = steps;
}

uint64_t berth_memlink_time(const struct berth_memlink *link)
{
    return link->now;
}

void berth_memlink_set_time(struct berth_memlink *link, uint64_t now)
{
    if (now > link->now)
        link->now = now;
}
size_t berth_memlink_in_flight(const struct berth_memlink *link)
{
    return link->queue.len;
}

void berth_memlink_stats(const struct berth_memlink *link, int from_side,
                         struct berth_memlink_stats *out)
{
    *out = link->sides[from_side & 1].stats;
}

/* Queues one copy that leaves the bottleneck at `depart`, `extra` later
 * than the link would (the filter's DELAY). Returns the fate bits it
 * earned. A copy over the in-flight bound draws nothing. */
static unsigned enqueue_copy(struct berth_memlink *link, struct mside *from,
                             const uint8_t *pkt, size_t len, uint64_t depart,
                             uint64_t extra)
{
    unsigned fate = 0;
    uint8_t *copy = from->queued < link->queue_limit
                        ? impair_queue_copy(&link->queue, pkt, len)
                        : NULL;
    /* Out of memory is a full queue from the sender's point of view. */
    if (!copy) {
        from->stats.queue_full++;
        return BERTH_MEMLINK_FATE_QUEUE_FULL;
    }
    struct impair_copy c = impair_model_copy(&from->model, len);
    if (extra > 0 || (c.reordered && from->imp.reorder_delay > 0)) {
        from->stats.reordered++;
        fate |= BERTH_MEMLINK_FATE_DELAYED;
    }
    unsigned tag = (unsigned)(1 - from->side) & TAG_TO_SIDE;
    bool unchecked = ipv6_unchecked_bit(copy, len, c.bit);
    if (impair_copy_corrupt(&c, copy) && !unchecked) {
        tag |= TAG_CORRUPTED;
        from->stats.corrupted++;
        fate |= BERTH_MEMLINK_FATE_CORRUPTED;
    }
    /* c.delay holds the reorder hold-back; extra is the filter's. */
    uint64_t at = depart > UINT64_MAX - c.delay ? UINT64_MAX : depart + c.delay;
    at = at > UINT64_MAX - extra ? UINT64_MAX : at + extra;
    if (!impair_queue_push(&link->queue, at, copy, len, tag)) {
        from->stats.queue_full++;
        return fate | BERTH_MEMLINK_FATE_QUEUE_FULL;
    }
    from->queued++;
    return fate;
}

/* The filter decides first: a chosen packet's fate must not depend on the
 * dice. PASS leaves the packet to the random impairments. Returns the
 * copies the filter wants; *extra its hold-back. */
static int filter_fate(struct berth_memlink *link, struct mside *from,
                       const uint8_t *pkt, size_t len, uint64_t *extra,
                       unsigned *fate)
{
    if (!link->filter)
        return 1;
    struct berth_memlink_verdict v =
        link->filter(link->filter_ctx, from->side, pkt, len, link->now);
    switch (v.action) {
    case BERTH_MEMLINK_PASS:
        return 1;
    case BERTH_MEMLINK_DROP:
        *fate |= BERTH_MEMLINK_FATE_FILTERED;
        from->stats.filter_dropped++;
        return 0;
    case BERTH_MEMLINK_DUPLICATE:
        *fate |= BERTH_MEMLINK_FATE_FILTERED;
        return 2;
    case BERTH_MEMLINK_DELAY:
        *extra = v.delay;
        *fate |= BERTH_MEMLINK_FATE_FILTERED;
        return 1;
    }
    return 1;
}

void berth_memlink_tx(void *tx_ctx, const uint8_t *pkt, size_t len)
{
    struct mside *from = tx_ctx;
    struct berth_memlink *link = from->link;
    struct berth_memlink_stats *st = &from->stats;
    unsigned fate = 0;
    uint64_t extra = 0;

    st->sent++;
    st->sent_bytes += len;
    int copies = filter_fate(link, from, pkt, len, &extra, &fate);
    struct impair_verdict v =
        impair_model_decide(&from->model, link->now, len, copies,
                            (fate & BERTH_MEMLINK_FATE_FILTERED) != 0);
    if (v.queue_delay > st->max_queue_delay)
        st->max_queue_delay = v.queue_delay;
    switch (v.drop) {
    case IMPAIR_KEPT:
        break;
    case IMPAIR_DROP_TAIL: /* QUEUE_FULL, not DROPPED, like the bound */
        st->tail_dropped++;
        fate |= BERTH_MEMLINK_FATE_QUEUE_FULL | BERTH_MEMLINK_FATE_TAIL_DROP;
        break;
    case IMPAIR_DROP_OUTAGE:
        st->outage_dropped++;
        fate |= BERTH_MEMLINK_FATE_OUTAGE;
        break;
    case IMPAIR_DROP_LOSS:
        st->lost++;
        break;
    case IMPAIR_DROP_BURST:
        st->burst_lost++;
        fate |= BERTH_MEMLINK_FATE_BURST;
        break;
    }
    if (v.copies == 0 && v.drop != IMPAIR_DROP_TAIL)
        fate |= BERTH_MEMLINK_FATE_DROPPED;
    if (v.copies == 2) {
        st->duplicated++;
        fate |= BERTH_MEMLINK_FATE_DUPLICATED;
    }
    for (int i = 0; i < v.copies; i++)
        fate |= enqueue_copy(link, from, pkt, len, v.depart, extra);

    if (link->tap)
        link->tap(link->tap_ctx, from->side, link->now, pkt, len, fate);
}

/* ---------------------------------------------------------------------- */

uint64_t berth_memlink_next_event(const struct berth_memlink *link)
{
    uint64_t t = impair_queue_next(&link->queue);
    for (int i = 0; i < 2; i++) {
        const struct berth_stack *st = link->sides[i].stack;
        if (st) {
            uint64_t d = berth_next_deadline(st);
            if (d < t)
                t = d;
        }
    }
    return t;
}

/* One event at instant t: the earliest delivery due, else the first stack
 * whose timers are due. */
static void link_step(struct berth_memlink *link, uint64_t t)
{
    struct impair_held h;
    if (impair_queue_pop_due(&link->queue, t, &h)) {
        int to_side = (int)(h.tag & TAG_TO_SIDE);
        bool corrupted = (h.tag & TAG_CORRUPTED) != 0;
        struct mside *from = &link->sides[1 - to_side];
        struct mside *to = &link->sides[to_side];
        from->queued--;
        if (to->stack) {
            from->stats.delivered++;
            if (link->rx_tap)
                link->rx_tap(link->rx_tap_ctx, to_side, t, h.data, h.len,
                             corrupted);
            int r = berth_input(to->stack, h.data, h.len, t);
            if (r != 0)
                from->stats.rejected++;
            if (corrupted) {
                from->stats.corrupt_delivered++;
                if (r == 0)
                    from->stats.corrupt_accepted++;
            }
        } else {
            from->stats.undeliverable++;
        }
        impair_queue_release(&link->queue, h.data, h.len);
        return;
    }
    for (int i = 0; i < 2; i++) {
        struct berth_stack *st = link->sides[i].stack;
        if (st && berth_next_deadline(st) <= t) {
            berth_advance(st, t);
            return;
        }
    }
}

static int link_run(struct berth_memlink *link, uint64_t *now, uint64_t until,
                    bool (*pred)(void *ctx), void *ctx)
{
    berth_memlink_set_time(link, *now);
    if (pred && pred(ctx)) {
        *now = link->now;
        return 1;
    }
    for (uint64_t steps = 0;; steps++) {
        uint64_t t = berth_memlink_next_event(link);
        if (t == UINT64_MAX || t > until)
            break;
        if (steps >= link->max_steps) {
            *now = link->now;
            return BERTH_MEMLINK_ESTEPS;
        }
        /* A deadline already in the past runs now: time never goes back. */
        if (t < link->now)
            t = link->now;
        link->now = t;
        link_step(link, t);
        if (pred && pred(ctx)) {
            *now = link->now;
            return 1;
        }
    }
    if (until != UINT64_MAX)
        berth_memlink_set_time(link, until);
    *now = link->now;
    return 0;
}

int berth_memlink_run(struct berth_memlink *link, uint64_t *now, uint64_t until)
{
    return link_run(link, now, until, NULL, NULL);
}

int berth_memlink_run_until(struct berth_memlink *link, uint64_t *now,
                            uint64_t until, bool (*pred)(void *ctx), void *ctx)
{
    return link_run(link, now, until, pred, ctx);
}
