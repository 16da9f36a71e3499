/* Allocation with accounting: every byte the stack holds goes through here,
 * so tests can check that a stack returns to zero (nothing leaked). */
#ifndef BERTH_BASE_MEM_H
#define BERTH_BASE_MEM_H

#include <stddef.h>

struct mem {
    size_t bytes;  /* bytes currently allocated */
    size_t allocs; /* blocks currently allocated */
};

/* Zeroed memory, or NULL. */
void *mem_alloc(struct mem *m, size_t size);
/* Uninitialized memory (buffers whose bytes are always written before they
 * are read: zeroing them would be most of a short connection's cost). */
void *mem_alloc_raw(struct mem *m, size_t size);
/* `size` must be the size given to mem_alloc. NULL is ignored. */
void mem_free(struct mem *m, void *p, size_t size);

#endif
