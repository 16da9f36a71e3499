/* Accounted allocation: the counters in struct mem are what tests check to
 * prove a stack or a module gave back everything it took. Owns nothing but
 * the bookkeeping; the memory itself comes from calloc/free. */
#include "base/mem.h"

#include <stdlib.h>

void *mem_alloc(struct mem *m, size_t size)
{
    /* calloc(1, 0) may return NULL or a unique pointer; ask for one byte so
     * a zero-size request is never mistaken for "no memory". */
    void *p = calloc(1, size ? size : 1);
    if (!p)
        return NULL;
    m->bytes += size;
    m->allocs++;
    return p;
}

void *mem_alloc_raw(struct mem *m, size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        return NULL;
    m->bytes += size;
    m->allocs++;
    return p;
}

void mem_free(struct mem *m, void *p, size_t size)
{
    if (!p)
        return;
    m->bytes -= size;
    m->allocs--;
    free(p);
}
