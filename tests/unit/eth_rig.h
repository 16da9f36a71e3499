/* The Ethernet interface under test in test_arp and test_nd: a recording
 * driver that keeps every frame the interface sends, the stack's side
 * counting what it delivers, and the teardown that checks nothing was lost
 * track of. Virtual time: each call passes its own `now`. Include after
 * cmocka.h. */
#ifndef BERTH_TEST_ETH_RIG_H
#define BERTH_TEST_ETH_RIG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "berth/link.h"
#include "link/link_impl.h"

#define MAXF 64 /* frames one test may send */

static const uint8_t MAC_US[6] = {0x02, 0xbe, 0x00, 0x00, 0x00, 0x02};
static const uint8_t MAC_PEER[6] = {0x02, 0x4b, 0x00, 0x00, 0x00, 0x01};
static const uint8_t MAC_OTHER[6] = {0x02, 0x66, 0x00, 0x00, 0x00, 0x09};

/* The recording driver and the stack's side. */
struct rig {
    uint8_t frames[MAXF][1600];
    size_t flen[MAXF];
    size_t nframes;
    size_t delivered;
    struct berth_eth *e;
};

static inline int rec_send(void *drv, const uint8_t *f, size_t len)
{
    struct rig *r = drv;
    assert_true(r->nframes < MAXF);
    assert_true(len <= sizeof r->frames[0]);
    memcpy(r->frames[r->nframes], f, len);
    r->flen[r->nframes++] = len;
    return 0;
}

static inline void rec_deliver(void *ctx, const uint8_t *pkt, size_t len,
                               uint32_t flags, uint64_t now)
{
    (void)pkt, (void)len, (void)flags, (void)now;
    struct rig *r = ctx;
    r->delivered++;
}

/* An interface with MAC_US on a fresh rig (one at a time: it is static). */
static inline struct rig *rig_new(const struct berth_eth_config *cfg)
{
    static struct rig rig;
    memset(&rig, 0, sizeof rig);
    struct berth_link link = {.kind = BERTH_LINK_ETHERNET,
                              .mtu = 1500,
                              .send = rec_send,
                              .drv = &rig};
    memcpy(link.mac, MAC_US, 6);
    rig.e = berth_eth_create(cfg, &link, rec_deliver, &rig);
    assert_non_null(rig.e);
    return &rig;
}

static inline void add_queued(void *ctx, const struct berth_neigh_info *n)
{
    *(size_t *)ctx += n->queued;
}

/* Frees the interface; its accounted memory is the table, the scratch
 * frame and one block per queued packet (nothing lost track of). */
static inline void rig_done(struct rig *r)
{
    struct berth_eth *e = r->e;
    size_t queued = 0;
    berth_eth_foreach_neigh(e, add_queued, &queued);
    assert_int_equal(e->mem.allocs, 2 + queued);
    berth_eth_destroy(e);
}

static inline uint64_t ctr(struct rig *r, enum berth_eth_counter c)
{
    return berth_eth_counter(r->e, c);
}

#endif
