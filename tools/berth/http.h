/* berth command: the HTTP/1.1 server application. Its connection logic runs
 * on any struct berth_stack — under the TUN runtime (`berth http`) or on an
 * in-memory link in virtual time (`berth demo --memlink`) — because it only
 * sees readiness events, berth_ calls and a clock it is given.
 *
 * Resources: GET / (a small HTML page), GET /bytes/N (N bytes of the
 * pattern byte[i] = (i * 31 + 7) mod 256, N up to 2^40, streamed), POST
 * or PUT /sink (answers "LENGTH SHA256HEX\n" of the body; Content-Length
 * or chunked). HEAD works wherever GET does. */
#ifndef BERTH_CMD_HTTP_H
#define BERTH_CMD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"
#include "common.h"

#define HTTP_BYTES_MAX (UINT64_C(1) << 40)

/* Byte i of /bytes/N. */
static inline uint8_t http_pattern_byte(uint64_t i)
{
    return (uint8_t)(i * 31 + 7);
}

struct http_config {
    uint16_t port;         /* default 80 */
    int backlog;           /* listen backlog, default 1024 */
    uint64_t idle_timeout; /* us without a complete request: 15 s */
    uint32_t max_requests; /* per connection, default 1000 */
    /* Per client address, default 1024: above what an ordinary load test
     * from one machine opens (wrk -c300, ab -c1000), far below what
     * exhausts the server; more are reset at once. */
    uint32_t max_conns_per_client;
    /* RFC 9110 §6.6.1: a server with a clock sends Date. false where time
     * is virtual (the in-memory demo), which is a server without one. */
    bool date;
    /* One line per refusal burst ("refused N connections from A"), at most
     * one a second; NULL: only counted. */
    FILE *log;
    /* Common Log Format, one line per response; NULL: none. */
    FILE *access_log;
    const char *access_log_path; /* --access-log: "-" is stdout */
    struct sockopts so;
};

struct http_stats {
    uint64_t accepted;   /* connections accepted */
    uint64_t refused;    /* over --max-conns-per-client: reset at once */
    uint64_t reaped;     /* closed by the idle timeout */
    uint64_t requests;   /* complete request heads */
    uint64_t errors;     /* 4xx/5xx answers */
    uint64_t resets;     /* connections that ended with an error */
    uint64_t body_bytes; /* response body bytes queued */
    uint64_t open;       /* connections open now */
};

void http_config_init(struct http_config *cfg);

struct http_server;

/* Listens on cfg->port of stack s. clock() gives the current time in the
 * stack's time base. NULL with a message in err on failure. */
struct http_server *http_server_create(struct berth_stack *s,
                                       const struct http_config *cfg,
                                       uint64_t (*clock)(void *ctx),
                                       void *clock_ctx, char *err,
                                       size_t errlen);
/* Frees the server's memory; sockets still open are left to the stack. */
void http_server_destroy(struct http_server *h);
/* h counts connections per client in with's table from now on (shards:
 * --max-conns-per-client is per client, whichever shard serves it). Before
 * h accepts anything; thread-safe afterwards. */
void http_server_share_clients(struct http_server *h, struct http_server *with);

/* The stack's event hook, for every socket of this server. */
void http_server_event(struct http_server *h, int sock, uint32_t events);
/* Reaps idle connections; returns when it wants to be called next. */
uint64_t http_server_tick(struct http_server *h, uint64_t now);
/* Closes the listener and every connection (shutdown). */
void http_server_stop(struct http_server *h);
void http_server_stats(const struct http_server *h, struct http_stats *out);

/* For the demo's ladder: one line per application call on a connection
 * ("accept()", "recv 78 B", "send 312 B", "shutdown(WR)", "close()"),
 * called before the call so the segments it causes follow it. */
void http_server_set_note(struct http_server *h,
                          void (*fn)(void *ctx, int sock, const char *what),
                          void *ctx);

int cmd_http(int argc, char **argv);

#endif
