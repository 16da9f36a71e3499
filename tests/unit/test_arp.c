/* The Ethernet interface with a recording driver and virtual time: ARP's
 * state machine frame by frame (RFC 826, RFC 4861 §7.3's states as the
 * neighbour cache runs them for ARP, RFC 5227's announcements), the cache
 * bound and the per-neighbour queue, the spoofing limits, VLAN and MAC
 * filtering, and routing through a gateway. Every test ends with nothing
 * queued beyond what it expects and the interface freed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "eth_rig.h"
#include "wire/bytes.h"

#define US   UINT64_C(1)
#define MS   (1000 * US)
#define SEC  (1000 * MS)
#define OURS 0xc6120002u /* 198.18.0.2 */
#define PEER 0xc6120001u /* 198.18.0.1 */
#define GW   0xc61200feu /* 198.18.0.254 */
#define FAR  0x08080808u /* 8.8.8.8 */

static void default_cfg(struct berth_eth_config *cfg)
{
    berth_eth_config_init(cfg);
    cfg->addr = OURS;
    cfg->announce = 0;
}

/* An IPv4 datagram header to dst (the payload does not matter here). */
static size_t ip_to(uint8_t *pkt, uint32_t dst, uint8_t tag)
{
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    store_be16(pkt + 2, 40);
    store_be32(pkt + 12, OURS);
    store_be32(pkt + 16, dst);
    pkt[39] = tag;
    return 40;
}

static void send_ip(struct rig *r, uint32_t dst, uint8_t tag, uint64_t now)
{
    uint8_t pkt[40];
    berth_eth_output(r->e, pkt, ip_to(pkt, dst, tag), now);
}

/* An ARP frame from `from` (MAC and IP) to dst. */
static void arp_in(struct rig *r, const uint8_t dst[6], uint16_t op,
                   const uint8_t sha[6], uint32_t spa, uint32_t tpa,
                   uint64_t now)
{
    uint8_t f[ETH_HDR_LEN + ARP_LEN];
    struct arp_pkt a = {.op = op, .spa = spa, .tpa = tpa};
    memcpy(a.sha, sha, 6);
    if (op == ARP_OP_REPLY)
        memcpy(a.tha, MAC_US, 6);
    memcpy(f, dst, 6);
    memcpy(f + 6, sha, 6);
    store_be16(f + 12, ETH_P_ARP);
    arp_emit(f + ETH_HDR_LEN, &a);
    berth_eth_input(r->e, f, sizeof f, now);
}

/* PEER resolved at time 0: datagram 1 to it asks (frame 0, the request),
 * PEER's reply answers and the datagram leaves (frame 1); REACHABLE. */
static void resolve_peer(struct rig *r)
{
    send_ip(r, PEER, 1, 0);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS, 0);
}

/* Frame i is an ARP packet of op to dst asking about/answering tpa. */
static void expect_arp(struct rig *r, size_t i, const uint8_t dst[6],
                       uint16_t op, uint32_t tpa)
{
    struct arp_pkt a;
    assert_true(i < r->nframes);
    assert_memory_equal(r->frames[i], dst, 6);
    assert_memory_equal(r->frames[i] + 6, MAC_US, 6);
    assert_int_equal(load_be16(r->frames[i] + 12), ETH_P_ARP);
    assert_int_equal(r->flen[i], ETH_MIN_FRAME); /* padded */
    assert_int_equal(arp_parse(r->frames[i] + ETH_HDR_LEN, ARP_LEN, &a), 0);
    assert_int_equal(a.op, op);
    assert_memory_equal(a.sha, MAC_US, 6);
    assert_int_equal(a.spa, OURS);
    assert_int_equal(a.tpa, tpa);
}

/* Frame i is an IPv4 datagram with tag to dst_mac. */
static void expect_ip(struct rig *r, size_t i, const uint8_t dst[6],
                      uint8_t tag)
{
    assert_true(i < r->nframes);
    assert_memory_equal(r->frames[i], dst, 6);
    assert_int_equal(load_be16(r->frames[i] + 12), ETH_P_IP4);
    assert_int_equal(r->frames[i][ETH_HDR_LEN + 39], tag);
}

static enum berth_neigh_state state_of(struct rig *r, uint32_t ip)
{
    struct berth_neigh_info in;
    struct berth_netaddr a = berth_netaddr_ip4(ip);
    if (berth_eth_neigh_lookup(r->e, &a, &in) < 0)
        return BERTH_NEIGH__COUNT;
    return in.state;
}

/* RFC 826: the first packet to an unknown on-link host broadcasts a
 * request and waits; the reply resolves the entry (REACHABLE) and the
 * waiting packets leave in order to the answered address. */
static void unknown_neighbour_request_then_reply_sends_queue(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    send_ip(r, PEER, 1, 0);
    send_ip(r, PEER, 2, 10 * MS);
    assert_int_equal(r->nframes, 1);
    expect_arp(r, 0, ETH_BROADCAST, ARP_OP_REQUEST, PEER);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_INCOMPLETE);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS, 20 * MS);
    assert_int_equal(r->nframes, 3);
    expect_ip(r, 1, MAC_PEER, 1);
    expect_ip(r, 2, MAC_PEER, 2);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_REACHABLE);
    send_ip(r, PEER, 3, 30 * MS); /* resolved: straight out */
    expect_ip(r, 3, MAC_PEER, 3);
    assert_int_equal(ctr(r, BERTH_ETH_ARP_REQUESTS_OUT), 1);
    rig_done(r);
}

/* Requests are retried with a doubling interval (1 s, 2 s) and after the
 * third unanswered one the entry FAILS: its queue is dropped and counted
 * (RFC 4861 §7.3.3 applied to ARP, backoff as RFC 7048 §3 allows). */
static void unanswered_requests_back_off_then_fail_dropping_queue(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    send_ip(r, PEER, 1, 0);
    send_ip(r, PEER, 2, 0);
    assert_int_equal(berth_eth_next_deadline(r->e), 1 * SEC);
    berth_eth_advance(r->e, 999 * MS);
    assert_int_equal(r->nframes, 1);
    berth_eth_advance(r->e, 1 * SEC);
    assert_int_equal(r->nframes, 2);
    assert_int_equal(berth_eth_next_deadline(r->e), 3 * SEC);
    berth_eth_advance(r->e, 3 * SEC);
    assert_int_equal(r->nframes, 3);
    for (size_t i = 0; i < 3; i++)
        expect_arp(r, i, ETH_BROADCAST, ARP_OP_REQUEST, PEER);
    assert_int_equal(berth_eth_next_deadline(r->e), 7 * SEC);
    berth_eth_advance(r->e, 7 * SEC);
    assert_int_equal(r->nframes, 3);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_FAILED);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_FAILED), 1);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_QUEUE_FAILED), 2);
    /* FAILED is collected after gc_time. */
    berth_eth_advance(r->e, 7 * SEC + cfg.gc_time);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH__COUNT);
    rig_done(r);
}

/* The queue per resolving neighbour holds queue_max packets; beyond, the
 * oldest goes and is counted. */
static void resolution_queue_overflow_drops_oldest_counted(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    for (uint8_t i = 1; i <= 5; i++)
        send_ip(r, PEER, i, 0);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_QUEUE_OVERFLOW), 2);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS, MS);
    assert_int_equal(r->nframes, 4);
    expect_ip(r, 1, MAC_PEER, 3);
    expect_ip(r, 2, MAC_PEER, 4);
    expect_ip(r, 3, MAC_PEER, 5);
    rig_done(r);
}

/* REACHABLE -> STALE after reachable_time; a packet to a STALE entry goes
 * out at once and starts DELAY; DELAY -> PROBE sends a unicast request;
 * the reply makes it REACHABLE again (RFC 4861 §7.3.3). */
static void reachable_stale_delay_probe_reachable(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    resolve_peer(r);
    uint64_t t = cfg.reachable_time;
    berth_eth_advance(r->e, t);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE);
    send_ip(r, PEER, 2, t + 1);
    expect_ip(r, 2, MAC_PEER, 2);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_DELAY);
    assert_int_equal(berth_eth_next_deadline(r->e), t + 1 + cfg.delay_time);
    berth_eth_advance(r->e, t + 1 + cfg.delay_time);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_PROBE);
    assert_int_equal(r->nframes, 4);
    expect_arp(r, 3, MAC_PEER, ARP_OP_REQUEST, PEER); /* unicast */
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS,
           t + 2 + cfg.delay_time);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_REACHABLE);
    rig_done(r);
}

/* A neighbour that stops answering: unicast probes go unanswered, the
 * entry fails, and the next packet starts a new resolution that fails too,
 * its queued packets dropped and counted. */
static void silent_neighbour_probes_fail_and_queue_dropped(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    resolve_peer(r);
    uint64_t t = cfg.reachable_time;
    berth_eth_advance(r->e, t);
    send_ip(r, PEER, 2, t);
    t += cfg.delay_time;
    berth_eth_advance(r->e, t); /* PROBE, probe 1 */
    for (unsigned i = 0; i < 8 && state_of(r, PEER) == BERTH_NEIGH_PROBE; i++) {
        t = berth_eth_next_deadline(r->e);
        berth_eth_advance(r->e, t);
    }
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_FAILED);
    assert_int_equal(ctr(r, BERTH_ETH_ARP_REQUESTS_OUT), 1 + cfg.ucast_probes);
    send_ip(r, PEER, 3, t + 1);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_INCOMPLETE);
    for (unsigned i = 0; i < 8 && state_of(r, PEER) == BERTH_NEIGH_INCOMPLETE;
         i++)
        berth_eth_advance(r->e, berth_eth_next_deadline(r->e));
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_FAILED);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_FAILED), 2);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_QUEUE_FAILED), 1);
    rig_done(r);
}

/* RFC 826: a request for our address is answered (unicast, to the asker)
 * and its sender is learned, as STALE (RFC 4861 §7.2.3's rule for an
 * unconfirmed address). A request for another address teaches nothing. */
static void request_for_us_answered_and_sender_learned(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    arp_in(r, ETH_BROADCAST, ARP_OP_REQUEST, MAC_PEER, PEER, OURS, 0);
    assert_int_equal(r->nframes, 1);
    expect_arp(r, 0, MAC_PEER, ARP_OP_REPLY, PEER);
    assert_memory_equal(r->frames[0] + ETH_HDR_LEN + 18, MAC_PEER, 6);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE);
    arp_in(r, ETH_BROADCAST, ARP_OP_REQUEST, MAC_OTHER, PEER + 5, PEER + 6, 0);
    assert_int_equal(r->nframes, 1);
    assert_int_equal(state_of(r, PEER + 5), BERTH_NEIGH__COUNT);
    /* The learned entry is used without a request. */
    send_ip(r, PEER, 7, MS);
    expect_ip(r, 1, MAC_PEER, 7);
    rig_done(r);
}

/* Spoofing limits: an unsolicited reply creates no entry (unless
 * accept_unsolicited); one claiming our address is counted and ignored;
 * a sender off-link is never learned. */
static void unsolicited_and_spoofed_replies_create_nothing(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS, 0);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH__COUNT);
    assert_int_equal(ctr(r, BERTH_ETH_ARP_UNSOLICITED), 1);
    arp_in(r, ETH_BROADCAST, ARP_OP_REPLY, MAC_OTHER, OURS, OURS, 0);
    assert_int_equal(ctr(r, BERTH_ETH_ARP_SPOOF_OURS), 1);
    assert_int_equal(r->nframes, 0);
    rig_done(r);

    cfg.accept_unsolicited = true;
    r = rig_new(&cfg);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_PEER, PEER, OURS, 0);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE); /* unconfirmed */
    arp_in(r, ETH_BROADCAST, ARP_OP_REQUEST, MAC_OTHER, FAR, FAR, 0);
    assert_int_equal(state_of(r, FAR), BERTH_NEIGH__COUNT);
    rig_done(r);
}

/* A known neighbour's gratuitous ARP with a new MAC moves the entry to the
 * new address, STALE (RFC 826 merge; RFC 4861 §7.2.5's override). */
static void known_neighbour_new_mac_updates_to_stale(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    resolve_peer(r);
    arp_in(r, ETH_BROADCAST, ARP_OP_REQUEST, MAC_OTHER, PEER, PEER, MS);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE);
    send_ip(r, PEER, 2, 2 * MS);
    expect_ip(r, r->nframes - 1, MAC_OTHER, 2);
    rig_done(r);
}

/* A flood of requests from ever new senders: the cache stays at its bound,
 * the least recently used learned entries are evicted and counted, every
 * request is still answered. */
static void request_flood_keeps_cache_bounded(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    cfg.neigh_max = 8;
    cfg.prefix_len = 16;
    struct rig *r = rig_new(&cfg);
    resolve_peer(r);
    size_t before = r->nframes;
    for (uint32_t i = 0; i < 40; i++) {
        uint8_t mac[6] = {0x02, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i};
        arp_in(r, ETH_BROADCAST, ARP_OP_REQUEST, mac, 0xc6120100u + i, OURS,
               MS + i);
        r->nframes = before; /* the replies: counted below */
    }
    assert_int_equal(ctr(r, BERTH_ETH_ARP_REPLIES_OUT), 40);
    assert_int_equal(r->e->neigh.n, 8);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_EVICTED), 40 - 7);
    /* The neighbour in use (REACHABLE) outranks the flood's STALE ones. */
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_REACHABLE);
    rig_done(r);
}

/* A cache full of resolving entries refuses new ones (counted). */
static void cache_full_of_incomplete_refuses(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    cfg.neigh_max = 4;
    struct rig *r = rig_new(&cfg);
    for (uint32_t i = 0; i < 6; i++)
        send_ip(r, PEER + 10 + i, 1, 0);
    assert_int_equal(r->e->neigh.n, 4);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_TABLE_FULL), 2);
    for (unsigned i = 0; i < 8 && r->e->neigh.n; i++)
        berth_eth_advance(r->e, berth_eth_next_deadline(r->e));
    assert_int_equal(r->e->neigh.n, 0);
    rig_done(r);
}

/* RFC 5227 §2.3: at start, ANNOUNCE_NUM announcements ANNOUNCE_INTERVAL
 * apart, each a broadcast request with our address as sender and target. */
static void start_sends_two_gratuitous_announcements(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    berth_eth_config_init(&cfg);
    cfg.addr = OURS;
    struct rig *r = rig_new(&cfg);
    berth_eth_start(r->e, 5 * SEC);
    assert_int_equal(r->nframes, 1);
    expect_arp(r, 0, ETH_BROADCAST, ARP_OP_REQUEST, OURS);
    assert_int_equal(berth_eth_next_deadline(r->e), 7 * SEC);
    berth_eth_advance(r->e, 7 * SEC);
    assert_int_equal(r->nframes, 2);
    expect_arp(r, 1, ETH_BROADCAST, ARP_OP_REQUEST, OURS);
    assert_int_equal(berth_eth_next_deadline(r->e), UINT64_MAX);
    assert_int_equal(ctr(r, BERTH_ETH_ARP_ANNOUNCE_OUT), 2);
    rig_done(r);
}

/* An IPv4 frame to dst with an optional VLAN tag (0: none). */
static void ip_frame_in(struct rig *r, const uint8_t dst[6], uint16_t vlan)
{
    uint8_t f[ETH_HDR_LEN + ETH_VLAN_LEN + 40];
    size_t h = ETH_HDR_LEN;
    memcpy(f, dst, 6);
    memcpy(f + 6, MAC_PEER, 6);
    if (vlan) {
        store_be16(f + 12, ETH_P_VLAN);
        store_be16(f + 14, vlan);
        h += ETH_VLAN_LEN;
    }
    store_be16(f + h - 2, ETH_P_IP4);
    ip_to(f + h, OURS, 0);
    berth_eth_input(r->e, f, h + 40, 0);
}

/* Destination filter: ours and broadcast pass, another host's unicast and
 * an unjoined group are dropped and counted, a joined group passes. */
static void destination_mac_filter(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    static const uint8_t group[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
    ip_frame_in(r, MAC_US, 0);
    ip_frame_in(r, ETH_BROADCAST, 0);
    ip_frame_in(r, MAC_OTHER, 0);
    ip_frame_in(r, group, 0);
    assert_int_equal(r->delivered, 2);
    assert_int_equal(ctr(r, BERTH_ETH_RX_NOT_OURS), 1);
    assert_int_equal(ctr(r, BERTH_ETH_RX_MCAST_NOT_JOINED), 1);
    assert_int_equal(berth_eth_join(r->e, group), 0);
    ip_frame_in(r, group, 0);
    assert_int_equal(r->delivered, 3);
    assert_int_equal(berth_eth_leave(r->e, group), 0);
    ip_frame_in(r, group, 0);
    assert_int_equal(r->delivered, 3);
    rig_done(r);
}

/* IEEE 802.1Q: untagged frames only without a VLAN; with VLAN 42, frames
 * tagged 42 pass, others and untagged ones are dropped and counted, and
 * what we send carries the tag. */
static void vlan_tagged_frames_one_vlan_handled(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    ip_frame_in(r, MAC_US, 42);
    assert_int_equal(r->delivered, 0);
    assert_int_equal(ctr(r, BERTH_ETH_RX_VLAN_OTHER), 1);
    rig_done(r);

    cfg.vlan = 42;
    r = rig_new(&cfg);
    ip_frame_in(r, MAC_US, 42);
    ip_frame_in(r, MAC_US, 43);
    ip_frame_in(r, MAC_US, 0);
    assert_int_equal(r->delivered, 1);
    assert_int_equal(ctr(r, BERTH_ETH_RX_VLAN_OTHER), 1);
    assert_int_equal(ctr(r, BERTH_ETH_RX_VLAN_UNTAGGED), 1);
    send_ip(r, PEER, 1, 0);
    assert_int_equal(load_be16(r->frames[0] + 12), ETH_P_VLAN);
    assert_int_equal(load_be16(r->frames[0] + 14), 42);
    assert_int_equal(load_be16(r->frames[0] + 16), ETH_P_ARP);
    rig_done(r);
}

/* Routing: an off-link destination goes to the default gateway's MAC
 * (the gateway is what ARP resolves); without a default route it is
 * dropped and counted. */
static void off_link_goes_via_gateway_or_no_route(void **state)
{
    (void)state;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    send_ip(r, FAR, 1, 0);
    assert_int_equal(r->nframes, 0);
    assert_int_equal(ctr(r, BERTH_ETH_NO_ROUTE), 1);
    rig_done(r);

    cfg.gateway = GW;
    r = rig_new(&cfg);
    struct berth_route rt;
    struct berth_netaddr far = berth_netaddr_ip4(FAR);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), 0);
    assert_true(rt.gateway);
    send_ip(r, FAR, 9, 0);
    expect_arp(r, 0, ETH_BROADCAST, ARP_OP_REQUEST, GW);
    arp_in(r, MAC_US, ARP_OP_REPLY, MAC_OTHER, GW, OURS, MS);
    expect_ip(r, 1, MAC_OTHER, 9);
    /* A more specific route wins. */
    struct berth_route host = {.dst = far, .plen = 32};
    assert_int_equal(berth_eth_route_add(r->e, &host), 0);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), 0);
    assert_false(rt.gateway);
    assert_int_equal(berth_eth_route_del(r->e, &host), 0);
    rig_done(r);
}

static void mac_and_address_strings(void **state)
{
    (void)state;
    uint8_t mac[6];
    char buf[64];
    assert_int_equal(berth_mac_parse("02:be:00:0a:FF:1", mac), 0);
    assert_string_equal(berth_mac_str(mac, buf, sizeof buf),
                        "02:be:00:0a:ff:01");
    assert_int_equal(berth_mac_parse("02:be:00:0a:ff", mac), -1);
    assert_int_equal(berth_mac_parse("02:be:00:0a:ff:100", mac), -1);
    struct berth_netaddr a = berth_netaddr_ip4(PEER);
    assert_string_equal(berth_netaddr_str(&a, buf, sizeof buf), "198.18.0.1");
    struct berth_netaddr v6 = {.family = BERTH_AF_INET6,
                               .bytes = {0xfe, 0x80, [15] = 1}};
    assert_string_equal(berth_netaddr_str(&v6, buf, sizeof buf), "fe80::1");
    assert_string_equal(berth_neigh_state_name(BERTH_NEIGH_STALE), "STALE");
    assert_string_equal(berth_eth_counter_name(BERTH_ETH_NO_ROUTE), "NO_ROUTE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unknown_neighbour_request_then_reply_sends_queue),
        cmocka_unit_test(unanswered_requests_back_off_then_fail_dropping_queue),
        cmocka_unit_test(resolution_queue_overflow_drops_oldest_counted),
        cmocka_unit_test(reachable_stale_delay_probe_reachable),
        cmocka_unit_test(silent_neighbour_probes_fail_and_queue_dropped),
        cmocka_unit_test(request_for_us_answered_and_sender_learned),
        cmocka_unit_test(unsolicited_and_spoofed_replies_create_nothing),
        cmocka_unit_test(known_neighbour_new_mac_updates_to_stale),
        cmocka_unit_test(request_flood_keeps_cache_bounded),
        cmocka_unit_test(cache_full_of_incomplete_refuses),
        cmocka_unit_test(start_sends_two_gratuitous_announcements),
        cmocka_unit_test(destination_mac_filter),
        cmocka_unit_test(vlan_tagged_frames_one_vlan_handled),
        cmocka_unit_test(off_link_goes_via_gateway_or_no_route),
        cmocka_unit_test(mac_and_address_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
