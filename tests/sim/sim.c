/* berth-sim: runs seeds. Each seed is one world (plan.c, world.c): two
 * stacks, a link with the seed's impairments, random applications, and
 * invariants. A failing seed prints the one command that replays it.
 *
 *   berth-sim --seeds 1-300            the CTest run (sim.quick)
 *   berth-sim --seed 42 -v             replay one seed, printing its events
 *   berth-sim --full --seeds 1-5000    the soak
 *   berth-sim --table                  goodput against loss and RTT */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

/* ---------------------------------------------------------------------- */
/* Stream content: byte i of a stream is byte i % 8 of a hash of (seed,
 * i / 8), so a reader checks every byte's value and place. */

uint64_t fnv1a(uint64_t h, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t stream_word(uint64_t seed, uint64_t i)
{
    uint64_t x = seed ^ (i * 0xd6e8feb86659fd93ull);
    return rnd_next(&x);
}

void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len)
{
    size_t j = 0;
    while (j < len) {
        uint64_t pos = off + j, word = stream_word(seed, pos / 8);
        for (unsigned b = (unsigned)(pos % 8); b < 8 && j < len; b++, j++)
            buf[j] = (uint8_t)(word >> (8 * b));
    }
}

size_t stream_check(uint64_t seed, uint64_t off, const uint8_t *buf, size_t len)
{
    size_t j = 0;
    while (j < len) {
        uint64_t pos = off + j, word = stream_word(seed, pos / 8);
        for (unsigned b = (unsigned)(pos % 8); b < 8 && j < len; b++, j++)
            if (buf[j] != (uint8_t)(word >> (8 * b)))
                return j;
    }
    return len;
}

/* ---------------------------------------------------------------------- */
/* Options. */

struct opts {
    uint64_t first, last;
    bool full;
    int verbose;
    const char *pcap;
    const char *events; /* PREFIX: PREFIX.sideN.events, one seed */
    bool table;
    bool seeds_given;
    uint64_t progress; /* a line every this many seeds; 0 = none */
    int jobs;
    unsigned ignore; /* invariant classes not to fail on */
    bool bulk;       /* one cell of the table */
    uint64_t bulk_rtt;
    double bulk_loss;
    double max_rexmit;  /* --max-rexmit: bound on retransmitted / dropped */
    uint64_t max_drops; /* --max-drops: bound on packets dropped A->B */
    bool newreno, no_sack;
    bool selftest;
    bool coverage;
    const char *argv0;
};

static void usage(FILE *f)
{
    fputs(
        "usage: berth-sim [options]\n"
        "\n"
        "Two berth stacks over the in-memory link in virtual time, with\n"
        "random applications and link impairments chosen by a seed, and\n"
        "invariants checked throughout. A failing seed prints the command\n"
        "that replays it.\n"
        "\n"
        "  --seed N        run seed N only (replay)\n"
        "  --seeds A-B     run seeds A to B (default 1-200)\n"
        "  --full          soak-sized worlds: up to 50 connections, MiB\n"
        "                  transfers, longer outages\n"
        "  --jobs N        run seeds in N processes\n"
        "  --progress N    print a progress line every N seeds\n"
        "  --verbose, -v   print the plan and every application event,\n"
        "                  state change and drop; twice: every packet\n"
        "  --pcap FILE     write every packet as sent to FILE (one seed)\n"
        "  --events P      write each stack's event log to P.side0.events and\n"
        "                  P.side1.events (one seed; berth plot draws them)\n"
        "  --ignore CLASS  count failures of an invariant class without\n"
        "                  failing (to look past a known bug): data, error,\n"
        "                  rst, timeout, window, stall, leak, counter, api,\n"
        "                  driver\n"
        "  --table         print goodput against loss and RTT (after the\n"
        "                  seeds if --seeds is given too)\n"
        "  --bulk RTT LOSS one cell of the table (RTT in ms, loss in %),\n"
        "                  CUBIC + SACK unless --newreno / --no-sack; -v\n"
        "                  prints every packet\n"
        "  --max-rexmit R  with --bulk: fail unless the transfer completes\n"
        "                  with at most R retransmitted segments per\n"
        "                  packet the link dropped\n"
        "  --max-drops N   with --bulk: fail unless the link dropped at most\n"
        "                  N packets from A to B (slow start's overshoot)\n"
        "  --coverage      after the seeds, the state changes they saw\n"
        "  --selftest      check the link's impairments and exit\n"
        "  --help          this text\n",
        f);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return false;
    *out = strtoull(s, &end, 10);
    return *end == '\0';
}

/* Options without a value; false if `a` is none of them. */
static bool parse_flag(const char *a, struct opts *o)
{
    if (!strcmp(a, "--selftest"))
        o->selftest = true;
    else if (!strcmp(a, "--newreno"))
        o->newreno = true;
    else if (!strcmp(a, "--no-sack"))
        o->no_sack = true;
    else if (!strcmp(a, "--full"))
        o->full = true;
    else if (!strcmp(a, "--table"))
        o->table = true;
    else if (!strcmp(a, "--coverage"))
        o->coverage = true;
    else if (!strcmp(a, "--verbose") || !strcmp(a, "-v"))
        o->verbose++;
    else if (!strcmp(a, "-vv"))
        o->verbose += 2;
    else
        return false;
    return true;
}

static bool parse_range(const char *v, struct opts *o)
{
    char buf[64];
    if (!v || !strchr(v, '-'))
        return false;
    snprintf(buf, sizeof(buf), "%s", v);
    char *dash = strchr(buf, '-');
    *dash = '\0';
    o->seeds_given = true;
    return parse_u64(buf, &o->first) && parse_u64(dash + 1, &o->last) &&
           o->first <= o->last;
}

static bool parse_ignore(const char *v, struct opts *o)
{
    for (int k = 0; v && k < INV__COUNT; k++)
        if (!strcmp(v, invariant_tag(k))) {
            o->ignore |= 1u << k;
            return true;
        }
    return false;
}

/* Options with values: how many arguments they took (0: not this one,
 * -1: a bad value). */
static int parse_valued(int argc, char **argv, int i, struct opts *o)
{
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t n;
    if (!strcmp(a, "--seed")) {
        o->seeds_given = true;
        if (!parse_u64(v, &n))
            return -1;
        o->first = o->last = n;
    } else if (!strcmp(a, "--seeds")) {
        return parse_range(v, o) ? 2 : -1;
    } else if (!strcmp(a, "--jobs")) {
        if (!parse_u64(v, &n) || n < 1 || n > 64)
            return -1;
        o->jobs = (int)n;
    } else if (!strcmp(a, "--progress")) {
        return parse_u64(v, &o->progress) ? 2 : -1;
    } else if (!strcmp(a, "--ignore")) {
        return parse_ignore(v, o) ? 2 : -1;
    } else if (!strcmp(a, "--pcap")) {
        o->pcap = v;
        return v ? 2 : -1;
    } else if (!strcmp(a, "--events")) {
        o->events = v;
        return v ? 2 : -1;
    } else if (!strcmp(a, "--max-drops")) {
        return parse_u64(v, &o->max_drops) ? 2 : -1;
    } else if (!strcmp(a, "--max-rexmit")) {
        if (!v)
            return -1;
        o->max_rexmit = strtod(v, NULL);
        return o->max_rexmit > 0 ? 2 : -1;
    } else if (!strcmp(a, "--bulk")) {
        if (!parse_u64(v, &o->bulk_rtt) || i + 2 >= argc)
            return -1;
        o->bulk = true;
        o->bulk_loss = strtod(argv[i + 2], NULL) / 100;
        return 3;
    } else {
        return 0;
    }
    return 2;
}

/* The binary's absolute path, for replay commands that work from
 * anywhere (argv[0] is relative under CTest and make). */
static const char *self_path(const char *argv0)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return argv0;
    path[n] = '\0';
    return path;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->first = 1;
    o->last = 200;
    o->jobs = 1;
    o->argv0 = self_path(argv[0]);
    for (int i = 1; i < argc;) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            exit(0);
        }
        if (parse_flag(argv[i], o)) {
            i++;
            continue;
        }
        int n = parse_valued(argc, argv, i, o);
        if (n <= 0)
            return -1;
        i += n;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The plan, printed for a replay. */

static void describe_stack(const struct world *w, int side)
{
    const struct berth_config *c = &w->cfg[side];
    printf("  stack %c: ws %d ts %d sack %d %s iw %u quickack %u mss %u "
           "sndbuf %u rcvbuf %u delack %" PRIu64 " ms msl %.1f s fin-wait-2 "
           "%.1f s retries %u/syn %u/synack %u rto_max %.0f s syn_backlog "
           "%u\n",
           'A' + side, c->window_scaling, c->timestamps, c->sack,
           c->congestion == BERTH_CC_CUBIC ? "cubic" : "newreno",
           c->initial_cwnd, c->quickack, c->mss, c->sndbuf, c->rcvbuf,
           c->delack / SIM_MS, (double)c->msl / 1e6,
           (double)c->fin_wait_2_timeout / 1e6, c->max_retries, c->syn_retries,
           c->synack_retries, (double)c->rto_max / 1e6, c->syn_backlog);
}

static void describe_link(const struct world *w, int from)
{
    const struct berth_memlink_impair *m = &w->imp[from];
    printf("  link %c->%c: delay %.3f ms jitter %.3f ms loss %.2f%% dup "
           "%.2f%% reorder %.2f%% (+%.1f ms) corrupt %.2f%%",
           'A' + from, 'B' - from, (double)m->delay / 1e3,
           (double)m->jitter / 1e3, m->loss * 100, m->duplicate * 100,
           m->reorder * 100, (double)m->reorder_delay / 1e3, m->corrupt * 100);
    if (m->ge_good_to_bad > 0)
        printf(" bursts(g>b %.3f b>g %.2f loss %.3f/%.2f)", m->ge_good_to_bad,
               m->ge_bad_to_good, m->ge_loss_good, m->ge_loss_bad);
    if (m->rate)
        printf(" rate %.2f Mbit/s queue %u pkts %" PRIu64 " B",
               (double)m->rate * 8 / 1e6, m->queue_packets, m->queue_bytes);
    for (int i = 0; i < w->noutages[from]; i++)
        printf(" outage [%.3f s, %.3f s)", (double)w->outage[from][i][0] / 1e6,
               (double)w->outage[from][i][1] / 1e6);
    putchar('\n');
}

static void describe(const struct world *w)
{
    static const char *const kinds[] = {"", " (simultaneous open)",
                                        " (refused)"};
    static const char *const families[] = {"IPv4", "IPv6", "IPv4 and IPv6"};
    printf("seed %" PRIu64 " (%s): %d connections, %d listeners, %s, give up "
           "at %.0f s\n",
           w->seed, w->full ? "full" : "quick", w->nconns, w->nlsn,
           families[w->family], (double)w->giveup_at / 1e6);
    for (int s = 0; s < 2; s++)
        describe_stack(w, s);
    for (int s = 0; s < 2; s++)
        describe_link(w, s);
    for (int i = 0; i < w->nlsn; i++)
        printf("  listener %u on %c, backlog %d, accept delay <= %" PRIu64
               " ms\n",
               w->lsn[i].port, 'A' + w->lsn[i].side, w->lsn[i].backlog,
               w->lsn[i].accept_delay_max / SIM_MS);
    for (int i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        char reuse[48] = "";
        if (c->reuse >= 0)
            snprintf(reuse, sizeof(reuse), " (reusing conn %d's port)",
                     c->reuse);
        printf("  conn %d at %.3f s from %c%s%s%s: A sends %" PRIu64 " (%s), "
               "B sends %" PRIu64 " (%s)\n",
               i, (double)c->open_at / 1e6, 'A' + c->init_side, kinds[c->kind],
               reuse, c->v6 ? " over IPv6" : "", c->e[0].p.total,
               close_style_name(c->e[0].p.close), c->e[1].p.total,
               close_style_name(c->e[1].p.close));
    }
}

/* ---------------------------------------------------------------------- */
/* Running seeds. */

static void report(const struct opts *o, const struct world *w)
{
    printf("FAIL seed %" PRIu64 ": %s\n", w->seed, w->fails[0]);
    int shown = w->nfails < MAX_FAILS ? w->nfails : MAX_FAILS;
    for (int i = 1; i < shown; i++)
        printf("     %s\n", w->fails[i]);
    if (w->nfails > shown)
        printf("     (%d more)\n", w->nfails - shown);
    printf("  replay: %s --seed %" PRIu64 "%s", o->argv0, w->seed,
           o->full ? " --full" : "");
    for (int i = 0; i < INV__COUNT; i++)
        if (o->ignore & (1u << i))
            printf(" --ignore %s", invariant_tag(i));
    printf(" -v\n");
    fflush(stdout);
}

static void tally(struct sim_stats *t, const struct world *w)
{
    t->seeds++;
    t->failed += w->nfails > 0;
    t->conns += (uint64_t)w->nconns;
    t->vtime += w->apps_done_at;
    for (int i = 0; i < INV__COUNT; i++)
        t->ignored[i] += w->ignored[i];
    t->rtt_outliers += w->rtt_outliers;
    for (int a = 0; a < BERTH_STATE__COUNT; a++)
        for (int b = 0; b < BERTH_STATE__COUNT; b++)
            t->trans[a][b] += w->trans[a][b];
    for (int i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        for (int s = 0; s < 2; s++) {
            t->bytes += c->e[s].received;
            t->resets_planned += end_abortive(&c->e[s]);
            t->timeouts_licensed += c->timed_out[s];
            if (!w->noutages[0] && !w->noutages[1])
                t->timeouts_without_outage += c->timed_out[s];
        }
    }
    for (int from = 0; from < 2; from++) {
        struct berth_memlink_stats m;
        berth_memlink_stats(w->link, from, &m);
        t->pkts += m.sent;
        t->drops += m.lost + m.burst_lost + m.outage_dropped + m.tail_dropped;
        t->corrupt += m.corrupt_delivered;
        t->corrupt_accepted += m.corrupt_accepted;
        t->tail_drops += m.tail_dropped;
        t->outage_drops += m.outage_dropped;
        t->burst_drops += m.burst_lost;
    }
}

static FILE *pcap_open(const char *path)
{
    FILE *f = fopen(path, "wb");
    /* LINKTYPE_RAW (101): each packet starts with its IPv4 header. */
    uint32_t g[6] = {0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 101};
    if (f)
        fwrite(g, sizeof(g), 1, f);
    return f;
}

static int run_seed(const struct opts *o, uint64_t seed, struct sim_stats *t)
{
    struct world *w = calloc(1, sizeof(*w));
    FILE *pcap = o->pcap ? pcap_open(o->pcap) : NULL;
    if (!w || (o->pcap && !pcap)) {
        fprintf(stderr, "berth-sim: out of memory or cannot open the pcap\n");
        exit(2);
    }
    int r = world_init(w, seed, o->full, o->verbose, pcap, o->ignore);
    for (int side = 0; side < 2 && o->events && r == 0; side++) {
        char path[512], err[256];
        snprintf(path, sizeof path, "%s.side%d.events", o->events, side);
        w->ev.log[side] = berth_events_open(path, 0, err, sizeof err);
        if (!w->ev.log[side]) {
            fprintf(stderr, "berth-sim: %s\n", err);
            exit(2);
        }
    }
    if (o->verbose)
        describe(w);
    if (r == 0)
        world_run(w);
    else
        world_fail(w, INV_DRIVER, "could not create the stacks or the link");
    tally(t, w);
    bool failed = w->nfails > 0;
    if (failed)
        report(o, w);
    else if (o->verbose)
        printf("seed %" PRIu64 ": ok, %.3f s of virtual time\n", seed,
               (double)w->now / 1e6);
    world_free(w);
    for (int side = 0; side < 2; side++)
        if (berth_events_close(w->ev.log[side]) < 0)
            fprintf(stderr, "berth-sim: event log incomplete\n");
    free(w);
    if (pcap)
        fclose(pcap);
    return failed;
}

/* Seeds first + k, first + k + step, ... of the range. */
static void run_share(const struct opts *o, uint64_t k, uint64_t step,
                      struct sim_stats *t)
{
    time_t t0 = time(NULL);
    for (uint64_t s = o->first + k; s <= o->last; s += step) {
        run_seed(o, s, t);
        if (o->progress && t->seeds % o->progress == 0) {
            printf("  [%" PRIu64 "/%" PRIu64 "] %" PRIu64 " seeds, %" PRIu64
                   " failed, %lld s\n",
                   k, step, t->seeds, t->failed, (long long)(time(NULL) - t0));
            fflush(stdout);
        }
    }
}

/* With --jobs, children run interleaved shares and send their tallies
 * back through a pipe; the parent adds them up field by field. */
_Static_assert(sizeof(struct sim_stats) % sizeof(uint64_t) == 0,
               "struct sim_stats must be made of uint64_t only");
static void run_seeds(const struct opts *o, struct sim_stats *t)
{
    if (o->jobs <= 1) {
        run_share(o, 0, 1, t);
        return;
    }
    int fds[64][2];
    pid_t pids[64];
    fflush(stdout);
    for (int j = 0; j < o->jobs; j++) {
        if (pipe(fds[j]) != 0 || (pids[j] = fork()) < 0) {
            perror("berth-sim");
            exit(2);
        }
        if (pids[j] == 0) {
            struct sim_stats mine = {0};
            close(fds[j][0]);
            run_share(o, (uint64_t)j, (uint64_t)o->jobs, &mine);
            fflush(stdout);
            ssize_t n = write(fds[j][1], &mine, sizeof(mine));
            _exit(n == (ssize_t)sizeof(mine) ? 0 : 2);
        }
        close(fds[j][1]);
    }
    for (int j = 0; j < o->jobs; j++) {
        struct sim_stats c = {0};
        if (read(fds[j][0], &c, sizeof(c)) != (ssize_t)sizeof(c))
            c.failed = c.seeds = 1; /* a child that died is a failure */
        close(fds[j][0]);
        waitpid(pids[j], NULL, 0);
        uint64_t *a = (uint64_t *)t, *b = (uint64_t *)&c;
        for (size_t i = 0; i < sizeof(c) / sizeof(uint64_t); i++)
            a[i] += b[i];
    }
}

/* Which RFC 9293 state changes the seeds went through, and how often. */
static void print_coverage(const struct sim_stats *t)
{
    printf("state changes seen:\n");
    for (int a = 0; a < BERTH_STATE__COUNT; a++)
        for (int b = 0; b < BERTH_STATE__COUNT; b++)
            if (t->trans[a][b])
                printf("  %-12s -> %-12s %10" PRIu64 "\n",
                       berth_state_name((enum berth_state)a),
                       berth_state_name((enum berth_state)b), t->trans[a][b]);
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    if (o.selftest)
        return selftest_run();
    if (o.bulk) {
        return table_cell(o.newreno ? BERTH_CC_NEWRENO : BERTH_CC_CUBIC,
                          !o.no_sack, (unsigned)o.bulk_rtt, o.bulk_loss,
                          o.max_rexmit, o.max_drops, o.verbose);
    }
    if (o.table && !o.seeds_given) {
        table_print(stdout);
        return 0;
    }
    struct sim_stats t = {0};
    run_seeds(&o, &t);
    printf("berth-sim: %" PRIu64 " seeds (%s), %" PRIu64 " failed; %" PRIu64
           " connections, %.1f MiB delivered, %.0f s virtual; %" PRIu64
           " packets, %" PRIu64 " lost (%" PRIu64 " in bursts, %" PRIu64
           " in outages, %" PRIu64 " tail drops), %" PRIu64
           " corrupted copies delivered, %" PRIu64 " accepted; %" PRIu64
           " planned resets, %" PRIu64 " licensed timeouts (%" PRIu64
           " without an outage)\n",
           t.seeds, o.full ? "full" : "quick", t.failed, t.conns,
           (double)t.bytes / SIM_MIB, (double)t.vtime / 1e6, t.pkts, t.drops,
           t.burst_drops, t.outage_drops, t.tail_drops, t.corrupt,
           t.corrupt_accepted, t.resets_planned, t.timeouts_licensed,
           t.timeouts_without_outage);
    if (t.rtt_outliers)
        printf("berth-sim: %" PRIu64 " connections saw SRTT beyond twice the "
               "path's longest round trip + 4 s (not a failure; -v shows "
               "them)\n",
               t.rtt_outliers);
    for (int i = 0; i < INV__COUNT; i++)
        if (t.ignored[i])
            printf("berth-sim: IGNORED %" PRIu64 " failures of class \"%s\" "
                   "(--ignore)\n",
                   t.ignored[i], invariant_tag(i));
    if (o.coverage)
        print_coverage(&t);
    if (o.table)
        table_print(stdout);
    return t.failed ? 1 : 0;
}
