/* The AF_XDP backend (--link xdp:IFACE[:QUEUE]): an XDP socket on one
 * queue of an existing interface, through libxdp's xsk API (the UMEM and
 * its fill/completion rings, the socket's rx/tx rings), in copy mode, which
 * every driver offers. The XDP program on the interface is berth's own,
 * twenty-two instructions built here (no BPF compiler at build time): frames
 * for berth's IPv4 address, and ARP packets asking for or answering it, go
 * to the socket of their queue; everything else stays with the kernel
 * (XDP_PASS), so the host keeps its own traffic on the same interface. */
#include "link_rt.h"
#include "rt_impl.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE /* 4096 */
#define NUM_FRAMES 4096u                        /* 16 MiB of UMEM */
#define RX_FRAMES  (NUM_FRAMES / 2)             /* the rest transmit */
#define RING_SIZE  2048u

struct xdp {
    int ifindex;
    uint32_t xdp_flags; /* the mode the program was attached in */
    int prog_fd, map_fd;
    bool attached;
    uint8_t *area; /* the UMEM */
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill, tx;
    struct xsk_ring_cons comp, rx;
    uint64_t free_tx[NUM_FRAMES - RX_FRAMES]; /* stack of free tx frames */
    unsigned nfree;
    uint64_t slot; /* the frame tx_buf() handed out */
    unsigned tx_queued, tx_outstanding;
};

/* ------------------------------------------------------------------------
 * The XDP program, as instructions (struct bpf_insn, linux/bpf.h).
 */
#define INSN(c, d, s, o, i)                                                    \
    ((struct bpf_insn){                                                        \
        .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_W, d, s, o, 0)
#define LDX_H(d, s, o) INSN(BPF_LDX | BPF_MEM | BPF_H, d, s, o, 0)
#define MOV_R(d, s)    INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_K(d, k)    INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, k)
#define ADD_K(d, k)    INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, k)
#define JGT_R(d, s, o) INSN(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define JEQ32(d, k, o) INSN(BPF_JMP32 | BPF_JEQ | BPF_K, d, 0, o, k)
#define JNE32(d, k, o) INSN(BPF_JMP32 | BPF_JNE | BPF_K, d, 0, o, k)
#define JA(o)          INSN(BPF_JMP | BPF_JA, 0, 0, o, 0)
#define CALL(f)        INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()         INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd)                                                          \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd)
#define LD_MAP2() INSN(0, 0, 0, 0, 0)

/* The program: `addr` is berth's IPv4 address as the packet holds it,
 * read as a little-endian u32 (the program compares raw loads). */
static int load_program(int map_fd, uint32_t addr_raw, char *log,
                        size_t logsize)
{
    const uint16_t ip4 = 0x0008, arp = 0x0608; /* EtherTypes, byte-swapped */
    const struct bpf_insn prog[] = {
        MOV_R(6, 1),      /* r6 = ctx */
        LDX_W(2, 1, 0),   /* r2 = data */
        LDX_W(3, 1, 4),   /* r3 = data_end */
        MOV_R(4, 2),      /* r4 = data + 42: Ethernet + ARP */
        ADD_K(4, 42),     /* (and Ethernet + IPv4 to the address) */
        JGT_R(4, 3, 14),  /* short: pass */
        LDX_H(5, 2, 12),  /* r5 = EtherType */
        JEQ32(5, ip4, 2), /* IPv4: destination at 14 + 16 */
        JEQ32(5, arp, 3), /* ARP: target protocol address at 14 + 24 */
        JA(10),           /* other: pass */
        LDX_W(5, 2, 30),  /* r5 = IPv4 destination */
        JA(1),
        LDX_W(5, 2, 38),                /* r5 = ARP target */
        JNE32(5, (int32_t)addr_raw, 6), /* not berth's: pass */
        LD_MAP(1, map_fd),              /* r1 = the XSKMAP */
        LD_MAP2(),
        LDX_W(2, 6, 16),    /* r2 = ctx->rx_queue_index */
        MOV_K(3, XDP_PASS), /* no socket on that queue: pass */
        CALL(BPF_FUNC_redirect_map),
        EXIT(),
        MOV_K(0, XDP_PASS),
        EXIT(),
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log,
                .log_size = (uint32_t)logsize, .log_level = 0);
    return bpf_prog_load(BPF_PROG_TYPE_XDP, "berth_steer", "GPL", prog,
                         sizeof prog / sizeof prog[0], &opts);
}

/* ------------------------------------------------------------------------
 * Frames.
 */

static void refill(struct xdp *x, uint64_t addr)
{
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&x->fill, 1, &idx) == 1) {
        *xsk_ring_prod__fill_addr(&x->fill, idx) = addr;
        xsk_ring_prod__submit(&x->fill, 1);
    }
}

static int xdp_rx(void *be, unsigned max, rt_frame_fn fn, void *ctx)
{
    struct xdp *x = be;
    uint32_t idx = 0;
    unsigned n = xsk_ring_cons__peek(&x->rx, max, &idx);
    for (unsigned i = 0; i < n; i++) {
        const struct xdp_desc *d = xsk_ring_cons__rx_desc(&x->rx, idx + i);
        fn(ctx, xsk_umem__get_data(x->area, d->addr), d->len, 0);
    }
    /* Give the frames back to the fill ring in one go. */
    uint32_t fidx = 0;
    unsigned got = n ? xsk_ring_prod__reserve(&x->fill, n, &fidx) : 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t a = xsk_umem__extract_addr(
            xsk_ring_cons__rx_desc(&x->rx, idx + i)->addr);
        if (i < got)
            *xsk_ring_prod__fill_addr(&x->fill, fidx + i) = a;
        else
            refill(x, a);
    }
    if (got)
        xsk_ring_prod__submit(&x->fill, got);
    if (n)
        xsk_ring_cons__release(&x->rx, n);
    return (int)n;
}

/* Completed transmissions: their frames are free again. */
static void reclaim(struct xdp *x)
{
    uint32_t idx = 0;
    unsigned n = xsk_ring_cons__peek(&x->comp, RING_SIZE, &idx);
    for (unsigned i = 0; i < n; i++)
        x->free_tx[x->nfree++] = *xsk_ring_cons__comp_addr(&x->comp, idx + i);
    if (n)
        xsk_ring_cons__release(&x->comp, n);
    x->tx_outstanding -= n;
}

/* Copy mode transmits on a sendto() (the kick). */
static void xdp_flush(void *be)
{
    struct xdp *x = be;
    if (x->tx_queued) {
        x->tx_queued = 0;
        while (sendto(xsk_socket__fd(x->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) <
                   0 &&
               errno == EINTR)
            ;
    }
    reclaim(x);
}

static uint8_t *xdp_tx_buf(void *be, size_t len)
{
    struct xdp *x = be;
    if (len > FRAME_SIZE)
        return NULL;
    if (!x->nfree)
        xdp_flush(x);
    if (!x->nfree || xsk_prod_nb_free(&x->tx, 1) < 1)
        return NULL;
    x->slot = x->free_tx[--x->nfree];
    return xsk_umem__get_data(x->area, x->slot);
}

static void xdp_tx_commit(void *be, size_t len)
{
    struct xdp *x = be;
    uint32_t idx = 0;
    /* tx_buf checked that a slot is free. */
    if (xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1) {
        x->free_tx[x->nfree++] = x->slot;
        return;
    }
    struct xdp_desc *d = xsk_ring_prod__tx_desc(&x->tx, idx);
    d->addr = x->slot;
    d->len = (uint32_t)len;
    xsk_ring_prod__submit(&x->tx, 1);
    x->tx_outstanding++;
    if (++x->tx_queued >= RING_SIZE / 4)
        xdp_flush(x);
}

static int xdp_send(void *be, const uint8_t *f, size_t len)
{
    uint8_t *b = xdp_tx_buf(be, len);
    if (!b)
        return -EAGAIN;
    memcpy(b, f, len);
    xdp_tx_commit(be, len);
    return 0;
}

static void xdp_close(void *be)
{
    struct xdp *x = be;
    if (x->attached) {
        /* Only ours: another program attached since stays. */
        LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = x->prog_fd);
        bpf_xdp_detach(x->ifindex, x->xdp_flags | XDP_FLAGS_REPLACE, &o);
    }
    if (x->xsk)
        xsk_socket__delete(x->xsk);
    if (x->umem)
        xsk_umem__delete(x->umem);
    if (x->area)
        munmap(x->area, (size_t)NUM_FRAMES * FRAME_SIZE);
    if (x->prog_fd >= 0)
        close(x->prog_fd);
    if (x->map_fd >= 0)
        close(x->map_fd);
    free(x);
}

static uint64_t xdp_rx_dropped(void *be)
{
    struct xdp *x = be;
    struct xdp_statistics st;
    socklen_t len = sizeof st;
    if (getsockopt(xsk_socket__fd(x->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) <
        0)
        return 0;
    return st.rx_dropped + st.rx_ring_full + st.rx_fill_ring_empty_descs;
}

static const struct rt_backend_ops xdp_ops = {
    .rx = xdp_rx,
    .send = xdp_send,
    .tx_buf = xdp_tx_buf,
    .tx_commit = xdp_tx_commit,
    .flush = xdp_flush,
    .close = xdp_close,
    .rx_dropped = xdp_rx_dropped,
};

/* ------------------------------------------------------------------------
 * Opening.
 */

static int xfail(struct xdp *x, char *err, size_t errlen, const char *ifname,
                 const char *what, int e)
{
    snprintf(err, errlen, "AF_XDP on %s: %s: %s%s", ifname, what,
             strerror(e < 0 ? -e : e),
             e == EPERM || e == -EPERM ? " (run as root)" : "");
    xdp_close(x);
    return -1;
}

static int open_umem(struct xdp *x)
{
    size_t size = (size_t)NUM_FRAMES * FRAME_SIZE;
    x->area = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (x->area == MAP_FAILED) {
        x->area = NULL;
        return -errno;
    }
    struct xsk_umem_config uc = {.fill_size = RING_SIZE,
                                 .comp_size = RING_SIZE,
                                 .frame_size = FRAME_SIZE,
                                 .frame_headroom = 0};
    return xsk_umem__create(&x->umem, x->area, size, &x->fill, &x->comp, &uc);
}

/* Native (driver) mode where the driver has it, else generic (skb) mode;
 * the socket copies in both. */
static int attach(struct xdp *x)
{
    static const uint32_t modes[] = {XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE};
    int rc = -EOPNOTSUPP;
    for (size_t i = 0; i < 2; i++) {
        uint32_t f = modes[i] | XDP_FLAGS_UPDATE_IF_NOEXIST;
        rc = bpf_xdp_attach(x->ifindex, x->prog_fd, f, NULL);
        if (rc == 0) {
            x->xdp_flags = modes[i];
            x->attached = true;
            return 0;
        }
    }
    return rc;
}

static void if_mac_mtu(const char *ifname, struct rt_backend *out)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname));
    if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
        memcpy(out->mac, ifr.ifr_hwaddr.sa_data, 6);
    if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0)
        out->mtu = (uint16_t)(ifr.ifr_mtu > 65535 ? 65535 : ifr.ifr_mtu);
    if (s >= 0)
        close(s);
}

int rt_xdp_open(const char *ifname, unsigned queue, uint32_t addr,
                struct rt_backend *out, char *err, size_t errlen)
{
    struct xdp *x = calloc(1, sizeof *x);
    char log[4096] = "";
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    x->prog_fd = x->map_fd = -1;
    memset(out, 0, sizeof *out);
    x->ifindex = (int)if_nametoindex(ifname);
    if (!x->ifindex)
        return xfail(x, err, errlen, ifname, "no such interface", errno);
    x->map_fd =
        bpf_map_create(BPF_MAP_TYPE_XSKMAP, "berth_xsks", 4, 4, 64, NULL);
    if (x->map_fd < 0)
        return xfail(x, err, errlen, ifname, "XSKMAP", errno);
    /* The address as the raw little-endian load of its wire bytes. */
    uint32_t raw = (addr >> 24) | ((addr >> 8) & 0xff00u) |
                   ((addr << 8) & 0xff0000u) | (addr << 24);
    x->prog_fd = load_program(x->map_fd, raw, log, sizeof log);
    if (x->prog_fd < 0)
        return xfail(x, err, errlen, ifname, "loading the XDP program", errno);
    int rc = open_umem(x);
    if (rc < 0)
        return xfail(x, err, errlen, ifname, "UMEM", rc);
    struct xsk_socket_config sc = {
        .rx_size = RING_SIZE,
        .tx_size = RING_SIZE,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
        .bind_flags = XDP_COPY,
    };
    rc = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx, &x->tx,
                            &sc);
    if (rc < 0)
        return xfail(x, err, errlen, ifname, "XDP socket", rc);
    int fd = xsk_socket__fd(x->xsk);
    uint32_t key = queue;
    if (bpf_map_update_elem(x->map_fd, &key, &fd, 0) < 0)
        return xfail(x, err, errlen, ifname, "XSKMAP entry", errno);
    rc = attach(x);
    if (rc < 0)
        return xfail(x, err, errlen, ifname,
                     "attaching the XDP program (another one is there?)", rc);
    for (uint64_t i = 0; i < RX_FRAMES; i++)
        refill(x, i * FRAME_SIZE);
    for (uint64_t i = RX_FRAMES; i < NUM_FRAMES; i++)
        x->free_tx[x->nfree++] = i * FRAME_SIZE;
    if_mac_mtu(ifname, out);
    out->ops = &xdp_ops;
    out->be = x;
    out->fd = fd;
    snprintf(out->desc, sizeof out->desc,
             "AF_XDP queue %u, copy mode, %s XDP, UMEM %u x %u B", queue,
             x->xdp_flags == XDP_FLAGS_DRV_MODE ? "native" : "generic",
             NUM_FRAMES, FRAME_SIZE);
    return 0;
}
