#!/usr/bin/env bash
# TUN offloads (IFF_VNET_HDR, TUNSETOFFLOAD: checksum, TSO) on and off,
# against the kernel through `berth cat` (client) and a python3 server:
#   - with --no-offload and with the default offloads: 256 MiB berth ->
#     kernel and 256 MiB kernel -> berth, SHA-256 checked, cat exits 0;
#     --trace names the offloads in force ("offloads: vnet-hdr csum tso4..."
#     or "offloads: off");
#   - a kernel-side capture (dumpcap on the TUN) of 8 MiB each way, each
#     mode: without offloads no packet exceeds the MTU and every IP and TCP
#     checksum verifies in full; with them super-packets (> MTU) cross in
#     both directions (the kernel's coalesced reads, berth's TSO writes)
#     and every TCP checksum verifies or is the exact pseudo-header sum the
#     kernel completes (NEEDS_CSUM), and the kernel counts no checksum
#     error (TcpInCsumErrors) in either mode.
# No assertion on speed; the rates are logged.
# On a busy machine dumpcap may lose packets (it_capture_drops: the count
# is logged for each capture). The checks of each captured packet (size,
# checksums) hold on what was captured and always run; that super-packets
# cross at all is asserted only of a complete capture, and a line says
# when it is not. The data checks (SHA-256 both ways) never depend on it.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt2
big=268435456
small=8388608

it_serve() {
    local label=$1 port=$2 mode=$3
    shift 3
    it_bg "$label" python3 "$IT_HERE/peer.py" serve --port "$port" \
        --mode "$mode" --result "$IT_DIR/$label.result" "$@"
    # Bounded by the clock: on a busy machine python3 may take seconds.
    local end=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$end" ]; do
        [ -e "$IT_DIR/$label.result.ready" ] && return 0
        kill -0 "$IT_LAST_PID" 2>/dev/null ||
            it_fail "kernel server $label exited: $(tail -n 3 "$IT_DIR/$label.log")"
        sleep 0.1
    done
    it_fail "kernel server $label not listening after 30 s"
}

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }'; }

# transfer MODE SIZE PORT FILE [BERTH-OPTS...]: berth -> kernel (FILE on
# cat's stdin, kernel sink) then kernel -> berth (kernel source sends FILE,
# cat's stdout), both SHA-checked.
transfer() {
    local mode=$1 size=$2 port=$3 file=$4 want n sha got t0 rc=0
    shift 4
    want=$(sha256sum <"$file" | cut -d' ' -f1)
    it_serve "ksink-$mode-$port" "$port" sink
    t0=$(it_now)
    IT_STDIN=$file it_berth_bg "up-$mode-$port" cat --trace "$@" "$IT_KERNEL" "$port"
    it_wait_pid "$IT_LAST_PID" 200 || rc=$?
    local secs
    secs=$(it_since "$t0")
    [ "$rc" -eq 0 ] || it_fail "berth cat ($mode, upload) exited with status $rc: $(tail -n 3 "$IT_DIR/up-$mode-$port.log")"
    it_wait_pid "${IT_PID_OF[ksink-$mode-$port]}" 20 || it_fail "kernel sink ($mode) failed"
    read -r n sha <"$IT_DIR/ksink-$mode-$port.result"
    [ "$n" = "$size" ] && [ "$sha" = "$want" ] ||
        it_fail "offloads $mode: kernel received $n bytes with SHA-256 $sha; berth sent $size with $want"
    it_log "offloads $mode: berth -> kernel $size bytes intact ($(rate "$size" "$secs"))"
    check_trace "$mode" "$IT_DIR/up-$mode-$port.log"

    it_serve "ksrc-$mode-$port" "$((port + 1))" source --source "$file"
    t0=$(it_now)
    rc=0
    it_berth_bg "down-$mode-$port" cat --trace "$@" "$IT_KERNEL" "$((port + 1))"
    it_wait_pid "$IT_LAST_PID" 200 || rc=$?
    secs=$(it_since "$t0")
    [ "$rc" -eq 0 ] || it_fail "berth cat ($mode, download) exited with status $rc: $(tail -n 3 "$IT_DIR/down-$mode-$port.log")"
    it_wait_pid "${IT_PID_OF[ksrc-$mode-$port]}" 20 || it_fail "kernel source ($mode) failed"
    got=$(sha256sum <"$IT_DIR/down-$mode-$port.out" | cut -d' ' -f1)
    n=$(stat -c %s "$IT_DIR/down-$mode-$port.out")
    [ "$n" = "$size" ] && [ "$got" = "$want" ] ||
        it_fail "offloads $mode: berth cat wrote $n bytes with SHA-256 $got; the kernel sent $size with $want"
    rm -f "$IT_DIR/down-$mode-$port.out"
    it_log "offloads $mode: kernel -> berth $size bytes intact ($(rate "$size" "$secs"))"
    check_trace "$mode" "$IT_DIR/down-$mode-$port.log"
}

check_trace() {
    local mode=$1 log=$2
    if [ "$mode" = on ]; then
        grep -qE "^berth: $IT_TUN offloads: vnet-hdr csum tso4" "$log" ||
            it_fail "offloads on: --trace does not say csum and tso4 are on: $(grep offloads "$log" || head -n 3 "$log")"
    else
        grep -qE "^berth: $IT_TUN offloads: off" "$log" ||
            it_fail "--no-offload: --trace does not say the offloads are off: $(grep offloads "$log" || head -n 3 "$log")"
    fi
}

head -c "$big" /dev/urandom >"$IT_DIR/big"
transfer off "$big" 5100 "$IT_DIR/big" --no-offload
transfer on "$big" 5200 "$IT_DIR/big"
rm -f "$IT_DIR/big"

# Captures: what the kernel's side of the TUN carries, each mode.
head -c "$small" /dev/urandom >"$IT_DIR/small"
csum_errors0=$(it_kernel_counter TcpInCsumErrors)
for mode in off on; do
    opts=()
    [ "$mode" = off ] && opts=(--no-offload)
    port=$([ "$mode" = off ] && echo 5300 || echo 5400)
    # The TUN exists only while berth runs: a listening berth, so the
    # capture starts after the device is up and before any data moves.
    IT_STDIN=$IT_DIR/small it_berth_start "cap-$mode" cat --listen 7000 "${opts[@]}"
    it_capture_start "kcap-$mode"
    got=$(IT_TIMEOUT=120 it_peer duplex-client --host "$IT_BERTH" --port 7000 --send "$IT_DIR/small") ||
        it_fail "offloads $mode: kernel full-duplex client failed"
    rc=0
    it_wait_pid "${IT_PID_OF[cap-$mode]}" 30 || rc=$?
    [ "$rc" -eq 0 ] || it_fail "berth cat --listen ($mode) exited with status $rc"
    want=$(sha256sum <"$IT_DIR/small" | cut -d' ' -f1)
    [ "$got" = "$small $want" ] || it_fail "offloads $mode: kernel client received '$got', want '$small $want'"
    [ "$(sha256sum <"$IT_DIR/cap-$mode.out" | cut -d' ' -f1)" = "$want" ] ||
        it_fail "offloads $mode: berth cat --listen wrote data that differs from the $small bytes sent"
    it_capture_stop "kcap-$mode"
    k=$IT_DIR/kcap-$mode.pcapng
    drops=$(it_capture_drops "kcap-$mode")
    it_log "offloads $mode: capture: $(it_pcap count "$k" tcp) TCP segments, dumpcap dropped $drops"
    from_berth=$(it_pcap count "$k" "ip.src == $IT_BERTH && ip.len > 1500")
    from_kernel=$(it_pcap count "$k" "ip.src == $IT_KERNEL && ip.len > 1500")
    if [ "$mode" = off ]; then
        [ "$from_berth" -eq 0 ] && [ "$from_kernel" -eq 0 ] ||
            it_fail "--no-offload: packets above the MTU on the TUN (berth $from_berth, kernel $from_kernel)"
        # berth's checksums are complete; the kernel's own segments may be
        # captured before the kernel completes them (the tap sees them
        # first), so theirs may be exactly the partial sum.
        it_pcap checksums --full --src "$IT_BERTH" "$k"
        it_pcap checksums --src "$IT_KERNEL" "$k"
    else
        if [ "$drops" -eq 0 ]; then
            [ "$from_berth" -gt 0 ] || it_fail "offloads on: berth wrote no TSO super-segment"
            [ "$from_kernel" -gt 0 ] || it_fail "offloads on: the kernel sent no super-packet"
            it_pcap checksums --min-partial 1 "$k"
        else
            it_log "offloads on: capture incomplete (dumpcap dropped $drops packets): not asserted that super-packets (and partial checksums) cross both ways; the data checks above stand"
            it_pcap checksums "$k"
        fi
    fi
    it_log "offloads $mode: capture: packets > MTU from berth $from_berth, from the kernel $from_kernel"
done
csum_errors=$(it_kernel_counter TcpInCsumErrors)
[ "$csum_errors" = "$csum_errors0" ] ||
    it_fail "the kernel counted TCP checksum errors: TcpInCsumErrors $csum_errors0 -> $csum_errors"
it_log "PASS"
