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

void berth_rt_config_init(struct berth_rt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tun_name = "berth0";
    cfg->addr = RT_ADDR_BERTH;
    cfg->peer_addr = RT_ADDR_PEER;
    cfg->peer_prefix = 24;
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
    return 0;
}

/* The stack's configuration: our hooks, our address, an MSS the MTU can
 * carry, and fresh randomness unless the caller fixed it. */
static int make_stack(struct berth_rt *rt, char *err, size_t errlen)
{
    struct berth_config sc = rt->cfg.stack;
    sc.addr = rt->cfg.addr;
    sc.tx = rt->link ? rt_link_stack_tx : rt_stack_tx;
    sc.tx_ctx = rt;
    sc.event = rt_stack_event;
    sc.event_ctx = rt;
    sc.trace = rt_stack_trace;
    sc.trace_ctx = rt;
    if (sc.mss > rt->cfg.mtu - RT_IP_TCP_HDR)
        sc.mss = (uint16_t)(rt->cfg.mtu - RT_IP_TCP_HDR);
    /* TSO: the kernel cuts our super-segments at the MSS we name. */
    sc.tso_max = rt->offload.tso4 ? 65535u : 0;
    sc.tx_gso = rt->offload.tso4 ? rt_stack_tx_gso : NULL;
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
        epoll_add(rt, rt_ctl_fd(rt->ctl), RT_TAG_CTL) < 0)
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
    rt->cfg.tun_name = rt->tun_name;
    rt->cfg.ctl_path = rt->ctl_path;
    rt->cfg.pcap_path = rt->pcap_path;
    return rt->tun_name && rt->ctl_path && (rt->pcap_path || !cfg->pcap_path)
               ? 0
               : -1;
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

static int open_io(struct berth_rt *rt, char *err, size_t errlen)
{
    if (rt_link_wanted(&rt->cfg))
        return open_link_io(rt, err, errlen);
    rt->tunfd = rt_tun_open(rt->tun_name, !rt->cfg.no_offload, &rt->offload,
                            &rt->tun_created, err, errlen);
    if (rt->tunfd >= 0 && rt->cfg.trace) {
        char off[128];
        rt_tun_offload_describe(&rt->offload, off, sizeof off);
        fprintf(rt->cfg.trace, "berth: %s offloads: %s\n", rt->tun_name, off);
    }
    if (rt->tunfd < 0 ||
        rt_tun_configure(rt->tun_name, rt->cfg.peer_addr, rt->cfg.peer_prefix,
                         rt->cfg.mtu, err, errlen) < 0)
        return -1;
    if (rt->pcap_path) {
        rt->pcap = rt_pcap_open(rt->pcap_path, err, errlen);
        if (!rt->pcap)
            return -1;
    }
    rt->ctl = rt_ctl_open(rt->ctl_path, err, errlen);
    return rt->ctl ? 0 : -1;
}

struct berth_rt *berth_rt_create(const struct berth_rt_config *cfg, char *err,
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
    rt->epfd = rt->tunfd = rt->sigfd = -1;
    for (int i = 0; i < RT_MAX_WATCH; i++)
        rt->watch[i].fd = -1;
    rt->now = rt->t0 = rt_clock_now();
    rt->app_wake = UINT64_MAX;
    /* any IPv4 datagram, whatever the MTU, after a virtio-net header */
    rt->rxcap = 65536 + RT_VNET_HDR_LEN;
    rt->rxbuf = malloc(rt->rxcap);
    rt->txcopy = malloc(65536 + RT_VNET_HDR_LEN);
    rt->rx_imp = rt_impair_create(RT_IMPAIR_QUEUE_LIMIT);
    rt->tx_imp = rt_impair_create(RT_IMPAIR_QUEUE_LIMIT);
    if (copy_strings(rt, cfg) < 0 || !rt->rxbuf || !rt->txcopy || !rt->rx_imp ||
        !rt->tx_imp) {
        snprintf(err, errlen, "out of memory");
        berth_rt_destroy(rt);
        return NULL;
    }
    berth_rt_set_impair(rt, &cfg->impair);
    if (open_io(rt, err, errlen) < 0 || make_stack(rt, err, errlen) < 0 ||
        open_loop(rt, err, errlen) < 0) {
        berth_rt_destroy(rt);
        return NULL;
    }
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
    if (rt->pcap && rt_pcap_close(rt->pcap) < 0)
        fprintf(stderr, "berth: capture file %s incomplete\n", rt->pcap_path);
    if (rt->stack)
        berth_stack_destroy(rt->stack);
    rt_link_close(rt);
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
    rt_impair_configure(rt->rx_imp, imp, 0);
    rt_impair_configure(rt->tx_imp, imp, 1);
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
}

/* ------------------------------------------------------------------------
 * Control commands (the control socket's handler).
 */

static void print_link(struct berth_rt *rt, FILE *out)
{
    struct berth_rt_stats st;
    char spec[256], off[128];
    berth_rt_stats(rt, &st);
    berth_impair_format(&rt->impair, spec, sizeof spec);
    rt_tun_offload_describe(&rt->offload, off, sizeof off);
    fprintf(out,
            "Link (%s):\n"
            "    %" PRIu64 " packets received (%" PRIu64 " bytes)\n"
            "    %" PRIu64 " packets sent (%" PRIu64 " bytes)\n"
            "    %" PRIu64 " received packets dropped by impairment\n"
            "    %" PRIu64 " sent packets dropped (impairment or TUN)\n"
            "    %" PRIu64 " packets duplicated\n"
            "    %" PRIu64 " packets reordered\n"
            "    %" PRIu64 " loop iterations\n"
            "    %" PRIu64 " malloc_trim calls after memory pressure\n"
            "    impairment: %s\n"
            "    offloads: %s\n",
            rt->tun_name, st.rx_packets, st.rx_bytes, st.tx_packets,
            st.tx_bytes, st.rx_dropped, st.tx_dropped, st.duplicated,
            st.reordered, st.loops, rt->mem_trims, spec, off);
}

/* The link counters closing berth_rt_print_stat_json's object. */
static void print_link_json(struct berth_rt *rt, FILE *out)
{
    struct berth_rt_stats st;
    char spec[256];
    berth_rt_stats(rt, &st);
    berth_impair_format(&rt->impair, spec, sizeof spec);
    fprintf(out,
            ",\n  \"link\": {\"tun\": \"%s\", \"rx_packets\": %" PRIu64
            ", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64
            ", \"tx_bytes\": %" PRIu64 ", \"rx_dropped\": %" PRIu64
            ", \"tx_dropped\": %" PRIu64 ", \"duplicated\": %" PRIu64
            ", \"reordered\": %" PRIu64 ", \"loops\": %" PRIu64
            ", \"impairment\": \"%s\"}",
            rt->tun_name, st.rx_packets, st.rx_bytes, st.tx_packets,
            st.tx_bytes, st.rx_dropped, st.tx_dropped, st.duplicated,
            st.reordered, st.loops, spec);
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
    berth_rt_set_impair(rt, &imp);
    berth_impair_format(&imp, spec, sizeof spec);
    fprintf(out, "impair: %s\n", spec);
}

void rt_ctl_command(void *ctx, const char *line, FILE *out)
{
    struct berth_rt *rt = ctx;
    line += strspn(line, " \t");
    size_t n = strcspn(line, " \t");
    const char *arg = line + n + strspn(line + n, " \t");
    if (n == 2 && strncmp(line, "ss", 2) == 0) {
        struct berth_rt_ss_query q;
        char err[256];
        if (berth_rt_ss_parse(arg, &q, err, sizeof err) < 0)
            fprintf(out, "error: %s\n", err);
        else
            berth_rt_print_ss_filtered(rt->stack, &q, rt_clock_now(), out);
    } else if (rt_link_command(rt, line, out)) {
        return;
    } else if (n == 4 && strncmp(line, "stat", 4) == 0 && !*arg) {
        berth_rt_print_stat(rt->stack, out);
        print_link(rt, out);
        rt_link_print_stat(rt, out);
    } else if (n == 4 && strncmp(line, "stat", 4) == 0 &&
               (!strcmp(arg, "--json") || !strcmp(arg, "-j"))) {
        berth_rt_print_stat_json(rt->stack, out);
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
