/* Addresses as text for traces, tools and captures: IPv4 dotted quads and
 * IPv6 in RFC 5952's canonical form (berth_addr_string). */
#include "berth/berth.h"

#include <stdio.h>
#include <string.h>

static void v4_string(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", (unsigned)(a >> 24),
             (unsigned)(a >> 16 & 0xff), (unsigned)(a >> 8 & 0xff),
             (unsigned)(a & 0xff));
}

/* RFC 5952 §4: groups in lower-case hex without leading zeros (4.1, 4.3);
 * the longest run of two or more zero groups, the first if tied, is "::"
 * (4.2); §5: ::ffff:a.b.c.d for an IPv4-mapped address. */
static void v6_string(const uint8_t *a, char *buf, size_t size)
{
    uint16_t g[8];
    for (int i = 0; i < 8; i++)
        g[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
    struct berth_endpoint ep = berth_endpoint_v6(a, 0);
    uint32_t v4;
    if (berth_endpoint_v4mapped(&ep, &v4)) {
        char q[16];
        v4_string(v4, q, sizeof q);
        snprintf(buf, size, "::ffff:%s", q);
        return;
    }
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && g[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8 && pos < size; i++) {
        if (i == best) {
            pos += (size_t)snprintf(buf + pos, size - pos, "::");
            i += best_len - 1;
            continue;
        }
        bool colon = i > 0 && i != best + best_len;
        pos += (size_t)snprintf(buf + pos, size - pos, "%s%x", colon ? ":" : "",
                                (unsigned)g[i]);
    }
}

char *berth_addr_string(const struct berth_endpoint *ep, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (ep->family == BERTH_AF_INET6)
        v6_string(ep->addr6, buf, size);
    else
        v4_string(ep->addr, buf, size);
    return buf;
}

char *berth_endpoint_string(const struct berth_endpoint *ep, char *buf,
                            size_t size)
{
    char a[BERTH_ADDRSTRLEN];
    berth_addr_string(ep, a, sizeof a);
    if (size > 0)
        snprintf(buf, size, ep->family == BERTH_AF_INET6 ? "[%s]:%u" : "%s:%u",
                 a, (unsigned)ep->port);
    return buf;
}
