/* berth-ladder: one short TCP connection between two berth stacks over the
 * in-memory link, drawn as a textbook ladder diagram — every segment, every
 * state change and every application call, in virtual time — followed by
 * the counters and the memory each stack holds. Public API only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"
#include "berth/memlink.h"

#define CLIENT_ADDR 0xc6120001u /* 198.18.0.1 */
#define SERVER_ADDR 0xc6120002u /* 198.18.0.2 */
#define SERVER_PORT 80

/* Layout: time | client column | arrow area | server column: 96 columns. */
#define TIME_W       10
#define COL_W        12
#define MID_W        56
#define GAP_US       1000000u /* a silence this long gets a "... later ..." row */
#define RUN_LIMIT_US (60ull * 60 * 1000000) /* virtual time bound: 1 h */

static const char REQUEST[] = "GET / HTTP/1.0\r\n\r\n";
static const char REPLY[] = "HTTP/1.0 200 OK\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 42\r\n"
                            "\r\n"
                            "Hello from berth, in virtual time.\r\n";

struct options {
    bool absolute;
    bool verbose;
    uint64_t seed;
    double loss; /* 0..1, each direction */
    uint64_t delay_us;
};

/* What one side has sent, to print relative numbers and spot
 * retransmissions the way Wireshark does. */
struct flow {
    bool have_isn;
    uint32_t isn;
    uint32_t snd_max; /* highest seq + len (+SYN, FIN) sent, minus isn */
};

struct app {
    struct ladder *ld;
    int side; /* 0 client, 1 server */
    struct berth_stack *st;
    int listener; /* server only, else -1 */
    int conn;     /* the connection's handle, or -1 once closed */
    bool sent;    /* request (client) or reply (server) queued */
    char buf[512];
    size_t got;
};

struct ladder {
    struct options opt;
    FILE *out;
    struct berth_memlink *link;
    struct app app[2];
    struct flow flow[2];
    struct berth_endpoint client;         /* the client's address and port */
    uint32_t msl;                         /* the stacks' MSL, µs */
    size_t base_bytes[2], base_allocs[2]; /* right after creation */
    uint64_t last_t; /* time of the last printed row, UINT64_MAX if none */
    bool failed;
};

/* ---------------------------------------------------------------------- */
/* Rows. */

static void print_time(struct ladder *ld, uint64_t t)
{
    if (ld->last_t != UINT64_MAX && t > ld->last_t &&
        t - ld->last_t >= GAP_US) {
        char note[64];
        snprintf(note, sizeof(note), "... %.3f s later ...",
                 (double)(t - ld->last_t) / 1e6);
        fprintf(ld->out, "%*s  %*s :%*s%*s:\n", TIME_W, "", COL_W, "",
                (int)(MID_W + strlen(note)) / 2, note,
                MID_W - (int)(MID_W + strlen(note)) / 2, "");
    }
    if (t == ld->last_t)
        fprintf(ld->out, "%*s", TIME_W, "");
    else
        fprintf(ld->out, "%*.3f", TIME_W, (double)t / 1000.0);
    ld->last_t = t;
}

/* One row: text in the client column, the middle (exactly MID_W wide, or
 * NULL for the two timelines only), text in the server column. */
static void row(struct ladder *ld, uint64_t t, const char *left,
                const char *mid, const char *right)
{
    print_time(ld, t);
    fprintf(ld->out, "  %*s |%-*s|%s%s\n", COL_W, left ? left : "", MID_W,
            mid ? mid : "", right ? " " : "", right ? right : "");
}

/* Centres `text` in the middle area, or pushes it towards one side
 * (align -1 left, +1 right). */
static void mid_note(char *mid, const char *text, int align)
{
    size_t n = strlen(text);
    if (n > MID_W - 2)
        n = MID_W - 2;
    size_t at = align < 0 ? 1 : align > 0 ? MID_W - 1 - n : (MID_W - n) / 2;
    memset(mid, ' ', MID_W);
    memcpy(mid + at, text, n);
    mid[MID_W] = '\0';
}

/* An arrow across the middle with `label` in it. A lost packet's arrow
 * stops short with an X. */
static void mid_arrow(char *mid, const char *label, int from_side, bool lost)
{
    int len = lost ? MID_W - 8 : MID_W;
    int n = (int)strlen(label);
    if (n > len - 6)
        n = len - 6;
    memset(mid, ' ', MID_W);
    memset(from_side == 0 ? mid : mid + (MID_W - len), '-', (size_t)len);
    char *a = from_side == 0 ? mid : mid + (MID_W - len);
    int at = (len - n - 2) / 2;
    a[at] = ' ';
    memcpy(a + at + 1, label, (size_t)n);
    a[at + 1 + n] = ' ';
    if (from_side == 0)
        a[len - 1] = lost ? 'X' : '>';
    else
        a[0] = lost ? 'X' : '<';
    mid[MID_W] = '\0';
}

static void app_row(struct ladder *ld, int side, const char *what)
{
    uint64_t t = berth_memlink_time(ld->link);
    row(ld, t, side == 0 ? what : NULL, NULL, side == 1 ? what : NULL);
}

/* ---------------------------------------------------------------------- */
/* Segments, from the link's tap. */

static uint32_t rel(const struct ladder *ld, const struct flow *f, uint32_t v)
{
    return ld->opt.absolute || !f->have_isn ? v : v - f->isn;
}

/* "GET / HTTP/1.0\r\n\r\n" as a C string literal, cut to fit. */
static void quote_payload(char *out, size_t size, const uint8_t *p, size_t n)
{
    size_t o = 0;
    if (size < 8)
        return;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        char esc[5];
        if (p[i] == '\r')
            strcpy(esc, "\\r");
        else if (p[i] == '\n')
            strcpy(esc, "\\n");
        else if (p[i] == '"' || p[i] == '\\')
            snprintf(esc, sizeof(esc), "\\%c", p[i]);
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            snprintf(esc, sizeof(esc), "%c", p[i]);
        else
            snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
        size_t el = strlen(esc);
        if (o + el + 5 > size) {
            strcpy(out + o, "\"...");
            return;
        }
        memcpy(out + o, esc, el);
        o += el;
    }
    out[o++] = '"';
    out[o] = '\0';
}

static void segment_details(struct ladder *ld, const struct berth_segment *seg,
                            const uint8_t *payload, unsigned fate, bool retx,
                            char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
#define ADD(...)                                                               \
    do {                                                                       \
        if (o < size)                                                          \
            o += (size_t)snprintf(out + o, size - o, __VA_ARGS__);             \
    } while (0)
    if (retx)
        ADD("[retransmission] ");
    if (fate & BERTH_MEMLINK_FATE_DROPPED)
        ADD("[lost] ");
    if (fate & BERTH_MEMLINK_FATE_DUPLICATED)
        ADD("[duplicated] ");
    if (fate & BERTH_MEMLINK_FATE_DELAYED)
        ADD("[delayed] ");
    if (fate & BERTH_MEMLINK_FATE_CORRUPTED)
        ADD("[corrupted] ");
    if (seg->flags & BERTH_TH_SYN) {
        ADD("win=%u", seg->win);
        if (seg->mss)
            ADD(" mss=%u", seg->mss);
        if (seg->wscale >= 0)
            ADD(" wscale=%d", seg->wscale);
        if (seg->sack_ok)
            ADD(" sack_ok");
        if (seg->has_ts)
            ADD(" ts");
    } else if (ld->opt.verbose) {
        ADD("win=%u", seg->win);
        if (seg->has_ts)
            ADD(" tsval=%" PRIu32 " tsecr=%" PRIu32, seg->ts_val, seg->ts_ecr);
    }
    if (seg->len > 0 && o + 8 < size) {
        if (o > 0)
            ADD(" ");
        quote_payload(out + o, size - o, payload, seg->len);
    }
#undef ADD
}

static void tap(void *ctx, int from, uint64_t now, const uint8_t *pkt,
                size_t len, unsigned fate)
{
    struct ladder *ld = ctx;
    struct berth_segment seg;
    char label[96], flags[40], details[MID_W - 3], mid[MID_W + 1];

    if (berth_decode(pkt, len, &seg) != 0) {
        mid_note(mid, "(undecodable packet)", from == 0 ? -1 : 1);
        row(ld, now, NULL, mid, NULL);
        return;
    }
    struct flow *mine = &ld->flow[from], *peer = &ld->flow[1 - from];
    if ((seg.flags & BERTH_TH_SYN) && !mine->have_isn) {
        mine->have_isn = true;
        mine->isn = seg.seq;
    }
    uint32_t rseq = rel(ld, mine, seg.seq);
    uint32_t off = mine->have_isn ? seg.seq - mine->isn : 0;
    uint32_t end = off + seg.len + !!(seg.flags & BERTH_TH_SYN) +
                   !!(seg.flags & BERTH_TH_FIN);
    /* Anything that occupies sequence space below what was already sent
     * is a retransmission (keepalives aside, which this demo has none). */
    bool retx =
        end != off && mine->have_isn && (int32_t)(off - mine->snd_max) < 0;
    if (mine->have_isn && (int32_t)(end - mine->snd_max) > 0)
        mine->snd_max = end;

    berth_flags_string(seg.flags, flags, sizeof(flags));
    int n = snprintf(label, sizeof(label), "%s seq=%" PRIu32, flags, rseq);
    if (seg.flags & BERTH_TH_ACK)
        n += snprintf(label + n, sizeof(label) - (size_t)n, " ack=%" PRIu32,
                      rel(ld, peer, seg.ack));
    if (seg.len > 0)
        snprintf(label + n, sizeof(label) - (size_t)n, " len=%" PRIu32,
                 seg.len);

    bool lost =
        fate & (BERTH_MEMLINK_FATE_DROPPED | BERTH_MEMLINK_FATE_QUEUE_FULL);
    mid_arrow(mid, label, from, lost);
    row(ld, now, NULL, mid, NULL);

    segment_details(ld, &seg, pkt + (len - seg.len), fate, retx, details,
                    sizeof(details));
    if (details[0]) {
        mid_note(mid, details, 0);
        row(ld, now, NULL, mid, NULL);
    }
}

/* ---------------------------------------------------------------------- */
/* State changes and drops, from each stack's trace hook. */

static void trace(void *ctx, const struct berth_trace *ev)
{
    struct app *app = ctx;
    struct ladder *ld = app->ld;
    char mid[MID_W + 1], note[96];

    if (ev->kind == BERTH_TRACE_STATE) {
        const char *name = berth_state_name(ev->new_state);
        if (ev->reason == BERTH_REASON_TIME_WAIT_EXPIRED) {
            snprintf(note, sizeof(note), "TIME-WAIT over after 2*MSL = %g s",
                     2.0 * ld->msl / 1e6);
            mid_note(mid, note, app->side == 0 ? -1 : 1);
            row(ld, ev->now, app->side == 0 ? name : NULL, mid,
                app->side == 1 ? name : NULL);
        } else if (ev->sock >= 0 && ev->sock == app->listener) {
            /* Not the connection: say so, the column has both. */
            mid_note(mid, "(listening socket)", 1);
            row(ld, ev->now, NULL, mid, name);
        } else {
            row(ld, ev->now, app->side == 0 ? name : NULL, NULL,
                app->side == 1 ? name : NULL);
        }
        return;
    }
    /* A segment the receiver rejected: say why, next to the receiver. */
    if (app->side == 0)
        snprintf(note, sizeof(note), "<- dropped: %s",
                 berth_reason_name(ev->reason));
    else
        snprintf(note, sizeof(note), "dropped: %s ->",
                 berth_reason_name(ev->reason));
    mid_note(mid, note, app->side == 0 ? -1 : 1);
    row(ld, ev->now, NULL, mid, NULL);
}

/* ---------------------------------------------------------------------- */
/* The two applications, driven by readiness events. */

static void fail(struct ladder *ld, int side, const char *call, int err)
{
    char what[COL_W + 1];
    snprintf(what, sizeof(what), "%s!", call);
    app_row(ld, side, what);
    fprintf(stderr, "berth-ladder: %s %s: %s\n", side ? "server" : "client",
            call, berth_strerror(err));
    ld->failed = true;
}

static void client_event(struct app *app, uint32_t events)
{
    struct ladder *ld = app->ld;
    char what[COL_W + 8];

    if (events & BERTH_EV_ERROR) {
        int err = berth_sock_error(app->st, app->conn);
        if (err != 0) {
            fail(ld, 0, berth_errname(err) ? berth_errname(err) : "error", err);
            berth_close(app->st, app->conn);
            app->conn = -1;
            return;
        }
    }
    if ((events & BERTH_EV_WRITABLE) && !app->sent) {
        /* The row goes before the call: the segment it sends follows. */
        snprintf(what, sizeof(what), "send(%zu)", strlen(REQUEST));
        app_row(ld, 0, what);
        int r = berth_send(app->st, app->conn, REQUEST, strlen(REQUEST));
        if (r != (int)strlen(REQUEST)) {
            fail(ld, 0, "send", r < 0 ? r : BERTH_EAGAIN);
            return;
        }
        app->sent = true;
    }
    if (!(events & (BERTH_EV_READABLE | BERTH_EV_HUP)))
        return;
    for (int i = 0; i < 64 && app->conn >= 0; i++) {
        char tmp[256];
        int r = berth_recv(app->st, app->conn, tmp, sizeof(tmp));
        if (r == BERTH_EAGAIN)
            break;
        if (r < 0) {
            fail(ld, 0, "recv", r);
            berth_close(app->st, app->conn);
            app->conn = -1;
            break;
        }
        if (r == 0) {
            app_row(ld, 0, "recv() EOF");
            app_row(ld, 0, "close()");
            berth_close(app->st, app->conn);
            app->conn = -1;
            break;
        }
        app->got += (size_t)r;
        snprintf(what, sizeof(what), "recv()=%d", r);
        app_row(ld, 0, what);
    }
}

static void server_read(struct app *app)
{
    struct ladder *ld = app->ld;
    char what[COL_W + 8];

    for (int i = 0; i < 64 && app->conn >= 0 && !app->sent; i++) {
        size_t room = sizeof(app->buf) - 1 - app->got;
        int r = berth_recv(app->st, app->conn, app->buf + app->got, room);
        if (r == BERTH_EAGAIN)
            return;
        if (r <= 0) {
            /* The client went away before asking: nothing to answer. */
            app_row(ld, 1, r == 0 ? "recv() EOF" : "recv error");
            berth_close(app->st, app->conn);
            app->conn = -1;
            return;
        }
        app->got += (size_t)r;
        app->buf[app->got] = '\0';
        snprintf(what, sizeof(what), "recv()=%d", r);
        app_row(ld, 1, what);
        if (strstr(app->buf, "\r\n\r\n") || app->got == sizeof(app->buf) - 1)
            break;
    }
    if (app->conn < 0 || app->sent || !strstr(app->buf, "\r\n\r\n"))
        return;
    /* HTTP/1.0: answer, then close — the server closes first, so it is
     * the server that waits out TIME-WAIT. */
    snprintf(what, sizeof(what), "send(%zu)", strlen(REPLY));
    app_row(ld, 1, what);
    int r = berth_send(app->st, app->conn, REPLY, strlen(REPLY));
    if (r != (int)strlen(REPLY)) {
        fail(ld, 1, "send", r < 0 ? r : BERTH_EAGAIN);
        return;
    }
    app->sent = true;
    app_row(ld, 1, "close()");
    berth_close(app->st, app->conn);
    app->conn = -1;
}

static void server_event(struct app *app, int sock, uint32_t events)
{
    if (sock == app->listener && (events & BERTH_EV_READABLE)) {
        int c = berth_accept(app->st, app->listener, NULL);
        if (c >= 0) {
            app->conn = c;
            app_row(app->ld, 1, "accept()");
            /* The request may have arrived before we held the handle. */
            server_read(app);
        }
        return;
    }
    if (sock == app->conn &&
        (events & (BERTH_EV_READABLE | BERTH_EV_HUP | BERTH_EV_ERROR)))
        server_read(app);
}

static void on_event(void *ctx, int sock, uint32_t events)
{
    struct app *app = ctx;
    if (app->side == 0) {
        if (sock == app->conn)
            client_event(app, events);
    } else {
        server_event(app, sock, events);
    }
}

/* ---------------------------------------------------------------------- */
/* Setup, the run, the report. */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: berth-ladder [options]\n"
            "\n"
            "Runs one short TCP connection between two berth stacks over an\n"
            "in-memory link in virtual time (client 198.18.0.1, server\n"
            "198.18.0.2:80): connect, a small request, a ~100-byte reply, the\n"
            "server closes, the client closes; then waits out TIME-WAIT.\n"
            "Prints every segment and state change as a ladder diagram.\n"
            "\n"
            "  --absolute     print absolute sequence numbers (default: "
            "relative\n"
            "                 to each side's ISN, like Wireshark)\n"
            "  --seed N       seed for the stacks and the link (default 1)\n"
            "  --loss PCT     lose PCT%% of packets each way (shows "
            "retransmissions)\n"
            "  --delay MS     one-way delay in milliseconds (default 1)\n"
            "  --verbose, -v  window and timestamps on every segment\n"
            "  --help, -h     this text\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
    o->absolute = false;
    o->verbose = false;
    o->seed = 1;
    o->loss = 0.0;
    o->delay_us = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *end = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--absolute")) {
            o->absolute = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o->verbose = true;
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            o->seed = strtoull(argv[++i], &end, 0);
        } else if (!strcmp(a, "--loss") && i + 1 < argc) {
            double pct = strtod(argv[++i], &end);
            if (*end || pct < 0 || pct > 100)
                goto bad;
            o->loss = pct / 100.0;
        } else if (!strcmp(a, "--delay") && i + 1 < argc) {
            double ms = strtod(argv[++i], &end);
            if (*end || ms < 0 || ms > 10000)
                goto bad;
            o->delay_us = (uint64_t)(ms * 1000.0 + 0.5);
        } else {
            goto bad;
        }
        if (end && *end)
            goto bad;
        continue;
    bad:
        fprintf(stderr, "berth-ladder: bad argument '%s'\n\n", a);
        usage(stderr);
        return -1;
    }
    return 0;
}

static char *ip_string(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
             a & 255);
    return buf;
}

static struct berth_stack *make_stack(struct ladder *ld, int side)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = side == 0 ? CLIENT_ADDR : SERVER_ADDR;
    cfg.tx = berth_memlink_tx;
    cfg.tx_ctx = berth_memlink_tx_ctx(ld->link, side);
    cfg.event = on_event;
    cfg.event_ctx = &ld->app[side];
    cfg.trace = trace;
    cfg.trace_ctx = &ld->app[side];
    cfg.seed = ld->opt.seed * 2 + (uint64_t)side;
    ld->msl = cfg.msl;
    for (size_t i = 0; i < sizeof(cfg.secret); i++)
        cfg.secret[i] = (uint8_t)(ld->opt.seed * 31 + i * 7 + (size_t)side);
    struct berth_stack *st = berth_stack_create(&cfg, 0);
    if (st)
        berth_memlink_attach(ld->link, side, st);
    return st;
}

static void print_header(const struct ladder *ld)
{
    struct berth_endpoint cli = ld->client;
    char a[32], b[32], cl[48], sv[48];
    snprintf(cl, sizeof(cl), "%s:%u", ip_string(CLIENT_ADDR, a, sizeof(a)),
             cli.port);
    snprintf(sv, sizeof(sv), "%s:%u", ip_string(SERVER_ADDR, b, sizeof(b)),
             SERVER_PORT);
    printf("berth-ladder: one TCP connection between two berth stacks over an\n"
           "in-memory link, in virtual time (one-way delay %.3f ms, loss %g%%, "
           "seed %" PRIu64 ").\n",
           (double)ld->opt.delay_us / 1000.0, ld->opt.loss * 100.0,
           ld->opt.seed);
    printf("Sequence numbers: %s.\n",
           ld->opt.absolute ? "absolute"
                            : "relative to each side's ISN, as in "
                              "Wireshark (--absolute: raw)");
    if (ld->opt.loss > 0)
        printf("X: the link lost the packet; [retransmission]: sent again.\n");
    printf("\n");
    /* Each host's name sits on its own side of its timeline. */
    printf("%*s  %*s |%*s| %s\n", TIME_W, "time ms", COL_W, "client", MID_W, "",
           "server");
    printf("%*s |%*s| %s\n", TIME_W + 2 + COL_W, cl, MID_W, "", sv);
    printf("%*s |%*s|\n", TIME_W + 2 + COL_W, "", MID_W, "");
}

static void print_report(struct ladder *ld)
{
    const size_t *base_bytes = ld->base_bytes, *base_allocs = ld->base_allocs;
    struct berth_stack *c = ld->app[0].st, *s = ld->app[1].st;
    printf("\nCounters (non-zero)             client   server\n");
    for (int i = 0; i < BERTH_CTR__COUNT; i++) {
        uint64_t a = berth_counter(c, (enum berth_counter)i);
        uint64_t b = berth_counter(s, (enum berth_counter)i);
        if (a == 0 && b == 0)
            continue;
        printf("  %-26s %9" PRIu64 "%9" PRIu64 "   %s\n",
               berth_counter_name((enum berth_counter)i), a, b,
               berth_counter_string((enum berth_counter)i));
    }
    bool any_drop = false;
    for (int i = 1; i < BERTH_REASON__COUNT; i++) {
        uint64_t a = berth_drop_count(c, (enum berth_reason)i);
        uint64_t b = berth_drop_count(s, (enum berth_reason)i);
        if (a == 0 && b == 0)
            continue;
        if (!any_drop)
            printf("\nDrops by reason                 client   server\n");
        any_drop = true;
        printf("  %-26s %9" PRIu64 "%9" PRIu64 "   %s\n",
               berth_reason_name((enum berth_reason)i), a, b,
               berth_reason_string((enum berth_reason)i));
    }
    struct berth_memlink_stats ls[2];
    berth_memlink_stats(ld->link, 0, &ls[0]);
    berth_memlink_stats(ld->link, 1, &ls[1]);
    printf("\nLink                            c->s     s->c\n");
    printf("  %-26s %9" PRIu64 "%9" PRIu64 "\n", "packets sent", ls[0].sent,
           ls[1].sent);
    printf("  %-26s %9" PRIu64 "%9" PRIu64 "\n", "packets lost", ls[0].lost,
           ls[1].lost);
    printf("\nMemory in use                   client   server\n");
    printf("  %-26s %9zu%9zu\n", "bytes now", berth_mem_bytes(c),
           berth_mem_bytes(s));
    printf("  %-26s %9zu%9zu\n", "bytes after creation", base_bytes[0],
           base_bytes[1]);
    printf("  %-26s %9zu%9zu\n", "allocations now", berth_mem_allocs(c),
           berth_mem_allocs(s));
    printf("  %-26s %9zu%9zu\n", "allocations after creation", base_allocs[0],
           base_allocs[1]);
    bool back = berth_mem_bytes(c) == base_bytes[0] &&
                berth_mem_bytes(s) == base_bytes[1] &&
                berth_mem_allocs(c) == base_allocs[0] &&
                berth_mem_allocs(s) == base_allocs[1];
    printf("  %s\n", back ? "both stacks are back to their baseline"
                          : "NOT back to baseline: something leaked");
    if (!back)
        ld->failed = true;
}

static bool settled(void *ctx)
{
    const struct ladder *ld = ctx;
    return ld->app[0].conn < 0 && ld->app[1].conn < 0 &&
           berth_memlink_next_event(ld->link) == UINT64_MAX;
}

/* Drives both applications until everything has settled: the connection
 * is closed on both sides and TIME-WAIT has expired. */
static int run(struct ladder *ld)
{
    uint64_t now = 0;

    for (int side = 0; side < 2; side++) {
        ld->app[side] =
            (struct app){.ld = ld, .side = side, .listener = -1, .conn = -1};
        ld->app[side].st = make_stack(ld, side);
        if (!ld->app[side].st) {
            fprintf(stderr, "berth-ladder: cannot create the stacks\n");
            return 1;
        }
        ld->base_bytes[side] = berth_mem_bytes(ld->app[side].st);
        ld->base_allocs[side] = berth_mem_allocs(ld->app[side].st);
    }
    struct app *cli = &ld->app[0], *srv = &ld->app[1];

    srv->listener = berth_socket(srv->st);
    int r = srv->listener < 0
                ? srv->listener
                : berth_bind(srv->st, srv->listener, SERVER_ADDR, SERVER_PORT);
    if (r == 0) {
        app_row(ld, 1, "listen()");
        r = berth_listen(srv->st, srv->listener, 16);
    }
    if (r != 0) {
        fail(ld, 1, "listen", r);
        return 1;
    }

    cli->conn = berth_socket(cli->st);
    app_row(ld, 0, "connect()");
    r = cli->conn < 0
            ? cli->conn
            : berth_connect(cli->st, cli->conn, SERVER_ADDR, SERVER_PORT);
    if (r != BERTH_EINPROGRESS && r != 0) {
        fail(ld, 0, "connect", r);
        return 1;
    }
    berth_getsockname(cli->st, cli->conn,
                      &ld->client); /* Until nothing is left to happen (no
                                     * packet in flight, no timer), with a bound
                                     * in case something never ends. */
    r = berth_memlink_run_until(ld->link, &now, RUN_LIMIT_US, settled, ld);
    if (r != 1) {
        fprintf(stderr, "berth-ladder: the run did not settle (%d)\n", r);
        r = 1;
    } else {
        r = 0;
    }
    if (srv->listener >= 0) {
        app_row(ld, 1, "close(lsn)");
        berth_close(srv->st, srv->listener);
        srv->listener = -1;
        berth_memlink_run(ld->link, &now, now);
    }
    return r != 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct ladder ld;
    char *body = NULL;
    size_t body_len = 0;

    memset(&ld, 0, sizeof(ld));
    if (parse_args(argc, argv, &ld.opt) != 0)
        return 2;
    ld.last_t = UINT64_MAX;
    /* The header names the client's ephemeral port, known only after
     * connect(): collect the rows first, print them after the header. */
    ld.out = open_memstream(&body, &body_len);
    ld.link = berth_memlink_create(ld.opt.seed);
    if (!ld.out || !ld.link) {
        fprintf(stderr, "berth-ladder: out of memory\n");
        return 1;
    }
    for (int side = 0; side < 2; side++) {
        struct berth_memlink_impair imp;
        berth_memlink_impair_init(&imp);
        imp.delay = ld.opt.delay_us;
        imp.loss = ld.opt.loss;
        berth_memlink_set_impair(ld.link, side, &imp);
    }
    berth_memlink_set_tap(ld.link, tap, &ld);

    int rc = run(&ld);
    fclose(ld.out);
    ld.out = NULL;
    print_header(&ld);
    fwrite(body, 1, body_len, stdout);
    free(body);
    if (ld.app[0].st && ld.app[1].st)
        print_report(&ld);
    for (int side = 0; side < 2; side++)
        if (ld.app[side].st)
            berth_stack_destroy(ld.app[side].st);
    berth_memlink_destroy(ld.link);
    return rc != 0 || ld.failed ? 1 : 0;
}
