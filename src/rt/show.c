/* What `berth ss` and `berth stat` print: a table of every entry the stack
 * holds in the shape of `ss -tan` (with `ss -ti`'s second line on request)
 * and the counters in the shape of `netstat -s`. Public API only, so the
 * same text serves the control socket and an in-process stack. */
#include "rt_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct ss_row {
    struct berth_stack *s; /* the shard's stack that holds it */
    int sock;
    struct berth_tcp_info info;
};

struct ss_rows {
    struct ss_row *v;
    size_t len, cap;
    bool oom;
    struct berth_stack *cur; /* the stack being collected */
};

/* An IPv4 connection of a dual-stack socket reads ::ffff:a.b.c.d through
 * the API (as Linux reports it); ss shows what is on the wire, a.b.c.d, as
 * it shows the same connection's TIME-WAIT record. */
static struct berth_endpoint unmapped(struct berth_endpoint ep)
{
    uint32_t v4;
    return berth_endpoint_v4mapped(&ep, &v4) ? berth_endpoint_v4(v4, ep.port)
                                             : ep;
}

static void collect(void *ctx, int sock, const struct berth_tcp_info *info)
{
    struct ss_rows *r = ctx;
    if (r->len == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        struct ss_row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    struct ss_row *row = &r->v[r->len++];
    *row = (struct ss_row){r->cur, sock, *info};
    row->info.local = unmapped(row->info.local);
    row->info.remote = unmapped(row->info.remote);
}

/* Listeners first, then by local port, peer address, peer port: stable
 * output whatever the hash table's order. */
static int row_cmp(const void *a, const void *b)
{
    const struct berth_tcp_info *x = &((const struct ss_row *)a)->info;
    const struct berth_tcp_info *y = &((const struct ss_row *)b)->info;
    int lx = x->state != BERTH_STATE_LISTEN,
        ly = y->state != BERTH_STATE_LISTEN;
    if (lx != ly)
        return lx - ly;
    if (x->local.port != y->local.port)
        return x->local.port < y->local.port ? -1 : 1;
    if (x->remote.family != y->remote.family)
        return x->remote.family < y->remote.family ? -1 : 1;
    if (x->remote.addr != y->remote.addr)
        return x->remote.addr < y->remote.addr ? -1 : 1;
    int a6 = memcmp(x->remote.addr6, y->remote.addr6, 16);
    if (a6 != 0)
        return a6;
    if (x->remote.port != y->remote.port)
        return x->remote.port < y->remote.port ? -1 : 1;
    return 0;
}

static char *endpoint_str(char *buf, size_t size, struct berth_endpoint ep,
                          bool wildcard_port)
{
    /* As ss prints them: 198.18.0.2:80, [2001:db8:b::2]:80. */
    char a[BERTH_ADDRSTRLEN];
    berth_addr_string(&ep, a, sizeof a);
    bool v6 = ep.family == BERTH_AF_INET6;
    if (wildcard_port)
        snprintf(buf, size, v6 ? "[%s]:*" : "%s:*", a);
    else
        snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", a, ep.port);
    return buf;
}

/* Which timer `ss` would name, as Linux's tcp_diag does: the
 * retransmission timer (SYN, SYN-ACK, data, FIN) is "on", a zero-window
 * probe is "persist", an idle keepalive "keepalive", and TIME-WAIT (or an
 * orphaned FIN-WAIT-2 waiting out its timeout) "timewait". NULL: none
 * worth showing (a delayed ACK). */
static const char *timer_kind(const struct berth_stack *s, int sock,
                              const struct berth_tcp_info *in)
{
    int64_t keepalive = 0;
    if (in->next_timer == UINT64_MAX || in->state == BERTH_STATE_LISTEN)
        return NULL;
    if (in->state == BERTH_STATE_TIME_WAIT ||
        (in->state == BERTH_STATE_FIN_WAIT_2 && sock < 0))
        return "timewait";
    if (in->unacked > 0 || in->state == BERTH_STATE_SYN_SENT ||
        in->state == BERTH_STATE_SYN_RECEIVED)
        return "on";
    if (in->snd_wnd == 0 && in->snd_queued > 0)
        return "persist";
    if (sock >= 0 &&
        berth_getopt(s, sock, BERTH_OPT_KEEPALIVE, &keepalive) == 0 &&
        keepalive)
        return "keepalive";
    return NULL;
}

/* "timer:(timewait,59sec)", "timer:(on,1.2s)", "timer:(on,200ms)". */
static void timer_str(char *buf, size_t size, const char *kind, uint64_t left)
{
    if (!kind)
        buf[0] = '\0';
    else if (strcmp(kind, "timewait") == 0)
        snprintf(buf, size, "timer:(%s,%" PRIu64 "sec)", kind,
                 left / RT_US_PER_S);
    else if (left < RT_US_PER_S)
        snprintf(buf, size, "timer:(%s,%" PRIu64 "ms)", kind,
                 left / RT_US_PER_MS);
    else if (left < 60 * RT_US_PER_S)
        snprintf(buf, size, "timer:(%s,%.1fs)", kind,
                 (double)(left / (RT_US_PER_S / 10)) / 10.0);
    else
        snprintf(buf, size, "timer:(%s,%" PRIu64 "min)", kind,
                 left / (60 * RT_US_PER_S));
}

/* The `ss -ti`-style second line. */
static void print_info_line(const struct berth_tcp_info *in, FILE *out)
{
    if (in->state == BERTH_STATE_LISTEN) {
        fprintf(out, "\t syn_queue:%u accept_queue:%u/%u\n", in->syn_queue,
                in->accept_queue, in->accept_backlog);
        return;
    }
    if (in->state == BERTH_STATE_TIME_WAIT) {
        fprintf(out, "\t snd_nxt:%u rcv_nxt:%u rcv_wnd:%u\n", in->snd_nxt,
                in->rcv_nxt, in->rcv_wnd);
        return;
    }
    fprintf(out, "\t %s%s%s",
            in->congestion == BERTH_CC_NEWRENO ? "newreno" : "cubic",
            in->timestamps ? " ts" : "", in->sack ? " sack" : "");
    if (in->snd_wscale || in->rcv_wscale)
        fprintf(out, " wscale:%u,%u", in->snd_wscale, in->rcv_wscale);
    fprintf(out, " mss:%u rto:%gms cwnd:%u", in->snd_mss, in->rto / 1000.0,
            in->cwnd / (in->snd_mss ? in->snd_mss : 1));
    if (in->ssthresh != UINT32_MAX)
        fprintf(out, " ssthresh:%u",
                in->ssthresh / (in->snd_mss ? in->snd_mss : 1));
    if (in->srtt)
        fprintf(out, " rtt:%g/%gms", in->srtt / 1000.0, in->rttvar / 1000.0);
    fprintf(out,
            " snd_wnd:%u rcv_wnd:%u unacked:%u retrans:%u/%u iss:%u irs:%u "
            "snd_una:%u snd_nxt:%u rcv_nxt:%u\n",
            in->snd_wnd, in->rcv_wnd, in->unacked, in->retransmits,
            in->total_retrans, in->iss, in->irs, in->snd_una, in->snd_nxt,
            in->rcv_nxt);
}

/* ------------------------------------------------------------------------
 * Filters, as ss(8) spells them: "state time-wait", "sport :80",
 * "dport = :9000"; several states add up, and the groups "all",
 * "connected" and "synchronized" are ss's.
 */

static const struct {
    const char *name;
    uint32_t states;
} SS_STATES[] = {
#define S(x) (1u << BERTH_STATE_##x)
    {"established", S(ESTABLISHED)},
    {"syn-sent", S(SYN_SENT)},
    {"syn-recv", S(SYN_RECEIVED)},
    {"syn-received", S(SYN_RECEIVED)},
    {"fin-wait-1", S(FIN_WAIT_1)},
    {"fin-wait-2", S(FIN_WAIT_2)},
    {"time-wait", S(TIME_WAIT)},
    {"closed", S(CLOSED)},
    {"close-wait", S(CLOSE_WAIT)},
    {"last-ack", S(LAST_ACK)},
    {"closing", S(CLOSING)},
    {"listening", S(LISTEN)},
    {"listen", S(LISTEN)},
    {"all", ~0u},
    {"connected", ~(S(LISTEN) | S(CLOSED))},
    {"synchronized", ~(S(LISTEN) | S(CLOSED) | S(SYN_SENT))},
#undef S
};

/* ":80", "80", "*:80" -> 80. */
static int parse_ss_port(const char *w, size_t n)
{
    const char *colon = memchr(w, ':', n);
    if (colon) {
        n -= (size_t)(colon + 1 - w);
        w = colon + 1;
    }
    int v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9')
            return -1;
        v = v * 10 + (w[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

static bool word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && strncmp(w, s, n) == 0;
}

/* What an ss word asks for next. */
enum ss_want { WANT_ANY, WANT_STATE, WANT_SPORT, WANT_DPORT };

/* Whether a word starts a filter whose value follows. */
static bool ss_filter_word(const char *w, size_t n)
{
    return word_is(w, n, "state") || word_is(w, n, "sport") ||
           word_is(w, n, "src") || word_is(w, n, "dport") ||
           word_is(w, n, "dst");
}

/* The value of `state`, `sport` or `dport`: 0, 1 to stay (a "=" between
 * the filter and its port), or -1 with a message. */
static int ss_value(enum ss_want want, const char *w, size_t n,
                    struct berth_rt_ss_query *q, char *err, size_t errlen)
{
    if (want == WANT_STATE) {
        size_t k = 0, nst = sizeof SS_STATES / sizeof SS_STATES[0];
        while (k < nst && !word_is(w, n, SS_STATES[k].name))
            k++;
        if (k == nst) {
            snprintf(err, errlen,
                     "unknown state '%.*s' (e.g. established, time-wait, "
                     "listening, syn-sent, connected, all)",
                     (int)n, w);
            return -1;
        }
        q->states |= SS_STATES[k].states;
        return 0;
    }
    if (word_is(w, n, "=") || word_is(w, n, "==") || word_is(w, n, "eq"))
        return 1;
    int port = parse_ss_port(w, n);
    if (port < 0) {
        snprintf(err, errlen, "bad port '%.*s' (want :PORT)", (int)n, w);
        return -1;
    }
    *(want == WANT_SPORT ? &q->sport : &q->dport) = port;
    return 0;
}

/* A word outside a filter's value: a flag, or the filter it starts
 * (*want); -1 with a message for anything else. */
static int ss_word(const char *w, size_t n, struct berth_rt_ss_query *q,
                   enum ss_want *want, char *err, size_t errlen)
{
    if (word_is(w, n, "--info")) {
        q->info = true;
    } else if (n > 1 && w[0] == '-' && strspn(w + 1, "tanil") == n - 1) {
        /* ss's habits (-tan, -ti): TCP, all, numeric is all there is; i
         * adds the info line. */
        q->info |= memchr(w, 'i', n) != NULL;
    } else if (word_is(w, n, "--json") || word_is(w, n, "-j")) {
        q->json = true;
    } else if (word_is(w, n, "state")) {
        *want = WANT_STATE;
    } else if (word_is(w, n, "sport") || word_is(w, n, "src")) {
        *want = WANT_SPORT;
    } else if (word_is(w, n, "dport") || word_is(w, n, "dst")) {
        *want = WANT_DPORT;
    } else {
        snprintf(err, errlen,
                 "unknown ss argument '%.*s' (want -i, --json, state "
                 "NAME, sport :PORT, dport :PORT)",
                 (int)n, w);
        return -1;
    }
    return 0;
}

int berth_rt_ss_parse(const char *args, struct berth_rt_ss_query *q, char *err,
                      size_t errlen)
{
    memset(q, 0, sizeof *q);
    q->sport = q->dport = -1;
    const char *p = args;
    enum ss_want want = WANT_ANY;
    for (;;) {
        p += strspn(p, " \t");
        if (!*p)
            break;
        size_t n = strcspn(p, " \t");
        const char *w = p;
        p += n;
        int r = want == WANT_ANY ? ss_word(w, n, q, &want, err, errlen)
                                 : ss_value(want, w, n, q, err, errlen);
        if (r < 0)
            return -1;
        if (r == 0 && want != WANT_ANY && !ss_filter_word(w, n))
            want = WANT_ANY;
    }
    if (want != WANT_ANY) {
        snprintf(err, errlen, "%s needs a value",
                 want == WANT_STATE   ? "state"
                 : want == WANT_SPORT ? "sport"
                                      : "dport");
        return -1;
    }
    return 0;
}

static bool ss_match(const struct berth_rt_ss_query *q,
                     const struct berth_tcp_info *in)
{
    return (!q->states || (q->states & (1u << in->state))) &&
           (q->sport < 0 || in->local.port == q->sport) &&
           (q->dport < 0 || in->remote.port == q->dport);
}

/* ------------------------------------------------------------------------
 * The table: columns as wide as their widest cell, like ss(8).
 */

struct ss_cells {
    char recvq[12], sendq[12], local[64], peer[64], timer[48];
};

static void ss_cells(const struct ss_row *row, uint64_t now, struct ss_cells *c)
{
    const struct berth_tcp_info *in = &row->info;
    bool listen = in->state == BERTH_STATE_LISTEN;
    uint64_t left = in->next_timer > now ? in->next_timer - now : 0;
    snprintf(c->recvq, sizeof c->recvq, "%u",
             listen ? in->accept_queue : in->rcv_queued);
    snprintf(c->sendq, sizeof c->sendq, "%u",
             listen ? in->accept_backlog : in->snd_queued);
    endpoint_str(c->local, sizeof c->local, in->local, false);
    endpoint_str(c->peer, sizeof c->peer, in->remote, listen);
    timer_str(c->timer, sizeof c->timer, timer_kind(row->s, row->sock, in),
              left);
}

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

static void print_table(const struct ss_rows *rows, bool info, uint64_t now,
                        FILE *out)
{
    int w[5] = {(int)strlen("State"), (int)strlen("Recv-Q"),
                (int)strlen("Send-Q"), (int)strlen("Local Address:Port"),
                (int)strlen("Peer Address:Port")};
    for (size_t i = 0; i < rows->len; i++) {
        struct ss_cells c;
        ss_cells(&rows->v[i], now, &c);
        w[0] =
            max_int(w[0], (int)strlen(berth_state_name(rows->v[i].info.state)));
        w[1] = max_int(w[1], (int)strlen(c.recvq));
        w[2] = max_int(w[2], (int)strlen(c.sendq));
        w[3] = max_int(w[3], (int)strlen(c.local));
        w[4] = max_int(w[4], (int)strlen(c.peer));
    }
    fprintf(out, "%-*s %*s %*s %-*s %-*s %s\n", w[0], "State", w[1], "Recv-Q",
            w[2], "Send-Q", w[3], "Local Address:Port", w[4],
            "Peer Address:Port", "Timer");
    for (size_t i = 0; i < rows->len; i++) {
        struct ss_cells c;
        ss_cells(&rows->v[i], now, &c);
        /* No trailing blanks without a timer. */
        fprintf(out, "%-*s %*s %*s %-*s %-*s%s%s\n", w[0],
                berth_state_name(rows->v[i].info.state), w[1], c.recvq, w[2],
                c.sendq, w[3], c.local, c.timer[0] ? w[4] : 0, c.peer,
                c.timer[0] ? " " : "", c.timer);
        if (info)
            print_info_line(&rows->v[i].info, out);
    }
}

/* One JSON object per entry, every field of berth_tcp_info by its name. */
static void print_json(const struct ss_rows *rows, uint64_t now, FILE *out)
{
    fprintf(out, "[");
    for (size_t i = 0; i < rows->len; i++) {
        const struct berth_tcp_info *in = &rows->v[i].info;
        const char *kind = timer_kind(rows->v[i].s, rows->v[i].sock, in);
        char local[64], peer[64];
        endpoint_str(local, sizeof local, in->local, false);
        endpoint_str(peer, sizeof peer, in->remote,
                     in->state == BERTH_STATE_LISTEN);
        fprintf(out,
                "%s\n  {\"state\": \"%s\", \"local\": \"%s\", \"peer\": "
                "\"%s\", \"recv_q\": %u, \"send_q\": %u, ",
                i ? "," : "", berth_state_name(in->state), local, peer,
                in->state == BERTH_STATE_LISTEN ? in->accept_queue
                                                : in->rcv_queued,
                in->state == BERTH_STATE_LISTEN ? in->accept_backlog
                                                : in->snd_queued);
        if (kind)
            fprintf(out,
                    "\"timer\": {\"kind\": \"%s\", \"left_us\": %" PRIu64 "}, ",
                    kind, in->next_timer > now ? in->next_timer - now : 0);
        else
            fprintf(out, "\"timer\": null, ");
        char th[12] = "null"; /* ssthresh: null before a loss */
        if (in->ssthresh != UINT32_MAX)
            snprintf(th, sizeof th, "%u", in->ssthresh);
        fprintf(out,
                "\"congestion\": \"%s\", \"timestamps\": %s, \"sack\": %s, "
                "\"snd_wscale\": %u, \"rcv_wscale\": %u, \"mss\": %u, "
                "\"rto_us\": %u, \"srtt_us\": %u, \"rttvar_us\": %u, "
                "\"cwnd\": %u, \"ssthresh\": %s, \"snd_wnd\": %u, "
                "\"rcv_wnd\": %u, \"unacked\": %u, \"retransmits\": %u, "
                "\"total_retrans\": %u, \"iss\": %u, \"irs\": %u, "
                "\"snd_una\": %u, \"snd_nxt\": %u, \"rcv_nxt\": %u, "
                "\"syn_queue\": %u, \"accept_queue\": %u, "
                "\"accept_backlog\": %u}",
                in->congestion == BERTH_CC_NEWRENO ? "newreno" : "cubic",
                in->timestamps ? "true" : "false", in->sack ? "true" : "false",
                in->snd_wscale, in->rcv_wscale, in->snd_mss, in->rto, in->srtt,
                in->rttvar, in->cwnd, th, in->snd_wnd, in->rcv_wnd, in->unacked,
                in->retransmits, in->total_retrans, in->iss, in->irs,
                in->snd_una, in->snd_nxt, in->rcv_nxt, in->syn_queue,
                in->accept_queue, in->accept_backlog);
    }
    fprintf(out, "%s]\n", rows->len ? "\n" : "");
}

void berth_rt_print_ss_filtered(struct berth_stack *s,
                                const struct berth_rt_ss_query *q, uint64_t now,
                                FILE *out)
{
    berth_rt_print_ss_stacks(&s, 1, q, now, out);
}

/* The shards' copies of one listener (the same local address and port,
 * adjacent once sorted) are one row, as the application made one: their
 * accept and SYN queues added up, the backlog each copy has. */
static void merge_listeners(struct ss_rows *rows)
{
    size_t out = 0;
    for (size_t i = 0; i < rows->len; i++) {
        struct berth_tcp_info *in = &rows->v[i].info;
        struct berth_tcp_info *last = out ? &rows->v[out - 1].info : NULL;
        if (last && in->state == BERTH_STATE_LISTEN &&
            last->state == BERTH_STATE_LISTEN &&
            in->local.addr == last->local.addr &&
            in->local.port == last->local.port) {
            last->accept_queue += in->accept_queue;
            last->syn_queue += in->syn_queue;
            continue;
        }
        rows->v[out++] = rows->v[i];
    }
    rows->len = out;
}

/* Every shard's entries in one table, sorted together; a listener present
 * on every shard (as SO_REUSEPORT's are) is one row. */
void berth_rt_print_ss_stacks(struct berth_stack *const *s, unsigned n,
                              const struct berth_rt_ss_query *q, uint64_t now,
                              FILE *out)
{
    struct ss_rows rows = {0};
    for (unsigned k = 0; k < n; k++) {
        rows.cur = s[k];
        berth_foreach(s[k], collect, &rows);
    }
    size_t kept = 0;
    for (size_t i = 0; i < rows.len; i++)
        if (ss_match(q, &rows.v[i].info))
            rows.v[kept++] = rows.v[i];
    rows.len = kept;
    if (rows.len)
        qsort(rows.v, rows.len, sizeof rows.v[0], row_cmp);
    if (n > 1)
        merge_listeners(&rows);
    if (q->json)
        print_json(&rows, now, out);
    else
        print_table(&rows, q->info, now, out);
    if (rows.oom)
        fprintf(out, "%s(out of memory: table incomplete)\n",
                q->json ? "error: " : "");
    free(rows.v);
}

void berth_rt_print_ss(struct berth_stack *s, bool info, uint64_t now,
                       FILE *out)
{
    struct berth_rt_ss_query q = {.info = info, .sport = -1, .dport = -1};
    berth_rt_print_ss_filtered(s, &q, now, out);
}

void berth_rt_print_stat(struct berth_stack *s, FILE *out)
{
    berth_rt_print_stat_stacks(&s, 1, out);
}

static uint64_t counter_sum(struct berth_stack *const *s, unsigned n, int c)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v += berth_counter(s[k], c);
    return v;
}

static uint64_t drops_sum(struct berth_stack *const *s, unsigned n, int r)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v += berth_drop_count(s[k], r);
    return v;
}

/* The shards' memory added up (each has its own budget: the limits and
 * thresholds add too); the level is the highest any shard is at. */
static void mem_sum(struct berth_stack *const *s, unsigned n,
                    struct berth_mem_state *m)
{
    berth_mem_state(s[0], m);
    for (unsigned k = 1; k < n; k++) {
        struct berth_mem_state o;
        berth_mem_state(s[k], &o);
        m->used += o.used;
        m->cached += o.cached;
        m->limit += o.limit;
        m->pressure += o.pressure;
        m->low += o.low;
        if (o.level > m->level)
            m->level = o.level;
    }
}

void berth_rt_print_stat_stacks(struct berth_stack *const *s, unsigned ns,
                                FILE *out)
{
    fprintf(out, "Tcp:\n");
    for (int c = 0; c < BERTH_CTR__COUNT; c++)
        fprintf(out, "    %" PRIu64 " %s\n", counter_sum(s, ns, c),
                berth_counter_string(c));
    fprintf(out, "Drops by reason:\n");
    int shown = 0;
    for (int r = 1; r < BERTH_REASON__COUNT; r++) {
        uint64_t n = drops_sum(s, ns, r);
        if (n) {
            fprintf(out, "    %" PRIu64 " %s (%s)\n", n, berth_reason_name(r),
                    berth_reason_string(r));
            shown++;
        }
    }
    if (!shown)
        fprintf(out, "    none\n");
    struct berth_mem_state m;
    mem_sum(s, ns, &m);
    fprintf(out, "Memory:\n");
    fprintf(out, "    %zu bytes in use (TCBs, entries, buffers, cache)\n",
            m.used);
    fprintf(out, "    %zu bytes of idle buffers cached\n", m.cached);
    fprintf(out, "    %zu bytes memory limit (0: unlimited)\n", m.limit);
    fprintf(out, "    %zu bytes pressure threshold, %zu bytes low threshold\n",
            m.pressure, m.low);
    fprintf(out, "    level: %s\n", berth_mem_level_name(m.level));
}

void berth_rt_print_stat_json(struct berth_stack *s, FILE *out)
{
    berth_rt_print_stat_json_stacks(&s, 1, out);
}

void berth_rt_print_stat_json_stacks(struct berth_stack *const *s, unsigned ns,
                                     FILE *out)
{
    fprintf(out, "{\n  \"tcp\": {");
    for (int c = 0; c < BERTH_CTR__COUNT; c++)
        fprintf(out, "%s\n    \"%s\": %" PRIu64, c ? "," : "",
                berth_counter_name(c), counter_sum(s, ns, c));
    fprintf(out, "\n  },\n  \"drops\": {");
    int shown = 0;
    for (int r = 1; r < BERTH_REASON__COUNT; r++) {
        uint64_t n = drops_sum(s, ns, r);
        if (n)
            fprintf(out, "%s\n    \"%s\": %" PRIu64, shown++ ? "," : "",
                    berth_reason_name(r), n);
    }
    fprintf(out, "%s}", shown ? "\n  " : "");
}
