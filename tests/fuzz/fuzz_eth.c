/* libFuzzer target for the Ethernet interface (src/link/): frames from the
 * wire (Ethernet II, 802.1Q, ARP) interleaved with datagrams from the stack
 * and the passing of time, on a small cache (8 entries, 2 packets queued
 * each) so that eviction, queue overflow and every timer run. The input is
 * records: 1 byte of kind, 2 bytes of length (big-endian), the bytes.
 *   kind % 3 == 0  a received frame
 *   kind % 3 == 1  an IPv4 datagram to send; its first 4 bytes choose the
 *                  destination in 198.18.0.0/24 or off-link; with bit 1
 *                  of the length an IPv6 one, to fd00::/64 or off-link
 * The interface has IPv6 too (fd00::2, DAD, neighbour discovery), with
 * Router Advertisements accepted when the first byte has bit 6.
 *   kind % 3 == 2  time passes: the length field is milliseconds
 * Invariants after every record: the cache holds at most its bound, every
 * queued packet is accounted (no leak), every frame sent is at least 60
 * bytes and at most the MTU plus the headers. */
#include "berth/link.h"
#include "link/link_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fz_send(void *drv, const uint8_t *f, size_t len)
{
    (void)drv, (void)f;
    if (len < ETH_MIN_FRAME || len > 1500 + ETH_HDR_LEN + ETH_VLAN_LEN)
        abort();
    return 0;
}

static void fz_deliver(void *ctx, const uint8_t *pkt, size_t len,
                       uint32_t flags, uint64_t now)
{
    (void)ctx, (void)pkt, (void)len, (void)flags, (void)now;
}

static void add_queued(void *ctx, const struct berth_neigh_info *n)
{
    *(size_t *)ctx += n->queued;
}

static void check(struct berth_eth *e)
{
    size_t queued = 0;
    berth_eth_foreach_neigh(e, add_queued, &queued);
    if (e->neigh.n > e->cfg.neigh_max || e->mem.allocs != 2 + queued)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_eth_config cfg;
    berth_eth_config_init(&cfg);
    cfg.neigh_max = 8;
    cfg.queue_max = 2;
    cfg.gateway = 0xc61200feu;
    cfg.vlan = size && (data[0] & 0x80) ? 42 : 0;
    cfg.has_addr6 = true;
    cfg.addr6[0] = 0xfd;
    cfg.addr6[15] = 2;
    cfg.gateway6[0] = 0xfe;
    cfg.gateway6[1] = 0x80;
    cfg.gateway6[15] = 0xfe;
    cfg.accept_ra = size && (data[0] & 0x40);
    struct berth_link link = {.kind = BERTH_LINK_ETHERNET,
                              .mtu = 1500,
                              .mac = {0x02, 0xbe, 0xc6, 0x12, 0x00, 0x02},
                              .send = fz_send};
    struct berth_eth *e = berth_eth_create(&cfg, &link, fz_deliver, NULL);
    if (!e)
        abort();
    uint64_t now = 1000000;
    berth_eth_start(e, now);
    uint8_t pkt[1500];
    for (size_t i = 0; i + 3 <= size;) {
        unsigned kind = data[i] % 3;
        size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
        i += 3;
        if (kind == 2) {
            now += len * 1000;
            berth_eth_advance(e, now);
            check(e);
            continue;
        }
        if (len > size - i)
            len = size - i;
        if (kind == 0) {
            berth_eth_input(e, data + i, len, now);
        } else if (len & 2) {
            size_t n = len < 40 ? 40 : len > sizeof pkt ? sizeof pkt : len;
            memset(pkt, 0, n);
            memcpy(pkt, data + i, len < n ? len : n);
            pkt[0] = 0x60;
            /* fd00::1 to ::f, or 2001:db8:: through the gateway */
            memset(pkt + 24, 0, 16);
            pkt[24] = len & 1 ? 0xfd : 0x20;
            pkt[39] = (uint8_t)(len >= 40 ? data[i + 39] % 16 : 1);
            berth_eth_output(e, pkt, n, now);
        } else {
            size_t n = len < 20 ? 20 : len > sizeof pkt ? sizeof pkt : len;
            memset(pkt, 0, n);
            memcpy(pkt, data + i, len < n ? len : n);
            pkt[0] = 0x45;
            /* .1 to .15 of the subnet, or off-link through the gateway */
            pkt[16] = len & 1 ? 198 : 8;
            pkt[17] = 18;
            pkt[18] = 0;
            pkt[19] = (uint8_t)(len >= 20 ? data[i + 19] % 16 : 1);
            berth_eth_output(e, pkt, n, now);
        }
        i += len;
        check(e);
        if (berth_eth_next_deadline(e) < now)
            abort(); /* a deadline in the past: advance did not run it */
    }
    berth_eth_destroy(e);
    return 0;
}
