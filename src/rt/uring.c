/* Batched writes of small packets (the ACKs berth sends while it receives)
 * to one descriptor through io_uring (liburing): each packet is copied into
 * a slot and queued, and one io_uring_enter() writes them all, one write
 * each, as separate write() calls would (a TUN write is one packet). A
 * kernel without io_uring, or without its write operation, leaves the ring
 * unused: the runtime writes directly. Built when liburing is found
 * (Debian: liburing-dev); uring_none.c otherwise. */
#include "rt_impl.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

/* Whether this kernel's io_uring knows the write operation (Linux 5.6). */
static bool write_supported(struct io_uring *ring)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
    if (!probe)
        return false;
    bool ok = io_uring_opcode_supported(probe, IORING_OP_WRITE);
    io_uring_free_probe(probe);
    return ok;
}

int rt_uring_init(struct rt_uring *u, int fd)
{
    memset(u, 0, sizeof *u);
    u->ring_fd = -1;
    struct io_uring *ring = malloc(sizeof *ring);
    uint8_t *slots = malloc((size_t)RT_URING_ENTRIES * RT_URING_SLOT);
    if (!ring || !slots) {
        free(ring);
        free(slots);
        return -ENOMEM;
    }
    int r = io_uring_queue_init(RT_URING_ENTRIES, ring, 0);
    if (r < 0) {
        free(ring);
        free(slots);
        return r;
    }
    if (!write_supported(ring)) {
        io_uring_queue_exit(ring);
        free(ring);
        free(slots);
        return -ENOTSUP;
    }
    u->ring = ring;
    u->ring_fd = ring->ring_fd;
    u->fd = fd;
    u->slots = slots;
    return 0;
}

void rt_uring_destroy(struct rt_uring *u)
{
    if (u->ring_fd < 0)
        return;
    io_uring_queue_exit(u->ring);
    free(u->ring);
    free(u->slots);
    u->ring = NULL;
    u->slots = NULL;
    u->ring_fd = -1;
}

uint8_t *rt_uring_slot(struct rt_uring *u, size_t len)
{
    if (u->ring_fd < 0 || len > RT_URING_SLOT || u->queued >= RT_URING_ENTRIES)
        return NULL;
    return u->slots + (size_t)u->queued * RT_URING_SLOT;
}

/* The submissions are made at the flush, so the last packet queued may
 * still be written over (rt_uring_last). */
void rt_uring_queue(struct rt_uring *u, size_t len)
{
    u->lens[u->queued++] = (uint16_t)len;
}

uint8_t *rt_uring_last(struct rt_uring *u, size_t *len)
{
    if (u->ring_fd < 0 || u->queued == 0)
        return NULL;
    *len = u->lens[u->queued - 1];
    return u->slots + (size_t)(u->queued - 1) * RT_URING_SLOT;
}

/* Completions: a write that did not take its whole packet is an error
 * (the packet is lost; the peer's retransmission repairs it, as for a
 * refused write()). */
static void reap(struct rt_uring *u, struct rt_uring_result *res)
{
    struct io_uring *ring = u->ring;
    struct io_uring_cqe *c;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(ring, head, c)
    {
        if (c->res >= 0 && (uint64_t)c->res == c->user_data) {
            res->packets++;
            res->bytes += (uint64_t)c->res;
        } else {
            res->errors++;
            if (c->res == -EINVAL || c->res == -EOPNOTSUPP)
                res->unsupported = true;
        }
        seen++;
    }
    io_uring_cq_advance(ring, seen);
    u->inflight -= seen;
}

int rt_uring_flush(struct rt_uring *u, struct rt_uring_result *res)
{
    memset(res, 0, sizeof *res);
    if (u->ring_fd < 0 || u->queued == 0)
        return 0;
    /* At most RT_URING_ENTRIES queued (rt_uring_slot) and none in flight
     * between flushes: the submission queue always has room. */
    for (unsigned i = 0; i < u->queued; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(u->ring);
        io_uring_prep_write(sqe, u->fd, u->slots + (size_t)i * RT_URING_SLOT,
                            u->lens[i], (uint64_t)-1);
        sqe->user_data = u->lens[i]; /* (uint64_t)-1: no file position */
    }
    u->inflight += u->queued;
    u->queued = 0;
    /* Submit all and wait for all: TUN writes complete at once, so one
     * call; the slots are free for the next batch when it returns. */
    for (int tries = 0; u->inflight > 0 && tries < 64; tries++) {
        int r = io_uring_submit_and_wait(u->ring, u->inflight);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            return r;
        reap(u, res);
    }
    if (res->unsupported)
        return -EOPNOTSUPP; /* a write this ring cannot make: give it up */
    return u->inflight ? -EIO : 0;
}
