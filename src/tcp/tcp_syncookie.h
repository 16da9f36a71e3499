/* SYN cookies (RFC 4987 §3.6): the encoding of a half-open connection's
 * state into the ISN of our SYN-ACK (and, when the peer sent timestamps,
 * into our TSval), so that a listener under a SYN flood keeps no state until
 * the third segment of the handshake proves the peer's address. Pure
 * functions of the stack secret, the 4-tuple and the time. */
#ifndef BERTH_TCP_SYNCOOKIE_H
#define BERTH_TCP_SYNCOOKIE_H

#include <stdbool.h>
#include <stdint.h>

/* The connection a cookie is bound to: addresses and ports host order, irs
 * the peer's ISN (SEG.SEQ of its SYN). */
struct tcp_cookie_tuple {
    uint32_t laddr, raddr;
    uint16_t lport, rport;
    uint32_t irs;
};

/* A cookie is valid for two periods of this length: 64 to 128 s (Linux:
 * about two minutes), longer than any SYN-ACK retransmission of the peer's
 * handshake needs. */
#define TCP_COOKIE_PERIOD_US (64ull * 1000000ull)
#define TCP_COOKIE_MSS_COUNT 8u

/* The MSS a cookie carries: the largest table entry <= mss (RFC 4987 §3.6:
 * "a small table of common MSS values"); entry 0 (64) at least. */
uint16_t tcp_cookie_mss(uint16_t mss);
/* The ISN of a cookie SYN-ACK for t, carrying tcp_cookie_mss(mss). */
uint32_t tcp_cookie_isn(const uint8_t secret[16],
                        const struct tcp_cookie_tuple *t, uint16_t mss,
                        uint64_t now);
/* Checks a returning ACK: iss = SEG.ACK - 1. On success, *mss is the MSS
 * the cookie carried. The work is the same whether it succeeds or not
 * (both periods are always computed; no early exit on the secret hash). */
bool tcp_cookie_check(const uint8_t secret[16],
                      const struct tcp_cookie_tuple *t, uint32_t iss,
                      uint64_t now, uint16_t *mss);

/* Whether iss carries the tag of a cookie of the current or the previous
 * period (its top 5 bits): a segment whose ACK has it may belong to a
 * cookie connection even when tcp_cookie_check() cannot say so (text that
 * overtook the segment at IRS+1, the only one that shows the peer's ISN).
 * A random value has it with probability 1/16. */
bool tcp_cookie_tagged(uint32_t iss, uint64_t now);

/* With timestamps, our TSval carries the SYN options we agreed to, as
 * Linux does, in its low 6 bits: the peer's window shift (0xf: none), SACK-
 * permitted, ECN. The TSval never exceeds ts_now (RFC 7323 §5.4: it must
 * not run ahead of the clock). synopts: SYNOPT_* bits of tcp.h. */
uint32_t tcp_cookie_tsval(uint32_t ts_now, uint8_t synopts);
/* The SYNOPT_* bits a returning ACK's TSecr carries (SYNOPT_TS included). */
uint8_t tcp_cookie_synopts(uint32_t tsecr);

#endif
