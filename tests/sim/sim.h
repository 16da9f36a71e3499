/* berth-sim: two berth stacks over the in-memory link, driven by random
 * applications that a seed chooses, with invariants checked as they run
 * and at the end (docs/ARCHITECTURE.md). This header holds the world: the plan
 * a seed draws (plan.c), the applications (app.c), the hooks and the driver
 * (world.c), the invariants (check.c) and the throughput table (table.c). */
#ifndef BERTH_SIM_H
#define BERTH_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"
#include "berth/memlink.h"
#include "berth/rt.h"

#define SIM_MS  UINT64_C(1000)
#define SIM_SEC UINT64_C(1000000)
#define SIM_KIB UINT64_C(1024)
#define SIM_MIB (SIM_KIB * SIM_KIB)

#define SIM_ADDR(side) (0xc6120001u + (uint32_t)(side)) /* 198.18.0.1/2 */
/* 2001:db8:b::1 and ::2: each side's IPv6 address (plan.c). */
extern const uint8_t sim_addr6[2][16];

/* The families of a world: IPv4 only (the stacks have no IPv6), IPv6
 * only, or both (each connection draws its own; listeners on :: take
 * either). */
enum world_family { FAMILY_IPV4, FAMILY_IPV6, FAMILY_MIXED };

#define MAX_CONNS     64
#define MAX_LISTENERS 8
#define MAX_FAILS     8
#define SOCKMAP_SIZE  4096 /* = cfg.max_sockets: every handle index fits */

/* Spurious timeouts a link can cause without losing anything (a delay
 * spike longer than the RTO): subtracted from the losses a timeout must be
 * explained by. */
#define TIMEOUT_SLACK 2

/* ------------------------------------------------------------------------
 * Randomness: splitmix64, one stream per purpose so that the plan does not
 * shift when an application draws more or less.
 */
static inline uint64_t rnd_next(uint64_t *d)
{
    uint64_t z = (*d += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [lo, hi]. */
static inline uint64_t rnd_range(uint64_t *d, uint64_t lo, uint64_t hi)
{
    return hi <= lo ? lo : lo + rnd_next(d) % (hi - lo + 1);
}
static inline bool rnd_pct(uint64_t *d, unsigned pct)
{
    return rnd_next(d) % 100 < pct;
}
static inline double rnd_unit(uint64_t *d)
{
    return (double)(rnd_next(d) >> 11) * 0x1.0p-53;
}
/* A value spread over orders of magnitude: lo·(hi/lo)^u. */
uint64_t rnd_log(uint64_t *d, uint64_t lo, uint64_t hi);

/* ------------------------------------------------------------------------
 * The invariants, by class: a failure names its class, and --ignore CLASS
 * (for exploring past a known engine bug, never for CTest) counts a class
 * without failing the seed.
 */
#define INVARIANT_MAP(X)                                                       \
    X(DATA, "data", "every byte once, in order; all of them; EOF after")       \
    X(ERROR, "error", "every error an application sees is explained")          \
    X(RST, "rst", "RSTs come from resets or forgotten connections")            \
    X(TIMEOUT, "timeout", "timeouts only after enough losses")                 \
    X(WINDOW, "window", "no byte beyond the advertised window")                \
    X(WIRE, "wire", "segments carry the right bytes, FINs, ACKs, options")     \
    X(STALL, "stall", "every connection ends")                                 \
    X(LEAK, "leak", "nothing left: no TCB, no timer, no memory")               \
    X(COUNTER, "counter", "counters agree with the link and the apps")         \
    X(API, "api", "calls return what the API promises")                        \
    X(EVENTS, "events",                                                        \
      "the event log has every segment once, and getinfo's states")            \
    X(DRIVER, "driver", "the run ends within its bounds")

enum invariant {
#define INV_ENUM(name, tag, what) INV_##name,
    INVARIANT_MAP(INV_ENUM)
#undef INV_ENUM
        INV__COUNT
};
const char *invariant_tag(enum invariant i);

/* ------------------------------------------------------------------------
 * The plan: what a seed makes the applications do.
 */

/* How an end finishes. The first four are graceful: every byte must
 * arrive and no error may be seen (unless a licensed timeout intervenes);
 * the rest reset the connection on purpose. */
enum close_style {
    CLOSE_SHUTDOWN,     /* shutdown(WR) after the last byte, read to EOF */
    CLOSE_AFTER_EOF,    /* send everything, read to EOF, then close */
    CLOSE_WHEN_READ,    /* close once all is sent and all the peer's
                           bytes are read, without waiting for its FIN */
    CLOSE_SIMULTANEOUS, /* both ends close at one instant, FINs cross */
    CLOSE_ABORT,        /* berth_abort at a random moment */
    CLOSE_LINGER0,      /* linger 0 and close at a random moment */
    CLOSE_UNREAD,       /* close while received data is unread */
    CLOSE_IN_HANDSHAKE, /* the initiator closes in SYN-SENT */
    CLOSE__COUNT
};

enum conn_kind {
    CONN_NORMAL,  /* connect to a listener on the other side */
    CONN_SIMOPEN, /* both sides connect to each other's bound port at once */
    CONN_REFUSED, /* connect to a port nobody listens on */
};

/* Socket options an application may set (0 / -1 = leave the default). */
struct sock_opts {
    bool nodelay;
    int cc;                  /* enum berth_cc, or -1 */
    uint32_t sndbuf, rcvbuf; /* before connect/listen */
    uint32_t maxseg;
    uint64_t keepidle; /* 0 = keepalive off */
    uint64_t keepintvl;
    uint32_t keepcnt;
    uint64_t user_timeout; /* 0 = off */
};

struct end_plan {
    uint64_t total;    /* bytes this end sends */
    uint32_t max_send; /* largest single send */
    uint32_t max_recv; /* largest single recv */
    unsigned send_pause_pct;
    uint64_t send_pause_max; /* µs */
    unsigned read_stall_pct;
    uint64_t read_stall_max; /* µs: the window may close meanwhile */
    enum close_style close;
    uint64_t abort_after; /* µs after birth, for the abortive styles */
    uint64_t close_delay; /* µs between finishing and closing */
    struct sock_opts opts;
    uint64_t seed; /* content of the stream this end sends */
    uint64_t dice; /* sizes and pauses */
};

/* ------------------------------------------------------------------------
 * Running state.
 */
enum end_state { END_UNBORN, END_CONNECTING, END_OPEN, END_DONE };

struct end {
    struct end_plan p;
    int side;
    int sock; /* handle, or -1 */
    enum end_state st;
    uint64_t born_at;
    uint64_t sent, received;   /* bytes written / read by the application */
    uint64_t sent_at_fin;      /* `sent` when the FIN was asked for */
    uint64_t writing;          /* bytes inside the berth_send in progress:
                                  the stack may send them before it returns */
    uint64_t tx_hash, rx_hash; /* FNV-1a of what was written / read */
    uint64_t send_at, recv_at, close_at; /* app timers; 0 = none */
    uint64_t wake_at; /* the earliest of them still ahead; 0 = none */
    bool fin;         /* shutdown(WR) or close asked for a FIN */
    bool eof;         /* recv returned 0 */
    bool reset;       /* the application reset it (abort, linger 0, unread) */
    bool gave_up;     /* closed at the give-up deadline */
    int err;          /* first error the application saw, 0 if none */
    bool dirty;       /* in the world's work list */
    bool bad_data;    /* a content failure was reported (once per end) */
};

struct conn {
    int id;
    enum conn_kind kind;
    int init_side;    /* the side that connects (SIMOPEN: both) */
    int listener;     /* CONN_NORMAL: index into world.lsn */
    int reuse;        /* CONN_NORMAL: an earlier connection whose client port
                         this one binds (4-tuple reuse, TIME-WAIT), or -1 */
    int attempts;     /* bind/connect attempts refused while the port or the
                         4-tuple was still in use */
    uint16_t port[2]; /* each side's port; 0 until known */
    uint64_t open_at;
    bool opened;
    int open_seq;    /* order of opening: the newest owns a reused 4-tuple */
    bool v6;         /* over IPv6 (a reuse keeps its old one's family) */
    struct end e[2]; /* by side */

    /* What the link did to it (tap): losses since the side last saw its
     * data acknowledged / last heard from its peer. Every loss counts for
     * both sides: a lost ACK stalls the sender as much as lost data. Only
     * a packet that reaches the sender's highest sequence number counts
     * as news: old ones (retransmissions, keepalive probes at SND.NXT-1)
     * may be dropped by the receiver as out of window. */
    uint32_t drops_since_ack[2], drops_since_heard[2];
    uint32_t max_ack[2]; /* highest ACK delivered to a side */
    bool has_ack[2];
    uint32_t max_end[2]; /* highest sequence number each side sent */
    bool has_end[2];
    uint64_t drops;
    uint64_t last_drop_at;      /* µs, 0 if none */
    uint64_t zero_window_at[2]; /* last zero window a side advertised */
    /* Flow control as the link saw it: the right edge each side has
     * advertised (never to move left: RFC 9293 §3.8.6.2.2), with the
     * window scale of RFC 7323 when both SYNs offered it. */
    int8_t wscale[2]; /* offered in its SYN; -1 none, -2 unknown yet */
    uint32_t edge[2];
    bool has_edge[2];
    unsigned window_reported; /* once each: 1 data beyond, 2 ACK dropped,
                                 4 edge moved left */
    /* What each side's SYN said, for checking the segments after it. */
    bool syn_seen[2];
    uint32_t iss[2];
    bool ts_offered[2], sack_offered[2];
    bool wire_reported;
    bool rtt_reported;
    bool syn_rexmit;       /* a SYN was sent again: an RTT sample may span it */
    uint32_t rsts[2];      /* RSTs each side sent */
    bool cookie_failed[2]; /* a side's listener dropped one of its
                              segments as SYNCOOKIE_INVALID */
    bool ghost[2];         /* a side's listener opened it again from a SYN
                              cookie after it ended, and the checker reset that
                              copy (app.c listener_born) */

    /* What the engine did (trace). */
    bool gone[2];  /* its TCB left the table: later RSTs are from
                      "no connection" */
    bool alive[2]; /* has a TCB, SYN-queue or TIME-WAIT entry now */
    enum berth_reason gone_why[2];
    bool forgot[2];    /* gone by a timeout or expiry: the peer may
                          later meet a RST it did not cause */
    bool timed_out[2]; /* a (licensed) retransmission/keepalive/user
                          timeout */
    enum berth_state state[2];
    enum berth_state log_state[2]; /* the latest the event log reported */
    bool established[2];           /* reached ESTABLISHED at some point */
    char path[2][96];              /* compact state history, for reports */
};

struct listener {
    int side;
    int sock;
    uint16_t port;
    int backlog;
    uint64_t accept_delay_max; /* 0 = accept at once */
    uint64_t accept_at;        /* next accept allowed */
    uint64_t close_at;         /* closes early then (0: at the end): connections
                                  not yet accepted are reset, later ones refused */
    bool closed;
    struct sock_opts opts;
    uint64_t dice;
    int accepted;
    bool dirty;
};

/* What a socket handle belongs to. */
struct sockref {
    int handle; /* the full handle, to reject stale indices */
    int kind;   /* 0 none, 1 end, 2 listener, 3 UDP (idx = side) */
    int idx;
};

struct work {
    int side;
    int kind; /* 1 end (idx = conn id), 2 listener, 3 UDP */
    int idx;
};

struct sim_stats {
    uint64_t seeds, failed;
    uint64_t conns, bytes, resets_planned, timeouts_licensed;
    uint64_t timeouts_without_outage; /* of which in worlds without one */
    uint64_t rtt_outliers;
    uint64_t pkts, drops, corrupt, corrupt_accepted, tail_drops;
    uint64_t outage_drops, burst_drops, vtime;
    uint64_t ignored[INV__COUNT]; /* failures of ignored classes */
    /* State changes seen, [old][new] (--coverage). */
    uint64_t trans[BERTH_STATE__COUNT][BERTH_STATE__COUNT];
};

/* UDP beside the connections (udp.c). */
struct sim_udp {
    int sock[2];    /* side 0 sends, side 1 echoes; -1: none */
    uint16_t port0; /* side 0's ephemeral port */
    bool closed;
    uint32_t n, sent; /* datagrams to send, sent */
    uint64_t gap;     /* µs: the most between two sends */
    uint64_t next_at;
    uint64_t dice, content;
    uint64_t read[2];      /* datagrams each side's application read */
    uint64_t delivered[2]; /* intact copies the link delivered to its port */
    bool dirty[2];         /* in the world's work list */
};

struct world;

/* The context each stack's hooks get. */
struct side_ctx {
    struct world *w;
    int side;
};

/* The event log as the link checks it (events.c). */
struct sim_events {
    struct berth_segment out[2]; /* each side's last logged SEG_OUT */
    bool out_pending[2];         /* ... not yet seen on the link */
    struct berth_segment in[2];  /* the copy being delivered to a side */
    bool in_pending[2];          /* ... not yet in its log */
    bool in_corrupted[2];        /* ... corrupted: may be logged or not */
    uint64_t carried, logged[2];
    bool states_changed;         /* since events_check_states() last looked */
    struct berth_events *log[2]; /* --events: each side's JSON writer */
};

struct world {
    uint64_t seed;
    bool full; /* soak-size scenarios */
    int verbose;
    FILE *pcap;
    const char *argv0;

    struct berth_memlink *link;
    struct berth_stack *st[2];
    struct side_ctx hk[2];
    struct berth_config cfg[2];
    struct berth_memlink_impair imp[2];
    uint64_t outage[2][4][2]; /* [from][i] = {start, end} */
    int noutages[2];
    uint64_t isn_dice;

    enum world_family family;
    struct listener lsn[MAX_LISTENERS];
    int nlsn;
    struct conn conns[MAX_CONNS];
    int nconns;
    int nopened;
    struct sockref sockmap[2][SOCKMAP_SIZE];
    struct work *work; /* ready list from the event hook */
    size_t nwork, work_cap;

    uint64_t now;
    uint64_t giveup_at; /* applications give up on what has not ended */
    bool giving_up;
    struct conn *connecting; /* inside berth_connect: its port is not yet
                                known when the SYN leaves */
    /* The copy being delivered (the receive tap runs just before
     * berth_input): a drop the receiver traces is about it. */
    struct berth_segment rx_seg;
    struct conn *rx_conn;
    bool rx_current; /* it carries its sender's highest sequence number */

    /* Tallies checked against the stacks' counters. */
    uint64_t connects[2];       /* berth_connect calls that started */
    uint64_t passive_traced[2]; /* SYN-RECEIVED -> ESTABLISHED at a
                                   listener's port */
    uint64_t tw_traced[2];
    uint64_t ghosts[2];   /* passive opens a late cookie ACK made again */
    uint64_t rst_seen[2]; /* RST segments each side sent (tap) */
    uint64_t refused[2];  /* ECONNREFUSED seen by a side's apps */
    uint64_t drops_by_reason[2][BERTH_REASON__COUNT];

    char fails[MAX_FAILS][320];
    int nfails;
    unsigned ignore; /* bit per enum invariant */
    uint64_t ignored[INV__COUNT];
    uint64_t apps_done_at; /* when the applications had all finished */
    uint64_t rtt_bound;    /* the longest round trip the path allows */
    uint64_t rtt_outliers; /* connections whose SRTT went far beyond it */
    uint64_t trans[BERTH_STATE__COUNT][BERTH_STATE__COUNT];
    struct sim_events ev;
    struct sim_udp udp;
};

/* udp.c: UDP datagrams beside the connections */
void sim_udp_plan(struct world *w);
uint64_t sim_udp_next(const struct world *w); /* the next send, or MAX */
void sim_udp_run(struct world *w);            /* opens, sends what is due */
void sim_udp_kick(struct world *w, int side); /* the socket is readable */
/* The receive tap: true if pkt is UDP (counted when intact, for us). */
bool sim_udp_rx(struct world *w, int to, const uint8_t *pkt, size_t len,
                bool corrupted);
void sim_udp_close(struct world *w);
void sim_udp_check(struct world *w);

/* plan.c */
void plan_world(struct world *w);
const char *close_style_name(enum close_style c);

/* world.c */
int world_init(struct world *w, uint64_t seed, bool full, int verbose,
               FILE *pcap, unsigned ignore);
void world_run(struct world *w);
void world_free(struct world *w);
void world_log(struct world *w, int side, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void world_fail(struct world *w, enum invariant inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void world_map_sock(struct world *w, int side, int h, int kind, int idx);
void world_unmap_sock(struct world *w, int side, int h);
struct conn *world_find_conn(struct world *w, int side, uint16_t lport,
                             uint16_t rport);
void world_sync(struct world *w, int side);
/* Queues an end (kind 1, idx = conn id) or a listener (kind 2) for work at
 * this instant, once. */
void world_push(struct world *w, int side, int kind, int idx);

/* app.c */
bool app_open(struct world *w, struct conn *c);
void app_end_kick(struct world *w, struct conn *c, int side);
void app_listener_kick(struct world *w, struct listener *l);
void app_give_up(struct world *w, struct conn *c, int side);
void app_close_listeners(struct world *w);
uint64_t app_next_timer(const struct world *w);
void app_run_timers(struct world *w);
void app_open_listeners(struct world *w);
bool app_all_done(const struct world *w);
void app_simultaneous_close(struct world *w, struct conn *c);

/* check.c */
bool check_timeout_licensed(struct world *w, struct conn *c, int side,
                            enum berth_state from, enum berth_reason why);
void check_rst_sent(struct world *w, struct conn *c, int side);
void check_window(struct world *w, struct conn *c, int from,
                  const struct berth_segment *g);
void check_dropped_ack(struct world *w, struct conn *c, int side,
                       enum berth_reason why);
void check_wire(struct world *w, struct conn *c, int from,
                const struct berth_segment *g, const uint8_t *pkt, size_t len);
void check_error_seen(struct world *w, struct conn *c, int side, int err);
void check_eof(struct world *w, struct conn *c, int side);
void check_rtt(struct world *w, struct conn *c, int side);
void check_conn_final(struct world *w, struct conn *c);
void check_world_final(struct world *w);
bool conn_licensed(const struct world *w, const struct conn *c, int side);
bool end_abortive(const struct end *e);

/* table.c */
void table_print(FILE *out);
/* One cell, with the counters (and every packet when verbose). */
/* One cell; with max_rexmit > 0, fails (returns 1) unless the transfer
 * completes with at most max_rexmit segments retransmitted per packet the
 * link dropped from A to B (plus 8 for timeouts at the edges); with
 * max_drops > 0, unless it completes with at most that many dropped. */
int table_cell(int cc, bool sack, unsigned rtt_ms, double loss,
               double max_rexmit, uint64_t max_drops, int verbose);

/* selftest.c: the link's impairments against memlink.h; 0 if all hold. */
int selftest_run(void);

/* sim.c: content of the streams. */
uint64_t fnv1a(uint64_t h, const uint8_t *buf, size_t len);
void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len);
/* Index of the first byte of buf that differs from the stream, or len. */
size_t stream_check(uint64_t seed, uint64_t off, const uint8_t *buf,
                    size_t len);

/* events.c: the event log's invariants (INV_EVENTS). */
void events_on_log(void *ctx, const struct berth_log_event *ev);
void events_on_tap(struct world *w, int from, const uint8_t *pkt, size_t len);
void events_on_rx(struct world *w, int to, const uint8_t *pkt, size_t len,
                  bool corrupted);
void events_check_states(struct world *w);
void events_check_final(struct world *w);

#endif
