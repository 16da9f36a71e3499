/* The scenario runner: types shared by its files. A script is parsed whole
 * into a struct scn_script (parse.c, with the name tables of names.c), then
 * run against one berth stack in virtual time (run.c, calls.c); segments are
 * built, decoded, matched and printed by packet.c. Public API only. */
#ifndef BERTH_SCENARIO_H
#define BERTH_SCENARIO_H

#include <berth/berth.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCN_MAX_VARS     64
#define SCN_MAX_OPTS     12
#define SCN_MAX_SACK     4 /* blocks in one SACK option (RFC 2018 §3) */
#define SCN_MAX_TUPLES   64
#define SCN_MAX_NAME     32
#define SCN_MAX_ADVANCES 100000u
#define SCN_MAX_PENDING  100000u
#define SCN_MAX_IO       (16u * 1024u * 1024u) /* send/recv N bound */
#define SCN_NO_TIME      UINT64_MAX

/* TCP option kinds the scripts can name (RFC 9293 §3.2, RFC 7323, 2018). */
#define SCN_OPT_EOL    0u
#define SCN_OPT_NOP    1u
#define SCN_OPT_MSS    2u
#define SCN_OPT_WSCALE 3u
#define SCN_OPT_SACKOK 4u
#define SCN_OPT_SACK   5u
#define SCN_OPT_TS     8u

/* Flag bits beyond the public BERTH_TH_* (ECN, RFC 3168). */
#define SCN_TH_ECE 0x40u
#define SCN_TH_CWR 0x80u

enum scn_kind {
    SCN_SEG_IN,  /* "<" segment from the peer */
    SCN_SEG_OUT, /* ">" segment the stack must send */
    SCN_RAW_IN,  /* "< raw HEX" */
    SCN_SOCKET,
    SCN_BIND,
    SCN_LISTEN,
    SCN_ACCEPT,
    SCN_CONNECT,
    SCN_SEND,
    SCN_RECV,
    SCN_SHUTDOWN,
    SCN_CLOSE,
    SCN_ABORT,
    SCN_SETOPT,
    SCN_POLL,
    SCN_ERROR,
    SCN_STATE,
    SCN_INFO,
    SCN_COUNTER,
    SCN_DROP,
    SCN_EVENTS,
    SCN_MEM,
    SCN_DEADLINE,
    SCN_UDP_SOCKET,
    SCN_DGRAM_IN,  /* "< icmp ..." or "< udp ..." (dgram.c) */
    SCN_DGRAM_OUT, /* "> icmp ..." or "> udp ..." */
};

struct scn_opt {
    uint8_t kind;  /* SCN_OPT_*, or any kind seen on the wire */
    uint32_t a, b; /* MSS / shift / TSval,TSecr / SACK: a = blocks (in the
                      segment's sack[]); unknown kinds: a = length */
};

struct scn_sack {
    uint32_t start, end; /* one SACK block, [start, end) */
};

/* One segment line. Sequence numbers and timestamps are as the script
 * writes them: the peer's absolute, ours relative to our ISS or to our
 * first TSval (see README.md). */
struct scn_seg {
    uint8_t flags; /* BERTH_TH_* | SCN_TH_* */
    bool has_seq, has_ack, has_win, has_port, has_lport, has_peer_isn;
    bool badsum;
    bool ipv4; /* "ipv4" on a line of an IPv6 script: over IPv4 instead */
    uint32_t seq, ack, win, len, peer_isn;
    uint16_t port, lport;
    uint8_t nopts;
    struct scn_opt opts[SCN_MAX_OPTS]; /* in script (or wire) order */
    uint8_t nsack;                     /* the SACK option's blocks, in order */
    struct scn_sack sack[SCN_MAX_SACK];
};

/* One API line. Which fields mean something depends on the kind. */
struct scn_call {
    int var;     /* handle variable, -1 if none */
    int out_var; /* "-> y", -1 if none */
    int which;   /* option / info field / counter / reason / state index */
    uint32_t addr;
    uint8_t addr6[16]; /* bind/connect with an IPv6 address (v6) */
    bool v6;
    uint16_t port;
    int64_t arg;   /* N, backlog, how, value, mask, expected error */
    uint64_t when; /* deadline: time, or SCN_NO_TIME */
    const struct scn_field *field; /* info */
    bool has_expect;
    int64_t expect; /* "= R" */
};

/* An ICMP message or UDP datagram line (dgram_parse.c, dgram.c). */
struct scn_dgram {
    uint8_t proto;      /* 1 ICMP, 17 UDP */
    uint8_t type, code; /* ICMP */
    bool has_id, has_seq, has_mtu, has_from, has_port, has_lport;
    uint16_t id, seq; /* echo */
    uint16_t mtu;     /* fragmentation needed: next-hop MTU */
    uint32_t from;    /* "< icmp" source (a router), default the peer */
    bool from_v6;     /* from is an IPv6 address: from6 */
    uint8_t from6[16];
    uint32_t len; /* echo data or UDP payload bytes */
    uint16_t port, lport;
    /* An error message's quote: a TCP segment we sent (qflags, qseq our
     * number relative to our ISS, qlen) or, with quote-udp, a datagram. */
    bool quote, quote_udp;
    bool nosum, badsum; /* "< udp": checksum field 0 (none), or wrong */
    bool ipv4;          /* in an IPv6 script: over IPv4 instead */
    uint8_t qflags;
    uint32_t qseq, qlen;
};

struct scn_event {
    int line;
    char *text;    /* the line as written, for messages: owned */
    uint64_t time; /* virtual microseconds */
    enum scn_kind kind;
    struct scn_seg seg;
    struct scn_call call;
    struct scn_dgram dg;
    uint8_t *raw; /* SCN_RAW_IN: owned */
    size_t raw_len;
};

struct scn_script {
    const char *file;
    struct berth_config cfg; /* defaults + "config" directives */
    bool has_isn, has_peer_isn, has_lport;
    uint32_t isn, peer_isn;
    uint32_t local_addr, remote_addr;
    /* An IPv6 script (`local`/`remote` given IPv6 addresses): segments go
     * over IPv6 between these, unless a line says ipv4. */
    bool v6;
    uint8_t local6[16], remote6[16];
    uint16_t remote_port, local_port;
    int nvars;
    char vars[SCN_MAX_VARS][SCN_MAX_NAME];
    size_t nev, cap;
    struct scn_event *ev;
};

/* parse.c */
int scn_parse_file(const char *file, struct scn_script *sc);
/* The same from text in memory (NUL-terminated at text[len]; modified in
 * place); `file` names it in messages. */
int scn_parse_text(const char *file, char *text, size_t len,
                   struct scn_script *sc);
void scn_script_free(struct scn_script *sc);

/* names.c: name tables. Lookups return -1 when the name is unknown. */
enum scn_field_kind {
    SCN_F_PLAIN,
    SCN_F_TIME,     /* microseconds: units accepted */
    SCN_F_OUR_SEQ,  /* relative to our ISS */
    SCN_F_PEER_SEQ, /* absolute */
    SCN_F_STATE,
    SCN_F_ADDR,
    SCN_F_BOOL, /* 0 or 1 (also "false", "true") */
    SCN_F_CC,   /* enum berth_cc: a number, "newreno" or "cubic" */
};
struct scn_field {
    const char *name;
    size_t offset, size;
    enum scn_field_kind kind;
};
const struct scn_field *scn_config_field(const char *name);
const struct scn_field *scn_info_field(const char *name);
int scn_setopt_lookup(const char *name, bool *is_time);
int scn_cc_lookup(const char *name);    /* enum berth_cc */
int scn_errno_lookup(const char *name); /* negative code; 1 if unknown */
const char *scn_errno_name(int64_t v);  /* NULL unless a known code */
int scn_state_lookup(const char *name);
int scn_counter_lookup(const char *name);
int scn_reason_lookup(const char *name);
int scn_evmask_parse(const char *s, uint32_t *mask);
void scn_evmask_format(uint32_t mask, char *buf, size_t size);
uint64_t scn_field_get(const void *base, const struct scn_field *f);
void scn_field_set(void *base, const struct scn_field *f, uint64_t v);

/* Numbers: decimal or 0x hex, whole token. Times: "1.5s", "40ms", "500us";
 * a bare number is returned as is (raw microseconds). 0 on success. */
int scn_parse_u64(const char *s, uint64_t *out);
int scn_parse_i64(const char *s, int64_t *out);
int scn_parse_units(const char *s, uint64_t *out);
int scn_parse_addr(const char *s, uint32_t *out);
/* An IPv6 address (inet_pton's forms) into out[16]; 0 or -1. */
int scn_parse_addr6(const char *s, uint8_t out[16]);
/* "198.18.0.1" or "[2001:db8:b::1]", whichever family ep has. */
void scn_format_ep(const struct berth_endpoint *ep, char *buf, size_t size);
#define SCN_EPSTRLEN (BERTH_ADDRSTRLEN + 2)
/* Event times: seconds with up to 6 decimals ("0.100"), in microseconds. */
int scn_parse_seconds(const char *s, uint64_t *out);
void scn_format_time(uint64_t us, char *buf, size_t size);
void scn_format_addr(uint32_t addr, char *buf, size_t size);

/* packet.c */
uint8_t scn_pattern(uint64_t offset); /* the byte at a stream offset */
/* Wire layout of a built inbound segment; all numbers absolute. */
struct scn_wire {
    bool v6; /* IPv6 between src6 and dst6 */
    const uint8_t *src6, *dst6;
    uint32_t src, dst;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint64_t pay_off; /* stream offset of the first payload byte */
};
/* Builds IPv4+TCP for seg into a malloc'd buffer; NULL on error. */
uint8_t *scn_build(const struct scn_seg *seg, const struct scn_wire *w,
                   size_t *len);
/* A packet the stack sent, decoded into script terms. */
struct scn_got {
    struct berth_segment d;
    struct scn_seg seg; /* seq still absolute; ack absolute */
    const uint8_t *payload;
    const char *malformed; /* NULL, or why it could not be decoded */
};
void scn_decode(const uint8_t *pkt, size_t len, struct scn_got *out);
/* Writes "S. seq 0 ack 1001 win 65535 mss 1460" (len when nonzero). */
void scn_seg_format(const struct scn_seg *seg, bool outbound, char *buf,
                    size_t size);
/* Lists the fields of got that differ from want ("win, mss"); "" if none.
 * Ports, addresses and payload are checked by the caller. */
void scn_seg_diff(const struct scn_seg *want, const struct scn_seg *got,
                  char *buf, size_t size);

/* run.c: the runner's state while a script runs. */
struct scn_pkt {
    uint64_t time; /* virtual time the stack sent it */
    size_t len;
    uint8_t *data;
};

/* What the runner knows of one 4-tuple (our address is fixed). The
 * numbers are fixed once, by the first SYN (or timestamp): a later
 * incarnation on the same 4-tuple stays relative to them (so a script can
 * show that a reopening ISS lies beyond the old one). */
struct scn_tuple {
    uint16_t lport, rport;
    uint32_t raddr;
    bool has_iss, has_peer, has_ts_base;
    uint32_t iss;      /* from the first SYN we sent on it */
    uint32_t peer_isn; /* from the first SYN the peer sent, or peer-isn */
    uint32_t ts_base;  /* the first TSval we sent on it (RFC 7323 §3) */
};

struct scn_var {
    int handle;
    bool udp; /* a datagram socket: each datagram's pattern starts at 0 */
    uint64_t sent, rcvd; /* stream offsets of send and recv */
};

struct scn_evrec {
    int sock;
    uint32_t mask; /* OR of the callback's masks since the last "events" */
};

#define SCN_TRACE_RING 8
#define SCN_MAX_EVRECS 4096

struct scn_runner {
    const struct scn_script *sc;
    struct berth_stack *s;
    bool verbose;
    uint64_t now;
    const struct scn_event *ev; /* the event being run, for messages */
    struct scn_pkt *q;          /* captured, not yet matched: FIFO */
    size_t qhead, qlen, qcap;
    bool q_overflow, evrec_overflow;
    size_t ntuples;
    struct scn_tuple tuples[SCN_MAX_TUPLES];
    struct scn_var vars[SCN_MAX_VARS];
    size_t nevrecs;
    struct scn_evrec evrecs[SCN_MAX_EVRECS];
    bool has_lport;
    uint16_t lport; /* default local port: bind, connect, "local" */
    size_t base_allocs, base_bytes;
    unsigned ntraces;
    char traces[SCN_TRACE_RING][192];
};

int scn_run(const struct scn_script *sc, bool verbose);
/* Prints "file:line: message" (and recent traces); returns -1. */
int scn_fail(struct scn_runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
struct scn_tuple *scn_tuple_find(struct scn_runner *r, uint16_t lport,
                                 uint32_t raddr, uint16_t rport, bool create);

/* calls.c: the API lines. */
int scn_call_run(struct scn_runner *r, const struct scn_event *ev);

/* dgram_parse.c: "icmp ..." / "udp ..." after the direction; tok[0] is
 * "icmp" or "udp". 0, or -1 after printing "file:line: message". */
int scn_parse_dgram(const char *file, int line, int ntok, char *const *tok,
                    bool in, struct scn_event *ev);
/* dgram.c: inject one, or match the next packet the stack sent. */
int scn_dgram_inject(struct scn_runner *r, const struct scn_event *ev);
int scn_dgram_expect(struct scn_runner *r, const struct scn_event *ev);

#endif
