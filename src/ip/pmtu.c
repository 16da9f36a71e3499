/* The path MTU cache (RFC 1191 §6.3): what "fragmentation needed" taught
 * us per destination, so new connections start at the right size; each
 * entry ages out after cfg.pmtu_expire, when the path may have grown. A
 * small fixed table (the stack's own memory, allocated at the first
 * entry): the oldest entry gives way to a new destination. */
#include "ip/ip.h"

#define PMTU_SLOTS 64u

struct pmtu_entry {
    uint32_t dst; /* 0: free */
    uint16_t mtu;
    uint64_t expires; /* stack time */
};

static struct pmtu_entry *find(struct berth_stack *s, uint32_t dst)
{
    if (!s->pmtu)
        return NULL;
    for (unsigned i = 0; i < PMTU_SLOTS; i++) {
        struct pmtu_entry *e = &s->pmtu[i];
        if (e->dst != dst)
            continue;
        if (e->expires <= s->now) {
            e->dst = 0; /* aged out: the path may carry more again */
            return NULL;
        }
        return e;
    }
    return NULL;
}

uint16_t pmtu_get(struct berth_stack *s, uint32_t dst)
{
    const struct pmtu_entry *e = find(s, dst);
    return e ? e->mtu : 0;
}

void pmtu_set(struct berth_stack *s, uint32_t dst, uint16_t mtu)
{
    struct pmtu_entry *e = find(s, dst);
    if (!e && !s->pmtu) {
        s->pmtu = mem_alloc(&s->tmem, PMTU_SLOTS * sizeof *s->pmtu);
        if (!s->pmtu)
            return; /* no cache: connections still learn their own */
        for (unsigned i = 0; i < PMTU_SLOTS; i++)
            s->pmtu[i] = (struct pmtu_entry){0};
    }
    if (!e) {
        e = &s->pmtu[0];
        for (unsigned i = 0; i < PMTU_SLOTS && e->dst; i++) {
            struct pmtu_entry *x = &s->pmtu[i];
            if (!x->dst || x->expires <= s->now || x->expires < e->expires)
                e = x;
            if (!x->dst || x->expires <= s->now)
                break;
        }
        e->dst = dst;
        e->mtu = mtu;
    }
    if (mtu < e->mtu)
        e->mtu = mtu;
    e->expires = s->now + s->cfg.pmtu_expire;
}

uint16_t pmtu_clamp_mss(struct berth_stack *s, uint32_t dst, uint16_t mss)
{
    uint16_t mtu = pmtu_get(s, dst);
    if (mtu == 0 || mtu < 40u + 1u)
        return mss;
    uint16_t pmss = (uint16_t)(mtu - 40u); /* IPv4 + TCP headers */
    return pmss < mss ? pmss : mss;
}

void pmtu_free(struct berth_stack *s)
{
    if (s->pmtu)
        mem_free(&s->tmem, s->pmtu, PMTU_SLOTS * sizeof *s->pmtu);
    s->pmtu = NULL;
}
