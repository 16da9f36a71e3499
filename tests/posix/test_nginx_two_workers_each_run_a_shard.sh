#!/usr/bin/env bash
# nginx with `worker_processes 2;` on berth with `berth run --workers 2`:
# the master listen()s, then forks two workers that accept on the listening
# socket they inherited. Each worker runs a shard of its own (a queue of
# the multiqueue TUN device, its copy of the stack with the listener, its
# own mirror of the socket), and berth's eBPF steering keeps every
# connection on one worker. Served to the kernel's curl (a page, 64 MiB by
# SHA-256), 40 short connections from 8 parallel curls, and wrk (all 2xx):
# both workers served requests (nginx's access log has each worker's pid),
# data intact; then the same with --impair loss=2% (16 MiB and 40 short
# connections intact). SIGQUIT to the master ends everything with status 0
# and the TUN device goes with it.
source "$(dirname "$0")/lib.sh"
px_setup
px_need nginx-light nginx
px_need wrk wrk
ng=$IT_DIR/nginx
mkdir -p "$ng/www" "$ng/tmp"
echo "hello from an nginx worker on berth" >"$ng/www/index.html"
big_sha=$(px_file "$ng/www/big.bin" 64)
mid_sha=$(px_file "$ng/www/mid.bin" 16)
cat >"$ng/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 2;
user root; # the files are in the test's private directory
pid $ng/nginx.pid;
error_log $ng/error.log info;
events { worker_connections 512; }
http {
    log_format withpid '\$pid \$status \$body_bytes_sent \$request';
    access_log $ng/access.log withpid;
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
url=http://$IT_BERTH:8080

# short_requests N: N short connections (HTTP/1.0), 8 at a time, each
# checked.
short_requests() {
    cat >"$IT_DIR/one.sh" <<'EOF'
#!/usr/bin/env bash
set -u
out=$(curl -sS --http1.0 --max-time 30 "$1/") || { echo "request $2: curl failed"; exit 1; }
[ "$out" = "hello from an nginx worker on berth" ] || { echo "request $2: got '$out'"; exit 1; }
EOF
    chmod +x "$IT_DIR/one.sh"
    seq 1 "$1" | IT_TIMEOUT=120 it_ns xargs -P 8 -n 1 "$IT_DIR/one.sh" "$url" \
        >"$IT_DIR/short.log" 2>&1 || it_fail "short requests: $(head -n 3 "$IT_DIR/short.log")"
}

# run_nginx LABEL [berth run options...]: start nginx under berth run and
# wait for its two workers.
run_nginx() {
    local label=$1
    shift
    : >"$ng/access.log"
    it_bg "$label" "$BERTH" run --workers 2 --tun "$IT_TUN" --ctl "$(it_ctl "$label")" "$@" -- \
        nginx -c "$ng/nginx.conf" -e "$ng/error.log"
    it_berth_wait "$label"
    master=$(cat "$ng/nginx.pid")
    local i workers=0
    for ((i = 0; i < 100; i++)); do
        workers=$(pgrep -P "$master" -f "nginx: worker process" | wc -l)
        [ "$workers" -eq 2 ] && break
        sleep 0.1
    done
    [ "$workers" -eq 2 ] || it_fail "expected two workers under master $master, found $workers"
}

# served_by_both: every worker's pid in the access log.
served_by_both() {
    local pids
    pids=$(awk '{ print $1 }' "$ng/access.log" | sort -u | wc -l)
    [ "$pids" -eq 2 ] || it_fail "requests were served by $pids worker(s): $(awk '{ print $1 }' "$ng/access.log" | sort | uniq -c | tr '\n' ' ')"
    it_log "requests per worker: $(awk '{ print $1 }' "$ng/access.log" | sort | uniq -c | awk '{ printf "%s ", $1 }')"
}

stop_nginx() {
    kill -QUIT "$master"
    px_stop "$1" QUIT 0
    ip -n "$IT_NS" link show dev "$IT_TUN" >/dev/null 2>&1 &&
        it_fail "TUN $IT_TUN still exists after nginx exited"
    return 0
}

run_nginx clean
out=$(it_ns curl -sS --max-time 30 "$url/") || it_fail "curl / failed"
[ "$out" = "hello from an nginx worker on berth" ] || it_fail "curl / got '$out'"
it_ns curl -sS --max-time 60 -o "$IT_DIR/big.out" "$url/big.bin" ||
    it_fail "curl (64 MiB) failed"
[ "$(px_sha "$IT_DIR/big.out")" = "$big_sha" ] || it_fail "64 MiB differ"
short_requests 40
it_ns wrk -t 2 -c 20 -d 2s "$url/" >"$IT_DIR/wrk.out" 2>&1 || it_fail "wrk failed: $(cat "$IT_DIR/wrk.out")"
grep -qE "Non-2xx|Socket errors" "$IT_DIR/wrk.out" && it_fail "wrk saw errors: $(cat "$IT_DIR/wrk.out")"
it_log "page, 64 MiB, 40 short connections and wrk ($(awk '/requests in/ { print $1 }' "$IT_DIR/wrk.out") requests) served"
served_by_both
# The control socket is the first worker's: its shard read nothing it
# does not own.
st=$(it_stat clean) || it_fail "berth stat failed"
grep -q '^Shard 0 of 2 ' <<<"$st" || it_fail "berth stat: $(grep -i shard <<<"$st")"
foreign=$(awk '/packets read on a shard that does not own them/ { print $1 }' <<<"$st")
[ "$foreign" = 0 ] || it_fail "worker 0 read $foreign packets of the other worker's flows"
bad=$(awk '$2 != 200 { n++ } END { print n + 0 }' "$ng/access.log")
[ "$bad" -eq 0 ] || it_fail "$bad responses were not 200"
stop_nginx clean

run_nginx lossy --impair loss=2%
it_ns curl -sS --max-time 120 -o "$IT_DIR/mid.out" "$url/mid.bin" ||
    it_fail "curl (16 MiB, 2 % loss) failed"
[ "$(px_sha "$IT_DIR/mid.out")" = "$mid_sha" ] || it_fail "16 MiB differ (2 % loss)"
short_requests 40
it_log "16 MiB and 40 short connections intact with 2 % loss"
served_by_both
stop_nginx lossy
it_log "PASS"
