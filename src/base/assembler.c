/* Range sets: sorted, disjoint, non-adjacent byte ranges above a moving
 * point, inline or in an array that grows by doubling up to the caller's
 * limit. Reassembly keeps its data in the receive ring (ring_write_at);
 * the SACK scoreboard keeps only the ranges. */
#include "base/assembler.h"

#include <string.h>

static struct assembler_range *ranges(struct assembler_view v)
{
    return *v.ext ? *v.ext : v.in;
}

static void release(struct assembler_view v, struct mem *m)
{
    mem_free(m, *v.ext, (size_t)*v.cap * sizeof **v.ext);
    *v.ext = 0;
    *v.cap = 0;
}

/* Room for `need` ranges, or -1. */
static int reserve(struct assembler_view v, struct mem *m, uint32_t need,
                   uint32_t limit)
{
    uint32_t cap = *v.ext ? *v.cap : v.inl;
    if (need > v.inl && need > limit)
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
    memcpy(r, ranges(v), *v.n * sizeof *r);
    if (*v.ext)
        release(v, m);
    *v.ext = r;
    *v.cap = (uint16_t)grown;
    return 0;
}

/* The first range ending at or beyond off (ends are sorted). */
static uint32_t first_reaching(const struct assembler_range *r, uint32_t n,
                               uint32_t off)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r[mid].end < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int assembler_view_add(struct assembler_view v, struct mem *m, uint32_t limit,
                       uint32_t off, uint32_t len, uint32_t *added)
{
    if (added)
        *added = 0;
    /* Outside reassembly's contract but harmless: an empty range records
     * nothing, and a range at offset 0 is kept like any other (until the
     * next assembler_advance consumes it). */
    if (len == 0)
        return 0;
    /* Offsets come from a bounded window, far below 2^32; clamp instead of
     * wrapping if a caller ever passes an end past it. */
    uint32_t end = len > UINT32_MAX - off ? UINT32_MAX : off + len;

    /* Ranges [i, j) touch [off, end): overlap or adjacency (r.end == off or
     * r.start == end) both merge, so the set stays non-adjacent. */
    struct assembler_range *r = ranges(v);
    uint32_t n = *v.n;
    uint32_t i = first_reaching(r, n, off);
    uint32_t j = i, had = 0;
    while (j < n && r[j].start <= end) {
        had += r[j].end - r[j].start;
        j++;
    }

    uint32_t merged = j - i;
    if (merged == 0 && reserve(v, m, n + 1u, limit) != 0)
        return -1; /* a new, separate range with no room: refused whole */
    r = ranges(v);

    uint32_t start = off;
    if (merged > 0) {
        if (r[i].start < start)
            start = r[i].start;
        if (r[j - 1].end > end)
            end = r[j - 1].end;
    }

    /* Replace r[i, j) by one range: the tail moves to i + 1. */
    if (j != i + 1)
        memmove(&r[i + 1], &r[j], (size_t)(n - j) * sizeof *r);
    r[i].start = start;
    r[i].end = end;
    *v.n = (uint16_t)(n + 1 - merged);
    if (added)
        *added = end - start - had;
    return 0;
}

/* Keeps ranges [k, n), rebased by `point`, the first of them clipped to
 * start at it; back inline when they fit (ext and in never overlap, so the
 * copy may go straight across). */
static void keep_from(struct assembler_view v, struct mem *m, uint32_t k,
                      uint32_t point)
{
    struct assembler_range *r = ranges(v);
    uint32_t kept = *v.n - k;
    struct assembler_range *to = *v.ext && kept <= v.inl ? v.in : r;
    for (uint32_t i = 0; i < kept; i++) {
        uint32_t start = r[k + i].start;
        to[i].start = start > point ? start - point : 0;
        to[i].end = r[k + i].end - point;
    }
    *v.n = (uint16_t)kept;
    if (*v.ext && to == v.in)
        release(v, m);
}

uint32_t assembler_view_advance(struct assembler_view v, struct mem *m,
                                uint32_t n)
{
    /* Ranges starting at or before n are reached by the new in-order data:
     * wholly consumed when they end by n, or contiguous past it. Only the
     * last such range can extend beyond n, since ranges are disjoint. The
     * rest start beyond point (non-adjacent), so they stay positive. */
    const struct assembler_range *r = ranges(v);
    uint32_t point = n;
    uint32_t k = 0;
    while (k < *v.n && r[k].start <= n) {
        if (r[k].end > point)
            point = r[k].end;
        k++;
    }
    keep_from(v, m, k, point);
    return point - n;
}

void assembler_view_drop_below(struct assembler_view v, struct mem *m,
                               uint32_t n)
{
    /* Ranges ending at or before n are gone; one across n keeps its part
     * above it (offset 0 after rebasing). */
    uint32_t k = first_reaching(ranges(v), *v.n, n);
    if (k < *v.n && ranges(v)[k].end == n)
        k++;
    keep_from(v, m, k, n);
}

int assembler_ranges_find(const struct assembler_range *r, uint32_t n,
                          uint32_t off)
{
    uint32_t lo = 0, hi = n; /* the first range ending beyond off */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r[mid].end <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && r[lo].start <= off ? (int)lo : -1;
}

bool assembler_view_drop_last(struct assembler_view v, uint32_t *start,
                              uint32_t *end)
{
    if (*v.n == 0)
        return false;
    (*v.n)--;
    const struct assembler_range *r = ranges(v);
    *start = r[*v.n].start;
    *end = r[*v.n].end;
    return true;
}

void assembler_view_clear(struct assembler_view v, struct mem *m)
{
    if (*v.ext)
        release(v, m);
    *v.n = 0;
}
