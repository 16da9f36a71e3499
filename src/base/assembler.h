/* Sets of byte ranges relative to a moving point: TCP reassembly's
 * out-of-order data beyond RCV.NXT, and the SACK scoreboard's blocks above
 * SND.UNA. A few ranges live inline (how many is the owner's choice); when
 * more are needed the set moves to an allocated array that grows by
 * doubling up to a limit the caller chooses (so memory stays bounded), and
 * moves back inline once few ranges are left. A range that would need room
 * beyond the limit is refused. */
#ifndef BERTH_BASE_ASSEMBLER_H
#define BERTH_BASE_ASSEMBLER_H

#include "base/mem.h"

#include <stdbool.h>
#include <stdint.h>

#define ASSEMBLER_INLINE 6 /* ranges reassembly holds without an allocation */

struct assembler_range {
    uint32_t start, end; /* [start, end), sorted, disjoint, non-adjacent */
};

/* The fields of a range set with `inline_count` ranges inline. A set is
 * any struct made of these; struct assembler is reassembly's. */
#define ASSEMBLER_FIELDS(inline_count)                                         \
    struct assembler_range *ext; /* allocated ranges, or NULL: inline */       \
    uint16_t n;                  /* ranges held */                             \
    uint16_t cap;                /* capacity of ext (0 while inline) */        \
    struct assembler_range in[inline_count]

struct assembler {
    ASSEMBLER_FIELDS(ASSEMBLER_INLINE);
};

/* What the operations see of a set, whatever its inline count. Build one
 * with ASSEMBLER_VIEW; the operations below take the set itself. */
struct assembler_view {
    struct assembler_range **ext;
    uint16_t *n, *cap;
    struct assembler_range *in;
    uint32_t inl; /* ranges `in` holds */
};
#define ASSEMBLER_VIEW(set)                                                    \
    ((struct assembler_view){&(set)->ext, &(set)->n, &(set)->cap, (set)->in,   \
                             sizeof(set)->in / sizeof(set)->in[0]})

/* The operations take a pointer to a set (evaluated more than once: pass
 * a plain expression such as &c->ooo). */
#define assembler_init(set)                                                    \
    ((set)->ext = 0, (set)->n = 0, (set)->cap = 0, (void)0)
#define assembler_empty(set) ((set)->n == 0)
/* The ranges, set->n of them, in order. */
#define assembler_ranges(set) ((set)->ext ? (set)->ext : (set)->in)
#define assembler_ranges_const(set)                                            \
    ((const struct assembler_range *)assembler_ranges(set))
/* Records [off, off+len) (len > 0; reassembly never records offset 0, the
 * in-order point). Merges overlapping and adjacent ranges. Returns 0, or
 * -1 if it would need more than `limit` ranges (at least the inline count
 * are always allowed) or the allocation failed; nothing changes then. `m`
 * accounts for the array, which may be NULL only when limit <= the inline
 * count. assembler_add_count also says how many bytes were not held yet. */
#define assembler_add(set, m, limit, off, len)                                 \
    assembler_view_add(ASSEMBLER_VIEW(set), m, limit, off, len, 0)
#define assembler_add_count(set, m, limit, off, len, added)                    \
    assembler_view_add(ASSEMBLER_VIEW(set), m, limit, off, len, added)
/* The index of the range holding offset off, or -1: a binary search, for
 * sets of hundreds of ranges after a burst of losses. */
#define assembler_find(set, off)                                               \
    assembler_ranges_find(assembler_ranges_const(set), (set)->n, off)
/* Forgets the highest range (the data farthest from the in-order point),
 * to make room for data nearer to it. Returns its [start, end), or false if
 * there is none. */
#define assembler_drop_last(set, start, end)                                   \
    assembler_view_drop_last(ASSEMBLER_VIEW(set), start, end)
/* The in-order point advanced by `n` bytes (n > 0) of newly arrived in-order
 * data. Returns how many more bytes, beyond those n, are now contiguous
 * (a range starting at or before n), and rebases all ranges so offset 0 is
 * the new in-order point (n + the returned count). Moves back inline when
 * the rest fits. */
#define assembler_advance(set, m, n)                                           \
    assembler_view_advance(ASSEMBLER_VIEW(set), m, n)
/* The point moved up by `n` bytes that were acknowledged, not received:
 * forgets what lies below n (a range across it keeps its part above) and
 * rebases so offset 0 is n. Moves back inline when the rest fits. */
#define assembler_drop_below(set, m, n)                                        \
    assembler_view_drop_below(ASSEMBLER_VIEW(set), m, n)
/* Forgets every range and gives the array back. */
#define assembler_clear(set, m) assembler_view_clear(ASSEMBLER_VIEW(set), m)

int assembler_view_add(struct assembler_view v, struct mem *m, uint32_t limit,
                       uint32_t off, uint32_t len, uint32_t *added);
int assembler_ranges_find(const struct assembler_range *r, uint32_t n,
                          uint32_t off);
bool assembler_view_drop_last(struct assembler_view v, uint32_t *start,
                              uint32_t *end);
uint32_t assembler_view_advance(struct assembler_view v, struct mem *m,
                                uint32_t n);
void assembler_view_drop_below(struct assembler_view v, struct mem *m,
                               uint32_t n);
void assembler_view_clear(struct assembler_view v, struct mem *m);

#endif
