/* A byte ring buffer over caller-provided memory. It holds `len` readable
 * bytes from `head`; bytes may also be written ahead of the readable end
 * (ring_write_at) and made readable later (ring_commit): that is how TCP
 * reassembly places out-of-order data straight into the receive buffer. */
#ifndef BERTH_BASE_RING_H
#define BERTH_BASE_RING_H

#include <stdint.h>

struct ring {
    uint8_t *buf;
    uint32_t cap;  /* any size > 0 */
    uint32_t head; /* index of the first readable byte */
    uint32_t len;  /* readable bytes, <= cap */
};

void ring_init(struct ring *r, uint8_t *mem, uint32_t cap);
static inline uint32_t ring_free(const struct ring *r)
{
    return r->cap - r->len;
}
/* Appends up to n bytes; returns how many. A source at the write position
 * itself (bytes read in place into the free room, wrapping as ring_span's
 * two spans do) is taken without a copy; so is one at ring_write_at's
 * destination. */
uint32_t ring_write(struct ring *r, const void *src, uint32_t n);
/* Copies min(n, len) bytes to dst and consumes them. */
uint32_t ring_read(struct ring *r, void *dst, uint32_t n);
/* Copies up to n bytes starting `off` bytes after head, without consuming;
 * returns how many (limited by len - off). */
uint32_t ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n);
/* Discards min(n, len) bytes from the front; returns how many. */
uint32_t ring_drop(struct ring *r, uint32_t n);
/* Writes n bytes at `off` bytes after the readable end (off + n must be
 * <= ring_free); len is unchanged. Returns n, or 0 if it does not fit. */
uint32_t ring_write_at(struct ring *r, uint32_t off, const void *src,
                       uint32_t n);
/* An empty ring whose caller holds nothing written ahead of the readable
 * end starts over at the beginning of its memory: the next bytes written
 * land where the last ones did (warm in cache) and do not wrap. */
static inline void ring_rewind(struct ring *r)
{
    if (r->len == 0)
        r->head = 0;
}
/* Makes n bytes after the readable end readable (n <= ring_free). */
void ring_commit(struct ring *r, uint32_t n);
/* Where n bytes starting `off` bytes after head lie in memory: at most two
 * spans, p[i] and len[i] (len[1] non-zero only when the bytes wrap past the
 * end of the memory). off + n must be <= cap, else nothing (0). Returns
 * len[0] + len[1] (= n). The readable bytes in place: off 0, n len; room to
 * write in place: off len, n <= ring_free (then ring_commit). */
uint32_t ring_span(const struct ring *r, uint32_t off, uint32_t n,
                   uint8_t *p[2], uint32_t len[2]);
/* Moves src's contents into the empty ring dst (dst->cap >= src->cap):
 * the readable bytes and everything written ahead of them keep their
 * offsets from head. src is left as it was (its memory is the caller's). */
void ring_move(struct ring *dst, const struct ring *src);

#endif
