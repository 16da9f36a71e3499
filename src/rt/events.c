/* The event log's JSON writer (docs/events.md): the hook that turns the
 * core's typed events into one JSON object per line, numbering connections
 * by 4-tuple (a number lives from a tuple's first event until it returns to
 * CLOSED) and scaling windows by what the SYNs agreed. */
#include "berth/rt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the writer keeps per live 4-tuple. */
struct ev_conn {
    struct ev_conn *next; /* hash chain */
    struct berth_endpoint local, remote; /* either family */
    uint32_t id;
    bool has_state;   /* a state event: a connection, not a stray segment */
    bool doomed;      /* a stray answered or dropped: forget after this call */
    int8_t ws_local;  /* window scale our SYN offered; -1 none, -2 unseen */
    int8_t ws_remote; /* ... the peer's SYN */
};

#define EV_MAX_DOOMED 256

struct berth_events {
    FILE *f;
    bool own; /* fclose at the end */
    int err;  /* first write error (errno), 0 if none */
    uint64_t origin;
    uint32_t next_id;
    struct ev_conn **bucket;
    size_t nbuckets, count;
    /* Strays (no state event) to forget once the core call that answered
     * or dropped them is over: the next event with a later time. */
    struct ev_conn *doomed[EV_MAX_DOOMED];
    size_t ndoomed;
    uint64_t doomed_at;
};

/* An address folded to 32 bits (IPv4 as it is), for the hash only. */
static uint32_t fold(const struct berth_endpoint *ep)
{
    uint32_t h = ep->addr ^ ep->family;
    for (int i = 0; i < 16; i += 4)
        h ^= (uint32_t)ep->addr6[i] << 24 | (uint32_t)ep->addr6[i + 1] << 16 |
             (uint32_t)ep->addr6[i + 2] << 8 | ep->addr6[i + 3];
    return h;
}

static bool same_endpoint(const struct berth_endpoint *a,
                          const struct berth_endpoint *b)
{
    return a->family == b->family && a->port == b->port &&
           a->addr == b->addr && memcmp(a->addr6, b->addr6, 16) == 0;
}

static size_t tuple_hash(const struct berth_events *w,
                         const struct berth_endpoint *l,
                         const struct berth_endpoint *r)
{
    uint64_t h = ((uint64_t)fold(l) * 0x9e3779b97f4a7c15ull) ^ fold(r);
    h = (h ^ ((uint64_t)l->port << 16 | r->port)) * 0xbf58476d1ce4e5b9ull;
    return (size_t)(h ^ (h >> 31)) & (w->nbuckets - 1);
}

static struct ev_conn **find_slot(struct berth_events *w,
                                  const struct berth_log_event *ev)
{
    struct ev_conn **p = &w->bucket[tuple_hash(w, &ev->local, &ev->remote)];
    for (; *p; p = &(*p)->next)
        if (same_endpoint(&(*p)->local, &ev->local) &&
            same_endpoint(&(*p)->remote, &ev->remote))
            return p;
    return p;
}

static void unlink_conn(struct berth_events *w, struct ev_conn *c)
{
    struct berth_log_event key = {.local = c->local, .remote = c->remote};
    struct ev_conn **p = find_slot(w, &key);
    if (*p == c) {
        *p = c->next;
        w->count--;
        free(c);
    }
}

static void grow(struct berth_events *w)
{
    size_t n = w->nbuckets * 2;
    struct ev_conn **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    struct ev_conn **old = w->bucket;
    size_t oldn = w->nbuckets;
    w->bucket = b;
    w->nbuckets = n;
    for (size_t i = 0; i < oldn; i++)
        for (struct ev_conn *c = old[i], *next; c; c = next) {
            next = c->next;
            size_t h = tuple_hash(w, &c->local, &c->remote);
            c->next = b[h];
            b[h] = c;
        }
    free(old);
}

/* Strays never answered nor dropped (SYN cookies whose ACK never came)
 * would pile up: past this many tuples, every stray is forgotten. */
#define EV_MAX_CONNS (1u << 16)

static void forget_strays(struct berth_events *w)
{
    w->ndoomed = 0;
    for (size_t i = 0; i < w->nbuckets; i++) {
        struct ev_conn **p = &w->bucket[i];
        while (*p) {
            struct ev_conn *c = *p;
            if (!c->has_state) {
                *p = c->next;
                w->count--;
                free(c);
            } else {
                p = &c->next;
            }
        }
    }
}

/* A JSON string: the name tables hold plain text, but a description may
 * one day hold a quote. */
static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* "198.18.0.2:80", "[2001:db8:b::2]:80". */
static void put_endpoint(FILE *f, struct berth_endpoint ep)
{
    char buf[BERTH_ADDRSTRLEN + 8];
    fprintf(f, "\"%s\"", berth_endpoint_string(&ep, buf, sizeof buf));
}

/* The connection of an event: found, or begun (with its tcp:conn line). */
static struct ev_conn *conn_of(struct berth_events *w,
                               const struct berth_log_event *ev)
{
    if (ev->local.port == 0 || ev->remote.port == 0)
        return NULL;
    struct ev_conn **p = find_slot(w, ev);
    if (*p)
        return *p;
    if (w->count >= EV_MAX_CONNS) {
        forget_strays(w);
        p = find_slot(w, ev);
    }
    struct ev_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (struct ev_conn){.local = ev->local,
                          .remote = ev->remote,
                          .id = ++w->next_id,
                          .ws_local = -2,
                          .ws_remote = -2};
    *p = c;
    if (++w->count > w->nbuckets * 2)
        grow(w);
    fprintf(w->f,
            "{\"time\":%" PRIu64 ",\"name\":\"tcp:conn\",\"conn\":%" PRIu32
            ",\"data\":{\"local\":",
            ev->now - w->origin, c->id);
    put_endpoint(w->f, ev->local);
    fputs(",\"remote\":", w->f);
    put_endpoint(w->f, ev->remote);
    fprintf(w->f, ",\"sock\":%d}}\n", ev->sock);
    return c;
}

static void doom(struct berth_events *w, struct ev_conn *c, uint64_t now)
{
    if (!c || c->has_state || c->doomed)
        return;
    if (w->ndoomed == EV_MAX_DOOMED) {
        forget_strays(w);
        return;
    }
    c->doomed = true;
    w->doomed[w->ndoomed++] = c;
    w->doomed_at = now;
}

static void put_segment(struct berth_events *w, struct ev_conn *c, bool out,
                        const struct berth_segment *g)
{
    FILE *f = w->f;
    char flags[40];
    berth_flags_string(g->flags, flags, sizeof flags);
    fprintf(f,
            "{\"flags\":\"%s\",\"seq\":%" PRIu32 ",\"ack\":%" PRIu32
            ",\"len\":%" PRIu32 ",\"win\":%u",
            flags, g->seq, g->ack, g->len, g->win);
    if (c && (g->flags & BERTH_TH_SYN)) {
        if (out)
            c->ws_local = (int8_t)(g->wscale > 14 ? 14 : g->wscale);
        else
            c->ws_remote = (int8_t)(g->wscale > 14 ? 14 : g->wscale);
    }
    /* RFC 7323 §2.2-2.3: scaled only when both SYNs offered it, and never
     * in a SYN. */
    if (g->flags & BERTH_TH_SYN) {
        fprintf(f, ",\"wnd\":%u", g->win);
    } else if (c && c->ws_local != -2 && c->ws_remote != -2) {
        int shift = c->ws_local >= 0 && c->ws_remote >= 0
                        ? (out ? c->ws_local : c->ws_remote)
                        : 0;
        fprintf(f, ",\"wnd\":%" PRIu32, (uint32_t)g->win << shift);
    }
    bool any =
        g->mss || g->wscale >= 0 || g->sack_ok || g->has_ts || g->sack_count;
    if (any) {
        const char *sep = "";
        fputs(",\"opts\":{", f);
        if (g->mss) {
            fprintf(f, "\"mss\":%u", g->mss);
            sep = ",";
        }
        if (g->wscale >= 0) {
            fprintf(f, "%s\"wscale\":%d", sep, g->wscale);
            sep = ",";
        }
        if (g->sack_ok) {
            fprintf(f, "%s\"sack_ok\":true", sep);
            sep = ",";
        }
        if (g->has_ts) {
            fprintf(f, "%s\"ts\":[%" PRIu32 ",%" PRIu32 "]", sep, g->ts_val,
                    g->ts_ecr);
            sep = ",";
        }
        if (g->sack_count) {
            fprintf(f, "%s\"sack\":[", sep);
            for (unsigned i = 0; i < g->sack_count && i < 4; i++)
                fprintf(f, "%s[%" PRIu32 ",%" PRIu32 "]", i ? "," : "",
                        g->sack[i].start, g->sack[i].end);
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputc('}', f);
}

static void put_data(struct berth_events *w, struct ev_conn *c,
                     const struct berth_log_event *ev)
{
    FILE *f = w->f;
    switch (ev->kind) {
    case BERTH_LOG_STATE:
        fprintf(f, "{\"from\":\"%s\",\"to\":\"%s\",\"cause\":\"%s\"}",
                berth_state_name(ev->u.state.from),
                berth_state_name(ev->u.state.to),
                berth_reason_name(ev->u.state.cause));
        break;
    case BERTH_LOG_DROP:
        fprintf(f,
                "{\"reason\":\"%s\",\"text\":", berth_reason_name(ev->u.drop));
        put_string(f, berth_reason_string(ev->u.drop));
        fputc('}', f);
        break;
    case BERTH_LOG_SEG_IN:
    case BERTH_LOG_SEG_OUT:
        put_segment(w, c, ev->kind == BERTH_LOG_SEG_OUT, ev->seg);
        break;
    case BERTH_LOG_RTT:
        fprintf(f,
                "{\"sample\":%" PRIu32 ",\"srtt\":%" PRIu32
                ",\"rttvar\":%" PRIu32 ",\"rto\":%" PRIu32 "}",
                ev->u.rtt.sample, ev->u.rtt.srtt, ev->u.rtt.rttvar,
                ev->u.rtt.rto);
        break;
    case BERTH_LOG_CC:
        fprintf(f, "{\"cwnd\":%" PRIu32 ",\"ssthresh\":", ev->u.cc.cwnd);
        if (ev->u.cc.ssthresh == UINT32_MAX)
            fputs("null", f);
        else
            fprintf(f, "%" PRIu32, ev->u.cc.ssthresh);
        fprintf(f,
                ",\"pipe\":%" PRIu32 ",\"inflight\":%" PRIu32
                ",\"cause\":\"%s\"}",
                ev->u.cc.pipe, ev->u.cc.inflight,
                berth_cc_cause_name(ev->u.cc.cause));
        break;
    case BERTH_LOG_RECOVERY:
        fprintf(f, "{\"event\":\"%s\",\"kind\":\"%s\",\"recover\":%" PRIu32 "}",
                ev->u.recovery.event > 0    ? "enter"
                : ev->u.recovery.event == 0 ? "exit"
                                            : "undo",
                ev->u.recovery.rto ? "rto" : "fast", ev->u.recovery.recover);
        break;
    case BERTH_LOG_SACK:
        fprintf(f,
                "{\"blocks\":%" PRIu32 ",\"sacked\":%" PRIu32 ",\"ranges\":[",
                ev->u.sack.blocks, ev->u.sack.sacked);
        for (unsigned i = 0; i < ev->u.sack.count && i < 4; i++)
            fprintf(f, "%s[%" PRIu32 ",%" PRIu32 "]", i ? "," : "",
                    ev->u.sack.range[i].start, ev->u.sack.range[i].end);
        fputs("]}", f);
        break;
    case BERTH_LOG_TIMER: {
        static const char *const act[] = {"set", "cancel", "fire"};
        fprintf(f, "{\"timer\":\"%s\",\"action\":\"%s\"",
                berth_timer_name(ev->u.timer.timer),
                act[ev->u.timer.action <= BERTH_TIMER_FIRE ? ev->u.timer.action
                                                           : BERTH_TIMER_FIRE]);
        if (ev->u.timer.action == BERTH_TIMER_SET)
            fprintf(f, ",\"at\":%" PRIu64,
                    ev->u.timer.at > w->origin ? ev->u.timer.at - w->origin
                                               : 0);
        fputc('}', f);
        break;
    }
    case BERTH_LOG_APP:
        fprintf(f, "{\"call\":\"%s\"", berth_app_call_name(ev->u.app.call));
        if (ev->u.app.call == BERTH_APP_SEND ||
            ev->u.app.call == BERTH_APP_RECV)
            fprintf(f, ",\"len\":%" PRIu64, ev->u.app.len);
        fprintf(f, ",\"result\":%d", ev->u.app.result);
        if (ev->u.app.result < 0 && berth_errname(ev->u.app.result))
            fprintf(f, ",\"error\":\"%s\"", berth_errname(ev->u.app.result));
        fputc('}', f);
        break;
    }
}

static const char *event_name(enum berth_log_kind k)
{
    switch (k) {
    case BERTH_LOG_STATE:
        return "tcp:state";
    case BERTH_LOG_DROP:
        return "tcp:drop";
    case BERTH_LOG_SEG_IN:
        return "tcp:segment_received";
    case BERTH_LOG_SEG_OUT:
        return "tcp:segment_sent";
    case BERTH_LOG_RTT:
        return "tcp:rtt";
    case BERTH_LOG_CC:
        return "tcp:cc";
    case BERTH_LOG_RECOVERY:
        return "tcp:recovery";
    case BERTH_LOG_SACK:
        return "tcp:sack";
    case BERTH_LOG_TIMER:
        return "tcp:timer";
    case BERTH_LOG_APP:
        break;
    }
    return "tcp:app";
}

void berth_events_hook(void *ctx, const struct berth_log_event *ev)
{
    struct berth_events *w = ctx;
    if (w->ndoomed && ev->now > w->doomed_at) {
        for (size_t i = 0; i < w->ndoomed; i++)
            unlink_conn(w, w->doomed[i]);
        w->ndoomed = 0;
    }
    uint64_t t = ev->now > w->origin ? ev->now - w->origin : 0;
    /* A listener's call names no connection. */
    struct ev_conn *c = ev->kind == BERTH_LOG_APP && ev->remote.port == 0
                            ? NULL
                            : conn_of(w, ev);
    fprintf(w->f, "{\"time\":%" PRIu64 ",\"name\":\"%s\"", t,
            event_name(ev->kind));
    if (c)
        fprintf(w->f, ",\"conn\":%" PRIu32, c->id);
    fputs(",\"data\":", w->f);
    put_data(w, c, ev);
    fputs("}\n", w->f);
    if (ferror(w->f) && !w->err)
        w->err = EIO;
    if (!c)
        return;
    if (ev->kind == BERTH_LOG_STATE) {
        c->has_state = true;
        for (size_t i = 0; c->doomed && i < w->ndoomed; i++)
            if (w->doomed[i] == c) {
                w->doomed[i] = w->doomed[--w->ndoomed];
                c->doomed = false;
            }
        if (ev->u.state.to == BERTH_STATE_CLOSED)
            unlink_conn(w, c); /* the next one with this tuple is new */
    } else if (ev->kind == BERTH_LOG_DROP ||
               (ev->kind == BERTH_LOG_SEG_OUT &&
                (ev->seg->flags & BERTH_TH_RST))) {
        doom(w, c, ev->now);
    }
}

static struct berth_events *writer_new(FILE *f, bool own, uint64_t origin)
{
    struct berth_events *w = calloc(1, sizeof *w);
    if (w)
        w->bucket = calloc(64, sizeof *w->bucket);
    if (!w || !w->bucket) {
        free(w);
        return NULL;
    }
    w->nbuckets = 64;
    w->f = f;
    w->own = own;
    w->origin = origin;
    fprintf(f,
            "{\"schema\":\"berth-events/1\",\"time_unit\":\"us\","
            "\"tool\":\"berth %s\",\"commit\":\"%s\"}\n",
            berth_version(), berth_commit());
    return w;
}

struct berth_events *berth_events_stream(FILE *f, uint64_t origin)
{
    return writer_new(f, false, origin);
}

struct berth_events *berth_events_open(const char *path, uint64_t origin,
                                       char *err, size_t errlen)
{
    int fd = berth_rt_create_file(path, false, err, errlen);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "cannot open event log %s: %s", path,
                 strerror(errno));
        close(fd);
        return NULL;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    struct berth_events *w = writer_new(f, true, origin);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        fclose(f);
    }
    return w;
}

int berth_events_flush(struct berth_events *w)
{
    if (fflush(w->f) != 0 && !w->err)
        w->err = errno ? errno : EIO;
    return w->err ? -w->err : 0;
}

int berth_events_close(struct berth_events *w)
{
    if (!w)
        return 0;
    int r = berth_events_flush(w);
    if (w->own && fclose(w->f) != 0 && r == 0)
        r = -(errno ? errno : EIO);
    for (size_t i = 0; i < w->nbuckets; i++)
        for (struct ev_conn *c = w->bucket[i], *next; c; c = next) {
            next = c->next;
            free(c);
        }
    free(w->bucket);
    free(w);
    return r;
}
