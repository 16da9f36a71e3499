/* Socket handles and readiness: the checked handle table (a stale handle
 * fails its generation check), the ready list of handles whose events may
 * have changed, and the report of those changes. */
#include "ip/ip.h"
#include "stack.h"
#include "tcp/tcp.h"

#include <string.h>

int sock_handle(const struct berth_stack *s, uint32_t idx)
{
    return (int)(((uint32_t)s->socks[idx].gen << SOCK_IDX_BITS) | idx);
}

struct tcp_conn *sock_conn(const struct berth_stack *s, int h, int *err)
{
    struct sock *k = sock_get(s, h);
    if (!k) {
        *err = BERTH_EBADF;
        return NULL;
    }
    if (k->kind != SOCK_CONN) {
        *err = k->kind == SOCK_LISTEN ? BERTH_ENOTCONN
               : k->kind == SOCK_UDP  ? BERTH_EOPNOTSUPP
                                      : BERTH_EBADF;
        return NULL;
    }
    return k->obj;
}

static int grow_socks(struct berth_stack *s)
{
    uint32_t n = s->nsocks ? s->nsocks * 2 : 16;
    if (n > s->cfg.max_sockets)
        n = s->cfg.max_sockets;
    if (n <= s->nsocks)
        return BERTH_EMFILE;
    struct sock *a = mem_alloc(&s->tmem, n * sizeof *a);
    if (!a)
        return BERTH_ENOMEM;
    if (s->socks)
        memcpy(a, s->socks, s->nsocks * sizeof *a);
    mem_free(&s->tmem, s->socks, s->nsocks * sizeof *a);
    for (uint32_t i = n; i-- > s->nsocks;) {
        a[i].kind = SOCK_FREE;
        a[i].next = s->free_sock;
        s->free_sock = (int32_t)i;
    }
    s->socks = a;
    s->nsocks = n;
    return 0;
}

int sock_alloc(struct berth_stack *s, enum sock_kind kind, void *obj)
{
    if (s->free_sock < 0) {
        int r = grow_socks(s);
        if (r)
            return r;
    }
    uint32_t idx = (uint32_t)s->free_sock;
    struct sock *k = &s->socks[idx];
    s->free_sock = k->next;
    k->kind = (uint8_t)kind;
    k->obj = obj;
    k->dirty = false;
    k->ev_seen = 0;
    k->next = -1;
    return sock_handle(s, idx);
}

static void ready_unlink(struct berth_stack *s, struct sock *k)
{
    if (k->prev >= 0)
        s->socks[k->prev].next = k->next;
    else
        s->ready_head = k->next;
    if (k->next >= 0)
        s->socks[k->next].prev = k->prev;
    else
        s->ready_tail = k->prev;
    k->dirty = false;
}

void sock_release(struct berth_stack *s, int h)
{
    struct sock *k = sock_get(s, h);
    if (!k)
        return;
    if (k->dirty) /* nothing to report to a handle that is gone */
        ready_unlink(s, k);
    k->kind = SOCK_FREE;
    k->obj = NULL;
    k->gen = (uint16_t)((k->gen + 1) & SOCK_GEN_MASK);
    k->next = s->free_sock;
    s->free_sock = (int32_t)(k - s->socks);
}

uint32_t sock_events(const struct sock *k)
{
    if (k->kind == SOCK_LISTEN)
        return tcp_listener_poll(k->obj);
    if (k->kind == SOCK_UDP)
        return udp_poll(k->obj);
    return tcp_poll(k->obj);
}

void sock_ready_push(struct berth_stack *s, struct sock *k)
{
    k->dirty = true;
    k->next = -1;
    k->prev = s->ready_tail;
    int32_t idx = (int32_t)(k - s->socks);
    if (s->ready_tail >= 0)
        s->socks[s->ready_tail].next = idx;
    else
        s->ready_head = idx;
    s->ready_tail = idx;
}

void sock_report_events(struct berth_stack *s)
{
    if (s->in_flush)
        return; /* a callback's own calls are reported by this loop */
    s->in_flush = true;
    /* Bounded: a callback that keeps re-marking sockets cannot spin here. */
    for (uint32_t guard = 0; s->ready_head >= 0 && guard < 1u << 22; guard++) {
        /* The head leaves the list (ready_unlink for the first). */
        int32_t idx = s->ready_head;
        struct sock *k = &s->socks[idx];
        s->ready_head = k->next;
        if (k->next >= 0)
            s->socks[k->next].prev = -1;
        else
            s->ready_tail = -1;
        k->dirty = false;
        uint32_t ev = sock_events(k);
        if (ev == k->ev_seen)
            continue;
        k->ev_seen = ev;
        if (s->cfg.event)
            s->cfg.event(s->cfg.event_ctx, sock_handle(s, (uint32_t)idx), ev);
    }
    s->in_flush = false;
}

/* The application looked: what it saw is the new reference for changes. */
void sock_seen(struct berth_stack *s, int h)
{
    struct sock *k = sock_get(s, h);
    k->ev_seen = sock_events(k);
}

void sock_destroy_all(struct berth_stack *s)
{
    tcp_destroy_table(s);
    for (uint32_t i = 0; i < s->nsocks; i++) {
        struct sock *k = &s->socks[i];
        if (k->kind == SOCK_LISTEN)
            tcp_destroy_listener(s, k->obj);
        else if (k->kind == SOCK_CONN)
            tcp_destroy_conn(s, k->obj);
        else if (k->kind == SOCK_UDP)
            udp_user_close(s, k->obj);
    }
    mem_free(&s->tmem, s->socks, s->nsocks * sizeof *s->socks);
    udp_fini(s);
}
