/* berth command: `berth demo`, shared between its two ways of telling the
 * story — the kernel's curl over a TUN device in a throwaway network
 * namespace (demo.c), or two berth stacks over the in-memory link in
 * virtual time (demo_mem.c). */
#ifndef BERTH_CMD_DEMO_H
#define BERTH_CMD_DEMO_H

#include <stdio.h>

#include "common.h"

#define DEMO_MAX_REQ 4

struct demo_opts {
    struct common c;
    bool memlink;     /* --memlink: skip the TUN attempt */
    const char *pcap; /* capture file, or NULL: none */
    /* The berth server's event log (docs/events.md), or NULL: none.
     * Default: beside the capture, FILE.events for FILE.pcap. */
    const char *events;
    /* The run's private directory (mkdtemp, 0700, under $TMPDIR or /tmp):
     * the default capture and the TUN story's control socket live there,
     * so nothing is created where another user could plant a symlink.
     * Empty when --pcap and --ctl name both. */
    char dir[256];
    char pcap_buf[300];
    char events_buf[310];
};

/* What one client run (one curl command, or the in-memory client's
 * equivalent) got. */
struct demo_result {
    const char *command; /* "curl --http1.0 http://198.18.0.2/" */
    int n;               /* responses */
    int status[DEMO_MAX_REQ];
    uint64_t size[DEMO_MAX_REQ];
    int connections; /* connections it opened */
    char error[160]; /* non-empty if it failed */
};

/* The paths the keep-alive run asks for, after the short one's "/". */
extern const char *const DEMO_PATHS[];
#define DEMO_NPATHS 3

int demo_memlink(struct demo_opts *o, const char *why);
/* 0 or 1 when it ran; -1 when TUN is not possible here (a line saying why
 * in why[]): the caller falls back to the in-memory link. */
int demo_tun(struct demo_opts *o, char *why, size_t whylen);

/* Shared report pieces. */
void demo_print_results(FILE *out, const char *who, const struct demo_result *r,
                        int n);
void demo_print_counters(FILE *out, struct berth_stack *server,
                         struct berth_stack *client);
struct ladders;
/* The ladder worth drawing (ladders_pick), with a line saying which
 * connection it is and why when there were several. */
void demo_print_ladder(FILE *out, struct ladders *ls, const char *left,
                       const char *right);
/* "Event log: PATH" and how to plot it, when there is one. */
void demo_print_events(FILE *out, const struct demo_opts *o);
/* The same ladder as an SVG figure beside the capture (demo-ladder.svg for
 * demo.pcap), and a line saying where. Nothing without a capture. */
void demo_write_figure(FILE *out, const struct demo_opts *o, struct ladders *ls,
                       const char *left, const char *right);
/* The UDP scene after the TCP ladder (demo_udp.c): an echo exchange and a
 * port unreachable, two stacks over the in-memory link, drawn alike. */
void demo_print_udp(FILE *out);
/* What to try next: berth http, berth ss -i, the capture, --impair. */
void demo_print_next(FILE *out, const struct demo_opts *o);

#endif
