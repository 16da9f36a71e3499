/* berth — the in-memory link: two stacks (side 0 and side 1) joined in one
 * process, in virtual time, with seeded, reproducible impairments (loss,
 * bursty loss, duplication, reordering, delay, jitter, corruption, a
 * bandwidth bottleneck with a bounded queue, outages) and chosen-packet
 * control for tests. It owns no clock: time moves only in its driver.
 *
 * Typical use:
 *
 *     struct berth_memlink *link = berth_memlink_create(42);
 *     for (int side = 0; side < 2; side++) {
 *         struct berth_config cfg;
 *         berth_config_init(&cfg);
 *         cfg.addr = side ? SERVER : CLIENT;
 *         cfg.tx = berth_memlink_tx;
 *         cfg.tx_ctx = berth_memlink_tx_ctx(link, side);
 *         st[side] = berth_stack_create(&cfg, now);
 *         berth_memlink_attach(link, side, st[side]);
 *     }
 *     ... berth_connect(st[0], ...) ...
 *     berth_memlink_run(link, &now, now + 1000000);
 */
#ifndef BERTH_MEMLINK_H
#define BERTH_MEMLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth/berth.h"

#ifdef __cplusplus
extern "C" {
#endif

struct berth_memlink;

/* Returned by the drivers when they stop because the step bound was hit:
 * something keeps scheduling work at the same instant (a livelock). Distinct
 * from every berth_errno. */
#define BERTH_MEMLINK_ESTEPS (-10000)

/* ------------------------------------------------------------------------
 * Lifecycle.
 */

/* A link with default impairments (1 ms one-way delay, nothing else) and
 * virtual time 0. `seed` drives every random impairment. NULL when out of
 * memory. */
struct berth_memlink *berth_memlink_create(uint64_t seed);
/* Frees the link and every packet still in flight. The stacks are the
 * caller's: destroy them before or after, but do not drive them through
 * the link afterwards. */
void berth_memlink_destroy(struct berth_memlink *link);

/* The transmit hook and its context for side 0 or 1: put them in that
 * side's berth_config (cfg.tx, cfg.tx_ctx) before berth_stack_create(). */
void berth_memlink_tx(void *tx_ctx, const uint8_t *pkt, size_t len);
void *berth_memlink_tx_ctx(struct berth_memlink *link, int side);
/* Packets for `side` are delivered to `stack` (NULL detaches: packets to a
 * detached side are counted as `undeliverable` and freed). */
void berth_memlink_attach(struct berth_memlink *link, int side,
                          struct berth_stack *stack);

/* ------------------------------------------------------------------------
 * Impairments, per direction: `from_side` names the sending side.
 * Probabilities are in [0, 1]; times are microseconds.
 */
struct berth_memlink_impair {
    uint64_t delay;         /* one-way base delay; default 1000 (1 ms) */
    uint64_t jitter;        /* extra delay uniform in [0, jitter]; may
                               reorder packets as a side effect */
    double loss;            /* probability a packet is lost */
    double duplicate;       /* probability a packet arrives twice */
    double reorder;         /* probability a packet is held back ... */
    uint64_t reorder_delay; /* ... by this much more; default 2000 */
    double corrupt;         /* probability one random bit is flipped */

    /* Bursty loss: the Gilbert–Elliott two-state model, stepped once per
     * packet that reaches the wire (after the bottleneck): first the state
     * moves (good → bad with ge_good_to_bad, bad → good with
     * ge_bad_to_good), then the packet is lost with the new state's
     * probability. Mean burst ≈ 1 / ge_bad_to_good packets. It applies on
     * top of `loss`. Off (and drawing no randomness) while both transition
     * probabilities are 0; the state starts good. */
    double ge_good_to_bad;
    double ge_bad_to_good;
    double ge_loss_good; /* loss probability in the good state */
    double ge_loss_bad;  /* ... in the bad state */

    /* A bottleneck: packets are serialized at `rate` bytes per second
     * through a FIFO before they take the base delay, so a burst queues up
     * and is spread out (queueing delay). A packet that would make the FIFO
     * hold more than queue_packets packets or queue_bytes bytes (counting
     * every packet not yet fully serialized, the one on the wire included)
     * is tail-dropped (`tail_dropped`). 0 = no limit; rate 0 = no
     * bottleneck (the default). */
    uint64_t rate;
    uint32_t queue_packets;
    uint64_t queue_bytes;
};

/* Defaults: delay 1 ms, reorder_delay 2 ms, everything else 0. */
void berth_memlink_impair_init(struct berth_memlink_impair *imp);
void berth_memlink_set_impair(struct berth_memlink *link, int from_side,
                              const struct berth_memlink_impair *imp);
void berth_memlink_get_impair(const struct berth_memlink *link, int from_side,
                              struct berth_memlink_impair *out);

/* Outages: every packet that would enter the wire (leave the bottleneck)
 * at a virtual time in [start, end) is lost (`outage_dropped`), as if the
 * cable were cut. Up to BERTH_MEMLINK_MAX_OUTAGES windows per direction;
 * they may overlap. Returns 0, or BERTH_EINVAL when start >= end or the
 * list is full. */
#define BERTH_MEMLINK_MAX_OUTAGES 16
int berth_memlink_add_outage(struct berth_memlink *link, int from_side,
                             uint64_t start, uint64_t end);
void berth_memlink_clear_outages(struct berth_memlink *link, int from_side);

/* ------------------------------------------------------------------------
 * Chosen-packet control: the filter sees every packet as it is sent, before
 * the random impairments, and decides its fate. Tests use it to drop "the
 * 3rd data segment" or "the first FIN". PASS lets the random impairments
 * apply as configured; DROP loses the packet; DUPLICATE sends it twice;
 * DELAY holds it back `delay` µs more than the link would.
 */
enum berth_memlink_action {
    BERTH_MEMLINK_PASS,
    BERTH_MEMLINK_DROP,
    BERTH_MEMLINK_DUPLICATE,
    BERTH_MEMLINK_DELAY,
};

struct berth_memlink_verdict {
    enum berth_memlink_action action;
    uint64_t delay; /* BERTH_MEMLINK_DELAY only: extra µs */
};

/* Runs inside the sending stack's transmit hook: it must not call into the
 * stacks. It may change the link's settings (impairments, filter, tap). */
typedef struct berth_memlink_verdict (*berth_memlink_filter_fn)(
    void *ctx, int from_side, const uint8_t *pkt, size_t len, uint64_t now);
void berth_memlink_set_filter(struct berth_memlink *link,
                              berth_memlink_filter_fn fn, void *ctx);

static inline struct berth_memlink_verdict berth_memlink_pass(void)
{
    struct berth_memlink_verdict v = {BERTH_MEMLINK_PASS, 0};
    return v;
}
static inline struct berth_memlink_verdict berth_memlink_drop(void)
{
    struct berth_memlink_verdict v = {BERTH_MEMLINK_DROP, 0};
    return v;
}
static inline struct berth_memlink_verdict berth_memlink_duplicate(void)
{
    struct berth_memlink_verdict v = {BERTH_MEMLINK_DUPLICATE, 0};
    return v;
}
static inline struct berth_memlink_verdict berth_memlink_delay(uint64_t us)
{
    struct berth_memlink_verdict v = {BERTH_MEMLINK_DELAY, us};
    return v;
}

/* ------------------------------------------------------------------------
 * The tap: sees every packet as sent (the original bytes, before any
 * corruption), with what the link decided to do to it. For ladders and
 * captures. Same restrictions as the filter.
 */
#define BERTH_MEMLINK_FATE_DROPPED    0x01u /* lost: random or filter */
#define BERTH_MEMLINK_FATE_DUPLICATED 0x02u /* delivered twice */
#define BERTH_MEMLINK_FATE_DELAYED    0x04u /* held back: reorder/filter */
#define BERTH_MEMLINK_FATE_CORRUPTED  0x08u /* a copy had a bit flipped */
#define BERTH_MEMLINK_FATE_QUEUE_FULL 0x10u /* dropped: link queue full */
#define BERTH_MEMLINK_FATE_FILTERED   0x20u /* the filter chose the fate */
/* Which loss it was, with DROPPED (or QUEUE_FULL for a tail drop): */
#define BERTH_MEMLINK_FATE_BURST     0x40u  /* Gilbert–Elliott */
#define BERTH_MEMLINK_FATE_OUTAGE    0x80u  /* in an outage */
#define BERTH_MEMLINK_FATE_TAIL_DROP 0x100u /* bottleneck FIFO full */
/* The packet never arrives: fate & BERTH_MEMLINK_FATE_LOST (the flags a
 * loss always carries; a corrupted copy does arrive). */
#define BERTH_MEMLINK_FATE_LOST                                                \
    (BERTH_MEMLINK_FATE_DROPPED | BERTH_MEMLINK_FATE_QUEUE_FULL)

typedef void (*berth_memlink_tap_fn)(void *ctx, int from_side, uint64_t now,
                                     const uint8_t *pkt, size_t len,
                                     unsigned fate);
void berth_memlink_set_tap(struct berth_memlink *link, berth_memlink_tap_fn fn,
                           void *ctx);

/* The receive tap: sees every copy as it is handed to the receiving
 * stack, at its delivery instant, just before berth_input(): the bytes as
 * delivered (a corrupted copy has its bit flipped, and `corrupted` says
 * so). Copies for a detached side are not shown. Same restrictions as the
 * filter. */
typedef void (*berth_memlink_rx_tap_fn)(void *ctx, int to_side, uint64_t now,
                                        const uint8_t *pkt, size_t len,
                                        bool corrupted);
void berth_memlink_set_rx_tap(struct berth_memlink *link,
                              berth_memlink_rx_tap_fn fn, void *ctx);

/* ------------------------------------------------------------------------
 * Bounds.
 */

/* Packets in flight per direction; beyond it, packets are dropped and
 * counted as `queue_full`. Default 4096. */
void berth_memlink_set_queue_limit(struct berth_memlink *link, size_t packets);
/* Steps (deliveries + advances) one driver call may take before giving up
 * with BERTH_MEMLINK_ESTEPS. Default 10,000,000. */
void berth_memlink_set_max_steps(struct berth_memlink *link, uint64_t steps);

/* ------------------------------------------------------------------------
 * The driver. Time is virtual: the link remembers the last instant it
 * reached; packets sent from outside the driver (berth_connect, berth_send
 * ...) are stamped with it. Call berth_memlink_set_time() if you move time
 * yourself between driver calls.
 */

/* Runs events in time order: the earliest of {next delivery, side 0
 * deadline, side 1 deadline} while it is ≤ until. Deliveries at an instant
 * go before timers at the same instant, in send order. On return *now is
 * `until`, except when until is UINT64_MAX: then *now is the instant of the
 * last event. Returns 0, or BERTH_MEMLINK_ESTEPS. */
int berth_memlink_run(struct berth_memlink *link, uint64_t *now,
                      uint64_t until);

/* Like berth_memlink_run(), but checks `pred` before the first step and
 * after every step, and stops as soon as it is true: then returns 1 and
 * *now is the instant at which it became true. Returns 0 when `until` is
 * reached first (*now = until, or the last event if until is UINT64_MAX),
 * or BERTH_MEMLINK_ESTEPS. */
int berth_memlink_run_until(struct berth_memlink *link, uint64_t *now,
                            uint64_t until, bool (*pred)(void *ctx), void *ctx);

/* The link's current virtual time, and a way to move it forward (never
 * back) when the caller advances time without the driver. */
uint64_t berth_memlink_time(const struct berth_memlink *link);
void berth_memlink_set_time(struct berth_memlink *link, uint64_t now);

/* Packets queued in both directions; 0 means nothing in flight. */
size_t berth_memlink_in_flight(const struct berth_memlink *link);
/* The earliest instant the driver would act at (delivery or a stack
 * deadline); UINT64_MAX when nothing will ever happen again. */
uint64_t berth_memlink_next_event(const struct berth_memlink *link);

/* ------------------------------------------------------------------------
 * Counters, per direction (`from_side` is the sender).
 */
struct berth_memlink_stats {
    uint64_t sent;       /* packets handed to the link */
    uint64_t sent_bytes; /* their bytes */
    uint64_t delivered;  /* copies passed to berth_input() */
    uint64_t rejected;   /* ... of which the receiver dropped */
    uint64_t lost;       /* random loss */
    uint64_t filter_dropped;
    uint64_t duplicated;    /* extra copies made (random or filter) */
    uint64_t reordered;     /* packets held back (random or filter) */
    uint64_t corrupted;     /* copies with a bit flipped (not counting an
                               IPv6 copy's flip in its traffic class, flow
                               label or hop limit, which no checksum covers
                               and TCP ignores: delivered as intact) */
    uint64_t queue_full;    /* dropped: queue at its bound */
    uint64_t undeliverable; /* no stack attached on the other side */
    uint64_t burst_lost;    /* lost by the Gilbert–Elliott model */
    uint64_t tail_dropped;  /* bottleneck FIFO full */
    uint64_t outage_dropped;
    uint64_t corrupt_delivered; /* corrupted copies passed to berth_input */
    uint64_t corrupt_accepted;  /* ... that it did not reject: the
                                   checksums missed a flipped bit */
    uint64_t max_queue_delay;   /* longest wait in the bottleneck, µs */
};
void berth_memlink_stats(const struct berth_memlink *link, int from_side,
                         struct berth_memlink_stats *out);

#ifdef __cplusplus
}
#endif
#endif
