#!/usr/bin/env bash
# SACK and timestamps between berth and the Linux kernel (RFC 2018, RFC
# 7323), checked on the kernel side of the TUN with tshark, and what SACK
# buys on a lossy link.
#
# 1. With the kernel's defaults, berth's SYN-ACK carries SACK-permitted,
#    timestamps and window scale; every data segment either way carries
#    timestamps; under loss both sides send SACK blocks.
# 2. The same transfers (one download and one upload of IT_SACK_SIZE bytes,
#    --impair loss=3%,delay=2ms with a fixed seed) run twice: with SACK,
#    then with SACK off in the namespace (net.ipv4.tcp_sack=0, so neither
#    side uses it). Retransmitted bytes (tshark's tcp.analysis.retransmission,
#    both directions) must be fewer with SACK. Both figures are printed.
#    berth runs with --no-offload: the impairment drops whole packets, and
#    with TUN offloads a packet is a TSO super-segment of up to 64 KiB whose
#    size depends on how the kernel and berth batched (so on the machine's
#    load), making the bytes 3% loss takes, and so the bytes any sender
#    must resend, vary several-fold between two runs. Without offloads
#    every packet is at most one MSS and the seeded 3% takes comparable
#    amounts from both runs.
source "$(dirname "$0")/lib.sh"
it_setup
size=${IT_SACK_SIZE:-4194304}
impair="loss=3%,delay=2ms,seed=${IT_SEED:-11}"
want_down=$(it_pattern_sha "$size")
head -c "$size" /dev/urandom >"$IT_DIR/up"
want_up=$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)

# tshark over a capture: the number of packets matching a display filter.
count() { tshark -r "$1" -Y "$2" 2>/dev/null | wc -l; }
# Retransmitted payload bytes in a capture, both directions.
rexmit_bytes() {
    tshark -r "$1" -Y tcp.analysis.retransmission -T fields -e tcp.len \
        2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# run LABEL: one download and one upload through the impaired berth, checked,
# captured on the TUN (which exists while berth runs).
run() {
    local label=$1
    it_capture_start "$label"
    local got
    got=$(it_ns curl -sS --max-time 120 "http://$IT_BERTH/bytes/$size" |
        sha256sum | cut -d' ' -f1)
    [ "$got" = "$want_down" ] || it_fail "$label: download SHA-256 differs"
    got=$(it_ns curl -sS --max-time 120 -H 'Expect:' \
        --data-binary "@$IT_DIR/up" "http://$IT_BERTH/sink")
    [ "${got#* }" = "$want_up" ] || it_fail "$label: upload answered '$got'"
    it_capture_stop "$label"
}

it_berth_start srv http --port 80 --idle-timeout 120s --impair "$impair" \
    --no-offload
run sack
cap="$IT_DIR/sack.pcapng"
syn_ack='ip.src==198.18.0.2 && tcp.flags.syn==1 && tcp.flags.ack==1'
[ "$(count "$cap" "$syn_ack && tcp.options.sack_perm && tcp.options.timestamp.tsval && tcp.options.wscale.shift")" -ge 2 ] ||
    it_fail "berth's SYN-ACKs lack SACK-permitted, timestamps or window scale"
[ "$(count "$cap" 'tcp.len > 0 && !tcp.options.timestamp.tsval')" -eq 0 ] ||
    it_fail "data segments without timestamps"
k_sack=$(count "$cap" 'ip.src==198.18.0.1 && tcp.options.sack_le')
b_sack=$(count "$cap" 'ip.src==198.18.0.2 && tcp.options.sack_le')
[ "$k_sack" -gt 0 ] || it_fail "the kernel sent no SACK blocks to berth"
[ "$b_sack" -gt 0 ] || it_fail "berth sent no SACK blocks to the kernel"
it_log "negotiated: SACK, timestamps, window scale; SACK blocks sent by kernel $k_sack, by berth $b_sack"
with=$(rexmit_bytes "$cap")

it_ns sysctl -qw net.ipv4.tcp_sack=0
run nosack
[ "$(count "$IT_DIR/nosack.pcapng" 'tcp.options.sack_le')" -eq 0 ] ||
    it_fail "SACK blocks seen with net.ipv4.tcp_sack=0"
without=$(rexmit_bytes "$IT_DIR/nosack.pcapng")

it_berth_stop srv
it_log "retransmitted bytes (both ways, $size B each way, $impair): with SACK $with, without $without"
[ "$with" -lt "$without" ] || it_fail "SACK did not reduce retransmissions ($with >= $without)"
it_log "PASS"
