/* libFuzzer target: two stacks, a client (198.18.0.1) and a server
 * (198.18.0.2, listening on port 80), joined by two packet queues that the
 * input drives one operation at a time: deliver, drop, duplicate, reorder
 * or mutate the next packet of either direction, let time pass, and act as
 * the applications (connect, send, receive, shut down, close, abort).
 *
 * Checked on every input: every packet either stack sends decodes; while
 * no packet was mutated, each side receives exactly a prefix of the byte
 * stream the other sent (drops, duplicates and reordering must not corrupt
 * it); and once the applications close everything and the timers run out,
 * both stacks hold no memory at all (nothing leaked, every connection
 * ended). Any violation aborts, so libFuzzer reports it. */
#include "berth/berth.h"
#include "fuzz_util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT      0
#define SERVER      1
#define PORT        80u
#define QUEUE_MAX   32u   /* packets per direction; more are dropped */
#define MAX_OPS     2048u /* bounds the work per input */
#define DRAIN_STEPS 4096u /* bounds the run-out after the input */
#define MS          1000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pkt {
    uint16_t len;
    uint8_t b[1600];
};

struct queue {
    struct pkt p[QUEUE_MAX];
    unsigned head, n;
};

struct side {
    struct berth_stack *s;
    int sock;                /* the connected socket, or -1 */
    bool opened;             /* one connection per run: one stream */
    uint64_t sent, received; /* stream bytes through the API */
};

struct pair {
    struct side side[2];
    struct queue q[2]; /* q[i]: packets sent by side i */
    int listener;
    uint64_t now;
    bool mutated; /* a packet was altered: the stream may differ */
};

/* Byte i of the stream side `from` sends. */
static uint8_t stream_byte(int from, uint64_t i)
{
    return (uint8_t)(i * 31u + 7u + (uint64_t)from * 101u);
}

static void tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct queue *q = ctx;
    if (!fuzz_valid_output(pkt, len))
        abort();
    if (q->n == QUEUE_MAX || len > sizeof q->p[0].b)
        return; /* the link's queue is full (or the MSS is larger) */
    struct pkt *p = &q->p[(q->head + q->n++) % QUEUE_MAX];
    p->len = (uint16_t)len;
    memcpy(p->b, pkt, len);
}

static struct pkt *queue_front(struct queue *q)
{
    return q->n ? &q->p[q->head] : NULL;
}

static void queue_pop(struct queue *q)
{
    q->head = (q->head + 1) % QUEUE_MAX;
    q->n--;
}

static bool make_stack(struct pair *p, int i)
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = i == CLIENT ? 0xc6120001u : 0xc6120002u;
    cfg.max_sockets = 16;
    cfg.tx = tx;
    cfg.tx_ctx = &p->q[i];
    cfg.seed = 7u + (uint64_t)i;
    memset(cfg.secret, 0x33 + i, sizeof cfg.secret);
    /* Small buffers and few retries: short runs that still fill windows. */
    cfg.sndbuf = cfg.rcvbuf = 8192;
    cfg.mss = 536;
    cfg.syn_retries = 2;
    cfg.synack_retries = 2;
    cfg.max_retries = 4;
    p->side[i].s = berth_stack_create(&cfg, p->now);
    p->side[i].sock = -1;
    return p->side[i].s != NULL;
}

/* Delivers (or, with `keep`, duplicates) the next packet side i sent. */
static void deliver(struct pair *p, int i, bool keep)
{
    struct pkt *k = queue_front(&p->q[i]);
    if (!k)
        return;
    struct pkt copy = *k; /* input may make the receiver send into q[i] */
    if (!keep)
        queue_pop(&p->q[i]);
    berth_input(p->side[!i].s, copy.b, copy.len, p->now);
}

static void mutate(struct pair *p, int i, uint8_t at, uint8_t val)
{
    struct pkt *k = queue_front(&p->q[i]);
    if (!k || k->len == 0)
        return;
    k->b[at % k->len] ^= val ? val : 1;
    fuzz_fix_checksums(k->b, k->len);
    p->mutated = true;
}

static void reorder(struct pair *p, int i)
{
    struct queue *q = &p->q[i];
    if (q->n < 2)
        return;
    struct pkt t = q->p[q->head];
    q->p[q->head] = q->p[(q->head + 1) % QUEUE_MAX];
    q->p[(q->head + 1) % QUEUE_MAX] = t;
}

static void app_send(struct pair *p, int i, unsigned n)
{
    struct side *d = &p->side[i];
    uint8_t buf[4096];
    if (d->sock < 0)
        return;
    for (unsigned k = 0; k < n && k < sizeof buf; k++)
        buf[k] = stream_byte(i, d->sent + k);
    int r = berth_send(d->s, d->sock, buf, n < sizeof buf ? n : sizeof buf);
    if (r > 0)
        d->sent += (uint64_t)r;
}

static void app_recv(struct pair *p, int i)
{
    struct side *d = &p->side[i];
    uint8_t buf[4096];
    if (d->sock < 0)
        return;
    for (int round = 0; round < 8; round++) {
        int r = berth_recv(d->s, d->sock, buf, sizeof buf);
        if (r <= 0)
            return;
        for (int k = 0; k < r && !p->mutated; k++)
            if (buf[k] != stream_byte(!i, d->received + (uint64_t)k))
                abort(); /* corrupted, duplicated or reordered stream */
        d->received += (uint64_t)r;
        if (!p->mutated && d->received > p->side[!i].sent)
            abort(); /* more than the peer sent */
    }
}

static void app_close(struct pair *p, int i, bool abortive)
{
    struct side *d = &p->side[i];
    if (d->sock < 0)
        return;
    if (abortive)
        berth_abort(d->s, d->sock);
    else
        berth_close(d->s, d->sock);
    d->sock = -1;
}

static void app_open(struct pair *p)
{
    struct side *c = &p->side[CLIENT], *sv = &p->side[SERVER];
    if (!c->opened) {
        c->opened = true;
        c->sock = berth_socket(c->s);
        if (c->sock >= 0)
            berth_connect(c->s, c->sock, 0xc6120002u, PORT);
    }
    if (!sv->opened && p->listener >= 0) {
        sv->sock = berth_accept(sv->s, p->listener, NULL);
        sv->opened = sv->sock >= 0;
    }
}

/* One operation; returns the input bytes it consumed (>= 1). */
static size_t step(struct pair *p, const uint8_t *d, size_t n)
{
    uint8_t op = d[0], a = n > 1 ? d[1] : 0, b = n > 2 ? d[2] : 0;
    int i = op & 1;
    switch ((op >> 1) % 14) {
    case 0:
        deliver(p, i, false);
        return 1;
    case 1:
        deliver(p, i, false);
        return 1;
    case 2:
        if (queue_front(&p->q[i]))
            queue_pop(&p->q[i]);
        return 1;
    case 3:
        deliver(p, i, true);
        return 1;
    case 4:
        reorder(p, i);
        return 1;
    case 5:
        mutate(p, i, a, b);
        return 3;
    case 6:
        p->now += (uint64_t)a * a * MS;
        berth_advance(p->side[0].s, p->now);
        berth_advance(p->side[1].s, p->now);
        return 2;
    case 7:
        app_open(p);
        return 1;
    case 8:
        app_send(p, i, 1u + (unsigned)a * 16u);
        return 2;
    case 9:
        app_recv(p, i);
        return 1;
    case 10:
        if (p->side[i].sock >= 0)
            berth_shutdown(p->side[i].s, p->side[i].sock, BERTH_SHUT_WR);
        return 1;
    case 11:
        app_close(p, i, false);
        return 1;
    case 12:
        app_close(p, i, a == 0);
        return 2;
    default:
        if (i == SERVER && p->listener >= 0) {
            berth_close(p->side[SERVER].s, p->listener);
            p->listener = -1;
        }
        return 1;
    }
}

static void print_record(void *ctx, int sock, const struct berth_tcp_info *t)
{
    (void)ctx;
    fprintf(stderr, "  sock %d %s %u -> %u snd_una %u snd_nxt %u rcv_nxt %u\n",
            sock, berth_state_name(t->state), t->local.port, t->remote.port,
            t->snd_una, t->snd_nxt, t->rcv_nxt);
}

/* Closes everything and lets the link and the timers run out. */
static void drain(struct pair *p)
{
    app_close(p, CLIENT, false);
    app_close(p, SERVER, false);
    if (p->listener >= 0)
        berth_close(p->side[SERVER].s, p->listener);
    p->listener = -1;
    for (unsigned k = 0; k < DRAIN_STEPS; k++) {
        if (p->q[0].n || p->q[1].n) {
            int from = p->q[0].n ? 0 : 1;
            if (k > DRAIN_STEPS - 8 && getenv("FUZZ_PAIR_VERBOSE")) {
                struct berth_segment g;
                char fl[32];
                struct pkt *f = queue_front(&p->q[from]);
                berth_decode(f->b, f->len, &g);
                fprintf(stderr, "  %s %s seq %u ack %u len %u win %u\n",
                        from ? "S->C" : "C->S",
                        berth_flags_string(g.flags, fl, sizeof fl), g.seq,
                        g.ack, g.len, g.win);
            }
            deliver(p, from, false);
            continue;
        }
        uint64_t t0 = berth_next_deadline(p->side[0].s);
        uint64_t t1 = berth_next_deadline(p->side[1].s);
        uint64_t t = t0 < t1 ? t0 : t1;
        if (t == UINT64_MAX)
            break;
        if (t > p->now)
            p->now = t;
        berth_advance(p->side[0].s, p->now);
        berth_advance(p->side[1].s, p->now);
    }
    for (int i = 0; i < 2; i++)
        if (berth_mem_bytes(p->side[i].s) != 0 ||
            berth_next_deadline(p->side[i].s) != UINT64_MAX) {
            fprintf(stderr,
                    "pair: side %d holds %zu bytes, next deadline "
                    "%llu at %llu us:\n",
                    i, berth_mem_bytes(p->side[i].s),
                    (unsigned long long)berth_next_deadline(p->side[i].s),
                    (unsigned long long)p->now);
            berth_foreach(p->side[i].s, print_record, NULL);
            abort(); /* a leak, or a connection that never ends */
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pair *p = calloc(1, sizeof *p);
    if (!p)
        return 0;
    p->now = 1000 * MS;
    p->listener = -1;
    if (make_stack(p, CLIENT) && make_stack(p, SERVER)) {
        struct berth_stack *sv = p->side[SERVER].s;
        p->listener = berth_socket(sv);
        berth_bind(sv, p->listener, 0, PORT);
        berth_listen(sv, p->listener, 4);
        for (unsigned k = 0; k < MAX_OPS && size > 0; k++) {
            size_t used = step(p, data, size);
            data += used < size ? used : size;
            size -= used < size ? used : size;
        }
        if (getenv("FUZZ_PAIR_VERBOSE"))
            fprintf(stderr,
                    "pair: client sent %llu received %llu, server sent %llu "
                    "received %llu%s\n",
                    (unsigned long long)p->side[CLIENT].sent,
                    (unsigned long long)p->side[CLIENT].received,
                    (unsigned long long)p->side[SERVER].sent,
                    (unsigned long long)p->side[SERVER].received,
                    p->mutated ? " (mutated)" : "");
        drain(p);
    }
    for (int i = 0; i < 2; i++)
        berth_stack_destroy(p->side[i].s);
    free(p);
    return 0;
}
