#!/usr/bin/env bash
# Loss and reordering: berth http with
#   --impair loss=5%,reorder=25%,delay=5ms,seed=N   (both directions)
# carries 10 downloads (GET /bytes/N) and 10 uploads (POST /sink) of
# IT_IMPAIR_SIZE bytes each, all at once, and every one arrives intact
# (SHA-256). Both retransmission counters moved: berth's ("segments
# retransmitted" in `berth stat`) and the kernel's (nstat TcpRetransSegs).
#
# Time: the 20 transfers run in parallel; with SACK, timestamps, RACK-TLP
# and PRR on both sides they take about 40 s under ASan. With offloads on
# (as here) the impairment decides per TUN packet, and berth's TSO
# super-segments (about 4 MSS on average) lose whole bursts where the
# kernel's 1-2 MSS packets lose one or two segments: berth's downloads
# (about 18 s) beat the kernel's uploads (about 33 s). Per wire packet
# (--no-offload) the two senders are even: bench/impaired.sh measures
# both ways in one run (BENCHMARKS.md). Where the kernel has
# the knob (Linux >= 6.15) the namespace caps the kernel's RTO at 5 s
# (net.ipv4.tcp_rto_max_ms): a lost retransmission otherwise doubles a
# backed-off RTO. IT_IMPAIR_SIZE sets the size (default 16 MiB, as the
# issue asks). --idle-timeout is raised from berth http's 15 s: an upload
# can be silent for longer while the kernel backs off, and the reaper would
# close it (the application's policy, not TCP).
source "$(dirname "$0")/lib.sh"
it_setup
seed=${IT_SEED:-7}
size=${IT_IMPAIR_SIZE:-16777216}
n=10
limit=170 # seconds for all transfers together

# Cap the kernel's RTO backoff in this namespace where the kernel has the
# knob (Linux >= 6.15): see above; berth is not affected.
rto_max=/proc/sys/net/ipv4/tcp_rto_max_ms
if [ -e "$rto_max" ]; then
    it_ns sh -c "echo 5000 >$rto_max"
    it_log "kernel RTO capped at $(it_ns cat $rto_max) ms in the namespace"
fi
it_berth_start srv http --port 80 --idle-timeout 170s --impair "loss=5%,reorder=25%,delay=5ms,seed=$seed"

want_down=$(it_pattern_sha "$size")
head -c "$size" /dev/urandom >"$IT_DIR/up"
want_up=$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)
b0=$(it_counter srv "segments retransmitted")
k0=$(it_kernel_counter TcpRetransSegs)

t0=$(it_now)
for ((i = 0; i < n; i++)); do
    it_bg "down$i" curl -sS --max-time "$limit" -o "$IT_DIR/down$i" \
        -w '%{http_code} %{time_total}' "http://$IT_BERTH/bytes/$size"
    it_bg "up$i" curl -sS --max-time "$limit" -H 'Expect:' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$IT_DIR/up" \
        -w ' %{http_code} %{time_total}' "http://$IT_BERTH/sink"
done
for ((i = 0; i < n; i++)); do
    for t in down up; do
        rc=0
        it_wait_pid "${IT_PID_OF[$t$i]}" $((limit + 10)) || rc=$?
        [ "$rc" -eq 0 ] || it_fail "$t$i: curl exit $rc after $(it_since "$t0") s: $(cat "$IT_DIR/$t$i.log")"
    done
done
secs=$(it_since "$t0")

times=()
for ((i = 0; i < n; i++)); do
    read -r code t <"$IT_DIR/down$i.out" || true # no newline after -w
    [ "$code" = 200 ] || it_fail "download $i: status $code"
    got=$(sha256sum <"$IT_DIR/down$i" | cut -d' ' -f1)
    [ "$got" = "$want_down" ] ||
        it_fail "download $i: $(stat -c %s "$IT_DIR/down$i") bytes, SHA-256 $got, expected $size bytes with $want_down"
    answer=$(cat "$IT_DIR/up$i.out")
    grep -qw "$size" <<<"$answer" && grep -qw "$want_up" <<<"$answer" ||
        it_fail "upload $i: POST /sink answered '$answer', expected $size and $want_up"
    times+=("$t/$(tail -n 1 <<<"$answer" | awk '{ print $NF }')")
done
b1=$(it_counter srv "segments retransmitted")
k1=$(it_kernel_counter TcpRetransSegs)
it_log "$n x $size bytes each way intact in $secs s (seed $seed); per transfer down/up s: ${times[*]}"
it_log "retransmitted segments: berth $((b1 - b0)), kernel $((k1 - k0))"
[ "$b1" -gt "$b0" ] || it_fail "berth's retransmission counter did not move ($b0)"
[ "$k1" -gt "$k0" ] || it_fail "the kernel's TcpRetransSegs did not move ($k0)"
it_berth_settled srv 30
it_berth_stop srv
it_log "PASS"
