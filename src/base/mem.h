/* Allocation with accounting: every byte the stack holds goes through here,
 * so tests can check that a stack returns to zero (nothing leaked). */
#ifndef BERTH_BASE_MEM_H
#define BERTH_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A free list for one block size (a slab's simplest form, as lwIP's
 * memp pools or FreeBSD's UMA bucket): blocks of exactly `size` bytes
 * that were freed wait here, up to `max`, for the next allocation of that
 * size, so a connection's TCB, send log and TIME-WAIT record cost no
 * malloc/free once the stack is warm. Cached blocks are not counted in
 * bytes/allocs (they are free as far as the stack is concerned) but in
 * cached_bytes; mem_release() gives them back (at teardown, and when the
 * stack enters memory pressure). */
#define MEM_CLASSES 4
struct mem_class {
    size_t size;     /* 0: unused */
    void *head;      /* singly linked through each block's first bytes */
    uint32_t n, max; /* blocks held, and the bound */
};

struct mem {
    size_t bytes;        /* bytes currently allocated */
    size_t allocs;       /* blocks currently allocated */
    size_t cached_bytes; /* bytes held in the classes' free lists */
    struct mem_class cls[MEM_CLASSES];
};

/* Zeroed memory, or NULL. */
void *mem_alloc(struct mem *m, size_t size);
/* Uninitialized memory (buffers whose bytes are always written before they
 * are read: zeroing them would be most of a short connection's cost). */
void *mem_alloc_raw(struct mem *m, size_t size);
/* `size` must be the size given to mem_alloc. NULL is ignored. */
void mem_free(struct mem *m, void *p, size_t size);
/* Keeps up to max freed blocks of exactly `size` bytes (size at least a
 * pointer's) for reuse; false if all MEM_CLASSES are taken. A size
 * already added keeps its class (the larger max wins). */
bool mem_class_add(struct mem *m, size_t size, uint32_t max);
/* Gives every cached block back to the system allocator. */
void mem_release(struct mem *m);

/* A budget over a usage figure, with Linux tcp_mem-like thresholds: low =
 * limit/2, pressure = limit*3/4, high = limit. Pressure is sticky (entered
 * at `pressure`, left below `low`: hysteresis, so a usage hovering at one
 * threshold does not flap); the limit is not: an allocation fits or not. */
enum mem_level {
    MEM_LEVEL_NORMAL,
    MEM_LEVEL_PRESSURE,
    MEM_LEVEL_OVER, /* usage at or above high */
};

struct mem_budget {
    size_t low, pressure, high; /* high == 0: unlimited (never pressed) */
    bool pressed;               /* entered pressure, not yet below low */
};

void mem_budget_init(struct mem_budget *b, size_t limit);
/* Where `used` stands; pure (the sticky flag as last updated, or usage
 * already at pressure). Inline: asked on every segment. */
static inline enum mem_level mem_budget_level(const struct mem_budget *b,
                                              size_t used)
{
    if (b->high == 0)
        return MEM_LEVEL_NORMAL;
    if (used >= b->high)
        return MEM_LEVEL_OVER;
    if (b->pressed || used >= b->pressure)
        return MEM_LEVEL_PRESSURE;
    return MEM_LEVEL_NORMAL;
}
/* Moves the sticky flag for `used`; returns true when it changed. */
bool mem_budget_update(struct mem_budget *b, size_t used);
/* Whether `more` bytes may be allocated on top of `used`. */
bool mem_budget_fits(const struct mem_budget *b, size_t used, size_t more);

#endif
