/* Out-of-order bookkeeping for TCP reassembly: which byte ranges beyond
 * the in-order point have arrived. Offsets are relative to the in-order
 * point (RCV.NXT). A few ranges live inline; when more are needed the set
 * moves to an allocated array that grows by doubling up to a limit the
 * caller chooses (so memory stays bounded), and moves back inline once few
 * ranges are left. A segment that would need a range beyond the limit is
 * refused. */
#ifndef BERTH_BASE_ASSEMBLER_H
#define BERTH_BASE_ASSEMBLER_H

#include "base/mem.h"

#include <stdbool.h>
#include <stdint.h>

#define ASSEMBLER_INLINE 6 /* ranges held without an allocation */

struct assembler_range {
    uint32_t start, end; /* [start, end), sorted, disjoint, non-adjacent */
};

struct assembler {
    struct assembler_range *ext; /* allocated ranges, or NULL: inline */
    uint16_t n;                  /* ranges held */
    uint16_t cap;                /* capacity of ext (0 while inline) */
    struct assembler_range in[ASSEMBLER_INLINE];
};

static inline void assembler_init(struct assembler *a)
{
    a->ext = 0;
    a->n = 0;
    a->cap = 0;
}
static inline bool assembler_empty(const struct assembler *a)
{
    return a->n == 0;
}
/* The ranges, a->n of them, in order. */
static inline struct assembler_range *assembler_ranges(struct assembler *a)
{
    return a->ext ? a->ext : a->in;
}
static inline const struct assembler_range *
assembler_ranges_const(const struct assembler *a)
{
    return a->ext ? a->ext : a->in;
}
/* Records [off, off+len) (len > 0, off > 0: data at offset 0 is in order and
 * is never recorded). Merges overlapping and adjacent ranges. Returns 0, or
 * -1 if it would need more than `limit` ranges (at least ASSEMBLER_INLINE
 * are always allowed) or the allocation failed; nothing changes then. `m`
 * accounts for the array, which may be NULL only when limit <=
 * ASSEMBLER_INLINE. */
int assembler_add(struct assembler *a, struct mem *m, uint32_t limit,
                  uint32_t off, uint32_t len);
/* The index of the range holding offset off, or -1: a binary search, for
 * sets of hundreds of ranges after a burst of losses. */
int assembler_find(const struct assembler *a, uint32_t off);
/* Forgets the highest range (the data farthest from the in-order point),
 * to make room for data nearer to it. Returns its [start, end), or false if
 * there is none. */
bool assembler_drop_last(struct assembler *a, uint32_t *start, uint32_t *end);
/* The in-order point advanced by `n` bytes (n > 0) of newly arrived in-order
 * data. Returns how many more bytes, beyond those n, are now contiguous
 * (a range starting at or before n), and rebases all ranges so offset 0 is
 * the new in-order point (n + the returned count). Moves back inline when
 * the rest fits. */
uint32_t assembler_advance(struct assembler *a, struct mem *m, uint32_t n);
/* Forgets every range and gives the array back. */
void assembler_clear(struct assembler *a, struct mem *m);

#endif
