/* Script parser: reads a whole .pkt file into a struct scn_script, so that a
 * syntax error is reported before anything runs. The language is described
 * in tests/scenarios/README.md. */
#include "scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE   (4u * 1024u * 1024u)
#define MAX_LINE   4096u
#define MAX_TOKENS 256
#define MAX_EVENTS 1000000u
#define MAX_RAW    65535u

struct line {
    const char *file;
    int no;
    int ntok;
    char *tok[MAX_TOKENS];
};

/* Prints "file:line: message". perr() is that and -1 in one expression, so
 * the compiler sees that every error path returns nonzero (gcc 12 at -O2 did
 * not see it through the variadic function, and warned "maybe-uninitialized"
 * about the outputs of the parsers that return perr()). */
static void perr_print(const struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define perr(...) (perr_print(__VA_ARGS__), -1)

static void perr_print(const struct line *l, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", l->file, l->no);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Cuts the comment and splits on blanks, in place. */
static int tokenize(char *text, struct line *l)
{
    char *hash = strchr(text, '#');
    if (hash)
        *hash = '\0';
    l->ntok = 0;
    char *save = NULL;
    for (char *t = strtok_r(text, " \t\r", &save); t;
         t = strtok_r(NULL, " \t\r", &save)) {
        if (l->ntok == MAX_TOKENS)
            return perr(l, "too many tokens");
        l->tok[l->ntok++] = t;
    }
    return 0;
}

/* ---- values ---------------------------------------------------------- */

static int want_u32(const struct line *l, const char *what, const char *s,
                    uint64_t max, uint32_t *out)
{
    uint64_t v;
    if (scn_parse_u64(s, &v) != 0 || v > max)
        return perr(l, "bad %s '%s'", what, s);
    *out = (uint32_t)v;
    return 0;
}

static int want_port(const struct line *l, const char *s, uint16_t *out)
{
    uint32_t v;
    if (want_u32(l, "port", s, 65535, &v) != 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int want_addr(const struct line *l, const char *s, uint32_t *out)
{
    if (scn_parse_addr(s, out) != 0)
        return perr(l, "bad IPv4 address '%s'", s);
    return 0;
}

/* A result: a number, or an errno name ("EAGAIN"). */
static int want_result(const struct line *l, const char *s, int64_t *out)
{
    int e = scn_errno_lookup(s);
    if (e <= 0) {
        *out = e;
        return 0;
    }
    if (scn_parse_i64(s, out) != 0)
        return perr(l, "bad result '%s' (a number or an errno name)", s);
    return 0;
}

/* ---- directives ------------------------------------------------------ */

static int directive_config(const struct line *l, struct scn_script *sc)
{
    if (l->ntok != 3)
        return perr(l, "usage: config FIELD VALUE");
    const struct scn_field *f = scn_config_field(l->tok[1]);
    if (!f)
        return perr(l, "unknown config field '%s'", l->tok[1]);
    uint64_t v;
    uint32_t a;
    if (f->kind == SCN_F_ADDR) {
        if (want_addr(l, l->tok[2], &a) != 0)
            return -1;
        v = a;
    } else if (f->kind == SCN_F_CC && scn_cc_lookup(l->tok[2]) >= 0) {
        v = (uint64_t)scn_cc_lookup(l->tok[2]);
    } else if (f->kind == SCN_F_BOOL) {
        const char *b = l->tok[2];
        v = strcmp(b, "1") == 0 || strcmp(b, "true") == 0 ? 1 : 0;
        if (!v && strcmp(b, "0") != 0 && strcmp(b, "false") != 0)
            return perr(l, "%s is 0 or 1 (false or true)", f->name);
    } else if (f->kind == SCN_F_TIME ? scn_parse_units(l->tok[2], &v) != 0
                                     : scn_parse_u64(l->tok[2], &v) != 0) {
        return perr(l, "bad value '%s' for %s", l->tok[2], f->name);
    }
    if (f->size < 8 && v >> (f->size * 8) != 0)
        return perr(l, "%s does not fit in %s", l->tok[2], f->name);
    scn_field_set(&sc->cfg, f, v);
    if (strcmp(f->name, "addr") == 0)
        sc->local_addr = (uint32_t)v;
    return 0;
}

static int directive(const struct line *l, struct scn_script *sc)
{
    const char *d = l->tok[0];
    if (strcmp(d, "config") == 0)
        return directive_config(l, sc);
    if (strcmp(d, "isn") == 0 && l->ntok == 2) {
        sc->has_isn = true;
        return want_u32(l, "isn", l->tok[1], UINT32_MAX, &sc->isn);
    }
    if ((strcmp(d, "peer_isn") == 0 || strcmp(d, "peer-isn") == 0) &&
        l->ntok == 2) {
        sc->has_peer_isn = true;
        return want_u32(l, "peer isn", l->tok[1], UINT32_MAX, &sc->peer_isn);
    }
    if (strcmp(d, "local") == 0 && (l->ntok == 2 || l->ntok == 3) &&
        scn_parse_addr6(l->tok[1], sc->local6) == 0) {
        memcpy(sc->cfg.addr6, sc->local6, 16); /* IPv6 on */
        sc->has_lport = l->ntok == 3;
        return sc->has_lport ? want_port(l, l->tok[2], &sc->local_port) : 0;
    }
    if (strcmp(d, "remote") == 0 && l->ntok == 3 &&
        scn_parse_addr6(l->tok[1], sc->remote6) == 0) {
        sc->v6 = true;
        return want_port(l, l->tok[2], &sc->remote_port);
    }
    if (strcmp(d, "local") == 0 && (l->ntok == 2 || l->ntok == 3)) {
        if (want_addr(l, l->tok[1], &sc->local_addr) != 0)
            return -1;
        sc->cfg.addr = sc->local_addr;
        sc->has_lport = l->ntok == 3;
        return sc->has_lport ? want_port(l, l->tok[2], &sc->local_port) : 0;
    }
    if (strcmp(d, "remote") == 0 && l->ntok == 3) {
        if (want_addr(l, l->tok[1], &sc->remote_addr) != 0)
            return -1;
        return want_port(l, l->tok[2], &sc->remote_port);
    }
    return perr(l, "unknown or malformed directive '%s'", d);
}

/* ---- segment lines --------------------------------------------------- */

static int parse_flags(const struct line *l, const char *s, uint8_t *flags)
{
    *flags = 0;
    if (strcmp(s, "none") == 0)
        return 0;
    for (const char *p = s; *p; p++) {
        uint8_t bit;
        switch (*p) {
        case 'S':
            bit = BERTH_TH_SYN;
            break;
        case 'F':
            bit = BERTH_TH_FIN;
            break;
        case 'R':
            bit = BERTH_TH_RST;
            break;
        case 'P':
            bit = BERTH_TH_PSH;
            break;
        case 'U':
            bit = BERTH_TH_URG;
            break;
        case 'E':
            bit = SCN_TH_ECE;
            break;
        case 'W':
            bit = SCN_TH_CWR;
            break;
        case '.':
            bit = BERTH_TH_ACK;
            break;
        default:
            return perr(l, "bad flags '%s' (letters S F R P U E W and .)", s);
        }
        if (*flags & bit)
            return perr(l, "flag repeated in '%s'", s);
        *flags |= bit;
    }
    return 0;
}

static int add_opt(const struct line *l, struct scn_seg *seg, uint8_t kind,
                   uint32_t a, uint32_t b)
{
    if (seg->nopts == SCN_MAX_OPTS)
        return perr(l, "too many options");
    seg->opts[seg->nopts++] = (struct scn_opt){kind, a, b};
    return 0;
}

/* "seq N", "ack N", "win N", "len N", "peer-isn N": 2 if k is one of them,
 * 0 if not, -1 on error. */
static int seg_number(const struct line *l, const char *k, const char *v,
                      struct scn_seg *seg, bool in)
{
    const struct {
        const char *name;
        uint32_t *val;
        bool *has;
        uint64_t max;
        bool in_only;
    } nums[] = {
        {"seq", &seg->seq, &seg->has_seq, UINT32_MAX, false},
        {"ack", &seg->ack, &seg->has_ack, UINT32_MAX, false},
        {"win", &seg->win, &seg->has_win, 65535, false},
        {"len", &seg->len, NULL, 65000, false},
        {"peer-isn", &seg->peer_isn, &seg->has_peer_isn, UINT32_MAX, true},
    };
    for (size_t n = 0; n < sizeof(nums) / sizeof(nums[0]); n++) {
        if (strcmp(k, nums[n].name) != 0)
            continue;
        if (nums[n].in_only && !in)
            return perr(l, "%s is for inbound lines only", k);
        if (want_u32(l, k, v, nums[n].max, nums[n].val) != 0)
            return -1;
        if (nums[n].has)
            *nums[n].has = true;
        return 2;
    }
    return 0;
}

/* "S:E", one SACK block; 0 on success. */
static int parse_block(const char *t, struct scn_sack *b)
{
    const char *colon = strchr(t, ':');
    char start[24];
    uint64_t x, y;
    if (!colon || (size_t)(colon - t) >= sizeof(start))
        return -1;
    memcpy(start, t, (size_t)(colon - t));
    start[colon - t] = '\0';
    if (scn_parse_u64(start, &x) != 0 || scn_parse_u64(colon + 1, &y) != 0 ||
        x > UINT32_MAX || y > UINT32_MAX)
        return -1;
    *b = (struct scn_sack){(uint32_t)x, (uint32_t)y};
    return 0;
}

/* "sack S:E [S:E...]": the blocks in order (RFC 2018 §3). */
static int seg_sack(const struct line *l, int i, struct scn_seg *seg)
{
    if (seg->nsack)
        return perr(l, "one sack option per line");
    int n = 0;
    while (i + 1 + n < l->ntok && strchr(l->tok[i + 1 + n], ':')) {
        if (n == SCN_MAX_SACK)
            return perr(l, "at most %d SACK blocks", SCN_MAX_SACK);
        if (parse_block(l->tok[i + 1 + n], &seg->sack[n]) != 0)
            return perr(l, "bad SACK block '%s' (START:END)",
                        l->tok[i + 1 + n]);
        n++;
    }
    if (n == 0)
        return perr(l, "usage: sack START:END [START:END...]");
    seg->nsack = (uint8_t)n;
    return add_opt(l, seg, SCN_OPT_SACK, (uint32_t)n, 0) ? -1 : 1 + n;
}

/* One "name value..." field of a segment line; returns tokens consumed. */
static int seg_field(const struct line *l, int i, struct scn_seg *seg, bool in)
{
    const char *k = l->tok[i];
    const char *v = i + 1 < l->ntok ? l->tok[i + 1] : NULL;
    const char *v2 = i + 2 < l->ntok ? l->tok[i + 2] : NULL;
    uint32_t x, y;
    if (strcmp(k, "sackok") == 0)
        return add_opt(l, seg, SCN_OPT_SACKOK, 0, 0) ? -1 : 1;
    if (strcmp(k, "sack") == 0)
        return seg_sack(l, i, seg);
    if (strcmp(k, "nop") == 0 || strcmp(k, "eol") == 0) {
        if (!in)
            return perr(l, "%s is for inbound lines only", k);
        return add_opt(l, seg, k[0] == 'n' ? SCN_OPT_NOP : SCN_OPT_EOL, 0, 0)
                   ? -1
                   : 1;
    }
    if (strcmp(k, "badsum") == 0) {
        if (!in)
            return perr(l, "badsum is for inbound lines only");
        seg->badsum = true;
        return 1;
    }
    if (strcmp(k, "ipv4") == 0) {
        seg->ipv4 = true;
        return 1;
    }
    if (!v)
        return perr(l, "'%s' needs a value", k);
    if (strcmp(k, "ts") == 0) {
        if (!v2 || want_u32(l, "TSval", v, UINT32_MAX, &x) ||
            want_u32(l, "TSecr", v2, UINT32_MAX, &y))
            return perr(l, "usage: ts VAL ECR");
        return add_opt(l, seg, SCN_OPT_TS, x, y) ? -1 : 3;
    }
    if (strcmp(k, "mss") == 0 || strcmp(k, "wscale") == 0) {
        bool mss = k[0] == 'm';
        if (want_u32(l, k, v, mss ? 65535 : 255, &x) != 0)
            return -1;
        return add_opt(l, seg, mss ? SCN_OPT_MSS : SCN_OPT_WSCALE, x, 0) ? -1
                                                                         : 2;
    }
    int used = seg_number(l, k, v, seg, in);
    if (used != 0)
        return used;
    if (strcmp(k, "port") == 0 || strcmp(k, "local-port") == 0) {
        bool local = k[0] == 'l';
        if (want_port(l, v, local ? &seg->lport : &seg->port) != 0)
            return -1;
        *(local ? &seg->has_lport : &seg->has_port) = true;
        return 2;
    }
    return perr(l, "unknown segment field '%s'", k);
}

static int parse_raw(const struct line *l, struct scn_event *ev)
{
    size_t digits = 0;
    for (int i = 3; i < l->ntok; i++)
        digits += strlen(l->tok[i]);
    if (digits == 0 || digits % 2 != 0 || digits / 2 > MAX_RAW)
        return perr(l, "raw needs an even number of hex digits");
    ev->raw = malloc(digits / 2);
    if (!ev->raw)
        return perr(l, "out of memory");
    ev->kind = SCN_RAW_IN;
    for (int i = 3; i < l->ntok; i++) {
        const char *t = l->tok[i];
        if (strlen(t) % 2 != 0)
            return perr(l, "odd hex token '%s'", t);
        for (; *t; t += 2) {
            unsigned byte;
            char pair[3] = {t[0], t[1], '\0'};
            char *end;
            byte = (unsigned)strtoul(pair, &end, 16);
            if (*end != '\0' || pair[0] == '+' || pair[0] == '-')
                return perr(l, "bad hex '%s'", pair);
            ev->raw[ev->raw_len++] = (uint8_t)byte;
        }
    }
    return 0;
}

static int parse_segment(const struct line *l, struct scn_event *ev)
{
    bool in = l->tok[1][0] == '<';
    if (l->ntok < 3)
        return perr(l, "a segment line needs flags");
    if (in && strcmp(l->tok[2], "raw") == 0)
        return parse_raw(l, ev);
    if (strcmp(l->tok[2], "icmp") == 0 || strcmp(l->tok[2], "udp") == 0)
        return scn_parse_dgram(l->file, l->no, l->ntok - 2, l->tok + 2, in, ev);
    ev->kind = in ? SCN_SEG_IN : SCN_SEG_OUT;
    struct scn_seg *seg = &ev->seg;
    if (parse_flags(l, l->tok[2], &seg->flags) != 0)
        return -1;
    for (int i = 3; i < l->ntok;) {
        int used = seg_field(l, i, seg, in);
        if (used < 0)
            return -1;
        i += used;
    }
    if (!seg->has_win)
        return perr(l, "a segment line must give win");
    if ((seg->flags & BERTH_TH_ACK) && !seg->has_ack)
        return perr(l, "the ACK flag is set: the line must give ack");
    if (in && !seg->has_seq)
        return perr(l, "an inbound segment must give seq");
    return 0;
}

/* ---- API lines ------------------------------------------------------- */

static int var_find(const struct scn_script *sc, const char *name)
{
    for (int i = 0; i < sc->nvars; i++) {
        if (strcmp(sc->vars[i], name) == 0)
            return i;
    }
    return -1;
}

/* A handle variable in use: it must have been bound by "-> name" before. */
static int use_var(const struct line *l, const struct scn_script *sc,
                   const char *name, int *out)
{
    *out = var_find(sc, name);
    if (*out < 0)
        return perr(l, "handle '%s' used before '-> %s'", name, name);
    return 0;
}

static int bind_var(const struct line *l, struct scn_script *sc,
                    const char *name, int *out)
{
    *out = var_find(sc, name);
    if (*out >= 0)
        return 0;
    if (sc->nvars == SCN_MAX_VARS || strlen(name) >= SCN_MAX_NAME)
        return perr(l, "too many handles, or name too long: '%s'", name);
    snprintf(sc->vars[sc->nvars], SCN_MAX_NAME, "%s", name);
    *out = sc->nvars++;
    return 0;
}

static const struct {
    const char *verb;
    enum scn_kind kind;
    int args; /* tokens after the verb, "= R" excluded */
    bool has_var;
} verbs[] = {
    {"socket", SCN_SOCKET, 0, false},
    {"bind", SCN_BIND, 3, true},
    {"listen", SCN_LISTEN, 2, true},
    {"accept", SCN_ACCEPT, 1, true},
    {"connect", SCN_CONNECT, 3, true},
    {"send", SCN_SEND, 2, true},
    {"recv", SCN_RECV, 2, true},
    {"shutdown", SCN_SHUTDOWN, 2, true},
    {"close", SCN_CLOSE, 1, true},
    {"abort", SCN_ABORT, 1, true},
    {"setopt", SCN_SETOPT, 3, true},
    {"poll", SCN_POLL, 2, true},
    {"error", SCN_ERROR, 2, true},
    {"state", SCN_STATE, 2, true},
    {"info", SCN_INFO, 3, true},
    {"counter", SCN_COUNTER, 2, false},
    {"drop", SCN_DROP, 2, false},
    {"events", SCN_EVENTS, 2, true},
    {"mem", SCN_MEM, 1, false},
    {"deadline", SCN_DEADLINE, 1, false},
    {"udp_socket", SCN_UDP_SOCKET, 0, false},
};

static int call_value(const struct line *l, struct scn_event *ev,
                      const char *a);
static int call_args(const struct line *l, struct scn_event *ev, const char *a,
                     const char *b);

/* Splits "verb args... [-> y] [= R]" and dispatches on the verb. */
static int parse_call(const struct line *l, struct scn_script *sc,
                      struct scn_event *ev)
{
    const char *verb = l->tok[1];
    size_t v = 0, nverbs = sizeof(verbs) / sizeof(verbs[0]);
    while (v < nverbs && strcmp(verbs[v].verb, verb) != 0)
        v++;
    if (v == nverbs)
        return perr(l, "unknown event '%s'", verb);
    int n = l->ntok - 2; /* tokens after the verb */
    struct scn_call *c = &ev->call;
    c->var = c->out_var = -1;
    ev->kind = verbs[v].kind;
    if (n >= 2 && strcmp(l->tok[l->ntok - 2], "=") == 0) {
        if (want_result(l, l->tok[l->ntok - 1], &c->expect) != 0)
            return -1;
        c->has_expect = true;
        n -= 2;
    } else if (n >= 2 && strcmp(l->tok[l->ntok - 2], "->") == 0) {
        if (bind_var(l, sc, l->tok[l->ntok - 1], &c->out_var) != 0)
            return -1;
        n -= 2;
    }
    if (n != verbs[v].args)
        return perr(l, "'%s' takes %d argument(s)", verb, verbs[v].args);
    bool wants_out = ev->kind == SCN_SOCKET || ev->kind == SCN_ACCEPT ||
                     ev->kind == SCN_UDP_SOCKET;
    if (wants_out && c->out_var < 0 && !c->has_expect)
        return perr(l, "'%s' needs '-> name' or '= ERROR'", verb);
    if (!wants_out && c->out_var >= 0)
        return perr(l, "'%s' does not return a handle", verb);
    const char *const *a = (const char *const *)&l->tok[2];
    if (verbs[v].has_var && use_var(l, sc, a[0], &c->var) != 0)
        return -1;
    int first = verbs[v].has_var ? 1 : 0;
    int left = n - first;
    if (left == 0)
        return 0;
    if (left == 1)
        return call_value(l, ev, a[first]);
    return call_args(l, ev, a[first], a[first + 1]);
}

static int parse_deadline(const struct line *l, struct scn_event *ev,
                          const char *a)
{
    struct scn_call *c = &ev->call;
    if (strcmp(a, "none") == 0) {
        c->when = SCN_NO_TIME;
        return 0;
    }
    uint64_t t;
    bool rel = a[0] == '+';
    const char *num = rel ? a + 1 : a;
    /* Bare numbers are seconds, like event times; "3s"/"40ms" also work. */
    if (scn_parse_seconds(num, &t) != 0 && scn_parse_units(num, &t) != 0)
        return perr(l, "usage: deadline none | SECONDS | +SECONDS | 40ms");
    c->when = rel ? ev->time + t : t;
    return 0;
}

/* Calls with one value after the handle. */
static int call_value(const struct line *l, struct scn_event *ev, const char *a)
{
    struct scn_call *c = &ev->call;
    uint32_t mask;
    switch (ev->kind) {
    case SCN_LISTEN:
    case SCN_SEND:
    case SCN_RECV:
        if (scn_parse_i64(a, &c->arg) != 0 || c->arg < 0 ||
            c->arg > (int64_t)SCN_MAX_IO)
            return perr(l, "bad count '%s'", a);
        return 0;
    case SCN_SHUTDOWN:
        c->arg = strcmp(a, "rd") == 0     ? BERTH_SHUT_RD
                 : strcmp(a, "wr") == 0   ? BERTH_SHUT_WR
                 : strcmp(a, "rdwr") == 0 ? BERTH_SHUT_RDWR
                                          : -1;
        return c->arg < 0 ? perr(l, "usage: shutdown x rd|wr|rdwr") : 0;
    case SCN_POLL:
    case SCN_EVENTS:
        if (scn_evmask_parse(a, &mask) != 0)
            return perr(l, "bad event mask '%s'", a);
        c->arg = mask;
        return 0;
    case SCN_ERROR:
        return want_result(l, a, &c->arg);
    case SCN_STATE:
        c->which = scn_state_lookup(a);
        c->arg = c->which < 0 ? scn_errno_lookup(a) : 0;
        return c->arg > 0 ? perr(l, "unknown state '%s'", a) : 0;
    case SCN_MEM:
        return strcmp(a, "baseline") == 0 ? 0 : perr(l, "usage: mem baseline");
    case SCN_DEADLINE:
        return parse_deadline(l, ev, a);
    default:
        return perr(l, "internal: no value parser");
    }
}

static int parse_info(const struct line *l, struct scn_event *ev, const char *a,
                      const char *b)
{
    struct scn_call *c = &ev->call;
    const struct scn_field *f = scn_info_field(a);
    if (!f)
        return perr(l, "unknown tcp_info field '%s'", a);
    c->field = f;
    uint64_t v;
    uint32_t addr;
    int st;
    switch (f->kind) {
    case SCN_F_STATE:
        st = scn_state_lookup(b);
        if (st < 0)
            return perr(l, "unknown state '%s'", b);
        v = (uint64_t)st;
        break;
    case SCN_F_ADDR:
        if (want_addr(l, b, &addr) != 0)
            return -1;
        v = addr;
        break;
    case SCN_F_TIME:
        if (scn_parse_units(b, &v) != 0)
            return perr(l, "bad time '%s'", b);
        break;
    default:
        if (scn_parse_u64(b, &v) != 0)
            return perr(l, "bad value '%s'", b);
        break;
    }
    c->arg = (int64_t)v;
    return 0;
}

/* Calls with two values after the handle (or two names). */
static int call_args(const struct line *l, struct scn_event *ev, const char *a,
                     const char *b)
{
    struct scn_call *c = &ev->call;
    bool is_time;
    uint64_t u;
    switch (ev->kind) {
    case SCN_BIND:
    case SCN_CONNECT:
        c->v6 = scn_parse_addr6(a, c->addr6) == 0;
        if ((!c->v6 && want_addr(l, a, &c->addr) != 0) ||
            want_port(l, b, &c->port) != 0)
            return -1;
        return 0;
    case SCN_SETOPT:
        c->which = scn_setopt_lookup(a, &is_time);
        if (c->which < 0)
            return perr(l, "unknown option '%s'", a);
        if (scn_parse_i64(b, &c->arg) == 0)
            return 0;
        if (c->which == BERTH_OPT_CONGESTION && scn_cc_lookup(b) >= 0) {
            c->arg = scn_cc_lookup(b);
            return 0;
        }
        if (is_time && scn_parse_units(b, &u) == 0 && u <= INT64_MAX) {
            c->arg = (int64_t)u;
            return 0;
        }
        return perr(l, "bad value '%s' for %s", b, a);
    case SCN_INFO:
        return parse_info(l, ev, a, b);
    case SCN_COUNTER:
    case SCN_DROP:
        c->which = ev->kind == SCN_COUNTER ? scn_counter_lookup(a)
                                           : scn_reason_lookup(a);
        if (c->which < 0)
            return perr(l, "unknown %s '%s'",
                        ev->kind == SCN_COUNTER ? "counter" : "drop reason", a);
        if (scn_parse_u64(b, &u) != 0 || u > INT64_MAX)
            return perr(l, "bad count '%s'", b);
        c->arg = (int64_t)u;
        return 0;
    default:
        return perr(l, "internal: no argument parser");
    }
}

/* ---- events ---------------------------------------------------------- */

static struct scn_event *new_event(const struct line *l, struct scn_script *sc)
{
    size_t len = 0;
    for (int i = 0; i < l->ntok; i++)
        len += strlen(l->tok[i]) + 1;
    char *text = malloc(len);
    if (!text) {
        perr_print(l, "out of memory");
        return NULL;
    }
    text[0] = '\0';
    for (int i = 0; i < l->ntok; i++) {
        strcat(text, l->tok[i]);
        if (i + 1 < l->ntok)
            strcat(text, " ");
    }
    if (sc->nev == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 64;
        struct scn_event *ev =
            cap > MAX_EVENTS ? NULL : realloc(sc->ev, cap * sizeof(*ev));
        if (!ev) {
            free(text);
            perr_print(l, "too many events, or out of memory");
            return NULL;
        }
        sc->ev = ev;
        sc->cap = cap;
    }
    struct scn_event *ev = &sc->ev[sc->nev++];
    memset(ev, 0, sizeof(*ev));
    ev->line = l->no;
    ev->text = text;
    return ev;
}

static int parse_event(const struct line *l, struct scn_script *sc)
{
    const char *t = l->tok[0];
    uint64_t prev = sc->nev ? sc->ev[sc->nev - 1].time : 0;
    uint64_t time;
    bool rel = t[0] == '+';
    if (scn_parse_seconds(rel ? t + 1 : t, &time) != 0)
        return perr(l, "bad time '%s' (seconds, e.g. 0.100 or +0.1)", t);
    if (rel)
        time += prev;
    if (time < prev)
        return perr(l, "time %s is before the previous event's", t);
    if (l->ntok < 2)
        return perr(l, "an event needs something to happen");
    struct scn_event *ev = new_event(l, sc);
    if (!ev)
        return -1;
    ev->time = time;
    if (strcmp(l->tok[1], "<") == 0 || strcmp(l->tok[1], ">") == 0)
        return parse_segment(l, ev);
    return parse_call(l, sc, ev);
}

static int parse_line(struct line *l, char *text, struct scn_script *sc)
{
    if (tokenize(text, l) != 0)
        return -1;
    if (l->ntok == 0)
        return 0;
    char c = l->tok[0][0];
    if (c == '+' || (c >= '0' && c <= '9'))
        return parse_event(l, sc);
    if (sc->nev > 0)
        return perr(l, "directive '%s' after the first event", l->tok[0]);
    return directive(l, sc);
}

static char *read_file(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        perror(file);
        return NULL;
    }
    char *buf = malloc(MAX_FILE + 1);
    *len = buf ? fread(buf, 1, MAX_FILE + 1, f) : 0;
    fclose(f);
    if (!buf || *len > MAX_FILE) {
        fprintf(stderr, "%s: unreadable or larger than %u bytes\n", file,
                MAX_FILE);
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

static void script_defaults(const char *file, struct scn_script *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->file = file;
    berth_config_init(&sc->cfg);
    sc->local_addr = sc->cfg.addr;
    sc->remote_addr = (uint32_t)198 << 24 | (uint32_t)18 << 16 | 1u;
    sc->remote_port = 40000;
}

int scn_parse_text(const char *file, char *text, size_t len,
                   struct scn_script *sc)
{
    script_defaults(file, sc);
    struct line *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    l->file = file;
    int rc = 0;
    char *p = text;
    while (rc == 0 && p < text + len) {
        char *nl = memchr(p, '\n', (size_t)(text + len - p));
        if (nl)
            *nl = '\0';
        l->no++;
        if (strnlen(p, MAX_LINE) >= MAX_LINE)
            rc = perr(l, "line longer than %u characters", MAX_LINE);
        else
            rc = parse_line(l, p, sc);
        p = nl ? nl + 1 : text + len;
    }
    free(l);
    if (rc != 0)
        scn_script_free(sc);
    return rc;
}

int scn_parse_file(const char *file, struct scn_script *sc)
{
    size_t len;
    char *text = read_file(file, &len);
    if (!text) {
        script_defaults(file, sc);
        return -1;
    }
    int rc = scn_parse_text(file, text, len, sc);
    free(text);
    return rc;
}

void scn_script_free(struct scn_script *sc)
{
    for (size_t i = 0; i < sc->nev; i++) {
        free(sc->ev[i].raw);
        free(sc->ev[i].text);
    }
    free(sc->ev);
    sc->ev = NULL;
    sc->nev = sc->cap = 0;
}
