/* The TUN device: opening (or creating) it as a layer-3 device without the
 * packet-information prefix, so every read and write is one IPv4 datagram
 * (behind a virtio-net header when offloads are on), and configuring the
 * kernel's side of it — address, netmask (hence the route to berth's
 * subnet), MTU, up — with the classic ioctls. The offloads: IFF_VNET_HDR
 * and TUNSETOFFLOAD (checksum, TSO, USO), and the header's reading and
 * writing for the packet paths. */
#include "rt_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* Whether a network device of that name exists in our namespace. */
static bool if_exists(const char *name)
{
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return false;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    bool exists = ioctl(sock, SIOCGIFINDEX, &ifr) == 0;
    close(sock);
    return exists;
}

#ifndef TUN_F_USO4 /* Linux 6.2; older headers lack them */
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/* The offload sets asked for, best first: the kernel refuses a set with a
 * flag it does not know (EINVAL), so each refusal tries the next smaller
 * one; 0 (nothing) always works. TSO needs the checksum offload. */
static const unsigned offload_sets[] = {
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
    TUN_F_CSUM | TUN_F_TSO4,
    TUN_F_CSUM,
    0,
};

/* IFF_VNET_HDR is on: the largest offload set the kernel takes. */
static unsigned set_offloads(int fd)
{
    int hdr = (int)sizeof(struct virtio_net_hdr);
    if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
        return 0;
    for (size_t i = 0; i < sizeof offload_sets / sizeof *offload_sets; i++)
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)offload_sets[i]) == 0)
            return offload_sets[i];
    return 0;
}

static int attach(int fd, const char *name, short flags)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = flags;
    memcpy(ifr.ifr_name, name, strlen(name));
    return ioctl(fd, TUNSETIFF, &ifr);
}

static int tun_open(const char *name, bool offload, short mq,
                    struct rt_tun_offload *off, bool *created, char *err,
                    size_t errlen)
{
    memset(off, 0, sizeof *off);
    if (strlen(name) >= IFNAMSIZ || !*name) {
        snprintf(err, errlen, "TUN name '%s': 1 to %d characters", name,
                 IFNAMSIZ - 1);
        return -1;
    }
    /* A device that exists already (ip tuntap add ... mode tun) is only
     * attached to; one we create is not persistent and disappears when our
     * descriptor closes, which is how berth_rt_destroy() deletes it. */
    *created = !if_exists(name);
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot open /dev/net/tun: %s%s", strerror(e),
                 e == EACCES || e == EPERM
                     ? " (run as root or give CAP_NET_ADMIN)"
                 : e == ENOENT ? " (modprobe tun)"
                               : "");
        return -1;
    }
    /* Offloads need the virtio-net header on every read and write; a
     * kernel that refuses it gets the plain device. */
    int rc = -1;
    if (offload &&
        attach(fd, name, IFF_TUN | IFF_NO_PI | IFF_VNET_HDR | mq) == 0) {
        rc = 0;
        off->vnet = true;
        unsigned f = set_offloads(fd);
        off->csum = (f & TUN_F_CSUM) != 0;
        off->tso4 = (f & TUN_F_TSO4) != 0;
        off->tso6 = (f & TUN_F_TSO6) != 0;
        off->uso = (f & TUN_F_USO4) != 0;
    }
    if (rc < 0)
        rc = attach(fd, name, IFF_TUN | IFF_NO_PI | mq);
    if (rc < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot attach TUN device %s: %s%s", name,
                 strerror(e),
                 e == EBUSY    ? " (another berth instance uses it?)"
                 : e == EPERM  ? " (run as root or give CAP_NET_ADMIN)"
                 : e == EINVAL ? " (a device of another kind has this name?)"
                               : "");
        close(fd);
        return -1;
    }
    return fd;
}

int rt_tun_open(const char *name, bool offload, struct rt_tun_offload *off,
                bool *created, char *err, size_t errlen)
{
    return tun_open(name, offload, 0, off, created, err, errlen);
}

int rt_tun_open_queue(const char *name, bool offload,
                      struct rt_tun_offload *off, bool *created, char *err,
                      size_t errlen)
{
    return tun_open(name, offload, IFF_MULTI_QUEUE, off, created, err, errlen);
}

void rt_tun_offload_describe(const struct rt_tun_offload *off, char *buf,
                             size_t size)
{
    if (!off->vnet) {
        snprintf(buf, size, "off (no virtio-net header)");
        return;
    }
    snprintf(buf, size, "vnet-hdr%s%s%s%s%s", off->csum ? " csum" : "",
             off->tso4 ? " tso4" : "", off->tso6 ? " tso6" : "",
             off->uso ? " uso4 uso6" : "",
             off->csum ? "" : " (kernel refused TUNSETOFFLOAD)");
}

/* ---- The virtio-net header (virtio 1.x §5.1.6, legacy native byte order,
 * as a TUN device without TUNSETVNETLE uses). */

static void store16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* The IPv4 header's total length and checksum set for the datagram's real
 * length: the kernel's super-packets carry a total length that may be 0 or
 * a segment's (the packet may have been coalesced). */
static bool fix_ipv4_length(uint8_t *ip, size_t len)
{
    if (len < 20 || (ip[0] >> 4) != 4 || len > 65535)
        return false;
    size_t hl = (size_t)(ip[0] & 15) * 4;
    if (hl < 20 || hl > len)
        return false;
    if (ip[2] == (uint8_t)(len >> 8) && ip[3] == (uint8_t)len)
        return true;
    ip[2] = (uint8_t)(len >> 8);
    ip[3] = (uint8_t)len;
    ip[10] = ip[11] = 0;
    uint32_t sum = 0;
    for (size_t i = 0; i < hl; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
    return true;
}

/* The same for IPv6's payload length (no checksum in its header). */
static bool fix_ipv6_length(uint8_t *ip, size_t len)
{
    if (len < 40 || (ip[0] >> 4) != 6 || len - 40 > 65535)
        return false;
    ip[4] = (uint8_t)((len - 40) >> 8);
    ip[5] = (uint8_t)(len - 40);
    return true;
}

uint32_t rt_tun_rx_flags(const uint8_t *hdr)
{
    /* NEEDS_CSUM: the kernel left the TCP checksum partial (the data came
     * from the kernel's own memory, nothing crossed a wire); DATA_VALID:
     * it checked it. Either way there is nothing for berth to verify. */
    return hdr[0] & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)
               ? BERTH_IN_CSUM_OK
               : 0;
}

int rt_tun_rx_prepare(uint8_t *buf, size_t len)
{
    return rt_tun_rx_prepare_hdr(buf, len, len);
}

int rt_tun_rx_prepare_hdr(uint8_t *buf, size_t avail, size_t len)
{
    if (len < RT_VNET_HDR_LEN || avail < RT_VNET_HDR_LEN || avail > len)
        return -1;
    struct virtio_net_hdr h;
    memcpy(&h, buf, sizeof h);
    uint8_t gso = h.gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    if (gso == VIRTIO_NET_HDR_GSO_NONE)
        return 0;
    /* A super-packet: one large segment for the core; IPv4 or IPv6 TCP
     * (no UDP yet). */
    size_t have = avail - RT_VNET_HDR_LEN;
    if (gso == VIRTIO_NET_HDR_GSO_TCPV6)
        return have >= 40 && fix_ipv6_length(buf + RT_VNET_HDR_LEN,
                                             len - RT_VNET_HDR_LEN)
                   ? 0
                   : -1;
    if (gso != VIRTIO_NET_HDR_GSO_TCPV4 || have < 20 ||
        (size_t)(buf[RT_VNET_HDR_LEN] & 15) * 4 > have ||
        !fix_ipv4_length(buf + RT_VNET_HDR_LEN, len - RT_VNET_HDR_LEN))
        return -1;
    return 0;
}

/* ---- Reading in place ---- */

void rt_tun_rx_init(struct rt_tun_rx *rx, int fd, uint8_t *buf, size_t cap,
                    uint64_t (*clock)(void))
{
    memset(rx, 0, sizeof *rx);
    rx->fd = fd;
    rx->buf = buf;
    rx->cap = cap;
    rx->clock = clock;
}

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

/* A whole read (vnet header first) that carries TCP payload over IPv4, not
 * a fragment, or over IPv6 with TCP as the first next header: its flow is
 * the one expected next. Others leave it as it was (pure ACKs of a flow
 * we send on, say). */
static void learn_flow(struct rt_tun_rx *rx, const uint8_t *b, size_t len)
{
    if (len < RT_VNET_HDR_LEN + 40)
        return;
    const uint8_t *ip = b + RT_VNET_HDR_LEN;
    len -= RT_VNET_HDR_LEN;
    bool v6 = ip[0] >> 4 == 6;
    size_t ihl = v6 ? 40 : (size_t)(ip[0] & 15) * 4;
    if (v6 ? ip[6] != 6
           : (ip[0] >> 4) != 4 || ihl < 20 || ip[9] != 6 ||
                 (ld16(ip + 6) & 0x3fff) != 0)
        return;
    if (ihl + 20 > len)
        return;
    size_t thl = (size_t)(ip[ihl + 12] >> 4) * 4;
    if (thl < 20 || ihl + thl >= len ||
        ihl + thl + RT_VNET_HDR_LEN > RT_RX_HDR_MAX)
        return;
    rx->flow_valid = true;
    if (v6) {
        rx->local = berth_endpoint_v6(ip + 24, ld16(ip + ihl + 2));
        rx->remote = berth_endpoint_v6(ip + 8, ld16(ip + ihl));
    } else {
        rx->local = berth_endpoint_v4(ld32(ip + 16), ld16(ip + ihl + 2));
        rx->remote = berth_endpoint_v4(ld32(ip + 12), ld16(ip + ihl));
    }
    rx->flow_hdr_len = (uint16_t)(ihl + thl);
}

static ssize_t read_whole(struct rt_tun_rx *rx, bool place, uint64_t *now)
{
    ssize_t n = read(rx->fd, rx->buf, rx->cap);
    *now = rx->clock();
    if (n > 0 && place)
        learn_flow(rx, rx->buf, (size_t)n);
    return n;
}

ssize_t rt_tun_read(struct rt_tun_rx *rx, struct berth_stack *st, bool place,
                    uint64_t *now, bool *taken)
{
    *taken = false;
    struct berth_span sp[2];
    int room = place && rx->flow_valid
                   ? berth_rx_place(st, &rx->local, &rx->remote, sp)
                   : 0;
    size_t h = RT_VNET_HDR_LEN + rx->flow_hdr_len;
    if (room <= 0 || rx->cap <= h)
        return read_whole(rx, place, now);
    /* Headers, the room (as much of it as a read can fill), and the rest
     * of buf behind the place the room's bytes take there when put
     * together: the iovecs hold exactly cap bytes. */
    size_t ring = (size_t)room < rx->cap - h ? (size_t)room : rx->cap - h;
    size_t l0 = sp[0].len < ring ? sp[0].len : ring;
    struct iovec iov[4] = {{rx->hdr, h}, {sp[0].data, l0}};
    int cnt = 2;
    if (ring > l0)
        iov[cnt++] = (struct iovec){sp[1].data, ring - l0};
    if (rx->cap > h + ring)
        iov[cnt++] = (struct iovec){rx->buf + h + ring, rx->cap - h - ring};
    ssize_t n = readv(rx->fd, iov, cnt);
    *now = rx->clock();
    if (n <= 0)
        return n;
    size_t got = (size_t)n, pay = got > h ? got - h : 0;
    if (pay > 0 && pay <= ring && rt_tun_rx_prepare_hdr(rx->hdr, h, got) == 0 &&
        berth_input_placed(st, rx->hdr + RT_VNET_HDR_LEN, rx->flow_hdr_len, sp,
                           pay, *now,
                           rt_tun_rx_flags(rx->hdr)) != BERTH_EAGAIN) {
        rx->placed++;
        *taken = true;
        return n;
    }
    /* Not that flow's next data: the packet whole in buf, as read() would
     * have left it (the room's bytes are copied out before the stack sees
     * anything). */
    memcpy(rx->buf, rx->hdr, got < h ? got : h);
    size_t in_ring = pay < ring ? pay : ring;
    if (in_ring) {
        size_t a = in_ring < l0 ? in_ring : l0;
        memcpy(rx->buf + h, sp[0].data, a);
        if (in_ring > a)
            memcpy(rx->buf + h + a, sp[1].data, in_ring - a);
        rx->missed++;
    }
    learn_flow(rx, rx->buf, got);
    return n;
}

/* ---- ACKs made needless by a later one ---- */

/* The offset of the TCP header of a pure ACK (the ACK flag alone, no
 * payload, options only NOP, EOL and timestamps), IPv4 unfragmented or
 * IPv6 with TCP next (as berth sends them); 0 for any other packet. */
static size_t pure_ack_tcp(const uint8_t *p, size_t len)
{
    size_t ihl;
    if (len >= 40 && p[0] >> 4 == 4) {
        ihl = (size_t)(p[0] & 15) * 4;
        if (ihl < 20 || p[9] != 6 || (ld16(p + 6) & 0x3fff) != 0 ||
            ld16(p + 2) != len)
            return 0;
    } else if (len >= 60 && p[0] >> 4 == 6) {
        ihl = 40;
        if (p[6] != 6 || ld16(p + 4) != len - 40)
            return 0;
    } else {
        return 0;
    }
    if (len < ihl + 20)
        return 0;
    const uint8_t *t = p + ihl;
    size_t thl = (size_t)(t[12] >> 4) * 4;
    if (thl < 20 || ihl + thl != len || (t[12] & 15) != 0 || t[13] != 0x10)
        return 0;
    for (size_t i = 20; i < thl;) {
        uint8_t kind = t[i];
        if (kind == 0)
            break; /* end of the option list */
        if (kind == 1) {
            i++;
            continue;
        }
        if (kind != 8 || i + 10 > thl || t[i + 1] != 10)
            return 0; /* SACK blocks and anything else are kept */
        i += 10;
    }
    return ihl;
}

/* RFC 9293 §3.4: a later cumulative ACK says everything an earlier one
 * said; the right edge it carries is never left of the earlier's (berth
 * never shrinks its window, §3.8.6.2.2), and an earlier timestamp echo
 * only gives the sender one RTT sample fewer (RFC 7323 §4.1 takes any).
 * A duplicate ACK (the same number) is never merged: the sender counts
 * them (RFC 5681 §3.2). The same as a queue's ACK filter (Linux's
 * sch_cake, ack-filter): only ACKs that would have left together. */
bool rt_tun_ack_supersedes(const uint8_t *old, size_t old_len,
                           const uint8_t *pkt, size_t len)
{
    size_t oh = pure_ack_tcp(old, old_len), ph = pure_ack_tcp(pkt, len);
    if (oh == 0 || oh != ph || old[0] >> 4 != pkt[0] >> 4)
        return false;
    /* The same addresses (IPv4 at 12, IPv6 at 8), ports and sequence. */
    bool v6 = pkt[0] >> 4 == 6;
    size_t aoff = v6 ? 8 : 12, alen = v6 ? 32 : 8;
    if (memcmp(old + aoff, pkt + aoff, alen) != 0 ||
        memcmp(old + oh, pkt + ph, 8) != 0)
        return false;
    uint32_t a_old = ld32(old + oh + 8), a_new = ld32(pkt + ph + 8);
    return (int32_t)(a_new - a_old) > 0;
}

void rt_tun_tx_header(uint8_t hdr[RT_VNET_HDR_LEN], const uint8_t *pkt,
                      size_t len, uint16_t seg_size)
{
    memset(hdr, 0, RT_VNET_HDR_LEN);
    if (seg_size == 0 || len < 40)
        return; /* a complete packet, checksums and all */
    /* berth's IPv6 packets have no extension headers: TCP at 40. */
    bool v6 = (pkt[0] >> 4) == 6;
    size_t ihl = v6 ? 40 : (size_t)(pkt[0] & 15) * 4;
    if (len < ihl + 20)
        return;
    size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
    hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr[1] = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    store16(hdr + 2, (uint16_t)(ihl + thl)); /* hdr_len */
    store16(hdr + 4, seg_size);              /* gso_size */
    store16(hdr + 6, (uint16_t)ihl);         /* csum_start: the TCP header */
    store16(hdr + 8, 16);                    /* csum_offset: its checksum */
}

/* The stack's tx_sg hook on a TUN link: one writev() of the virtio-net
 * header (with offloads), the headers the stack built and the text's spans
 * where they lie in the send buffer, so no byte of text is copied in user
 * space. While the packets are tapped, captured or impaired (each wants
 * the packet whole), it is gathered after txcopy's first half and takes
 * the usual path (loop.c). */
void rt_stack_tx_sg(void *ctx, const uint8_t *hdr, size_t hdr_len,
                    const struct berth_iov *spans, size_t nspans,
                    uint16_t seg_size)
{
    struct berth_rt *rt = ctx;
    size_t len = hdr_len;
    for (size_t i = 0; i < nspans; i++)
        len += spans[i].len;
    if (rt->tap || rt->pcap || rt_impair_active(rt->tx_imp) || nspans > 2 ||
        len > 65536) {
        uint8_t *pkt = rt->txcopy + RT_TXCOPY_LEN, *d = pkt;
        if (len > 65536)
            return; /* no IP datagram: never built by the stack */
        memcpy(d, hdr, hdr_len);
        d += hdr_len;
        for (size_t i = 0; i < nspans; i++) {
            memcpy(d, spans[i].base, spans[i].len);
            d += spans[i].len;
        }
        rt_stack_tx_gso(rt, pkt, len, seg_size);
        return;
    }
    uint8_t vh[RT_VNET_HDR_LEN];
    struct iovec iov[4];
    int n = 0;
    if (rt->offload.vnet) {
        rt_tun_tx_header(vh, hdr, len, seg_size);
        iov[n++] = (struct iovec){vh, RT_VNET_HDR_LEN};
    }
    iov[n++] = (struct iovec){(void *)hdr, hdr_len};
    for (size_t i = 0; i < nspans; i++)
        iov[n++] = (struct iovec){(void *)spans[i].base, spans[i].len};
    size_t want = len + (rt->offload.vnet ? RT_VNET_HDR_LEN : 0);
    ssize_t w;
    rt_tx_flush(rt); /* the ACKs queued before this segment go first */
    do
        w = writev(rt->tunfd, iov, n);
    while (w < 0 && errno == EINTR);
    if (w == (ssize_t)want) {
        rt->stats.tx_packets++;
        rt->stats.tx_bytes += len;
    } else {
        rt->tun_write_errors++; /* a loss, as in loop.c's tun_write */
    }
}

static void put_addr(struct sockaddr *sa, uint32_t addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    memcpy(sa, &sin, sizeof sin);
}

/* One ioctl on the device; -1 with the message when it fails. */
static int if_ioctl(int sock, unsigned long req, struct ifreq *ifr,
                    const char *what, char *err, size_t errlen)
{
    if (ioctl(sock, req, ifr) == 0)
        return 0;
    snprintf(err, errlen, "cannot set %s of %s: %s", what, ifr->ifr_name,
             strerror(errno));
    return -1;
}

/* One sysctl of the device's IPv6 (/proc/sys/net/ipv6/conf/DEV/KEY);
 * best effort (a kernel without IPv6 has none). */
static void ipv6_sysctl(const char *name, const char *key, const char *val)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/%s", name, key);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, val, strlen(val));
        close(fd);
    }
}

/* Done before the device goes up, so not even the first packet is sent.
 * IPv4 only: IPv6 off, or the kernel would send router solicitations and
 * MLD reports into the device, each a drop in `stat`. With IPv6: no
 * router solicitations (RFC 4861 §6.3.7 is for links with routers to
 * find), no DAD and no link-local address (RFC 4862: a point-to-point
 * TUN device has no one to collide with, and berth answers no neighbour
 * discovery), so the device stays as quiet as with IPv4 alone. */
static void prepare_ipv6(const char *name, bool on)
{
    if (!on) {
        ipv6_sysctl(name, "disable_ipv6", "1\n");
        return;
    }
    ipv6_sysctl(name, "accept_ra", "0\n");
    ipv6_sysctl(name, "router_solicitations", "0\n");
    ipv6_sysctl(name, "accept_dad", "0\n");
    ipv6_sysctl(name, "dad_transmits", "0\n");
    ipv6_sysctl(name, "addr_gen_mode", "1\n"); /* none: no link-local */
    ipv6_sysctl(name, "disable_ipv6", "0\n");
}

/* ------------------------------------------------------------------------
 * Another instance (or any interface) already holding the subnet: the
 * kernel would route our peer's packets to it, and both instances would
 * hang without a word. We refuse with one line instead of picking another
 * subnet ourselves: the addresses are what the user types into curl and
 * nc, so they must not change behind their back. The line suggests the
 * next free subnet of the same size.
 */

static void ip4_str(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
             a & 255);
}

/* Whether net/prefix overlaps another interface's route (from
 * /proc/net/route, the main table) or address; the interface in who[]. */
static bool subnet_taken(const char *self, uint32_t net, uint32_t mask,
                         char *who, size_t wholen)
{
    bool taken = false;
    FILE *f = fopen("/proc/net/route", "re");
    char line[256], ifname[IFNAMSIZ + 1];
    unsigned dest, gw, flags, refcnt, use, metric, rmask;
    while (f && !taken && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%16s %x %x %x %u %u %u %x", ifname, &dest, &gw,
                   &flags, &refcnt, &use, &metric, &rmask) != 8)
            continue; /* the header */
        /* The fields are the kernel's __be32 printed as host integers. */
        uint32_t d = ntohl(dest), m = ntohl(rmask);
        if (m == 0 || !strcmp(ifname, self))
            continue; /* a default route covers everything: no claim */
        if (((d ^ net) & m & mask) == 0) {
            snprintf(who, wholen, "routed to %s", ifname);
            taken = true;
        }
    }
    if (f)
        fclose(f);
    struct ifaddrs *ifs = NULL, *i;
    if (taken || getifaddrs(&ifs) < 0)
        return taken;
    for (i = ifs; i && !taken; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
            !strcmp(i->ifa_name, self))
            continue;
        uint32_t a =
            ntohl(((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
        if (((a ^ net) & mask) == 0) {
            char ip[16];
            ip4_str(a, ip, sizeof ip);
            snprintf(who, wholen, "in use: %s is an address of %s", ip,
                     i->ifa_name);
            taken = true;
        }
    }
    freeifaddrs(ifs);
    return taken;
}

static int check_subnet_free(const char *name, uint32_t peer_addr,
                             uint8_t prefix, char *err, size_t errlen)
{
    uint32_t mask = ~0u << (32 - prefix), net = peer_addr & mask;
    char who[64], ip[16], alt[16];
    if (!subnet_taken(name, net, mask, who, sizeof who))
        return 0;
    ip4_str(net, ip, sizeof ip);
    uint32_t step = ~mask + 1, next = net;
    int tries = 0;
    do
        next += step;
    while (++tries < 256 && subnet_taken(name, next, mask, alt, sizeof alt));
    ip4_str(next + 1, alt, sizeof alt);
    char b[16];
    ip4_str(next + 2, b, sizeof b);
    snprintf(err, errlen,
             "subnet %s/%u is already %s (another berth instance?); give "
             "this one another, e.g. --peer %s/%u --addr %s",
             ip, prefix, who, alt, prefix, b);
    return -1;
}

int rt_tun_configure(const char *name, uint32_t peer_addr, uint8_t prefix,
                     uint16_t mtu, bool ipv6, char *err, size_t errlen)
{
    if (check_subnet_free(name, peer_addr, prefix, err, errlen) < 0)
        return -1;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        snprintf(err, errlen, "cannot configure %s: socket: %s", name,
                 strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;

    ifr.ifr_mtu = mtu;
    int rc = if_ioctl(sock, SIOCSIFMTU, &ifr, "the MTU", err, errlen);
    /* Address before netmask: the kernel derives the subnet route from
     * both once the device is up. */
    if (rc == 0) {
        put_addr(&ifr.ifr_addr, peer_addr);
        rc = if_ioctl(sock, SIOCSIFADDR, &ifr, "the address", err, errlen);
    }
    if (rc == 0) {
        put_addr(&ifr.ifr_netmask, mask);
        rc = if_ioctl(sock, SIOCSIFNETMASK, &ifr, "the netmask", err, errlen);
    }
    if (rc == 0) {
        prepare_ipv6(name, ipv6);
        rc = if_ioctl(sock, SIOCGIFFLAGS, &ifr, "(reading) the flags", err,
                      errlen);
    }
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = if_ioctl(sock, SIOCSIFFLAGS, &ifr, "the flags (up)", err, errlen);
    }
    close(sock);
    return rc;
}

/* ---- IPv6 on the device ---- */

static bool prefix6_match(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    for (unsigned i = 0; i < prefix; i++) {
        unsigned byte = i / 8, bit = 7 - i % 8;
        if (((a[byte] ^ b[byte]) >> bit) & 1u)
            return false;
    }
    return true;
}

int rt_tun_check6(const char *name, const uint8_t peer_addr6[16],
                  uint8_t prefix, char *err, size_t errlen)
{
    if (access("/proc/sys/net/ipv6/conf/all/disable_ipv6", F_OK) != 0) {
        snprintf(err, errlen, "the kernel has no IPv6");
        return -1;
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
        return 0;
    int rc = 0;
    for (struct ifaddrs *i = ifs; i && rc == 0; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 ||
            !strcmp(i->ifa_name, name))
            continue;
        const struct sockaddr_in6 *a = (const void *)i->ifa_addr;
        if (prefix6_match(a->sin6_addr.s6_addr, peer_addr6, prefix)) {
            char ip[INET6_ADDRSTRLEN];
            inet_ntop(AF_INET6, peer_addr6, ip, sizeof ip);
            snprintf(err, errlen,
                     "prefix of %s/%u is in use on %s (another berth "
                     "instance?)",
                     ip, prefix, i->ifa_name);
            rc = 1;
        }
    }
    freeifaddrs(ifs);
    return rc;
}

/* Linux's struct in6_ifreq (<linux/ipv6.h>, which clashes with libc's
 * <netinet/in.h>). */
struct rt_in6_ifreq {
    struct in6_addr addr;
    uint32_t prefixlen;
    int ifindex;
};

int rt_tun_configure6(const char *name, const uint8_t peer_addr6[16],
                      uint8_t prefix, char *err, size_t errlen)
{
    int sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        snprintf(err, errlen, "cannot configure IPv6 on %s: socket: %s", name,
                 strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    int rc =
        if_ioctl(sock, SIOCGIFINDEX, &ifr, "(reading) the index", err, errlen);
    if (rc == 0) {
        struct rt_in6_ifreq r;
        memset(&r, 0, sizeof r);
        memcpy(&r.addr, peer_addr6, 16);
        r.prefixlen = prefix;
        r.ifindex = ifr.ifr_ifindex;
        if (ioctl(sock, SIOCSIFADDR, &r) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot set the IPv6 address of %s: %s", name,
                     strerror(errno));
            rc = -1;
        }
    }
    close(sock);
    return rc;
}
