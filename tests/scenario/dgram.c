/* Datagram lines at run time: builds the ICMP messages and UDP datagrams
 * the peer (or a router on its path) sends, and matches the ones the
 * stack sends. An ICMP error quotes a TCP segment we sent, rebuilt from
 * the line with our ISS on that 4-tuple. */
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_HDR 20u

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += get16(p + i);
    if (n & 1u)
        sum += (uint32_t)p[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

static void ip_header(uint8_t *p, uint32_t src, uint32_t dst, uint8_t proto,
                      size_t total)
{
    memset(p, 0, IP_HDR);
    p[0] = 0x45;
    put16(p + 2, (uint32_t)total);
    put16(p + 6, 0x4000); /* DF */
    p[8] = 64;
    p[9] = proto;
    put32(p + 12, src);
    put32(p + 16, dst);
    put16(p + 10, fold(sum16(0, p, IP_HDR)));
}

#define IP6_HDR 40u

static void ip6_header(uint8_t *p, const uint8_t *src, const uint8_t *dst,
                       uint8_t nh, size_t payload)
{
    memset(p, 0, IP6_HDR);
    p[0] = 0x60;
    put16(p + 4, (uint32_t)payload);
    p[6] = nh;
    p[7] = 64;
    memcpy(p + 8, src, 16);
    memcpy(p + 24, dst, 16);
}

/* The IPv6 pseudo-header's sum (RFC 8200 §8.1), unfolded. */
static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t nh,
                        size_t len)
{
    uint32_t sum = sum16(0, src, 16);
    sum = sum16(sum, dst, 16);
    return sum + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffffu) + nh;
}

/* A line's ICMP type and code in ICMPv6's numbers (RFC 4443 §2.1, §3.1):
 * echo 128, echo reply 129, unreach 1 (net: no route, host: address
 * unreachable, port 4, the administrative codes: prohibited), frag
 * needed as Packet Too Big 2, time exceeded 3, parameter problem 4. */
static int to_icmp6(uint8_t type, uint8_t code, uint8_t *t6, uint8_t *c6)
{
    static const uint8_t types[13] = {
        [0] = 129, [3] = 1, [8] = 128, [11] = 3, [12] = 4};
    *t6 = type < 13 ? types[type] : 0;
    *c6 = code;
    if (type == 3) {
        static const int codes[16] = {0,  3, -1, 4,  -1, -1, -1, -1,
                                      -1, 1, 1,  -1, -1, 1,  -1, -1};
        if (code == 4) {
            *t6 = 2;
            *c6 = 0;
            return 0;
        }
        if (code > 15 || codes[code] < 0)
            return -1;
        *c6 = (uint8_t)codes[code];
    }
    return *t6 ? 0 : -1;
}

static uint16_t lport_of(const struct scn_runner *r, const struct scn_dgram *d)
{
    return d->has_lport ? d->lport : r->lport;
}

static uint16_t rport_of(const struct scn_runner *r, const struct scn_dgram *d)
{
    return d->has_port ? d->port : r->sc->remote_port;
}

/* The quoted TCP segment: our IPv4 header and TCP header as we sent them
 * (seq made absolute with our ISS), its length as the datagram's. */
static size_t quote_tcp(struct scn_runner *r, const struct scn_dgram *d,
                        uint8_t *q)
{
    uint16_t lport = lport_of(r, d), rport = rport_of(r, d);
    if (d->quote_udp) { /* our datagram: IPv4 and UDP headers */
        ip_header(q, r->sc->local_addr, r->sc->remote_addr, 17,
                  IP_HDR + 8u + d->len);
        memset(q + IP_HDR, 0, 20);
        put16(q + IP_HDR, lport);
        put16(q + IP_HDR + 2, rport);
        put16(q + IP_HDR + 4, 8u + d->len);
        return IP_HDR + 20u;
    }
    const struct scn_tuple *tp =
        scn_tuple_find(r, lport, r->sc->remote_addr, rport, false);
    uint32_t seq = d->qseq + (tp && tp->has_iss ? tp->iss : 0);
    ip_header(q, r->sc->local_addr, r->sc->remote_addr, 6,
              IP_HDR + 20u + d->qlen);
    uint8_t *t = q + IP_HDR;
    memset(t, 0, 20);
    put16(t, lport);
    put16(t + 2, rport);
    put32(t + 4, seq);
    t[12] = 5u << 4;
    t[13] = d->qflags;
    return IP_HDR + 20u;
}

/* The same over IPv6: our IPv6 header (no extension headers) and the
 * first 20 bytes of what followed it. */
static size_t quote6(struct scn_runner *r, const struct scn_dgram *d,
                     uint8_t *q)
{
    const struct scn_script *sc = r->sc;
    uint16_t lport = lport_of(r, d), rport = rport_of(r, d);
    uint8_t *t = q + IP6_HDR;
    memset(t, 0, 20);
    put16(t, lport);
    put16(t + 2, rport);
    if (d->quote_udp) {
        ip6_header(q, sc->local6, sc->remote6, 17, 8u + d->len);
        put16(t + 4, 8u + d->len);
        return IP6_HDR + 20u;
    }
    const struct scn_tuple *tp = scn_tuple_find(r, lport, 0, rport, false);
    put32(t + 4, d->qseq + (tp && tp->has_iss ? tp->iss : 0));
    t[12] = 5u << 4;
    t[13] = d->qflags;
    ip6_header(q, sc->local6, sc->remote6, 6, 20u + d->qlen);
    return IP6_HDR + 20u;
}

static uint8_t *build6(struct scn_runner *r, const struct scn_dgram *d,
                       size_t *len)
{
    const struct scn_script *sc = r->sc;
    size_t body = d->proto == 17 ? 8u + d->len
                  : d->quote     ? 8u + IP6_HDR + 20u
                                 : 8u + d->len;
    uint8_t t6 = 17, c6 = 0;
    if (d->proto == 1 && to_icmp6(d->type, d->code, &t6, &c6) != 0)
        return NULL;
    uint8_t *p = calloc(1, IP6_HDR + body);
    if (!p)
        return NULL;
    uint8_t *m = p + IP6_HDR;
    const uint8_t *src = d->from_v6 ? d->from6 : sc->remote6;
    uint8_t nh = d->proto == 17 ? 17 : 58;
    if (d->proto == 17) {
        put16(m, rport_of(r, d));
        put16(m + 2, lport_of(r, d));
        put16(m + 4, (uint32_t)body);
        for (uint32_t i = 0; i < d->len; i++)
            m[8 + i] = scn_pattern(i);
        uint16_t c = fold(sum16(pseudo6(src, sc->local6, 17, body), m, body));
        put16(m + 6, d->nosum    ? 0u
                     : d->badsum ? (c ? c : 0xffffu) ^ 0x0101u
                                 : (c ? c : 0xffffu));
    } else {
        m[0] = t6;
        m[1] = c6;
        if (t6 == 128) {
            put16(m + 4, d->id);
            put16(m + 6, d->seq);
            for (uint32_t i = 0; i < d->len; i++)
                m[8 + i] = scn_pattern(i);
        } else {
            if (t6 == 2)
                put32(m + 4, d->mtu);
            quote6(r, d, m + 8);
        }
        put16(m + 2, fold(sum16(pseudo6(src, sc->local6, 58, body), m, body)));
    }
    ip6_header(p, src, sc->local6, nh, body);
    *len = IP6_HDR + body;
    return p;
}

static uint8_t *build(struct scn_runner *r, const struct scn_dgram *d,
                      size_t *len)
{
    if (r->sc->v6 && !d->ipv4)
        return build6(r, d, len);
    const struct scn_script *sc = r->sc;
    size_t body = d->proto == 17 ? 8u + d->len
                  : d->quote     ? 8u + IP_HDR + 20u
                                 : 8u + d->len;
    uint8_t *p = calloc(1, IP_HDR + body);
    if (!p)
        return NULL;
    uint8_t *m = p + IP_HDR;
    uint32_t src = d->has_from ? d->from : sc->remote_addr;
    if (d->proto == 17) {
        put16(m, rport_of(r, d));
        put16(m + 2, lport_of(r, d));
        put16(m + 4, (uint32_t)body);
        for (uint32_t i = 0; i < d->len; i++)
            m[8 + i] = scn_pattern(i);
        uint32_t ps = (src >> 16) + (src & 0xffffu) + (sc->local_addr >> 16) +
                      (sc->local_addr & 0xffffu) + 17u + (uint32_t)body;
        uint16_t c = fold(sum16(ps, m, body));
        put16(m + 6, d->nosum    ? 0u
                     : d->badsum ? (c ? c : 0xffffu) ^ 0x0101u
                                 : (c ? c : 0xffffu));
    } else {
        m[0] = d->type;
        m[1] = d->code;
        if (d->type == 0 || d->type == 8) {
            put16(m + 4, d->id);
            put16(m + 6, d->seq);
            for (uint32_t i = 0; i < d->len; i++)
                m[8 + i] = scn_pattern(i);
        } else {
            if (d->has_mtu)
                put16(m + 6, d->mtu);
            quote_tcp(r, d, m + 8);
        }
        put16(m + 2, fold(sum16(0, m, body)));
    }
    ip_header(p, src, sc->local_addr, d->proto, IP_HDR + body);
    *len = IP_HDR + body;
    return p;
}

int scn_dgram_inject(struct scn_runner *r, const struct scn_event *ev)
{
    if (!ev->dg.has_lport && !r->has_lport &&
        (ev->dg.proto == 17 || ev->dg.quote))
        return scn_fail(r, "no local port known: bind first, or give "
                           "local-port N");
    size_t len;
    uint8_t *p = build(r, &ev->dg, &len);
    if (!p)
        return scn_fail(r, r->sc->v6 ? "no such ICMPv6 message, or out of "
                                       "memory"
                                     : "out of memory");
    int rc = berth_input(r->s, p, len, r->now);
    if (r->verbose)
        fprintf(stderr, "    berth_input: %s\n",
                rc == 0 ? "accepted"
                        : berth_reason_name((enum berth_reason)rc));
    free(p);
    return 0;
}

/* What the stack sent, in the line's terms ("icmp 3/3 quoting ..."). */
static void describe(const uint8_t *p, size_t len, char *buf, size_t size)
{
    if (len >= IP6_HDR + 8u && p[0] >> 4 == 6) {
        const uint8_t *m = p + IP6_HDR;
        if (p[6] == 58)
            snprintf(buf, size,
                     "icmp6 type %u code %u id %u seq %u, %zu data bytes", m[0],
                     m[1], get16(m + 4), get16(m + 6), len - 48u);
        else if (p[6] == 17)
            snprintf(buf, size, "udp6 %u > %u, %zu payload bytes", get16(m),
                     get16(m + 2), len - 48u);
        else
            snprintf(buf, size, "IPv6 next header %u, %zu bytes", p[6], len);
        return;
    }
    if (len < IP_HDR + 8u || (p[0] >> 4) != 4) {
        snprintf(buf, size, "a packet of %zu bytes", len);
        return;
    }
    size_t hl = (size_t)(p[0] & 15u) * 4u;
    const uint8_t *m = p + hl;
    if (p[9] == 1)
        snprintf(buf, size, "icmp type %u code %u id %u seq %u, %zu data bytes",
                 m[0], m[1], get16(m + 4), get16(m + 6), len - hl - 8u);
    else if (p[9] == 17)
        snprintf(buf, size, "udp %u > %u, %zu payload bytes", get16(m),
                 get16(m + 2), len - hl - 8u);
    else
        snprintf(buf, size, "IP protocol %u, %zu bytes", p[9], len);
}

static int expect_icmp(struct scn_runner *r, const struct scn_dgram *d,
                       const uint8_t *p, size_t len, char *diff, size_t dsz)
{
    const uint8_t *m = p + IP_HDR;
    size_t mlen = len - IP_HDR;
    if (p[9] != 1 || mlen < 8u)
        return snprintf(diff, dsz, "not ICMP"), -1;
    if (fold(sum16(0, m, mlen)) != 0)
        return snprintf(diff, dsz, "ICMP checksum"), -1;
    if (m[0] != d->type || m[1] != d->code)
        return snprintf(diff, dsz, "type/code %u/%u", m[0], m[1]), -1;
    if (d->type == 0) {
        if (get16(m + 4) != d->id || get16(m + 6) != d->seq)
            return snprintf(diff, dsz, "id/seq"), -1;
        if (mlen - 8u != d->len)
            return snprintf(diff, dsz, "len %zu", mlen - 8u), -1;
        for (uint32_t i = 0; i < d->len; i++)
            if (m[8 + i] != scn_pattern(i))
                return snprintf(diff, dsz, "data byte %u", i), -1;
        return 0;
    }
    /* An error we send quotes the peer's datagram: its source is the
     * peer, and with quote-udp its ports are the line's. */
    const uint8_t *q = m + 8;
    if (mlen < 8u + IP_HDR + 8u ||
        get16(q + 12) << 16 != (r->sc->remote_addr & 0xffff0000u))
        return snprintf(diff, dsz, "quoted datagram"), -1;
    if (d->quote_udp && (q[9] != 17 || get16(q + IP_HDR) != rport_of(r, d) ||
                         get16(q + IP_HDR + 2) != lport_of(r, d)))
        return snprintf(diff, dsz, "quoted UDP ports"), -1;
    return 0;
}

/* ICMPv6 and UDP over IPv6 the stack sent (an IPv6 script). */
static int expect6(struct scn_runner *r, const struct scn_dgram *d,
                   const uint8_t *p, size_t len, char *diff, size_t dsz)
{
    const struct scn_script *sc = r->sc;
    if (len < IP6_HDR + 8u || p[0] >> 4 != 6 || get16(p + 4) != len - IP6_HDR)
        return snprintf(diff, dsz, "IPv6 header"), -1;
    if (memcmp(p + 8, sc->local6, 16) != 0 ||
        memcmp(p + 24, sc->remote6, 16) != 0)
        return snprintf(diff, dsz, "addresses"), -1;
    const uint8_t *m = p + IP6_HDR;
    size_t mlen = len - IP6_HDR;
    uint8_t nh = d->proto == 17 ? 17 : 58;
    if (p[6] != nh)
        return snprintf(diff, dsz, "next header %u", p[6]), -1;
    /* RFC 8200 §8.1: the checksum is mandatory over IPv6 (never 0). */
    if ((nh == 17 && get16(m + 6) == 0) ||
        fold(sum16(pseudo6(sc->local6, sc->remote6, nh, mlen), m, mlen)) != 0)
        return snprintf(diff, dsz, "checksum"), -1;
    uint32_t dlen = (uint32_t)(mlen - 8u);
    if (nh == 17) {
        if (get16(m) != lport_of(r, d) || get16(m + 2) != rport_of(r, d))
            return snprintf(diff, dsz, "ports %u > %u", get16(m), get16(m + 2)),
                   -1;
        if (get16(m + 4) != mlen || dlen != d->len)
            return snprintf(diff, dsz, "length"), -1;
    } else {
        uint8_t t6, c6;
        if (to_icmp6(d->type, d->code, &t6, &c6) != 0 || m[0] != t6 ||
            m[1] != c6)
            return snprintf(diff, dsz, "type/code %u/%u", m[0], m[1]), -1;
        if (t6 != 129) {
            /* An error quotes the peer's packet (and with quote-udp, a
             * datagram between the line's ports). */
            const uint8_t *q = m + 8;
            if (mlen < 8u + IP6_HDR + 8u || memcmp(q + 8, sc->remote6, 16))
                return snprintf(diff, dsz, "quoted packet"), -1;
            if (d->quote_udp &&
                (q[6] != 17 || get16(q + IP6_HDR) != rport_of(r, d) ||
                 get16(q + IP6_HDR + 2) != lport_of(r, d)))
                return snprintf(diff, dsz, "quoted UDP ports"), -1;
            return 0;
        }
        if (get16(m + 4) != d->id || get16(m + 6) != d->seq)
            return snprintf(diff, dsz, "id/seq"), -1;
        if (dlen != d->len)
            return snprintf(diff, dsz, "len %u", dlen), -1;
    }
    for (uint32_t i = 0; i < d->len; i++)
        if (m[8 + i] != scn_pattern(i))
            return snprintf(diff, dsz, "data byte %u", i), -1;
    return 0;
}

static int expect_udp(struct scn_runner *r, const struct scn_dgram *d,
                      const uint8_t *p, size_t len, char *diff, size_t dsz)
{
    const uint8_t *u = p + IP_HDR;
    if (p[9] != 17 || len < IP_HDR + 8u)
        return snprintf(diff, dsz, "not UDP"), -1;
    if (get16(u) != lport_of(r, d))
        return snprintf(diff, dsz, "local port %u", get16(u)), -1;
    if (get16(u + 2) != rport_of(r, d))
        return snprintf(diff, dsz, "remote port %u", get16(u + 2)), -1;
    if (get16(u + 4) != 8u + d->len || len - IP_HDR != 8u + d->len)
        return snprintf(diff, dsz, "length"), -1;
    uint32_t ps = (r->sc->local_addr >> 16) + (r->sc->local_addr & 0xffffu) +
                  (r->sc->remote_addr >> 16) + (r->sc->remote_addr & 0xffffu) +
                  17u + 8u + d->len;
    if (get16(u + 6) == 0 || fold(sum16(ps, u, 8u + d->len)) != 0)
        return snprintf(diff, dsz, "UDP checksum"), -1;
    for (uint32_t i = 0; i < d->len; i++)
        if (u[8 + i] != scn_pattern(i))
            return snprintf(diff, dsz, "payload byte %u", i), -1;
    return 0;
}

int scn_dgram_expect(struct scn_runner *r, const struct scn_event *ev)
{
    char t[32], got[160], diff[64] = "";
    scn_format_time(ev->time, t, sizeof t);
    if (r->qhead == r->qlen)
        return scn_fail(r, "expected the line's datagram at %s, got nothing",
                        t);
    struct scn_pkt *pk = &r->q[r->qhead++];
    const uint8_t *p = pk->data;
    size_t len = pk->len;
    describe(p, len, got, sizeof got);
    int rc = -1;
    if (r->sc->v6 && !ev->dg.ipv4)
        rc = expect6(r, &ev->dg, p, len, diff, sizeof diff);
    else if (len < IP_HDR + 8u || p[0] != 0x45 || get16(p + 2) != len)
        snprintf(diff, sizeof diff, "IPv4 header");
    else if (get16(p + 12) << 16 != (r->sc->local_addr & 0xffff0000u) ||
             (uint32_t)(get16(p + 12) << 16 | get16(p + 14)) !=
                 r->sc->local_addr ||
             (uint32_t)(get16(p + 16) << 16 | get16(p + 18)) !=
                 r->sc->remote_addr)
        snprintf(diff, sizeof diff, "addresses");
    else if (ev->dg.proto == 1)
        rc = expect_icmp(r, &ev->dg, p, len, diff, sizeof diff);
    else
        rc = expect_udp(r, &ev->dg, p, len, diff, sizeof diff);
    uint64_t sent = pk->time;
    free(pk->data);
    pk->data = NULL;
    if (rc != 0)
        return scn_fail(r,
                        "expected the line's datagram at %s, got %s\n"
                        "  differs: %s",
                        t, got, diff);
    if (sent != ev->time)
        return scn_fail(r,
                        "expected the line's datagram at %s, got %s\n"
                        "  differs: time",
                        t, got);
    return 0;
}
