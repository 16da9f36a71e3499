#!/usr/bin/env bash
# TIME-WAIT lasts 2 x MSL (RFC 9293 §3.6.1): with --msl 1s, after berth
# closes first (HTTP/1.0), `berth ss` shows the connection in TIME-WAIT with
# a timewait timer of at most 2 s (berth's own clock: with the default MSL it
# would read 59sec), and the entry is gone soon after. The end is watched
# with a generous bound (20 s) and not timed to the tenth: on a busy machine
# each `berth ss` call may itself take a second.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80 --msl 1s

port=$(it_ns curl -sS --http1.0 --max-time 10 -o /dev/null -w '%{local_port}' "http://$IT_BERTH/") ||
    it_fail "HTTP/1.0 request failed"
t0=$(it_now)
row=$(it_ss srv | grep -E "$IT_KERNEL:$port\b" || true)
grep -q '^TIME-WAIT' <<<"$row" && grep -qE 'timer:\(timewait,[0-2]sec\)' <<<"$row" ||
    it_fail "right after the close, berth ss shows '$row' for port $port, expected a TIME-WAIT row with timer:(timewait,2sec) at most"
it_log "after the close: $row"

gone=""
while it_between "$(it_since "$t0")" 0 20; do
    if ! it_ss srv | grep -qE "$IT_KERNEL:$port\b"; then
        gone=$(it_since "$t0")
        break
    fi
    sleep 0.05
done
[ -n "$gone" ] || it_fail "TIME-WAIT entry for port $port still there 20 s after the close (2 x MSL = 2 s)"
# Not early either: gone less than 0.8 s after curl returned would mean it
# lasted well under 2 s even if curl's return lagged the close by a second.
it_between "$gone" 0.8 20 || it_fail "TIME-WAIT entry gone after $gone s, expected about 2 s (2 x MSL)"
it_log "TIME-WAIT gone after $gone s"
it_berth_stop srv
it_log "PASS"
