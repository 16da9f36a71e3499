/* Range bookkeeping for TCP reassembly: at most ASSEMBLER_MAX_RANGES
 * sorted, disjoint, non-adjacent byte ranges beyond the in-order point.
 * The data itself lives in the receive ring (ring_write_at). */
#include "base/assembler.h"

int assembler_add(struct assembler *a, uint32_t off, uint32_t len)
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
    int i = 0;
    while (i < a->n && a->r[i].end < off)
        i++;
    int j = i;
    while (j < a->n && a->r[j].start <= end)
        j++;

    int merged = j - i;
    if (a->n - merged + 1 > ASSEMBLER_MAX_RANGES)
        return -1; /* a new, separate range with no room: refused whole */

    uint32_t start = off;
    if (merged > 0) {
        if (a->r[i].start < start)
            start = a->r[i].start;
        if (a->r[j - 1].end > end)
            end = a->r[j - 1].end;
    }

    /* Replace r[i, j) by one range: shift the tail by 1 - merged. */
    int shift = 1 - merged;
    if (shift > 0) {
        for (int k = a->n - 1; k >= j; k--)
            a->r[k + shift] = a->r[k];
    } else if (shift < 0) {
        for (int k = j; k < a->n; k++)
            a->r[k + shift] = a->r[k];
    }
    a->r[i].start = start;
    a->r[i].end = end;
    a->n = (uint8_t)(a->n + shift);
    return 0;
}

uint32_t assembler_advance(struct assembler *a, uint32_t n)
{
    /* Ranges starting at or before n are reached by the new in-order data:
     * wholly consumed when they end by n, or contiguous past it. Only the
     * last such range can extend beyond n, since ranges are disjoint. */
    uint32_t point = n;
    int k = 0;
    while (k < a->n && a->r[k].start <= n) {
        if (a->r[k].end > point)
            point = a->r[k].end;
        k++;
    }
    /* The rest start beyond point (non-adjacent), so they stay positive
     * after rebasing to the new in-order point. */
    int kept = 0;
    for (; k < a->n; k++, kept++) {
        a->r[kept].start = a->r[k].start - point;
        a->r[kept].end = a->r[k].end - point;
    }
    a->n = (uint8_t)kept;
    return point - n;
}

bool assembler_drop_last(struct assembler *a, uint32_t *start, uint32_t *end)
{
    if (a->n == 0)
        return false;
    a->n--;
    *start = a->r[a->n].start;
    *end = a->r[a->n].end;
    return true;
}
