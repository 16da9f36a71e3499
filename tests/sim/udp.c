/* UDP beside the TCP connections of a world (RFC 768): side 0 sends a
 * seeded number of datagrams of seeded sizes, spread over the world's
 * first seconds, from a connected socket to side 1's echo socket, which
 * sends each back. Every datagram either side's application reads must be
 * one that was sent, whole and intact (the link corrupts, duplicates,
 * reorders and drops: UDP must let none of that through except the loss,
 * the duplicate and the order), and each side must read exactly the
 * intact copies the link delivered to its port (the receive tap counts
 * them). At the end both sockets close and nothing may be left. */
#include "sim.h"

#include <string.h>

#define UDP_PORT_ECHO 5353
#define UDP_MAX_LEN   2000u /* payload bytes; a header of 8 in front */
#define UDP_MAX_N     300u

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

void sim_udp_plan(struct world *w)
{
    struct sim_udp *u = &w->udp;
    uint64_t d = w->seed ^ 0x75647064617461ull; /* its own stream */
    memset(u, 0, sizeof *u);
    u->sock[0] = u->sock[1] = -1;
    u->dice = rnd_next(&d);
    u->content = rnd_next(&d);
    u->n = rnd_pct(&d, 25) ? 0 : (uint32_t)rnd_range(&d, 1, UDP_MAX_N);
    u->gap = rnd_log(&d, 100, 50 * SIM_MS);
}

static void udp_open(struct world *w)
{
    struct sim_udp *u = &w->udp;
    for (int side = 1; side >= 0; side--) {
        int h = berth_udp_socket(w->st[side]);
        if (h < 0) {
            world_fail(w, INV_API, "berth_udp_socket: %s", berth_errname(h));
            return;
        }
        u->sock[side] = h;
        world_map_sock(w, side, h, 3, side);
    }
    int r = berth_bind(w->st[1], u->sock[1], 0, UDP_PORT_ECHO);
    if (r == 0)
        r = berth_connect(w->st[0], u->sock[0], SIM_ADDR(1), UDP_PORT_ECHO);
    if (r != 0)
        world_fail(w, INV_API, "UDP bind/connect: %s", berth_errname(r));
    struct berth_endpoint ep = {0};
    berth_getsockname(w->st[0], u->sock[0], &ep);
    u->port0 = ep.port;
    u->next_at = w->now;
}

uint64_t sim_udp_next(const struct world *w)
{
    const struct sim_udp *u = &w->udp;
    return u->sent < u->n && u->sock[0] >= 0 ? u->next_at : UINT64_MAX;
}

void sim_udp_run(struct world *w)
{
    struct sim_udp *u = &w->udp;
    if (u->n && u->sock[0] < 0 && !u->closed)
        udp_open(w);
    static uint8_t buf[8 + UDP_MAX_LEN];
    for (unsigned k = 0; k < 64 && u->sent < u->n && u->next_at <= w->now;
         k++) {
        uint32_t len = (uint32_t)rnd_log(&u->dice, 1, UDP_MAX_LEN + 1) - 1;
        put32(buf, u->sent);
        put32(buf + 4, len);
        stream_fill(u->content ^ u->sent, 0, buf + 8, len);
        int r = berth_send(w->st[0], u->sock[0], buf, 8 + len);
        if (r != (int)(8 + len))
            world_fail(w, INV_API, "UDP send of %u bytes: %d", 8 + len, r);
        u->sent++;
        u->next_at = w->now + rnd_range(&u->dice, 0, u->gap);
    }
}

/* A datagram an application read: one that was sent, whole and intact. */
static bool udp_intact(struct world *w, int side, const uint8_t *b, int n)
{
    struct sim_udp *u = &w->udp;
    uint32_t idx = n >= 8 ? get32(b) : 0, len = n >= 8 ? get32(b + 4) : 0;
    if (n < 8 || idx >= u->sent || len + 8 != (uint32_t)n ||
        stream_check(u->content ^ idx, 0, b + 8, len) != len) {
        world_fail(w, INV_DATA,
                   "side %d read a UDP datagram of %d bytes that was not "
                   "sent so (index %u, length %u)",
                   side, n, idx, len);
        return false;
    }
    return true;
}

void sim_udp_kick(struct world *w, int side)
{
    struct sim_udp *u = &w->udp;
    static uint8_t buf[8 + UDP_MAX_LEN + 64];
    for (unsigned k = 0; k < 4096 && u->sock[side] >= 0; k++) {
        struct berth_endpoint from;
        int n =
            berth_recvfrom(w->st[side], u->sock[side], buf, sizeof buf, &from);
        if (n == BERTH_EAGAIN)
            return;
        if (n < 0) { /* no port unreachable can come: both ports exist */
            world_fail(w, INV_ERROR, "side %d: UDP recv: %s", side,
                       berth_errname(n));
            return;
        }
        u->read[side]++;
        if (!udp_intact(w, side, buf, n))
            continue;
        if (side == 1 &&
            berth_sendto(w->st[1], u->sock[1], buf, (size_t)n, &from) != n)
            world_fail(w, INV_API, "UDP echo of %d bytes failed", n);
    }
}

bool sim_udp_rx(struct world *w, int to, const uint8_t *pkt, size_t len,
                bool corrupted)
{
    struct sim_udp *u = &w->udp;
    if (len < 28 || (pkt[0] >> 4) != 4 || pkt[9] != 17)
        return false;
    size_t hl = (size_t)(pkt[0] & 15u) * 4u;
    if (hl + 8 > len)
        return true;
    uint16_t dport = (uint16_t)(pkt[hl + 2] << 8 | pkt[hl + 3]);
    if (!corrupted && u->sock[to] >= 0 &&
        dport == (to == 1 ? UDP_PORT_ECHO : u->port0))
        u->delivered[to]++;
    return true;
}

void sim_udp_close(struct world *w)
{
    struct sim_udp *u = &w->udp;
    u->closed = true;
    if (u->n)
        world_log(w, 0,
                  "udp: %u datagrams sent, %llu echoed back of %llu read by "
                  "the echo",
                  u->sent, (unsigned long long)u->read[0],
                  (unsigned long long)u->read[1]);
    for (int side = 0; side < 2; side++) {
        if (u->sock[side] < 0)
            continue;
        sim_udp_kick(w, side); /* what is queued is read first */
        world_unmap_sock(w, side, u->sock[side]);
        berth_close(w->st[side], u->sock[side]);
        u->sock[side] = -1;
    }
}

void sim_udp_check(struct world *w)
{
    struct sim_udp *u = &w->udp;
    for (int side = 0; side < 2; side++) {
        uint64_t in = berth_counter(w->st[side], BERTH_CTR_UDP_IN);
        if (u->read[side] != u->delivered[side] || in != u->read[side])
            world_fail(w, INV_COUNTER,
                       "side %d: the link delivered %llu intact UDP copies, "
                       "the stack took %llu, the application read %llu",
                       side, (unsigned long long)u->delivered[side],
                       (unsigned long long)in,
                       (unsigned long long)u->read[side]);
    }
    uint64_t out0 = berth_counter(w->st[0], BERTH_CTR_UDP_OUT);
    if (out0 != u->sent)
        world_fail(w, INV_COUNTER, "UDP_OUT %llu, datagrams sent %u",
                   (unsigned long long)out0, u->sent);
}
