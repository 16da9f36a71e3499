#!/usr/bin/env bash
# IPv6 (RFC 8200) through `berth run`: AF_INET6 stream sockets on berth.
#   client: `berth run -- curl -6` downloads 16 MiB from a kernel server on
#           [2001:db8:b::1] (SHA-256 checked), clean and with 2 % loss, from
#           berth's address 2001:db8:b::2.
#   names:  ipv6_checks.py under berth run: sockaddr_in6 names,
#           IPV6_V6ONLY (off by default), an IPv4-mapped destination, a
#           dual-stack listener on [::] accepting a kernel IPv4 client
#           (::ffff:198.18.0.1) and an IPv6 one, ::1 handed to the kernel.
#   server: `python3 -m http.server -b ::` on berth serves the kernel's
#           `curl -6` (16 MiB intact) and `curl -4` on the same listener.
source "$(dirname "$0")/lib.sh"
px_setup
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
B6=2001:db8:b::2
K6=2001:db8:b::1
www=$IT_DIR/www
mkdir "$www"
echo "hello over IPv6" >"$www/small.txt"
sha=$(px_file "$www/big.bin" 16)
it_bg ksrv "$PX_PY" -m http.server -b :: -d "$www" 8080
px_wait_listen 8080

# 1. curl -6 on berth.
out=$(px_run curl -6 -gsS --max-time 60 -o "$IT_DIR/big.out" -w '%{local_ip}' \
    "http://[$K6]:8080/big.bin" 2>&1) || it_fail "berth run curl -6: $out"
[ "$out" = "$B6" ] || it_fail "curl -6 on berth: local address '$out', not $B6"
[ "$(px_sha "$IT_DIR/big.out")" = "$sha" ] || it_fail "curl -6: 16 MiB differ"
PX_RUN_OPTS="--impair loss=2%,seed=7" px_run curl -6 -gsS --max-time 120 \
    -o "$IT_DIR/lossy.out" "http://[$K6]:8080/big.bin" ||
    it_fail "berth run --impair loss=2% curl -6 failed"
[ "$(px_sha "$IT_DIR/lossy.out")" = "$sha" ] || it_fail "curl -6 with loss: 16 MiB differ"
it_log "curl -6 on berth: 16 MiB intact from $B6, clean and with 2 % loss"

# 2. Names, options, the dual-stack listener and the rule.
it_bg chk "$BERTH" run --tun "$IT_TUN" -- "$PX_PY" -u "$PX_HERE/ipv6_checks.py"
port=""
for ((i = 0; i < 200; i++)); do
    port=$(sed -n 's/^PORT //p' "$IT_DIR/chk.out")
    [ -n "$port" ] && break
    kill -0 "${IT_PID_OF[chk]}" 2>/dev/null || break
    sleep 0.1
done
[ -n "$port" ] || it_fail "ipv6_checks.py: no listener: $(cat "$IT_DIR/chk.out" "$IT_DIR/chk.log")"
for addr in 198.18.0.2 "$B6"; do
    got=$(it_ns "$PX_PY" -c "
import socket, sys
s = socket.create_connection(('$addr', $port), timeout=10)
sys.stdout.write(s.makefile().readline())") || it_fail "kernel client to $addr:$port failed"
    want=$([ "$addr" = "$B6" ] && echo "$K6" || echo "::ffff:198.18.0.1")
    [ "$got" = "hello $want" ] || it_fail "to $addr: got '$got', expected 'hello $want'"
done
it_wait_pid "${IT_PID_OF[chk]}" 20 ||
    it_fail "ipv6_checks.py: $(cat "$IT_DIR/chk.out" "$IT_DIR/chk.log")"
cat "$IT_DIR/chk.out"
it_log "sockaddr_in6, IPV6_V6ONLY, mapped peers, dual-stack listener, ::1"

# 3. python3 -m http.server on [::] on berth, the kernel's curl -6 and -4.
it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    "$PX_PY" -m http.server -b :: -d "$www" 8000
it_berth_wait srv
ss_out=$(it_ss srv) || it_fail "berth ss failed"
grep -qE "^LISTEN .*:8000 " <<<"$ss_out" || it_fail "berth ss shows no listener on 8000: $ss_out"
it_ns curl -6 -gsS --max-time 60 -o "$IT_DIR/srv.big" "http://[$B6]:8000/big.bin" ||
    it_fail "kernel curl -6 to python on berth failed"
[ "$(px_sha "$IT_DIR/srv.big")" = "$sha" ] || it_fail "from python on berth: 16 MiB differ"
out=$(it_ns curl -4 -sS --max-time 30 "http://198.18.0.2:8000/small.txt") ||
    it_fail "kernel curl -4 to the same listener failed"
[ "$out" = "hello over IPv6" ] || it_fail "curl -4 got '$out'"
grep -q "^$K6 .*GET /big.bin" "$IT_DIR/srv.log" ||
    it_fail "the server's log has no IPv6 request: $(cat "$IT_DIR/srv.log")"
grep -q "^::ffff:198.18.0.1 .*GET /small.txt" "$IT_DIR/srv.log" ||
    it_fail "the server's log has no mapped IPv4 request: $(cat "$IT_DIR/srv.log")"
it_berth_stop srv
it_log "python3 -m http.server -b :: on berth: curl -6 (16 MiB) and curl -4"
it_log "PASS"
