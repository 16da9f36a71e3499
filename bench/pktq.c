/* The in-memory packet FIFO (pktq.h): records of an 8-byte header and the
 * packet padded to 8 bytes; a header with len WRAP sends the reader back to
 * the start of the ring. */
#include "pktq.h"

#include <stdlib.h>
#include <string.h>

#define WRAP UINT32_MAX

struct rec {
    uint32_t len;
    uint8_t tag;
    uint8_t pad[3];
};

static size_t rec_size(size_t len)
{
    return sizeof(struct rec) + ((len + 7u) & ~(size_t)7u);
}

int pktq_init(struct pktq *q, size_t cap)
{
    memset(q, 0, sizeof *q);
    q->cap = cap & ~(size_t)7u;
    q->buf = malloc(q->cap);
    return q->buf ? 0 : -1;
}

void pktq_free(struct pktq *q)
{
    free(q->buf);
    q->buf = NULL;
}

/* Room for a record of len bytes at the tail, filled in and counted (the
 * caller copies the packet to the pointer returned); NULL when full. */
static uint8_t *push_record(struct pktq *q, uint8_t tag, size_t len)
{
    size_t need = rec_size(len);
    if (q->used == 0)
        q->head = q->tail = 0;
    else if (q->tail == q->head)
        goto full;
    if (q->tail >= q->head && q->used != 0 && q->cap - q->tail < need) {
        /* Not enough room at the end: wrap if the start has it. */
        if (q->head < need)
            goto full;
        if (q->cap - q->tail >= sizeof(struct rec))
            ((struct rec *)(q->buf + q->tail))->len = WRAP;
        q->used += q->cap - q->tail;
        q->tail = 0;
    } else if (q->tail < q->head && q->head - q->tail < need) {
        goto full;
    } else if (q->used == 0 && q->cap < need) {
        goto full;
    }
    struct rec *r = (struct rec *)(q->buf + q->tail);
    r->len = (uint32_t)len;
    r->tag = tag;
    q->tail += need;
    q->used += need;
    q->packets++;
    q->bytes += len;
    return (uint8_t *)(r + 1);
full:
    q->dropped++;
    return NULL;
}

bool pktq_push(struct pktq *q, uint8_t tag, const void *pkt, size_t len)
{
    uint8_t *d = push_record(q, tag, len);
    if (d)
        memcpy(d, pkt, len);
    return d != NULL;
}

bool pktq_push_pieces(struct pktq *q, uint8_t tag,
                      const struct pktq_piece *pieces, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += pieces[i].len;
    uint8_t *d = push_record(q, tag, len);
    if (!d)
        return false;
    for (size_t i = 0; i < n; i++) {
        memcpy(d, pieces[i].base, pieces[i].len);
        d += pieces[i].len;
    }
    return true;
}

/* A record that would not fit before the end, or a WRAP header, sends
 * the reader back to the start. */
static size_t rec_at(const struct pktq *q, size_t pos)
{
    if (q->cap - pos < sizeof(struct rec) ||
        ((const struct rec *)(q->buf + pos))->len == WRAP)
        return 0;
    return pos;
}

static void skip_wrap(struct pktq *q)
{
    if (rec_at(q, q->head) != q->head) {
        q->used -= q->cap - q->head;
        q->head = 0;
    }
}

bool pktq_peek(struct pktq *q, struct pktq_pkt *out)
{
    if (q->used == 0)
        return false;
    skip_wrap(q);
    const struct rec *r = (const struct rec *)(q->buf + q->head);
    out->data = (const uint8_t *)(r + 1);
    out->len = r->len;
    out->tag = r->tag;
    return true;
}

size_t pktq_peek_n(struct pktq *q, struct pktq_pkt *out, size_t max)
{
    if (q->used == 0)
        return 0;
    skip_wrap(q);
    size_t pos = q->head, left = q->used, n = 0;
    while (n < max && left) {
        size_t at = rec_at(q, pos);
        if (at != pos) {
            left -= q->cap - pos;
            pos = at;
            continue;
        }
        const struct rec *r = (const struct rec *)(q->buf + pos);
        out[n++] = (struct pktq_pkt){(const uint8_t *)(r + 1), r->len, r->tag};
        pos += rec_size(r->len);
        left -= rec_size(r->len);
    }
    q->peeked = n;
    q->peek_head = pos;
    q->peek_bytes = q->used - left; /* pushes meanwhile add to used */
    return n;
}

void pktq_pop_n(struct pktq *q, size_t n)
{
    if (n == q->peeked) {
        q->head = q->peek_head;
        q->used -= q->peek_bytes;
        q->peeked = 0;
        return;
    }
    q->peeked = 0;
    while (n--) {
        skip_wrap(q);
        pktq_pop(q);
    }
}

void pktq_pop(struct pktq *q)
{
    const struct rec *r = (const struct rec *)(q->buf + q->head);
    size_t n = rec_size(r->len);
    q->head += n;
    q->used -= n;
}
