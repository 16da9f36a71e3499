/* The one impairment model of the runtime's links: what happens to a packet
 * between two stacks (the TUN runtime's `--impair`, impair.c) or two
 * in-memory sides (memlink.c). It decides fates from base/rng and holds
 * delayed copies in one delay queue; it owns no clock and sends nothing. */
#ifndef BERTH_RT_IMPAIR_MODEL_H
#define BERTH_RT_IMPAIR_MODEL_H

#include "base/rng.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------
 * The settings of one direction. Probabilities in [0, 1], times in µs.
 * Every stage that is off draws no randomness, so adding a stage never
 * shifts the dice of a configuration that does not use it.
 */
struct impair_params {
    bool drop_all;          /* a black hole: every packet lost, no draws */
    double loss;            /* probability a packet is lost */
    double dup;             /* probability a packet is sent twice */
    double reorder;         /* probability a copy is held back ... */
    uint64_t reorder_delay; /* ... this much more */
    uint64_t delay;         /* base one-way delay of every copy */
    uint64_t jitter;        /* extra delay uniform in [0, jitter], per copy */
    double corrupt;         /* probability a copy has one bit flipped */
    /* Gilbert–Elliott bursty loss: stepped once per packet reaching the
     * random stages; off while both transition probabilities are 0. */
    double ge_good_to_bad, ge_bad_to_good, ge_loss_good, ge_loss_bad;
    /* A bottleneck of `rate` bytes/s (0: none) with a FIFO bounded by
     * queue_packets / queue_bytes (0: unbounded), tail drop beyond. */
    uint64_t rate;
    uint32_t queue_packets;
    uint64_t queue_bytes;
};

#define IMPAIR_MAX_OUTAGES 16

struct impair_fifo_ent {
    uint64_t done_ns; /* serialization ends (ns: µs would drift) */
    uint32_t len;
};

/* One direction's model: settings, generator and the state of the stages
 * that have one (Gilbert–Elliott, the bottleneck FIFO, outages). */
struct impair_model {
    struct impair_params p;
    struct rng rng;
    bool ge_bad; /* Gilbert–Elliott state; starts good */
    /* The bottleneck FIFO: entries [head, head + len) of a power-of-two
     * ring, each leaving at done_ns; past ones are purged lazily. */
    uint64_t busy_ns; /* the wire is busy until then */
    struct impair_fifo_ent *ring;
    size_t ring_cap, ring_head, ring_len;
    uint64_t ring_bytes; /* sum of the entries' len */
    struct {
        uint64_t start, end; /* [start, end), µs */
    } outages[IMPAIR_MAX_OUTAGES];
    size_t noutages;
};

/* Zeroed settings (a clean link) and the generator seeded for `stream`:
 * each direction draws from its own stream of one seed. */
void impair_model_init(struct impair_model *m, uint64_t seed, uint64_t stream);
void impair_model_reseed(struct impair_model *m, uint64_t seed,
                         uint64_t stream);
void impair_model_free(struct impair_model *m);
bool impair_params_clean(const struct impair_params *p);
/* false when start >= end or the list is full. */
bool impair_model_add_outage(struct impair_model *m, uint64_t start,
                             uint64_t end);

/* Why a packet has no copies. */
enum impair_drop {
    IMPAIR_KEPT,        /* copies > 0, or the caller asked for none */
    IMPAIR_DROP_TAIL,   /* bottleneck FIFO full */
    IMPAIR_DROP_OUTAGE, /* entered the wire during an outage */
    IMPAIR_DROP_LOSS,   /* random loss or drop_all */
    IMPAIR_DROP_BURST,  /* Gilbert–Elliott */
};

struct impair_verdict {
    int copies;            /* 0, 1 or 2 */
    enum impair_drop drop; /* why copies went to 0 */
    bool duplicated;       /* the model added the second copy */
    uint64_t depart;       /* when it leaves the bottleneck (else now) */
    uint64_t queue_delay;  /* depart - now */
};

/* The per-packet stages, in order: bottleneck, outage, then (unless
 * `chosen`: a test's filter already decided) drop_all, loss,
 * Gilbert–Elliott and duplication. `copies` is what the caller wants sent
 * (1, or 0/2 from a filter). */
struct impair_verdict impair_model_decide(struct impair_model *m, uint64_t now,
                                          size_t len, int copies, bool chosen);

#define IMPAIR_NO_BIT UINT64_MAX

/* What happens to one copy: drawn in order jitter, reordering, corruption. */
struct impair_copy {
    uint64_t delay; /* after departure: delay + jitter (+ reorder_delay) */
    bool reordered; /* held back reorder_delay more */
    uint64_t bit;   /* the bit to flip (impair_copy_corrupt), or NO_BIT */
};
struct impair_copy impair_model_copy(struct impair_model *m, size_t len);
/* Flips the chosen bit of a copy's bytes; true when it had one. */
bool impair_copy_corrupt(const struct impair_copy *c, uint8_t *data);

/* ------------------------------------------------------------------------
 * The delay queue: copies waiting for their delivery time, a min-heap on
 * (at, push order), so equal times deliver first-come first. Buffers come
 * from a free list of fixed-size blocks (no malloc per packet in a steady
 * flow). `tag` is the caller's (memlink: the receiving side).
 */
struct impair_held {
    uint64_t at;
    uint64_t order;
    uint8_t *data;
    size_t len;
    unsigned tag;
};

struct impair_queue {
    struct impair_held *heap;
    size_t len, cap;
    uint64_t next_order;
    void *free_blocks; /* singly linked through each block's first bytes */
    size_t nfree;
};

/* A zeroed struct impair_queue is empty and ready. */
void impair_queue_free(struct impair_queue *q);
/* A buffer holding a copy of pkt, or NULL when out of memory. */
uint8_t *impair_queue_copy(struct impair_queue *q, const uint8_t *pkt,
                           size_t len);
/* Queues a buffer from impair_queue_copy(); false (buffer released) when
 * out of memory. */
bool impair_queue_push(struct impair_queue *q, uint64_t at, uint8_t *data,
                       size_t len, unsigned tag);
/* The earliest copy, if due at or before `now`: the caller hands its data
 * on, then gives it back with impair_queue_release(). */
bool impair_queue_pop_due(struct impair_queue *q, uint64_t now,
                          struct impair_held *out);
void impair_queue_release(struct impair_queue *q, uint8_t *data, size_t len);
/* The earliest delivery time, UINT64_MAX when empty. */
uint64_t impair_queue_next(const struct impair_queue *q);

#endif
