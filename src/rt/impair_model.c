/* The one impairment model (impair_model.h): per-packet and per-copy fates
 * drawn from base/rng — loss, Gilbert–Elliott bursts, duplication,
 * reordering, delay, jitter, corruption, a rate-limited FIFO, outages — and
 * the delay queue that holds copies until they are due. */
#include "rt/impair_model.h"

#include <stdlib.h>
#include <string.h>

/* Distinct streams per direction from one seed. */
#define STREAM_MIX 0xd1b54a32d192ed03ull

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void impair_model_init(struct impair_model *m, uint64_t seed, uint64_t stream)
{
    memset(m, 0, sizeof *m);
    impair_model_reseed(m, seed, stream);
}

void impair_model_reseed(struct impair_model *m, uint64_t seed, uint64_t stream)
{
    rng_seed(&m->rng, seed ^ (STREAM_MIX * (stream + 1)));
}

void impair_model_free(struct impair_model *m)
{
    free(m->ring);
    m->ring = NULL;
    m->ring_cap = m->ring_head = m->ring_len = 0;
}

bool impair_params_clean(const struct impair_params *p)
{
    return !p->drop_all && !(p->loss > 0) && !(p->dup > 0) &&
           !(p->reorder > 0) && p->delay == 0 && p->jitter == 0 &&
           !(p->corrupt > 0) && !(p->ge_good_to_bad > 0) &&
           !(p->ge_bad_to_good > 0) && p->rate == 0;
}

bool impair_model_add_outage(struct impair_model *m, uint64_t start,
                             uint64_t end)
{
    if (start >= end || m->noutages == IMPAIR_MAX_OUTAGES)
        return false;
    m->outages[m->noutages].start = start;
    m->outages[m->noutages].end = end;
    m->noutages++;
    return true;
}

/* ------------------------------------------------------------------------
 * The stages that draw nothing: the bottleneck and outages.
 */

static bool fifo_grow(struct impair_model *m)
{
    size_t cap = m->ring_cap ? m->ring_cap * 2 : 64;
    struct impair_fifo_ent *r = malloc(cap * sizeof *r);
    if (!r)
        return false;
    for (size_t i = 0; i < m->ring_len; i++)
        r[i] = m->ring[(m->ring_head + i) & (m->ring_cap - 1)];
    free(m->ring);
    m->ring = r;
    m->ring_cap = cap;
    m->ring_head = 0;
    return true;
}

/* A packet of `len` bytes offered at `now`: false when the FIFO is at a
 * bound (tail drop); else *depart is the µs its last bit leaves. */
static bool bottleneck_admit(struct impair_model *m, uint64_t now, size_t len,
                             uint64_t *depart)
{
    const struct impair_params *p = &m->p;
    uint64_t now_ns = now > UINT64_MAX / 1000 ? UINT64_MAX : now * 1000;

    while (m->ring_len > 0 && m->ring[m->ring_head].done_ns <= now_ns) {
        m->ring_bytes -= m->ring[m->ring_head].len;
        m->ring_head = (m->ring_head + 1) & (m->ring_cap - 1);
        m->ring_len--;
    }
    if (p->queue_packets && m->ring_len >= p->queue_packets)
        return false;
    if (p->queue_bytes && m->ring_bytes + len > p->queue_bytes)
        return false;
    if (m->ring_len == m->ring_cap && !fifo_grow(m))
        return false;
    /* Serialization time, rounded up to the ns: len is at most 64 KiB, so
     * len * 1e9 cannot overflow. */
    uint64_t tx_ns = ((uint64_t)len * 1000000000u + p->rate - 1) / p->rate;
    uint64_t start = m->busy_ns > now_ns ? m->busy_ns : now_ns;
    m->busy_ns = sat_add(start, tx_ns);
    m->ring[(m->ring_head + m->ring_len) & (m->ring_cap - 1)] =
        (struct impair_fifo_ent){m->busy_ns, (uint32_t)len};
    m->ring_len++;
    m->ring_bytes += len;
    *depart = m->busy_ns / 1000 + (m->busy_ns % 1000 != 0);
    return true;
}

static bool in_outage(const struct impair_model *m, uint64_t t)
{
    for (size_t i = 0; i < m->noutages; i++)
        if (t >= m->outages[i].start && t < m->outages[i].end)
            return true;
    return false;
}

/* ------------------------------------------------------------------------
 * The random stages.
 */

/* Gilbert–Elliott: step the two-state chain, then lose the packet with the
 * new state's probability. */
static bool ge_lost(struct impair_model *m)
{
    const struct impair_params *p = &m->p;
    if (!(p->ge_good_to_bad > 0.0) && !(p->ge_bad_to_good > 0.0))
        return false;
    if (m->ge_bad) {
        if (rng_chance(&m->rng, p->ge_bad_to_good))
            m->ge_bad = false;
    } else if (rng_chance(&m->rng, p->ge_good_to_bad)) {
        m->ge_bad = true;
    }
    return rng_chance(&m->rng, m->ge_bad ? p->ge_loss_bad : p->ge_loss_good);
}

static enum impair_drop random_drop(struct impair_model *m)
{
    if (m->p.drop_all || rng_chance(&m->rng, m->p.loss))
        return IMPAIR_DROP_LOSS;
    if (ge_lost(m))
        return IMPAIR_DROP_BURST;
    return IMPAIR_KEPT;
}

struct impair_verdict impair_model_decide(struct impair_model *m, uint64_t now,
                                          size_t len, int copies, bool chosen)
{
    struct impair_verdict v = {.copies = copies, .depart = now};
    if (copies == 0)
        return v;
    if (m->p.rate > 0) {
        if (!bottleneck_admit(m, now, len, &v.depart)) {
            v.copies = 0;
            v.drop = IMPAIR_DROP_TAIL;
            return v;
        }
        v.queue_delay = v.depart - now;
    }
    if (in_outage(m, v.depart)) {
        v.copies = 0;
        v.drop = IMPAIR_DROP_OUTAGE;
        return v;
    }
    if (!chosen) {
        v.drop = random_drop(m);
        if (v.drop != IMPAIR_KEPT) {
            v.copies = 0;
            return v;
        }
        if (rng_chance(&m->rng, m->p.dup)) {
            v.duplicated = v.copies == 1;
            v.copies = 2;
        }
    }
    return v;
}

struct impair_copy impair_model_copy(struct impair_model *m, size_t len)
{
    struct impair_copy c = {.bit = IMPAIR_NO_BIT};
    c.delay = sat_add(m->p.delay, rng_upto(&m->rng, m->p.jitter));
    c.reordered = rng_chance(&m->rng, m->p.reorder);
    if (c.reordered)
        c.delay = sat_add(c.delay, m->p.reorder_delay);
    if (len > 0 && rng_chance(&m->rng, m->p.corrupt))
        c.bit = rng_upto(&m->rng, (uint64_t)len * 8 - 1);
    return c;
}

bool impair_copy_corrupt(const struct impair_copy *c, uint8_t *data)
{
    if (c->bit == IMPAIR_NO_BIT)
        return false;
    data[c->bit / 8] ^= (uint8_t)(1u << (c->bit % 8));
    return true;
}

/* ------------------------------------------------------------------------
 * The delay queue.
 */

#define POOL_BLOCK 2048u
#define POOL_KEEP  4096u /* free blocks kept for reuse; the rest are freed */

void impair_queue_free(struct impair_queue *q)
{
    for (size_t i = 0; i < q->len; i++)
        impair_queue_release(q, q->heap[i].data, q->heap[i].len);
    while (q->free_blocks) {
        void *next;
        memcpy(&next, q->free_blocks, sizeof next);
        free(q->free_blocks);
        q->free_blocks = next;
    }
    free(q->heap);
    memset(q, 0, sizeof *q);
}

uint8_t *impair_queue_copy(struct impair_queue *q, const uint8_t *pkt,
                           size_t len)
{
    uint8_t *b;
    if (len > POOL_BLOCK) {
        b = malloc(len);
    } else if (!q->free_blocks) {
        b = malloc(POOL_BLOCK);
    } else {
        b = q->free_blocks;
        memcpy(&q->free_blocks, b, sizeof(void *));
        q->nfree--;
    }
    if (b && len)
        memcpy(b, pkt, len);
    return b;
}

void impair_queue_release(struct impair_queue *q, uint8_t *data, size_t len)
{
    if (len > POOL_BLOCK || q->nfree >= POOL_KEEP) {
        free(data);
        return;
    }
    memcpy(data, &q->free_blocks, sizeof(void *));
    q->free_blocks = data;
    q->nfree++;
}

static bool held_before(const struct impair_held *a,
                        const struct impair_held *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

bool impair_queue_push(struct impair_queue *q, uint64_t at, uint8_t *data,
                       size_t len, unsigned tag)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        struct impair_held *n = realloc(q->heap, cap * sizeof *n);
        if (!n) {
            impair_queue_release(q, data, len);
            return false;
        }
        q->heap = n;
        q->cap = cap;
    }
    struct impair_held h = {at, q->next_order++, data, len, tag};
    size_t i = q->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_before(&h, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = h;
    return true;
}

bool impair_queue_pop_due(struct impair_queue *q, uint64_t now,
                          struct impair_held *out)
{
    if (!q->len || q->heap[0].at > now)
        return false;
    *out = q->heap[0];
    struct impair_held last = q->heap[--q->len];
    size_t n = q->len, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && held_before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!held_before(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n > 0)
        q->heap[i] = last;
    return true;
}

uint64_t impair_queue_next(const struct impair_queue *q)
{
    return q->len ? q->heap[0].at : UINT64_MAX;
}
