/* Internals shared by the runtime's files (src/rt/): the impairment model,
 * the pcap writer, the control-socket server, the TUN device and the
 * runtime object itself. Each piece works without the event loop, so the
 * unit tests drive them directly with a virtual clock and no TUN. */
#ifndef BERTH_RT_IMPL_H
#define BERTH_RT_IMPL_H

#include "berth/rt.h"
#include "rt/impair_model.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#define RT_US_PER_S  UINT64_C(1000000)
#define RT_US_PER_MS UINT64_C(1000)

/* ------------------------------------------------------------------------
 * The runtime's impairment (impair.c): one per direction, the shared model
 * (impair_model.h) with its own delay queue. A packet submitted at `now` is
 * dropped, passed on at once, or copied into a bounded time-ordered queue
 * that the caller drains when rt_impair_next_due() has come. Time is a
 * parameter: nothing here reads a clock.
 */
typedef void (*rt_emit_fn)(void *ctx, const uint8_t *pkt, size_t len);

struct rt_impair_stats {
    uint64_t lost;       /* random loss and drop-all */
    uint64_t duplicated; /* extra copies made */
    uint64_t reordered;  /* packets held back to let later ones pass */
    uint64_t queue_full; /* copies dropped: the queue was at its bound
                            (or the model's bottleneck FIFO) */
    uint64_t corrupted;  /* copies with a bit flipped */
};

#define RT_IMPAIR_QUEUE_LIMIT 65536u

struct rt_impair;
/* NULL when out of memory. Starts clean (everything passes at once). */
struct rt_impair *rt_impair_create(size_t queue_limit);
void rt_impair_destroy(struct rt_impair *m);
/* New settings and a reseeded generator; `stream` separates the two
 * directions' random choices under one seed. Queued packets keep their
 * delivery times. */
void rt_impair_configure(struct rt_impair *m, const struct berth_impair *imp,
                         uint64_t stream);
/* The same with the model's full settings (every stage, as the memlink
 * has them), which the spec string does not reach. */
void rt_impair_configure_model(struct rt_impair *m,
                               const struct impair_params *p, uint64_t seed,
                               uint64_t stream);
/* The spec's settings in the model's terms. */
void rt_impair_params(const struct berth_impair *imp, struct impair_params *p);
/* Decides the packet's fate; emit() gets zero, one or two copies now, or
 * later from rt_impair_drain(). With a clean configuration the packet goes
 * straight to emit() without a copy. */
void rt_impair_submit(struct rt_impair *m, const uint8_t *pkt, size_t len,
                      uint64_t now, rt_emit_fn emit, void *ctx);
/* The earliest queued delivery time, UINT64_MAX when the queue is empty. */
uint64_t rt_impair_next_due(const struct rt_impair *m);
/* False with a clean configuration: submit emits at once, uncopied. */
bool rt_impair_active(const struct rt_impair *m);
/* Emits every queued copy due at or before `now`, in time order (ties in
 * submission order). Returns how many. */
size_t rt_impair_drain(struct rt_impair *m, uint64_t now, rt_emit_fn emit,
                       void *ctx);
size_t rt_impair_queued(const struct rt_impair *m);
void rt_impair_get_stats(const struct rt_impair *m,
                         struct rt_impair_stats *out);

/* ------------------------------------------------------------------------
 * The pcap writer (pcap.c): classic pcap, LINKTYPE_RAW (IPv4 datagrams).
 */
struct rt_pcap;
/* Creates/truncates `path` and writes the file header. NULL with a
 * one-line message in err. */
struct rt_pcap *rt_pcap_open(const char *path, char *err, size_t errlen);
/* The same with another link type (RT_PCAP_LINKTYPE_ETHERNET: frames). */
#define RT_PCAP_LINKTYPE_ETHERNET 1u
struct rt_pcap *rt_pcap_open_linktype(const char *path, uint32_t linktype,
                                      char *err, size_t errlen);
/* Appends one record stamped with CLOCK_REALTIME now (buffered). */
void rt_pcap_write(struct rt_pcap *p, const uint8_t *pkt, size_t len);
void rt_pcap_write_at(struct rt_pcap *p, const struct timespec *ts,
                      const uint8_t *pkt, size_t len);
/* Pushes buffered records to the file. 0, or -errno of the first write
 * error (after which the capture stops, so a full disk is reported once). */
int rt_pcap_flush(struct rt_pcap *p);
/* Flushes and closes; returns rt_pcap_flush()'s result. */
int rt_pcap_close(struct rt_pcap *p);
/* In a fork()ed child that does not capture: drops the buffered records
 * (the parent's, which its capturing process writes) and closes. */
void rt_pcap_forget(struct rt_pcap *p);

/* ------------------------------------------------------------------------
 * The control-socket server (ctl.c). It owns an epoll set of its own (the
 * listening socket and its clients): the loop watches rt_ctl_fd() and calls
 * rt_ctl_poll() when it is readable or rt_ctl_next_deadline() has come.
 * Each client writes one command line; handler() prints the answer into a
 * memory stream, which is sent without blocking, then the client is closed.
 */
typedef void (*rt_ctl_handler)(void *ctx, const char *line, FILE *out);

struct rt_ctl;
/* Makes the parent directory (0700), removes a stale socket file, listens.
 * NULL with a one-line message in err (also when a live instance answers
 * at that path). */
struct rt_ctl *rt_ctl_open(const char *path, char *err, size_t errlen);
int rt_ctl_fd(const struct rt_ctl *c);
/* Accepts, reads, answers and expires clients; never blocks. */
void rt_ctl_poll(struct rt_ctl *c, uint64_t now, rt_ctl_handler handler,
                 void *ctx);
/* When a silent client must be dropped; UINT64_MAX with none. */
uint64_t rt_ctl_next_deadline(const struct rt_ctl *c);
/* Closes every client and the socket, and removes the socket file. */
void rt_ctl_close(struct rt_ctl *c);
/* In a fork()ed child that is not the socket's owner: closes this
 * process's descriptors only (the file stays, the owner answers). */
void rt_ctl_forget(struct rt_ctl *c);

/* ------------------------------------------------------------------------
 * The TUN device (tun.c).
 */
/* What the device does for us (all false: a plain device). */
struct rt_tun_offload {
    bool vnet;       /* IFF_VNET_HDR: a virtio-net header before every packet */
    bool csum;       /* TUN_F_CSUM: reads may carry a partial checksum */
    bool tso4, tso6; /* TUN_F_TSO*: reads may be super-packets */
    bool uso;        /* TUN_F_USO4/6 (for UDP, later) */
};
#define RT_VNET_HDR_LEN 10u /* struct virtio_net_hdr */
#define RT_TXCOPY_LEN   (65536u + RT_VNET_HDR_LEN)

/* Opens (or creates) the IFF_TUN|IFF_NO_PI device `name`, non-blocking,
 * with IFF_VNET_HDR and the largest TUNSETOFFLOAD set the kernel takes
 * when `offload` (falling back to fewer offloads, then to no header);
 * *off says what was obtained. *created tells whether it did not exist
 * before (then it vanishes when the fd closes). The fd, or -1 with a
 * one-line message in err. */
int rt_tun_open(const char *name, bool offload, struct rt_tun_offload *off,
                bool *created, char *err, size_t errlen);
/* The same as one queue of a multiqueue device (IFF_MULTI_QUEUE): the
 * first call creates it, each later one attaches another queue; every
 * queue must ask for the same header (offload as the first obtained). */
int rt_tun_open_queue(const char *name, bool offload,
                      struct rt_tun_offload *off, bool *created, char *err,
                      size_t errlen);
/* "vnet-hdr csum tso4 tso6 uso4 uso6", or "off (...)". */
void rt_tun_offload_describe(const struct rt_tun_offload *off, char *buf,
                             size_t size);
/* A read from a vnet device (header first): a super-packet's IPv4 total
 * length and header checksum set to its real length. -1: malformed or of
 * a kind berth cannot take (drop). */
int rt_tun_rx_prepare(uint8_t *buf, size_t len);
/* The same for a read of len bytes of which only the first avail (the
 * virtio-net header and the IP header at least) are at buf: the IP header
 * alone is set. */
int rt_tun_rx_prepare_hdr(uint8_t *buf, size_t avail, size_t len);
/* The BERTH_IN_* flags the core gets for a read with this header. */
uint32_t rt_tun_rx_flags(const uint8_t *hdr);

/* Reading from the device, in place where it can be (berth_rx_place): the
 * flow of the last data packet read is expected again, so the next read
 * puts its virtio-net, IP and TCP headers (that flow's sizes) into hdr and
 * its payload straight into the flow's receive buffer, with `buf` behind
 * for what does not fit there. A packet that is that flow's next data goes
 * to the stack without its payload being copied; any other is put
 * together in buf (whole, as a plain read gives it). */
#define RT_RX_HDR_MAX (RT_VNET_HDR_LEN + 120u) /* + IPv4 and TCP headers */
struct rt_tun_rx {
    int fd;
    uint8_t *buf; /* cap bytes: a whole read (virtio-net header first) */
    size_t cap;
    uint64_t (*clock)(void);             /* stamps each read (rt_clock_now) */
    bool flow_valid;                     /* a data packet was seen */
    struct berth_endpoint local, remote; /* its flow, our side first */
    uint16_t flow_hdr_len;               /* its IP + TCP header bytes */
    uint8_t hdr[RT_RX_HDR_MAX];
    uint64_t placed; /* packets taken in place */
    uint64_t missed; /* read towards a buffer, then put together */
};
void rt_tun_rx_init(struct rt_tun_rx *rx, int fd, uint8_t *buf, size_t cap,
                    uint64_t (*clock)(void));
/* One read with the vnet header (the device's offloads on): its length, 0
 * or -1 with errno as read(). place: reading in place is allowed (nobody
 * needs the packet whole: no capture, no receive impairment). *now: the
 * read's time. *taken: the stack has had it (berth_input_placed); else
 * the packet is in buf. */
ssize_t rt_tun_read(struct rt_tun_rx *rx, struct berth_stack *st, bool place,
                    uint64_t *now, bool *taken);
/* Whether the packet pkt (len bytes, an IP datagram as the stack sent it)
 * makes the one queued just before it, old, needless: both pure ACKs (the
 * ACK flag alone, no payload, no option but timestamps) of one connection
 * with the same sequence number, pkt's acknowledging more. The runtime
 * then writes pkt in old's place (loop.c). */
bool rt_tun_ack_supersedes(const uint8_t *old, size_t old_len,
                           const uint8_t *pkt, size_t len);
/* The header to write before the IPv4 datagram pkt: zero for a complete
 * packet (seg_size 0); for a TSO super-segment GSO_TCPV4 with seg_size and
 * NEEDS_CSUM at the TCP checksum (which holds the pseudo-header sum). */
void rt_tun_tx_header(uint8_t hdr[RT_VNET_HDR_LEN], const uint8_t *pkt,
                      size_t len, uint16_t seg_size);
/* Kernel side: MTU, address peer_addr/prefix (which adds the route to the
 * subnet through the device), up. 0, or -1 with a message in err. */
/* ipv6: the device's IPv6 is enabled without router solicitations, DAD
 * or a link-local address (point to point: nothing to discover, so the
 * kernel sends nothing of its own into it); else disabled. */
int rt_tun_configure(const char *name, uint32_t peer_addr, uint8_t prefix,
                     uint16_t mtu, bool ipv6, char *err, size_t errlen);
/* Whether IPv6 can go on the device: 0; -1 the kernel has none (or it is
 * disabled for all devices); 1 another interface holds the prefix. The
 * message in err. */
int rt_tun_check6(const char *name, const uint8_t peer_addr6[16],
                  uint8_t prefix, char *err, size_t errlen);
/* Kernel side's IPv6 address peer_addr6/prefix (after rt_tun_configure
 * with ipv6), whose prefix route reaches berth. -1 with the message. */
int rt_tun_configure6(const char *name, const uint8_t peer_addr6[16],
                      uint8_t prefix, char *err, size_t errlen);

/* ------------------------------------------------------------------------
 * Batched small writes (uring.c, through liburing): packets of up to
 * RT_URING_SLOT bytes are copied into slots and written together by one
 * io_uring_enter(), one write each. Unused (ring_fd -1) where the kernel
 * has no io_uring or berth was built without liburing (uring_none.c).
 */
#define RT_URING_ENTRIES 64u
#define RT_URING_SLOT    128u /* virtio-net header + an ACK with options */
struct rt_uring {
    int ring_fd, fd; /* the io_uring's descriptor (-1: unused), the target */
    unsigned queued, inflight;
    void *ring;     /* struct io_uring (liburing.h stays out of here) */
    uint8_t *slots; /* RT_URING_ENTRIES * RT_URING_SLOT */
    uint16_t lens[RT_URING_ENTRIES]; /* the queued packets' lengths */
};
struct rt_uring_result {
    uint64_t packets, bytes, errors; /* written whole; refused or short */
    bool unsupported; /* a write failed as one the kernel cannot make */
};
/* 0, or -errno (then the ring is unused: write directly). */
int rt_uring_init(struct rt_uring *u, int fd);
void rt_uring_destroy(struct rt_uring *u);
/* The next slot for a packet of len bytes, or NULL: no ring, too large,
 * or full (flush first). Fill it, then rt_uring_queue(len). */
uint8_t *rt_uring_slot(struct rt_uring *u, size_t len);
void rt_uring_queue(struct rt_uring *u, size_t len);
/* The packet queued last (its length in *len), or NULL when nothing is
 * queued: the runtime may write another packet of the same length over it
 * (a newer ACK of the same connection, loop.c). */
uint8_t *rt_uring_last(struct rt_uring *u, size_t *len);
/* Writes everything queued and waits until it is written: 0, or -errno
 * (then stop using the ring). */
int rt_uring_flush(struct rt_uring *u, struct rt_uring_result *res);
/* loop.c: writes what the runtime's queue holds (before any direct write
 * to the device, so packets leave in the order the stack sent them). */
struct berth_rt;
void rt_tx_flush(struct berth_rt *rt);

/* ------------------------------------------------------------------------
 * The runtime object, shared by runtime.c (create, destroy, control
 * commands) and loop.c (the event loop and the packet paths).
 */
#define RT_MAX_WATCH 16
#define RT_RX_BATCH  64 /* TUN reads per wake-up before timers run */
#define RT_RX_SKIPS  8  /* full batches in a row without epoll_wait, at most */
#define RT_TX_BATCH  16 /* small packets queued before they are written */

/* epoll tags of the loop's descriptors; a watched fd's tag also carries
 * its slot (bits 8-15) and a generation (bits 32-63) so that an event for
 * a slot reused within one epoll batch is recognised as stale. */
#define RT_TAG_TUN    1u
#define RT_TAG_SIGNAL 2u
#define RT_TAG_CTL    3u
#define RT_TAG_WATCH  4u
struct rt_watch {
    int fd; /* -1: free slot */
    uint32_t gen;
    void (*fn)(void *ctx, int fd, uint32_t events);
    void *ctx;
};

struct berth_rt {
    struct berth_rt_config cfg; /* string fields point at the copies below */
    char *tun_name, *pcap_path, *ctl_path;
    struct berth_stack *stack;
    int epfd, tunfd, sigfd;
    bool tun_created;
    bool ipv6; /* IPv6 is on: the device has it, the stack has addr6 */
    bool sigmask_saved;
    sigset_t old_sigmask;

    struct berth_impair impair;  /* current settings, for `stat` */
    struct rt_impair *rx_imp;    /* kernel -> berth */
    struct rt_impair *tx_imp;    /* berth -> kernel */
    struct rt_pcap *pcap;        /* NULL: no capture */
    struct berth_events *events; /* NULL: no event log (--events) */
    bool events_borrowed;        /* shard 0's log: not ours to close */
    uint64_t events_flushed;     /* last flush, monotonic us */
    char *events_path;
    bool pcap_dirty;       /* records written since the flush */
    uint64_t pcap_flushed; /* last flush, monotonic us */
    struct rt_ctl *ctl;

    struct berth_rt_app app;
    void (*tap)(void *ctx, int dir, uint64_t now, const uint8_t *pkt,
                size_t len);
    void *tap_ctx;
    void (*trace_fn)(void *ctx, const struct berth_trace *ev);
    void *trace_ctx;
    struct rt_watch watch[RT_MAX_WATCH];
    uint32_t watch_gen;

    struct berth_rt_stats stats; /* rx/tx and loops; impairment counts
                                    are merged in by berth_rt_stats() */
    uint64_t tun_write_errors;
    uint64_t t0;       /* monotonic us at create: trace time origin */
    uint64_t now;      /* the loop's latest clock reading */
    uint64_t app_wake; /* on_tick's wish, UINT64_MAX for none */

    uint64_t mem_trims;   /* malloc_trim() calls after memory pressure */
    size_t mem_trim_used; /* the stack's usage at the last malloc_trim() */
    bool mem_trim_owed;   /* pressure seen; usage not yet down to limit/16 */

    bool stop_requested; /* berth_rt_stop(): on_stop runs in the loop */
    int stop_signal;     /* the signal that asked for the stop, or 0 */
    bool stopping;       /* on_stop called; waiting for connections */
    uint64_t stop_deadline;
    bool exiting; /* berth_rt_exit() or the shutdown finished */

    void (*lock)(void *ctx); /* berth_rt_set_lock(); NULL: none */
    void (*unlock)(void *ctx);
    void *lock_ctx;

    uint8_t *rxbuf; /* one TUN read; rxcap bytes */
    size_t rxcap;
    struct rt_tun_rx rx; /* reads in place (over rxbuf), tun.c */
    bool rx_more;        /* the last batch was cut, not ended by EAGAIN */
    /* Small packets sent while the loop works (its own thread, between
     * waits: in_loop) are queued and written in batches (RT_TX_BATCH, and
     * at the end of each iteration), one syscall for them all. */
    struct rt_uring txq;
    unsigned txq_handed; /* packets given to the queue since its flush,
                            merged ACKs included */
    bool in_loop;
    unsigned rx_skips;             /* batches since epoll_wait was last asked */
    struct rt_tun_offload offload; /* what the TUN device does for us */
    /* header + datagram, for the tx impairment's copy (RT_TXCOPY_LEN
     * bytes), then as many where tx_sg gathers a packet (tun.c) */
    uint8_t *txcopy;
    uint64_t rx_bad_vnet; /* reads dropped: a header berth cannot take */

    /* Shards (shards.c): shard `shard` of `nshards` in `group`; alone:
     * NULL, 0 of 1. Shards other than 0 have no control socket and no
     * signals, and share shard 0's capture under pcap_lock. */
    struct berth_rt_group *group;
    unsigned shard, nshards;
    uint64_t steer_key;         /* the steering hash's key (steer.c) */
    pthread_mutex_t *pcap_lock; /* NULL: the capture is ours alone */
    bool pcap_borrowed;         /* shard 0's capture: not ours to close */
    struct rt_link *link;       /* an Ethernet link (link_rt.h); NULL: TUN */
};

/* How berth_rt_create() makes a shard (NULL: a runtime alone). */
struct rt_shard_spec {
    struct berth_rt_group *group;
    struct berth_rt *first; /* shard 0, already created (NULL for it) */
    unsigned index, n;
    uint64_t key;
    pthread_mutex_t *pcap_lock;
    /* Set when the kernel refused what shards need (a multiqueue device,
     * the steering program), as opposed to any other failure. */
    bool *refused;
};
struct berth_rt *rt_create(const struct berth_rt_config *cfg,
                           const struct rt_shard_spec *spec, char *err,
                           size_t errlen);

/* steer.c: berth's flow steering. The 16-bit keyed hash of a flow as the
 * kernel sees it arrive (the peer's address and port, berth's port); the
 * shard that owns an IPv4 datagram read from the device (0 for anything
 * but unfragmented TCP); and the eBPF program that makes the kernel pick
 * that shard's queue, attached to the device (0, or -1 with a message). */
uint32_t rt_steer_hash(uint64_t key, uint32_t raddr, uint16_t rport,
                       uint16_t lport);
unsigned rt_steer_owner(uint64_t key, unsigned nshards, const uint8_t *ip,
                        size_t len);
int rt_steer_attach(int tunfd, uint64_t key, char *err, size_t errlen);
/* The program alone (its fd, or -1 with a message): the unit test runs it
 * with BPF_PROG_TEST_RUN against rt_steer_owner(). */
int rt_steer_load(uint64_t key, char *err, size_t errlen);
/* The stack's port_ok hook (ctx = the shard): lport is one whose return
 * traffic from raddr:rport the steering brings to this shard. */
bool rt_steer_port_ok(void *ctx, uint32_t raddr, uint16_t rport,
                      uint16_t lport);

/* shards.c: the group's part of the loop and of the control commands. A
 * stop that reaches shard 0 is passed on to every shard; the control
 * socket's commands see every shard's stack (the others are locked while
 * shard 0 answers). */
void rt_group_stopping(struct berth_rt *rt);
void rt_group_lock_others(struct berth_rt *rt);
void rt_group_unlock_others(struct berth_rt *rt);
/* The stacks to show: the group's, or rt's own (*n = 1). */
struct berth_stack *const *rt_group_stacks(struct berth_rt *rt, unsigned *n);
/* The group's link counters added up (rt's alone without a group). */
void rt_group_stats(struct berth_rt *rt, struct berth_rt_stats *out);
/* One line per shard for `stat` (nothing without a group). */
void rt_group_print_shards(struct berth_rt *rt, FILE *out);
/* Applies an impairment to every shard. */
void rt_group_set_impair(struct berth_rt *rt, const struct berth_impair *imp);

uint64_t rt_clock_now(void); /* CLOCK_MONOTONIC in us */

/* loop.c: the stack's hooks. */
void rt_stack_tx(void *ctx, const uint8_t *pkt, size_t len);
void rt_stack_tx_gso(void *ctx, const uint8_t *pkt, size_t len,
                     uint16_t seg_size);
/* tun.c: the stack's tx_sg hook on a TUN device (one writev). */
void rt_stack_tx_sg(void *ctx, const uint8_t *hdr, size_t hdr_len,
                    const struct berth_iov *spans, size_t nspans,
                    uint16_t seg_size);
void rt_stack_event(void *ctx, int sock, uint32_t events);
void rt_stack_trace(void *ctx, const struct berth_trace *ev);
/* runtime.c: the control commands, as an rt_ctl_handler (ctx = rt). */
void rt_ctl_command(void *ctx, const char *line, FILE *out);

#endif
