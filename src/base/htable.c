/* The bucketed hash table (htable.h): owns only the bucket array (from
 * struct mem); nodes are embedded in their owners and touched only to link
 * the spill list. Placement, removal with its overflow counts, growth by
 * doubling from the stored hashes, and the walk. */
#include "base/htable.h"

#include <stdbool.h>
#include <stdint.h>

#include "base/mem.h"

#define LINE 64u

_Static_assert(sizeof(struct hbucket) <= LINE, "a bucket fits one cache line");

static size_t raw_bytes(size_t buckets)
{
    return buckets * sizeof(struct hbucket) + LINE - 1;
}

/* A zeroed, line-aligned bucket array; NULL when there is no memory. */
static struct hbucket *buckets_alloc(struct mem *mem, size_t n, void **raw)
{
    if (n > (SIZE_MAX - LINE) / sizeof(struct hbucket))
        return NULL;
    *raw = mem_alloc(mem, raw_bytes(n));
    if (!*raw)
        return NULL;
    uintptr_t p = ((uintptr_t)*raw + LINE - 1) & ~(uintptr_t)(LINE - 1);
    return (struct hbucket *)p;
}

int htable_init(struct htable *t, struct mem *mem, size_t initial,
                uint64_t (*rehash)(const struct hnode *, void *), void *ctx)
{
    size_t n = 1;
    while (n * HTABLE_LOAD < initial && n <= SIZE_MAX / 2 / LINE)
        n *= 2;
    t->mem = mem;
    t->rehash = rehash;
    t->ctx = ctx;
    t->count = t->used = 0;
    t->spill = NULL;
    t->max_buckets = 0;
    t->buckets = buckets_alloc(mem, n, &t->raw);
    if (!t->buckets) {
        t->mask = 0;
        t->raw = NULL;
        return -1;
    }
    t->mask = n - 1;
    return 0;
}

void htable_fini(struct htable *t)
{
    if (t->raw)
        mem_free(t->mem, t->raw, raw_bytes(t->mask + 1));
    t->raw = NULL;
    t->buckets = NULL;
    t->mask = 0;
    t->count = t->used = 0;
    t->spill = NULL;
}

/* Stores (n, h) in the first bucket from h's home with a free slot,
 * counting it in the overflow of each full bucket passed. The caller
 * knows a free slot exists (used < capacity). */
static void place(struct hbucket *bs, size_t mask, struct hnode *n, uint32_t h)
{
    size_t b = h & mask;
    for (;;) {
        struct hbucket *bk = &bs[b];
        for (unsigned s = 0; s < HTABLE_SLOTS; s++) {
            if (!bk->node[s]) {
                bk->node[s] = n;
                bk->hash[s] = h;
                return;
            }
        }
        bk->overflow++;
        b = (b + 1) & mask;
    }
}

static size_t capacity(const struct htable *t)
{
    return t->buckets ? (t->mask + 1) * HTABLE_SLOTS : 0;
}

/* Doubles the bucket array, moving each entry by its stored hash (no node
 * is read), then gives spilled entries a slot; on failure the table keeps
 * its size (fuller buckets, then the spill list: still correct). */
static void htable_grow(struct htable *t)
{
    size_t old_n = t->mask + 1;
    if (!t->buckets || old_n > SIZE_MAX / 4 / LINE ||
        (t->max_buckets && old_n * 2 > t->max_buckets))
        return;
    size_t new_n = old_n * 2, new_mask = new_n - 1;
    void *raw;
    struct hbucket *nb = buckets_alloc(t->mem, new_n, &raw);
    if (!nb)
        return;
    for (size_t b = 0; b < old_n; b++) {
        const struct hbucket *bk = &t->buckets[b];
        for (unsigned s = 0; s < HTABLE_SLOTS; s++)
            if (bk->node[s])
                place(nb, new_mask, bk->node[s], bk->hash[s]);
    }
    mem_free(t->mem, t->raw, raw_bytes(old_n));
    t->buckets = nb;
    t->raw = raw;
    t->mask = new_mask;
    /* Spilled entries (room now: growth starts below the old capacity). */
    while (t->spill && t->rehash && t->used < capacity(t)) {
        struct hnode *n = t->spill;
        t->spill = n->next;
        n->next = NULL;
        place(t->buckets, t->mask, n, (uint32_t)t->rehash(n, t->ctx));
        t->used++;
    }
}

void htable_insert(struct htable *t, struct hnode *n, uint64_t hash)
{
    /* Load above HTABLE_LOAD per bucket: double. */
    if (t->count + 1 > (t->mask + 1) * HTABLE_LOAD)
        htable_grow(t);
    t->count++;
    if (t->used < capacity(t)) {
        n->next = NULL;
        place(t->buckets, t->mask, n, (uint32_t)hash);
        t->used++;
        return;
    }
    n->next = t->spill;
    t->spill = n;
}

/* Where n, stored under `hash`, is: its slot (*bucket, *slot; true), or
 * else the spill link that points to it (*link; NULL when n is in neither:
 * a caller bug, on which the callers do no damage). */
static bool find(struct htable *t, const struct hnode *n, uint64_t hash,
                 size_t *bucket, unsigned *slot, struct hnode ***link)
{
    if (t->used) {
        size_t b = (size_t)hash & t->mask;
        for (size_t k = 0; k <= t->mask; k++) {
            struct hbucket *bk = &t->buckets[b];
            for (unsigned s = 0; s < HTABLE_SLOTS; s++) {
                if (bk->node[s] == n) {
                    *bucket = b;
                    *slot = s;
                    return true;
                }
            }
            if (!bk->overflow)
                break;
            b = (b + 1) & t->mask;
        }
    }
    struct hnode **pp = &t->spill;
    while (*pp && *pp != n)
        pp = &(*pp)->next;
    *link = *pp ? pp : NULL;
    return false;
}

void htable_remove(struct htable *t, struct hnode *n, uint64_t hash)
{
    size_t b;
    unsigned s;
    struct hnode **link;
    if (find(t, n, hash, &b, &s, &link)) {
        t->buckets[b].node[s] = NULL;
        t->buckets[b].hash[s] = 0;
        /* The buckets from its home to this one passed it on. */
        for (size_t j = (size_t)hash & t->mask; j != b; j = (j + 1) & t->mask)
            t->buckets[j].overflow--;
        t->used--;
        t->count--;
    } else if (link) {
        *link = n->next;
        n->next = NULL;
        t->count--;
    }
}

void htable_replace(struct htable *t, struct hnode *old, struct hnode *n,
                    uint64_t hash)
{
    size_t b;
    unsigned s;
    struct hnode **link;
    if (find(t, old, hash, &b, &s, &link)) {
        t->buckets[b].node[s] = n; /* the stored hash is n's too */
        n->next = NULL;
    } else if (link) {
        n->next = old->next;
        *link = n;
        old->next = NULL;
    }
}

void htable_clear(struct htable *t)
{
    for (size_t b = 0; t->buckets && b <= t->mask; b++)
        t->buckets[b] = (struct hbucket){0};
    t->count = t->used = 0;
    t->spill = NULL;
}

struct hnode *htable_walk_first(const struct htable *t, struct htable_iter *it)
{
    it->b = 0;
    it->s = 0;
    it->left = t->buckets ? t->mask + 1 : 0;
    it->spill = t->spill;
    return htable_walk_next(t, it);
}

struct hnode *htable_walk_next(const struct htable *t, struct htable_iter *it)
{
    for (; it->left; it->left--, it->b++, it->s = 0) {
        const struct hbucket *bk = &t->buckets[it->b];
        for (; it->s < HTABLE_SLOTS; it->s++)
            if (bk->node[it->s])
                return bk->node[it->s++];
    }
    /* it->spill was read before its predecessor was returned, so that one
     * may have been removed meanwhile. */
    struct hnode *n = it->spill;
    if (n)
        it->spill = n->next;
    return n;
}
