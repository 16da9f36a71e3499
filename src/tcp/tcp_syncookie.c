/* SYN cookies (RFC 4987 §3.6), as Linux lays them out in spirit:
 *
 *   ISN = (t mod 32) << 27 | (H(secret, 4-tuple, irs, t) + mss index) mod 2^27
 *
 * with t the 64-second period. A check recovers t from the top 5 bits (the
 * current or the previous period), subtracts the keyed hash and accepts an
 * index below the table size: a blind guess succeeds with probability
 * 2 * 8 / 2^27 (about 1 in 8 million). */
#include "tcp/tcp_syncookie.h"

#include "base/siphash.h"
#include "tcp/tcp.h"

#define COOKIE_KEY_TWEAK 0x434bu /* "CK": distinct from ISN and TS keys */
#define COOKIE_HASH_BITS 27u
#define COOKIE_HASH_MASK ((1u << COOKIE_HASH_BITS) - 1u)
#define COOKIE_T_MASK    0x1fu

/* Common MSS values (Linux keeps 536, 1300, 1440, 1460 for IPv4): berth's
 * floor, the classic default, IPv6's minimum path (1280 - 60), tunnels,
 * IPv6 and IPv4 over Ethernet, and jumbo frames. */
static const uint16_t cookie_mss_table[TCP_COOKIE_MSS_COUNT] = {
    64, 536, 1220, 1300, 1380, 1440, 1460, 8960};

/* Bits of our TSval that carry the options (Linux's TSBITS). */
#define COOKIE_TS_BITS  6u
#define COOKIE_TS_MASK  ((1u << COOKIE_TS_BITS) - 1u)
#define COOKIE_TS_NO_WS 0x0fu
#define COOKIE_TS_SACK  0x10u

static unsigned mss_index(uint16_t mss)
{
    unsigned i = TCP_COOKIE_MSS_COUNT - 1;
    while (i > 0 && cookie_mss_table[i] > mss)
        i--;
    return i;
}

uint16_t tcp_cookie_mss(uint16_t mss)
{
    return cookie_mss_table[mss_index(mss)];
}

static uint32_t cookie_hash(const uint8_t secret[16],
                            const struct tcp_cookie_tuple *t, uint32_t period)
{
    struct {
        uint32_t laddr, raddr;
        uint16_t lport, rport;
        uint32_t irs, period;
        uint16_t tweak, pad;
    } k = {t->laddr, t->raddr, t->lport,         t->rport,
           t->irs,   period,   COOKIE_KEY_TWEAK, 0};
    return (uint32_t)siphash24(secret, &k, sizeof k);
}

static uint32_t period_of(uint64_t now)
{
    return (uint32_t)(now / TCP_COOKIE_PERIOD_US);
}

uint32_t tcp_cookie_isn(const uint8_t secret[16],
                        const struct tcp_cookie_tuple *t, uint16_t mss,
                        uint64_t now)
{
    uint32_t p = period_of(now);
    uint32_t h = cookie_hash(secret, t, p) + mss_index(mss);
    return (p & COOKIE_T_MASK) << COOKIE_HASH_BITS | (h & COOKIE_HASH_MASK);
}

/* All ones when a == b, else 0, without a branch. */
static uint32_t eq_mask(uint32_t a, uint32_t b)
{
    return (uint32_t)(((uint64_t)(a ^ b) - 1u) >> 32);
}

bool tcp_cookie_check(const uint8_t secret[16],
                      const struct tcp_cookie_tuple *t, uint32_t iss,
                      uint64_t now, uint16_t *mss)
{
    uint32_t p = period_of(now), ok = 0, index = 0;
    for (uint32_t age = 0; age < 2; age++) {
        uint32_t q = p - age;
        uint32_t idx = ((iss & COOKIE_HASH_MASK) - cookie_hash(secret, t, q)) &
                       COOKIE_HASH_MASK;
        uint32_t good = eq_mask(iss >> COOKIE_HASH_BITS, q & COOKIE_T_MASK) &
                        eq_mask(idx >> 3, 0) & ~ok;
        index |= idx & good;
        ok |= good;
    }
    if (!ok)
        return false;
    *mss = cookie_mss_table[index];
    return true;
}

bool tcp_cookie_tagged(uint32_t iss, uint64_t now)
{
    uint32_t p = period_of(now), tag = iss >> COOKIE_HASH_BITS;
    return tag == (p & COOKIE_T_MASK) || tag == ((p - 1) & COOKIE_T_MASK);
}

uint32_t tcp_cookie_tsval(uint32_t ts_now, uint8_t synopts)
{
    uint32_t opt = (synopts & SYNOPT_WS) ? (synopts & SYNOPT_WSCALE_MASK)
                                         : COOKIE_TS_NO_WS;
    if (synopts & SYNOPT_SACK)
        opt |= COOKIE_TS_SACK;
    uint32_t ts = (ts_now & ~COOKIE_TS_MASK) | opt;
    if (ts_lt(ts_now, ts)) /* ahead of the clock: one step back */
        ts -= 1u << COOKIE_TS_BITS;
    return ts;
}

uint8_t tcp_cookie_synopts(uint32_t tsecr)
{
    uint8_t o = SYNOPT_TS;
    uint32_t ws = tsecr & COOKIE_TS_NO_WS;
    if (ws != COOKIE_TS_NO_WS)
        o |= SYNOPT_WS | (uint8_t)(ws > 14 ? 14 : ws);
    if (tsecr & COOKIE_TS_SACK)
        o |= SYNOPT_SACK;
    return o;
}
