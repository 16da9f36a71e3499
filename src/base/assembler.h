/* Out-of-order bookkeeping for TCP reassembly: which byte ranges beyond
 * the in-order point have arrived. Offsets are relative to the in-order
 * point (RCV.NXT). A fixed number of ranges keeps memory bounded: a segment
 * that would need one more range than there is room for is refused. */
#ifndef BERTH_BASE_ASSEMBLER_H
#define BERTH_BASE_ASSEMBLER_H

#include <stdbool.h>
#include <stdint.h>

#define ASSEMBLER_MAX_RANGES 8

struct assembler {
    struct {
        uint32_t start, end; /* [start, end), sorted, disjoint, non-adjacent */
    } r[ASSEMBLER_MAX_RANGES];
    uint8_t n;
};

static inline void assembler_init(struct assembler *a)
{
    a->n = 0;
}
static inline bool assembler_empty(const struct assembler *a)
{
    return a->n == 0;
}
/* Records [off, off+len) (len > 0, off > 0: data at offset 0 is in order and
 * is never recorded). Merges overlapping and adjacent ranges. Returns 0, or
 * -1 if it would need more than ASSEMBLER_MAX_RANGES ranges (nothing
 * changes then). */
int assembler_add(struct assembler *a, uint32_t off, uint32_t len);
/* Forgets the highest range (the data farthest from the in-order point),
 * to make room for data nearer to it. Returns its [start, end), or false if
 * there is none. */
bool assembler_drop_last(struct assembler *a, uint32_t *start, uint32_t *end);
/* The in-order point advanced by `n` bytes (n > 0) of newly arrived in-order
 * data. Returns how many more bytes, beyond those n, are now contiguous
 * (a range starting at or before n), and rebases all ranges so offset 0 is
 * the new in-order point (n + the returned count). */
uint32_t assembler_advance(struct assembler *a, uint32_t n);

#endif
