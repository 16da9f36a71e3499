/* The runtime's Ethernet links (link_eth.c and the backends link_tap.c,
 * link_packet.c, link_xdp.c): a backend moves frames between a device and
 * the runtime; link_eth.c puts the core's Ethernet interface (src/link/)
 * between the backend and the stack, with capture and impairment on the
 * frames. The TUN device keeps its own path (tun.c, loop.c). */
#ifndef BERTH_RT_LINK_RT_H
#define BERTH_RT_LINK_RT_H

#include "berth/link.h"
#include "berth/rt.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_rt;

/* flags: BERTH_IN_* for the frame (BERTH_IN_CSUM_OK: the device verified
 * its checksums, or the kernel sent it with checksums left to offload). */
typedef void (*rt_frame_fn)(void *ctx, const uint8_t *frame, size_t len,
                            uint32_t flags);

/* One backend: a device and the operations on it. Receiving hands up to
 * `max` frames to fn (valid during the call) and returns how many, 0 when
 * none was waiting, or -errno. send() copies the frame into the device's
 * queue (a ring slot, or a write); tx_buf/tx_commit write in place (NULL:
 * not offered); flush() pushes what was queued (one syscall per batch). */
struct rt_backend_ops {
    int (*rx)(void *be, unsigned max, rt_frame_fn fn, void *ctx);
    int (*send)(void *be, const uint8_t *frame, size_t len);
    uint8_t *(*tx_buf)(void *be, size_t len);
    void (*tx_commit)(void *be, size_t len);
    void (*flush)(void *be);
    void (*close)(void *be);
    /* Optional: frames the device dropped before berth read them (its
     * ring was full), since opening. */
    uint64_t (*rx_dropped)(void *be);
};

struct rt_backend {
    const struct rt_backend_ops *ops;
    void *be;
    int fd;         /* what the loop polls for received frames */
    uint8_t mac[6]; /* the device's own address */
    uint16_t mtu;   /* the device's MTU */
    char desc[96];  /* "AF_PACKET TPACKET_V3 rings rx 4 MiB tx 4 MiB" */
};

/* The link spec: "tun:NAME", "tap:NAME", "packet:IFACE",
 * "xdp:IFACE[:QUEUE]"; a bare NAME is tun:NAME. 0, or -1 with a message. */
enum rt_link_kind { RT_LINK_TUN, RT_LINK_TAP, RT_LINK_PACKET, RT_LINK_XDP };
struct rt_link_spec {
    enum rt_link_kind kind;
    char ifname[16];
    unsigned queue; /* xdp */
};
int rt_link_parse(const char *spec, struct rt_link_spec *out, char *err,
                  size_t errlen);
const char *rt_link_kind_name(enum rt_link_kind k);

/* The backends: 0 with *out filled, or -1 with a one-line message. */
int rt_tap_open(const char *name, const struct berth_rt_config *cfg, bool ipv6,
                struct rt_backend *out, char *err, size_t errlen);
int rt_packet_open(const char *ifname, struct rt_backend *out, char *err,
                   size_t errlen);
int rt_xdp_open(const char *ifname, unsigned queue, uint32_t addr,
                struct rt_backend *out, char *err, size_t errlen);

/* link_eth.c, called by runtime.c and loop.c when cfg.link names an
 * Ethernet link (rt->link non-NULL). */
struct rt_link;
/* Whether the config asks for an Ethernet link (tap, packet, xdp). */
bool rt_link_wanted(const struct berth_rt_config *cfg);
/* Opens the backend and the Ethernet interface; rt->tunfd becomes the
 * backend's fd. 0, or -1 with a message. */
int rt_link_open(struct berth_rt *rt, char *err, size_t errlen);
void rt_link_close(struct berth_rt *rt);
/* The stack's tx hook on an Ethernet link. */
void rt_link_stack_tx(void *ctx, const uint8_t *pkt, size_t len);
/* Receive a batch (the loop's readable fd). 0 or -errno. */
int rt_link_rx(struct berth_rt *rt);
/* After the receive impairment: one frame into the interface, behind the
 * 4 bytes of its flags (host order), which travel with it through the
 * impairment's queue. */
void rt_link_deliver(struct berth_rt *rt, const uint8_t *frame, size_t len);
/* After the transmit impairment: one frame to the backend. */
void rt_link_write(struct berth_rt *rt, const uint8_t *frame, size_t len);
/* Once per loop iteration: the interface's timers, then the batch out. */
void rt_link_service(struct berth_rt *rt);
uint64_t rt_link_next_deadline(const struct berth_rt *rt);
/* Control commands "route", "neigh" (any link) and the Ethernet part of
 * "stat": true when the line was one of them. */
bool rt_link_command(struct berth_rt *rt, const char *line, FILE *out);
void rt_link_print_stat(struct berth_rt *rt, FILE *out);
/* `stat --json`'s part: ',\n  "ethernet": {"RX_FRAMES": n, ...}' on an
 * Ethernet link, nothing on TUN. */
void rt_link_print_stat_json(struct berth_rt *rt, FILE *out);

#endif
