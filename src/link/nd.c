/* IPv6 neighbour discovery on Ethernet (RFC 4861, framing RFC 2464): the
 * NS/NA messages and their validity checks, resolution into the shared
 * neighbour cache (neigh.c runs the states), duplicate address detection of
 * our address (RFC 4862 §5.4), Router Advertisements when configured, and
 * the IPv6 datagrams of the stack in and out. */
#include "link_impl.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv6.h"

#include <errno.h>
#include <string.h>

#define ND_HOP_LIMIT  255u /* RFC 4861 §7.1.1: not forwarded by a router */
#define ND_MSG_LEN    24u  /* NS and NA: header, flags, target */
#define RA_MSG_LEN    16u
#define NA_F_ROUTER   0x80u
#define NA_F_SOLICIT  0x40u
#define NA_F_OVERRIDE 0x20u
#define PI_F_ONLINK   0x80u
#define RA_METRIC     1024u /* below a configured gateway6 (metric 0) */

static const uint8_t ALL_NODES[16] = {0xff, 0x02, [15] = 1};
static const uint8_t UNSPEC[16];

void nd_solicited_node(const uint8_t a[16], uint8_t out[16])
{
    /* RFC 4291 §2.7.1: ff02::1:ff00:0/104 and the low 24 bits. */
    static const uint8_t pre[13] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
    memcpy(out, pre, 13);
    memcpy(out + 13, a + 13, 3);
}

void nd_mcast_mac(const uint8_t a[16], uint8_t mac[6])
{
    /* RFC 2464 §7: 33:33 and the address's last four bytes. */
    mac[0] = mac[1] = 0x33;
    memcpy(mac + 2, a + 12, 4);
}

static bool is_ours(const struct berth_eth *e, const uint8_t a[16])
{
    return e->cfg.has_addr6 && !memcmp(a, e->cfg.addr6, 16);
}

/* ------------------------------------------------------------------------
 * Sending: one IPv6 header and one ICMPv6 message with its checksum over
 * the pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1).
 */
static void nd_send(struct berth_eth *e, const uint8_t mac[6],
                    const uint8_t src[16], const uint8_t dst[16], uint8_t *msg,
                    size_t mlen)
{
    uint8_t pkt[IPV6_HDR_LEN + 64];
    store_be16(msg + 2, 0);
    uint64_t sum = csum_pseudo_ipv6(src, dst, ICMP6_PROTO, (uint32_t)mlen);
    store_be16(msg + 2, csum_fold(csum_add(sum, msg, mlen)));
    ipv6_emit(pkt, src, dst, ICMP6_PROTO, ND_HOP_LIMIT, 0, (uint16_t)mlen);
    memcpy(pkt + IPV6_HDR_LEN, msg, mlen);
    eth_send(e, mac, ETH_P_IP6, pkt, IPV6_HDR_LEN + mlen);
}

/* An NS for target from src (our address, or :: for DAD) with our link
 * address unless src is :: (RFC 4861 §4.3, RFC 4862 §5.4.2). */
static void ns_send(struct berth_eth *e, const uint8_t mac[6],
                    const uint8_t dst[16], const uint8_t src[16],
                    const uint8_t target[16])
{
    uint8_t m[ND_MSG_LEN + 8] = {ND_NS};
    memcpy(m + 8, target, 16);
    size_t mlen = ND_MSG_LEN;
    if (memcmp(src, UNSPEC, 16)) {
        m[24] = OPT_SLLA;
        m[25] = 1;
        memcpy(m + 26, e->link.mac, 6);
        mlen += 8;
    }
    e->ctr[BERTH_ETH_ND_NS_OUT]++;
    nd_send(e, mac, src, dst, m, mlen);
}

/* Resolution: to the target's solicited-node group; a probe (PROBE):
 * unicast to the address it had (RFC 4861 §7.2.2, §7.3.3). */
void nd_solicit(struct berth_eth *e, const struct neigh *n, bool unicast)
{
    uint8_t dst[16], mac[6];
    if (unicast) {
        memcpy(dst, n->addr.bytes, 16);
        memcpy(mac, n->mac, 6);
    } else {
        nd_solicited_node(n->addr.bytes, dst);
        nd_mcast_mac(dst, mac);
    }
    ns_send(e, mac, dst, e->cfg.addr6, n->addr.bytes);
}

/* RFC 4861 §7.2.4: solicited (S) unless the NS came from :: (then to all
 * nodes), override (O) since the address is ours alone, our link address
 * as the target link-layer option. */
static void na_send(struct berth_eth *e, const uint8_t mac[6],
                    const uint8_t dst[16], bool solicited)
{
    uint8_t m[ND_MSG_LEN + 8] = {ND_NA};
    m[4] = (uint8_t)(NA_F_OVERRIDE | (solicited ? NA_F_SOLICIT : 0));
    memcpy(m + 8, e->cfg.addr6, 16);
    m[24] = OPT_TLLA;
    m[25] = 1;
    memcpy(m + 26, e->link.mac, 6);
    e->ctr[BERTH_ETH_ND_NA_OUT]++;
    nd_send(e, mac, e->cfg.addr6, dst, m, sizeof m);
}

/* ------------------------------------------------------------------------
 * Duplicate address detection (RFC 4862 §5.4).
 */
static void dad_solicit(struct berth_eth *e)
{
    uint8_t dst[16], mac[6];
    nd_solicited_node(e->cfg.addr6, dst);
    nd_mcast_mac(dst, mac);
    ns_send(e, mac, dst, UNSPEC, e->cfg.addr6);
}

void nd_start(struct berth_eth *e, uint64_t now)
{
    if (!e->cfg.has_addr6)
        return;
    /* RFC 4862 §5.4.2: join all-nodes and the solicited-node group of
     * the tentative address before probing it. */
    uint8_t g[16], mac[6];
    nd_mcast_mac(ALL_NODES, mac);
    berth_eth_join(e, mac);
    nd_solicited_node(e->cfg.addr6, g);
    nd_mcast_mac(g, mac);
    berth_eth_join(e, mac);
    if (e->cfg.dad_transmits == 0) {
        e->dad = BERTH_DAD_PREFERRED;
        return;
    }
    e->dad = BERTH_DAD_TENTATIVE;
    dad_solicit(e);
    e->dad_left = (uint8_t)(e->cfg.dad_transmits - 1);
    e->dad_at = now + e->cfg.retrans_time;
}

/* RFC 4862 §5.4: DupAddrDetectTransmits solicitations RetransTimer apart;
 * no duplicate RetransTimer after the last: the address is ours. */
void nd_advance(struct berth_eth *e, uint64_t now)
{
    if (e->dad_at > now)
        return;
    if (e->dad_left) {
        e->dad_left--;
        dad_solicit(e);
        e->dad_at = now + e->cfg.retrans_time;
        return;
    }
    e->dad = BERTH_DAD_PREFERRED;
    e->dad_at = UINT64_MAX;
}

/* RFC 4862 §5.4.5: a duplicate: the address is not used, ever. */
static void dad_failed(struct berth_eth *e)
{
    e->ctr[BERTH_ETH_ND_DAD_DUPLICATE]++;
    e->dad = BERTH_DAD_DUPLICATE;
    e->dad_at = UINT64_MAX;
}

enum berth_dad_state berth_eth_dad_state(const struct berth_eth *e)
{
    return (enum berth_dad_state)e->dad;
}

/* ------------------------------------------------------------------------
 * Receiving.
 */

/* The options after off: every length nonzero and within the message
 * (RFC 4861 §4.6); the link-layer option of `want` copied to mac. */
static int opts_walk(const uint8_t *m, size_t len, size_t off, uint8_t want,
                     uint8_t mac[6], bool *has)
{
    *has = false;
    while (off < len) {
        if (len - off < 2 || m[off + 1] == 0 || m[off + 1] * 8u > len - off)
            return -1;
        if (m[off] == want && m[off + 1] == 1) {
            memcpy(mac, m + off + 2, 6);
            *has = true;
        }
        off += m[off + 1] * 8u;
    }
    return 0;
}

/* RFC 4861 §7.2.3 (and §5.4.3 of RFC 4862 for a tentative address). */
static void ns_input(struct berth_eth *e, const struct ipv6_info *ip,
                     const uint8_t src_mac[6], uint64_t now)
{
    const uint8_t *m = ip->payload, *target = m + 8;
    uint8_t sll[6];
    bool has_sll, dad = !memcmp(ip->src, UNSPEC, 16);
    uint8_t snm[16];
    nd_solicited_node(target, snm);
    /* §7.1.1: from :: only to the solicited-node group, without SLLA. */
    if (opts_walk(m, ip->payload_len, ND_MSG_LEN, OPT_SLLA, sll, &has_sll) <
            0 ||
        (dad && (memcmp(ip->dst, snm, 16) || has_sll))) {
        e->ctr[BERTH_ETH_ND_BAD]++;
        return;
    }
    if (!is_ours(e, target))
        return;
    if (e->dad == BERTH_DAD_TENTATIVE) {
        /* RFC 4862 §5.4.3: another host probing for the same address
         * (our own probe looped back is not). Other NSs are not answered
         * for a tentative address. */
        if (dad && memcmp(src_mac, e->link.mac, 6))
            dad_failed(e);
        return;
    }
    if (e->dad != BERTH_DAD_PREFERRED)
        return;
    if (dad) {
        uint8_t mac[6];
        nd_mcast_mac(ALL_NODES, mac);
        na_send(e, mac, ALL_NODES, false);
        return;
    }
    struct berth_netaddr a = {.family = BERTH_AF_INET6};
    memcpy(a.bytes, ip->src, 16);
    const uint8_t *to = src_mac; /* a unicast NS without SLLA */
    if (has_sll) {
        /* §7.2.3: the sender's entry, created STALE if none; only for an
         * on-link sender (as ARP learns). */
        unsigned f = route_on_link(e, &a) ? NEIGH_F_CREATE : 0;
        struct neigh *n = neigh_update(&e->neigh, &a, sll, f, now);
        to = n ? n->mac : sll;
    }
    na_send(e, to, ip->src, true);
}

/* RFC 4861 §7.2.5; an advertisement of our own address is RFC 4862
 * §5.4.4's duplicate while tentative, and a conflict afterwards. */
static void na_input(struct berth_eth *e, const struct ipv6_info *ip,
                     uint64_t now)
{
    const uint8_t *m = ip->payload, *target = m + 8;
    uint8_t tll[6];
    bool has_tll;
    bool solicited = m[4] & NA_F_SOLICIT, override = m[4] & NA_F_OVERRIDE;
    /* §7.1.2: S is never set on an NA sent to a multicast group. */
    if (opts_walk(m, ip->payload_len, ND_MSG_LEN, OPT_TLLA, tll, &has_tll) <
            0 ||
        (ip->dst[0] == 0xff && solicited)) {
        e->ctr[BERTH_ETH_ND_BAD]++;
        return;
    }
    if (is_ours(e, target)) {
        if (has_tll && !memcmp(tll, e->link.mac, 6))
            return; /* our own, looped back */
        if (e->dad == BERTH_DAD_TENTATIVE)
            dad_failed(e);
        else
            e->ctr[BERTH_ETH_ND_ADDR_CONFLICT]++;
        return;
    }
    struct berth_netaddr a = {.family = BERTH_AF_INET6};
    memcpy(a.bytes, target, 16);
    struct neigh *n = neigh_find(&e->neigh, &a);
    if (!n) {
        e->ctr[BERTH_ETH_ND_NA_UNSOLICITED]++; /* §7.2.5: no entry made */
        return;
    }
    unsigned flags = solicited ? NEIGH_F_CONFIRM : 0;
    if (n->state == BERTH_NEIGH_INCOMPLETE || n->state == BERTH_NEIGH_FAILED) {
        /* Without the link address there is nothing to learn. */
        if (has_tll)
            neigh_update(&e->neigh, &a, tll, flags, now);
        return;
    }
    /* §7.2.5: without O, a different link address is not taken (the
     * entry keeps its address; Linux does likewise). */
    if (has_tll && !override && memcmp(tll, n->mac, 6))
        return;
    uint8_t mac[6];
    memcpy(mac, has_tll ? tll : n->mac, 6);
    neigh_update(&e->neigh, &a, mac, flags, now);
}

/* RFC 4861 §6.3.4, only with accept_ra: the router's link address, a
 * default route through it while its lifetime is nonzero, and the on-link
 * prefixes of Prefix Information options (L set; the link-local prefix
 * ignored). Lifetimes are not timed: a route stays until an RA ends it. */
static void ra_input(struct berth_eth *e, const struct ipv6_info *ip,
                     uint64_t now)
{
    const uint8_t *m = ip->payload;
    size_t len = ip->payload_len;
    uint8_t sll[6];
    bool has_sll;
    /* §6.1.2: from a link-local address, 16 bytes at least. */
    if (len < RA_MSG_LEN || ip->src[0] != 0xfe || (ip->src[1] & 0xc0) != 0x80 ||
        opts_walk(m, len, RA_MSG_LEN, OPT_SLLA, sll, &has_sll) < 0) {
        e->ctr[BERTH_ETH_ND_BAD]++;
        return;
    }
    if (!e->cfg.accept_ra) {
        e->ctr[BERTH_ETH_ND_RA_IGNORED]++;
        return;
    }
    e->ctr[BERTH_ETH_ND_RA_ACCEPTED]++;
    struct berth_netaddr router = {.family = BERTH_AF_INET6};
    memcpy(router.bytes, ip->src, 16);
    if (has_sll)
        neigh_update(&e->neigh, &router, sll, NEIGH_F_CREATE, now);
    struct berth_route d = {.dst = {.family = BERTH_AF_INET6},
                            .gateway = true,
                            .via = router,
                            .metric = RA_METRIC};
    memcpy(d.src.bytes, e->cfg.addr6, 16);
    d.src.family = BERTH_AF_INET6;
    struct berth_route old;
    bool have = false;
    for (uint32_t i = 0; i < e->nroutes; i++)
        if (e->routes[i].gateway && e->routes[i].plen == 0 &&
            e->routes[i].metric == RA_METRIC &&
            e->routes[i].dst.family == BERTH_AF_INET6) {
            old = e->routes[i];
            have = true;
        }
    uint16_t lifetime = load_be16(m + 6);
    /* One learned default router: the latest RA's replaces it; a zero
     * lifetime ends only the route through the router that sent it. */
    if (have && (lifetime || !memcmp(old.via.bytes, router.bytes, 16)))
        berth_eth_route_del(e, &old);
    if (lifetime)
        berth_eth_route_add(e, &d);
    for (size_t off = RA_MSG_LEN; off < len; off += m[off + 1] * 8u) {
        const uint8_t *o = m + off;
        if (o[0] != OPT_PREFIX || o[1] != 4 || o[2] > 128 ||
            !(o[3] & PI_F_ONLINK) || load_be32(o + 4) == 0 ||
            (o[16] == 0xfe && (o[17] & 0xc0) == 0x80))
            continue;
        struct berth_route p = {.dst = {.family = BERTH_AF_INET6},
                                .plen = o[2],
                                .src = d.src,
                                .metric = RA_METRIC};
        memcpy(p.dst.bytes, o + 16, 16);
        berth_eth_route_add(e, &p); /* -EEXIST: already on-link */
    }
}

static void nd_input(struct berth_eth *e, const struct ipv6_info *ip,
                     const uint8_t src_mac[6], uint64_t now)
{
    const uint8_t *m = ip->payload;
    size_t len = ip->payload_len;
    uint8_t type = m[0];
    e->ctr[BERTH_ETH_ND_IN]++;
    /* RFC 4861 §7.1.1, §7.1.2, §6.1.2: hop limit 255 (no router passed
     * it on), code 0, the checksum, the fixed part, and a unicast
     * target. */
    size_t min = type == ND_RA ? RA_MSG_LEN : ND_MSG_LEN;
    if (ip->hop_limit != ND_HOP_LIMIT || len < min || m[1] != 0 ||
        csum_fold(csum_add(
            csum_pseudo_ipv6(ip->src, ip->dst, ICMP6_PROTO, (uint32_t)len), m,
            len)) != 0 ||
        (type != ND_RA && m[8] == 0xff)) {
        e->ctr[BERTH_ETH_ND_BAD]++;
        return;
    }
    if (type == ND_NS)
        ns_input(e, ip, src_mac, now);
    else if (type == ND_NA)
        na_input(e, ip, now);
    else
        ra_input(e, ip, now);
}

void nd_ip6_input(struct berth_eth *e, const uint8_t src_mac[6],
                  const uint8_t *p, size_t len, uint32_t flags, uint64_t now)
{
    if (!e->cfg.has_addr6) {
        e->ctr[BERTH_ETH_RX_ETHERTYPE]++;
        return;
    }
    struct ipv6_info ip;
    if (ipv6_parse(p, len, &ip) == 0 && !ip.fragment &&
        ip.proto == ICMP6_PROTO && ip.payload_len >= 1 &&
        (ip.payload[0] == ND_NS || ip.payload[0] == ND_NA ||
         ip.payload[0] == ND_RA)) {
        nd_input(e, &ip, src_mac, now);
        return;
    }
    /* RFC 4862 §5.4: a tentative (or duplicate) address receives
     * nothing but neighbour discovery. */
    if (e->dad != BERTH_DAD_PREFERRED) {
        e->ctr[BERTH_ETH_ND_NOT_READY]++;
        return;
    }
    e->ctr[BERTH_ETH_RX_IP6]++;
    e->deliver(e->ctx, p, len, flags, now);
}

void nd_ip6_output(struct berth_eth *e, const uint8_t *p, size_t len,
                   uint64_t now)
{
    if (len < IPV6_HDR_LEN || !e->cfg.has_addr6) {
        e->ctr[BERTH_ETH_NO_ROUTE]++;
        return;
    }
    if (e->dad != BERTH_DAD_PREFERRED) {
        e->ctr[BERTH_ETH_ND_NOT_READY]++;
        return;
    }
    const uint8_t *dst = p + 24;
    if (dst[0] == 0xff) {
        uint8_t mac[6];
        nd_mcast_mac(dst, mac);
        eth_send(e, mac, ETH_P_IP6, p, len);
        return;
    }
    struct berth_netaddr d = {.family = BERTH_AF_INET6};
    memcpy(d.bytes, dst, 16);
    struct berth_route r;
    if (berth_eth_route_lookup(e, &d, &r) < 0) {
        e->ctr[BERTH_ETH_NO_ROUTE]++;
        return;
    }
    neigh_output(&e->neigh, r.gateway ? &r.via : &d, p, len, now);
}
