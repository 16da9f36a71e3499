/* The applications: each connection has an end on each side that opens or
 * accepts, writes its stream in random pieces with pauses, reads with
 * random sizes and stalls, and finishes the way its plan says. They act on
 * readiness events and on their own timers, like a real event loop, and
 * use the public API only. What they see is handed to check.c. */
#include <string.h>

#include "sim.h"

#define IO_ROUNDS     64 /* calls per kick before yielding to others */
#define IO_BUF        (64 * 1024)
#define REFUSED_PORT0 2000 /* + conn id: nobody listens there */

static uint8_t io_buf[IO_BUF];

static void setopt_ok(struct world *w, int side, int sock, enum berth_opt opt,
                      int64_t v)
{
    int r = berth_setopt(w->st[side], sock, opt, v);
    if (r != 0)
        world_fail(w, INV_API, "setopt %d = %lld on side %c returned %s",
                   (int)opt, (long long)v, 'A' + side, berth_errname(r));
}

/* Options that must come before connect or listen. */
static void apply_early_opts(struct world *w, int side, int sock,
                             const struct sock_opts *o)
{
    if (o->sndbuf)
        setopt_ok(w, side, sock, BERTH_OPT_SNDBUF, o->sndbuf);
    if (o->rcvbuf)
        setopt_ok(w, side, sock, BERTH_OPT_RCVBUF, o->rcvbuf);
    if (o->maxseg)
        setopt_ok(w, side, sock, BERTH_OPT_MAXSEG, o->maxseg);
}

static void apply_opts(struct world *w, int side, int sock,
                       const struct sock_opts *o)
{
    if (o->nodelay)
        setopt_ok(w, side, sock, BERTH_OPT_NODELAY, 1);
    if (o->cc >= 0)
        setopt_ok(w, side, sock, BERTH_OPT_CONGESTION, o->cc);
    if (o->keepidle) {
        setopt_ok(w, side, sock, BERTH_OPT_KEEPIDLE, (int64_t)o->keepidle);
        setopt_ok(w, side, sock, BERTH_OPT_KEEPINTVL, (int64_t)o->keepintvl);
        setopt_ok(w, side, sock, BERTH_OPT_KEEPCNT, o->keepcnt);
        setopt_ok(w, side, sock, BERTH_OPT_KEEPALIVE, 1);
    }
    if (o->user_timeout)
        setopt_ok(w, side, sock, BERTH_OPT_USER_TIMEOUT,
                  (int64_t)o->user_timeout);
}

/* ---------------------------------------------------------------------- */
/* Opening. */

#define REUSE_RETRY    (1 * SIM_SEC)
#define REUSE_ATTEMPTS 600 /* ten minutes of trying */

enum opened { OPEN_OK, OPEN_FAILED, OPEN_RETRY };

/* A port or 4-tuple still held by an earlier connection (its handle, or
 * TIME-WAIT on this side) refuses a reusing one; the application tries
 * again a second later, as a client bound to a fixed port would. */
static enum opened end_refused_reuse(struct world *w, struct conn *c, int side,
                                     int r, const char *call)
{
    struct end *e = &c->e[side];
    bool busy = r == BERTH_EADDRINUSE || r == BERTH_EADDRNOTAVAIL;
    if (c->reuse < 0 || !busy) {
        world_fail(w, INV_API, "conn %d: %s on %c returned %s", c->id, call,
                   'A' + side, berth_errname(r));
        return OPEN_FAILED;
    }
    world_log(w, side, "conn %d: %s: %s, again later", c->id, call,
              berth_errname(r));
    world_unmap_sock(w, side, e->sock);
    berth_close(w->st[side], e->sock);
    e->sock = -1;
    e->st = END_UNBORN;
    return OPEN_RETRY;
}

static enum opened end_connect(struct world *w, struct conn *c, int side,
                               uint16_t rport)
{
    struct end *e = &c->e[side];
    struct berth_stack *st = w->st[side];
    world_sync(w, side);
    int h = berth_socket(st);
    if (h < 0) {
        world_fail(w, INV_API, "conn %d: berth_socket on %c: %s", c->id,
                   'A' + side, berth_errname(h));
        return OPEN_FAILED;
    }
    e->sock = h;
    e->st = END_CONNECTING;
    e->born_at = w->now;
    world_map_sock(w, side, h, 1, c->id);
    apply_early_opts(w, side, h, &e->p.opts);
    apply_opts(w, side, h, &e->p.opts);
    struct berth_endpoint me6 =
                              berth_endpoint_v6(sim_addr6[side], c->port[side]),
                          to6 = berth_endpoint_v6(sim_addr6[1 - side], rport);
    int r = !c->port[side] ? 0
            : c->v6        ? berth_bind_endpoint(st, h, &me6)
                           : berth_bind(st, h, SIM_ADDR(side), c->port[side]);
    if (r != 0)
        return end_refused_reuse(w, c, side, r, "bind");
    w->connecting = c;
    r = c->v6 ? berth_connect_endpoint(st, h, &to6)
              : berth_connect(st, h, SIM_ADDR(1 - side), rport);
    w->connecting = NULL;
    if (r != BERTH_EINPROGRESS)
        return end_refused_reuse(w, c, side, r, "connect");
    w->connects[side]++;
    struct berth_endpoint me;
    if (berth_getsockname(st, h, &me) == 0)
        c->port[side] = me.port;
    world_log(w, side, "conn %d: connect %u -> %u (%s%s, sends %llu)", c->id,
              c->port[side], rport, c->v6 ? "IPv6, " : "",
              close_style_name(e->p.close), (unsigned long long)e->p.total);
    return OPEN_OK;
}

static void end_close_now(struct world *w, struct conn *c, int side);

/* Returns false when the application will try again later. */
bool app_open(struct world *w, struct conn *c)
{
    int i = c->init_side;
    /* A reusing application waits for the earlier one to have closed; its
     * 4-tuple may then still linger (TIME-WAIT, a FIN not yet acked). */
    if (c->reuse >= 0 && (w->conns[c->reuse].e[i].st != END_DONE ||
                          c->attempts >= REUSE_ATTEMPTS)) {
        if (c->attempts++ >= REUSE_ATTEMPTS) {
            world_log(w, i, "conn %d: never got its 4-tuple", c->id);
            c->e[0].st = c->e[1].st = END_DONE;
            return true;
        }
        c->open_at = w->now + REUSE_RETRY;
        return false;
    }
    switch (c->kind) {
    case CONN_NORMAL:
        c->port[1 - i] = w->lsn[c->listener].port;
        if (c->reuse >= 0)
            c->port[i] = w->conns[c->reuse].port[i];
        break;
    case CONN_REFUSED:
        c->port[1 - i] = (uint16_t)(REFUSED_PORT0 + c->id);
        break;
    case CONN_SIMOPEN:
        /* Both SYNs leave at this instant and cross on the link. */
        end_connect(w, c, 1 - i, c->port[i]);
        break;
    }
    enum opened r = end_connect(w, c, i, c->port[1 - i]);
    if (r == OPEN_RETRY) {
        c->attempts++;
        c->open_at = w->now + REUSE_RETRY;
        return false;
    }
    if (r == OPEN_OK && c->e[i].p.close == CLOSE_IN_HANDSHAKE) {
        c->e[i].reset = true; /* the TCB goes silently (RFC 9293 §3.10.4) */
        end_close_now(w, c, i);
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Finishing. */

static void end_done(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (e->sock >= 0)
        world_unmap_sock(w, side, e->sock);
    e->sock = -1;
    e->st = END_DONE;
    e->send_at = e->recv_at = e->close_at = 0;
}

static void end_close_now(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    world_sync(w, side);
    if (!e->reset && !e->fin) {
        e->fin = true;
        e->sent_at_fin = e->sent;
    }
    int r = berth_close(w->st[side], e->sock);
    world_log(w, side, "conn %d: close%s (sent %llu, read %llu)", c->id,
              e->reset ? " (reset)" : "", (unsigned long long)e->sent,
              (unsigned long long)e->received);
    if (r != 0)
        world_fail(w, INV_API, "conn %d: close on %c returned %s", c->id,
                   'A' + side, berth_errname(r));
    end_done(w, c, side);
}

/* The application resets the connection on purpose. */
static void end_reset(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    struct berth_stack *st = w->st[side];
    world_sync(w, side);
    e->reset = true;
    switch (e->p.close) {
    case CLOSE_LINGER0:
        setopt_ok(w, side, e->sock, BERTH_OPT_LINGER, 0);
        end_close_now(w, c, side);
        return;
    case CLOSE_UNREAD:
        end_close_now(w, c, side);
        return;
    default:
        world_log(w, side, "conn %d: abort (sent %llu, read %llu)", c->id,
                  (unsigned long long)e->sent, (unsigned long long)e->received);
        if (berth_abort(st, e->sock) != 0)
            world_fail(w, INV_API, "conn %d: abort on %c failed", c->id,
                       'A' + side);
        end_done(w, c, side);
    }
}

static void end_error(struct world *w, struct conn *c, int side, int err)
{
    struct end *e = &c->e[side];
    if (!e->err)
        e->err = err;
    if (err == BERTH_ECONNREFUSED)
        w->refused[side]++;
    world_log(w, side, "conn %d: error %s", c->id, berth_errname(err));
    check_error_seen(w, c, side, err);
    /* What an application does on an error: give the socket back. */
    world_sync(w, side);
    if (berth_close(w->st[side], e->sock) != 0)
        world_fail(w, INV_API, "conn %d: close after error failed", c->id);
    end_done(w, c, side);
}

void app_give_up(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (e->st == END_DONE)
        return;
    e->gave_up = true;
    if (!conn_licensed(w, c, side))
        world_fail(w, INV_STALL,
                   "conn %d: %c end never finished (%s, sent %llu/%llu, read "
                   "%llu/%llu%s; states %s | %s)",
                   c->id, 'A' + side, close_style_name(e->p.close),
                   (unsigned long long)e->sent, (unsigned long long)e->p.total,
                   (unsigned long long)e->received,
                   (unsigned long long)c->e[1 - side].p.total,
                   e->eof ? ", EOF" : "", c->path[0], c->path[1]);
    if (e->sock >= 0) {
        world_sync(w, side);
        world_log(w, side, "conn %d: gives up", c->id);
        berth_abort(w->st[side], e->sock);
    }
    end_done(w, c, side);
}

static bool abortive(enum close_style s)
{
    return s == CLOSE_ABORT || s == CLOSE_LINGER0 || s == CLOSE_UNREAD;
}

/* ---------------------------------------------------------------------- */
/* Reading and writing. */

static bool end_read(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    struct end *peer = &c->e[1 - side];
    if (e->eof || (e->recv_at && e->recv_at > w->now))
        return true;
    e->recv_at = 0;
    for (int i = 0; i < IO_ROUNDS; i++) {
        size_t n = (size_t)rnd_range(&e->p.dice, 1, e->p.max_recv);
        int r = berth_recv(w->st[side], e->sock, io_buf, n);
        if (r == BERTH_EAGAIN)
            return true;
        if (r < 0) {
            end_error(w, c, side, r);
            return false;
        }
        if (r == 0) {
            e->eof = true;
            world_log(w, side, "conn %d: EOF after %llu bytes", c->id,
                      (unsigned long long)e->received);
            check_eof(w, c, side);
            return true;
        }
        size_t bad = stream_check(peer->p.seed, e->received, io_buf, (size_t)r);
        if ((bad < (size_t)r || e->received + (uint64_t)r > peer->sent) &&
            !e->bad_data) {
            e->bad_data = true;
            world_fail(w, INV_DATA,
                       "conn %d: %c read byte %llu wrong (peer wrote %llu)",
                       c->id, 'A' + side,
                       (unsigned long long)(e->received + bad),
                       (unsigned long long)peer->sent);
        }
        e->rx_hash = fnv1a(e->rx_hash, io_buf, (size_t)r);
        e->received += (uint64_t)r;
        if (e->p.read_stall_pct && rnd_pct(&e->p.dice, e->p.read_stall_pct)) {
            e->recv_at = w->now + rnd_log(&e->p.dice, 1, e->p.read_stall_max);
            return true;
        }
    }
    world_push(w, side, 1, c->id); /* more may be waiting: come back */
    return true;
}

static bool end_write(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (e->fin || (e->send_at && e->send_at > w->now))
        return true;
    e->send_at = 0;
    for (int i = 0; i < IO_ROUNDS && e->sent < e->p.total; i++) {
        uint64_t n = rnd_range(&e->p.dice, 1, e->p.max_send);
        if (n > e->p.total - e->sent)
            n = e->p.total - e->sent;
        stream_fill(e->p.seed, e->sent, io_buf, (size_t)n);
        e->writing = n;
        int r = berth_send(w->st[side], e->sock, io_buf, (size_t)n);
        e->writing = 0;
        if (r == BERTH_EAGAIN)
            return true; /* WRITABLE comes back as an event */
        if (r < 0) {
            end_error(w, c, side, r);
            return false;
        }
        e->tx_hash = fnv1a(e->tx_hash, io_buf, (size_t)r);
        e->sent += (uint64_t)r;
        if (e->p.send_pause_pct && rnd_pct(&e->p.dice, e->p.send_pause_pct)) {
            e->send_at = w->now + rnd_log(&e->p.dice, 1, e->p.send_pause_max);
            return true;
        }
    }
    if (e->sent < e->p.total)
        world_push(w, side, 1, c->id); /* more to write: come back */
    return true;
}

/* ---------------------------------------------------------------------- */
/* The close styles. */

static bool both_finished(const struct conn *c)
{
    for (int s = 0; s < 2; s++) {
        const struct end *e = &c->e[s];
        if (e->st != END_OPEN || e->sent < e->p.total ||
            e->received < c->e[1 - s].p.total)
            return false;
    }
    return true;
}

void app_simultaneous_close(struct world *w, struct conn *c)
{
    world_log(w, 0, "conn %d: both ends close at once", c->id);
    end_close_now(w, c, 0);
    end_close_now(w, c, 1);
}

/* Whether this end has done all its plan asks before closing. */
static bool end_ready_to_close(const struct conn *c, const struct end *e)
{
    bool sent = e->sent == e->p.total;
    switch (e->p.close) {
    case CLOSE_SHUTDOWN:
        return e->fin && e->eof;
    case CLOSE_WHEN_READ:
        return sent && e->received == c->e[1 - e->side].p.total;
    case CLOSE_SIMULTANEOUS:
        return false; /* both_finished() decides */
    default:
        return sent && e->eof;
    }
}

static void end_finish(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (e->p.close == CLOSE_SHUTDOWN && !e->fin && e->sent == e->p.total) {
        world_sync(w, side);
        e->fin = true;
        e->sent_at_fin = e->sent;
        int r = berth_shutdown(w->st[side], e->sock, BERTH_SHUT_WR);
        world_log(w, side, "conn %d: shutdown(WR) after %llu bytes", c->id,
                  (unsigned long long)e->sent);
        if (r != 0)
            world_fail(w, INV_API, "conn %d: shutdown on %c returned %s", c->id,
                       'A' + side, berth_errname(r));
    }
    if (e->p.close == CLOSE_SIMULTANEOUS && both_finished(c)) {
        app_simultaneous_close(w, c);
        return;
    }
    if (!e->close_at && end_ready_to_close(c, e))
        e->close_at = w->now + e->p.close_delay;
    if (e->close_at && e->close_at <= w->now)
        end_close_now(w, c, side);
}

/* The abortive styles, once their moment has come. Returns true if the
 * end is gone. */
static bool end_maybe_reset(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (!abortive(e->p.close) || w->now < e->born_at + e->p.abort_after)
        return false;
    if (e->p.close == CLOSE_UNREAD) {
        /* Only a close with bytes waiting makes the point. */
        struct berth_tcp_info info;
        if (berth_getinfo(w->st[side], e->sock, &info) != 0 ||
            info.rcv_queued == 0)
            return false;
    }
    end_reset(w, c, side);
    return true;
}

static bool end_connecting(struct world *w, struct conn *c, int side,
                           uint32_t ev)
{
    struct end *e = &c->e[side];
    if (ev & BERTH_EV_ERROR) {
        int err = berth_sock_error(w->st[side], e->sock);
        end_error(w, c, side, err ? err : BERTH_EINVAL);
        return false;
    }
    if (!(ev & BERTH_EV_WRITABLE))
        return false;
    e->st = END_OPEN;
    world_log(w, side, "conn %d: connected", c->id);
    return true;
}

static void end_kick(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    world_sync(w, side);
    uint32_t ev = berth_poll(w->st[side], e->sock);
    if (w->verbose >= 3)
        world_log(w, side, "conn %d: kick, events %#x", c->id, ev);
    if (e->st == END_CONNECTING && !end_connecting(w, c, side, ev))
        return;
    if (ev & BERTH_EV_ERROR) {
        int err = berth_sock_error(w->st[side], e->sock);
        if (err) {
            end_error(w, c, side, err);
            return;
        }
    }
    if (e->st == END_OPEN)
        check_rtt(w, c, side);
    if (end_maybe_reset(w, c, side))
        return;
    /* CLOSE_UNREAD keeps data waiting once its moment is near. */
    bool hold = e->p.close == CLOSE_UNREAD &&
                e->received < c->e[1 - side].p.total &&
                w->now + 50 * SIM_MS >= e->born_at + e->p.abort_after;
    if (!hold && !end_read(w, c, side))
        return;
    if (!end_write(w, c, side))
        return;
    end_finish(w, c, side);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return b && (!a || b < a) ? b : a;
}

/* One wake-up per end, at its earliest pending timer still in the future:
 * a timer that has passed without effect (nothing unread to close on)
 * must not spin the loop; events wake the end instead. */
static void end_rearm(struct world *w, struct end *e)
{
    e->wake_at = 0;
    if (e->st != END_OPEN && e->st != END_CONNECTING)
        return;
    uint64_t cand[4] = {e->send_at, e->recv_at, e->close_at,
                        abortive(e->p.close) ? e->born_at + e->p.abort_after
                                             : 0};
    for (int i = 0; i < 4; i++)
        if (cand[i] > w->now)
            e->wake_at = earliest(e->wake_at, cand[i]);
}

void app_end_kick(struct world *w, struct conn *c, int side)
{
    struct end *e = &c->e[side];
    if (e->st != END_CONNECTING && e->st != END_OPEN)
        return;
    end_kick(w, c, side);
    end_rearm(w, e);
}

/* ---------------------------------------------------------------------- */
/* Listeners. */

static void listener_close(struct world *w, struct listener *l);

static void listener_open(struct world *w, struct listener *l, int idx)
{
    struct berth_stack *st = w->st[l->side];
    int h = berth_socket(st);
    /* With IPv6, on :: (both families, RFC 3493 §3.7). */
    struct berth_endpoint any6 = berth_endpoint_v6((uint8_t[16]){0}, l->port);
    if (h < 0 || (w->family == FAMILY_IPV4
                      ? berth_bind(st, h, SIM_ADDR(l->side), l->port)
                      : berth_bind_endpoint(st, h, &any6)) != 0) {
        world_fail(w, INV_API, "listener %u: socket/bind failed", l->port);
        return;
    }
    apply_early_opts(w, l->side, h, &l->opts);
    apply_opts(w, l->side, h, &l->opts);
    if (berth_listen(st, h, l->backlog) != 0) {
        world_fail(w, INV_API, "listener %u: listen failed", l->port);
        return;
    }
    l->sock = h;
    world_map_sock(w, l->side, h, 2, idx);
    world_log(w, l->side, "listen on %u, backlog %d%s", l->port, l->backlog,
              l->accept_delay_max ? ", slow accepter" : "");
}

static void listener_born(struct world *w, struct listener *l, int h,
                          uint16_t rport)
{
    struct conn *c = world_find_conn(w, l->side, l->port, rport);
    struct end *e = c ? &c->e[l->side] : NULL;
    if (c && c->kind == CONN_NORMAL && e->st == END_DONE &&
        berth_counter(w->st[l->side], BERTH_CTR_SYNCOOKIES_RECV) > 0) {
        /* A SYN cookie keeps no state (RFC 4987 §3.6): a late copy of a
         * segment at IRS+1 of a cookie connection that has already ended
         * (an abort leaves no TIME-WAIT) passes the check again and opens
         * it again, as on Linux. Its peer no longer has it; this end
         * resets the copy (the peer's RST would end it anyway). */
        w->ghosts[l->side]++;
        c->ghost[l->side] = true;
        world_log(w, l->side,
                  "conn %d: a late cookie ACK from %u opened it again: reset",
                  c->id, rport);
        berth_abort(w->st[l->side], h);
        return;
    }
    if (!c || c->kind != CONN_NORMAL || e->st != END_UNBORN) {
        world_fail(w, INV_API,
                   "listener %u accepted an unexpected connection from %u",
                   l->port, rport);
        berth_abort(w->st[l->side], h);
        return;
    }
    e->sock = h;
    e->st = END_OPEN;
    e->born_at = w->now;
    world_map_sock(w, l->side, h, 1, c->id);
    apply_opts(w, l->side, h, &e->p.opts);
    world_log(w, l->side, "conn %d: accepted from %u (%s, sends %llu)", c->id,
              rport, close_style_name(e->p.close),
              (unsigned long long)e->p.total);
    app_end_kick(w, c, l->side);
}

void app_listener_kick(struct world *w, struct listener *l)
{
    if (l->sock < 0 || (l->accept_at && l->accept_at > w->now))
        return;
    l->accept_at = 0;
    world_sync(w, l->side);
    for (int i = 0; i < IO_ROUNDS; i++) {
        struct berth_endpoint peer;
        int h = berth_accept(w->st[l->side], l->sock, &peer);
        if (h == BERTH_EAGAIN)
            return;
        if (h < 0) {
            world_fail(w, INV_API, "accept on %u: %s", l->port,
                       berth_errname(h));
            return;
        }
        l->accepted++;
        listener_born(w, l, h, peer.port);
        if (l->accept_delay_max) {
            /* A slow accepter: the accept queue fills behind it. */
            l->accept_at = w->now + rnd_log(&l->dice, 1, l->accept_delay_max);
            return;
        }
    }
    world_push(w, l->side, 2, (int)(l - w->lsn));
}

/* Connections in its queues are reset (as Linux does); later SYNs to its
 * port are refused. */
static void listener_close(struct world *w, struct listener *l)
{
    l->closed = true;
    if (l->sock < 0)
        return;
    world_sync(w, l->side);
    world_log(w, l->side, "close listener %u", l->port);
    world_unmap_sock(w, l->side, l->sock);
    if (berth_close(w->st[l->side], l->sock) != 0)
        world_fail(w, INV_API, "close listener %u failed", l->port);
    l->sock = -1;
}

void app_close_listeners(struct world *w)
{
    for (int i = 0; i < w->nlsn; i++)
        listener_close(w, &w->lsn[i]);
}

void app_open_listeners(struct world *w)
{
    for (int i = 0; i < w->nlsn; i++)
        listener_open(w, &w->lsn[i], i);
}

/* ---------------------------------------------------------------------- */
/* Timers and completion. */

/* Runs what is due at `now`: connections to open, ends and listeners whose
 * timer has come. */
void app_run_timers(struct world *w)
{
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (!c->opened && c->open_at <= w->now) {
            c->opened = true;
            c->open_seq = w->nopened++;
            c->opened = app_open(w, c);
        }
        for (int s = 0; s < 2; s++) {
            struct end *e = &c->e[s];
            if (e->wake_at && e->wake_at <= w->now) {
                e->wake_at = 0;
                app_end_kick(w, c, s);
            }
        }
    }
    for (int i = 0; i < w->nlsn; i++) {
        struct listener *l = &w->lsn[i];
        if (l->accept_at && l->accept_at <= w->now)
            app_listener_kick(w, l);
        if (l->close_at && l->close_at <= w->now && !l->closed)
            listener_close(w, l);
    }
}

/* The earliest instant an application wants to act at; UINT64_MAX if
 * none. Every pending timer is in the future (see end_rearm). */
uint64_t app_next_timer(const struct world *w)
{
    uint64_t t = 0;
    for (int i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        if (!c->opened)
            t = earliest(t, c->open_at);
        t = earliest(t, c->e[0].wake_at);
        t = earliest(t, c->e[1].wake_at);
    }
    for (int i = 0; i < w->nlsn; i++)
        if (w->lsn[i].sock >= 0)
            t = earliest(t, w->lsn[i].accept_at);
    return t ? t : UINT64_MAX;
}

/* An unborn passive end may stay so only when its initiator is done and
 * had reason not to be accepted. */
static bool end_settled(const struct world *w, const struct conn *c, int side)
{
    const struct end *e = &c->e[side];
    if (e->st == END_DONE)
        return true;
    if (e->st != END_UNBORN || c->kind == CONN_SIMOPEN)
        return false;
    if (c->kind == CONN_REFUSED)
        return side != c->init_side && c->e[c->init_side].st == END_DONE;
    const struct end *peer = &c->e[1 - side];
    return peer->st == END_DONE && conn_licensed(w, c, side);
}

bool app_all_done(const struct world *w)
{
    for (int i = 0; i < w->nconns; i++)
        for (int s = 0; s < 2; s++)
            if (!end_settled(w, &w->conns[i], s))
                return false;
    return true;
}

bool end_abortive(const struct end *e)
{
    return abortive(e->p.close) || e->p.close == CLOSE_IN_HANDSHAKE ||
           e->reset || e->gave_up;
}
