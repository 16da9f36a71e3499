/* berth command: `berth demo` — options, the choice between the TUN story
 * and the in-memory one, and the report pieces both print. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "demo.h"
#include "ladder.h"

const char *const DEMO_PATHS[DEMO_NPATHS] = {"/", "/bytes/1000",
                                             "/bytes/1000000"};

void demo_print_results(FILE *out, const char *who, const struct demo_result *r,
                        int n)
{
    fprintf(out, "\nWhat %s got\n", who);
    for (int i = 0; i < n; i++) {
        fprintf(out, "  %s\n     ", r[i].command);
        for (int j = 0; j < r[i].n; j++)
            fprintf(out, "%s%d (%" PRIu64 " B)", j ? ", " : "", r[i].status[j],
                    r[i].size[j]);
        if (r[i].n == 0)
            fprintf(out, "no response");
        fprintf(out, " over %d connection%s\n", r[i].connections,
                r[i].connections == 1 ? "" : "s");
        if (r[i].error[0])
            fprintf(out, "     error: %s\n", r[i].error);
    }
}

/* Non-zero counters, like the tail of `netstat -s`, with the client's
 * column when it is a berth stack too. */
void demo_print_counters(FILE *out, struct berth_stack *server,
                         struct berth_stack *client)
{
    fprintf(out, "\n%-23s", "Counters (non-zero)");
    if (client)
        fprintf(out, "%9s ", "client");
    fprintf(out, "%9s\n", "berth");
    for (int i = 0; i < BERTH_CTR__COUNT; i++) {
        enum berth_counter c = (enum berth_counter)i;
        uint64_t a = client ? berth_counter(client, c) : 0;
        uint64_t b = berth_counter(server, c);
        if (a == 0 && b == 0)
            continue;
        fprintf(out, "  %-20s ", berth_counter_name(c));
        if (client)
            fprintf(out, "%9" PRIu64 " ", a);
        fprintf(out, "%9" PRIu64 "   %s\n", b, berth_counter_string(c));
    }
    for (int i = 1; i < BERTH_REASON__COUNT; i++) {
        enum berth_reason r = (enum berth_reason)i;
        uint64_t a = client ? berth_drop_count(client, r) : 0;
        uint64_t b = berth_drop_count(server, r);
        if (a == 0 && b == 0)
            continue;
        fprintf(out, "  drop %-15s ", berth_reason_name(r));
        if (client)
            fprintf(out, "%9" PRIu64 " ", a);
        fprintf(out, "%9" PRIu64 "   %s\n", b, berth_reason_string(r));
    }
}

void demo_print_ladder(FILE *out, struct ladders *ls, const char *left,
                       const char *right)
{
    int count;
    const char *why;
    int i = ladders_pick(ls, &count, &why);
    if (count > 1)
        fprintf(out, "Connection %d of %d%s%s%s:\n\n", i + 1, count,
                why ? " (chosen: " : ", the first", why ? why : "",
                why ? ")" : "");
    ladder_print(ladders_get(ls, i), out, left, right);
}

void demo_print_events(FILE *out, const struct demo_opts *o)
{
    if (o->events)
        fprintf(out,
                "Event log: %s (berth's own record of its connections;\n"
                "           berth plot %s --svg plot.svg)\n",
                o->events, o->events);
}

void demo_write_figure(FILE *out, const struct demo_opts *o, struct ladders *ls,
                       const char *left, const char *right)
{
    char path[320], err[300];
    if (!o->pcap)
        return;
    /* Beside the capture: demo.pcap -> demo-ladder.svg. */
    size_t n = strlen(o->pcap);
    if (n > 5 && !strcmp(o->pcap + n - 5, ".pcap"))
        n -= 5;
    snprintf(path, sizeof path, "%.*s-ladder.svg", (int)n, o->pcap);
    int count;
    const char *why;
    struct ladder *ld = ladders_get(ls, ladders_pick(ls, &count, &why));
    int fd = berth_rt_create_file(path, false, err, sizeof err);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        error_line(o->c.prog, "%s (no ladder figure)", err);
        return;
    }
    ladder_print_svg(ld, f, left, right, false);
    if (fclose(f) != 0) {
        error_line(o->c.prog, "%s: %s", path, strerror(errno));
        return;
    }
    fprintf(out,
            "Ladder figure: %s (SVG, the ladder above; berth ladder "
            "draws any connection of the capture)\n",
            path);
}

void demo_print_next(FILE *out, const struct demo_opts *o)
{
    char imp[128];
    berth_impair_format(&o->c.rt.impair, imp, sizeof imp);
    fprintf(out, "\nTry next:\n");
    fprintf(out, "  sudo berth http &                 serve on a TUN device; "
                 "then curl http://198.18.0.2/\n");
    fprintf(out, "  berth ss -i                       its connections, with "
                 "timers and windows\n");
    if (o->pcap) {
        fprintf(out, "  wireshark %s\n%36sthis run, packet by packet\n",
                o->pcap, "");
        fprintf(out,
                "  berth ladder %s --list\n%36severy connection of it, "
                "as a ladder (--explain)\n",
                o->pcap, "");
    }
    if (!strcmp(imp, "off"))
        fprintf(out, "  berth demo --impair loss=20%%,seed=1   lost segments "
                     "and their retransmissions\n");
    else
        fprintf(out,
                "  berth demo --impair %s --trace   every drop and "
                "state change\n",
                imp);
}

static void demo_usage(FILE *f)
{
    fprintf(f,
            "usage: berth demo [--memlink] [options]\n"
            "\n"
            "Shows what one TCP connection does. As root with /dev/net/tun, "
            "in a\nthrowaway network namespace: berth serves HTTP on a TUN "
            "device and the\nkernel's curl fetches http://198.18.0.2/ over a "
            "short connection, then\nseveral URLs over one keep-alive "
            "connection. Prints the first connection\nas a ladder of "
            "segments and state changes, then the counters. Otherwise\n"
            "(or with --memlink) the same story between two berth stacks over "
            "the\nin-memory link, in virtual time.\n"
            "\n"
            "  --memlink            use the in-memory link even when TUN is "
            "possible\n"
            "  --pcap FILE          capture (default: demo.pcap in a new "
            "private directory,\n"
            "                       $TMPDIR/berth-demo-XXXXXX; never "
            "through a symlink)\n"
            "  --events FILE        berth's event log (default: beside the "
            "capture,\n"
            "                       demo.events)\n"
            "  --msl TIME           MSL (default 1s with TUN, so TIME-WAIT "
            "takes 2 s;\n"
            "                       30s over the in-memory link)\n"
            "\n");
    static const char *const own[] = {"--pcap", "--events", "--msl", NULL};
    common_usage_except(f, own);
}

/* The run's files go to a fresh private directory unless --pcap and
 * --ctl name them: a fixed name in /tmp is one any local user can plant a
 * symlink at (and, once root's run left it, a file others cannot write). */
static int demo_private_dir(struct demo_opts *o)
{
    const char *tmp = getenv("TMPDIR");
    o->pcap = o->c.rt.pcap_path;
    if (o->pcap && o->c.rt.ctl_path)
        return 0;
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(o->dir, sizeof o->dir, "%s/berth-demo-XXXXXX", tmp);
    if (!mkdtemp(o->dir)) {
        error_line(o->c.prog, "cannot create a directory in %s: %s", tmp,
                   strerror(errno));
        return -1;
    }
    if (!o->pcap) {
        snprintf(o->pcap_buf, sizeof o->pcap_buf, "%s/demo.pcap", o->dir);
        o->pcap = o->pcap_buf;
    }
    return 0;
}

/* The event log goes beside the capture unless --events names it:
 * FILE.events for FILE.pcap (FILE.pcap.events for another name). */
static void demo_events_path(struct demo_opts *o)
{
    o->events = o->c.rt.events_path;
    if (o->events || !o->pcap)
        return;
    size_t n = strlen(o->pcap);
    if (n > 5 && !strcmp(o->pcap + n - 5, ".pcap"))
        n -= 5;
    snprintf(o->events_buf, sizeof o->events_buf, "%.*s.events", (int)n,
             o->pcap);
    o->events = o->events_buf;
}

int cmd_demo(int argc, char **argv)
{
    struct demo_opts o;
    memset(&o, 0, sizeof o);
    common_init(&o.c, "berth demo");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            demo_usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--memlink")) {
            o.memlink = true;
            continue;
        }
        if (common_option_last(&o.c, 0, argc, argv, &i) != 0)
            return EXIT_USAGE;
    }
    if (demo_private_dir(&o) != 0)
        return 1;
    /* An unwritable capture file costs the capture, not the demo. */
    char err[300];
    int fd = berth_rt_create_file(o.pcap, false, err, sizeof err);
    if (fd >= 0)
        close(fd);
    else
        error_line(o.c.prog, "%s (no capture)", err);
    if (fd < 0)
        o.pcap = NULL;
    demo_events_path(&o);
    if (common_finish(&o.c) != 0)
        return EXIT_USAGE;
    fflush(stdout);
    if (o.memlink)
        return demo_memlink(&o, "--memlink: no TUN device this time.");
    char why[256];
    int rc = demo_tun(&o, why, sizeof why);
    if (rc >= 0)
        return rc;
    return demo_memlink(&o, why);
}
