# shellcheck shell=bash
# Shared steps of the UDP interop tests, for either family
# (test_udp_nc_python_both_ways_and_refused.sh over IPv4, test_udp6_... over
# IPv6), sourced after lib.sh. Each step takes the address under test
# (berth's or the kernel's, of the test's family) and runs berth on the TUN
# named by IT_TUN; the transfers carry the file $IT_DIR/lines.
#
# UDP_STDIN_LATE (seconds, default 0): berth cat -u's stdin is held back
# that long (through a fifo), for a kernel address that is not usable yet
# when berth starts sending.

# udp_berth_cat LABEL FILE ADDR PORT ARGS...: `berth cat -u ADDR PORT ARGS`
# in the background, reading FILE (UDP_STDIN_LATE seconds late).
udp_berth_cat() {
    local label=$1 file=$2 stdin=$2
    shift 2
    if [ "${UDP_STDIN_LATE:-0}" != 0 ]; then
        stdin=$IT_DIR/$label.fifo
        mkfifo "$stdin"
        (
            sleep "$UDP_STDIN_LATE"
            cat "$file"
        ) >"$stdin" &
    fi
    IT_STDIN=$stdin it_berth_bg "$label" cat -u "$@"
}

# udp_echoed LABEL ADDR SIZE...: python3 sends a datagram of each SIZE to
# berth's udp-echo (instance LABEL) at ADDR and gets each back whole, from
# that address; berth counted each one delivered.
udp_echoed() {
    local label=$1 addr=$2 before after out
    shift 2
    before=$(it_counter "$label" "UDP datagrams delivered")
    out=$(it_peer udp-echo --host "$addr" "$@") ||
        it_fail "python3 to udp-echo at $addr: $out"
    after=$(it_counter "$label" "UDP datagrams delivered")
    [ $((after - before)) -eq $# ] ||
        it_fail "berth counted $((after - before)) UDP datagrams delivered, expected $#"
    it_log "python3 -> berth udp-echo at $addr: $out of $# datagrams echoed whole (sizes: $*)"
}

# udp_refused_by_berth LABEL ADDR: a connected python3 socket sending to
# berth (instance LABEL) at ADDR, port 9999, where it has no socket, gets
# ECONNREFUSED: the port unreachable berth sent, and counted (RFC 1122
# §4.1.3.1, RFC 4443 §3.1).
udp_refused_by_berth() {
    local label=$1 addr=$2 out unr
    out=$(it_peer udp-expect-refused --host "$addr" --port 9999) ||
        it_fail "python3 refused: $out"
    [ "$out" = ECONNREFUSED ] || it_fail "expected ECONNREFUSED, got: $out"
    unr=$(it_counter "$label" "ICMP destination unreachables sent")
    [ "$unr" -ge 1 ] || it_fail "berth counted $unr destination unreachables sent"
    it_log "connected python3 socket to a closed berth port at $addr: $out"
}

# udp_nc_to_berth_listen ADDR NC-FLAGS...: `nc NC-FLAGS -u` sends the file
# to `berth cat -u --listen 9000` at ADDR, whose stdout must be the file.
udp_nc_to_berth_listen() {
    local addr=$1 lsn
    shift
    it_berth_start lsn cat -u --listen 9000 --wait 2s
    lsn=${IT_PID_OF[lsn]}
    it_ns nc "$@" -u -w 1 "$addr" 9000 <"$IT_DIR/lines" >/dev/null 2>"$IT_DIR/nc.log" || true
    it_wait_pid "$lsn" 30 || it_fail "berth cat -u --listen did not end well: $(cat "$IT_DIR/lsn.log")"
    cmp -s "$IT_DIR/lines" "$IT_DIR/lsn.out" ||
        it_fail "berth cat -u --listen wrote $(wc -c <"$IT_DIR/lsn.out") bytes, not nc's $(wc -c <"$IT_DIR/lines")"
    it_log "nc ${*:+$* }-u -> berth cat -u --listen: $(wc -c <"$IT_DIR/lines") bytes intact"
}

# udp_berth_to_nc_listen ADDR NC-FLAGS...: `berth cat -u ADDR 9002` sends
# the file to the kernel's `nc NC-FLAGS -u -l 9002`, which must write it
# intact.
udp_berth_to_nc_listen() {
    local addr=$1 knc i
    shift
    it_bg knc nc "$@" -u -l 9002
    knc=$IT_LAST_PID
    for ((i = 0; i < 100; i++)); do
        it_ns ss -uln 2>/dev/null | grep -q ':9002 ' && break
        sleep 0.1
    done
    udp_berth_cat unc "$IT_DIR/lines" "$addr" 9002 --wait 1s
    it_wait_pid "$IT_LAST_PID" 30 || it_fail "berth cat -u to nc failed: $(cat "$IT_DIR/unc.log")"
    for ((i = 0; i < 50; i++)); do
        cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" && break
        sleep 0.1
    done
    it_stop_pid "$knc" TERM 5 || true
    cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" ||
        it_fail "nc -u -l wrote $(wc -c <"$IT_DIR/knc.out") bytes, not the $(wc -c <"$IT_DIR/lines") berth sent"
    it_log "berth cat -u $addr -> nc ${*:+$* }-u -l: intact"
}

# udp_refused_by_kernel ADDR: `berth cat -u ADDR 9`, a kernel port without
# a socket, exits 1 saying "refused" (the kernel's port unreachable).
udp_refused_by_kernel() {
    local addr=$1 rc=0
    echo hi >"$IT_DIR/hi"
    udp_berth_cat refused "$IT_DIR/hi" "$addr" 9 --wait 5s
    it_wait_pid "$IT_LAST_PID" 30 || rc=$?
    [ "$rc" -eq 1 ] || it_fail "berth cat -u to a closed kernel port at $addr: exit $rc, expected 1: $(cat "$IT_DIR/refused.log")"
    grep -qi refused "$IT_DIR/refused.log" ||
        it_fail "berth cat -u's message does not say 'refused': $(cat "$IT_DIR/refused.log")"
    it_log "berth cat -u to a closed kernel port at $addr: '$(head -n 1 "$IT_DIR/refused.log")'"
}
