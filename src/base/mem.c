/* Accounted allocation: the counters in struct mem are what tests check to
 * prove a stack or a module gave back everything it took. Owns nothing but
 * the bookkeeping; the memory itself comes from calloc/free. Also the
 * budget arithmetic (thresholds and levels) that the stack applies. */
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

void mem_budget_init(struct mem_budget *b, size_t limit)
{
    /* Linux's tcp_mem is {low, pressure, high} in pages; the same shape
     * here, in bytes, from one figure. */
    *b = (struct mem_budget){
        .low = limit / 2,
        .pressure = limit / 4 * 3 + (limit % 4) * 3 / 4,
        .high = limit,
    };
}

enum mem_level mem_budget_level(const struct mem_budget *b, size_t used)
{
    if (b->high == 0)
        return MEM_LEVEL_NORMAL;
    if (used >= b->high)
        return MEM_LEVEL_OVER;
    if (b->pressed || used >= b->pressure)
        return MEM_LEVEL_PRESSURE;
    return MEM_LEVEL_NORMAL;
}

bool mem_budget_update(struct mem_budget *b, size_t used)
{
    bool was = b->pressed;
    if (b->high == 0)
        b->pressed = false;
    else if (used >= b->pressure)
        b->pressed = true;
    else if (used < b->low)
        b->pressed = false;
    return b->pressed != was;
}

bool mem_budget_fits(const struct mem_budget *b, size_t used, size_t more)
{
    return b->high == 0 || (used <= b->high && more <= b->high - used);
}
