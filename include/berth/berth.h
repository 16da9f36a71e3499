/* berth — a TCP/IP stack in user space.
 *
 * The public API. The core is sans-IO and deterministic: it never reads a
 * clock or performs I/O. You hand it packets and the time (microseconds, any
 * monotonic origin), it hands back packets through a transmit hook and
 * readiness through a callback. Same inputs, same outputs, every time.
 */
#ifndef BERTH_BERTH_H
#define BERTH_BERTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct berth_stack;

/* The library's version, "MAJOR.MINOR.PATCH" (e.g. "0.1.0"). */
const char *berth_version(void);
/* The git commit it was built from ("3f2c1a9b0d4e", "-dirty" appended when
 * the tree had uncommitted changes), or "unknown" outside a git checkout. */
const char *berth_commit(void);

/* ------------------------------------------------------------------------
 * Errors: negative errno-style codes (Linux values), one list for the enum,
 * berth_strerror() and berth_errname().
 */
#define BERTH_ERRNO_MAP(X)                                                     \
    X(EBADF, 9, "bad socket handle")                                           \
    X(EAGAIN, 11, "resource temporarily unavailable")                          \
    X(ENOMEM, 12, "out of memory")                                             \
    X(EINVAL, 22, "invalid argument")                                          \
    X(EMFILE, 24, "too many open sockets")                                     \
    X(EPIPE, 32, "broken pipe")                                                \
    X(EPROTO, 71, "protocol error")                                            \
    X(EDESTADDRREQ, 89, "destination address required")                        \
    X(EMSGSIZE, 90, "message too long")                                        \
    X(ENOPROTOOPT, 92, "option not available")                                 \
    X(EOPNOTSUPP, 95, "operation not supported")                               \
    X(EAFNOSUPPORT, 97, "address family not supported")                        \
    X(EADDRINUSE, 98, "address already in use")                                \
    X(EADDRNOTAVAIL, 99, "address not available")                              \
    X(ENETUNREACH, 101, "network is unreachable")                              \
    X(ECONNABORTED, 103, "connection aborted")                                 \
    X(ECONNRESET, 104, "connection reset by peer")                             \
    X(EISCONN, 106, "socket is already connected")                             \
    X(ENOTCONN, 107, "socket is not connected")                                \
    X(ETIMEDOUT, 110, "connection timed out")                                  \
    X(ECONNREFUSED, 111, "connection refused")                                 \
    X(EHOSTUNREACH, 113, "no route to host")                                   \
    X(EALREADY, 114, "operation already in progress")                          \
    X(EINPROGRESS, 115, "operation in progress")

enum berth_errno {
#define BERTH_ERRNO_ENUM(name, val, msg) BERTH_##name = -(val),
    BERTH_ERRNO_MAP(BERTH_ERRNO_ENUM)
#undef BERTH_ERRNO_ENUM
};

/* "connection reset by peer" for BERTH_ECONNRESET; "unknown error" else. */
const char *berth_strerror(int err);
/* "ECONNRESET" for BERTH_ECONNRESET; "OK" for 0; NULL when unknown. */
const char *berth_errname(int err);

/* ------------------------------------------------------------------------
 * Connection states, in RFC 9293 §3.3.2 order. Names print the RFC's way.
 */
#define BERTH_STATE_MAP(X)                                                     \
    X(CLOSED, "CLOSED")                                                        \
    X(LISTEN, "LISTEN")                                                        \
    X(SYN_SENT, "SYN-SENT")                                                    \
    X(SYN_RECEIVED, "SYN-RECEIVED")                                            \
    X(ESTABLISHED, "ESTABLISHED")                                              \
    X(FIN_WAIT_1, "FIN-WAIT-1")                                                \
    X(FIN_WAIT_2, "FIN-WAIT-2")                                                \
    X(CLOSE_WAIT, "CLOSE-WAIT")                                                \
    X(CLOSING, "CLOSING")                                                      \
    X(LAST_ACK, "LAST-ACK")                                                    \
    X(TIME_WAIT, "TIME-WAIT")

enum berth_state {
#define BERTH_STATE_ENUM(name, str) BERTH_STATE_##name,
    BERTH_STATE_MAP(BERTH_STATE_ENUM)
#undef BERTH_STATE_ENUM
        BERTH_STATE__COUNT
};

const char *berth_state_name(enum berth_state st);

/* ------------------------------------------------------------------------
 * Reasons: why a segment was dropped or rejected, and what caused a state
 * change. One list generates the enum, the names and the drop counters.
 */
#define BERTH_REASON_MAP(X)                                                    \
    X(NONE, "no reason")                                                       \
    /* parse: src/wire/ rejects these before any state is touched */           \
    X(SHORT_PACKET, "packet shorter than its headers")                         \
    X(BAD_IP_VERSION, "IP version is not 4 (nor 6 with IPv6 on)")              \
    X(BAD_IHL, "IPv4 header length out of range")                              \
    X(BAD_IP_LENGTH, "IPv4 total length inconsistent")                         \
    X(BAD_IP_CHECKSUM, "IPv4 header checksum wrong")                           \
    X(IP_FRAGMENT,                                                             \
      "IPv4 fragment of TCP (or another protocol): not reassembled")           \
    X(NOT_TCP, "IP protocol not TCP (decode), or none the stack speaks")       \
    X(NOT_FOR_US, "destination is not our address")                            \
    X(BAD_DATA_OFFSET, "TCP data offset out of range")                         \
    X(BAD_OPTION, "TCP option truncated or of illegal length")                 \
    X(BAD_TCP_CHECKSUM, "TCP checksum wrong")                                  \
    X(SYN_FIN, "SYN and FIN both set")                                         \
    X(SYN_RST, "SYN and RST both set")                                         \
    X(BAD_PORT, "port zero")                                                   \
    /* IPv6 parse (RFC 8200): src/wire/ipv6.c */                               \
    X(BAD_IP6_LENGTH, "IPv6 payload length beyond the packet")                 \
    X(BAD_EXT_HEADER,                                                          \
      "IPv6 extension header truncated, misplaced or too many")                \
    X(IP6_OPTION_DISCARD,                                                      \
      "IPv6 option of unknown type whose action bits say discard")             \
    X(IP6_ROUTING_TYPE0, "IPv6 routing header type 0 (RFC 5095)")              \
    X(IP6_ROUTING_UNKNOWN,                                                     \
      "IPv6 routing header of unknown type with segments left")                \
    X(IP6_FRAGMENT, "IPv6 fragments are not reassembled for TCP")              \
    X(IP6_NO_MEMORY, "no memory to keep an IPv6 peer's address: dropped")      \
    /* sources that cannot send (RFC 1122 §3.2.1.3, RFC 9293 §3.10.7.2) */   \
    X(BAD_SOURCE,                                                              \
      "source broadcast, multicast, unspecified or loopback: dropped")         \
    X(LAND, "source is our own address and port (LAND): dropped")              \
    /* demultiplexing and LISTEN (RFC 9293 §3.10.7.1-2) */                    \
    X(NO_SOCKET, "no connection or listener: answered with RST")               \
    X(RST_NO_SOCKET, "RST for no connection: ignored")                         \
    X(LISTEN_ACK, "ACK to a listener without a SYN-queue entry: RST")          \
    X(LISTEN_NO_SYN, "segment to a listener without SYN")                      \
    X(SYN_QUEUE_FULL, "SYN queue full: SYN dropped")                           \
    X(SYN_QUEUE_EVICTED, "SYN queue full: its oldest entry evicted")           \
    X(SYNCOOKIE_INVALID,                                                       \
      "ACK to a listener with an invalid SYN cookie: RST (none to text)")      \
    X(ACCEPT_QUEUE_FULL, "accept queue full: final ACK dropped")               \
    X(SYNACK_RETRIES, "SYN-ACK retransmitted too often: entry deleted")        \
    X(TIME_WAIT_SYN_OLD, "SYN to a TIME-WAIT 4-tuple with an old ISN")         \
    /* SYN-SENT (RFC 9293 §3.10.7.3) */                                       \
    X(SYN_SENT_BAD_ACK, "unacceptable ACK in SYN-SENT: RST")                   \
    X(SYN_SENT_RST_NO_ACK, "RST without acceptable ACK in SYN-SENT")           \
    X(SYN_SENT_NO_SYN, "segment without SYN or RST in SYN-SENT")               \
    /* synchronized states (RFC 9293 §3.10.7.4, RFC 5961) */                  \
    X(SEQ_OUT_OF_WINDOW, "segment outside the receive window: ACK")            \
    X(RST_OUT_OF_WINDOW, "RST outside the receive window")                     \
    X(RST_IN_WINDOW_CHALLENGE, "RST in window, not exact: challenge ACK")      \
    X(SYN_CHALLENGE, "SYN in a synchronized state: challenge ACK")             \
    X(CHALLENGE_ACK_LIMITED, "challenge ACK suppressed by rate limit")         \
    X(OOW_ACK_LIMITED,                                                         \
      "ACK to an out-of-window segment suppressed by rate limit")              \
    X(NO_ACK_FLAG, "segment without ACK in a synchronized state")              \
    X(SYN_RECEIVED_BAD_ACK, "unacceptable ACK in SYN-RECEIVED: RST")           \
    X(SYN_RECEIVED_DUP_SYN,                                                    \
      "peer's SYN again in SYN-RECEIVED: SYN-ACK resent")                      \
    X(ACK_UNSENT_DATA, "ACK for data not yet sent: ACK")                       \
    X(ACK_TOO_OLD, "ACK older than the acceptable range: ACK")                 \
    X(DATA_AFTER_CLOSE, "data for a socket closed for reading: RST")           \
    X(OOO_NO_ROOM, "out-of-order segment beyond reassembly capacity")          \
    X(MEM_PRESSURE_OOO,                                                        \
      "out-of-order data needing buffer memory under pressure: ACK")           \
    X(MEM_LIMIT, "data needing buffer memory above the memory limit: ACK")     \
    X(TIME_WAIT_RST, "RST in TIME-WAIT ignored (RFC 1337)")                    \
    X(PAWS_REJECTED, "TSval older than TS.Recent (RFC 7323 PAWS): ACK")        \
    X(TS_MISSING, "no timestamp on a connection that agreed to them")          \
    /* causes of state changes */                                              \
    X(APP_LISTEN, "application listened")                                      \
    X(APP_CONNECT, "application connected")                                    \
    X(APP_CLOSE, "application closed")                                         \
    X(APP_SHUTDOWN, "application shut down writing")                           \
    X(APP_ABORT, "application aborted")                                        \
    X(RCV_SYN, "SYN received")                                                 \
    X(RCV_SYN_ACK, "SYN-ACK received")                                         \
    X(RCV_ACK, "ACK received")                                                 \
    X(RCV_FIN, "FIN received")                                                 \
    X(RCV_RST, "RST received")                                                 \
    X(RETRANSMIT_LIMIT, "retransmission limit reached")                        \
    X(SYN_RETRIES, "SYN retransmitted too often")                              \
    X(USER_TIMEOUT, "user timeout expired")                                    \
    X(KEEPALIVE_TIMEOUT, "keepalive probes unanswered")                        \
    X(TIME_WAIT_EXPIRED, "2MSL elapsed")                                       \
    X(FIN_WAIT_2_TIMEOUT, "FIN-WAIT-2 timeout for a closed socket")            \
    X(TIME_WAIT_REUSE, "new SYN took over a TIME-WAIT 4-tuple")                \
    /* ICMP (RFC 792, RFC 1122 §3.2.2, RFC 5927; src/ip/icmp.c) */            \
    X(ICMP_SHORT, "ICMP message shorter than its header")                      \
    X(BAD_ICMP_CHECKSUM, "ICMP checksum wrong")                                \
    X(ICMP_RATE_LIMITED, "ICMP answer suppressed by the rate limit")           \
    X(ICMP_IGNORED, "ICMP type or code berth does not act on")                 \
    X(ICMP_BAD_QUOTE, "ICMP error quoting no datagram of ours")                \
    X(ICMP_NO_CONNECTION, "ICMP error for no connection or socket")            \
    X(ICMP_SEQ_OUT_OF_WINDOW,                                                  \
      "ICMP error quoting a sequence number outside SND.UNA..SND.NXT")         \
    X(ICMP_PMTU_IGNORED,                                                       \
      "fragmentation needed: no smaller MSS results (ignored)")                \
    X(ICMP_HARD_ERROR, "ICMP hard error in SYN-SENT: connection aborted")      \
    /* UDP (RFC 768; src/ip/udp.c) */                                          \
    X(UDP_BAD_LENGTH, "UDP length field out of range")                         \
    X(BAD_UDP_CHECKSUM, "UDP checksum wrong")                                  \
    X(UDP6_NO_CHECKSUM, "UDP over IPv6 without a checksum (RFC 8200)")         \
    X(UDP_NO_SOCKET, "UDP to a closed port: port unreachable")                 \
    X(UDP_QUEUE_FULL, "UDP receive queue full: datagram dropped")              \
    /* IPv4 reassembly for UDP and ICMP (src/ip/frag.c) */                     \
    X(FRAG_OVERLAP, "overlapping fragments: datagram abandoned (RFC 5722)")    \
    X(FRAG_BAD, "fragment with an impossible length, offset or end")           \
    X(FRAG_NO_ROOM, "reassembly full: the oldest datagram abandoned")          \
    X(FRAG_TIMEOUT, "fragments not completed within 30 s: abandoned")

enum berth_reason {
#define BERTH_REASON_ENUM(name, str) BERTH_REASON_##name,
    BERTH_REASON_MAP(BERTH_REASON_ENUM)
#undef BERTH_REASON_ENUM
        BERTH_REASON__COUNT
};

const char *berth_reason_name(enum berth_reason r);   /* "SEQ_OUT_OF_WINDOW" */
const char *berth_reason_string(enum berth_reason r); /* the description */

/* ------------------------------------------------------------------------
 * Counters, like `netstat -s`. Drops are counted per reason as well:
 * berth_drop_count().
 */
#define BERTH_COUNTER_MAP(X)                                                   \
    X(IP_IN, "IPv4 packets received")                                          \
    X(IP_IN_DROPPED, "IPv4 packets dropped at parse")                          \
    X(IP_OUT, "IPv4 packets sent")                                             \
    X(IP6_IN, "IPv6 packets received")                                         \
    X(IP6_IN_DROPPED, "IPv6 packets dropped at parse")                         \
    X(IP6_OUT, "IPv6 packets sent")                                            \
    X(ACTIVE_OPENS, "active connection openings")                              \
    X(PASSIVE_OPENS, "passive connection openings")                            \
    X(ATTEMPT_FAILS, "failed connection attempts")                             \
    X(ESTAB_RESETS, "connection resets received in ESTABLISHED/CLOSE-WAIT")    \
    X(CURR_ESTAB, "connections currently ESTABLISHED or CLOSE-WAIT")           \
    X(SEGS_IN, "segments received")                                            \
    X(SEGS_OUT, "segments sent")                                               \
    X(RETRANS_SEGS, "segments retransmitted")                                  \
    X(RTO_EXPIRED, "retransmission timeouts (the segment resent, go-back-N)")  \
    X(FAST_RECOVERIES, "fast retransmits: fast recovery entered")              \
    X(IN_ERRS, "bad segments received")                                        \
    X(BAD_CSUM, "segments with a bad checksum")                                \
    X(RST_OUT, "resets sent")                                                  \
    X(RST_IN, "resets received")                                               \
    X(LISTEN_OVERFLOWS, "times the accept queue overflowed")                   \
    X(LISTEN_DROPS, "SYNs or final ACKs dropped by a listener")                \
    X(SYN_QUEUE_DROPS, "SYN-queue entries dropped")                            \
    X(SYNACK_RETRANS, "SYN-ACKs retransmitted")                                \
    X(CHALLENGE_ACKS, "challenge ACKs sent (RFC 5961)")                        \
    X(CHALLENGE_ACKS_LIMITED, "challenge ACKs suppressed by the rate limit")   \
    X(DELAYED_ACKS, "delayed ACKs sent")                                       \
    X(KEEPALIVE_PROBES, "keepalive probes sent")                               \
    X(KEEPALIVE_TIMEOUTS, "connections aborted by keepalive")                  \
    X(TIMEOUTS, "connections aborted by retransmission/user timeout")          \
    X(PERSIST_PROBES, "zero-window probes sent")                               \
    X(OOO_QUEUED, "out-of-order segments queued")                              \
    X(TIME_WAIT_ENTERED, "connections that entered TIME-WAIT")                 \
    X(TIME_WAIT_RECYCLED, "TIME-WAIT entries taken over by a new SYN")         \
    X(ABORT_ON_CLOSE, "connections reset by close or abort")                   \
    X(PAWS_DROPS, "segments rejected by PAWS (RFC 7323)")                      \
    X(SYNCOOKIES_SENT, "SYN cookies sent (RFC 4987 §3.6)")                     \
    X(SYNCOOKIES_RECV, "valid SYN cookies received")                           \
    X(SYNCOOKIES_FAILED, "invalid SYN cookies received")                       \
    X(OOW_ACKS_LIMITED, "ACKs to out-of-window or invalid segments not sent: " \
                        "per-connection rate limit")                           \
    X(BAD_SOURCE_DROPS, "segments dropped for an impossible source")           \
    X(RECOVERIES_UNDONE, "fast recoveries undone: D-SACKs showed them "        \
                         "spurious")                                           \
    X(MEM_PRESSURE_ENTERED, "times memory pressure was entered")               \
    X(MEM_SND_LIMITED, "sends cut short by the memory budget")                 \
    X(FAST_PATH_ACKS, "pure ACKs taken by header prediction")                  \
    X(FAST_PATH_DATA, "in-order data segments taken by header prediction")     \
    X(LOSS_PROBES, "tail loss probes sent (RFC 8985)")                         \
    X(SPURIOUS_RTOS, "spurious retransmission timeouts detected by F-RTO "     \
                     "and undone")                                             \
    X(ICMP_IN, "ICMP messages received")                                       \
    X(ICMP_IN_ERRORS, "ICMP messages malformed or rejected")                   \
    X(ICMP_OUT, "ICMP messages sent")                                          \
    X(ICMP_IN_ECHOS, "ICMP echo requests received")                            \
    X(ICMP_OUT_ECHO_REPS, "ICMP echo replies sent")                            \
    X(ICMP_OUT_DEST_UNREACHS, "ICMP destination unreachables sent")            \
    X(ICMP_RATE_LIMITED, "ICMP messages not sent: rate limit")                 \
    X(ICMP_IN_DEST_UNREACHS, "ICMP destination unreachables received")         \
    X(ICMP_IN_TIME_EXCEEDS, "ICMP time exceeded received")                     \
    X(ICMP_IN_PARM_PROBS, "ICMP parameter problems received")                  \
    X(ICMP_SOFT_ERRORS, "ICMP soft errors remembered by a connection")         \
    X(ICMP_HARD_ERRORS, "connections aborted by an ICMP hard error")           \
    X(ICMP_REJECTED, "ICMP errors rejected by validation (RFC 5927)")          \
    X(PMTU_DECREASES, "path MTU lowered by fragmentation needed")              \
    X(ICMP6_IN_PKT_TOOBIGS, "ICMPv6 Packet Too Big received (RFC 8201)")       \
    X(MTU_BLACKHOLE_PROBES,                                                    \
      "MSS lowered after timeouts of full-sized segments (RFC 4821)")          \
    X(UDP_IN, "UDP datagrams delivered")                                       \
    X(UDP_NO_PORTS, "UDP datagrams to a closed port")                          \
    X(UDP_IN_ERRORS, "UDP datagrams malformed")                                \
    X(UDP_RCVBUF_ERRORS, "UDP datagrams dropped: receive queue full")          \
    X(UDP_OUT, "UDP datagrams sent")                                           \
    X(IP_REASM_REQDS, "IPv4 fragments received for reassembly")                \
    X(IP_REASM_OKS, "IPv4 datagrams reassembled")                              \
    X(IP_REASM_FAILS, "IPv4 datagrams abandoned in reassembly")

enum berth_counter {
#define BERTH_COUNTER_ENUM(name, str) BERTH_CTR_##name,
    BERTH_COUNTER_MAP(BERTH_COUNTER_ENUM)
#undef BERTH_COUNTER_ENUM
        BERTH_CTR__COUNT
};

const char *berth_counter_name(enum berth_counter c);   /* "RETRANS_SEGS" */
const char *berth_counter_string(enum berth_counter c); /* description */
uint64_t berth_counter(const struct berth_stack *s, enum berth_counter c);
uint64_t berth_drop_count(const struct berth_stack *s, enum berth_reason r);

/* ------------------------------------------------------------------------
 * Tracing: every state change and every dropped segment, with its reason.
 */
enum berth_trace_kind {
    BERTH_TRACE_STATE, /* a connection changed state */
    BERTH_TRACE_DROP,  /* a segment was dropped or rejected */
};

/* Address families. IPv4 is 0, so a zeroed endpoint, or one written
 * {.addr = a, .port = p}, is an IPv4 one. */
enum berth_family {
    BERTH_AF_INET = 0,  /* IPv4: `addr` */
    BERTH_AF_INET6 = 1, /* IPv6: `addr6` */
};

/* An address and port of either family. The family says which address
 * field holds it; the other is zero. An IPv4 peer of a dual-stack socket
 * (bound to the IPv6 any address without BERTH_OPT_V6ONLY) is reported as
 * IPv6 ::ffff:a.b.c.d, as Linux reports it (RFC 4291 §2.5.5.2), and an IPv6
 * socket may connect to such an address to reach an IPv4 peer. */
struct berth_endpoint {
    uint32_t addr;     /* IPv4, host byte order */
    uint16_t port;     /* host byte order */
    uint8_t family;    /* enum berth_family */
    uint8_t addr6[16]; /* IPv6, network byte order (as on the wire) */
};

static inline struct berth_endpoint berth_endpoint_v4(uint32_t addr,
                                                      uint16_t port)
{
    struct berth_endpoint ep = {0};
    ep.addr = addr;
    ep.port = port;
    return ep;
}

static inline struct berth_endpoint berth_endpoint_v6(const uint8_t addr6[16],
                                                      uint16_t port)
{
    struct berth_endpoint ep = {0};
    ep.family = BERTH_AF_INET6;
    ep.port = port;
    for (int i = 0; i < 16; i++)
        ep.addr6[i] = addr6[i];
    return ep;
}

/* Whether ep is IPv6 ::ffff:a.b.c.d; *v4 (if not NULL) gets a.b.c.d. */
static inline bool berth_endpoint_v4mapped(const struct berth_endpoint *ep,
                                           uint32_t *v4)
{
    if (ep->family != BERTH_AF_INET6)
        return false;
    for (int i = 0; i < 10; i++)
        if (ep->addr6[i] != 0)
            return false;
    if (ep->addr6[10] != 0xff || ep->addr6[11] != 0xff)
        return false;
    if (v4)
        *v4 = (uint32_t)ep->addr6[12] << 24 | (uint32_t)ep->addr6[13] << 16 |
              (uint32_t)ep->addr6[14] << 8 | ep->addr6[15];
    return true;
}

/* The address as text: "198.18.0.2", or "2001:db8:b::2" (RFC 5952: lower
 * case, the longest run of zero groups as "::", ::ffff:a.b.c.d for a
 * mapped address). Returns buf; BERTH_ADDRSTRLEN bytes always suffice. */
#define BERTH_ADDRSTRLEN 48
char *berth_addr_string(const struct berth_endpoint *ep, char *buf,
                        size_t size);
/* "198.18.0.2:80" or "[2001:db8:b::2]:80" (RFC 5952 §6). */
char *berth_endpoint_string(const struct berth_endpoint *ep, char *buf,
                            size_t size);

struct berth_trace {
    enum berth_trace_kind kind;
    uint64_t now;
    int sock;                    /* socket handle, or -1 if none */
    struct berth_endpoint local; /* zero when unknown (bad packet) */
    struct berth_endpoint remote;
    enum berth_state old_state; /* BERTH_TRACE_STATE only */
    enum berth_state new_state;
    enum berth_reason reason; /* cause of the change, or the drop reason */
};

/* ------------------------------------------------------------------------
 * The event log (docs/events.md): everything a connection does, as typed
 * events for a hook (berth_config.log, berth_set_log()). The runtime's
 * writer turns them into JSON lines (berth_events_open() in rt.h). With no
 * hook, each event site costs one predictable branch.
 */
enum berth_log_kind {
    BERTH_LOG_STATE,    /* u.state: a state change and its cause */
    BERTH_LOG_DROP,     /* u.drop: a segment dropped or rejected */
    BERTH_LOG_SEG_IN,   /* u.seg: a segment that reached TCP */
    BERTH_LOG_SEG_OUT,  /* u.seg: a segment sent */
    BERTH_LOG_RTT,      /* u.rtt: an RTT sample (RFC 6298) */
    BERTH_LOG_CC,       /* u.cc: cwnd or ssthresh changed */
    BERTH_LOG_RECOVERY, /* u.recovery: loss recovery entered, left, undone */
    BERTH_LOG_SACK,     /* u.sack: the sender's scoreboard changed */
    BERTH_LOG_TIMER,    /* u.timer: a timer set, cancelled or fired */
    BERTH_LOG_APP,      /* u.app: the application called the API */
};

/* Why cwnd/ssthresh changed (names as in the log). */
#define BERTH_CC_CAUSE_MAP(X)                                                  \
    X(INIT, "init")             /* the initial window */                       \
    X(SLOW_START, "slow_start") /* an ACK in slow start */                     \
    X(ACK, "ack")               /* an ACK in congestion avoidance */           \
    X(RECOVERY, "recovery")     /* an ACK in fast recovery (PRR) */            \
    X(LOSS, "loss")             /* fast recovery entered: reduced */           \
    X(RECOVERY_EXIT, "recovery_exit")                                          \
    X(RTO, "rto")         /* a retransmission timeout */                       \
    X(UNDO, "undo")       /* a spurious reduction undone (D-SACK, F-RTO) */    \
    X(HYSTART, "hystart") /* HyStart++ left slow start (RFC 9406) */           \
    X(IDLE, "idle")       /* restart after idle (RFC 5681 §4.1) */
enum berth_cc_cause {
#define BERTH_CC_CAUSE_ENUM(name, str) BERTH_CC_##name,
    BERTH_CC_CAUSE_MAP(BERTH_CC_CAUSE_ENUM)
#undef BERTH_CC_CAUSE_ENUM
        BERTH_CC__COUNT
};
const char *berth_cc_cause_name(enum berth_cc_cause c); /* "slow_start" */

/* A connection's timers. */
#define BERTH_TIMER_MAP(X)                                                     \
    X(RTO, "rto") /* retransmission (RFC 6298) */                              \
    X(REO, "reo") /* RACK reordering (RFC 8985 §6.2) */                       \
    X(TLP, "tlp") /* tail loss probe (RFC 8985 §7) */                         \
    X(PERSIST, "persist")                                                      \
    X(DELACK, "delack")                                                        \
    X(KEEPALIVE, "keepalive")                                                  \
    X(DELETE, "delete") /* FIN-WAIT-2 timeout, 2 MSL in TIME-WAIT */
enum berth_timer {
#define BERTH_TIMER_ENUM(name, str) BERTH_TIMER_##name,
    BERTH_TIMER_MAP(BERTH_TIMER_ENUM)
#undef BERTH_TIMER_ENUM
        BERTH_TIMER__COUNT
};
const char *berth_timer_name(enum berth_timer t); /* "rto" */
enum berth_timer_action {
    BERTH_TIMER_SET,
    BERTH_TIMER_CANCEL,
    BERTH_TIMER_FIRE
};

/* The application's calls. */
#define BERTH_APP_CALL_MAP(X)                                                  \
    X(CONNECT, "connect")                                                      \
    X(LISTEN, "listen")                                                        \
    X(ACCEPT, "accept")                                                        \
    X(SEND, "send")                                                            \
    X(RECV, "recv")                                                            \
    X(SHUTDOWN, "shutdown")                                                    \
    X(CLOSE, "close")                                                          \
    X(ABORT, "abort")
enum berth_app_call {
#define BERTH_APP_CALL_ENUM(name, str) BERTH_APP_##name,
    BERTH_APP_CALL_MAP(BERTH_APP_CALL_ENUM)
#undef BERTH_APP_CALL_ENUM
        BERTH_APP__COUNT
};
const char *berth_app_call_name(enum berth_app_call c); /* "connect" */

struct berth_segment; /* below: the decoded segment */

struct berth_log_event {
    enum berth_log_kind kind;
    uint64_t now;
    int sock;                    /* handle, or -1 if none */
    struct berth_endpoint local; /* zero when unknown (a bad packet) */
    struct berth_endpoint remote;
    /* The segment (SEG_IN, SEG_OUT): src/dst as on the wire. Valid only
     * during the hook. */
    const struct berth_segment *seg;
    union {
        struct {
            enum berth_state from, to;
            enum berth_reason cause;
        } state;
        enum berth_reason drop;
        struct {
            uint32_t sample, srtt, rttvar, rto; /* us */
        } rtt;
        struct {
            uint32_t cwnd, ssthresh; /* ssthresh UINT32_MAX: infinite */
            uint32_t pipe, inflight; /* RFC 6675 pipe; SND.MAX-SND.UNA */
            enum berth_cc_cause cause;
        } cc;
        struct {
            int event; /* 1 enter, 0 exit, -1 undone */
            bool rto;  /* a timeout's recovery, not a fast one */
            uint32_t recover;
        } recovery;
        struct {
            uint32_t blocks, sacked; /* blocks on the board, bytes SACKed */
            uint8_t count;           /* ranges below (the lowest) */
            struct {
                uint32_t start, end;
            } range[4];
        } sack;
        struct {
            enum berth_timer timer;
            enum berth_timer_action action;
            uint64_t at; /* SET: when due (the stack's clock) */
        } timer;
        struct {
            enum berth_app_call call;
            uint64_t len; /* SEND, RECV: bytes asked */
            int result;   /* bytes, 0, or a negative berth_errno */
        } app;
    } u;
};

/* A span of bytes to read: a packet's or a segment's text where it lies
 * (berth_config.tx_sg, berth_input_sg). The same layout as struct iovec's
 * two fields, read-only. */
struct berth_iov {
    const void *base;
    size_t len;
};

/* ------------------------------------------------------------------------
 * Configuration: every tunable, with documented defaults filled in by
 * berth_config_init(). Times are microseconds.
 */
struct berth_config {
    uint32_t addr; /* our IPv4 address, host order (default 198.18.0.2) */
    /* Our IPv6 address (RFC 8200), network order; all zero (the default)
     * leaves IPv6 off: version-6 packets are BAD_IP_VERSION drops. The
     * runtime sets it (2001:db8:b::2 unless told otherwise). */
    uint8_t addr6[16];
    uint8_t hop_limit; /* IPv6 hop limit, default 64 (RFC 8200 §3) */

    /* Transmit hook: called synchronously with each packet (IPv4 or IPv6) the
     * stack sends. The buffer is valid only during the call. The hook must not
     * call back into the stack. */
    void (*tx)(void *ctx, const uint8_t *pkt, size_t len);
    void *tx_ctx;

    /* Readiness callback: called at the end of berth_input()/berth_advance()
     * for each socket whose readiness changed, with its BERTH_EV_* mask.
     * Edge-triggered, like EPOLLET: it fires when the mask differs from
     * what the application last saw (through this callback or a call on
     * the socket), so read and accept until BERTH_EAGAIN. It may call any
     * berth_ function except berth_stack_destroy(). */
    void (*event)(void *ctx, int sock, uint32_t events);
    void *event_ctx;

    /* Trace hook: every state change and dropped segment. May be NULL. */
    void (*trace)(void *ctx, const struct berth_trace *ev);
    void *trace_ctx;

    /* Event-log hook (docs/events.md): every event of every connection.
     * May be NULL (the default); berth_set_log() changes it later. The hook
     * must not call back into the stack. */
    void (*log)(void *ctx, const struct berth_log_event *ev);
    void *log_ctx;

    /* Randomness. `seed` drives ephemeral ports; `secret` keys the ISN
     * generator (RFC 6528) and the connection hash table. The runtime fills
     * both from getrandom(); tests use constants. */
    uint64_t seed;
    uint8_t secret[16];
    /* Optional: choose initial sequence numbers yourself (tests that need
     * ISNs near the 2^32 wrap, simulators). NULL: RFC 6528. */
    uint32_t (*isn)(void *ctx, struct berth_endpoint local,
                    struct berth_endpoint remote, uint64_t now);
    void *isn_ctx;

    uint32_t max_sockets; /* default 65536; at most 2^21 */
    /* Sizing hint: the connections (TIME-WAIT entries and half-open SYN-
     * queue entries included) the stack expects to hold at once. The
     * 4-tuple table is made big enough for them at creation (about 16
     * bytes each, in 64-byte buckets for four), so it never grows below
     * that many: growing copies the whole table at once (32 MB at 1M) and
     * takes fresh memory mid-run. Default 0: start small and grow as
     * needed (the table never shrinks). At most 2^24. */
    uint32_t expected_conns;
    uint16_t ephemeral_lo; /* default 32768 (as Linux) */
    uint16_t ephemeral_hi; /* default 60999 */
    uint16_t mss;          /* MSS we advertise; default 1460 (MTU 1500) */
    uint8_t ttl;           /* default 64 */
    uint32_t sndbuf;       /* per-socket send buffer, default 65536 */
    uint32_t rcvbuf;       /* per-socket receive buffer, default 65535 */
    /* Buffers are allocated as data needs them (from 4 KiB, doubling up to
     * sndbuf/rcvbuf) and given back when empty. Given-back buffers wait in
     * a per-stack cache of at most this many bytes (default 8 MiB; 0: none)
     * for the next connection, so a short connection costs no allocation
     * and no page fault. berth_mem_cached() says what it holds. It counts
     * in the memory budget and holds at most mem_limit / 8. */
    size_t buf_cache;
    /* The memory budget: bytes the stack may hold for sockets and
     * connections (berth_mem_bytes() plus berth_mem_cached()), with
     * thresholds like Linux's tcp_mem: low = 1/2, pressure = 3/4, high =
     * the limit. Default 256 MiB (a fixed figure, so the core stays
     * deterministic); 0 = unlimited. From pressure on (until usage falls
     * below low) the buffer cache is emptied and bypassed, the receive
     * window we offer stops growing beyond the buffer already allocated
     * (at least 4 KiB), send buffers stop growing (berth_send() takes what
     * fits, else BERTH_EAGAIN) and out-of-order data that needs buffer
     * memory is dropped. No allocation of buffer memory may take usage
     * above the limit: such data is dropped with an ACK, and a connection
     * without a buffer gets none (its sends return BERTH_EAGAIN, its data
     * is dropped) until memory frees. TCBs are not refused. See
     * berth_mem_state(). */
    size_t mem_limit;
    uint64_t rto_initial;   /* RFC 6298 §2.1: default 1 s */
    uint64_t rto_min;       /* default 200 ms (as Linux; RFC 6298 says 1 s) */
    uint64_t rto_max;       /* default 120 s (as Linux) */
    uint8_t syn_retries;    /* SYN retransmissions, default 6 (as Linux) */
    uint8_t synack_retries; /* SYN-ACK retransmissions, default 5; <= 127 */
    uint8_t max_retries;    /* data/FIN retransmissions, default 15 */
    uint64_t msl;           /* default 30 s: TIME-WAIT lasts 2*MSL = 60 s */
    uint64_t fin_wait_2_timeout; /* closed sockets only; default 60 s */
    uint64_t delack;             /* delayed-ACK timer, default 40 ms */
    uint64_t keepalive_idle;     /* default 7200 s (RFC 1122 §4.2.3.6) */
    uint64_t keepalive_interval; /* default 75 s */
    uint8_t keepalive_count;     /* default 9 */
    uint64_t user_timeout;       /* 0 = off (default) */
    /* RFC 5961 §7: challenge ACKs per second, stack-wide. The budget of
     * each second is this base plus a random 0..base (as Linux since 4.7,
     * CVE-2016-5696), so an off-path attacker cannot count it; default
     * 1000. Each connection also answers at most once per
     * invalid_ratelimit. */
    uint32_t challenge_ack_limit;
    /* Answers to invalid segments (out of window, ACK of unsent data, PAWS
     * rejection, challenge ACKs): at most one per this interval per
     * connection or TIME-WAIT entry (Linux's tcp_invalid_ratelimit,
     * default 500 ms; 0: no limit). Segments with text or a FIN are
     * always answered: a peer that resends them needs the ACK. */
    uint64_t invalid_ratelimit;
    uint16_t syn_backlog; /* SYN-queue bound per listener, 256 */
    /* SYN cookies (RFC 4987 §3.6), as Linux's tcp_syncookies: 0 never (a
     * full SYN queue evicts its oldest entry), 1 when the SYN queue is full
     * (default), 2 always. */
    uint8_t syncookies;
    /* RFC 7323 and RFC 2018 extensions we offer on SYN and SYN-ACK (used
     * only when the peer offers them too). All on by default, as Linux. */
    bool window_scaling; /* RFC 7323 §2 */
    bool timestamps;     /* RFC 7323 §3-5: RTTM and PAWS */
    bool sack;           /* RFC 2018 SACK, RFC 2883 D-SACK, RFC 6675 */
    /* Congestion control: the algorithm (per socket: BERTH_OPT_CONGESTION)
     * and the initial window in segments (RFC 6928 style; 10 as Linux). */
    uint8_t congestion;   /* enum berth_cc, default BERTH_CC_CUBIC */
    uint8_t initial_cwnd; /* default 10 */
    /* Quick ACK: the first data segments of a connection are ACKed at once,
     * not delayed, so the peer's slow start is not slowed (as Linux). */
    uint8_t quickack; /* segments; default 16; 0 = always delay */
    /* TCP segmentation offload (the link splits large segments, as a TUN
     * device with TUN_F_TSO4 does). 0 (default): off, every segment is at
     * most one MSS. Else the largest IPv4 datagram (at most 65535) the stack
     * may build when cwnd and the peer's window let several MSS of new data
     * go at once: such a super-segment carries a whole number of MSS, goes to
     * tx_gso (not tx) with the MSS the link must cut it into, and its TCP
     * checksum field holds only the pseudo-header sum (the link completes
     * it, as for virtio's NEEDS_CSUM). Retransmissions stay one MSS. Needs
     * tx_gso or tx_sg; ignored without both. */
    uint32_t tso_max;
    void (*tx_gso)(void *ctx, const uint8_t *pkt, size_t len,
                   uint16_t seg_size); /* ctx is tx_ctx */
    /* Scatter-gather transmit (optional, NULL by default): when set, every
     * TCP segment that carries text goes here instead of tx or tx_gso,
     * with its text left where it lies in the send buffer: the IP and TCP
     * headers (hdr_len bytes, built in the stack's scratch buffer), then
     * the text as `nspans` spans (1 or 2: 2 when it wraps past the end of
     * the send buffer's memory), so the stack copies no payload. The
     * packet is hdr followed by the spans, in order. seg_size is 0 for a
     * segment of at most one MSS, whose checksum is complete (computed over
     * the spans in place), or as for tx_gso a TSO super-segment's MSS, its
     * checksum the pseudo-header sum only. Segments without text (ACKs,
     * SYNs, resets) still go to tx. Everything is valid only during the
     * call, and the hook must not call back into the stack. With tso_max,
     * tx_sg alone (without tx_gso) allows super-segments. */
    void (*tx_sg)(void *ctx, const uint8_t *hdr, size_t hdr_len,
                  const struct berth_iov *spans, size_t nspans,
                  uint16_t seg_size); /* ctx is tx_ctx */

    /* ICMP we send (echo replies, destination unreachable): one token
     * bucket as RFC 4443 §2.4 (f) describes, icmp_rate messages per second
     * with bursts of icmp_burst (as Linux's icmp_msgs_per_sec 1000 and
     * icmp_msgs_burst 50, the defaults); icmp_rate 0: no limit. */
    uint32_t icmp_rate;
    uint32_t icmp_burst;
    bool icmp_echo; /* answer echo requests (ping); default true */
    /* Path MTU Discovery (RFC 1191): "fragmentation needed" lowers a
     * connection's MSS, never below pmtu_min - 40 (default 576: MSS 536,
     * RFC 1122's EMTU_R floor); the path MTU learnt is cached per
     * destination for new connections, for pmtu_expire (default 10 min,
     * RFC 1191 §6.3). pmtu_discovery false: messages ignored. */
    bool pmtu_discovery;
    uint16_t pmtu_min;
    uint64_t pmtu_expire;
    /* Black-hole detection (RFC 4821 style): after this many consecutive
     * timeouts of a full-sized segment, the MSS is halved (not below
     * pmtu_min - 40) and the PMTU cache learns it. 0 (default, as Linux's
     * tcp_mtu_probing 0): off. */
    uint8_t mtu_probing;
    /* UDP: datagrams a socket's receive queue holds (default 256) and
     * bytes (default 256 KiB); more are dropped and counted. */
    uint32_t udp_rcvq_max;
    uint32_t udp_rcvq_bytes;
    /* Optional: which local ports an IPv4 active open may take towards a
     * remote endpoint (a sharded runtime keeps those whose flows the link
     * steers back to this stack's shard, as mTCP and F-Stack do). The
     * ephemeral port search skips the ports it refuses. NULL: any. */
    bool (*port_ok)(void *ctx, uint32_t raddr, uint16_t rport, uint16_t lport);
    void *port_ok_ctx;
};

void berth_config_init(struct berth_config *cfg);

/* Congestion-control algorithms. */
enum berth_cc {
    BERTH_CC_NEWRENO, /* RFC 5681 + RFC 6582 */
    BERTH_CC_CUBIC,   /* RFC 9438 (the default, as Linux's) */
};

/* ------------------------------------------------------------------------
 * The stack.
 */
struct berth_stack *berth_stack_create(const struct berth_config *cfg,
                                       uint64_t now);
/* Frees everything, sending nothing. Handles become invalid. */
void berth_stack_destroy(struct berth_stack *s);
/* Sets (or with NULL removes) the event-log hook of berth_config.log. */
void berth_set_log(struct berth_stack *s,
                   void (*fn)(void *ctx, const struct berth_log_event *ev),
                   void *ctx);

/* A packet arrived (one IPv4 datagram, or IPv6 with cfg.addr6 set; the
 * version nibble tells them apart). Returns 0, or the positive
 * berth_reason for which it was dropped. */
int berth_input(struct berth_stack *s, const void *pkt, size_t len,
                uint64_t now);
/* The same with flags from the link: BERTH_IN_CSUM_OK says the link has
 * verified the TCP checksum already (a TUN read with virtio's DATA_VALID or
 * NEEDS_CSUM), so it is not checked again; the IPv4 header checksum still
 * is. A segment may be larger than our MSS (a link's coalesced
 * super-packet, up to the 65535-byte datagram): it is taken as one. */
#define BERTH_IN_CSUM_OK 0x1u
int berth_input_flags(struct berth_stack *s, const void *pkt, size_t len,
                      uint64_t now, uint32_t flags);
/* Several packets that arrived together (one read of many, a link's queue
 * drained at once), all at `now`: each is taken in order exactly as
 * berth_input_flags(data, len, now, flags) takes it, but the timers are
 * advanced once before the first (and again within the batch only for a
 * timer a packet armed already due) and readiness is reported once, after
 * the last: the event hook hears each socket the batch touched once, with
 * its state after the whole batch. The packets need to stay valid only
 * during the call. Returns how many were dropped (those for which
 * berth_input_flags would have returned a reason). */
struct berth_pkt {
    const void *data;
    size_t len;
    uint32_t flags; /* BERTH_IN_CSUM_OK or 0 */
};
size_t berth_input_batch(struct berth_stack *s, const struct berth_pkt *pkts,
                         size_t n, uint64_t now);
/* The same for a packet in pieces (scatter-gather receive): hdr_len bytes
 * at hdr, then the spans in order, are the packet. When hdr holds the IP
 * and TCP headers whole (IPv4 without fragmentation, or IPv6 with TCP as
 * the first next header), the segment's text is copied once, from where
 * it lies straight into the connection's receive buffer (in order or out
 * of order); the TCP checksum, unless BERTH_IN_CSUM_OK, is verified over
 * the pieces in place. Any other packet (another protocol, a fragment,
 * headers split across pieces, a bad checksum) is gathered into one
 * buffer first and taken as berth_input_flags() takes it. The pieces need
 * to stay valid only during the call. */
int berth_input_sg(struct berth_stack *s, const void *hdr, size_t hdr_len,
                   const struct berth_iov *spans, size_t nspans, uint64_t now,
                   uint32_t flags);
/* Time passed: run the timers due at `now`. */
void berth_advance(struct berth_stack *s, uint64_t now);
/* When berth_advance() must next be called; UINT64_MAX if never. It may
 * return a time at which nothing visible happens (timer-wheel cascade). */
uint64_t berth_next_deadline(const struct berth_stack *s);

/* Bytes and blocks the stack holds for sockets and connections: TCBs,
 * SYN-queue and TIME-WAIT entries, buffers. Zero once every socket is closed
 * and every connection has ended (tests check this). The stack's own tables
 * (handle table, hash buckets, scratch buffer) are not counted. */
size_t berth_mem_bytes(const struct berth_stack *s);
size_t berth_mem_allocs(const struct berth_stack *s);
/* Bytes of idle buffers held in the stack's buffer cache (not counted by
 * berth_mem_bytes); freed by berth_stack_destroy(). */
size_t berth_mem_cached(const struct berth_stack *s);

/* The memory budget (berth_config.mem_limit) and where usage stands. */
enum berth_mem_level {
    BERTH_MEM_NORMAL,     /* below pressure, or back below low */
    BERTH_MEM_PRESSURE,   /* reached pressure, not yet back below low */
    BERTH_MEM_OVER_LIMIT, /* at the limit: buffer memory is refused */
};
struct berth_mem_state {
    size_t limit;    /* 0: unlimited (then the thresholds are 0 too) */
    size_t low;      /* pressure ends below this (limit / 2) */
    size_t pressure; /* pressure starts here (limit * 3 / 4) */
    size_t used;     /* berth_mem_bytes() + berth_mem_cached() */
    size_t cached;   /* berth_mem_cached() */
    enum berth_mem_level level;
    uint64_t pressure_entered; /* times pressure was entered */
};
void berth_mem_state(const struct berth_stack *s, struct berth_mem_state *out);
/* "normal", "pressure", "over-limit". */
const char *berth_mem_level_name(enum berth_mem_level level);

/* ------------------------------------------------------------------------
 * Sockets. Handles are small non-negative ints; a closed or stale handle
 * gives BERTH_EBADF. All calls are non-blocking and return 0 / a count, or
 * a negative berth_errno.
 */
int berth_socket(struct berth_stack *s);
/* IPv4: addr 0 (any) or the stack's address; port 0 picks one. */
int berth_bind(struct berth_stack *s, int sock, uint32_t addr, uint16_t port);
/* Either family: IPv4 as berth_bind; IPv6 the any address (::, dual-stack
 * unless BERTH_OPT_V6ONLY) or the stack's IPv6 address (IPv6 only), or
 * ::ffff:a.b.c.d (IPv4 only, reported mapped). BERTH_EADDRNOTAVAIL when
 * the stack has no IPv6 address; BERTH_EINVAL for a family other than the
 * socket's (bound already) or a mapped address with BERTH_OPT_V6ONLY. */
int berth_bind_endpoint(struct berth_stack *s, int sock,
                        const struct berth_endpoint *ep);
int berth_listen(struct berth_stack *s, int sock, int backlog);
/* A new connected socket, or BERTH_EAGAIN. `peer` may be NULL. */
int berth_accept(struct berth_stack *s, int sock, struct berth_endpoint *peer);
/* Starts the handshake: BERTH_EINPROGRESS; completion is reported as
 * BERTH_EV_WRITABLE, failure as BERTH_EV_ERROR (berth_sock_error()). */
int berth_connect(struct berth_stack *s, int sock, uint32_t addr,
                  uint16_t port);
/* Either family; an IPv4-mapped IPv6 address connects over IPv4 (not with
 * BERTH_OPT_V6ONLY: BERTH_EINVAL, where Linux says ENETUNREACH). IPv6
 * without a stack address: BERTH_EADDRNOTAVAIL. A socket bound already
 * connects in its own family (else BERTH_EINVAL). */
int berth_connect_endpoint(struct berth_stack *s, int sock,
                           const struct berth_endpoint *ep);
/* Bytes queued (possibly fewer than len), or BERTH_EAGAIN when full. */
int berth_send(struct berth_stack *s, int sock, const void *buf, size_t len);
/* Bytes read; 0 at end of stream; BERTH_EAGAIN when nothing is there. */
int berth_recv(struct berth_stack *s, int sock, void *buf, size_t len);

/* Zero-copy receive and send (TCP): the application works in the socket's
 * buffers in place, saving berth_recv()'s copy out of the receive buffer and
 * berth_send()'s copy into the send buffer. A region is at most two spans:
 * the second is non-empty only when the bytes wrap past the end of the
 * buffer's memory. Spans point into the stack's memory and stay valid only
 * until the next call into the stack (any call on any socket, berth_input
 * and berth_advance included, the consume or commit too): buffers move when
 * they grow and are given back when empty. */
struct berth_span {
    uint8_t *data;
    size_t len;
};
/* The readable bytes in place, in order: span[0] then span[1]. Returns
 * their total (> 0); else what berth_recv() returns when nothing is there:
 * 0 at the end of the stream, a pending error, BERTH_EAGAIN. Consumes
 * nothing. UDP handles: BERTH_EOPNOTSUPP. */
int berth_recv_peek(struct berth_stack *s, int sock, struct berth_span span[2]);
/* Consumes the first n readable bytes (the application is done with them):
 * berth_recv() of n bytes without the copy, the window opening as it does.
 * Returns n (0 does nothing); BERTH_EINVAL when fewer than n bytes are
 * readable; BERTH_EBADF, BERTH_ENOTCONN as berth_recv(). */
int berth_recv_consume(struct berth_stack *s, int sock, size_t n);
/* Room for up to len bytes at the end of the send buffer, in place, to be
 * written and then queued by berth_send_commit(). Returns the room given
 * (> 0, possibly less than len); else what berth_send() returns:
 * BERTH_EAGAIN when the buffer is full, BERTH_ENOMEM, BERTH_EPIPE,
 * BERTH_ENOTCONN, a pending error. Nothing is queued until the commit;
 * a reservation never committed is simply forgotten. */
int berth_send_reserve(struct berth_stack *s, int sock, size_t len,
                       struct berth_span span[2]);
/* Queues the first n bytes of the room reserved just before (written into
 * span[0] then span[1]) and sends what may go, as berth_send() of them
 * would. Returns n (0 queues nothing); BERTH_EINVAL when n exceeds the room
 * the send buffer has; the errors of berth_send() (a connection that
 * cannot send any more: BERTH_EPIPE). */
int berth_send_commit(struct berth_stack *s, int sock, size_t n);

/* Receive in place (for links that read packets themselves, as the TUN
 * runtime does): the link asks where a connection's next in-order payload
 * goes, reads a packet with its headers into a buffer of its own and its
 * payload straight into that room (readv), and hands the headers in; the
 * payload is then not copied again. IPv4 unfragmented, or IPv6 with TCP as
 * the first next header; with BERTH_IN_CSUM_OK only (its bytes are never
 * read to check a sum). */
/* The room in the receive buffer of the connection local <-> remote where
 * its next in-order payload goes: span[0] then span[1] (non-empty when the
 * room wraps past the end of the buffer's memory). Returns the room's
 * total (> 0), or 0 when that connection cannot take a payload in place
 * now (none, a state without data, out-of-order data held, no buffer yet,
 * memory pressure): read the packet whole then. The spans are valid until
 * the next call into the stack. From this call on the connection keeps its
 * receive buffer while it is empty (it is read into next; an empty buffer
 * is otherwise given back), until another connection is asked for, memory
 * pressure, or its end: one such buffer per stack at most. */
int berth_rx_place(struct berth_stack *s, const struct berth_endpoint *local,
                   const struct berth_endpoint *remote,
                   struct berth_span span[2]);
/* A packet whose headers (hdr: IP and TCP, hdr_len bytes, the IP length
 * counting the payload) were read apart and whose payload_len bytes of
 * payload were read into the room the last berth_rx_place() gave (span as
 * it gave them). When the packet is that connection's next in-order data
 * (sequence number RCV.NXT) and fits the room, and flags has
 * BERTH_IN_CSUM_OK, it is taken as berth_input_flags() takes the whole
 * packet, without a copy of the payload: 0 or a drop reason. Otherwise
 * BERTH_EAGAIN and nothing happened (not even timers): the link puts the
 * packet together (the room's bytes are untouched) and calls
 * berth_input_flags(). */
int berth_input_placed(struct berth_stack *s, const void *hdr, size_t hdr_len,
                       const struct berth_span span[2], size_t payload_len,
                       uint64_t now, uint32_t flags);

enum berth_shut { BERTH_SHUT_RD = 1, BERTH_SHUT_WR = 2, BERTH_SHUT_RDWR = 3 };
int berth_shutdown(struct berth_stack *s, int sock, int how);
/* Releases the handle. The connection closes gracefully in the background
 * (FIN), unless linger is 0 or unread data remains: then RST (RFC 9293
 * §3.10.4 and RFC 2525 §2.17). */
int berth_close(struct berth_stack *s, int sock);
/* Sends RST (if synchronized) and frees at once. Releases the handle. */
int berth_abort(struct berth_stack *s, int sock);

/* UDP (RFC 768). berth_udp_socket() makes a datagram socket; bind,
 * connect (a default peer: datagrams from others are dropped), send/recv,
 * poll, berth_sock_error, getsockname/getpeername and close work on it as
 * on TCP handles; listen, accept, shutdown and options do not
 * (BERTH_EOPNOTSUPP, BERTH_ENOPROTOOPT). A datagram is sent at once or not
 * at all (at most 65507 bytes, else BERTH_EMSGSIZE; unconnected without
 * `to`: BERTH_EDESTADDRREQ); sending binds an unbound socket to an
 * ephemeral port. Received datagrams wait in a bounded queue
 * (berth_config.udp_rcvq_*); each recv takes one whole, its tail beyond
 * len lost. A connected socket whose peer answers with ICMP port
 * unreachable gets BERTH_ECONNREFUSED from its next call (as Linux). */
int berth_udp_socket(struct berth_stack *s);
/* to NULL: the connected peer. On a TCP handle `to` is ignored. */
int berth_sendto(struct berth_stack *s, int sock, const void *buf, size_t len,
                 const struct berth_endpoint *to);
/* from may be NULL; on a TCP handle it is the peer. */
int berth_recvfrom(struct berth_stack *s, int sock, void *buf, size_t len,
                   struct berth_endpoint *from);

/* Readiness. */
#define BERTH_EV_READABLE 0x01u /* data, EOF, or a connection to accept */
#define BERTH_EV_WRITABLE 0x02u /* connected and send buffer has room */
#define BERTH_EV_ERROR    0x04u /* berth_sock_error() has an error */
#define BERTH_EV_HUP      0x08u /* both directions finished, or reset */
#define BERTH_EV_RDHUP    0x10u /* the peer sent FIN */
uint32_t berth_poll(const struct berth_stack *s, int sock);
/* Pending error (like SO_ERROR), cleared by the call; 0 if none. */
int berth_sock_error(struct berth_stack *s, int sock);

/* Options. Values are integers; times in microseconds, at most 2^31 ms
 * (24.8 days, like Linux's TCP_USER_TIMEOUT; the configuration's timers are
 * bounded the same way). */
enum berth_opt {
    BERTH_OPT_NODELAY,      /* 0/1: disable Nagle */
    BERTH_OPT_KEEPALIVE,    /* 0/1 (default 0) */
    BERTH_OPT_KEEPIDLE,     /* us */
    BERTH_OPT_KEEPINTVL,    /* us */
    BERTH_OPT_KEEPCNT,      /* probes */
    BERTH_OPT_LINGER,       /* -1 off (default); 0: close sends RST */
    BERTH_OPT_SNDBUF,       /* bytes, any time (data held is kept) */
    BERTH_OPT_RCVBUF,       /* bytes, any time; after the SYN at most
                               65535 << the window-scale shift */
    BERTH_OPT_MAXSEG,       /* MSS cap, before connect/listen */
    BERTH_OPT_USER_TIMEOUT, /* us; 0 = off */
    BERTH_OPT_CONGESTION,   /* enum berth_cc */
    /* 0/1 (default 0), before bind: an IPv6 socket takes IPv6 only. Off,
     * a listener bound to the IPv6 any address takes IPv4 connections too,
     * reported as ::ffff:a.b.c.d (Linux's IPV6_V6ONLY, RFC 3493 §5.3). */
    BERTH_OPT_V6ONLY,
};
int berth_setopt(struct berth_stack *s, int sock, enum berth_opt opt,
                 int64_t value);
int berth_getopt(const struct berth_stack *s, int sock, enum berth_opt opt,
                 int64_t *value);

int berth_getsockname(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out);
int berth_getpeername(const struct berth_stack *s, int sock,
                      struct berth_endpoint *out);

/* The loss recovery a connection's sender is in (Linux's tcpi_ca_state:
 * Open, Recovery, Loss). */
enum berth_recovery {
    BERTH_RECOVERY_NONE, /* no recovery */
    BERTH_RECOVERY_FAST, /* fast recovery (RFC 6675 / RFC 6582), with PRR */
    BERTH_RECOVERY_RTO,  /* after a retransmission timeout, until SND.UNA
                            passes what was outstanding then */
};

/* Per-connection information, like TCP_INFO / `ss -ti`. */
struct berth_tcp_info {
    enum berth_state state;
    struct berth_endpoint local, remote;
    uint32_t iss, irs;
    uint32_t snd_una, snd_nxt, snd_wnd; /* snd_wnd: peer's window, bytes */
    uint32_t rcv_nxt, rcv_wnd;          /* rcv_wnd: what we advertise */
    uint32_t snd_mss;                   /* effective send MSS */
    uint32_t srtt, rttvar, rto;         /* us; srtt 0 = no sample yet */
    uint32_t retransmits;   /* retransmissions of the oldest unacked segment */
    uint32_t total_retrans; /* segments retransmitted */
    uint32_t snd_queued, rcv_queued; /* bytes in the buffers */
    uint32_t cwnd, ssthresh; /* bytes; ssthresh UINT32_MAX before a loss */
    uint8_t snd_wscale, rcv_wscale; /* RFC 7323 shifts; 0 if not agreed */
    bool timestamps, sack;          /* RFC 7323 / RFC 2018 agreed */
    enum berth_cc congestion;
    uint32_t unacked;                                 /* snd_nxt - snd_una */
    uint32_t accept_queue, accept_backlog, syn_queue; /* LISTEN only */
    uint64_t next_timer; /* earliest timer of this socket, or UINT64_MAX */
    enum berth_recovery recovery;
};
int berth_getinfo(const struct berth_stack *s, int sock,
                  struct berth_tcp_info *out);

/* Every socket and connection the stack holds, like `ss -tan`: listeners,
 * connections with or without a handle (closed by the application but still
 * closing), SYN-queue entries (SYN-RECEIVED) and TIME-WAIT entries. fn gets
 * the handle (-1 when none) and the info; fields a compact entry does not
 * keep are zero. Returns how many were reported. fn must not change the
 * stack. */
size_t berth_foreach(const struct berth_stack *s,
                     void (*fn)(void *ctx, int sock,
                                const struct berth_tcp_info *info),
                     void *ctx);

/* ------------------------------------------------------------------------
 * Packet decoding for tools (ladders, captures): any IPv4/TCP or IPv6/TCP
 * packet (IPv6 extension headers walked as the stack walks them).
 */
struct berth_segment {
    struct berth_endpoint src, dst;
    uint32_t seq, ack;
    uint8_t flags;  /* BERTH_TH_* */
    uint16_t win;   /* raw window field */
    uint32_t len;   /* payload bytes */
    uint16_t mss;   /* 0 if absent */
    int16_t wscale; /* -1 if absent */
    bool sack_ok, has_ts;
    uint32_t ts_val, ts_ecr;
    uint8_t sack_count; /* SACK blocks (RFC 2018), in the order sent */
    struct {
        uint32_t start, end;
    } sack[4];
};
#define BERTH_TH_FIN 0x01u
#define BERTH_TH_SYN 0x02u
#define BERTH_TH_RST 0x04u
#define BERTH_TH_PSH 0x08u
#define BERTH_TH_ACK 0x10u
#define BERTH_TH_URG 0x20u
/* 0, or the positive berth_reason why the packet is malformed (then *out is
 * zeroed, with wscale -1). */
int berth_decode(const void *pkt, size_t len, struct berth_segment *out);
/* The same for a TCP segment without its IP header (a capture reader took
 * it off): ports, not addresses (zero); the checksum is not checked, since
 * it covers the IP pseudo-header and captures of offloading senders hold
 * partial checksums. */
int berth_decode_tcp(const void *tcp, size_t len, struct berth_segment *out);
/* Writes "SYN,ACK"-style flag names into buf; returns buf. */
char *berth_flags_string(uint8_t flags, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
