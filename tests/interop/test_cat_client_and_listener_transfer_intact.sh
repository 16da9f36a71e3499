#!/usr/bin/env bash
# berth client -> kernel server: `berth cat 198.18.0.1 PORT` (inside the
# namespace, on its own TUN) against a python3 server of the kernel.
#   upload:   64 MiB on berth cat's stdin reach the server intact; stdin EOF
#             becomes shutdown(WR), the server closes after EOF, cat exits 0.
#   download: the server sends 64 MiB and closes; cat's stdout is intact and
#             cat exits 0 (its stdin is empty: it half-closes at once and
#             keeps reading).
#   listen:   `berth cat --listen PORT` with 16 MiB on stdin; a kernel client
#             sends 16 MiB at the same time (full duplex), half-closes, and
#             reads to EOF: both directions intact, cat exits 0.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt1
size=67108864

# it_serve LABEL PORT MODE [ARGS...]: the kernel server, listening on
# 0.0.0.0:PORT before berth's TUN exists.
it_serve() {
    local label=$1 port=$2 mode=$3 i
    shift 3
    it_bg "$label" python3 "$IT_HERE/peer.py" serve --port "$port" \
        --mode "$mode" --result "$IT_DIR/$label.result" "$@"
    for ((i = 0; i < 100; i++)); do
        [ -e "$IT_DIR/$label.result.ready" ] && return 0
        sleep 0.1
    done
    it_fail "kernel server $label not listening after 10 s"
}

# berth -> kernel
head -c "$size" /dev/urandom >"$IT_DIR/up"
want=$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)
it_serve ksink 5001 sink
t0=$(it_now)
rc=0
IT_STDIN=$IT_DIR/up it_berth_bg up cat "$IT_KERNEL" 5001
it_wait_pid "$IT_LAST_PID" 120 || rc=$?
secs=$(it_since "$t0")
[ "$rc" -eq 0 ] || it_fail "berth cat (upload) exited with status $rc: $(tail -n 3 "$IT_DIR/up.log")"
it_wait_pid "${IT_PID_OF[ksink]}" 10 || it_fail "kernel sink server failed"
read -r n sha <"$IT_DIR/ksink.result"
[ "$n" = "$size" ] && [ "$sha" = "$want" ] ||
    it_fail "kernel received $n bytes with SHA-256 $sha; sent $size bytes with SHA-256 $want"
it_log "berth -> kernel: 64 MiB intact in $secs s ($(awk -v b=$size -v s="$secs" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }'))"

# kernel -> berth
head -c "$size" /dev/urandom >"$IT_DIR/down"
want=$(sha256sum <"$IT_DIR/down" | cut -d' ' -f1)
it_serve ksource 5002 source --source "$IT_DIR/down"
t0=$(it_now)
rc=0
it_berth_bg down cat "$IT_KERNEL" 5002
it_wait_pid "$IT_LAST_PID" 120 || rc=$?
secs=$(it_since "$t0")
[ "$rc" -eq 0 ] || it_fail "berth cat (download) exited with status $rc: $(tail -n 3 "$IT_DIR/down.log")"
it_wait_pid "${IT_PID_OF[ksource]}" 10 || it_fail "kernel source server failed"
got=$(sha256sum <"$IT_DIR/down.out" | cut -d' ' -f1)
n=$(stat -c %s "$IT_DIR/down.out")
[ "$n" = "$size" ] && [ "$got" = "$want" ] ||
    it_fail "berth cat wrote $n bytes with SHA-256 $got; the kernel sent $size bytes with SHA-256 $want"
it_log "kernel -> berth: 64 MiB intact in $secs s ($(awk -v b=$size -v s="$secs" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }'))"

# berth cat --listen, full duplex
half=16777216
head -c "$half" "$IT_DIR/up" >"$IT_DIR/a" # kernel -> berth
head -c "$half" "$IT_DIR/down" >"$IT_DIR/b" # berth -> kernel
IT_STDIN=$IT_DIR/b it_berth_bg listen cat --listen 5004
listen_pid=$IT_LAST_PID
it_berth_wait listen
got=$(IT_TIMEOUT=120 it_peer duplex-client --host "$IT_BERTH" --port 5004 --send "$IT_DIR/a") ||
    it_fail "kernel full-duplex client failed"
rc=0
it_wait_pid "$listen_pid" 20 || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth cat --listen exited with status $rc: $(tail -n 3 "$IT_DIR/listen.log")"
[ "$got" = "$half $(sha256sum <"$IT_DIR/b" | cut -d' ' -f1)" ] ||
    it_fail "kernel client received '$got', berth cat --listen sent $half bytes with $(sha256sum <"$IT_DIR/b" | cut -d' ' -f1)"
[ "$(sha256sum <"$IT_DIR/listen.out" | cut -d' ' -f1)" = "$(sha256sum <"$IT_DIR/a" | cut -d' ' -f1)" ] ||
    it_fail "berth cat --listen wrote $(stat -c %s "$IT_DIR/listen.out") bytes that differ from the $half sent"
it_log "berth cat --listen: 16 MiB each way at once, intact"
it_log "PASS"
