/* berth command: one executable, subcommands. main() only dispatches; each
 * subcommand parses its own options (the common ones through common.c). */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "common.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *what;
} COMMANDS[] = {
    {"demo", cmd_demo,
     "watch one TCP connection from the kernel's curl to "
     "berth, as a ladder"},
    {"http", cmd_http, "HTTP/1.1 server (/, /bytes/N, POST /sink)"},
    {"echo", cmd_echo, "echo server"},
    {"cat", cmd_cat,
     "like nc: stdin to a connection, the connection to "
     "stdout"},
    {"ss", cmd_ss,
     "list a running berth's sockets (-i: with timers, "
     "windows)"},
    {"stat", cmd_stat,
     "a running berth's counters, drops and link "
     "statistics"},
    {"ctl", cmd_ctl, "send any control command (e.g. 'impair drop-all')"},
    {"run", cmd_run, "run an unmodified program on berth (LD_PRELOAD)"},
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
        fprintf(f, "  %-6s %s\n", COMMANDS[i].name, COMMANDS[i].what);
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
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name))
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "berth: unknown command '%s' (see 'berth --help')\n", cmd);
    return EXIT_USAGE;
}
