/* ARP for IPv4 over Ethernet (RFC 826): the packet's wire format, answering
 * requests for our address, learning neighbours into the shared cache
 * (neigh.c) under the spoofing limits below, soliciting for the cache, and
 * the gratuitous announcement at start (RFC 5227 §2.3). */
#include "link_impl.h"
#include "wire/bytes.h"

#include <string.h>

int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *out)
{
    /* RFC 826 "Packet format": ar$hrd 1 (Ethernet), ar$pro 0x0800, ar$hln
     * 6, ar$pln 4; anything else is not ours to resolve. */
    if (len < ARP_LEN || load_be16(p) != 1 || load_be16(p + 2) != ETH_P_IP4 ||
        p[4] != 6 || p[5] != 4)
        return -1;
    out->op = load_be16(p + 6);
    if (out->op != ARP_OP_REQUEST && out->op != ARP_OP_REPLY)
        return -1;
    memcpy(out->sha, p + 8, 6);
    out->spa = load_be32(p + 14);
    memcpy(out->tha, p + 18, 6);
    out->tpa = load_be32(p + 24);
    return 0;
}

void arp_emit(uint8_t out[ARP_LEN], const struct arp_pkt *a)
{
    store_be16(out, 1);
    store_be16(out + 2, ETH_P_IP4);
    out[4] = 6;
    out[5] = 4;
    store_be16(out + 6, a->op);
    memcpy(out + 8, a->sha, 6);
    store_be32(out + 14, a->spa);
    memcpy(out + 18, a->tha, 6);
    store_be32(out + 24, a->tpa);
}

static void arp_send(struct berth_eth *e, const uint8_t dst[6], uint16_t op,
                     const uint8_t tha[6], uint32_t tpa)
{
    struct arp_pkt a = {.op = op, .spa = e->cfg.addr, .tpa = tpa};
    uint8_t buf[ARP_LEN];
    memcpy(a.sha, e->link.mac, 6);
    memcpy(a.tha, tha, 6);
    arp_emit(buf, &a);
    eth_send(e, dst, ETH_P_ARP, buf, sizeof buf);
}

/* Resolution broadcasts the request; a probe of a known neighbour
 * (PROBE) is unicast to the address it had (RFC 4861 §7.3.3's model,
 * which Linux applies to ARP). The target hardware address is zero
 * (RFC 5227 §2.1.1 asks that of every request). */
void arp_solicit(struct berth_eth *e, const struct neigh *n, bool unicast)
{
    static const uint8_t zero[6];
    e->ctr[BERTH_ETH_ARP_REQUESTS_OUT]++;
    arp_send(e, unicast ? n->mac : ETH_BROADCAST, ARP_OP_REQUEST, zero,
             load_be32(n->addr.bytes));
}

/* RFC 5227 §2.3: an announcement is a request with our address as both
 * sender and target: hosts holding an entry for it update their cache. */
void arp_announce(struct berth_eth *e)
{
    static const uint8_t zero[6];
    e->ctr[BERTH_ETH_ARP_ANNOUNCE_OUT]++;
    arp_send(e, ETH_BROADCAST, ARP_OP_REQUEST, zero, e->cfg.addr);
}

/* RFC 826 "Packet Reception", with the limits that keep a hostile host
 * from filling or poisoning the cache:
 *  - a packet claiming our own address from another MAC is counted and
 *    ignored (RFC 5227 §2.4 conflict; we keep our address);
 *  - a sender off every on-link prefix is not learned;
 *  - a known sender's entry is updated (RFC 826's merge), a reply to us
 *    confirming it (REACHABLE);
 *  - an unknown sender gets an entry only when it asks for our address
 *    (RFC 826: "add the triplet"), as STALE, unless accept_unsolicited;
 *  - the cache is bounded (neigh.c evicts or refuses). */
void arp_input(struct berth_eth *e, const uint8_t *p, size_t len, uint64_t now)
{
    struct arp_pkt a;
    e->ctr[BERTH_ETH_ARP_IN]++;
    if (arp_parse(p, len, &a) < 0 || (a.sha[0] & 1)) {
        e->ctr[BERTH_ETH_ARP_BAD]++;
        return;
    }
    bool request = a.op == ARP_OP_REQUEST;
    e->ctr[request ? BERTH_ETH_ARP_REQUESTS_IN : BERTH_ETH_ARP_REPLIES_IN]++;
    if (!memcmp(a.sha, e->link.mac, 6))
        return; /* our own, looped back */
    if (a.spa == e->cfg.addr) {
        e->ctr[BERTH_ETH_ARP_SPOOF_OURS]++;
        return;
    }
    bool for_us = a.tpa == e->cfg.addr;
    struct berth_netaddr spa = berth_netaddr_ip4(a.spa);
    /* A probe (sender 0.0.0.0, RFC 5227 §2.1.1) teaches nothing. */
    if (a.spa != 0 && route_on_link(e, &spa)) {
        unsigned flags = 0;
        if (!request && for_us)
            flags |= NEIGH_F_CONFIRM;
        if ((request && for_us) || e->cfg.accept_unsolicited)
            flags |= NEIGH_F_CREATE;
        if (!neigh_update(&e->neigh, &spa, a.sha, flags, now) && !request)
            e->ctr[BERTH_ETH_ARP_UNSOLICITED]++;
    }
    if (request && for_us) {
        /* RFC 826: swap the fields, fill in our address, send it back to
         * the asker (unicast). */
        e->ctr[BERTH_ETH_ARP_REPLIES_OUT]++;
        arp_send(e, a.sha, ARP_OP_REPLY, a.sha, a.spa);
    }
}
