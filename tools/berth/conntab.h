/* berth command: a small intrusive table keyed by an integer — socket handle
 * to connection, client address to its connection count. Lookup by key in
 * O(1), and iteration that tolerates removing the current node (reaping,
 * shutdown). */
#ifndef BERTH_CMD_CONNTAB_H
#define BERTH_CMD_CONNTAB_H

#include <stddef.h>
#include <stdint.h>

struct ctab_node {
    int64_t key;
    struct ctab_node *hnext;       /* bucket chain */
    struct ctab_node *prev, *next; /* every node, in insertion order */
};

struct ctab {
    struct ctab_node **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first insert */
    size_t count;
    struct ctab_node *first, *last;
};

#define CTAB_ENTRY(node, type, member)                                         \
    ((type *)(void *)((char *)(node)-offsetof(type, member)))

void ctab_init(struct ctab *t);
/* Frees the bucket array; the nodes are the caller's. */
void ctab_free(struct ctab *t);
/* 0, or -1 when out of memory. The key must not be present. */
int ctab_insert(struct ctab *t, struct ctab_node *n, int64_t key);
struct ctab_node *ctab_find(const struct ctab *t, int64_t key);
void ctab_remove(struct ctab *t, struct ctab_node *n);

#endif
