/* The event loop and the packet paths. One iteration: wait in epoll until
 * the earliest of {stack deadline, app wake-up, impairment queue head,
 * control-client deadline, shutdown deadline}; read up to RT_RX_BATCH
 * packets from the TUN device into berth_input(); run signals, control
 * clients and watched fds; release due impaired packets; berth_advance();
 * on_tick. Packets berth sends leave synchronously from the stack's tx
 * hook: tap and capture, then the tx impairment, then write() to the TUN.
 *
 * Capture records what berth itself processed: received packets after the
 * receive impairment (exactly what reached berth_input()), sent packets
 * before the transmit impairment (exactly what the stack emitted). A
 * capture then explains berth's behaviour packet by packet; what the kernel
 * saw differs only by the impairment and by the pure ACKs tx_queue merged
 * (replaced by the next of their connection before the write), both of
 * which `stat` counts. */
#define _GNU_SOURCE /* epoll_pwait2 */
#include "link_rt.h"
#include "rt_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <unistd.h>

#define RT_MAX_EVENTS    32
#define PCAP_FLUSH_EVERY (100 * RT_US_PER_MS)
/* The event log is written out once a second (a reader can follow it),
 * and at the end. */
#define EVENTS_FLUSH_EVERY (1000 * RT_US_PER_MS)

uint64_t rt_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * RT_US_PER_S + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* ------------------------------------------------------------------------
 * Packet paths.
 */

static void capture(struct berth_rt *rt, int dir, const uint8_t *pkt,
                    size_t len)
{
    if (rt->tap)
        rt->tap(rt->tap_ctx, dir, rt->now, pkt, len);
    if (rt->pcap) {
        if (rt->pcap_lock) /* shards share one capture file */
            pthread_mutex_lock(rt->pcap_lock);
        rt_pcap_write(rt->pcap, pkt, len);
        if (rt->pcap_lock)
            pthread_mutex_unlock(rt->pcap_lock);
        rt->pcap_dirty = true;
    }
}

/* Kernel -> berth, after the receive impairment (with offloads the
 * virtio-net header travels with the packet: its flags come here). */
static void rx_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
    struct berth_rt *rt = ctx;
    uint32_t flags = 0;
    if (rt->link) {
        rt_link_deliver(rt, pkt, len);
        return;
    }
    if (rt->offload.vnet) {
        flags = rt_tun_rx_flags(pkt);
        pkt += RT_VNET_HDR_LEN;
        len -= RT_VNET_HDR_LEN;
    }
    capture(rt, 0, pkt, len);
    berth_input_flags(rt->stack, pkt, len, rt->now, flags);
}

/* Berth -> kernel, after the transmit impairment. A TUN write does not
 * block for long: a refused one (queue full, device down) is a loss the
 * peer's retransmission repairs, counted as tx_dropped. */
static void tun_write(void *ctx, const uint8_t *pkt, size_t len)
{
    struct berth_rt *rt = ctx;
    ssize_t n;
    if (rt->link) {
        rt_link_write(rt, pkt, len);
        return;
    }
    rt_tx_flush(rt);
    do
        n = write(rt->tunfd, pkt, len);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len) {
        rt->stats.tx_packets++;
        rt->stats.tx_bytes += len - (rt->offload.vnet ? RT_VNET_HDR_LEN : 0);
    } else {
        rt->tun_write_errors++;
    }
}

/* Writes the small packets queued (rt_uring), counted as tun_write's.
 * Every direct write to the device calls it first, so packets leave in
 * the order the stack sent them (an ACK queued before a data segment
 * must not arrive after it). */
void rt_tx_flush(struct berth_rt *rt)
{
    struct rt_uring_result res;
    rt->txq_handed = 0;
    if (rt->txq.queued == 0)
        return;
    int r = rt_uring_flush(&rt->txq, &res);
    rt->stats.tx_packets += res.packets;
    rt->stats.tx_bytes += res.bytes - res.packets * RT_VNET_HDR_LEN;
    rt->tun_write_errors += res.errors;
    if (r < 0)
        rt_uring_destroy(&rt->txq); /* write directly from now on */
}

/* A small packet (an ACK) sent while the loop works goes into the queue
 * of writes made together; true when it was queued. A larger one (data)
 * is written at once, after what is queued, so the order holds. */
static bool tx_queue(struct berth_rt *rt, const uint8_t *pkt, size_t len,
                     uint16_t seg_size)
{
    if (rt->txq.ring_fd < 0 || !rt->in_loop)
        return false;
    /* An ACK that says all the one queued just before it says (more data
     * acknowledged, the same connection) takes its place: the kernel would
     * have taken both in the same io_uring_enter, back to back. It still
     * counts towards RT_TX_BATCH, so ACKs leave when they did before. */
    size_t last_len;
    uint8_t *last = rt_uring_last(&rt->txq, &last_len);
    if (last && last_len == RT_VNET_HDR_LEN + len && seg_size == 0 &&
        rt_tun_ack_supersedes(last + RT_VNET_HDR_LEN,
                              last_len - RT_VNET_HDR_LEN, pkt, len)) {
        memcpy(last + RT_VNET_HDR_LEN, pkt, len);
        rt->stats.tx_acks_merged++;
        if (++rt->txq_handed >= RT_TX_BATCH)
            rt_tx_flush(rt);
        return true;
    }
    uint8_t *slot = rt_uring_slot(&rt->txq, RT_VNET_HDR_LEN + len);
    if (!slot && RT_VNET_HDR_LEN + len <= RT_URING_SLOT) {
        rt_tx_flush(rt);
        slot = rt_uring_slot(&rt->txq, RT_VNET_HDR_LEN + len);
    }
    if (!slot) {
        rt_tx_flush(rt);
        return false;
    }
    rt_tun_tx_header(slot, pkt, len, seg_size);
    memcpy(slot + RT_VNET_HDR_LEN, pkt, len);
    rt_uring_queue(&rt->txq, RT_VNET_HDR_LEN + len);
    if (++rt->txq_handed >= RT_TX_BATCH)
        rt_tx_flush(rt);
    return true;
}

/* With offloads every write starts with the virtio-net header: a clean
 * link writes header and packet with one writev (no copy of a 64 KiB
 * super-segment), or queues a small one (tx_queue); the impairment gets a
 * copy with the header in front. */
static void tx_packet(struct berth_rt *rt, const uint8_t *pkt, size_t len,
                      uint16_t seg_size)
{
    capture(rt, 1, pkt, len);
    if (!rt->offload.vnet) {
        rt_impair_submit(rt->tx_imp, pkt, len, rt->now, tun_write, rt);
        return;
    }
    uint8_t *hdr = rt->txcopy;
    rt_tun_tx_header(hdr, pkt, len, seg_size);
    if (rt_impair_active(rt->tx_imp)) {
        memcpy(hdr + RT_VNET_HDR_LEN, pkt, len);
        rt_impair_submit(rt->tx_imp, hdr, RT_VNET_HDR_LEN + len, rt->now,
                         tun_write, rt);
        return;
    }
    if (tx_queue(rt, pkt, len, seg_size))
        return;
    struct iovec iov[2] = {{hdr, RT_VNET_HDR_LEN}, {(void *)pkt, len}};
    ssize_t n;
    do
        n = writev(rt->tunfd, iov, 2);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)(RT_VNET_HDR_LEN + len)) {
        rt->stats.tx_packets++;
        rt->stats.tx_bytes += len;
    } else {
        rt->tun_write_errors++;
    }
}

void rt_stack_tx(void *ctx, const uint8_t *pkt, size_t len)
{
    tx_packet(ctx, pkt, len, 0);
}

void rt_stack_tx_gso(void *ctx, const uint8_t *pkt, size_t len,
                     uint16_t seg_size)
{
    tx_packet(ctx, pkt, len, seg_size);
}

void rt_stack_event(void *ctx, int sock, uint32_t events)
{
    struct berth_rt *rt = ctx;
    if (rt->app.on_event)
        rt->app.on_event(rt->app.ctx, sock, events);
}

static char *ep_str(char *buf, size_t size, struct berth_endpoint ep)
{
    return berth_endpoint_string(&ep, buf, size); /* [2001:db8:b::1]:80 */
}

/* "12.345678 198.18.0.2:80 198.18.0.1:40000 SYN-RECEIVED -> ESTABLISHED
 * (RCV_ACK)" or "... drop SEQ_OUT_OF_WINDOW"; time since the runtime
 * started. */
void rt_stack_trace(void *ctx, const struct berth_trace *ev)
{
    struct berth_rt *rt = ctx;
    if (rt->cfg.trace) {
        uint64_t t = ev->now > rt->t0 ? ev->now - rt->t0 : 0;
        char l[64], r[64];
        fprintf(rt->cfg.trace, "%" PRIu64 ".%06" PRIu64 " %s %s ",
                t / RT_US_PER_S, t % RT_US_PER_S,
                ep_str(l, sizeof l, ev->local),
                ep_str(r, sizeof r, ev->remote));
        if (ev->kind == BERTH_TRACE_STATE)
            fprintf(rt->cfg.trace, "%s -> %s (%s)\n",
                    berth_state_name(ev->old_state),
                    berth_state_name(ev->new_state),
                    berth_reason_name(ev->reason));
        else
            fprintf(rt->cfg.trace, "drop %s\n", berth_reason_name(ev->reason));
    }
    if (rt->trace_fn)
        rt->trace_fn(rt->trace_ctx, ev);
}

/* Up to RT_RX_BATCH packets per wake-up: enough to amortise epoll_wait,
 * few enough that timers and the application run between batches. Each
 * packet is stamped with a fresh clock (vDSO, tens of ns). */
static int rx_batch(struct berth_rt *rt)
{
    if (rt->link)
        return rt_link_rx(rt);
    /* With the checksum offload, and nothing that needs each packet whole
     * (capture, the receive impairment's queue), payloads are read in
     * place (tun.c, rt_tun_read). */
    bool place = rt->offload.csum && !rt->tap && !rt->pcap &&
                 !rt_impair_active(rt->rx_imp);
    rt->rx_more = false;
    for (int i = 0; i < RT_RX_BATCH; i++) {
        bool taken = false;
        ssize_t n;
        if (rt->offload.vnet) {
            n = rt_tun_read(&rt->rx, rt->stack, place, &rt->now, &taken);
        } else {
            n = read(rt->tunfd, rt->rxbuf, rt->rxcap);
            rt->now = rt_clock_now();
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -errno;
        }
        if (i == RT_RX_BATCH - 1)
            rt->rx_more = true; /* the batch is cut, not the reads dry */
        if (taken) {
            rt->stats.rx_packets++;
            rt->stats.rx_bytes += (uint64_t)n - RT_VNET_HDR_LEN;
            continue;
        }
        if (rt->offload.vnet && rt_tun_rx_prepare(rt->rxbuf, (size_t)n) < 0) {
            rt->rx_bad_vnet++;
            continue;
        }
        size_t hl = rt->offload.vnet ? RT_VNET_HDR_LEN : 0;
        if (rt->nshards > 1 &&
            rt_steer_owner(rt->steer_key, rt->nshards, rt->rxbuf + hl,
                           (size_t)n - hl) != rt->shard) {
            /* Another shard's flow: never processed here (it would find
             * no connection and reset the peer's). */
            rt->stats.steer_foreign++;
            continue;
        }
        rt->stats.rx_packets++;
        rt->stats.rx_bytes += (uint64_t)n - hl;
        rt_impair_submit(rt->rx_imp, rt->rxbuf, (size_t)n, rt->now, rx_deliver,
                         rt);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Shutdown.
 */

/* A first SIGINT/SIGTERM asks for a graceful shutdown; a second one while
 * it runs ends the loop at once (as impatient users expect). */
static void on_signal(struct berth_rt *rt)
{
    struct signalfd_siginfo si;
    while (read(rt->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (rt->stop_requested || rt->stopping)
            rt->exiting = true;
        else
            rt->stop_requested = true;
        if (!rt->stop_signal)
            rt->stop_signal = (int)si.ssi_signo;
    }
}

static void count_live(void *ctx, int sock, const struct berth_tcp_info *in)
{
    (void)sock;
    size_t *n = ctx;
    if (in->state != BERTH_STATE_LISTEN && in->state != BERTH_STATE_TIME_WAIT &&
        in->state != BERTH_STATE_CLOSED)
        (*n)++;
}

/* The shutdown is over once no connection is still exchanging segments:
 * listeners, TIME-WAIT entries (which keep nothing the peer needs) and
 * closed handles do not hold the process. */
static bool shutdown_done(struct berth_rt *rt)
{
    size_t live = 0;
    berth_foreach(rt->stack, count_live, &live);
    return live == 0;
}

static void begin_shutdown(struct berth_rt *rt)
{
    rt->stopping = true;
    rt->stop_deadline = rt->now + rt->cfg.shutdown_grace;
    rt_group_stopping(rt); /* the other shards stop too */
    if (rt->app.on_stop)
        rt->app.on_stop(rt->app.ctx);
}

void berth_rt_stop(struct berth_rt *rt)
{
    /* on_stop runs from the loop, not from inside whatever callback
     * called us. */
    rt->stop_requested = true;
}

int berth_rt_stop_signal(const struct berth_rt *rt)
{
    return rt->stop_signal;
}

void berth_rt_exit(struct berth_rt *rt)
{
    rt->exiting = true;
}

/* ------------------------------------------------------------------------
 * Watched descriptors.
 */

int berth_rt_watch_fd(struct berth_rt *rt, int fd, uint32_t events,
                      void (*fn)(void *ctx, int fd, uint32_t events), void *ctx)
{
    int slot = -1;
    for (int i = 0; i < RT_MAX_WATCH; i++) {
        if (rt->watch[i].fd == fd)
            return -EEXIST;
        if (rt->watch[i].fd < 0 && slot < 0)
            slot = i;
    }
    if (fd < 0 || !fn)
        return -EINVAL;
    if (slot < 0)
        return -ENOSPC;
    struct rt_watch *w = &rt->watch[slot];
    uint32_t gen = ++rt->watch_gen;
    struct epoll_event ev = {.events = events};
    ev.data.u64 = RT_TAG_WATCH | (uint64_t)slot << 8 | (uint64_t)gen << 32;
    if (epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    *w = (struct rt_watch){fd, gen, fn, ctx};
    return 0;
}

int berth_rt_unwatch_fd(struct berth_rt *rt, int fd)
{
    for (int i = 0; i < RT_MAX_WATCH; i++) {
        if (fd >= 0 && rt->watch[i].fd == fd) {
            rt->watch[i].fd = -1;
            /* The fd may be closed already: then the kernel dropped it
             * from the set itself. */
            if (epoll_ctl(rt->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 &&
                errno != EBADF && errno != ENOENT)
                return -errno;
            return 0;
        }
    }
    return -ENOENT;
}

static void on_watch(struct berth_rt *rt, uint64_t tag, uint32_t events)
{
    struct rt_watch *w = &rt->watch[(tag >> 8) & 0xff];
    if (w->fd >= 0 && w->gen == (uint32_t)(tag >> 32))
        w->fn(w->ctx, w->fd, events);
}

/* ------------------------------------------------------------------------
 * The loop.
 */

static uint64_t next_wake(const struct berth_rt *rt)
{
    if (rt->stop_requested && !rt->stopping)
        return 0;
    uint64_t t = min_u64(berth_next_deadline(rt->stack), rt->app_wake);
    t = min_u64(t, rt_impair_next_due(rt->rx_imp));
    t = min_u64(t, rt_impair_next_due(rt->tx_imp));
    if (rt->ctl)
        t = min_u64(t, rt_ctl_next_deadline(rt->ctl));
    if (rt->link)
        t = min_u64(t, rt_link_next_deadline(rt));
    if (rt->stopping)
        t = min_u64(t, rt->stop_deadline);
    if (rt->pcap_dirty)
        t = min_u64(t, rt->pcap_flushed + PCAP_FLUSH_EVERY);
    if (rt->events && !rt->events_borrowed)
        t = min_u64(t, rt->events_flushed + EVENTS_FLUSH_EVERY);
    return t;
}

/* epoll_pwait2 takes the timeout in ns, so an impairment delay of 300 us
 * is not rounded up to a millisecond; epoll_wait is the fallback on
 * kernels before 5.11. */
static int wait_ready(struct berth_rt *rt, uint64_t wake,
                      struct epoll_event *evs)
{
    static _Atomic bool no_pwait2; /* shards' threads share it */
    uint64_t now = rt_clock_now();
    uint64_t d = wake > now ? wake - now : 0;
    struct timespec ts = {(time_t)(d / RT_US_PER_S),
                          (long)(d % RT_US_PER_S) * 1000};
    if (wake == UINT64_MAX)
        d = UINT64_MAX;
    if (!no_pwait2) {
        int n = epoll_pwait2(rt->epfd, evs, RT_MAX_EVENTS,
                             d == UINT64_MAX ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        no_pwait2 = true;
    }
    int ms = d == UINT64_MAX ? -1
             : d > (uint64_t)INT32_MAX * RT_US_PER_MS
                 ? INT32_MAX
                 : (int)((d + RT_US_PER_MS - 1) / RT_US_PER_MS);
    return epoll_wait(rt->epfd, evs, RT_MAX_EVENTS, ms);
}

static int dispatch(struct berth_rt *rt, const struct epoll_event *ev)
{
    uint64_t tag = ev->data.u64;
    switch (tag & 0xff) {
    case RT_TAG_TUN:
        return rx_batch(rt);
    case RT_TAG_SIGNAL:
        on_signal(rt);
        return 0;
    case RT_TAG_CTL:
        rt_ctl_poll(rt->ctl, rt->now, rt_ctl_command, rt);
        return 0;
    case RT_TAG_WATCH:
        on_watch(rt, tag, ev->events);
        return 0;
    }
    return 0;
}

static void flush_capture(struct berth_rt *rt)
{
    rt->pcap_dirty = false;
    rt->pcap_flushed = rt->now;
    if (rt->pcap_lock)
        pthread_mutex_lock(rt->pcap_lock);
    int rc = rt_pcap_flush(rt->pcap);
    if (rt->pcap_lock)
        pthread_mutex_unlock(rt->pcap_lock);
    if (rc < 0) {
        fprintf(stderr, "berth: capture to %s stopped: %s\n", rt->pcap_path,
                strerror(-rc));
        if (!rt->pcap_borrowed && !rt->pcap_lock)
            rt_pcap_close(rt->pcap);
        rt->pcap = NULL; /* a shared one is closed with shard 0 */
    }
}

/* Memory returns to the OS: once the stack's usage is back below the low
 * threshold after pressure, the freed buffers are handed back to the
 * kernel (glibc keeps freed heap memory otherwise, however little is in
 * use: the issue 12 attack left 547 MB of RSS with nothing held). The
 * connections that made the pressure often end in one burst that spans
 * loop iterations, so it trims again each time usage halves, until usage
 * is down to a sixteenth of the limit: a few calls, never one per loop. */
static void trim_after_pressure(struct berth_rt *rt)
{
    struct berth_mem_state m;
    berth_mem_state(rt->stack, &m);
    if (m.level != BERTH_MEM_NORMAL) {
        rt->mem_trim_owed = true;
        rt->mem_trim_used = SIZE_MAX;
        return;
    }
    if (!rt->mem_trim_owed || m.used > rt->mem_trim_used / 2)
        return;
    malloc_trim(0);
    rt->mem_trims++;
    rt->mem_trim_used = m.used;
    if (m.used <= m.limit / 16)
        rt->mem_trim_owed = false;
}

/* Everything after the events: due impaired packets, timers, the app. */
static void service(struct berth_rt *rt)
{
    rt->now = rt_clock_now();
    rt_impair_drain(rt->rx_imp, rt->now, rx_deliver, rt);
    rt_impair_drain(rt->tx_imp, rt->now, tun_write, rt);
    berth_advance(rt->stack, rt->now);
    trim_after_pressure(rt);
    if (rt->stop_requested && !rt->stopping)
        begin_shutdown(rt);
    rt->app_wake =
        rt->app.on_tick ? rt->app.on_tick(rt->app.ctx, rt->now) : UINT64_MAX;
    if (rt->ctl && rt_ctl_next_deadline(rt->ctl) <= rt->now)
        rt_ctl_poll(rt->ctl, rt->now, rt_ctl_command, rt);
    if (rt->pcap_dirty && rt->now - rt->pcap_flushed >= PCAP_FLUSH_EVERY)
        flush_capture(rt);
    /* The log's owner flushes it (shard 0 for shards, under the lock
     * every shard writes it with). */
    if (rt->events && !rt->events_borrowed &&
        rt->now - rt->events_flushed >= EVENTS_FLUSH_EVERY) {
        rt->events_flushed = rt->now;
        if (rt->pcap_lock)
            pthread_mutex_lock(rt->pcap_lock);
        berth_events_flush(rt->events);
        if (rt->pcap_lock)
            pthread_mutex_unlock(rt->pcap_lock);
    }
    if (rt->stopping && (rt->now >= rt->stop_deadline || shutdown_done(rt)))
        rt->exiting = true;
    if (rt->link)
        rt_link_service(rt); /* timers, then this iteration's frames out */
}

void berth_rt_set_lock(struct berth_rt *rt, void (*lock)(void *ctx),
                       void (*unlock)(void *ctx), void *ctx)
{
    rt->lock = lock;
    rt->unlock = unlock;
    rt->lock_ctx = ctx;
}

static void rt_lock(struct berth_rt *rt)
{
    if (rt->lock)
        rt->lock(rt->lock_ctx);
}

static void rt_unlock(struct berth_rt *rt)
{
    if (rt->unlock)
        rt->unlock(rt->lock_ctx);
}

int berth_rt_run(struct berth_rt *rt)
{
    struct epoll_event evs[RT_MAX_EVENTS];
    int rc = 0;
    rt_lock(rt);
    while (!rt->exiting && rc == 0) {
        uint64_t wake = next_wake(rt);
        rt_unlock(rt); /* other threads use the stack while we wait */
        /* A batch of reads cut at RT_RX_BATCH leaves packets waiting: the
         * next batch goes without asking epoll, which is only asked when
         * the reads ran dry, something is due now, or every RT_RX_SKIPS
         * batches (signals, the control socket, watched fds). */
        int n;
        if (rt->rx_more && wake > rt->now && ++rt->rx_skips < RT_RX_SKIPS) {
            evs[0] = (struct epoll_event){.events = EPOLLIN};
            evs[0].data.u64 = RT_TAG_TUN;
            n = 1;
        } else {
            rt->rx_skips = 0;
            n = wait_ready(rt, wake, evs);
        }
        int wait_errno = errno;
        rt_lock(rt);
        errno = wait_errno;
        if (n < 0 && errno != EINTR) {
            rc = -errno;
            break;
        }
        rt->now = rt_clock_now();
        rt->in_loop = true;
        for (int i = 0; i < n && rc == 0; i++)
            rc = dispatch(rt, &evs[i]);
        if (rc == 0)
            service(rt);
        rt_tx_flush(rt);
        rt->in_loop = false;
        rt->stats.loops++;
    }
    if (rt->pcap)
        flush_capture(rt);
    rt_unlock(rt);
    return rc;
}
