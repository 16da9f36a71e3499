/* Unit tests for base/htable: intrusive chained table with doubling. Keys
 * are hashed with keyed siphash, as the stack does for its 4-tuple table;
 * a constant hash forces everything into one chain. */
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
    bool constant; /* every key hashes to the same value */
    int rehash_calls;
};

static uint64_t hash_key(const struct hasher *h, uint64_t key)
{
    if (h->constant)
        return 42;
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
    for (struct hnode *n = htable_bucket(t, hash_key(h, key)); n; n = n->next)
        if (item_of(n)->key == key)
            return item_of(n);
    return NULL;
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
}

static void htable_init_rounds_buckets_up_to_power_of_two(void **state)
{
    (void)state;
    static const size_t in[] = {0, 1, 2, 3, 5, 8, 9, 1000};
    static const size_t want[] = {1, 1, 2, 4, 8, 8, 16, 1024};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        struct mem m = {0};
        struct htable t;
        assert_int_equal(htable_init(&t, &m, in[i], rehash_item, NULL), 0);
        assert_int_equal(t.mask + 1, want[i]);
        assert_int_equal(t.count, 0);
        assert_int_equal(m.bytes, want[i] * sizeof(struct hnode *));
        assert_int_equal(m.allocs, 1);
        for (size_t b = 0; b < want[i]; b++)
            assert_null(t.buckets[b]);
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
    assert_int_equal(htable_init(&t, &m, 16, rehash_item, &h), 0);
    for (int i = 0; i < 4; i++) {
        items[i].key = 1000 + (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.count, 4);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(lookup(&t, &h, 1000 + (uint64_t)i), &items[i]);
    assert_null(lookup(&t, &h, 999));
    assert_int_equal(h.rehash_calls, 0); /* load 4/16: no growth */
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

static void
htable_colliding_items_share_a_chain_and_remove_anywhere(void **state)
{
    (void)state;
    /* All in one bucket: removal from head, middle and tail of a chain. */
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[5];
    hasher_init(&h, true);
    htable_init(&t, &m, 64, rehash_item, &h);
    for (int i = 0; i < 5; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    remove_item(&t, &h, &items[4]); /* head (inserted last) */
    remove_item(&t, &h, &items[2]); /* middle */
    remove_item(&t, &h, &items[0]); /* tail */
    assert_int_equal(t.count, 2);
    assert_ptr_equal(lookup(&t, &h, 1), &items[1]);
    assert_ptr_equal(lookup(&t, &h, 3), &items[3]);
    assert_null(lookup(&t, &h, 0));
    assert_null(lookup(&t, &h, 2));
    assert_null(lookup(&t, &h, 4));
    htable_fini(&t);
    assert_int_equal(m.allocs, 0);
}

static void htable_grows_when_load_exceeds_one(void **state)
{
    (void)state;
    struct mem m = {0};
    struct hasher h;
    struct htable t;
    struct item items[9];
    hasher_init(&h, false);
    htable_init(&t, &m, 4, rehash_item, &h);
    for (int i = 0; i < 4; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 4); /* load exactly 1: no growth yet */
    assert_int_equal(h.rehash_calls, 0);
    items[4].key = 4;
    insert(&t, &h, &items[4]);
    assert_int_equal(t.mask + 1, 8);
    assert_int_equal(h.rehash_calls, 5); /* every node rehashed once */
    for (int i = 5; i < 9; i++) {
        items[i].key = (uint64_t)i;
        insert(&t, &h, &items[i]);
    }
    assert_int_equal(t.mask + 1, 16);
    for (int i = 0; i < 9; i++)
        assert_ptr_equal(lookup(&t, &h, (uint64_t)i), &items[i]);
    /* Only the current bucket array is held. */
    assert_int_equal(m.allocs, 1);
    assert_int_equal(m.bytes, 16 * sizeof(struct hnode *));
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
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
    assert_int_equal(t.mask + 1, 128);
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
        assert_true(t.count <= t.mask + 1); /* load never above 1 */
        if (t.mask + 1 > max_buckets)
            max_buckets = t.mask + 1;
        if (step % 500 == 0)
            for (int i = 0; i < N; i++)
                assert_ptr_equal(lookup(&t, &h, items[i].key),
                                 items[i].in_table ? &items[i] : NULL);
    }
    assert_true(max_buckets >= 256);
    htable_fini(&t);
    assert_int_equal(m.bytes, 0);
    assert_int_equal(m.allocs, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(htable_init_rounds_buckets_up_to_power_of_two),
        cmocka_unit_test(htable_inserted_items_are_found_in_their_bucket),
        cmocka_unit_test(htable_remove_takes_out_only_that_item),
        cmocka_unit_test(
            htable_colliding_items_share_a_chain_and_remove_anywhere),
        cmocka_unit_test(htable_grows_when_load_exceeds_one),
        cmocka_unit_test(htable_remove_after_growth_uses_new_bucket),
        cmocka_unit_test(htable_fini_frees_buckets_but_not_nodes),
        cmocka_unit_test(htable_random_inserts_and_removes_match_membership),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
