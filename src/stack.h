/* The stack object: configuration, memory accounting, the timer wheel, the
 * connection tables, counters, the socket handle table and the transmit
 * scratch buffer. One per berth_stack; no global state anywhere. */
#ifndef BERTH_STACK_H
#define BERTH_STACK_H

#include "base/bufcache.h"
#include "base/htable.h"
#include "base/mem.h"
#include "base/rng.h"
#include "base/siphash.h"
#include "base/timer_wheel.h"
#include "berth/berth.h"
#include "ip/addr6.h"

#include <stdbool.h>
#include <stdint.h>

/* Largest packet the stack ever builds: IPv6 (the larger) + TCP headers with
 * options and one MSS of payload (the MSS is capped at TX_MAX_MSS). */
#define TX_MAX_MSS  65495u
#define TX_BUF_SIZE (40u + 60u + TX_MAX_MSS)
/* Entries of the state-change check's cache (tcp_fsm.c); a power of 2. */
#define TCP_FSM_SEEN 32u
/* Slots of the connection cache in front of the 4-tuple table
 * (tcp_conn.c, tcp_lookup): a power of two. */
#define TCP_CONN_CACHE_BITS 10u
#define TCP_CONN_CACHE      (1u << TCP_CONN_CACHE_BITS)
/* The ephemeral-port perturbation table (tcp_user.c, RFC 6056 §3.3.4):
 * counters, a power of two. */
#define TCP_PORT_PERTURB 1024u
#define TCP_PORT_NEXT    256u

enum sock_kind {
    SOCK_FREE,
    SOCK_CONN,   /* obj is a struct tcp_conn (any state but LISTEN) */
    SOCK_LISTEN, /* obj is a struct tcp_listener */
    SOCK_UDP,    /* obj is a struct udp_sock (src/ip/udp.c) */
};

/* A socket handle slot. Handles are (gen << SOCK_IDX_BITS) | index, so a
 * stale handle (slot reused since) fails the generation check. */
#define SOCK_IDX_BITS 21u
#define SOCK_GEN_MASK 0x3ffu /* 10 bits: handles stay positive ints */
struct sock {
    void *obj;
    uint16_t gen;
    uint8_t kind;     /* enum sock_kind */
    bool dirty;       /* on the ready list, waiting for an event report */
    uint32_t ev_seen; /* readiness mask the application last saw */
    int32_t next;     /* free list / ready list link (index), -1 = end */
    int32_t prev;     /* ready list back link: a closed handle leaves at once */
};

/* A slot of the connection cache: a record in the 4-tuple table whose
 * 4-tuple mixes to `mix` (the slot is the mix's top bits) and hashes to
 * `hash` (the low 32 bits the table keeps), or n NULL. A record leaves its
 * slot when it leaves the table. */
struct conn_cache_slot {
    struct tcp_node *n;
    uint32_t mix, hash;
};

/* A keyed hash of one 4-tuple, remembered. valid: false until the first. */
struct tuple_memo {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    bool valid, v6;
    uint64_t hash;
};

/* Connections whose pure ACK waits for the end of one input call (at most;
 * one more is sent at once). */
#define STACK_ACKS_OWED 32

struct berth_stack {
    struct berth_config cfg;
    struct mem mem;  /* connections, requests, TIME-WAIT entries, buffers */
    struct mem tmem; /* the stack's own tables (grow, never shrink) */
    struct bufcache bufs;     /* idle send/receive buffers, not in `mem` */
    struct mem_budget budget; /* over mem.bytes + bufs.bytes (cfg.mem_limit) */
    bool mem_waiters; /* some TCB has TF_MEM_WAIT: wake it when room comes */
    size_t mem_wait_used; /* usage at the last refusal or wake-up walk */
    uint64_t now;
    struct rng rng;
    struct timer_wheel wheel;
    /* The wheel's current tick (timer_wheel.h: now_tick), as the last
     * run_timers left it, and whether a timer armed since may be due at
     * or before it (stack_timer_arm). Neither: advancing the wheel again
     * within this tick would do nothing, so run_timers skips it. */
    uint64_t timer_tick;
    bool timers_due;
    struct htable conns;     /* 4-tuple -> struct tcp_node */
    struct htable listeners; /* local port -> struct tcp_listener */
    uint8_t *bound_ports;    /* bitmap of explicitly bound/listening ports */
    /* The 4-tuple whose table hash was computed last (tcp_conn.c): the
     * demux hashes a segment's 4-tuple once, and what its processing does
     * to that connection's entries (SYN queue -> TCB -> TIME-WAIT, delete)
     * finds the hash here. valid: false until the first hash. */
    struct tuple_memo tuple_memo;
    /* The next packets', hashed ahead by berth_input_batch while their
     * buckets are prefetched (tcp_prefetch), alternately in each slot: the
     * one after the next is hashed before the next is processed.
     * table_hash takes them over. */
    struct tuple_memo tuple_next[2];
    uint8_t tuple_next_slot;
    /* The same for the per-connection secrets (tcp_tuple_prf): the ISN of
     * a SYN and the timestamp offset of its answer come from one hash. */
    struct tuple_memo prf_memo;
    /* The connection cache (tcp_conn.c, conn_cache_slot): TCP_CONN_CACHE
     * slots, in tmem. */
    struct conn_cache_slot *conn_cache;
    struct sipkey sipkey; /* cfg.secret's schedule (the 4-tuple hashes) */
    /* Transitions tcp_fsm_check() found in the table, direct-mapped by
     * a hash of (old, new, reason): a lifecycle's ten or so changes are
     * checked in O(1) after the first time. 0: empty. */
    uint32_t fsm_seen[TCP_FSM_SEEN];
    /* IPv6 (cfg.addr6 not all zero): the addresses records use, interned
     * (ip/addr6.h); our own is addr6_id, permanent. */
    bool ipv6;
    uint32_t addr6_id;
    struct addr6_table addr6;

    struct sock *socks;
    uint32_t nsocks; /* slots allocated (grows up to cfg.max_sockets) */
    int32_t free_sock, ready_head, ready_tail;

    uint64_t counters[BERTH_CTR__COUNT];
    uint64_t drops[BERTH_REASON__COUNT];

    /* RFC 5961 §7: challenge ACKs per second, stack-wide; the budget of
     * the current second is drawn at its start (tcp_challenge_ack). */
    uint64_t challenge_window_start;
    uint32_t challenge_count, challenge_budget;

    uint16_t ip_id;
    /* The network layer beside TCP (src/ip/): the ICMP token bucket
     * (µs of credit, last refilled at icmp_credit_at) and the path MTU
     * cache (NULL until a path MTU is learnt). */
    bool icmp_bucket_started;
    uint64_t icmp_credit, icmp_credit_at;
    struct pmtu_entry *pmtu;
    struct frag_state *frag; /* reassembly (NULL until a fragment) */
    struct htable udp;       /* local port -> struct udp_sock; at first use */
    bool in_flush;
    /* ACK piggybacking (tcp_output.c, tcp_ack_defer): while an input call
     * with an event callback runs, a pure ACK a connection owes waits in
     * acks_owed until the callbacks have run, so a reply, FIN or window
     * update they send carries it instead; what is still owed then goes
     * out at the end of the same call (stack_flush_acks). */
    bool defer_acks;
    uint8_t nacks_owed;
    struct tcp_conn *acks_owed[STACK_ACKS_OWED];
    /* The event log: a cause an inner congestion-control step names for
     * the change its caller logs (tcp_cc.c), + 1; 0: none. */
    uint8_t log_cc_hint;
    uint8_t *txbuf; /* TX_BUF_SIZE bytes: every packet is built here */
    /* berth_input_sg (input_sg.c): the text of the segment being taken,
     * when input carries STACK_IN_SG: the bytes from `first` (where the
     * text starts in the headers' piece) to hdr_end, then the spans; and
     * the buffer a packet that cannot be taken in pieces is gathered into
     * (allocated at first need). */
    struct {
        const uint8_t *first, *hdr_end;
        const struct berth_iov *sp;
        size_t n;
    } rx_sg;
    uint8_t *rx_lin;
    /* RFC 6056 §3.3.4's table[]: how far the ephemeral-port search of the
     * destinations that share each counter has moved (tcp_user.c,
     * pick_ephemeral). Starts at zero: the offset is keyed already. */
    uint32_t port_perturb[TCP_PORT_PERTURB];
    /* The 4-tuple the next connect to a destination tries first, hashed
     * when the last one took its port, its table bucket prefetched then
     * (tcp_connect_ahead): TCP_PORT_NEXT memos in tmem, indexed by the
     * destination's counter. */
    struct tuple_memo *port_next;
    /* Receive in place (rx_place.c): the socket whose receive buffer stays
     * while empty, as a link reads the next payload into it (-1: none);
     * the payload berth_input_placed() hands in, already at that buffer's
     * write position (rx_placed_len 0: none). */
    int32_t rx_keep_sock;
    uint32_t rx_placed_len;
    const uint8_t *rx_placed;
    /* Tests only (test_fast_paths): every segment in and out takes
     * the general path, no short path that stands in for it (header
     * prediction, output with nothing to send), so a test can hold the
     * short paths' results against the general ones. false otherwise. */
    bool general_paths;
};

/* An input flag of the stack's own (never a link's): the TCP segment's text
 * lies in s->rx_sg, not after its header (tcp_seg.payload is NULL). */
#define STACK_IN_SG 0x80000000u
/* The largest packet berth_input_sg gathers: an IPv6 datagram's 40-byte
 * header and 65535-byte payload. */
#define RX_LIN_SIZE (40u + 65535u)
/* input() for berth_input_sg, once s->rx_sg describes the text: len is
 * the whole packet's, of which the headers are at hdr. */
int stack_input_sg(struct berth_stack *s, const void *hdr, size_t len,
                   uint64_t now, uint32_t flags);

static inline void stack_count(struct berth_stack *s, enum berth_counter c)
{
    s->counters[c]++;
}

/* Every timer is armed through here. The wheel fires at its next advance
 * a timer whose tick (expiry rounded up) is not after its current one;
 * such a timer obliges the next run_timers to advance even within the
 * same tick. stack_timer_arm_tick takes the tick itself (a TCB's
 * deadlines are ticks already): no multiplication to µs for the wheel to
 * divide again. */
static inline void stack_timer_arm_tick(struct berth_stack *s, struct timer *t,
                                        uint64_t tick)
{
    if (tick <= s->timer_tick)
        s->timers_due = true;
    timer_wheel_arm_tick(&s->wheel, t, tick);
}
static inline void stack_timer_arm(struct berth_stack *s, struct timer *t,
                                   uint64_t expires_us)
{
    stack_timer_arm_tick(s, t, timer_tick_of(expires_us));
}

struct tcp_conn;

/* Socket handles and readiness (sock.c). */
int sock_handle(const struct berth_stack *s, uint32_t idx);
/* The slot of a live handle, or NULL (stale, closed, never valid).
 * Inline: every call of the API and every readiness mark checks one. */
static inline struct sock *sock_get(const struct berth_stack *s, int h)
{
    if (h < 0)
        return NULL;
    uint32_t idx = (uint32_t)h & ((1u << SOCK_IDX_BITS) - 1);
    uint32_t gen = (uint32_t)h >> SOCK_IDX_BITS;
    if (idx >= s->nsocks)
        return NULL;
    struct sock *k = &s->socks[idx];
    if (k->kind == SOCK_FREE || k->gen != gen)
        return NULL;
    return k;
}
/* The TCB of a connection handle, or NULL with *err: BERTH_EBADF, or
 * BERTH_ENOTCONN for a listener. */
struct tcp_conn *sock_conn(const struct berth_stack *s, int h, int *err);
/* The readiness events of a slot. */
uint32_t sock_events(const struct sock *k);
/* The application looked at a live handle: its events now are the
 * reference for reporting changes. */
void sock_seen(struct berth_stack *s, int h);
/* Stack teardown: every record, listener and TCB, and the handle table. */
void sock_destroy_all(struct berth_stack *s);
/* Appends a slot that is not on the ready list to it (sock.c). */
void sock_ready_push(struct berth_stack *s, struct sock *k);
/* Marks a socket so its readiness is re-evaluated and reported at the end
 * of the current berth_input()/berth_advance(). sock < 0 is ignored.
 * Inline: a segment marks its socket several times (data, ACK, output),
 * and every mark after the first finds it on the list already. */
static inline void sock_mark(struct berth_stack *s, int sock)
{
    struct sock *k = sock_get(s, sock);
    if (k && !k->dirty)
        sock_ready_push(s, k);
}
/* Reports the readiness changes of the marked sockets (sock.c). */
void sock_report_events(struct berth_stack *s);
/* The same at the end of an input or advance: nothing to do, and no call,
 * when no socket was marked. */
static inline void sock_flush_events(struct berth_stack *s)
{
    if (s->ready_head >= 0)
        sock_report_events(s);
}
/* Gives the slot of an object that no longer has a handle back (the
 * object is already freed or detached). */
void sock_release(struct berth_stack *s, int sock);
/* A new handle for obj, or BERTH_EMFILE / BERTH_ENOMEM. */
int sock_alloc(struct berth_stack *s, enum sock_kind kind, void *obj);

/* Ports (stack.c). */
bool stack_port_bound(const struct berth_stack *s, uint16_t port);
void stack_port_set(struct berth_stack *s, uint16_t port, bool bound);

/* The memory budget (stack.c). Usage is mem.bytes + bufs.bytes. Inline:
 * the buffer and window code asks for the level on every segment. */
static inline size_t stack_mem_used(const struct berth_stack *s)
{
    return s->mem.bytes + s->bufs.bytes;
}

static inline enum berth_mem_level stack_mem_level(const struct berth_stack *s)
{
    switch (mem_budget_level(&s->budget, stack_mem_used(s))) {
    case MEM_LEVEL_NORMAL:
        break;
    case MEM_LEVEL_PRESSURE:
        return BERTH_MEM_PRESSURE;
    case MEM_LEVEL_OVER:
        return BERTH_MEM_OVER_LIMIT;
    }
    return BERTH_MEM_NORMAL;
}
/* Whether `more` bytes of buffer memory may be allocated now. */
bool stack_mem_fits(const struct berth_stack *s, size_t more);
/* End of input/advance: moves the sticky pressure state (entering it
 * empties the buffer cache), and, when memory was freed since a send was
 * refused, wakes the refused sockets whose buffer may grow now. */
void stack_mem_update(struct berth_stack *s);

/* The event log (docs/events.md; tcp/tcp_log.c): on when a hook is set.
 * Every site tests this first: one predictable branch when off. */
static inline bool stack_log_on(const struct berth_stack *s)
{
    return __builtin_expect(s->cfg.log != NULL, 0);
}

/* Tracing (stack.c). */
void stack_trace_drop(struct berth_stack *s, int sock, bool v6, uint32_t laddr,
                      uint16_t lport, uint32_t raddr, uint16_t rport,
                      enum berth_reason why);

/* Addresses as the engine keeps them (stack.c): 32 bits, an IPv4 address
 * (host order) or, with v6, the id of an interned IPv6 address. */
/* The public endpoint of one. */
struct berth_endpoint stack_endpoint(const struct berth_stack *s, bool v6,
                                     uint32_t addr, uint16_t port);
/* A keyed 32-bit digest standing for it in ISN, timestamp-offset and SYN
 * cookie hashes: the IPv4 address itself; for IPv6 a SipHash of the
 * whole 16 bytes, the same whatever id the address has at the time. */
uint32_t stack_addr_key(const struct berth_stack *s, bool v6, uint32_t addr);
/* A record takes (or gives back) its hold on an address: counted for
 * IPv6 ids, nothing for IPv4. */
void stack_addr_ref(struct berth_stack *s, bool v6, uint32_t addr);
void stack_addr_unref(struct berth_stack *s, bool v6, uint32_t addr);

#endif
