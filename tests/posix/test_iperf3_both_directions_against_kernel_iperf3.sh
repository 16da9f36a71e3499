#!/usr/bin/env bash
# Unmodified iperf3 (select(), non-blocking sockets, a control and a data
# connection, TCP_INFO) on berth through `berth run`, against the kernel's
# iperf3: berth as client sending and receiving (-R) 64 MiB, then as server
# for the kernel's client both ways; then 8 MiB each way with 2 % loss. Each
# run must send exactly the bytes asked for (-n) and the receiver count
# them (see check). No assertion on speed.
source "$(dirname "$0")/lib.sh"
px_setup
px_need iperf3 iperf3

# check JSON BYTES WHAT: the sender sent BYTES and the receiver counted
# all but at most 4 MiB of them: iperf3's receiver stops counting when the
# end message arrives on the control connection, which overtakes the tail
# of the data still in the sender's socket buffer or in flight (a kernel
# sender's buffer grows to 4 MiB; under loss berth's tail is retransmitted).
check() {
    "$PX_PY" - "$1" "$2" "$3" $((4 << 20)) <<'PY' || it_fail "$3: see above"
import json, sys
r = json.load(open(sys.argv[1]))
want, what, slack = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if "error" in r:
    sys.exit(f"{what}: iperf3 error: {r['error']}")
sent = r["end"]["sum_sent"]["bytes"]
recv = r["end"]["sum_received"]["bytes"]
if sent < want or recv > sent or recv < sent - slack:
    sys.exit(f"{what}: sent {sent}, received {recv}, wanted {want}")
print(f"{what}: {sent} bytes sent, {recv} counted by the receiver")
PY
}

it_bg kiperf iperf3 -s -p 5201
px_wait_listen 5201
for dir in "" -R; do
    px_run iperf3 -c "$IT_KERNEL" -p 5201 -n 64M $dir -J >"$IT_DIR/c$dir.json" ||
        it_fail "iperf3 client on berth $dir failed: $(tail -c 300 "$IT_DIR/c$dir.json")"
    check "$IT_DIR/c$dir.json" $((64 << 20)) "berth client ${dir:-(send)}"
done
PX_RUN_OPTS="--impair loss=2%,seed=11" px_run iperf3 -c "$IT_KERNEL" -p 5201 \
    -n 8M -J >"$IT_DIR/closs.json" || it_fail "iperf3 client with loss failed"
check "$IT_DIR/closs.json" $((8 << 20)) "berth client, 2 % loss"

# iperf3 as server binds [::] unless told: -B 0.0.0.0 keeps it IPv4 (berth).
it_bg srv "$BERTH" run --tun bt1 --ctl "$(it_ctl srv)" -- \
    iperf3 -s -B 0.0.0.0 -p 5202
px_wait_ss() {
    local i out
    for ((i = 0; i < 100; i++)); do
        out=$(timeout 5 "$BERTH" ss --ctl "$(it_ctl srv)" 2>/dev/null) || true
        grep -q ':5202 ' <<<"$out" && return 0
        sleep 0.1
    done
    it_fail "iperf3 server on berth not listening after 10 s"
}

# kclient JSON ARGS...: the kernel's iperf3 client against berth's server.
# iperf3 serves one test at a time: a client that comes while the server
# is still closing the last test (under loss its final exchange may be
# retransmitted) is turned away with "the server is busy running a test".
# That one answer is retried, bounded by 30 s of clock; any other fails.
kclient() {
    local json=$1 end=$((SECONDS + 30))
    shift
    while :; do
        it_ns iperf3 -c "$IT_BERTH" -p 5202 "$@" -J >"$json" && return 0
        grep -q 'server is busy' "$json" && [ "$SECONDS" -lt "$end" ] || return 1
        sleep 1
    done
}
px_wait_ss
for dir in "" -R; do
    kclient "$IT_DIR/s$dir.json" -n 64M $dir ||
        it_fail "kernel iperf3 client $dir failed: $(tail -c 300 "$IT_DIR/s$dir.json")"
    check "$IT_DIR/s$dir.json" $((64 << 20)) "berth server ${dir:-(receive)}"
done
it_ctl_cmd srv impair loss=2%,seed=12 >/dev/null || it_fail "impair failed"
for dir in "" -R; do
    kclient "$IT_DIR/sl$dir.json" -n 8M $dir ||
        it_fail "kernel iperf3 client $dir with loss failed"
    check "$IT_DIR/sl$dir.json" $((8 << 20)) "berth server ${dir:-(receive)}, 2 % loss"
done
px_stop srv INT 0 1 # iperf3: "interrupt - the server has terminated", 1
it_log "PASS"
