/* berth links: what a network driver implements, and the Ethernet interface
 * (Ethernet II framing, ARP, the neighbour cache and the route table) that
 * sits between a core stack and a driver that carries Ethernet frames.
 *
 * Like the core, the Ethernet interface is sans-IO: it never reads a clock
 * or touches a device. The driver (a TAP device, an AF_PACKET or AF_XDP
 * socket in the runtime, or an embedder's MAC driver) fills a struct
 * berth_link with its hooks; frames it receives go to berth_eth_input(),
 * the stack's IP packets go to berth_eth_output(), time goes to
 * berth_eth_advance(). docs/porting.md walks through a bare-metal driver.
 */
#ifndef BERTH_LINK_H
#define BERTH_LINK_H

#include "berth/berth.h" /* enum berth_family */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * The driver: one struct for TUN, TAP, AF_PACKET, AF_XDP and a NIC.
 */
enum berth_link_kind {
    BERTH_LINK_IP,       /* frames are bare IP datagrams (TUN) */
    BERTH_LINK_ETHERNET, /* frames are Ethernet II frames (TAP, NICs) */
};

/* Offload capabilities (caps): what the driver does for the stack. */
#define BERTH_LINK_CAP_RX_CSUM 0x1u /* received checksums were verified */
#define BERTH_LINK_CAP_TX_CSUM 0x2u /* the driver fills transport checksums */
#define BERTH_LINK_CAP_TSO4    0x4u /* the driver cuts TCP super-segments */
#define BERTH_LINK_CAP_BATCH   0x8u /* tx_buf/flush batch frames (rings) */

struct berth_link {
    enum berth_link_kind kind;
    uint16_t mtu;   /* largest IP datagram a frame carries (1500) */
    uint8_t mac[6]; /* our hardware address (Ethernet links) */
    uint32_t caps;  /* BERTH_LINK_CAP_* */
    /* Sends one frame. The buffer is the caller's: copy it or send it
     * before returning. 0, or a negative errno-style code (the frame is
     * lost: -EAGAIN for a full ring, counted by the caller). */
    int (*send)(void *drv, const uint8_t *frame, size_t len);
    /* Optional, for rings (AF_PACKET, AF_XDP, a NIC's descriptors): a
     * buffer of at least len bytes inside the next free transmit slot, or
     * NULL when the ring is full (then send() is tried). tx_commit() hands
     * the slot's first len bytes to the device. */
    uint8_t *(*tx_buf)(void *drv, size_t len);
    void (*tx_commit)(void *drv, size_t len);
    /* Optional: frames committed so far go out now (one doorbell, one
     * sendto()). The caller flushes once per batch. */
    void (*flush)(void *drv);
    void *drv;
};

/* ------------------------------------------------------------------------
 * Addresses and routes, per family (IPv4 now; IPv6 shares the types).
 */
struct berth_netaddr {
    uint8_t family;    /* BERTH_AF_INET or BERTH_AF_INET6 */
    uint8_t bytes[16]; /* network byte order; IPv4 in bytes[0..3] */
};

/* An IPv4 address (host byte order) as a struct berth_netaddr. */
struct berth_netaddr berth_netaddr_ip4(uint32_t addr);
/* "198.18.0.1" or an IPv6 address; returns buf (at least 46 bytes). */
char *berth_netaddr_str(const struct berth_netaddr *a, char *buf, size_t size);

struct berth_route {
    struct berth_netaddr dst; /* the prefix (host bits zero) */
    uint8_t plen;             /* prefix length; 0: the default route */
    bool gateway;             /* false: on-link (the peer is the next hop) */
    struct berth_netaddr via; /* the gateway when `gateway` */
    struct berth_netaddr src; /* our address on this route */
    uint32_t metric;          /* lower wins between equal prefixes */
};

/* ------------------------------------------------------------------------
 * The neighbour cache: RFC 4861 §7.3.2's states, which ARP uses too (as
 * Linux's neighbour tables do), so IPv6 neighbour discovery shares the
 * cache, its timers and its queues: only the solicitation differs.
 */
#define BERTH_NEIGH_STATE_MAP(X)                                               \
    X(INCOMPLETE, "INCOMPLETE") /* resolving: requests out, packets queue */   \
    X(REACHABLE, "REACHABLE")   /* confirmed within reachable_time */          \
    X(STALE, "STALE")           /* unconfirmed; used as is until sent to */    \
    X(DELAY, "DELAY")           /* sent to while STALE: probe soon */          \
    X(PROBE, "PROBE")           /* unicast requests out */                     \
    X(FAILED, "FAILED")         /* no answer: packets to it are dropped */

enum berth_neigh_state {
#define BERTH_NEIGH_STATE_ENUM(name, str) BERTH_NEIGH_##name,
    BERTH_NEIGH_STATE_MAP(BERTH_NEIGH_STATE_ENUM)
#undef BERTH_NEIGH_STATE_ENUM
        BERTH_NEIGH__COUNT
};
const char *berth_neigh_state_name(enum berth_neigh_state st);

struct berth_neigh_info {
    struct berth_netaddr addr;
    uint8_t mac[6]; /* valid unless INCOMPLETE/FAILED */
    enum berth_neigh_state state;
    uint8_t probes;     /* requests sent in this round */
    uint32_t queued;    /* packets waiting for resolution */
    uint64_t confirmed; /* last confirmation (us, caller's clock) */
    uint64_t used;      /* last packet sent to it */
};

/* ------------------------------------------------------------------------
 * Counters of the Ethernet interface; the drops among them name the rule.
 */
#define BERTH_ETH_COUNTER_MAP(X)                                               \
    X(RX_FRAMES, "frames received")                                            \
    X(TX_FRAMES, "frames sent")                                                \
    X(TX_ERRORS, "frames the driver refused (ring full, device down)")         \
    X(RX_SHORT, "frames shorter than an Ethernet header: dropped")             \
    X(RX_NOT_OURS, "frames for another MAC address: dropped")                  \
    X(RX_MCAST_NOT_JOINED, "multicast frames for a group not joined: dropped") \
    X(RX_VLAN_OTHER, "frames tagged with another VLAN: dropped")               \
    X(RX_VLAN_UNTAGGED, "untagged frames on a VLAN interface: dropped")        \
    X(RX_ETHERTYPE, "frames of an unknown EtherType: dropped")                 \
    X(RX_IP4, "IPv4 packets handed to the stack")                              \
    X(ARP_IN, "ARP packets received")                                          \
    X(ARP_BAD, "ARP packets malformed or not Ethernet/IPv4: dropped")          \
    X(ARP_REQUESTS_IN, "ARP requests received")                                \
    X(ARP_REPLIES_IN, "ARP replies received")                                  \
    X(ARP_REQUESTS_OUT, "ARP requests sent (resolution and probes)")           \
    X(ARP_REPLIES_OUT, "ARP replies sent")                                     \
    X(ARP_ANNOUNCE_OUT, "gratuitous ARP announcements sent (RFC 5227 §2.3)")   \
    X(ARP_UNSOLICITED, "unsolicited ARP replies for no entry: ignored")        \
    X(ARP_SPOOF_OURS, "ARP claiming our own address from another MAC")         \
    X(NEIGH_CREATED, "neighbour entries created")                              \
    X(NEIGH_EVICTED, "neighbour entries evicted: the cache was full")          \
    X(NEIGH_TABLE_FULL, "neighbours not cached: full of resolving entries")    \
    X(NEIGH_FAILED, "neighbours that stopped answering (FAILED)")              \
    X(NEIGH_QUEUE_OVERFLOW, "packets dropped: resolution queue full")          \
    X(NEIGH_QUEUE_FAILED, "packets dropped: resolution failed")                \
    X(NEIGH_QUEUE_NOMEM, "packets dropped: no memory to queue them")           \
    X(NO_ROUTE, "packets dropped: no route to the destination")                \
    X(TX_TOO_BIG, "packets dropped: larger than the link's MTU")               \
    X(RX_IP6, "IPv6 packets handed to the stack")                              \
    X(ND_IN, "neighbour discovery messages received (NS, NA, RA)")             \
    X(ND_BAD, "ND messages malformed (RFC 4861 validity checks): dropped")     \
    X(ND_NS_OUT, "neighbour solicitations sent (resolution, probes, DAD)")     \
    X(ND_NA_OUT, "neighbour advertisements sent")                              \
    X(ND_NA_UNSOLICITED, "advertisements for no entry: ignored")               \
    X(ND_RA_IGNORED, "router advertisements ignored (accept_ra off)")          \
    X(ND_RA_ACCEPTED, "router advertisements accepted")                        \
    X(ND_DAD_DUPLICATE, "our IPv6 address is in use on the link (DAD)")        \
    X(ND_ADDR_CONFLICT, "advertisements of our address from another host")     \
    X(ND_NOT_READY, "IPv6 packets dropped: our address tentative/duplicate")

enum berth_eth_counter {
#define BERTH_ETH_COUNTER_ENUM(name, str) BERTH_ETH_##name,
    BERTH_ETH_COUNTER_MAP(BERTH_ETH_COUNTER_ENUM)
#undef BERTH_ETH_COUNTER_ENUM
        BERTH_ETH__COUNT
};
const char *berth_eth_counter_name(enum berth_eth_counter c); /* "RX_IP4" */
const char *berth_eth_counter_string(enum berth_eth_counter c);

/* ------------------------------------------------------------------------
 * The Ethernet interface. Times in microseconds.
 */
struct berth_eth_config {
    uint32_t addr;           /* our IPv4 address, host order */
    uint8_t prefix_len;      /* its on-link prefix (default 24) */
    uint32_t gateway;        /* default gateway (host order), 0: none */
    uint16_t vlan;           /* 0: untagged; 1..4094: only that 802.1Q VLAN */
    uint32_t neigh_max;      /* cache bound, entries (default 256) */
    uint32_t queue_max;      /* packets queued per resolving neighbour (3) */
    uint8_t mcast_probes;    /* broadcast requests before FAILED (3) */
    uint8_t ucast_probes;    /* unicast probes before FAILED (3) */
    uint64_t retrans_time;   /* first request interval (1 s); doubles */
    uint64_t reachable_time; /* REACHABLE -> STALE (30 s) */
    uint64_t delay_time;     /* DELAY -> PROBE (5 s) */
    uint64_t gc_time;        /* unused STALE/FAILED entries go (60 s) */
    uint8_t announce;        /* gratuitous ARPs at start (2, RFC 5227) */
    uint64_t announce_interval; /* between them (2 s, RFC 5227) */
    /* Create entries from unsolicited replies and gratuitous ARP of
     * unknown hosts (Linux's arp_accept). Default false: an unknown host
     * gets an entry only by asking for our address (RFC 826), or by
     * answering our request. */
    bool accept_unsolicited;
    /* IPv6 (RFC 4861 neighbour discovery, RFC 4862 DAD). */
    bool has_addr6;        /* false: IPv6 frames are dropped */
    uint8_t addr6[16];     /* our IPv6 address */
    uint8_t prefix6_len;   /* its on-link prefix (default 64) */
    uint8_t gateway6[16];  /* default router; all zero: none */
    uint8_t dad_transmits; /* DAD solicitations (1, RFC 4862 §5.1); 0: off */
    /* Learn a default router and on-link prefixes from Router
     * Advertisements (RFC 4861 §6.3.4). Default false. */
    bool accept_ra;
};
void berth_eth_config_init(struct berth_eth_config *cfg);

struct berth_eth;

/* `deliver` gets each IP datagram for the stack with the flags of its
 * frame (call berth_input_flags() with them). The link must be
 * BERTH_LINK_ETHERNET. NULL: bad config or out of memory. Nothing is sent
 * before berth_eth_start(). */
struct berth_eth *
berth_eth_create(const struct berth_eth_config *cfg,
                 const struct berth_link *link,
                 void (*deliver)(void *ctx, const uint8_t *pkt, size_t len,
                                 uint32_t flags, uint64_t now),
                 void *ctx);
void berth_eth_destroy(struct berth_eth *e);
/* Sends the first gratuitous ARP (RFC 5227 §2.3 announcement). */
void berth_eth_start(struct berth_eth *e, uint64_t now);

/* A frame from the driver. ARP is answered here; IPv4 goes to deliver. */
void berth_eth_input(struct berth_eth *e, const uint8_t *frame, size_t len,
                     uint64_t now);
/* The same with the driver's BERTH_IN_* flags (berth.h) for the frame,
 * e.g. BERTH_IN_CSUM_OK when the device verified its checksums or the
 * frame came from the local host with checksums left to offload. */
void berth_eth_input_flags(struct berth_eth *e, const uint8_t *frame,
                           size_t len, uint64_t now, uint32_t flags);
/* An IPv4 datagram from the stack (its tx hook): routed, resolved, framed
 * and sent, or queued until the next hop resolves. */
void berth_eth_output(struct berth_eth *e, const uint8_t *pkt, size_t len,
                      uint64_t now);
/* Timers: retransmitted requests, state expiries, announcements. */
void berth_eth_advance(struct berth_eth *e, uint64_t now);
/* When berth_eth_advance() must next be called; UINT64_MAX: never. */
uint64_t berth_eth_next_deadline(const struct berth_eth *e);

/* Our IPv6 address's duplicate address detection (RFC 4862 §5.4). */
enum berth_dad_state {
    BERTH_DAD_NONE,      /* no IPv6 address configured */
    BERTH_DAD_TENTATIVE, /* probing: the address is not used yet */
    BERTH_DAD_PREFERRED, /* no duplicate answered: in use */
    BERTH_DAD_DUPLICATE, /* another host has it: never used */
};
enum berth_dad_state berth_eth_dad_state(const struct berth_eth *e);

/* Multicast groups whose frames are accepted (broadcast always is). */
int berth_eth_join(struct berth_eth *e, const uint8_t mac[6]);
int berth_eth_leave(struct berth_eth *e, const uint8_t mac[6]);

/* Routes: the on-link prefix and the default gateway of the config are
 * installed at creation. 0, or -ENOSPC (16 routes) / -EINVAL / -ENOENT. */
int berth_eth_route_add(struct berth_eth *e, const struct berth_route *r);
int berth_eth_route_del(struct berth_eth *e, const struct berth_route *r);
/* The route a packet to dst takes (longest prefix, then lowest metric):
 * 0, or -ENOENT (no route). */
int berth_eth_route_lookup(const struct berth_eth *e,
                           const struct berth_netaddr *dst,
                           struct berth_route *out);
void berth_eth_foreach_route(const struct berth_eth *e,
                             void (*fn)(void *ctx, const struct berth_route *r),
                             void *ctx);
void berth_eth_foreach_neigh(const struct berth_eth *e,
                             void (*fn)(void *ctx,
                                        const struct berth_neigh_info *n),
                             void *ctx);
/* 0 with *out filled, or -ENOENT. */
int berth_eth_neigh_lookup(const struct berth_eth *e,
                           const struct berth_netaddr *a,
                           struct berth_neigh_info *out);

uint64_t berth_eth_counter(const struct berth_eth *e, enum berth_eth_counter c);

/* "aa:bb:cc:dd:ee:ff" into buf (at least 18 bytes); returns buf. */
char *berth_mac_str(const uint8_t mac[6], char *buf, size_t size);
/* 0, or -1 if s is not six colon-separated hex bytes. */
int berth_mac_parse(const char *s, uint8_t mac[6]);

#ifdef __cplusplus
}
#endif
#endif
