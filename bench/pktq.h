/* A FIFO of packets in one contiguous byte ring: the benchmarks' in-memory
 * link. Each packet is copied once, on the way in (a transmit hook's buffer
 * lives only during the call), and handed out in place; nothing is
 * allocated per packet. No delay, loss or reordering. */
#ifndef BERTH_BENCH_PKTQ_H
#define BERTH_BENCH_PKTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pktq {
    uint8_t *buf;
    size_t cap;  /* bytes, a multiple of 8 */
    size_t head; /* next record to read */
    size_t tail; /* where the next record is written */
    size_t used; /* bytes between head and tail, wrap padding included */
    uint64_t packets, bytes, dropped;
    /* The last pktq_peek_n(): how many, the head after them and their
     * bytes (wrap padding included). */
    size_t peeked, peek_head, peek_bytes;
};

/* A packet handed out by pktq_peek(): valid until pktq_pop(). */
struct pktq_pkt {
    const uint8_t *data;
    uint32_t len;
    uint8_t tag; /* the caller's: which side it goes to */
};

int pktq_init(struct pktq *q, size_t cap);
void pktq_free(struct pktq *q);
/* Copies the packet in; false (counted as dropped) when the ring is full. */
bool pktq_push(struct pktq *q, uint8_t tag, const void *pkt, size_t len);
/* The same for a packet in pieces (a tx_sg hook's headers and spans),
 * gathered into the record in order. */
struct pktq_piece {
    const void *base;
    size_t len;
};
bool pktq_push_pieces(struct pktq *q, uint8_t tag,
                      const struct pktq_piece *pieces, size_t n);
/* The oldest packet, left in place; false when empty. Packets pushed while
 * it is being processed go behind it. */
bool pktq_peek(struct pktq *q, struct pktq_pkt *out);
/* Up to `max` of the oldest packets, oldest first, left in place until
 * pktq_pop_n(); how many. */
size_t pktq_peek_n(struct pktq *q, struct pktq_pkt *out, size_t max);
void pktq_pop(struct pktq *q);
/* Pops the n packets the last pktq_peek_n() returned. */
void pktq_pop_n(struct pktq *q, size_t n);
static inline bool pktq_empty(const struct pktq *q)
{
    return q->used == 0;
}

#endif
