/* berth command: one executable, subcommands. main() only dispatches; each
 * subcommand parses its own options (the common ones through common.c). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "berth/berth.h"
#include "cmds.h"
#include "common.h"

/* berth version, berth --version: the library's version and git commit. */
static int cmd_version(int argc, char **argv)
{
    if (argc > 1) {
        bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        fprintf(help ? stdout : stderr, "usage: berth version\n");
        return help ? 0 : EXIT_USAGE;
    }
    printf("berth %s (commit %s)\n", berth_version(), berth_commit());
    return 0;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} COMMANDS[] = {
    {"demo", cmd_demo,
     "watch one TCP connection from the kernel's curl to "
     "berth, as a ladder"},
    {"ladder", cmd_ladder,
     "draw a capture's TCP connection as a ladder (text, SVG)"},
    {"http", cmd_http, "HTTP/1.1 server (/, /bytes/N, POST /sink)"},
    {"echo", cmd_echo, "echo server"},
    {"udp-echo", cmd_udp_echo, "UDP echo server"},
    {"cat", cmd_cat,
     "like nc: stdin to a connection, the connection to "
     "stdout (-u: UDP)"},
    {"ss", cmd_ss,
     "list a running berth's sockets (-i: with timers, "
     "windows)"},
    {"stat", cmd_stat,
     "a running berth's counters, drops and link "
     "statistics"},
    {"ctl", cmd_ctl, "send any control command (e.g. 'impair drop-all')"},
    {"route", cmd_route, "a running berth's routes (like ip route)"},
    {"neigh", cmd_neigh,
     "a running berth's neighbour cache (ARP; like ip neigh)"},
    {"version", cmd_version,
     "print the version and the git commit (also: berth --version)"},
    {"run", cmd_run, "run an unmodified program on berth (LD_PRELOAD)"},
    {"plot", cmd_plot,
     "time-sequence graph with the true cwnd, from --events (or a pcap)"},
};

#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: berth COMMAND [options]\n"
               "\n"
               "berth is a TCP/IP stack in user space; this command runs it "
               "on a TUN device.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", COMMANDS[i].name, COMMANDS[i].what);
    fprintf(f, "\n'berth COMMAND --help' describes a command and its "
               "options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V"))
        return cmd_version(1, argv + 1);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name))
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "berth: unknown command '%s' (see 'berth --help')\n", cmd);
    return EXIT_USAGE;
}
