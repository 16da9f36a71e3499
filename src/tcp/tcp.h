/* The TCP engine's records and internal interface: the connection table
 * node shared by full connections (TCB), SYN-queue entries and TIME-WAIT
 * entries; the listener; and the functions each tcp_*.c file provides. */
#ifndef BERTH_TCP_TCP_H
#define BERTH_TCP_TCP_H

#include "base/assembler.h"
#include "base/htable.h"
#include "base/ring.h"
#include "base/timer_wheel.h"
#include "stack.h"
#include "wire/tcp.h"

#include <stdbool.h>
#include <stdint.h>

/* Time is microseconds (docs/ARCHITECTURE.md); these name the units. */
#define USEC_PER_MS  1000u
#define USEC_PER_SEC 1000000u

/* What a connection-table node is. */
enum tcp_node_kind {
    TCP_NODE_CONN,     /* struct tcp_conn: a full TCB */
    TCP_NODE_SYNREQ,   /* struct tcp_synreq: half-open, passive */
    TCP_NODE_TIMEWAIT, /* struct tcp_timewait: compact TIME-WAIT */
};

/* The head of every record that lives in the 4-tuple table. Each record
 * has one wheel timer, armed at its earliest deadline. */
struct tcp_node {
    struct hnode h;
    struct timer timer;
    /* IPv4: addresses, host order. v6: ids of IPv6 addresses interned in
     * the stack (ip/addr6.h), laddr our own; a record with rport set holds
     * a reference on raddr's (stack_addr_ref), so every record keeps the
     * IPv4 size. */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint8_t kind : 2;     /* enum tcp_node_kind */
    uint8_t in_table : 1; /* in s->conns */
    uint8_t v6 : 1;       /* an IPv6 4-tuple */
};

/* A SYN-queue entry (RFC 9293 §3.10.7.2; docs/ARCHITECTURE.md): a small request
 * record, not a TCB, until the third segment of the handshake arrives. */
struct tcp_synreq {
    struct tcp_node n;
    uint32_t iss, irs;
    uint32_t ts_recent; /* the SYN's TSval (SYNOPT_TS) */
    uint16_t peer_mss;  /* from the SYN, or 536 (RFC 9293 §3.7.1) */
    /* SYN-ACKs retransmitted so far (synack_retries <= 127); pressured:
     * the entry was created with its queue more than half full, and gets
     * fewer SYN-ACK retransmissions. */
    uint8_t retries : 7, pressured : 1;
    uint8_t opts; /* SYNOPT_*: what the SYN offered and we accept */
};

/* What a SYN offered that we accept (RFC 7323, RFC 2018), in one byte. */
#define SYNOPT_WSCALE_MASK 0x0fu /* the peer's shift count (<= 14) */
#define SYNOPT_WS          0x10u
#define SYNOPT_SACK        0x20u
#define SYNOPT_TS          0x40u
/* Not an option: the SYN-ACK went out again for a duplicate SYN, so the
 * handshake gives no RTT sample without timestamps (Karn). */
#define SYNOPT_RESENT 0x80u

/* A compact TIME-WAIT entry: only what TIME-WAIT needs (RFC 9293 §3.10.7.4
 * on TIME-WAIT; RFC 1337). The TCB and its buffers are gone. */
struct tcp_timewait {
    struct tcp_node n;
    uint32_t snd_nxt;   /* our final sequence number (after our FIN) */
    uint32_t rcv_nxt;   /* after the peer's FIN */
    uint32_t ts_recent; /* RFC 7323 §4.3, when has_ts */
    uint16_t rcv_wnd;   /* the window field we last advertised */
    /* One byte: timestamps were negotiated (ACKs carry them), and the
     * window field's shift (rcv_wnd << rcv_wscale is the window in bytes). */
    uint8_t has_ts : 1, rcv_wscale : 4;
    /* Our last answer to an invalid segment, in 128 ms ticks of the ms
     * clock, modulo 256 (one byte is all the entry has left): the rate
     * limit of tcp_oow_limited_tick(). It wraps every 32.8 s, so an
     * answer exactly a multiple of that later may be held back once. */
    uint8_t oow_ack_tick;
};

/* The sender's record of what the peer SACKed (RFC 6675 §3 scoreboard;
 * tcp_sack.c): disjoint blocks, sorted, a range set (base/assembler) of
 * offsets from `una`. One inline (a single hole, the common loss); after
 * a burst of losses, an allocated array of at most one block per 512
 * bytes of send buffer. When that is full, the highest block is forgotten,
 * which only makes the sender more conservative. */
#define TCP_SACKBOARD_INLINE 1
/* Reassembly (c->ooo): out-of-order ranges beyond RCV.NXT, a few inline,
 * then an array of at most one range per 512 bytes of receive buffer. */
#define TCP_REASM_INLINE 4
struct tcp_reasm {
    ASSEMBLER_FIELDS(TCP_REASM_INLINE);
};
struct tcp_scoreboard {
    ASSEMBLER_FIELDS(TCP_SACKBOARD_INLINE);
    uint32_t una; /* SND.UNA when last trimmed: blocks are above it */
};

/* One data segment as last sent (RFC 8985 §5.2), [start, end) with its
 * FIN, in the send log. */
struct tcp_txseg {
    uint32_t start, end;
    uint32_t xmit;  /* µs clock (32 bits, modular) of the last send */
    uint32_t flags; /* TXSEG_* */
};
#define TXSEG_SACKED  0x1u /* wholly SACKed (RACK: delivered) */
#define TXSEG_LOST    0x2u /* RACK (or a timeout) deemed it lost */
#define TXSEG_RETRANS 0x4u /* a retransmission of it is in flight */
#define TXSEG_EVER_RX 0x8u /* retransmitted at least once (§5.2) */
/* Last retransmitted in the clock tick of the newest record above it, so
 * after it: the tie-break by sequence (RFC 8985 §6.2) would misorder them. */
#define TXSEG_AFTER_HIGHER 0x10u

/* The send log (tcp_rack.c): a record of every data segment outstanding,
 * allocated from s->mem when data is first sent with SACK agreed and
 * freed once nothing is outstanding (or with the send buffer), and the
 * per-flight state of RACK (RFC 8985 §5.3) and PRR (RFC 6937 §3). The
 * records are seg[head, head + n), in sequence order, each within
 * [SND.UNA, SND.MAX); bytes no record covers count as in flight. */
struct tcp_txlog {
    uint32_t size;         /* bytes allocated */
    uint16_t cap, head, n; /* of seg[] */
    bool rack_valid;       /* RACK.xmit_ts/end_seq name a delivered segment */
    bool dsack_now;        /* the ACK being processed carried a D-SACK */
    bool dsack_round_set;  /* RACK.dsack_round is not None */
    bool tlp_dsack;        /* that D-SACK matched TLP.end_seq (§7.4.2) */
    uint32_t xmit_ts, end_seq, rtt; /* RACK.xmit_ts (µs), end_seq, rtt */
    uint32_t min_rtt;               /* RACK.min_RTT, µs; 0: none yet */
    uint32_t fack;                  /* RACK.fack (§6.2 step 3) */
    uint32_t dsack_round;           /* RACK.dsack_round (§6.2 step 4) */
    uint32_t segs_sacked;           /* RACK.segs_sacked: records SACKed */
    uint32_t rec_bytes;             /* sum of the records' lengths */
    uint32_t rec_pipe;    /* their share of RFC 6675 pipe: not SACKed, once
                             unless lost, once more while retransmitted */
    uint32_t lost_unsent; /* bytes lost and not yet retransmitted */
    uint32_t sacked_prev; /* SACKed bytes on the scoreboard after the last
                             ACK (RFC 6937 DeliveredData) */
    uint32_t prr_delivered, prr_out, recover_fs; /* RFC 6937 §3 */
    struct tcp_txseg seg[];
};

/* What the TCP_T_REXMIT deadline is (RFC 8985 §8: one timer, a kind). */
enum tcp_rexmit_kind {
    TCP_RX_RTO, /* retransmission timeout, RFC 6298 */
    TCP_RX_REO, /* RACK reordering timer, RFC 8985 §6.2 step 5 */
    TCP_RX_TLP, /* tail loss probe timeout (PTO), RFC 8985 §7.2 */
};
/* Loss recovery flags (c->lr_flags). */
#define LR_REORDER_SEEN 0x01u /* RACK.reordering_seen (§6.2 step 3) */
#define LR_TLP          0x02u /* a loss probe is out: TLP.end_seq is set */
#define LR_TLP_RETRANS  0x04u /* TLP.is_retrans */
#define LR_PROBED       0x08u /* no RTT sample since the last probe (§7.3) */
#define LR_FRTO_ACK1    0x10u /* F-RTO (RFC 5682 §2) step 2 awaits an ACK */
#define LR_FRTO_ACK2    0x20u /* F-RTO step 3 awaits an ACK */

/* Per-algorithm congestion state (c->cc). It starts zeroed with the TCB,
 * which for each algorithm is a new connection's state. */
struct cubic_state {
    uint32_t w_max;       /* segments << 10, before the last reduction */
    uint32_t w_est;       /* Reno-friendly estimate, segments << 10 */
    uint32_t epoch_start; /* ms clock; 0: no epoch (RFC 9438 §4.2) */
    /* HyStart++ (RFC 9406) in the first slow start, with timestamps: per
     * round (ends when SND.UNA reaches hs_round_end), the least RTT of the
     * ACKs, in ms + 1; 0: no sample. */
    uint32_t hs_round_end;
    uint16_t hs_last_min, hs_cur_min, hs_css_base;
    uint16_t w_est_frac;     /* w_est's next 16 bits */
    uint32_t k : 22;         /* ms until W_cubic reaches w_max again */
    uint32_t after_rto : 1;  /* the next epoch starts with K = 0 (§4.8) */
    uint32_t hs_rounds : 1;  /* a round has begun */
    uint32_t hs_css : 3;     /* 0: slow start; 1..5: round of Conservative
                                Slow Start; 7: HyStart++ over */
    uint32_t hs_samples : 4; /* RTT samples this round (at most 15) */
};
union tcp_cc_state {
    struct cubic_state cubic;
};

/* Per-connection deadlines, all folded into the node's one wheel timer.
 * 0 means not armed. */
enum tcp_deadline {
    TCP_T_REXMIT,    /* retransmission (SYN, data, FIN), RFC 6298 */
    TCP_T_PERSIST,   /* zero-window probe, RFC 9293 §3.8.6.1 */
    TCP_T_DELACK,    /* delayed ACK, RFC 9293 §3.8.6.3 */
    TCP_T_KEEPALIVE, /* RFC 1122 §4.2.3.6 */
    /* The TCB is deleted when it passes: in FIN-WAIT-2, the timeout of a
     * closed socket (Linux's tcp_fin_timeout); in TIME-WAIT, 2*MSL (RFC
     * 9293 §3.10.7.4), while a handle still holds the TCB. One slot serves
     * both: entering TIME-WAIT clears every deadline, and the state says
     * which one is armed. */
    TCP_T_DELETE,
    TCP_T__COUNT
};

#define TCP_SACK_RECENT 3 /* arrivals whose blocks are reported in order */

/* Connection flags. */
#define TF_ACK_NOW    0x0001u  /* send an ACK at the next output */
#define TF_FIN_QUEUED 0x0002u  /* application is done sending: FIN owed */
#define TF_NODELAY    0x0004u  /* Nagle off */
#define TF_KEEPALIVE  0x0008u  /* keepalive on */
#define TF_RD_SHUT    0x0010u  /* shutdown(RD): incoming data is discarded */
#define TF_RCVD_FIN   0x0020u  /* the peer's FIN is in rcv_nxt */
#define TF_PERSIST    0x0080u  /* zero-window probing */
#define TF_OOO_FIN    0x0100u  /* a FIN beyond a hole: at rcv_fin */
#define TF_LINGER0    0x0200u  /* close() sends RST */
#define TF_SYN_REXMIT 0x0400u  /* the SYN was retransmitted (RFC 6298 §5.7) */
#define TF_CONNECTED  0x0800u  /* reached ESTABLISHED once */
#define TF_RTT_VALID  0x1000u  /* srtt/rttvar hold a measurement */
#define TF_FIN_SENT   0x2000u  /* our FIN has been sent (snd_max is past it) */
#define TF_BOUND      0x4000u  /* explicitly bound: owns its port's bit */
#define TF_TS         0x8000u  /* timestamps negotiated (RFC 7323 §3.2) */
#define TF_SACK       0x10000u /* SACK permitted both ways (RFC 2018 §2) */
#define TF_DSACK      0x20000u /* a D-SACK block is owed (RFC 2883) */
#define TF_RECOVERY   0x40000u /* in fast recovery (RFC 5681, 6582, 6675) */
#define TF_RTO_RECOVER                                                         \
    0x80000u /* timed out: no SACK recovery until                              \
                SND.UNA passes recover (RFC 6675 §5.1) */
#define TF_MEM_WAIT                                                            \
    0x100000u /* a send was cut short by the memory budget: writable only      \
                 while the allocated buffer has room (stack_mem_update) */
#define TF_V6ONLY 0x200000u /* BERTH_OPT_V6ONLY */
#define TF_V4MAPPED                                                            \
    0x400000u /* an IPv4 4-tuple of an IPv6 socket: its                        \
                 names read ::ffff:a.b.c.d */
#define TF_ADDR6_BOUND                                                         \
    0x800000u /* bound to our IPv6 address, not ::, so                         \
                 IPv6 only */
#define TF_ACK_QUEUED                                                          \
    0x1000000u /* in s->acks_owed: its pure ACK waits for the end              \
                  of the input call (tcp_ack_defer) */

/* A full TCB. Field names are RFC 9293's. Invariants:
 * snd_una <= snd_nxt <= snd_max; bytes below snd_una are freed.
 * snd_nxt is where sending resumes; a retransmission timeout moves it back
 * to snd_una (go-back-N). snd_max is RFC 9293's SND.NXT, the highest
 * sequence number sent: segments without text (ACK, RST, keepalive) carry
 * it, so a peer that already has the data never finds them out of window.
 * snd.buf holds data from seq snd_data (= snd_una once the SYN is acked).
 * rcv.buf holds in-order unread bytes, followed by out-of-order bytes at the
 * offsets `ooo` records; rcv_nxt is the seq right after the in-order ones.
 * rcv_adv is the right edge we advertised: it never moves left. */
struct tcp_conn {
    struct tcp_node n;
    /* Per deadline, its ms tick (tcp_tick: rounded up, the wheel's
     * resolution anyway); 0: not armed. */
    uint32_t deadline[TCP_T__COUNT];
    int32_t sock;    /* handle, or -1 (orphaned / not yet accepted) */
    uint8_t state;   /* enum berth_state */
    uint8_t backoff; /* RTO doublings in force: kept until a new RTT
                        sample (RFC 6298 §5.5, §5 note; RFC 9293 §3.8.2) */
    uint8_t rexmits; /* retransmissions of the same segment, R2 (RFC 9293
                        §3.8.3): reset by any new ACK */
    /* Probes unanswered: keepalive probes (sent only when idle, nothing in
     * flight or queued) or zero-window probes (only with data queued). The
     * two never run at once, so one count serves whichever runs; any
     * segment from the peer resets it, and so does the keepalive timer
     * finding data queued. */
    uint8_t probes_unanswered;
    uint8_t persist_shift; /* persist interval doublings (RFC 9293
                              §3.8.6.1): reset when the window opens */
    uint8_t keep_cnt;
    uint8_t snd_wscale;   /* RFC 7323 §2.3: shift for the peer's windows */
    uint8_t rcv_wscale;   /* ... and for ours; both 0 unless negotiated */
    uint8_t dupacks;      /* RFC 5681 §2: consecutive duplicate ACKs */
    uint8_t undo_retrans; /* RFC 3708: retransmissions of this recovery not
                             yet reported as duplicates by a D-SACK */
    uint8_t synopts;      /* SYNOPT_*: what the handshake agreed on */
    uint8_t cc_algo;      /* enum berth_cc */
    uint8_t quickacks;    /* data segments still to ACK at once */
    int16_t error;        /* pending error (negative berth_errno), SO_ERROR */
    uint32_t flags;
    /* ms clock (0: never) of our last answer to an invalid segment: out of
     * window, PAWS, challenge ACK (Linux's last_oow_ack_time; RFC 5961
     * §10): one per cfg.invalid_ratelimit. */
    uint32_t oow_ack_ms;

    uint32_t iss, irs;
    uint32_t snd_una, snd_nxt, snd_max;
    uint32_t snd_wnd, snd_wl1, snd_wl2;
    uint32_t max_sndwnd; /* largest window the peer offered */
    /* Congestion control (RFC 5681 §3; the growth law is the algorithm's:
     * cc_newreno.c, cc_cubic.c) and loss recovery (RFC 6582, RFC 6675). */
    uint32_t cwnd, ssthresh;
    uint32_t prior_cwnd, prior_ssthresh; /* before the last fast recovery,
                                            for its undo; 0: no undo */
    uint32_t recover;     /* RFC 6582 "recover" = RFC 6675 RecoveryPoint */
    uint32_t high_rxt;    /* RFC 6675 HighRxt: end of the last retransmit */
    uint32_t bytes_acked; /* RFC 3465 byte counting in avoidance */
    uint32_t lt_sent;     /* RFC 3042: sent by Limited Transmit, not yet in
                             the flight that sets ssthresh */
    uint32_t last_send;   /* ms clock (0: never); RFC 5681 §4.1 */
    /* The algorithm's own state (cc_*.c). */
    union tcp_cc_state cc;
    /* The receiver's SACK state (tcp_sack.c), here where the TCB has room
     * for it without padding; the sender's scoreboard follows. */
    uint32_t dsack_start, dsack_end; /* duplicate to report (TF_DSACK) */
    /* RFC 2018 §4, the order of our SACK blocks: a seq inside the block of
     * each of the latest out-of-order arrivals, newest first. The first
     * block reported holds sack_recent[0]; the next ones repeat the blocks
     * of the earlier entries; blocks of none of them follow in sequence
     * order. An entry whose block is gone (delivered) is skipped. Three
     * entries make the order exact beside timestamps (3 blocks) and for all
     * but the last of 4 blocks without (room in the TCB, issue 10). */
    uint32_t sack_recent[TCP_SACK_RECENT];
    struct tcp_scoreboard sacked; /* the peer's SACK blocks above snd_una */
    /* RACK-TLP (RFC 8985) and F-RTO (RFC 5682), tcp_rack.c and tcp_cc.c:
     * the per-segment records live in the send log, with the send data;
     * only what outlives a flight is here. */
    struct tcp_txlog *txlog; /* NULL: nothing outstanding, or no SACK */
    uint32_t tlp_end;        /* TLP.end_seq, while LR_TLP */
    uint8_t reo_mult;        /* RACK.reo_wnd_mult - 1 (§6.2 step 4) */
    uint8_t reo_persist;     /* RACK.reo_wnd_persist */
    uint8_t lr_flags;        /* LR_* */
    uint8_t rexmit_kind;     /* enum tcp_rexmit_kind of TCP_T_REXMIT */
    uint32_t rcv_nxt, rcv_adv;
    uint32_t rcv_fin;       /* seq of an out-of-order FIN (TF_OOO_FIN) */
    uint32_t last_ack_sent; /* RCV.NXT in our last ACK (RFC 7323 §4.3) */
    uint32_t ts_recent;     /* RFC 7323 §4.3: the TSval to echo */
    uint32_t ts_recent_age; /* when it was taken, seconds (§5.5) */
    uint32_t ts_offset;     /* TSval = ms clock + offset (§5.4) */
    uint16_t snd_mss;       /* effective send MSS (RFC 9293 §3.7.1) */
    uint16_t rcv_mss;       /* MSS we advertise */
    uint16_t rcv_seg_max;   /* largest segment received: "full-sized" */
    uint32_t delack_bytes;  /* received but not yet acknowledged */

    /* RFC 6298. rto_base excludes backoff. rtt_time: when the timed
     * segment left, the low 32 bits of the µs clock (an RTT is far below
     * 71 minutes); 0: nothing timed. */
    uint32_t srtt, rttvar, rto_base;
    uint32_t rtt_seq;
    uint32_t rtt_time;
    uint32_t last_rcv;      /* ms clock: keepalive idle reference */
    uint32_t unacked_since; /* ms clock: user timeout reference (RFC 5482) */
    uint32_t total_retrans;

    /* Options (socket-level settings). */
    /* Keepalive and user timeout, in milliseconds (2 h does not fit in 32
     * bits of microseconds); 0 user timeout = off. */
    uint32_t keep_idle_ms, keep_intvl_ms, user_timeout_ms;
    int32_t linger; /* -1 off; 0 = RST on close (also TF_LINGER0) */
    uint32_t sndbuf_size, rcvbuf_size;
    uint16_t user_mss;
    /* The last ICMP soft error (RFC 5461; tcp_icmp.c), a negative
     * berth_errno: reported instead of ETIMEDOUT if the connection times
     * out; cleared by an ACK of new data. 0: none. */
    int16_t soft_error;
    /* The low 32 bits of the 4-tuple's table hash (tcp_tuple_hash), set
     * when the TCB enters s->conns: its removal, and the TIME-WAIT entry
     * that takes its place, never hash again. 32 bits are all the table
     * keeps of a hash (base/htable.h). In what was a 4-byte hole. */
    uint32_t hash;

    struct ring snd, rcv; /* .buf NULL until first needed */
    struct tcp_reasm ooo;
    struct tcp_listener *listener; /* while in its accept queue */
    struct tcp_conn *aq_next;
};

/* A listening socket (RFC 9293 §3.10.7.2) with its two bounded queues. The
 * SYN queue entries live in the 4-tuple table (the third segment must find
 * them); `syn_count` bounds them. Accepted connections wait in a FIFO. */
struct tcp_listener {
    struct hnode h;
    uint32_t addr; /* 0 = any */
    uint16_t port;
    /* IPv6 (its template is an IPv6 socket); without v6only it takes IPv4
     * connections too (RFC 3493 §3.7), whose names read mapped. */
    bool v6, v6only;
    int32_t sock;
    uint32_t backlog, syn_count, aq_count;
    struct tcp_conn *aq_head, *aq_tail;
    /* Without SYN cookies, a full SYN queue evicts its oldest entry: the
     * 4-tuples of entries in arrival order (SYN-queue entries carry no
     * links, to stay small). Allocated at the first SYN, 2 * syn_backlog
     * slots; slots of entries gone since are skipped when evicting. */
    struct tcp_synring *synring;
    /* When the last SYN cookie was sent: a returning ACK is checked as a
     * cookie only within two cookie periods of it (as Linux's
     * tcp_synq_no_recent_overflow), unless cookies are always on. */
    uint64_t cookie_sent_at;
    /* What accepted connections inherit. */
    struct tcp_conn *tmpl;
};

/* ---- tcp_conn.c: records, tables, states ---- */
uint64_t tcp_tuple_hash(const struct berth_stack *s, bool v6, uint32_t laddr,
                        uint16_t lport, uint32_t raddr, uint16_t rport);
/* A segment of this 4-tuple comes next (berth_input_batch): its hash is
 * computed now, for tcp_lookup to take, and its bucket starts loading
 * into the cache while the packet before is processed. */
void tcp_prefetch(struct berth_stack *s, bool v6, uint32_t laddr,
                  uint16_t lport, uint32_t raddr, uint16_t rport, bool syn);
struct tcp_node *tcp_lookup(struct berth_stack *s, bool v6, uint32_t laddr,
                            uint16_t lport, uint32_t raddr, uint16_t rport);
/* n (a record of old's 4-tuple, not in the table) takes old's place in
 * the table under their hash, as tcp_node_remove(old) and
 * tcp_node_insert_hashed(n, hash) would: the TCB's TIME-WAIT entry, the
 * SYN-queue entry's TCB. */
void tcp_node_replace(struct berth_stack *s, struct tcp_node *old,
                      struct tcp_node *n, uint32_t hash);
/* The table hash (low 32 bits) of a record's 4-tuple, from what the
 * record or the connection cache keeps where they have it. */
uint32_t tcp_node_hash(struct berth_stack *s, const struct tcp_node *n);
/* tcp_lookup for a segment, syn: a SYN without ACK. The same record; a
 * SYN's is found in the table without asking the connection cache first
 * (a SYN seldom has a record: the cache's slot would only cost a flood of
 * them a line). */
struct tcp_node *tcp_lookup_seg(struct berth_stack *s, bool v6, uint32_t laddr,
                                uint16_t lport, uint32_t raddr, uint16_t rport,
                                bool syn);
/* Empties the connection cache (with the table, at teardown). */
void tcp_conn_cache_clear(struct berth_stack *s);
/* Connects (tcp_user.c, pick_ephemeral): when a connect has its port, the
 * 4-tuple the next connect to the same destination will try first is
 * hashed into *m and its table bucket prefetched, so that lookup (whose
 * bucket, among many TIME-WAIT entries, is otherwise a cache miss) finds
 * it warm; tcp_connect_take hands the hash to the lookup when the 4-tuple
 * tried is m's. The memo is the 4-tuple's hash whatever happened since. */
void tcp_connect_ahead(struct berth_stack *s, struct tuple_memo *m, bool v6,
                       uint32_t laddr, uint16_t lport, uint32_t raddr,
                       uint16_t rport);
void tcp_connect_take(struct berth_stack *s, const struct tuple_memo *m,
                      bool v6, uint32_t laddr, uint16_t lport, uint32_t raddr,
                      uint16_t rport);
/* The node's 4-tuple is set: takes its address reference (IPv6); and
 * gives it back when the record goes (tcp_node_put_addrs). */
void tcp_node_set_addrs(struct berth_stack *s, struct tcp_node *n, bool v6,
                        uint32_t laddr, uint16_t lport, uint32_t raddr,
                        uint16_t rport);
void tcp_node_put_addrs(struct berth_stack *s, struct tcp_node *n);
/* Into s->conns under the node's 4-tuple hash (a TCB remembers it) */
void tcp_node_insert(struct berth_stack *s, struct tcp_node *n);
/* The same, under a hash the caller knows (a TCB's, for the TIME-WAIT
 * entry that replaces it). */
void tcp_node_insert_hashed(struct berth_stack *s, struct tcp_node *n,
                            uint32_t hash);
void tcp_node_remove(struct berth_stack *s, struct tcp_node *n);
uint64_t tcp_node_rehash(const struct hnode *h, void *ctx);
uint64_t tcp_listener_rehash(const struct hnode *h, void *ctx);
struct tcp_conn *tcp_conn_new(struct berth_stack *s);
/* Registers the per-connection records' sizes with the stack's allocator
 * free lists (stack creation). */
void tcp_mem_classes(struct berth_stack *s);
/* What opening a TCB needs. */
struct tcp_open {
    bool v6;
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t iss;
    enum berth_state state; /* SYN-SENT (active) or SYN-RECEIVED (passive) */
    enum berth_reason why;  /* the traced cause; BERTH_REASON_NONE: traced
                               already (the request's LISTEN -> SYN-RECEIVED) */
    /* SYN-RECEIVED only: what the SYN-queue entry learnt. */
    uint32_t irs, ts_recent;
    uint32_t rcv_wnd; /* the window our SYN-ACK offered */
    uint16_t peer_mss;
    uint8_t synopts;
    bool syn_rexmit; /* the SYN-ACK was retransmitted (RFC 6298 §5.7) */
    /* A record of the 4-tuple in the table (the SYN-queue entry) whose
     * place the TCB takes (tcp_node_replace), under its hash; or NULL. */
    struct tcp_node *replaces;
    uint32_t hash;
};
/* The one place a TCB is initialised for a 4-tuple and an opening state:
 * sequence numbers, MSS, congestion control, the table, the state. */
void tcp_conn_open(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_open *o);
void tcp_conn_copy_options(struct tcp_conn *dst, const struct tcp_conn *src);
/* Every state change of a TCB goes through here: it traces (old, new,
 * cause), held against the transition table (tcp_fsm.c), and keeps
 * CURR_ESTAB. */
void tcp_set_state(struct berth_stack *s, struct tcp_conn *c,
                   enum berth_state st, enum berth_reason why);
/* Traces a state change of any record (SYN-queue entries have no TCB),
 * held against the transition table first. */
void tcp_trace_state(struct berth_stack *s, int sock, const struct tcp_node *n,
                     enum berth_state old, enum berth_state st,
                     enum berth_reason why);

/* ---- tcp_icmp.c: ICMP errors (tcp_icmp_error() is in ip/ip.h) ---- */
/* The error a connection that timed out reports: its last soft error
 * (RFC 5461), else BERTH_ETIMEDOUT. */
int tcp_timeout_error(const struct tcp_conn *c);
/* At a retransmission timeout (before it is counted in rexmits): with
 * cfg.mtu_probing, lowers the MSS of a connection whose full-sized
 * segment keeps timing out. */
void tcp_mtu_blackhole_check(struct berth_stack *s, struct tcp_conn *c);

/* ---- tcp_fsm.c: the transition table ---- */
/* One row: from any state in `from` (a mask of 1 << enum berth_state) to
 * `to`, caused by `why`, by the rule of RFC 9293 section `rfc`. */
struct tcp_fsm_row {
    uint32_t from;
    uint8_t to;  /* enum berth_state */
    uint8_t why; /* enum berth_reason */
    const char *rfc;
};
const struct tcp_fsm_row *tcp_fsm_rows(size_t *n);
/* The row that allows old -> st for why, or NULL. */
const struct tcp_fsm_row *
tcp_fsm_find(enum berth_state old, enum berth_state st, enum berth_reason why);
/* A transition not in the table is counted and traced as a drop with
 * BERTH_REASON_NONE (never a real drop's reason). */
void tcp_fsm_check(struct berth_stack *s, int sock, const struct tcp_node *n,
                   enum berth_state old, enum berth_state st,
                   enum berth_reason why);
/* The TCB is deleted (RFC 9293): out of the table, timers and buffers
 * gone, state CLOSED; the struct itself lives on while a handle holds it. */
void tcp_conn_delete(struct berth_stack *s, struct tcp_conn *c,
                     enum berth_reason why);
/* Frees c if neither a handle nor the table holds it. */
void tcp_conn_release(struct berth_stack *s, struct tcp_conn *c);
/* Deletes with an error for the application (ECONNRESET, ETIMEDOUT...). */
void tcp_conn_fail(struct berth_stack *s, struct tcp_conn *c, int err,
                   enum berth_reason why);
void tcp_conn_free_buffers(struct berth_stack *s, struct tcp_conn *c);
/* Room for n more bytes in the send buffer (after its readable bytes), as
 * far as the configured size and the memory budget allow: allocates or
 * grows the buffer. What the budget refuses is not an error: the caller
 * writes what fits (TF_MEM_WAIT is set). BERTH_ENOMEM: malloc failed. */
int tcp_conn_reserve_snd(struct berth_stack *s, struct tcp_conn *c, uint64_t n);
/* Whether the memory budget would let the send buffer grow now (from
 * nothing: take the smallest class). */
bool tcp_conn_snd_may_grow(const struct berth_stack *s,
                           const struct tcp_conn *c);
/* Room in the receive buffer for len bytes at offset off from RCV.NXT
 * (off > 0: out of order). Nonzero when refused; a refusal by the memory
 * budget is counted and traced as a drop (MEM_PRESSURE_OOO, MEM_LIMIT). */
int tcp_conn_reserve_rcv(struct berth_stack *s, struct tcp_conn *c,
                         uint32_t off, uint32_t len);
/* The most the receive buffer may hold now: the configured size, or under
 * memory pressure the buffer already allocated (at least the smallest
 * size class), or above the limit only the buffer allocated. */
uint32_t tcp_conn_rcv_cap(const struct berth_stack *s,
                          const struct tcp_conn *c);
/* Gives back whichever buffer is empty (allocated again when needed). */
void tcp_conn_trim_buffers(struct berth_stack *s, struct tcp_conn *c);
/* The 4-tuple's 64-bit keyed secret: the ISN's F (low half) and the
 * timestamp offset (high half). */
uint64_t tcp_tuple_prf(struct berth_stack *s, bool v6, uint32_t laddr,
                       uint16_t lport, uint32_t raddr, uint16_t rport);
uint32_t tcp_isn(struct berth_stack *s, bool v6, uint32_t laddr, uint16_t lport,
                 uint32_t raddr, uint16_t rport);
/* Whether a state has exchanged SYNs (RFC 9293 §3.3.2 "synchronized"). */
bool tcp_state_synchronized(enum berth_state st);
uint32_t tcp_poll(const struct tcp_conn *c);

/* ---- tcp_user.c: the user calls (RFC 9293 §3.10) for the socket layer ---- */
void tcp_user_attach(struct tcp_conn *c, int sock);
int tcp_user_bind(struct berth_stack *s, struct tcp_conn *c,
                  const struct berth_endpoint *ep);
/* Passive OPEN: c becomes the new listener's template; NULL with *err. */
struct tcp_listener *tcp_user_listen(struct berth_stack *s, struct tcp_conn *c,
                                     int sock, uint32_t backlog, int *err);
void tcp_user_set_backlog(struct tcp_listener *l, uint32_t backlog);
/* Active OPEN: BERTH_EINPROGRESS, or an error. */
int tcp_user_connect(struct berth_stack *s, struct tcp_conn *c,
                     const struct berth_endpoint *ep);
/* The endpoint of a TCB's address as its socket reports it (mapped for
 * an IPv4 4-tuple of an IPv6 socket). */
struct berth_endpoint tcp_conn_endpoint(const struct berth_stack *s,
                                        const struct tcp_conn *c, bool local);
/* The pending error (SO_ERROR), cleared. */
int tcp_user_take_error(struct tcp_conn *c);
/* 0 if SEND may queue data now, else the error for the caller. */
int tcp_user_send_ready(struct tcp_conn *c);
/* Queues data and sends what may go: bytes taken, BERTH_EAGAIN (buffer
 * full) or BERTH_ENOMEM. */
int tcp_user_send(struct berth_stack *s, struct tcp_conn *c, const void *buf,
                  size_t len);
/* RECEIVE: bytes read (0: nothing to read); then tcp_user_read_end() says
 * why: error, end of stream (0), BERTH_EAGAIN or BERTH_ENOTCONN. */
int tcp_user_read(struct berth_stack *s, struct tcp_conn *c, void *buf,
                  size_t len);
int tcp_user_read_end(struct tcp_conn *c, size_t len);
/* Zero-copy RECEIVE (berth_recv_consume): drops n (<= rcv.len) bytes the
 * application read in place, as tcp_user_read() does after its copy. */
int tcp_user_consume(struct berth_stack *s, struct tcp_conn *c, uint32_t n);
int tcp_user_shutdown(struct berth_stack *s, struct tcp_conn *c, int how);
/* ABORT (RFC 9293 §3.10.5): RST if the peer knows us, then delete. */
void tcp_user_abort(struct berth_stack *s, struct tcp_conn *c,
                    enum berth_reason why);
/* The handle lets go of c (and of its port): c, or NULL if it is freed. */
struct tcp_conn *tcp_user_detach(struct berth_stack *s, struct tcp_conn *c);
/* CLOSE of a detached TCB: FIN (and the FIN-WAIT-2 timer), RST, or
 * delete, by state. */
void tcp_user_close(struct berth_stack *s, struct tcp_conn *c);
void tcp_user_close_listener(struct berth_stack *s, int sock,
                             struct tcp_listener *l);
uint32_t tcp_listener_poll(const struct tcp_listener *l);
int tcp_user_setopt(struct berth_stack *s, struct tcp_conn *c,
                    enum berth_opt opt, int64_t v);
int tcp_user_getopt(const struct berth_stack *s, const struct tcp_conn *c,
                    enum berth_opt opt, int64_t *v);
void tcp_listener_info(const struct berth_stack *s,
                       const struct tcp_listener *l,
                       struct berth_tcp_info *out);
void tcp_conn_info(const struct berth_stack *s, const struct tcp_conn *c,
                   struct berth_tcp_info *out);
/* Info of any table record; returns its handle or -1. */
int tcp_node_info(const struct berth_stack *s, const struct tcp_node *n,
                  struct berth_tcp_info *out);
/* Calls fn for every record of the 4-tuple table; returns how many. */
size_t tcp_foreach_record(const struct berth_stack *s,
                          void (*fn)(void *ctx, int sock,
                                     const struct berth_tcp_info *info),
                          void *ctx);
/* Stack teardown: the table's records that no handle or listener holds,
 * then each listener (its accept queue and template) and each TCB a handle
 * holds. */
void tcp_destroy_table(struct berth_stack *s);
void tcp_destroy_listener(struct berth_stack *s, struct tcp_listener *l);
void tcp_destroy_conn(struct berth_stack *s, struct tcp_conn *c);

/* ---- tcp_options.c: window scale, timestamps, SACK-permitted ---- */
uint8_t tcp_wscale_for(uint32_t rcvbuf);
uint32_t tcp_ts_offset(struct berth_stack *s, const struct tcp_node *n);
uint32_t tcp_ts_now(const struct berth_stack *s, uint32_t offset);
/* The 1 ms clock for coarse times in the TCB (modulo 2^32 ms). */
static inline uint32_t tcp_ms_clock(const struct berth_stack *s)
{
    return (uint32_t)(s->now / USEC_PER_MS);
}
/* The clock in seconds (TS.Recent's age, RFC 7323 §5.5): now / 10^6 as
 * gcc computes it, the high half of a 64 x 64-bit product shifted (exact
 * for every 64-bit now). Written out: on the ACK path (update_ts_recent,
 * every segment with timestamps) gcc compiled the division as a `div` in
 * a block it optimized for size, 40 cycles or more (perf: a tenth of
 * tcp_conn_input's samples). */
static inline uint32_t tcp_sec_clock(const struct berth_stack *s)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    return (uint32_t)(((u128)s->now * 0x431bde82d7b634dbull) >> 82);
#else /* a 32-bit target: the division */
    return (uint32_t)(s->now / USEC_PER_SEC);
#endif
}
/* The same, never 0, for fields where 0 means unset. */
static inline uint32_t tcp_ms_now(const struct berth_stack *s)
{
    uint32_t ms = tcp_ms_clock(s);
    return ms ? ms : 1;
}
/* Coarse times in the TCB are 32-bit ms counts of the stack clock,
 * compared modulo 2^32: any two compared lie less than 2^31 ms (24.8 days)
 * apart, which the configuration and the options guarantee (stack.c's
 * config check, the option limits). A past ms time (tcp_ms_now) as µs
 * elapsed since the start of that millisecond: */
static inline uint64_t tcp_us_since(const struct berth_stack *s, uint32_t ms)
{
    int32_t age = (int32_t)((uint32_t)(s->now / 1000u) - ms);
    return (age > 0 ? (uint64_t)age * 1000u : 0) + s->now % 1000u;
}
/* A deadline's tick: the ms it falls in, rounded up (the timer wheel fires
 * at ms ticks, so nothing fires earlier or later than before); never 0. */
static inline uint32_t tcp_tick(uint64_t us)
{
    uint32_t t = (uint32_t)((us + 999u) / 1000u);
    return t ? t : 1;
}
/* A tick's time in µs, near now (within 2^31 ms either way). */
static inline uint64_t tcp_tick_us(const struct berth_stack *s, uint32_t tick)
{
    uint64_t now_ms = s->now / 1000u;
    int64_t d = (int32_t)(tick - (uint32_t)now_ms);
    return (uint64_t)((int64_t)now_ms + d) * 1000u;
}
/* The largest time a deadline may lie ahead: ticks are compared modulo
 * 2^32 ms. */
#define TCP_MAX_TIMEOUT_US ((uint64_t)INT32_MAX * 1000u)
/* What of a SYN's offers we take up (SYNOPT_* bits). */
uint8_t tcp_synopts_accept(const struct berth_stack *s,
                           const struct tcp_seg *syn);
/* The options of our SYN (offer_all) or SYN-ACK (what `agreed` allows). */
void tcp_syn_options(const struct berth_stack *s, const struct tcp_conn *c,
                     uint8_t agreed, bool offer_all, struct tcp_opts *o);
/* Records a handshake's outcome in the TCB. */
void tcp_apply_synopts(struct berth_stack *s, struct tcp_conn *c,
                       uint8_t agreed, uint32_t ts_recent);
/* Timestamp comparisons are modular, like sequence numbers. */
static inline bool ts_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

/* ---- congestion control: tcp_cc.c (glue, recovery), cc_*.c ---- */
/* The integer nearest to the cube root of x (CUBIC's K, in cc_cubic.c). */
uint32_t tcp_cubic_root(uint64_t x);
#define TCP_DUPTHRESH 3u /* RFC 5681 §3.2, RFC 6675 §2 */
struct tcp_cc {
    const char *name;
    void (*init)(struct tcp_conn *c);
    /* Congestion avoidance: new data acked while cwnd >= ssthresh. */
    void (*cong_avoid)(struct berth_stack *s, struct tcp_conn *c,
                       uint32_t acked);
    /* The new ssthresh at a loss (fast retransmit or timeout). */
    uint32_t (*ssthresh)(struct berth_stack *s, struct tcp_conn *c);
    /* A retransmission timeout (after ssthresh). May be NULL. */
    void (*on_rto)(struct tcp_conn *c);
    /* Slow start (cwnd < ssthresh): grows cwnd for `acked` new bytes; `ack`
     * is the segment (CUBIC's HyStart++ times it by its echoed timestamp).
     * Returns false if slow start ended on this ACK (ssthresh set): the
     * ACK then counts for congestion avoidance. */
    bool (*slow_start)(struct berth_stack *s, struct tcp_conn *c,
                       const struct tcp_seg *ack, uint32_t acked);
};
extern const struct tcp_cc tcp_cc_newreno;
extern const struct tcp_cc tcp_cc_cubic;
const struct tcp_cc *tcp_cc_of(const struct tcp_conn *c);
uint32_t tcp_flight_size(const struct tcp_conn *c);
/* A connection starts: IW, ssthresh "arbitrarily high" (RFC 5681 §3.1). */
void tcp_cc_init(struct berth_stack *s, struct tcp_conn *c);
/* RFC 5681 §3.1 eq. 2: slow start's growth for `acked` bytes (RFC 3465 with
 * L = 1 SMSS), divided by `div` (RFC 9406 §4.2 Conservative Slow Start). */
void tcp_cc_slow_start_grow(struct tcp_conn *c, uint32_t acked, uint32_t div);
/* An ACK arrived: before the window update, with whether it SACKed new
 * data. Handles duplicate ACKs, fast retransmit and recovery. */
void tcp_cc_on_ack(struct berth_stack *s, struct tcp_conn *c,
                   const struct tcp_seg *seg, uint32_t acked, bool dupack);
/* The retransmission timer expired (RFC 5681 §3.1 eq. 4, RFC 6582 §3.2.4). */
void tcp_cc_on_rto(struct berth_stack *s, struct tcp_conn *c);
/* Before sending new data after an idle period (RFC 5681 §4.1). */
void tcp_cc_restart_after_idle(struct berth_stack *s, struct tcp_conn *c);
/* A segment of a fast recovery was retransmitted (RFC 3708 bookkeeping). */
void tcp_cc_note_rexmit(struct tcp_conn *c);
/* A D-SACK block [start, end) arrived: undo the recovery if every
 * retransmission of it was unneeded (RFC 3708). */
void tcp_cc_on_dsack(struct berth_stack *s, struct tcp_conn *c, uint32_t start,
                     uint32_t end);
/* RACK marked segments lost (ACK or reordering timer): recovery. */
void tcp_cc_rack_lost(struct berth_stack *s, struct tcp_conn *c);
/* RFC 8985 §7.4.2: a loss probe repaired a loss; respond to it. */
void tcp_cc_tlp_loss(struct berth_stack *s, struct tcp_conn *c);
/* RFC 3042 Limited Transmit: how far beyond cwnd new data may go. */
uint32_t tcp_cc_limited_transmit(const struct tcp_conn *c);

/* ---- tcp_sack.c: SACK and D-SACK (RFC 2018, 2883, 6675 §3-4) ---- */
/* The receiver: the SACK blocks an ACK carries. */
void tcp_sack_fill(struct tcp_conn *c, struct tcp_opts *o);
/* Out-of-order data arrived at seq: its block is reported first. */
void tcp_sack_note_arrival(struct tcp_conn *c, uint32_t seq);
/* A duplicate arrived: report it in the next ACK, at once. */
void tcp_sack_note_dup(struct tcp_conn *c, uint32_t start, uint32_t end);
/* Data [off, off+len) past RCV.NXT arrived: the first part of it held
 * already out of order is reported as a duplicate (D-SACK). */
void tcp_sack_note_held_dup(struct tcp_conn *c, uint32_t off, uint32_t len);
/* Whether out-of-order data [off, off+len) past RCV.NXT is held already. */
bool tcp_sack_held(const struct tcp_conn *c, uint32_t off, uint32_t len);
/* The sender: an ACK arrived (after SND.UNA moved); its blocks go on the
 * scoreboard, its D-SACK to tcp_cc_on_dsack. True if new data was SACKed. */
bool tcp_sack_update(struct berth_stack *s, struct tcp_conn *c,
                     const struct tcp_seg *seg);
/* Forgets every block (and gives back the array). */
void tcp_sack_clear(struct berth_stack *s, struct tcp_conn *c);
/* RFC 6675 §4 IsLost(SND.UNA). */
bool tcp_sack_una_lost(const struct tcp_conn *c);
/* RFC 6675 §4 SetPipe: the bytes in flight. */
uint32_t tcp_sack_pipe(const struct tcp_conn *c);
/* RFC 6675 §4 NextSeg: the next range to send in recovery; false if none. */
bool tcp_sack_next_seg(const struct tcp_conn *c, uint32_t *seq, uint32_t *len,
                       bool *rexmit);

/* Whether recovery and pipe use RACK's loss marks (RFC 8985) rather than
 * RFC 6675's DupThresh (SACK agreed and the send log in use). */
static inline bool tcp_rack_on(const struct tcp_conn *c)
{
    return (c->flags & TF_SACK) && c->txlog != NULL;
}
/* Bytes SACKed on the scoreboard. */
uint32_t tcp_sack_sacked_bytes(const struct tcp_conn *c);
/* The scoreboard's block i (in sequence order), [start, end); false past
 * the last. */
bool tcp_sack_block(const struct tcp_conn *c, uint32_t i, uint32_t *start,
                    uint32_t *end);

/* ---- tcp_rack.c: the send log, RACK-TLP (RFC 8985) ---- */
/* [seq, end) (data, and the FIN if it ends there) was sent: a new segment,
 * or a retransmission if retrans (§6.1). */
void tcp_rack_sent(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                   uint32_t end, bool retrans);
void tcp_rack_free(struct berth_stack *s, struct tcp_conn *c);
/* The size of a new send log (the one a connection's first data makes). */
size_t tcp_rack_log_min_size(void);
/* An ACK arrived (after SND.UNA moved and its SACK blocks went on the
 * scoreboard): RACK's steps (§6.2), TLP's (§7.4). Returns the bytes it
 * delivered (RFC 6937 DeliveredData). */
uint32_t tcp_rack_on_ack(struct berth_stack *s, struct tcp_conn *c,
                         const struct tcp_seg *seg, uint32_t acked);
/* A D-SACK block [start, end) arrived. */
void tcp_rack_on_dsack(struct tcp_conn *c, uint32_t start, uint32_t end);
/* Where the last segment sent that starts below end starts (end if no
 * record says). */
uint32_t tcp_rack_last_start(const struct tcp_conn *c, uint32_t end);
/* Lost bytes not yet retransmitted: recovery is owed. */
bool tcp_rack_lost_pending(const struct tcp_conn *c);
/* RFC 6675 §4 SetPipe with RACK's loss marks. */
uint32_t tcp_rack_pipe(const struct tcp_conn *c);
/* NextSeg rule 1 with RACK's marks: the first lost range not resent. */
bool tcp_rack_next_lost(const struct tcp_conn *c, uint32_t *seq, uint32_t *len);
/* A timeout: SACK marks are void (RFC 2018 §8), go-back-N resends all. */
void tcp_rack_on_rto(struct tcp_conn *c);
/* A timeout proved spurious (F-RTO): nothing is lost after all. */
void tcp_rack_undo_rto(struct tcp_conn *c);
/* Recovery ended (§6.2 step 4: reo_wnd_persist counts recoveries). */
void tcp_rack_recovery_done(struct tcp_conn *c);
/* Arms the PTO instead of the RTO if a loss probe is due (§7.2). */
bool tcp_rack_arm_tlp(struct berth_stack *s, struct tcp_conn *c,
                      uint64_t rto_at);
/* The TCP_T_REXMIT deadline of kind REO or TLP passed. */
void tcp_rack_reo_timeout(struct berth_stack *s, struct tcp_conn *c);
void tcp_rack_tlp_timeout(struct berth_stack *s, struct tcp_conn *c);

/* ---- tcp_input.c: SEGMENT ARRIVES (RFC 9293 §3.10.7) ---- */
/* What a step of an input chain (synchronized states, SYN queue) tells the
 * chain. */
enum tcp_step {
    STEP_NEXT, /* go on to the next step */
    STEP_DONE, /* stop here; the record lives (output may owe something) */
    STEP_GONE, /* the record is gone: touch nothing */
};
void tcp_input(struct berth_stack *s, uint32_t src, uint32_t dst,
               struct tcp_seg *seg);
void tcp_conn_input(struct berth_stack *s, struct tcp_conn *c,
                    struct tcp_seg *seg);
uint16_t tcp_peer_mss(const struct berth_stack *s, const struct tcp_seg *seg,
                      uint16_t ours);

static inline uint64_t tcp_port_hash(uint16_t port)
{
    return (uint64_t)port * 0x9e3779b97f4a7c15ull >> 32;
}

/* ---- tcp_listen.c: LISTEN, the SYN queue, the accept queue ---- */
struct tcp_listener *tcp_listener_find(struct berth_stack *s, bool v6,
                                       uint32_t addr, uint16_t port);
/* A segment for a listener. isn: the ISN to use (a SYN that takes over a
 * TIME-WAIT 4-tuple), or 0 to choose one (RFC 6528). */
void tcp_listen_input(struct berth_stack *s, struct tcp_listener *l,
                      uint32_t src, uint32_t dst, struct tcp_seg *seg,
                      uint32_t isn);
void tcp_synreq_input(struct berth_stack *s, struct tcp_synreq *r,
                      struct tcp_seg *seg);
void tcp_synreq_timer(struct berth_stack *s, struct tcp_synreq *r);
void tcp_listener_close(struct berth_stack *s, struct tcp_listener *l);
/* Frees what the listener's SYN queue holds beside its entries. */
void tcp_listener_free_synring(struct berth_stack *s, struct tcp_listener *l);
struct tcp_conn *tcp_listener_accept(struct berth_stack *s,
                                     struct tcp_listener *l);
/* Takes c out of its listener's accept queue (reset before accept). */
void tcp_listener_unqueue(struct berth_stack *s, struct tcp_conn *c);

/* ---- tcp_output.c: the one place that decides what to send ---- */
/* Resends [seq, seq+len) (and the FIN if it ends there): fast retransmit,
 * NewReno partial ACKs, SACK recovery. */
void tcp_output_range(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                      uint32_t len);
/* RFC 8985 §7.3: one loss probe, new data if the peer's window allows,
 * else the last segment sent again; false if nothing could be sent. */
bool tcp_output_probe(struct berth_stack *s, struct tcp_conn *c, bool *retrans);
/* The sequence number of the first byte in the send buffer, and the end of
 * the data (where the FIN goes). */
uint32_t tcp_snd_data_seq(const struct tcp_conn *c);
void tcp_output(struct berth_stack *s, struct tcp_conn *c);
/* ACK piggybacking (s->defer_acks): a connection with a pure ACK waiting
 * in s->acks_owed sends it now, before its next segment is processed, so
 * the ACKs of a batch are the ones separate calls would send. */
void tcp_ack_owed_now(struct berth_stack *s, struct tcp_conn *c);
/* The end of the input call: the ACKs still owed go out. */
void tcp_ack_flush(struct berth_stack *s);
/* c is freed: it leaves s->acks_owed. */
void tcp_ack_forget(struct berth_stack *s, struct tcp_conn *c);
/* RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): the right edge we offer
 * moves in steps of at least min(buffer/2, MSS). */
uint32_t tcp_rcv_sws_step(const struct tcp_conn *c);
/* The room the receive buffer has now, as far as the window field can say
 * it (RFC 7323 §2.3) and the memory budget lets it grow (tcp_conn_rcv_cap):
 * what a window update could offer. */
uint32_t tcp_rcv_space(const struct berth_stack *s, const struct tcp_conn *c);
/* The window field for a window of wnd bytes: scaled by shift (RFC 7323
 * §2.3; 0 in a SYN or SYN-ACK, §2.2) and clamped to 16 bits. */
static inline uint16_t tcp_window_field(uint32_t wnd, uint8_t shift)
{
    uint32_t f = wnd >> shift;
    return (uint16_t)(f < TCP_WINDOW_FIELD_MAX ? f : TCP_WINDOW_FIELD_MAX);
}
/* A segment for a 4-tuple, built in the stack's scratch buffer. */
struct tcp_out {
    bool v6; /* laddr/raddr are interned IPv6 ids (tcp_node) */
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd; /* the window field, already scaled */
    struct tcp_opts opts;
    const struct ring *data;
    uint32_t data_off, len;
    uint16_t gso_size; /* > 0: a TSO super-segment, len a multiple of it */
};
void tcp_send(struct berth_stack *s, const struct tcp_out *o);
/* The bare ACK of a record without a TCB (SYN-queue entry, TIME-WAIT):
 * <SEQ=seq><ACK=ack><CTL=ACK>, with timestamps when they were agreed (RFC
 * 7323 §3.2: on every segment). TCBs send theirs from tcp_output(). */
void tcp_send_record_ack(struct berth_stack *s, const struct tcp_node *n,
                         uint32_t seq, uint32_t ack, uint16_t wnd, bool ts,
                         uint32_t ts_recent);
/* RFC 9293 §3.10.7.1: the reset a segment draws (no connection, or an
 * unacceptable ACK in SYN-SENT / SYN-RECEIVED); it echoes the segment's
 * TSval (RFC 7323 §5.2). */
void tcp_send_rst_for(struct berth_stack *s, uint32_t src, uint32_t dst,
                      const struct tcp_seg *seg);
/* The RST of a connection we abort: <SEQ=SND.NXT><CTL=RST> (RFC 9293
 * §3.10.5), with the Timestamps option if agreed (RFC 7323 §5.2). */
void tcp_send_abort_rst(struct berth_stack *s, struct tcp_conn *c);
/* The RST of a connection that ends on a segment (as if it no longer
 * existed): <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.5.2 rule 1), with the
 * Timestamps option if agreed. */
void tcp_send_rst_at_ack(struct berth_stack *s, struct tcp_conn *c,
                         const struct tcp_seg *seg);
/* The SYN-ACK of a SYN-queue entry; window and MSS from the listener's
 * template TCB. */
void tcp_send_synack(struct berth_stack *s, const struct tcp_synreq *r,
                     const struct tcp_conn *tmpl);
void tcp_send_persist_probe(struct berth_stack *s, struct tcp_conn *c);
void tcp_send_keepalive(struct berth_stack *s, struct tcp_conn *c);
/* The MSS we advertise for c's settings: min(config, user MSS). */
uint16_t tcp_our_mss(const struct berth_stack *s, const struct tcp_conn *c);
/* The same for a 4-tuple of the family v6 (a dual-stack listener's
 * template serves IPv4 SYNs too). */
uint16_t tcp_our_mss_fam(const struct berth_stack *s, const struct tcp_conn *c,
                         bool v6);
/* RFC 5961 §7: a challenge ACK, unless the rate limits say no: the
 * connection's (tcp_oow_limited) and the stack's randomised budget. */
void tcp_challenge_ack(struct berth_stack *s, struct tcp_conn *c);
/* The stack-wide, randomised challenge-ACK budget of the current second:
 * true (and counted) if one more may be sent; else counted as limited. */
bool tcp_challenge_budget(struct berth_stack *s, int sock,
                          const struct tcp_node *n);
/* RFC 5961 §10, Linux's tcp_oow_rate_limited: true (counted and traced)
 * if the answer to seg, an invalid segment, must not be sent, because c
 * answered one less than cfg.invalid_ratelimit ago; else records the answer
 * and returns false. Segments with text or a FIN are always answered (a peer
 * that resends data we have needs the ACK; an ACK loop carries none). */
bool tcp_oow_limited(struct berth_stack *s, struct tcp_conn *c,
                     const struct tcp_seg *seg);
/* The same for a TIME-WAIT entry, with its one-byte tick. */
bool tcp_oow_limited_tick(struct berth_stack *s, struct tcp_timewait *tw,
                          const struct tcp_seg *seg);
/* The tick a new TIME-WAIT entry starts with: c's last answer, or one
 * that limits nothing. */
uint8_t tcp_oow_tick_init(const struct berth_stack *s,
                          const struct tcp_conn *c);
/* A SYN-ACK carrying a SYN cookie (r is not in any table): its TSval
 * carries r->opts (tcp_cookie_tsval). */
void tcp_send_cookie_synack(struct berth_stack *s, const struct tcp_synreq *r,
                            const struct tcp_conn *tmpl);

/* ---- tcp_timer.c: deadlines and what happens when they pass ---- */
/* The deadline `which` set to `when` (its ms tick) or cleared, and the
 * TCB's wheel timer re-armed at the earliest. Inline: the common calls
 * change nothing (segments sent within one tick restart the
 * retransmission timer at the same tick; every segment sent clears a
 * delayed ACK that is rarely set) and cost a compare, not a call. */
void tcp_timer_set_slow(struct berth_stack *s, struct tcp_conn *c,
                        enum tcp_deadline which, uint32_t tick);
void tcp_timer_clear_slow(struct berth_stack *s, struct tcp_conn *c,
                          enum tcp_deadline which);
static inline void tcp_timer_set(struct berth_stack *s, struct tcp_conn *c,
                                 enum tcp_deadline which, uint64_t when)
{
    uint32_t tick = tcp_tick(when);
    /* Unchanged, and the wheel timer armed (at the earliest deadline, as
     * every change re-arms it): nothing to do. */
    if (c->deadline[which] != tick || !timer_armed(&c->n.timer))
        tcp_timer_set_slow(s, c, which, tick);
}
static inline void tcp_timer_clear(struct berth_stack *s, struct tcp_conn *c,
                                   enum tcp_deadline which)
{
    if (c->deadline[which])
        tcp_timer_clear_slow(s, c, which);
}
void tcp_timer_fire(struct timer *t, void *ctx); /* wheel callback */
uint32_t tcp_rto(const struct berth_stack *s, const struct tcp_conn *c);
/* base doubled shift times, at most the maximum RTO (RFC 6298 §5.5): RTOs,
 * persist intervals and SYN-ACK retransmissions back off alike. */
uint32_t tcp_backoff(const struct berth_stack *s, uint32_t base,
                     unsigned shift);
void tcp_rtt_sample(struct berth_stack *s, struct tcp_conn *c, uint32_t rtt);
/* Arms (or stops) the retransmission timer after an ACK or a send. */
void tcp_rexmit_restart(struct berth_stack *s, struct tcp_conn *c);
void tcp_keepalive_reset(struct berth_stack *s, struct tcp_conn *c);
/* Starts keepalive if enabled and the state is ESTABLISHED/CLOSE-WAIT. */
void tcp_keepalive_start(struct berth_stack *s, struct tcp_conn *c);

/* ---- tcp_timewait.c: TIME-WAIT ---- */
/* c enters TIME-WAIT. With no handle on it, it becomes a compact entry and
 * the TCB is freed (c is gone on return). */
void tcp_time_wait(struct berth_stack *s, struct tcp_conn *c,
                   enum berth_reason why);
void tcp_timewait_input(struct berth_stack *s, struct tcp_timewait *tw,
                        uint32_t src, uint32_t dst, struct tcp_seg *seg);
/* A segment for a TCB in TIME-WAIT (still held by a handle); false if
 * the TCB left the table (a new SYN took the 4-tuple over). */
bool tcp_time_wait_tcb_input(struct berth_stack *s, struct tcp_conn *c,
                             struct tcp_seg *seg);
/* The application closed a TCB in TIME-WAIT: shrink it. */
void tcp_time_wait_shrink(struct berth_stack *s, struct tcp_conn *c);
void tcp_timewait_timer(struct berth_stack *s, struct tcp_timewait *tw);
void tcp_timewait_free(struct berth_stack *s, struct tcp_timewait *tw);

/* Sequence space a segment occupies: SYN and FIN count (RFC 9293 §3.4). */
static inline uint32_t tcp_seg_space(const struct tcp_seg *seg)
{
    return seg->len + ((seg->flags & TH_SYN) ? 1u : 0u) +
           ((seg->flags & TH_FIN) ? 1u : 0u);
}

#define TCP_DEFAULT_MSS  536u  /* RFC 9293 §3.7.1: without an MSS option */
#define TCP_DEFAULT_MSS6 1220u /* ... over IPv6 (1280 - 60, MUST-15) */
#define TCP_MIN_MSS      64u   /* the least MSS we use or accept */

/* ---- tcp_log.c: the event log's events (docs/events.md), each called
 * only when stack_log_on() ---- */
void tcp_log_state(struct berth_stack *s, int sock, const struct tcp_node *n,
                   enum berth_state old, enum berth_state st,
                   enum berth_reason why);
/* v6: the addresses are interned IPv6 ids (as in struct tcp_node). */
void tcp_log_drop(struct berth_stack *s, int sock, bool v6, uint32_t laddr,
                  uint16_t lport, uint32_t raddr, uint16_t rport,
                  enum berth_reason why);
/* A segment carried from src to dst (out: we send it). */
void tcp_log_segment(struct berth_stack *s, bool out, bool v6, uint32_t src,
                     uint32_t dst, const struct tcp_seg *seg);
void tcp_log_rtt(struct berth_stack *s, const struct tcp_conn *c,
                 uint32_t sample);
void tcp_log_cc(struct berth_stack *s, const struct tcp_conn *c,
                enum berth_cc_cause cause);
/* event: 1 entered, 0 left, -1 undone; rto: a timeout's recovery. */
void tcp_log_recovery(struct berth_stack *s, const struct tcp_conn *c,
                      int event, bool rto);
void tcp_log_sack(struct berth_stack *s, const struct tcp_conn *c);
void tcp_log_timer(struct berth_stack *s, const struct tcp_conn *c,
                   enum tcp_deadline which, enum berth_timer_action action);
/* n: the record whose endpoints the call names (a connection's, or a
 * listener's local one), or NULL. */
void tcp_log_app(struct berth_stack *s, int sock, const struct tcp_node *n,
                 enum berth_app_call call, uint64_t len, int result);

#endif
