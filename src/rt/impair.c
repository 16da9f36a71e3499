/* Impairment in the TUN runtime: the spec string (berth_impair_parse/format)
 * and the shared model (impair_model.c) applied in each direction, with a
 * bounded delay queue. No clock and no I/O here: time is a parameter. */
#include "rt_impl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define IMPAIR_MAX_TIME (3600ull * RT_US_PER_S) /* sanity bound: 1 hour */

/* ------------------------------------------------------------------------
 * The spec string.
 */

static int spec_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A percentage, as tc netem reads it: the number is always percent, with
 * or without '%' ("loss=5%" and "loss=5" are 5 %, "loss=0.05" is 0.05 %). */
static bool parse_percent(const char *v, double *out)
{
    char *end;
    errno = 0;
    double pct = strtod(v, &end);
    if (end == v || errno || !isfinite(pct))
        return false;
    if (*end == '%')
        end++;
    if (*end || pct < 0.0 || pct > 100.0)
        return false;
    *out = pct / 100.0;
    return true;
}

/* A duration with its unit: "250us", "5ms", "1.5s". */
static bool parse_time(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || !isfinite(x) || x < 0.0)
        return false;
    double scale;
    if (strcmp(end, "us") == 0)
        scale = 1.0;
    else if (strcmp(end, "ms") == 0)
        scale = (double)RT_US_PER_MS;
    else if (strcmp(end, "s") == 0)
        scale = (double)RT_US_PER_S;
    else
        return false;
    double us = x * scale;
    if (us > (double)IMPAIR_MAX_TIME)
        return false;
    *out = (uint64_t)(us + 0.5); /* rounded; llround would need libm */
    return true;
}

static bool parse_seed(const char *v, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)*v))
        return false;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 0);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

/* One "key=value" token (NUL-terminated, modifiable). */
static int parse_token(char *tok, struct berth_impair *imp, char *err,
                       size_t errlen)
{
    if (strcmp(tok, "drop-all") == 0) {
        imp->drop_all = true;
        return 0;
    }
    char *eq = strchr(tok, '=');
    if (!eq)
        return spec_error(err, errlen,
                          "impairment '%s': expected key=value "
                          "(loss, dup, reorder, delay, jitter, seed)",
                          tok);
    *eq = '\0';
    const char *key = tok, *val = eq + 1;
    bool ok;
    if (strcmp(key, "loss") == 0)
        ok = parse_percent(val, &imp->loss);
    else if (strcmp(key, "dup") == 0 || strcmp(key, "duplicate") == 0)
        ok = parse_percent(val, &imp->dup);
    else if (strcmp(key, "reorder") == 0)
        ok = parse_percent(val, &imp->reorder);
    else if (strcmp(key, "delay") == 0)
        ok = parse_time(val, &imp->delay);
    else if (strcmp(key, "jitter") == 0)
        ok = parse_time(val, &imp->jitter);
    else if (strcmp(key, "seed") == 0)
        ok = parse_seed(val, &imp->seed);
    else
        return spec_error(err, errlen,
                          "impairment: unknown key '%s' (expected loss, "
                          "dup, reorder, delay, jitter, seed)",
                          key);
    if (ok)
        return 0;
    if (strcmp(key, "delay") == 0 || strcmp(key, "jitter") == 0)
        return spec_error(err, errlen,
                          "impairment: %s=%s: expected a time with a unit "
                          "(us, ms, s), at most 3600s",
                          key, val);
    if (strcmp(key, "seed") == 0)
        return spec_error(err, errlen,
                          "impairment: seed=%s: expected an unsigned integer",
                          val);
    return spec_error(err, errlen,
                      "impairment: %s=%s: expected a percentage 0..100 "
                      "(e.g. 5%% or 0.5)",
                      key, val);
}

int berth_impair_parse(const char *spec, struct berth_impair *out, char *err,
                       size_t errlen)
{
    struct berth_impair imp = {.seed = 1};
    char buf[512];
    if (!spec)
        spec = "";
    if (strlen(spec) >= sizeof buf)
        return spec_error(err, errlen, "impairment: spec too long");
    strcpy(buf, spec);

    /* "off"/"none" alone: a clean link. Tokens are separated by commas or
     * blanks, so "loss=5%, delay=5ms" from a control line works too. */
    char *save = NULL;
    int ntok = 0;
    for (char *tok = strtok_r(buf, ", \t\r\n", &save); tok;
         tok = strtok_r(NULL, ", \t\r\n", &save), ntok++) {
        if (strcmp(tok, "off") == 0 || strcmp(tok, "none") == 0) {
            if (ntok > 0 || strtok_r(NULL, ", \t\r\n", &save))
                return spec_error(err, errlen,
                                  "impairment: '%s' cannot be combined "
                                  "with other settings",
                                  tok);
            break;
        }
        if (parse_token(tok, &imp, err, errlen) < 0)
            return -1;
    }
    *out = imp;
    return 0;
}

static bool impair_is_clean(const struct berth_impair *imp)
{
    struct impair_params p;
    rt_impair_params(imp, &p);
    return impair_params_clean(&p);
}

static void format_time(char *buf, size_t size, uint64_t us)
{
    if (us > 0 && us % RT_US_PER_S == 0)
        snprintf(buf, size, "%" PRIu64 "s", us / RT_US_PER_S);
    else if (us % RT_US_PER_MS == 0)
        snprintf(buf, size, "%" PRIu64 "ms", us / RT_US_PER_MS);
    else
        snprintf(buf, size, "%" PRIu64 "us", us);
}

/* Appends ",piece" (or "piece" first) without overflowing. */
static void append(char *buf, size_t size, size_t *len, const char *piece)
{
    int n = snprintf(buf + *len, size - *len, "%s%s", *len ? "," : "", piece);
    if (n > 0)
        *len = *len + (size_t)n >= size ? size - 1 : *len + (size_t)n;
}

void berth_impair_format(const struct berth_impair *imp, char *buf, size_t size)
{
    if (!size)
        return;
    buf[0] = '\0';
    if (impair_is_clean(imp)) {
        snprintf(buf, size, "off");
        return;
    }
    size_t len = 0;
    char piece[64], t[32];
    if (imp->drop_all)
        append(buf, size, &len, "drop-all");
    const struct {
        const char *key;
        double p;
    } pct[] = {
        {"loss", imp->loss}, {"dup", imp->dup}, {"reorder", imp->reorder}};
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        if (pct[i].p > 0) {
            snprintf(piece, sizeof piece, "%s=%g%%", pct[i].key,
                     pct[i].p * 100.0);
            append(buf, size, &len, piece);
        }
    }
    if (imp->delay) {
        format_time(t, sizeof t, imp->delay);
        snprintf(piece, sizeof piece, "delay=%s", t);
        append(buf, size, &len, piece);
    }
    if (imp->jitter) {
        format_time(t, sizeof t, imp->jitter);
        snprintf(piece, sizeof piece, "jitter=%s", t);
        append(buf, size, &len, piece);
    }
    snprintf(piece, sizeof piece, "seed=%" PRIu64, imp->seed);
    append(buf, size, &len, piece);
}

/* ------------------------------------------------------------------------
 * The runtime's side of the model (impair_model.c): one per direction, its
 * own delay queue, copies emitted at once when they are not delayed.
 */

struct rt_impair {
    bool active; /* false: every packet passes at once, uncopied */
    struct impair_model model;
    struct impair_queue queue;
    size_t limit; /* copies queued at most */
    struct rt_impair_stats stats;
};

struct rt_impair *rt_impair_create(size_t queue_limit)
{
    struct rt_impair *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->limit = queue_limit ? queue_limit : RT_IMPAIR_QUEUE_LIMIT;
    impair_model_init(&m->model, 1, 0);
    return m;
}

void rt_impair_destroy(struct rt_impair *m)
{
    if (!m)
        return;
    impair_queue_free(&m->queue);
    impair_model_free(&m->model);
    free(m);
}

/* The spec's settings as the model's: a reordered copy waits
 * max(delay, 1 ms) + jitter more, so every packet submitted in that window
 * overtakes it (rt.h). */
void rt_impair_params(const struct berth_impair *imp, struct impair_params *p)
{
    memset(p, 0, sizeof *p);
    p->drop_all = imp->drop_all;
    p->loss = imp->loss;
    p->dup = imp->dup;
    p->reorder = imp->reorder;
    p->delay = imp->delay;
    p->jitter = imp->jitter;
    uint64_t back = imp->delay > RT_US_PER_MS ? imp->delay : RT_US_PER_MS;
    p->reorder_delay =
        back > UINT64_MAX - imp->jitter ? UINT64_MAX : back + imp->jitter;
}

void rt_impair_configure(struct rt_impair *m, const struct berth_impair *imp,
                         uint64_t stream)
{
    struct impair_params p;
    rt_impair_params(imp, &p);
    rt_impair_configure_model(m, &p, imp->seed, stream);
}

void rt_impair_configure_model(struct rt_impair *m,
                               const struct impair_params *p, uint64_t seed,
                               uint64_t stream)
{
    m->model.p = *p;
    m->active = !impair_params_clean(p);
    impair_model_reseed(&m->model, seed, stream);
}

bool rt_impair_active(const struct rt_impair *m)
{
    return m->active;
}

void rt_impair_submit(struct rt_impair *m, const uint8_t *pkt, size_t len,
                      uint64_t now, rt_emit_fn emit, void *ctx)
{
    if (!m->active) {
        emit(ctx, pkt, len);
        return;
    }
    struct impair_verdict v = impair_model_decide(&m->model, now, len, 1, 0);
    if (v.copies == 0) {
        if (v.drop == IMPAIR_DROP_TAIL)
            m->stats.queue_full++;
        else
            m->stats.lost++;
        return;
    }
    if (v.duplicated)
        m->stats.duplicated++;
    for (int i = 0; i < v.copies; i++) {
        struct impair_copy c = impair_model_copy(&m->model, len);
        if (c.reordered)
            m->stats.reordered++;
        uint64_t at =
            v.depart > UINT64_MAX - c.delay ? UINT64_MAX : v.depart + c.delay;
        if (at <= now && c.bit == IMPAIR_NO_BIT) {
            emit(ctx, pkt, len); /* the common path: no copy */
            continue;
        }
        bool room = at <= now || m->queue.len < m->limit;
        uint8_t *copy = room ? impair_queue_copy(&m->queue, pkt, len) : NULL;
        if (!copy) {
            m->stats.queue_full++;
            continue;
        }
        if (impair_copy_corrupt(&c, copy))
            m->stats.corrupted++;
        if (at <= now) {
            emit(ctx, copy, len);
            impair_queue_release(&m->queue, copy, len);
        } else if (!impair_queue_push(&m->queue, at, copy, len, 0)) {
            m->stats.queue_full++;
        }
    }
}

uint64_t rt_impair_next_due(const struct rt_impair *m)
{
    return impair_queue_next(&m->queue);
}

size_t rt_impair_drain(struct rt_impair *m, uint64_t now, rt_emit_fn emit,
                       void *ctx)
{
    size_t n = 0;
    struct impair_held h;
    /* Pop before emitting: emit() may run the stack, which may submit to
     * the other direction's model (never this one), and must see a
     * consistent queue either way. */
    while (impair_queue_pop_due(&m->queue, now, &h)) {
        emit(ctx, h.data, h.len);
        impair_queue_release(&m->queue, h.data, h.len);
        n++;
    }
    return n;
}

size_t rt_impair_queued(const struct rt_impair *m)
{
    return m->queue.len;
}

void rt_impair_get_stats(const struct rt_impair *m, struct rt_impair_stats *out)
{
    *out = m->stats;
}
