#!/usr/bin/env bash
# TIME-WAIT lasts 2 x MSL (RFC 9293 §3.6.1): with --msl 1s, after berth
# closes first (HTTP/1.0), `berth ss` shows the connection in TIME-WAIT with
# a timewait timer, and it is gone about 2 s after the close (checked: still
# there at 1.5 s, gone by 3 s).
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80 --msl 1s

port=$(it_ns curl -sS --http1.0 --max-time 10 -o /dev/null -w '%{local_port}' "http://$IT_BERTH/") ||
    it_fail "HTTP/1.0 request failed"
t0=$(it_now)
row=$(it_ss srv | grep -E "$IT_KERNEL:$port\b" || true)
grep -q '^TIME-WAIT' <<<"$row" && grep -q 'timer:(timewait,' <<<"$row" ||
    it_fail "right after the close, berth ss shows '$row' for port $port, expected a TIME-WAIT row with timer:(timewait,...)"
it_log "after the close: $row"

gone=""
while it_between "$(it_since "$t0")" 0 4; do
    if ! it_ss srv | grep -qE "$IT_KERNEL:$port\b"; then
        gone=$(it_since "$t0")
        break
    fi
    sleep 0.05
done
[ -n "$gone" ] || it_fail "TIME-WAIT entry for port $port still there 4 s after the close (2 x MSL = 2 s)"
it_between "$gone" 1.5 3 || it_fail "TIME-WAIT entry gone after $gone s, expected about 2 s (2 x MSL)"
it_log "TIME-WAIT gone after $gone s"
it_berth_stop srv
it_log "PASS"
