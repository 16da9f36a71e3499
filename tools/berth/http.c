/* berth command: the HTTP/1.1 server — accepting, per-connection buffers,
 * request routing, streaming responses as the send buffer drains, POST
 * bodies hashed as they arrive, keep-alive and idle reaping. Everything is
 * driven by readiness events on one struct berth_stack; see http.h. */
#include "http.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "conntab.h"
#include "http_parse.h"

#define IN_CAP            8192  /* request heads larger than this get 431 */
#define OUT_CAP           4096  /* response heads and small bodies */
#define SCRATCH           65536 /* body reads and the /bytes pattern window */
#define REFUSAL_LOG_EVERY UINT64_C(1000000) /* us between refusal lines */
#define PUMP_ROUNDS       4096 /* safety bound; the rest waits for the next tick */

enum phase {
    PH_HEAD,  /* waiting for (more of) a request head */
    PH_BODY,  /* consuming a request body */
    PH_DRAIN, /* we shut down writing: discard input until the peer's FIN */
};

enum route { RT_INDEX, RT_BYTES, RT_SINK, RT_ERROR };

struct client {
    struct ctab_node node; /* key: the client's IPv4 address */
    uint32_t count;
};

/* Connections per client address, for --max-conns-per-client: one table
 * for every shard's server (a limit per client, not per shard), taken
 * under its lock on accept and close only. */
struct http_clients {
    pthread_mutex_t lock;
    struct ctab t;
    unsigned users; /* servers sharing it; freed by the last */
};

struct hconn {
    struct ctab_node node; /* key: the socket handle */
    struct http_server *srv;
    int sock;
    struct berth_endpoint client; /* IPv4-mapped shown as IPv4 */
    uint64_t last_active;         /* last progress: a request, body or output */
    uint32_t nreq;
    enum phase phase;
    bool close_after; /* shut down writing once the output is queued */
    bool http10;      /* the request was HTTP/1.0 */
    bool again;       /* hit PUMP_ROUNDS: pump again from the tick */
    /* The request being answered. */
    enum route route;
    int status;
    bool head_only;
    uint64_t bytes_n; /* RT_BYTES */
    /* Its body: Content-Length (body_left) or chunked (ch). */
    bool chunked;
    uint64_t body_left, body_total;
    struct http_chunked ch;
    EVP_MD_CTX *sha; /* RT_SINK only */
    /* Buffers: in[in_off, in_len) unparsed input; out[out_off, out_len)
     * unsent output, then stream_left bytes of the /bytes pattern. */
    size_t in_off, in_len, out_off, out_len;
    uint64_t stream_left, stream_off;
    char reqline[160]; /* "GET /x HTTP/1.1" for the access log, cut short */
    char in[IN_CAP];
    char out[OUT_CAP];
};

struct http_server {
    struct berth_stack *st;
    struct http_config cfg;
    uint64_t (*clock)(void *ctx);
    void *clock_ctx;
    int lsn; /* -1 once stopped */
    struct ctab conns;
    struct http_clients *clients;
    uint64_t next_reap;
    bool retry_accept, again;
    void (*note)(void *ctx, int sock, const char *what);
    void *note_ctx;
    struct http_stats stats;
    /* Refusals by the per-client limit not yet logged, and when the last
     * line went out (logged at most once a second). */
    uint64_t refused_unlogged, refused_logged_at;
    struct berth_endpoint refused_addr;
    bool refused_ever;
    time_t date_sec; /* date[] is for this second */
    char date[40];
    uint8_t scratch[SCRATCH];
    uint8_t pattern[SCRATCH + 256]; /* pattern[j] = byte j, j < 64 KiB+256 */
};

static const char INDEX_HTML[] =
    "<!DOCTYPE html>\n"
    "<html><head><title>berth</title></head>\n"
    "<body>\n"
    "<h1>Hello from berth</h1>\n"
    "<p>This page came over a TCP connection served by berth, a TCP/IP\n"
    "stack in user space, not by the kernel.</p>\n"
    "<ul>\n"
    "<li><code>GET /bytes/N</code>: N bytes, byte i = (i*31+7) mod 256</li>\n"
    "<li><code>POST /sink</code>: answers the body's length and SHA-256</li>\n"
    "</ul>\n"
    "</body></html>\n";

void http_config_init(struct http_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 80;
    cfg->backlog = 1024;
    cfg->idle_timeout = 15 * UINT64_C(1000000);
    cfg->max_requests = 1000;
    cfg->max_conns_per_client = 1024;
    cfg->date = true;
    /* As nginx's tcp_nodelay: the last partial segment of a response must
     * not wait for the ACK of the one before, which a client may delay. */
    cfg->so.nodelay = true;
}

static uint64_t now_of(const struct http_server *h)
{
    return h->clock(h->clock_ctx);
}

static void note(struct hconn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(struct hconn *c, const char *fmt, ...)
{
    struct http_server *h = c->srv;
    if (!h->note)
        return;
    char buf[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    h->note(h->note_ctx, c->sock, buf);
}

/* ---------------------------------------------------------------------- */
/* Connections and clients. */

/* One more connection from addr: 0, or 1 when the client is at the
 * limit, -1 out of memory. */
static int client_claim(struct http_server *h, int64_t addr)
{
    struct http_clients *t = h->clients;
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    struct ctab_node *n = ctab_find(&t->t, addr);
    struct client *cl = n ? CTAB_ENTRY(n, struct client, node) : NULL;
    if (!cl) {
        cl = calloc(1, sizeof *cl);
        if (!cl || ctab_insert(&t->t, &cl->node, addr) != 0) {
            free(cl);
            cl = NULL;
            rc = -1;
        }
    }
    if (cl && cl->count >= h->cfg.max_conns_per_client)
        rc = 1; /* cl->count > 0: it stays */
    else if (cl)
        cl->count++;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static void client_release(struct http_server *h, int64_t addr)
{
    struct http_clients *t = h->clients;
    pthread_mutex_lock(&t->lock);
    struct ctab_node *n = ctab_find(&t->t, addr);
    struct client *cl = n ? CTAB_ENTRY(n, struct client, node) : NULL;
    if (cl && --cl->count == 0) {
        ctab_remove(&t->t, &cl->node);
        free(cl);
    }
    pthread_mutex_unlock(&t->lock);
}

static void conn_free(struct hconn *c)
{
    struct http_server *h = c->srv;
    client_release(h, endpoint_key(&c->client));
    ctab_remove(&h->conns, &c->node);
    EVP_MD_CTX_free(c->sha);
    h->stats.open--;
    free(c);
}

/* Gives the handle back: close sends FIN after what is queued (or RST if
 * input is left unread); abort sends RST at once. */
static void conn_close(struct hconn *c, bool abort)
{
    note(c, abort ? "abort()" : "close()");
    if (abort)
        berth_abort(c->srv->st, c->sock);
    else
        berth_close(c->srv->st, c->sock);
    conn_free(c);
}

/* The connection failed (reset, timed out): nothing more can be sent. */
static void conn_fail(struct hconn *c, int err)
{
    note(c, "%s", berth_errname(err) ? berth_errname(err) : "error");
    c->srv->stats.resets++;
    conn_close(c, false);
}

/* The client's connection is claimed already (client_claim). */
static struct hconn *conn_new(struct http_server *h, int sock,
                              const struct berth_endpoint *peer)
{
    int64_t addr = endpoint_key(peer);
    struct hconn *c = calloc(1, sizeof *c);
    if (!c || ctab_insert(&h->conns, &c->node, sock) != 0) {
        free(c);
        client_release(h, addr);
        return NULL;
    }
    c->srv = h;
    c->sock = sock;
    c->client = endpoint_unmap(*peer);
    c->last_active = now_of(h);
    h->stats.open++;
    h->stats.accepted++;
    if (c->last_active + h->cfg.idle_timeout < h->next_reap)
        h->next_reap = c->last_active + h->cfg.idle_timeout;
    return c;
}

/* ---------------------------------------------------------------------- */
/* Output: the out buffer first, then the pattern stream. */

/* 0 when everything is queued in the stack, 1 when the send buffer is
 * full (WRITABLE will come), -1 when the connection is gone. */
static int flush_out(struct hconn *c)
{
    struct http_server *h = c->srv;
    while (c->out_off < c->out_len) {
        int r = berth_send(h->st, c->sock, c->out + c->out_off,
                           c->out_len - c->out_off);
        if (r == BERTH_EAGAIN)
            return 1;
        if (r < 0) {
            conn_fail(c, r);
            return -1;
        }
        note(c, "send %d B", r);
        c->out_off += (size_t)r;
        c->last_active = now_of(h);
    }
    c->out_off = c->out_len = 0;
    while (c->stream_left > 0) {
        size_t n = c->stream_left < SCRATCH ? (size_t)c->stream_left : SCRATCH;
        int r =
            berth_send(h->st, c->sock, h->pattern + (c->stream_off & 255), n);
        if (r == BERTH_EAGAIN)
            return 1;
        if (r < 0) {
            conn_fail(c, r);
            return -1;
        }
        note(c, "send %d B", r);
        c->stream_left -= (uint64_t)r;
        c->stream_off += (uint64_t)r;
        h->stats.body_bytes += (uint64_t)r;
        c->last_active = now_of(h);
    }
    return 0;
}

/* "Date: Sun, 06 Dec 2026 08:00:00 GMT\r\n" (RFC 9110 §5.6.7's
 * IMF-fixdate), formatted once a second; "" without a clock. */
static const char *date_header(struct http_server *h)
{
    if (!h->cfg.date)
        return "";
    time_t t = time(NULL);
    struct tm tm;
    if (t != h->date_sec && gmtime_r(&t, &tm)) {
        h->date_sec = t;
        strftime(h->date, sizeof h->date, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n",
                 &tm);
    }
    return h->date;
}

/* Common Log Format: host ident user [time] "request" status bytes. */
static void access_log(struct hconn *c, int status, uint64_t bytes)
{
    FILE *f = c->srv->cfg.access_log;
    if (!f)
        return;
    char ip[BERTH_ADDRSTRLEN], when[40];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) ||
        !strftime(when, sizeof when, "%d/%b/%Y:%H:%M:%S +0000", &tm))
        snprintf(when, sizeof when, "-");
    fprintf(f, "%s - - [%s] \"%s\" %d %" PRIu64 "\n",
            berth_addr_string(&c->client, ip, sizeof ip), when,
            c->reqline[0] ? c->reqline : "-", status, bytes);
    fflush(f);
}

/* Queues a complete response head (and a small body) in out. */
static void respond(struct hconn *c, int status, const char *ctype,
                    const char *body, size_t blen, uint64_t stream_len)
{
    struct http_server *h = c->srv;
    uint64_t clen = body ? blen : stream_len;
    const char *conn = !c->close_after
                           ? (c->http10 ? "Connection: keep-alive\r\n" : "")
                           : "Connection: close\r\n";
    const char *allow = status != 405         ? ""
                        : c->route == RT_SINK ? "Allow: POST, PUT\r\n"
                                              : "Allow: GET, HEAD\r\n";
    int n = snprintf(c->out + c->out_len, OUT_CAP - c->out_len,
                     "HTTP/1.1 %d %s\r\n%sServer: berth\r\n"
                     "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n"
                     "%s%s\r\n",
                     status, http_reason(status), date_header(h), ctype, clen,
                     allow, conn);
    c->out_len += (size_t)n;
    if (status >= 400)
        h->stats.errors++;
    access_log(c, status, c->head_only ? 0 : clen);
    if (c->head_only)
        return;
    if (body) {
        memcpy(c->out + c->out_len, body, blen); /* blen < OUT_CAP / 2 */
        c->out_len += blen;
        h->stats.body_bytes += blen;
    } else {
        /* The head and the start of the body leave in one send, so a small
         * response is one segment. */
        size_t k = OUT_CAP - c->out_len;
        if (k > stream_len)
            k = (size_t)stream_len;
        memcpy(c->out + c->out_len, h->pattern, k);
        c->out_len += k;
        h->stats.body_bytes += k;
        c->stream_left = stream_len - k;
        c->stream_off = k;
    }
}

static void respond_error(struct hconn *c, int status)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status, http_reason(status));
    /* A refused request's framing cannot be trusted: end the connection. */
    if (status != 404 && status != 405)
        c->close_after = true;
    respond(c, status, "text/plain", body, (size_t)n, 0);
}

/* ---------------------------------------------------------------------- */
/* Requests. */

/* "/bytes/N" with 0 <= N <= 2^40: 1 and *n, 0 if not that shape. */
static int bytes_path(const char *path, uint64_t *n)
{
    if (strncmp(path, "/bytes/", 7) != 0)
        return 0;
    const char *p = path + 7;
    uint64_t v = 0;
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > HTTP_BYTES_MAX)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > HTTP_BYTES_MAX)
        return -1;
    *n = v;
    return 1;
}

/* Chooses the answer from the head; the response itself is built once
 * the body (if any) has been read. */
static void route(struct hconn *c, const struct http_req *r)
{
    bool get = !strcmp(r->method, "GET"), head = !strcmp(r->method, "HEAD");
    int b = bytes_path(r->path, &c->bytes_n);
    c->head_only = head;
    c->status = 200;
    if (!strcmp(r->path, "/")) {
        c->route = RT_INDEX;
        if (!get && !head)
            c->status = 405;
    } else if (b != 0) {
        c->route = RT_BYTES;
        if (b < 0)
            c->status = 400;
        else if (!get && !head)
            c->status = 405;
    } else if (!strcmp(r->path, "/sink")) {
        c->route = RT_SINK;
        if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PUT") != 0)
            c->status = 405;
    } else {
        c->route = RT_ERROR;
        c->status = 404;
    }
}

/* After the body: the response. */
static void answer(struct hconn *c)
{
    if (c->status != 200) {
        respond_error(c, c->status);
    } else if (c->route == RT_INDEX) {
        respond(c, 200, "text/html; charset=utf-8", INDEX_HTML,
                sizeof INDEX_HTML - 1, 0);
    } else if (c->route == RT_BYTES) {
        respond(c, 200, "application/octet-stream", NULL, 0, c->bytes_n);
    } else {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        char text[160];
        EVP_DigestFinal_ex(c->sha, md, &mdlen);
        int n = snprintf(text, sizeof text, "%" PRIu64 " ", c->body_total);
        for (unsigned i = 0; i < mdlen; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%02x", md[i]);
        text[n++] = '\n';
        respond(c, 200, "text/plain", text, (size_t)n, 0);
    }
    EVP_MD_CTX_free(c->sha);
    c->sha = NULL;
    c->phase = PH_HEAD;
}

static EVP_MD_CTX *sha256_new(void)
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (x && !EVP_DigestInit_ex(x, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(x);
        x = NULL;
    }
    return x;
}

/* A complete head was parsed (len > 0) or refused (len < 0). */
static void on_head(struct hconn *c, const struct http_req *r, long len)
{
    struct http_server *h = c->srv;
    h->stats.requests++;
    c->nreq++;
    c->last_active = now_of(h);
    c->reqline[0] = '\0';
    if (len < 0) {
        respond_error(c, (int)-len);
        return;
    }
    snprintf(c->reqline, sizeof c->reqline, "%.15s %.120s HTTP/1.%d", r->method,
             r->path, r->minor);
    c->in_off += (size_t)len;
    c->http10 = r->minor == 0;
    route(c, r);
    if (!http_keep_alive(r) || c->nreq >= h->cfg.max_requests)
        c->close_after = true;
    /* RFC 9112 §6.3 item 7: without a length a request has no body, so a
     * POST to /sink cannot be framed: 411. */
    if (c->route == RT_SINK && c->status == 200 && !r->has_length &&
        !r->chunked)
        c->status = 411;
    if (c->route == RT_SINK && c->status == 200 && !(c->sha = sha256_new()))
        c->status = 503;
    c->chunked = r->chunked;
    c->body_left = r->has_length ? r->length : 0;
    c->body_total = 0;
    http_chunked_init(&c->ch);
    if (!r->chunked && c->body_left == 0) {
        answer(c);
        return;
    }
    /* Read the body (hashed for /sink, discarded otherwise) so the next
     * request on the connection is framed right, then answer. */
    c->phase = PH_BODY;
    if (r->expect_continue) /* RFC 9110 §10.1.1 */
        c->out_len +=
            (size_t)snprintf(c->out + c->out_len, OUT_CAP - c->out_len,
                             "HTTP/1.1 100 Continue\r\n\r\n");
}

/* ---------------------------------------------------------------------- */
/* Input: request heads, bodies, and the drain after we shut down. */

static int conn_recv(struct hconn *c, void *buf, size_t len)
{
    int r = berth_recv(c->srv->st, c->sock, buf, len);
    if (r > 0)
        note(c, "recv %d B", r);
    else if (r == 0)
        note(c, "recv EOF");
    return r;
}

static void body_data(void *ctx, const uint8_t *p, size_t n)
{
    struct hconn *c = ctx;
    if (c->sha)
        EVP_DigestUpdate(c->sha, p, n);
    c->body_total += n;
}

/* Consumes body bytes; -1 on a chunked framing error. */
static long body_feed(struct hconn *c, const uint8_t *p, size_t n, bool *done)
{
    if (c->chunked)
        return http_chunked_feed(&c->ch, p, n, body_data, c, done);
    size_t k = n < c->body_left ? n : (size_t)c->body_left;
    body_data(c, p, k);
    c->body_left -= k;
    *done = c->body_left == 0;
    return (long)k;
}

static void in_compact(struct hconn *c)
{
    if (c->in_off == 0)
        return;
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
}

/* The steps return 1 after progress, 0 when waiting for the peer, -1 when
 * the connection is gone. */
static int recv_result(struct hconn *c, int r)
{
    if (r == BERTH_EAGAIN)
        return 0;
    if (r == 0)
        conn_close(c, false); /* EOF between or inside requests */
    else
        conn_fail(c, r);
    return -1;
}

static int body_step(struct hconn *c)
{
    struct http_server *h = c->srv;
    bool done = false;
    long k;
    if (c->in_off < c->in_len) {
        k = body_feed(c, (uint8_t *)c->in + c->in_off, c->in_len - c->in_off,
                      &done);
        if (k > 0)
            c->in_off += (size_t)k;
    } else if (c->chunked) {
        /* Chunk framing can straddle reads: go through the in buffer. */
        c->in_off = c->in_len = 0;
        int r = conn_recv(c, c->in, IN_CAP);
        if (r <= 0)
            return recv_result(c, r);
        c->in_len = (size_t)r;
        return 1;
    } else {
        /* Straight into the scratch buffer, never past the body's end. */
        size_t room = c->body_left < SCRATCH ? (size_t)c->body_left : SCRATCH;
        int r = conn_recv(c, h->scratch, room);
        if (r <= 0)
            return recv_result(c, r);
        k = body_feed(c, h->scratch, (size_t)r, &done);
    }
    if (k < 0) {
        EVP_MD_CTX_free(c->sha);
        c->sha = NULL;
        c->phase = PH_HEAD;
        respond_error(c, 400);
        return 1;
    }
    c->last_active = now_of(h);
    if (done)
        answer(c);
    return 1;
}

static int head_step(struct hconn *c)
{
    if (c->in_off < c->in_len) {
        struct http_req req;
        long n =
            http_parse_head(c->in + c->in_off, c->in_len - c->in_off, &req);
        if (n == 0 && c->in_off == 0 && c->in_len == IN_CAP)
            n = -431;
        if (n != 0) {
            on_head(c, &req, n);
            return 1;
        }
    }
    in_compact(c);
    int r = conn_recv(c, c->in + c->in_len, IN_CAP - c->in_len);
    if (r <= 0)
        return recv_result(c, r);
    c->in_len += (size_t)r;
    return 1;
}

/* After our FIN: read and discard until the peer's FIN, so that closing
 * with unread input does not turn into a RST that could destroy the
 * response in flight (RFC 9112 §9.6, "lingering close"). */
static int drain_step(struct hconn *c)
{
    int r = berth_recv(c->srv->st, c->sock, c->srv->scratch, SCRATCH);
    if (r == BERTH_EAGAIN)
        return 0;
    if (r > 0)
        return 1;
    note(c, r == 0 ? "recv EOF" : "recv error");
    conn_close(c, false);
    return -1;
}

static void conn_pump(struct hconn *c)
{
    for (int i = 0; i < PUMP_ROUNDS; i++) {
        if (flush_out(c) != 0)
            return; /* WRITABLE will bring us back, or the conn is gone */
        if (c->close_after && c->phase == PH_HEAD) {
            note(c, "shutdown(WR)");
            if (berth_shutdown(c->srv->st, c->sock, BERTH_SHUT_WR) != 0) {
                conn_close(c, false);
                return;
            }
            c->close_after = false;
            c->phase = PH_DRAIN;
        }
        int r = c->phase == PH_DRAIN  ? drain_step(c)
                : c->phase == PH_BODY ? body_step(c)
                                      : head_step(c);
        if (r <= 0)
            return;
    }
    c->again = true;
    c->srv->again = true;
}

/* ---------------------------------------------------------------------- */
/* The listener, events, the reaper. */

/* "refused 37 connections from 198.18.0.1 (over --max-conns-per-client
 * 1024)" as they happen, at most one line a second: a client over the
 * limit is told about while it runs, and a flood does not flood the log. */
static void log_refusals(struct http_server *h, uint64_t now, bool force)
{
    if (!h->cfg.log || !h->refused_unlogged ||
        (!force && h->refused_ever &&
         now - h->refused_logged_at < REFUSAL_LOG_EVERY))
        return;
    char ip[BERTH_ADDRSTRLEN];
    fprintf(h->cfg.log,
            "berth http: refused %" PRIu64 " connection%s from %s (over "
            "--max-conns-per-client %" PRIu32 ")\n",
            h->refused_unlogged, h->refused_unlogged == 1 ? "" : "s",
            berth_addr_string(&h->refused_addr, ip, sizeof ip),
            h->cfg.max_conns_per_client);
    h->refused_unlogged = 0;
    h->refused_logged_at = now;
    h->refused_ever = true;
}

static void accept_all(struct http_server *h)
{
    /* Until EAGAIN: the listener reports READABLE again only after it was
     * seen empty. */
    while (h->lsn >= 0) {
        struct berth_endpoint peer;
        int s = berth_accept(h->st, h->lsn, &peer);
        if (s == BERTH_EAGAIN)
            return;
        if (s < 0) { /* out of handles or memory: try again later */
            h->retry_accept = true;
            return;
        }
        sockopts_apply(h->st, s, &h->cfg.so);
        int claim = client_claim(h, endpoint_key(&peer));
        if (claim < 0) {
            berth_abort(h->st, s);
            continue;
        }
        if (claim > 0) {
            h->stats.refused++;
            h->refused_unlogged++;
            h->refused_addr = endpoint_unmap(peer);
            log_refusals(h, now_of(h), false);
            berth_abort(h->st, s);
            continue;
        }
        struct hconn *c = conn_new(h, s, &peer);
        if (!c) {
            berth_abort(h->st, s);
            continue;
        }
        note(c, "accept()");
        conn_pump(c); /* the request may be there already */
    }
}

void http_server_event(struct http_server *h, int sock, uint32_t events)
{
    (void)events; /* the calls themselves tell what is possible */
    if (sock == h->lsn) {
        accept_all(h);
        return;
    }
    struct ctab_node *n = ctab_find(&h->conns, sock);
    if (n)
        conn_pump(CTAB_ENTRY(n, struct hconn, node));
}

static bool output_pending(const struct hconn *c)
{
    return c->out_off < c->out_len || c->stream_left > 0;
}

/* When the connection is reaped if nothing moves. Waiting for a request
 * (or for the peer's FIN after ours) is idleness: the idle timeout. A
 * request body or a response in progress is not; but a transfer that
 * makes no progress at all for four times as long is given up, so a peer
 * cannot hold a connection forever (a lossy path's retransmission backoff
 * stays well within that). */
static uint64_t reap_due(const struct hconn *c)
{
    uint64_t t = c->srv->cfg.idle_timeout;
    bool busy = c->phase == PH_BODY || output_pending(c);
    return c->last_active + (busy ? 4 * t : t);
}

static void reap(struct http_server *h, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (struct ctab_node *n = h->conns.first, *nx; n; n = nx) {
        nx = n->next;
        struct hconn *c = CTAB_ENTRY(n, struct hconn, node);
        uint64_t due = reap_due(c);
        if (now < due) {
            next = due < next ? due : next;
            continue;
        }
        h->stats.reaped++;
        note(c, "idle timeout");
        /* A peer that stopped reading gets a RST; an idle one a FIN. */
        conn_close(c, output_pending(c));
    }
    h->next_reap = next;
}

uint64_t http_server_tick(struct http_server *h, uint64_t now)
{
    if (h->retry_accept) {
        h->retry_accept = false;
        accept_all(h);
    }
    if (h->again) {
        h->again = false;
        for (struct ctab_node *n = h->conns.first, *nx; n; n = nx) {
            nx = n->next;
            struct hconn *c = CTAB_ENTRY(n, struct hconn, node);
            if (c->again) {
                c->again = false;
                conn_pump(c);
            }
        }
    }
    if (now >= h->next_reap)
        reap(h, now);
    log_refusals(h, now, false);
    if (h->again)
        return now;
    if (h->refused_unlogged && h->cfg.log) {
        uint64_t due = h->refused_logged_at + REFUSAL_LOG_EVERY;
        if (due < h->next_reap && !h->retry_accept)
            return due;
    }
    if (h->retry_accept) /* out of memory or handles: not in a busy loop */
        return now + 10000 < h->next_reap ? now + 10000 : h->next_reap;
    return h->next_reap;
}

void http_server_stop(struct http_server *h)
{
    log_refusals(h, now_of(h), true);
    if (h->lsn >= 0) {
        berth_close(h->st, h->lsn);
        h->lsn = -1;
    }
    while (h->conns.first)
        conn_close(CTAB_ENTRY(h->conns.first, struct hconn, node), false);
}

void http_server_stats(const struct http_server *h, struct http_stats *out)
{
    *out = h->stats;
}

void http_server_set_note(struct http_server *h,
                          void (*fn)(void *ctx, int sock, const char *what),
                          void *ctx)
{
    h->note = fn;
    h->note_ctx = ctx;
}

static void http_clients_put(struct http_clients *t)
{
    pthread_mutex_lock(&t->lock);
    bool last = --t->users == 0;
    pthread_mutex_unlock(&t->lock);
    if (!last)
        return;
    ctab_free(&t->t);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void http_server_share_clients(struct http_server *h, struct http_server *with)
{
    if (h->clients == with->clients)
        return;
    http_clients_put(h->clients); /* empty: no connection yet */
    pthread_mutex_lock(&with->clients->lock);
    with->clients->users++;
    pthread_mutex_unlock(&with->clients->lock);
    h->clients = with->clients;
}

struct http_server *http_server_create(struct berth_stack *s,
                                       const struct http_config *cfg,
                                       uint64_t (*clock)(void *ctx),
                                       void *clock_ctx, char *err,
                                       size_t errlen)
{
    struct http_server *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->st = s;
    h->cfg = *cfg;
    h->clock = clock;
    h->clock_ctx = clock_ctx;
    h->next_reap = UINT64_MAX;
    ctab_init(&h->conns);
    h->clients = calloc(1, sizeof *h->clients);
    if (!h->clients) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->clients->lock, NULL);
    ctab_init(&h->clients->t);
    h->clients->users = 1;
    for (size_t j = 0; j < sizeof h->pattern; j++)
        h->pattern[j] = http_pattern_byte(j);
    int r = h->lsn = berth_socket(s);
    /* Set on the listener, the options pass to every accepted socket. */
    if (r >= 0)
        r = sockopts_apply(s, h->lsn, &cfg->so);
    if (r >= 0)
        r = bind_any(s, h->lsn, cfg->port);
    if (r >= 0)
        r = berth_listen(s, h->lsn, cfg->backlog);
    if (r < 0) {
        snprintf(err, errlen, "cannot listen on port %u: %s", cfg->port,
                 berth_strerror(r));
        if (h->lsn >= 0)
            berth_close(s, h->lsn);
        http_clients_put(h->clients);
        free(h);
        return NULL;
    }
    return h;
}

void http_server_destroy(struct http_server *h)
{
    if (!h)
        return;
    while (h->conns.first) {
        struct hconn *c = CTAB_ENTRY(h->conns.first, struct hconn, node);
        conn_free(c);
    }
    ctab_free(&h->conns);
    http_clients_put(h->clients);
    free(h);
}

/* ---------------------------------------------------------------------- */
/* `berth http`: the server under the TUN runtime. */

static void http_usage(FILE *f)
{
    fprintf(
        f, "usage: berth http [--port N] [options]\n"
           "\n"
           "An HTTP/1.1 server on berth's TCP. Keep-alive by default; "
           "HTTP/1.0\n"
           "without keep-alive and 'Connection: close' get a short "
           "connection.\n"
           "  GET /          a small HTML page\n"
           "  GET /bytes/N   N bytes (N <= 2^40), byte i = (i*31+7) mod "
           "256,\n"
           "                 streamed as the send buffer drains\n"
           "  POST /sink     reads the body (Content-Length or chunked), "
           "answers\n"
           "                 \"LENGTH SHA256HEX\\n\" (PUT too)\n"
           "HEAD works wherever GET does; other paths get 404, malformed "
           "requests 400.\nConnections use NODELAY (like nginx's tcp_nodelay), "
           "so --nodelay is implied.\nResponses carry Date (RFC 9110 "
           "§6.6.1).\n"
           "\n"
           "  --port N                   port to listen on (80)\n"
           "  --idle-timeout TIME        close connections without a "
           "complete request\n"
           "                             for this long (15s); a body or "
           "response that\n"
           "                             makes no progress for 4 times as "
           "long is ended\n"
           "  --max-requests N           requests per connection (1000)\n"
           "  --max-conns-per-client N   connections per client address "
           "(1024, above\n"
           "                             wrk -c300 or ab -c1000); more are "
           "reset at once,\n"
           "                             logged as they happen (a line a "
           "second at most)\n"
           "  --access-log FILE          one line per response in Common "
           "Log Format;\n"
           "                             '-' is stdout (appended; never "
           "through a symlink)\n"
           "  --backlog N                listen backlog (1024)\n"
           "  --threads N                shards: N stacks, one thread each "
           "(pinned),\n"
           "                             over a multiqueue TUN device; "
           "'auto' or\n"
           "                             default: the online CPUs; 1: one "
           "thread\n"
           "\n");
    common_usage(f);
}

static int http_option(struct common *c, struct http_config *hc, int argc,
                       char **argv, int *i)
{
    const char *v;
    uint64_t n;
    int r;
    if ((r = opt_value(c->prog, argc, argv, i, "--port", &v)) != 0)
        return r < 0 ? -1 : parse_port(c->prog, v, &hc->port);
    if ((r = opt_value(c->prog, argc, argv, i, "--idle-timeout", &v)) != 0)
        return r < 0 ? -1
                     : parse_time(c->prog, "--idle-timeout", v,
                                  &hc->idle_timeout);
    if ((r = opt_value(c->prog, argc, argv, i, "--max-requests", &v)) != 0) {
        if (r < 0 ||
            parse_uint(c->prog, "--max-requests", v, 1, UINT32_MAX, &n) != 0)
            return -1;
        hc->max_requests = (uint32_t)n;
        return 0;
    }
    if ((r = opt_value(c->prog, argc, argv, i, "--max-conns-per-client", &v)) !=
        0) {
        if (r < 0 || parse_uint(c->prog, "--max-conns-per-client", v, 1,
                                UINT32_MAX, &n) != 0)
            return -1;
        hc->max_conns_per_client = (uint32_t)n;
        return 0;
    }
    if ((r = opt_value(c->prog, argc, argv, i, "--access-log", &v)) != 0) {
        if (r < 0)
            return -1;
        hc->access_log_path = v;
        return 0;
    }
    if ((r = opt_value(c->prog, argc, argv, i, "--backlog", &v)) != 0) {
        if (r < 0 || parse_uint(c->prog, "--backlog", v, 1, 65535, &n) != 0)
            return -1;
        hc->backlog = (int)n;
        return 0;
    }
    return common_option_last(c, 0, argc, argv, i);
}

/* One server per shard, each on its own shard's stack and thread. */
struct http_run {
    struct berth_rt *rt;
    struct http_server *srv;
};

static uint64_t rt_clock(void *ctx)
{
    return berth_rt_now(ctx);
}

static void run_event(void *ctx, int sock, uint32_t events)
{
    struct http_run *run = ctx;
    http_server_event(run->srv, sock, events);
}

static uint64_t run_tick(void *ctx, uint64_t now)
{
    struct http_run *run = ctx;
    return http_server_tick(run->srv, now);
}

static void run_stop(void *ctx)
{
    struct http_run *run = ctx;
    http_server_stop(run->srv);
}

/* `--threads N`: 1 to 64, or "auto" for the online CPUs. */
static int parse_threads(const char *prog, const char *v, unsigned *out)
{
    uint64_t n;
    if (!strcmp(v, "auto")) {
        *out = common_default_threads();
        return 0;
    }
    if (parse_uint(prog, "--threads", v, 1, 64, &n) != 0)
        return -1;
    *out = (unsigned)n;
    return 0;
}

int cmd_http(int argc, char **argv)
{
    struct common c;
    struct http_config hc;
    unsigned threads = common_default_threads();
    common_init(&c, "berth http");
    http_config_init(&hc);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            http_usage(stdout);
            return 0;
        }
        const char *v;
        int r = opt_value(c.prog, argc, argv, &i, "--threads", &v);
        if (r != 0) {
            if (r < 0 || parse_threads(c.prog, v, &threads) != 0)
                return EXIT_USAGE;
            continue;
        }
        if (http_option(&c, &hc, argc, argv, &i) != 0)
            return EXIT_USAGE;
    }
    if (common_finish(&c) != 0)
        return EXIT_USAGE;
    hc.so.keepalive = c.so.keepalive;
    hc.log = stderr;

    struct http_run run[64] = {{0}};
    char err[320];
    if (hc.access_log_path && !strcmp(hc.access_log_path, "-")) {
        hc.access_log = stdout;
    } else if (hc.access_log_path) {
        int fd =
            berth_rt_create_file(hc.access_log_path, true, err, sizeof err);
        if (fd < 0 || !(hc.access_log = fdopen(fd, "a"))) {
            error_line(c.prog, "%s", fd < 0 ? err : strerror(errno));
            if (fd >= 0)
                close(fd);
            return 1;
        }
    }
    struct berth_rt_group *g = common_rt_group_create(&c, threads);
    if (!g) {
        if (hc.access_log && hc.access_log != stdout)
            fclose(hc.access_log);
        return 1;
    }
    /* A listener on every shard, as SO_REUSEPORT gives each worker its
     * own: the steering sends each connection to one of them. */
    unsigned n = berth_rt_group_size(g), made = 0;
    for (; made < n; made++) {
        struct http_run *u = &run[made];
        u->rt = berth_rt_group_shard(g, made);
        u->srv = http_server_create(berth_rt_stack(u->rt), &hc, rt_clock, u->rt,
                                    err, sizeof err);
        if (!u->srv)
            break;
        if (made > 0) /* one per-client limit for all shards */
            http_server_share_clients(u->srv, run[0].srv);
        struct berth_rt_app app = {run_event, run_tick, run_stop, u};
        berth_rt_set_app(u->rt, &app);
    }
    int r = -1;
    if (made == n) {
        print_listening(&c, berth_rt_group_shard(g, 0), "listening", hc.port);
        r = berth_rt_group_run(g);
    } else {
        error_line(c.prog, "%s", err);
    }
    struct http_stats st = {0};
    for (unsigned i = 0; i < made; i++) {
        struct http_stats one;
        http_server_stats(run[i].srv, &one);
        st.requests += one.requests;
        st.accepted += one.accepted;
        st.refused += one.refused;
        st.reaped += one.reaped;
        http_server_destroy(run[i].srv);
    }
    if (made == n)
        fprintf(stderr,
                "%s: stopped: %" PRIu64 " requests on %" PRIu64
                " connections (%" PRIu64 " refused, %" PRIu64 " reaped)\n",
                c.prog, st.requests, st.accepted, st.refused, st.reaped);
    berth_rt_group_destroy(g);
    if (hc.access_log && hc.access_log != stdout)
        fclose(hc.access_log);
    if (made < n)
        return 1;
    if (r < 0) {
        error_line(c.prog, "event loop failed: %s", strerror(-r));
        return 1;
    }
    return 0;
}
