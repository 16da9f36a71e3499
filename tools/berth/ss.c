/* berth command: clients of a running berth's control socket — `ss`,
 * `stat` and `ctl` send one command line and print the answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

struct ctl_target {
    const char *tun;
    const char *path; /* NULL: the default for tun */
    char buf[256];
};

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
            error_line(prog, "no berth running on tun %s (%s)", t->tun, path);
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
               "(default berth0)\n"
               "  --ctl PATH   its control socket (default "
               "/run/berth/TUN.sock as root)\n");
}

/* ss and stat: a fixed command, an optional -i for ss. */
static int simple(const char *prog, const char *cmd, bool info_ok, int argc,
                  char **argv)
{
    struct ctl_target t = {.tun = "berth0"};
    bool info = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s%s [--tun NAME | --ctl PATH]\n\n", prog,
                   info_ok ? " [-i]" : "");
            if (info_ok)
                printf("Lists the sockets of a running berth, like ss -tan."
                       "\n  -i           with srtt, rto, windows and "
                       "timers\n");
            else
                printf("Counters of a running berth, like netstat -s; then "
                       "drops by reason\nand link statistics.\n");
            target_usage(stdout);
            return 0;
        }
        if (info_ok && !strcmp(argv[i], "-i")) {
            info = true;
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
    return request(prog, &t, info ? "ss -i" : cmd);
}

int cmd_ss(int argc, char **argv)
{
    return simple("berth ss", "ss", true, argc, argv);
}

int cmd_stat(int argc, char **argv)
{
    return simple("berth stat", "stat", false, argc, argv);
}

int cmd_ctl(int argc, char **argv)
{
    const char *prog = "berth ctl";
    struct ctl_target t = {.tun = "berth0"};
    char cmd[1024];
    size_t n = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: berth ctl [--tun NAME | --ctl PATH] COMMAND...\n"
                   "\nSends one command to a running berth and prints the "
                   "answer. Commands:\n"
                   "  ss, ss -i, stat, impair SPEC, impair off, impair "
                   "drop-all, stop\n");
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
