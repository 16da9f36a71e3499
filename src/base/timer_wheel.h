/* A hierarchical timer wheel: O(1) arm and cancel, expiry cost
 * proportional to the timers that fire (plus cascading), however many
 * timers exist. Time is in microseconds; the wheel ticks every
 * TIMER_TICK_US and a timer fires at the first tick at or after its expiry
 * (expiry is rounded up to a tick boundary, never down). */
#ifndef BERTH_BASE_TIMER_WHEEL_H
#define BERTH_BASE_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_TICK_US     1000u
#define TIMER_LEVEL_BITS  6u
#define TIMER_LEVEL_SLOTS (1u << TIMER_LEVEL_BITS)
#define TIMER_LEVELS      6u /* 64^6 ms: ~2.18 years; later expiries are clamped */

/* Embedded in the owner; the owner finds itself with container_of. */
struct timer {
    struct timer *next;
    struct timer **pprev; /* NULL when not armed */
    uint64_t expires;     /* tick at which it fires */
};

struct timer_wheel {
    /* every tick before this one has been processed; this tick's slot is
     * processed again by the next advance (at any now not earlier), so a
     * timer armed for it, or for an earlier tick, fires then */
    uint64_t now_tick;
    uint64_t occupied[TIMER_LEVELS]; /* bit i: slot i is non-empty */
    struct timer *slots[TIMER_LEVELS][TIMER_LEVEL_SLOTS];
    uint64_t count; /* armed timers */
};

void timer_wheel_init(struct timer_wheel *w, uint64_t now_us);
static inline void timer_init(struct timer *t)
{
    t->next = 0;
    t->pprev = 0;
    t->expires = 0;
}
static inline bool timer_armed(const struct timer *t)
{
    return t->pprev != 0;
}
/* The tick of a time: the first tick at or after it (a timer never fires
 * before its expiry). */
static inline uint64_t timer_tick_of(uint64_t us)
{
    return us / TIMER_TICK_US + (us % TIMER_TICK_US != 0);
}
/* Arms (or re-arms) t to fire at expires_us (rounded up to a tick). An
 * expiry at or before the current time fires at the next advance. */
void timer_wheel_arm(struct timer_wheel *w, struct timer *t,
                     uint64_t expires_us);
/* The same at a tick, timer_tick_of(expires_us). */
void timer_wheel_arm_tick(struct timer_wheel *w, struct timer *t,
                          uint64_t tick);
/* Disarms t; harmless if it is not armed. */
void timer_wheel_cancel(struct timer_wheel *w, struct timer *t);
/* The time (us) at which timer_wheel_advance should next be called:
 * never later than the earliest expiry, possibly earlier (a higher-level
 * slot that must be cascaded). UINT64_MAX when no timer is armed. */
uint64_t timer_wheel_next(const struct timer_wheel *w);
/* Fires, in expiry order, every timer whose tick is <= now_us's tick:
 * disarms it, then calls fn(t, ctx). fn may arm or cancel any timer,
 * including t and timers that have not fired yet. */
void timer_wheel_advance(struct timer_wheel *w, uint64_t now_us,
                         void (*fn)(struct timer *t, void *ctx), void *ctx);

#endif
