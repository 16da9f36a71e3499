/* Two berth stacks in one process joined by the immediate in-memory link
 * (pktq.h): side 0 is the client (10.0.0.1), side 1 the server
 * (10.0.0.2). Time is either the real monotonic clock (read every few
 * packets) or virtual, moved only by pair_advance_to().
 *
 * Offloads, on equal terms with the kernel's loopback device (which moves
 * 64 KiB GSO segments and never computes a checksum):
 * - TSO/GRO: when the caller sets cfg[i].tso_max, the pair installs its
 *   tx_gso hook and hands each super-segment to the peer whole, as one
 *   coalesced segment (what a TUN link with GRO delivers), and every
 *   packet arrives with BERTH_IN_CSUM_OK (the link is memory: nothing to
 *   verify). The MSS and everything on the wire per MSS stay the same.
 * - Hand-over (pair.handoff, set after pair_init): a packet goes straight
 *   into the peer's berth_input() from inside the sender's transmit hook,
 *   with no copy into the queue, when that is safe: the peer is not inside
 *   a call the pair made, nothing for it waits in the queue (order), and
 *   this is not already a handed-over delivery (whatever the peer sends
 *   back meanwhile is queued). With it on, an event callback must not call
 *   into the other stack (the bench programs never do).
 * - Scatter-gather (pair_init_sg): the stacks' tx_sg hook; a segment's text
 *   stays in the sender's send buffer and reaches the peer's receive
 *   buffer through berth_input_sg, so with hand-over it is copied once
 *   (queued, it is gathered into the queue and copied from there). */
#ifndef BERTH_BENCH_PAIR_H
#define BERTH_BENCH_PAIR_H

#include "pktq.h"

#include <berth/berth.h>
#include <stdbool.h>
#include <stdint.h>

#define PAIR_CLIENT_ADDR 0x0a000001u /* 10.0.0.1 */
#define PAIR_SERVER_ADDR 0x0a000002u /* 10.0.0.2 */
/* Both stacks speak IPv6 too: fd00::1 (client) and fd00::2 (server). */
extern const uint8_t pair_addr6[2][16];

struct pair;

struct pair_end {
    struct pair *p;
    int side;
};

struct pair {
    struct berth_stack *st[2];
    struct pair_end end[2];
    struct pktq q;
    uint64_t now;      /* us */
    bool virtual_time; /* else: CLOCK_MONOTONIC */
    bool drop_from[2]; /* lose everything this side sends */
    uint64_t dropped;
    bool offload;       /* cfg.tso_max was set: GSO hook, BERTH_IN_CSUM_OK */
    bool handoff;       /* deliver in the transmit hook when safe */
    bool sg;            /* tx_sg and berth_input_sg (pair_init_sg) */
    bool busy[2];       /* the pair is inside a call into this stack */
    uint32_t nested;    /* inside a handed-over delivery */
    uint64_t queued[2]; /* packets in the queue for each side */
    uint64_t handed;    /* packets handed over without the queue */
    /* Called at every pair_tick() (every 64 packets delivered) when set:
     * the SYN-flood benchmark injects its forged SYNs there. */
    void (*tick_hook)(void *ctx);
    void *tick_ctx;
};

/* cfg[i] is completed (addr, tx, seed, secret; tx_gso when tso_max is
 * set) and used for side i; the event callbacks and their contexts are the
 * caller's. 0 or -1. */
int pair_init(struct pair *p, struct berth_config cfg[2], bool virtual_time,
              size_t link_bytes);
/* The same, with sg: tx_sg set too, text handed over in place. */
int pair_init_sg(struct pair *p, struct berth_config cfg[2], bool virtual_time,
                 size_t link_bytes, bool sg);
void pair_destroy(struct pair *p);

/* Delivers queued packets (and runs due timers) until the link is empty
 * or `max` packets were delivered. Returns the number delivered. */
uint64_t pair_run(struct pair *p, uint64_t max);
/* Virtual time: moves to t, running every timer due up to t in order and
 * delivering what they send. */
void pair_advance_to(struct pair *p, uint64_t t);
/* The earlier of the two stacks' deadlines. */
uint64_t pair_next_deadline(const struct pair *p);
/* Re-reads the clock (real time only) and runs due timers. */
void pair_tick(struct pair *p);

#endif
