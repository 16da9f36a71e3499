/* What `berth ss` and `berth stat` print: a table of every entry the stack
 * holds in the shape of `ss -tan` (with `ss -ti`'s second line on request)
 * and the counters in the shape of `netstat -s`. Public API only, so the
 * same text serves the control socket and an in-process stack. */
#include "rt_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct ss_row {
    int sock;
    struct berth_tcp_info info;
};

struct ss_rows {
    struct ss_row *v;
    size_t len, cap;
    bool oom;
};

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
    r->v[r->len++] = (struct ss_row){sock, *info};
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
    if (x->remote.addr != y->remote.addr)
        return x->remote.addr < y->remote.addr ? -1 : 1;
    if (x->remote.port != y->remote.port)
        return x->remote.port < y->remote.port ? -1 : 1;
    return 0;
}

static char *endpoint_str(char *buf, size_t size, struct berth_endpoint ep,
                          bool wildcard_port)
{
    uint32_t a = ep.addr;
    if (wildcard_port)
        snprintf(buf, size, "%u.%u.%u.%u:*", a >> 24, (a >> 16) & 255,
                 (a >> 8) & 255, a & 255);
    else
        snprintf(buf, size, "%u.%u.%u.%u:%u", a >> 24, (a >> 16) & 255,
                 (a >> 8) & 255, a & 255, ep.port);
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

static void print_row(struct berth_stack *s, const struct ss_row *row,
                      bool info, uint64_t now, FILE *out)
{
    const struct berth_tcp_info *in = &row->info;
    bool listen = in->state == BERTH_STATE_LISTEN;
    char local[32], peer[32], timer[48];
    uint64_t left = in->next_timer > now ? in->next_timer - now : 0;
    timer_str(timer, sizeof timer, timer_kind(s, row->sock, in), left);
    fprintf(out, "%-12s %6u %6u %-21s %-*s%s\n", berth_state_name(in->state),
            listen ? in->accept_queue : in->rcv_queued,
            listen ? in->accept_backlog : in->snd_queued,
            endpoint_str(local, sizeof local, in->local, false),
            timer[0] ? 22 : 0, /* no trailing blanks without a timer */
            endpoint_str(peer, sizeof peer, in->remote, listen), timer);
    if (info)
        print_info_line(in, out);
}

void berth_rt_print_ss(struct berth_stack *s, bool info, uint64_t now,
                       FILE *out)
{
    struct ss_rows rows = {0};
    berth_foreach(s, collect, &rows);
    if (rows.len)
        qsort(rows.v, rows.len, sizeof rows.v[0], row_cmp);
    fprintf(out, "%-12s %6s %6s %-21s %-21s %s\n", "State", "Recv-Q", "Send-Q",
            "Local Address:Port", "Peer Address:Port", "Timer");
    for (size_t i = 0; i < rows.len; i++)
        print_row(s, &rows.v[i], info, now, out);
    if (rows.oom)
        fprintf(out, "(out of memory: table incomplete)\n");
    free(rows.v);
}

void berth_rt_print_stat(struct berth_stack *s, FILE *out)
{
    fprintf(out, "Tcp:\n");
    for (int c = 0; c < BERTH_CTR__COUNT; c++)
        fprintf(out, "    %" PRIu64 " %s\n", berth_counter(s, c),
                berth_counter_string(c));
    fprintf(out, "Drops by reason:\n");
    int shown = 0;
    for (int r = 1; r < BERTH_REASON__COUNT; r++) {
        uint64_t n = berth_drop_count(s, r);
        if (n) {
            fprintf(out, "    %" PRIu64 " %s (%s)\n", n, berth_reason_name(r),
                    berth_reason_string(r));
            shown++;
        }
    }
    if (!shown)
        fprintf(out, "    none\n");
    struct berth_mem_state m;
    berth_mem_state(s, &m);
    fprintf(out, "Memory:\n");
    fprintf(out, "    %zu bytes in use (TCBs, entries, buffers, cache)\n",
            m.used);
    fprintf(out, "    %zu bytes of idle buffers cached\n", m.cached);
    fprintf(out, "    %zu bytes memory limit (0: unlimited)\n", m.limit);
    fprintf(out, "    %zu bytes pressure threshold, %zu bytes low threshold\n",
            m.pressure, m.low);
    fprintf(out, "    level: %s\n", berth_mem_level_name(m.level));
}
