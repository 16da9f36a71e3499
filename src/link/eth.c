/* The Ethernet interface: Ethernet II framing with one optional 802.1Q VLAN,
 * the destination-MAC filter (ours, broadcast, joined multicast groups), the
 * dispatch of received frames (IPv4 to the stack, ARP to arp.c) and the
 * output path of the stack's datagrams: route, next hop, neighbour, frame. */
#include "link_impl.h"
#include "wire/bytes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_S UINT64_C(1000000)

void berth_eth_config_init(struct berth_eth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->addr = 0xc6120002u; /* 198.18.0.2, as the stack's default */
    cfg->prefix_len = 24;
    cfg->neigh_max = 256;
    cfg->queue_max = 3; /* Linux's unres_qlen is in bytes; 3 packets */
    cfg->mcast_probes = 3;
    cfg->ucast_probes = 3;
    cfg->retrans_time = 1 * US_PER_S;    /* RFC 4861 §10 RETRANS_TIMER */
    cfg->reachable_time = 30 * US_PER_S; /* RFC 4861 §10 REACHABLE_TIME */
    cfg->delay_time = 5 * US_PER_S;      /* DELAY_FIRST_PROBE_TIME */
    cfg->gc_time = 60 * US_PER_S;
    cfg->announce = 2;                     /* RFC 5227 ANNOUNCE_NUM */
    cfg->announce_interval = 2 * US_PER_S; /* ANNOUNCE_INTERVAL */
    cfg->prefix6_len = 64;
    cfg->dad_transmits = 1; /* RFC 4862 §5.1 DupAddrDetectTransmits */
}

/* ------------------------------------------------------------------------
 * Sending frames.
 */

void eth_send(struct berth_eth *e, const uint8_t mac[6], uint16_t type,
              const uint8_t *pkt, size_t len)
{
    size_t hdr = ETH_HDR_LEN + (e->cfg.vlan ? ETH_VLAN_LEN : 0);
    size_t flen = hdr + len < ETH_MIN_FRAME ? ETH_MIN_FRAME : hdr + len;
    uint8_t *f = e->link.tx_buf ? e->link.tx_buf(e->link.drv, flen) : NULL;
    bool ring = f != NULL;
    if (!f)
        f = e->scratch;
    memcpy(f, mac, 6);
    memcpy(f + 6, e->link.mac, 6);
    if (e->cfg.vlan) {
        /* IEEE 802.1Q: TPID 0x8100, then PCP 0, DEI 0, the VLAN ID. */
        store_be16(f + 12, ETH_P_VLAN);
        store_be16(f + 14, e->cfg.vlan);
    }
    store_be16(f + hdr - 2, type);
    memcpy(f + hdr, pkt, len);
    if (hdr + len < flen)
        memset(f + hdr + len, 0, flen - hdr - len);
    if (ring) {
        e->link.tx_commit(e->link.drv, flen);
        e->ctr[BERTH_ETH_TX_FRAMES]++;
    } else if (e->link.send(e->link.drv, f, flen) == 0) {
        e->ctr[BERTH_ETH_TX_FRAMES]++;
    } else {
        e->ctr[BERTH_ETH_TX_ERRORS]++;
    }
}

static void neigh_emit(void *ctx, const struct neigh *n, const uint8_t *pkt,
                       size_t len, uint64_t now)
{
    (void)now;
    struct berth_eth *e = ctx;
    eth_send(e, n->mac,
             n->addr.family == BERTH_AF_INET6 ? ETH_P_IP6 : ETH_P_IP4, pkt,
             len);
}

static void neigh_solicit(void *ctx, const struct neigh *n, bool unicast,
                          uint64_t now)
{
    (void)now;
    if (n->addr.family == BERTH_AF_INET)
        arp_solicit(ctx, n, unicast);
    else
        nd_solicit(ctx, n, unicast);
}

/* ------------------------------------------------------------------------
 * Creation.
 */

static bool prefix_is_linklocal(const struct berth_route *r)
{
    return r->plen >= 10 && r->dst.bytes[0] == 0xfe &&
           (r->dst.bytes[1] & 0xc0) == 0x80;
}

static int install_routes(struct berth_eth *e)
{
    const struct berth_eth_config *c = &e->cfg;
    uint32_t mask = c->prefix_len ? ~0u << (32 - c->prefix_len) : 0;
    struct berth_route r = {.dst = berth_netaddr_ip4(c->addr & mask),
                            .plen = c->prefix_len,
                            .src = berth_netaddr_ip4(c->addr)};
    int rc = berth_eth_route_add(e, &r);
    if (rc == 0 && c->gateway) {
        struct berth_route d = {.dst = berth_netaddr_ip4(0),
                                .gateway = true,
                                .via = berth_netaddr_ip4(c->gateway),
                                .src = berth_netaddr_ip4(c->addr)};
        rc = berth_eth_route_add(e, &d);
    }
    if (rc < 0 || !c->has_addr6)
        return rc;
    /* IPv6: the address's on-link prefix, the link-local prefix (RFC
     * 4291 §2.5.6: routers advertise from it) and a configured router. */
    struct berth_netaddr a6 = {.family = BERTH_AF_INET6};
    memcpy(a6.bytes, c->addr6, 16);
    struct berth_route r6 = {.dst = a6, .plen = c->prefix6_len, .src = a6};
    struct berth_route ll = {
        .dst = {.family = BERTH_AF_INET6, .bytes = {0xfe, 0x80}},
        .plen = 64,
        .src = a6};
    rc = berth_eth_route_add(e, &r6);
    if (rc == 0 && !prefix_is_linklocal(&r6))
        rc = berth_eth_route_add(e, &ll);
    static const uint8_t none[16];
    if (rc == 0 && memcmp(c->gateway6, none, 16)) {
        struct berth_route d = {.dst = {.family = BERTH_AF_INET6},
                                .gateway = true,
                                .via = {.family = BERTH_AF_INET6},
                                .src = a6};
        memcpy(d.via.bytes, c->gateway6, 16);
        rc = berth_eth_route_add(e, &d);
    }
    return rc;
}

struct berth_eth *
berth_eth_create(const struct berth_eth_config *cfg,
                 const struct berth_link *link,
                 void (*deliver)(void *ctx, const uint8_t *pkt, size_t len,
                                 uint32_t flags, uint64_t now),
                 void *ctx)
{
    if (link->kind != BERTH_LINK_ETHERNET || !link->send || !deliver ||
        cfg->prefix_len < 1 || cfg->prefix_len > 32 || cfg->vlan > 4094 ||
        cfg->neigh_max == 0 || cfg->retrans_time == 0 ||
        (cfg->has_addr6 && (cfg->prefix6_len < 1 || cfg->prefix6_len > 128 ||
                            cfg->addr6[0] == 0xff)) ||
        (link->tx_buf && !link->tx_commit) || (link->mac[0] & 1))
        return NULL;
    struct berth_eth *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->cfg = *cfg;
    e->link = *link;
    e->deliver = deliver;
    e->ctx = ctx;
    e->announce_at = UINT64_MAX;
    e->dad_at = UINT64_MAX;
    /* Nothing is sent from the address before its DAD (berth_eth_start). */
    e->dad = cfg->has_addr6 ? BERTH_DAD_TENTATIVE : BERTH_DAD_NONE;
    static const struct neigh_ops ops = {neigh_solicit, neigh_emit};
    e->scratch = mem_alloc_raw(&e->mem, ETH_MAX_FRAME);
    if (!e->scratch ||
        neigh_table_init(&e->neigh, &e->cfg, e->ctr, &e->mem, &ops, e) < 0 ||
        install_routes(e) < 0) {
        berth_eth_destroy(e);
        return NULL;
    }
    return e;
}

void berth_eth_destroy(struct berth_eth *e)
{
    if (!e)
        return;
    if (e->neigh.ents)
        neigh_table_free(&e->neigh);
    mem_free(&e->mem, e->scratch, ETH_MAX_FRAME);
    free(e);
}

void berth_eth_start(struct berth_eth *e, uint64_t now)
{
    nd_start(e, now);
    if (!e->cfg.announce)
        return;
    arp_announce(e);
    e->announce_left = (uint8_t)(e->cfg.announce - 1);
    e->announce_at =
        e->announce_left ? now + e->cfg.announce_interval : UINT64_MAX;
}

/* ------------------------------------------------------------------------
 * Receiving frames.
 */

static bool group_joined(const struct berth_eth *e, const uint8_t *mac)
{
    for (uint32_t i = 0; i < e->ngroups; i++)
        if (!memcmp(e->groups[i], mac, 6))
            return true;
    return false;
}

/* The destination filter a NIC's would apply: our unicast address,
 * broadcast, and the multicast groups joined. */
static bool dst_accepted(struct berth_eth *e, const uint8_t *dst)
{
    if (!memcmp(dst, e->link.mac, 6) || !memcmp(dst, ETH_BROADCAST, 6))
        return true;
    if (dst[0] & 1) {
        if (group_joined(e, dst))
            return true;
        e->ctr[BERTH_ETH_RX_MCAST_NOT_JOINED]++;
        return false;
    }
    e->ctr[BERTH_ETH_RX_NOT_OURS]++;
    return false;
}

void berth_eth_input(struct berth_eth *e, const uint8_t *f, size_t len,
                     uint64_t now)
{
    berth_eth_input_flags(e, f, len, now, 0);
}

void berth_eth_input_flags(struct berth_eth *e, const uint8_t *f, size_t len,
                           uint64_t now, uint32_t flags)
{
    e->ctr[BERTH_ETH_RX_FRAMES]++;
    if (len < ETH_HDR_LEN) {
        e->ctr[BERTH_ETH_RX_SHORT]++;
        return;
    }
    if (!dst_accepted(e, f))
        return;
    uint16_t type = load_be16(f + 12);
    size_t hdr = ETH_HDR_LEN;
    if (type == ETH_P_VLAN) {
        if (len < ETH_HDR_LEN + ETH_VLAN_LEN) {
            e->ctr[BERTH_ETH_RX_SHORT]++;
            return;
        }
        if (!e->cfg.vlan || (load_be16(f + 14) & 0x0fffu) != e->cfg.vlan) {
            e->ctr[BERTH_ETH_RX_VLAN_OTHER]++;
            return;
        }
        type = load_be16(f + 16);
        hdr += ETH_VLAN_LEN;
    } else if (e->cfg.vlan) {
        e->ctr[BERTH_ETH_RX_VLAN_UNTAGGED]++;
        return;
    }
    switch (type) {
    case ETH_P_IP4:
        /* Padding past the IP total length stays: the IPv4 parser treats
         * bytes beyond it as link padding. */
        e->ctr[BERTH_ETH_RX_IP4]++;
        e->deliver(e->ctx, f + hdr, len - hdr, flags, now);
        return;
    case ETH_P_ARP:
        arp_input(e, f + hdr, len - hdr, now);
        return;
    case ETH_P_IP6:
        nd_ip6_input(e, f + 6, f + hdr, len - hdr, flags, now);
        return;
    default:
        e->ctr[BERTH_ETH_RX_ETHERTYPE]++;
        return;
    }
}

/* ------------------------------------------------------------------------
 * Sending datagrams.
 */

/* RFC 1112 §6.4: IPv4 multicast 224/4 maps to 01:00:5e plus the low 23
 * bits of the group. */
static void ip4_mcast_mac(uint32_t group, uint8_t mac[6])
{
    mac[0] = 0x01;
    mac[1] = 0x00;
    mac[2] = 0x5e;
    mac[3] = (uint8_t)((group >> 16) & 0x7f);
    mac[4] = (uint8_t)(group >> 8);
    mac[5] = (uint8_t)group;
}

void berth_eth_output(struct berth_eth *e, const uint8_t *pkt, size_t len,
                      uint64_t now)
{
    if (len > e->link.mtu) {
        e->ctr[BERTH_ETH_TX_TOO_BIG]++;
        return;
    }
    if (len >= 1 && (pkt[0] >> 4) == 6) {
        nd_ip6_output(e, pkt, len, now);
        return;
    }
    if (len < 20 || (pkt[0] >> 4) != 4) {
        e->ctr[BERTH_ETH_NO_ROUTE]++;
        return;
    }
    uint32_t dst = load_be32(pkt + 16);
    struct berth_netaddr d = berth_netaddr_ip4(dst);
    const uint32_t mask = ~0u << (32 - e->cfg.prefix_len);
    if (dst == 0xffffffffu ||
        (e->cfg.prefix_len < 31 && (dst & ~mask) == ~mask &&
         (dst & mask) == (e->cfg.addr & mask))) {
        eth_send(e, ETH_BROADCAST, ETH_P_IP4, pkt, len);
        return;
    }
    if ((dst >> 28) == 0xe) {
        uint8_t mac[6];
        ip4_mcast_mac(dst, mac);
        eth_send(e, mac, ETH_P_IP4, pkt, len);
        return;
    }
    struct berth_route r;
    if (berth_eth_route_lookup(e, &d, &r) < 0) {
        e->ctr[BERTH_ETH_NO_ROUTE]++;
        return;
    }
    neigh_output(&e->neigh, r.gateway ? &r.via : &d, pkt, len, now);
}

/* ------------------------------------------------------------------------
 * Timers, groups, queries.
 */

void berth_eth_advance(struct berth_eth *e, uint64_t now)
{
    if (e->announce_at <= now) {
        arp_announce(e);
        e->announce_left--;
        e->announce_at =
            e->announce_left ? now + e->cfg.announce_interval : UINT64_MAX;
    }
    nd_advance(e, now);
    neigh_advance(&e->neigh, now);
}

uint64_t berth_eth_next_deadline(const struct berth_eth *e)
{
    uint64_t t =
        e->announce_at < e->neigh.next ? e->announce_at : e->neigh.next;
    return e->dad_at < t ? e->dad_at : t;
}

int berth_eth_join(struct berth_eth *e, const uint8_t mac[6])
{
    if (!(mac[0] & 1))
        return -EINVAL;
    if (group_joined(e, mac))
        return 0;
    if (e->ngroups >= ETH_MAX_GROUPS)
        return -ENOSPC;
    memcpy(e->groups[e->ngroups++], mac, 6);
    return 0;
}

int berth_eth_leave(struct berth_eth *e, const uint8_t mac[6])
{
    for (uint32_t i = 0; i < e->ngroups; i++) {
        if (!memcmp(e->groups[i], mac, 6)) {
            memmove(e->groups[i], e->groups[i + 1],
                    (e->ngroups - i - 1) * sizeof e->groups[0]);
            e->ngroups--;
            return 0;
        }
    }
    return -ENOENT;
}

static void neigh_info(const struct neigh *n, struct berth_neigh_info *out)
{
    memset(out, 0, sizeof *out);
    out->addr = n->addr;
    memcpy(out->mac, n->mac, 6);
    out->state = (enum berth_neigh_state)n->state;
    out->probes = n->probes;
    out->queued = n->qlen;
    out->confirmed = n->confirmed;
    out->used = n->used;
}

void berth_eth_foreach_neigh(const struct berth_eth *e,
                             void (*fn)(void *ctx,
                                        const struct berth_neigh_info *n),
                             void *ctx)
{
    for (uint32_t i = 0; i < e->neigh.cap; i++) {
        if (e->neigh.ents[i].live) {
            struct berth_neigh_info in;
            neigh_info(&e->neigh.ents[i], &in);
            fn(ctx, &in);
        }
    }
}

int berth_eth_neigh_lookup(const struct berth_eth *e,
                           const struct berth_netaddr *a,
                           struct berth_neigh_info *out)
{
    /* neigh_find only moves the lookup memo: the table is unchanged. */
    struct neigh *n = neigh_find((struct neigh_table *)&e->neigh, a);
    if (!n)
        return -ENOENT;
    neigh_info(n, out);
    return 0;
}

uint64_t berth_eth_counter(const struct berth_eth *e, enum berth_eth_counter c)
{
    return (unsigned)c < BERTH_ETH__COUNT ? e->ctr[c] : 0;
}

char *berth_mac_str(const uint8_t mac[6], char *buf, size_t size)
{
    snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
             mac[3], mac[4], mac[5]);
    return buf;
}

int berth_mac_parse(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        char *end;
        if (!((s[0] >= '0' && s[0] <= '9') || (s[0] >= 'a' && s[0] <= 'f') ||
              (s[0] >= 'A' && s[0] <= 'F')))
            return -1;
        unsigned long v = strtoul(s, &end, 16);
        if (end == s || end - s > 2 || v > 255 ||
            (i < 5 ? *end != ':' : *end != 0))
            return -1;
        mac[i] = (uint8_t)v;
        s = end + (i < 5);
    }
    return 0;
}
