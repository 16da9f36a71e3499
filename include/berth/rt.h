/* berth runtime: the only layer that performs I/O (docs/ARCHITECTURE.md). It
 * drives one core stack from a TUN device with an epoll loop and the monotonic
 * clock: reads packets and feeds berth_input(), calls berth_advance() at
 * berth_next_deadline(), writes what the stack transmits. Around that it
 * offers seeded impairment, pcap capture, a control socket (for `berth ss`
 * and `berth stat`) and clean shutdown on SIGINT/SIGTERM.
 *
 * Applications (the `berth` command's http, echo, cat...) use only this
 * header and berth.h: they get readiness through on_event, file descriptors
 * through berth_rt_watch_fd, and their own wake-ups through on_tick.
 */
#ifndef BERTH_RT_H
#define BERTH_RT_H

#include "berth/berth.h"
#include "berth/link.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Impairment, both directions, seeded and reproducible. The spec string is
 * "loss=5%,dup=1%,reorder=25%,delay=5ms,jitter=2ms,seed=N" (any subset,
 * separated by commas or blanks). Percentages read as tc netem's: the
 * number is always percent, with or without '%' ("loss=5" is 5 %,
 * "loss=0.05" is 0.05 %). Times need a unit: us, ms or s. "off" (or "none",
 * or "") is a clean link; "drop-all" a black hole. A reordered copy is
 * held back an extra max(delay, 1 ms) + jitter so later packets pass it;
 * jitter alone may reorder too, as netem's does. Each direction draws from
 * its own stream of the one seed.
 */
struct berth_impair {
    double loss;     /* probability a packet is dropped, 0..1 */
    double dup;      /* probability a packet is delivered twice */
    double reorder;  /* probability a copy is held back (a duplicate's
                        two copies draw each) */
    uint64_t delay;  /* one-way delay, us */
    uint64_t jitter; /* extra uniform delay in [0, jitter], us */
    uint64_t seed;   /* the generator's seed (default 1) */
    bool drop_all;   /* a black hole (control command `impair drop-all`) */
};
/* 0, or -1 with a one-line message in err. */
int berth_impair_parse(const char *spec, struct berth_impair *out, char *err,
                       size_t errlen);
/* Writes the spec form ("loss=5%,reorder=25%,delay=5ms,seed=1", or "off");
 * parsing it gives the same settings back. */
void berth_impair_format(const struct berth_impair *imp, char *buf,
                         size_t size);

/* ------------------------------------------------------------------------
 * Configuration.
 */
struct berth_rt_config {
    const char *tun_name; /* default "berth0"; created if it does not exist */
    uint32_t addr;        /* berth's IPv4 address, default 198.18.0.2 */
    uint32_t peer_addr;   /* the kernel side's address, default 198.18.0.1 */
    uint8_t peer_prefix;  /* default 24: the route to berth's subnet */
    /* IPv6 (RFC 8200) beside IPv4 on the same device: berth's address
     * (default 2001:db8:b::2, RFC 3849 documentation prefix) and the
     * kernel side's with its prefix (default 2001:db8:b::1/64). No
     * neighbour discovery: the TUN device is point to point. */
    uint8_t addr6[16], peer_addr6[16];
    uint8_t peer_prefix6;
    /* BERTH_RT_IPV6_AUTO (default): on when the kernel has IPv6 and the
     * prefix is free (another interface holding it leaves this instance
     * IPv4-only, with a note on the trace stream); ON: those are errors;
     * OFF: IPv4 only, IPv6 disabled on the device. */
    enum berth_rt_ipv6 {
        BERTH_RT_IPV6_AUTO,
        BERTH_RT_IPV6_ON,
        BERTH_RT_IPV6_OFF
    } ipv6;
    uint16_t mtu; /* default 1500 */
    /* NULL: no capture. Records what berth processed: received packets
     * after the receive impairment, sent packets before the transmit one. */
    const char *pcap_path;
    /* NULL: no event log. Else the file (created as the capture is) that
     * gets the stack's event log as JSON lines (docs/events.md), time 0
     * at berth_rt_create(); written out every second, complete once
     * berth_rt_destroy() returns. */
    const char *events_path;
    /* NULL: berth_rt_default_ctl_path(tun_name); missing directories are
     * created 0700, a stale socket file is replaced. */
    const char *ctl_path;
    struct berth_impair impair; /* all zero: a clean link */
    FILE *trace;             /* non-NULL: one line per state change and drop */
    uint64_t shutdown_grace; /* us connections get to close; default 2 s */
    /* Core tunables. addr, tx, event and trace are set by the runtime;
     * tso_max and tx_gso follow the device's offloads (no_offload);
     * seed and secret are filled from getrandom() unless fixed_random;
     * mss is lowered to mtu - 40 if larger. */
    struct berth_config stack;
    bool fixed_random; /* keep stack.seed/secret as given (tests, demos) */
    /* Leave SIGINT and SIGTERM alone (an unmodified program under the
     * POSIX layer owns its signals); stop with berth_rt_stop() instead. */
    bool no_signals;
    /* Offloads are on by default: IFF_VNET_HDR with TUNSETOFFLOAD (checksum,
     * TSO4/6, USO4/6 as the kernel allows), so reads may be 64 KiB
     * super-packets taken as one segment, checksums the kernel verified are
     * not checked again, and the stack sends TSO super-segments (its
     * tso_max and tx_gso are set by the runtime). true: a plain device, one
     * MSS per read and write, every checksum computed by berth. */
    bool no_offload;
    /* Forked workers (the POSIX layer's `berth run --workers N`): > 1 makes
     * this runtime shard 0 of that many over a multiqueue device with the
     * steering program (see "Shards" below), so that processes it forks
     * can become the other shards with berth_rt_fork_shard(). 0 or 1: a
     * runtime alone. */
    unsigned fork_shards;
    /* The link (--link): "tun:NAME" (NULL: tun:tun_name, the default),
     * "tap:NAME" (a TAP device, configured like the TUN one, berth a host
     * behind it), "packet:IFACE" (AF_PACKET with TPACKET_V3 rings on an
     * existing interface), "xdp:IFACE[:QUEUE]" (AF_XDP, copy mode, an XDP
     * program steering berth's address to the socket). On the last two
     * berth configures nothing on IFACE: its address is `addr`, its on-link
     * prefix peer_prefix, and no offloads. The control socket is named
     * after the link's NAME/IFACE (set tun_name to it). */
    const char *link;
    /* Ethernet links: the interface (berth_eth_config_init() defaults;
     * addr and prefix_len come from addr and peer_prefix; eth.gateway is
     * the default route). mac: berth's address if mac_set, else
     * 02:be:<addr> on a TAP and the interface's own on packet/xdp. */
    struct berth_eth_config eth;
    uint8_t mac[6];
    bool mac_set;
};
void berth_rt_config_init(struct berth_rt_config *cfg);
/* The neighbour settings (--neigh): "reachable=30s,retrans=1s,delay=5s,
 * gc=60s,max=256,queue=3,probes=3,announce=2,accept-unsolicited", any
 * subset, separated by commas or blanks, applied over *cfg. 0, or -1 with
 * a one-line message in err (and *cfg unchanged). */
int berth_rt_neigh_parse(const char *spec, struct berth_eth_config *cfg,
                         char *err, size_t errlen);
/* "DIR/<tun>.sock" with DIR from berth_rt_ctl_dir(). Writes into buf;
 * returns buf. */
char *berth_rt_default_ctl_path(const char *tun_name, char *buf, size_t size);
/* Where the control sockets of this network namespace live: "/run/berth"
 * as root, else "$XDG_RUNTIME_DIR/berth" or "/tmp/berth-<uid>"; in a
 * namespace other than PID 1's, ".../net-<inode of /proc/self/ns/net>"
 * below that, since TUN names (berth0) are per namespace. */
char *berth_rt_ctl_dir(char *buf, size_t size);
/* Whether an instance answers at the control socket path: a socket file
 * left by a killed instance (or by one in an earlier namespace whose inode
 * number this one reuses) does not. */
bool berth_rt_ctl_alive(const char *path);

struct berth_rt;

/* Opens (creating if needed) the TUN device, brings it up with the kernel
 * side's address and route, opens the pcap file and the control socket,
 * creates the stack. NULL with a one-line message in err on failure. */
struct berth_rt *berth_rt_create(const struct berth_rt_config *cfg, char *err,
                                 size_t errlen);
/* Closes everything; a TUN device the runtime created is deleted. */
void berth_rt_destroy(struct berth_rt *rt);

struct berth_stack *berth_rt_stack(struct berth_rt *rt);
/* Whether this instance speaks IPv6 (config ipv6 and what the kernel
 * allowed); then berth_rt_config's addr6 is the stack's address. */
bool berth_rt_ipv6(const struct berth_rt *rt);
/* CLOCK_MONOTONIC in us, read afresh: the stack's clock. */
uint64_t berth_rt_now(const struct berth_rt *rt);

/* Creates (mode 0644) PATH for writing, truncated or (append) appended
 * to, safely where others can write (/tmp), also as root: never through a
 * symlink (O_NOFOLLOW), and only a regular file with no other hard link.
 * The descriptor, or -1 with a one-line message in err. The capture file
 * is opened this way. */
int berth_rt_create_file(const char *path, bool append, char *err,
                         size_t errlen);

/* ------------------------------------------------------------------------
 * The event log's JSON writer (docs/events.md): set berth_config.log to
 * berth_events_hook and log_ctx to a writer. One writer per stack; lines
 * are buffered (berth_events_flush() writes them out).
 */
struct berth_events;
/* Creates PATH as berth_rt_create_file() does and writes the header line.
 * origin: the stack-clock time that is time 0 in the log. NULL with a
 * one-line message in err. */
struct berth_events *berth_events_open(const char *path, uint64_t origin,
                                       char *err, size_t errlen);
/* The same on a stream the caller keeps (not closed by
 * berth_events_close()). NULL: out of memory. */
struct berth_events *berth_events_stream(FILE *f, uint64_t origin);
/* The hook: ctx is the writer. */
void berth_events_hook(void *ctx, const struct berth_log_event *ev);
/* 0, or -errno of the first failed write. */
int berth_events_flush(struct berth_events *w);
/* Flushes, closes a file it opened, frees; 0 or -errno. NULL is ignored. */
int berth_events_close(struct berth_events *w);

/* ------------------------------------------------------------------------
 * The application.
 */
struct berth_rt_app {
    /* A socket's readiness changed (the stack's event hook). */
    void (*on_event)(void *ctx, int sock, uint32_t events);
    /* Called once per loop iteration after input and timers; return the
     * next time (us, berth_rt_now() clock) the app wants to be called
     * regardless of events, or UINT64_MAX. May be NULL. */
    uint64_t (*on_tick)(void *ctx, uint64_t now);
    /* Shutdown was requested (signal, berth_rt_stop, control `stop`): close
     * your sockets now; the loop then runs until every connection is gone
     * or shutdown_grace passes. May be NULL. */
    void (*on_stop)(void *ctx);
    void *ctx;
};
void berth_rt_set_app(struct berth_rt *rt, const struct berth_rt_app *app);

/* Watch a file descriptor (e.g. stdin): fn is called with the epoll
 * events (EPOLLIN...) when ready (level-triggered). At most 16 at once.
 * 0 or -errno: -EEXIST already watched, -ENOSPC 16 watched, or epoll's
 * error (-EPERM for a regular file). Unwatch before closing the fd. */
int berth_rt_watch_fd(struct berth_rt *rt, int fd, uint32_t events,
                      void (*fn)(void *ctx, int fd, uint32_t events),
                      void *ctx);
int berth_rt_unwatch_fd(struct berth_rt *rt, int fd);

/* Runs until shutdown completes. SIGINT and SIGTERM start a shutdown (a
 * second one ends it at once); they are blocked from berth_rt_create()
 * to berth_rt_destroy() and read through a signalfd. The shutdown is
 * complete when no connection is in a state other than LISTEN, TIME-WAIT
 * or CLOSED, or shutdown_grace has passed. Returns 0, or -errno if the
 * loop failed (e.g. the TUN device vanished). */
int berth_rt_run(struct berth_rt *rt);
/* Running the loop on its own thread (the POSIX layer, src/posix/): the
 * loop calls lock(ctx) when it starts, unlock(ctx) before it waits in
 * epoll and lock(ctx) after, and unlock(ctx) when it returns, so every call
 * it makes into the stack or the application's hooks holds the lock. Other
 * threads take the same lock around their calls into the stack, and wake
 * the loop through a watched fd when they changed its deadlines. Set
 * before berth_rt_run(); NULL functions: no lock (the default). */
void berth_rt_set_lock(struct berth_rt *rt, void (*lock)(void *ctx),
                       void (*unlock)(void *ctx), void *ctx);

/* Starts a graceful shutdown (callable from any callback). */
void berth_rt_stop(struct berth_rt *rt);
/* The signal (SIGINT, SIGTERM) that started the shutdown, or 0 when none
 * did: a command exits 128 + it after "interrupted", as a shell expects. */
int berth_rt_stop_signal(const struct berth_rt *rt);
/* Ends the loop at once, without the grace period (e.g. a client done). */
void berth_rt_exit(struct berth_rt *rt);

/* Replace the impairment at run time (the control socket's `impair`). */
void berth_rt_set_impair(struct berth_rt *rt, const struct berth_impair *imp);

/* Every packet in or out, for tools (the demo's ladder): dir 0 = received
 * from the kernel (after the receive impairment, just before
 * berth_input()), 1 = sent by berth (before the transmit impairment); the
 * packet is an IPv4 datagram. With offloads on (the default) it may be a
 * super-packet of up to 64 KiB, and a TCP checksum may be the partial
 * (pseudo-header) sum the kernel completes: a tool that must see segments
 * as the wire carries them sets no_offload, as `berth demo` does. */
void berth_rt_set_tap(struct berth_rt *rt,
                      void (*fn)(void *ctx, int dir, uint64_t now,
                                 const uint8_t *pkt, size_t len),
                      void *ctx);
/* The stack's trace events, after the runtime's own --trace printing. */
void berth_rt_set_trace(struct berth_rt *rt,
                        void (*fn)(void *ctx, const struct berth_trace *ev),
                        void *ctx);

/* Link counters (for `berth stat`). */
struct berth_rt_stats {
    uint64_t rx_packets, rx_bytes; /* read from the TUN device */
    uint64_t tx_packets, tx_bytes; /* written to the TUN device */
    uint64_t rx_dropped;           /* impairment */
    uint64_t tx_dropped; /* impairment, or the TUN refused the write */
    uint64_t duplicated, reordered;
    uint64_t loops; /* epoll iterations */
    /* Shards: packets read on a shard that does not own their flow
     * (dropped; the steering keeps this 0). */
    uint64_t steer_foreign;
    /* Packets whose payload was read straight into its connection's
     * receive buffer (not copied again), and reads towards a buffer that
     * turned out to be another packet (put together, then taken as usual). */
    uint64_t rx_in_place, rx_place_missed;
    /* Pure ACKs not written because the next one, queued right behind it
     * for the same io_uring_enter, acknowledged more (TUN with offloads). */
    uint64_t tx_acks_merged;
};
void berth_rt_stats(const struct berth_rt *rt, struct berth_rt_stats *out);

/* ------------------------------------------------------------------------
 * The control socket: a unix stream socket; a client writes one command
 * line and reads the answer until EOF. Commands: "ss" (table like
 * `ss -tan`), "ss -i" (with srtt, rto, windows, timers), "stat" (counters
 * like `netstat -s`, then drops by reason, then link counters), "impair
 * SPEC" / "impair off" / "impair drop-all", "stop". The client side:
 * sends `command` to the instance at ctl_path and copies the answer to out.
 * 0, or -errno (no such instance: -ENOENT / -ECONNREFUSED).
 */
int berth_rt_ctl_request(const char *ctl_path, const char *command, FILE *out);
/* The same text the control socket answers with, for an in-process stack
 * (the demo's fallback): */
void berth_rt_print_ss(struct berth_stack *s, bool info, uint64_t now,
                       FILE *out);
void berth_rt_print_stat(struct berth_stack *s, FILE *out);

/* `berth ss`'s query, in ss(8)'s words: "-i", "--json", "state NAME" (ss's
 * names: established, syn-sent, syn-recv, fin-wait-1, fin-wait-2,
 * time-wait, closed, close-wait, last-ack, closing, listening, and the
 * groups all, connected, synchronized; repeat to add), "sport :PORT",
 * "dport :PORT" (an "=" or "eq" between is allowed). The control command
 * is "ss" followed by these words. */
struct berth_rt_ss_query {
    bool info, json;
    uint32_t states;  /* bit (1 << enum berth_state); 0: every state */
    int sport, dport; /* -1: any */
};
/* 0, or -1 with a one-line message in err. */
int berth_rt_ss_parse(const char *args, struct berth_rt_ss_query *q, char *err,
                      size_t errlen);
/* The table (columns as wide as their widest cell), or with json a JSON
 * array of objects, one per matching entry, every berth_tcp_info field. */
void berth_rt_print_ss_filtered(struct berth_stack *s,
                                const struct berth_rt_ss_query *q, uint64_t now,
                                FILE *out);
/* The counters as JSON: {"tcp": {NAME: n...}, "drops": {REASON: n...}
 * without the closing brace, so the runtime can add "link". */
void berth_rt_print_stat_json(struct berth_stack *s, FILE *out);
/* The same over several stacks (a sharded runtime's): one table sorted
 * across all of them, the counters and memory added up. */
void berth_rt_print_ss_stacks(struct berth_stack *const *s, unsigned n,
                              const struct berth_rt_ss_query *q, uint64_t now,
                              FILE *out);
void berth_rt_print_stat_stacks(struct berth_stack *const *s, unsigned n,
                                FILE *out);
void berth_rt_print_stat_json_stacks(struct berth_stack *const *s, unsigned n,
                                     FILE *out);

/* ------------------------------------------------------------------------
 * Shards: every core. A group is N runtimes over one TUN device opened
 * with IFF_MULTI_QUEUE, one queue, one stack and one thread (pinned to its
 * own CPU) per shard; nothing mutable is shared on the packet paths. A
 * socket-filter eBPF program attached with TUNSETSTEERINGEBPF makes the
 * kernel put every packet of a flow on the queue of the shard that owns
 * it, by berth's own keyed hash of the 4-tuple; active opens pick a local
 * port that hashes to the opening shard, so no packet ever needs another
 * shard. Each shard checks what it reads (berth_rt_stats' steer_foreign).
 * Non-TCP and fragments go to shard 0. The application runs once per
 * shard (its own listeners on each, as with SO_REUSEPORT): set it with
 * berth_rt_set_app() on every berth_rt_group_shard(). Shard 0 owns the
 * control socket, which answers for the whole group (`ss` lists every
 * shard's entries, a listener's copies as one row; `stat` adds them up and
 * adds a line per shard), and the
 * signals: a stop reaches every shard. A capture is one file for all
 * shards (records taken under a lock: capture serializes the shards).
 * Impairment is per shard, each from its own streams of the one seed.
 * The budgets in cfg->stack are the whole group's: each shard gets its
 * share of mem_limit, buf_cache and syn_backlog (`stat` adds them up).
 */
struct berth_rt_group;
/* n shards (1 to 64); 1 is exactly berth_rt_create(). NULL with a one-line
 * message in err; errno EOPNOTSUPP when the kernel refused IFF_MULTI_QUEUE
 * or the steering program (then run one shard: nothing else keeps flows
 * on their shard). */
struct berth_rt_group *berth_rt_group_create(const struct berth_rt_config *cfg,
                                             unsigned n, char *err,
                                             size_t errlen);
unsigned berth_rt_group_size(const struct berth_rt_group *g);
struct berth_rt *berth_rt_group_shard(struct berth_rt_group *g, unsigned i);
/* Runs every shard, shard 0 on the calling thread, the others on threads
 * of their own; each is pinned to CPU i modulo the online CPUs. Returns
 * when all have finished: 0, or the first shard's -errno. */
int berth_rt_group_run(struct berth_rt_group *g);
void berth_rt_group_destroy(struct berth_rt_group *g);
/* In a fork()ed child of a process whose runtime was created with
 * fork_shards = n: the inherited runtime becomes shard i (1 to n-1) on its
 * own: a queue of its own on the device (the inherited one stays shard
 * 0's), a new epoll set, no control socket, no capture, no signals; every
 * watched fd is forgotten (watch yours again). The stack and what it
 * holds (listeners) are the child's copy. Shard 0 is the runtime as
 * inherited, in the first child. The steering takes the hash modulo the
 * queues attached, so all n shards must be up for every flow to land on
 * its owner. 0, or -1 with a one-line message in err. */
int berth_rt_fork_shard(struct berth_rt *rt, unsigned i, char *err,
                        size_t errlen);
/* Which shard a runtime is (0 alone) and of how many (1 alone). */
unsigned berth_rt_shard_index(const struct berth_rt *rt);
unsigned berth_rt_shard_count(const struct berth_rt *rt);

#ifdef __cplusplus
}
#endif
#endif
