/* The runtime's impairment: the spec string (parse, format, round trips,
 * errors) and the model's behaviour with a fixed seed in virtual time —
 * loss and duplication rates, reordering that really reorders, delay and
 * jitter by the configured time, the bounded queue, and the clean fast
 * path that neither copies nor queues. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rt/rt_impl.h"

#define MS 1000ull

/* ------------------------------------------------------------------------
 * Spec strings.
 */

static void parse_full_spec(void **state)
{
    (void)state;
    struct berth_impair imp;
    char err[256] = "";
    assert_int_equal(
        berth_impair_parse("loss=5%,dup=1%,reorder=25%,delay=5ms,jitter=2ms,"
                           "seed=42",
                           &imp, err, sizeof err),
        0);
    assert_true(imp.loss > 0.0499 && imp.loss < 0.0501);
    assert_true(imp.dup > 0.0099 && imp.dup < 0.0101);
    assert_true(imp.reorder > 0.2499 && imp.reorder < 0.2501);
    assert_int_equal(imp.delay, 5000);
    assert_int_equal(imp.jitter, 2000);
    assert_int_equal(imp.seed, 42);
    assert_false(imp.drop_all);
}

/* Percentages as tc netem reads them: the number is percent with or
 * without '%', so "loss=0.05" is 0.05 %, not 5 %. */
static void parse_percent_without_sign_is_percent(void **state)
{
    (void)state;
    struct berth_impair imp;
    char err[256];
    assert_int_equal(berth_impair_parse("loss=0.05", &imp, err, sizeof err), 0);
    assert_true(imp.loss > 0.00049 && imp.loss < 0.00051);
    assert_int_equal(berth_impair_parse("loss=5", &imp, err, sizeof err), 0);
    assert_true(imp.loss > 0.0499 && imp.loss < 0.0501);
    assert_int_equal(imp.seed, 1); /* the default seed */
}

static void parse_units_and_words(void **state)
{
    (void)state;
    struct berth_impair imp;
    char err[256];
    assert_int_equal(
        berth_impair_parse("delay=250us jitter=1.5s", &imp, err, sizeof err),
        0);
    assert_int_equal(imp.delay, 250);
    assert_int_equal(imp.jitter, 1500000);
    assert_int_equal(berth_impair_parse("off", &imp, err, sizeof err), 0);
    assert_int_equal(imp.delay, 0);
    assert_false(imp.loss > 0);
    assert_int_equal(berth_impair_parse("drop-all", &imp, err, sizeof err), 0);
    assert_true(imp.drop_all);
    assert_int_equal(berth_impair_parse("", &imp, err, sizeof err), 0);
    assert_false(imp.drop_all);
}

static void expect_error(const char *spec, const char *needle)
{
    struct berth_impair imp;
    char err[256] = "";
    assert_int_equal(berth_impair_parse(spec, &imp, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err, needle);
    assert_null(strchr(err, '\n')); /* one line */
}

static void parse_rejects_bad_tokens_with_a_message(void **state)
{
    (void)state;
    expect_error("lose=5%", "unknown key 'lose'");
    expect_error("loss", "key=value");
    expect_error("loss=abc", "loss=abc");
    expect_error("loss=150%", "0..100");
    expect_error("loss=-1", "0..100");
    expect_error("loss=5%%", "loss=5%%");
    expect_error("delay=5", "unit");
    expect_error("delay=5min", "unit");
    expect_error("jitter=-2ms", "jitter=-2ms");
    expect_error("seed=x", "unsigned integer");
    expect_error("seed=-1", "unsigned integer");
    expect_error("loss=5%,off", "cannot be combined");
}

static void round_trip(const char *spec)
{
    struct berth_impair imp;
    char err[256], out[256];
    assert_int_equal(berth_impair_parse(spec, &imp, err, sizeof err), 0);
    berth_impair_format(&imp, out, sizeof out);
    assert_string_equal(out, spec);
}

static void format_round_trips(void **state)
{
    (void)state;
    round_trip("loss=5%,dup=1%,reorder=25%,delay=5ms,jitter=2ms,seed=7");
    round_trip("loss=0.05%,seed=1");
    round_trip("reorder=25%,delay=5ms,seed=1");
    round_trip("delay=1s,jitter=250us,seed=99");
    round_trip("drop-all,seed=1");
    round_trip("off");
    struct berth_impair zero = {0};
    char out[64];
    berth_impair_format(&zero, out, sizeof out);
    assert_string_equal(out, "off");
    berth_impair_format(&zero, out, 2); /* truncates, terminated */
    assert_string_equal(out, "o");
}

/* ------------------------------------------------------------------------
 * The model, in virtual time.
 */

struct sink {
    uint64_t now; /* the virtual clock when emit runs */
    size_t n;
    uint32_t ids[4096];
    uint64_t at[4096];
    const uint8_t *last_ptr;
};

static void emit(void *ctx, const uint8_t *pkt, size_t len)
{
    struct sink *s = ctx;
    uint32_t id;
    assert_true(len >= sizeof id);
    memcpy(&id, pkt, sizeof id);
    if (s->n < 4096) {
        s->ids[s->n] = id;
        s->at[s->n] = s->now;
    }
    s->n++;
    s->last_ptr = pkt;
}

static struct rt_impair *model(const char *spec, size_t limit)
{
    struct berth_impair imp;
    char err[256];
    assert_int_equal(berth_impair_parse(spec, &imp, err, sizeof err), 0);
    struct rt_impair *m = rt_impair_create(limit);
    assert_non_null(m);
    rt_impair_configure(m, &imp, 0);
    return m;
}

/* Submits `count` packets one `gap` apart, draining as time goes, then
 * drains everything. */
static void run(struct rt_impair *m, struct sink *s, uint32_t count,
                uint64_t gap)
{
    uint8_t pkt[64] = {0};
    for (uint32_t i = 0; i < count; i++) {
        s->now = i * gap;
        rt_impair_drain(m, s->now, emit, s);
        memcpy(pkt, &i, sizeof i);
        rt_impair_submit(m, pkt, sizeof pkt, s->now, emit, s);
    }
    while (rt_impair_queued(m)) {
        s->now = rt_impair_next_due(m);
        rt_impair_drain(m, s->now, emit, s);
    }
}

static void clean_model_passes_without_copy(void **state)
{
    (void)state;
    struct rt_impair *m = model("off", 0);
    struct sink s = {0};
    uint8_t pkt[8] = {1, 2, 3, 4};
    rt_impair_submit(m, pkt, sizeof pkt, 0, emit, &s);
    assert_int_equal(s.n, 1);
    assert_ptr_equal(s.last_ptr, pkt); /* the caller's buffer: no copy */
    assert_int_equal(rt_impair_queued(m), 0);
    assert_int_equal(rt_impair_next_due(m), UINT64_MAX);
    rt_impair_destroy(m);
}

static void loss_rate_matches_with_fixed_seed(void **state)
{
    (void)state;
    struct rt_impair *m = model("loss=5%,seed=3", 0);
    struct sink s = {0};
    run(m, &s, 100000, 10);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(st.lost + s.n, 100000);
    /* 5 % of 100k = 5000, sigma ~69: +-400 is beyond chance. */
    assert_in_range(st.lost, 4600, 5400);
    assert_int_equal(st.duplicated, 0);
    rt_impair_destroy(m);

    /* Same seed, same choices. */
    struct rt_impair *again = model("loss=5%,seed=3", 0);
    struct sink s2 = {0};
    run(again, &s2, 100000, 10);
    assert_int_equal(s2.n, s.n);
    assert_memory_equal(s2.ids, s.ids, sizeof s.ids);
    rt_impair_destroy(again);
}

static void dup_rate_and_drop_all(void **state)
{
    (void)state;
    struct rt_impair *m = model("dup=1%,seed=5", 0);
    struct sink s = {0};
    run(m, &s, 100000, 10);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(s.n, 100000 + st.duplicated);
    assert_in_range(st.duplicated, 850, 1150);
    rt_impair_destroy(m);

    m = model("drop-all", 0);
    struct sink s2 = {0};
    run(m, &s2, 1000, 10);
    rt_impair_get_stats(m, &st);
    assert_int_equal(s2.n, 0);
    assert_int_equal(st.lost, 1000);
    rt_impair_destroy(m);
}

static void delay_delays_by_configured_time(void **state)
{
    (void)state;
    struct rt_impair *m = model("delay=5ms", 0);
    struct sink s = {0};
    run(m, &s, 1000, 100);
    assert_int_equal(s.n, 1000);
    for (uint32_t i = 0; i < 1000; i++) {
        assert_int_equal(s.ids[i], i); /* order kept */
        assert_int_equal(s.at[i], i * 100 + 5 * MS);
    }
    rt_impair_destroy(m);
}

static void jitter_stays_within_bounds(void **state)
{
    (void)state;
    struct rt_impair *m = model("delay=5ms,jitter=2ms,seed=11", 0);
    struct sink s = {0};
    run(m, &s, 2000, 1000);
    assert_int_equal(s.n, 2000);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < s.n; i++) {
        uint64_t d = s.at[i] - (uint64_t)s.ids[i] * 1000;
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(lo >= 5 * MS && lo < 5 * MS + 100);
    assert_true(hi <= 7 * MS && hi > 7 * MS - 100);
    rt_impair_destroy(m);
}

/* A reordered packet is held back max(delay, 1 ms) + jitter more: packets
 * sent just after it arrive first. */
static void reorder_really_reorders(void **state)
{
    (void)state;
    struct rt_impair *m = model("reorder=25%,delay=5ms,seed=9", 0);
    struct sink s = {0};
    run(m, &s, 4000, 100);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(s.n, 4000);
    assert_in_range(st.reordered, 850, 1150);
    size_t late = 0;
    uint32_t highest = 0;
    for (size_t i = 0; i < s.n; i++) {
        if (i > 0 && s.ids[i] < highest)
            late++; /* arrived after a packet sent later */
        highest = s.ids[i] > highest ? s.ids[i] : highest;
        uint64_t d = s.at[i] - (uint64_t)s.ids[i] * 100;
        assert_true(d == 5 * MS || d == 10 * MS);
    }
    /* Every reordered packet is overtaken, except one so close to the end
     * that nothing was sent after it to overtake it. */
    assert_in_range(late, st.reordered - 2, st.reordered);
    assert_true(late > 0);
    rt_impair_destroy(m);
}

static void full_queue_drops_and_counts(void **state)
{
    (void)state;
    struct rt_impair *m = model("delay=10ms", 8);
    struct sink s = {0};
    uint8_t pkt[16] = {0};
    for (uint32_t i = 0; i < 20; i++) {
        memcpy(pkt, &i, sizeof i);
        rt_impair_submit(m, pkt, sizeof pkt, 0, emit, &s);
    }
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(rt_impair_queued(m), 8);
    assert_int_equal(st.queue_full, 12);
    assert_int_equal(rt_impair_drain(m, 10 * MS - 1, emit, &s), 0);
    assert_int_equal(rt_impair_drain(m, 10 * MS, emit, &s), 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(s.ids[i], i);
    rt_impair_destroy(m); /* nothing held: also frees the block pool */
}

static void reconfigure_keeps_queued_packets(void **state)
{
    (void)state;
    struct rt_impair *m = model("delay=10ms", 0);
    struct sink s = {0};
    uint8_t big[3000] = {0}; /* beyond the pool's block size */
    rt_impair_submit(m, big, sizeof big, 0, emit, &s);
    struct berth_impair off = {0};
    rt_impair_configure(m, &off, 0);
    rt_impair_submit(m, big, 16, 0, emit, &s);
    assert_int_equal(s.n, 1); /* the new one passed at once */
    assert_int_equal(rt_impair_next_due(m), 10 * MS);
    assert_int_equal(rt_impair_drain(m, 10 * MS, emit, &s), 1);
    /* Destroying with packets still held frees them. */
    rt_impair_submit(m, big, 8, 0, emit, &s);
    struct berth_impair d = {.delay = 1};
    rt_impair_configure(m, &d, 0);
    rt_impair_submit(m, big, sizeof big, 0, emit, &s);
    rt_impair_submit(m, big, 16, 0, emit, &s);
    assert_int_equal(rt_impair_queued(m), 2);
    rt_impair_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_full_spec),
        cmocka_unit_test(parse_percent_without_sign_is_percent),
        cmocka_unit_test(parse_units_and_words),
        cmocka_unit_test(parse_rejects_bad_tokens_with_a_message),
        cmocka_unit_test(format_round_trips),
        cmocka_unit_test(clean_model_passes_without_copy),
        cmocka_unit_test(loss_rate_matches_with_fixed_seed),
        cmocka_unit_test(dup_rate_and_drop_all),
        cmocka_unit_test(delay_delays_by_configured_time),
        cmocka_unit_test(jitter_stays_within_bounds),
        cmocka_unit_test(reorder_really_reorders),
        cmocka_unit_test(full_queue_drops_and_counts),
        cmocka_unit_test(reconfigure_keeps_queued_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
