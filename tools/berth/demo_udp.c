/* berth command: `berth demo`'s last scene, UDP for contrast (RFC 768):
 * two berth stacks over the in-memory link in virtual time, a client that
 * sends datagrams to an echo server and one to a port nobody has, drawn
 * by the TCP demo's ladder model (ladder.c): no handshake, no
 * acknowledgements, no close, and the ICMP port unreachable that answers
 * the last one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "berth/memlink.h"
#include "demo.h"
#include "ladder.h"

#define ECHO    7
#define CLOSED  9
#define CLI_ADR 0xc6120001u
#define SRV_ADR 0xc6120002u
#define CLI_PRT 40001

struct udemo {
    struct berth_memlink *link;
    struct berth_stack *st[2]; /* 0 client, 1 server */
    int sock[2];
    struct ladder *ld; /* the one ladder model, drawing datagrams */
};

/* A call beside side's timeline, now. */
static void call(struct udemo *u, int side, const char *what)
{
    ladder_call(u->ld, side, berth_memlink_time(u->link), what);
}

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    struct udemo *u = ctx;
    ladder_datagram(u->ld, from, now, pkt, len, fate & BERTH_MEMLINK_FATE_LOST);
}

static void settle(struct udemo *u)
{
    uint64_t now = berth_memlink_time(u->link);
    berth_memlink_run(u->link, &now, UINT64_MAX); /* until nothing moves */
}

static void client_send(struct udemo *u, int port, const char *text)
{
    struct berth_endpoint to = {.addr = SRV_ADR, .port = (uint16_t)port};
    char what[48];
    snprintf(what, sizeof what, "send %zu B", strlen(text));
    call(u, 0, what);
    berth_sendto(u->st[0], u->sock[0], text, strlen(text), &to);
    settle(u);
}

/* The server echoes what it has; the client reads what came back. */
static void pump(struct udemo *u)
{
    char buf[256], what[48];
    struct berth_endpoint from;
    int n;
    while ((n = berth_recvfrom(u->st[1], u->sock[1], buf, sizeof buf, &from)) >=
           0) {
        snprintf(what, sizeof what, "recvfrom %d B", n);
        call(u, 1, what);
        snprintf(what, sizeof what, "sendto %d B", n);
        call(u, 1, what);
        berth_sendto(u->st[1], u->sock[1], buf, (size_t)n, &from);
        settle(u);
    }
    while ((n = berth_recv(u->st[0], u->sock[0], buf, sizeof buf)) !=
           BERTH_EAGAIN) {
        if (n < 0)
            snprintf(what, sizeof what, "%s", berth_errname(n));
        else
            snprintf(what, sizeof what, "recv %d B", n);
        call(u, 0, what);
        if (n < 0)
            break;
    }
}

void demo_print_udp(FILE *out)
{
    struct udemo u = {0};
    struct cap_addr cli = cap_addr_v4(CLI_ADR, CLI_PRT);
    struct cap_addr srv = cap_addr_v4(SRV_ADR, ECHO);
    u.link = berth_memlink_create(11);
    u.ld = ladder_create(false);
    if (!u.link || !u.ld)
        goto out;
    ladder_lock(u.ld, &cli, &srv);
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side ? SRV_ADR : CLI_ADR;
        cfg.tx = berth_memlink_tx;
        cfg.tx_ctx = berth_memlink_tx_ctx(u.link, side);
        cfg.seed = 7 + (uint64_t)side;
        u.st[side] = berth_stack_create(&cfg, 0);
        if (!u.st[side])
            goto out;
        berth_memlink_attach(u.link, side, u.st[side]);
        u.sock[side] = berth_udp_socket(u.st[side]);
    }
    berth_memlink_set_tap(u.link, tap, &u);
    berth_bind(u.st[0], u.sock[0], 0, CLI_PRT);
    berth_bind(u.st[1], u.sock[1], 0, ECHO);
    call(&u, 1, "bind(:7)");
    client_send(&u, ECHO, "hello");
    pump(&u);
    client_send(&u, ECHO, "second datagram");
    pump(&u);
    /* A connected socket hears of port unreachable (as Linux). */
    berth_connect(u.st[0], u.sock[0], SRV_ADR, CLOSED);
    call(&u, 0, "connect(:9)");
    client_send(&u, CLOSED, "anyone?");
    pump(&u);
    for (int side = 0; side < 2; side++) {
        berth_close(u.st[side], u.sock[side]);
        call(&u, side, "close()");
    }
    fprintf(out,
            "\nUDP, for contrast (RFC 768), over the in-memory link: a "
            "client sends\ndatagrams to an echo server on port %d and one "
            "to port %d, where nobody\nlistens. No handshake, no "
            "acknowledgements, no close: each send is one\ndatagram, sent "
            "at once; what is lost stays lost.\n\n",
            ECHO, CLOSED);
    ladder_print(u.ld, out, "client (berth)", "server (udp-echo)");
    fprintf(out,
            "\nNo SYN, no FIN, no TIME-WAIT: close() frees the socket at "
            "once, and both\nstacks hold %zu and %zu bytes.\n",
            berth_mem_bytes(u.st[0]), berth_mem_bytes(u.st[1]));
out:
    for (int side = 0; side < 2; side++)
        if (u.st[side])
            berth_stack_destroy(u.st[side]);
    if (u.link)
        berth_memlink_destroy(u.link);
    ladder_destroy(u.ld);
}
