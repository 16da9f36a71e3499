#!/usr/bin/env bash
# nginx as it usually runs, a master process and a worker it forks after
# listen(), on berth with `berth run --follow-fork`: the runtime (stack,
# listener, TUN) moves to the worker, which serves the kernel's curl (a
# page, 64 MiB by SHA-256) and wrk (all 200); `berth ss` answers from the
# worker; SIGQUIT to the master ends both gracefully with status 0 and the
# TUN device goes with them.
source "$(dirname "$0")/lib.sh"
px_setup
px_need nginx-light nginx
px_need wrk wrk
ng=$IT_DIR/nginx
mkdir -p "$ng/www" "$ng/tmp"
echo "hello from an nginx worker on berth" >"$ng/www/index.html"
big_sha=$(px_file "$ng/www/big.bin" 64)
cat >"$ng/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
user root; # the files are in the test's private directory
pid $ng/nginx.pid;
error_log $ng/error.log info;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    sendfile on;
    server {
        listen 0.0.0.0:8080;
        root $ng/www;
    }
}
CONF

it_bg srv "$BERTH" run --follow-fork --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    nginx -c "$ng/nginx.conf" -e "$ng/error.log"
it_berth_wait srv
master=$(cat "$ng/nginx.pid")
workers=$(pgrep -P "$master" -f "nginx: worker process" | wc -l)
[ "$workers" -eq 1 ] || it_fail "expected one worker under master $master, found $workers"
it_log "nginx master $master and its worker on berth"
url=http://$IT_BERTH:8080
out=$(it_ns curl -sS --max-time 30 "$url/") || it_fail "curl / failed"
[ "$out" = "hello from an nginx worker on berth" ] || it_fail "curl / got '$out'"
it_ns curl -sS --max-time 60 -o "$IT_DIR/big.out" "$url/big.bin" ||
    it_fail "curl (64 MiB) failed"
[ "$(px_sha "$IT_DIR/big.out")" = "$big_sha" ] || it_fail "64 MiB differ"
it_ns wrk -t 2 -c 20 -d 2s "$url/" >"$IT_DIR/wrk.out" 2>&1 || it_fail "wrk failed: $(cat "$IT_DIR/wrk.out")"
grep -qE "Non-2xx|Socket errors" "$IT_DIR/wrk.out" && it_fail "wrk saw errors: $(cat "$IT_DIR/wrk.out")"
it_log "page, 64 MiB and wrk ($(awk '/requests in/ { print $1 }' "$IT_DIR/wrk.out") requests) served by the worker"
ss_out=$(it_ss srv) || it_fail "berth ss failed"
grep -qE "^LISTEN .*:8080 " <<<"$ss_out" || it_fail "berth ss (the worker's runtime) shows no listener: $ss_out"
# SIGQUIT goes to the master, which is what `timeout` runs under berth run.
kill -QUIT "$master"
px_stop srv QUIT 0
ip -n "$IT_NS" link show dev "$IT_TUN" >/dev/null 2>&1 &&
    it_fail "TUN $IT_TUN still exists after nginx exited"
it_log "PASS"
