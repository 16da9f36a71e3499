/* An intrusive chained hash table. The caller computes hashes (keyed
 * siphash) and compares keys itself while walking a bucket; the table
 * doubles when its load exceeds 1, so lookups stay O(1). */
#ifndef BERTH_BASE_HTABLE_H
#define BERTH_BASE_HTABLE_H

#include <stddef.h>
#include <stdint.h>

struct mem;

struct hnode {
    struct hnode *next;
};

struct htable {
    struct hnode **buckets;
    size_t mask; /* buckets - 1; bucket count is a power of two */
    size_t count;
    struct mem *mem;
    /* recomputes a node's hash when the table grows */
    uint64_t (*rehash)(const struct hnode *n, void *ctx);
    void *ctx;
};

/* 0 or -1 (no memory). initial_buckets is rounded up to a power of two. */
int htable_init(struct htable *t, struct mem *mem, size_t initial_buckets,
                uint64_t (*rehash)(const struct hnode *, void *), void *ctx);
void htable_fini(struct htable *t); /* frees the buckets, not the nodes */
/* Inserts n (grows when the load exceeds 1; if growing fails the table
 * simply stays smaller). */
void htable_insert(struct htable *t, struct hnode *n, uint64_t hash);
/* Removes n, which must be in the table under `hash`. */
void htable_remove(struct htable *t, struct hnode *n, uint64_t hash);
/* The first node of hash's bucket; walk ->next and compare keys. */
static inline struct hnode *htable_bucket(const struct htable *t, uint64_t hash)
{
    return t->buckets[hash & t->mask];
}

#endif
