/* berth command: the ladder diagram of one TCP connection for `berth demo`
 * — every segment as an arrow between two timelines, every state change
 * and application call beside its side. It follows the first connection
 * that opens (the first SYN from the left side) and ignores the rest.
 *
 * Left is the client (the kernel's curl, or a berth stack over the
 * in-memory link), right is berth's server. When the left side is the
 * kernel, its states are inferred from the segments it sends and receives
 * (RFC 9293's state diagram), and printed in parentheses. */
#ifndef BERTH_CMD_LADDER_H
#define BERTH_CMD_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"

struct ladder;

struct ladder *ladder_create(bool left_inferred);
void ladder_destroy(struct ladder *ld);

/* A packet sent by side `from` (0 left, 1 right) at `now`; `lost` when the
 * link dropped it. Anything but TCP on the ladder's connection is ignored. */
void ladder_packet(struct ladder *ld, int from, uint64_t now,
                   const uint8_t *pkt, size_t len, bool lost);
/* A trace event from side's stack. */
void ladder_trace(struct ladder *ld, int side, const struct berth_trace *ev);
/* An application call ("accept()") on side's socket with these endpoints;
 * local.port 0 means "not known yet" (before connect picked a port). */
void ladder_app(struct ladder *ld, int side, uint64_t now,
                struct berth_endpoint local, struct berth_endpoint remote,
                const char *what);

/* The connection's endpoints once its SYN was seen. */
bool ladder_endpoints(const struct ladder *ld, struct berth_endpoint *client,
                      struct berth_endpoint *server);
/* The connection is over on side's stack: CLOSED after it opened. */
bool ladder_closed(const struct ladder *ld, int side);

/* Prints the column heads and every row (rows are kept until now, because
 * the heads name the client's port). */
void ladder_print(struct ladder *ld, FILE *out, const char *left_title,
                  const char *right_title);

/* A ladder per connection (at most LADDERS_MAX), so the demo can draw the
 * one that shows most: every event goes to all of them, each keeps its own
 * connection's, and a spare waits for the next new SYN. */
#define LADDERS_MAX 8
struct ladders;
struct ladders *ladders_create(bool left_inferred);
void ladders_destroy(struct ladders *ls);
void ladders_packet(struct ladders *ls, int from, uint64_t now,
                    const uint8_t *pkt, size_t len, bool lost);
void ladders_trace(struct ladders *ls, int side, const struct berth_trace *ev);
void ladders_app(struct ladders *ls, int side, uint64_t now,
                 struct berth_endpoint local, struct berth_endpoint remote,
                 const char *what);
/* The first connection's ladder (whose end the demo waits for). */
struct ladder *ladders_first(const struct ladders *ls);
struct ladder *ladders_get(const struct ladders *ls, int i);
/* Which to draw: the first connection that shows a lost segment and its
 * retransmission, else the first with any retransmission, else the first
 * (*why NULL). *count: the connections seen. */
int ladders_pick(const struct ladders *ls, int *count, const char **why);

#endif
