/* Parser of the datagram lines: ICMP messages and UDP datagrams, in and
 * out (tests/scenarios/README.md, "ICMP and UDP"):
 *   < icmp echo id N seq N len N [from ADDR]
 *   > icmp echo-reply id N seq N len N
 *   < icmp unreach CODE [mtu N] quote FLAGS seq N [len N] [from ADDR]
 *   < icmp time-exceeded|param-problem quote FLAGS seq N [len N]
 *   < icmp too-big mtu N quote FLAGS seq N [len N] [from ADDR]   (IPv6)
 *   < icmp unreach CODE quote-udp [len N]   quoting a datagram of ours
 *   > icmp unreach CODE [quote-udp]
 *   < udp len N [nosum|badsum]   > udp len N    (port N, local-port N)
 *   ipv4 on any of them: over IPv4 in an IPv6 script
 * CODE: net host proto port frag net-admin host-admin admin. In an IPv6
 * script the lines are ICMPv6 and UDP over IPv6 (dgram.c maps the types). */
#include "scenario.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int dg_err(const char *file, int line, const char *msg, const char *t)
{
    fprintf(stderr, "%s:%d: %s%s%s\n", file, line, msg, t ? " " : "",
            t ? t : "");
    return -1;
}

static const struct {
    const char *name;
    uint8_t code;
} unreach_codes[] = {
    {"net", 0},  {"host", 1},      {"proto", 2},       {"port", 3},
    {"frag", 4}, {"net-admin", 9}, {"host-admin", 10}, {"admin", 13},
};

static int tcp_flags(const char *s, uint8_t *out)
{
    *out = 0;
    for (; *s; s++) {
        switch (*s) {
        case 'S':
            *out |= BERTH_TH_SYN;
            break;
        case 'F':
            *out |= BERTH_TH_FIN;
            break;
        case 'R':
            *out |= BERTH_TH_RST;
            break;
        case 'P':
            *out |= BERTH_TH_PSH;
            break;
        case '.':
            *out |= BERTH_TH_ACK;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* "KEY VALUE" numbers; returns 0 and sets *v, or -1. */
static int num(const char *t, uint64_t max, uint32_t *v)
{
    uint64_t x;
    if (scn_parse_u64(t, &x) != 0 || x > max)
        return -1;
    *v = (uint32_t)x;
    return 0;
}

static int icmp_head(const char *file, int line, int ntok, char *const *tok,
                     bool in, struct scn_dgram *d, int *i)
{
    const char *what = ntok > 1 ? tok[1] : "";
    if (strcmp(what, "echo") == 0 && in) {
        d->type = 8;
    } else if (strcmp(what, "echo-reply") == 0 && !in) {
        d->type = 0;
    } else if (strcmp(what, "time-exceeded") == 0 && in) {
        d->type = 11;
    } else if (strcmp(what, "param-problem") == 0 && in) {
        d->type = 12;
    } else if (strcmp(what, "too-big") == 0 && in) {
        d->type = 3; /* IPv6 Packet Too Big, told as frag needed */
        d->code = 4;
    } else if (strcmp(what, "unreach") == 0) {
        d->type = 3;
        if (ntok < 3)
            return dg_err(file, line, "unreach needs a code", NULL);
        size_t n = sizeof unreach_codes / sizeof unreach_codes[0], k;
        for (k = 0; k < n && strcmp(unreach_codes[k].name, tok[2]); k++)
            ;
        if (k == n)
            return dg_err(file, line, "unknown unreach code", tok[2]);
        d->code = unreach_codes[k].code;
        *i = 3;
        return 0;
    } else {
        return dg_err(file, line, "unknown icmp message for this direction",
                      what);
    }
    *i = 2;
    return 0;
}

static int field(const char *file, int line, int ntok, char *const *tok, int i,
                 struct scn_dgram *d)
{
    const char *k = tok[i];
    const char *v = i + 1 < ntok ? tok[i + 1] : NULL;
    uint32_t x = 0;
    if (strcmp(k, "quote-udp") == 0) {
        d->quote = d->quote_udp = true;
        return 1;
    }
    if (strcmp(k, "ipv4") == 0) {
        d->ipv4 = true;
        return 1;
    }
    if (strcmp(k, "nosum") == 0 || strcmp(k, "badsum") == 0) {
        *(k[0] == 'n' ? &d->nosum : &d->badsum) = true;
        return 1;
    }
    if (!v)
        return dg_err(file, line, "missing value after", k);
    if (strcmp(k, "quote") == 0) {
        d->quote = true;
        if (tcp_flags(v, &d->qflags) != 0)
            return dg_err(file, line, "bad quoted TCP flags", v);
        return 2;
    }
    if (strcmp(k, "from") == 0) {
        d->has_from = true;
        if (scn_parse_addr(v, &d->from) == 0)
            return 2;
        d->from_v6 = true;
        return scn_parse_addr6(v, d->from6) == 0
                   ? 2
                   : dg_err(file, line, "bad address", v);
    }
    int rc = 0;
    if (strcmp(k, "id") == 0 && (rc = num(v, 65535, &x)) == 0) {
        d->has_id = true;
        d->id = (uint16_t)x;
    } else if (strcmp(k, "seq") == 0 && d->quote &&
               (rc = num(v, UINT32_MAX, &x)) == 0) {
        d->qseq = x;
    } else if (strcmp(k, "seq") == 0 && (rc = num(v, 65535, &x)) == 0) {
        d->has_seq = true;
        d->seq = (uint16_t)x;
    } else if (strcmp(k, "len") == 0 && d->quote && !d->quote_udp &&
               (rc = num(v, 65000, &x)) == 0) {
        d->qlen = x;
    } else if (strcmp(k, "len") == 0 && (rc = num(v, 65000, &x)) == 0) {
        d->len = x;
    } else if (strcmp(k, "mtu") == 0 && (rc = num(v, 65535, &x)) == 0) {
        d->has_mtu = true;
        d->mtu = (uint16_t)x;
    } else if (strcmp(k, "port") == 0 && (rc = num(v, 65535, &x)) == 0) {
        d->has_port = true;
        d->port = (uint16_t)x;
    } else if (strcmp(k, "local-port") == 0 && (rc = num(v, 65535, &x)) == 0) {
        d->has_lport = true;
        d->lport = (uint16_t)x;
    } else {
        return dg_err(file, line, rc ? "bad value for" : "unknown field", k);
    }
    return 2;
}

int scn_parse_dgram(const char *file, int line, int ntok, char *const *tok,
                    bool in, struct scn_event *ev)
{
    struct scn_dgram *d = &ev->dg;
    *d = (struct scn_dgram){0};
    ev->kind = in ? SCN_DGRAM_IN : SCN_DGRAM_OUT;
    int i = 1;
    if (strcmp(tok[0], "udp") == 0) {
        d->proto = 17;
    } else {
        d->proto = 1;
        if (icmp_head(file, line, ntok, tok, in, d, &i) != 0)
            return -1;
    }
    while (i < ntok) {
        int used = field(file, line, ntok, tok, i, d);
        if (used < 0)
            return -1;
        i += used;
    }
    bool echo = d->proto == 1 && (d->type == 0 || d->type == 8);
    if (echo && (!d->has_id || !d->has_seq))
        return dg_err(file, line, "an echo line must give id and seq", NULL);
    if (d->proto == 1 && !echo && in && !d->quote)
        return dg_err(file, line,
                      "an inbound error must quote what we sent: quote FLAGS "
                      "or quote-udp",
                      NULL);
    if ((d->nosum || d->badsum) && !(in && d->proto == 17))
        return dg_err(file, line, "nosum and badsum are for '< udp'", NULL);
    if (d->proto == 1 && d->type == 3 && d->code == 4 && in && !d->has_mtu)
        return dg_err(file, line, "unreach frag and too-big need mtu (0: none)",
                      NULL);
    if (d->has_from && !in)
        return dg_err(file, line, "from is for inbound lines", NULL);
    return 0;
}
