/* berth command: clients of a running berth's control socket — `ss`,
 * `stat` and `ctl` send one command line and print the answer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

struct ctl_target {
    const char *tun;  /* NULL: the one instance of this namespace */
    const char *path; /* NULL: the default for tun */
    char buf[512];
};

/* Without --tun or --ctl: the instance of this network namespace. One
 * live socket in its directory is it (a file left by a killed instance, or
 * by an earlier namespace with the same inode number, is not counted);
 * none leaves berth0's path (and its "no berth running" message); several
 * are ambiguous: -1 after a message naming them and --tun/--ctl. */
static int find_instance(const char *prog, struct ctl_target *t)
{
    char dir[200], names[160] = "";
    size_t n = 0;
    berth_rt_ctl_dir(dir, sizeof dir);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 5 || strcmp(e->d_name + l - 5, ".sock") ||
            (e->d_type != DT_SOCK && e->d_type != DT_UNKNOWN))
            continue;
        char path[sizeof t->buf];
        snprintf(path, sizeof path, "%s/%.255s", dir, e->d_name);
        if (!berth_rt_ctl_alive(path))
            continue;
        if (n++ == 0)
            snprintf(t->buf, sizeof t->buf, "%s", path);
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%.*s", used ? ", " : "",
                 (int)(l - 5), e->d_name);
    }
    if (d)
        closedir(d);
    if (n == 1) {
        t->path = t->buf;
        return 0;
    }
    if (n > 1) {
        error_line(prog,
                   "%zu berth instances in this network namespace (%s): "
                   "choose one with --tun NAME or --ctl PATH",
                   n, names);
        return -1;
    }
    t->tun = "berth0";
    return 0;
}

/* --tun / --ctl: 1 consumed, 0 not ours, -1 usage error. */
static int target_option(const char *prog, struct ctl_target *t, int argc,
                         char **argv, int *i)
{
    const char *v;
    int r = opt_value(prog, argc, argv, i, "--tun", &v);
    if (r > 0)
        t->tun = v;
    if (r != 0)
        return r;
    r = opt_value(prog, argc, argv, i, "--ctl", &v);
    if (r > 0)
        t->path = v;
    return r;
}

static int request(const char *prog, struct ctl_target *t, const char *cmd)
{
    if (!t->path && !t->tun && find_instance(prog, t) != 0)
        return 1;
    const char *path = t->path;
    if (!path)
        path = berth_rt_default_ctl_path(t->tun, t->buf, sizeof t->buf);
    char *ans = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&ans, &len);
    if (!mem) {
        error_line(prog, "out of memory");
        return 1;
    }
    int r = berth_rt_ctl_request(path, cmd, mem);
    fclose(mem);
    /* The instance refuses a command with one "error: ..." line: that is
     * this command's error too. */
    bool refused = r >= 0 && len >= 7 && !strncmp(ans, "error: ", 7);
    if (refused)
        fprintf(stderr, "%s: %s", prog, ans + 7);
    else if (r >= 0)
        fwrite(ans, 1, len, stdout);
    free(ans);
    if (refused)
        return 1;
    if (r == -ENOENT || r == -ECONNREFUSED) {
        if (t->path)
            error_line(prog, "no berth running at %s", path);
        else
            error_line(prog,
                       "no berth running on tun %s in this network namespace "
                       "(%s); another path: --ctl PATH",
                       t->tun, path);
        return 1;
    }
    if (r < 0) {
        error_line(prog, "%s: %s", path, strerror(-r));
        return 1;
    }
    return 0;
}

static void target_usage(FILE *f)
{
    fprintf(f, "  --tun NAME   the instance running on this TUN device "
               "(default: the one\n"
               "               instance of this network namespace, else "
               "berth0)\n"
               "  --ctl PATH   its control socket (default "
               "/run/berth/[net-INODE/]TUN.sock\n"
               "               as root: one directory per network "
               "namespace)\n");
}

/* Appends argv[i] to the command line; -1 if it does not fit. */
static int cmd_append(char *cmd, size_t size, size_t *n, const char *word)
{
    size_t l = strlen(word);
    if (*n + l + 2 > size)
        return -1;
    if (*n)
        cmd[(*n)++] = ' ';
    memcpy(cmd + *n, word, l);
    *n += l;
    cmd[*n] = '\0';
    return 0;
}

static void ss_help(void)
{
    printf("usage: berth ss [-i] [--json] [state NAME]... [sport :PORT] "
           "[dport :PORT]\n"
           "                [--tun NAME | --ctl PATH]\n\n"
           "Lists the sockets of a running berth, like ss -tan.\n"
           "  -i             with srtt, rto, windows and timers (like ss "
           "-ti)\n"
           "  --json         a JSON array, one object per socket, every "
           "field\n"
           "  state NAME     only sockets in that state, as ss names them: "
           "established,\n"
           "                 syn-sent, syn-recv, fin-wait-1, fin-wait-2, "
           "time-wait, closed,\n"
           "                 close-wait, last-ack, closing, listening; or "
           "connected,\n"
           "                 synchronized, all. Repeat to add states.\n"
           "  sport :PORT    only this local port\n"
           "  dport :PORT    only this remote port\n");
    target_usage(stdout);
}

int cmd_ss(int argc, char **argv)
{
    const char *prog = "berth ss";
    struct ctl_target t = {0};
    char cmd[1024] = "ss", err[256];
    size_t n = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            ss_help();
            return 0;
        }
        int r = target_option(prog, &t, argc, argv, &i);
        if (r < 0)
            return EXIT_USAGE;
        if (r == 0 && cmd_append(cmd, sizeof cmd, &n, argv[i]) != 0) {
            usage_error(prog, "arguments too long");
            return EXIT_USAGE;
        }
    }
    struct berth_rt_ss_query q;
    if (berth_rt_ss_parse(cmd + 2, &q, err, sizeof err) != 0) {
        usage_error(prog, "%s", err);
        return EXIT_USAGE;
    }
    return request(prog, &t, cmd);
}

int cmd_stat(int argc, char **argv)
{
    const char *prog = "berth stat";
    struct ctl_target t = {0};
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: berth stat [--json] [--tun NAME | --ctl PATH]\n\n"
                   "Counters of a running berth, like netstat -s; then drops "
                   "by reason\nand link statistics.\n"
                   "  --json       one JSON object: tcp, drops, link\n");
            target_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
            json = true;
            continue;
        }
        int r = target_option(prog, &t, argc, argv, &i);
        if (r < 0)
            return EXIT_USAGE;
        if (r == 0) {
            usage_error(prog, "unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        }
    }
    return request(prog, &t, json ? "stat --json" : "stat");
}

/* `berth route` and `berth neigh`: the table as `ip route` / `ip neigh`
 * print theirs. */
static int show_table(int argc, char **argv, const char *what,
                      const char *about)
{
    char prog[32];
    snprintf(prog, sizeof prog, "berth %s", what);
    struct ctl_target t = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [show] [--tun NAME | --ctl PATH]\n\n%s\n", prog,
                   about);
            target_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "show") || !strcmp(argv[i], "list"))
            continue;
        int r = target_option(prog, &t, argc, argv, &i);
        if (r < 0)
            return EXIT_USAGE;
        if (r == 0) {
            usage_error(prog, "unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        }
    }
    return request(prog, &t, what);
}

int cmd_route(int argc, char **argv)
{
    return show_table(argc, argv, "route",
                      "A running berth's routes, like ip route: the on-link "
                      "prefix and the\ndefault gateway (--gateway) of its "
                      "link.");
}

int cmd_neigh(int argc, char **argv)
{
    return show_table(argc, argv, "neigh",
                      "A running berth's neighbour cache, like ip neigh: "
                      "each neighbour's\nMAC address and state (INCOMPLETE, "
                      "REACHABLE, STALE, DELAY, PROBE,\nFAILED), with the "
                      "packets waiting for it. Empty on a TUN link.");
}

int cmd_ctl(int argc, char **argv)
{
    const char *prog = "berth ctl";
    struct ctl_target t = {0};
    char cmd[1024];
    size_t n = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: berth ctl [--tun NAME | --ctl PATH] COMMAND...\n"
                   "\nSends one command to a running berth and prints the "
                   "answer. Commands:\n"
                   "  ss, ss -i, stat, impair SPEC, impair off, impair "
                   "drop-all, route, neigh,\n  stop\n");
            target_usage(stdout);
            return 0;
        }
        int r = target_option(prog, &t, argc, argv, &i);
        if (r <= 0) {
            if (r == 0)
                usage_error(prog, "unknown option '%s'", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage_error(prog, "missing COMMAND");
        return EXIT_USAGE;
    }
    for (; i < argc; i++) {
        size_t l = strlen(argv[i]);
        if (n + l + 2 > sizeof cmd) {
            usage_error(prog, "command too long");
            return EXIT_USAGE;
        }
        if (n)
            cmd[n++] = ' ';
        memcpy(cmd + n, argv[i], l);
        n += l;
    }
    cmd[n] = '\0';
    return request(prog, &t, cmd);
}
