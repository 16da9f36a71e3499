/* The whole TCP state machine on one screen (picoTCP's tcp_fsm[] is the
 * model): every state change berth makes, with its cause and the RFC 9293
 * rule. tcp_trace_state() holds each change against this table; one that is
 * not listed is a bug. tests/scenarios/TRANSITIONS.md lists the same rows
 * and a test keeps the two equal. */
#include "tcp/tcp.h"

#define F(st) (1u << BERTH_STATE_##st)
/* The states an abort or a reset can end (all but CLOSED, LISTEN, SYN-SENT
 * and TIME-WAIT): RFC 9293 Figure 5 note 3 draws none of these. */
#define SYNCED                                                                 \
    (F(SYN_RECEIVED) | F(ESTABLISHED) | F(FIN_WAIT_1) | F(FIN_WAIT_2) |        \
     F(CLOSE_WAIT) | F(CLOSING) | F(LAST_ACK))
/* Where a retransmission (or persist) timer can run out. */
#define REXMIT                                                                 \
    (F(SYN_RECEIVED) | F(ESTABLISHED) | F(FIN_WAIT_1) | F(CLOSE_WAIT) |        \
     F(CLOSING) | F(LAST_ACK))
#define ROW(from, to, why, rfc)                                                \
    {                                                                          \
        from, BERTH_STATE_##to, BERTH_REASON_##why, rfc                        \
    }

static const struct tcp_fsm_row tcp_fsm[] = {
    /* The diagram (RFC 9293 §3.3.2, Figure 5). */
    ROW(F(CLOSED), LISTEN, APP_LISTEN, "3.10.1"),
    ROW(F(CLOSED), SYN_SENT, APP_CONNECT, "3.10.1"),
    ROW(F(LISTEN), SYN_RECEIVED, RCV_SYN, "3.10.7.2"),
    ROW(F(LISTEN), CLOSED, APP_CLOSE, "3.10.4"),
    ROW(F(SYN_SENT), SYN_RECEIVED, RCV_SYN, "3.10.7.3"),
    ROW(F(SYN_SENT), ESTABLISHED, RCV_SYN_ACK, "3.10.7.3"),
    ROW(F(SYN_SENT), CLOSED, APP_CLOSE, "3.10.4"),
    ROW(F(SYN_RECEIVED), ESTABLISHED, RCV_ACK, "3.10.7.4"),
    ROW(F(SYN_RECEIVED), LISTEN, RCV_RST, "3.10.7.4"),
    ROW(F(SYN_RECEIVED), LISTEN, RCV_SYN, "3.10.7.4"),
    ROW(F(SYN_RECEIVED) | F(ESTABLISHED), FIN_WAIT_1, APP_CLOSE, "3.10.4"),
    ROW(F(SYN_RECEIVED) | F(ESTABLISHED), FIN_WAIT_1, APP_SHUTDOWN, "3.10.4"),
    ROW(F(SYN_RECEIVED) | F(ESTABLISHED), CLOSE_WAIT, RCV_FIN, "3.10.7.4"),
    ROW(F(FIN_WAIT_1), FIN_WAIT_2, RCV_ACK, "3.10.7.4"),
    ROW(F(FIN_WAIT_1), CLOSING, RCV_FIN, "3.10.7.4"),
    ROW(F(FIN_WAIT_1) | F(FIN_WAIT_2), TIME_WAIT, RCV_FIN, "3.10.7.4"),
    ROW(F(CLOSE_WAIT), LAST_ACK, APP_CLOSE, "3.10.4"),
    ROW(F(CLOSE_WAIT), LAST_ACK, APP_SHUTDOWN, "3.10.4"),
    ROW(F(CLOSING), TIME_WAIT, RCV_ACK, "3.10.7.4"),
    ROW(F(LAST_ACK), CLOSED, RCV_ACK, "3.10.7.4"),
    ROW(F(TIME_WAIT), CLOSED, TIME_WAIT_EXPIRED, "3.10.8"),
    /* Outside the diagram: resets, aborts, timeouts (Figure 5 note 3). */
    ROW(F(SYN_SENT), CLOSED, RCV_RST, "3.10.7.3"),
    ROW(F(SYN_SENT), CLOSED, APP_SHUTDOWN, "3.10.4"),
    ROW(F(SYN_SENT), CLOSED, SYN_RETRIES, "3.8.3"),
    ROW(F(SYN_SENT), CLOSED, USER_TIMEOUT, "3.10.8"),
    ROW(F(SYN_SENT), CLOSED, ICMP_HARD_ERROR, "3.9.2.2"),
    ROW(F(SYN_RECEIVED), CLOSED, SYNACK_RETRIES, "3.8.3"),
    ROW(F(SYN_RECEIVED), CLOSED, SYN_QUEUE_EVICTED, "3.10.7.2"),
    ROW(SYNCED, CLOSED, RCV_RST, "3.10.7.4"),
    ROW(SYNCED, CLOSED, APP_CLOSE, "3.10.5"),
    ROW(SYNCED | F(SYN_SENT) | F(TIME_WAIT), CLOSED, APP_ABORT, "3.10.5"),
    ROW(REXMIT, CLOSED, RETRANSMIT_LIMIT, "3.8.3"),
    ROW(REXMIT, CLOSED, USER_TIMEOUT, "3.10.8"),
    ROW(F(ESTABLISHED) | F(CLOSE_WAIT), CLOSED, KEEPALIVE_TIMEOUT, "3.8.4"),
    ROW(F(FIN_WAIT_2), CLOSED, FIN_WAIT_2_TIMEOUT, "3.10.4"),
    ROW(F(TIME_WAIT), CLOSED, TIME_WAIT_REUSE, "3.6.1"),
};

const struct tcp_fsm_row *tcp_fsm_rows(size_t *n)
{
    *n = sizeof tcp_fsm / sizeof tcp_fsm[0];
    return tcp_fsm;
}

const struct tcp_fsm_row *
tcp_fsm_find(enum berth_state old, enum berth_state st, enum berth_reason why)
{
    size_t n;
    const struct tcp_fsm_row *rows = tcp_fsm_rows(&n);
    for (size_t i = 0; i < n; i++) {
        if ((rows[i].from & (1u << old)) && rows[i].to == st &&
            rows[i].why == why)
            return &rows[i];
    }
    return NULL;
}

/* A change not in the stack's cache: looked up in the table (out of line:
 * after the first few changes of a stack, every one is in the cache). */
__attribute__((noinline)) static void
fsm_check_table(struct berth_stack *s, int sock, const struct tcp_node *n,
                enum berth_state old, enum berth_state st,
                enum berth_reason why, uint32_t slot, uint32_t key);

void tcp_fsm_check(struct berth_stack *s, int sock, const struct tcp_node *n,
                   enum berth_state old, enum berth_state st,
                   enum berth_reason why)
{
    /* Every state change is checked, in every build (the scenario runner
     * and the simulator count on it); a change found in the table before
     * is found again in the stack's small cache instead of by a scan.
     * States fit 4 bits (an out-of-range one never reaches the cache);
     * the + 1 keeps a key from being 0 (empty). */
    _Static_assert(TCP_FSM_SEEN == 32u, "the slot is the hash's top 5 bits");
    _Static_assert(BERTH_STATE__COUNT <= 16, "a state fits 4 bits of the key");
    if ((unsigned)old < BERTH_STATE__COUNT &&
        (unsigned)st < BERTH_STATE__COUNT) {
        uint32_t key =
            1u + ((uint32_t)old | (uint32_t)st << 4 | (uint32_t)why << 8);
        uint32_t slot = (key * 0x9e3779b1u) >> 27; /* Fibonacci hashing */
        if (s->fsm_seen[slot] == key)
            return;
        fsm_check_table(s, sock, n, old, st, why, slot, key);
        return;
    }
    fsm_check_table(s, sock, n, old, st, why, TCP_FSM_SEEN, 0);
}

static void fsm_check_table(struct berth_stack *s, int sock,
                            const struct tcp_node *n, enum berth_state old,
                            enum berth_state st, enum berth_reason why,
                            uint32_t slot, uint32_t key)
{
    /* slot TCP_FSM_SEEN: states out of range, never in the table. */
    if (slot < TCP_FSM_SEEN && tcp_fsm_find(old, st, why)) {
        s->fsm_seen[slot] = key;
        return;
    }
    /* Not in the table: a bug. It is counted and traced as a drop with no
     * reason (BERTH_REASON_NONE, which nothing else ever drops with), so
     * berth_drop_count(s, BERTH_REASON_NONE) says how many; the scenario
     * runner and the simulator fail on it. */
    stack_trace_drop(s, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport,
                     BERTH_REASON_NONE);
}
