/* Range bookkeeping for TCP reassembly: sorted, disjoint, non-adjacent
 * byte ranges beyond the in-order point, inline or in an array that grows
 * by doubling up to the caller's limit. The data itself lives in the
 * receive ring (ring_write_at). */
#include "base/assembler.h"

#include <string.h>

static void release(struct assembler *a, struct mem *m)
{
    mem_free(m, a->ext, (size_t)a->cap * sizeof *a->ext);
    a->ext = 0;
    a->cap = 0;
}

/* Room for `need` ranges, or -1. */
static int reserve(struct assembler *a, struct mem *m, uint32_t need,
                   uint32_t limit)
{
    uint32_t cap = a->ext ? a->cap : ASSEMBLER_INLINE;
    if (need > ASSEMBLER_INLINE && need > limit)
        return -1; /* even with room left from an earlier, larger limit */
    if (need <= cap)
        return 0;
    if (need > UINT16_MAX || !m)
        return -1;
    uint32_t grown = cap * 2;
    if (grown > limit)
        grown = limit;
    if (grown > UINT16_MAX)
        grown = UINT16_MAX;
    struct assembler_range *r = mem_alloc_raw(m, grown * sizeof *r);
    if (!r)
        return -1;
    memcpy(r, assembler_ranges(a), a->n * sizeof *r);
    if (a->ext)
        release(a, m);
    a->ext = r;
    a->cap = (uint16_t)grown;
    return 0;
}

int assembler_add(struct assembler *a, struct mem *m, uint32_t limit,
                  uint32_t off, uint32_t len)
{
    /* Outside the contract but harmless: an empty range records nothing,
     * and a range at offset 0 is kept like any other until the next
     * assembler_advance consumes it. */
    if (len == 0)
        return 0;
    /* Offsets come from a bounded window, far below 2^32; clamp instead of
     * wrapping if a caller ever passes an end past it. */
    uint32_t end = len > UINT32_MAX - off ? UINT32_MAX : off + len;

    /* Ranges [i, j) touch [off, end): overlap or adjacency (r.end == off or
     * r.start == end) both merge, so the set stays non-adjacent. */
    struct assembler_range *r = assembler_ranges(a);
    int i = 0;
    while (i < a->n && r[i].end < off)
        i++;
    int j = i;
    while (j < a->n && r[j].start <= end)
        j++;

    int merged = j - i;
    if (merged == 0 && reserve(a, m, a->n + 1u, limit) != 0)
        return -1; /* a new, separate range with no room: refused whole */
    r = assembler_ranges(a);

    uint32_t start = off;
    if (merged > 0) {
        if (r[i].start < start)
            start = r[i].start;
        if (r[j - 1].end > end)
            end = r[j - 1].end;
    }

    /* Replace r[i, j) by one range: shift the tail by 1 - merged. */
    int shift = 1 - merged;
    if (shift != 0)
        memmove(&r[j + shift], &r[j], (size_t)(a->n - j) * sizeof *r);
    r[i].start = start;
    r[i].end = end;
    a->n = (uint16_t)(a->n + shift);
    return 0;
}

uint32_t assembler_advance(struct assembler *a, struct mem *m, uint32_t n)
{
    /* Ranges starting at or before n are reached by the new in-order data:
     * wholly consumed when they end by n, or contiguous past it. Only the
     * last such range can extend beyond n, since ranges are disjoint. */
    struct assembler_range *r = assembler_ranges(a);
    uint32_t point = n;
    int k = 0;
    while (k < a->n && r[k].start <= n) {
        if (r[k].end > point)
            point = r[k].end;
        k++;
    }
    /* The rest start beyond point (non-adjacent), so they stay positive
     * after rebasing to the new in-order point. Few enough go back inline
     * (ext and in never overlap, so the copy may go straight across). */
    int kept = a->n - k;
    struct assembler_range *to = a->ext && kept <= ASSEMBLER_INLINE ? a->in : r;
    for (int i = 0; i < kept; i++) {
        to[i].start = r[k + i].start - point;
        to[i].end = r[k + i].end - point;
    }
    a->n = (uint16_t)kept;
    if (a->ext && to == a->in)
        release(a, m);
    return point - n;
}

int assembler_find(const struct assembler *a, uint32_t off)
{
    const struct assembler_range *r = assembler_ranges_const(a);
    int lo = 0, hi = a->n; /* the first range ending beyond off */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (r[mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->n && r[lo].start <= off ? lo : -1;
}

bool assembler_drop_last(struct assembler *a, uint32_t *start, uint32_t *end)
{
    if (a->n == 0)
        return false;
    a->n--;
    const struct assembler_range *r = assembler_ranges(a);
    *start = r[a->n].start;
    *end = r[a->n].end;
    return true;
}

void assembler_clear(struct assembler *a, struct mem *m)
{
    if (a->ext)
        release(a, m);
    a->n = 0;
}
