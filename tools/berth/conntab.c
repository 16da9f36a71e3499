/* berth command: the integer-keyed table (chained buckets that double when
 * the load passes 1, plus a list for iteration). */
#include "conntab.h"

#include <stdlib.h>

void ctab_init(struct ctab *t)
{
    t->buckets = NULL;
    t->nbuckets = 0;
    t->count = 0;
    t->first = t->last = NULL;
}

void ctab_free(struct ctab *t)
{
    free(t->buckets);
    ctab_init(t);
}

/* Fibonacci hashing: handles and addresses differ mostly in low bits. */
static size_t bucket_of(const struct ctab *t, int64_t key)
{
    uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (size_t)(h >> 32) & (t->nbuckets - 1);
}

static int grow(struct ctab *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    struct ctab_node **b = calloc(n, sizeof *b);
    if (!b)
        return -1;
    struct ctab_node **old = t->buckets;
    size_t oldn = t->nbuckets;
    t->buckets = b;
    t->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        for (struct ctab_node *x = old[i], *nx; x; x = nx) {
            nx = x->hnext;
            size_t k = bucket_of(t, x->key);
            x->hnext = b[k];
            b[k] = x;
        }
    }
    free(old);
    return 0;
}

int ctab_insert(struct ctab *t, struct ctab_node *n, int64_t key)
{
    if (t->count >= t->nbuckets && grow(t) != 0)
        return -1;
    size_t k = bucket_of(t, key);
    n->key = key;
    n->hnext = t->buckets[k];
    t->buckets[k] = n;
    n->next = NULL;
    n->prev = t->last;
    if (t->last)
        t->last->next = n;
    else
        t->first = n;
    t->last = n;
    t->count++;
    return 0;
}

struct ctab_node *ctab_find(const struct ctab *t, int64_t key)
{
    if (!t->nbuckets)
        return NULL;
    for (struct ctab_node *x = t->buckets[bucket_of(t, key)]; x; x = x->hnext)
        if (x->key == key)
            return x;
    return NULL;
}

void ctab_remove(struct ctab *t, struct ctab_node *n)
{
    struct ctab_node **p = &t->buckets[bucket_of(t, n->key)];
    while (*p && *p != n)
        p = &(*p)->hnext;
    if (*p)
        *p = n->hnext;
    if (n->prev)
        n->prev->next = n->next;
    else
        t->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        t->last = n->prev;
    n->prev = n->next = n->hnext = NULL;
    t->count--;
}
