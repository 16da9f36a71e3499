/* Batched writes of small packets (the ACKs berth sends while it receives)
 * to one descriptor through io_uring, by its system calls (no liburing):
 * each packet is copied into a slot and queued, and one io_uring_enter()
 * writes them all, one write each, as separate write() calls would (a TUN
 * write is one packet). A kernel without io_uring, or that refuses it,
 * leaves the ring unused: the runtime writes directly. */
#define _GNU_SOURCE
#include "rt_impl.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned complete, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, fd, submit, complete, flags, NULL,
                        0);
}

int rt_uring_init(struct rt_uring *u, int fd)
{
    memset(u, 0, sizeof *u);
    u->ring_fd = -1;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int rfd = sys_setup(RT_URING_ENTRIES, &p);
    if (rfd < 0)
        return -errno;
    /* FAST_POLL came with Linux 5.7, after IORING_OP_WRITE (5.6): a
     * kernel without it may not know the operation. */
    if (!(p.features & IORING_FEAT_SINGLE_MMAP) ||
        !(p.features & IORING_FEAT_FAST_POLL) ||
        p.sq_entries < RT_URING_ENTRIES || p.cq_entries < RT_URING_ENTRIES) {
        close(rfd);
        return -ENOTSUP;
    }
    size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    size_t len = sq_len > cq_len ? sq_len : cq_len;
    uint8_t *ring = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQ_RING);
    if (ring == MAP_FAILED) {
        close(rfd);
        return -ENOMEM;
    }
    size_t sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, sqes_len, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, rfd, IORING_OFF_SQES);
    uint8_t *slots = malloc((size_t)RT_URING_ENTRIES * RT_URING_SLOT);
    if (sqes == MAP_FAILED || !slots) {
        if (sqes != MAP_FAILED)
            munmap(sqes, sqes_len);
        free(slots);
        munmap(ring, len);
        close(rfd);
        return -ENOMEM;
    }
    u->ring_fd = rfd;
    u->fd = fd;
    u->ring = ring;
    u->ring_len = len;
    u->sqes = sqes;
    u->sqes_len = sqes_len;
    u->slots = slots;
    u->sq_tail = (unsigned *)(ring + p.sq_off.tail);
    u->sq_mask = *(unsigned *)(ring + p.sq_off.ring_mask);
    u->sq_array = (unsigned *)(ring + p.sq_off.array);
    u->cq_head = (unsigned *)(ring + p.cq_off.head);
    u->cq_tail = (unsigned *)(ring + p.cq_off.tail);
    u->cq_mask = *(unsigned *)(ring + p.cq_off.ring_mask);
    u->cqes = ring + p.cq_off.cqes;
    return 0;
}

void rt_uring_destroy(struct rt_uring *u)
{
    if (u->ring_fd < 0)
        return;
    munmap(u->sqes, u->sqes_len);
    munmap(u->ring, u->ring_len);
    close(u->ring_fd);
    free(u->slots);
    u->ring_fd = -1;
}

uint8_t *rt_uring_slot(struct rt_uring *u, size_t len)
{
    if (u->ring_fd < 0 || len > RT_URING_SLOT || u->queued >= RT_URING_ENTRIES)
        return NULL;
    return u->slots + (size_t)u->queued * RT_URING_SLOT;
}

void rt_uring_queue(struct rt_uring *u, size_t len)
{
    unsigned tail = *u->sq_tail; /* ours alone: the kernel only reads it */
    unsigned i = tail & u->sq_mask;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)u->sqes + i;
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_WRITE;
    sqe->fd = u->fd;
    sqe->addr =
        (uint64_t)(uintptr_t)(u->slots + (size_t)u->queued * RT_URING_SLOT);
    sqe->len = (uint32_t)len;
    sqe->off = (uint64_t)-1; /* no file position: as write() */
    sqe->user_data = len;
    u->sq_array[i] = i;
    atomic_store_explicit((_Atomic unsigned *)u->sq_tail, tail + 1,
                          memory_order_release);
    u->queued++;
}

/* Completions: a write that did not take its whole packet is an error
 * (the packet is lost; the peer's retransmission repairs it, as for a
 * refused write()). */
static void reap(struct rt_uring *u, struct rt_uring_result *res)
{
    unsigned head = *u->cq_head;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)u->cq_tail,
                                         memory_order_acquire);
    const struct io_uring_cqe *cqes = u->cqes;
    for (; head != tail; head++) {
        const struct io_uring_cqe *c = &cqes[head & u->cq_mask];
        if (c->res >= 0 && (uint64_t)c->res == c->user_data) {
            res->packets++;
            res->bytes += (uint64_t)c->res;
        } else {
            res->errors++;
            if (c->res == -EINVAL || c->res == -EOPNOTSUPP)
                res->unsupported = true;
        }
        u->inflight--;
    }
    atomic_store_explicit((_Atomic unsigned *)u->cq_head, head,
                          memory_order_release);
}

int rt_uring_flush(struct rt_uring *u, struct rt_uring_result *res)
{
    memset(res, 0, sizeof *res);
    if (u->ring_fd < 0 || u->queued == 0)
        return 0;
    unsigned n = u->queued;
    u->queued = 0;
    u->inflight += n;
    /* Submit all and wait for all: TUN writes complete at once, so one
     * call; the slots are free for the next batch when it returns. */
    unsigned submit = n;
    for (int tries = 0; u->inflight > 0 && tries < 64; tries++) {
        int r =
            sys_enter(u->ring_fd, submit, u->inflight, IORING_ENTER_GETEVENTS);
        if (r < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY)
            return -errno;
        if (r > 0)
            submit -= (unsigned)r < submit ? (unsigned)r : submit;
        reap(u, res);
    }
    if (res->unsupported)
        return -EOPNOTSUPP; /* a write this ring cannot make: give it up */
    return u->inflight ? -EIO : 0;
}
