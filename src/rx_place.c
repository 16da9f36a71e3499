/* Receive in place: a link that reads packets in pieces (the TUN runtime's
 * readv) asks where a connection's next in-order payload goes and reads it
 * there, straight into the receive buffer; the headers come in apart and
 * the payload is not copied again (ring.c takes a source that is its own
 * destination as written). Everything else goes the ordinary way. */
#include "ip/addr6.h"
#include "ip/ip.h"
#include "stack.h"
#include "tcp/tcp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#include <string.h>

static bool takes_text(const struct tcp_conn *c)
{
    return c->state == BERTH_STATE_ESTABLISHED ||
           c->state == BERTH_STATE_FIN_WAIT_1 ||
           c->state == BERTH_STATE_FIN_WAIT_2;
}

/* The kept buffer goes back to the ordinary rule: given back when empty. */
static void unkeep(struct berth_stack *s)
{
    int err = 0;
    struct tcp_conn *c = sock_conn(s, s->rx_keep_sock, &err);
    s->rx_keep_sock = -1;
    if (c)
        tcp_conn_trim_buffers(s, c);
}

/* The connection whose payload may be read in place, with the room it has
 * at its write position (0: none). Out-of-order data must not be in that
 * room (a read that turns out not to be this connection's next data
 * scribbles over it), and the buffer must not move or go while the packet
 * is taken: it holds what it gets (no growth) and is kept while empty. */
static uint32_t place_room(const struct berth_stack *s, struct tcp_conn *c)
{
    if (!c || !takes_text(c) || c->sock < 0 || !c->rcv.buf ||
        !assembler_empty(&c->ooo) || (c->flags & TF_RD_SHUT) ||
        stack_mem_level(s) != BERTH_MEM_NORMAL)
        return 0;
    return ring_free(&c->rcv);
}

static struct tcp_conn *conn_of(struct berth_stack *s, bool v6, uint32_t laddr,
                                uint16_t lport, uint32_t raddr, uint16_t rport)
{
    struct tcp_node *n = tcp_lookup(s, v6, laddr, lport, raddr, rport);
    return n && n->kind == TCP_NODE_CONN ? (struct tcp_conn *)n : NULL;
}

/* An IPv6 connection's key: our address's id and the peer's, which the
 * stack knows only while something of that peer is held (ip/addr6.h);
 * false when there is none. */
static bool ids6(const struct berth_stack *s, const uint8_t local[16],
                 const uint8_t remote[16], uint32_t *lid, uint32_t *rid)
{
    if (!s->ipv6 || memcmp(local, s->cfg.addr6, 16) != 0)
        return false;
    int64_t id = addr6_find(&s->addr6, remote);
    if (id < 0)
        return false;
    *lid = s->addr6_id;
    *rid = (uint32_t)id;
    return true;
}

int berth_rx_place(struct berth_stack *s, const struct berth_endpoint *local,
                   const struct berth_endpoint *remote,
                   struct berth_span span[2])
{
    span[0] = span[1] = (struct berth_span){NULL, 0};
    bool v6 = local->family == BERTH_AF_INET6;
    if (local->family != remote->family ||
        (!v6 && local->family != BERTH_AF_INET))
        return 0;
    uint32_t laddr = local->addr, raddr = remote->addr;
    struct tcp_conn *c =
        v6 && !ids6(s, local->addr6, remote->addr6, &laddr, &raddr)
            ? NULL
            : conn_of(s, v6, laddr, local->port, raddr, remote->port);
    if (!c || c->sock < 0) {
        if (s->rx_keep_sock >= 0)
            unkeep(s);
        return 0;
    }
    if (c->sock != s->rx_keep_sock) {
        if (s->rx_keep_sock >= 0)
            unkeep(s);
        s->rx_keep_sock = c->sock; /* its buffer stays from now on */
    }
    uint32_t room = place_room(s, c);
    if (room == 0) {
        if (stack_mem_level(s) != BERTH_MEM_NORMAL)
            unkeep(s); /* pressure: the ordinary rule */
        return 0;
    }
    /* Nothing is written ahead (no out-of-order data): an empty buffer
     * is read into from its start, the memory the last packet warmed. */
    ring_rewind(&c->rcv);
    uint8_t *p[2];
    uint32_t len[2];
    ring_span(&c->rcv, c->rcv.len, room, p, len);
    span[0] = (struct berth_span){p[0], len[0]};
    span[1] = (struct berth_span){len[1] ? p[1] : NULL, len[1]};
    return room > INT32_MAX ? INT32_MAX : (int)room;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* The IPv4 total length field set to `len`, the header checksum updated
 * incrementally (RFC 1624 eqn. 3), so a header that was wrong stays wrong
 * and ipv4_parse still refuses it. */
static void set_total_length(uint8_t *ip, uint16_t len)
{
    uint32_t sum = (uint16_t)~be16(ip + 10);
    sum += (uint16_t)~be16(ip + 2);
    sum += len;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t c = (uint16_t)~sum;
    ip[2] = (uint8_t)(len >> 8);
    ip[3] = (uint8_t)len;
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
}

#define PLACED_HDR_MAX (60u + 60u) /* IPv4 and TCP headers at their largest */

/* The connection of an IPv4 packet's headers whole in h (hdr_len bytes:
 * IP and TCP, the datagram payload_len bytes longer), NULL if it is not
 * one to take in place; the IP header's length in *ihl. */
static struct tcp_conn *placed_conn4(struct berth_stack *s, const uint8_t *h,
                                     size_t hdr_len, size_t payload_len,
                                     size_t *ihl)
{
    *ihl = (size_t)(h[0] & 15) * 4;
    if (*ihl < 20 || *ihl + 20 > hdr_len || h[9] != IPPROTO_TCP_NUM ||
        (be16(h + 6) & 0x3fff) != 0 || /* MF or an offset: a fragment */
        be16(h + 2) != hdr_len + payload_len || be32(h + 16) != s->cfg.addr)
        return NULL;
    const uint8_t *t = h + *ihl;
    return conn_of(s, false, be32(h + 16), be16(t + 2), be32(h + 12), be16(t));
}

/* The same for IPv6 (RFC 8200: TCP as the first next header, so the TCP
 * header starts at 40). */
static struct tcp_conn *placed_conn6(struct berth_stack *s, const uint8_t *h,
                                     size_t hdr_len, size_t payload_len)
{
    uint32_t lid, rid;
    if (h[6] != IPPROTO_TCP_NUM || hdr_len < 60 ||
        be16(h + 4) != hdr_len - 40 + payload_len ||
        !ids6(s, h + 24, h + 8, &lid, &rid))
        return NULL;
    return conn_of(s, true, lid, be16(h + 42), rid, be16(h + 40));
}

int berth_input_placed(struct berth_stack *s, const void *hdr, size_t hdr_len,
                       const struct berth_span span[2], size_t payload_len,
                       uint64_t now, uint32_t flags)
{
    const uint8_t *h = hdr;
    /* Nothing runs before these checks (no timers, no events: the
     * application could give the buffer back), so a refusal leaves the
     * room's bytes for the link to copy out. Once they pass, the timers
     * due run first inside berth_input_flags, as for any packet; none of
     * them moves the buffer (one that ends the connection frees it, and
     * then the segment finds no connection and its payload is not read). */
    if (!(flags & BERTH_IN_CSUM_OK) || hdr_len < 40 ||
        hdr_len > PLACED_HDR_MAX || payload_len == 0 ||
        hdr_len + payload_len > 65535 + (h[0] >> 4 == 6 ? 40 : 0))
        return BERTH_EAGAIN;
    size_t ihl = 40;
    struct tcp_conn *c =
        h[0] >> 4 == 4   ? placed_conn4(s, h, hdr_len, payload_len, &ihl)
        : h[0] >> 4 == 6 ? placed_conn6(s, h, hdr_len, payload_len)
                         : NULL;
    const uint8_t *t = h + ihl;
    if (c && ((size_t)(t[12] >> 4) * 4 != hdr_len - ihl ||
              (t[13] & (TH_SYN | TH_RST))))
        return BERTH_EAGAIN;
    /* This connection's next in-order data, fitting the room it was read
     * into (so the buffer neither grows nor moves), exactly there. */
    if (!c || c->sock != s->rx_keep_sock || be32(t + 4) != c->rcv_nxt ||
        payload_len > place_room(s, c))
        return BERTH_EAGAIN;
    uint8_t *p[2];
    uint32_t len[2];
    ring_span(&c->rcv, c->rcv.len, (uint32_t)payload_len, p, len);
    if (span[0].data != p[0] || (len[1] && span[1].data != p[1]))
        return BERTH_EAGAIN;
    /* The headers as a datagram of their own; the payload joins it at the
     * TCP segment (stack.c, tcp_packet). */
    uint8_t d[PLACED_HDR_MAX];
    memcpy(d, h, hdr_len);
    if (h[0] >> 4 == 6) {
        d[4] = (uint8_t)((hdr_len - 40) >> 8); /* the payload length */
        d[5] = (uint8_t)(hdr_len - 40);
    } else {
        set_total_length(d, (uint16_t)hdr_len);
    }
    s->rx_placed = p[0];
    s->rx_placed_len = (uint32_t)payload_len;
    int r = berth_input_flags(s, d, hdr_len, now, flags);
    s->rx_placed = NULL;
    s->rx_placed_len = 0;
    return r;
}
