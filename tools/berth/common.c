/* berth command: the common options and value parsers every subcommand
 * shares. Tunables go straight into struct berth_rt_config (and its
 * struct berth_config), so a subcommand only adds its own options. */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define US_PER_MS UINT64_C(1000)
#define US_PER_S  UINT64_C(1000000)

void common_init(struct common *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    berth_rt_config_init(&c->rt);
}

void usage_error(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", prog);
}

void error_line(const char *prog, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int opt_value(const char *prog, int argc, char **argv, int *i, const char *name,
              const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        usage_error(prog, "%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

/* ---------------------------------------------------------------------- */
/* Values. */

int parse_uint(const char *prog, const char *opt, const char *s, uint64_t min,
               uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v < min || v > max) {
        usage_error(
            prog, "bad %s value '%s': want an integer in %" PRIu64 "..%" PRIu64,
            opt, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

/* "200ms", "1.5s", "40us", "0". A unit is required otherwise: a bare "40"
 * could mean any of them. */
int parse_time(const char *prog, const char *opt, const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    double mult = 0;
    if (end == s || errno || !(v >= 0))
        mult = 0;
    else if (!strcmp(end, "us"))
        mult = 1;
    else if (!strcmp(end, "ms"))
        mult = US_PER_MS;
    else if (!strcmp(end, "s"))
        mult = US_PER_S;
    else if (!*end && v == 0)
        mult = 1;
    if (mult == 0 || v * mult > 1e15) {
        usage_error(prog,
                    "bad %s value '%s': want a time like 200ms, 1.5s, "
                    "40us",
                    opt, s);
        return -1;
    }
    *out = (uint64_t)(v * mult + 0.5);
    return 0;
}

/* "65535", "64k", "1m" (KiB, MiB). */
int parse_size(const char *prog, const char *opt, const char *s, uint64_t min,
               uint64_t max, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 0;
    if (end == s || *s == '-' || errno)
        mult = 0;
    else if (!*end)
        mult = 1;
    else if (!strcmp(end, "k") || !strcmp(end, "K"))
        mult = 1024;
    else if (!strcmp(end, "m") || !strcmp(end, "M"))
        mult = 1024 * 1024;
    if (mult == 0 || v > max / mult || v * mult < min) {
        usage_error(prog,
                    "bad %s value '%s': want a size in %" PRIu64 "..%" PRIu64
                    " (suffix k or m allowed)",
                    opt, s, min, max);
        return -1;
    }
    *out = v * mult;
    return 0;
}

int parse_ipv4(const char *s, uint32_t *out)
{
    uint32_t a = 0;
    const char *p = s;
    for (int part = 0; part < 4; part++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (v > 255 || digits > 3)
            return -1;
        a = a << 8 | v;
        if (part < 3 && *p++ != '.')
            return -1;
    }
    if (*p)
        return -1;
    *out = a;
    return 0;
}

int parse_port(const char *prog, const char *s, uint16_t *out)
{
    uint64_t v;
    if (parse_uint(prog, "port", s, 1, 65535, &v) != 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

char *ip_str(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255,
             a & 255);
    return buf;
}

char *ep_str(struct berth_endpoint ep, char *buf, size_t size)
{
    return berth_endpoint_string(&ep, buf, size); /* [2001:db8:b::1]:80 */
}

int parse_addr(const char *s, struct berth_endpoint *out)
{
    uint8_t a6[16];
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(s);
    if (parse_ipv4(s, &out->addr) == 0) {
        *out = berth_endpoint_v4(out->addr, out->port);
        return 0;
    }
    if (n >= 2 && n < sizeof tmp && s[0] == '[' && s[n - 1] == ']') {
        memcpy(tmp, s + 1, n - 2); /* [2001:db8::1], as in URLs */
        tmp[n - 2] = '\0';
        s = tmp;
    }
    if (inet_pton(AF_INET6, s, a6) != 1)
        return -1;
    *out = berth_endpoint_v6(a6, out->port);
    return 0;
}

struct berth_endpoint endpoint_unmap(struct berth_endpoint ep)
{
    uint32_t v4;
    if (berth_endpoint_v4mapped(&ep, &v4))
        return berth_endpoint_v4(v4, ep.port);
    return ep;
}

int64_t endpoint_key(const struct berth_endpoint *ep)
{
    struct berth_endpoint e = endpoint_unmap(*ep);
    if (e.family != BERTH_AF_INET6)
        return e.addr;
    /* FNV-1a of the 16 bytes, kept clear of the IPv4 keys (< 2^32). */
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < 16; i++)
        h = (h ^ e.addr6[i]) * 1099511628211ull;
    return (int64_t)(h | 1ull << 62) & INT64_MAX;
}

int bind_any(struct berth_stack *s, int sock, uint16_t port)
{
    /* IPv6's any address takes both families (IPv4 peers read
     * ::ffff:a.b.c.d, endpoint_unmap() shows them plainly); a stack
     * without IPv6 says EADDRNOTAVAIL and gets IPv4's. */
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, port);
    int r = berth_bind_endpoint(s, sock, &any6);
    return r == BERTH_EADDRNOTAVAIL ? berth_bind(s, sock, 0, port) : r;
}

char *time_str(uint64_t us, char *buf, size_t size)
{
    if (us >= US_PER_S && us % (US_PER_S / 10) == 0)
        snprintf(buf, size, "%g s", (double)us / 1e6);
    else if (us >= US_PER_MS && us % US_PER_MS == 0)
        snprintf(buf, size, "%" PRIu64 " ms", us / US_PER_MS);
    else
        snprintf(buf, size, "%" PRIu64 " us", us);
    return buf;
}

/* ---------------------------------------------------------------------- */
/* The common options, one small setter each. */

/* A time within [min, max] (the engine's accepted range). */
static int parse_time_range(struct common *c, const char *o, const char *v,
                            uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t t;
    if (parse_time(c->prog, o, v, &t) != 0)
        return -1;
    if (t < min || t > max) {
        char a[32], b[32];
        usage_error(c->prog, "bad %s value '%s': want %s..%s", o, v,
                    time_str(min, a, sizeof a), time_str(max, b, sizeof b));
        return -1;
    }
    *out = t;
    return 0;
}

static int set_tun(struct common *c, const char *o, const char *v)
{
    if (!*v || strlen(v) > 15 || strchr(v, '/')) {
        usage_error(c->prog,
                    "bad %s value '%s': want an interface name of "
                    "1..15 characters",
                    o, v);
        return -1;
    }
    c->rt.tun_name = v;
    return 0;
}

static int set_addr(struct common *c, const char *o, const char *v)
{
    if (parse_ipv4(v, &c->rt.addr) != 0) {
        usage_error(c->prog, "bad %s value '%s': want an IPv4 address", o, v);
        return -1;
    }
    return 0;
}

static int set_peer(struct common *c, const char *o, const char *v)
{
    char ip[32];
    const char *slash = strchr(v, '/');
    size_t n = slash ? (size_t)(slash - v) : strlen(v);
    uint64_t prefix = 24;
    if (n >= sizeof ip)
        goto bad;
    memcpy(ip, v, n);
    ip[n] = '\0';
    if (parse_ipv4(ip, &c->rt.peer_addr) != 0)
        goto bad;
    /* /31 and /32 leave no address for berth beside the kernel's. */
    if (slash &&
        parse_uint(c->prog, "--peer prefix", slash + 1, 1, 30, &prefix) != 0)
        return -1;
    c->rt.peer_prefix = (uint8_t)prefix;
    return 0;
bad:
    usage_error(c->prog,
                "bad %s value '%s': want ADDRESS/PREFIX like "
                "198.18.0.1/24",
                o, v);
    return -1;
}

static int set_addr6(struct common *c, const char *o, const char *v)
{
    if (inet_pton(AF_INET6, v, c->rt.addr6) != 1) {
        usage_error(c->prog, "bad %s value '%s': want an IPv6 address", o, v);
        return -1;
    }
    c->ipv6_set = true;
    return 0;
}

static int set_peer6(struct common *c, const char *o, const char *v)
{
    char ip[INET6_ADDRSTRLEN];
    const char *slash = strchr(v, '/');
    size_t n = slash ? (size_t)(slash - v) : strlen(v);
    uint64_t prefix = 64;
    if (n >= sizeof ip)
        goto bad;
    memcpy(ip, v, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET6, ip, c->rt.peer_addr6) != 1)
        goto bad;
    if (slash &&
        parse_uint(c->prog, "--peer6 prefix", slash + 1, 1, 126, &prefix) != 0)
        return -1;
    c->rt.peer_prefix6 = (uint8_t)prefix;
    c->ipv6_set = true;
    return 0;
bad:
    usage_error(c->prog,
                "bad %s value '%s': want ADDRESS/PREFIX like "
                "2001:db8:b::1/64",
                o, v);
    return -1;
}

static int set_mtu(struct common *c, const char *o, const char *v)
{
    uint64_t n;
    if (parse_uint(c->prog, o, v, 576, 65535, &n) != 0)
        return -1;
    c->rt.mtu = (uint16_t)n;
    return 0;
}

static int set_pcap(struct common *c, const char *o, const char *v)
{
    (void)o;
    c->rt.pcap_path = v;
    return 0;
}

static int set_events(struct common *c, const char *o, const char *v)
{
    (void)o;
    c->rt.events_path = v;
    return 0;
}

static int set_ctl(struct common *c, const char *o, const char *v)
{
    (void)o;
    c->rt.ctl_path = v;
    return 0;
}

static int set_msl(struct common *c, const char *o, const char *v)
{
    if (parse_time_range(c, o, v, 1000, 3600 * US_PER_S, &c->rt.stack.msl))
        return -1;
    c->msl_set = true;
    return 0;
}

/* --link tun:NAME | tap:NAME | packet:IFACE | xdp:IFACE[:QUEUE]; the
 * control socket takes the link's name, as --tun's. */
static int set_link(struct common *c, const char *o, const char *v)
{
    static const char *const kinds[] = {"tun:", "tap:", "packet:", "xdp:"};
    const char *name = NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strncmp(v, kinds[i], strlen(kinds[i])))
            name = v + strlen(kinds[i]);
    size_t n = name ? strcspn(name, ":") : 0;
    if (!name || n == 0 || n > 15 || memchr(name, '/', n) ||
        (name[n] == ':' && strncmp(v, "xdp:", 4))) {
        usage_error(c->prog,
                    "bad %s value '%s': want tun:NAME, tap:NAME, "
                    "packet:IFACE or xdp:IFACE[:QUEUE]",
                    o, v);
        return -1;
    }
    snprintf(c->link_name, sizeof c->link_name, "%.*s", (int)n, name);
    c->rt.link = v;
    c->rt.tun_name = c->link_name;
    return 0;
}

static int set_gateway(struct common *c, const char *o, const char *v)
{
    if (parse_ipv4(v, &c->rt.eth.gateway) != 0) {
        usage_error(c->prog, "bad %s value '%s': want an IPv4 address", o, v);
        return -1;
    }
    return 0;
}

static int set_mac(struct common *c, const char *o, const char *v)
{
    if (berth_mac_parse(v, c->rt.mac) != 0 || (c->rt.mac[0] & 1)) {
        usage_error(c->prog,
                    "bad %s value '%s': want a unicast MAC like "
                    "02:be:00:00:00:02",
                    o, v);
        return -1;
    }
    c->rt.mac_set = true;
    return 0;
}

static int set_vlan(struct common *c, const char *o, const char *v)
{
    uint64_t n;
    if (parse_uint(c->prog, o, v, 1, 4094, &n) != 0)
        return -1;
    c->rt.eth.vlan = (uint16_t)n;
    return 0;
}

static int set_neigh(struct common *c, const char *o, const char *v)
{
    char err[200];
    if (berth_rt_neigh_parse(v, &c->rt.eth, err, sizeof err) != 0) {
        usage_error(c->prog, "bad %s value: %s", o, err);
        return -1;
    }
    return 0;
}

static int set_impair(struct common *c, const char *o, const char *v)
{
    char err[160];
    if (berth_impair_parse(v, &c->rt.impair, err, sizeof err) != 0) {
        usage_error(c->prog, "bad %s value '%s': %s", o, v, err);
        return -1;
    }
    return 0;
}

static int set_buf(struct common *c, const char *o, const char *v)
{
    uint64_t n;
    if (parse_size(c->prog, o, v, 1024, 64u << 20, &n) != 0)
        return -1;
    if (!strcmp(o, "--rcvbuf"))
        c->rt.stack.rcvbuf = (uint32_t)n;
    else
        c->rt.stack.sndbuf = (uint32_t)n;
    return 0;
}

static int set_mem_limit(struct common *c, const char *o, const char *v)
{
    uint64_t n;
    if (parse_size(c->prog, o, v, 0, (uint64_t)1 << 40, &n) != 0)
        return -1;
    c->rt.stack.mem_limit = (size_t)n;
    return 0;
}

static int set_mss(struct common *c, const char *o, const char *v)
{
    uint64_t n;
    if (parse_uint(c->prog, o, v, 64, 65495, &n) != 0)
        return -1;
    c->rt.stack.mss = (uint16_t)n;
    c->mss_set = true;
    return 0;
}

static int set_rto_min(struct common *c, const char *o, const char *v)
{
    return parse_time_range(c, o, v, 1000, 60 * US_PER_S, &c->rt.stack.rto_min);
}

static int set_delack(struct common *c, const char *o, const char *v)
{
    /* RFC 1122 §4.2.3.2: at most 500 ms; the engine enforces the same. */
    return parse_time_range(c, o, v, 1000, 500 * US_PER_MS,
                            &c->rt.stack.delack);
}

/* "IDLE,INTVL,CNT", e.g. "60s,10s,5": turns probes on for every socket. */
static int set_keepalive(struct common *c, const char *o, const char *v)
{
    char buf[96], *parts[3], *save = NULL;
    int n = 0;
    uint64_t cnt;
    if (strlen(v) >= sizeof buf)
        goto bad;
    strcpy(buf, v);
    for (char *t = strtok_r(buf, ",", &save); t && n < 3;
         t = strtok_r(NULL, ",", &save))
        parts[n++] = t;
    if (n != 3 || strtok_r(NULL, ",", &save))
        goto bad;
    if (parse_time_range(c, o, parts[0], 1000, 1000000 * US_PER_S,
                         &c->rt.stack.keepalive_idle) != 0 ||
        parse_time_range(c, o, parts[1], 1000, 1000000 * US_PER_S,
                         &c->rt.stack.keepalive_interval) != 0 ||
        parse_uint(c->prog, o, parts[2], 1, 255, &cnt) != 0)
        return -1;
    c->rt.stack.keepalive_count = (uint8_t)cnt;
    c->so.keepalive = true;
    return 0;
bad:
    usage_error(c->prog,
                "bad %s value '%s': want IDLE,INTVL,CNT like "
                "60s,10s,5",
                o, v);
    return -1;
}

static const struct {
    const char *name;
    int (*set)(struct common *c, const char *opt, const char *val);
} VALUE_OPTS[] = {
    {"--tun", set_tun},
    {"--addr", set_addr},
    {"--peer", set_peer},
    {"--addr6", set_addr6},
    {"--peer6", set_peer6},
    {"--mtu", set_mtu},
    {"--pcap", set_pcap},
    {"--events", set_events},
    {"--ctl", set_ctl},
    {"--msl", set_msl},
    {"--impair", set_impair},
    {"--rcvbuf", set_buf},
    {"--sndbuf", set_buf},
    {"--mss", set_mss},
    {"--rto-min", set_rto_min},
    {"--delack", set_delack},
    {"--keepalive", set_keepalive},
    {"--mem-limit", set_mem_limit},
    {"--link", set_link},
    {"--gateway", set_gateway},
    {"--mac", set_mac},
    {"--vlan", set_vlan},
    {"--neigh", set_neigh},
};

int common_option(struct common *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--trace")) {
        c->trace = true;
        return 1;
    }
    if (!strcmp(a, "--nodelay")) {
        c->so.nodelay = true;
        return 1;
    }
    if (!strcmp(a, "--no-offload")) {
        c->rt.no_offload = true;
        return 1;
    }
    if (!strcmp(a, "--no-ipv6")) {
        c->no_ipv6 = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof VALUE_OPTS / sizeof VALUE_OPTS[0]; k++) {
        const char *v = NULL;
        int r = opt_value(c->prog, argc, argv, i, VALUE_OPTS[k].name, &v);
        if (r < 0)
            return -1;
        if (r > 0)
            return VALUE_OPTS[k].set(c, VALUE_OPTS[k].name, v) == 0 ? 1 : -1;
    }
    return 0;
}

int common_option_last(struct common *c, int r, int argc, char **argv, int *i)
{
    if (r == 0)
        r = common_option(c, argc, argv, i);
    if (r == 0)
        usage_error(c->prog, "unknown option '%s'", argv[*i]);
    return r > 0 ? 0 : -1;
}

int common_finish(struct common *c)
{
    /* The kernel reaches berth through the subnet route of --peer: berth's
     * address must lie inside it (a usage error, not a run-time one). */
    uint32_t mask = ~0u << (32 - c->rt.peer_prefix);
    if (c->rt.addr == c->rt.peer_addr ||
        ((c->rt.addr ^ c->rt.peer_addr) & mask)) {
        char a[16], p[16];
        usage_error(c->prog,
                    "--addr %s must differ from --peer's address and lie in "
                    "%s/%u",
                    ip_str(c->rt.addr, a, sizeof a),
                    ip_str(c->rt.peer_addr, p, sizeof p), c->rt.peer_prefix);
        return -1;
    }
    /* IPv6 on when the kernel has it; addresses given: on or fail. */
    c->rt.ipv6 = c->no_ipv6    ? BERTH_RT_IPV6_OFF
                 : c->ipv6_set ? BERTH_RT_IPV6_ON
                               : BERTH_RT_IPV6_AUTO;
    /* IPv4 and TCP headers without options take 40 bytes of the MTU. */
    if (!c->mss_set && c->rt.mtu >= 576)
        c->rt.stack.mss = (uint16_t)(c->rt.mtu - 40);
    if (c->trace)
        c->rt.trace = stderr;
    return 0;
}

/* One line per option; a command that documents one of them itself (the
 * demo's --pcap and --msl defaults) leaves it out here. */
static const char *const COMMON_HELP[] = {
    "  --tun NAME           TUN device (default berth0; created if missing)",
    "  --addr A             berth's IPv4 address (default 198.18.0.2)",
    "  --peer A/PREFIX      the kernel side's address (default "
    "198.18.0.1/24)",
    "  --addr6 A            berth's IPv6 address (default 2001:db8:b::2)",
    "  --peer6 A/PREFIX     the kernel side's IPv6 address (default "
    "2001:db8:b::1/64)",
    "  --no-ipv6            IPv4 only (IPv6 is on when the kernel has it)",
    "  --mtu N              link MTU (default 1500); the MSS follows it",
    "  --pcap FILE          capture every packet to FILE (never through a "
    "symlink)",
    "  --events FILE        write the event log (JSON lines, docs/events.md) "
    "to FILE",
    "  --trace              print every state change and drop with its "
    "reason",
    "  --msl TIME           maximum segment lifetime (TIME-WAIT is 2*MSL; "
    "30s)",
    "  --impair SPEC        loss=5%,dup=1%,reorder=25%,delay=5ms,jitter=2ms,"
    "seed=N",
    "  --ctl PATH           control socket (default: one per network "
    "namespace,\n"
    "                       /run/berth/[net-INODE/]TUN.sock as root)",
    "  --rcvbuf SIZE        receive buffer per socket (65535)",
    "  --sndbuf SIZE        send buffer per socket (64k)",
    "  --mem-limit SIZE     memory budget of the stack (256m; 0: none)",
    "  --mss N              MSS to advertise (MTU - 40)",
    "  --nodelay            disable Nagle's algorithm",
    "  --keepalive I,V,C    probes after idle I, every V, C at most (e.g. "
    "60s,10s,5)",
    "  --rto-min TIME       minimum retransmission timeout (200ms)",
    "  --delack TIME        delayed-ACK timer (40ms, at most 500ms)",
    "  --no-offload         TUN without checksum/TSO offloads",
    "  --link KIND:NAME     tun:NAME (default), tap:NAME, packet:IFACE "
    "(AF_PACKET),\n"
    "                       xdp:IFACE[:QUEUE] (AF_XDP): see berth(1)",
    "  --gateway A          Ethernet links: the default route's gateway",
    "  --mac MAC            Ethernet links: berth's MAC address",
    "  --vlan ID            Ethernet links: send and take 802.1Q VLAN ID "
    "only",
    "  --neigh SPEC         ARP, ND: reachable=30s,retrans=1s,delay=5s,max=256,"
    "queue=3,...",
};

void common_usage_except(FILE *f, const char *const *skip)
{
    fprintf(f, "Common options:\n");
    for (size_t i = 0; i < sizeof COMMON_HELP / sizeof COMMON_HELP[0]; i++) {
        const char *line = COMMON_HELP[i], *name = line + 2;
        size_t n = strcspn(name, " ");
        bool skipped = false;
        for (const char *const *k = skip; k && *k && !skipped; k++)
            skipped = strlen(*k) == n && !strncmp(*k, name, n);
        if (!skipped)
            fprintf(f, "%s\n", line);
    }
    fprintf(f, "Times take a unit: us, ms or s. Sizes take k or m (KiB, "
               "MiB).\n");
}

void common_usage(FILE *f)
{
    common_usage_except(f, NULL);
}

int sockopts_apply(struct berth_stack *s, int sock, const struct sockopts *so)
{
    int r = 0;
    if (so->nodelay)
        r = berth_setopt(s, sock, BERTH_OPT_NODELAY, 1);
    if (r == 0 && so->keepalive)
        r = berth_setopt(s, sock, BERTH_OPT_KEEPALIVE, 1);
    return r;
}

struct berth_rt *common_rt_create(const struct common *c)
{
    char err[256];
    struct berth_rt *rt = berth_rt_create(&c->rt, err, sizeof err);
    if (!rt)
        error_line(c->prog, "%s", err);
    return rt;
}

unsigned common_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

struct berth_rt_group *common_rt_group_create(const struct common *c,
                                              unsigned n)
{
    char err[256];
    struct berth_rt_group *g =
        berth_rt_group_create(&c->rt, n, err, sizeof err);
    if (!g && n > 1 && errno == EOPNOTSUPP) {
        /* Without multiqueue and steering nothing keeps a flow on one
         * shard: one shard is the honest fallback. */
        fprintf(stderr, "%s: %u shards: %s; running one shard\n", c->prog, n,
                err);
        g = berth_rt_group_create(&c->rt, 1, err, sizeof err);
    }
    if (!g)
        error_line(c->prog, "%s", err);
    return g;
}

void print_listening(const struct common *c, const struct berth_rt *rt,
                     const char *what, uint16_t port)
{
    char a[16], p[16], a6[INET6_ADDRSTRLEN], p6[INET6_ADDRSTRLEN];
    fprintf(stderr, "%s: %s on %s:%u (tun %s, peer %s/%u)", c->prog, what,
            ip_str(c->rt.addr, a, sizeof a), port,
            c->rt.tun_name ? c->rt.tun_name : "berth0",
            ip_str(c->rt.peer_addr, p, sizeof p), c->rt.peer_prefix);
    if (rt && berth_rt_ipv6(rt))
        fprintf(stderr, " and [%s]:%u (peer %s/%u)",
                inet_ntop(AF_INET6, c->rt.addr6, a6, sizeof a6), port,
                inet_ntop(AF_INET6, c->rt.peer_addr6, p6, sizeof p6),
                c->rt.peer_prefix6);
    fprintf(stderr, "\n");
}
