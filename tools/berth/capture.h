/* berth command: a reader of captures for `berth ladder` — classic pcap
 * (both byte orders, micro- and nanosecond stamps) and pcapng (Wireshark's
 * and dumpcap's; any time resolution, several interfaces) — of berth's own
 * (LINKTYPE_RAW), tcpdump's on an Ethernet or veth device
 * (LINKTYPE_ETHERNET, 802.1Q tags skipped) and on "any" (Linux cooked
 * SLL and SLL2), IPv4 and IPv6. It yields TCP segments with their endpoints;
 * everything else is counted and skipped. */
#ifndef BERTH_CMD_CAPTURE_H
#define BERTH_CMD_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "berth/berth.h"

/* An endpoint of either family: the ladder's own, so that a capture's
 * IPv6 connections can be drawn whatever the stack's API carries. */
struct cap_addr {
    uint8_t fam;   /* 4 or 6 */
    uint8_t a[16]; /* IPv4 in a[0..3], network order */
    uint16_t port; /* host order */
};

struct cap_packet {
    uint64_t t; /* µs since the epoch (the record's stamp) */
    struct cap_addr src, dst;
    struct berth_segment seg; /* ports, numbers, flags, options; addresses
                                 zero (src/dst above carry them) */
    const uint8_t *payload;   /* plen bytes, valid until the next read */
    uint32_t plen;            /* ≤ seg.len: the snap length may cut it */
};

struct capture;

/* The file begins as a pcap or a pcapng does (no more is read). */
bool capture_sniff(const char *path);
/* NULL with a message in err when the file cannot be read or is not a
 * pcap of a link type named above, or a pcapng. */
struct capture *capture_open(const char *path, char *err, size_t errlen);
/* The same from an open stream, which it then owns (closed by
 * capture_close, or at once on failure); name is for messages. */
struct capture *capture_open_stream(FILE *f, const char *name, char *err,
                                    size_t errlen);
/* The next TCP segment: 1, 0 at the end, -1 when the file is cut short in
 * a record header (err says so; what was read stays usable). */
int capture_next(struct capture *c, struct cap_packet *p, char *err,
                 size_t errlen);
/* Records skipped: not IP, not TCP, fragments, malformed TCP. */
uint64_t capture_skipped(const struct capture *c);
void capture_close(struct capture *c);

/* "198.18.0.1:80", "[2001:db8::1]:80" into buf; returns buf. */
char *cap_addr_str(const struct cap_addr *a, char *buf, size_t size);
bool cap_addr_eq(const struct cap_addr *a, const struct cap_addr *b);
/* Parses what cap_addr_str prints (an IPv6 address in brackets); the port
 * may be left off (then 0: any). 0 or -1. */
int cap_addr_parse(const char *s, struct cap_addr *out);
/* An IPv4 endpoint of berth's API (host order) as a capture's. */
struct cap_addr cap_addr_v4(uint32_t addr, uint16_t port);

#endif
