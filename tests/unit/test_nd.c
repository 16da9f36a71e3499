/* IPv6 neighbour discovery on the Ethernet interface with a recording
 * driver and virtual time: duplicate address detection of our address
 * (RFC 4862 §5.4), resolution through the shared cache's states (RFC 4861
 * §7.2, §7.3), answering solicitations, the validity checks of §7.1,
 * Router Advertisements only when configured (§6.3.4), and the
 * solicited-node multicast filter. Every message we send is checked
 * against its ICMPv6 checksum. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "eth_rig.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/ipv6.h"

#define MS  UINT64_C(1000)
#define SEC (1000 * MS)

static const uint8_t OURS[16] = {0xfd, 0, [15] = 2}; /* fd00::2 */
static const uint8_t PEER[16] = {0xfd, 0, [15] = 1}; /* fd00::1 */
static const uint8_t FAR[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 9};
static const uint8_t ROUTER[16] = {0xfe, 0x80, [15] = 1}; /* fe80::1 */
static const uint8_t UNSPEC[16];
static const uint8_t ALL_NODES[16] = {0xff, 0x02, [15] = 1};

static void default_cfg(struct berth_eth_config *cfg)
{
    berth_eth_config_init(cfg);
    cfg->announce = 0;
    cfg->has_addr6 = true;
    memcpy(cfg->addr6, OURS, 16);
}

/* A rig whose address passed DAD (frames cleared). */
static struct rig *rig_ready(const struct berth_eth_config *cfg)
{
    struct rig *r = rig_new(cfg);
    berth_eth_start(r->e, 0);
    berth_eth_advance(r->e, cfg->retrans_time);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_PREFERRED);
    r->nframes = 0;
    return r;
}

/* An ND message in a frame: IPv6 header, hop limit hop, checksum right
 * unless bad_csum. */
static void nd_in(struct rig *r, const uint8_t dmac[6], const uint8_t smac[6],
                  const uint8_t src[16], const uint8_t dst[16], uint8_t hop,
                  uint8_t *msg, size_t mlen, bool bad_csum, uint64_t now)
{
    uint8_t f[ETH_HDR_LEN + IPV6_HDR_LEN + 128];
    assert_true(mlen <= 128);
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    store_be16(f + 12, ETH_P_IP6);
    store_be16(msg + 2, 0);
    uint16_t c = csum_fold(csum_add(
        csum_pseudo_ipv6(src, dst, ICMP6_PROTO, (uint32_t)mlen), msg, mlen));
    store_be16(msg + 2, (uint16_t)(bad_csum ? c ^ 1 : c));
    ipv6_emit(f + ETH_HDR_LEN, src, dst, ICMP6_PROTO, hop, 0, (uint16_t)mlen);
    memcpy(f + ETH_HDR_LEN + IPV6_HDR_LEN, msg, mlen);
    berth_eth_input(r->e, f, ETH_HDR_LEN + IPV6_HDR_LEN + mlen, now);
}

/* NS or NA for target with a link-layer option (opt 0: none). */
static size_t nd_msg(uint8_t *m, uint8_t type, uint8_t flags,
                     const uint8_t target[16], uint8_t opt,
                     const uint8_t mac[6])
{
    memset(m, 0, 32);
    m[0] = type;
    m[4] = flags;
    memcpy(m + 8, target, 16);
    if (!opt)
        return 24;
    m[24] = opt;
    m[25] = 1;
    memcpy(m + 26, mac, 6);
    return 32;
}

static void snm_mac(const uint8_t a[16], uint8_t mac[6])
{
    uint8_t g[16];
    nd_solicited_node(a, g);
    nd_mcast_mac(g, mac);
}

/* Frame i is ICMPv6 `type` from src to dst at dmac, hop limit 255, with a
 * valid checksum; returns the message. */
static const uint8_t *expect_nd(struct rig *r, size_t i, const uint8_t dmac[6],
                                const uint8_t src[16], const uint8_t dst[16],
                                uint8_t type)
{
    struct ipv6_info ip;
    assert_true(i < r->nframes);
    const uint8_t *f = r->frames[i];
    assert_memory_equal(f, dmac, 6);
    assert_memory_equal(f + 6, MAC_US, 6);
    assert_int_equal(load_be16(f + 12), ETH_P_IP6);
    assert_int_equal(ipv6_parse(f + ETH_HDR_LEN, r->flen[i] - ETH_HDR_LEN, &ip),
                     0);
    assert_int_equal(ip.proto, ICMP6_PROTO);
    assert_int_equal(ip.hop_limit, 255);
    assert_memory_equal(ip.src, src, 16);
    assert_memory_equal(ip.dst, dst, 16);
    assert_int_equal(ip.payload[0], type);
    assert_int_equal(
        csum_fold(csum_add(
            csum_pseudo_ipv6(ip.src, ip.dst, ICMP6_PROTO, ip.payload_len),
            ip.payload, ip.payload_len)),
        0);
    return ip.payload;
}

/* An IPv6 datagram from OURS to dst, tagged. */
static void send_ip6(struct rig *r, const uint8_t dst[16], uint8_t tag,
                     uint64_t now)
{
    uint8_t p[IPV6_HDR_LEN + 8] = {0};
    ipv6_emit(p, OURS, dst, 6, 64, 0, 8);
    p[IPV6_HDR_LEN + 7] = tag;
    berth_eth_output(r->e, p, sizeof p, now);
}

/* An IPv6 datagram from PEER to OURS in a frame to MAC_US. */
static void ip6_in(struct rig *r, uint64_t now)
{
    uint8_t f[ETH_HDR_LEN + IPV6_HDR_LEN + 8] = {0};
    memcpy(f, MAC_US, 6);
    memcpy(f + 6, MAC_PEER, 6);
    store_be16(f + 12, ETH_P_IP6);
    ipv6_emit(f + ETH_HDR_LEN, PEER, OURS, 6, 64, 0, 8);
    berth_eth_input(r->e, f, sizeof f, now);
}

static enum berth_neigh_state state_of(struct rig *r, const uint8_t a[16])
{
    struct berth_netaddr n = {.family = BERTH_AF_INET6};
    struct berth_neigh_info in;
    memcpy(n.bytes, a, 16);
    assert_int_equal(berth_eth_neigh_lookup(r->e, &n, &in), 0);
    return in.state;
}

static void dad_probes_from_unspecified_then_address_is_used(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    /* RFC 4862 §5.4: tentative from creation: nothing goes out. */
    send_ip6(r, PEER, 1, 0);
    assert_int_equal(r->nframes, 0);
    berth_eth_start(r->e, 0);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_TENTATIVE);
    uint8_t mac[6], snm[16];
    snm_mac(OURS, mac);
    nd_solicited_node(OURS, snm);
    assert_int_equal(r->nframes, 1);
    /* §5.4.2: NS from ::, to the solicited-node group, no SLLA. */
    const uint8_t *m = expect_nd(r, 0, mac, UNSPEC, snm, ND_NS);
    assert_memory_equal(m + 8, OURS, 16);
    assert_int_equal(r->flen[0], ETH_HDR_LEN + IPV6_HDR_LEN + 24);
    assert_int_equal(berth_eth_next_deadline(r->e), cfg.retrans_time);
    send_ip6(r, PEER, 2, 1);
    assert_int_equal(r->nframes, 1);
    assert_int_equal(ctr(r, BERTH_ETH_ND_NOT_READY), 2);
    berth_eth_advance(r->e, cfg.retrans_time - 1);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_TENTATIVE);
    berth_eth_advance(r->e, cfg.retrans_time);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_PREFERRED);
    assert_int_equal(berth_eth_next_deadline(r->e), UINT64_MAX);
    assert_int_equal(r->nframes, 1);
    rig_done(r);
}

static void dad_transmits_two_probes_retrans_apart(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    cfg.dad_transmits = 2;
    struct rig *r = rig_new(&cfg);
    berth_eth_start(r->e, 0);
    berth_eth_advance(r->e, cfg.retrans_time);
    assert_int_equal(r->nframes, 2);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_TENTATIVE);
    berth_eth_advance(r->e, 2 * cfg.retrans_time);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_PREFERRED);
    assert_int_equal(ctr(r, BERTH_ETH_ND_NS_OUT), 2);
    rig_done(r);
}

static void dad_duplicate_advertised_leaves_address_unused(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    berth_eth_start(r->e, 0);
    uint8_t m[32];
    size_t n = nd_msg(m, ND_NA, 0x20, OURS, OPT_TLLA, MAC_OTHER);
    /* RFC 4862 §5.4.4: an NA for the tentative address: duplicate. */
    nd_in(r, ETH_BROADCAST, MAC_OTHER, OURS, ALL_NODES, 255, m, n, false,
          10 * MS);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_DUPLICATE);
    assert_int_equal(ctr(r, BERTH_ETH_ND_DAD_DUPLICATE), 1);
    berth_eth_advance(r->e, 5 * SEC);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_DUPLICATE);
    r->nframes = 0;
    send_ip6(r, PEER, 1, 5 * SEC);
    assert_int_equal(r->nframes, 0);
    /* An NS for it is not answered either. */
    n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 5 * SEC);
    assert_int_equal(r->nframes, 0);
    rig_done(r);
}

static void dad_other_prober_is_duplicate_own_loopback_is_not(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_new(&cfg);
    berth_eth_start(r->e, 0);
    uint8_t m[32], snm[16], mac[6];
    nd_solicited_node(OURS, snm);
    snm_mac(OURS, mac);
    size_t n = nd_msg(m, ND_NS, 0, OURS, 0, NULL);
    nd_in(r, mac, MAC_US, UNSPEC, snm, 255, m, n, false, 1 * MS);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_TENTATIVE);
    /* RFC 4862 §5.4.3: another node probing for the same address. */
    nd_in(r, mac, MAC_OTHER, UNSPEC, snm, 255, m, n, false, 2 * MS);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_DUPLICATE);
    assert_int_equal(ctr(r, BERTH_ETH_ND_DAD_DUPLICATE), 1);
    rig_done(r);
}

static void resolution_ns_to_solicited_node_na_flushes_queue(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint64_t t = 2 * SEC;
    send_ip6(r, PEER, 7, t);
    uint8_t mac[6], snm[16];
    snm_mac(PEER, mac);
    nd_solicited_node(PEER, snm);
    assert_int_equal(r->nframes, 1);
    /* RFC 4861 §7.2.2: from our address, with our link address. */
    const uint8_t *m = expect_nd(r, 0, mac, OURS, snm, ND_NS);
    assert_memory_equal(m + 8, PEER, 16);
    assert_int_equal(m[24], OPT_SLLA);
    assert_memory_equal(m + 26, MAC_US, 6);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_INCOMPLETE);
    uint8_t na[32];
    size_t n = nd_msg(na, ND_NA, 0x60, PEER, OPT_TLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, na, n, false, t + 5 * MS);
    /* §7.2.5: solicited: REACHABLE, and the queued datagram goes. */
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_REACHABLE);
    assert_int_equal(r->nframes, 2);
    assert_memory_equal(r->frames[1], MAC_PEER, 6);
    assert_int_equal(load_be16(r->frames[1] + 12), ETH_P_IP6);
    assert_int_equal(r->frames[1][ETH_HDR_LEN + IPV6_HDR_LEN + 7], 7);
    send_ip6(r, PEER, 8, t + 6 * MS);
    assert_int_equal(r->nframes, 3);
    /* REACHABLE -> STALE -> DELAY -> PROBE: a unicast NS. */
    t += 6 * MS + cfg.reachable_time;
    berth_eth_advance(r->e, t);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE);
    send_ip6(r, PEER, 9, t);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_DELAY);
    berth_eth_advance(r->e, t + cfg.delay_time);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_PROBE);
    assert_int_equal(r->nframes, 5);
    expect_nd(r, 4, MAC_PEER, OURS, PEER, ND_NS);
    rig_done(r);
}

static void silent_neighbour_fails_and_queue_dropped(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint64_t t = 2 * SEC;
    send_ip6(r, PEER, 1, t);
    send_ip6(r, PEER, 2, t);
    for (int i = 0; i < 8 && state_of(r, PEER) == BERTH_NEIGH_INCOMPLETE; i++) {
        t = berth_eth_next_deadline(r->e);
        berth_eth_advance(r->e, t);
    }
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_FAILED);
    assert_int_equal(ctr(r, BERTH_ETH_ND_NS_OUT), 1 + cfg.mcast_probes);
    assert_int_equal(ctr(r, BERTH_ETH_NEIGH_QUEUE_FAILED), 2);
    rig_done(r);
}

static void ns_for_our_address_answered_solicited_and_sender_stale(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint8_t m[32], snm[16], mac[6];
    nd_solicited_node(OURS, snm);
    snm_mac(OURS, mac);
    size_t n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    nd_in(r, mac, MAC_PEER, PEER, snm, 255, m, n, false, 2 * SEC);
    assert_int_equal(r->nframes, 1);
    /* RFC 4861 §7.2.4: unicast to the sender, S and O, our TLLA. */
    const uint8_t *na = expect_nd(r, 0, MAC_PEER, OURS, PEER, ND_NA);
    assert_int_equal(na[4], 0x60);
    assert_memory_equal(na + 8, OURS, 16);
    assert_int_equal(na[24], OPT_TLLA);
    assert_memory_equal(na + 26, MAC_US, 6);
    /* §7.2.3: the sender's entry, STALE. */
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_STALE);
    /* Another host's DAD probe for our (preferred) address: an NA to
     * all nodes, not solicited. */
    n = nd_msg(m, ND_NS, 0, OURS, 0, NULL);
    nd_in(r, mac, MAC_OTHER, UNSPEC, snm, 255, m, n, false, 3 * SEC);
    uint8_t all[6];
    nd_mcast_mac(ALL_NODES, all);
    na = expect_nd(r, 1, all, OURS, ALL_NODES, ND_NA);
    assert_int_equal(na[4], 0x20);
    /* An NS for some other target is not ours to answer. */
    n = nd_msg(m, ND_NS, 0, FAR, OPT_SLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 3 * SEC);
    assert_int_equal(r->nframes, 2);
    rig_done(r);
}

static void invalid_nd_dropped_by_rfc4861_7_1_checks(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint8_t m[32];
    size_t n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 254, m, n, false, 1); /* hop */
    n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, true, 1); /* csum */
    n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    m[25] = 0; /* a zero-length option */
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 1);
    n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    m[1] = 1; /* code */
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 1);
    /* From :: with an SLLA option (§7.1.1). */
    n = nd_msg(m, ND_NS, 0, OURS, OPT_SLLA, MAC_PEER);
    uint8_t snm[16], mac[6];
    nd_solicited_node(OURS, snm);
    snm_mac(OURS, mac);
    nd_in(r, mac, MAC_PEER, UNSPEC, snm, 255, m, n, false, 1);
    assert_int_equal(ctr(r, BERTH_ETH_ND_BAD), 5);
    assert_int_equal(r->nframes, 0);
    assert_int_equal(r->e->neigh.n, 0);
    rig_done(r);
}

static void unsolicited_na_creates_no_entry_override_clear_keeps_mac(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint8_t m[32];
    size_t n = nd_msg(m, ND_NA, 0x20, PEER, OPT_TLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 1 * SEC);
    assert_int_equal(ctr(r, BERTH_ETH_ND_NA_UNSOLICITED), 1);
    assert_int_equal(r->e->neigh.n, 0);
    send_ip6(r, PEER, 1, 2 * SEC);
    n = nd_msg(m, ND_NA, 0x60, PEER, OPT_TLLA, MAC_PEER);
    nd_in(r, MAC_US, MAC_PEER, PEER, OURS, 255, m, n, false, 2 * SEC);
    assert_int_equal(state_of(r, PEER), BERTH_NEIGH_REACHABLE);
    /* §7.2.5: O clear and another link address: not taken. */
    n = nd_msg(m, ND_NA, 0x40, PEER, OPT_TLLA, MAC_OTHER);
    nd_in(r, MAC_US, MAC_OTHER, PEER, OURS, 255, m, n, false, 3 * SEC);
    struct berth_netaddr a = {.family = BERTH_AF_INET6};
    struct berth_neigh_info in;
    memcpy(a.bytes, PEER, 16);
    assert_int_equal(berth_eth_neigh_lookup(r->e, &a, &in), 0);
    assert_memory_equal(in.mac, MAC_PEER, 6);
    /* With O, unsolicited: the new address, STALE. */
    n = nd_msg(m, ND_NA, 0x20, PEER, OPT_TLLA, MAC_OTHER);
    nd_in(r, MAC_US, MAC_OTHER, PEER, OURS, 255, m, n, false, 4 * SEC);
    assert_int_equal(berth_eth_neigh_lookup(r->e, &a, &in), 0);
    assert_memory_equal(in.mac, MAC_OTHER, 6);
    assert_int_equal(in.state, BERTH_NEIGH_STALE);
    rig_done(r);
}

/* An RA from ROUTER: lifetime, our MAC option, one prefix option. */
static size_t ra_msg(uint8_t *m, uint16_t lifetime, const uint8_t prefix[16],
                     uint8_t plen)
{
    memset(m, 0, 56);
    m[0] = ND_RA;
    store_be16(m + 6, lifetime);
    m[16] = OPT_SLLA;
    m[17] = 1;
    memcpy(m + 18, MAC_OTHER, 6);
    m[24] = OPT_PREFIX;
    m[25] = 4;
    m[26] = plen;
    m[27] = 0xc0; /* L, A */
    store_be32(m + 28, 3600);
    store_be32(m + 32, 1800);
    memcpy(m + 40, prefix, 16);
    return 56;
}

static void ra_only_when_configured_default_router_and_prefix(void **st)
{
    (void)st;
    static const uint8_t pfx[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x77};
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint8_t m[64], all[6];
    nd_mcast_mac(ALL_NODES, all);
    struct berth_netaddr far = {.family = BERTH_AF_INET6};
    struct berth_netaddr on = {.family = BERTH_AF_INET6};
    memcpy(far.bytes, FAR, 16);
    memcpy(on.bytes, pfx, 16);
    on.bytes[15] = 5;
    struct berth_route rt;
    size_t n = ra_msg(m, 1800, pfx, 64);
    nd_in(r, all, MAC_OTHER, ROUTER, ALL_NODES, 255, m, n, false, 1 * SEC);
    assert_int_equal(ctr(r, BERTH_ETH_ND_RA_IGNORED), 1);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), -ENOENT);
    rig_done(r);

    cfg.accept_ra = true;
    r = rig_ready(&cfg);
    n = ra_msg(m, 1800, pfx, 64);
    nd_in(r, all, MAC_OTHER, ROUTER, ALL_NODES, 255, m, n, false, 1 * SEC);
    assert_int_equal(ctr(r, BERTH_ETH_ND_RA_ACCEPTED), 1);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), 0);
    assert_true(rt.gateway);
    assert_memory_equal(rt.via.bytes, ROUTER, 16);
    assert_int_equal(berth_eth_route_lookup(r->e, &on, &rt), 0);
    assert_false(rt.gateway);
    assert_int_equal(rt.plen, 64);
    /* The router's link address came with it: a datagram off-link goes
     * straight to its MAC (STALE -> DELAY). */
    send_ip6(r, FAR, 3, 2 * SEC);
    assert_int_equal(r->nframes, 1);
    assert_memory_equal(r->frames[0], MAC_OTHER, 6);
    assert_int_equal(state_of(r, ROUTER), BERTH_NEIGH_DELAY);
    /* A zero router lifetime ends the default route. */
    n = ra_msg(m, 0, pfx, 64);
    nd_in(r, all, MAC_OTHER, ROUTER, ALL_NODES, 255, m, n, false, 3 * SEC);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), -ENOENT);
    /* Not from a link-local source: invalid (§6.1.2). */
    n = ra_msg(m, 1800, pfx, 64);
    nd_in(r, all, MAC_OTHER, PEER, ALL_NODES, 255, m, n, false, 4 * SEC);
    assert_int_equal(ctr(r, BERTH_ETH_ND_BAD), 1);
    assert_int_equal(berth_eth_route_lookup(r->e, &far, &rt), -ENOENT);
    rig_done(r);
}

static void solicited_node_group_joined_other_groups_dropped(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    default_cfg(&cfg);
    struct rig *r = rig_ready(&cfg);
    uint8_t m[32], snm[16], mac[6];
    nd_solicited_node(FAR, snm);
    snm_mac(FAR, mac);
    size_t n = nd_msg(m, ND_NS, 0, FAR, OPT_SLLA, MAC_PEER);
    nd_in(r, mac, MAC_PEER, PEER, snm, 255, m, n, false, 1 * SEC);
    assert_int_equal(ctr(r, BERTH_ETH_RX_MCAST_NOT_JOINED), 1);
    assert_int_equal(ctr(r, BERTH_ETH_ND_IN), 0);
    /* A datagram to our address reaches the stack; a multicast one to
     * all nodes goes to 33:33:00:00:00:01. */
    ip6_in(r, 2 * SEC);
    assert_int_equal(r->delivered, 1);
    assert_int_equal(ctr(r, BERTH_ETH_RX_IP6), 1);
    send_ip6(r, ALL_NODES, 4, 2 * SEC);
    uint8_t all[6];
    nd_mcast_mac(ALL_NODES, all);
    assert_int_equal(r->nframes, 1);
    assert_memory_equal(r->frames[0], all, 6);
    rig_done(r);
}

static void without_ipv6_address_frames_dropped_as_before(void **st)
{
    (void)st;
    struct berth_eth_config cfg;
    berth_eth_config_init(&cfg);
    cfg.announce = 0;
    struct rig *r = rig_new(&cfg);
    berth_eth_start(r->e, 0);
    assert_int_equal(berth_eth_dad_state(r->e), BERTH_DAD_NONE);
    assert_int_equal(r->nframes, 0);
    ip6_in(r, 1);
    assert_int_equal(r->delivered, 0);
    assert_int_equal(ctr(r, BERTH_ETH_RX_ETHERTYPE), 1);
    send_ip6(r, PEER, 1, 1);
    assert_int_equal(r->nframes, 0);
    assert_int_equal(ctr(r, BERTH_ETH_NO_ROUTE), 1);
    rig_done(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dad_probes_from_unspecified_then_address_is_used),
        cmocka_unit_test(dad_transmits_two_probes_retrans_apart),
        cmocka_unit_test(dad_duplicate_advertised_leaves_address_unused),
        cmocka_unit_test(dad_other_prober_is_duplicate_own_loopback_is_not),
        cmocka_unit_test(resolution_ns_to_solicited_node_na_flushes_queue),
        cmocka_unit_test(silent_neighbour_fails_and_queue_dropped),
        cmocka_unit_test(
            ns_for_our_address_answered_solicited_and_sender_stale),
        cmocka_unit_test(invalid_nd_dropped_by_rfc4861_7_1_checks),
        cmocka_unit_test(
            unsolicited_na_creates_no_entry_override_clear_keeps_mac),
        cmocka_unit_test(ra_only_when_configured_default_router_and_prefix),
        cmocka_unit_test(solicited_node_group_joined_other_groups_dropped),
        cmocka_unit_test(without_ipv6_address_frames_dropped_as_before),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
