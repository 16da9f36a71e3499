/* The runtime on an Ethernet link (--link tap:NAME, packet:IFACE,
 * xdp:IFACE[:QUEUE]): the core's Ethernet interface (src/link/) between
 * the stack and a backend. Received frames: capture, receive impairment,
 * berth_eth_input(), which hands IPv4 to berth_input(). Sent datagrams:
 * berth_eth_output() (route, ARP, frame), capture, transmit impairment,
 * the backend's ring, flushed once per loop iteration. The capture holds
 * frames (LINKTYPE_ETHERNET); the tap (berth_rt_set_tap) still sees IPv4
 * datagrams. Also the control commands `route` and `neigh`. */
#include "link_rt.h"
#include "rt_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RT_LINK_RX_BATCH  64u /* frames per wake-up, as RT_RX_BATCH */
#define RT_LINK_MAX_FRAME 65536u

struct rt_link {
    struct rt_link_spec spec;
    struct rt_backend be;
    struct berth_eth *eth;
    bool tx_pending;   /* frames committed since the last flush */
    uint8_t *tx_slot;  /* the ring slot tx_buf() gave, until its commit */
    bool started;      /* berth_eth_start() called (first service) */
    bool dad_reported; /* the duplicate-address error was printed */
    uint8_t rxcopy[4 + RT_LINK_MAX_FRAME]; /* flags + frame, impaired */
};

const char *rt_link_kind_name(enum rt_link_kind k)
{
    switch (k) {
    case RT_LINK_TUN:
        return "tun";
    case RT_LINK_TAP:
        return "tap";
    case RT_LINK_PACKET:
        return "packet";
    case RT_LINK_XDP:
        return "xdp";
    }
    return "?";
}

int rt_link_parse(const char *spec, struct rt_link_spec *out, char *err,
                  size_t errlen)
{
    static const struct {
        const char *prefix;
        enum rt_link_kind kind;
    } kinds[] = {{"tun:", RT_LINK_TUN},
                 {"tap:", RT_LINK_TAP},
                 {"packet:", RT_LINK_PACKET},
                 {"xdp:", RT_LINK_XDP}};
    memset(out, 0, sizeof *out);
    const char *name = spec;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (!strncmp(spec, kinds[i].prefix, n)) {
            out->kind = kinds[i].kind;
            name = spec + n;
            break;
        }
    }
    size_t len = strcspn(name, ":");
    if (name[len] == ':') {
        char *end;
        unsigned long q = strtoul(name + len + 1, &end, 10);
        if (out->kind != RT_LINK_XDP || !name[len + 1] || *end || q > 255) {
            snprintf(err, errlen,
                     "link '%s': only xdp takes a queue (xdp:IFACE:QUEUE)",
                     spec);
            return -1;
        }
        out->queue = (unsigned)q;
    }
    if (len == 0 || len >= sizeof out->ifname || memchr(name, '/', len)) {
        snprintf(err, errlen,
                 "link '%s': want tun:NAME, tap:NAME, packet:IFACE or "
                 "xdp:IFACE[:QUEUE] with a name of 1..15 characters",
                 spec);
        return -1;
    }
    memcpy(out->ifname, name, len);
    return 0;
}

bool rt_link_wanted(const struct berth_rt_config *cfg)
{
    struct rt_link_spec s;
    char err[8];
    return cfg->link && rt_link_parse(cfg->link, &s, err, sizeof err) == 0 &&
           s.kind != RT_LINK_TUN;
}

/* ------------------------------------------------------------------------
 * The packet paths.
 */

static void capture_frame(struct berth_rt *rt, const uint8_t *f, size_t len)
{
    if (rt->pcap) {
        rt_pcap_write(rt->pcap, f, len);
        rt->pcap_dirty = true;
    }
}

/* The interface's IPv4 and IPv6 datagrams for the stack. */
static void eth_deliver(void *ctx, const uint8_t *pkt, size_t len,
                        uint32_t flags, uint64_t now)
{
    struct berth_rt *rt = ctx;
    if (rt->tap)
        rt->tap(rt->tap_ctx, 0, now, pkt, len);
    berth_input_flags(rt->stack, pkt, len, now, flags);
}

void rt_link_deliver(struct berth_rt *rt, const uint8_t *frame, size_t len)
{
    uint32_t flags;
    if (len < sizeof flags)
        return;
    memcpy(&flags, frame, sizeof flags);
    berth_eth_input_flags(rt->link->eth, frame + sizeof flags,
                          len - sizeof flags, rt->now, flags);
}

static void deliver_emit(void *ctx, const uint8_t *frame, size_t len)
{
    rt_link_deliver(ctx, frame, len);
}

static void write_emit(void *ctx, const uint8_t *frame, size_t len)
{
    rt_link_write(ctx, frame, len);
}

/* A clean link hands the frame on in place; an impaired one copies it,
 * its flags in front, for the impairment's queue. */
static void rx_frame(void *ctx, const uint8_t *f, size_t len, uint32_t flags)
{
    struct berth_rt *rt = ctx;
    struct rt_link *l = rt->link;
    rt->stats.rx_packets++;
    rt->stats.rx_bytes += len;
    capture_frame(rt, f, len);
    if (!rt_impair_active(rt->rx_imp)) {
        berth_eth_input_flags(l->eth, f, len, rt->now, flags);
        return;
    }
    if (len > RT_LINK_MAX_FRAME)
        return;
    memcpy(l->rxcopy, &flags, sizeof flags);
    memcpy(l->rxcopy + sizeof flags, f, len);
    rt_impair_submit(rt->rx_imp, l->rxcopy, sizeof flags + len, rt->now,
                     deliver_emit, rt);
}

int rt_link_rx(struct berth_rt *rt)
{
    struct rt_link *l = rt->link;
    rt->now = rt_clock_now();
    int n = l->be.ops->rx(l->be.be, RT_LINK_RX_BATCH, rx_frame, rt);
    return n < 0 && n != -EAGAIN && n != -EINTR ? n : 0;
}

void rt_link_write(struct berth_rt *rt, const uint8_t *frame, size_t len)
{
    struct rt_link *l = rt->link;
    if (l->be.ops->send(l->be.be, frame, len) == 0) {
        rt->stats.tx_packets++;
        rt->stats.tx_bytes += len;
        l->tx_pending = true;
    } else {
        rt->tun_write_errors++;
    }
}

/* The interface's driver hooks: every frame passes capture and the
 * transmit impairment. With a clean link and a ring backend the frame is
 * built in the ring slot itself (tx_buf), captured there, and committed. */
static int drv_send(void *drv, const uint8_t *f, size_t len)
{
    struct berth_rt *rt = drv;
    capture_frame(rt, f, len);
    rt_impair_submit(rt->tx_imp, f, len, rt->now, write_emit, rt);
    return 0;
}

static uint8_t *drv_tx_buf(void *drv, size_t len)
{
    struct berth_rt *rt = drv;
    struct rt_link *l = rt->link;
    if (rt_impair_active(rt->tx_imp) || !l->be.ops->tx_buf)
        return NULL;
    uint8_t *b = l->be.ops->tx_buf(l->be.be, len);
    l->tx_slot = b;
    return b;
}

static void drv_tx_commit(void *drv, size_t len)
{
    struct berth_rt *rt = drv;
    struct rt_link *l = rt->link;
    capture_frame(rt, l->tx_slot, len);
    l->be.ops->tx_commit(l->be.be, len);
    l->tx_pending = true;
    rt->stats.tx_packets++;
    rt->stats.tx_bytes += len;
}

void rt_link_stack_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct berth_rt *rt = ctx;
    if (rt->tap)
        rt->tap(rt->tap_ctx, 1, rt->now, pkt, len);
    berth_eth_output(rt->link->eth, pkt, len, rt->now);
}

void rt_link_service(struct berth_rt *rt)
{
    struct rt_link *l = rt->link;
    if (!l->started) {
        /* Announced from the loop, once capture and stack exist. */
        l->started = true;
        berth_eth_start(l->eth, rt->now);
    }
    berth_eth_advance(l->eth, rt->now);
    if (!l->dad_reported &&
        berth_eth_dad_state(l->eth) == BERTH_DAD_DUPLICATE) {
        /* RFC 4862 §5.4.5: the address is not used; said once. */
        char a[48];
        struct berth_netaddr n = {.family = BERTH_AF_INET6};
        memcpy(n.bytes, rt->cfg.addr6, 16);
        l->dad_reported = true;
        fprintf(stderr,
                "berth: error: IPv6 address %s is already in use on %s "
                "(duplicate address detection, RFC 4862): berth does not "
                "use it; give another --addr6\n",
                berth_netaddr_str(&n, a, sizeof a), l->spec.ifname);
    }
    if (l->tx_pending && l->be.ops->flush)
        l->be.ops->flush(l->be.be);
    l->tx_pending = false;
}

uint64_t rt_link_next_deadline(const struct berth_rt *rt)
{
    if (!rt->link->started)
        return 0;
    return berth_eth_next_deadline(rt->link->eth);
}

/* ------------------------------------------------------------------------
 * Opening and closing.
 */

/* A locally administered unicast address from berth's IPv4 address:
 * 02:be:A:B:C:D, distinct per address on one segment. */
static void default_mac(uint32_t addr, uint8_t mac[6])
{
    mac[0] = 0x02;
    mac[1] = 0xbe;
    mac[2] = (uint8_t)(addr >> 24);
    mac[3] = (uint8_t)(addr >> 16);
    mac[4] = (uint8_t)(addr >> 8);
    mac[5] = (uint8_t)addr;
}

/* IPv6 on an Ethernet link: on TAP, as on TUN (the kernel side gets
 * peer_addr6, berth addr6, found by neighbour discovery). On packet:
 * berth shares the interface with the kernel, whose own IPv6 would
 * answer berth's DAD and its neighbours' solicitations: IPv6 is berth's
 * only where the kernel's is disabled on the interface. xdp: berth's XDP
 * program steers IPv4 and ARP only: IPv6 stays off there. */
static bool kernel_ipv6_disabled(const char *ifname)
{
    char path[128], v[4] = "";
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
             ifname);
    FILE *f = fopen(path, "r");
    if (!f)
        return access("/proc/sys/net/ipv6", F_OK) != 0; /* no IPv6 at all */
    bool off = fgets(v, sizeof v, f) && v[0] == '1';
    fclose(f);
    return off;
}

static int decide_link_ipv6(struct berth_rt *rt, const struct rt_link *l,
                            char *err, size_t errlen)
{
    rt->ipv6 = false;
    if (rt->cfg.ipv6 == BERTH_RT_IPV6_OFF)
        return 0;
    char why[200];
    if (l->spec.kind == RT_LINK_PACKET) {
        if (kernel_ipv6_disabled(l->spec.ifname)) {
            rt->ipv6 = true;
            return 0;
        }
        snprintf(why, sizeof why,
                 "the kernel has IPv6 on %s (sysctl "
                 "net.ipv6.conf.%s.disable_ipv6=1 gives it to berth)",
                 l->spec.ifname, l->spec.ifname);
    } else if (l->spec.kind != RT_LINK_TAP)
        snprintf(why, sizeof why, "IPv6 is not steered to berth on xdp: links");
    else if (rt_tun_check6(l->spec.ifname, rt->cfg.peer_addr6,
                           rt->cfg.peer_prefix6, why, sizeof why) == 0) {
        rt->ipv6 = true;
        return 0;
    }
    if (rt->cfg.ipv6 == BERTH_RT_IPV6_ON) {
        snprintf(err, errlen, "%s; give --no-ipv6", why);
        return -1;
    }
    if (rt->cfg.trace)
        fprintf(rt->cfg.trace, "berth: IPv6 off: %s\n", why);
    return 0;
}

static int open_backend(struct berth_rt *rt, struct rt_link *l, char *err,
                        size_t errlen)
{
    switch (l->spec.kind) {
    case RT_LINK_TAP:
        return rt_tap_open(l->spec.ifname, &rt->cfg, rt->ipv6, &l->be, err,
                           errlen);
    case RT_LINK_PACKET:
        return rt_packet_open(l->spec.ifname, &l->be, err, errlen);
    case RT_LINK_XDP:
        return rt_xdp_open(l->spec.ifname, l->spec.queue, rt->cfg.addr, &l->be,
                           err, errlen);
    case RT_LINK_TUN:
        break;
    }
    snprintf(err, errlen, "not an Ethernet link");
    return -1;
}

int rt_link_open(struct berth_rt *rt, char *err, size_t errlen)
{
    struct rt_link *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    l->be.fd = -1;
    rt->link = l;
    if (rt_link_parse(rt->cfg.link, &l->spec, err, errlen) < 0 ||
        decide_link_ipv6(rt, l, err, errlen) < 0 ||
        open_backend(rt, l, err, errlen) < 0) {
        l->be.ops = NULL;
        return -1;
    }
    /* A TAP device is the kernel's own interface: berth is another host
     * behind it, with its own address. On a real interface (packet, xdp)
     * berth answers to the interface's address, which the NIC's filter
     * lets through. */
    struct berth_link link = {.kind = BERTH_LINK_ETHERNET,
                              .mtu = rt->cfg.mtu,
                              .caps = BERTH_LINK_CAP_BATCH,
                              .send = drv_send,
                              .tx_buf = drv_tx_buf,
                              .tx_commit = drv_tx_commit,
                              .drv = rt};
    if (rt->cfg.mac_set)
        memcpy(link.mac, rt->cfg.mac, 6);
    else if (l->spec.kind == RT_LINK_TAP)
        default_mac(rt->cfg.addr, link.mac);
    else
        memcpy(link.mac, l->be.mac, 6);
    /* The stack's MSS follows (make_stack() runs after this). */
    if (l->be.mtu && l->be.mtu < rt->cfg.mtu)
        rt->cfg.mtu = l->be.mtu;
    link.mtu = rt->cfg.mtu;
    struct berth_eth_config ec = rt->cfg.eth;
    ec.addr = rt->cfg.addr;
    ec.prefix_len = rt->cfg.peer_prefix;
    ec.has_addr6 = rt->ipv6;
    memcpy(ec.addr6, rt->cfg.addr6, 16);
    ec.prefix6_len = rt->cfg.peer_prefix6;
    l->eth = berth_eth_create(&ec, &link, eth_deliver, rt);
    if (!l->eth) {
        snprintf(err, errlen,
                 "cannot create the Ethernet interface (bad MAC, VLAN or "
                 "neighbour settings, or out of memory)");
        return -1;
    }
    rt->tunfd = l->be.fd;
    if (rt->cfg.trace) {
        char mac[18];
        fprintf(rt->cfg.trace, "berth: %s:%s %s, mac %s\n",
                rt_link_kind_name(l->spec.kind), l->spec.ifname, l->be.desc,
                berth_mac_str(link.mac, mac, sizeof mac));
    }
    return 0;
}

void rt_link_close(struct berth_rt *rt)
{
    struct rt_link *l = rt->link;
    if (!l)
        return;
    if (l->be.ops && l->tx_pending && l->be.ops->flush)
        l->be.ops->flush(l->be.be);
    berth_eth_destroy(l->eth);
    if (l->be.ops)
        l->be.ops->close(l->be.be);
    rt->tunfd = -1; /* the backend's, closed with it */
    free(l);
    rt->link = NULL;
}

/* ------------------------------------------------------------------------
 * Control commands: `route` like `ip route`, `neigh` like `ip neigh`.
 */

struct print_ctx {
    FILE *out;
    const char *dev;
};

static void print_route(void *ctx, const struct berth_route *r)
{
    struct print_ctx *p = ctx;
    char a[48], b[48];
    if (r->plen == 0)
        fprintf(p->out, "default");
    else
        fprintf(p->out, "%s/%u", berth_netaddr_str(&r->dst, a, sizeof a),
                r->plen);
    if (r->gateway)
        fprintf(p->out, " via %s dev %s",
                berth_netaddr_str(&r->via, a, sizeof a), p->dev);
    else
        fprintf(p->out, " dev %s proto kernel scope link src %s", p->dev,
                berth_netaddr_str(&r->src, b, sizeof b));
    if (r->metric)
        fprintf(p->out, " metric %" PRIu32, r->metric);
    fputc('\n', p->out);
}

static void print_neigh(void *ctx, const struct berth_neigh_info *n)
{
    struct print_ctx *p = ctx;
    char a[48], mac[18];
    fprintf(p->out, "%s dev %s ", berth_netaddr_str(&n->addr, a, sizeof a),
            p->dev);
    if (n->state != BERTH_NEIGH_INCOMPLETE && n->state != BERTH_NEIGH_FAILED)
        fprintf(p->out, "lladdr %s ", berth_mac_str(n->mac, mac, sizeof mac));
    else
        fputc(' ', p->out);
    fprintf(p->out, "%s", berth_neigh_state_name(n->state));
    if (n->queued)
        fprintf(p->out, " queued %" PRIu32, n->queued);
    if (n->probes)
        fprintf(p->out, " probes %u", n->probes);
    fputc('\n', p->out);
}

bool rt_link_command(struct berth_rt *rt, const char *line, FILE *out)
{
    line += strspn(line, " \t");
    size_t n = strcspn(line, " \t");
    const char *arg = line + n + strspn(line + n, " \t");
    bool route = n == 5 && !strncmp(line, "route", 5);
    bool neigh = n == 5 && !strncmp(line, "neigh", 5);
    if (!route && !neigh)
        return false;
    if (*arg && strcmp(arg, "show") && strcmp(arg, "list")) {
        fprintf(out, "error: %s takes no arguments but 'show'\n",
                route ? "route" : "neigh");
        return true;
    }
    struct print_ctx p = {out, rt->link ? rt->link->spec.ifname : rt->tun_name};
    if (rt->link) {
        if (route)
            berth_eth_foreach_route(rt->link->eth, print_route, &p);
        else
            berth_eth_foreach_neigh(rt->link->eth, print_neigh, &p);
        return true;
    }
    /* A TUN device is point-to-point at the IP layer: its one route is
     * berth's subnet, and it has no neighbours to resolve. */
    if (route) {
        uint32_t mask = ~0u << (32 - rt->cfg.peer_prefix);
        struct berth_route r = {.dst = berth_netaddr_ip4(rt->cfg.addr & mask),
                                .plen = rt->cfg.peer_prefix,
                                .src = berth_netaddr_ip4(rt->cfg.addr)};
        print_route(&p, &r);
    }
    return true;
}

void rt_link_print_stat(struct berth_rt *rt, FILE *out)
{
    struct rt_link *l = rt->link;
    if (!l)
        return;
    fprintf(out, "Ethernet (%s:%s, %s):\n", rt_link_kind_name(l->spec.kind),
            l->spec.ifname, l->be.desc);
    if (l->be.ops->rx_dropped)
        fprintf(out,
                "    %" PRIu64 " frames the device dropped before berth "
                "read them (ring full)\n",
                l->be.ops->rx_dropped(l->be.be));
    for (int c = 0; c < BERTH_ETH__COUNT; c++)
        fprintf(out, "    %" PRIu64 " %s\n",
                berth_eth_counter(l->eth, (enum berth_eth_counter)c),
                berth_eth_counter_string((enum berth_eth_counter)c));
}

void rt_link_print_stat_json(struct berth_rt *rt, FILE *out)
{
    struct rt_link *l = rt->link;
    if (!l)
        return;
    fprintf(out, ",\n  \"ethernet\": {\"link\": \"%s:%s\"",
            rt_link_kind_name(l->spec.kind), l->spec.ifname);
    if (l->be.ops->rx_dropped)
        fprintf(out, ", \"DEVICE_RX_DROPPED\": %" PRIu64,
                l->be.ops->rx_dropped(l->be.be));
    for (int c = 0; c < BERTH_ETH__COUNT; c++)
        fprintf(out, ", \"%s\": %" PRIu64,
                berth_eth_counter_name((enum berth_eth_counter)c),
                berth_eth_counter(l->eth, (enum berth_eth_counter)c));
    fputc('}', out);
}

/* ------------------------------------------------------------------------
 * The neighbour settings' spec (--neigh).
 */

/* "200ms", "2s", "500us": 0, or -1. */
static int parse_us(const char *s, size_t n, uint64_t *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    double v = strtod(buf, &end);
    double mul = !strcmp(end, "us")   ? 1
                 : !strcmp(end, "ms") ? 1e3
                 : !strcmp(end, "s")  ? 1e6
                                      : -1;
    if (end == buf || mul < 0 || v < 0 || v * mul > 3600e6)
        return -1;
    *out = (uint64_t)(v * mul + 0.5);
    return 0;
}

static int parse_count(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 9)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

/* One "key=value" (or the flags accept-unsolicited, accept-ra). */
static int neigh_item(const char *k, size_t kn, const char *v, size_t vn,
                      struct berth_eth_config *c)
{
    static const struct {
        const char *key;
        size_t off;
    } times[] = {
        {"reachable", offsetof(struct berth_eth_config, reachable_time)},
        {"retrans", offsetof(struct berth_eth_config, retrans_time)},
        {"delay", offsetof(struct berth_eth_config, delay_time)},
        {"gc", offsetof(struct berth_eth_config, gc_time)},
    };
    uint64_t n;
    if (kn == 18 && !strncmp(k, "accept-unsolicited", kn) && !vn) {
        c->accept_unsolicited = true;
        return 0;
    }
    if (kn == 9 && !strncmp(k, "accept-ra", kn) && !vn) {
        c->accept_ra = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        if (strlen(times[i].key) == kn && !strncmp(k, times[i].key, kn))
            return parse_us(v, vn, (uint64_t *)((char *)c + times[i].off)) <
                               0 ||
                           *(uint64_t *)((char *)c + times[i].off) == 0
                       ? -1
                       : 0;
    if (kn == 3 && !strncmp(k, "max", 3) && !parse_count(v, vn, 65536, &n) &&
        n > 0)
        c->neigh_max = (uint32_t)n;
    else if (kn == 5 && !strncmp(k, "queue", 5) &&
             !parse_count(v, vn, 1024, &n))
        c->queue_max = (uint32_t)n;
    else if (kn == 6 && !strncmp(k, "probes", 6) &&
             !parse_count(v, vn, 32, &n) && n > 0)
        c->mcast_probes = c->ucast_probes = (uint8_t)n;
    else if (kn == 8 && !strncmp(k, "announce", 8) &&
             !parse_count(v, vn, 16, &n))
        c->announce = (uint8_t)n;
    else if (kn == 3 && !strncmp(k, "dad", 3) && !parse_count(v, vn, 16, &n))
        c->dad_transmits = (uint8_t)n;
    else
        return -1;
    return 0;
}

int berth_rt_neigh_parse(const char *spec, struct berth_eth_config *cfg,
                         char *err, size_t errlen)
{
    struct berth_eth_config c = *cfg;
    const char *p = spec;
    while (*p) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (!n)
            break;
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        const char *v = eq ? eq + 1 : p + n;
        size_t vn = eq ? n - kn - 1 : 0;
        if (neigh_item(p, kn, v, vn, &c) < 0) {
            snprintf(err, errlen,
                     "'%.*s': want reachable=T, retrans=T, delay=T, gc=T "
                     "(T with us, ms or s), max=N, queue=N, probes=N, "
                     "announce=N, dad=N, accept-unsolicited or accept-ra",
                     (int)n, p);
            return -1;
        }
        p += n;
    }
    *cfg = c;
    return 0;
}
