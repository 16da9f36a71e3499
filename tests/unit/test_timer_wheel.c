/* Unit tests for base/timer_wheel: rounding, expiry order across levels,
 * cascading, clamping beyond the wheel's span, callbacks that arm and
 * cancel, and a seeded randomized comparison with a naive model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/rng.h"
#include "base/timer_wheel.h"

#define MS 1000u /* microseconds per tick */

/* A test timer: the wheel's timer plus what the test wants to observe. */
struct ttimer {
    struct timer t;
    int id;
    int fired;           /* times fired */
    uint64_t fired_tick; /* the wheel's now_tick during the last callback */
    /* optional action run from the callback */
    void (*action)(struct ttimer *self, void *arg);
    void *arg;
};

#define ttimer_of(p) ((struct ttimer *)((char *)(p)-offsetof(struct ttimer, t)))

/* Records every firing in order. */
struct fire_log {
    struct timer_wheel *w;
    int ids[4096];
    uint64_t ticks[4096];
    int n;
};

static void on_fire(struct timer *t, void *ctx)
{
    struct fire_log *log = ctx;
    struct ttimer *tt = ttimer_of(t);
    assert_false(timer_armed(t)); /* disarmed before the callback */
    tt->fired++;
    tt->fired_tick = log->w->now_tick;
    assert_true(log->n < 4096);
    log->ids[log->n] = tt->id;
    log->ticks[log->n] = log->w->now_tick;
    log->n++;
    if (tt->action)
        tt->action(tt, tt->arg);
}

static void setup_timers(struct ttimer *tt, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&tt[i], 0, sizeof tt[i]);
        timer_init(&tt[i].t);
        tt[i].id = i;
    }
}

static void log_init(struct fire_log *log, struct timer_wheel *w)
{
    memset(log, 0, sizeof *log);
    log->w = w;
}

static void timer_armed_for_1500us_fires_at_2000us(void **state)
{
    (void)state;
    /* Expiry rounds up to the tick: never early. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 1500);
    assert_true(timer_armed(&a.t));
    assert_int_equal(timer_wheel_next(&w), 2000);
    timer_wheel_advance(&w, 1500, on_fire, &log);
    timer_wheel_advance(&w, 1999, on_fire, &log);
    assert_int_equal(a.fired, 0);
    timer_wheel_advance(&w, 2000, on_fire, &log);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.fired_tick, 2);
    assert_false(timer_armed(&a.t));
    assert_int_equal(w.count, 0);
}

static void timer_on_tick_boundary_fires_exactly_then(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 5000);
    timer_wheel_advance(&w, 4999, on_fire, &log);
    assert_int_equal(a.fired, 0);
    timer_wheel_advance(&w, 5000, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

static void timer_fires_once_even_if_advance_is_late(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 10 * MS);
    timer_wheel_advance(&w, 1000000 * (uint64_t)MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
    assert_int_equal(a.fired_tick, 10); /* fired in its own tick's turn */
    timer_wheel_advance(&w, 2000000 * (uint64_t)MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

static void timer_expiry_in_the_past_fires_at_next_advance(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[3];
    timer_wheel_init(&w, 10 * MS);
    log_init(&log, &w);
    setup_timers(tt, 3);
    timer_wheel_advance(&w, 10 * MS + 500, on_fire, &log);
    timer_wheel_arm(&w, &tt[0].t, 0);       /* long past */
    timer_wheel_arm(&w, &tt[1].t, 3 * MS);  /* past */
    timer_wheel_arm(&w, &tt[2].t, 10 * MS); /* the wheel's current tick */
    assert_int_equal(timer_wheel_next(&w), 10 * MS);
    /* Same time as the last advance: still fires, nothing is lost. */
    timer_wheel_advance(&w, 10 * MS + 500, on_fire, &log);
    assert_int_equal(log.n, 3);
    assert_int_equal(w.count, 0);
}

static void timer_wheel_init_at_nonzero_time_measures_from_there(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    uint64_t t0 = 123456789 * (uint64_t)MS + 321;
    timer_wheel_init(&w, t0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, t0 + 70 * MS);
    timer_wheel_advance(&w, t0 + 69 * MS, on_fire, &log);
    assert_int_equal(a.fired, 0);
    /* t0 + 70 ms is 321 us into a tick: it rounds up to the next one. */
    timer_wheel_advance(&w, t0 + 70 * MS + 678, on_fire, &log);
    assert_int_equal(a.fired, 0);
    timer_wheel_advance(&w, t0 + 70 * MS + 679, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

static void timer_fires_in_expiry_order_across_levels(void **state)
{
    (void)state;
    /* Ticks on both sides of every level boundary (64^L), armed in
     * scrambled order, fired in one long advance. */
    static const uint64_t ticks[] = {
        4097,     1,          262144,     63,         64,          65,
        4095,     4096,       262143,     262145,     16777215,    16777216,
        16777217, 1073741823, 1073741824, 1073741825, 68719476735, 2,
        127,      128,        8191,       8192,       8193,        300000,
    };
    enum { N = sizeof ticks / sizeof ticks[0] };
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[N];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, N);
    for (int i = 0; i < N; i++)
        timer_wheel_arm(&w, &tt[i].t, ticks[i] * MS);
    assert_int_equal(w.count, N);
    timer_wheel_advance(&w, UINT64_MAX / 2, on_fire, &log);
    assert_int_equal(log.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(log.ticks[i], ticks[log.ids[i]]);
        if (i > 0)
            assert_true(log.ticks[i - 1] < log.ticks[i]);
    }
    assert_int_equal(w.count, 0);
    for (unsigned l = 0; l < TIMER_LEVELS; l++)
        assert_int_equal(w.occupied[l], 0);
}

static void timer_fires_at_exact_tick_when_stepping_tick_by_tick(void **state)
{
    (void)state;
    /* One advance per tick: every cascade happens at its block boundary
     * and every timer fires in exactly its own tick. */
    static const uint64_t ticks[] = {
        1,    2,    63,   64,   65,   127,    128,    4095,   4096,  4097,
        4160, 8191, 8192, 8193, 9000, 100000, 262143, 262144, 262145};
    enum { N = sizeof ticks / sizeof ticks[0] };
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[N];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, N);
    for (int i = 0; i < N; i++)
        timer_wheel_arm(&w, &tt[i].t, ticks[i] * MS);
    for (uint64_t tick = 1; tick <= 262200; tick++) {
        int before = log.n;
        timer_wheel_advance(&w, tick * MS, on_fire, &log);
        for (int i = before; i < log.n; i++)
            assert_int_equal(ticks[log.ids[i]], tick);
    }
    assert_int_equal(log.n, N);
}

static void timer_same_tick_timers_all_fire_together(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[50];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 50);
    for (int i = 0; i < 50; i++)
        timer_wheel_arm(&w, &tt[i].t, 5000 * MS + 1 + (uint64_t)i); /* 5001 */
    timer_wheel_advance(&w, 5000 * MS, on_fire, &log);
    assert_int_equal(log.n, 0);
    timer_wheel_advance(&w, 5001 * MS, on_fire, &log);
    assert_int_equal(log.n, 50);
}

static void timer_cancel_prevents_firing(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[3];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 3);
    timer_wheel_arm(&w, &tt[0].t, 10 * MS);
    timer_wheel_arm(&w, &tt[1].t, 10 * MS);
    timer_wheel_arm(&w, &tt[2].t, 100000 * MS); /* a higher level */
    timer_wheel_cancel(&w, &tt[0].t);
    timer_wheel_cancel(&w, &tt[2].t);
    assert_false(timer_armed(&tt[0].t));
    assert_int_equal(w.count, 1);
    timer_wheel_advance(&w, 200000 * MS, on_fire, &log);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ids[0], 1);
}

static void timer_cancel_of_last_timer_in_slot_clears_occupancy(void **state)
{
    (void)state;
    /* next() reads the bitmaps: a cancelled slot must not leave a stale
     * wake-up behind. */
    struct timer_wheel w;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    setup_timers(tt, 2);
    timer_wheel_arm(&w, &tt[0].t, 7 * MS);
    timer_wheel_arm(&w, &tt[1].t, 20 * MS);
    timer_wheel_cancel(&w, &tt[0].t);
    assert_int_equal(timer_wheel_next(&w), 20 * MS);
    timer_wheel_cancel(&w, &tt[1].t);
    assert_int_equal(timer_wheel_next(&w), UINT64_MAX);
    for (unsigned l = 0; l < TIMER_LEVELS; l++)
        assert_int_equal(w.occupied[l], 0);
}

static void timer_cancel_of_unarmed_timer_is_harmless(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    setup_timers(&a, 1);
    timer_wheel_cancel(&w, &a.t);
    timer_wheel_arm(&w, &a.t, MS);
    timer_wheel_cancel(&w, &a.t);
    timer_wheel_cancel(&w, &a.t);
    assert_int_equal(w.count, 0);
    assert_false(timer_armed(&a.t));
}

static void timer_rearm_moves_an_armed_timer(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 10 * MS);
    timer_wheel_arm(&w, &a.t, 30000 * MS); /* later, another level */
    assert_int_equal(w.count, 1);
    timer_wheel_advance(&w, 20 * MS, on_fire, &log);
    assert_int_equal(a.fired, 0);
    timer_wheel_arm(&w, &a.t, 25 * MS); /* earlier again */
    timer_wheel_advance(&w, 25 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
    timer_wheel_advance(&w, 40000 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

/* Callback actions. */
struct cancel_arg {
    struct timer_wheel *w;
    struct ttimer *victims[4];
    int n;
};

static void cancel_victims(struct ttimer *self, void *arg)
{
    (void)self;
    struct cancel_arg *c = arg;
    for (int i = 0; i < c->n; i++)
        timer_wheel_cancel(c->w, &c->victims[i]->t);
}

static void timer_cancel_from_callback_prevents_firing(void **state)
{
    (void)state;
    /* Timers due in the same advance, in the same slot and in later
     * slots, cancelled by the first to fire: none of them fires. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[4];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 4);
    struct cancel_arg c0 = {&w, {&tt[1], &tt[2], &tt[3]}, 3};
    struct cancel_arg c1 = {&w, {&tt[0], &tt[2], &tt[3]}, 3};
    tt[0].action = cancel_victims;
    tt[0].arg = &c0;
    tt[1].action = cancel_victims;
    tt[1].arg = &c1;
    timer_wheel_arm(&w, &tt[0].t, 10 * MS);
    timer_wheel_arm(&w, &tt[1].t, 10 * MS);
    timer_wheel_arm(&w, &tt[2].t, 11 * MS);
    timer_wheel_arm(&w, &tt[3].t, 5000 * MS);
    timer_wheel_advance(&w, 6000 * MS, on_fire, &log);
    assert_int_equal(log.n, 1);
    assert_true(log.ids[0] == 0 || log.ids[0] == 1);
    assert_int_equal(w.count, 0);
    assert_int_equal(timer_wheel_next(&w), UINT64_MAX);
}

struct rearm_arg {
    struct timer_wheel *w;
    uint64_t at_us; /* where to re-arm */
    int times;      /* how many more times to re-arm */
};

static void rearm_self(struct ttimer *self, void *arg)
{
    struct rearm_arg *r = arg;
    if (r->times-- > 0)
        timer_wheel_arm(r->w, &self->t, r->at_us);
}

static void
timer_rearm_from_callback_to_future_does_not_fire_same_call(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    struct rearm_arg r = {&w, 60 * MS, 1};
    a.action = rearm_self;
    a.arg = &r;
    timer_wheel_arm(&w, &a.t, 10 * MS);
    timer_wheel_advance(&w, 20 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
    assert_true(timer_armed(&a.t));
    assert_int_equal(timer_wheel_next(&w), 60 * MS);
    timer_wheel_advance(&w, 59 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
    timer_wheel_advance(&w, 60 * MS, on_fire, &log);
    assert_int_equal(a.fired, 2);
}

static void timer_rearm_from_callback_to_due_time_fires_same_call(void **state)
{
    (void)state;
    /* Re-armed for 15 ms while the advance reaches 20 ms: it is due, so it
     * fires again in this call, after everything due before 15 ms. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 2);
    struct rearm_arg r = {&w, 15 * MS, 1};
    tt[0].action = rearm_self;
    tt[0].arg = &r;
    timer_wheel_arm(&w, &tt[0].t, 10 * MS);
    timer_wheel_arm(&w, &tt[1].t, 12 * MS);
    timer_wheel_advance(&w, 20 * MS, on_fire, &log);
    assert_int_equal(log.n, 3);
    assert_int_equal(log.ids[0], 0);
    assert_int_equal(log.ticks[0], 10);
    assert_int_equal(log.ids[1], 1);
    assert_int_equal(log.ticks[1], 12);
    assert_int_equal(log.ids[2], 0);
    assert_int_equal(log.ticks[2], 15);
}

static void
timer_rearm_from_callback_into_the_past_fires_same_call(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    struct rearm_arg r = {&w, 0, 2};
    a.action = rearm_self;
    a.arg = &r;
    timer_wheel_arm(&w, &a.t, 10 * MS);
    timer_wheel_advance(&w, 10 * MS, on_fire, &log);
    assert_int_equal(a.fired, 3);
    assert_int_equal(log.ticks[2], 10);
    assert_false(timer_armed(&a.t));
}

struct move_arg {
    struct timer_wheel *w;
    struct ttimer *other;
    uint64_t at_us;
};

static void move_other(struct ttimer *self, void *arg)
{
    (void)self;
    struct move_arg *m = arg;
    timer_wheel_arm(m->w, &m->other->t, m->at_us);
}

static void timer_callback_can_postpone_a_timer_not_yet_fired(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 2);
    struct move_arg m = {&w, &tt[1], 100 * MS};
    tt[0].action = move_other;
    tt[0].arg = &m;
    timer_wheel_arm(&w, &tt[0].t, 10 * MS);
    timer_wheel_arm(&w, &tt[1].t, 12 * MS);
    timer_wheel_advance(&w, 50 * MS, on_fire, &log);
    assert_int_equal(log.n, 1);
    assert_int_equal(tt[1].fired, 0);
    timer_wheel_advance(&w, 100 * MS, on_fire, &log);
    assert_int_equal(tt[1].fired, 1);
}

static void
timer_callback_can_advance_a_timer_to_fire_in_same_call(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 2);
    struct move_arg m = {&w, &tt[1], 30 * MS};
    tt[0].action = move_other;
    tt[0].arg = &m;
    timer_wheel_arm(&w, &tt[0].t, 10 * MS);
    timer_wheel_arm(&w, &tt[1].t, 900000 * MS);
    timer_wheel_advance(&w, 50 * MS, on_fire, &log);
    assert_int_equal(log.n, 2);
    assert_int_equal(log.ticks[1], 30);
}

static void timer_next_is_uint64_max_when_empty(void **state)
{
    (void)state;
    struct timer_wheel w;
    timer_wheel_init(&w, 5 * MS);
    assert_int_equal(timer_wheel_next(&w), UINT64_MAX);
}

static void timer_next_is_exact_for_a_level_zero_timer(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    setup_timers(tt, 2);
    timer_wheel_arm(&w, &tt[0].t, 40 * MS);
    timer_wheel_arm(&w, &tt[1].t, 7 * MS - 999);
    assert_int_equal(timer_wheel_next(&w), 7 * MS);
}

static void timer_next_reports_cascade_point_no_later_than_expiry(void **state)
{
    (void)state;
    /* Tick 5000 is in level 2 (4096 <= delta); its slot cascades at tick
     * 4096. Following next() reaches the expiry in a few steps, never
     * overshooting it. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 5000 * MS);
    assert_int_equal(timer_wheel_next(&w), 4096 * MS);
    int steps = 0;
    while (!a.fired) {
        uint64_t next = timer_wheel_next(&w);
        assert_true(next <= 5000 * MS);
        timer_wheel_advance(&w, next, on_fire, &log);
        assert_true(++steps <= 2 * (int)TIMER_LEVELS);
    }
    assert_int_equal(a.fired_tick, 5000);
}

static void timer_next_wraps_around_the_level_slot_index(void **state)
{
    (void)state;
    /* Level 1 at slot index 62 (tick 4000): a timer 200 ticks ahead sits in
     * index 1, behind the current index, and cascades at tick 4160. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 4000 * MS);
    log_init(&log, &w);
    setup_timers(tt, 2);
    timer_wheel_arm(&w, &tt[0].t, 4200 * MS);
    assert_int_equal(timer_wheel_next(&w), 4160 * MS);
    /* Level 0 at index 60: tick 70 is index 6. */
    struct timer_wheel w0;
    timer_wheel_init(&w0, 60 * MS);
    timer_wheel_arm(&w0, &tt[1].t, 70 * MS);
    assert_int_equal(timer_wheel_next(&w0), 70 * MS);
    timer_wheel_advance(&w, 4199 * MS, on_fire, &log);
    assert_int_equal(log.n, 0);
    timer_wheel_advance(&w, 4200 * MS, on_fire, &log);
    assert_int_equal(log.n, 1);
}

static void timer_next_handles_slot_one_full_rotation_ahead(void **state)
{
    (void)state;
    /* At tick 65 (level-1 index 1), tick 4160 (delta 4095) goes to level
     * 1 at index 65 & 63 = 1, the current index: it must wait a whole
     * rotation, until the block starting at tick 4160. */
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 65 * MS);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_arm(&w, &a.t, 4160 * MS);
    assert_int_equal(timer_wheel_next(&w), 4160 * MS);
    timer_wheel_advance(&w, 4159 * MS, on_fire, &log);
    assert_int_equal(a.fired, 0);
    timer_wheel_advance(&w, 4160 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

static void timer_beyond_wheel_span_is_clamped_and_fires_on_time(void **state)
{
    (void)state;
    /* 64^6 ticks is the span; 2^38 + 123 ticks is four spans away. */
    const uint64_t span = (uint64_t)1 << 36;
    const uint64_t tick = ((uint64_t)1 << 38) + 123;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 2);
    timer_wheel_arm(&w, &tt[0].t, tick * MS);
    timer_wheel_arm(&w, &tt[1].t, UINT64_MAX); /* the end of time */
    assert_true(timer_wheel_next(&w) < span * MS);
    for (uint64_t now = span / 3; now < tick; now += span / 3) {
        timer_wheel_advance(&w, now * MS, on_fire, &log);
        assert_int_equal(tt[0].fired, 0);
        assert_true(timer_wheel_next(&w) <= tick * MS);
    }
    timer_wheel_advance(&w, (tick - 1) * MS, on_fire, &log);
    assert_int_equal(tt[0].fired, 0);
    timer_wheel_advance(&w, tick * MS, on_fire, &log);
    assert_int_equal(tt[0].fired, 1);
    assert_int_equal(tt[0].fired_tick, tick);
    assert_true(timer_armed(&tt[1].t));
}

static void timer_beyond_span_fires_in_one_big_advance(void **state)
{
    (void)state;
    const uint64_t tick = ((uint64_t)1 << 40) + 5;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer tt[2];
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, 2);
    timer_wheel_arm(&w, &tt[0].t, tick * MS);
    timer_wheel_arm(&w, &tt[1].t, (tick + 1) * MS);
    timer_wheel_advance(&w, tick * MS, on_fire, &log);
    assert_int_equal(log.n, 1);
    assert_int_equal(log.ticks[0], tick);
    assert_int_equal(timer_wheel_next(&w), (tick + 1) * MS);
}

static void timer_advance_to_earlier_time_is_a_no_op(void **state)
{
    (void)state;
    struct timer_wheel w;
    struct fire_log log;
    struct ttimer a;
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(&a, 1);
    timer_wheel_advance(&w, 100 * MS, on_fire, &log);
    timer_wheel_arm(&w, &a.t, 50 * MS); /* due: in the past */
    timer_wheel_advance(&w, 90 * MS, on_fire, &log);
    assert_int_equal(a.fired, 0);
    assert_int_equal(w.now_tick, 100);
    timer_wheel_advance(&w, 100 * MS, on_fire, &log);
    assert_int_equal(a.fired, 1);
}

static void timer_many_timers_each_fire_once_in_order(void **state)
{
    (void)state;
    enum { N = 4000 };
    static struct ttimer tt[N];
    struct timer_wheel w;
    static struct fire_log log;
    struct rng g;
    rng_seed(&g, 11);
    timer_wheel_init(&w, 0);
    log_init(&log, &w);
    setup_timers(tt, N);
    for (int i = 0; i < N; i++)
        timer_wheel_arm(&w, &tt[i].t, rng_below(&g, 1000000) * MS);
    assert_int_equal(w.count, N);
    timer_wheel_advance(&w, 1000000 * MS, on_fire, &log);
    assert_int_equal(log.n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(tt[i].fired, 1);
        assert_int_equal(tt[i].fired_tick, tt[i].t.expires);
        if (i > 0)
            assert_true(log.ticks[i - 1] <= log.ticks[i]);
    }
    assert_int_equal(w.count, 0);
}

/* ---- Randomized comparison with a naive model ----------------------------
 * The model keeps, per timer, whether it is armed and its effective expiry
 * tick: max(ceil(expiry_us / tick), the wheel's tick when armed). It checks:
 *  - each firing is of an armed timer with the smallest effective tick of
 *    all armed timers (expiry order, nothing skipped), not above the
 *    advance's tick (never early), at the wheel tick equal to it;
 *  - after an advance, no armed timer is due (never later than the first
 *    advance at or after its expiry); an advance to an earlier time fires
 *    nothing;
 *  - timer_wheel_next() is never later than the earliest effective expiry;
 *  - armed flags and the count agree.
 * Callbacks arm and cancel random timers, including themselves. */

enum { MODEL_MAX = 400 };

struct model_timer {
    struct timer t;
    bool armed;
    uint64_t eff;
};

struct model {
    struct timer_wheel w;
    struct model_timer tm[MODEL_MAX];
    int n; /* timers in use */
    struct rng g;
    uint64_t tick;   /* the model's idea of the wheel's current tick */
    uint64_t now_us; /* last time handed to advance */
    uint64_t target; /* the running advance's tick */
    int due_budget;  /* re-arms due in the running advance still allowed */
    bool quiet;      /* callbacks do nothing (the final drain) */
    uint64_t fires;
};

static uint64_t ceil_tick(uint64_t us)
{
    return us / MS + (us % MS != 0);
}

/* An expiry in microseconds around the model's current tick. */
static uint64_t random_expiry(struct model *m)
{
    uint64_t base = m->tick * MS;
    struct rng *g = &m->g;
    switch (rng_below(g, 10)) {
    case 0: /* past, or exactly now */
        return rng_below(g, base + 1);
    case 1: /* within the level-0 window, sub-tick offsets */
    case 2:
        return base + rng_below(g, 64 * MS);
    case 3: /* a level boundary, +-1 tick */
    {
        unsigned l = 1 + (unsigned)rng_below(g, TIMER_LEVELS - 1);
        uint64_t block = (uint64_t)1 << (TIMER_LEVEL_BITS * l);
        uint64_t b = (m->tick / block + 1 + rng_below(g, 3)) * block;
        return (b - 1 + rng_below(g, 3)) * MS;
    }
    case 4: /* medium */
    case 5:
        return base + rng_below(g, 300000 * (uint64_t)MS);
    case 6: /* a few fixed anchors: many timers share slots */
        return ((m->tick / 64) * 64 + 64 * rng_below(g, 3)) * MS;
    case 7: /* large: the upper levels */
        return base + rng_below(g, ((uint64_t)1 << 36) * MS);
    case 8: /* beyond the span: clamped */
        return base +
               (((uint64_t)1 << 36) + rng_below(g, (uint64_t)1 << 40)) * MS;
    default:
        return base + rng_below(g, 5000 * (uint64_t)MS);
    }
}

static void model_arm(struct model *m, int i, uint64_t us)
{
    uint64_t t = ceil_tick(us);
    m->tm[i].eff = t > m->tick ? t : m->tick;
    m->tm[i].armed = true;
    timer_wheel_arm(&m->w, &m->tm[i].t, us);
}

static void model_cancel(struct model *m, int i)
{
    m->tm[i].armed = false;
    timer_wheel_cancel(&m->w, &m->tm[i].t);
}

/* Arms timer i at a random time; inside an advance, at most due_budget
 * of those may be due again in the same advance, so it terminates. */
static void model_arm_random(struct model *m, int i, bool in_advance)
{
    uint64_t us = random_expiry(m);
    if (in_advance && ceil_tick(us) <= m->target) {
        if (m->due_budget > 0)
            m->due_budget--;
        else
            us = (m->target + 1 + rng_below(&m->g, 100)) * MS;
    }
    model_arm(m, i, us);
}

static uint64_t model_earliest(const struct model *m)
{
    uint64_t e = UINT64_MAX;
    for (int i = 0; i < m->n; i++)
        if (m->tm[i].armed && m->tm[i].eff < e)
            e = m->tm[i].eff;
    return e;
}

static void model_check(const struct model *m)
{
    uint64_t armed = 0;
    for (int i = 0; i < m->n; i++) {
        assert_int_equal(timer_armed(&m->tm[i].t), m->tm[i].armed);
        armed += m->tm[i].armed;
    }
    assert_int_equal(m->w.count, armed);
    uint64_t next = timer_wheel_next(&m->w);
    uint64_t earliest = model_earliest(m);
    if (earliest == UINT64_MAX) {
        assert_int_equal(next, UINT64_MAX);
    } else {
        uint64_t bound =
            earliest > UINT64_MAX / MS ? UINT64_MAX : earliest * MS;
        assert_true(next <= bound);
        assert_true(next >= m->tick * MS);
    }
}

static void model_on_fire(struct timer *t, void *ctx)
{
    struct model *m = ctx;
    struct model_timer *mt =
        (struct model_timer *)((char *)t - offsetof(struct model_timer, t));
    int id = (int)(mt - m->tm);
    assert_true(mt->armed);
    assert_false(timer_armed(t));
    assert_true(mt->eff <= m->target);            /* never early */
    assert_int_equal(mt->eff, model_earliest(m)); /* in order, none skipped */
    assert_int_equal(m->w.now_tick, mt->eff);
    mt->armed = false;
    m->tick = mt->eff;
    m->fires++;
    if (m->quiet)
        return;
    /* Random reactions: re-arm self, cancel or arm another timer. */
    unsigned what = (unsigned)rng_below(&m->g, 8);
    if (what == 0 || what == 1)
        model_arm_random(m, id, true);
    if (what == 2 || what == 3)
        model_cancel(m, (int)rng_below(&m->g, (uint64_t)m->n));
    if (what == 4 || what == 5)
        model_arm_random(m, (int)rng_below(&m->g, (uint64_t)m->n), true);
    if (what == 6) {
        model_arm_random(m, id, true);
        model_cancel(m, id); /* armed, then cancelled: must not fire */
    }
}

static void model_advance(struct model *m, uint64_t now_us)
{
    uint64_t target = now_us / MS;
    m->target = target;
    m->due_budget = 8;
    uint64_t before = m->fires;
    timer_wheel_advance(&m->w, now_us, model_on_fire, m);
    if (target < m->tick) {
        assert_int_equal(m->fires, before); /* earlier time: no-op */
        return;
    }
    m->tick = target;
    m->now_us = now_us;
    for (int i = 0; i < m->n; i++)
        if (m->tm[i].armed)
            assert_true(m->tm[i].eff > target); /* nothing due left */
}

static uint64_t random_advance_time(struct model *m)
{
    struct rng *g = &m->g;
    uint64_t now = m->now_us;
    switch (rng_below(g, 12)) {
    case 0:
        return now; /* the same time again */
    case 1:         /* backwards */
        return now - rng_below(g, (now < 5000 * MS ? now : 5000 * MS) + 1);
    case 2:
    case 3:
        return now + rng_below(g, 3 * MS); /* sub-tick and single ticks */
    case 4:
        return now + rng_below(g, 200 * MS);
    case 5:
        return now + rng_below(g, 500000 * (uint64_t)MS);
    case 6: { /* exactly the earliest expiry, or just before it */
        uint64_t e = model_earliest(m);
        if (e == UINT64_MAX || e > UINT64_MAX / MS)
            return now + MS;
        return e * MS - rng_below(g, 2);
    }
    case 7:
    case 8: { /* what a runtime does: sleep until next() */
        uint64_t n = timer_wheel_next(&m->w);
        return n == UINT64_MAX ? now + MS : n;
    }
    case 9: /* huge: several wheel spans */
        return now + rng_below(g, ((uint64_t)1 << 40) * MS);
    default:
        return now + rng_below(g, ((uint64_t)1 << 30) * MS);
    }
}

static void run_model(struct model *m, uint64_t seed, int n, int steps)
{
    memset(m, 0, sizeof *m);
    rng_seed(&m->g, seed);
    m->n = n;
    m->now_us = rng_below(&m->g, 2) ? 0 : rng_below(&m->g, (uint64_t)1 << 50);
    m->tick = m->now_us / MS;
    timer_wheel_init(&m->w, m->now_us);
    for (int i = 0; i < n; i++)
        timer_init(&m->tm[i].t);
    for (int step = 0; step < steps; step++) {
        if (m->now_us > ((uint64_t)1 << 62))
            break; /* bounded: stay far from overflow */
        unsigned op = (unsigned)rng_below(&m->g, 10);
        int i = (int)rng_below(&m->g, (uint64_t)n);
        if (op < 4)
            model_arm_random(m, i, false);
        else if (op < 5)
            model_cancel(m, i);
        else
            model_advance(m, random_advance_time(m));
        model_check(m);
    }
    /* Drain, with callbacks quiet: every expiry is at most 2^36 + 2^40
     * ticks ahead, so this fires everything, in order. */
    m->quiet = true;
    model_advance(m, m->now_us + ((uint64_t)1 << 41) * MS);
    assert_int_equal(m->w.count, 0);
    model_check(m);
}

static void timer_random_operations_match_naive_model(void **state)
{
    (void)state;
    static struct model m;
    uint64_t fires = 0;
    for (uint64_t seed = 1; seed <= 150; seed++) {
        run_model(&m, seed, 12, 4000);
        fires += m.fires;
    }
    assert_true(fires > 10000);
}

static void
timer_random_operations_with_many_timers_match_naive_model(void **state)
{
    (void)state;
    static struct model m;
    for (uint64_t seed = 100; seed < 110; seed++)
        run_model(&m, seed, MODEL_MAX, 6000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timer_armed_for_1500us_fires_at_2000us),
        cmocka_unit_test(timer_on_tick_boundary_fires_exactly_then),
        cmocka_unit_test(timer_fires_once_even_if_advance_is_late),
        cmocka_unit_test(timer_expiry_in_the_past_fires_at_next_advance),
        cmocka_unit_test(timer_wheel_init_at_nonzero_time_measures_from_there),
        cmocka_unit_test(timer_fires_in_expiry_order_across_levels),
        cmocka_unit_test(timer_fires_at_exact_tick_when_stepping_tick_by_tick),
        cmocka_unit_test(timer_same_tick_timers_all_fire_together),
        cmocka_unit_test(timer_cancel_prevents_firing),
        cmocka_unit_test(timer_cancel_of_last_timer_in_slot_clears_occupancy),
        cmocka_unit_test(timer_cancel_of_unarmed_timer_is_harmless),
        cmocka_unit_test(timer_rearm_moves_an_armed_timer),
        cmocka_unit_test(timer_cancel_from_callback_prevents_firing),
        cmocka_unit_test(
            timer_rearm_from_callback_to_future_does_not_fire_same_call),
        cmocka_unit_test(timer_rearm_from_callback_to_due_time_fires_same_call),
        cmocka_unit_test(
            timer_rearm_from_callback_into_the_past_fires_same_call),
        cmocka_unit_test(timer_callback_can_postpone_a_timer_not_yet_fired),
        cmocka_unit_test(
            timer_callback_can_advance_a_timer_to_fire_in_same_call),
        cmocka_unit_test(timer_next_is_uint64_max_when_empty),
        cmocka_unit_test(timer_next_is_exact_for_a_level_zero_timer),
        cmocka_unit_test(timer_next_reports_cascade_point_no_later_than_expiry),
        cmocka_unit_test(timer_next_wraps_around_the_level_slot_index),
        cmocka_unit_test(timer_next_handles_slot_one_full_rotation_ahead),
        cmocka_unit_test(timer_beyond_wheel_span_is_clamped_and_fires_on_time),
        cmocka_unit_test(timer_beyond_span_fires_in_one_big_advance),
        cmocka_unit_test(timer_advance_to_earlier_time_is_a_no_op),
        cmocka_unit_test(timer_many_timers_each_fire_once_in_order),
        cmocka_unit_test(timer_random_operations_match_naive_model),
        cmocka_unit_test(
            timer_random_operations_with_many_timers_match_naive_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
