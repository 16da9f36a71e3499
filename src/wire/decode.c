/* Public packet decoding for tools (ladders, captures, pcap readers): the
 * wire/ parsers behind berth_decode(), and flag names. No stack needed. */
#include "berth/berth.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"

#include <string.h>

static void segment_fill(const struct tcp_seg *seg, struct berth_segment *out);

int berth_decode(const void *pkt, size_t len, struct berth_segment *out)
{
    memset(out, 0, sizeof(*out));
    out->wscale = -1;

    struct ipv4_info ip;
    int err = ipv4_parse(pkt, len, &ip);
    if (err != 0)
        return err;
    if (ip.proto != IPPROTO_TCP_NUM)
        return BERTH_REASON_NOT_TCP;
    struct tcp_seg seg;
    err = tcp_parse(ip.payload, ip.payload_len, ip.src, ip.dst, &seg);
    if (err != 0)
        return err;

    out->src.addr = ip.src;
    out->dst.addr = ip.dst;
    segment_fill(&seg, out);
    return 0;
}

/* A capture's TCP segment, its IP header already taken off by the caller
 * (pcap readers handle IPv4 and IPv6 themselves). The checksum is not
 * checked: it covers a pseudo-header, and a capture taken at a sender
 * that offloads checksums holds partial ones the NIC completes later. */
int berth_decode_tcp(const void *tcp, size_t len, struct berth_segment *out)
{
    memset(out, 0, sizeof(*out));
    out->wscale = -1;
    struct tcp_seg seg;
    int err = tcp_parse_csum(tcp, len, 0, 0, false, &seg);
    if (err != 0)
        return err;
    segment_fill(&seg, out);
    return 0;
}

/* The fields both decoders report, from a parsed segment. */
static void segment_fill(const struct tcp_seg *seg, struct berth_segment *out)
{
    out->src.port = seg->sport;
    out->dst.port = seg->dport;
    out->seq = seg->seq;
    out->ack = seg->ack;
    /* Only the six flags that have BERTH_TH_* names (ECE/CWR dropped). */
    out->flags = seg->flags & (BERTH_TH_FIN | BERTH_TH_SYN | BERTH_TH_RST |
                               BERTH_TH_PSH | BERTH_TH_ACK | BERTH_TH_URG);
    out->win = seg->wnd;
    out->len = seg->len;
    if (seg->opts.has_mss)
        out->mss = seg->opts.mss;
    if (seg->opts.has_wscale)
        out->wscale = seg->opts.wscale;
    out->sack_ok = seg->opts.sack_ok;
    out->has_ts = seg->opts.has_ts;
    out->ts_val = seg->opts.ts_val;
    out->ts_ecr = seg->opts.ts_ecr;
    out->sack_count = seg->opts.sack_count;
    for (unsigned i = 0; i < seg->opts.sack_count && i < 4; i++) {
        out->sack[i].start = seg->opts.sack[i].start;
        out->sack[i].end = seg->opts.sack[i].end;
    }
}

/* Appends s at *pos like strlcat: never writes past buf[size - 1], always
 * terminates when size > 0. */
static void append(char *buf, size_t size, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + 1 >= size)
        return;
    size_t room = size - 1 - *pos;
    if (n > room)
        n = room;
    memcpy(buf + *pos, s, n);
    *pos += n;
    buf[*pos] = '\0';
}

char *berth_flags_string(uint8_t flags, char *buf, size_t size)
{
    /* The order a reader says them: SYN and FIN before RST, ACK last but
     * URG, giving "SYN,ACK", "FIN,ACK", "PSH,ACK". */
    static const struct {
        uint8_t bit;
        const char *name;
    } names[] = {
        {BERTH_TH_SYN, "SYN"}, {BERTH_TH_FIN, "FIN"}, {BERTH_TH_RST, "RST"},
        {BERTH_TH_PSH, "PSH"}, {BERTH_TH_ACK, "ACK"}, {BERTH_TH_URG, "URG"},
    };
    size_t pos = 0;
    bool any = false;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(flags & names[i].bit))
            continue;
        if (any)
            append(buf, size, &pos, ",");
        append(buf, size, &pos, names[i].name);
        any = true;
    }
    /* ECE and CWR have no name here: a segment with only those is "none". */
    if (!any)
        append(buf, size, &pos, "none");
    return buf;
}
