/* berth command: HTTP/1.x request heads and the chunked coding (RFC 9112).
 * Lenient where the RFC allows it (bare LF line ends, leading empty lines),
 * strict where framing is at stake (Content-Length, Transfer-Encoding). */
#include "http_parse.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define LENGTH_MAX (UINT64_C(1) << 62)

/* One line of buf starting at *pos: [*start, *end) without CR LF; advances
 * *pos past the LF. False if no LF yet. */
static bool next_line(const char *buf, size_t len, size_t *pos, size_t *start,
                      size_t *end)
{
    const char *lf = memchr(buf + *pos, '\n', len - *pos);
    if (!lf)
        return false;
    *start = *pos;
    *end = (size_t)(lf - buf);
    if (*end > *start && buf[*end - 1] == '\r')
        (*end)--;
    *pos = (size_t)(lf - buf) + 1;
    return true;
}

/* Does the comma-separated list v[0..n) contain token tok? */
static bool has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == tl && !strncasecmp(v + s, tok, tl))
            return true;
    }
    return false;
}

/* The last transfer coding must be chunked (RFC 9112 §6.3 item 4). */
static int transfer_encoding(struct http_req *r, const char *v, size_t n)
{
    size_t e = n;
    while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'))
        e--;
    if (e >= 7 && !strncasecmp(v + e - 7, "chunked", 7) &&
        (e == 7 || v[e - 8] == ',' || v[e - 8] == ' ')) {
        r->chunked = true;
        return 0;
    }
    return -501;
}

static int content_length(struct http_req *r, const char *v, size_t n)
{
    uint64_t x = 0;
    if (n == 0)
        return -400;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i]) || x > LENGTH_MAX / 10)
            return -400;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    /* RFC 9112 §6.3 item 5: differing values are unrecoverable. */
    if (x > LENGTH_MAX || (r->has_length && r->length != x))
        return -400;
    r->has_length = true;
    r->length = x;
    return 0;
}

static int header_line(struct http_req *r, const char *l, size_t n)
{
    const char *colon = memchr(l, ':', n);
    if (!colon || colon == l || l[0] == ' ' || l[0] == '\t')
        return -400; /* no name, or obsolete line folding (§5.2) */
    size_t nl = (size_t)(colon - l);
    if (l[nl - 1] == ' ' || l[nl - 1] == '\t')
        return -400; /* §5.1: no whitespace before the colon */
    const char *v = colon + 1;
    size_t vn = n - nl - 1;
    while (vn > 0 && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (nl == 10 && !strncasecmp(l, "connection", 10)) {
        r->conn_close |= has_token(v, vn, "close");
        r->conn_keep_alive |= has_token(v, vn, "keep-alive");
    } else if (nl == 14 && !strncasecmp(l, "content-length", 14)) {
        return content_length(r, v, vn);
    } else if (nl == 17 && !strncasecmp(l, "transfer-encoding", 17)) {
        return transfer_encoding(r, v, vn);
    } else if (nl == 6 && !strncasecmp(l, "expect", 6)) {
        r->expect_continue = vn == 12 && !strncasecmp(v, "100-continue", 12);
    }
    return 0;
}

/* "GET /path?q HTTP/1.1"; absolute-form targets lose scheme and host. */
static int request_line(struct http_req *r, const char *l, size_t n)
{
    const char *sp1 = memchr(l, ' ', n);
    if (!sp1 || sp1 == l || (size_t)(sp1 - l) >= sizeof r->method)
        return -400;
    const char *t = sp1 + 1, *end = l + n;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2 || sp2 == t || memchr(sp2 + 1, ' ', (size_t)(end - sp2 - 1)))
        return -400;
    /* RFC 9112 §3.2: the target is visible ASCII (RFC 3986 §2); a NUL or
     * other control byte would otherwise cut the path short ("/\0abc"
     * served as "/") or reach a log. Method tokens likewise (RFC 9110
     * §5.6.2). */
    for (const char *p = l; p < sp2; p++)
        if (p != sp1 && ((unsigned char)*p <= 0x20 || *p == 0x7f))
            return -400;
    memcpy(r->method, l, (size_t)(sp1 - l));
    r->method[sp1 - l] = '\0';
    const char *v = sp2 + 1;
    if (end - v != 8 || strncmp(v, "HTTP/", 5) ||
        !isdigit((unsigned char)v[5]) || v[6] != '.' ||
        !isdigit((unsigned char)v[7]))
        return -400;
    if (v[5] != '1')
        return -505;
    r->minor = v[7] - '0';
    size_t tl = (size_t)(sp2 - t);
    if (tl > 7 && !strncasecmp(t, "http://", 7)) {
        const char *slash = memchr(t + 7, '/', tl - 7);
        if (!slash)
            return -400;
        tl -= (size_t)(slash - t);
        t = slash;
    }
    if (t[0] != '/' && !(tl == 1 && t[0] == '*'))
        return -400;
    const char *q = memchr(t, '?', tl);
    if (q)
        tl = (size_t)(q - t);
    if (tl >= sizeof r->path)
        return -414;
    memcpy(r->path, t, tl);
    r->path[tl] = '\0';
    return 0;
}

long http_parse_head(const char *buf, size_t len, struct http_req *r)
{
    size_t pos = 0, s, e;
    memset(r, 0, sizeof *r);
    do { /* RFC 9112 §2.2: ignore empty lines before the request line */
        if (!next_line(buf, len, &pos, &s, &e))
            return 0;
    } while (e == s);
    size_t rl_start = s, rl_end = e, headers = pos;
    for (;;) {
        if (!next_line(buf, len, &pos, &s, &e))
            return 0;
        if (e == s)
            break;
    }
    /* Complete: now parse it, line by line again. */
    int st = request_line(r, buf + rl_start, rl_end - rl_start);
    size_t p = headers;
    while (st == 0 && next_line(buf, len, &p, &s, &e) && e > s)
        st = header_line(r, buf + s, e - s);
    /* §6.3 item 3: with both, Transfer-Encoding wins; we refuse the
     * ambiguity instead, as a request smuggling guard. */
    if (st == 0 && r->chunked && r->has_length)
        st = -400;
    if (st == 0 && r->chunked && r->minor == 0)
        st = -400; /* chunked is not HTTP/1.0 */
    return st != 0 ? st : (long)pos;
}

bool http_keep_alive(const struct http_req *r)
{
    if (r->conn_close)
        return false;
    return r->minor >= 1 || r->conn_keep_alive;
}

/* ---------------------------------------------------------------------- */
/* Chunked: size [; ext] CRLF, data CRLF, ..., 0 CRLF, trailers, CRLF. */

enum {
    CH_SIZE,     /* hex digits of the chunk size */
    CH_EXT,      /* chunk extension, skipped to the end of the line */
    CH_DATA,     /* `left` bytes of data */
    CH_DATA_END, /* the CRLF after the data */
    CH_TRAILER,  /* trailer lines until an empty one */
    CH_DONE,
};

void http_chunked_init(struct http_chunked *d)
{
    memset(d, 0, sizeof *d);
    d->state = CH_SIZE;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (uint8_t)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One framing byte (anything but data). 0 or -1. */
static int chunk_byte(struct http_chunked *d, uint8_t c)
{
    switch (d->state) {
    case CH_SIZE:
        if (hexval(c) >= 0 && d->digits < 15) {
            d->left = d->left * 16 + (uint64_t)hexval(c);
            d->digits++;
            return 0;
        }
        if (d->digits == 0 ||
            (c != ';' && c != '\r' && c != '\n' && c != ' ' && c != '\t'))
            return -1;
        /* The terminator may be this very byte. */
        d->state = CH_EXT;
        /* fall through */
    case CH_EXT:
        if (c == '\n') {
            d->state = d->left ? CH_DATA : CH_TRAILER;
            d->line = 0;
        }
        return 0;
    case CH_DATA_END:
        if (c == '\r')
            return 0;
        if (c != '\n')
            return -1;
        d->state = CH_SIZE;
        d->digits = 0;
        d->left = 0;
        return 0;
    case CH_TRAILER:
        if (c == '\n') {
            if (d->line == 0)
                d->state = CH_DONE;
            d->line = 0;
        } else if (c != '\r') {
            d->line++;
        }
        return 0;
    default:
        return -1;
    }
}

long http_chunked_feed(struct http_chunked *d, const uint8_t *p, size_t n,
                       void (*fn)(void *ctx, const uint8_t *data, size_t len),
                       void *ctx, bool *done)
{
    size_t i = 0;
    while (i < n && d->state != CH_DONE) {
        if (d->state == CH_DATA) {
            size_t k = n - i;
            if (k > d->left)
                k = (size_t)d->left;
            fn(ctx, p + i, k);
            i += k;
            d->left -= k;
            if (d->left == 0)
                d->state = CH_DATA_END;
            continue;
        }
        if (chunk_byte(d, p[i++]) != 0)
            return -1;
    }
    *done = d->state == CH_DONE;
    return (long)i;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
