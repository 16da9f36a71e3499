/* Output: tcp_output() is the one function that decides what a connection
 * sends (SYN, data, FIN, ACK), applying the window, Nagle and the sender's
 * silly-window rules; conn_sent() is the one record of what was sent; plus
 * the segment builder, the window we offer, and the resets, SYN-ACKs and
 * ACKs that are sent without a TCB's output decision. */
#include "tcp/tcp.h"

#include "base/seq.h"
#include "base/siphash.h"
#include "tcp/tcp_syncookie.h"
#include "wire/bytes.h"
#include "wire/checksum_sg.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

#include <string.h>

#define OUTPUT_BURST_LIMIT 4096u

/* RFC 6437 §3: the flow label of a 4-tuple, a keyed hash of it, so that
 * it is stable for the flow, unpredictable to others, and spread over the
 * 20 bits; never 0 (0 means unlabelled). */
static uint32_t flow_label(const struct berth_stack *s, const uint8_t *src,
                           const uint8_t *dst, uint16_t sport, uint16_t dport)
{
    struct {
        uint8_t src[16], dst[16];
        uint16_t sport, dport;
    } k;
    memcpy(k.src, src, 16);
    memcpy(k.dst, dst, 16);
    k.sport = sport;
    k.dport = dport;
    uint32_t f = (uint32_t)siphash13(s->cfg.secret, &k, sizeof k) & 0xfffffu;
    return f ? f : 1;
}

/* Builds the IP header of a segment whose TCP part (hl + len bytes) sits
 * after it in txbuf; returns the IP header's length. */
static size_t emit_ip(struct berth_stack *s, const struct tcp_out *o,
                      size_t tcp_len)
{
    if (!o->v6) {
        stack_count(s, BERTH_CTR_IP_OUT);
        return ipv4_emit(s->txbuf, o->laddr, o->raddr, IPPROTO_TCP_NUM,
                         s->cfg.ttl, s->ip_id++, (uint16_t)tcp_len);
    }
    const uint8_t *src = addr6_get(&s->addr6, o->laddr);
    const uint8_t *dst = addr6_get(&s->addr6, o->raddr);
    stack_count(s, BERTH_CTR_IP6_OUT);
    return ipv6_emit(s->txbuf, src, dst, IPV6_NH_TCP, s->cfg.hop_limit,
                     flow_label(s, src, dst, o->lport, o->rport),
                     (uint16_t)tcp_len);
}

/* Scatter-gather transmit (berth_config.tx_sg): the text stays in the
 * send buffer, as one or two spans; only the headers are built. A single
 * segment's checksum is the partial one emit_seg leaves (the pseudo-header
 * sum, RFC 9293 §3.1) completed over the header and the spans in place;
 * a super-segment's stays partial, for the link. */
static void send_sg(struct berth_stack *s, const struct tcp_out *o,
                    uint8_t *tcp, size_t hl, size_t n)
{
    uint8_t *p[2];
    uint32_t l[2];
    ring_span(o->data, o->data_off, o->len, p, l);
    struct berth_iov sp[2] = {{p[0], l[0]}, {p[1], l[1]}};
    if (o->gso_size == 0) {
        uint64_t sum = csum_add_iov(0, tcp, hl, sp, 2, hl + o->len);
        store_be16(tcp + 16, csum_fold(sum));
    }
    s->cfg.tx_sg(s->cfg.tx_ctx, s->txbuf, n, sp, l[1] ? 2 : 1, o->gso_size);
}

/* The segment o as the event log shows it (only while logging is on:
 * tcp_send emits from o itself). */
static void log_out(struct berth_stack *s, const struct tcp_out *o, size_t hl)
{
    struct tcp_seg seg = {.sport = o->lport,
                          .dport = o->rport,
                          .seq = o->seq,
                          .ack = o->ack,
                          .flags = o->flags,
                          .wnd = o->wnd,
                          .hdr_len = (uint16_t)hl,
                          .opts = o->opts,
                          .len = o->len,
                          .v6 = o->v6};
    tcp_log_segment(s, true, o->v6, o->laddr, o->raddr, &seg);
}

void tcp_send(struct berth_stack *s, const struct tcp_out *o)
{
    /* The header is emitted from o's fields where they are: no struct
     * tcp_seg (and no copy of the options) unless the log asks for one.
     * The options first, which gives the header's length: the text goes
     * after it, and the checksum covers both. */
    size_t iphl = o->v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
    uint8_t *tcp = s->txbuf + iphl;
    size_t hl = tcp_emit_options(tcp, &o->opts);
    /* With tx_sg the text is not copied at all (send_sg). */
    bool sg = o->len && s->cfg.tx_sg;
    if (o->len && !sg)
        ring_peek(o->data, o->data_off, tcp + hl, o->len);
    bool partial = o->gso_size > 0 || sg;
    if (o->v6)
        tcp_emit_header6(tcp, hl, o->lport, o->rport, o->seq, o->ack, o->flags,
                         o->wnd, o->len, addr6_get(&s->addr6, o->laddr),
                         addr6_get(&s->addr6, o->raddr), partial);
    else
        tcp_emit_header(tcp, hl, o->lport, o->rport, o->seq, o->ack, o->flags,
                        o->wnd, o->len, o->laddr, o->raddr, partial);
    emit_ip(s, o, hl + o->len);
    stack_count(s, BERTH_CTR_SEGS_OUT);
    if (o->flags & TH_RST)
        stack_count(s, BERTH_CTR_RST_OUT);
    size_t n = iphl + hl + o->len;
    if (stack_log_on(s))
        log_out(s, o, hl);
    if (sg)
        send_sg(s, o, tcp, hl, iphl + hl);
    else if (o->gso_size > 0)
        s->cfg.tx_gso(s->cfg.tx_ctx, s->txbuf, n, o->gso_size);
    else if (s->cfg.tx)
        s->cfg.tx(s->cfg.tx_ctx, s->txbuf, n);
}

void tcp_send_rst_for(struct berth_stack *s, uint32_t src, uint32_t dst,
                      const struct tcp_seg *seg)
{
    /* RFC 9293 §3.10.7.1: an incoming RST is discarded; a reset is never
     * answered with a reset. */
    if (seg->flags & TH_RST)
        return;
    struct tcp_out o = {.v6 = seg->v6,
                        .laddr = dst,
                        .raddr = src,
                        .lport = seg->dport,
                        .rport = seg->sport};
    /* RFC 7323 §5.2: a RST caused by a segment with timestamps carries
     * them too, TSval 0 and TSecr = SEG.TSval. */
    if (seg->opts.has_ts) {
        o.opts.has_ts = true;
        o.opts.ts_ecr = seg->opts.ts_val;
    }
    if (seg->flags & TH_ACK) {
        o.seq = seg->ack; /* <SEQ=SEG.ACK><CTL=RST> */
        o.flags = TH_RST;
    } else {
        o.seq = 0; /* <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
        o.ack = seg->seq + tcp_seg_space(seg);
        o.flags = TH_RST | TH_ACK;
    }
    tcp_send(s, &o);
}

/* ---- The receive window we offer ---- */

uint32_t tcp_rcv_sws_step(const struct tcp_conn *c)
{
    uint32_t half = c->rcvbuf_size / 2;
    return half < c->rcv_mss ? half : c->rcv_mss;
}

/* The largest window the field can say (RFC 7323 §2.3). */
static uint32_t rcv_window_max(const struct tcp_conn *c)
{
    return TCP_WINDOW_FIELD_MAX << c->rcv_wscale;
}

uint32_t tcp_rcv_space(const struct berth_stack *s, const struct tcp_conn *c)
{
    /* Under memory pressure the offer stops growing (tcp_conn_rcv_cap);
     * rcv_adv_next never moves the edge left, RFC 9293 §3.8.6.2.2. A
     * shrunk RCVBUF may hold less than is queued: no room then. */
    uint32_t cap = tcp_conn_rcv_cap(s, c);
    uint32_t avail = (c->flags & TF_RD_SHUT) ? cap
                     : cap > c->rcv.len      ? cap - c->rcv.len
                                             : 0;
    uint32_t max = rcv_window_max(c);
    return avail < max ? avail : max;
}

/* Where our right edge (RCV.ADV) goes at the next ACK. RFC 9293
 * §3.8.6.2.2 (receiver SWS avoidance): it moves only by a full SWS step,
 * or to all the buffer or the field allows; never left (§3.8.6.2.2:
 * shrinking the window is strongly discouraged). */
static uint32_t rcv_adv_next(const struct berth_stack *s,
                             const struct tcp_conn *c)
{
    uint32_t avail = tcp_rcv_space(s, c);
    uint32_t edge = c->rcv_nxt + avail, adv = c->rcv_adv;
    if (seq_gt(edge, adv) &&
        (edge - adv >= tcp_rcv_sws_step(c) || avail == rcv_window_max(c) ||
         avail == c->rcvbuf_size))
        adv = edge;
    return seq_lt(adv, c->rcv_nxt) ? c->rcv_nxt : adv;
}

/* The window field of a segment c sends; RCV.ADV moves to the right edge
 * it offers. A SYN offers the buffer, unscaled (RFC 7323 §2.2); after a
 * SYN,ACK (simultaneous open) the peer may send up to it, so our
 * acceptance test must allow it too (as a listener's SYN-queue entry
 * does). */
static uint16_t rcv_window_advertise(const struct berth_stack *s,
                                     struct tcp_conn *c, uint8_t flags)
{
    if (flags & TH_SYN) {
        uint16_t wnd = tcp_window_field(c->rcvbuf_size, 0);
        if ((flags & TH_ACK) && seq_lt(c->rcv_adv, c->rcv_nxt + wnd))
            c->rcv_adv = c->rcv_nxt + wnd;
        return wnd;
    }
    if (!(flags & TH_ACK))
        return 0;
    c->rcv_adv = rcv_adv_next(s, c);
    return tcp_window_field(c->rcv_adv - c->rcv_nxt, c->rcv_wscale);
}

/* ---- Building and recording a TCB's segments ---- */

/* RFC 7323 §3.2: TSval from our clock, TSecr the TSval we echo. */
static void out_stamp(const struct berth_stack *s, struct tcp_out *o,
                      uint32_t ts_offset, uint32_t ts_ecr)
{
    o->opts.ts_val = tcp_ts_now(s, ts_offset);
    o->opts.ts_ecr = ts_ecr;
}

/* A segment of the record n, no window, options or text yet, written
 * into *o field by field, not by an initializer: that would clear the
 * whole record (the four SACK blocks too) before the fields are
 * written. What is left unset is read by nobody: the MSS and WS values
 * while has_mss and has_wscale are false (tcp_syn_options sets each with
 * its flag) and the SACK blocks beyond sack_count. The callers' stores
 * replace the rest where they set them (the compiler drops the first). */
__attribute__((always_inline)) static inline void
out_init(struct tcp_out *o, const struct tcp_node *n, uint32_t seq,
         uint32_t ack, uint8_t flags, bool ts)
{
    o->v6 = n->v6;
    o->laddr = n->laddr;
    o->raddr = n->raddr;
    o->lport = n->lport;
    o->rport = n->rport;
    o->seq = seq;
    o->ack = ack;
    o->flags = flags;
    o->wnd = 0;
    tcp_opts_set_ts_alone(&o->opts, ts); /* out_stamp fills them in */
    o->opts.ts_val = o->opts.ts_ecr = 0; /* the event log shows them */
    o->opts.sack_count = 0;
    o->data = NULL;
    o->data_off = o->len = 0;
    o->gso_size = 0;
}

/* A segment of c, written into the caller's *o. Its window is advertised
 * (RCV.ADV moves); an ACK carries RCV.NXT, and SACK blocks when agreed.
 * Inline in each caller, with no call; written through o, not returned:
 * gcc copied the returned record into the caller's (every segment a TCB
 * sends). */
__attribute__((always_inline)) static inline void
conn_out(const struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
         uint8_t flags, struct tcp_out *o)
{
    out_init(o, &c->n, seq, (flags & TH_ACK) ? c->rcv_nxt : 0, flags,
             (c->flags & TF_TS) != 0);
    o->wnd = rcv_window_advertise(s, c, flags);
    /* RFC 7323 §3.2: once negotiated, on every segment; §5.2: on the RST
     * of an abort too. */
    if (c->flags & TF_TS)
        out_stamp(s, o, c->ts_offset, c->ts_recent);
    /* Blocks only with a D-SACK to report or data held out of order
     * (tcp_sack_fill); else none, as out_init left it, without a call. */
    if ((c->flags & TF_SACK) && (flags & TH_ACK) && !(flags & TH_SYN) &&
        ((c->flags & TF_DSACK) || c->ooo.n > 0))
        tcp_sack_fill(c, &o->opts);
}

/* How a segment was chosen, which decides what sending it changes. */
enum sent_as {
    SENT_NEXT,  /* by tcp_output() at SND.NXT, which moves past it (a
                   bare ACK occupies nothing: only its ACK is recorded) */
    SENT_RANGE, /* by loss recovery (tcp_output_range): SND.NXT stays */
    SENT_PROBE, /* a zero-window probe at SND.UNA (RFC 9293 §3.8.6.1):
                   neither timed nor counted as a retransmission */
};

/* The one record of what c sent: owed ACKs paid, RFC 7323 §4.3's
 * Last.ACK.sent, SND.NXT and SND.MAX, retransmissions counted (with RFC
 * 6675's HighRxt and RFC 3708's undo count in recovery), Karn's rule and
 * RTT timing (RFC 6298 §3), Limited Transmit's share (RFC 3042 §2), the
 * user-timeout reference, the idle clock (RFC 5681 §4.1) and the
 * retransmission timer. */
static inline void conn_sent(struct berth_stack *s, struct tcp_conn *c,
                             const struct tcp_out *o, enum sent_as as)
{
    if (!(o->flags & TH_RST)) { /* everything a segment carries acks too */
        c->flags &= ~TF_ACK_NOW;
        c->delack_bytes = 0;
        tcp_timer_clear(s, c, TCP_T_DELACK);
    }
    if (o->flags & TH_ACK)
        c->last_ack_sent = o->ack;
    uint32_t end = o->seq + o->len + ((o->flags & TH_SYN) ? 1u : 0u) +
                   ((o->flags & TH_FIN) ? 1u : 0u);
    if (end == o->seq)
        return; /* no sequence space */
    if (o->flags & TH_FIN)
        c->flags |= TF_FIN_SENT;
    if (as == SENT_PROBE) {
        c->snd_nxt = seq_max(c->snd_nxt, end);
        c->snd_max = seq_max(c->snd_max, c->snd_nxt);
        return;
    }
    bool retrans = seq_lt(o->seq, c->snd_max);
    if (!(o->flags & TH_SYN))
        tcp_rack_sent(s, c, o->seq, end, retrans); /* RFC 8985 §6.1 */
    if (retrans) {
        stack_count(s, BERTH_CTR_RETRANS_SEGS);
        c->total_retrans++;
        if (as == SENT_RANGE) {
            c->high_rxt = seq_max(c->high_rxt, end); /* RFC 6675 HighRxt */
            tcp_cc_note_rexmit(c);
            /* Karn: the timed segment resent makes its ACK ambiguous. */
            if (c->rtt_time && seq_lt(o->seq, c->rtt_seq))
                c->rtt_time = 0;
        }
    } else if (as == SENT_NEXT && c->rtt_time == 0) {
        /* Karn: time one new segment at a time. (0 means none: a segment
         * sent when the clock's low 32 bits are 0 goes untimed.) */
        c->rtt_time = (uint32_t)s->now;
        c->rtt_seq = end;
    }
    if (as == SENT_NEXT) {
        uint32_t beyond = o->seq + o->len - (c->snd_una + c->cwnd);
        if (o->len > 0 && o->seq == c->snd_max && (int32_t)beyond > 0)
            c->lt_sent += beyond < o->len ? beyond : o->len; /* RFC 3042 */
        if (c->snd_una == c->snd_max)
            c->unacked_since = tcp_ms_clock(s);
        c->snd_nxt = end;
    }
    c->snd_max = seq_max(c->snd_max, end);
    if (as == SENT_RANGE && seq_lt(c->snd_nxt, c->snd_max) &&
        (c->flags & TF_RECOVERY) && (c->flags & TF_SACK))
        c->snd_nxt = c->snd_max; /* SACK recovery sends by NextSeg */
    c->last_send = tcp_ms_now(s);
    /* The RTO is armed if nothing is; a PTO restarts after new data (RFC
     * 8985 §7.2). */
    if (!c->deadline[TCP_T_REXMIT] ||
        (c->rexmit_kind == TCP_RX_TLP && !retrans))
        tcp_rexmit_restart(s, c);
}

void tcp_send_abort_rst(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>. Nothing to record: the
     * TCB is deleted next. */
    struct tcp_out o;
    conn_out(s, c, c->snd_max, TH_RST, &o);
    tcp_send(s, &o);
}

void tcp_send_rst_at_ack(struct berth_stack *s, struct tcp_conn *c,
                         const struct tcp_seg *seg)
{
    /* SEG.ACK passed the ACK check (SND.UNA <= SEG.ACK <= SND.NXT): it is
     * the peer's RCV.NXT when it sent the segment, where RFC 5961 §3.2
     * takes a RST; SND.NXT may lie beyond it (a FIN it has not seen). */
    struct tcp_out o;
    conn_out(s, c, (seg->flags & TH_ACK) ? seg->ack : c->snd_max, TH_RST, &o);
    tcp_send(s, &o);
}

/* The sequence number of a segment without text (ACK, keepalive): SND.MAX,
 * RFC 9293's SND.NXT (never the one go-back-N wound back, which may lie
 * below the peer's RCV.NXT), but no further than the peer's window: after
 * an unaccepted zero-window probe SND.MAX is one beyond it, and the peer
 * would discard the ACK (as Linux's tcp_acceptable_seq). */
static uint32_t ack_seq(const struct tcp_conn *c)
{
    uint32_t edge = c->snd_una + c->snd_wnd;
    return seq_lt(edge, c->snd_max) && seq_geq(edge, c->snd_una) ? edge
                                                                 : c->snd_max;
}

/* Every ACK without text a TCB sends: <SEQ=seq><ACK=RCV.NXT><CTL=ACK>. */
static void send_ack(struct berth_stack *s, struct tcp_conn *c, uint32_t seq)
{
    struct tcp_out o;
    conn_out(s, c, seq, TH_ACK, &o);
    tcp_send(s, &o);
    conn_sent(s, c, &o, SENT_NEXT);
}

/* An owed ACK with nothing to carry it (TF_ACK_NOW, no text, no FIN).
 *
 * Piggybacking (s->defer_acks, set while an input call with an event
 * callback runs): in ESTABLISHED and CLOSE_WAIT the application may answer
 * from the callbacks of this very call, and its reply, FIN or window
 * update then carries the ACK (RFC 1122 §4.2.3.2 lets an ACK wait, for
 * much longer than this; RFC 9293 §3.8.6.3). The ACK is not delayed in
 * time: whatever is still owed leaves at the end of the same call
 * (tcp_ack_flush), at the same clock reading. Linux does the same for the
 * ACK of a SYN-ACK when a write is pending (tcp_rcv_synsent_state_process)
 * and in interactive ("pingpong") mode. A later segment of the same
 * connection in the batch sends the ACK first (tcp_ack_owed_now), so the
 * ACK count of a bulk stream (RFC 5681 §4.2: every second full-sized
 * segment) does not change. Every other state sends at once: the TCB may
 * shrink into TIME-WAIT or go away before the end of the call. */
static void owed_ack(struct berth_stack *s, struct tcp_conn *c)
{
    if (s->defer_acks && (c->state == BERTH_STATE_ESTABLISHED ||
                          c->state == BERTH_STATE_CLOSE_WAIT)) {
        if (c->flags & TF_ACK_QUEUED)
            return;
        if (s->nacks_owed < STACK_ACKS_OWED) {
            c->flags |= TF_ACK_QUEUED;
            s->acks_owed[s->nacks_owed++] = c;
            return;
        }
    }
    send_ack(s, c, ack_seq(c));
}

void tcp_ack_owed_now(struct berth_stack *s, struct tcp_conn *c)
{
    if ((c->flags & (TF_ACK_QUEUED | TF_ACK_NOW)) ==
            (TF_ACK_QUEUED | TF_ACK_NOW) &&
        tcp_state_synchronized(c->state))
        send_ack(s, c, ack_seq(c));
}

void tcp_ack_flush(struct berth_stack *s)
{
    /* An ACK sent here queues nothing (s->defer_acks is off). */
    for (uint32_t i = 0; i < s->nacks_owed; i++) {
        struct tcp_conn *c = s->acks_owed[i];
        if (!c)
            continue; /* freed meanwhile (tcp_ack_forget) */
        c->flags &= ~TF_ACK_QUEUED;
        if ((c->flags & TF_ACK_NOW) && tcp_state_synchronized(c->state))
            send_ack(s, c, ack_seq(c));
    }
    s->nacks_owed = 0;
}

void tcp_ack_forget(struct berth_stack *s, struct tcp_conn *c)
{
    if (!(c->flags & TF_ACK_QUEUED))
        return;
    c->flags &= ~TF_ACK_QUEUED;
    for (uint32_t i = 0; i < s->nacks_owed; i++)
        if (s->acks_owed[i] == c)
            s->acks_owed[i] = NULL;
}

void tcp_send_record_ack(struct berth_stack *s, const struct tcp_node *n,
                         uint32_t seq, uint32_t ack, uint16_t wnd, bool ts,
                         uint32_t ts_recent)
{
    struct tcp_out o;
    out_init(&o, n, seq, ack, TH_ACK, ts);
    o.wnd = wnd;
    if (ts)
        out_stamp(s, &o, tcp_ts_offset(s, n), ts_recent);
    tcp_send(s, &o);
}

uint32_t tcp_snd_data_seq(const struct tcp_conn *c)
{
    return c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
}

/* The payload a segment may carry: the peer's MSS less the options our
 * segments carry (RFC 6691 §2: the MSS counts no TCP options; RFC 9293
 * §3.7.1): timestamps, and SACK blocks while we hold out-of-order data or
 * owe a D-SACK. */
static uint32_t payload_mss(const struct tcp_conn *c)
{
    struct tcp_opts o = {.has_ts = (c->flags & TF_TS) != 0};
    if ((c->flags & TF_SACK) && (c->ooo.n || (c->flags & TF_DSACK))) {
        uint32_t n = c->ooo.n + ((c->flags & TF_DSACK) ? 1u : 0u);
        o.sack_count = (uint8_t)(n < TCP_SACK_MAX ? n : TCP_SACK_MAX);
    }
    uint32_t opts = (uint32_t)tcp_opts_len(&o);
    return c->snd_mss > opts + 64 ? c->snd_mss - opts : 64;
}

static bool send_syn(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 9293 §3.10.7.3 / §3.5: <SEQ=ISS><CTL=SYN>, or SYN,ACK once the
     * peer's SYN is known (simultaneous open). MSS option: §3.7.1. */
    uint8_t flags = TH_SYN;
    bool syn_sent = c->state == BERTH_STATE_SYN_SENT;
    if (!syn_sent)
        flags |= TH_ACK;
    struct tcp_out o;
    conn_out(s, c, c->iss, flags, &o);
    tcp_syn_options(s, c, c->synopts, syn_sent, &o.opts);
    if (o.opts.has_ts) /* RFC 7323 §3.2: TSecr 0 in a SYN */
        out_stamp(s, &o, c->ts_offset, syn_sent ? 0 : c->ts_recent);
    tcp_send(s, &o);
    conn_sent(s, c, &o, SENT_NEXT);
    return false; /* nothing follows a SYN until it is acknowledged */
}

/* A segment of text [seq, seq+len) from the send buffer, with the FIN
 * after it if fin. */
static void send_text(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                      uint32_t len, bool fin, enum sent_as as, uint32_t mss)
{
    uint32_t data_seq = tcp_snd_data_seq(c);
    uint8_t flags = TH_ACK;
    if (len > 0 && seq + len == data_seq + c->snd.len)
        flags |= TH_PSH; /* the end of what the application wrote */
    if (fin)
        flags |= TH_FIN;
    struct tcp_out o;
    conn_out(s, c, seq, flags, &o);
    o.data = &c->snd;
    o.data_off = seq - data_seq;
    o.len = len;
    if (len > mss) /* only tso_seg_max() makes these */
        o.gso_size = (uint16_t)mss;
    tcp_send(s, &o);
    conn_sent(s, c, &o, as);
}

/* The most text one segment of c may carry: one MSS, or with TCP
 * segmentation offload (cfg.tso_max) as many whole MSS as the datagram
 * holds with our headers; the link cuts it into MSS-sized segments. */
static uint32_t tso_seg_max(const struct berth_stack *s,
                            const struct tcp_conn *c, uint32_t mss)
{
    uint32_t iphl = c->n.v6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
    uint32_t hdrs = iphl + TCP_HDR_LEN + (c->snd_mss - mss);
    if ((!s->cfg.tx_gso && !s->cfg.tx_sg) || s->cfg.tso_max < hdrs + 2 * mss)
        return mss;
    return (s->cfg.tso_max - hdrs) / mss * mss;
}

/* With segmentation offload, a window-limited sender holds back a partial
 * super-segment while most of the window is in flight: the next ACK (one
 * per two segments at least, so soon) opens room for a fuller one, where
 * sending now costs a whole link write for a few MSS (over TUN, one write
 * in three carried 1-3 MSS). Linux's tcp_tso_should_defer() in a simple
 * form: only new data, no duplicate ACKs or recovery (limited transmit and
 * fast retransmit go at once), at least two MSS in flight, and less than
 * an eighth of the window sendable, so what waits costs at most an eighth
 * of the window (Linux allows a third, but sizes its super-segments to
 * the rate; ours are always the largest). RFC 9293 §3.8.6.2.1 lets the
 * sender choose when to send what the window allows; the ACK it waits
 * for is always coming, as data is in flight. */
static bool tso_should_defer(const struct berth_stack *s,
                             const struct tcp_conn *c, uint32_t len,
                             uint32_t avail, uint32_t wnd, uint32_t mss)
{
    if (len == 0 || len >= avail || c->snd_nxt != c->snd_max ||
        c->dupacks > 0 || (c->flags & TF_RECOVERY))
        return false;
    /* A time bound, as Linux's ("allowing defer only if the last write was
     * recent (1 ms)"): once more than a millisecond has passed since we
     * last sent, the next output sends what waits. Output runs at every
     * ACK, and one is coming (two MSS are in flight), so a remainder waits
     * for at most that ACK, or about a millisecond when ACKs are slow. */
    if (tcp_ms_now(s) - c->last_send > 1)
        return false;
    uint32_t seg_max = tso_seg_max(s, c, mss);
    if (seg_max <= mss || len >= seg_max)
        return false;
    return c->snd_nxt - c->snd_una >= 2 * mss && len < wnd / 8;
}

/* RFC 9293 §3.7.4 (Nagle) and §3.8.6.2.1 (sender SWS avoidance): with data
 * in flight, hold a short segment until it fills an MSS or half the largest
 * window offered (or NODELAY and it is all we have), since an ACK will come
 * and bring more. With nothing in flight no ACK will come: send what the
 * window allows now (the RFC's "override timeout" taken as zero, as Linux
 * does; the receiver's SWS avoidance keeps windows from being silly). */
static bool worth_sending(const struct tcp_conn *c, uint32_t len,
                          uint32_t avail, uint32_t mss)
{
    if (len >= mss || c->snd_nxt == c->snd_una)
        return true;
    if (seq_lt(c->snd_nxt, c->snd_max))
        return true; /* retransmission */
    if (len == avail && (c->flags & TF_NODELAY))
        return true;
    return c->max_sndwnd > 0 && len >= c->max_sndwnd / 2;
}

static bool fin_allowed(const struct tcp_conn *c)
{
    /* Once our FIN is acknowledged there is nothing left to send, ever
     * (RFC 9293 §3.10.4: a second FIN is never emitted). */
    if ((c->flags & TF_FIN_SENT) && c->snd_una == c->snd_max)
        return false;
    return (c->flags & TF_FIN_QUEUED) && (c->state == BERTH_STATE_FIN_WAIT_1 ||
                                          c->state == BERTH_STATE_CLOSING ||
                                          c->state == BERTH_STATE_LAST_ACK);
}

/* Sends one segment if there is one to send; true if the caller should try
 * for another. */
static bool output_one(struct berth_stack *s, struct tcp_conn *c)
{
    if (c->snd_nxt == c->iss && c->snd_una == c->iss)
        return send_syn(s, c);
    uint32_t data_end = tcp_snd_data_seq(c) + c->snd.len;
    uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
    if (avail == 0 && (c->snd_nxt != data_end || !fin_allowed(c)) &&
        !s->general_paths) {
        /* Nothing to send, no FIN due: what the rest does with no text
         * (len 0, fin false, no persist timer without text waiting),
         * without the windows it would work out for none. The common call:
         * after each segment sent, and for each segment received. */
        if (c->flags & TF_ACK_NOW)
            owed_ack(s, c);
        return false;
    }
    if (avail > 0 && c->snd_nxt == c->snd_max)
        tcp_cc_restart_after_idle(s, c);
    uint32_t cwnd = c->cwnd + tcp_cc_limited_transmit(c); /* RFC 3042 */
    uint32_t wnd = c->snd_wnd < cwnd ? c->snd_wnd : cwnd;
    uint32_t edge = c->snd_una + wnd;
    uint32_t usable = seq_lt(c->snd_nxt, edge) ? edge - c->snd_nxt : 0;
    uint32_t len = avail < usable ? avail : usable;
    uint32_t mss = len > 0 ? payload_mss(c) : 0; /* only text needs it */
    uint32_t seg_max = len > mss ? tso_seg_max(s, c, mss) : mss;
    if (len > seg_max)
        len = seg_max;
    if (len > mss)
        len -= len % mss; /* whole segments; the tail goes by Nagle next */
    /* The FIN follows the last byte of data: BSD sends it whatever the
     * window (it takes no buffer space at the receiver). */
    bool fin = fin_allowed(c) && c->snd_nxt + len == data_end &&
               seq_leq(c->snd_nxt, data_end);
    if (len > 0 && !fin &&
        (!worth_sending(c, len, avail, mss) ||
         tso_should_defer(s, c, len, avail, wnd, mss)))
        len = 0;
    if (len == 0 && !fin) {
        if (avail > 0 && usable == 0 && c->snd_wnd == 0 &&
            !c->deadline[TCP_T_REXMIT] && !c->deadline[TCP_T_PERSIST])
            tcp_timer_set(s, c, TCP_T_PERSIST, s->now + tcp_rto(s, c));
        if (c->flags & TF_ACK_NOW)
            owed_ack(s, c);
        return false;
    }
    send_text(s, c, c->snd_nxt, len, fin, SENT_NEXT, mss);
    return !fin;
}

void tcp_output_range(struct berth_stack *s, struct tcp_conn *c, uint32_t seq,
                      uint32_t len)
{
    uint32_t data_seq = tcp_snd_data_seq(c);
    uint32_t data_end = data_seq + c->snd.len;
    uint32_t dlen = 0;
    if (seq_lt(seq, data_end) && seq_geq(seq, data_seq))
        dlen = seq_min(seq_min(len, data_end - seq), payload_mss(c));
    /* RFC 9293 §3.8.6: resend only what lies between SND.UNA and
     * SND.UNA+SND.WND; a zero window is the persist timer's business. */
    uint32_t edge = c->snd_una + c->snd_wnd;
    if (dlen > 0) {
        if (!seq_lt(seq, edge))
            return;
        dlen = seq_min(dlen, edge - seq);
    }
    bool fin = fin_allowed(c) && seq + dlen == data_end;
    if (dlen > 0 || fin)
        send_text(s, c, seq, dlen, fin, SENT_RANGE, dlen);
}

bool tcp_output_probe(struct berth_stack *s, struct tcp_conn *c, bool *retrans)
{
    /* RFC 8985 §7.3: previously unsent data if the peer's window allows
     * (cwnd does not limit a probe)... */
    uint32_t data_end = tcp_snd_data_seq(c) + c->snd.len;
    uint32_t edge = c->snd_una + c->snd_wnd;
    uint32_t max = c->snd_max;
    if (c->snd_nxt == c->snd_max && seq_lt(c->snd_max, data_end) &&
        seq_lt(c->snd_max, edge)) {
        uint32_t len =
            seq_min(seq_min(data_end, edge) - c->snd_max, payload_mss(c));
        bool fin = fin_allowed(c) && c->snd_max + len == data_end;
        send_text(s, c, c->snd_max, len, fin, SENT_NEXT, len);
        *retrans = false;
        return c->snd_max != max;
    }
    /* ... else the highest-sequence segment sent, again. */
    uint32_t top = c->snd_max;
    if (c->flags & TF_FIN_SENT)
        top--; /* the FIN comes with the data before it */
    uint32_t len = seq_min(top - c->snd_una, payload_mss(c));
    uint32_t last = tcp_rack_last_start(c, top); /* that segment's start */
    if (seq_lt(last, top) && seq_geq(last, c->snd_una) && top - last < len)
        len = top - last;
    uint32_t rx = c->total_retrans;
    tcp_output_range(s, c, top - len, len);
    *retrans = true;
    return c->total_retrans != rx;
}

/* RFC 6675 §5 step (C): in SACK-based recovery, send while the pipe leaves
 * room for a full segment, choosing what to send with NextSeg. */
static void output_sack_recovery(struct berth_stack *s, struct tcp_conn *c)
{
    for (uint32_t i = 0; i < OUTPUT_BURST_LIMIT; i++) {
        if (c->cwnd < tcp_sack_pipe(c) + c->snd_mss)
            break;
        uint32_t seq, len;
        bool rexmit;
        /* HighRxt does not move when a lost retransmission below it goes
         * again (RFC 8985 §6.2): the count of retransmissions does. */
        uint32_t rx = c->total_retrans, max = c->snd_max;
        if (!tcp_sack_next_seg(c, &seq, &len, &rexmit))
            break;
        tcp_output_range(s, c, seq, len);
        if (c->total_retrans == rx && c->snd_max == max)
            break; /* nothing could be sent */
    }
    if (c->flags & TF_ACK_NOW)
        owed_ack(s, c);
}

void tcp_output(struct berth_stack *s, struct tcp_conn *c)
{
    switch (c->state) {
    case BERTH_STATE_CLOSED:
    case BERTH_STATE_LISTEN:
        return;
    case BERTH_STATE_TIME_WAIT:
        if (c->flags & TF_ACK_NOW)
            send_ack(s, c, ack_seq(c));
        return;
    default:
        break;
    }
    if ((c->flags & (TF_RECOVERY | TF_SACK)) == (TF_RECOVERY | TF_SACK)) {
        output_sack_recovery(s, c);
    } else {
        for (uint32_t i = 0; i < OUTPUT_BURST_LIMIT; i++)
            if (!output_one(s, c))
                break;
    }
    sock_mark(s, c->sock);
}

void tcp_send_persist_probe(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 9293 §3.8.6.1: with a zero window, regularly send one octet of
     * new data beyond the window; the ACK it draws reopens the window. */
    uint32_t off = c->snd_una - tcp_snd_data_seq(c);
    if (c->snd.len <= off)
        return;
    struct tcp_out o;
    conn_out(s, c, c->snd_una, TH_ACK, &o);
    o.data = &c->snd;
    o.data_off = off;
    o.len = 1;
    tcp_send(s, &o);
    conn_sent(s, c, &o, SENT_PROBE);
    stack_count(s, BERTH_CTR_PERSIST_PROBES);
}

void tcp_send_keepalive(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT-1 with no data; the peer's
     * answer is an ACK for SND.NXT. */
    send_ack(s, c, ack_seq(c) - 1);
    stack_count(s, BERTH_CTR_KEEPALIVE_PROBES);
}

uint16_t tcp_our_mss(const struct berth_stack *s, const struct tcp_conn *c)
{
    return tcp_our_mss_fam(s, c, c->n.v6);
}

uint16_t tcp_our_mss_fam(const struct berth_stack *s, const struct tcp_conn *c,
                         bool v6)
{
    /* cfg.mss is IPv4's (MTU - 40); the IPv6 header is 20 bytes longer,
     * so the same link gives IPv6 20 less: 1440 for MTU 1500 (RFC 9293
     * §3.7.1, MTU minus the fixed IP and TCP headers). */
    uint16_t m = s->cfg.mss;
    if (v6)
        m = m > TCP_MIN_MSS + 20 ? (uint16_t)(m - 20) : TCP_MIN_MSS;
    if (c->user_mss && c->user_mss < m)
        return c->user_mss;
    return m;
}

static void synack_out(struct berth_stack *s, const struct tcp_synreq *r,
                       const struct tcp_conn *tmpl, struct tcp_out *o)
{
    /* RFC 9293 §3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; the
     * window unscaled (RFC 7323 §2.2). Written into the caller's *o, not
     * returned (a copy of the record). */
    out_init(o, &r->n, r->iss, r->irs + 1, TH_SYN | TH_ACK, false);
    o->wnd = tcp_window_field(tmpl->rcvbuf_size, 0);
    tcp_syn_options(s, tmpl, r->opts, false, &o->opts);
    /* A dual-stack listener's template is IPv6: the MSS is the entry's. */
    o->opts.mss = tcp_our_mss_fam(s, tmpl, r->n.v6);
    if (o->opts.has_ts)
        out_stamp(s, o, tcp_ts_offset(s, &r->n), r->ts_recent);
}

void tcp_send_synack(struct berth_stack *s, const struct tcp_synreq *r,
                     const struct tcp_conn *tmpl)
{
    struct tcp_out o;
    synack_out(s, r, tmpl, &o);
    tcp_send(s, &o);
}

void tcp_send_cookie_synack(struct berth_stack *s, const struct tcp_synreq *r,
                            const struct tcp_conn *tmpl)
{
    struct tcp_out o;
    synack_out(s, r, tmpl, &o);
    if (o.opts.has_ts)
        o.opts.ts_val = tcp_cookie_tsval(o.opts.ts_val, r->opts);
    tcp_send(s, &o);
}

/* ---- Answers to invalid segments, rate limited (RFC 5961 §7, §10) ---- */

static bool oow_exempt(const struct tcp_seg *seg)
{
    /* As Linux (tcp_oow_rate_limited): a segment occupying sequence space
     * other than a SYN (text, a FIN) is not part of an ACK loop, and a
     * peer resending it needs the ACK. */
    return seg && (seg->len > 0 || (seg->flags & TH_FIN)) &&
           !(seg->flags & TH_SYN);
}

static void oow_suppressed(struct berth_stack *s, int sock,
                           const struct tcp_node *n)
{
    stack_count(s, BERTH_CTR_OOW_ACKS_LIMITED);
    stack_trace_drop(s, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport,
                     BERTH_REASON_OOW_ACK_LIMITED);
}

bool tcp_oow_limited(struct berth_stack *s, struct tcp_conn *c,
                     const struct tcp_seg *seg)
{
    uint32_t now = tcp_ms_now(s);
    uint64_t limit = s->cfg.invalid_ratelimit / USEC_PER_MS;
    if (oow_exempt(seg) || limit == 0)
        return false;
    if (c->oow_ack_ms && now - c->oow_ack_ms < limit) {
        oow_suppressed(s, c->sock, &c->n);
        return true;
    }
    c->oow_ack_ms = now;
    return false;
}

#define OOW_TICK_SHIFT 7u /* 128 ms ticks */

static uint8_t oow_tick_now(const struct berth_stack *s)
{
    return (uint8_t)(tcp_ms_now(s) >> OOW_TICK_SHIFT);
}

/* Ticks to wait after an answer, so that two answers are at least the
 * limit apart whatever the phase within a tick (at most 255). */
static uint32_t oow_tick_wait(const struct berth_stack *s)
{
    uint64_t ms = s->cfg.invalid_ratelimit / USEC_PER_MS;
    uint64_t tick = 1u << OOW_TICK_SHIFT;
    uint64_t k = (ms + tick - 1) / tick + 1;
    return ms == 0 ? 0 : (uint32_t)(k < 255 ? k : 255);
}

bool tcp_oow_limited_tick(struct berth_stack *s, struct tcp_timewait *tw,
                          const struct tcp_seg *seg)
{
    uint32_t wait = oow_tick_wait(s);
    uint8_t now = oow_tick_now(s);
    if (oow_exempt(seg) || wait == 0)
        return false;
    if ((uint8_t)(now - tw->oow_ack_tick) < wait) {
        oow_suppressed(s, -1, &tw->n);
        return true;
    }
    tw->oow_ack_tick = now;
    return false;
}

uint8_t tcp_oow_tick_init(const struct berth_stack *s, const struct tcp_conn *c)
{
    uint32_t now = tcp_ms_now(s);
    uint64_t limit = s->cfg.invalid_ratelimit / USEC_PER_MS;
    if (c->oow_ack_ms && now - c->oow_ack_ms < limit)
        return (uint8_t)(c->oow_ack_ms >> OOW_TICK_SHIFT);
    return (uint8_t)(oow_tick_now(s) - oow_tick_wait(s));
}

/* Uniform-enough 0..base from a keyed hash of the second's start: secret
 * to the peer, and the stack's rng (ephemeral ports) is left alone. */
static uint32_t challenge_jitter(const struct berth_stack *s, uint32_t base)
{
    struct {
        uint64_t start;
        uint64_t tweak;
    } k = {s->now, 0x43414bu}; /* "CAK" */
    return (uint32_t)(siphash24(s->cfg.secret, &k, sizeof k) %
                      ((uint64_t)base + 1u));
}

bool tcp_challenge_budget(struct berth_stack *s, int sock,
                          const struct tcp_node *n)
{
    if (s->now - s->challenge_window_start >= USEC_PER_SEC ||
        s->challenge_budget == 0) {
        uint32_t base = s->cfg.challenge_ack_limit;
        s->challenge_window_start = s->now;
        s->challenge_count = 0;
        s->challenge_budget = base + challenge_jitter(s, base);
    }
    if (s->challenge_count >= s->challenge_budget) {
        stack_count(s, BERTH_CTR_CHALLENGE_ACKS_LIMITED);
        stack_trace_drop(s, sock, n->v6, n->laddr, n->lport, n->raddr, n->rport,
                         BERTH_REASON_CHALLENGE_ACK_LIMITED);
        return false;
    }
    s->challenge_count++;
    stack_count(s, BERTH_CTR_CHALLENGE_ACKS);
    return true;
}

void tcp_challenge_ack(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 5961 §7, and the lesson of CVE-2016-5696: a fixed stack-wide
     * budget is a side channel (an off-path attacker who spends it on its
     * own connection counts the challenges a victim's connection took).
     * So each connection answers at most once per invalid_ratelimit (as
     * Linux's tcp_send_challenge_ack), and each second's stack-wide budget
     * is the configured base plus a random 0..base, drawn when the second
     * starts (as Linux since 4.7). */
    if (tcp_oow_limited(s, c, NULL) || !tcp_challenge_budget(s, c->sock, &c->n))
        return;
    send_ack(s, c, ack_seq(c));
}
