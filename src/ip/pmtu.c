/* The path MTU cache (RFC 1191 §6.3, RFC 8201 §5.2): what "fragmentation
 * needed" or Packet Too Big taught us per destination, so new connections
 * start at the right size; each entry ages out after cfg.pmtu_expire, when
 * the path may have grown. A small fixed table (the stack's own memory,
 * allocated at the first entry) for both families, keyed by the full
 * address (an IPv6 id is resolved: ids are reused once a peer is gone):
 * the oldest entry gives way to a new destination. */
#include "ip/ip.h"

#include <string.h>

#define PMTU_SLOTS 64u

struct pmtu_entry {
    uint8_t addr[16]; /* IPv4: the first 4 bytes, host order */
    uint64_t expires; /* stack time */
    uint16_t mtu;     /* 0: free */
    bool v6;
};

static void key(const struct berth_stack *s, bool v6, uint32_t addr,
                uint8_t out[16])
{
    memset(out, 0, 16);
    if (v6)
        memcpy(out, addr6_get(&s->addr6, addr), 16);
    else
        memcpy(out, &addr, sizeof addr);
}

static struct pmtu_entry *find(struct berth_stack *s, bool v6,
                               const uint8_t k[16])
{
    if (!s->pmtu)
        return NULL;
    for (unsigned i = 0; i < PMTU_SLOTS; i++) {
        struct pmtu_entry *e = &s->pmtu[i];
        if (!e->mtu || e->v6 != v6 || memcmp(e->addr, k, 16) != 0)
            continue;
        if (e->expires <= s->now) {
            e->mtu = 0; /* aged out: the path may carry more again */
            return NULL;
        }
        return e;
    }
    return NULL;
}

uint16_t pmtu_get(struct berth_stack *s, bool v6, uint32_t dst)
{
    uint8_t k[16];
    key(s, v6, dst, k);
    const struct pmtu_entry *e = find(s, v6, k);
    return e ? e->mtu : 0;
}

void pmtu_set(struct berth_stack *s, bool v6, uint32_t dst, uint16_t mtu)
{
    uint8_t k[16];
    key(s, v6, dst, k);
    struct pmtu_entry *e = find(s, v6, k);
    if (!e && !s->pmtu) {
        s->pmtu = mem_alloc(&s->tmem, PMTU_SLOTS * sizeof *s->pmtu);
        if (!s->pmtu)
            return; /* no cache: connections still learn their own */
        for (unsigned i = 0; i < PMTU_SLOTS; i++)
            s->pmtu[i] = (struct pmtu_entry){0};
    }
    if (!e) {
        e = &s->pmtu[0];
        for (unsigned i = 0; i < PMTU_SLOTS && e->mtu; i++) {
            struct pmtu_entry *x = &s->pmtu[i];
            if (!x->mtu || x->expires <= s->now || x->expires < e->expires)
                e = x;
            if (!x->mtu || x->expires <= s->now)
                break;
        }
        memcpy(e->addr, k, 16);
        e->v6 = v6;
        e->mtu = mtu;
    }
    if (mtu < e->mtu)
        e->mtu = mtu;
    e->expires = s->now + s->cfg.pmtu_expire;
}

uint16_t pmtu_clamp_mss(struct berth_stack *s, bool v6, uint32_t dst,
                        uint16_t mss)
{
    uint16_t mtu = pmtu_get(s, v6, dst);
    uint16_t hdrs = v6 ? 60u : 40u; /* the IP and TCP headers */
    if (mtu == 0 || mtu < hdrs + 1u)
        return mss;
    uint16_t pmss = (uint16_t)(mtu - hdrs);
    return pmss < mss ? pmss : mss;
}

void pmtu_free(struct berth_stack *s)
{
    if (s->pmtu)
        mem_free(&s->tmem, s->pmtu, PMTU_SLOTS * sizeof *s->pmtu);
    s->pmtu = NULL;
}
