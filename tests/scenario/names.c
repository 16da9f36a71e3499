/* Name tables of the scenario language: config and tcp_info fields, socket
 * options, errno, state, counter, reason and event-mask names (generated
 * from the public X-macro lists), and the number, time and address syntax.
 */
#include "scenario.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(type, name, kind)                                                \
    {                                                                          \
#name, offsetof(struct type, name), sizeof(((struct type *)0)->name),  \
            kind                                                               \
    }

static const struct scn_field config_fields[] = {
    FIELD(berth_config, addr, SCN_F_ADDR),
    FIELD(berth_config, seed, SCN_F_PLAIN),
    FIELD(berth_config, max_sockets, SCN_F_PLAIN),
    FIELD(berth_config, ephemeral_lo, SCN_F_PLAIN),
    FIELD(berth_config, ephemeral_hi, SCN_F_PLAIN),
    FIELD(berth_config, mss, SCN_F_PLAIN),
    FIELD(berth_config, ttl, SCN_F_PLAIN),
    FIELD(berth_config, sndbuf, SCN_F_PLAIN),
    FIELD(berth_config, rcvbuf, SCN_F_PLAIN),
    FIELD(berth_config, rto_initial, SCN_F_TIME),
    FIELD(berth_config, rto_min, SCN_F_TIME),
    FIELD(berth_config, rto_max, SCN_F_TIME),
    FIELD(berth_config, syn_retries, SCN_F_PLAIN),
    FIELD(berth_config, synack_retries, SCN_F_PLAIN),
    FIELD(berth_config, max_retries, SCN_F_PLAIN),
    FIELD(berth_config, msl, SCN_F_TIME),
    FIELD(berth_config, fin_wait_2_timeout, SCN_F_TIME),
    FIELD(berth_config, delack, SCN_F_TIME),
    FIELD(berth_config, keepalive_idle, SCN_F_TIME),
    FIELD(berth_config, keepalive_interval, SCN_F_TIME),
    FIELD(berth_config, keepalive_count, SCN_F_PLAIN),
    FIELD(berth_config, user_timeout, SCN_F_TIME),
    FIELD(berth_config, challenge_ack_limit, SCN_F_PLAIN),
    FIELD(berth_config, invalid_ratelimit, SCN_F_TIME),
    FIELD(berth_config, syn_backlog, SCN_F_PLAIN),
    FIELD(berth_config, syncookies, SCN_F_PLAIN),
    FIELD(berth_config, window_scaling, SCN_F_BOOL),
    FIELD(berth_config, timestamps, SCN_F_BOOL),
    FIELD(berth_config, sack, SCN_F_BOOL),
    FIELD(berth_config, congestion, SCN_F_CC),
    FIELD(berth_config, initial_cwnd, SCN_F_PLAIN),
    FIELD(berth_config, quickack, SCN_F_PLAIN),
    FIELD(berth_config, icmp_rate, SCN_F_PLAIN),
    FIELD(berth_config, icmp_burst, SCN_F_PLAIN),
    FIELD(berth_config, icmp_echo, SCN_F_BOOL),
    FIELD(berth_config, pmtu_discovery, SCN_F_BOOL),
    FIELD(berth_config, pmtu_min, SCN_F_PLAIN),
    FIELD(berth_config, pmtu_expire, SCN_F_TIME),
    FIELD(berth_config, mtu_probing, SCN_F_PLAIN),
    FIELD(berth_config, udp_rcvq_max, SCN_F_PLAIN),
    FIELD(berth_config, udp_rcvq_bytes, SCN_F_PLAIN),
};

static const struct scn_field info_fields[] = {
    FIELD(berth_tcp_info, state, SCN_F_STATE),
    FIELD(berth_tcp_info, local.addr, SCN_F_ADDR),
    FIELD(berth_tcp_info, local.port, SCN_F_PLAIN),
    FIELD(berth_tcp_info, remote.addr, SCN_F_ADDR),
    FIELD(berth_tcp_info, remote.port, SCN_F_PLAIN),
    FIELD(berth_tcp_info, iss, SCN_F_OUR_SEQ),
    FIELD(berth_tcp_info, irs, SCN_F_PEER_SEQ),
    FIELD(berth_tcp_info, snd_una, SCN_F_OUR_SEQ),
    FIELD(berth_tcp_info, snd_nxt, SCN_F_OUR_SEQ),
    FIELD(berth_tcp_info, snd_wnd, SCN_F_PLAIN),
    FIELD(berth_tcp_info, rcv_nxt, SCN_F_PEER_SEQ),
    FIELD(berth_tcp_info, rcv_wnd, SCN_F_PLAIN),
    FIELD(berth_tcp_info, snd_mss, SCN_F_PLAIN),
    FIELD(berth_tcp_info, srtt, SCN_F_TIME),
    FIELD(berth_tcp_info, rttvar, SCN_F_TIME),
    FIELD(berth_tcp_info, rto, SCN_F_TIME),
    FIELD(berth_tcp_info, retransmits, SCN_F_PLAIN),
    FIELD(berth_tcp_info, total_retrans, SCN_F_PLAIN),
    FIELD(berth_tcp_info, snd_queued, SCN_F_PLAIN),
    FIELD(berth_tcp_info, rcv_queued, SCN_F_PLAIN),
    FIELD(berth_tcp_info, unacked, SCN_F_PLAIN),
    FIELD(berth_tcp_info, cwnd, SCN_F_PLAIN),
    FIELD(berth_tcp_info, ssthresh, SCN_F_PLAIN),
    FIELD(berth_tcp_info, accept_queue, SCN_F_PLAIN),
    FIELD(berth_tcp_info, accept_backlog, SCN_F_PLAIN),
    FIELD(berth_tcp_info, syn_queue, SCN_F_PLAIN),
    FIELD(berth_tcp_info, next_timer, SCN_F_TIME),
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct scn_field *field_find(const struct scn_field *t, size_t n,
                                          const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    }
    return NULL;
}

const struct scn_field *scn_config_field(const char *name)
{
    return field_find(config_fields, ARRAY_LEN(config_fields), name);
}

const struct scn_field *scn_info_field(const char *name)
{
    return field_find(info_fields, ARRAY_LEN(info_fields), name);
}

uint64_t scn_field_get(const void *base, const struct scn_field *f)
{
    const unsigned char *p = (const unsigned char *)base + f->offset;
    uint8_t v8;
    uint16_t v16;
    uint32_t v32;
    uint64_t v64;
    switch (f->size) {
    case 1:
        memcpy(&v8, p, 1);
        return v8;
    case 2:
        memcpy(&v16, p, 2);
        return v16;
    case 4:
        memcpy(&v32, p, 4);
        return v32;
    default:
        memcpy(&v64, p, 8);
        return v64;
    }
}

void scn_field_set(void *base, const struct scn_field *f, uint64_t v)
{
    unsigned char *p = (unsigned char *)base + f->offset;
    uint8_t v8 = (uint8_t)v;
    uint16_t v16 = (uint16_t)v;
    uint32_t v32 = (uint32_t)v;
    switch (f->size) {
    case 1:
        memcpy(p, &v8, 1);
        break;
    case 2:
        memcpy(p, &v16, 2);
        break;
    case 4:
        memcpy(p, &v32, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

static const struct {
    const char *name;
    enum berth_opt opt;
    bool is_time;
} setopts[] = {
    {"nodelay", BERTH_OPT_NODELAY, false},
    {"keepalive", BERTH_OPT_KEEPALIVE, false},
    {"keepidle", BERTH_OPT_KEEPIDLE, true},
    {"keepintvl", BERTH_OPT_KEEPINTVL, true},
    {"keepcnt", BERTH_OPT_KEEPCNT, false},
    {"linger", BERTH_OPT_LINGER, true},
    {"sndbuf", BERTH_OPT_SNDBUF, false},
    {"rcvbuf", BERTH_OPT_RCVBUF, false},
    {"maxseg", BERTH_OPT_MAXSEG, false},
    {"user_timeout", BERTH_OPT_USER_TIMEOUT, true},
    {"congestion", BERTH_OPT_CONGESTION, false},
    {"v6only", BERTH_OPT_V6ONLY, false},
};

int scn_setopt_lookup(const char *name, bool *is_time)
{
    for (size_t i = 0; i < ARRAY_LEN(setopts); i++) {
        if (strcmp(setopts[i].name, name) == 0) {
            *is_time = setopts[i].is_time;
            return (int)setopts[i].opt;
        }
    }
    return -1;
}

int scn_cc_lookup(const char *name)
{
    if (strcmp(name, "newreno") == 0)
        return BERTH_CC_NEWRENO;
    if (strcmp(name, "cubic") == 0)
        return BERTH_CC_CUBIC;
    return -1;
}

static const struct {
    const char *name;
    int val;
} errnos[] = {
#define ERRNO_ENTRY(name, val, msg) {#name, -(val)},
    BERTH_ERRNO_MAP(ERRNO_ENTRY)
#undef ERRNO_ENTRY
};

int scn_errno_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(errnos); i++) {
        if (strcmp(errnos[i].name, name) == 0)
            return errnos[i].val;
    }
    return 1;
}

const char *scn_errno_name(int64_t v)
{
    for (size_t i = 0; i < ARRAY_LEN(errnos); i++) {
        if (errnos[i].val == v)
            return errnos[i].name;
    }
    return NULL;
}

static const char *const state_enum_names[] = {
#define STATE_ENUM_NAME(name, str) #name,
    BERTH_STATE_MAP(STATE_ENUM_NAME)
#undef STATE_ENUM_NAME
};
static const char *const state_rfc_names[] = {
#define STATE_RFC_NAME(name, str) str,
    BERTH_STATE_MAP(STATE_RFC_NAME)
#undef STATE_RFC_NAME
};

/* "SYN-SENT" (RFC spelling) or "SYN_SENT" (enum name). */
int scn_state_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(state_enum_names); i++) {
        if (strcmp(state_enum_names[i], name) == 0 ||
            strcmp(state_rfc_names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static const char *const counter_names[] = {
#define COUNTER_NAME(name, str) #name,
    BERTH_COUNTER_MAP(COUNTER_NAME)
#undef COUNTER_NAME
};

int scn_counter_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(counter_names); i++) {
        if (strcmp(counter_names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static const char *const reason_names[] = {
#define REASON_NAME(name, str) #name,
    BERTH_REASON_MAP(REASON_NAME)
#undef REASON_NAME
};

int scn_reason_lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(reason_names); i++) {
        if (strcmp(reason_names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

static const struct {
    const char *name;
    uint32_t bit;
} evbits[] = {
    {"READABLE", BERTH_EV_READABLE}, {"WRITABLE", BERTH_EV_WRITABLE},
    {"ERROR", BERTH_EV_ERROR},       {"HUP", BERTH_EV_HUP},
    {"RDHUP", BERTH_EV_RDHUP},
};

static int evbit_lookup(const char *name, size_t len, uint32_t *bit)
{
    if (len > 9 && strncmp(name, "BERTH_EV_", 9) == 0) {
        name += 9;
        len -= 9;
    }
    for (size_t i = 0; i < ARRAY_LEN(evbits); i++) {
        if (strlen(evbits[i].name) == len &&
            strncmp(evbits[i].name, name, len) == 0) {
            *bit = evbits[i].bit;
            return 0;
        }
    }
    return -1;
}

/* "READABLE|WRITABLE", "0", or a number. */
int scn_evmask_parse(const char *s, uint32_t *mask)
{
    uint64_t v;
    if (scn_parse_u64(s, &v) == 0) {
        *mask = (uint32_t)v;
        return v > UINT32_MAX ? -1 : 0;
    }
    *mask = 0;
    for (int i = 0; i < 32 && *s; i++) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        uint32_t bit;
        if (evbit_lookup(s, len, &bit) != 0)
            return -1;
        *mask |= bit;
        if (!bar)
            return 0;
        s = bar + 1;
    }
    return -1;
}

void scn_evmask_format(uint32_t mask, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    if (mask == 0) {
        snprintf(buf, size, "0");
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(evbits); i++) {
        if (!(mask & evbits[i].bit) || used >= size)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? "|" : "",
                         evbits[i].name);
        used += n > 0 ? (size_t)n : 0;
        mask &= ~evbits[i].bit;
    }
    if (mask && used < size)
        snprintf(buf + used, size - used, "%s0x%x", used ? "|" : "", mask);
}

int scn_parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!isxdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int scn_parse_i64(const char *s, int64_t *out)
{
    uint64_t v;
    bool neg = s[0] == '-';
    if (scn_parse_u64(neg ? s + 1 : s, &v) != 0 || v > INT64_MAX)
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* "123" or "1.250": *out is the number times 10^6 (microseconds when the
 * number is seconds). end receives the first character after the number. */
static int parse_decimal_e6(const char *s, uint64_t *out, const char **end)
{
    uint64_t ip = 0, fp = 0;
    int digits = 0, frac = 0;
    for (; isdigit((unsigned char)*s) && digits < 12; s++, digits++)
        ip = ip * 10 + (uint64_t)(*s - '0');
    if (digits == 0 || isdigit((unsigned char)*s))
        return -1;
    if (*s == '.') {
        s++;
        for (; isdigit((unsigned char)*s) && frac < 6; s++, frac++)
            fp = fp * 10 + (uint64_t)(*s - '0');
        if (frac == 0 || isdigit((unsigned char)*s))
            return -1;
    }
    for (int i = frac; i < 6; i++)
        fp *= 10;
    *out = ip * 1000000u + fp;
    *end = s;
    return 0;
}

int scn_parse_seconds(const char *s, uint64_t *out)
{
    const char *end;
    if (parse_decimal_e6(s, out, &end) != 0 || *end != '\0')
        return -1;
    return 0;
}

int scn_parse_units(const char *s, uint64_t *out)
{
    const char *end;
    uint64_t v;
    if (scn_parse_u64(s, out) == 0)
        return 0;
    if (parse_decimal_e6(s, &v, &end) != 0)
        return -1;
    /* v is the number times 10^6. */
    if (strcmp(end, "s") == 0)
        *out = v;
    else if (strcmp(end, "ms") == 0 && v % 1000u == 0)
        *out = v / 1000u;
    else if (strcmp(end, "us") == 0 && v % 1000000u == 0)
        *out = v / 1000000u;
    else
        return -1;
    return 0;
}

int scn_parse_addr(const char *s, uint32_t *out)
{
    unsigned a, b, c, d;
    char tail;
    if (sscanf(s, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 ||
        b > 255 || c > 255 || d > 255)
        return -1;
    *out = (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
    return 0;
}

void scn_format_time(uint64_t us, char *buf, size_t size)
{
    if (us == SCN_NO_TIME)
        snprintf(buf, size, "never");
    else
        snprintf(buf, size, "%llu.%06llu", (unsigned long long)(us / 1000000u),
                 (unsigned long long)(us % 1000000u));
}

void scn_format_addr(uint32_t addr, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xffu,
             (addr >> 8) & 0xffu, addr & 0xffu);
}

int scn_parse_addr6(const char *s, uint8_t out[16])
{
    return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

void scn_format_ep(const struct berth_endpoint *ep, char *buf, size_t size)
{
    char a[BERTH_ADDRSTRLEN];
    berth_addr_string(ep, a, sizeof(a));
    /* [2001:db8:b::2] so that a ":port" after it reads (RFC 5952 §6). */
    snprintf(buf, size, ep->family == BERTH_AF_INET6 ? "[%s]" : "%s", a);
}
