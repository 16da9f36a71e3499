/* IPv4 and IPv6 output for the protocols beside TCP (ICMP, ICMPv6, UDP):
 * one header in front of a payload already in the transmit buffer. */
#include "ip/ip.h"

void ip_send(struct berth_stack *s, uint32_t dst, uint8_t proto,
             size_t payload_len)
{
    ipv4_emit(s->txbuf, s->cfg.addr, dst, proto, s->cfg.ttl, s->ip_id++,
              (uint16_t)payload_len);
    stack_count(s, BERTH_CTR_IP_OUT);
    if (s->cfg.tx)
        s->cfg.tx(s->cfg.tx_ctx, s->txbuf, IPV4_HDR_LEN + payload_len);
}

void ip6_send(struct berth_stack *s, const uint8_t *dst, uint8_t proto,
              size_t payload_len)
{
    /* RFC 6437 §2: a flow label of 0 marks packets of no flow. */
    ipv6_emit(s->txbuf, s->cfg.addr6, dst, proto, s->cfg.hop_limit, 0,
              (uint16_t)payload_len);
    stack_count(s, BERTH_CTR_IP6_OUT);
    if (s->cfg.tx)
        s->cfg.tx(s->cfg.tx_ctx, s->txbuf, IPV6_HDR_LEN + payload_len);
}
