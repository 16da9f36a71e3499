/* Shards (rt.h, "Shards"): a group of runtimes over one multiqueue TUN
 * device, one per thread, each pinned to its own CPU. Creation (shard 0
 * makes and configures the device and attaches the steering program, the
 * others attach their queues), the threads, and what crosses shards at
 * all: a stop, and the control socket's view of every stack. The packet
 * paths share nothing; each shard's loop holds its own mutex except while
 * it waits in epoll, and only shard 0, answering a control command, takes
 * another shard's. */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_SET */
#include "link_rt.h"
#include "rt_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#define RT_MAX_SHARDS 64

struct rt_shard {
    struct berth_rt *rt;
    struct berth_rt_group *g;
    pthread_mutex_t lock; /* held by the shard's loop but in epoll */
    int stopfd;           /* eventfd: shard 0 asks this shard to stop */
    pthread_t thread;
    bool started;
    int rc; /* berth_rt_run()'s result */
};

struct berth_rt_group {
    unsigned n;
    struct rt_shard shard[RT_MAX_SHARDS];
    struct berth_stack *stacks[RT_MAX_SHARDS];
    pthread_mutex_t pcap_lock;
    bool refused; /* the kernel refused multiqueue or steering */
};

static void shard_lock(void *ctx)
{
    pthread_mutex_lock(&((struct rt_shard *)ctx)->lock);
}

static void shard_unlock(void *ctx)
{
    pthread_mutex_unlock(&((struct rt_shard *)ctx)->lock);
}

/* Shard k's loop: shard 0 asked it to stop. */
static void on_stopfd(void *ctx, int fd, uint32_t events)
{
    struct rt_shard *sh = ctx;
    uint64_t v;
    (void)events;
    if (read(fd, &v, sizeof v) == (ssize_t)sizeof v)
        berth_rt_stop(sh->rt);
}

/* The budgets a configuration sets are the instance's: each of n shards
 * gets its share, so that together they hold what one stack would (the
 * memory budget and its buffer cache, a listener's SYN queue). */
static void share_budgets(struct berth_config *sc, unsigned n)
{
    sc->mem_limit /= n; /* 0, unlimited, stays so */
    sc->buf_cache /= n;
    sc->syn_backlog = (uint16_t)(sc->syn_backlog / n ? sc->syn_backlog / n : 1);
}

static int group_add(struct berth_rt_group *g,
                     const struct berth_rt_config *cfg, unsigned i,
                     uint64_t key, char *err, size_t errlen)
{
    struct rt_shard *sh = &g->shard[i];
    struct rt_shard_spec sp = {.group = g,
                               .first = i ? g->shard[0].rt : NULL,
                               .index = i,
                               .n = g->n,
                               .key = key,
                               .pcap_lock = &g->pcap_lock,
                               .refused = &g->refused};
    sh->g = g;
    sh->stopfd = -1;
    pthread_mutex_init(&sh->lock, NULL);
    struct berth_rt_config c = *cfg;
    share_budgets(&c.stack, g->n);
    sh->rt = rt_create(&c, &sp, err, errlen);
    if (!sh->rt)
        return -1;
    g->stacks[i] = berth_rt_stack(sh->rt);
    berth_rt_set_lock(sh->rt, shard_lock, shard_unlock, sh);
    if (i == 0)
        return 0;
    sh->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int rc = sh->stopfd < 0 ? -errno
                            : berth_rt_watch_fd(sh->rt, sh->stopfd, EPOLLIN,
                                                on_stopfd, sh);
    if (rc < 0) {
        snprintf(err, errlen, "shard %u: %s", i, strerror(-rc));
        return -1;
    }
    return 0;
}

struct berth_rt_group *berth_rt_group_create(const struct berth_rt_config *cfg,
                                             unsigned n, char *err,
                                             size_t errlen)
{
    if (n < 1 || n > RT_MAX_SHARDS) {
        snprintf(err, errlen, "%u shards: 1 to %d", n, RT_MAX_SHARDS);
        return NULL;
    }
    if (n > 1 && rt_link_wanted(cfg)) {
        /* One queue of an Ethernet interface is one stack's (AF_PACKET and
         * TAP see every frame; AF_XDP binds one queue). */
        snprintf(err, errlen,
                 "shards need a multiqueue TUN device, not --link %s",
                 cfg->link);
        errno = EOPNOTSUPP;
        return NULL;
    }
    struct berth_rt_group *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->n = n;
    pthread_mutex_init(&g->pcap_lock, NULL);
    for (unsigned i = 0; i < RT_MAX_SHARDS; i++)
        g->shard[i].stopfd = -1;
    uint64_t key = 0;
    if (n > 1 && getrandom(&key, sizeof key, 0) != sizeof key) {
        snprintf(err, errlen, "getrandom: %s", strerror(errno));
        free(g);
        return NULL;
    }
    if (n == 1) { /* a runtime alone, exactly */
        g->shard[0].rt = berth_rt_create(cfg, err, errlen);
        if (!g->shard[0].rt) {
            free(g);
            return NULL;
        }
        g->stacks[0] = berth_rt_stack(g->shard[0].rt);
        return g;
    }
    for (unsigned i = 0; i < n; i++) {
        if (group_add(g, cfg, i, key, err, errlen) < 0) {
            bool refused = g->refused;
            berth_rt_group_destroy(g);
            errno = refused ? EOPNOTSUPP : EINVAL;
            return NULL;
        }
    }
    return g;
}

unsigned berth_rt_group_size(const struct berth_rt_group *g)
{
    return g->n;
}

struct berth_rt *berth_rt_group_shard(struct berth_rt_group *g, unsigned i)
{
    return i < g->n ? g->shard[i].rt : NULL;
}

int berth_rt_fork_shard(struct berth_rt *rt, unsigned i, char *err,
                        size_t errlen)
{
    if (i == 0 || i >= rt->nshards || rt->group) {
        snprintf(err, errlen, "shard %u of %u: not a forked shard", i,
                 rt->nshards);
        return -1;
    }
    /* The inherited descriptors are shared with shard 0's process: ours
     * go (closing a reference detaches nothing), the files stay. */
    rt_ctl_forget(rt->ctl);
    rt->ctl = NULL;
    rt_pcap_forget(rt->pcap);
    rt->pcap = NULL;
    rt->pcap_dirty = false;
    if (rt->sigfd >= 0)
        close(rt->sigfd);
    rt->sigfd = -1;
    for (int k = 0; k < RT_MAX_WATCH; k++)
        rt->watch[k].fd = -1;
    close(rt->epfd);
    close(rt->tunfd);
    bool created;
    rt->tunfd = rt_tun_open_queue(rt->tun_name, rt->offload.vnet, &rt->offload,
                                  &created, err, errlen);
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = RT_TAG_TUN};
    if (rt->tunfd < 0 || rt->epfd < 0 ||
        epoll_ctl(rt->epfd, EPOLL_CTL_ADD, rt->tunfd, &ev) < 0) {
        if (rt->tunfd >= 0)
            snprintf(err, errlen, "shard %u: epoll: %s", i, strerror(errno));
        return -1;
    }
    rt->tun_created = false; /* shard 0's process made it */
    /* The reads and the batched writes go to our queue: the reader keeps
     * the descriptor it reads, and the io_uring inherited is shard 0's
     * (its rings are shared memory: two processes submitting to one ring
     * would take each other's completions). Ours is our own. */
    rt_tun_rx_init(&rt->rx, rt->tunfd, rt->rxbuf, rt->rxcap, rt_clock_now);
    rt_uring_destroy(&rt->txq);
    if (rt->offload.vnet && !rt->link)
        rt_uring_init(&rt->txq, rt->tunfd);
    rt->shard = i;
    memset(&rt->stats, 0, sizeof rt->stats);
    rt->tun_write_errors = 0;
    berth_rt_set_impair(rt, &rt->impair); /* shard i's streams */
    return 0;
}

unsigned berth_rt_shard_index(const struct berth_rt *rt)
{
    return rt->shard;
}

unsigned berth_rt_shard_count(const struct berth_rt *rt)
{
    return rt->nshards;
}

static void pin(unsigned i)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(i % (unsigned)(ncpu > 0 ? ncpu : 1), &set);
    /* Best effort: a cpuset that excludes the CPU leaves the thread free. */
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *shard_main(void *arg)
{
    struct rt_shard *sh = arg;
    pin(sh->rt->shard);
    sh->rc = berth_rt_run(sh->rt);
    return NULL;
}

int berth_rt_group_run(struct berth_rt_group *g)
{
    if (g->n == 1)
        return berth_rt_run(g->shard[0].rt);
    /* The threads inherit the signal mask shard 0 set up: SIGINT and
     * SIGTERM reach shard 0's signalfd only. */
    for (unsigned i = 1; i < g->n; i++) {
        struct rt_shard *sh = &g->shard[i];
        sh->started = pthread_create(&sh->thread, NULL, shard_main, sh) == 0;
        if (!sh->started)
            sh->rc = -EAGAIN;
    }
    pin(0);
    int rc = berth_rt_run(g->shard[0].rt);
    /* Shard 0 is done: whatever ended it (a stop, an error), the others
     * end too. */
    rt_group_stopping(g->shard[0].rt);
    for (unsigned i = 1; i < g->n; i++) {
        struct rt_shard *sh = &g->shard[i];
        if (sh->started)
            pthread_join(sh->thread, NULL);
        if (rc == 0)
            rc = sh->rc;
    }
    return rc;
}

void berth_rt_group_destroy(struct berth_rt_group *g)
{
    if (!g)
        return;
    /* The queues first (shard 0's capture is shared: it goes last). */
    for (unsigned i = g->n; i-- > 0;) {
        struct rt_shard *sh = &g->shard[i];
        if (sh->rt && sh->stopfd >= 0)
            berth_rt_unwatch_fd(sh->rt, sh->stopfd);
        if (sh->stopfd >= 0)
            close(sh->stopfd);
        berth_rt_destroy(sh->rt);
        if (g->n > 1)
            pthread_mutex_destroy(&sh->lock);
    }
    pthread_mutex_destroy(&g->pcap_lock);
    free(g);
}

/* ------------------------------------------------------------------------
 * What crosses shards (rt_impl.h).
 */

void rt_group_stopping(struct berth_rt *rt)
{
    struct berth_rt_group *g = rt->group;
    if (!g || rt->shard != 0)
        return;
    uint64_t one = 1;
    for (unsigned i = 1; i < g->n; i++)
        if (g->shard[i].stopfd >= 0)
            (void)!write(g->shard[i].stopfd, &one, sizeof one);
}

/* Shard 0 holds its own lock while it answers (its loop does); the others
 * are taken in order. Only shard 0 ever takes another shard's lock, so
 * no two threads wait for each other. */
void rt_group_lock_others(struct berth_rt *rt)
{
    struct berth_rt_group *g = rt->group;
    if (g)
        for (unsigned i = 1; i < g->n; i++)
            pthread_mutex_lock(&g->shard[i].lock);
}

void rt_group_unlock_others(struct berth_rt *rt)
{
    struct berth_rt_group *g = rt->group;
    if (g)
        for (unsigned i = g->n; i-- > 1;)
            pthread_mutex_unlock(&g->shard[i].lock);
}

struct berth_stack *const *rt_group_stacks(struct berth_rt *rt, unsigned *n)
{
    if (!rt->group) {
        *n = 1;
        return &rt->stack;
    }
    *n = rt->group->n;
    return rt->group->stacks;
}

void rt_group_stats(struct berth_rt *rt, struct berth_rt_stats *out)
{
    berth_rt_stats(rt, out);
    struct berth_rt_group *g = rt->group;
    for (unsigned i = 1; g && i < g->n; i++) {
        struct berth_rt_stats o;
        berth_rt_stats(g->shard[i].rt, &o);
        out->rx_packets += o.rx_packets;
        out->rx_bytes += o.rx_bytes;
        out->tx_packets += o.tx_packets;
        out->tx_bytes += o.tx_bytes;
        out->rx_dropped += o.rx_dropped;
        out->tx_dropped += o.tx_dropped;
        out->duplicated += o.duplicated;
        out->reordered += o.reordered;
        out->loops += o.loops;
        out->steer_foreign += o.steer_foreign;
        out->rx_in_place += o.rx_in_place;
        out->rx_place_missed += o.rx_place_missed;
        out->tx_acks_merged += o.tx_acks_merged;
    }
}

void rt_group_print_shards(struct berth_rt *rt, FILE *out)
{
    struct berth_rt_group *g = rt->group;
    if (!g && rt->nshards > 1) { /* a forked worker's shard: its own */
        fprintf(out,
                "Shard %u of %u (forked workers; steering: eBPF by "
                "4-tuple)\n"
                "    %" PRIu64 " packets read on a shard that does not own "
                "them\n",
                rt->shard, rt->nshards, rt->stats.steer_foreign);
        return;
    }
    if (!g)
        return;
    struct berth_rt_stats all;
    rt_group_stats(rt, &all);
    fprintf(out,
            "Shards: %u (steering: eBPF by 4-tuple)\n"
            "    %" PRIu64 " packets read on a shard that does not own "
            "them\n",
            g->n, all.steer_foreign);
    for (unsigned i = 0; i < g->n; i++) {
        struct berth_rt_stats st;
        struct berth_stack *s = g->stacks[i];
        berth_rt_stats(g->shard[i].rt, &st);
        fprintf(out,
                "    shard %u: %" PRIu64 " packets received, %" PRIu64
                " sent, %" PRIu64 " passive opens, %" PRIu64
                " active opens, %" PRIu64 " foreign\n",
                i, st.rx_packets, st.tx_packets,
                berth_counter(s, BERTH_CTR_PASSIVE_OPENS),
                berth_counter(s, BERTH_CTR_ACTIVE_OPENS), st.steer_foreign);
    }
}

void rt_group_set_impair(struct berth_rt *rt, const struct berth_impair *imp)
{
    struct berth_rt_group *g = rt->group;
    if (!g) {
        berth_rt_set_impair(rt, imp);
        return;
    }
    for (unsigned i = 0; i < g->n; i++)
        berth_rt_set_impair(g->shard[i].rt, imp);
}
