/* berth-sim: the event log's invariants (docs/events.md). Each stack logs
 * through its own hook, and the link checks the logs against what it
 * carries: every segment the link carried appears in exactly one log as
 * sent (its sender's: the log's entry is made just before the transmit
 * hook, so the tap must find it pending there and nowhere else), every
 * intact copy delivered appears in the receiver's log as received, and
 * the states the log reports are those berth_getinfo() reports. */
#include "sim.h"

#include <string.h>

static bool same_segment(const struct berth_segment *a,
                         const struct berth_segment *b)
{
    return a->src.port == b->src.port && a->dst.port == b->dst.port &&
           a->seq == b->seq && a->ack == b->ack && a->flags == b->flags &&
           a->len == b->len && a->win == b->win;
}

static void describe(char *buf, size_t size, const struct berth_segment *g)
{
    char fl[32];
    berth_flags_string(g->flags, fl, sizeof fl);
    snprintf(buf, size, "%u>%u %s seq %u ack %u len %u", g->src.port,
             g->dst.port, fl, g->seq, g->ack, g->len);
}

void events_on_log(void *ctx, const struct berth_log_event *ev)
{
    struct side_ctx *h = ctx;
    struct world *w = h->w;
    struct sim_events *e = &w->ev;
    int side = h->side;
    char d[96];
    e->logged[side]++;
    if (e->log[side])
        berth_events_hook(e->log[side], ev);
    switch (ev->kind) {
    case BERTH_LOG_SEG_OUT:
        if (e->out_pending[side]) {
            describe(d, sizeof d, &e->out[side]);
            world_fail(w, INV_EVENTS,
                       "side %d logged a segment the link never carried: %s",
                       side, d);
        }
        e->out[side] = *ev->seg;
        e->out_pending[side] = true;
        break;
    case BERTH_LOG_SEG_IN:
        if (!e->in_pending[side] && !e->in_corrupted[side]) {
            describe(d, sizeof d, ev->seg);
            world_fail(w, INV_EVENTS,
                       "side %d logged a received segment the link did not "
                       "deliver: %s",
                       side, d);
        } else if (e->in_pending[side] &&
                   !same_segment(&e->in[side], ev->seg)) {
            describe(d, sizeof d, ev->seg);
            world_fail(w, INV_EVENTS,
                       "side %d logged as received %s, not what the link "
                       "delivered",
                       side, d);
        }
        e->in_pending[side] = false;
        e->in_corrupted[side] = false;
        break;
    case BERTH_LOG_STATE: {
        struct conn *c =
            world_find_conn(w, side, ev->local.port, ev->remote.port);
        if (c)
            c->log_state[side] = ev->u.state.to;
        e->states_changed = true;
        break;
    }
    default:
        break;
    }
}

void events_on_tap(struct world *w, int from, const uint8_t *pkt, size_t len)
{
    struct sim_events *e = &w->ev;
    struct berth_segment g;
    char d[96];
    e->carried++;
    if (berth_decode(pkt, len, &g) != 0) {
        world_fail(w, INV_EVENTS, "side %d sent a packet that does not decode",
                   from);
        return;
    }
    if (e->out_pending[1 - from] && same_segment(&e->out[1 - from], &g)) {
        describe(d, sizeof d, &g);
        world_fail(w, INV_EVENTS, "side %d's segment %s is in side %d's log",
                   from, d, 1 - from);
    }
    if (!e->out_pending[from] || !same_segment(&e->out[from], &g)) {
        describe(d, sizeof d, &g);
        world_fail(w, INV_EVENTS,
                   "the link carried %s from side %d: not in its log", d, from);
    }
    e->out_pending[from] = false;
}

void events_on_rx(struct world *w, int to, const uint8_t *pkt, size_t len,
                  bool corrupted)
{
    struct sim_events *e = &w->ev;
    char d[96];
    if (e->in_pending[to]) {
        describe(d, sizeof d, &e->in[to]);
        world_fail(w, INV_EVENTS,
                   "side %d was delivered %s intact: not in its log", to, d);
    }
    e->in_pending[to] = false;
    e->in_corrupted[to] = corrupted; /* may pass or fail the checksum */
    if (corrupted)
        return;
    if (berth_decode(pkt, len, &e->in[to]) == 0)
        e->in_pending[to] = true;
}

void events_check_states(struct world *w)
{
    /* After any state change anywhere, every socket: a change the log
     * missed shows at the next one it did not. */
    if (!w->ev.states_changed)
        return;
    w->ev.states_changed = false;
    for (int i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        for (int side = 0; side < 2; side++) {
            struct berth_tcp_info info;
            int h = c->e[side].sock;
            if (h < 0 || berth_getinfo(w->st[side], h, &info) != 0)
                continue;
            /* The socket's own connection: with a reused 4-tuple the log's
             * newest may be another's. */
            if (world_find_conn(w, side, info.local.port, info.remote.port) !=
                c)
                continue;
            if (info.state != c->log_state[side])
                world_fail(w, INV_EVENTS,
                           "conn %d side %d: berth_getinfo says %s, the event "
                           "log %s",
                           c->id, side, berth_state_name(info.state),
                           berth_state_name(c->log_state[side]));
        }
    }
}

void events_check_final(struct world *w)
{
    const struct sim_events *e = &w->ev;
    for (int side = 0; side < 2; side++) {
        if (e->out_pending[side])
            world_fail(w, INV_EVENTS,
                       "side %d's last logged segment never reached the link",
                       side);
        if (e->in_pending[side])
            world_fail(w, INV_EVENTS,
                       "side %d's last delivered segment is not in its log",
                       side);
    }
    if (e->carried > 0 && e->logged[0] + e->logged[1] < e->carried)
        world_fail(w, INV_EVENTS,
                   "%llu events logged for %llu segments carried",
                   (unsigned long long)(e->logged[0] + e->logged[1]),
                   (unsigned long long)e->carried);
}
