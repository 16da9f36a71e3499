#!/usr/bin/env bash
# Unmodified programs on berth against the same programs on the kernel, the
# same commands, in one run (bench/run.py section 7; also alone):
#   bash bench/programs.sh /path/to/berth [SECONDS]
# - nginx (one process) serving a 1 KiB page to wrk: on berth through
#   `berth run` (kernel wrk -> TUN -> berth), and on the kernel over the
#   namespace's loopback (kernel wrk -> lo -> kernel nginx). Requests per
#   second and the nginx process's CPU per request (berth's runtime thread
#   runs inside it, so its cost is counted).
# - iperf3, one stream, SECONDS each way: berth's iperf3 against a kernel
#   iperf3 over the TUN, and kernel to kernel over the loopback.
# Prints `RESULT bench=... key=value ...` lines. Needs root, /dev/net/tun,
# nginx, wrk and iperf3 (scripts/install-deps.sh); otherwise it prints
# why and exits 77. Everything runs in a namespace it creates and removes;
# every process it starts is ended by its PID; every run is bounded.
BERTH=${1:?usage: bench/programs.sh /path/to/berth [SECONDS]}
SECS=${2:-5}
set -- "$BERTH"
# shellcheck source=../tests/posix/lib.sh
source "$(dirname "$0")/../tests/posix/lib.sh"
IT_TEST=bench-programs
px_setup
px_need nginx-light nginx
px_need wrk wrk
px_need iperf3 iperf3

# CPU seconds (user + system) a process and its children (it_bg starts
# the program under timeout(1): the program is its child) have used.
cpu_of() {
    local p sum=0
    for p in "$1" $(pgrep -P "$1"); do
        sum=$(awk -v hz="$(getconf CLK_TCK)" -v s="$sum" \
            '{ printf "%.4f", s + ($14 + $15) / hz }' "/proc/$p/stat")
    done
    echo "$sum"
}

# The nginx configuration: one process, the page, listening on $1.
nginx_conf() {
    local dir=$1 listen=$2
    mkdir -p "$dir/www" "$dir/tmp"
    head -c 1024 /dev/zero | tr '\0' 'x' >"$dir/www/index.html"
    cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    server { listen $listen; root $dir/www; }
}
CONF
}

# wrk_run LABEL URL: wrk against URL while measuring LABEL's process CPU.
wrk_run() {
    local label=$1 url=$2 pid=${IT_PID_OF[$1]} c0 c1 reqs
    c0=$(cpu_of "$pid")
    IT_TIMEOUT=$((SECS + 30)) it_ns wrk -t 2 -c 50 -d "${SECS}s" "$url" \
        >"$IT_DIR/$label.wrk" 2>&1 || it_fail "wrk failed: $(cat "$IT_DIR/$label.wrk")"
    c1=$(cpu_of "$pid")
    reqs=$(awk '/requests in/ { print $1 }' "$IT_DIR/$label.wrk")
    awk -v n="${reqs:-0}" -v s="$SECS" -v c0="$c0" -v c1="$c1" -v l="$label" \
        'BEGIN { printf "RESULT bench=nginx stack=%s requests=%d req_per_s=%.0f cpu_s=%.3f cpu_us_per_req=%.2f\n",
                 l, n, n / s, c1 - c0, n ? (c1 - c0) * 1e6 / n : 0 }'
}

# nginx on berth, then on the kernel, the same wrk command.
nginx_conf "$IT_DIR/ng-berth" "0.0.0.0:8080"
it_bg berth "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl berth)" -- \
    nginx -c "$IT_DIR/ng-berth/nginx.conf" -e "$IT_DIR/ng-berth/error.log"
it_berth_wait berth
it_ns curl -sS --max-time 10 -o /dev/null "http://$IT_BERTH:8080/" ||
    it_fail "nginx on berth does not answer"
wrk_run berth "http://$IT_BERTH:8080/"
px_stop berth QUIT 0

nginx_conf "$IT_DIR/ng-kernel" "127.0.0.1:8081"
it_bg kernel nginx -c "$IT_DIR/ng-kernel/nginx.conf" -e "$IT_DIR/ng-kernel/error.log"
px_wait_listen 8081
wrk_run kernel "http://127.0.0.1:8081/"
px_stop kernel QUIT 0

# iperf3: a kernel server; the client on berth (both directions), then on
# the kernel over the loopback.
iperf() {
    local label=$1 runner=$2 host=$3 rev=$4
    shift 4
    IT_TIMEOUT=$((SECS + 30)) it_ns $runner iperf3 -c "$host" -t "$SECS" -J $rev \
        >"$IT_DIR/$label.json" 2>"$IT_DIR/$label.err" ||
        it_fail "iperf3 ($label) failed: $(tail -3 "$IT_DIR/$label.err")"
    python3 - "$IT_DIR/$label.json" "$label" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["end"]
r = d["sum_received"]
cpu = d.get("cpu_utilization_percent", {})
print("RESULT bench=iperf3 case=%s gbit_per_s=%.3f bytes=%d host_cpu_pct=%.1f "
      "remote_cpu_pct=%.1f" % (sys.argv[2], r["bits_per_second"] / 1e9,
                               r["bytes"], cpu.get("host_total", 0),
                               cpu.get("remote_total", 0)))
PY
}
it_bg iperfd iperf3 -s
px_wait_listen 5201
iperf berth_sends "$BERTH run --tun $IT_TUN --" "$IT_KERNEL" ""
iperf berth_receives "$BERTH run --tun $IT_TUN --" "$IT_KERNEL" -R
px_stop iperfd INT 0 1
it_bg iperfl iperf3 -s
px_wait_listen 5201
iperf kernel_loopback "" 127.0.0.1 ""
px_stop iperfl INT 0 1
exit 0
