/* Writes the seed corpus of the fuzz target (tests/fuzz/corpus/): valid
 * exchanges with the stack in fuzz_input.c, built with the wire emitters.
 * Usage: fuzz_gen_corpus DIR. The files are committed; rerun this when the
 * input format or the target's sockets change. */
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Must match fuzz_input.c. */
#define PEER        0xc6120001u /* 198.18.0.1 */
#define US          0xc6120002u /* 198.18.0.2 */
#define LISTEN_PORT 80u
#define CLIENT_PORT 40000u
#define ISN         1000u
#define PEER_PORT   12345u
#define PEER_ISN    5000u

struct input {
    uint8_t bytes[8192];
    size_t len;
};

/* Appends one record: header, then an IPv4/TCP packet from the peer. ctl
 * is the fuzz target's time/checksum byte. */
static void add(struct input *in, uint8_t ctl, struct tcp_seg s,
                const char *payload)
{
    uint8_t *rec = in->bytes + in->len;
    uint8_t *pkt = rec + 3;
    s.len = payload ? (uint32_t)strlen(payload) : 0;
    size_t olen = tcp_opts_len(&s.opts);
    if (s.len)
        memcpy(pkt + IPV4_HDR_LEN + TCP_HDR_LEN + olen, payload, s.len);
    size_t hdr = tcp_emit(pkt + IPV4_HDR_LEN, &s, PEER, US);
    size_t len = IPV4_HDR_LEN + hdr + s.len;
    ipv4_emit(pkt, PEER, US, IPPROTO_TCP_NUM, 64, 1, (uint16_t)(hdr + s.len));
    rec[0] = (uint8_t)(len >> 8);
    rec[1] = (uint8_t)len;
    rec[2] = ctl;
    in->len += 3 + len;
}

/* Appends one record: an IPv4 packet from src of proto whose payload
 * (ICMP or UDP, checksummed already) is body; frag: the flags/offset
 * field (0: DF, a whole datagram). */
static void add_ip(struct input *in, uint8_t ctl, uint32_t src, uint8_t proto,
                   const uint8_t *body, size_t blen, uint16_t frag)
{
    uint8_t *rec = in->bytes + in->len;
    uint8_t *pkt = rec + 3;
    memcpy(pkt + IPV4_HDR_LEN, body, blen);
    ipv4_emit(pkt, src, US, proto, 64, 7, (uint16_t)blen);
    if (frag) {
        store_be16(pkt + 6, frag);
        store_be16(pkt + 10, 0);
        store_be16(pkt + 10, csum_fold(csum_add(0, pkt, IPV4_HDR_LEN)));
    }
    size_t len = IPV4_HDR_LEN + blen;
    rec[0] = (uint8_t)(len >> 8);
    rec[1] = (uint8_t)len;
    rec[2] = ctl;
    in->len += 3 + len;
}

/* An ICMP error quoting a TCP segment of ours (US:sport > PEER:dport). */
static size_t icmp_quoting(uint8_t *m, uint8_t type, uint8_t code,
                           uint32_t rest, uint16_t sport, uint16_t dport,
                           uint32_t seq)
{
    uint8_t *q = m + ICMP_HDR_LEN;
    ipv4_emit(q, US, PEER, IPPROTO_TCP_NUM, 64, 1, 1460);
    memset(q + IPV4_HDR_LEN, 0, 8);
    store_be16(q + IPV4_HDR_LEN, sport);
    store_be16(q + IPV4_HDR_LEN + 2, dport);
    store_be32(q + IPV4_HDR_LEN + 4, seq);
    return icmp_emit(m, type, code, rest, IPV4_HDR_LEN + 8);
}

static struct tcp_seg seg(uint16_t sport, uint16_t dport, uint32_t seq,
                          uint32_t ack, uint8_t flags)
{
    struct tcp_seg s;
    memset(&s, 0, sizeof(s));
    s.sport = sport;
    s.dport = dport;
    s.seq = seq;
    s.ack = ack;
    s.flags = flags;
    s.wnd = 64240;
    return s;
}

/* A SYN with Linux's options. */
static struct tcp_seg with_syn_options(struct tcp_seg s)
{
    s.opts.has_mss = s.opts.has_wscale = s.opts.sack_ok = s.opts.has_ts = true;
    s.opts.mss = 1460;
    s.opts.wscale = 7;
    s.opts.ts_val = 77;
    s.opts.ts_ecr = s.flags & TH_ACK ? 1 : 0;
    return s;
}

static int write_input(const char *dir, const char *name,
                       const struct input *in)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(in->bytes, 1, in->len, f) != in->len) {
        fprintf(stderr, "gen_corpus: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int failed = 0;
    const uint16_t pp = PEER_PORT, lp = LISTEN_PORT, cp = CLIENT_PORT;
    const uint32_t pi = PEER_ISN, i = ISN;

    /* A SYN to the listener: LISTEN → SYN-RECEIVED, SYN-ACK retransmits. */
    struct input in = {0};
    add(&in, 0, with_syn_options(seg(pp, lp, pi, 0, TH_SYN)), NULL);
    failed |= write_input(dir, "listen_syn", &in);

    /* Passive open, a request, the peer closes, last ACK. */
    in.len = 0;
    add(&in, 0, with_syn_options(seg(pp, lp, pi, 0, TH_SYN)), NULL);
    add(&in, 5, seg(pp, lp, pi + 1, i + 1, TH_ACK), NULL);
    add(&in, 3, seg(pp, lp, pi + 1, i + 1, TH_PSH | TH_ACK),
        "GET / HTTP/1.0\r\n\r\n");
    add(&in, 3, seg(pp, lp, pi + 19, i + 7, TH_FIN | TH_ACK), NULL);
    add(&in, 3, seg(pp, lp, pi + 20, i + 8, TH_ACK), NULL);
    failed |= write_input(dir, "listen_handshake_data_fin", &in);

    /* Passive open, then RST. */
    in.len = 0;
    add(&in, 0, with_syn_options(seg(pp, lp, pi, 0, TH_SYN)), NULL);
    add(&in, 5, seg(pp, lp, pi + 1, i + 1, TH_ACK), NULL);
    add(&in, 5, seg(pp, lp, pi + 1, 0, TH_RST), NULL);
    failed |= write_input(dir, "listen_handshake_rst", &in);

    /* Active open answered: SYN-SENT → ESTABLISHED, data, peer's FIN. */
    in.len = 0;
    add(&in, 5, with_syn_options(seg(lp, cp, pi, i + 1, TH_SYN | TH_ACK)),
        NULL);
    add(&in, 3, seg(lp, cp, pi + 1, i + 1, TH_PSH | TH_ACK), "hello, world\n");
    add(&in, 3, seg(lp, cp, pi + 14, i + 1, TH_FIN | TH_ACK), NULL);
    failed |= write_input(dir, "connect_synack_data_fin", &in);

    /* Active open refused: RST+ACK acknowledging the SYN. */
    in.len = 0;
    add(&in, 5, seg(lp, cp, 0, i + 1, TH_RST | TH_ACK), NULL);
    failed |= write_input(dir, "connect_refused", &in);

    /* Simultaneous open: a bare SYN to the connecting socket. */
    in.len = 0;
    add(&in, 5, with_syn_options(seg(lp, cp, pi, 0, TH_SYN)), NULL);
    add(&in, 5, seg(lp, cp, pi + 1, i + 1, TH_ACK), NULL);
    failed |= write_input(dir, "connect_simultaneous_open", &in);

    /* An ACK with timestamps and SACK blocks to an established connection,
     * and out-of-order data. */
    in.len = 0;
    add(&in, 5, with_syn_options(seg(lp, cp, pi, i + 1, TH_SYN | TH_ACK)),
        NULL);
    struct tcp_seg s = seg(lp, cp, pi + 5, i + 1, TH_ACK);
    s.opts.has_ts = true;
    s.opts.ts_val = 90;
    s.opts.ts_ecr = 1;
    s.opts.sack_count = 1;
    s.opts.sack[0].start = i + 1;
    s.opts.sack[0].end = i + 1;
    add(&in, 2, s, "later");
    add(&in, 2, seg(lp, cp, pi + 1, i + 1, TH_ACK), "earl");
    failed |= write_input(dir, "connect_out_of_order", &in);

    /* Segments the stack must drop: no socket, and a bad checksum (sent
     * raw, ctl 0x80). */
    in.len = 0;
    add(&in, 0, seg(pp, 9, pi, 0, TH_SYN), NULL);
    add(&in, 0, seg(pp, lp, pi, 0, TH_ACK), NULL);
    size_t at = in.len;
    add(&in, 0x80, seg(pp, lp, pi, 0, TH_SYN), NULL);
    in.bytes[at + 3 + IPV4_HDR_LEN + 16] ^= 0xff; /* TCP checksum */
    failed |= write_input(dir, "drops", &in);

    /* ICMP and UDP: a ping, a datagram to a closed port (port
     * unreachable), an unknown protocol (protocol unreachable), a UDP
     * datagram in two fragments. */
    uint8_t m[1600];
    in.len = 0;
    memset(m, 0x5a, sizeof m);
    add_ip(&in, 0, PEER, IPPROTO_ICMP_NUM, m,
           icmp_emit(m, ICMP_ECHO, 0, 0x00070001u, 56), 0);
    memset(m + UDP_HDR_LEN, 'u', 100);
    add_ip(&in, 1, PEER, IPPROTO_UDP_NUM, m,
           udp_emit(m, 5353, 9, 100, PEER, US), 0);
    add_ip(&in, 1, PEER, 47, m, 64, 0);
    size_t ul = udp_emit(m, 5353, 53, 1400, PEER, US);
    add_ip(&in, 1, PEER, IPPROTO_UDP_NUM, m, 800, 0x2000u); /* MF */
    add_ip(&in, 1, PEER, IPPROTO_UDP_NUM, m + 800, ul - 800, 800 / 8);
    failed |= write_input(dir, "icmp_udp", &in);

    /* ICMP errors for the active open once established: host unreachable
     * (soft), fragmentation needed (PMTUD), a forged one out of window. */
    in.len = 0;
    add(&in, 5, with_syn_options(seg(lp, cp, pi, i + 1, TH_SYN | TH_ACK)),
        NULL);
    add_ip(
        &in, 1, 0xc6120701u, IPPROTO_ICMP_NUM, m,
        icmp_quoting(m, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0, cp, lp, i + 1),
        0);
    add_ip(&in, 1, 0xc6120701u, IPPROTO_ICMP_NUM, m,
           icmp_quoting(m, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 576, cp, lp,
                        i + 1),
           0);
    add_ip(&in, 1, PEER, IPPROTO_ICMP_NUM, m,
           icmp_quoting(m, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0, cp, lp,
                        i + 100000),
           0);
    failed |= write_input(dir, "icmp_errors_on_connection", &in);
    return failed;
}
