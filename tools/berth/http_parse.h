/* berth command: HTTP/1.x request parsing (RFC 9112) — the request head and
 * the chunked transfer coding. Pure functions over byte buffers: no
 * sockets, no allocation, so the server and the demo's client share them. */
#ifndef BERTH_CMD_HTTP_PARSE_H
#define BERTH_CMD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_PATH_MAX 1024

struct http_req {
    char method[16];
    char path[HTTP_PATH_MAX]; /* origin-form, query string removed */
    int minor;                /* HTTP/1.minor */
    bool conn_close;          /* "Connection: close" */
    bool conn_keep_alive;     /* "Connection: keep-alive" (HTTP/1.0) */
    bool has_length;
    uint64_t length; /* Content-Length */
    bool chunked;    /* Transfer-Encoding ends in chunked */
    bool expect_continue;
};

/* Looks for one complete request head at the start of buf (leading empty
 * lines are skipped, RFC 9112 §2.2). Returns the head's length including
 * its blank line, 0 if it is not complete yet, or -STATUS for a request to
 * refuse: -400 malformed, -414 path too long, -501 unknown transfer coding,
 * -505 not HTTP/1.x. */
long http_parse_head(const char *buf, size_t len, struct http_req *r);

/* True if the connection stays open after the response (RFC 9112 §9.3). */
bool http_keep_alive(const struct http_req *r);

/* The chunked transfer coding (RFC 9112 §7.1), decoded incrementally. */
struct http_chunked {
    int state;
    uint64_t left; /* data bytes left in the current chunk */
    unsigned digits;
    size_t line; /* length of the current trailer line */
};

void http_chunked_init(struct http_chunked *d);
/* Consumes bytes from p, passing chunk data to fn. Returns bytes consumed
 * (it stops right after the last chunk's trailer section), or -1 on a
 * framing error. *done becomes true when the body is complete. */
long http_chunked_feed(struct http_chunked *d, const uint8_t *p, size_t n,
                       void (*fn)(void *ctx, const uint8_t *data, size_t len),
                       void *ctx, bool *done);

/* Status line reason phrase ("Not Found"). */
const char *http_reason(int status);

#endif
