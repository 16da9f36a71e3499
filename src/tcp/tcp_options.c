/* The SYN-time extensions (RFC 7323 window scaling and timestamps, RFC 2018
 * SACK-permitted): what we offer, what a handshake agrees on, and the
 * timestamp clock. */
#include "tcp/tcp.h"

uint8_t tcp_wscale_for(uint32_t rcvbuf)
{
    /* RFC 7323 §2.3: the smallest shift that lets the window field cover
     * the whole receive buffer; at most 14. */
    uint8_t shift = 0;
    while (shift < 14 && (rcvbuf >> shift) > TCP_WINDOW_FIELD_MAX)
        shift++;
    return shift;
}

uint32_t tcp_ts_offset(struct berth_stack *s, const struct tcp_node *n)
{
    /* RFC 7323 §5.4 (and RFC 6528's reasoning): a per-connection random
     * offset, so TSval reveals no host-wide clock. The high half of the
     * 4-tuple's keyed secret, whose low half is the ISN's F: a compact
     * entry can recompute it. */
    return (uint32_t)(tcp_tuple_prf(s, n->v6, n->laddr, n->lport, n->raddr,
                                    n->rport) >>
                      32);
}

uint32_t tcp_ts_now(const struct berth_stack *s, uint32_t offset)
{
    /* A 1 ms clock, like Linux: valid for RFC 7323 §5.4 (a) and (b). */
    return (uint32_t)(s->now / USEC_PER_MS) + offset;
}

uint8_t tcp_synopts_accept(const struct berth_stack *s,
                           const struct tcp_seg *syn)
{
    uint8_t o = 0;
    if (s->cfg.window_scaling && syn->opts.has_wscale) {
        /* RFC 7323 §2.3: a shift above 14 is taken as 14. */
        uint8_t ws = syn->opts.wscale > 14 ? 14 : syn->opts.wscale;
        o |= SYNOPT_WS | ws;
    }
    if (s->cfg.sack && syn->opts.sack_ok)
        o |= SYNOPT_SACK;
    if (s->cfg.timestamps && syn->opts.has_ts)
        o |= SYNOPT_TS;
    return o;
}

void tcp_syn_options(const struct berth_stack *s, const struct tcp_conn *c,
                     uint8_t agreed, bool offer_all, struct tcp_opts *o)
{
    /* On our SYN we offer what the configuration allows; on a SYN-ACK only
     * what the SYN offered (RFC 7323 §2.2, §3.2; RFC 2018 §2). */
    o->has_mss = true;
    o->mss = tcp_our_mss(s, c);
    if (offer_all ? s->cfg.window_scaling : (agreed & SYNOPT_WS)) {
        o->has_wscale = true;
        /* A TCB offers the shift fixed when it opened; a listener's
         * template, for a SYN-ACK, the one its buffer gives. */
        bool opened = c->state == BERTH_STATE_SYN_SENT ||
                      c->state == BERTH_STATE_SYN_RECEIVED;
        o->wscale = opened ? c->rcv_wscale : tcp_wscale_for(c->rcvbuf_size);
    }
    o->sack_ok = offer_all ? s->cfg.sack : (agreed & SYNOPT_SACK) != 0;
    if (offer_all ? s->cfg.timestamps : (agreed & SYNOPT_TS))
        o->has_ts = true; /* the caller fills TSval and TSecr */
}

void tcp_apply_synopts(struct berth_stack *s, struct tcp_conn *c,
                       uint8_t agreed, uint32_t ts_recent)
{
    c->flags &= ~(TF_TS | TF_SACK);
    uint8_t offered = c->rcv_wscale; /* set when the TCB opened */
    c->snd_wscale = c->rcv_wscale = 0;
    if (agreed & SYNOPT_WS) {
        /* RFC 7323 §2.2: both sides sent the option: scaling is on. */
        c->snd_wscale = agreed & SYNOPT_WSCALE_MASK;
        c->rcv_wscale = offered;
    }
    if (agreed & SYNOPT_SACK)
        c->flags |= TF_SACK;
    if (agreed & SYNOPT_TS) {
        c->flags |= TF_TS;
        c->ts_recent = ts_recent;
        c->ts_recent_age = (uint32_t)(s->now / USEC_PER_SEC);
    }
    /* c->ts_offset was set by tcp_conn_open(), the one place a TCB gets
     * its 4-tuple: it depends on nothing else. */
}
