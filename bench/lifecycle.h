/* The lifecycle workload on a pair of berth stacks: the client keeps
 * `inflight` connections going; each one connects, sends a 64-byte
 * request, reads the 64-byte response and closes; the server answers and
 * closes on the client's FIN. The client opens the next connection as it
 * closes one. Also: holding many idle established connections. */
#ifndef BERTH_BENCH_LIFECYCLE_H
#define BERTH_BENCH_LIFECYCLE_H

#include "pair.h"

#include <stdint.h>

#define LC_MSG       64
#define LC_MAX_PORTS 256

struct lc {
    struct pair *p;
    uint8_t *state;  /* per handle index, both stacks (see lifecycle.c) */
    uint8_t *got;    /* bytes of request/response seen, per handle */
    uint32_t nstate; /* entries per side */
    uint16_t port[LC_MAX_PORTS];
    int listener[LC_MAX_PORTS];
    unsigned nports;
    unsigned next_port;
    /* The lifecycle run. */
    uint64_t target;      /* connections to start */
    uint64_t started;     /* connections started */
    uint64_t client_done; /* client read the response and closed */
    uint64_t server_done; /* server saw the FIN and closed */
    uint64_t errors;
    /* Idle connections (hold mode): established and accepted, no data. */
    uint64_t idle_connected, idle_accepted;
    int *idle_socks; /* client handles of the idle connections */
    /* The clients connect over IPv6 (set after lc_init; the listeners
     * are on ::, so they take both families). */
    bool v6;
};

/* Sets up the pair (cfg[] may carry tunables; addr/tx/event are set here),
 * `nports` listening ports on the server. 0 or -1. */
int lc_init(struct lc *lc, struct pair *p, struct berth_config cfg[2],
            bool virtual_time, unsigned nports);
void lc_destroy(struct lc *lc);

/* Runs `n` lifecycles with `inflight` at once, to completion (every
 * server-side close done and the link empty), bounded by `max_ns` of wall
 * time. Returns the number completed on both sides. */
uint64_t lc_run(struct lc *lc, uint64_t n, unsigned inflight, uint64_t max_ns);

/* Opens `n` connections that stay established and idle (client handles in
 * lc->idle_socks), `batch` handshakes at a time. Returns how many are
 * established and accepted. */
uint64_t lc_hold(struct lc *lc, uint64_t n, unsigned batch);

/* berth-bench shards (shards.c): the lifecycle on N pinned threads, each
 * with its own pair and load. */
int cmd_shards(int argc, char **argv);

#endif
