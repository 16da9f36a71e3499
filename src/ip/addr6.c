/* The per-stack IPv6 address table (addr6.h): a keyed hash from address to
 * entry, an array from id to entry, and a stack of ids to reuse. */
#include "ip/addr6.h"

#include "base/siphash.h"

#include <string.h>

#define ADDR6_PERMANENT UINT32_MAX

static uint64_t addr_hash(const struct addr6_table *t, const uint8_t *a)
{
    return siphash13(t->key, a, ADDR6_LEN);
}

static uint64_t entry_rehash(const struct hnode *h, void *ctx)
{
    const struct addr6_entry *e = (const struct addr6_entry *)h;
    return addr_hash(ctx, e->addr);
}

int addr6_table_init(struct addr6_table *t, struct mem *mem, struct mem *tmem,
                     const uint8_t key[16])
{
    memset(t, 0, sizeof *t);
    t->mem = mem;
    t->tmem = tmem;
    memcpy(t->key, key, sizeof t->key);
    /* A different key from the 4-tuple table's: the two hashes share
     * nothing an attacker could line up. */
    t->key[0] ^= 0x6a;
    return htable_init(&t->map, tmem, 8, entry_rehash, t);
}

static void entry_free(struct addr6_table *t, struct addr6_entry *e)
{
    htable_remove(&t->map, &e->h, addr_hash(t, e->addr));
    t->byid[e->id] = NULL;
    t->free_ids[t->nfree++] = e->id;
    mem_free(e->refs == ADDR6_PERMANENT ? t->tmem : t->mem, e, sizeof *e);
}

void addr6_table_fini(struct addr6_table *t)
{
    for (uint32_t i = 0; i < t->used; i++)
        if (t->byid[i])
            entry_free(t, t->byid[i]);
    mem_free(t->tmem, t->byid, t->cap * sizeof *t->byid);
    mem_free(t->tmem, t->free_ids, t->cap * sizeof *t->free_ids);
    htable_fini(&t->map);
    memset(t, 0, sizeof *t);
}

static struct addr6_entry *find(const struct addr6_table *t, const uint8_t *a)
{
    struct htable_iter it;
    for (struct hnode *h = htable_first(&t->map, addr_hash(t, a), &it); h;
         h = htable_next(&t->map, &it)) {
        struct addr6_entry *e = (struct addr6_entry *)h;
        if (memcmp(e->addr, a, ADDR6_LEN) == 0)
            return e;
    }
    return NULL;
}

int64_t addr6_find(const struct addr6_table *t, const uint8_t addr[ADDR6_LEN])
{
    const struct addr6_entry *e = find(t, addr);
    return e ? (int64_t)e->id : -1;
}

/* Room for one more id: doubles both arrays when every id is in use. */
static bool grow(struct addr6_table *t)
{
    if (t->nfree > 0 || t->used < t->cap)
        return true;
    uint32_t cap = t->cap ? t->cap * 2 : 16; /* id 0 stays unused */
    if (cap < t->cap)
        return false;
    struct addr6_entry **byid = mem_alloc(t->tmem, cap * sizeof *byid);
    uint32_t *ids = mem_alloc(t->tmem, cap * sizeof *ids);
    if (!byid || !ids) {
        mem_free(t->tmem, byid, cap * sizeof *byid);
        mem_free(t->tmem, ids, cap * sizeof *ids);
        return false;
    }
    if (t->cap) {
        memcpy(byid, t->byid, t->cap * sizeof *byid);
        memcpy(ids, t->free_ids, t->nfree * sizeof *ids);
    }
    mem_free(t->tmem, t->byid, t->cap * sizeof *t->byid);
    mem_free(t->tmem, t->free_ids, t->cap * sizeof *t->free_ids);
    t->byid = byid;
    t->free_ids = ids;
    t->cap = cap;
    return true;
}

int64_t addr6_intern(struct addr6_table *t, const uint8_t addr[ADDR6_LEN],
                     bool permanent)
{
    struct addr6_entry *e = find(t, addr);
    if (e) { /* a permanent request finds none: the stack makes it first */
        if (e->refs != ADDR6_PERMANENT)
            e->refs++;
        return e->id;
    }
    if (!grow(t))
        return -1;
    e = mem_alloc(permanent ? t->tmem : t->mem, sizeof *e);
    if (!e)
        return -1;
    memcpy(e->addr, addr, ADDR6_LEN);
    e->refs = permanent ? ADDR6_PERMANENT : 1;
    if (t->used == 0)
        t->used = 1; /* id 0 names no address (addr6_get gives ::) */
    e->id = t->nfree > 0 ? t->free_ids[--t->nfree] : t->used++;
    t->byid[e->id] = e;
    htable_insert(&t->map, &e->h, addr_hash(t, addr));
    return e->id;
}

void addr6_ref(struct addr6_table *t, uint32_t id)
{
    struct addr6_entry *e = t->byid[id];
    if (e->refs != ADDR6_PERMANENT)
        e->refs++;
}

void addr6_unref(struct addr6_table *t, uint32_t id)
{
    struct addr6_entry *e = t->byid[id];
    if (e->refs == ADDR6_PERMANENT)
        return;
    if (--e->refs == 0)
        entry_free(t, e);
}
