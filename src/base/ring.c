/* Byte ring over caller memory: readable bytes [head, head + len) modulo
 * cap, and a scratch area after them that ring_write_at fills out of order.
 * Any capacity works; every copy is split in at most two at the wrap. */
#include "base/ring.h"

#include <string.h>

/* Index of the byte `off` positions after head. Every caller passes
 * off <= cap and head < cap, so one conditional subtraction wraps it: no
 * division on the per-segment path. */
static uint32_t ring_index(const struct ring *r, uint64_t off)
{
    uint64_t i = (uint64_t)r->head + off;
    return (uint32_t)(i >= r->cap ? i - r->cap : i);
}

/* Copies n bytes from src into the ring starting at index pos. A source
 * that is the destination itself holds bytes read in place (a link wrote
 * them into the free room, berth_rx_place): nothing to copy, and the part
 * that wraps is at the start of the memory already. No other source can
 * start there with more bytes than the memory has up to its end. */
static void copy_in(struct ring *r, uint32_t pos, const uint8_t *src,
                    uint32_t n)
{
    if (src == r->buf + pos)
        return;
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    memcpy(r->buf + pos, src, first);
    memcpy(r->buf, src + first, n - first);
}

/* Copies n bytes out of the ring starting at index pos. */
static void copy_out(const struct ring *r, uint32_t pos, uint8_t *dst,
                     uint32_t n)
{
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    memcpy(dst, r->buf + pos, first);
    memcpy(dst + first, r->buf, n - first);
}

void ring_init(struct ring *r, uint8_t *mem, uint32_t cap)
{
    r->buf = mem;
    r->cap = cap;
    r->head = 0;
    r->len = 0;
}

uint32_t ring_write(struct ring *r, const void *src, uint32_t n)
{
    if (n > ring_free(r))
        n = ring_free(r);
    if (n == 0)
        return 0;
    copy_in(r, ring_index(r, r->len), src, n);
    r->len += n;
    return n;
}

uint32_t ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n)
{
    if (off >= r->len)
        return 0;
    if (n > r->len - off)
        n = r->len - off;
    if (n == 0)
        return 0;
    copy_out(r, ring_index(r, off), dst, n);
    return n;
}

uint32_t ring_drop(struct ring *r, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    /* head is not reset when the ring empties: bytes placed ahead of the
     * readable end by ring_write_at must stay where ring_commit expects. */
    r->head = ring_index(r, n);
    r->len -= n;
    return n;
}

uint32_t ring_read(struct ring *r, void *dst, uint32_t n)
{
    n = ring_peek(r, 0, dst, n);
    return ring_drop(r, n);
}

uint32_t ring_write_at(struct ring *r, uint32_t off, const void *src,
                       uint32_t n)
{
    uint32_t room = ring_free(r);
    if (n == 0 || off > room || n > room - off)
        return 0;
    copy_in(r, ring_index(r, (uint64_t)r->len + off), src, n);
    return n;
}

void ring_commit(struct ring *r, uint32_t n)
{
    /* n <= ring_free is the caller's contract; clamp rather than let len
     * exceed cap and corrupt every later index. */
    if (n > ring_free(r))
        n = ring_free(r);
    r->len += n;
}

uint32_t ring_span(const struct ring *r, uint32_t off, uint32_t n,
                   uint8_t *p[2], uint32_t len[2])
{
    p[0] = p[1] = r->buf;
    len[0] = len[1] = 0;
    if (r->cap == 0 || off > r->cap || n > r->cap - off || n == 0)
        return 0;
    uint32_t pos = ring_index(r, off);
    uint32_t first = r->cap - pos < n ? r->cap - pos : n;
    p[0] = r->buf + pos;
    len[0] = first;
    p[1] = r->buf;
    len[1] = n - first;
    return n;
}

void ring_move(struct ring *dst, const struct ring *src)
{
    copy_out(src, src->head, dst->buf, src->cap);
    dst->head = 0;
    dst->len = src->len;
}
