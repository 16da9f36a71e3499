#!/usr/bin/env bash
# Unmodified `python3 -m http.server` (Debian's python3, threads, blocking
# sockets) on berth through `berth run`, served to the kernel's curl: a
# short request, keep-alive (HTTP/1.1), a 64 MiB download checked by
# SHA-256, then 16 MiB with 2 % loss set at run time through the program's
# control socket. `berth ss` sees the program's listener; SIGINT ends the
# program with status 0 and the runtime shuts down with it (no leftover
# TUN).
source "$(dirname "$0")/lib.sh"
px_setup
www=$IT_DIR/www
mkdir "$www"
echo "hello from berth" >"$www/small.txt"
big_sha=$(px_file "$www/big.bin" 64)
mid_sha=$(px_file "$www/mid.bin" 16)

it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    "$PX_PY" -m http.server -b 0.0.0.0 -d "$www" -p HTTP/1.1 8080
it_berth_wait srv
ss_out=$(it_ss srv) || it_fail "berth ss failed"
grep -qE "^LISTEN .*:8080 " <<<"$ss_out" || it_fail "berth ss shows no listener on 8080: $ss_out"
it_log "python3 -m http.server on berth, pid ${IT_PID_OF[srv]}"

url=http://$IT_BERTH:8080
out=$(it_ns curl -sS --max-time 30 "$url/small.txt") || it_fail "curl (short) failed"
[ "$out" = "hello from berth" ] || it_fail "curl (short) got '$out'"
it_ns curl -sS --max-time 60 -o "$IT_DIR/big.out" "$url/big.bin" ||
    it_fail "curl (64 MiB) failed"
[ "$(px_sha "$IT_DIR/big.out")" = "$big_sha" ] || it_fail "64 MiB differ"
conns=$(it_ns curl -sS --max-time 30 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    "$url/small.txt" "$url/small.txt" | awk '{ n += $1 } END { print n }')
[ "$conns" -eq 1 ] || it_fail "keep-alive: two requests took $conns connections"
it_log "short request, keep-alive and 64 MiB intact"

it_ctl_cmd srv impair loss=2%,seed=3 >/dev/null || it_fail "impair through the control socket failed"
it_ns curl -sS --max-time 120 -o "$IT_DIR/mid.out" "$url/mid.bin" ||
    it_fail "curl (16 MiB, 2 % loss) failed"
[ "$(px_sha "$IT_DIR/mid.out")" = "$mid_sha" ] || it_fail "16 MiB with loss differ"
lost=$(it_counter srv "received packets dropped by impairment")
[ "$lost" -gt 0 ] || it_fail "the impairment dropped nothing"
it_log "16 MiB with 2 % loss intact ($lost packets dropped on receive)"
it_ctl_cmd srv impair off >/dev/null

grep -q "^$IT_KERNEL .*GET /big.bin" "$IT_DIR/srv.log" ||
    it_fail "the server's log has no request from the kernel"
it_berth_stop srv
ip -n "$IT_NS" link show dev "$IT_TUN" >/dev/null 2>&1 &&
    it_fail "TUN $IT_TUN still exists after the program exited"
it_log "PASS"
