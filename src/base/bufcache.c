/* The buffer cache: per size class a LIFO of idle buffers (the most recently
 * used first, so it is warm in cache and its pages are mapped), bounded by
 * a byte limit; what does not fit goes back to the allocator. */
#include "base/bufcache.h"

#include <stdlib.h>

void bufcache_init(struct bufcache *bc, size_t limit)
{
    *bc = (struct bufcache){.limit = limit};
}

static unsigned class_of(uint32_t cap)
{
    unsigned k = 0;
    while (((size_t)1 << (k + BUFCACHE_MIN_SHIFT)) < cap)
        k++;
    return k;
}

size_t bufcache_class_size(uint32_t cap)
{
    return (size_t)1 << (class_of(cap) + BUFCACHE_MIN_SHIFT);
}

void *bufcache_get(struct bufcache *bc, struct mem *m, uint32_t cap)
{
    unsigned k = class_of(cap);
    size_t size = (size_t)1 << (k + BUFCACHE_MIN_SHIFT);
    void *p = bc->free[k];
    if (p) {
        bc->free[k] = *(void **)p;
        bc->count[k]--;
        bc->bytes -= size;
        bc->hits++;
        m->bytes += size;
        m->allocs++;
        return p;
    }
    bc->misses++;
    return mem_alloc_raw(m, size);
}

void bufcache_put(struct bufcache *bc, struct mem *m, void *buf, uint32_t cap)
{
    if (!buf)
        return;
    unsigned k = class_of(cap);
    size_t size = (size_t)1 << (k + BUFCACHE_MIN_SHIFT);
    if (bc->bytes + size > bc->limit) {
        mem_free(m, buf, size);
        return;
    }
    m->bytes -= size;
    m->allocs--;
    *(void **)buf = bc->free[k];
    bc->free[k] = buf;
    bc->count[k]++;
    bc->bytes += size;
}

void bufcache_flush(struct bufcache *bc)
{
    for (unsigned k = 0; k < BUFCACHE_CLASSES; k++) {
        while (bc->free[k]) {
            void *p = bc->free[k];
            bc->free[k] = *(void **)p;
            free(p);
        }
        bc->count[k] = 0;
    }
    bc->bytes = 0;
}
