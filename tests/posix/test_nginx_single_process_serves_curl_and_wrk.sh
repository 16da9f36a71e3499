#!/usr/bin/env bash
# Unmodified nginx (edge-triggered epoll with EPOLLRDHUP, accept4,
# writev, sendfile: berth copies it) on berth through `berth run`, one
# process (master_process off: workers forked after listen would not own
# the runtime, see README), served to the kernel: curl for a page and a
# 64 MiB file by SHA-256, keep-alive (two requests, one connection), wrk
# for two seconds with 20 connections (every response a 200, no socket
# errors), 16 MiB with 2 % loss; SIGQUIT ends it gracefully with status 0.
source "$(dirname "$0")/lib.sh"
px_setup
px_need nginx-light nginx
px_need wrk wrk
ng=$IT_DIR/nginx
mkdir -p "$ng/www" "$ng/tmp"
echo "hello from nginx on berth" >"$ng/www/index.html"
big_sha=$(px_file "$ng/www/big.bin" 64)
mid_sha=$(px_file "$ng/www/mid.bin" 16)
cat >"$ng/nginx.conf" <<CONF
daemon off;
master_process off;
pid $ng/nginx.pid;
error_log $ng/error.log info;
events { worker_connections 512; }
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    server {
        listen 0.0.0.0:8080;
        root $ng/www;
    }
}
CONF

it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    nginx -c "$ng/nginx.conf" -e "$ng/error.log"
it_berth_wait srv
it_log "nginx on berth, pid ${IT_PID_OF[srv]}"
url=http://$IT_BERTH:8080

out=$(it_ns curl -sS --max-time 30 "$url/") || it_fail "curl / failed"
[ "$out" = "hello from nginx on berth" ] || it_fail "curl / got '$out'"
conns=$(it_ns curl -sS --max-time 30 -o /dev/null -o /dev/null \
    -w '%{num_connects}\n' "$url/" "$url/index.html" | awk '{ n += $1 } END { print n }')
[ "$conns" -eq 1 ] || it_fail "keep-alive: two requests took $conns connections"
it_ns curl -sS --max-time 60 -o "$IT_DIR/big.out" "$url/big.bin" ||
    it_fail "curl (64 MiB) failed"
[ "$(px_sha "$IT_DIR/big.out")" = "$big_sha" ] || it_fail "64 MiB differ"
it_log "page, keep-alive and 64 MiB (sendfile) intact"

it_ns wrk -t 2 -c 20 -d 2s "$url/" >"$IT_DIR/wrk.out" 2>&1 || it_fail "wrk failed: $(cat "$IT_DIR/wrk.out")"
grep -qE "Non-2xx|Socket errors" "$IT_DIR/wrk.out" && it_fail "wrk saw errors: $(cat "$IT_DIR/wrk.out")"
reqs=$(awk '/requests in/ { print $1 }' "$IT_DIR/wrk.out")
[ "${reqs:-0}" -gt 0 ] || it_fail "wrk completed no request: $(cat "$IT_DIR/wrk.out")"
it_log "wrk: $reqs requests, all 200"

it_ctl_cmd srv impair loss=2%,seed=4 >/dev/null || it_fail "impair failed"
it_ns curl -sS --max-time 120 -o "$IT_DIR/mid.out" "$url/mid.bin" ||
    it_fail "curl (16 MiB, 2 % loss) failed"
[ "$(px_sha "$IT_DIR/mid.out")" = "$mid_sha" ] || it_fail "16 MiB with loss differ"
it_ctl_cmd srv impair off >/dev/null
it_log "16 MiB with 2 % loss intact"
px_stop srv QUIT 0
it_log "PASS"
