/* berth_input_sg (include/berth/berth.h): a packet in pieces, its headers
 * whole in the first. The text is not gathered: the stack takes the packet
 * as input() takes any (STACK_IN_SG), and the text step copies it from the
 * pieces straight into the receive buffer (tcp_input.c). Whatever cannot
 * be taken that way is gathered into one buffer and taken as usual. */
#include "stack.h"
#include "wire/bytes.h"
#include "wire/checksum_sg.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"

#include <string.h>

/* Where the TCP segment starts in hdr (0: not a packet to take in pieces)
 * and its length by the IP header: IPv4 unfragmented, or IPv6 with TCP as
 * the first next header, and the TCP header with its options in hdr too,
 * so that nothing the stack reads before the text lies beyond hdr. */
static size_t tcp_start(const uint8_t *h, size_t hdr_len, size_t total,
                        size_t *tcp_len)
{
    size_t off = 0, len = 0;
    if (hdr_len >= 20 && h[0] >> 4 == 4) {
        size_t ihl = (size_t)(h[0] & 15) * 4, tot = load_be16(h + 2);
        bool frag = (load_be16(h + 6) & 0x3fffu) != 0; /* MF or offset */
        if (ihl >= 20 && h[9] == IPPROTO_TCP_NUM && !frag && tot >= ihl &&
            tot <= total) {
            off = ihl;
            len = tot - ihl;
        }
    } else if (hdr_len >= 40 && h[0] >> 4 == 6 && h[6] == IPV6_NH_TCP) {
        size_t plen = load_be16(h + 4);
        if (40 + plen <= total) {
            off = 40;
            len = plen;
        }
    }
    if (off == 0 || len < 20 || off + 20 > hdr_len)
        return 0;
    size_t thl = (size_t)(h[off + 12] >> 4) * 4;
    if (thl < 20 || thl > len || off + thl > hdr_len)
        return 0;
    *tcp_len = len;
    return off;
}

/* RFC 9293 §3.1: the checksum over the pseudo-header and the segment's
 * len bytes from hdr + off on, through the pieces, where they lie. */
static bool tcp_csum_ok(const uint8_t *h, size_t hdr_len, size_t off,
                        size_t len, const struct berth_iov *sp, size_t n)
{
    uint64_t sum =
        h[0] >> 4 == 6
            ? csum_pseudo_ipv6(h + 8, h + 24, IPV6_NH_TCP, (uint32_t)len)
            : csum_pseudo_ipv4(load_be32(h + 12), load_be32(h + 16),
                               IPPROTO_TCP_NUM, (uint16_t)len);
    sum = csum_add_iov(sum, h + off, hdr_len - off, sp, n, len);
    return csum_fold(sum) == 0;
}

/* The packet gathered into one buffer (at most RX_LIN_SIZE bytes: more
 * is no IP datagram, and the parser finds the length wrong). */
static int input_gathered(struct berth_stack *s, const uint8_t *hdr,
                          size_t hdr_len, const struct berth_iov *sp, size_t n,
                          uint64_t now, uint32_t flags)
{
    if (!s->rx_lin) {
        s->rx_lin = mem_alloc(&s->tmem, RX_LIN_SIZE);
        if (!s->rx_lin)
            return BERTH_REASON_MEM_LIMIT;
    }
    size_t len = hdr_len < RX_LIN_SIZE ? hdr_len : RX_LIN_SIZE;
    memcpy(s->rx_lin, hdr, len);
    for (size_t i = 0; i < n && len < RX_LIN_SIZE; i++) {
        size_t m =
            sp[i].len < RX_LIN_SIZE - len ? sp[i].len : RX_LIN_SIZE - len;
        memcpy(s->rx_lin + len, sp[i].base, m);
        len += m;
    }
    return berth_input_flags(s, s->rx_lin, len, now, flags);
}

int berth_input_sg(struct berth_stack *s, const void *hdr, size_t hdr_len,
                   const struct berth_iov *spans, size_t nspans, uint64_t now,
                   uint32_t flags)
{
    const uint8_t *h = hdr;
    flags &= ~STACK_IN_SG;
    size_t total = hdr_len;
    for (size_t i = 0; i < nspans; i++)
        total += spans[i].len;
    size_t tcp_len = 0, off = tcp_start(h, hdr_len, total, &tcp_len);
    /* A bad checksum is gathered too: the usual path counts it. */
    if (off == 0 || (!(flags & BERTH_IN_CSUM_OK) &&
                     !tcp_csum_ok(h, hdr_len, off, tcp_len, spans, nspans)))
        return input_gathered(s, h, hdr_len, spans, nspans, now, flags);
    s->rx_sg.first = NULL; /* set by the TCP step, from the header */
    s->rx_sg.hdr_end = h + hdr_len;
    s->rx_sg.sp = spans;
    s->rx_sg.n = nspans;
    return stack_input_sg(s, h, total, now, flags | BERTH_IN_CSUM_OK);
}
