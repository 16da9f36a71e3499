/* A per-stack cache of byte buffers in power-of-two size classes. Freed
 * buffers wait here, up to a byte limit, instead of going back to the
 * allocator: a short connection then costs no malloc, no free and no page
 * fault for its buffers, whatever the allocator's trimming policy. */
#ifndef BERTH_BASE_BUFCACHE_H
#define BERTH_BASE_BUFCACHE_H

#include "base/mem.h"

#include <stddef.h>
#include <stdint.h>

#define BUFCACHE_MIN_SHIFT 12u /* smallest class: 4 KiB */
#define BUFCACHE_CLASSES   21u /* 4 KiB .. 4 GiB */
#define BUFCACHE_MIN_SIZE  (1u << BUFCACHE_MIN_SHIFT)

struct bufcache {
    void *free[BUFCACHE_CLASSES]; /* per class, a list linked through the
                                     first bytes of each free buffer */
    uint32_t count[BUFCACHE_CLASSES];
    size_t bytes; /* held idle here; <= limit */
    size_t limit;
    uint64_t hits, misses; /* gets served from the cache / the allocator */
};

void bufcache_init(struct bufcache *bc, size_t limit);
/* The allocation size behind a buffer of capacity `cap`: the class. */
size_t bufcache_class_size(uint32_t cap);
/* A buffer of at least bufcache_class_size(cap) bytes, counted in `m`
 * (as mem_alloc_raw), or NULL. Its bytes are not zeroed. */
void *bufcache_get(struct bufcache *bc, struct mem *m, uint32_t cap);
/* Gives back a buffer from bufcache_get with the same `cap`: cached while
 * the limit allows, else freed. Uncounted from `m` either way. */
void bufcache_put(struct bufcache *bc, struct mem *m, void *buf, uint32_t cap);
/* Frees every cached buffer. */
void bufcache_flush(struct bufcache *bc);

#endif
