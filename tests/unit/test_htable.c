/* Unit tests for base/htable: cache-line buckets of stored hashes and
 * node pointers, open addressing with overflow counts, doubling. Keys are
 * hashed with keyed siphash, as the stack does for its 4-tuple table; a
 * constant hash forces everything into one probe sequence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/htable.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/siphash.h"

struct item {
    uint64_t key;
    struct hnode node; /* not first, so container_of really subtracts */
    bool in_table;
};

#define item_of(n) ((struct item *)((char *)(n)-offsetof(struct item, node)))

struct hasher {
    uint8_t key[16];
    bool constant; /* every key hashes to the same value: `fixed` */
    uint64_t fixed;
    int rehash_calls;
};

static uint64_t hash_key(const struct hasher *h, uint64_t key)
{
    if (h->constant)
        return h->fixed;
    return siphash24(h->key, &key, sizeof key);
}

static uint64_t rehash_item(const struct hnode *n, void *ctx)
{
    struct hasher *h = ctx;
    const struct item *it =
        (const struct item *)((const char *)n - offsetof(struct item, node));
    h->rehash_calls++;
    return hash_key(h, it->key);
}

static struct item *lookup(const struct htable *t, const struct hasher *h,
                           uint64_t key)
{
    struct htable_iter it;
    for (struct hnode *n = htable_first(t, hash_key(h, key), &it); n;
         n = htable_next(t, &it))
        if (item_of(n)->key == key)
            return item_of(n);
    return NULL;
}

/* Entries a walk visits; each must be in `items` and seen once. */
static size_t walk_count(const struct htable *t, struct item *items, size_t n)
{
    struct htable_iter it;
    size_t seen = 0;
    for (struct hnode *x = htable_walk_first(t, &it); x;
         x = htable_walk_next(t, &it)) {
        struct item *i = item_of(x);
        assert_true(i >= items && i < items + n);
        assert_true(i->in_table);
        seen++;
    }
    return seen;
}

static size_t bucket_bytes(size_t buckets)
{
    return buckets * sizeof(struct hbucket) + 63;
}

static void insert(struct htable *t, struct hasher *h, struct item *it)
{
    htable_insert(t, &it->node, hash_key(h, it->key));
    it->in_table = true;
}

static void remove_item(struct htable *t, struct hasher *h, struct item *it)
{
    htable_remove(t, &it->node, hash_key(h, it->key));
    it->in_table = false;
}

static void hasher_init(struct hasher *h, bool constant)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < 16; i++)
        h->key[i] = (uint8_t)(0xa0 + i);
    h->constant = constant;
    h->fixed = 42;
}

static void htable_init_rounds_buckets_up_to_power_of_two(void **state)
{
    (void)state;
    /* Room for `initial` entries at HTABLE_LOAD per bucket. */
    static const size_t in[] = {0, 1, 4, 5, 8, 9, 33, 4000};
    static const size_t want[] = {1, 1, 1, 2, 2, 4, 16, 1024};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        struct mem m = {0};
        struct htable t;
        assert_int_equal(htable_init(&t, &m, in[i], rehash_item, NULL), 0);
        assert_int_equal(t.mask + 1, want[i]);
        assert_int_equal(t.count, 0);
        assert_int_equal(m.bytes, bucket_bytes(want[i]));
        assert_int_equal(m.allocs, 1);
        assert_int_equal((uintptr_t)t.buckets % 64, 0); /* line-aligned */
        for (size_t b = 0; b < want[i]; b++) {
            assert_int_equal(t.buckets[b].overflow, 0);
            for (unsigned k = 0; k < HTABLE_SLOTS; k++)
                assert_null(t.buckets[b].node[k]);
        }
        htable_fini(&t);
        assert_int_equal(m.bytes, 0);
        assert_int_equal(m.allocs, 0);
    }
}

static void htable_inserted_items_are_found_in_their_bucket(void **state)
{
    (void)state;
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[4];
    hasher_init(&h, false);
    assert_int_equal(htable_init(&t, &m, 64, rehash_item, &h), 0);
    for (int i = 0; i < 4; i++) {
        items[i].key = 1000 + (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.count, 4);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(lookup(&t, &h, 1000 + (uint64_t)i), &items[i]);
    assert_null(lookup(&t, &h, 999));
    assert_int_equal(h.rehash_calls, 0); /* lookups never rehash */
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void htable_remove_takes_out_only_that_item(void **state)
{
    (void)state;
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item a = {.key = 1}, b = {.key = 2};
    hasher_init(&h, false);
    htable_init(&t, &m, 4, rehash_item, &h);
    insert(&t, &h, &a);
    insert(&t, &h, &b);
    remove_item(&t, &h, &a);
    assert_int_equal(t.count, 1);
    assert_null(lookup(&t, &h, 1));
    assert_ptr_equal(lookup(&t, &h, 2), &b);
    remove_item(&t, &h, &b);
    assert_int_equal(t.count, 0);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_colliding_items_overflow_to_next_buckets_and_remove_anywhere(
    void **state)
{
    (void)state;
    /* One hash for all: 12 entries fill the home bucket and spill over
     * into the next two; removal from the home bucket, the middle and the
     * last leaves every other one findable, and a lookup of an absent key
     * stops once no bucket passes anything on. */
    enum { N = 12 };
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[N];
    hasher_init(&h, true);
    htable_init(&t, &m, 64, rehash_item, &h); /* 16 buckets: no growth */
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    size_t home = 42 & t.mask;
    assert_int_equal(t.buckets[home].overflow, N - HTABLE_SLOTS);
    assert_int_equal(t.buckets[(home + 1) & t.mask].overflow,
                     N - 2 * HTABLE_SLOTS);
    assert_int_equal(t.buckets[(home + 2) & t.mask].overflow, 0);
    remove_item(&t, &h, &items[0]);     /* home bucket */
    remove_item(&t, &h, &items[7]);     /* second bucket */
    remove_item(&t, &h, &items[N - 1]); /* third bucket */
    assert_int_equal(t.count, N - 3);
    /* The last one's two passes are uncounted, the eighth's one: the
     * eleventh still passes both. */
    assert_int_equal(t.buckets[home].overflow, N - HTABLE_SLOTS - 2);
    assert_int_equal(t.buckets[(home + 1) & t.mask].overflow, 1);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i),
                         i == 0 || i == 7 || i == N - 1 ? NULL : &items[i]);
    /* A new entry takes the first free slot: the home bucket's. */
    items[0].key = 100;
    insert(&t, &h, &items[0]);
    assert_ptr_equal(t.buckets[home].node[0], &items[0].node);
    assert_ptr_equal(lookup(&t, &h, 100), &items[0]);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void
htable_overflow_wraps_from_the_last_bucket_to_the_first(void **state)
{
    (void)state;
    /* Home is the last bucket: entries passed on go to buckets 0 and 1,
     * and removing them uncounts across the wrap. */
    enum { N = 13 };
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[N];
    hasher_init(&h, true);
    htable_init(&t, &m, 64, rehash_item, &h);
    h.fixed = t.mask;
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.buckets[t.mask].overflow, N - HTABLE_SLOTS);
    assert_int_equal(t.buckets[0].overflow, N - 2 * HTABLE_SLOTS);
    assert_ptr_equal(t.buckets[1].node[0], &items[2 * HTABLE_SLOTS].node);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i), &items[i]);
    for (int i = N - 1; i >= 0; i--)
        remove_item(&t, &h, &items[i]);
    assert_int_equal(t.buckets[t.mask].overflow, 0);
    assert_int_equal(t.buckets[0].overflow, 0);
    assert_int_equal(t.count, 0);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_grows_past_load_without_touching_nodes(void **state)
{
    (void)state;
    /* Growth moves stored hashes: no node is rehashed (or read). */
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[9];
    hasher_init(&h, false);
    htable_init(&t, &m, 4, rehash_item, &h);
    assert_int_equal(t.mask + 1, 1);
    for (int i = 0; i < 4; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 1); /* HTABLE_LOAD exactly: no growth yet */
    items[4].key = 4;
    insert(&t, &h, &items[4]);
    assert_int_equal(t.mask + 1, 2);
    for (int i = 5; i < 9; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 4);
    assert_int_equal(h.rehash_calls, 0);
    for (int i = 0; i < 9; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i), &items[i]);
    /* Only the current bucket array is held. */
    assert_int_equal(m.allocs, 1);
    assert_int_equal(m.bytes, bucket_bytes(4));
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

static void
htable_full_table_that_cannot_grow_spills_and_takes_back(void **state)
{
    (void)state;
    /* A table that may not grow (as when memory runs out) still takes
     * every entry: past its slots, on the spill list. Lookups, removals
     * and walks see them; growth, once allowed, gives them slots. */
    enum { N = 14 };
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[N];
    hasher_init(&h, false);
    htable_init(&t, &m, 8, rehash_item, &h);
    t.max_buckets = 2; /* 10 slots */
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i * 31;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 2);
    assert_int_equal(t.count, N);
    assert_int_equal(t.used, 2 * HTABLE_SLOTS);
    assert_non_null(t.spill);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i * 31), &items[i]);
    assert_int_equal(walk_count(&t, items, N), N);
    remove_item(&t, &h, &items[N - 1]); /* spilled: inserted last */
    remove_item(&t, &h, &items[0]);     /* in a slot */
    assert_int_equal(t.count, N - 2);
    assert_null(lookup(&t, &h, 0));
    assert_null(lookup(&t, &h, (uint64_t)(N - 1) * 31));
    assert_int_equal(walk_count(&t, items, N), N - 2);
    t.max_buckets = 0;
    items[0].key = 1000;
    insert(&t, &h, &items[0]); /* grows: the spilled ones get slots */
    assert_null(t.spill);
    assert_int_equal(t.used, N - 1);
    assert_int_equal(h.rehash_calls, 3); /* the spilled ones only */
    for (int i = 0; i < N - 1; i++)
        assert_ptr_equal(lookup(&t, &h, items[i].key), &items[i]);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_walk_survives_removing_each_entry_it_returns(void **state)
{
    (void)state;
    enum { N = 40 };
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[N];
    hasher_init(&h, false);
    htable_init(&t, &m, 4, rehash_item, &h);
    t.max_buckets = 4; /* 20 slots: half of them spill */
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    struct htable_iter it;
    int seen = 0;
    for (struct hnode *x = htable_walk_first(&t, &it); x;
         x = htable_walk_next(&t, &it)) {
        remove_item(&t, &h, item_of(x));
        seen++;
    }
    assert_int_equal(seen, N);
    assert_int_equal(t.count, 0);
    assert_int_equal(t.used, 0);
    for (size_t b = 0; b <= t.mask; b++)
        assert_int_equal(t.buckets[b].overflow, 0);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_remove_after_growth_uses_new_bucket(void **state)
{
    (void)state;
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[100];
    hasher_init(&h, false);
    htable_init(&t, &m, 1, rehash_item, &h);
    for (int i = 0; i < 100; i++) {
        items[i].key = (uint64_t)i * 7919;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 32); /* 100 > 16 * HTABLE_LOAD */
    for (int i = 0; i < 100; i += 2)
        remove_item(&t, &h, &items[i]);
    assert_int_equal(t.count, 50);
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i * 7919),
                         i % 2 ? &items[i] : NULL);
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_fini_frees_buckets_but_not_nodes(void **state)
{
    (void)state;
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item a = {.key = 5};
    hasher_init(&h, false);
    htable_init(&t, &m, 2, rehash_item, &h);
    insert(&t, &h, &a);
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
    assert_int_equal(a.key, 5); /* the owner's node is untouched memory */
}

static void htable_random_inserts_and_removes_match_membership(void **state)
{
    (void)state;
    /* Model: each item's in_table flag. Inserts dominate the first half
     * (growth from 2 buckets), removals the second (churn in a big table). */
    enum { N = 600 };
    static struct item items[N];
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct rng g;
    hasher_init(&h, false);
    rng_seed(&g, 77);
    htable_init(&t, &m, 2, rehash_item, &h);
    for (int i = 0; i < N; i++) {
        items[i].key = (uint64_t)i * 0x9e3779b97f4a7c15u;
        items[i].in_table = false;
    }
    size_t in = 0, max_buckets = 0;
    for (int step = 0; step < 20000; step++) {
        struct item *it = &items[rng_below(&g, N)];
        /* Bias toward inserts first, removals later: growth, then churn. */
        bool want_insert = rng_below(&g, 100) < (step < 10000 ? 70u : 40u);
        if (want_insert && !it->in_table) {
            insert(&t, &h, it);
            in++;
        } else if (!want_insert && it->in_table) {
            remove_item(&t, &h, it);
            in--;
        }
        assert_int_equal(t.count, in);
        /* load never above HTABLE_LOAD per bucket */
        assert_true(t.count <= (t.mask + 1) * HTABLE_LOAD);
        assert_int_equal(t.used, t.count);
        if (t.mask + 1 > max_buckets)
            max_buckets = t.mask + 1;
        if (step % 500 == 0) {
            assert_int_equal(walk_count(&t, items, N), in);
            for (int i = 0; i < N; i++)
                assert_ptr_equal(lookup(&t, &h, items[i].key),
                                 items[i].in_table ? &items[i] : NULL);
        }
    }
    assert_true(max_buckets >= 64);
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

/* htable_replace(old, n) against htable_remove(old) + htable_insert(n):
 * every key's lookup finds the same item in two tables driven by the same
 * random steps, one replacing in place and one removing and inserting,
 * counts and walks agree; with spread hashes and growth, with one hash for
 * every key (a single probe chain, overflow counts), and in a table that
 * may not grow (entries spill to the list). Each key has two records (an
 * item and its twin); a replace swaps the one in the table for the other. */
static void replace_run(bool constant, size_t max_buckets)
{
    enum { N = 300 };
    static struct item a[2][N], b[2][N];
    struct mem ma = {0}, mb = {0};
    struct hasher h;
    struct htable ta, tb;
    struct rng g;
    hasher_init(&h, constant);
    rng_seed(&g, 91);
    assert_int_equal(htable_init(&ta, &ma, 2, rehash_item, &h), 0);
    assert_int_equal(htable_init(&tb, &mb, 2, rehash_item, &h), 0);
    ta.max_buckets = tb.max_buckets = max_buckets;
    for (int i = 0; i < N; i++)
        for (int w = 0; w < 2; w++) {
            a[w][i] = b[w][i] = (struct item){.key = (uint64_t)i * 7919u};
        }
    int which[N] = {0}; /* the record of key i in the tables: 1 + twin */
    size_t replaced = 0, spilled = 0;
    for (int step = 0; step < 6000; step++) {
        int i = (int)rng_below(&g, N), op = (int)rng_below(&g, 3);
        if (!which[i] && op != 1) {
            insert(&ta, &h, &a[0][i]);
            insert(&tb, &h, &b[0][i]);
            which[i] = 1;
        } else if (which[i] && op == 1) {
            int w = which[i] - 1;
            remove_item(&ta, &h, &a[w][i]);
            remove_item(&tb, &h, &b[w][i]);
            which[i] = 0;
        } else if (which[i]) {
            int w = which[i] - 1, v = 1 - w;
            htable_replace(&ta, &a[w][i].node, &a[v][i].node,
                           hash_key(&h, a[w][i].key));
            a[w][i].in_table = false;
            a[v][i].in_table = true;
            remove_item(&tb, &h, &b[w][i]);
            insert(&tb, &h, &b[v][i]);
            which[i] = 1 + v;
            replaced++;
        }
        assert_int_equal(ta.count, tb.count);
        spilled += ta.spill != NULL;
        int j = (int)rng_below(&g, N);
        struct item *x = lookup(&ta, &h, a[0][j].key);
        struct item *y = lookup(&tb, &h, b[0][j].key);
        if (!which[j]) {
            assert_null(x);
            assert_null(y);
        } else {
            assert_ptr_equal(x, &a[which[j] - 1][j]);
            assert_ptr_equal(y, &b[which[j] - 1][j]);
        }
        if (step % 300 == 0)
            assert_int_equal(walk_count(&ta, a[0], 2 * N), ta.count);
    }
    assert_true(replaced > 1000);
    if (max_buckets)
        assert_true(spilled > 0);
    for (int i = 0; i < N; i++)
        if (which[i]) {
            remove_item(&ta, &h, &a[which[i] - 1][i]);
            remove_item(&tb, &h, &b[which[i] - 1][i]);
        }
    assert_int_equal(ta.count, 0);
    htable_fini(&ta);
    htable_fini(&tb);
    assert_int_equal(ma.bytes, 0);
    assert_int_equal(mb.bytes, 0);
}

static void htable_replace_matches_remove_and_insert(void **state)
{
    (void)state;
    replace_run(false, 0);
    replace_run(true, 0);
    replace_run(false, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(htable_init_rounds_buckets_up_to_power_of_two),
        cmocka_unit_test(htable_inserted_items_are_found_in_their_bucket),
        cmocka_unit_test(htable_remove_takes_out_only_that_item),
        cmocka_unit_test(
            htable_colliding_items_overflow_to_next_buckets_and_remove_anywhere),
        cmocka_unit_test(
            htable_overflow_wraps_from_the_last_bucket_to_the_first),
        cmocka_unit_test(htable_grows_past_load_without_touching_nodes),
        cmocka_unit_test(
            htable_full_table_that_cannot_grow_spills_and_takes_back),
        cmocka_unit_test(htable_walk_survives_removing_each_entry_it_returns),
        cmocka_unit_test(htable_remove_after_growth_uses_new_bucket),
        cmocka_unit_test(htable_fini_frees_buckets_but_not_nodes),
        cmocka_unit_test(htable_random_inserts_and_removes_match_membership),
        cmocka_unit_test(htable_replace_matches_remove_and_insert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
