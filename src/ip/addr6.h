/* IPv6 addresses interned per stack: each distinct address a record uses
 * is kept once, refcounted, and records hold its 32-bit id where an IPv4
 * record holds the address. So a SYN-queue or TIME-WAIT record has the
 * same 64 bytes for both families (docs/ARCHITECTURE.md, "Dual stack"). */
#ifndef BERTH_IP_ADDR6_H
#define BERTH_IP_ADDR6_H

#include "base/htable.h"
#include "base/mem.h"

#include <stdbool.h>
#include <stdint.h>

#define ADDR6_LEN 16u

/* One address. refs: records (and input in progress) holding its id; the
 * entry is freed when they drop to zero, unless permanent (the stack's own
 * address, held for the stack's lifetime). */
struct addr6_entry {
    struct hnode h;
    uint32_t refs;
    uint32_t id;
    uint8_t addr[ADDR6_LEN];
};

struct addr6_table {
    struct htable map;         /* address -> entry */
    struct addr6_entry **byid; /* id -> entry; NULL: a free id */
    uint32_t *free_ids;        /* ids to reuse (a stack) */
    uint32_t cap, used, nfree; /* byid[1, used) handed out so far */
    struct mem *mem;           /* entries (counted as the records' memory) */
    struct mem *tmem;          /* the arrays (the stack's own tables) */
    uint8_t key[16];           /* keys the bucket hash (siphash) */
};

/* 0, or -1 without memory. Entries come from mem, tables from tmem. */
int addr6_table_init(struct addr6_table *t, struct mem *mem, struct mem *tmem,
                     const uint8_t key[16]);
/* Frees every entry and the tables. */
void addr6_table_fini(struct addr6_table *t);
/* The id of addr with one more reference (created at 1 if new); -1
 * without memory. permanent: never freed (the entry comes from tmem). */
int64_t addr6_intern(struct addr6_table *t, const uint8_t addr[ADDR6_LEN],
                     bool permanent);
/* The id of addr if interned, else -1; no reference taken. */
int64_t addr6_find(const struct addr6_table *t, const uint8_t addr[ADDR6_LEN]);
void addr6_ref(struct addr6_table *t, uint32_t id);
/* One reference less; the entry is freed at zero. */
void addr6_unref(struct addr6_table *t, uint32_t id);
/* The address of a live id; id 0 (a record without that address yet, as
 * a listener's peer) is the unspecified address ::. */
static inline const uint8_t *addr6_get(const struct addr6_table *t, uint32_t id)
{
    static const uint8_t unspecified[ADDR6_LEN];
    return id ? t->byid[id]->addr : unspecified;
}
/* Entries live (for the memory benchmark and tests). */
static inline size_t addr6_count(const struct addr6_table *t)
{
    return t->map.count;
}

#endif
