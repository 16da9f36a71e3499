/* The runtime object: configuration defaults, creation (TUN, stack, epoll,
 * signals, capture, control socket) and teardown, the setters applications
 * use, and the control commands. The event loop itself is in loop.c. */
#include "link_rt.h"
#include "rt_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define RT_ADDR_BERTH 0xc6120002u /* 198.18.0.2 */
#define RT_ADDR_PEER  0xc6120001u /* 198.18.0.1 */
#define RT_MIN_MTU    576u        /* IPv4's minimum reassembly size */
#define RT_IP_TCP_HDR 40u         /* IPv4 + TCP headers without options */

/* 2001:db8:b::2 and ::1 (RFC 3849: the documentation prefix). */
static const uint8_t rt_addr6_berth[16] = {0x20, 0x01, 0x0d,    0xb8,
                                           0x00, 0x0b, [15] = 2};
static const uint8_t rt_addr6_peer[16] = {0x20, 0x01, 0x0d,    0xb8,
                                          0x00, 0x0b, [15] = 1};

void berth_rt_config_init(struct berth_rt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tun_name = "berth0";
    cfg->addr = RT_ADDR_BERTH;
    cfg->peer_addr = RT_ADDR_PEER;
    cfg->peer_prefix = 24;
    memcpy(cfg->addr6, rt_addr6_berth, 16);
    memcpy(cfg->peer_addr6, rt_addr6_peer, 16);
    cfg->peer_prefix6 = 64;
    cfg->ipv6 = BERTH_RT_IPV6_AUTO;
    cfg->mtu = 1500;
    cfg->shutdown_grace = 2 * RT_US_PER_S;
    berth_config_init(&cfg->stack);
    berth_eth_config_init(&cfg->eth);
}

/* "what: strerror(errno)" into err; -1. */
static int rt_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, strerror(errno));
    return -1;
}

/* Like IPv4's: berth's IPv6 address differs from the kernel side's and
 * lies in its prefix. */
static int check_config6(const struct berth_rt_config *cfg, char *err,
                         size_t errlen)
{
    unsigned p = cfg->peer_prefix6;
    if (cfg->ipv6 == BERTH_RT_IPV6_OFF)
        return 0;
    if (p < 1 || p > 126) {
        snprintf(err, errlen, "IPv6 peer prefix /%u: expected 1 to 126", p);
        return -1;
    }
    bool inside = memcmp(cfg->addr6, cfg->peer_addr6, 16) != 0;
    for (unsigned i = 0; i < p && inside; i++)
        inside = !(
            ((cfg->addr6[i / 8] ^ cfg->peer_addr6[i / 8]) >> (7 - i % 8)) & 1u);
    if (!inside) {
        char a[BERTH_ADDRSTRLEN], b[BERTH_ADDRSTRLEN];
        struct berth_endpoint ea = berth_endpoint_v6(cfg->addr6, 0),
                              eb = berth_endpoint_v6(cfg->peer_addr6, 0);
        snprintf(err, errlen,
                 "IPv6 address %s must differ from the kernel side's and lie "
                 "in %s/%u",
                 berth_addr_string(&ea, a, sizeof a),
                 berth_addr_string(&eb, b, sizeof b), p);
        return -1;
    }
    return 0;
}

static int check_config(const struct berth_rt_config *cfg, char *err,
                        size_t errlen)
{
    uint32_t mask = cfg->peer_prefix ? ~0u << (32 - cfg->peer_prefix) : 0;
    if (cfg->peer_prefix < 1 || cfg->peer_prefix > 30) {
        snprintf(err, errlen, "peer prefix /%u: expected 1 to 30",
                 cfg->peer_prefix);
        return -1;
    }
    if (cfg->mtu < RT_MIN_MTU) {
        snprintf(err, errlen, "MTU %u: at least %u", cfg->mtu, RT_MIN_MTU);
        return -1;
    }
    /* The kernel reaches berth through the subnet route the device's
     * address creates: berth's address must be inside it. */
    if (cfg->addr == cfg->peer_addr || ((cfg->addr ^ cfg->peer_addr) & mask)) {
        uint32_t a = cfg->addr, p = cfg->peer_addr;
        snprintf(err, errlen,
                 "address %u.%u.%u.%u must differ from the kernel side's "
                 "and lie in %u.%u.%u.%u/%u",
                 a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, p >> 24,
                 (p >> 16) & 255, (p >> 8) & 255, p & 255, cfg->peer_prefix);
        return -1;
    }
    return check_config6(cfg, err, errlen);
}

/* Shards share one event log: each event is written whole under the
 * lock that serialises the shared capture. */
static void events_locked(void *ctx, const struct berth_log_event *ev)
{
    struct berth_rt *rt = ctx;
    pthread_mutex_lock(rt->pcap_lock);
    berth_events_hook(rt->events, ev);
    pthread_mutex_unlock(rt->pcap_lock);
}

/* The stack's configuration: our hooks, our address, an MSS the MTU can
 * carry, and fresh randomness unless the caller fixed it. */
static int make_stack(struct berth_rt *rt, char *err, size_t errlen)
{
    struct berth_config sc = rt->cfg.stack;
    sc.addr = rt->cfg.addr;
    if (rt->ipv6)
        memcpy(sc.addr6, rt->cfg.addr6, 16);
    else
        memset(sc.addr6, 0, sizeof sc.addr6);
    sc.tx = rt->link ? rt_link_stack_tx : rt_stack_tx;
    sc.tx_ctx = rt;
    sc.event = rt_stack_event;
    sc.event_ctx = rt;
    sc.trace = rt_stack_trace;
    sc.trace_ctx = rt;
    if (rt->events && rt->pcap_lock) {
        sc.log = events_locked;
        sc.log_ctx = rt;
    } else if (rt->events) {
        sc.log = berth_events_hook;
        sc.log_ctx = rt->events;
    }
    if (sc.mss > rt->cfg.mtu - RT_IP_TCP_HDR)
        sc.mss = (uint16_t)(rt->cfg.mtu - RT_IP_TCP_HDR);
    /* TSO: the kernel cuts our super-segments at the MSS we name (one
     * setting for both families: TSO6 too when IPv6 is on). */
    bool tso = rt->offload.tso4 && (rt->offload.tso6 || !rt->ipv6);
    sc.tso_max = tso ? 65535u : 0;
    sc.tx_gso = tso ? rt_stack_tx_gso : NULL;
    sc.tx_sg = rt->link ? NULL : rt_stack_tx_sg; /* text: one writev */
    if (rt->nshards > 1) { /* active opens stay on this shard (steer.c) */
        sc.port_ok = rt_steer_port_ok;
        sc.port_ok_ctx = rt;
    }
    if (!rt->cfg.fixed_random &&
        (getrandom(&sc.seed, sizeof sc.seed, 0) != sizeof sc.seed ||
         getrandom(sc.secret, sizeof sc.secret, 0) != sizeof sc.secret))
        return rt_fail(err, errlen, "getrandom");
    rt->stack = berth_stack_create(&sc, rt->now);
    if (!rt->stack) {
        snprintf(err, errlen,
                 "cannot create the stack (bad config or out "
                 "of memory)");
        return -1;
    }
    return 0;
}

static int epoll_add(struct berth_rt *rt, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(rt->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* SIGINT and SIGTERM become readable events on a signalfd, so a shutdown
 * starts inside the loop rather than in a handler. */
static int open_signals(struct berth_rt *rt, char *err, size_t errlen)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, &rt->old_sigmask) < 0)
        return rt_fail(err, errlen, "sigprocmask");
    rt->sigmask_saved = true;
    rt->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (rt->sigfd < 0)
        return rt_fail(err, errlen, "signalfd");
    return 0;
}

static int open_loop(struct berth_rt *rt, char *err, size_t errlen)
{
    rt->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (rt->epfd < 0)
        return rt_fail(err, errlen, "epoll_create");
    if (!rt->cfg.no_signals && open_signals(rt, err, errlen) < 0)
        return -1;
    if (epoll_add(rt, rt->tunfd, RT_TAG_TUN) < 0 ||
        (rt->sigfd >= 0 && epoll_add(rt, rt->sigfd, RT_TAG_SIGNAL) < 0) ||
        (rt->ctl && epoll_add(rt, rt_ctl_fd(rt->ctl), RT_TAG_CTL) < 0))
        return rt_fail(err, errlen, "epoll_ctl");
    return 0;
}

static int copy_strings(struct berth_rt *rt, const struct berth_rt_config *cfg)
{
    char path[256];
    const char *ctl = cfg->ctl_path;
    rt->tun_name = strdup(cfg->tun_name ? cfg->tun_name : "berth0");
    if (!ctl)
        ctl = berth_rt_default_ctl_path(rt->tun_name, path, sizeof path);
    rt->ctl_path = strdup(ctl);
    rt->pcap_path = cfg->pcap_path ? strdup(cfg->pcap_path) : NULL;
    rt->events_path = cfg->events_path ? strdup(cfg->events_path) : NULL;
    rt->cfg.tun_name = rt->tun_name;
    rt->cfg.ctl_path = rt->ctl_path;
    rt->cfg.pcap_path = rt->pcap_path;
    rt->cfg.events_path = rt->events_path;
    return rt->tun_name && rt->ctl_path && (rt->pcap_path || !cfg->pcap_path) &&
                   (rt->events_path || !cfg->events_path)
               ? 0
               : -1;
}

/* IPv6 on or off for this instance (berth_rt_config.ipv6): AUTO falls
 * back to IPv4 only, with a note, where ON fails. */
static int decide_ipv6(struct berth_rt *rt, char *err, size_t errlen)
{
    rt->ipv6 = false;
    if (rt->cfg.ipv6 == BERTH_RT_IPV6_OFF)
        return 0;
    char why[160];
    if (rt_tun_check6(rt->tun_name, rt->cfg.peer_addr6, rt->cfg.peer_prefix6,
                      why, sizeof why) == 0) {
        rt->ipv6 = true;
        return 0;
    }
    if (rt->cfg.ipv6 == BERTH_RT_IPV6_ON) {
        snprintf(err, errlen, "%s; give --peer6/--addr6 or --no-ipv6", why);
        return -1;
    }
    if (rt->cfg.trace)
        fprintf(rt->cfg.trace, "berth: IPv6 off: %s\n", why);
    return 0;
}

bool berth_rt_ipv6(const struct berth_rt *rt)
{
    return rt->ipv6;
}

/* A shard after the first: another queue of shard 0's device (with the
 * header shard 0 obtained), shard 0's capture; no control socket. */
static int open_queue(struct berth_rt *rt, const struct rt_shard_spec *sp,
                      char *err, size_t errlen)
{
    bool created;
    rt->tunfd = rt_tun_open_queue(rt->tun_name, sp->first->offload.vnet,
                                  &rt->offload, &created, err, errlen);
    rt->pcap = sp->first->pcap;
    rt->pcap_borrowed = true;
    rt->events = sp->first->events; /* one log, written under pcap_lock */
    rt->events_borrowed = true;
    /* Shard 0 configured IPv6 on the device; every shard's stack has the
     * address too, so its listeners are the same ([::]:80 dual-stack on
     * each: one row in ss), though IPv6 packets are steered to shard 0. */
    rt->ipv6 = sp->first->ipv6;
    return rt->tunfd < 0 ? -1 : 0;
}

/* open_io() on an Ethernet link (link_eth.c): the backend, a capture of
 * frames, the control socket. */
static int open_link_io(struct berth_rt *rt, char *err, size_t errlen)
{
    if (rt_link_open(rt, err, errlen) < 0)
        return -1;
    if (rt->pcap_path) {
        rt->pcap = rt_pcap_open_linktype(
            rt->pcap_path, RT_PCAP_LINKTYPE_ETHERNET, err, errlen);
        if (!rt->pcap)
            return -1;
    }
    rt->ctl = rt_ctl_open(rt->ctl_path, err, errlen);
    return rt->ctl ? 0 : -1;
}

static int open_io(struct berth_rt *rt, const struct rt_shard_spec *sp,
                   char *err, size_t errlen)
{
    if (rt_link_wanted(&rt->cfg))
        return open_link_io(rt, err, errlen);
    if (sp && sp->index > 0)
        return open_queue(rt, sp, err, errlen);
    if (sp) {
        rt->tunfd =
            rt_tun_open_queue(rt->tun_name, !rt->cfg.no_offload, &rt->offload,
                              &rt->tun_created, err, errlen);
        /* EINVAL: no IFF_MULTI_QUEUE here, or a device made without it */
        if (rt->tunfd < 0 && errno == EINVAL)
            *sp->refused = true;
    } else
        rt->tunfd = rt_tun_open(rt->tun_name, !rt->cfg.no_offload, &rt->offload,
                                &rt->tun_created, err, errlen);
    if (rt->tunfd >= 0 && rt->cfg.trace) {
        char off[128];
        rt_tun_offload_describe(&rt->offload, off, sizeof off);
        fprintf(rt->cfg.trace, "berth: %s offloads: %s\n", rt->tun_name, off);
    }
    if (rt->tunfd < 0 || decide_ipv6(rt, err, errlen) < 0 ||
        rt_tun_configure(rt->tun_name, rt->cfg.peer_addr, rt->cfg.peer_prefix,
                         rt->cfg.mtu, rt->ipv6, err, errlen) < 0)
        return -1;
    if (rt->ipv6 && rt_tun_configure6(rt->tun_name, rt->cfg.peer_addr6,
                                      rt->cfg.peer_prefix6, err, errlen) < 0)
        return -1;
    if (sp && rt_steer_attach(rt->tunfd, rt->steer_key, err, errlen) < 0) {
        *sp->refused = true;
        return -1;
    }
    if (rt->pcap_path) {
        rt->pcap = rt_pcap_open(rt->pcap_path, err, errlen);
        if (!rt->pcap)
            return -1;
    }
    if (rt->events_path) {
        rt->events = berth_events_open(rt->events_path, rt->t0, err, errlen);
        if (!rt->events)
            return -1;
    }
    rt->ctl = rt_ctl_open(rt->ctl_path, err, errlen);
    return rt->ctl ? 0 : -1;
}

struct berth_rt *berth_rt_create(const struct berth_rt_config *cfg, char *err,
                                 size_t errlen)
{
    if (cfg->fork_shards <= 1)
        return rt_create(cfg, NULL, err, errlen);
    /* Shard 0 of forked workers (berth_rt_fork_shard()). */
    bool refused = false;
    struct rt_shard_spec sp = {.n = cfg->fork_shards, .refused = &refused};
    if (cfg->fork_shards > 64 ||
        getrandom(&sp.key, sizeof sp.key, 0) != sizeof sp.key) {
        snprintf(err, errlen, "fork_shards %u: 2 to 64", cfg->fork_shards);
        return NULL;
    }
    return rt_create(cfg, &sp, err, errlen);
}

static void set_shard(struct berth_rt *rt, const struct rt_shard_spec *sp)
{
    rt->nshards = 1;
    if (!sp)
        return;
    rt->group = sp->group;
    rt->shard = sp->index;
    rt->nshards = sp->n;
    rt->steer_key = sp->key;
    rt->pcap_lock = sp->pcap_lock;
    if (sp->index > 0) /* shard 0 has the signals */
        rt->cfg.no_signals = true;
}

struct berth_rt *rt_create(const struct berth_rt_config *cfg,
                           const struct rt_shard_spec *sp, char *err,
                           size_t errlen)
{
    if (check_config(cfg, err, errlen) < 0)
        return NULL;
    struct berth_rt *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->cfg = *cfg;
    set_shard(rt, sp);
    rt->epfd = rt->tunfd = rt->sigfd = -1;
    rt->txq.ring_fd = -1;
    for (int i = 0; i < RT_MAX_WATCH; i++)
        rt->watch[i].fd = -1;
    rt->now = rt->t0 = rt_clock_now();
    rt->app_wake = UINT64_MAX;
    /* any IPv4 datagram, whatever the MTU, after a virtio-net header */
    rt->rxcap = 65536 + RT_VNET_HDR_LEN;
    rt->rxbuf = malloc(rt->rxcap);
    rt->txcopy = malloc(2 * RT_TXCOPY_LEN); /* the second half: tun.c */
    rt->rx_imp = rt_impair_create(RT_IMPAIR_QUEUE_LIMIT);
    rt->tx_imp = rt_impair_create(RT_IMPAIR_QUEUE_LIMIT);
    if (copy_strings(rt, cfg) < 0 || !rt->rxbuf || !rt->txcopy || !rt->rx_imp ||
        !rt->tx_imp) {
        snprintf(err, errlen, "out of memory");
        berth_rt_destroy(rt);
        return NULL;
    }
    berth_rt_set_impair(rt, &cfg->impair);
    if (open_io(rt, sp, err, errlen) < 0 || make_stack(rt, err, errlen) < 0 ||
        open_loop(rt, err, errlen) < 0) {
        berth_rt_destroy(rt);
        return NULL;
    }
    rt_tun_rx_init(&rt->rx, rt->tunfd, rt->rxbuf, rt->rxcap, rt_clock_now);
    /* The ACKs of a receive batch go out in batches (loop.c, tx_queue);
     * without io_uring each is its own write. */
    if (rt->offload.vnet && !rt->link)
        rt_uring_init(&rt->txq, rt->tunfd);
    return rt;
}

/* Signals that arrived while blocked are consumed before the old mask
 * comes back, so a Ctrl-C during the shutdown does not kill the process
 * after the runtime is gone. */
static void close_signals(struct berth_rt *rt)
{
    if (rt->sigfd >= 0) {
        struct signalfd_siginfo si;
        while (read(rt->sigfd, &si, sizeof si) == sizeof si)
            ;
        close(rt->sigfd);
    }
    if (rt->sigmask_saved)
        sigprocmask(SIG_SETMASK, &rt->old_sigmask, NULL);
}

void berth_rt_destroy(struct berth_rt *rt)
{
    if (!rt)
        return;
    rt_ctl_close(rt->ctl);
    if (rt->pcap && !rt->pcap_borrowed && rt_pcap_close(rt->pcap) < 0)
        fprintf(stderr, "berth: capture file %s incomplete\n", rt->pcap_path);
    if (rt->stack)
        berth_stack_destroy(rt->stack);
    if (rt->events && !rt->events_borrowed &&
        berth_events_close(rt->events) < 0)
        fprintf(stderr, "berth: event log %s incomplete\n", rt->events_path);
    rt_link_close(rt);
    rt_uring_destroy(&rt->txq);
    rt_impair_destroy(rt->rx_imp);
    rt_impair_destroy(rt->tx_imp);
    close_signals(rt);
    if (rt->epfd >= 0)
        close(rt->epfd);
    /* Closing the descriptor deletes a TUN device we created (it is not
     * persistent); one that existed before stays. */
    if (rt->tunfd >= 0)
        close(rt->tunfd);
    free(rt->rxbuf);
    free(rt->txcopy);
    free(rt->tun_name);
    free(rt->ctl_path);
    free(rt->pcap_path);
    free(rt->events_path);
    free(rt);
}

/* ------------------------------------------------------------------------
 * Accessors and setters.
 */

struct berth_stack *berth_rt_stack(struct berth_rt *rt)
{
    return rt->stack;
}

uint64_t berth_rt_now(const struct berth_rt *rt)
{
    (void)rt;
    return rt_clock_now();
}

void berth_rt_set_app(struct berth_rt *rt, const struct berth_rt_app *app)
{
    if (app)
        rt->app = *app;
    else
        memset(&rt->app, 0, sizeof rt->app);
    rt->app_wake = 0; /* let a new app's on_tick run at once */
}

void berth_rt_set_impair(struct berth_rt *rt, const struct berth_impair *imp)
{
    rt->impair = *imp;
    /* Shard k draws from streams 2k and 2k+1 of the one seed. */
    rt_impair_configure(rt->rx_imp, imp, 2 * (uint64_t)rt->shard);
    rt_impair_configure(rt->tx_imp, imp, 2 * (uint64_t)rt->shard + 1);
}

void berth_rt_set_tap(struct berth_rt *rt,
                      void (*fn)(void *ctx, int dir, uint64_t now,
                                 const uint8_t *pkt, size_t len),
                      void *ctx)
{
    rt->tap = fn;
    rt->tap_ctx = ctx;
}

void berth_rt_set_trace(struct berth_rt *rt,
                        void (*fn)(void *ctx, const struct berth_trace *ev),
                        void *ctx)
{
    rt->trace_fn = fn;
    rt->trace_ctx = ctx;
}

void berth_rt_stats(const struct berth_rt *rt, struct berth_rt_stats *out)
{
    struct rt_impair_stats rx, tx;
    rt_impair_get_stats(rt->rx_imp, &rx);
    rt_impair_get_stats(rt->tx_imp, &tx);
    *out = rt->stats;
    out->rx_dropped = rx.lost + rx.queue_full;
    out->tx_dropped = tx.lost + tx.queue_full + rt->tun_write_errors;
    out->duplicated = rx.duplicated + tx.duplicated;
    out->reordered = rx.reordered + tx.reordered;
    out->rx_in_place = rt->rx.placed;
    out->rx_place_missed = rt->rx.missed;
}

/* ------------------------------------------------------------------------
 * Control commands (the control socket's handler).
 */

static void print_link(struct berth_rt *rt, FILE *out)
{
    struct berth_rt_stats st;
    char spec[256], off[128];
    rt_group_stats(rt, &st);
    berth_impair_format(&rt->impair, spec, sizeof spec);
    rt_tun_offload_describe(&rt->offload, off, sizeof off);
    fprintf(out,
            "Link (%s):\n"
            "    %" PRIu64 " packets received (%" PRIu64 " bytes)\n"
            "    %" PRIu64 " received in place, %" PRIu64
            " read in place and put together\n"
            "    %" PRIu64 " packets sent (%" PRIu64 " bytes)\n"
            "    %" PRIu64 " ACKs merged into the next one\n"
            "    %" PRIu64 " received packets dropped by impairment\n"
            "    %" PRIu64 " sent packets dropped (impairment or TUN)\n"
            "    %" PRIu64 " packets duplicated\n"
            "    %" PRIu64 " packets reordered\n"
            "    %" PRIu64 " loop iterations\n"
            "    %" PRIu64 " malloc_trim calls after memory pressure\n"
            "    impairment: %s\n"
            "    offloads: %s\n",
            rt->tun_name, st.rx_packets, st.rx_bytes, st.rx_in_place,
            st.rx_place_missed, st.tx_packets, st.tx_bytes, st.tx_acks_merged,
            st.rx_dropped, st.tx_dropped, st.duplicated, st.reordered, st.loops,
            rt->mem_trims, spec, off);
    rt_group_print_shards(rt, out);
}

/* The link counters closing berth_rt_print_stat_json's object. */
static void print_link_json(struct berth_rt *rt, FILE *out)
{
    struct berth_rt_stats st;
    char spec[256];
    rt_group_stats(rt, &st);
    berth_impair_format(&rt->impair, spec, sizeof spec);
    fprintf(out,
            ",\n  \"link\": {\"tun\": \"%s\", \"rx_packets\": %" PRIu64
            ", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64
            ", \"tx_bytes\": %" PRIu64 ", \"rx_dropped\": %" PRIu64
            ", \"tx_dropped\": %" PRIu64 ", \"duplicated\": %" PRIu64
            ", \"reordered\": %" PRIu64 ", \"loops\": %" PRIu64
            ", \"impairment\": \"%s\", \"shards\": %u"
            ", \"steer_foreign\": %" PRIu64 ", \"rx_in_place\": %" PRIu64
            ", \"rx_place_missed\": %" PRIu64 ", \"tx_acks_merged\": %" PRIu64
            "}",
            rt->tun_name, st.rx_packets, st.rx_bytes, st.tx_packets,
            st.tx_bytes, st.rx_dropped, st.tx_dropped, st.duplicated,
            st.reordered, st.loops, spec, rt->nshards, st.steer_foreign,
            st.rx_in_place, st.rx_place_missed, st.tx_acks_merged);
    rt_link_print_stat_json(rt, out);
    fprintf(out, "\n}\n");
}

static void cmd_impair(struct berth_rt *rt, const char *arg, FILE *out)
{
    struct berth_impair imp;
    char err[256], spec[256];
    if (!*arg) {
        berth_impair_format(&rt->impair, spec, sizeof spec);
        fprintf(out, "impair: %s\n", spec);
        return;
    }
    if (berth_impair_parse(arg, &imp, err, sizeof err) < 0) {
        fprintf(out, "error: %s\n", err);
        return;
    }
    rt_group_set_impair(rt, &imp);
    berth_impair_format(&imp, spec, sizeof spec);
    fprintf(out, "impair: %s\n", spec);
}

/* The command against every shard's stack (the others locked). */
static void rt_ctl_command_one(struct berth_rt *rt, const char *line, FILE *out)
{
    unsigned ns;
    struct berth_stack *const *stacks = rt_group_stacks(rt, &ns);
    line += strspn(line, " \t");
    size_t n = strcspn(line, " \t");
    const char *arg = line + n + strspn(line + n, " \t");
    if (n == 2 && strncmp(line, "ss", 2) == 0) {
        struct berth_rt_ss_query q;
        char err[256];
        if (berth_rt_ss_parse(arg, &q, err, sizeof err) < 0)
            fprintf(out, "error: %s\n", err);
        else
            berth_rt_print_ss_stacks(stacks, ns, &q, rt_clock_now(), out);
    } else if (rt_link_command(rt, line, out)) {
        return;
    } else if (n == 4 && strncmp(line, "stat", 4) == 0 && !*arg) {
        berth_rt_print_stat_stacks(stacks, ns, out);
        print_link(rt, out);
        rt_link_print_stat(rt, out);
    } else if (n == 4 && strncmp(line, "stat", 4) == 0 &&
               (!strcmp(arg, "--json") || !strcmp(arg, "-j"))) {
        berth_rt_print_stat_json_stacks(stacks, ns, out);
        print_link_json(rt, out);
    } else if (n == 6 && strncmp(line, "impair", 6) == 0) {
        cmd_impair(rt, arg, out);
    } else if (n == 4 && strncmp(line, "stop", 4) == 0 && !*arg) {
        berth_rt_stop(rt);
        fprintf(out, "stopping\n");
    } else {
        fprintf(out,
                "error: unknown command '%s' (commands: ss [-i] [--json] "
                "[state S] [sport :P] [dport :P], stat [--json], impair "
                "SPEC|off|drop-all, route, neigh, stop)\n",
                line);
    }
}

void rt_ctl_command(void *ctx, const char *line, FILE *out)
{
    struct berth_rt *rt = ctx;
    rt_group_lock_others(rt);
    rt_ctl_command_one(rt, line, out);
    rt_group_unlock_others(rt);
}
