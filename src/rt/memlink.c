/* The in-memory link: owns the packets in flight between two stacks (a
 * min-heap ordered by delivery time, then send order), the per-direction
 * impairments and their seeded generators (bottleneck FIFO, outages,
 * Gilbert–Elliott state included), and the virtual-time driver that
 * interleaves deliveries with the stacks' timers. */
#include "berth/memlink.h"

#include <stdlib.h>
#include <string.h>

#define MEMLINK_DEFAULT_DELAY         1000u /* 1 ms one way */
#define MEMLINK_DEFAULT_REORDER_DELAY 2000u /* enough to overtake at 1 ms */
#define MEMLINK_DEFAULT_QUEUE_LIMIT   4096u
#define MEMLINK_DEFAULT_MAX_STEPS     10000000u

/* One copy of a packet in flight. */
struct mpkt {
    uint64_t at;    /* virtual delivery time */
    uint64_t order; /* send order: equal `at` deliver first-sent first */
    int to_side;
    bool corrupted; /* a bit was flipped: the receiver must reject it */
    size_t len;
    uint8_t data[];
};

/* splitmix64: tiny, seedable, good enough for impairment dice; one per
 * direction so that one direction's traffic does not shift the other's
 * random choices. */
struct dice {
    uint64_t state;
};

/* The bottleneck FIFO of one direction: when each packet still in it
 * finishes serialization. Entries in [head, head + len) of a ring; those
 * whose `done` is in the past have left and are purged lazily. */
struct fifo_ent {
    uint64_t done_ns; /* serialization ends (ns: µs would drift) */
    uint32_t len;
};

struct bottleneck {
    uint64_t busy_ns; /* the wire is busy until then */
    struct fifo_ent *ring;
    size_t cap, head, len; /* ring capacity is a power of two */
    uint64_t bytes;        /* sum of the entries' len */
};

struct outage {
    uint64_t start, end; /* [start, end) in µs */
};

struct mside {
    struct berth_memlink *link; /* back pointer: the tx hook gets only us */
    int side;
    struct berth_stack *stack;       /* receives packets sent to this side */
    struct berth_memlink_impair imp; /* for packets this side sends */
    struct dice dice;
    struct berth_memlink_stats stats; /* for packets this side sends */
    size_t queued;                    /* copies in flight from this side */
    bool ge_bad;                      /* Gilbert–Elliott state */
    struct bottleneck bn;
    struct outage outages[BERTH_MEMLINK_MAX_OUTAGES];
    size_t noutages;
};

struct berth_memlink {
    struct mside sides[2];
    uint64_t now;        /* last instant reached; never decreases */
    uint64_t next_order; /* send-order stamp for the next copy */
    struct mpkt **heap;  /* min-heap on (at, order); heap_len ≤ heap_cap */
    size_t heap_len, heap_cap;
    size_t queue_limit; /* per direction */
    uint64_t max_steps;
    berth_memlink_filter_fn filter;
    void *filter_ctx;
    berth_memlink_tap_fn tap;
    void *tap_ctx;
    berth_memlink_rx_tap_fn rx_tap;
    void *rx_tap_ctx;
};

/* ---------------------------------------------------------------------- */

static uint64_t dice_next(struct dice *d)
{
    uint64_t z = (d->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* True with probability p. Draws nothing when p ≤ 0, so a link without
 * impairments consumes no randomness. */
static bool dice_chance(struct dice *d, double p)
{
    if (!(p > 0.0))
        return false;
    return (double)(dice_next(d) >> 11) * 0x1.0p-53 < p;
}

/* Uniform in [0, max]. The modulo bias is below 2^-40 for any sane max. */
static uint64_t dice_upto(struct dice *d, uint64_t max)
{
    if (max == 0)
        return 0;
    if (max == UINT64_MAX)
        return dice_next(d);
    return dice_next(d) % (max + 1);
}

/* ---------------------------------------------------------------------- */

static bool pkt_before(const struct mpkt *a, const struct mpkt *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static bool heap_push(struct berth_memlink *link, struct mpkt *p)
{
    if (link->heap_len == link->heap_cap) {
        size_t cap = link->heap_cap ? link->heap_cap * 2 : 64;
        struct mpkt **h = realloc(link->heap, cap * sizeof(*h));
        if (!h)
            return false;
        link->heap = h;
        link->heap_cap = cap;
    }
    size_t i = link->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pkt_before(p, link->heap[parent]))
            break;
        link->heap[i] = link->heap[parent];
        i = parent;
    }
    link->heap[i] = p;
    return true;
}

static struct mpkt *heap_pop(struct berth_memlink *link)
{
    struct mpkt *top = link->heap[0];
    struct mpkt *last = link->heap[--link->heap_len];
    size_t n = link->heap_len, i = 0;
    while (n > 0) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pkt_before(link->heap[c + 1], link->heap[c]))
            c++;
        if (!pkt_before(link->heap[c], last))
            break;
        link->heap[i] = link->heap[c];
        i = c;
    }
    if (n > 0)
        link->heap[i] = last;
    return top;
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
        berth_memlink_impair_init(&s->imp);
        /* Distinct streams per direction from one seed. */
        s->dice.state = seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(i + 1));
    }
    link->queue_limit = MEMLINK_DEFAULT_QUEUE_LIMIT;
    link->max_steps = MEMLINK_DEFAULT_MAX_STEPS;
    return link;
}

void berth_memlink_destroy(struct berth_memlink *link)
{
    if (!link)
        return;
    for (size_t i = 0; i < link->heap_len; i++)
        free(link->heap[i]);
    free(link->heap);
    free(link->sides[0].bn.ring);
    free(link->sides[1].bn.ring);
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
    link->sides[from_side & 1].imp = *imp;
}

void berth_memlink_get_impair(const struct berth_memlink *link, int from_side,
                              struct berth_memlink_impair *out)
{
    *out = link->sides[from_side & 1].imp;
}

int berth_memlink_add_outage(struct berth_memlink *link, int from_side,
                             uint64_t start, uint64_t end)
{
    struct mside *s = &link->sides[from_side & 1];
    if (start >= end || s->noutages == BERTH_MEMLINK_MAX_OUTAGES)
        return BERTH_EINVAL;
    s->outages[s->noutages++] = (struct outage){start, end};
    return 0;
}

void berth_memlink_clear_outages(struct berth_memlink *link, int from_side)
{
    link->sides[from_side & 1].noutages = 0;
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
    return link->heap_len;
}

void berth_memlink_stats(const struct berth_memlink *link, int from_side,
                         struct berth_memlink_stats *out)
{
    *out = link->sides[from_side & 1].stats;
}

/* ---------------------------------------------------------------------- */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Queues one copy that enters the wire at `base`; returns the fate bits it
 * earned. */
static unsigned enqueue_copy(struct berth_memlink *link, struct mside *from,
                             const uint8_t *pkt, size_t len, uint64_t base,
                             uint64_t extra)
{
    const struct berth_memlink_impair *imp = &from->imp;
    unsigned fate = 0;

    if (from->queued >= link->queue_limit) {
        from->stats.queue_full++;
        return BERTH_MEMLINK_FATE_QUEUE_FULL;
    }
    struct mpkt *p = malloc(sizeof(*p) + len);
    if (!p) {
        /* Out of memory is a full queue from the sender's point of view. */
        from->stats.queue_full++;
        return BERTH_MEMLINK_FATE_QUEUE_FULL;
    }
    memcpy(p->data, pkt, len);
    p->len = len;
    p->to_side = 1 - from->side;
    p->order = link->next_order++;
    p->corrupted = false;

    uint64_t delay = sat_add(imp->delay, dice_upto(&from->dice, imp->jitter));
    if (dice_chance(&from->dice, imp->reorder))
        extra = sat_add(extra, imp->reorder_delay);
    if (extra > 0) {
        from->stats.reordered++;
        fate |= BERTH_MEMLINK_FATE_DELAYED;
    }
    p->at = sat_add(base, sat_add(delay, extra));

    if (len > 0 && dice_chance(&from->dice, imp->corrupt)) {
        uint64_t bit = dice_upto(&from->dice, (uint64_t)len * 8 - 1);
        p->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        p->corrupted = true;
        from->stats.corrupted++;
        fate |= BERTH_MEMLINK_FATE_CORRUPTED;
    }

    if (!heap_push(link, p)) {
        free(p);
        from->stats.queue_full++;
        return BERTH_MEMLINK_FATE_QUEUE_FULL;
    }
    from->queued++;
    return fate;
}

/* ---------------------------------------------------------------------- */
/* The bottleneck, outages and bursty loss: each draws no randomness and
 * changes nothing while it is off, so links that do not use them behave
 * exactly as before they existed. */

static bool fifo_grow(struct bottleneck *b)
{
    size_t cap = b->cap ? b->cap * 2 : 64;
    struct fifo_ent *r = malloc(cap * sizeof(*r));
    if (!r)
        return false;
    for (size_t i = 0; i < b->len; i++)
        r[i] = b->ring[(b->head + i) & (b->cap - 1)];
    free(b->ring);
    b->ring = r;
    b->cap = cap;
    b->head = 0;
    return true;
}

/* A packet of `len` bytes offered at `now`: false when the FIFO is at a
 * bound (tail drop); else *depart is the µs its last bit leaves. */
static bool bottleneck_admit(struct mside *from, uint64_t now, size_t len,
                             uint64_t *depart)
{
    struct bottleneck *b = &from->bn;
    const struct berth_memlink_impair *imp = &from->imp;
    uint64_t now_ns = now > UINT64_MAX / 1000 ? UINT64_MAX : now * 1000;

    while (b->len > 0 && b->ring[b->head].done_ns <= now_ns) {
        b->bytes -= b->ring[b->head].len;
        b->head = (b->head + 1) & (b->cap - 1);
        b->len--;
    }
    if (imp->queue_packets && b->len >= imp->queue_packets)
        return false;
    if (imp->queue_bytes && b->bytes + len > imp->queue_bytes)
        return false;
    if (b->len == b->cap && !fifo_grow(b))
        return false;
    /* Serialization time, rounded up to the ns: len is at most 64 KiB, so
     * len * 1e9 cannot overflow. */
    uint64_t tx_ns = ((uint64_t)len * 1000000000u + imp->rate - 1) / imp->rate;
    uint64_t start = b->busy_ns > now_ns ? b->busy_ns : now_ns;
    b->busy_ns = sat_add(start, tx_ns);
    b->ring[(b->head + b->len) & (b->cap - 1)] =
        (struct fifo_ent){b->busy_ns, (uint32_t)len};
    b->len++;
    b->bytes += len;
    *depart = b->busy_ns / 1000 + (b->busy_ns % 1000 != 0);
    if (*depart - now > from->stats.max_queue_delay)
        from->stats.max_queue_delay = *depart - now;
    return true;
}

static bool in_outage(const struct mside *s, uint64_t t)
{
    for (size_t i = 0; i < s->noutages; i++)
        if (t >= s->outages[i].start && t < s->outages[i].end)
            return true;
    return false;
}

/* Gilbert–Elliott: step the two-state chain, then lose the packet with the
 * new state's probability. */
static bool ge_lost(struct mside *from)
{
    const struct berth_memlink_impair *imp = &from->imp;
    if (!(imp->ge_good_to_bad > 0.0) && !(imp->ge_bad_to_good > 0.0))
        return false;
    if (from->ge_bad) {
        if (dice_chance(&from->dice, imp->ge_bad_to_good))
            from->ge_bad = false;
    } else if (dice_chance(&from->dice, imp->ge_good_to_bad)) {
        from->ge_bad = true;
    }
    return dice_chance(&from->dice,
                       from->ge_bad ? imp->ge_loss_bad : imp->ge_loss_good);
}

/* The stages between the filter and the copies: the bottleneck FIFO, an
 * outage at the instant the packet enters the wire, then the random
 * losses and duplication. Returns the copies to deliver; *base is when
 * the packet enters the wire. */
static int wire_fate(struct mside *from, size_t len, int copies, uint64_t *base,
                     unsigned *fate)
{
    struct berth_memlink_stats *st = &from->stats;
    if (copies > 0 && from->imp.rate > 0 &&
        !bottleneck_admit(from, *base, len, base)) {
        st->tail_dropped++;
        *fate |= BERTH_MEMLINK_FATE_QUEUE_FULL | BERTH_MEMLINK_FATE_TAIL_DROP;
        return 0;
    }
    if (copies > 0 && in_outage(from, *base)) {
        st->outage_dropped++;
        *fate |= BERTH_MEMLINK_FATE_OUTAGE;
        return 0;
    }
    if (copies > 0 && !(*fate & BERTH_MEMLINK_FATE_FILTERED)) {
        if (dice_chance(&from->dice, from->imp.loss)) {
            st->lost++;
            return 0;
        }
        if (ge_lost(from)) {
            st->burst_lost++;
            *fate |= BERTH_MEMLINK_FATE_BURST;
            return 0;
        }
        if (dice_chance(&from->dice, from->imp.duplicate))
            return 2;
    }
    return copies;
}

void berth_memlink_tx(void *tx_ctx, const uint8_t *pkt, size_t len)
{
    struct mside *from = tx_ctx;
    struct berth_memlink *link = from->link;
    unsigned fate = 0;
    int copies = 1;
    uint64_t extra = 0;

    from->stats.sent++;
    from->stats.sent_bytes += len;

    /* The filter decides first: a chosen packet's fate must not depend on
     * the dice. PASS leaves the packet to the random impairments. */
    if (link->filter) {
        struct berth_memlink_verdict v =
            link->filter(link->filter_ctx, from->side, pkt, len, link->now);
        switch (v.action) {
        case BERTH_MEMLINK_PASS:
            break;
        case BERTH_MEMLINK_DROP:
            copies = 0;
            fate |= BERTH_MEMLINK_FATE_FILTERED;
            break;
        case BERTH_MEMLINK_DUPLICATE:
            copies = 2;
            fate |= BERTH_MEMLINK_FATE_FILTERED;
            break;
        case BERTH_MEMLINK_DELAY:
            extra = v.delay;
            fate |= BERTH_MEMLINK_FATE_FILTERED;
            break;
        }
        if (copies == 0)
            from->stats.filter_dropped++;
    }
    uint64_t base = link->now;
    copies = wire_fate(from, len, copies, &base, &fate);
    /* A tail drop is QUEUE_FULL, not DROPPED, like the in-flight bound. */
    if (copies == 0 && !(fate & BERTH_MEMLINK_FATE_TAIL_DROP))
        fate |= BERTH_MEMLINK_FATE_DROPPED;
    if (copies == 2) {
        from->stats.duplicated++;
        fate |= BERTH_MEMLINK_FATE_DUPLICATED;
    }
    for (int i = 0; i < copies; i++)
        fate |= enqueue_copy(link, from, pkt, len, base, extra);

    if (link->tap)
        link->tap(link->tap_ctx, from->side, link->now, pkt, len, fate);
}

/* ---------------------------------------------------------------------- */

uint64_t berth_memlink_next_event(const struct berth_memlink *link)
{
    uint64_t t = link->heap_len ? link->heap[0]->at : UINT64_MAX;
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
    if (link->heap_len && link->heap[0]->at <= t) {
        struct mpkt *p = heap_pop(link);
        struct mside *from = &link->sides[1 - p->to_side];
        struct mside *to = &link->sides[p->to_side];
        from->queued--;
        if (to->stack) {
            from->stats.delivered++;
            if (link->rx_tap)
                link->rx_tap(link->rx_tap_ctx, p->to_side, t, p->data, p->len,
                             p->corrupted);
            int r = berth_input(to->stack, p->data, p->len, t);
            if (r != 0)
                from->stats.rejected++;
            if (p->corrupted) {
                from->stats.corrupt_delivered++;
                if (r == 0)
                    from->stats.corrupt_accepted++;
            }
        } else {
            from->stats.undeliverable++;
        }
        free(p);
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
