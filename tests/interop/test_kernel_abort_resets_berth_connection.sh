#!/usr/bin/env bash
# The kernel aborts mid-download (SO_LINGER 0 close: RST, RFC 9293
# §3.10.4): berth takes the RST whose sequence number is RCV.NXT
# (§3.10.7.4, RFC 5961 §3.2), counts it as a reset of an ESTABLISHED
# connection, answers nothing to the kernel's later RSTs (§3.10.7.1: a RST
# is never answered), and frees the connection: `berth ss` shows it gone.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80
it_capture_start kcap 96

port=$(it_peer abort-download --host "$IT_BERTH" --bytes 100000000 --after 1000000) ||
    it_fail "aborting client failed"
it_capture_stop kcap
it_berth_settled srv 5
if it_ss srv | grep -E "$IT_KERNEL:$port\b"; then
    it_fail "berth still lists the aborted connection"
fi
resets=$(it_counter srv "connection resets received in ESTABLISHED")
[ "$resets" -eq 1 ] || it_fail "berth counted $resets resets in ESTABLISHED, expected 1"
sent=$(it_pcap count "$IT_DIR/kcap.pcapng" "ip.src == $IT_BERTH && tcp.flags.reset == 1")
[ "$sent" -eq 0 ] || it_fail "berth sent $sent RSTs in answer to the kernel's RSTs"
it_log "aborted at port $port: berth reset and freed the connection"
it_berth_stop srv
it_log "PASS"
