/* berth command: what `berth cat` (cat.c, TCP) and `berth cat -u` (udp.c,
 * datagrams) are told on the command line, read by one parser. */
#ifndef BERTH_CMD_CAT_H
#define BERTH_CMD_CAT_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

struct cat_args {
    bool udp;                     /* -u, --udp: datagrams (udp.c) */
    bool listen_mode, verbose;    /* --listen PORT; -v */
    uint16_t port;                /* --listen's PORT */
    struct berth_endpoint target; /* HOST PORT (not with --listen) */
    uint64_t connect_timeout;     /* TCP: us; 0: the SYN retries decide */
    uint64_t wait;                /* UDP: us of quiet after stdin's end (1 s) */
};

/* Reads argv into *a (udp decides which mode's options are taken) and the
 * common options into *c; --help prints the mode's usage and exits 0. 0, or
 * -1 after a one-line usage error. */
int cat_args(struct common *c, struct cat_args *a, int argc, char **argv);

/* `berth cat -u` once its arguments are read (udp.c): the exit code. */
int cat_udp(struct common *c, const struct cat_args *a);

#endif
