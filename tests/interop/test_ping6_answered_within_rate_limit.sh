#!/usr/bin/env bash
# The kernel pings berth over IPv6 (RFC 4443 §4.1, §4.2): every request of
# a paced `ping -6` is answered with its data (ping checks it), small and
# filling a 1500-byte packet; a burst of 300 requests at once meets the
# token bucket ICMP shares for both families (§2.4 (f); 1000/s, bursts of
# 50 by default): every request is either answered or counted as
# rate-limited. The capture shows the ICMPv6 echo replies from berth. The
# steps are ping_lib.sh's, shared with the IPv4 test.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ping_lib.sh"
it_setup
IT_TUN=bt6p
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
ping_answered_within_rate_limit 6
it_log "PASS"
