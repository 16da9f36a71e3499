/* libFuzzer target for the packet input path (docs/ARCHITECTURE.md): a stack
 * with a listener and a connecting socket is fed the input as a sequence of
 * packets with advancing virtual time, then its timers are run out.
 *
 * Input format, repeated until the input ends:
 *   len (2 bytes, big-endian) | ctl (1 byte) | len bytes: one IPv4 packet
 * ctl & 0x7f = d: virtual time advances d*d ms before the packet (0..16 s,
 * so retransmission and delayed-ACK timers fire between packets);
 * ctl & 0x80: send the bytes as they are. Without it, the IPv4 header and
 * TCP checksums are recomputed first, so that mutations reach the state
 * machine instead of dying at the checksum check (which the unit tests
 * cover).
 *
 * The peer is 198.18.0.1. The stack (198.18.0.2) listens on port 80 and
 * connects from port 40000 to 198.18.0.1:80; every ISN is FUZZ_ISN, so an
 * input can carry acceptable ACKs. Every packet the stack transmits must
 * decode cleanly (TCP, or ICMP answers: echo replies, unreachables), or
 * the target aborts.
 *
 * Built with FUZZ_IPV6=1 it is the input6 target: the stack has IPv6 too
 * (2001:db8:b::2), listens on [::]:80 (dual stack, so IPv4 still reaches
 * it), connects from port 40000 to [2001:db8:b::1]:80, and the records are
 * IPv6 packets (extension headers and all; checksums fixed through them
 * unless ctl & 0x80). */
#include "berth/berth.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PEER        0xc6120001u /* 198.18.0.1 */
#define FUZZ_LISTEN_PORT 80u
#define FUZZ_CLIENT_PORT 40000u
#define FUZZ_ISN         1000u
#define FUZZ_MAX_PACKETS 512u     /* bounds the work per input */
#define FUZZ_MAX_TIMERS  64u      /* timer runs after the last packet */
#define FUZZ_START       1000000u /* us: virtual time at creation */
#ifndef FUZZ_IPV6
#define FUZZ_IPV6 0
#endif
/* 2001:db8:b::2 (ours) and ::1 (the peer), RFC 3849. */
static const uint8_t fuzz_addr6[2][16] = {
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 2},
    {0x20, 0x01, 0x0d, 0xb8, 0, 0x0b, [15] = 1},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
    struct berth_stack *s;
    int listener;
    uint8_t buf[2048]; /* receive scratch */
};

/* Everything the stack sends must be a well-formed IPv4/TCP packet. */
static void fuzz_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    (void)ctx;
    if (!fuzz_valid_output(pkt, len))
        abort();
}

static uint32_t fuzz_isn(void *ctx, struct berth_endpoint local,
                         struct berth_endpoint remote, uint64_t now)
{
    (void)ctx;
    (void)local;
    (void)remote;
    (void)now;
    return FUZZ_ISN;
}

/* Acts like a small server and client, so that accept, receive, send and
 * close paths run: accept and greet, read what arrives, close on EOF or
 * error. Every loop is bounded. */
static void fuzz_event(void *ctx, int sock, uint32_t events)
{
    struct fuzz_ctx *f = ctx;
    if (sock == f->listener) {
        for (int i = 0; i < 4; i++) {
            int c = berth_accept(f->s, sock, NULL);
            if (c < 0)
                break;
            berth_send(f->s, c, "hello\n", 6);
        }
        return;
    }
    if (events & BERTH_EV_READABLE) {
        for (int i = 0; i < 4; i++) {
            int n = berth_recv(f->s, sock, f->buf, sizeof(f->buf));
            if (n == 0) {
                berth_close(f->s, sock);
                return;
            }
            if (n < 0)
                break;
        }
    }
    if (events & BERTH_EV_ERROR) {
        berth_sock_error(f->s, sock);
        berth_close(f->s, sock);
    }
}

/* Opens the listener and the connecting socket. */
static void open_sockets(struct fuzz_ctx *f, uint32_t addr)
{
    struct berth_endpoint any6 =
        berth_endpoint_v6((uint8_t[16]){0}, FUZZ_LISTEN_PORT);
    struct berth_endpoint peer6 =
        berth_endpoint_v6(fuzz_addr6[1], FUZZ_LISTEN_PORT);
    struct berth_endpoint ours6 =
        berth_endpoint_v6(fuzz_addr6[0], FUZZ_CLIENT_PORT);
    f->listener = berth_socket(f->s);
    if (FUZZ_IPV6)
        berth_bind_endpoint(f->s, f->listener, &any6);
    else
        berth_bind(f->s, f->listener, addr, FUZZ_LISTEN_PORT);
    berth_listen(f->s, f->listener, 8);
    int c = berth_socket(f->s);
    if (FUZZ_IPV6) {
        berth_bind_endpoint(f->s, c, &ours6);
        berth_connect_endpoint(f->s, c, &peer6);
    } else {
        berth_bind(f->s, c, addr, FUZZ_CLIENT_PORT);
        berth_connect(f->s, c, FUZZ_PEER, FUZZ_LISTEN_PORT);
    }
}

/* Feeds the records of data; returns the virtual time reached. */
static uint64_t feed_packets(struct fuzz_ctx *f, const uint8_t *data,
                             size_t size, uint64_t now)
{
    uint8_t *pkt = malloc(UINT16_MAX);
    if (!pkt)
        return now;
    for (unsigned n = 0; n < FUZZ_MAX_PACKETS && size >= 3; n++) {
        size_t len = (size_t)data[0] << 8 | data[1];
        uint8_t ctl = data[2];
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        uint64_t d = ctl & 0x7fu;
        now += d * d * 1000u;
        berth_advance(f->s, now);
        memcpy(pkt, data, len);
        if (!(ctl & 0x80u))
            fuzz_fix_checksums(pkt, len);
        berth_input(f->s, pkt, len, now);
        data += len;
        size -= len;
    }
    free(pkt);
    return now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_ctx *f = calloc(1, sizeof(*f));
    if (!f)
        return 0;
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.max_sockets = 64; /* small tables: fast runs */
    cfg.tx = fuzz_tx;
    cfg.tx_ctx = f;
    cfg.event = fuzz_event;
    cfg.event_ctx = f;
    cfg.isn = fuzz_isn;
    cfg.seed = 1;
    memset(cfg.secret, 0x5a, sizeof(cfg.secret));
    if (FUZZ_IPV6)
        memcpy(cfg.addr6, fuzz_addr6[0], 16);
    uint64_t now = FUZZ_START;
    f->s = berth_stack_create(&cfg, now);
    if (!f->s) {
        free(f);
        return 0;
    }
    open_sockets(f, cfg.addr);
    now = feed_packets(f, data, size, now);
    /* Run the timers out: retransmissions, keepalives, TIME-WAIT. */
    for (unsigned i = 0; i < FUZZ_MAX_TIMERS; i++) {
        uint64_t deadline = berth_next_deadline(f->s);
        if (deadline == UINT64_MAX)
            break;
        if (deadline > now)
            now = deadline;
        berth_advance(f->s, now);
    }
    berth_stack_destroy(f->s);
    free(f);
    return 0;
}
