/* berth command: what every subcommand shares — the options that configure a
 * runtime (TUN, addresses, capture, impairment, engine tunables), value
 * parsers (times, sizes, addresses), socket options applied to listeners and
 * connections, and one-line error reporting. */
#ifndef BERTH_CMD_COMMON_H
#define BERTH_CMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"
#include "berth/rt.h"

/* Exit codes: 0 success, 1 failure at run time, 2 usage error. */
#define EXIT_USAGE 2

/* Per-socket options with no stack-wide default in struct berth_config. */
struct sockopts {
    bool nodelay;
    bool keepalive; /* --keepalive given: probes on, with its times */
};

/* Everything the common options set. */
struct common {
    const char *prog; /* "berth http", for messages */
    struct berth_rt_config rt;
    struct sockopts so;
    bool mss_set; /* --mss given: do not derive it from --mtu */
    bool msl_set;
    bool trace;
    bool ipv6_set, no_ipv6; /* --addr6/--peer6 given; --no-ipv6 */
    char link_name[16];     /* --link's NAME/IFACE: the control socket's name */
};

/* Defaults: the runtime's and the engine's documented ones. */
void common_init(struct common *c, const char *prog);

/* Tries argv[*i] as a common option. Returns 1 if it was one (and consumed
 * its value, advancing *i), 0 if it is not a common option, -1 after
 * printing a one-line usage error. */
int common_option(struct common *c, int argc, char **argv, int *i);

/* The last step of a command's option loop: r is what the command's own
 * options made of argv[*i] (1 taken, 0 not one of them, -1 a usage error
 * printed). One not taken is tried as a common option, else it is an
 * unknown option. Returns 0 to go on, or -1 after a usage error. */
int common_option_last(struct common *c, int r, int argc, char **argv, int *i);

/* After parsing: checks that --addr lies in --peer's subnet, then the
 * derived settings (MSS from MTU, the trace stream). 0, or -1 after a
 * usage error. */
int common_finish(struct common *c);

/* The help text for the common options; _except leaves out the options
 * named in skip (NULL-terminated) that the command documents itself. */
void common_usage(FILE *f);
void common_usage_except(FILE *f, const char *const *skip);

/* `--name VALUE` or `--name=VALUE`: 1 with *val set, 0 if argv[*i] is not
 * that option, -1 (message printed) if the value is missing. */
int opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
              const char **val);

/* Value parsers: 0, or -1 after printing "PROG: bad --OPT value 'X': why". */
int parse_time(const char *prog, const char *opt, const char *s, uint64_t *out);
int parse_size(const char *prog, const char *opt, const char *s, uint64_t min,
               uint64_t max, uint64_t *out);
int parse_uint(const char *prog, const char *opt, const char *s, uint64_t min,
               uint64_t max, uint64_t *out);
int parse_ipv4(const char *s, uint32_t *out); /* 0 or -1, no message */
int parse_port(const char *prog, const char *s, uint16_t *out);

/* "198.18.0.2" into buf; returns buf (at least 16 bytes). */
char *ip_str(uint32_t addr, char *buf, size_t size);
/* "198.18.0.2:80" */
char *ep_str(struct berth_endpoint ep, char *buf, size_t size);
/* An IPv4 or IPv6 address ("198.18.0.1", "2001:db8:b::1", "[::1]") into
 * out's family and address (its port is kept); 0 or -1. */
int parse_addr(const char *s, struct berth_endpoint *out);
/* An IPv4-mapped IPv6 endpoint as plain IPv4 (for logs); others as is. */
struct berth_endpoint endpoint_unmap(struct berth_endpoint ep);
/* A table key for a peer's address (IPv4 the address, IPv6 a hash). */
int64_t endpoint_key(const struct berth_endpoint *ep);
/* Binds to the any address: IPv6's (both families) when the stack has
 * IPv6, else IPv4's. 0 or a berth_errno. */
int bind_any(struct berth_stack *s, int sock, uint16_t port);
/* "1.5 s", "200 ms", "40 us" */
char *time_str(uint64_t us, char *buf, size_t size);

/* Usage error: "PROG: MESSAGE (see 'PROG --help')" on stderr. */
void usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Run-time error: "PROG: MESSAGE" on stderr. */
void error_line(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Applies the per-socket options; returns 0 or a berth_errno. */
int sockopts_apply(struct berth_stack *s, int sock, const struct sockopts *so);

/* Creates the runtime; prints the runtime's one-line error and returns NULL
 * on failure. */
struct berth_rt *common_rt_create(const struct common *c);

/* `--threads`' default: the online CPUs (at most 64). */
unsigned common_default_threads(void);
/* A group of n shards (rt.h); when the kernel refuses n > 1 (no
 * multiqueue TUN or no eBPF steering) it says why on stderr and makes one
 * shard. NULL after printing the error. */
struct berth_rt_group *common_rt_group_create(const struct common *c,
                                              unsigned n);

/* The one-line "listening on" message. */
/* "listening on 198.18.0.2:80 (tun ..., peer ...)", with the IPv6 address
 * when rt (may be NULL) speaks IPv6. */
void print_listening(const struct common *c, const struct berth_rt *rt,
                     const char *what, uint16_t port);

#endif
