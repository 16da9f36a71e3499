/* An intrusive hash table of cache-line buckets. Each 64-byte bucket holds
 * up to HTABLE_SLOTS entries, each a node pointer beside the low 32 bits of
 * its hash (computed by the caller, keyed siphash for anything an attacker
 * chooses). A lookup reads its bucket's one line and touches a node only
 * where the stored hash matches, so a miss costs no node at all; growing
 * moves stored hashes and pointers and never touches a node. */
#ifndef BERTH_BASE_HTABLE_H
#define BERTH_BASE_HTABLE_H

#include <stddef.h>
#include <stdint.h>

struct mem;

/* Embedded in each entry. `next` links the spill list only: entries that
 * found no free slot because the table could not grow (no memory). */
struct hnode {
    struct hnode *next;
};

#define HTABLE_SLOTS 5u
/* The table doubles before it holds more than HTABLE_LOAD entries per
 * bucket (4 of 5 slots: probes rarely leave the home bucket). */
#define HTABLE_LOAD 4u

/* Open addressing over buckets: an entry whose home bucket (hash & mask) is
 * full goes to the next bucket with a free slot (wrapping), and each full
 * bucket it passes counts it in `overflow`; a lookup stops at the first
 * bucket that passed nothing on. Removal clears the slot and uncounts the
 * buckets passed: no tombstones, no entry ever moves except in growth. */
struct hbucket {
    uint32_t hash[HTABLE_SLOTS]; /* low 32 bits of the entry's hash */
    uint32_t overflow; /* entries stored beyond this bucket that passed it */
    struct hnode *node[HTABLE_SLOTS]; /* NULL: free slot */
};

struct htable {
    struct hbucket *buckets; /* 64-byte aligned, inside `raw` */
    void *raw;
    size_t mask;  /* bucket count - 1; bucket count is a power of two */
    size_t count; /* entries, in the buckets and spilled */
    size_t used;  /* entries in the buckets */
    struct hnode *spill;
    size_t max_buckets; /* growth stops here; 0 (htable_init): no bound */
    struct mem *mem;
    /* Recomputes a spilled node's hash when the table grows (spilled
     * entries keep no hash); the entries in buckets never need it. */
    uint64_t (*rehash)(const struct hnode *n, void *ctx);
    void *ctx;
};

/* A position in a lookup or a walk. */
struct htable_iter {
    size_t b;            /* bucket */
    unsigned s;          /* slot in it */
    size_t left;         /* buckets still to visit after b */
    uint32_t h;          /* lookup: the hash sought */
    struct hnode *spill; /* next spilled node to return */
};

/* 0 or -1 (no memory). Room for `initial` entries before the first growth
 * (the bucket count is rounded up to a power of two). */
int htable_init(struct htable *t, struct mem *mem, size_t initial,
                uint64_t (*rehash)(const struct hnode *, void *), void *ctx);
void htable_fini(struct htable *t); /* frees the buckets, not the nodes */
/* Inserts n under `hash` (grows first when the load would pass
 * HTABLE_LOAD; if growing fails, the entry takes a free slot or spills:
 * never refused). */
void htable_insert(struct htable *t, struct hnode *n, uint64_t hash);
/* Removes n, which must be in the table under `hash`. */
void htable_remove(struct htable *t, struct hnode *n, uint64_t hash);
/* Puts n in old's place: old must be in the table under `hash`, and n
 * takes the same hash (another record of the same key). A lookup then finds
 * n where htable_remove(old) and htable_insert(n) would have it found,
 * without the probe for a free slot. */
void htable_replace(struct htable *t, struct hnode *old, struct hnode *n,
                    uint64_t hash);
/* Forgets every entry (teardown, after the owner walked and freed them). */
void htable_clear(struct htable *t);

/* The entries that may be hash's: those stored with the same low 32 bits,
 * then any spilled ones. The caller compares keys:
 *   for (n = htable_first(t, h, &it); n; n = htable_next(t, &it)) */
static inline struct hnode *htable_next(const struct htable *t,
                                        struct htable_iter *it)
{
    if (t->used) {
        for (;;) {
            const struct hbucket *bk = &t->buckets[it->b];
            for (; it->s < HTABLE_SLOTS; it->s++)
                if (bk->hash[it->s] == it->h && bk->node[it->s])
                    return bk->node[it->s++];
            if (!bk->overflow || !it->left)
                break;
            it->b = (it->b + 1) & t->mask;
            it->s = 0;
            it->left--;
        }
        it->left = 0;
        it->s = HTABLE_SLOTS; /* a further call goes straight to the spill */
    }
    struct hnode *n = it->spill;
    if (n)
        it->spill = n->next;
    return n;
}
static inline struct hnode *htable_first(const struct htable *t, uint64_t hash,
                                         struct htable_iter *it)
{
    it->b = (size_t)hash & t->mask;
    it->s = 0;
    it->left = t->mask;
    it->h = (uint32_t)hash;
    it->spill = t->spill;
    return htable_next(t, it);
}

/* Starts loading hash's home bucket into the cache (a lookup soon). */
static inline void htable_prefetch(const struct htable *t, uint64_t hash)
{
    if (t->buckets)
        __builtin_prefetch(&t->buckets[(size_t)hash & t->mask]);
}

/* Every entry once, in no particular order; the entry just returned may be
 * removed before the next call (nothing is inserted meanwhile):
 *   for (n = htable_walk_first(t, &it); n; n = htable_walk_next(t, &it)) */
struct hnode *htable_walk_first(const struct htable *t, struct htable_iter *it);
struct hnode *htable_walk_next(const struct htable *t, struct htable_iter *it);

#endif
