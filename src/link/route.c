/* The route table of an Ethernet interface: on-link prefixes and gateways
 * per address family, looked up per destination by longest prefix, then
 * lowest metric. A handful of routes (ETH_MAX_ROUTES): a linear walk. */
#include "link_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct berth_netaddr berth_netaddr_ip4(uint32_t addr)
{
    struct berth_netaddr a = {.family = BERTH_AF_INET};
    a.bytes[0] = (uint8_t)(addr >> 24);
    a.bytes[1] = (uint8_t)(addr >> 16);
    a.bytes[2] = (uint8_t)(addr >> 8);
    a.bytes[3] = (uint8_t)addr;
    return a;
}

char *berth_netaddr_str(const struct berth_netaddr *a, char *buf, size_t size)
{
    const uint8_t *b = a->bytes;
    if (a->family == BERTH_AF_INET) {
        snprintf(buf, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return buf;
    }
    /* RFC 5952 §4.2.3: the longest run of two or more zero groups is
     * written "::". */
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && !b[2 * j] && !b[2 * j + 1])
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < 8 && n < size; i++) {
        if (i == best) {
            n += (size_t)snprintf(buf + n, size - n, "::");
            i += bestlen - 1;
            continue;
        }
        n += (size_t)snprintf(buf + n, size - n, "%s%x",
                              n && buf[n - 1] != ':' ? ":" : "",
                              (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
    }
    return buf;
}

static size_t addr_len(uint8_t family)
{
    return family == BERTH_AF_INET ? 4 : 16;
}

/* Whether the first plen bits of a and b agree. */
static bool prefix_match(const struct berth_netaddr *a,
                         const struct berth_netaddr *b, unsigned plen)
{
    if (a->family != b->family)
        return false;
    size_t whole = plen / 8;
    if (memcmp(a->bytes, b->bytes, whole))
        return false;
    unsigned rest = plen % 8;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return ((a->bytes[whole] ^ b->bytes[whole]) & mask) == 0;
}

static bool route_same(const struct berth_route *a, const struct berth_route *b)
{
    return a->plen == b->plen && prefix_match(&a->dst, &b->dst, a->plen) &&
           a->metric == b->metric;
}

int berth_eth_route_add(struct berth_eth *e, const struct berth_route *r)
{
    if ((r->dst.family != BERTH_AF_INET && r->dst.family != BERTH_AF_INET6) ||
        r->plen > addr_len(r->dst.family) * 8 ||
        (r->gateway && r->via.family != r->dst.family))
        return -EINVAL;
    for (uint32_t i = 0; i < e->nroutes; i++)
        if (route_same(&e->routes[i], r))
            return -EEXIST;
    if (e->nroutes >= ETH_MAX_ROUTES)
        return -ENOSPC;
    struct berth_route *d = &e->routes[e->nroutes++];
    *d = *r;
    /* Host bits zero, as `ip route` insists. */
    for (size_t i = 0; i < addr_len(d->dst.family); i++) {
        unsigned bit = (unsigned)i * 8;
        if (bit >= d->plen)
            d->dst.bytes[i] = 0;
        else if (bit + 8 > d->plen)
            d->dst.bytes[i] &= (uint8_t)(0xff << (8 - (d->plen - bit)));
    }
    return 0;
}

int berth_eth_route_del(struct berth_eth *e, const struct berth_route *r)
{
    for (uint32_t i = 0; i < e->nroutes; i++) {
        if (route_same(&e->routes[i], r)) {
            memmove(&e->routes[i], &e->routes[i + 1],
                    (e->nroutes - i - 1) * sizeof e->routes[0]);
            e->nroutes--;
            return 0;
        }
    }
    return -ENOENT;
}

static const struct berth_route *lookup(const struct berth_eth *e,
                                        const struct berth_netaddr *dst)
{
    const struct berth_route *best = NULL;
    for (uint32_t i = 0; i < e->nroutes; i++) {
        const struct berth_route *r = &e->routes[i];
        if (!prefix_match(&r->dst, dst, r->plen))
            continue;
        if (!best || r->plen > best->plen ||
            (r->plen == best->plen && r->metric < best->metric))
            best = r;
    }
    return best;
}

int berth_eth_route_lookup(const struct berth_eth *e,
                           const struct berth_netaddr *dst,
                           struct berth_route *out)
{
    const struct berth_route *r = lookup(e, dst);
    if (!r)
        return -ENOENT;
    *out = *r;
    return 0;
}

bool route_on_link(const struct berth_eth *e, const struct berth_netaddr *a)
{
    const struct berth_route *r = lookup(e, a);
    return r && !r->gateway;
}

void berth_eth_foreach_route(const struct berth_eth *e,
                             void (*fn)(void *ctx, const struct berth_route *r),
                             void *ctx)
{
    for (uint32_t i = 0; i < e->nroutes; i++)
        fn(ctx, &e->routes[i]);
}
