/* libFuzzer target for the `berth http` request parser (RFC 9112): the
 * request head and the chunked transfer coding, fed whole and in pieces.
 * Checked: a head's reported length lies within the input; a parsed path
 * and method are NUL-terminated within their arrays; the chunked decoder
 * never reports more bytes consumed than it was given, and feeding the
 * same body in two pieces decodes the same data as feeding it whole. */
#include "http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
    uint64_t sum, n;
};

static void collect(void *ctx, const uint8_t *d, size_t len)
{
    struct sink *k = ctx;
    for (size_t i = 0; i < len; i++)
        k->sum = k->sum * 31u + d[i];
    k->n += len;
}

/* Decodes body in up to two feeds split at `cut`; returns what came out. */
static struct sink chunked(const uint8_t *body, size_t len, size_t cut,
                           long *status)
{
    struct sink k = {0, 0};
    struct http_chunked d;
    http_chunked_init(&d);
    bool done = false;
    size_t off = 0;
    *status = 0;
    for (int part = 0; part < 2 && !done && off < len; part++) {
        size_t n = part == 0 ? (cut < len ? cut : len) : len - off;
        long used = http_chunked_feed(&d, body + off, n, collect, &k, &done);
        if (used < 0) {
            *status = -1;
            return k;
        }
        if ((size_t)used > n)
            abort();
        off += (size_t)used;
        if (!done && (size_t)used < n)
            abort(); /* stopped early without being done */
    }
    *status = done ? 1 : 0;
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct http_req r;
    memset(&r, 0x5a, sizeof r);
    long head = http_parse_head(buf, size, &r);
    if (head > (long)size)
        abort();
    if (head > 0) {
        if (!memchr(r.method, '\0', sizeof r.method) ||
            !memchr(r.path, '\0', sizeof r.path))
            abort();
        (void)http_keep_alive(&r);
        const uint8_t *body = data + head;
        size_t len = size - (size_t)head;
        long st_whole, st_split;
        struct sink whole = chunked(body, len, len, &st_whole);
        struct sink split = chunked(body, len, len / 2, &st_split);
        if (st_whole == 1 && st_split == 1 &&
            (whole.n != split.n || whole.sum != split.sum))
            abort();
    }
    (void)http_reason((int)(size % 600));
    free(buf);
    return 0;
}
