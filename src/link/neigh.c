/* The neighbour cache: one table for every address family, RFC 4861 §7.3's
 * reachability state machine (which Linux runs for ARP too), the timers of
 * each state, a bound on the entries and a bounded queue per resolving
 * neighbour. The protocols (ARP here, neighbour discovery for IPv6) only
 * solicit and report answers; what a state means and when it ends lives
 * here, in one place:
 *
 *   (none) --packet--> INCOMPLETE --answer--> REACHABLE --reachable_time-->
 *   STALE --packet--> DELAY --delay_time--> PROBE --answer--> REACHABLE
 *   INCOMPLETE/PROBE --probes unanswered--> FAILED --gc_time--> (none)
 *   STALE, FAILED unused for gc_time --> (none)
 */
#include "link_impl.h"

#include <errno.h>
#include <string.h>

static bool addr_eq(const struct berth_netaddr *a,
                    const struct berth_netaddr *b)
{
    size_t n = a->family == BERTH_AF_INET ? 4 : 16;
    return a->family == b->family && !memcmp(a->bytes, b->bytes, n);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* The earliest timer; entries change state rarely (not per packet), so a
 * walk at each change keeps next_deadline() O(1). */
static void recompute_next(struct neigh_table *t)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->ents[i].live)
            next = min_u64(next, t->ents[i].deadline);
    t->next = next;
}

int neigh_table_init(struct neigh_table *t, const struct berth_eth_config *cfg,
                     uint64_t *ctr, struct mem *mem,
                     const struct neigh_ops *ops, void *ctx)
{
    memset(t, 0, sizeof *t);
    t->cap = cfg->neigh_max;
    t->ents = mem_alloc(mem, t->cap * sizeof *t->ents);
    if (!t->ents)
        return -ENOMEM;
    t->next = UINT64_MAX;
    t->cfg = cfg;
    t->ctr = ctr;
    t->mem = mem;
    t->ops = *ops;
    t->ctx = ctx;
    return 0;
}

/* Drops every queued packet, counting them under `why`. */
static void queue_drop(struct neigh_table *t, struct neigh *n,
                       enum berth_eth_counter why)
{
    while (n->qhead) {
        struct neigh_pkt *p = n->qhead;
        n->qhead = p->next;
        if (why != BERTH_ETH__COUNT)
            t->ctr[why]++;
        mem_free(t->mem, p, sizeof *p + p->len);
    }
    n->qtail = NULL;
    n->qlen = 0;
}

void neigh_table_free(struct neigh_table *t)
{
    for (uint32_t i = 0; i < t->cap && t->ents; i++)
        if (t->ents[i].live)
            queue_drop(t, &t->ents[i], BERTH_ETH__COUNT);
    mem_free(t->mem, t->ents, t->cap * sizeof *t->ents);
    t->ents = NULL;
}

struct neigh *neigh_find(struct neigh_table *t, const struct berth_netaddr *a)
{
    struct neigh *m = &t->ents[t->memo];
    if (m->live && addr_eq(&m->addr, a))
        return m;
    for (uint32_t i = 0; i < t->cap; i++) {
        if (t->ents[i].live && addr_eq(&t->ents[i].addr, a)) {
            t->memo = i;
            return &t->ents[i];
        }
    }
    return NULL;
}

static void entry_delete(struct neigh_table *t, struct neigh *n)
{
    queue_drop(t, n, BERTH_ETH_NEIGH_QUEUE_FAILED);
    n->live = false;
    t->n--;
}

/* Eviction order when the cache is full: FAILED first, then STALE, then
 * the others, least recently used first, the oldest among equals (a
 * flood of learned entries, never used, churns first in, first out). INCOMPLETE
 * entries are never evicted (their queues wait on them): a cache full of them
 * refuses. */
static unsigned evict_rank(const struct neigh *n)
{
    switch ((enum berth_neigh_state)n->state) {
    case BERTH_NEIGH_FAILED:
        return 0;
    case BERTH_NEIGH_STALE:
        return 1;
    case BERTH_NEIGH_REACHABLE:
    case BERTH_NEIGH_DELAY:
    case BERTH_NEIGH_PROBE:
        return 2;
    case BERTH_NEIGH_INCOMPLETE:
    case BERTH_NEIGH__COUNT:
        break;
    }
    return 3;
}

static bool evicts_before(const struct neigh *a, const struct neigh *b)
{
    if (evict_rank(a) != evict_rank(b))
        return evict_rank(a) < evict_rank(b);
    if (a->used != b->used)
        return a->used < b->used;
    return a->born < b->born;
}

static struct neigh *slot_take(struct neigh_table *t, uint64_t now)
{
    struct neigh *victim = NULL;
    for (uint32_t i = 0; i < t->cap; i++) {
        struct neigh *n = &t->ents[i];
        if (!n->live) {
            victim = n;
            break;
        }
        if (evict_rank(n) < 3 && (!victim || evicts_before(n, victim)))
            victim = n;
    }
    if (!victim) {
        t->ctr[BERTH_ETH_NEIGH_TABLE_FULL]++;
        return NULL;
    }
    if (victim->live) {
        t->ctr[BERTH_ETH_NEIGH_EVICTED]++;
        entry_delete(t, victim);
    }
    memset(victim, 0, sizeof *victim);
    victim->live = true;
    victim->used = victim->confirmed = now;
    victim->deadline = UINT64_MAX;
    victim->born = t->births++;
    t->n++;
    t->ctr[BERTH_ETH_NEIGH_CREATED]++;
    return victim;
}

/* The n-th solicitation's wait: retrans_time doubled each time (the
 * backoff RFC 7048 §3 allows), capped at 2^5 times. */
static uint64_t backoff(const struct neigh_table *t, unsigned probes)
{
    unsigned shift = probes > 0 ? probes - 1 : 0;
    return t->cfg->retrans_time << (shift < 5 ? shift : 5);
}

static void set_state(struct neigh *n, enum berth_neigh_state st,
                      uint64_t deadline)
{
    n->state = (uint8_t)st;
    n->deadline = deadline;
}

static void solicit(struct neigh_table *t, struct neigh *n, bool unicast,
                    uint64_t now)
{
    n->probes++;
    n->deadline = now + backoff(t, n->probes);
    t->ops.solicit(t->ctx, n, unicast, now);
}

static void start_resolution(struct neigh_table *t, struct neigh *n,
                             uint64_t now)
{
    set_state(n, BERTH_NEIGH_INCOMPLETE, UINT64_MAX);
    n->probes = 0;
    solicit(t, n, false, now);
}

/* Appends a copy; beyond queue_max the oldest packet goes (the newest is
 * the likelier to matter: a retransmission supersedes its original). */
static void queue_packet(struct neigh_table *t, struct neigh *n,
                         const uint8_t *pkt, size_t len)
{
    if (t->cfg->queue_max == 0) {
        t->ctr[BERTH_ETH_NEIGH_QUEUE_OVERFLOW]++;
        return;
    }
    struct neigh_pkt *p = mem_alloc_raw(t->mem, sizeof *p + len);
    if (!p) {
        t->ctr[BERTH_ETH_NEIGH_QUEUE_NOMEM]++;
        return;
    }
    p->next = NULL;
    p->len = len;
    memcpy(p->data, pkt, len);
    if (n->qlen >= t->cfg->queue_max) {
        struct neigh_pkt *old = n->qhead;
        n->qhead = old->next;
        if (!n->qhead)
            n->qtail = NULL;
        n->qlen--;
        mem_free(t->mem, old, sizeof *old + old->len);
        t->ctr[BERTH_ETH_NEIGH_QUEUE_OVERFLOW]++;
    }
    if (n->qtail)
        n->qtail->next = p;
    else
        n->qhead = p;
    n->qtail = p;
    n->qlen++;
}

static void queue_flush(struct neigh_table *t, struct neigh *n, uint64_t now)
{
    while (n->qhead) {
        struct neigh_pkt *p = n->qhead;
        n->qhead = p->next;
        n->qlen--;
        t->ops.emit(t->ctx, n, p->data, p->len, now);
        mem_free(t->mem, p, sizeof *p + p->len);
    }
    n->qtail = NULL;
}

void neigh_output(struct neigh_table *t, const struct berth_netaddr *a,
                  const uint8_t *pkt, size_t len, uint64_t now)
{
    struct neigh *n = neigh_find(t, a);
    if (!n) {
        n = slot_take(t, now);
        if (!n)
            return;
        n->addr = *a;
        n->state = BERTH_NEIGH_FAILED; /* becomes INCOMPLETE below */
    }
    n->used = now;
    switch ((enum berth_neigh_state)n->state) {
    case BERTH_NEIGH_STALE:
        /* RFC 4861 §7.3.3: sending to a STALE entry starts DELAY. */
        set_state(n, BERTH_NEIGH_DELAY, now + t->cfg->delay_time);
        recompute_next(t);
        t->ops.emit(t->ctx, n, pkt, len, now);
        return;
    case BERTH_NEIGH_REACHABLE:
    case BERTH_NEIGH_DELAY:
    case BERTH_NEIGH_PROBE:
        t->ops.emit(t->ctx, n, pkt, len, now);
        return;
    case BERTH_NEIGH_FAILED:
        start_resolution(t, n, now);
        queue_packet(t, n, pkt, len);
        recompute_next(t);
        return;
    case BERTH_NEIGH_INCOMPLETE:
    case BERTH_NEIGH__COUNT:
        break;
    }
    queue_packet(t, n, pkt, len);
}

struct neigh *neigh_update(struct neigh_table *t, const struct berth_netaddr *a,
                           const uint8_t mac[6], unsigned flags, uint64_t now)
{
    struct neigh *n = neigh_find(t, a);
    if (!n) {
        if (!(flags & NEIGH_F_CREATE) || !(n = slot_take(t, now)))
            return NULL;
        n->addr = *a;
        n->used = 0; /* not used by us yet: first to go when full */
        memcpy(n->mac, mac, 6);
        set_state(n, BERTH_NEIGH_STALE, now + t->cfg->gc_time);
        recompute_next(t);
        return n;
    }
    bool changed = memcmp(n->mac, mac, 6) != 0;
    bool had_mac =
        n->state != BERTH_NEIGH_INCOMPLETE && n->state != BERTH_NEIGH_FAILED;
    memcpy(n->mac, mac, 6);
    if (flags & NEIGH_F_CONFIRM) {
        n->confirmed = now;
        n->probes = 0;
        set_state(n, BERTH_NEIGH_REACHABLE, now + t->cfg->reachable_time);
    } else if (!had_mac || changed) {
        /* RFC 4861 §7.2.3/§7.2.5: a new or different address, not a
         * confirmation: STALE until used. */
        n->probes = 0;
        set_state(n, BERTH_NEIGH_STALE, now + t->cfg->gc_time);
    }
    recompute_next(t);
    if (n->qhead)
        queue_flush(t, n, now);
    return n;
}

/* One entry's timer fired. */
static void expire(struct neigh_table *t, struct neigh *n, uint64_t now)
{
    switch ((enum berth_neigh_state)n->state) {
    case BERTH_NEIGH_INCOMPLETE:
    case BERTH_NEIGH_PROBE: {
        uint8_t max = n->state == BERTH_NEIGH_INCOMPLETE ? t->cfg->mcast_probes
                                                         : t->cfg->ucast_probes;
        if (n->probes < max) {
            solicit(t, n, n->state == BERTH_NEIGH_PROBE, now);
            return;
        }
        /* RFC 4861 §7.3.3: no answer after the last probe: the entry
         * fails, and the packets waiting on it are dropped. */
        t->ctr[BERTH_ETH_NEIGH_FAILED]++;
        queue_drop(t, n, BERTH_ETH_NEIGH_QUEUE_FAILED);
        set_state(n, BERTH_NEIGH_FAILED, now + t->cfg->gc_time);
        return;
    }
    case BERTH_NEIGH_REACHABLE:
        set_state(n, BERTH_NEIGH_STALE,
                  (n->used > now ? n->used : now) + t->cfg->gc_time);
        return;
    case BERTH_NEIGH_DELAY:
        set_state(n, BERTH_NEIGH_PROBE, UINT64_MAX);
        n->probes = 0;
        solicit(t, n, true, now);
        return;
    case BERTH_NEIGH_STALE:
        /* Used since it went STALE? Then sending would have made it
         * DELAY; so it is idle: collect it. */
    case BERTH_NEIGH_FAILED:
    case BERTH_NEIGH__COUNT:
        break;
    }
    entry_delete(t, n);
}

void neigh_advance(struct neigh_table *t, uint64_t now)
{
    if (t->next > now)
        return;
    for (uint32_t i = 0; i < t->cap; i++) {
        struct neigh *n = &t->ents[i];
        if (n->live && n->deadline <= now)
            expire(t, n, now);
    }
    recompute_next(t);
}
