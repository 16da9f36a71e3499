/* Accounted allocation: the counters in struct mem are what tests check to
 * prove a stack or a module gave back everything it took. Owns the
 * bookkeeping and the per-size free lists (struct mem_class); the memory
 * itself comes from calloc/malloc/free. Also the budget arithmetic
 * (thresholds and levels) that the stack applies. */
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a cached block is poisoned while it waits (its
 * link is read only after unpoisoning), so a use after mem_free is still
 * caught, as it would be after free(). */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#ifdef MEM_ASAN
#include <sanitizer/asan_interface.h>
#define MEM_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define MEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MEM_POISON(p, n)   ((void)(p), (void)(n))
#define MEM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static struct mem_class *class_of(struct mem *m, size_t size)
{
    for (int i = 0; i < MEM_CLASSES && m->cls[i].size; i++) {
        if (m->cls[i].size == size)
            return &m->cls[i];
    }
    return NULL;
}

/* A cached block of `size`, or NULL; counted as allocated. */
static void *class_pop(struct mem *m, size_t size)
{
    struct mem_class *k = class_of(m, size);
    if (!k || !k->head)
        return NULL;
    void *p = k->head;
    MEM_UNPOISON(p, size);
    memcpy(&k->head, p, sizeof k->head);
    k->n--;
    m->cached_bytes -= size;
    m->bytes += size;
    m->allocs++;
    return p;
}

void *mem_alloc(struct mem *m, size_t size)
{
    void *p = class_pop(m, size);
    if (p)
        return memset(p, 0, size);
    /* calloc(1, 0) may return NULL or a unique pointer; ask for one byte so
     * a zero-size request is never mistaken for "no memory". */
    p = calloc(1, size ? size : 1);
    if (!p)
        return NULL;
    m->bytes += size;
    m->allocs++;
    return p;
}

void *mem_alloc_raw(struct mem *m, size_t size)
{
    void *p = class_pop(m, size);
    if (p)
        return p;
    p = malloc(size ? size : 1);
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
    struct mem_class *k = class_of(m, size);
    if (k && k->n < k->max) {
        memcpy(p, &k->head, sizeof k->head);
        k->head = p;
        k->n++;
        m->cached_bytes += size;
        MEM_POISON(p, size);
        return;
    }
    free(p);
}

bool mem_class_add(struct mem *m, size_t size, uint32_t max)
{
    if (size < sizeof(void *))
        return false;
    struct mem_class *k = class_of(m, size);
    if (k) {
        if (max > k->max)
            k->max = max;
        return true;
    }
    for (int i = 0; i < MEM_CLASSES; i++) {
        if (m->cls[i].size == 0) {
            m->cls[i] = (struct mem_class){.size = size, .max = max};
            return true;
        }
    }
    return false;
}

void mem_release(struct mem *m)
{
    for (int i = 0; i < MEM_CLASSES && m->cls[i].size; i++) {
        struct mem_class *k = &m->cls[i];
        while (k->head) {
            void *p = k->head;
            MEM_UNPOISON(p, k->size);
            memcpy(&k->head, p, sizeof k->head);
            free(p);
        }
        m->cached_bytes -= (size_t)k->n * k->size;
        k->n = 0;
    }
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
