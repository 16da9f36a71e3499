#!/usr/bin/env bash
# Unmodified curl and wget from Debian as clients on berth (`berth run`),
# a kernel `python3 -m http.server` (HTTP/1.1) as the server: a short
# request, keep-alive (two requests, one connection), a 64 MiB download
# checked by SHA-256, then 8 MiB with 2 % loss on berth's
# link (--impair), data intact. The server's log proves the requests came
# from berth's address; --pcap proves the capture option reaches the
# program's runtime.
source "$(dirname "$0")/lib.sh"
px_setup
# wget is optional (its parts are skipped, saying so): curl alone is the
# test's core.
have_wget=1
command -v wget >/dev/null || {
    have_wget=0
    it_log "wget is not installed (Debian package wget): its parts are skipped"
}
www=$IT_DIR/www
mkdir "$www"
echo "hello from the kernel" >"$www/small.txt"
big_sha=$(px_file "$www/big.bin" 64)
mid_sha=$(px_file "$www/mid.bin" 8)

# The server listens on 0.0.0.0: 198.18.0.1 exists only once berth's
# runtime (inside curl) has created the TUN.
it_bg ksrv "$PX_PY" -m http.server -b 0.0.0.0 -d "$www" -p HTTP/1.1 8080
px_wait_listen 8080

out=$(px_run curl -sS --max-time 30 "http://$IT_KERNEL:8080/small.txt") ||
    it_fail "curl (short) failed"
[ "$out" = "hello from the kernel" ] || it_fail "curl (short) got '$out'"
grep -q "^$IT_BERTH .*GET /small.txt" "$IT_DIR/ksrv.log" ||
    it_fail "the server did not see the request from berth's address $IT_BERTH"
it_log "curl: short request"

# Keep-alive: two requests on one connection, curl and wget.
conns=$(px_run curl -sS --max-time 30 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
    "http://$IT_KERNEL:8080/small.txt" "http://$IT_KERNEL:8080/mid.bin" |
    awk '{ n += $1 } END { print n }')
[ "$conns" -eq 1 ] || it_fail "curl keep-alive: two requests took $conns connections"
if [ "$have_wget" = 1 ]; then
    px_run wget -T 30 -O /dev/null "http://$IT_KERNEL:8080/small.txt" \
        "http://$IT_KERNEL:8080/mid.bin" >"$IT_DIR/wget-ka.log" 2>&1 ||
        it_fail "wget keep-alive failed: $(tail -5 "$IT_DIR/wget-ka.log")"
    grep -q "Reusing existing connection" "$IT_DIR/wget-ka.log" ||
        it_fail "wget did not reuse its connection: $(cat "$IT_DIR/wget-ka.log")"
fi
it_log "curl (and wget): two requests on one connection"

PX_RUN_OPTS="--pcap $IT_DIR/curl.pcap" px_run curl -sS --max-time 60 \
    -o "$IT_DIR/big.curl" "http://$IT_KERNEL:8080/big.bin" ||
    it_fail "curl (64 MiB) failed"
[ "$(px_sha "$IT_DIR/big.curl")" = "$big_sha" ] || it_fail "curl: 64 MiB differ"
[ "$(stat -c %s "$IT_DIR/curl.pcap")" -gt 100000 ] ||
    it_fail "--pcap: the capture is (nearly) empty"
it_log "curl: 64 MiB intact, captured"

if [ "$have_wget" = 1 ]; then
    px_run wget -q -T 60 -O "$IT_DIR/big.wget" "http://$IT_KERNEL:8080/big.bin" ||
        it_fail "wget (64 MiB) failed"
    [ "$(px_sha "$IT_DIR/big.wget")" = "$big_sha" ] || it_fail "wget: 64 MiB differ"
    it_log "wget: 64 MiB intact"
fi

export PX_RUN_OPTS="--impair loss=2%,seed=7"
PX_RUN_OPTS="$PX_RUN_OPTS --events $IT_DIR/curl.events" px_run curl -sS \
    --max-time 120 -o "$IT_DIR/mid.curl" \
    "http://$IT_KERNEL:8080/mid.bin" || it_fail "curl (8 MiB, 2 % loss) failed"
[ "$(px_sha "$IT_DIR/mid.curl")" = "$mid_sha" ] || it_fail "curl: 8 MiB with loss differ"
# --events reaches the program's runtime: berth's log of the download, to
# its end (the runtime completes it when the program exits).
grep -q '"name":"tcp:segment_received"' "$IT_DIR/curl.events" &&
    grep -q '"to":"CLOSED"\|"to":"TIME-WAIT"' "$IT_DIR/curl.events" ||
    it_fail "--events: no complete event log from curl's runtime"
if [ "$have_wget" = 1 ]; then
    px_run wget -q -T 120 -O "$IT_DIR/mid.wget" "http://$IT_KERNEL:8080/mid.bin" ||
        it_fail "wget (8 MiB, 2 % loss) failed"
    [ "$(px_sha "$IT_DIR/mid.wget")" = "$mid_sha" ] || it_fail "wget: 8 MiB with loss differ"
fi
it_log "curl (and wget): 8 MiB with 2 % loss intact"
it_log "PASS"
