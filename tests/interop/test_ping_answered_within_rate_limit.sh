#!/usr/bin/env bash
# The kernel pings berth (RFC 792 echo; RFC 1122 §3.2.2.6): every request
# of a paced ping is answered with its data (ping checks it), small and
# near the MTU; a burst of 300 requests at once meets the token bucket
# (RFC 4443 §2.4 (f); 1000/s, bursts of 50 by default): the first 50 are
# answered at least, and every request is either answered or counted as
# rate-limited. The capture shows the replies from berth. The steps are
# ping_lib.sh's, shared with the IPv6 test.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/ping_lib.sh"
it_setup
ping_answered_within_rate_limit 4
it_log "PASS"
