/* Internals of the Ethernet interface (src/link/): the neighbour cache that
 * ARP and IPv6 neighbour discovery (nd.c) resolve into, the route table,
 * ARP's wire format, and the interface object that ties them to a driver.
 * No I/O and no clock: time is every function's `now`. */
#ifndef BERTH_LINK_IMPL_H
#define BERTH_LINK_IMPL_H

#include "base/mem.h"
#include "berth/link.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ETH_HDR_LEN    14u
#define ETH_VLAN_LEN   4u
#define ETH_MIN_FRAME  60u /* without the FCS: shorter frames are padded */
#define ETH_P_IP4      0x0800u
#define ETH_P_ARP      0x0806u
#define ETH_P_VLAN     0x8100u
#define ETH_P_IP6      0x86ddu
#define ETH_MAX_GROUPS 16u
#define ETH_MAX_ROUTES 16u
#define ETH_MAX_FRAME  (ETH_HDR_LEN + ETH_VLAN_LEN + 65535u)

static const uint8_t ETH_BROADCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ------------------------------------------------------------------------
 * The neighbour cache (neigh.c). Family-agnostic: the protocol that owns
 * an address family (arp.c for IPv4; neighbour discovery for IPv6) sends
 * the solicitations through ops.solicit and reports what it learns through
 * neigh_update(); the cache runs RFC 4861 §7.3's state machine, the
 * timers and the per-neighbour queues for both.
 */
struct neigh_pkt {
    struct neigh_pkt *next;
    size_t len;
    uint8_t data[];
};

struct neigh {
    struct berth_netaddr addr;
    uint8_t mac[6];     /* valid in REACHABLE, STALE, DELAY, PROBE */
    uint8_t state;      /* enum berth_neigh_state */
    bool live;          /* slot in use */
    uint8_t probes;     /* solicitations sent in this INCOMPLETE/PROBE round */
    uint64_t deadline;  /* the state's timer; UINT64_MAX: none */
    uint64_t confirmed; /* last reachability confirmation */
    uint64_t used;      /* last packet sent to it (LRU eviction) */
    uint64_t born;      /* creation order: evictions among equals FIFO */
    struct neigh_pkt *qhead, *qtail; /* FIFO, only while INCOMPLETE */
    uint32_t qlen;                   /* <= cfg.queue_max */
};

struct neigh_ops {
    /* Send a solicitation for n: broadcast/multicast while INCOMPLETE,
     * unicast to n->mac in PROBE. */
    void (*solicit)(void *ctx, const struct neigh *n, bool unicast,
                    uint64_t now);
    /* Send a packet (queued or new) to n->mac. */
    void (*emit)(void *ctx, const struct neigh *n, const uint8_t *pkt,
                 size_t len, uint64_t now);
};

struct neigh_table {
    struct neigh *ents; /* cap slots, live ones scattered */
    uint32_t cap, n;    /* n: live slots */
    uint32_t memo;      /* slot of the last lookup hit */
    uint64_t births;    /* entries created so far (struct neigh's born) */
    uint64_t next;      /* earliest deadline of any entry (kept current) */
    const struct berth_eth_config *cfg;
    uint64_t *ctr; /* the interface's counters (BERTH_ETH_*) */
    struct mem *mem;
    struct neigh_ops ops;
    void *ctx;
};

int neigh_table_init(struct neigh_table *t, const struct berth_eth_config *cfg,
                     uint64_t *ctr, struct mem *mem,
                     const struct neigh_ops *ops, void *ctx);
void neigh_table_free(struct neigh_table *t);
struct neigh *neigh_find(struct neigh_table *t, const struct berth_netaddr *a);
/* A packet for next hop a: sent at once (REACHABLE, STALE -> DELAY, DELAY,
 * PROBE), or queued while resolving (a new entry or a FAILED one starts
 * resolution). */
void neigh_output(struct neigh_table *t, const struct berth_netaddr *a,
                  const uint8_t *pkt, size_t len, uint64_t now);

/* What a protocol learned about a neighbour (RFC 4861 §7.2.5, RFC 826). */
#define NEIGH_F_CONFIRM 0x1u /* an answer to our solicitation: REACHABLE */
#define NEIGH_F_CREATE  0x2u /* create a STALE entry if there is none */
/* Returns the entry (NULL when none was there or could be made). */
struct neigh *neigh_update(struct neigh_table *t, const struct berth_netaddr *a,
                           const uint8_t mac[6], unsigned flags, uint64_t now);
void neigh_advance(struct neigh_table *t, uint64_t now);

/* ------------------------------------------------------------------------
 * ARP (arp.c), RFC 826 for Ethernet and IPv4.
 */
#define ARP_LEN        28u
#define ARP_OP_REQUEST 1u
#define ARP_OP_REPLY   2u

struct arp_pkt {
    uint16_t op;
    uint8_t sha[6], tha[6];
    uint32_t spa, tpa; /* host order */
};
/* 0, or -1 unless Ethernet/IPv4 with a known operation. */
int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *out);
void arp_emit(uint8_t out[ARP_LEN], const struct arp_pkt *a);

/* ------------------------------------------------------------------------
 * The interface object (eth.c).
 */
struct berth_eth {
    struct berth_eth_config cfg;
    struct berth_link link;
    void (*deliver)(void *ctx, const uint8_t *pkt, size_t len, uint32_t flags,
                    uint64_t now);
    void *ctx;
    struct mem mem;
    struct neigh_table neigh;
    struct berth_route routes[ETH_MAX_ROUTES];
    uint32_t nroutes;
    uint8_t groups[ETH_MAX_GROUPS][6];
    uint32_t ngroups;
    uint8_t announce_left; /* gratuitous ARPs still to send */
    uint64_t announce_at;  /* the next one; UINT64_MAX: none */
    uint64_t ctr[BERTH_ETH__COUNT];
    uint8_t *scratch; /* one frame, when the driver has no tx_buf */
    uint8_t dad;      /* enum berth_dad_state */
    uint8_t dad_left; /* DAD solicitations still to send */
    uint64_t dad_at;  /* the next DAD step; UINT64_MAX: none */
};

/* eth.c: sends pkt (an IP datagram or an ARP packet of `type`) to mac. */
void eth_send(struct berth_eth *e, const uint8_t mac[6], uint16_t type,
              const uint8_t *pkt, size_t len);
/* arp.c */
void arp_input(struct berth_eth *e, const uint8_t *p, size_t len, uint64_t now);
void arp_solicit(struct berth_eth *e, const struct neigh *n, bool unicast);
void arp_announce(struct berth_eth *e);
/* nd.c, RFC 4861 for IPv6 over Ethernet (RFC 2464). */
#define ICMP6_PROTO 58u
#define ND_RS       133u
#define ND_RA       134u
#define ND_NS       135u
#define ND_NA       136u
#define OPT_SLLA    1u /* RFC 4861 §4.6: option types */
#define OPT_TLLA    2u
#define OPT_PREFIX  3u
/* An IPv6 datagram from the wire (after the Ethernet header); src_mac is
 * the frame's source. */
void nd_ip6_input(struct berth_eth *e, const uint8_t src_mac[6],
                  const uint8_t *p, size_t len, uint32_t flags, uint64_t now);
/* An IPv6 datagram from the stack. */
void nd_ip6_output(struct berth_eth *e, const uint8_t *p, size_t len,
                   uint64_t now);
void nd_solicit(struct berth_eth *e, const struct neigh *n, bool unicast);
/* DAD at start and its timer (RFC 4862 §5.4). */
void nd_start(struct berth_eth *e, uint64_t now);
void nd_advance(struct berth_eth *e, uint64_t now);
/* RFC 4291 §2.7.1 solicited-node group of a, and RFC 2464 §7's MAC of a
 * multicast address. */
void nd_solicited_node(const uint8_t a[16], uint8_t out[16]);
void nd_mcast_mac(const uint8_t a[16], uint8_t mac[6]);
/* route.c */
bool route_on_link(const struct berth_eth *e, const struct berth_netaddr *a);

#endif
