/* berth command: `berth run [OPTIONS] -- PROGRAM ARGS...`, an unmodified
 * program on berth. The options become the environment the POSIX layer
 * reads (BERTH_TUN, BERTH_ADDR, ...; src/posix/), LD_PRELOAD gets
 * libberth-preload.so, and PROGRAM replaces this process: the runtime
 * starts inside it on its first IPv4 or IPv6, TCP or UDP socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "common.h"

#define PRELOAD_NAME "libberth-preload.so"

static void run_usage(FILE *f)
{
    fprintf(
        f,
        "usage: berth run [OPTIONS] -- PROGRAM [ARGS...]\n"
        "\n"
        "Runs PROGRAM with its TCP and UDP sockets, IPv4 and IPv6, on berth\n"
        "(LD_PRELOAD of " PRELOAD_NAME "). The runtime starts in the "
        "program's process\non its first socket and creates the TUN "
        "device; `berth ss --tun NAME` and\n`berth stat` see it. Loopback "
        "(127.0.0.0/8, ::1), unix and other sockets,\nand UDP to "
        "addresses outside berth's link (a resolver's DNS) stay the\n"
        "kernel's.\n"
        "\n"
        "Options:\n"
        "  --tun NAME, --addr A, --peer A/PREFIX, --addr6 A, --peer6 "
        "A/PREFIX,\n"
        "  --no-ipv6, --mtu N, --pcap FILE, --events FILE, --impair SPEC,\n"
        "  --ctl PATH, --trace\n"
        "                 as for every command (below)\n"
        "  --follow-fork  the runtime moves to the program's next fork()ed\n"
        "                 child (a server with one worker process, a daemon);\n"
        "                 otherwise a child's inherited berth sockets are "
        "EBADF\n"
        "  --workers N    the program's next N fork()ed children (a server's "
        "workers,\n"
        "                 e.g. nginx with worker_processes N) each run a "
        "shard of\n"
        "                 their own: a TUN queue, a stack with the inherited\n"
        "                 listeners, a thread; berth's eBPF steering keeps "
        "every\n"
        "                 connection on one worker\n"
        "\n");
    common_usage(f);
    fprintf(f, "\nThe library is looked for in $BERTH_PRELOAD, next to this "
               "executable, and in\n../lib/berth/ from it.\n");
}

/* $BERTH_PRELOAD, or the library beside /proc/self/exe, or ../lib/berth. */
static int find_preload(char *out, size_t size)
{
    const char *env = getenv("BERTH_PRELOAD");
    if (env && *env) {
        int n = snprintf(out, size, "%s", env);
        return n > 0 && (size_t)n < size && access(out, R_OK) == 0 ? 0 : -1;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    static const char *const WHERE[] = {"%s/" PRELOAD_NAME,
                                        "%s/../lib/berth/" PRELOAD_NAME};
    for (size_t i = 0; i < sizeof WHERE / sizeof WHERE[0]; i++) {
        int w = snprintf(out, size, WHERE[i], exe);
        if (w > 0 && (size_t)w < size && access(out, R_OK) == 0)
            return 0;
    }
    return -1;
}

/* Options a program's runtime takes from the environment. */
static bool run_option(const char *arg)
{
    static const char *const OK[] = {
        "--tun", "--addr", "--peer",   "--addr6", "--peer6", "--no-ipv6",
        "--mtu", "--pcap", "--impair", "--ctl",   "--trace", "--events"};
    size_t len = strcspn(arg, "=");
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++)
        if (strlen(OK[i]) == len && !strncmp(arg, OK[i], len))
            return true;
    return false;
}

/* NAME=PATH made absolute: the program may change directory before its
 * first socket. Nothing when path is NULL. */
static int set_path_env(const char *name, const char *path)
{
    if (!path)
        return 0;
    char buf[512];
    char *abs = realpath(".", NULL);
    if (path[0] != '/' && abs)
        snprintf(buf, sizeof buf, "%s/%s", abs, path);
    else
        snprintf(buf, sizeof buf, "%s", path);
    free(abs);
    return setenv(name, buf, 1);
}

static int set_env(const struct common *c)
{
    char a[16], buf[512];
    const struct berth_rt_config *rt = &c->rt;
    int r = setenv("BERTH_TUN", rt->tun_name ? rt->tun_name : "berth0", 1);
    r |= setenv("BERTH_ADDR", ip_str(rt->addr, a, sizeof a), 1);
    snprintf(buf, sizeof buf, "%s/%u", ip_str(rt->peer_addr, a, sizeof a),
             rt->peer_prefix);
    r |= setenv("BERTH_PEER", buf, 1);
    char a6[64];
    r |=
        setenv("BERTH_ADDR6", inet_ntop(AF_INET6, rt->addr6, a6, sizeof a6), 1);
    snprintf(buf, sizeof buf, "%s/%u",
             inet_ntop(AF_INET6, rt->peer_addr6, a6, sizeof a6),
             rt->peer_prefix6);
    r |= setenv("BERTH_PEER6", buf, 1);
    r |= setenv("BERTH_IPV6",
                rt->ipv6 == BERTH_RT_IPV6_OFF  ? "off"
                : rt->ipv6 == BERTH_RT_IPV6_ON ? "on"
                                               : "auto",
                1);
    snprintf(buf, sizeof buf, "%u", rt->mtu);
    r |= setenv("BERTH_MTU", buf, 1);
    berth_impair_format(&rt->impair, buf, sizeof buf);
    r |= setenv("BERTH_IMPAIR", buf, 1);
    r |= set_path_env("BERTH_PCAP", rt->pcap_path);
    r |= set_path_env("BERTH_EVENTS", rt->events_path);
    if (rt->ctl_path)
        r |= setenv("BERTH_CTL", rt->ctl_path, 1);
    if (c->trace)
        r |= setenv("BERTH_TRACE", "/dev/stderr", 1);
    r |= unsetenv("BERTH_OWNER_PID"); /* the program owns the runtime */
    return r;
}

static int set_preload(const char *lib)
{
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) : 0) + 2;
    char *v = malloc(n);
    if (!v)
        return -1;
    if (old && *old)
        snprintf(v, n, "%s:%s", lib, old);
    else
        snprintf(v, n, "%s", lib);
    int r = setenv("LD_PRELOAD", v, 1);
    free(v);
    return r;
}

int cmd_run(int argc, char **argv)
{
    struct common c;
    common_init(&c, "berth run");
    bool follow_fork = false;
    const char *workers = NULL;
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            run_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--follow-fork")) {
            follow_fork = true;
            continue;
        }
        const char *v;
        int w = opt_value(c.prog, argc, argv, &i, "--workers", &v);
        if (w != 0) {
            uint64_t n;
            if (w < 0 || parse_uint(c.prog, "--workers", v, 1, 64, &n) != 0)
                return EXIT_USAGE;
            workers = v;
            continue;
        }
        if (!run_option(argv[i])) {
            usage_error(c.prog, "option '%s' is not one berth run takes",
                        argv[i]);
            return EXIT_USAGE;
        }
        if (common_option_last(&c, 0, argc, argv, &i) != 0)
            return EXIT_USAGE;
    }
    if (i + 1 >= argc) {
        usage_error(c.prog, "no program given after '--'");
        return EXIT_USAGE;
    }
    common_finish(&c);
    char lib[PATH_MAX];
    if (find_preload(lib, sizeof lib) < 0) {
        error_line(c.prog, "cannot find %s (set BERTH_PRELOAD)", PRELOAD_NAME);
        return 1;
    }
    if (set_env(&c) < 0 || set_preload(lib) < 0 ||
        (follow_fork ? setenv("BERTH_FOLLOW_FORK", "1", 1)
                     : unsetenv("BERTH_FOLLOW_FORK")) < 0 ||
        (workers ? setenv("BERTH_WORKERS", workers, 1)
                 : unsetenv("BERTH_WORKERS")) < 0) {
        error_line(c.prog, "setenv: %s", strerror(errno));
        return 1;
    }
    execvp(argv[i + 1], argv + i + 1);
    error_line(c.prog, "%s: %s", argv[i + 1], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
