/* SEGMENT ARRIVES (RFC 9293 §3.10.7): demultiplexing, SYN-SENT, and the
 * synchronized states as a chain of small steps in the RFC's order: check
 * sequence number, RST, SYN, ACK, text, FIN. Input only updates state and
 * records what is owed; tcp_output() decides what to send. */
#include "tcp/tcp.h"

#include "ip/ip.h"

#include "base/seq.h"

/* RFC 7323 §5.5: TS.Recent idle this long (24 days, in seconds) is no
 * longer valid for PAWS. */
#define PAWS_IDLE_LIMIT_SEC (24u * 24u * 3600u)
/* An echoed TSval older than this (ms) is taken for garbage, not an RTT. */
#define TS_RTT_MAX_MS 60000u

static void drop(struct berth_stack *s, const struct tcp_conn *c,
                 enum berth_reason why)
{
    stack_trace_drop(s, c->sock, c->n.v6, c->n.laddr, c->n.lport, c->n.raddr,
                     c->n.rport, why);
}

uint16_t tcp_peer_mss(const struct berth_stack *s, const struct tcp_seg *seg,
                      uint16_t ours)
{
    (void)s;
    /* RFC 9293 §3.7.1: without the option, assume 536 (IPv4) or 1220
     * (IPv6); never send more than the peer's MSS nor more than our own
     * link allows. A floor of 64 keeps a hostile tiny MSS from multiplying
     * our segments. */
    uint16_t m = seg->opts.has_mss ? seg->opts.mss
                 : seg->v6         ? TCP_DEFAULT_MSS6
                                   : TCP_DEFAULT_MSS;
    if (m > ours)
        m = ours;
    if (m < 64)
        m = 64;
    return m;
}

/* ---- SYN-SENT (RFC 9293 §3.10.7.3) ---- */

static void establish(struct berth_stack *s, struct tcp_conn *c,
                      enum berth_reason why)
{
    /* RFC 6298 §5.7: if the SYN was retransmitted and no RTT sample was
     * taken, data transmission starts with RTO = 3 s. */
    if ((c->flags & TF_SYN_REXMIT) && !(c->flags & TF_RTT_VALID) &&
        c->rto_base < 3u * USEC_PER_SEC)
        c->rto_base = 3u * USEC_PER_SEC;
    c->backoff = 0;
    c->rexmits = 0;
    c->quickacks = s->cfg.quickack;
    tcp_set_state(s, c, BERTH_STATE_ESTABLISHED, why);
    tcp_keepalive_start(s, c);
}

static void take_peer_window(struct tcp_conn *c, const struct tcp_seg *seg)
{
    /* RFC 7323 §2.3: scaled, except in a SYN. */
    c->snd_wnd =
        (seg->flags & TH_SYN) ? seg->wnd : (uint32_t)seg->wnd << c->snd_wscale;
    c->snd_wl1 = seg->seq;
    c->snd_wl2 = seg->ack;
    if (c->snd_wnd > c->max_sndwnd)
        c->max_sndwnd = c->snd_wnd;
}

static uint32_t ack_new_data(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_seg *seg);
static enum tcp_step process_text(struct berth_stack *s, struct tcp_conn *c,
                                  struct tcp_seg *seg);
static enum tcp_step process_fin(struct berth_stack *s, struct tcp_conn *c,
                                 struct tcp_seg *seg);

static enum tcp_step syn_sent_input(struct berth_stack *s, struct tcp_conn *c,
                                    struct tcp_seg *seg)
{
    bool has_ack = seg->flags & TH_ACK;
    /* First, the ACK: it must acknowledge our SYN and nothing more. */
    if (has_ack &&
        (seq_leq(seg->ack, c->iss) || seq_gt(seg->ack, c->snd_max))) {
        if (!(seg->flags & TH_RST))
            /* <SEQ=SEG.ACK><CTL=RST> */
            tcp_send_rst_for(s, c->n.raddr, c->n.laddr, seg);
        drop(s, c, BERTH_REASON_SYN_SENT_BAD_ACK);
        return STEP_DONE;
    }
    /* Second, RST: with an acceptable ACK the connection is refused
     * (RFC 5961 §3.2 agrees: the ACK makes it exact in SYN-SENT). */
    if (seg->flags & TH_RST) {
        if (!has_ack) {
            drop(s, c, BERTH_REASON_SYN_SENT_RST_NO_ACK);
            return STEP_DONE;
        }
        stack_count(s, BERTH_CTR_RST_IN);
        stack_count(s, BERTH_CTR_ATTEMPT_FAILS);
        tcp_conn_fail(s, c, BERTH_ECONNREFUSED, BERTH_REASON_RCV_RST);
        return STEP_GONE;
    }
    /* Fourth, SYN (the third check, security, does not apply). */
    if (!(seg->flags & TH_SYN)) {
        drop(s, c, BERTH_REASON_SYN_SENT_NO_SYN);
        return STEP_DONE;
    }
    c->irs = seg->seq;
    c->rcv_nxt = seg->seq + 1;
    c->rcv_adv = c->rcv_nxt;
    /* RFC 7323 §2.2, §3.2; RFC 2018 §2: what both SYNs offered is on. */
    c->synopts = tcp_synopts_accept(s, seg);
    tcp_apply_synopts(s, c, c->synopts, seg->opts.ts_val);
    c->snd_mss = tcp_peer_mss(s, seg, c->rcv_mss);
    /* RFC 1191, RFC 8201 */
    c->snd_mss = pmtu_clamp_mss(s, c->n.v6, c->n.raddr, c->snd_mss);
    tcp_cc_init(s, c);
    take_peer_window(c, seg);
    c->flags |= TF_ACK_NOW;
    if (has_ack) {
        ack_new_data(s, c, seg);
        establish(s, c, BERTH_REASON_RCV_SYN_ACK);
        /* Text or FIN riding on the SYN-ACK: process from step six. */
        seg->seq++;
        seg->flags &= (uint8_t)~TH_SYN;
        if (process_text(s, c, seg) == STEP_GONE)
            return STEP_GONE;
        return process_fin(s, c, seg);
    }
    /* Simultaneous open (RFC 9293 §3.5, Figure 8): SYN-RECEIVED, and our
     * SYN goes out again as SYN,ACK <SEQ=ISS><ACK=RCV.NXT>. Text in the SYN
     * is not kept; the peer will send it again. */
    tcp_set_state(s, c, BERTH_STATE_SYN_RECEIVED, BERTH_REASON_RCV_SYN);
    c->snd_nxt = c->snd_max = c->iss;
    return STEP_DONE;
}

/* ---- synchronized states (RFC 9293 §3.10.7.4) ---- */

static inline bool seq_acceptable(const struct tcp_conn *c,
                                  const struct tcp_seg *seg)
{
    /* RFC 9293 §3.10.7.4 first, the four cases of the acceptance test,
     * with one widening taken from Linux (tcp_sequence()): a segment with
     * no text may sit exactly at the right edge, RCV.NXT+RCV.WND. A peer
     * that has sent our whole window, some of which is still in flight or
     * lost, sends its ACKs at SEQ = SND.NXT = our right edge; rejecting
     * them would lose its acknowledgments and window updates until the
     * holes are filled. Such a segment carries nothing that could land
     * outside the window. A RST there stays outside (RFC 5961 §3.2: dropped
     * silently, where Linux sends a challenge ACK). */
    uint32_t wnd = c->rcv_adv - c->rcv_nxt;
    uint32_t space = tcp_seg_space(seg);
    uint32_t end = c->rcv_nxt + wnd;
    if (space == 0)
        return (seg->flags & TH_RST) && wnd > 0
                   ? seq_in(seg->seq, c->rcv_nxt, end)
                   : seq_geq(seg->seq, c->rcv_nxt) && seq_leq(seg->seq, end);
    if (wnd == 0)
        return false;
    return seq_in(seg->seq, c->rcv_nxt, end) ||
           seq_in(seg->seq + space - 1, c->rcv_nxt, end);
}

/* RFC 7323 §5.3 R1 (PAWS), run before the acceptance test: a segment
 * whose TSval is older than TS.Recent is an old duplicate. TS.Recent older
 * than 24 days is no longer valid (§5.5). */
static enum tcp_step check_paws(struct berth_stack *s, struct tcp_conn *c,
                                const struct tcp_seg *seg)
{
    if (!(c->flags & TF_TS) || (seg->flags & TH_RST))
        return STEP_NEXT;
    if (!seg->opts.has_ts) {
        /* §3.2: once negotiated, a non-RST segment without TSopt SHOULD be
         * silently dropped. */
        drop(s, c, BERTH_REASON_TS_MISSING);
        return STEP_DONE;
    }
    uint32_t age = tcp_sec_clock(s) - c->ts_recent_age;
    if (!ts_lt(seg->opts.ts_val, c->ts_recent) || age > PAWS_IDLE_LIMIT_SEC)
        return STEP_NEXT;
    stack_count(s, BERTH_CTR_PAWS_DROPS);
    drop(s, c, BERTH_REASON_PAWS_REJECTED);
    if (!tcp_oow_limited(s, c, seg)) /* RFC 5961 §10 */
        c->flags |= TF_ACK_NOW;
    return STEP_DONE;
}

/* RFC 5961 §5.2 (RFC 9293 §3.10.7.4 fifth): an acceptable ACK lies in
 * SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT. */
static bool ack_acceptable(const struct tcp_conn *c, const struct tcp_seg *seg)
{
    return (seg->flags & TH_ACK) && !seq_gt(seg->ack, c->snd_max) &&
           !seq_lt(seg->ack, c->snd_una - c->max_sndwnd);
}

/* RFC 7323 §4.3 / §5.3 R3: remember the TSval to echo. Only from a segment
 * whose ACK passed the ACK check (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5.2):
 * a blind segment with an in-window sequence number and a bogus ACK must
 * not move TS.Recent, or the peer's genuine segments would fail PAWS. */
static void update_ts_recent(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_seg *seg)
{
    if (!(c->flags & TF_TS) || !seg->opts.has_ts ||
        ts_lt(seg->opts.ts_val, c->ts_recent) ||
        seq_gt(seg->seq, c->last_ack_sent))
        return;
    c->ts_recent = seg->opts.ts_val;
    c->ts_recent_age = tcp_sec_clock(s);
}

/* SYN-RECEIVED after a simultaneous open (RFC 9293 §3.5, Figure 8): the
 * peer's SYN arrives again, alone or on its SYN,ACK. Modifies seg. */
static enum tcp_step syn_received_repeats(struct berth_stack *s,
                                          struct tcp_conn *c,
                                          struct tcp_seg *seg)
{
    if (c->state != BERTH_STATE_SYN_RECEIVED || !(seg->flags & TH_SYN) ||
        seg->seq + 1 != c->rcv_nxt)
        return STEP_NEXT;
    /* The peer's SYN,ACK repeats its SYN (Figure 8, line 6): take it as
     * the ACK it carries (as Linux does). */
    if ((seg->flags & TH_ACK) && seg->ack == c->snd_max && seg->len == 0) {
        seg->seq++;
        seg->flags &= (uint8_t)~TH_SYN;
        return STEP_NEXT;
    }
    /* The peer's SYN again: it is still in SYN-SENT, and would drop the
     * bare ACK of §3.10.7.4 (no SYN in it, §3.10.7.3 fifth). Our SYN,ACK
     * went missing: send it again, as a listener's SYN queue answers a
     * duplicate SYN. */
    if ((seg->flags & (TH_ACK | TH_RST)) == 0 && c->snd_una == c->iss &&
        !seq_acceptable(c, seg)) {
        drop(s, c, BERTH_REASON_SYN_RECEIVED_DUP_SYN);
        c->snd_nxt = c->iss;
        tcp_output(s, c);
        return STEP_DONE;
    }
    return STEP_NEXT;
}

/* RFC 9293 §3.10.7.4 first: the acceptance test; what fails it is dropped
 * (with an ACK, unless a RST). Modifies seg: a zero-window probe loses its
 * text and FIN. */
static enum tcp_step check_seq(struct berth_stack *s, struct tcp_conn *c,
                               struct tcp_seg *seg)
{
    if (seq_acceptable(c, seg))
        return STEP_NEXT;
    /* "If the RCV.WND is zero, no segments will be acceptable, but special
     * allowance should be made to accept valid ACKs, URGs, and RSTs": a
     * zero-window probe at RCV.NXT keeps its ACK and loses its text. */
    if (c->rcv_adv == c->rcv_nxt && seg->seq == c->rcv_nxt &&
        !(seg->flags & TH_SYN)) {
        seg->len = 0;
        seg->flags &= (uint8_t)~TH_FIN;
        c->flags |= TF_ACK_NOW;
        return STEP_NEXT;
    }
    if (seg->flags & TH_RST) {
        drop(s, c, BERTH_REASON_RST_OUT_OF_WINDOW);
        return STEP_DONE;
    }
    /* <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, then drop. Data wholly below
     * RCV.NXT arrived twice: the ACK reports it (RFC 2883 §4.1.1). */
    if (seg->len > 0 && seq_leq(seg->seq + seg->len, c->rcv_nxt)) {
        tcp_sack_note_dup(c, seg->seq, seg->seq + seg->len);
        /* RFC 7323 Appendix D takes TS.Recent before the acceptance test:
         * the peer resent data we have (our ACKs were lost), and our ACK
         * must echo this transmission, or the peer's RTT sample would span
         * the whole loss of ACKs (§4.3's rule (2) applies: SEG.SEQ <=
         * Last.ACK.sent). Such a peer is alive, too: keepalive must not
         * give up on it (RFC 1122 §4.2.3.6 counts any packet received).
         * Only for a duplicate within a receive buffer of RCV.NXT whose
         * ACK is acceptable (RFC 5961 §5.2: SND.UNA - MAX.SND.WND <=
         * SEG.ACK <= SND.NXT), so a blind segment cannot move TS.Recent
         * (which would make PAWS drop the real peer's segments) or keep a
         * dead peer alive: the attack suite's blind data spray lands one
         * forged segment in that range for every 64 KiB of sequence
         * space. */
        if (c->rcv_nxt - seg->seq <= c->rcv_adv - c->rcv_nxt + c->rcvbuf_size &&
            ack_acceptable(c, seg)) {
            update_ts_recent(s, c, seg);
            tcp_keepalive_reset(s, c);
        }
    }
    drop(s, c, BERTH_REASON_SEQ_OUT_OF_WINDOW);
    /* RFC 5961 §10 (as Linux's tcp_invalid_ratelimit): answered at most
     * once per interval, or two stacks that disagree would ACK each other
     * for ever. */
    if (!tcp_oow_limited(s, c, seg))
        c->flags |= TF_ACK_NOW;
    return STEP_DONE;
}

static enum tcp_step check_rst(struct berth_stack *s, struct tcp_conn *c,
                               const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_RST))
        return STEP_NEXT;
    /* RFC 5961 §3.2: only an exact match resets; an RST elsewhere in the
     * window draws a challenge ACK. */
    if (seg->seq != c->rcv_nxt) {
        drop(s, c, BERTH_REASON_RST_IN_WINDOW_CHALLENGE);
        tcp_challenge_ack(s, c);
        return STEP_DONE;
    }
    stack_count(s, BERTH_CTR_RST_IN);
    switch (c->state) {
    case BERTH_STATE_SYN_RECEIVED: /* from an active open: refused */
        stack_count(s, BERTH_CTR_ATTEMPT_FAILS);
        tcp_conn_fail(s, c, BERTH_ECONNREFUSED, BERTH_REASON_RCV_RST);
        break;
    case BERTH_STATE_ESTABLISHED:
    case BERTH_STATE_CLOSE_WAIT:
        stack_count(s, BERTH_CTR_ESTAB_RESETS);
        tcp_conn_fail(s, c, BERTH_ECONNRESET, BERTH_REASON_RCV_RST);
        break;
    case BERTH_STATE_FIN_WAIT_1:
    case BERTH_STATE_FIN_WAIT_2:
        tcp_conn_fail(s, c, BERTH_ECONNRESET, BERTH_REASON_RCV_RST);
        break;
    default: /* CLOSING, LAST-ACK: just close */
        tcp_conn_delete(s, c, BERTH_REASON_RCV_RST);
        break;
    }
    return STEP_GONE;
}

static enum tcp_step check_syn(struct berth_stack *s, struct tcp_conn *c,
                               const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_SYN))
        return STEP_NEXT;
    /* RFC 5961 §4.2: a SYN in a synchronized state, whatever its sequence
     * number, gets a challenge ACK and is dropped. */
    drop(s, c, BERTH_REASON_SYN_CHALLENGE);
    tcp_challenge_ack(s, c);
    return STEP_DONE;
}

static bool our_fin_acked(const struct tcp_conn *c)
{
    return (c->flags & TF_FIN_SENT) && c->snd_una == c->snd_max;
}

/* Returns the bytes of sequence space newly acknowledged (our SYN not
 * counted). */
static uint32_t ack_new_data(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_seg *seg)
{
    uint32_t ack = seg->ack;
    uint32_t acked = ack - c->snd_una;
    if (c->snd_una == c->iss)
        acked--;               /* our SYN */
    ring_drop(&c->snd, acked); /* whatever is beyond the data is our FIN */
    c->snd_una = ack;
    if (seq_lt(c->snd_nxt, c->snd_una))
        c->snd_nxt = c->snd_una;
    /* RFC 6298 §3 (Karn): only a segment sent once gives an RTT sample
     * (a retransmission cleared rtt_time). */
    if (c->rtt_time && seq_geq(ack, c->rtt_seq)) {
        tcp_rtt_sample(s, c, (uint32_t)(s->now - c->rtt_time));
        c->rtt_time = 0;
        c->backoff = 0; /* a fresh sample ends the backed-off RTO */
    } else if ((c->flags & TF_TS) && seg->opts.has_ts && seg->opts.ts_ecr &&
               c->backoff) {
        /* RFC 7323 §4.1 (RTTM): the echoed TSval times even a retransmitted
         * segment, which Karn's rule keeps the microsecond timer from. */
        uint32_t ms = tcp_ts_now(s, c->ts_offset) - seg->opts.ts_ecr;
        if (ms < TS_RTT_MAX_MS) {
            tcp_rtt_sample(s, c, ms * USEC_PER_MS);
            c->backoff = 0;
        }
    }
    c->rexmits = 0;
    c->soft_error = 0; /* RFC 5461: the path works again */
    c->unacked_since = tcp_ms_clock(s);
    tcp_rexmit_restart(s, c);
    tcp_conn_trim_buffers(s, c); /* everything sent is acknowledged? */
    sock_mark(s, c->sock);
    return acked;
}

/* RFC 5681 §2 "duplicate acknowledgment" (with RFC 6675 §2 for SACK): no
 * data, no SYN/FIN, nothing new acknowledged while data is outstanding,
 * and the same window, or, with SACK, new data SACKed. */
static bool is_dupack(const struct tcp_conn *c, const struct tcp_seg *seg,
                      uint32_t acked, bool sacked_new)
{
    if (seg->len > 0 || (seg->flags & (TH_SYN | TH_FIN)) ||
        c->snd_una == c->snd_max)
        return false;
    /* The answers to zero-window probes repeat the ACK too, but they report
     * a closed window, not a loss: RFC 5681 §2 counts an ACK as duplicate
     * only with an unchanged, open window (and RFC 6675 builds on it). */
    if (seg->wnd == 0 || (c->flags & TF_PERSIST))
        return false;
    /* RFC 6675 §2: with SACK, new SACK information makes it a duplicate,
     * even on an ACK that also advances SND.UNA. */
    if (c->flags & TF_SACK)
        return sacked_new;
    return acked == 0 && seg->ack == c->snd_una &&
           ((uint32_t)seg->wnd << c->snd_wscale) == c->snd_wnd;
}

static inline void update_window(struct berth_stack *s, struct tcp_conn *c,
                                 const struct tcp_seg *seg, bool acked_new)
{
    /* RFC 9293 §3.10.7.4 fifth, ESTABLISHED: take the window only from a
     * segment newer than the one it last came from; and, as Linux does,
     * from any segment that acknowledges new data. Otherwise a peer that
     * went back to resend (its retransmissions carry lower sequence numbers
     * than its pure ACKs) would leave a stale SND.WND paired with an
     * advanced SND.UNA, a right edge beyond the one it offered. */
    if (!(acked_new || seq_lt(c->snd_wl1, seg->seq) ||
          (c->snd_wl1 == seg->seq && seq_leq(c->snd_wl2, seg->ack))))
        return;
    /* "If SND.UNA =< SEG.ACK": an old ACK (reordered behind newer ones, but
     * carrying newer text) offers a window from an older left edge; taken
     * from SND.UNA it would reach beyond what the peer offered. */
    if (seq_lt(seg->ack, c->snd_una))
        return;
    take_peer_window(c, seg);
    if (c->snd_wnd > 0 && (c->flags & TF_PERSIST)) {
        /* The window reopened. A probe byte this ACK does not cover was
         * dropped by the closed window: resume from SND.UNA (as BSD). */
        c->flags &= ~TF_PERSIST;
        c->persist_shift = 0;
        c->snd_nxt = c->snd_una;
        tcp_timer_clear(s, c, TCP_T_PERSIST);
        tcp_rexmit_restart(s, c);
    }
    if (c->snd_wnd > 0)
        tcp_timer_clear(s, c, TCP_T_PERSIST);
}

static bool fin_arrives_with(const struct tcp_conn *c,
                             const struct tcp_seg *seg)
{
    return (seg->flags & TH_FIN) && seq_leq(seg->seq, c->rcv_nxt) &&
           seq_leq(seg->seq + seg->len, c->rcv_adv);
}

static enum tcp_step ack_closing_states(struct berth_stack *s,
                                        struct tcp_conn *c,
                                        const struct tcp_seg *seg)
{
    if (!our_fin_acked(c))
        return STEP_NEXT;
    switch (c->state) {
    case BERTH_STATE_FIN_WAIT_1:
        /* A FIN that also acks ours goes straight to TIME-WAIT (in the FIN
         * step); otherwise FIN-WAIT-2. */
        if (fin_arrives_with(c, seg))
            return STEP_NEXT;
        tcp_set_state(s, c, BERTH_STATE_FIN_WAIT_2, BERTH_REASON_RCV_ACK);
        if (c->sock < 0) /* closed: FIN-WAIT-2 must not last forever */
            tcp_timer_set(s, c, TCP_T_DELETE,
                          s->now + s->cfg.fin_wait_2_timeout);
        return STEP_NEXT;
    case BERTH_STATE_CLOSING:
        tcp_output(s, c);
        tcp_time_wait(s, c, BERTH_REASON_RCV_ACK);
        return STEP_GONE;
    case BERTH_STATE_LAST_ACK:
        tcp_conn_delete(s, c, BERTH_REASON_RCV_ACK);
        return STEP_GONE;
    default:
        return STEP_NEXT;
    }
}

static enum tcp_step check_ack(struct berth_stack *s, struct tcp_conn *c,
                               const struct tcp_seg *seg)
{
    if (!(seg->flags & TH_ACK)) {
        drop(s, c, BERTH_REASON_NO_ACK_FLAG);
        return STEP_DONE;
    }
    if (c->state == BERTH_STATE_SYN_RECEIVED) {
        if (!(seq_lt(c->snd_una, seg->ack) && seq_leq(seg->ack, c->snd_max))) {
            /* <SEQ=SEG.ACK><CTL=RST> */
            tcp_send_rst_for(s, c->n.raddr, c->n.laddr, seg);
            drop(s, c, BERTH_REASON_SYN_RECEIVED_BAD_ACK);
            return STEP_DONE;
        }
        take_peer_window(c, seg);
        establish(s, c, BERTH_REASON_RCV_ACK);
    }
    /* RFC 5961 §5.2: acceptable is SND.UNA - MAX.SND.WND <= SEG.ACK <=
     * SND.NXT; anything else is dropped with an ACK. */
    if (seq_gt(seg->ack, c->snd_max)) {
        drop(s, c, BERTH_REASON_ACK_UNSENT_DATA);
        tcp_challenge_ack(s, c);
        return STEP_DONE;
    }
    if (seq_lt(seg->ack, c->snd_una - c->max_sndwnd)) {
        drop(s, c, BERTH_REASON_ACK_TOO_OLD);
        tcp_challenge_ack(s, c);
        return STEP_DONE;
    }
    /* The ACK is acceptable: now TS.Recent may be updated (RFC 7323 §4.3
     * with RFC 5961 §5.2), before anything this segment causes is sent. */
    update_ts_recent(s, c, seg);
    uint32_t acked = 0;
    if (seq_lt(c->snd_una, seg->ack))
        acked = ack_new_data(s, c, seg);
    bool sacked_new = tcp_sack_update(s, c, seg);
    bool dup = is_dupack(c, seg, acked, sacked_new); /* needs the old window */
    /* The window before congestion control: a partial ACK's retransmission
     * must be clamped to the right edge this ACK gives (RFC 9293 §3.8.6). */
    update_window(s, c, seg, acked > 0);
    tcp_cc_on_ack(s, c, seg, acked, dup);
    return ack_closing_states(s, c, seg);
}

static void ack_policy(struct berth_stack *s, struct tcp_conn *c, uint32_t len,
                       bool filled_hole)
{
    /* RFC 5681 §4.2: ACK at once when a hole is filled. RFC 9293 §3.8.6.3
     * and RFC 1122 §4.2.3.2: otherwise delay, but ACK at least every second
     * full-sized segment: like Linux, when more than one full segment (the
     * largest seen, at least 536 bytes) is unacknowledged. */
    if (len > c->rcv_seg_max)
        c->rcv_seg_max = (uint16_t)(len < c->rcv_mss ? len : c->rcv_mss);
    uint32_t full =
        c->rcv_seg_max > TCP_DEFAULT_MSS ? c->rcv_seg_max : TCP_DEFAULT_MSS;
    if (full > c->rcv_mss)
        full = c->rcv_mss;
    c->delack_bytes += len;
    if (c->quickacks) {
        c->quickacks--; /* connection start: every segment ACKed at once */
        c->flags |= TF_ACK_NOW;
    } else if (filled_hole || c->delack_bytes > full) {
        c->flags |= TF_ACK_NOW;
    } else if (!c->deadline[TCP_T_DELACK]) {
        tcp_timer_set(s, c, TCP_T_DELACK, s->now + s->cfg.delack);
    }
}

static bool accepts_text(enum berth_state st)
{
    return st == BERTH_STATE_ESTABLISHED || st == BERTH_STATE_FIN_WAIT_1 ||
           st == BERTH_STATE_FIN_WAIT_2;
}

/* Reassembly holds a bounded number of ranges: a few inline, more in an
 * array of at most one range per 512 bytes of receive buffer (1/64 of it),
 * so a peer sending tiny pieces with gaps cannot make it grow further. */
static uint32_t ooo_limit(const struct tcp_conn *c)
{
    uint32_t n = c->rcvbuf_size / 512u;
    return n > ASSEMBLER_INLINE ? n : ASSEMBLER_INLINE; /* at least 6 */
}

static bool ooo_add(struct berth_stack *s, struct tcp_conn *c, uint32_t off,
                    uint32_t len)
{
    return assembler_add(&c->ooo, &s->mem, ooo_limit(c), off, len) == 0;
}

/* When a segment needs one range more than the limit, and lies below the
 * highest range held, that farthest range is forgotten (a receiver may
 * renege, RFC 2018 §8): data nearer RCV.NXT is delivered sooner. Returns
 * true if the segment was then recorded. */
static bool make_room(struct berth_stack *s, struct tcp_conn *c, uint32_t off,
                      uint32_t len)
{
    uint32_t start, end;
    const struct assembler_range *r = assembler_ranges_const(&c->ooo);
    if (c->ooo.n == 0 || off >= r[c->ooo.n - 1].start)
        return false;
    assembler_drop_last(&c->ooo, &start, &end);
    drop(s, c, BERTH_REASON_OOO_NO_ROOM);
    return ooo_add(s, c, off, len);
}

/* The text's len bytes from `skip` on, written `off` bytes after the
 * receive buffer's readable end: from data, or with data NULL from the
 * pieces of berth_input_sg (s->rx_sg), each copied once, in place. */
static void write_text(struct berth_stack *s, struct tcp_conn *c,
                       const uint8_t *data, uint32_t skip, uint32_t off,
                       uint32_t len)
{
    if (data) {
        ring_write_at(&c->rcv, off, data + skip, len);
        return;
    }
    const uint8_t *p = s->rx_sg.first;
    size_t k = (size_t)(s->rx_sg.hdr_end - p);
    for (size_t i = 0;; i++) { /* the headers' piece, then the spans */
        if (skip >= k) {
            skip -= (uint32_t)k;
        } else {
            uint32_t m = k - skip < len ? (uint32_t)(k - skip) : len;
            ring_write_at(&c->rcv, off, p + skip, m);
            off += m;
            len -= m;
            skip = 0;
        }
        if (len == 0 || i == s->rx_sg.n)
            return; /* (the IP length is checked against the pieces) */
        p = s->rx_sg.sp[i].base;
        k = s->rx_sg.sp[i].len;
    }
}

static void store_text(struct berth_stack *s, struct tcp_conn *c,
                       const uint8_t *data, uint32_t skip, uint32_t off,
                       uint32_t len)
{
    if (off == 0) {
        bool had_holes = !assembler_empty(&c->ooo);
        if (data) {
            ring_write(&c->rcv, data + skip, len);
        } else {
            write_text(s, c, NULL, skip, 0, len);
            ring_commit(&c->rcv, len);
        }
        uint32_t more =
            had_holes ? assembler_advance(&c->ooo, &s->mem, len) : 0;
        ring_commit(&c->rcv, more);
        c->rcv_nxt += len + more;
        ack_policy(s, c, len, had_holes);
    } else if (tcp_sack_held(c, off, len)) {
        /* Held already: a duplicate (RFC 2883 §4.1.3). */
        tcp_sack_note_dup(c, c->rcv_nxt + off, c->rcv_nxt + off + len);
        c->flags |= TF_ACK_NOW;
    } else if (ooo_add(s, c, off, len) || make_room(s, c, off, len)) {
        /* Out of order: placed straight into the buffer at its offset. RFC
         * 5681 §4.2: ACK at once (a duplicate ACK). */
        write_text(s, c, data, skip, off, len);
        stack_count(s, BERTH_CTR_OOO_QUEUED);
        tcp_sack_note_arrival(c, c->rcv_nxt + off);
        c->flags |= TF_ACK_NOW;
    } else {
        drop(s, c, BERTH_REASON_OOO_NO_ROOM);
        c->flags |= TF_ACK_NOW;
    }
    if (c->flags & TF_RD_SHUT)
        ring_drop(&c->rcv, c->rcv.len); /* shutdown(RD): discard */
    sock_mark(s, c->sock);
}

static enum tcp_step process_text(struct berth_stack *s, struct tcp_conn *c,
                                  struct tcp_seg *seg)
{
    if (seg->len == 0 || !accepts_text(c->state))
        return STEP_NEXT;
    /* Trim what we already have and what lies beyond the window (RFC 9293
     * §3.10.7.4 first); a FIN beyond the window goes with it. */
    uint32_t len = seg->len, off = 0, skip = 0;
    if (seq_lt(seg->seq, c->rcv_nxt)) {
        uint32_t dup = c->rcv_nxt - seg->seq;
        /* RFC 2883 §4.1.1: report what arrived twice. */
        tcp_sack_note_dup(c, seg->seq,
                          dup >= len ? seg->seq + len : c->rcv_nxt);
        if (dup >= len) {
            c->flags |= TF_ACK_NOW;
            return STEP_NEXT;
        }
        skip = dup;
        len -= dup;
    } else {
        off = seg->seq - c->rcv_nxt;
    }
    uint32_t room = c->rcv_adv - c->rcv_nxt;
    if (off + len > room) {
        len = off < room ? room - off : 0;
        seg->flags &= (uint8_t)~TH_FIN;
        c->flags |= TF_ACK_NOW;
    }
    if (len == 0)
        return STEP_NEXT;
    /* New data for a socket the application closed: nobody will read it.
     * RFC 1122 §4.2.2.13: a RST shows that data was lost. The TCB goes, and
     * the RST is that of a connection that does not exist, <SEQ=SEG.ACK>
     * (RFC 9293 §3.5.2 rule 1), as Linux's (tcp_reset, then
     * tcp_v4_send_reset): not the abort's SND.NXT, which our unacknowledged
     * FIN puts beyond the peer's RCV.NXT. */
    if (c->sock < 0 && !c->listener) {
        drop(s, c, BERTH_REASON_DATA_AFTER_CLOSE);
        tcp_send_rst_at_ack(s, c, seg);
        tcp_conn_delete(s, c, BERTH_REASON_APP_CLOSE);
        return STEP_GONE;
    }
    if (tcp_conn_reserve_rcv(s, c, off, len) != 0) {
        c->flags |= TF_ACK_NOW;
        return STEP_DONE;
    }
    /* RFC 2883 §4: data held out of order that this segment repeats, beside
     * new data, is a duplicate too (unless one below RCV.NXT was noted). */
    if (seq_geq(seg->seq, c->rcv_nxt) && !assembler_empty(&c->ooo))
        tcp_sack_note_held_dup(c, off, len);
    store_text(s, c, seg->payload, skip, off, len);
    return STEP_NEXT;
}

static void accept_fin(struct berth_stack *s, struct tcp_conn *c)
{
    c->rcv_nxt++;
    c->flags |= TF_RCVD_FIN | TF_ACK_NOW;
    c->flags &= ~TF_OOO_FIN;
    tcp_timer_clear(s, c, TCP_T_DELACK);
    sock_mark(s, c->sock);
}

static enum tcp_step process_fin(struct berth_stack *s, struct tcp_conn *c,
                                 struct tcp_seg *seg)
{
    if ((seg->flags & TH_FIN) && (c->flags & TF_RCVD_FIN)) {
        c->flags |= TF_ACK_NOW; /* a retransmitted FIN: ACK it again */
    } else if (seg->flags & TH_FIN) {
        /* Remember where it is: behind a hole it waits for the gap. */
        c->flags |= TF_OOO_FIN;
        c->rcv_fin = seg->seq + seg->len;
        /* RFC 5681 §4.2: out of order, it draws an immediate duplicate ACK
         * (with the SACK blocks we hold), as out-of-order data does. */
        if (c->rcv_fin != c->rcv_nxt)
            c->flags |= TF_ACK_NOW;
    }
    if (!(c->flags & TF_OOO_FIN) || c->rcv_fin != c->rcv_nxt)
        return STEP_NEXT;
    /* RFC 9293 §3.10.7.4 eighth: the FIN. */
    accept_fin(s, c);
    switch (c->state) {
    case BERTH_STATE_SYN_RECEIVED:
    case BERTH_STATE_ESTABLISHED:
        tcp_set_state(s, c, BERTH_STATE_CLOSE_WAIT, BERTH_REASON_RCV_FIN);
        return STEP_NEXT;
    case BERTH_STATE_FIN_WAIT_1:
        if (!our_fin_acked(c)) {
            tcp_set_state(s, c, BERTH_STATE_CLOSING, BERTH_REASON_RCV_FIN);
            return STEP_NEXT;
        }
        /* Our FIN is acked too: straight to TIME-WAIT, as from FIN-WAIT-2. */
        /* fall through */
    case BERTH_STATE_FIN_WAIT_2:
        tcp_output(s, c); /* the ACK of the FIN, before the TCB shrinks */
        tcp_time_wait(s, c, BERTH_REASON_RCV_FIN);
        return STEP_GONE;
    default:
        return STEP_NEXT;
    }
}

/* Header prediction (Van Jacobson's, as BSD's tcp_input and Linux's
 * tcp_rcv_established do; RFC 9293 §3.10.7.4 allows any shortcut that
 * gives the same result): in ESTABLISHED, the common segments are (a) a
 * pure ACK of new data and (b) the next in-order data acknowledging
 * nothing new. For those, the checks before the ACK step (PAWS, the
 * acceptance test, RST, SYN) are known to pass and the FIN step has
 * nothing to do; the prediction holds when: only ACK (and PSH) is set, the
 * segment starts at RCV.NXT, its timestamp (if agreed) passes PAWS, it
 * carries no SACK blocks, no out-of-order FIN is held, and either (a) it
 * has no text and SND.UNA < SEG.ACK =< SND.MAX outside recovery, or (b)
 * it acknowledges SND.UNA exactly and its text fits the window with no
 * out-of-order data held. Unlike BSD's, the window may differ: the fast
 * path takes it by the slow path's own rule (update_window), and neither
 * (a) (it acknowledges new data) nor (b) (it has text) can be a duplicate
 * ACK whatever the window (RFC 5681 §2), so a request-response exchange,
 * whose every segment moves the window by what the other side has not
 * yet read, stays on the fast path. A query: no side effects. */
static bool fast_path_predicted(const struct tcp_conn *c,
                                const struct tcp_seg *seg)
{
    if (c->state != BERTH_STATE_ESTABLISHED ||
        (seg->flags & (uint8_t)~TH_PSH) != TH_ACK || seg->seq != c->rcv_nxt ||
        seg->opts.sack_count != 0 || (c->flags & TF_OOO_FIN))
        return false;
    if ((c->flags & TF_TS) &&
        (!seg->opts.has_ts || ts_lt(seg->opts.ts_val, c->ts_recent)))
        return false;
    if (seg->len == 0)
        return seq_lt(c->snd_una, seg->ack) && seq_leq(seg->ack, c->snd_max) &&
               !(c->flags & (TF_RECOVERY | TF_RTO_RECOVER));
    return seg->ack == c->snd_una && assembler_empty(&c->ooo) &&
           seg->len <= c->rcv_adv - c->rcv_nxt;
}

/* The predicted segment: exactly what synchronized_input() does for it,
 * in its order, without the tests known to pass: TS.Recent and keepalive
 * (after the acceptance test), the ACK step (check_ack: the ACK is
 * acceptable, SYN-RECEIVED and the closing states do not apply, and new
 * data acknowledged or text carried make it no duplicate, RFC 5681 §2;
 * with SACK, no blocks make it none, RFC 6675 §2), then
 * the text. State changes, ACK policy, counters and traces are the slow
 * path's. A step added to check_ack for an acceptable ACK belongs here
 * too. */
static enum tcp_step fast_path_input(struct berth_stack *s, struct tcp_conn *c,
                                     struct tcp_seg *seg)
{
    update_ts_recent(s, c, seg);
    tcp_keepalive_reset(s, c);
    uint32_t acked = 0;
    if (seg->len == 0) {
        stack_count(s, BERTH_CTR_FAST_PATH_ACKS);
        acked = ack_new_data(s, c, seg);
    } else {
        stack_count(s, BERTH_CTR_FAST_PATH_DATA);
    }
    tcp_sack_update(s, c, seg); /* no blocks: trims the scoreboard */
    update_window(s, c, seg, acked > 0);
    tcp_cc_on_ack(s, c, seg, acked, false);
    return seg->len ? process_text(s, c, seg) : STEP_NEXT;
}

/* RFC 9293 §3.10.7.4 as a chain of steps. Input contract: seg is the
 * caller's and steps modify it in place: syn_received_repeats strips a
 * repeated SYN (SEG.SEQ moves past it), check_seq empties a zero-window
 * probe, process_text drops a FIN beyond the window. Later steps see those
 * edits. */
static enum tcp_step synchronized_input(struct berth_stack *s,
                                        struct tcp_conn *c, struct tcp_seg *seg)
{
    if (fast_path_predicted(c, seg) && !s->general_paths)
        return fast_path_input(s, c, seg);
    enum tcp_step st = check_paws(s, c, seg);
    if (st == STEP_NEXT)
        st = syn_received_repeats(s, c, seg);
    if (st == STEP_NEXT)
        st = check_seq(s, c, seg);
    if (st == STEP_NEXT)
        tcp_keepalive_reset(s, c);
    if (st == STEP_NEXT)
        st = check_rst(s, c, seg);
    if (st == STEP_NEXT)
        st = check_syn(s, c, seg);
    if (st == STEP_NEXT)
        st = check_ack(s, c, seg);
    /* Sixth, URG: urgent data is delivered inline as ordinary data, as
     * RFC 6093 §4 recommends; the pointer is not tracked. */
    if (st == STEP_NEXT)
        st = process_text(s, c, seg);
    if (st == STEP_NEXT)
        st = process_fin(s, c, seg);
    return st;
}

void tcp_conn_input(struct berth_stack *s, struct tcp_conn *c,
                    struct tcp_seg *seg)
{
    if (c->flags & TF_ACK_QUEUED)
        tcp_ack_owed_now(s, c); /* the ACK before the next segment */
    enum tcp_step st;
    switch (c->state) {
    case BERTH_STATE_SYN_SENT:
        st = syn_sent_input(s, c, seg);
        break;
    case BERTH_STATE_TIME_WAIT:
        st = tcp_time_wait_tcb_input(s, c, seg) ? STEP_DONE : STEP_GONE;
        break;
    default:
        st = synchronized_input(s, c, seg);
        break;
    }
    if (st != STEP_GONE)
        tcp_output(s, c);
}

void tcp_input(struct berth_stack *s, uint32_t src, uint32_t dst,
               struct tcp_seg *seg)
{
    /* The one 4-tuple hash of this segment: the table moves its processing
     * makes for this connection (SYN queue -> TCB -> TIME-WAIT) reuse it
     * (tcp_conn.c, table_hash). */
    struct tcp_node *n =
        tcp_lookup_seg(s, seg->v6, dst, seg->dport, src, seg->sport,
                       (seg->flags & (TH_SYN | TH_ACK)) == TH_SYN);
    if (n) {
        switch (n->kind) {
        case TCP_NODE_CONN:
            tcp_conn_input(s, (struct tcp_conn *)n, seg);
            return;
        case TCP_NODE_SYNREQ:
            tcp_synreq_input(s, (struct tcp_synreq *)n, seg);
            return;
        case TCP_NODE_TIMEWAIT:
            tcp_timewait_input(s, (struct tcp_timewait *)n, src, dst, seg);
            return;
        }
    }
    struct tcp_listener *l = tcp_listener_find(s, seg->v6, dst, seg->dport);
    if (l) {
        tcp_listen_input(s, l, src, dst, seg, 0);
        return;
    }
    /* RFC 9293 §3.10.7.1: CLOSED. */
    stack_trace_drop(s, -1, seg->v6, dst, seg->dport, src, seg->sport,
                     (seg->flags & TH_RST) ? BERTH_REASON_RST_NO_SOCKET
                                           : BERTH_REASON_NO_SOCKET);
    tcp_send_rst_for(s, src, dst, seg);
}
