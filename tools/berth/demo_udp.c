/* berth command: `berth demo`'s last scene, UDP for contrast (RFC 768):
 * two berth stacks over the in-memory link in virtual time, a client that
 * sends datagrams to an echo server and one to a port nobody has, drawn
 * like the TCP ladder: no handshake, no acknowledgements, no close, and
 * the ICMP port unreachable that answers the last one. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "berth/memlink.h"
#include "demo.h"

#define MID     52 /* the width between the two lifelines */
#define ECHO    7
#define CLOSED  9
#define CLI_ADR 0xc6120001u

struct udemo {
    struct berth_memlink *link;
    struct berth_stack *st[2]; /* 0 client, 1 server */
    int sock[2];
    uint64_t last_ms; /* the time column shows each ms once */
    FILE *out;
};

static void row(struct udemo *u, const char *left, const char *mid,
                const char *right)
{
    uint64_t now = berth_memlink_time(u->link);
    char t[16] = "";
    if (now / 1000 != u->last_ms) {
        u->last_ms = now / 1000;
        snprintf(t, sizeof t, "%.3f", (double)now / 1000.0);
    }
    fprintf(u->out, "%9s%16s |%-*s|%s%s\n", t, left, MID, mid,
            *right ? " " : "", right);
}

/* A line of the middle column, centred. */
static void centred(char *buf, size_t size, const char *s)
{
    int pad = (MID - (int)strlen(s)) / 2;
    snprintf(buf, size, "%*s%s", pad > 0 ? pad : 0, "", s);
}

static void arrow(struct udemo *u, int from, const char *label)
{
    char mid[MID + 1], l[MID];
    int n = (int)strlen(label) + 2;
    int left = (MID - n) / 2, right = MID - n - left;
    snprintf(l, sizeof l, " %s ", label);
    memset(mid, '-', MID);
    mid[MID] = '\0';
    memcpy(mid + left, l, (size_t)n);
    if (from == 0)
        mid[MID - 1] = '>';
    else
        mid[0] = '<';
    (void)right;
    row(u, "", mid, "");
}

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    struct udemo *u = ctx;
    (void)now;
    (void)fate;
    if (len < 28 || (pkt[0] >> 4) != 4)
        return;
    size_t hl = (size_t)(pkt[0] & 15u) * 4u;
    const uint8_t *p = pkt + hl;
    char label[64], mid[MID + 1];
    if (pkt[9] == 17) {
        unsigned n = (unsigned)(p[4] << 8 | p[5]) - 8u;
        snprintf(label, sizeof label, "UDP %u > %u len=%u",
                 (unsigned)(p[0] << 8 | p[1]), (unsigned)(p[2] << 8 | p[3]), n);
        arrow(u, from, label);
        char q[40];
        snprintf(q, sizeof q, "\"%.*s\"", (int)(n < 24 ? n : 24), p + 8);
        centred(mid, sizeof mid, q);
        row(u, "", mid, "");
    } else if (pkt[9] == 1 && p[0] == 3) {
        snprintf(label, sizeof label, "ICMP unreachable (%s)",
                 p[1] == 3 ? "port" : "other");
        arrow(u, from, label);
        centred(mid, sizeof mid, "quoting the datagram");
        row(u, "", mid, "");
    }
}

static void settle(struct udemo *u)
{
    uint64_t now = berth_memlink_time(u->link);
    berth_memlink_run(u->link, &now, UINT64_MAX); /* until nothing moves */
}

static void client_send(struct udemo *u, int port, const char *text)
{
    struct berth_endpoint to = {.addr = 0xc6120002u, .port = (uint16_t)port};
    char what[48];
    snprintf(what, sizeof what, "send %zu B", strlen(text));
    row(u, what, "", "");
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
        row(u, "", "", what);
        snprintf(what, sizeof what, "sendto %d B", n);
        row(u, "", "", what);
        berth_sendto(u->st[1], u->sock[1], buf, (size_t)n, &from);
        settle(u);
    }
    while ((n = berth_recv(u->st[0], u->sock[0], buf, sizeof buf)) !=
           BERTH_EAGAIN) {
        if (n < 0)
            snprintf(what, sizeof what, "%s", berth_errname(n));
        else
            snprintf(what, sizeof what, "recv %d B", n);
        row(u, what, "", "");
        if (n < 0)
            break;
    }
}

void demo_print_udp(FILE *out)
{
    struct udemo u = {.out = out, .last_ms = UINT64_MAX};
    u.link = berth_memlink_create(11);
    if (!u.link)
        return;
    for (int side = 0; side < 2; side++) {
        struct berth_config cfg;
        berth_config_init(&cfg);
        cfg.addr = side ? 0xc6120002u : CLI_ADR;
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
    berth_bind(u.st[0], u.sock[0], 0, 40001);
    fprintf(out,
            "\nUDP, for contrast (RFC 768), over the in-memory link: a "
            "client sends\ndatagrams to an echo server on port %d and one "
            "to port %d, where nobody\nlistens. No handshake, no "
            "acknowledgements, no close: each send is one\ndatagram, sent "
            "at once; what is lost stays lost.\n\n",
            ECHO, CLOSED);
    fprintf(out, "%9s%16s |%*s| %s\n", "time ms", "client (berth)", MID, "",
            "server (udp-echo)");
    fprintf(out, "%9s%16s |%*s| %s\n", "", "198.18.0.1:40001", MID, "",
            "198.18.0.2:7");
    fprintf(out, "%9s%16s |%*s|\n", "", "", MID, "");
    berth_bind(u.st[1], u.sock[1], 0, ECHO);
    row(&u, "", "", "bind(:7)");
    client_send(&u, ECHO, "hello");
    pump(&u);
    client_send(&u, ECHO, "second datagram");
    pump(&u);
    /* A connected socket hears of port unreachable (as Linux). */
    berth_connect(u.st[0], u.sock[0], 0xc6120002u, CLOSED);
    row(&u, "connect(:9)", "", "");
    client_send(&u, CLOSED, "anyone?");
    pump(&u);
    for (int side = 0; side < 2; side++)
        berth_close(u.st[side], u.sock[side]);
    row(&u, "close()", "", "close()");
    fprintf(out,
            "\nNo SYN, no FIN, no TIME-WAIT: close() frees the socket at "
            "once, and both\nstacks hold %zu and %zu bytes.\n",
            berth_mem_bytes(u.st[0]), berth_mem_bytes(u.st[1]));
out:
    for (int side = 0; side < 2; side++)
        if (u.st[side])
            berth_stack_destroy(u.st[side]);
    berth_memlink_destroy(u.link);
}
