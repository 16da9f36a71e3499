/* Segments: builds the IPv4+TCP packets a script injects (the runner's own
 * small builder; RFC 791, RFC 9293 §3.1), decodes what the stack sends
 * (berth_decode plus an exact option scan and checksum check), and prints
 * and compares both in script notation. */
#include "scenario.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IP_HDR       20u
#define IP6_HDR      40u
#define TCP_HDR      20u
#define TCP_MAX_OPTS 40u

uint8_t scn_pattern(uint64_t offset)
{
    return (uint8_t)((offset * 31u + 7u) & 0xffu);
}

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

static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

/* RFC 1071 one's-complement sum, not yet complemented. */
static uint32_t sum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(p + i);
    if (len & 1u)
        sum += (uint32_t)p[len - 1] << 8;
    return sum;
}

static uint16_t sum_fold(uint32_t sum)
{
    for (int i = 0; i < 4 && sum >> 16; i++)
        sum = (sum & 0xffffu) + (sum >> 16);
    return (uint16_t)~sum;
}

/* The TCP checksum of tcp[0..len) from src to dst (RFC 9293 §3.1). */
static uint16_t tcp_sum(uint32_t src, uint32_t dst, const uint8_t *tcp,
                        size_t len)
{
    uint8_t pseudo[12];
    put32(pseudo, src);
    put32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = 6;
    put16(pseudo + 10, (uint32_t)len);
    return sum_fold(sum_add(sum_add(0, pseudo, sizeof(pseudo)), tcp, len));
}

/* The same over IPv6 (RFC 8200 §8.1: 16-byte addresses, a 32-bit length,
 * Next Header 6). */
static uint16_t tcp_sum6(const uint8_t *src, const uint8_t *dst,
                         const uint8_t *tcp, size_t len)
{
    uint8_t pseudo[40] = {0};
    memcpy(pseudo, src, 16);
    memcpy(pseudo + 16, dst, 16);
    put32(pseudo + 32, (uint32_t)len);
    pseudo[39] = 6;
    return sum_fold(sum_add(sum_add(0, pseudo, sizeof(pseudo)), tcp, len));
}

static size_t opt_len(const struct scn_seg *seg, const struct scn_opt *op)
{
    switch (op->kind) {
    case SCN_OPT_MSS:
        return 4;
    case SCN_OPT_WSCALE:
        return 3;
    case SCN_OPT_SACKOK:
        return 2;
    case SCN_OPT_SACK:
        return 2u + 8u * seg->nsack; /* RFC 2018 §3 */
    case SCN_OPT_TS:
        return 10;
    default:
        return 1;
    }
}

/* Options in script order, padded with zeros (EOL) to 32 bits. */
static size_t build_opts(const struct scn_seg *seg, uint8_t *o)
{
    size_t n = 0;
    for (int i = 0; i < seg->nopts; i++) {
        const struct scn_opt *op = &seg->opts[i];
        size_t need = opt_len(seg, op);
        if (n + need > TCP_MAX_OPTS)
            return SIZE_MAX;
        o[n] = op->kind;
        if (need > 1)
            o[n + 1] = (uint8_t)need;
        if (op->kind == SCN_OPT_MSS)
            put16(o + n + 2, op->a);
        if (op->kind == SCN_OPT_WSCALE)
            o[n + 2] = (uint8_t)op->a;
        if (op->kind == SCN_OPT_TS) {
            put32(o + n + 2, op->a);
            put32(o + n + 6, op->b);
        }
        for (unsigned b = 0; op->kind == SCN_OPT_SACK && b < seg->nsack; b++) {
            put32(o + n + 2 + 8 * b, seg->sack[b].start);
            put32(o + n + 6 + 8 * b, seg->sack[b].end);
        }
        n += need;
    }
    while (n % 4u != 0)
        o[n++] = SCN_OPT_EOL;
    return n;
}

uint8_t *scn_build(const struct scn_seg *seg, const struct scn_wire *w,
                   size_t *len)
{
    uint8_t opts[TCP_MAX_OPTS + 4];
    size_t olen = build_opts(seg, opts);
    if (olen == SIZE_MAX)
        return NULL;
    size_t tcp_len = TCP_HDR + olen + seg->len;
    size_t ip_hdr = w->v6 ? IP6_HDR : IP_HDR;
    *len = ip_hdr + tcp_len;
    uint8_t *p = calloc(1, *len);
    if (!p)
        return NULL;
    if (w->v6) {
        p[0] = 0x60; /* version 6, traffic class 0, flow label 0 */
        put16(p + 4, (uint32_t)tcp_len);
        p[6] = 6; /* Next Header: TCP */
        p[7] = 64;
        memcpy(p + 8, w->src6, 16);
        memcpy(p + 24, w->dst6, 16);
    } else {
        p[0] = 0x45; /* version 4, IHL 5 */
        put16(p + 2, (uint32_t)*len);
        put16(p + 6, 0x4000); /* DF */
        p[8] = 64;
        p[9] = 6;
        put32(p + 12, w->src);
        put32(p + 16, w->dst);
        put16(p + 10, sum_fold(sum_add(0, p, IP_HDR)));
    }
    uint8_t *t = p + ip_hdr;
    put16(t, w->sport);
    put16(t + 2, w->dport);
    put32(t + 4, w->seq);
    put32(t + 8, w->ack);
    t[12] = (uint8_t)(((TCP_HDR + olen) / 4u) << 4);
    t[13] = seg->flags;
    put16(t + 14, seg->win);
    memcpy(t + TCP_HDR, opts, olen);
    for (uint32_t i = 0; i < seg->len; i++)
        t[TCP_HDR + olen + i] = scn_pattern(w->pay_off + i);
    uint16_t sum = w->v6 ? tcp_sum6(w->src6, w->dst6, t, tcp_len)
                         : tcp_sum(w->src, w->dst, t, tcp_len);
    /* A change smaller than 0xffff can never fold back to a valid sum. */
    put16(t + 16, seg->badsum ? sum ^ 0x0101u : sum);
    return p;
}

/* One option of a known kind and the right length into op (and seg's SACK
 * blocks); false if the length is wrong for the kind. */
static bool scan_known(const uint8_t *o, uint8_t olen, struct scn_opt *op,
                       struct scn_seg *seg)
{
    switch (op->kind) {
    case SCN_OPT_MSS:
        if (olen != 4)
            return false;
        op->a = get16(o + 2);
        return true;
    case SCN_OPT_WSCALE:
        if (olen != 3)
            return false;
        op->a = o[2];
        return true;
    case SCN_OPT_SACKOK:
        op->a = 0;
        return olen == 2;
    case SCN_OPT_TS:
        if (olen != 10)
            return false;
        op->a = get32(o + 2);
        op->b = get32(o + 6);
        return true;
    case SCN_OPT_SACK:
        /* RFC 2018 §3: 2 + 8n bytes, n blocks; at most 4 fit. */
        if (olen < 10 || (olen - 2u) % 8u != 0 || seg->nsack != 0)
            return false;
        op->a = (olen - 2u) / 8u;
        for (unsigned b = 0; b < op->a; b++)
            seg->sack[b] =
                (struct scn_sack){get32(o + 2 + 8 * b), get32(o + 6 + 8 * b)};
        seg->nsack = (uint8_t)op->a;
        return true;
    default:
        return true;
    }
}

/* Options as sent, in wire order; NOP and EOL padding left out. */
static const char *scan_opts(const uint8_t *o, size_t n, struct scn_seg *seg)
{
    for (size_t i = 0; i < n;) {
        uint8_t kind = o[i];
        if (kind == SCN_OPT_EOL)
            break;
        if (kind == SCN_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
            return "TCP option truncated or of illegal length";
        uint8_t olen = o[i + 1];
        struct scn_opt op = {kind, olen, 0};
        bool known = kind == SCN_OPT_MSS || kind == SCN_OPT_WSCALE ||
                     kind == SCN_OPT_SACKOK || kind == SCN_OPT_SACK ||
                     kind == SCN_OPT_TS;
        if (known && !scan_known(o + i, olen, &op, seg))
            op.kind = 0xffu; /* a known kind of the wrong length */
        if (seg->nopts == SCN_MAX_OPTS)
            return "too many TCP options";
        seg->opts[seg->nopts++] = op;
        i += olen;
    }
    return NULL;
}

/* The checks berth_decode may not make: exact header layout, checksums. */
static const char *check_tcp(const uint8_t *t, size_t tcp_len, uint16_t sum,
                             struct scn_got *g);

/* The IPv6 header berth sends: 40 bytes, no extension headers, the payload
 * length the packet's, TCP, a flow label (RFC 6437: never 0 from berth). */
static const char *check_wire6(const uint8_t *p, size_t len, size_t *ihl)
{
    *ihl = IP6_HDR;
    if (len < IP6_HDR)
        return "bad IPv6 header";
    if (get16(p + 4) != len - IP6_HDR)
        return "IPv6 payload length is not the packet's";
    if (p[6] != 6)
        return "not TCP (or extension headers)";
    if ((get32(p) & 0xfffffu) == 0)
        return "IPv6 flow label 0";
    return NULL;
}

static const char *check_wire(const uint8_t *p, size_t len, struct scn_got *g)
{
    if (len > 0 && (p[0] >> 4) == 6) {
        size_t ihl;
        const char *bad = check_wire6(p, len, &ihl);
        if (bad)
            return bad;
        return check_tcp(p + ihl, len - ihl,
                         tcp_sum6(p + 8, p + 24, p + ihl, len - ihl), g);
    }
    size_t ihl = (size_t)(p[0] & 0x0fu) * 4u;
    if (len < IP_HDR || (p[0] >> 4) != 4 || ihl < IP_HDR || len < ihl)
        return "bad IPv4 header";
    if (get16(p + 2) != len)
        return "IPv4 total length is not the packet length";
    if (sum_fold(sum_add(0, p, ihl)) != 0)
        return "IPv4 header checksum wrong";
    if (p[9] != 6)
        return "not TCP";
    return check_tcp(p + ihl, len - ihl,
                     tcp_sum(get32(p + 12), get32(p + 16), p + ihl, len - ihl),
                     g);
}

/* The TCP part; sum: its checksum over the pseudo-header (0 if right). */
static const char *check_tcp(const uint8_t *t, size_t tcp_len, uint16_t sum,
                             struct scn_got *g)
{
    size_t doff = tcp_len >= TCP_HDR ? (size_t)(t[12] >> 4) * 4u : 0;
    if (doff < TCP_HDR || doff > tcp_len)
        return "TCP data offset out of range";
    if (sum != 0)
        return "TCP checksum wrong";
    g->seg.flags = t[13];
    g->payload = t + doff;
    if (tcp_len - doff != g->d.len)
        return "berth_decode length disagrees with the header";
    return scan_opts(t + TCP_HDR, doff - TCP_HDR, &g->seg);
}

void scn_decode(const uint8_t *pkt, size_t len, struct scn_got *g)
{
    memset(g, 0, sizeof(*g));
    int rc = berth_decode(pkt, len, &g->d);
    if (rc != 0) {
        g->malformed = berth_reason_string((enum berth_reason)rc);
        return;
    }
    g->malformed = check_wire(pkt, len, g);
    struct scn_seg *s = &g->seg;
    s->has_seq = s->has_win = s->has_port = s->has_lport = true;
    s->has_ack = (s->flags & BERTH_TH_ACK) || g->d.ack != 0;
    s->seq = g->d.seq;
    s->ack = g->d.ack;
    s->win = g->d.win;
    s->len = g->d.len;
    s->port = g->d.dst.port;
    s->lport = g->d.src.port;
}

/* ---- printing and comparing ----------------------------------------- */

struct out {
    char *buf;
    size_t size, used;
};

static void outf(struct out *o, const char *fmt, ...)
{
    if (o->used >= o->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->used, o->size - o->used, fmt, ap);
    va_end(ap);
    o->used += n > 0 ? (size_t)n : 0;
}

static void format_flags(uint8_t flags, struct out *o)
{
    static const struct {
        uint8_t bit;
        char c;
    } letters[] = {{BERTH_TH_SYN, 'S'}, {BERTH_TH_FIN, 'F'},
                   {BERTH_TH_RST, 'R'}, {BERTH_TH_PSH, 'P'},
                   {BERTH_TH_URG, 'U'}, {SCN_TH_ECE, 'E'},
                   {SCN_TH_CWR, 'W'},   {BERTH_TH_ACK, '.'}};
    if (flags == 0)
        outf(o, "none");
    for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++) {
        if (flags & letters[i].bit)
            outf(o, "%c", letters[i].c);
    }
}

static void format_opt(const struct scn_seg *seg, const struct scn_opt *op,
                       struct out *o)
{
    switch (op->kind) {
    case SCN_OPT_EOL:
        outf(o, " eol");
        break;
    case SCN_OPT_NOP:
        outf(o, " nop");
        break;
    case SCN_OPT_MSS:
        outf(o, " mss %u", op->a);
        break;
    case SCN_OPT_WSCALE:
        outf(o, " wscale %u", op->a);
        break;
    case SCN_OPT_SACKOK:
        outf(o, " sackok");
        break;
    case SCN_OPT_SACK:
        outf(o, " sack");
        for (unsigned b = 0; b < seg->nsack; b++)
            outf(o, " %u:%u", seg->sack[b].start, seg->sack[b].end);
        break;
    case SCN_OPT_TS:
        outf(o, " ts %u %u", op->a, op->b);
        break;
    case 0xffu:
        outf(o, " <known option of wrong length>");
        break;
    default:
        outf(o, " <option %u len %u>", op->kind, op->a);
        break;
    }
}

void scn_seg_format(const struct scn_seg *seg, bool outbound, char *buf,
                    size_t size)
{
    struct out o = {buf, size, 0};
    buf[0] = '\0';
    outf(&o, "%c ", outbound ? '>' : '<');
    format_flags(seg->flags, &o);
    if (seg->has_seq)
        outf(&o, " seq %u", seg->seq);
    if (seg->has_ack)
        outf(&o, " ack %u", seg->ack);
    outf(&o, " win %u", seg->win);
    for (int i = 0; i < seg->nopts; i++)
        format_opt(seg, &seg->opts[i], &o);
    if (seg->len)
        outf(&o, " len %u", seg->len);
}

static const struct scn_opt *opt_find(const struct scn_seg *s, uint8_t kind)
{
    for (int i = 0; i < s->nopts; i++) {
        if (s->opts[i].kind == kind)
            return &s->opts[i];
    }
    return NULL;
}

static const char *opt_name(uint8_t kind)
{
    switch (kind) {
    case SCN_OPT_MSS:
        return "mss";
    case SCN_OPT_WSCALE:
        return "wscale";
    case SCN_OPT_SACKOK:
        return "sackok";
    case SCN_OPT_SACK:
        return "sack";
    case SCN_OPT_TS:
        return "ts";
    default:
        return "option";
    }
}

/* The SACK blocks of two segments are the same, in the same order. */
static bool sack_equal(const struct scn_seg *a, const struct scn_seg *b)
{
    if (a->nsack != b->nsack)
        return false;
    for (unsigned i = 0; i < a->nsack; i++) {
        if (a->sack[i].start != b->sack[i].start ||
            a->sack[i].end != b->sack[i].end)
            return false;
    }
    return true;
}

/* Options compare as a set: same kinds, same values; order is free (but
 * SACK blocks keep theirs: RFC 2018 §4 gives the first one a meaning). */
static void diff_opts(const struct scn_seg *want, const struct scn_seg *got,
                      struct out *o)
{
    for (int i = 0; i < want->nopts; i++) {
        const struct scn_opt *w = &want->opts[i];
        const struct scn_opt *g = opt_find(got, w->kind);
        if (!g || g->a != w->a || g->b != w->b ||
            (w->kind == SCN_OPT_SACK && !sack_equal(want, got)))
            outf(o, "%s%s", o->used ? ", " : "", opt_name(w->kind));
    }
    for (int i = 0; i < got->nopts; i++) {
        if (!opt_find(want, got->opts[i].kind))
            outf(o, "%sunexpected %s", o->used ? ", " : "",
                 opt_name(got->opts[i].kind));
    }
}

void scn_seg_diff(const struct scn_seg *want, const struct scn_seg *got,
                  char *buf, size_t size)
{
    struct out o = {buf, size, 0};
    buf[0] = '\0';
    if (want->flags != got->flags)
        outf(&o, "flags");
    if (want->has_seq && want->seq != got->seq)
        outf(&o, "%sseq", o.used ? ", " : "");
    if (want->has_ack && want->ack != got->ack)
        outf(&o, "%sack", o.used ? ", " : "");
    if (want->win != got->win)
        outf(&o, "%swin", o.used ? ", " : "");
    if (want->len != got->len)
        outf(&o, "%slen", o.used ? ", " : "");
    diff_opts(want, got, &o);
}
