#!/usr/bin/env bash
# The low-rate SYN flood: 4 spoofed SYN/s. With 256 entries living 63 s
# (SYN-ACK retries 1+2+4+8+16+32 s) it filled the SYN queue after 64 s and
# then kept legitimate clients out for good. Now an entry created while
# the queue is more than half full gets 2 retries (7 s of life), so after
# 70 s at 4 SYN/s the queue holds about 128 + 4 x 7 entries: it never
# fills, no cookie is needed, and every curl during the flood completes a
# normal handshake.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80

secs=70
it_bg flood python3 "$AT_HERE/hostile.py" --tun "$IT_TUN" --dst "$IT_BERTH" \
    synflood --rate 4 --seconds "$secs"
flood=$IT_LAST_PID
t0=$(it_now)
ok=0
n=0
maxq=0
while it_between "$(it_since "$t0")" 0 $((secs - 4)); do
    code=$(it_ns curl -sS --max-time 10 -o /dev/null -w '%{http_code}' \
        "http://$IT_BERTH/bytes/1000" 2>>"$IT_DIR/curl.log" || true)
    n=$((n + 1))
    [ "$code" = 200 ] && ok=$((ok + 1))
    q=$(it_ss srv | grep -c '^SYN-RECEIVED ' || true)
    [ "$q" -gt "$maxq" ] && maxq=$q
    sleep 3
done
rc=0
it_wait_pid "$flood" 30 || rc=$?
[ "$rc" -eq 0 ] || it_fail "the flood exited with status $rc: $(cat "$IT_DIR/flood.log")"
sent=$(at_value "$(cat "$IT_DIR/flood.out")" sent)
cookies=$(it_counter srv "SYN cookies sent")
drops=$(at_drop srv SYN_QUEUE_FULL)
it_log "flood: $sent SYNs in $secs s; $ok/$n curls; largest SYN queue $maxq; cookies $cookies"
[ "$n" -ge 10 ] || it_fail "only $n curls in $secs s"
[ "$ok" -eq "$n" ] || it_fail "$((n - ok)) of $n curls failed during a 4 SYN/s flood"
[ "$sent" -ge $((4 * secs - 8)) ] || it_fail "the flood sent only $sent SYNs"
[ "$cookies" -eq 0 ] || it_fail "$cookies cookies: the SYN queue filled at 4 SYN/s"
[ "$drops" -eq 0 ] || it_fail "$drops SYNs dropped by a full SYN queue"
[ "$maxq" -lt 200 ] || it_fail "the SYN queue reached $maxq entries at 4 SYN/s"
it_berth_stop srv
it_log "PASS"
