#!/usr/bin/env bash
# berth cat writes stdout straight from its receive buffer: what a slow
# stdout does not take stays there (the window closes: the backpressure)
# and a partial write consumes only what the pipe took. The kernel sends
# 16 MiB to `berth cat HOST PORT` whose stdout is a pipe to a reader that
# waits 2 s, then reads in 4 KiB pieces with pauses: the bytes arrive
# intact and in order, cat exits 0.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt1
size=16777216

head -c "$size" /dev/urandom >"$IT_DIR/down"
want=$(sha256sum <"$IT_DIR/down" | cut -d' ' -f1)
it_bg ksource python3 "$IT_HERE/peer.py" serve --port 5002 --mode source \
    --source "$IT_DIR/down" --result "$IT_DIR/ksource.result"
for ((i = 0; i < 100; i++)); do
    [ -e "$IT_DIR/ksource.result.ready" ] && break
    sleep 0.1
done
[ -e "$IT_DIR/ksource.result.ready" ] ||
    it_fail "kernel source server not listening after 10 s"
cat >"$IT_DIR/reader.py" <<'PY'
import sys, time
time.sleep(2)
with open(sys.argv[1], "wb") as out:
    n = 0
    while True:
        b = sys.stdin.buffer.raw.read(4096)
        if not b:
            break
        out.write(b)
        n += 1
        if n % 64 == 0:
            time.sleep(0.001)
PY
t0=$(it_now)
it_bg slow bash -c 'set -o pipefail; r=$1 o=$2; shift 2; "$@" | python3 "$r" "$o"' \
    sh "$IT_DIR/reader.py" "$IT_DIR/slow.data" "$BERTH" cat --tun "$IT_TUN" --ctl "$(it_ctl slow)" "$IT_KERNEL" 5002
slow_pid=$IT_LAST_PID
rc=0
it_wait_pid "$slow_pid" 120 || rc=$?
secs=$(it_since "$t0")
[ "$rc" -eq 0 ] ||
    it_fail "berth cat | slow reader exited with status $rc: $(tail -n 3 "$IT_DIR/slow.log")"
it_wait_pid "${IT_PID_OF[ksource]}" 10 || it_fail "kernel source server failed"
got=$(sha256sum <"$IT_DIR/slow.data" | cut -d' ' -f1)
n=$(stat -c %s "$IT_DIR/slow.data")
[ "$n" = "$size" ] && [ "$got" = "$want" ] ||
    it_fail "the reader got $n bytes with SHA-256 $got; the kernel sent $size bytes with SHA-256 $want"
it_log "kernel -> berth cat -> slow pipe: 16 MiB intact in $secs s"
it_log "PASS"
