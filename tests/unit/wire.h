/* Two stacks wired back to back in a unit test: the packets in flight, in
 * the order they were sent. The tx hook only queues a copy (it must not
 * call back into a stack); the test delivers them. A file may define
 * WIRE_Q (the queue's bound) before including this. */
#ifndef BERTH_TEST_WIRE_H
#define BERTH_TEST_WIRE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth/berth.h"

#ifndef WIRE_Q
#define WIRE_Q 512
#endif

struct pkt {
    uint32_t dst;
    size_t len;
    uint8_t *data;
};

struct wire {
    struct pkt q[WIRE_Q];
    size_t head, n;
};

static inline void wire_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    struct wire *w = ctx;
    assert_true(w->n < WIRE_Q);
    assert_true(len >= 20);
    struct pkt *p = &w->q[w->n++];
    p->dst = (uint32_t)pkt[16] << 24 | (uint32_t)pkt[17] << 16 |
             (uint32_t)pkt[18] << 8 | pkt[19];
    p->len = len;
    p->data = malloc(len);
    assert_non_null(p->data);
    memcpy(p->data, pkt, len);
}

/* The end of a test whose sockets are all closed: from t, the clocks of a
 * and b go forward in 10 s steps (at most 64), pump delivering what is in
 * flight at each, until nothing is and neither stack holds memory. Both
 * must then be empty; they are destroyed. */
static inline void wire_settle(struct wire *w, struct berth_stack *a,
                               struct berth_stack *b, uint64_t t,
                               void (*pump)(void *ctx, uint64_t now), void *ctx)
{
    for (unsigned i = 0; i < 64; i++, t += 10000000ull) {
        pump(ctx, t);
        berth_advance(a, t);
        berth_advance(b, t);
        if (w->n == 0 && berth_mem_bytes(a) == 0 && berth_mem_bytes(b) == 0)
            break;
    }
    assert_int_equal(berth_mem_bytes(a), 0);
    assert_int_equal(berth_mem_bytes(b), 0);
    berth_stack_destroy(a);
    berth_stack_destroy(b);
    for (size_t i = w->head; i < w->n; i++)
        free(w->q[i].data);
}

#endif
