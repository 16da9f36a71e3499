/* Intrusive chained hash table: owns only the bucket array (from struct
 * mem); nodes are embedded in their owners. Doubles when count exceeds the
 * bucket count, asking the owner to recompute each node's hash. */
#include "base/htable.h"

#include <stdint.h>

#include "base/mem.h"

static size_t bucket_bytes(size_t buckets)
{
    return buckets * sizeof(struct hnode *);
}

int htable_init(struct htable *t, struct mem *mem, size_t initial_buckets,
                uint64_t (*rehash)(const struct hnode *, void *), void *ctx)
{
    /* Round up to a power of two, stopping where the array size would
     * overflow (such a request fails in mem_alloc anyway). */
    size_t n = 1;
    while (n < initial_buckets && n <= SIZE_MAX / 2 / sizeof(struct hnode *))
        n *= 2;
    t->mem = mem;
    t->rehash = rehash;
    t->ctx = ctx;
    t->count = 0;
    t->buckets = mem_alloc(mem, bucket_bytes(n));
    if (!t->buckets) {
        t->mask = 0;
        return -1;
    }
    t->mask = n - 1;
    return 0;
}

void htable_fini(struct htable *t)
{
    mem_free(t->mem, t->buckets, bucket_bytes(t->mask + 1));
    t->buckets = NULL;
    t->mask = 0;
    t->count = 0;
}

/* Doubles the bucket array; on failure the table keeps its size (longer
 * chains, still correct). */
static void htable_grow(struct htable *t)
{
    size_t old_n = t->mask + 1;
    if (!t->rehash || old_n > SIZE_MAX / 2 / sizeof(struct hnode *))
        return;
    size_t new_n = old_n * 2;
    struct hnode **nb = mem_alloc(t->mem, bucket_bytes(new_n));
    if (!nb)
        return;
    for (size_t i = 0; i < old_n; i++) {
        struct hnode *n = t->buckets[i];
        while (n) {
            struct hnode *next = n->next;
            size_t b = (size_t)(t->rehash(n, t->ctx) & (new_n - 1));
            n->next = nb[b];
            nb[b] = n;
            n = next;
        }
    }
    mem_free(t->mem, t->buckets, bucket_bytes(old_n));
    t->buckets = nb;
    t->mask = new_n - 1;
}

void htable_insert(struct htable *t, struct hnode *n, uint64_t hash)
{
    struct hnode **b = &t->buckets[hash & t->mask];
    n->next = *b;
    *b = n;
    t->count++;
    /* Load factor above 1: double, so chains stay O(1) on average. */
    if (t->count > t->mask + 1)
        htable_grow(t);
}

void htable_remove(struct htable *t, struct hnode *n, uint64_t hash)
{
    struct hnode **pp = &t->buckets[hash & t->mask];
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    if (!*pp)
        return; /* not in the table: a caller bug, but do no damage */
    *pp = n->next;
    n->next = NULL;
    t->count--;
}
