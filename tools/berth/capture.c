/* berth command: the pcap and pcapng reader (see capture.h). The link and IP
 * headers are taken off here; the TCP header is decoded by berth_decode_tcp(),
 * the library's parser, without its checksum (offloading senders' captures hold
 * partial checksums). */
#include "capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC_US 0xa1b2c3d4u
#define MAGIC_NS 0xa1b23c4du

#define LINKTYPE_NULL       0
#define LINKTYPE_ETHERNET   1
#define LINKTYPE_RAW        101
#define LINKTYPE_LINUX_SLL  113
#define LINKTYPE_LINUX_SLL2 276
#define LINKTYPE_IPV4       228
#define LINKTYPE_IPV6       229

#define ETH_IPV4 0x0800u
#define ETH_IPV6 0x86ddu
#define ETH_VLAN 0x8100u
#define ETH_QINQ 0x88a8u

#define REC_MAX (256u * 1024u) /* larger records are not a capture's */

#define NG_SHB 0x0a0d0d0au /* pcapng blocks (draft-ietf-opsawg-pcapng) */
#define NG_IDB 1u
#define NG_PB  2u /* obsolete packet block */
#define NG_SPB 3u
#define NG_EPB 6u
#define NG_BOM 0x1a2b3c4du
#define NG_IFS 64 /* interfaces remembered; packets of others skipped */

struct capture {
    FILE *f;
    bool swap, nanos;
    uint32_t linktype; /* classic pcap: the file's */
    bool ng;           /* pcapng: link type and clock per interface */
    struct {
        uint32_t linktype;
        uint64_t units; /* time stamp ticks per second */
    } ifs[NG_IFS];
    int nifs;
    uint64_t last_t; /* a simple packet block has no time: the last one */
    uint8_t *buf;
    uint64_t skipped;
};

static int record_decode(uint32_t linktype, const uint8_t *p, size_t n,
                         struct cap_packet *pk);

static uint32_t rd32(const uint8_t *p, bool swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static bool linktype_known(uint32_t t)
{
    return t == LINKTYPE_NULL || t == LINKTYPE_ETHERNET || t == LINKTYPE_RAW ||
           t == LINKTYPE_LINUX_SLL || t == LINKTYPE_LINUX_SLL2 ||
           t == LINKTYPE_IPV4 || t == LINKTYPE_IPV6;
}

/* ---------------------------------------------------------------------- */
/* pcapng: a section header, interface descriptions (link type, time
 * resolution) and packet blocks; other blocks are skipped. */

/* An interface description's if_tsresol option (code 9): ticks per
 * second, 10^v or 2^v; a microsecond when absent or out of range. */
static uint64_t ng_units(const struct capture *c, const uint8_t *o, size_t n)
{
    while (n >= 4) {
        uint16_t raw[2];
        memcpy(raw, o, 4);
        uint16_t code = c->swap ? __builtin_bswap16(raw[0]) : raw[0];
        uint16_t len = c->swap ? __builtin_bswap16(raw[1]) : raw[1];
        size_t padded = ((size_t)len + 3) & ~(size_t)3;
        if (code == 0 || padded > n - 4)
            break;
        if (code == 9 && len == 1) {
            uint8_t v = o[4];
            uint64_t u = 1;
            for (int i = 0; i < (v & 0x7f) && u <= UINT64_C(1000000000000); i++)
                u *= v & 0x80 ? 2 : 10;
            return u > UINT64_C(1000000000000) ? 1000000 : u;
        }
        o += 4 + padded, n -= 4 + padded;
    }
    return 1000000;
}

/* Reads one block whose type is known to be `want` when not 0 (the first
 * block, whose 4 bytes the caller read). Its body goes to c->buf; *type
 * and *len say what it is. 0, 1 at the end, -1 when broken. */
static int ng_read(struct capture *c, uint32_t want, uint32_t *type,
                   size_t *len)
{
    uint8_t h[8];
    if (want) {
        h[0] = 0; /* the type was read: now the length */
        if (fread(h + 4, 1, 4, c->f) != 4)
            return -1;
        *type = want;
    } else {
        size_t got = fread(h, 1, 8, c->f);
        if (got == 0)
            return 1;
        if (got != 8)
            return -1;
        *type = rd32(h, c->swap);
    }
    if (*type == NG_SHB) { /* its byte order is after the length */
        uint8_t bom[4];
        if (fread(bom, 1, 4, c->f) != 4)
            return -1;
        if (rd32(bom, false) == NG_BOM)
            c->swap = false;
        else if (rd32(bom, true) == NG_BOM)
            c->swap = true;
        else
            return -1;
    }
    uint32_t total = rd32(h + 4, c->swap);
    size_t head = *type == NG_SHB ? 12 : 8;
    if (total < head + 4 || total % 4 || total - head > REC_MAX)
        return -1;
    *len = total - head - 4;
    if (fread(c->buf, 1, total - head, c->f) != total - head)
        return -1;
    return 0;
}

static int ng_block(struct capture *c, uint32_t want, char *err, size_t errlen)
{
    uint32_t type;
    size_t len;
    int r = ng_read(c, want, &type, &len);
    if (r < 0)
        snprintf(err, errlen, "the capture ends inside a pcapng block");
    if (r == 0 && type == NG_SHB)
        c->nifs = 0; /* a new section: new interfaces */
    return r;
}

static int ng_next(struct capture *c, struct cap_packet *p, char *err,
                   size_t errlen)
{
    for (;;) {
        uint32_t type;
        size_t len;
        int r = ng_read(c, 0, &type, &len);
        if (r != 0) {
            if (r < 0)
                snprintf(err, errlen, "the capture ends inside a pcapng block");
            return r < 0 ? -1 : 0;
        }
        const uint8_t *b = c->buf;
        uint32_t ifid = 0, caplen;
        uint64_t ts;
        size_t at;
        if (type == NG_SHB) {
            c->nifs = 0;
            continue;
        } else if (type == NG_IDB && len >= 8) {
            if (c->nifs < NG_IFS) {
                c->ifs[c->nifs].linktype = rd32(b, c->swap) & 0xffffu;
                c->ifs[c->nifs].units = ng_units(c, b + 8, len - 8);
            }
            c->nifs++;
            continue;
        } else if ((type == NG_EPB || type == NG_PB) && len >= 20) {
            /* The obsolete block's interface is 16 bits, before its
             * 16-bit drop count. */
            uint16_t id16;
            memcpy(&id16, b, 2);
            ifid = type == NG_EPB ? rd32(b, c->swap)
                   : c->swap      ? __builtin_bswap16(id16)
                                  : id16;
            ts = (uint64_t)rd32(b + 4, c->swap) << 32 | rd32(b + 8, c->swap);
            caplen = rd32(b + 12, c->swap);
            at = 20;
        } else if (type == NG_SPB && len >= 4) {
            caplen = (uint32_t)(len - 4);
            if (rd32(b, c->swap) < caplen)
                caplen = rd32(b, c->swap);
            ts = 0;
            at = 4;
        } else {
            continue; /* statistics, name resolution, custom... */
        }
        if (ifid >= (uint32_t)c->nifs || ifid >= NG_IFS || caplen > len - at) {
            c->skipped++;
            continue;
        }
        uint64_t u = c->ifs[ifid].units;
        p->t = type == NG_SPB ? c->last_t
                              : ts / u * 1000000u + ts % u * 1000000u / u;
        c->last_t = p->t;
        if (linktype_known(c->ifs[ifid].linktype) &&
            record_decode(c->ifs[ifid].linktype, b + at, caplen, p) == 0)
            return 1;
        c->skipped++;
    }
}

bool capture_sniff(const char *path)
{
    uint8_t h[4];
    FILE *f = fopen(path, "rb");
    bool yes = f && fread(h, 1, 4, f) == 4 &&
               (rd32(h, false) == NG_SHB || rd32(h, false) == MAGIC_US ||
                rd32(h, true) == MAGIC_US || rd32(h, false) == MAGIC_NS ||
                rd32(h, true) == MAGIC_NS);
    if (f)
        fclose(f);
    return yes;
}

struct capture *capture_open(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    return capture_open_stream(f, path, err, errlen);
}

struct capture *capture_open_stream(FILE *f, const char *path, char *err,
                                    size_t errlen)
{
    uint8_t h[24];
    struct capture *c = calloc(1, sizeof *c);
    if (!c || !(c->buf = malloc(REC_MAX))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (fread(h, 1, 4, f) != 4) {
        snprintf(err, errlen, "%s: too short for a pcap file header", path);
        goto fail;
    }
    if (rd32(h, false) == NG_SHB) {
        c->ng = true;
        c->f = f;
        if (ng_block(c, NG_SHB, err, errlen) != 0) {
            c->f = NULL;
            snprintf(err, errlen, "%s: a broken pcapng section header", path);
            goto fail;
        }
        return c;
    }
    if (fread(h + 4, 1, sizeof h - 4, f) != sizeof h - 4) {
        snprintf(err, errlen, "%s: too short for a pcap file header", path);
        goto fail;
    }
    uint32_t magic = rd32(h, false);
    c->swap = magic == __builtin_bswap32(MAGIC_US) ||
              magic == __builtin_bswap32(MAGIC_NS);
    magic = rd32(h, c->swap);
    if (magic != MAGIC_US && magic != MAGIC_NS) {
        snprintf(err, errlen, "%s: not a pcap or pcapng file", path);
        goto fail;
    }
    c->nanos = magic == MAGIC_NS;
    c->linktype = rd32(h + 20, c->swap) & 0xffffu;
    if (!linktype_known(c->linktype)) {
        snprintf(err, errlen,
                 "%s: link type %u is not one berth reads (raw IP, "
                 "Ethernet, Linux cooked)",
                 path, c->linktype);
        goto fail;
    }
    c->f = f;
    return c;
fail:
    if (c)
        free(c->buf);
    free(c);
    fclose(f);
    return NULL;
}

void capture_close(struct capture *c)
{
    if (!c)
        return;
    fclose(c->f);
    free(c->buf);
    free(c);
}

uint64_t capture_skipped(const struct capture *c)
{
    return c->skipped;
}

/* The IP packet inside a record: its offset, or -1 when the record holds
 * no IPv4/IPv6. */
static long link_strip(uint32_t linktype, const uint8_t *p, size_t n)
{
    size_t off;
    uint16_t type;
    switch (linktype) {
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
        return 0;
    case LINKTYPE_NULL: /* a 4-byte address family in the writer's order */
        return n >= 4 ? 4 : -1;
    case LINKTYPE_LINUX_SLL: /* 16 bytes, the protocol in the last two */
        if (n < 16)
            return -1;
        type = be16(p + 14), off = 16;
        break;
    case LINKTYPE_LINUX_SLL2: /* 20 bytes, the protocol first */
        if (n < 20)
            return -1;
        type = be16(p), off = 20;
        break;
    default: /* Ethernet: 14 bytes, then up to two VLAN tags */
        if (n < 14)
            return -1;
        type = be16(p + 12), off = 14;
        for (int tags = 0; tags < 2 && (type == ETH_VLAN || type == ETH_QINQ);
             tags++) {
            if (n < off + 4)
                return -1;
            type = be16(p + off + 2), off += 4;
        }
        break;
    }
    return type == ETH_IPV4 || type == ETH_IPV6 ? (long)off : -1;
}

/* The TCP segment inside an IP packet of n captured bytes: its offset and
 * (in *tcplen) its length by the IP header, or -1. */
static long ip_strip(const uint8_t *p, size_t n, struct cap_packet *pk,
                     size_t *tcplen)
{
    memset(&pk->src, 0, sizeof pk->src);
    memset(&pk->dst, 0, sizeof pk->dst);
    if (n >= 20 && p[0] >> 4 == 4) {
        size_t ihl = (size_t)(p[0] & 15) * 4, total = be16(p + 2);
        if (ihl < 20 || n < ihl || p[9] != 6)
            return -1;
        if (be16(p + 6) & 0x3fffu) /* a fragment: MF or an offset */
            return -1;
        if (total == 0) /* a TSO super-segment captured before the NIC */
            total = n;
        if (total < ihl)
            return -1;
        pk->src.fam = pk->dst.fam = 4;
        memcpy(pk->src.a, p + 12, 4);
        memcpy(pk->dst.a, p + 16, 4);
        *tcplen = total - ihl;
        return (long)ihl;
    }
    if (n >= 40 && p[0] >> 4 == 6) {
        /* RFC 8200 §4: hop-by-hop, routing and destination options are
         * walked; a fragment header means no whole TCP segment here. */
        size_t off = 40, plen = be16(p + 4);
        uint8_t next = p[6];
        for (int i = 0; i < 8 && (next == 0 || next == 43 || next == 60); i++) {
            if (n < off + 8)
                return -1;
            size_t len = ((size_t)p[off + 1] + 1) * 8;
            next = p[off];
            off += len;
        }
        if (next != 6 || n < off || (plen && plen + 40 < off))
            return -1;
        pk->src.fam = pk->dst.fam = 6;
        memcpy(pk->src.a, p + 8, 16);
        memcpy(pk->dst.a, p + 24, 16);
        *tcplen = plen ? plen + 40 - off : n - off; /* 0: a jumbogram */
        return (long)off;
    }
    return -1;
}

/* A record's TCP segment into *pk: 0, or -1 (not one). */
static int record_decode(uint32_t linktype, const uint8_t *p, size_t n,
                         struct cap_packet *pk)
{
    long l = link_strip(linktype, p, n);
    if (l < 0)
        return -1;
    p += l, n -= (size_t)l;
    size_t tcplen;
    long t = ip_strip(p, n, pk, &tcplen);
    if (t < 0)
        return -1;
    p += t, n -= (size_t)t;
    if (n > tcplen)
        n = tcplen; /* Ethernet padding */
    if (n < 20 || berth_decode_tcp(p, n, &pk->seg) != 0)
        return -1;
    size_t hdr = (size_t)(p[12] >> 4) * 4;
    pk->src.port = pk->seg.src.port;
    pk->dst.port = pk->seg.dst.port;
    pk->payload = p + hdr;
    pk->plen = (uint32_t)(n - hdr);
    pk->seg.len = (uint32_t)(tcplen - hdr); /* what the snap length cut */
    return 0;
}

int capture_next(struct capture *c, struct cap_packet *p, char *err,
                 size_t errlen)
{
    if (c->ng)
        return ng_next(c, p, err, errlen);
    for (;;) {
        uint8_t h[16];
        size_t got = fread(h, 1, sizeof h, c->f);
        if (got == 0)
            return 0;
        if (got != sizeof h) {
            snprintf(err, errlen, "the capture ends inside a record header");
            return -1;
        }
        uint32_t sec = rd32(h, c->swap), frac = rd32(h + 4, c->swap);
        uint32_t incl = rd32(h + 8, c->swap);
        if (incl > REC_MAX) {
            snprintf(err, errlen, "a record of %u bytes: not a capture", incl);
            return -1;
        }
        if (fread(c->buf, 1, incl, c->f) != incl) {
            snprintf(err, errlen, "the capture ends inside a record");
            return -1;
        }
        p->t = (uint64_t)sec * 1000000u + (c->nanos ? frac / 1000u : frac);
        if (record_decode(c->linktype, c->buf, incl, p) == 0)
            return 1;
        c->skipped++;
    }
}

char *cap_addr_str(const struct cap_addr *a, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    inet_ntop(a->fam == 6 ? AF_INET6 : AF_INET, a->a, ip, sizeof ip);
    snprintf(buf, size, a->fam == 6 ? "[%s]:%u" : "%s:%u", ip, a->port);
    return buf;
}

bool cap_addr_eq(const struct cap_addr *a, const struct cap_addr *b)
{
    return a->fam == b->fam && a->port == b->port &&
           !memcmp(a->a, b->a, a->fam == 6 ? 16 : 4);
}

int cap_addr_parse(const char *s, struct cap_addr *out)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *port = NULL;
    memset(out, 0, sizeof *out);
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || (size_t)(end - s - 1) >= sizeof host)
            return -1;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        if (end[1] == ':')
            port = end + 2;
        else if (end[1])
            return -1;
        out->fam = 6;
    } else {
        const char *colon = strchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : strlen(s);
        if (n >= sizeof host)
            return -1;
        memcpy(host, s, n);
        host[n] = '\0';
        port = colon ? colon + 1 : NULL;
        out->fam = 4;
    }
    if (inet_pton(out->fam == 6 ? AF_INET6 : AF_INET, host, out->a) != 1)
        return -1;
    if (port) {
        char *end;
        unsigned long v = strtoul(port, &end, 10);
        if (!*port || *end || v > 65535)
            return -1;
        out->port = (uint16_t)v;
    }
    return 0;
}

struct cap_addr cap_addr_v4(uint32_t addr, uint16_t port)
{
    struct cap_addr a = {.fam = 4, .port = port};
    a.a[0] = (uint8_t)(addr >> 24);
    a.a[1] = (uint8_t)(addr >> 16);
    a.a[2] = (uint8_t)(addr >> 8);
    a.a[3] = (uint8_t)addr;
    return a;
}
