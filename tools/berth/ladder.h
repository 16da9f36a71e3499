/* berth command: the ladder diagram of one TCP connection — every segment
 * as an arrow between two timelines, every state change and application
 * call beside its side — for `berth ladder FILE.pcap` (any capture) and
 * for `berth demo` (berth's own connection, live). One model, two
 * renderings: text (ladder_print) and a textbook SVG figure
 * (ladder_print_svg, ladder_svg.c).
 *
 * Left is the client (the side whose SYN opened the connection), right the
 * server. A side whose stack is not berth's has its states inferred from
 * the segments it sends and receives (RFC 9293's state diagram: the rules
 * are in `berth-ladder(1)`), printed in parentheses. */
#ifndef BERTH_CMD_LADDER_H
#define BERTH_CMD_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"
#include "capture.h"

struct ladder;

struct ladder_opts {
    bool infer[2]; /* infer side i's states from the segments */
    bool explain;  /* annotate segments and transitions with their rule */
    /* µs: a segment not contradicted by the receiver's next segment for
     * this long is taken as received (0: 2 ms). */
    uint64_t grace;
    /* The capture was taken at side i: what reaches it is received when
     * captured (no grace). */
    bool near[2];
};

struct ladder *ladder_new(const struct ladder_opts *o);
/* The demo's: only the left side inferred (or none). */
struct ladder *ladder_create(bool left_inferred);
void ladder_destroy(struct ladder *ld);

/* Fixes the connection before its first segment (a capture's reader knows
 * it); otherwise the first SYN from the left fixes it. */
void ladder_lock(struct ladder *ld, const struct cap_addr *cli,
                 const struct cap_addr *srv);
/* A segment sent by side `from` (0 left, 1 right) at `now`, with plen of
 * its payload bytes; `lost` when it never reached the other side. */
void ladder_segment(struct ladder *ld, int from, uint64_t now,
                    const struct berth_segment *seg, const uint8_t *payload,
                    uint32_t plen, bool lost);
/* A state side was in at now, known (an event log) or assumed (inferred:
 * drawn in parentheses, and the inference continues from it); note, if not
 * NULL, is drawn beside it. */
void ladder_state(struct ladder *ld, int side, uint64_t now,
                  enum berth_state st, bool inferred, const char *note);

/* The rules the inference follows, one a line, as --explain quotes them
 * (`berth ladder --rules`). */
void ladder_print_rules(FILE *out);

/* Live input from the demo: an IPv4 packet sent by side `from`; anything
 * but TCP on the ladder's connection is ignored. */
void ladder_packet(struct ladder *ld, int from, uint64_t now,
                   const uint8_t *pkt, size_t len, bool lost);
/* A trace event from side's stack. */
void ladder_trace(struct ladder *ld, int side, const struct berth_trace *ev);
/* An application call ("accept()") on side's socket with these endpoints;
 * local.port 0 means "not known yet" (before connect picked a port). */
void ladder_app(struct ladder *ld, int side, uint64_t now,
                struct berth_endpoint local, struct berth_endpoint remote,
                const char *what);

/* A call beside side's timeline with no connection to match (a datagram
 * socket's bind(), sendto()). */
void ladder_call(struct ladder *ld, int side, uint64_t now, const char *what);
/* A UDP datagram (RFC 768), or the ICMP or ICMPv6 unreachable that answers
 * one, sent by side `from` between the hosts ladder_lock named (any
 * ports): an arrow with its ports and length, its payload quoted beneath
 * (an error: the datagram it quotes). Anything else is ignored. */
void ladder_datagram(struct ladder *ld, int from, uint64_t now,
                     const uint8_t *pkt, size_t len, bool lost);

/* The connection's endpoints once known. */
bool ladder_endpoints(const struct ladder *ld, struct cap_addr *client,
                      struct cap_addr *server);
/* The connection is over on side's stack: CLOSED after it opened. */
bool ladder_closed(const struct ladder *ld, int side);
/* Segments drawn, and how many were marked lost. */
size_t ladder_segments(const struct ladder *ld, size_t *lost);

/* The text ladder: column heads, then every row. */
void ladder_print(struct ladder *ld, FILE *out, const char *left_title,
                  const char *right_title);
/* The same as an SVG figure; runs of plain data and ACK segments longer
 * than a few are elided ("... N segments ...") unless full. */
void ladder_print_svg(struct ladder *ld, FILE *out, const char *left_title,
                      const char *right_title, bool full);

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
