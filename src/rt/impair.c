/* Impairment: the spec string (berth_impair_parse/format) and the model the
 * runtime applies in each direction — seeded loss, duplication, reordering,
 * delay and jitter, with delayed packets copied into a bounded min-heap on
 * delivery time. No clock and no I/O here: time is always a parameter. */
#include "rt_impl.h"

#include "base/rng.h"

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
    return !imp->drop_all && !(imp->loss > 0) && !(imp->dup > 0) &&
           !(imp->reorder > 0) && imp->delay == 0 && imp->jitter == 0;
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
 * The model.
 */

/* Buffers for held packets come from a free list of fixed-size blocks, so
 * a steady impaired flow does not call malloc per packet; larger packets
 * (beyond any sane MTU) get their own allocation. */
#define POOL_BLOCK 2048u
#define POOL_KEEP  4096u /* free blocks kept for reuse; the rest are freed */

struct held {
    uint64_t at;    /* delivery time */
    uint64_t order; /* submission order: ties deliver first-come first */
    uint8_t *data;
    size_t len;
};

struct rt_impair {
    struct berth_impair cfg;
    bool active; /* false: every packet passes at once, uncopied */
    struct rng rng;
    struct held *heap; /* min-heap on (at, order) */
    size_t len, cap, limit;
    uint64_t next_order;
    void *free_blocks; /* singly linked through each block's first bytes */
    size_t nfree;
    struct rt_impair_stats stats;
};

struct rt_impair *rt_impair_create(size_t queue_limit)
{
    struct rt_impair *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->limit = queue_limit ? queue_limit : RT_IMPAIR_QUEUE_LIMIT;
    rng_seed(&m->rng, 1);
    return m;
}

void rt_impair_destroy(struct rt_impair *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->len; i++)
        free(m->heap[i].data);
    while (m->free_blocks) {
        void *next;
        memcpy(&next, m->free_blocks, sizeof next);
        free(m->free_blocks);
        m->free_blocks = next;
    }
    free(m->heap);
    free(m);
}

void rt_impair_configure(struct rt_impair *m, const struct berth_impair *imp,
                         uint64_t stream)
{
    m->cfg = *imp;
    m->active = !impair_is_clean(imp);
    /* Distinct streams per direction from one seed (as the memlink). */
    rng_seed(&m->rng, imp->seed ^ (0xd1b54a32d192ed03ull * (stream + 1)));
}

static bool chance(struct rng *r, double p)
{
    if (!(p > 0.0))
        return false; /* draws nothing: a setting at 0 shifts no dice */
    return (double)(rng_next(r) >> 11) * 0x1.0p-53 < p;
}

static uint8_t *block_get(struct rt_impair *m, size_t len)
{
    if (len > POOL_BLOCK)
        return malloc(len);
    if (!m->free_blocks)
        return malloc(POOL_BLOCK);
    uint8_t *b = m->free_blocks;
    memcpy(&m->free_blocks, b, sizeof(void *));
    m->nfree--;
    return b;
}

static void block_put(struct rt_impair *m, uint8_t *b, size_t len)
{
    if (len > POOL_BLOCK || m->nfree >= POOL_KEEP) {
        free(b);
        return;
    }
    memcpy(b, &m->free_blocks, sizeof(void *));
    m->free_blocks = b;
    m->nfree++;
}

static bool held_before(const struct held *a, const struct held *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static bool heap_push(struct rt_impair *m, struct held h)
{
    if (m->len == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct held *n = realloc(m->heap, cap * sizeof *n);
        if (!n)
            return false;
        m->heap = n;
        m->cap = cap;
    }
    size_t i = m->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!held_before(&h, &m->heap[parent]))
            break;
        m->heap[i] = m->heap[parent];
        i = parent;
    }
    m->heap[i] = h;
    return true;
}

static struct held heap_pop(struct rt_impair *m)
{
    struct held top = m->heap[0];
    struct held last = m->heap[--m->len];
    size_t n = m->len, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && held_before(&m->heap[c + 1], &m->heap[c]))
            c++;
        if (!held_before(&m->heap[c], &last))
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (n > 0)
        m->heap[i] = last;
    return top;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Copies the packet into the queue for delivery at `at`. */
static void hold(struct rt_impair *m, const uint8_t *pkt, size_t len,
                 uint64_t at)
{
    uint8_t *copy = m->len < m->limit ? block_get(m, len) : NULL;
    if (!copy) {
        m->stats.queue_full++;
        return;
    }
    memcpy(copy, pkt, len);
    struct held h = {at, m->next_order++, copy, len};
    if (!heap_push(m, h)) {
        block_put(m, copy, len);
        m->stats.queue_full++;
    }
}

/* The delay one copy gets: base + jitter, plus the reorder hold-back. A
 * reordered copy waits max(delay, 1 ms) + jitter more, so every packet
 * submitted in that window overtakes it (rt.h). Jitter alone may reorder
 * as well, as netem's does. */
static uint64_t copy_delay(struct rt_impair *m, bool reordered)
{
    const struct berth_impair *c = &m->cfg;
    uint64_t d = c->delay;
    if (c->jitter)
        d = sat_add(d, rng_below(&m->rng, c->jitter + 1));
    if (reordered) {
        uint64_t back = c->delay > RT_US_PER_MS ? c->delay : RT_US_PER_MS;
        d = sat_add(d, sat_add(back, c->jitter));
    }
    return d;
}

void rt_impair_submit(struct rt_impair *m, const uint8_t *pkt, size_t len,
                      uint64_t now, rt_emit_fn emit, void *ctx)
{
    if (!m->active) {
        emit(ctx, pkt, len);
        return;
    }
    if (m->cfg.drop_all || chance(&m->rng, m->cfg.loss)) {
        m->stats.lost++;
        return;
    }
    int copies = 1;
    if (chance(&m->rng, m->cfg.dup)) {
        copies = 2;
        m->stats.duplicated++;
    }
    bool reordered = chance(&m->rng, m->cfg.reorder);
    if (reordered)
        m->stats.reordered++;
    for (int i = 0; i < copies; i++) {
        uint64_t d = copy_delay(m, reordered && i == 0);
        if (d == 0)
            emit(ctx, pkt, len);
        else
            hold(m, pkt, len, sat_add(now, d));
    }
}

uint64_t rt_impair_next_due(const struct rt_impair *m)
{
    return m->len ? m->heap[0].at : UINT64_MAX;
}

size_t rt_impair_drain(struct rt_impair *m, uint64_t now, rt_emit_fn emit,
                       void *ctx)
{
    size_t n = 0;
    /* Pop before emitting: emit() may run the stack, which may submit to
     * the other direction's model (never this one), and must see a
     * consistent heap either way. */
    while (m->len && m->heap[0].at <= now) {
        struct held h = heap_pop(m);
        emit(ctx, h.data, h.len);
        block_put(m, h.data, h.len);
        n++;
    }
    return n;
}

size_t rt_impair_queued(const struct rt_impair *m)
{
    return m->len;
}

void rt_impair_get_stats(const struct rt_impair *m, struct rt_impair_stats *out)
{
    *out = m->stats;
}
