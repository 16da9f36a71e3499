/* The name tables generated from the X-macro lists in berth.h, and the
 * configuration defaults. */
#include "berth/berth.h"

#include <string.h>

const char *berth_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define BERTH_ERRNO_STR(name, val, msg)                                        \
    case -(val):                                                               \
        return msg;
        BERTH_ERRNO_MAP(BERTH_ERRNO_STR)
#undef BERTH_ERRNO_STR
    default:
        return "unknown error";
    }
}

const char *berth_errname(int err)
{
    switch (err) {
    case 0:
        return "OK";
#define BERTH_ERRNO_NAME(name, val, msg)                                       \
    case -(val):                                                               \
        return #name;
        BERTH_ERRNO_MAP(BERTH_ERRNO_NAME)
#undef BERTH_ERRNO_NAME
    default:
        return NULL;
    }
}

static const char *const state_names[] = {
#define BERTH_STATE_STR(name, str) str,
    BERTH_STATE_MAP(BERTH_STATE_STR)
#undef BERTH_STATE_STR
};

const char *berth_state_name(enum berth_state st)
{
    if ((unsigned)st >= BERTH_STATE__COUNT)
        return "?";
    return state_names[st];
}

static const char *const reason_names[] = {
#define BERTH_REASON_NAME(name, str) #name,
    BERTH_REASON_MAP(BERTH_REASON_NAME)
#undef BERTH_REASON_NAME
};
static const char *const reason_strings[] = {
#define BERTH_REASON_STR(name, str) str,
    BERTH_REASON_MAP(BERTH_REASON_STR)
#undef BERTH_REASON_STR
};

const char *berth_reason_name(enum berth_reason r)
{
    return (unsigned)r < BERTH_REASON__COUNT ? reason_names[r] : "?";
}

const char *berth_reason_string(enum berth_reason r)
{
    return (unsigned)r < BERTH_REASON__COUNT ? reason_strings[r] : "?";
}

static const char *const counter_names[] = {
#define BERTH_COUNTER_NAME(name, str) #name,
    BERTH_COUNTER_MAP(BERTH_COUNTER_NAME)
#undef BERTH_COUNTER_NAME
};
static const char *const counter_strings[] = {
#define BERTH_COUNTER_STR(name, str) str,
    BERTH_COUNTER_MAP(BERTH_COUNTER_STR)
#undef BERTH_COUNTER_STR
};

const char *berth_counter_name(enum berth_counter c)
{
    return (unsigned)c < BERTH_CTR__COUNT ? counter_names[c] : "?";
}

const char *berth_counter_string(enum berth_counter c)
{
    return (unsigned)c < BERTH_CTR__COUNT ? counter_strings[c] : "?";
}

static const char *const cc_cause_names[] = {
#define BERTH_CC_CAUSE_STR(name, str) str,
    BERTH_CC_CAUSE_MAP(BERTH_CC_CAUSE_STR)
#undef BERTH_CC_CAUSE_STR
};

const char *berth_cc_cause_name(enum berth_cc_cause c)
{
    return (unsigned)c < BERTH_CC__COUNT ? cc_cause_names[c] : "?";
}

static const char *const timer_names[] = {
#define BERTH_TIMER_STR(name, str) str,
    BERTH_TIMER_MAP(BERTH_TIMER_STR)
#undef BERTH_TIMER_STR
};

const char *berth_timer_name(enum berth_timer t)
{
    return (unsigned)t < BERTH_TIMER__COUNT ? timer_names[t] : "?";
}

static const char *const app_call_names[] = {
#define BERTH_APP_CALL_STR(name, str) str,
    BERTH_APP_CALL_MAP(BERTH_APP_CALL_STR)
#undef BERTH_APP_CALL_STR
};

const char *berth_app_call_name(enum berth_app_call c)
{
    return (unsigned)c < BERTH_APP__COUNT ? app_call_names[c] : "?";
}

#define SEC 1000000ull
#define MS  1000u

void berth_config_init(struct berth_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->addr = (198u << 24) | (18u << 16) | 2u; /* 198.18.0.2 */
    cfg->max_sockets = 65536;
    cfg->ephemeral_lo = 32768;
    cfg->ephemeral_hi = 60999;
    cfg->mss = 1460;
    cfg->ttl = 64;
    cfg->hop_limit = 64; /* RFC 8200 §3; Linux: hop_limit 64 */
    cfg->sndbuf = 65536;
    cfg->rcvbuf = 65535;
    cfg->buf_cache = 8u << 20;
    cfg->mem_limit = (size_t)256 << 20;
    cfg->rto_initial = 1 * SEC;
    cfg->rto_min = 200 * MS;
    cfg->rto_max = 120 * SEC;
    cfg->syn_retries = 6;
    cfg->synack_retries = 5;
    cfg->max_retries = 15;
    cfg->msl = 30 * SEC;
    cfg->fin_wait_2_timeout = 60 * SEC;
    cfg->delack = 40 * MS;
    cfg->keepalive_idle = 7200 * SEC;
    cfg->keepalive_interval = 75 * SEC;
    cfg->keepalive_count = 9;
    cfg->user_timeout = 0;
    cfg->challenge_ack_limit = 1000;
    cfg->invalid_ratelimit = 500 * MS; /* Linux: tcp_invalid_ratelimit */
    cfg->syn_backlog = 256;
    cfg->syncookies = 1; /* Linux: tcp_syncookies = 1 */
    cfg->window_scaling = true;
    cfg->timestamps = true;
    cfg->sack = true;
    cfg->congestion = BERTH_CC_CUBIC;
    cfg->initial_cwnd = 10;
    cfg->quickack = 16;    /* Linux: TCP_MAX_QUICKACKS */
    cfg->icmp_rate = 1000; /* Linux: icmp_msgs_per_sec */
    cfg->icmp_burst = 50;  /* Linux: icmp_msgs_burst */
    cfg->icmp_echo = true;
    cfg->pmtu_discovery = true;
    cfg->pmtu_min = 576;
    cfg->pmtu_expire = 600 * SEC; /* RFC 1191 §6.3: 10 minutes */
    cfg->mtu_probing = 0;
    cfg->udp_rcvq_max = 256;
    cfg->udp_rcvq_bytes = 256u << 10;
}

const char *berth_mem_level_name(enum berth_mem_level level)
{
    switch (level) {
    case BERTH_MEM_NORMAL:
        return "normal";
    case BERTH_MEM_PRESSURE:
        return "pressure";
    case BERTH_MEM_OVER_LIMIT:
        return "over-limit";
    }
    return "?";
}

/* The Ethernet interface's names (include/berth/link.h). */
#include "berth/link.h"

static const char *const neigh_state_names[] = {
#define BERTH_NEIGH_STATE_STR(name, str) str,
    BERTH_NEIGH_STATE_MAP(BERTH_NEIGH_STATE_STR)
#undef BERTH_NEIGH_STATE_STR
};

const char *berth_neigh_state_name(enum berth_neigh_state st)
{
    return (unsigned)st < BERTH_NEIGH__COUNT ? neigh_state_names[st] : "?";
}

static const char *const eth_counter_names[] = {
#define BERTH_ETH_COUNTER_NAME(name, str) #name,
    BERTH_ETH_COUNTER_MAP(BERTH_ETH_COUNTER_NAME)
#undef BERTH_ETH_COUNTER_NAME
};
static const char *const eth_counter_strings[] = {
#define BERTH_ETH_COUNTER_STR(name, str) str,
    BERTH_ETH_COUNTER_MAP(BERTH_ETH_COUNTER_STR)
#undef BERTH_ETH_COUNTER_STR
};

const char *berth_eth_counter_name(enum berth_eth_counter c)
{
    return (unsigned)c < BERTH_ETH__COUNT ? eth_counter_names[c] : "?";
}

const char *berth_eth_counter_string(enum berth_eth_counter c)
{
    return (unsigned)c < BERTH_ETH__COUNT ? eth_counter_strings[c] : "?";
}
