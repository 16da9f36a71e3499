/* Linux's numbers for berth's: the integer socket options berth has and
 * their units, TCP states, struct tcp_info. One table for the POSIX layer
 * (posix.c) and the packetdrill adapter (tests/packetdrill/adapter.c).
 * Public API only (berth/berth.h): no runtime, no I/O, no state, so a
 * program that drives the core alone builds it in too. */
#ifndef BERTH_POSIX_LINUX_MAP_H
#define BERTH_POSIX_LINUX_MAP_H

#include <netinet/tcp.h>
#include <stdint.h>

#include "berth/berth.h"

/* An option whose value is an int: Linux's (level, name), berth's option,
 * and the factor from Linux's unit to berth's (TCP_KEEPIDLE's seconds ×
 * 1000000 = berth's µs). */
struct linux_int_opt {
    int level, name;
    enum berth_opt opt;
    int64_t factor;
};

/* The entry for (level, name), or NULL when berth has no such integer
 * option. */
const struct linux_int_opt *linux_int_opt(int level, int name);

/* TCP_ESTABLISHED.. TCP_CLOSING: Linux's numbering of a state. */
int linux_tcp_state(enum berth_state st);

/* struct tcp_info in Linux's layout and units (segments, not bytes) from
 * berth's; the fields berth does not keep are 0. tcpi_advmss is the send
 * MSS: a caller that knows the MSS it advertises sets it after. */
void linux_tcp_info(const struct berth_tcp_info *in, struct tcp_info *ti);

#endif
