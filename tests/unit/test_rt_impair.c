/* The runtime's impairment: the spec string (parse, format, round trips,
 * errors) and the model's behaviour with a fixed seed in virtual time —
 * loss and duplication rates, reordering that really reorders, delay and
 * jitter by the configured time, the bounded queue, and the clean fast
 * path that neither copies nor queues — and the model it shares with the
 * memlink: corruption, the bottleneck, Gilbert–Elliott bursts, outages,
 * stages that draw nothing while off, and the delay queue. */
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

/* Submits `count` packets of `len` bytes (len >= 4, at most 1500) at
 * `now`, each carrying its index as its id. */
static void submit_burst(struct rt_impair *m, struct sink *s, uint32_t count,
                         size_t len, uint64_t now)
{
    uint8_t pkt[1500] = {0};
    assert_true(len >= sizeof count && len <= sizeof pkt);
    for (uint32_t i = 0; i < count; i++) {
        memcpy(pkt, &i, sizeof i);
        rt_impair_submit(m, pkt, len, now, emit, s);
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
    submit_burst(m, &s, 20, 16, 0);
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

/* ------------------------------------------------------------------------
 * The shared model (impair_model.c): the stages the memlink has always
 * had, now reachable from the runtime too, through its wrapper and
 * directly.
 */

static struct rt_impair *model_params(const struct impair_params *p,
                                      uint64_t seed, size_t limit)
{
    struct rt_impair *m = rt_impair_create(limit);
    assert_non_null(m);
    rt_impair_configure_model(m, p, seed, 0);
    return m;
}

/* Counts, per emitted copy, the bits that differ from `sent`. */
struct bit_sink {
    const uint8_t *sent;
    size_t n, one_bit, intact;
};

static void emit_bits(void *ctx, const uint8_t *pkt, size_t len)
{
    struct bit_sink *b = ctx;
    unsigned diff = 0;
    for (size_t i = 0; i < len; i++)
        diff += (unsigned)__builtin_popcount((unsigned)(pkt[i] ^ b->sent[i]));
    assert_true(diff <= 1);
    b->n++;
    if (diff == 1)
        b->one_bit++;
    else
        b->intact++;
}

/* A corrupted copy differs from what was sent in exactly one bit, the
 * sender's buffer is never touched, and the others arrive intact. */
static void corruption_flips_exactly_one_bit(void **state)
{
    (void)state;
    struct impair_params p = {.corrupt = 0.1};
    struct rt_impair *m = model_params(&p, 21, 0);
    uint8_t pkt[64], orig[64];
    for (size_t i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)(i * 37);
    memcpy(orig, pkt, sizeof pkt);
    struct bit_sink b = {.sent = orig};
    for (uint32_t i = 0; i < 2000; i++)
        rt_impair_submit(m, pkt, sizeof pkt, 0, emit_bits, &b);
    assert_memory_equal(pkt, orig, sizeof pkt);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(b.n, 2000);
    assert_int_equal(b.one_bit, st.corrupted);
    /* 10 % of 2000 = 200, sigma ~13. */
    assert_in_range(st.corrupted, 140, 260);
    assert_int_equal(rt_impair_queued(m), 0); /* no delay: nothing held */
    rt_impair_destroy(m);
}

/* The bottleneck serializes at `rate` through a FIFO of queue_packets:
 * a burst leaves one serialization time apart, then takes the base delay;
 * what does not fit is tail-dropped. */
static void bottleneck_spreads_a_burst_and_tail_drops(void **state)
{
    (void)state;
    struct impair_params p = {.rate = 1000000, /* 1000 B = 1 ms */
                              .queue_packets = 4,
                              .delay = 2 * MS};
    struct rt_impair *m = model_params(&p, 1, 0);
    struct sink s = {0};
    submit_burst(m, &s, 10, 1000, 0);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(st.queue_full, 6);
    assert_int_equal(rt_impair_queued(m), 4);
    for (uint32_t i = 0; i < 4; i++) {
        s.now = rt_impair_next_due(m);
        assert_int_equal(s.now, (i + 1) * MS + 2 * MS);
        assert_int_equal(rt_impair_drain(m, s.now, emit, &s), 1);
        assert_int_equal(s.ids[i], i);
    }
    /* Once the FIFO has drained, a packet waits only for itself. */
    submit_burst(m, &s, 1, 1000, 10 * MS);
    assert_int_equal(rt_impair_next_due(m), 11 * MS + 2 * MS);
    rt_impair_destroy(m);
}

/* Gilbert–Elliott: with loss only in the bad state, losses come in bursts
 * of mean 1 / ge_bad_to_good, at the chain's stationary rate
 * g2b / (g2b + b2g). */
static void gilbert_elliott_loses_in_bursts(void **state)
{
    (void)state;
    struct impair_params p = {
        .ge_good_to_bad = 0.01, .ge_bad_to_good = 0.25, .ge_loss_bad = 1.0};
    struct rt_impair *m = model_params(&p, 7, 0);
    struct sink s = {0};
    run(m, &s, 100000, 10);
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(st.lost + s.n, 100000);
    /* 0.01 / 0.26 = 3.85 %. */
    assert_in_range(st.lost, 3300, 4400);
    size_t bursts = 0;
    for (size_t i = 1; i < 4096 && i < s.n; i++)
        bursts += s.ids[i] != s.ids[i - 1] + 1; /* a gap: a burst ended */
    /* Mean burst 4: ~0.96 bursts per 100 packets over the 4096 seen. */
    size_t seen = s.ids[4095] + 1;
    assert_in_range(bursts * 1000 / seen, 6, 14);
    rt_impair_destroy(m);
}

/* Outages drop what enters the wire inside [start, end); the list is
 * bounded and rejects empty windows. */
static void outages_drop_inside_their_window(void **state)
{
    (void)state;
    struct impair_model m;
    impair_model_init(&m, 1, 0);
    assert_false(impair_model_add_outage(&m, 5 * MS, 5 * MS));
    assert_true(impair_model_add_outage(&m, 5 * MS, 6 * MS));
    for (int i = 1; i < IMPAIR_MAX_OUTAGES; i++)
        assert_true(impair_model_add_outage(&m, 100 * MS, 101 * MS));
    assert_false(impair_model_add_outage(&m, 200 * MS, 201 * MS));
    struct impair_verdict v = impair_model_decide(&m, 5 * MS - 1, 40, 1, 0);
    assert_int_equal(v.copies, 1);
    v = impair_model_decide(&m, 5 * MS, 40, 1, 0);
    assert_int_equal(v.copies, 0);
    assert_int_equal(v.drop, IMPAIR_DROP_OUTAGE);
    v = impair_model_decide(&m, 6 * MS, 40, 1, 0);
    assert_int_equal(v.copies, 1);
    /* A filter's choice (chosen) skips the dice but not the outage. */
    v = impair_model_decide(&m, 5 * MS + 1, 40, 2, true);
    assert_int_equal(v.copies, 0);
    impair_model_free(&m);
}

/* Stages that are off draw nothing: adding them at 0 leaves every fate of
 * a seed as it was, and each direction has its own stream. */
static void stages_off_draw_nothing(void **state)
{
    (void)state;
    struct impair_params loss = {.loss = 0.3};
    struct impair_params all_off = loss;
    all_off.queue_packets = 8; /* bounds without a rate: no bottleneck */
    all_off.ge_loss_bad = 1.0; /* no transitions: no chain */
    all_off.reorder_delay = 5 * MS;
    struct impair_model a, b, other;
    impair_model_init(&a, 99, 0);
    impair_model_init(&b, 99, 0);
    impair_model_init(&other, 99, 1);
    a.p = loss;
    b.p = all_off;
    other.p = loss;
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        struct impair_verdict va = impair_model_decide(&a, 0, 40, 1, 0);
        struct impair_verdict vb = impair_model_decide(&b, 0, 40, 1, 0);
        struct impair_verdict vo = impair_model_decide(&other, 0, 40, 1, 0);
        assert_int_equal(va.copies, vb.copies);
        struct impair_copy ca = impair_model_copy(&a, 40);
        struct impair_copy cb = impair_model_copy(&b, 40);
        assert_int_equal(ca.delay, 0);
        assert_int_equal(cb.delay, 0);
        assert_true(cb.bit == IMPAIR_NO_BIT);
        same += va.copies == vo.copies;
    }
    assert_true(same < 1000); /* the other direction's stream differs */
    impair_model_free(&a);
    impair_model_free(&b);
    impair_model_free(&other);
}

/* The delay queue: time order, ties first-come first, tags kept, and
 * packets beyond the pool's block size. */
static void delay_queue_orders_ties_by_arrival(void **state)
{
    (void)state;
    struct impair_queue q = {0};
    uint8_t big[3000] = {0};
    const uint64_t at[] = {30, 10, 20, 10, 10};
    for (unsigned i = 0; i < 5; i++) {
        big[0] = (uint8_t)i;
        size_t len = i == 3 ? sizeof big : 16;
        uint8_t *c = impair_queue_copy(&q, big, len);
        assert_non_null(c);
        assert_true(impair_queue_push(&q, at[i], c, len, i));
    }
    assert_int_equal(impair_queue_next(&q), 10);
    struct impair_held h;
    assert_false(impair_queue_pop_due(&q, 9, &h));
    const unsigned want[] = {1, 3, 4, 2, 0};
    for (unsigned i = 0; i < 5; i++) {
        assert_true(impair_queue_pop_due(&q, 30, &h));
        assert_int_equal(h.tag, want[i]);
        assert_int_equal(h.data[0], want[i]);
        assert_int_equal(h.len, want[i] == 3 ? sizeof big : 16);
        impair_queue_release(&q, h.data, h.len);
    }
    assert_int_equal(impair_queue_next(&q), UINT64_MAX);
    /* Freed with packets still held. */
    uint8_t *c = impair_queue_copy(&q, big, 16);
    assert_true(impair_queue_push(&q, 1, c, 16, 0));
    impair_queue_free(&q);
}

/* A duplicated packet's copies are reordered each on its own draw, as the
 * memlink always did: with reorder at 100 % both are held back. */
static void duplicate_copies_are_reordered_each(void **state)
{
    (void)state;
    struct rt_impair *m = model("dup=100%,reorder=100%,delay=2ms", 0);
    struct sink s = {0};
    uint8_t pkt[16] = {0};
    for (uint32_t i = 0; i < 10; i++) {
        memcpy(pkt, &i, sizeof i);
        rt_impair_submit(m, pkt, sizeof pkt, i * 10 * MS, emit, &s);
    }
    assert_int_equal(s.n, 0);
    for (int i = 0; i < 20 && rt_impair_queued(m); i++) {
        s.now = rt_impair_next_due(m);
        rt_impair_drain(m, s.now, emit, &s);
    }
    struct rt_impair_stats st;
    rt_impair_get_stats(m, &st);
    assert_int_equal(s.n, 20);
    assert_int_equal(st.duplicated, 10);
    assert_int_equal(st.reordered, 20);
    for (size_t i = 0; i < s.n; i++) /* 2 ms + max(2 ms, 1 ms) */
        assert_int_equal(s.at[i] - (uint64_t)s.ids[i] * 10 * MS, 4 * MS);
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
        cmocka_unit_test(corruption_flips_exactly_one_bit),
        cmocka_unit_test(bottleneck_spreads_a_burst_and_tail_drops),
        cmocka_unit_test(gilbert_elliott_loses_in_bursts),
        cmocka_unit_test(outages_drop_inside_their_window),
        cmocka_unit_test(stages_off_draw_nothing),
        cmocka_unit_test(delay_queue_orders_ties_by_arrival),
        cmocka_unit_test(duplicate_copies_are_reordered_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
