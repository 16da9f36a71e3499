#!/usr/bin/env bash
# Recovery on an impaired link, berth's sender against the kernel's in the
# same run (issue 10): `berth http --impair loss=5%,reorder=25%,delay=5ms`
# (both directions, a seed per repetition) over a TUN in a namespace this
# script creates; K downloads (GET /bytes/N: berth sends) and K uploads
# (POST /sink: the kernel sends) of SIZE bytes each, all at once, as in
# tests/interop/test_impaired_link_transfers_intact.sh.
#   bash bench/impaired.sh /path/to/berth [REPS] [SIZE] [K] [MODE] [OFFLOAD]
# MODE `mixed` (default) runs the downloads and the uploads together (the
# interop test's shape); `apart` runs the K downloads, then the K uploads,
# so that neither direction's ACKs share the link with the other's data.
# OFFLOAD `off` (default) runs berth with --no-offload: the impairment
# decides per TUN packet, and with offloads a packet is a super-segment
# (berth's TSO: about 4 MSS on average here, up to 45; the kernel's GSO
# toward berth: 1-2 MSS), so 5 % of packets lost is fewer, longer loss
# bursts for berth's sender than for the kernel's, a gap that is the
# link model's, not the senders'. `on` keeps the offloads (the interop
# test's configuration) to show that gap.
# Per repetition it prints the median seconds of a download and of an
# upload; at the end the medians over all transfers and the ratio
# download/upload (below 1: berth's sender was faster). Timing never
# fails the run; a transfer that is not intact does. Needs root, TUN,
# curl; build berth without sanitizers for figures (build/release).
BERTH=${1:?usage: bench/impaired.sh /path/to/berth [REPS] [SIZE] [K] [MODE]}
REPS=${2:-3}
SIZE=${3:-16777216}
K=${4:-10}
MODE=${5:-mixed}
OFFLOAD=${6:-off}
set -- "$BERTH"
# shellcheck source=../tests/interop/lib.sh
source "$(dirname "$0")/../tests/interop/lib.sh"
IT_TEST=bench-impaired
it_setup
case "$MODE" in mixed | apart) ;; *) it_fail "MODE is mixed or apart, not $MODE" ;; esac
case "$OFFLOAD" in on) offload=() ;; off) offload=(--no-offload) ;; *) it_fail "OFFLOAD is on or off, not $OFFLOAD" ;; esac
limit=280
rto_max=/proc/sys/net/ipv4/tcp_rto_max_ms
# The same cap the interop test sets (Linux >= 6.15): without it a lost
# retransmission doubles the kernel's backed-off RTO without bound.
[ -e "$rto_max" ] && it_ns sh -c "echo 5000 >$rto_max"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

want_down=$(it_pattern_sha "$SIZE")
head -c "$SIZE" /dev/urandom >"$IT_DIR/up"
want_up=$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)
: >"$IT_DIR/all_down"
: >"$IT_DIR/all_up"

start_downs() {
    local i
    for ((i = 0; i < K; i++)); do
        it_bg "down$i" curl -sS --max-time "$limit" -o "$IT_DIR/down$i" \
            -w '%{http_code} %{time_total}' "http://$IT_BERTH/bytes/$SIZE"
    done
}
start_ups() {
    local i
    for ((i = 0; i < K; i++)); do
        it_bg "up$i" curl -sS --max-time "$limit" -H 'Expect:' \
            -H 'Content-Type: application/octet-stream' --data-binary "@$IT_DIR/up" \
            -w ' %{http_code} %{time_total}' "http://$IT_BERTH/sink"
    done
}
wait_all() {
    local t i rc
    for t in "$@"; do
        for ((i = 0; i < K; i++)); do
            rc=0
            it_wait_pid "${IT_PID_OF[$t$i]}" $((limit + 10)) || rc=$?
            [ "$rc" -eq 0 ] || it_fail "$t$i: curl exit $rc: $(cat "$IT_DIR/$t$i.log")"
        done
    done
}

for ((rep = 1; rep <= REPS; rep++)); do
    seed=$((6 + rep))
    it_berth_start srv http --port 80 --idle-timeout 280s "${offload[@]}" \
        --impair "loss=5%,reorder=25%,delay=5ms,seed=$seed"
    b0=$(it_counter srv "segments retransmitted")
    k0=$(it_kernel_counter TcpRetransSegs)
    bt0=$(it_counter srv "retransmission timeouts")
    kt0=$(it_kernel_counter TcpExtTCPTimeouts)
    if [ "$MODE" = mixed ]; then
        start_downs
        start_ups
        wait_all down up
    else
        start_downs
        wait_all down
        start_ups
        wait_all up
    fi
    : >"$IT_DIR/rep_down"
    : >"$IT_DIR/rep_up"
    for ((i = 0; i < K; i++)); do
        read -r code t <"$IT_DIR/down$i.out" || true # no newline after -w
        [ "$code" = 200 ] || it_fail "download $i: status $code"
        got=$(sha256sum <"$IT_DIR/down$i" | cut -d' ' -f1)
        [ "$got" = "$want_down" ] || it_fail "download $i: not intact"
        echo "$t" >>"$IT_DIR/rep_down"
        answer=$(cat "$IT_DIR/up$i.out")
        grep -qw "$want_up" <<<"$answer" || it_fail "upload $i: answered '$answer'"
        awk '{ print $NF }' <<<"$answer" | tail -n 1 >>"$IT_DIR/rep_up"
    done
    b1=$(it_counter srv "segments retransmitted")
    k1=$(it_kernel_counter TcpRetransSegs)
    bt1=$(it_counter srv "retransmission timeouts")
    kt1=$(it_kernel_counter TcpExtTCPTimeouts)
    it_berth_stop srv
    cat "$IT_DIR/rep_down" >>"$IT_DIR/all_down"
    cat "$IT_DIR/rep_up" >>"$IT_DIR/all_up"
    d=$(median <"$IT_DIR/rep_down")
    u=$(median <"$IT_DIR/rep_up")
    echo "RESULT bench=impaired mode=$MODE offload=$OFFLOAD rep=$rep seed=$seed size=$SIZE k=$K" \
        "berth_down_s=$d kernel_up_s=$u" \
        "ratio=$(awk -v d="$d" -v u="$u" 'BEGIN { printf "%.2f", d / u }')" \
        "berth_retrans=$((b1 - b0)) kernel_retrans=$((k1 - k0))" \
        "berth_rtos=$((bt1 - bt0)) kernel_rtos=$((kt1 - kt0))"
done
d=$(median <"$IT_DIR/all_down")
u=$(median <"$IT_DIR/all_up")
echo "RESULT bench=impaired mode=$MODE offload=$OFFLOAD reps=$REPS size=$SIZE k=$K" \
    "median_berth_down_s=$d median_kernel_up_s=$u" \
    "ratio=$(awk -v d="$d" -v u="$u" 'BEGIN { printf "%.2f", d / u }')"
