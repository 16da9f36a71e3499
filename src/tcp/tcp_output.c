/* Output: tcp_output() is the one function that decides what a connection
 * sends (SYN, data, FIN, ACK), applying the window, Nagle and the sender's
 * silly-window rules; plus the segment builder and the resets, SYN-ACKs and
 * challenge ACKs that are sent without a TCB's output decision. */
#include "tcp/tcp.h"

#include "base/seq.h"
#include "wire/ipv4.h"

#define TCP_MAX_FIELD      65535u /* the 16-bit window field */
#define OUTPUT_BURST_LIMIT 4096u

void tcp_send(struct berth_stack *s, const struct tcp_out *o)
{
    struct tcp_seg seg = {
        .sport = o->lport,
        .dport = o->rport,
        .seq = o->seq,
        .ack = o->ack,
        .flags = o->flags,
        .wnd = o->wnd,
        .len = o->len,
        .opts = o->opts,
    };
    size_t hl = TCP_HDR_LEN + tcp_opts_len(&seg.opts);
    uint8_t *tcp = s->txbuf + IPV4_HDR_LEN;
    if (o->len)
        ring_peek(o->data, o->data_off, tcp + hl, o->len);
    tcp_emit(tcp, &seg, o->laddr, o->raddr);
    ipv4_emit(s->txbuf, o->laddr, o->raddr, IPPROTO_TCP_NUM, s->cfg.ttl,
              s->ip_id++, (uint16_t)(hl + o->len));
    stack_count(s, BERTH_CTR_SEGS_OUT);
    stack_count(s, BERTH_CTR_IP_OUT);
    if (o->flags & TH_RST)
        stack_count(s, BERTH_CTR_RST_OUT);
    if (s->cfg.tx)
        s->cfg.tx(s->cfg.tx_ctx, s->txbuf, IPV4_HDR_LEN + hl + o->len);
}

void tcp_send_rst_for(struct berth_stack *s, uint32_t src, uint32_t dst,
                      const struct tcp_seg *seg)
{
    /* RFC 9293 §3.10.7.1: an incoming RST is discarded; a reset is never
     * answered with a reset. */
    if (seg->flags & TH_RST)
        return;
    struct tcp_out o = {
        .laddr = dst, .raddr = src, .lport = seg->dport, .rport = seg->sport};
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

uint32_t tcp_rcv_window(struct tcp_conn *c)
{
    uint32_t cap = c->rcvbuf_size;
    uint32_t avail = (c->flags & TF_RD_SHUT) ? cap : cap - c->rcv.len;
    uint32_t max = TCP_MAX_FIELD << c->rcv_wscale; /* RFC 7323 §2.3 */
    if (avail > max)
        avail = max;
    uint32_t edge = c->rcv_nxt + avail;
    /* RFC 9293 §3.8.6.2.2 (receiver SWS avoidance): move the right edge
     * only in steps of at least min(buffer/2, MSS); never move it left
     * (§3.8.6.2.2: shrinking the window is strongly discouraged). */
    uint32_t step = cap / 2 < c->rcv_mss ? cap / 2 : c->rcv_mss;
    if (seq_gt(edge, c->rcv_adv) &&
        (edge - c->rcv_adv >= step || avail == max || avail == cap))
        c->rcv_adv = edge;
    if (seq_lt(c->rcv_adv, c->rcv_nxt))
        c->rcv_adv = c->rcv_nxt;
    return c->rcv_adv - c->rcv_nxt;
}

/* The window field of a SYN or SYN-ACK: never scaled (RFC 7323 §2.2). */
static uint16_t syn_window(uint32_t rcvbuf)
{
    return (uint16_t)(rcvbuf < TCP_MAX_FIELD ? rcvbuf : TCP_MAX_FIELD);
}

static struct tcp_out conn_out(const struct berth_stack *s, struct tcp_conn *c,
                               uint32_t seq, uint8_t flags)
{
    struct tcp_out o = {.laddr = c->n.laddr,
                        .raddr = c->n.raddr,
                        .lport = c->n.lport,
                        .rport = c->n.rport,
                        .seq = seq,
                        .flags = flags};
    if (flags & TH_SYN) {
        o.wnd = syn_window(c->rcvbuf_size);
        /* A SYN,ACK (simultaneous open) offers that window: the peer may
         * send up to it, so our acceptance test must allow it too (as a
         * listener's SYN-queue entry does). */
        if ((flags & TH_ACK) && seq_lt(c->rcv_adv, c->rcv_nxt + o.wnd))
            c->rcv_adv = c->rcv_nxt + o.wnd;
    } else if (flags & TH_ACK) {
        uint32_t field = tcp_rcv_window(c) >> c->rcv_wscale;
        o.wnd = (uint16_t)(field < TCP_MAX_FIELD ? field : TCP_MAX_FIELD);
    }
    if (flags & TH_ACK) {
        o.ack = c->rcv_nxt;
        c->last_ack_sent = c->rcv_nxt;
    }
    /* RFC 7323 §3.2: once negotiated, on every segment; §5.2: on the RST
     * of an abort too. */
    if (c->flags & TF_TS) {
        o.opts.has_ts = true;
        o.opts.ts_val = tcp_ts_now(s, c->ts_offset);
        o.opts.ts_ecr = c->ts_recent;
    }
    if ((c->flags & TF_SACK) && (flags & TH_ACK) && !(flags & TH_SYN))
        tcp_sack_fill(c, &o.opts);
    return o;
}

void tcp_send_abort_rst(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 9293 §3.10.5: <SEQ=SND.NXT><CTL=RST>. */
    struct tcp_out o = conn_out(s, c, c->snd_max, TH_RST);
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

/* Everything a segment carries also acknowledges: owed ACKs are paid. */
static void ack_sent(struct berth_stack *s, struct tcp_conn *c)
{
    c->flags &= ~TF_ACK_NOW;
    c->delack_bytes = 0;
    tcp_timer_clear(s, c, TCP_T_DELACK);
}

uint32_t tcp_snd_data_seq(const struct tcp_conn *c)
{
    return c->snd_una == c->iss ? c->iss + 1 : c->snd_una;
}

/* The payload a segment may carry: the peer's MSS less our options (RFC
 * 6691 §2: the MSS counts no TCP options; RFC 9293 §3.7.1). */
static uint32_t payload_mss(const struct tcp_conn *c)
{
    uint32_t opts = 0;
    if (c->flags & TF_TS)
        opts += 12; /* NOP NOP TS */
    if ((c->flags & TF_SACK) && (c->ooo.n || (c->flags & TF_DSACK))) {
        uint32_t n = c->ooo.n + ((c->flags & TF_DSACK) ? 1u : 0u);
        uint32_t max = (c->flags & TF_TS) ? 3u : 4u;
        opts += 4 + 8 * (n < max ? n : max); /* NOP NOP SACK */
    }
    return c->snd_mss > opts + 64 ? c->snd_mss - opts : 64;
}

static void sent_space(struct berth_stack *s, struct tcp_conn *c,
                       uint32_t space)
{
    if (seq_lt(c->snd_nxt, c->snd_max)) {
        stack_count(s, BERTH_CTR_RETRANS_SEGS);
        c->total_retrans++;
    } else if (c->rtt_time == 0) {
        /* RFC 6298 §3 (Karn): time one new segment at a time. */
        c->rtt_time = s->now;
        c->rtt_seq = c->snd_nxt + space;
    }
    if (c->snd_una == c->snd_max)
        c->unacked_since = s->now;
    c->last_send = tcp_ms_now(s);
    c->snd_nxt += space;
    if (seq_gt(c->snd_nxt, c->snd_max))
        c->snd_max = c->snd_nxt;
    if (!c->deadline[TCP_T_REXMIT])
        tcp_rexmit_restart(s, c);
}

static bool send_syn(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 9293 §3.10.7.3 / §3.5: <SEQ=ISS><CTL=SYN>, or SYN,ACK once the
     * peer's SYN is known (simultaneous open). MSS option: §3.7.1. */
    uint8_t flags = TH_SYN;
    bool syn_sent = c->state == BERTH_STATE_SYN_SENT;
    if (!syn_sent)
        flags |= TH_ACK;
    struct tcp_out o = conn_out(s, c, c->iss, flags);
    tcp_syn_options(s, c, c->synopts, syn_sent, &o.opts);
    if (o.opts.has_ts) {
        o.opts.ts_val = tcp_ts_now(s, c->ts_offset);
        o.opts.ts_ecr = syn_sent ? 0 : c->ts_recent; /* RFC 7323 §3.2 */
    }
    tcp_send(s, &o);
    ack_sent(s, c);
    sent_space(s, c, 1);
    return false; /* nothing follows a SYN until it is acknowledged */
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
    if (len == mss || c->snd_nxt == c->snd_una)
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
    uint32_t data_seq = tcp_snd_data_seq(c);
    uint32_t data_end = data_seq + c->snd.len;
    uint32_t avail = seq_lt(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
    if (avail > 0 && c->snd_nxt == c->snd_max)
        tcp_cc_restart_after_idle(s, c);
    uint32_t cwnd = c->cwnd + tcp_cc_limited_transmit(c); /* RFC 3042 */
    uint32_t wnd = c->snd_wnd < cwnd ? c->snd_wnd : cwnd;
    uint32_t edge = c->snd_una + wnd;
    uint32_t usable = seq_lt(c->snd_nxt, edge) ? edge - c->snd_nxt : 0;
    uint32_t len = avail < usable ? avail : usable;
    uint32_t mss = payload_mss(c);
    if (len > mss)
        len = mss;
    /* The FIN follows the last byte of data: BSD sends it whatever the
     * window (it takes no buffer space at the receiver). */
    bool fin = fin_allowed(c) && c->snd_nxt + len == data_end &&
               seq_leq(c->snd_nxt, data_end);
    if (len > 0 && !fin && !worth_sending(c, len, avail, mss))
        len = 0;
    if (len == 0 && !fin) {
        if (avail > 0 && usable == 0 && c->snd_wnd == 0 &&
            !c->deadline[TCP_T_REXMIT] && !c->deadline[TCP_T_PERSIST])
            tcp_timer_set(s, c, TCP_T_PERSIST, s->now + tcp_rto(s, c));
        if (c->flags & TF_ACK_NOW) {
            struct tcp_out o = conn_out(s, c, ack_seq(c), TH_ACK);
            tcp_send(s, &o);
            ack_sent(s, c);
        }
        return false;
    }
    uint8_t flags = TH_ACK;
    if (len > 0 && c->snd_nxt + len == data_end)
        flags |= TH_PSH; /* the end of what the application wrote */
    if (fin)
        flags |= TH_FIN;
    struct tcp_out o = conn_out(s, c, c->snd_nxt, flags);
    o.data = &c->snd;
    o.data_off = c->snd_nxt - data_seq;
    o.len = len;
    tcp_send(s, &o);
    ack_sent(s, c);
    if (fin)
        c->flags |= TF_FIN_SENT;
    uint32_t beyond = c->snd_nxt + len - (c->snd_una + c->cwnd);
    if (len > 0 && c->snd_nxt == c->snd_max && (int32_t)beyond > 0)
        c->lt_sent += beyond < len ? beyond : len; /* RFC 3042 §2 */
    sent_space(s, c, len + (fin ? 1u : 0u));
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
    if (dlen == 0 && !fin)
        return;
    uint8_t flags = TH_ACK;
    if (dlen > 0 && seq + dlen == data_end)
        flags |= TH_PSH;
    if (fin)
        flags |= TH_FIN;
    struct tcp_out o = conn_out(s, c, seq, flags);
    o.data = &c->snd;
    o.data_off = seq - data_seq;
    o.len = dlen;
    tcp_send(s, &o);
    ack_sent(s, c);
    uint32_t end = seq + dlen + (fin ? 1u : 0u);
    if (fin)
        c->flags |= TF_FIN_SENT;
    if (seq_lt(seq, c->snd_max)) {
        stack_count(s, BERTH_CTR_RETRANS_SEGS);
        c->total_retrans++;
        c->high_rxt = seq_max(c->high_rxt, end); /* RFC 6675 HighRxt */
        tcp_cc_note_rexmit(c);
        /* RFC 6298 §3 (Karn): if the timed segment is resent, its ACK is
         * ambiguous: no sample from it. */
        if (c->rtt_time && seq_lt(seq, c->rtt_seq))
            c->rtt_time = 0;
    }
    if (seq_gt(end, c->snd_max)) /* new data sent during recovery */
        c->snd_max = end;
    if (seq_lt(c->snd_nxt, c->snd_max) && (c->flags & TF_RECOVERY) &&
        (c->flags & TF_SACK))
        c->snd_nxt = c->snd_max; /* SACK recovery sends by NextSeg */
    c->last_send = tcp_ms_now(s);
    if (!c->deadline[TCP_T_REXMIT])
        tcp_rexmit_restart(s, c);
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
        uint32_t before = c->high_rxt, max = c->snd_max;
        if (!tcp_sack_next_seg(c, &seq, &len, &rexmit))
            break;
        tcp_output_range(s, c, seq, len);
        if (c->high_rxt == before && c->snd_max == max)
            break; /* nothing could be sent */
    }
    if (c->flags & TF_ACK_NOW) {
        struct tcp_out o = conn_out(s, c, ack_seq(c), TH_ACK);
        tcp_send(s, &o);
        ack_sent(s, c);
    }
}

void tcp_output(struct berth_stack *s, struct tcp_conn *c)
{
    switch (c->state) {
    case BERTH_STATE_CLOSED:
    case BERTH_STATE_LISTEN:
        return;
    case BERTH_STATE_TIME_WAIT:
        if (c->flags & TF_ACK_NOW) {
            struct tcp_out o = conn_out(s, c, ack_seq(c), TH_ACK);
            tcp_send(s, &o);
            ack_sent(s, c);
        }
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
    uint32_t data_seq = tcp_snd_data_seq(c);
    struct tcp_out o = conn_out(s, c, c->snd_una, TH_ACK);
    o.data = &c->snd;
    o.data_off = c->snd_una - data_seq;
    o.len = c->snd.len > o.data_off ? 1 : 0;
    if (o.len == 0)
        return;
    tcp_send(s, &o);
    ack_sent(s, c);
    stack_count(s, BERTH_CTR_PERSIST_PROBES);
    if (seq_lt(c->snd_nxt, c->snd_una + 1))
        c->snd_nxt = c->snd_una + 1;
    if (seq_lt(c->snd_max, c->snd_nxt))
        c->snd_max = c->snd_nxt;
}

void tcp_send_keepalive(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 1122 §4.2.3.6: SEG.SEQ = SND.NXT-1 with no data; the peer's
     * answer is an ACK for SND.NXT. */
    struct tcp_out o = conn_out(s, c, ack_seq(c) - 1, TH_ACK);
    tcp_send(s, &o);
    stack_count(s, BERTH_CTR_KEEPALIVE_PROBES);
}

uint16_t tcp_our_mss(const struct berth_stack *s, const struct tcp_conn *c)
{
    if (c->user_mss && c->user_mss < s->cfg.mss)
        return c->user_mss;
    return s->cfg.mss;
}

void tcp_send_synack(struct berth_stack *s, const struct tcp_synreq *r,
                     const struct tcp_conn *tmpl)
{
    /* RFC 9293 §3.10.7.2: <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>. */
    struct tcp_out o = {.laddr = r->n.laddr,
                        .raddr = r->n.raddr,
                        .lport = r->n.lport,
                        .rport = r->n.rport,
                        .seq = r->iss,
                        .ack = r->irs + 1,
                        .flags = TH_SYN | TH_ACK,
                        .wnd = syn_window(tmpl->rcvbuf_size)};
    tcp_syn_options(s, tmpl, r->opts, false, &o.opts);
    if (o.opts.has_ts) {
        o.opts.ts_val = tcp_ts_now(s, tcp_ts_offset(s, &r->n));
        o.opts.ts_ecr = r->ts_recent;
    }
    tcp_send(s, &o);
}

void tcp_challenge_ack(struct berth_stack *s, struct tcp_conn *c)
{
    /* RFC 5961 §7: limit challenge ACKs per second, stack-wide. */
    if (s->now - s->challenge_window_start >= 1000000u) {
        s->challenge_window_start = s->now;
        s->challenge_count = 0;
    }
    if (s->challenge_count >= s->cfg.challenge_ack_limit) {
        stack_count(s, BERTH_CTR_CHALLENGE_ACKS_LIMITED);
        stack_trace_drop(s, c->sock, c->n.laddr, c->n.lport, c->n.raddr,
                         c->n.rport, BERTH_REASON_CHALLENGE_ACK_LIMITED);
        return;
    }
    s->challenge_count++;
    stack_count(s, BERTH_CTR_CHALLENGE_ACKS);
    struct tcp_out o = conn_out(s, c, ack_seq(c), TH_ACK);
    tcp_send(s, &o);
    ack_sent(s, c);
}
