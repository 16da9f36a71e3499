/* IPv4 output for the protocols beside TCP (ICMP, UDP): one header in
 * front of a payload already in the transmit buffer. */
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
