/* The AF_PACKET backend (--link packet:IFACE): a raw socket bound to an
 * existing interface with TPACKET_V3 rings mapped into our memory, so
 * frames move without a syscall each. Receive: the kernel fills blocks of
 * frames and hands a block over when it is full or its timer (1 ms)
 * retires it; we walk the frames in place and give the block back.
 * Transmit: frames are written into free slots of the transmit ring and
 * one sendto() per loop iteration sends the batch. Our own transmissions
 * are not looped back (PACKET_IGNORE_OUTGOING) and skip the qdisc layer
 * (PACKET_QDISC_BYPASS), as a NIC queue would. */
#include "link_rt.h"
#include "rt_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING /* Linux 4.20 */
#define PACKET_IGNORE_OUTGOING 23
#endif

/* The kernel hands a block over when it is full or RX_RETIRE_MS old: at a
 * low rate every block carries a few frames, so the ring's depth is
 * counted in blocks (64: 64 ms at the timer's pace). A block holds a whole
 * 64 KiB GSO packet, as a veth peer with TSO sends them (a frame cannot
 * span blocks: a smaller block would truncate it): the core takes such a
 * packet as one segment, its checksum left to offload (CSUMNOTREADY). */
#define RX_BLOCK_SIZE (1u << 17) /* 128 KiB */
#define RX_BLOCKS     64u
#define RX_FRAME_SIZE 2048u /* accounting only for V3 receive */
#define RX_RETIRE_MS  1u    /* a partly filled block waits at most this */
#define TX_BLOCK_SIZE (1u << 18)
#define TX_BLOCKS     16u
/* Where a transmit slot's frame starts (the kernel's default tp_hdrlen -
 * sizeof(struct sockaddr_ll)). */
#define TX_DATA_OFF TPACKET_ALIGN(sizeof(struct tpacket3_hdr))

struct pkt_ring {
    uint8_t *map;
    size_t size;
    unsigned nr;  /* blocks (rx) or frames (tx) */
    unsigned cur; /* next block/frame to look at */
    size_t unit;  /* block size (rx) or frame size (tx) */
};

struct packet {
    int fd;
    int ifindex;
    uint8_t *map; /* rx ring then tx ring, one mapping */
    size_t map_size;
    struct pkt_ring rx, tx;
    unsigned tx_queued; /* frames marked SEND_REQUEST since the flush */
    uint64_t drops;     /* tp_drops so far (each read resets the kernel's) */
};

static int packet_rx(void *be, unsigned max, rt_frame_fn fn, void *ctx)
{
    struct packet *p = be;
    unsigned got = 0;
    for (unsigned b = 0; b < p->rx.nr && got < max; b++) {
        struct tpacket_block_desc *bd =
            (void *)(p->rx.map + (size_t)p->rx.cur * p->rx.unit);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) &
              TP_STATUS_USER))
            break;
        uint8_t *ptr = (uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt;
        for (uint32_t i = 0; i < bd->hdr.bh1.num_pkts; i++) {
            struct tpacket3_hdr *h = (void *)ptr;
            /* CSUMNOTREADY: sent by this host with the checksum left to
             * the device (a veth peer's offload): not wrong, not there. */
            fn(ctx, ptr + h->tp_mac, h->tp_snaplen,
               h->tp_status & (TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID)
                   ? BERTH_IN_CSUM_OK
                   : 0);
            got++;
            ptr += h->tp_next_offset;
        }
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL,
                         __ATOMIC_RELEASE);
        p->rx.cur = (p->rx.cur + 1) % p->rx.nr;
    }
    return (int)got;
}

static struct tpacket3_hdr *tx_slot(struct packet *p)
{
    return (void *)(p->tx.map + (size_t)p->tx.cur * p->tx.unit);
}

/* One sendto() sends every frame marked SEND_REQUEST. */
static void packet_flush(void *be)
{
    struct packet *p = be;
    if (!p->tx_queued)
        return;
    p->tx_queued = 0;
    while (sendto(p->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno == EINTR)
        ;
}

static uint8_t *packet_tx_buf(void *be, size_t len)
{
    struct packet *p = be;
    if (len > p->tx.unit - TX_DATA_OFF)
        return NULL;
    struct tpacket3_hdr *h = tx_slot(p);
    if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
        TP_STATUS_AVAILABLE) {
        /* The ring is full of frames not yet sent: send them, look again. */
        packet_flush(p);
        if (__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) !=
            TP_STATUS_AVAILABLE)
            return NULL;
    }
    return (uint8_t *)h + TX_DATA_OFF;
}

static void packet_tx_commit(void *be, size_t len)
{
    struct packet *p = be;
    struct tpacket3_hdr *h = tx_slot(p);
    h->tp_len = (uint32_t)len;
    h->tp_snaplen = (uint32_t)len;
    h->tp_next_offset = 0;
    __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    p->tx.cur = (p->tx.cur + 1) % p->tx.nr;
    /* Half a ring waiting: send now rather than at the loop's end. */
    if (++p->tx_queued >= p->tx.nr / 2)
        packet_flush(p);
}

static int packet_send(void *be, const uint8_t *f, size_t len)
{
    uint8_t *b = packet_tx_buf(be, len);
    if (!b)
        return -EAGAIN;
    memcpy(b, f, len);
    packet_tx_commit(be, len);
    return 0;
}

static uint64_t packet_rx_dropped(void *be)
{
    struct packet *p = be;
    struct tpacket_stats_v3 st;
    socklen_t len = sizeof st;
    if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
        p->drops += st.tp_drops;
    return p->drops;
}

static void packet_close(void *be)
{
    struct packet *p = be;
    packet_flush(p);
    if (p->map)
        munmap(p->map, p->map_size);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

static const struct rt_backend_ops packet_ops = {
    .rx = packet_rx,
    .send = packet_send,
    .tx_buf = packet_tx_buf,
    .tx_commit = packet_tx_commit,
    .flush = packet_flush,
    .close = packet_close,
    .rx_dropped = packet_rx_dropped,
};

static int fail(struct packet *p, char *err, size_t errlen, const char *what,
                const char *ifname)
{
    int e = errno;
    snprintf(err, errlen, "AF_PACKET on %s: %s: %s%s", ifname, what,
             strerror(e),
             e == EPERM ? " (run as root or give CAP_NET_RAW)" : "");
    packet_close(p);
    return -1;
}

/* The interface's MAC and MTU. */
static int if_info(int fd, const char *ifname, struct rt_backend *out)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
        return -1;
    memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
        return -1;
    out->mtu = (uint16_t)(ifr.ifr_mtu > 65535 ? 65535 : ifr.ifr_mtu);
    return 0;
}

static int setup_rings(struct packet *p, size_t tx_frame)
{
    int v = TPACKET_V3;
    if (setsockopt(p->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof v) < 0)
        return -1;
    struct tpacket_req3 rx = {
        .tp_block_size = RX_BLOCK_SIZE,
        .tp_block_nr = RX_BLOCKS,
        .tp_frame_size = RX_FRAME_SIZE,
        .tp_frame_nr = RX_BLOCK_SIZE / RX_FRAME_SIZE * RX_BLOCKS,
        .tp_retire_blk_tov = RX_RETIRE_MS,
    };
    struct tpacket_req3 tx = {
        .tp_block_size = TX_BLOCK_SIZE,
        .tp_block_nr = TX_BLOCKS,
        .tp_frame_size = (unsigned)tx_frame,
        .tp_frame_nr = (unsigned)(TX_BLOCK_SIZE / tx_frame * TX_BLOCKS),
    };
    if (setsockopt(p->fd, SOL_PACKET, PACKET_RX_RING, &rx, sizeof rx) < 0 ||
        setsockopt(p->fd, SOL_PACKET, PACKET_TX_RING, &tx, sizeof tx) < 0)
        return -1;
    size_t rx_size = (size_t)RX_BLOCK_SIZE * RX_BLOCKS;
    size_t tx_size = (size_t)TX_BLOCK_SIZE * TX_BLOCKS;
    p->map_size = rx_size + tx_size;
    p->map = mmap(NULL, p->map_size, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_POPULATE, p->fd, 0);
    if (p->map == MAP_FAILED) {
        p->map = NULL;
        return -1;
    }
    p->rx = (struct pkt_ring){p->map, rx_size, RX_BLOCKS, 0, RX_BLOCK_SIZE};
    p->tx = (struct pkt_ring){p->map + rx_size, tx_size, tx.tp_frame_nr, 0,
                              tx_frame};
    return 0;
}

int rt_packet_open(const char *ifname, struct rt_backend *out, char *err,
                   size_t errlen)
{
    struct packet *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memset(out, 0, sizeof *out);
    p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   htons(ETH_P_ALL));
    if (p->fd < 0)
        return fail(p, err, errlen, "socket", ifname);
    p->ifindex = (int)if_nametoindex(ifname);
    if (!p->ifindex)
        return fail(p, err, errlen, "no such interface", ifname);
    if (if_info(p->fd, ifname, out) < 0)
        return fail(p, err, errlen, "reading MAC and MTU", ifname);
    /* A slot holds the header and the largest frame (MTU + Ethernet and
     * VLAN headers), rounded up to a power of two. */
    size_t need = TX_DATA_OFF + out->mtu + 18u, frame = 2048;
    while (frame < need)
        frame *= 2;
    int one = 1;
    if (setup_rings(p, frame) < 0)
        return fail(p, err, errlen, "TPACKET_V3 rings", ifname);
    /* Optional: older kernels lack one or both. */
    setsockopt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    struct sockaddr_ll sll = {.sll_family = AF_PACKET,
                              .sll_protocol = htons(ETH_P_ALL),
                              .sll_ifindex = p->ifindex};
    if (bind(p->fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        return fail(p, err, errlen, "bind", ifname);
    out->ops = &packet_ops;
    out->be = p;
    out->fd = p->fd;
    snprintf(out->desc, sizeof out->desc,
             "AF_PACKET TPACKET_V3 rings: rx %u x %u KiB, tx %u x %zu B",
             RX_BLOCKS, RX_BLOCK_SIZE / 1024, p->tx.nr, frame);
    return 0;
}
