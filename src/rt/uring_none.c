/* Batched small writes where berth was built without liburing (the build
 * found no liburing-dev): the ring is never set up, and the runtime writes
 * each packet directly, as on a kernel without io_uring. */
#include "rt_impl.h"

#include <errno.h>
#include <string.h>

int rt_uring_init(struct rt_uring *u, int fd)
{
    (void)fd;
    memset(u, 0, sizeof *u);
    u->ring_fd = -1;
    return -ENOTSUP;
}

void rt_uring_destroy(struct rt_uring *u)
{
    u->ring_fd = -1;
}

uint8_t *rt_uring_slot(struct rt_uring *u, size_t len)
{
    (void)u, (void)len;
    return NULL;
}

void rt_uring_queue(struct rt_uring *u, size_t len)
{
    (void)u, (void)len; /* never reached: no slot is ever given */
}

uint8_t *rt_uring_last(struct rt_uring *u, size_t *len)
{
    (void)u, (void)len;
    return NULL;
}

int rt_uring_flush(struct rt_uring *u, struct rt_uring_result *res)
{
    (void)u;
    memset(res, 0, sizeof *res);
    return 0;
}
