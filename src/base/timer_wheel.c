/* Hierarchical timer wheel: TIMER_LEVELS levels of TIMER_LEVEL_SLOTS
 * slots; level L slots are 64^L ticks wide. Owns placement, cascading and
 * expiry; the timers themselves are embedded in their owners. */
#include "base/timer_wheel.h"

#include <stddef.h>

/* Placement rule, relative to the current tick c = w->now_tick, for a
 * timer whose tick is e >= c (delta = e - c):
 *   delta < 64          level 0, slot e & 63: slots hold exactly one tick
 *                       each, and slot c & 63 holds the timers due now.
 *   64^L <= delta < 64^(L+1)
 *                       level L, slot (e >> 6L) & 63. Then e >> 6L lies in
 *                       (c >> 6L, (c >> 6L) + 64], so the first tick after c
 *                       that starts a level-L block with that slot index is
 *                       P = (e >> 6L) << 6L <= e: the slot is cascaded
 *                       (its timers re-placed relative to P) exactly there.
 *   delta >= 64^6       clamped: placed as if e were c + 64^6 - 1, in the
 *                       top level, keeping its real tick in t->expires; each
 *                       cascade re-places it until it comes within range.
 * The "next event" of level 0 is its first non-empty slot from c on; of
 * level L >= 1 the block start P of its first non-empty slot after
 * c >> 6L, wrapping round to the current index (64 blocks ahead) last. */

#define SLOT_MASK  ((uint64_t)TIMER_LEVEL_SLOTS - 1)
#define WHEEL_SPAN ((uint64_t)1 << (TIMER_LEVEL_BITS * TIMER_LEVELS))

static unsigned level_shift(unsigned level)
{
    return level * TIMER_LEVEL_BITS;
}

/* Index of the lowest set bit of b != 0. */
static unsigned lowest_bit(uint64_t b)
{
    return (unsigned)__builtin_ctzll(b);
}

/* Distance from slot index `from` to the first occupied slot at or after
 * it, wrapping round; -1 when the level is empty. */
static int next_occupied(uint64_t bits, unsigned from)
{
    if (!bits)
        return -1;
    /* Rotate right so bit `from` becomes bit 0; (64 - from) & 63 keeps the
     * shift in range when from == 0. */
    uint64_t rot = (bits >> from) | (bits << ((64 - from) & 63));
    return (int)lowest_bit(rot);
}

static void slot_link(struct timer_wheel *w, unsigned level, unsigned slot,
                      struct timer *t)
{
    struct timer **head = &w->slots[level][slot];
    t->next = *head;
    if (*head)
        (*head)->pprev = &t->next;
    t->pprev = head;
    *head = t;
    w->occupied[level] |= (uint64_t)1 << slot;
}

/* Unlinks an armed timer. When it was alone in its slot, its pprev points
 * at the slot head inside w->slots, which tells us which occupancy bit to
 * clear without storing the level in the timer. */
static void slot_unlink(struct timer_wheel *w, struct timer *t)
{
    struct timer **pprev = t->pprev;
    *pprev = t->next;
    if (t->next) {
        t->next->pprev = pprev;
    } else if (!*pprev) {
        uintptr_t base = (uintptr_t)&w->slots[0][0];
        uintptr_t p = (uintptr_t)pprev;
        if (p >= base && p < base + sizeof w->slots) {
            size_t idx = (size_t)(p - base) / sizeof(struct timer *);
            w->occupied[idx / TIMER_LEVEL_SLOTS] &=
                ~((uint64_t)1 << (idx % TIMER_LEVEL_SLOTS));
        }
    }
    t->next = NULL;
    t->pprev = NULL;
}

/* Places t (t->expires >= now_tick) by the rule at the top of the file. */
static void place(struct timer_wheel *w, struct timer *t)
{
    uint64_t c = w->now_tick;
    uint64_t delta = t->expires - c;
    uint64_t at = t->expires;
    unsigned level = 0;
    if (delta >= WHEEL_SPAN) {
        level = TIMER_LEVELS - 1;
        at = c + WHEEL_SPAN - 1;
    } else if (delta >= TIMER_LEVEL_SLOTS) {
        /* The L with 64^L <= delta < 64^(L+1): delta's top bit / 6. */
        level = (63u - (unsigned)__builtin_clzll(delta)) / TIMER_LEVEL_BITS;
    }
    slot_link(w, level, (unsigned)((at >> level_shift(level)) & SLOT_MASK), t);
}

void timer_wheel_init(struct timer_wheel *w, uint64_t now_us)
{
    w->now_tick = now_us / TIMER_TICK_US;
    w->count = 0;
    for (unsigned l = 0; l < TIMER_LEVELS; l++) {
        w->occupied[l] = 0;
        for (unsigned s = 0; s < TIMER_LEVEL_SLOTS; s++)
            w->slots[l][s] = NULL;
    }
}

void timer_wheel_arm_tick(struct timer_wheel *w, struct timer *t, uint64_t tick)
{
    if (timer_armed(t))
        slot_unlink(w, t);
    else
        w->count++;
    /* A tick already behind the wheel is due now: it goes in the current
     * tick's slot. */
    t->expires = tick < w->now_tick ? w->now_tick : tick;
    place(w, t);
}

void timer_wheel_arm(struct timer_wheel *w, struct timer *t,
                     uint64_t expires_us)
{
    timer_wheel_arm_tick(w, t, timer_tick_of(expires_us));
}

void timer_wheel_cancel(struct timer_wheel *w, struct timer *t)
{
    if (!timer_armed(t))
        return;
    slot_unlink(w, t);
    w->count--;
}

/* The first tick >= now_tick at which something happens: a level-0 slot
 * fires or a higher slot cascades. UINT64_MAX when the wheel is empty. */
static uint64_t next_event_tick(const struct timer_wheel *w)
{
    uint64_t c = w->now_tick, best = UINT64_MAX;
    int d = next_occupied(w->occupied[0], (unsigned)(c & SLOT_MASK));
    if (d >= 0)
        best = c + (uint64_t)d;
    for (unsigned l = 1; l < TIMER_LEVELS; l++) {
        uint64_t cur = c >> level_shift(l);
        d = next_occupied(w->occupied[l], (unsigned)((cur + 1) & SLOT_MASK));
        if (d < 0)
            continue;
        uint64_t p = (cur + 1 + (uint64_t)d) << level_shift(l);
        if (p < best)
            best = p;
    }
    return best;
}

uint64_t timer_wheel_next(const struct timer_wheel *w)
{
    if (w->count == 0)
        return UINT64_MAX;
    uint64_t tick = next_event_tick(w);
    if (tick > UINT64_MAX / TIMER_TICK_US)
        return UINT64_MAX; /* beyond any representable time */
    return tick * TIMER_TICK_US;
}

/* now_tick has just reached a tick: re-place the timers of every level
 * whose block starts here. Re-placed timers never land in a slot being
 * cascaded now (P > now_tick for the new slot), so detaching each list
 * first and walking it is safe. */
static void cascade(struct timer_wheel *w)
{
    uint64_t c = w->now_tick;
    for (unsigned l = 1; l < TIMER_LEVELS; l++) {
        if (c & (((uint64_t)1 << level_shift(l)) - 1))
            break; /* not a level-l boundary, so not a higher one either */
        unsigned slot = (unsigned)((c >> level_shift(l)) & SLOT_MASK);
        struct timer *list = w->slots[l][slot];
        w->slots[l][slot] = NULL;
        w->occupied[l] &= ~((uint64_t)1 << slot);
        while (list) {
            struct timer *t = list;
            list = t->next;
            place(w, t);
        }
    }
}

/* Fires the current tick's slot one timer at a time, re-reading the slot
 * head after every callback: a callback may cancel timers of this slot
 * (they are then simply gone) or arm timers due now (they join the slot
 * and fire in this same loop). */
static void fire_current(struct timer_wheel *w,
                         void (*fn)(struct timer *t, void *ctx), void *ctx)
{
    struct timer **head = &w->slots[0][w->now_tick & SLOT_MASK];
    while (*head) {
        struct timer *t = *head;
        slot_unlink(w, t);
        w->count--;
        fn(t, ctx);
    }
}

void timer_wheel_advance(struct timer_wheel *w, uint64_t now_us,
                         void (*fn)(struct timer *t, void *ctx), void *ctx)
{
    uint64_t target = now_us / TIMER_TICK_US;
    if (target < w->now_tick)
        return; /* time never runs backwards for the wheel */
    for (;;) {
        fire_current(w, fn, ctx);
        /* The current slot is empty now, so the next event is later. Jump
         * straight to it: ticks in between have nothing to do. */
        uint64_t next = next_event_tick(w);
        if (next > target)
            break;
        w->now_tick = next;
        cascade(w);
    }
    /* No event before target: every placement stays valid relative to it
     * (level-0 ticks are within 64 of it, cascade points still after it). */
    w->now_tick = target;
}
