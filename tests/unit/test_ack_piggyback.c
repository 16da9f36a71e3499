/* ACK piggybacking: while an input call with an event callback runs, a
 * pure ACK waits until the callbacks have run, so a reply, FIN or abort
 * they send carries it or makes it moot; what is still owed leaves at the
 * end of the same call. A batch sends the ACKs separate calls would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#define ADDR(a, b, c, d)                                                       \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) |    \
     (uint32_t)(d))
#define ADDR_A ADDR(198, 18, 0, 2)
#define ADDR_B ADDR(198, 18, 0, 1)
#define NOW    5000000ull
#define WIRE_Q 512
#define NCONN  40 /* more than the stack's list of owed ACKs (32) */
#define MSG    64

#include "wire.h"

/* What the callbacks do. */
enum {
    A_REQUEST = 0x01, /* a: send MSG bytes once connected */
    A_CLOSE = 0x02,   /* a: close once the reply is in */
    B_READ = 0x04,    /* b: read what arrives */
    B_REPLY = 0x08,   /* b: reply MSG bytes once the request is in */
    B_CLOSE = 0x10,   /* b: close at the peer's FIN */
    B_ABORT = 0x20,   /* b: close with linger 0 (RST) when data arrives */
};

struct rig {
    struct wire w;
    struct berth_stack *a, *b;
    unsigned mode;
    int listener;
    int cl[NCONN], srv[NCONN];
    unsigned ncl, nsrv;
    size_t got_a[NCONN], got_b[NCONN];
    bool sent_a[NCONN], sent_b[NCONN];
};

static int find(const int *v, unsigned n, int h)
{
    for (unsigned i = 0; i < n; i++)
        if (v[i] == h)
            return (int)i;
    return -1;
}

static size_t drain(struct berth_stack *s, int h, bool *eof)
{
    char buf[256];
    size_t got = 0;
    for (int k = 0; k < 64; k++) {
        int n = berth_recv(s, h, buf, sizeof buf);
        if (n == 0)
            *eof = true;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static void on_event_a(void *ctx, int sock, uint32_t ev)
{
    struct rig *r = ctx;
    int i = find(r->cl, r->ncl, sock);
    if (i < 0)
        return;
    if ((r->mode & A_REQUEST) && (ev & BERTH_EV_WRITABLE) && !r->sent_a[i]) {
        r->sent_a[i] = true;
        static const char req[MSG] = "request";
        assert_int_equal(berth_send(r->a, sock, req, MSG), MSG);
    }
    if (ev & BERTH_EV_READABLE) {
        bool eof = false;
        r->got_a[i] += drain(r->a, sock, &eof);
        if ((r->mode & A_CLOSE) && r->got_a[i] >= MSG) {
            assert_int_equal(berth_close(r->a, sock), 0);
            r->cl[i] = -1;
        }
    }
}

static void on_event_b(void *ctx, int sock, uint32_t ev)
{
    struct rig *r = ctx;
    if (sock == r->listener) {
        for (int h; r->nsrv < NCONN &&
                    (h = berth_accept(r->b, r->listener, NULL)) >= 0;)
            r->srv[r->nsrv++] = h;
        return;
    }
    int i = find(r->srv, r->nsrv, sock);
    if (i < 0 || !(ev & BERTH_EV_READABLE))
        return;
    if (r->mode & B_ABORT) {
        assert_int_equal(berth_setopt(r->b, sock, BERTH_OPT_LINGER, 0), 0);
        assert_int_equal(berth_close(r->b, sock), 0);
        r->srv[i] = -1;
        return;
    }
    if (!(r->mode & B_READ))
        return;
    bool eof = false;
    r->got_b[i] += drain(r->b, sock, &eof);
    if ((r->mode & B_REPLY) && r->got_b[i] >= MSG && !r->sent_b[i]) {
        r->sent_b[i] = true;
        static const char rep[MSG] = "reply";
        assert_int_equal(berth_send(r->b, sock, rep, MSG), MSG);
    }
    if ((r->mode & B_CLOSE) && eof) {
        assert_int_equal(berth_close(r->b, sock), 0);
        r->srv[i] = -1;
    }
}

static struct berth_stack *stack_new(struct rig *r, uint32_t addr,
                                     void (*ev)(void *, int, uint32_t))
{
    struct berth_config cfg;
    berth_config_init(&cfg);
    cfg.addr = addr;
    cfg.tx = wire_tx;
    cfg.tx_ctx = &r->w;
    cfg.seed = addr;
    memcpy(cfg.secret, "piggyback secret", sizeof cfg.secret);
    cfg.event = ev;
    cfg.event_ctx = r;
    struct berth_stack *s = berth_stack_create(&cfg, 0);
    assert_non_null(s);
    berth_advance(s, NOW);
    return s;
}

static void rig_init(struct rig *r, unsigned mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->a = stack_new(r, ADDR_A, on_event_a);
    r->b = stack_new(r, ADDR_B, on_event_b);
    r->listener = berth_socket(r->b);
    assert_true(r->listener >= 0);
    assert_int_equal(berth_bind(r->b, r->listener, 0, 80), 0);
    assert_int_equal(berth_listen(r->b, r->listener, 64), 0);
}

/* a opens n connections to b (not yet sent). */
static void rig_connect(struct rig *r, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int h = berth_socket(r->a);
        assert_true(h >= 0);
        assert_int_equal(berth_setopt(r->a, h, BERTH_OPT_NODELAY, 1), 0);
        r->cl[r->ncl++] = h;
        assert_int_equal(berth_connect(r->a, h, ADDR_B, 80), BERTH_EINPROGRESS);
    }
}

static struct berth_stack *dst(struct rig *r, const struct pkt *p)
{
    return p->dst == ADDR_A ? r->a : r->b;
}

/* One packet of the wire's head into its stack. */
static void step(struct rig *r)
{
    assert_true(r->w.head < r->w.n);
    struct pkt p = r->w.q[r->w.head++];
    berth_input(dst(r, &p), p.data, p.len, NOW);
}

/* Everything in flight, one packet per call (bounded). */
static void pump(void *ctx, uint64_t now)
{
    struct rig *r = ctx;
    for (unsigned i = 0; i < 4 * WIRE_Q && r->w.head < r->w.n; i++) {
        struct pkt p = r->w.q[r->w.head++];
        berth_input(dst(r, &p), p.data, p.len, now);
    }
    assert_int_equal(r->w.head, r->w.n);
}

/* The wire's packets are kept for inspection; the queue restarts. */
static void wire_reset(struct wire *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->q[i].data);
    w->head = w->n = 0;
}

/* The end's pump: delivers and frees, the queue restarts (bounded). */
static void pump_free(void *ctx, uint64_t now)
{
    struct rig *r = ctx;
    for (unsigned i = 0; i < 4 * WIRE_Q && r->w.head < r->w.n; i++) {
        struct pkt p = r->w.q[r->w.head++];
        berth_input(dst(r, &p), p.data, p.len, now);
        free(p.data);
    }
    assert_int_equal(r->w.head, r->w.n);
    r->w.head = r->w.n = 0;
}

static void rig_finish(struct rig *r)
{
    pump(r, NOW);
    wire_reset(&r->w);
    for (unsigned i = 0; i < r->ncl; i++)
        if (r->cl[i] >= 0)
            berth_close(r->a, r->cl[i]);
    for (unsigned i = 0; i < r->nsrv; i++)
        if (r->srv[i] >= 0)
            berth_close(r->b, r->srv[i]);
    berth_close(r->b, r->listener);
    wire_settle(&r->w, r->a, r->b, NOW + 1000, pump_free, r);
}

struct seg {
    uint8_t flags;
    uint32_t seq, ack;
    size_t len;
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static struct seg seg_of(const struct pkt *p)
{
    size_t ihl = (size_t)(p->data[0] & 0xf) * 4;
    const uint8_t *t = p->data + ihl;
    size_t doff = (size_t)(t[12] >> 4) * 4;
    return (struct seg){t[13], be32(t + 4), be32(t + 8), p->len - ihl - doff};
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* Connect, request, reply, close from the callbacks, one packet per call:
 * seven segments. The ACK of the SYN-ACK rides on the request, the ACK
 * of the request on the reply, the ACK of the reply on a's FIN, the ACK
 * of that FIN on b's FIN; only the last ACK stands alone. */
static void lifecycle_in_seven_segments(void **st)
{
    (void)st;
    struct rig r;
    rig_init(&r, A_REQUEST | A_CLOSE | B_READ | B_REPLY | B_CLOSE);
    rig_connect(&r, 1);
    pump(&r, NOW);
    static const struct {
        uint32_t to;
        uint8_t flags;
        size_t len;
    } want[] = {{ADDR_B, F_SYN, 0},          {ADDR_A, F_SYN | F_ACK, 0},
                {ADDR_B, F_ACK | 0x08, MSG}, {ADDR_A, F_ACK | 0x08, MSG},
                {ADDR_B, F_FIN | F_ACK, 0},  {ADDR_A, F_FIN | F_ACK, 0},
                {ADDR_B, F_ACK, 0}};
    assert_int_equal(r.w.n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < r.w.n; i++) {
        struct seg g = seg_of(&r.w.q[i]);
        assert_int_equal(r.w.q[i].dst, want[i].to);
        assert_int_equal(g.flags, want[i].flags);
        assert_int_equal(g.len, want[i].len);
    }
    /* Every segment after the SYN acknowledges all the peer sent. */
    struct seg req = seg_of(&r.w.q[2]), rep = seg_of(&r.w.q[3]);
    assert_int_equal(rep.ack, req.seq + MSG);
    assert_int_equal(seg_of(&r.w.q[4]).ack, rep.seq + MSG);
    assert_int_equal(r.got_a[0], MSG);
    assert_int_equal(r.got_b[0], MSG);
    rig_finish(&r);
}

/* A callback that does not answer: the ACK still leaves within the same
 * input call, alone, acknowledging the request. */
static void unanswered_data_acked_in_the_same_call(void **st)
{
    (void)st;
    struct rig r;
    rig_init(&r, A_REQUEST | B_READ);
    rig_connect(&r, 1);
    step(&r); /* SYN */
    step(&r); /* SYN-ACK: a's ACK rides on the request */
    assert_int_equal(r.w.n, 3);
    struct seg req = seg_of(&r.w.q[2]);
    assert_int_equal(req.len, MSG);
    step(&r); /* the request: b reads, does not reply */
    assert_int_equal(r.w.n, 4);
    struct seg ack = seg_of(&r.w.q[3]);
    assert_int_equal(r.w.q[3].dst, ADDR_A);
    assert_int_equal(ack.flags, F_ACK);
    assert_int_equal(ack.len, 0);
    assert_int_equal(ack.ack, req.seq + MSG);
    assert_int_equal(r.got_b[0], MSG);
    rig_finish(&r);
}

/* Established with b not reading; a sends nseg MSS of data (full-sized
 * segments and a tail), kept on the wire undelivered; returns how many
 * segments that took. */
static unsigned stream_setup(struct rig *r, unsigned nseg)
{
    rig_init(r, 0);
    rig_connect(r, 1);
    pump(r, NOW);
    assert_int_equal(r->nsrv, 1);
    wire_reset(&r->w);
    struct berth_tcp_info info;
    assert_int_equal(berth_getinfo(r->a, r->cl[0], &info), 0);
    static char bytes[1460 * 8];
    int len = (int)(nseg * info.snd_mss);
    assert_true(len <= (int)sizeof bytes);
    assert_int_equal(berth_send(r->a, r->cl[0], bytes, (size_t)len), len);
    assert_true(r->w.n >= nseg);
    return (unsigned)r->w.n;
}

/* The same segments one call each and in one batch: b sends the same
 * ACKs, byte for byte, in the same order. */
static void batch_sends_the_acks_of_separate_calls(void **st)
{
    (void)st;
    struct rig one, batch;
    unsigned nseg = stream_setup(&one, 6);
    for (unsigned i = 0; i < nseg; i++)
        step(&one);
    size_t nacks = one.w.n - nseg;
    assert_true(nacks >= nseg / 2); /* RFC 5681 §4.2: every second one */

    assert_int_equal(stream_setup(&batch, 6), nseg);
    struct berth_pkt pk[16];
    assert_true(nseg <= 16);
    for (unsigned i = 0; i < nseg; i++)
        pk[i] = (struct berth_pkt){batch.w.q[i].data, batch.w.q[i].len, 0};
    batch.w.head = nseg;
    assert_int_equal(berth_input_batch(batch.b, pk, nseg, NOW), 0);
    assert_int_equal(batch.w.n - nseg, nacks);
    for (size_t i = nseg; i < one.w.n; i++) {
        assert_int_equal(batch.w.q[i].len, one.w.q[i].len);
        assert_memory_equal(batch.w.q[i].data, one.w.q[i].data, one.w.q[i].len);
    }
    rig_finish(&one);
    rig_finish(&batch);
}

/* b's callback aborts the connection whose ACK is owed: the RST goes,
 * the freed TCB leaves the list of owed ACKs (ASan would see its use),
 * and no ACK follows. */
static void abort_in_callback_drops_the_owed_ack(void **st)
{
    (void)st;
    struct rig r;
    rig_init(&r, 0);
    rig_connect(&r, 1);
    pump(&r, NOW);
    wire_reset(&r.w);
    r.mode = B_ABORT;
    assert_int_equal(berth_send(r.a, r.cl[0], "data", 4), 4);
    step(&r);
    assert_int_equal(r.w.n, 2);
    struct seg g = seg_of(&r.w.q[1]);
    assert_int_equal(r.w.q[1].dst, ADDR_A);
    assert_true(g.flags & F_RST);
    assert_int_equal(r.srv[0], -1);
    rig_finish(&r);
}

/* More connections owe an ACK in one batch than the list holds: those
 * beyond it ACK at once; every connection is ACKed exactly once. */
static void more_owed_acks_than_the_list_holds(void **st)
{
    (void)st;
    struct rig r;
    rig_init(&r, B_READ);
    rig_connect(&r, NCONN);
    pump(&r, NOW);
    assert_int_equal(r.nsrv, NCONN);
    wire_reset(&r.w);
    for (unsigned i = 0; i < NCONN; i++)
        assert_int_equal(berth_send(r.a, r.cl[i], "x", 1), 1);
    assert_int_equal(r.w.n, NCONN);
    struct berth_pkt pk[NCONN];
    uint32_t want[NCONN];
    for (unsigned i = 0; i < NCONN; i++) {
        pk[i] = (struct berth_pkt){r.w.q[i].data, r.w.q[i].len, 0};
        want[i] = seg_of(&r.w.q[i]).seq + 1;
    }
    r.w.head = NCONN;
    assert_int_equal(berth_input_batch(r.b, pk, NCONN, NOW), 0);
    assert_int_equal(r.w.n, 2 * NCONN);
    unsigned seen[NCONN] = {0};
    for (size_t i = NCONN; i < r.w.n; i++) {
        struct seg g = seg_of(&r.w.q[i]);
        assert_int_equal(g.flags, F_ACK);
        for (unsigned k = 0; k < NCONN; k++)
            if (g.ack == want[k])
                seen[k]++;
    }
    for (unsigned k = 0; k < NCONN; k++)
        assert_int_equal(seen[k], 1);
    rig_finish(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifecycle_in_seven_segments),
        cmocka_unit_test(unanswered_data_acked_in_the_same_call),
        cmocka_unit_test(batch_sends_the_acks_of_separate_calls),
        cmocka_unit_test(abort_in_callback_drops_the_owed_ack),
        cmocka_unit_test(more_owed_acks_than_the_list_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
