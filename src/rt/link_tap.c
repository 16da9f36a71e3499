/* The TAP backend (--link tap:NAME): a layer-2 device whose other side is
 * the kernel's interface NAME, configured like the TUN device (address,
 * netmask, MTU, up). Every read and write is one Ethernet frame; a wake-up
 * reads up to a batch of them. */
#include "link_rt.h"
#include "rt_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct tap {
    int fd;
    uint8_t buf[65536];
};

static int tap_rx(void *be, unsigned max, rt_frame_fn fn, void *ctx)
{
    struct tap *t = be;
    int got = 0;
    for (unsigned i = 0; i < max; i++) {
        ssize_t n = read(t->fd, t->buf, sizeof t->buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        fn(ctx, t->buf, (size_t)n, 0);
        got++;
    }
    return got;
}

/* A refused write (queue full, device down) is a loss the peer's
 * retransmission repairs, counted by the caller. */
static int tap_send(void *be, const uint8_t *f, size_t len)
{
    struct tap *t = be;
    ssize_t n;
    do
        n = write(t->fd, f, len);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -(errno ? errno : EIO);
}

static void tap_close(void *be)
{
    struct tap *t = be;
    close(t->fd);
    free(t);
}

static const struct rt_backend_ops tap_ops = {
    .rx = tap_rx,
    .send = tap_send,
    .close = tap_close,
};

/* The kernel side's hardware address (SIOCGIFHWADDR), for the record. */
static void read_mac(const char *name, uint8_t mac[6])
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
        memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    if (s >= 0)
        close(s);
}

int rt_tap_open(const char *name, const struct berth_rt_config *cfg, bool ipv6,
                struct rt_backend *out, char *err, size_t errlen)
{
    struct tap *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->fd < 0) {
        snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(errno));
        free(t);
        return -1;
    }
    /* Not persistent: the device goes when the descriptor closes. */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot attach TAP device %s: %s%s", name,
                 strerror(e),
                 e == EBUSY    ? " (another berth instance uses it?)"
                 : e == EPERM  ? " (run as root or give CAP_NET_ADMIN)"
                 : e == EINVAL ? " (a device of another kind has this name?)"
                               : "");
        tap_close(t);
        return -1;
    }
    /* With ipv6 the kernel side gets peer_addr6 as on TUN (its own DAD,
     * RAs and link-local address off): it resolves berth's address by
     * neighbour discovery, which berth answers (src/link/nd.c). */
    if (rt_tun_configure(name, cfg->peer_addr, cfg->peer_prefix, cfg->mtu, ipv6,
                         err, errlen) < 0 ||
        (ipv6 && rt_tun_configure6(name, cfg->peer_addr6, cfg->peer_prefix6,
                                   err, errlen) < 0)) {
        tap_close(t);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->ops = &tap_ops;
    out->be = t;
    out->fd = t->fd;
    out->mtu = cfg->mtu;
    read_mac(name, out->mac);
    snprintf(out->desc, sizeof out->desc, "TAP device, one frame per read");
    return 0;
}
