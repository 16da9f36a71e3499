#!/usr/bin/env bash
# Kernel half-close: a python3 client sends 1 MiB to `berth echo`, then
# shutdown(SHUT_WR), and must still read the full 1 MiB echo, then EOF.
# The capture proves berth kept sending after the kernel's FIN (its
# CLOSE-WAIT side still carries data), and closed only after that.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv echo --port 7
it_capture_start kcap 128

it_peer echo-halfclose --host "$IT_BERTH" --port 7 --bytes 1048576 ||
    it_fail "half-close echo client failed"
sleep 0.3
it_capture_stop kcap

# Data from berth after the kernel's FIN, and berth's FIN after all its data.
kfin=$(tshark -n -r "$IT_DIR/kcap.pcapng" -Y "ip.src == $IT_KERNEL && tcp.flags.fin == 1" \
    -T fields -e frame.number 2>/dev/null | head -n 1)
[ -n "$kfin" ] || it_fail "no FIN from the kernel in the capture"
after=$(it_pcap count "$IT_DIR/kcap.pcapng" "ip.src == $IT_BERTH && tcp.len > 0 && frame.number > $kfin")
[ "$after" -gt 0 ] || it_fail "berth sent no data after the kernel's FIN (frame $kfin)"
it_log "berth sent $after data segments after the kernel's FIN"
it_pcap close "$IT_DIR/kcap.pcapng" --port \
    "$(tshark -n -r "$IT_DIR/kcap.pcapng" -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e tcp.srcport 2>/dev/null | head -n 1)" \
    --first "$IT_KERNEL"

it_berth_settled srv 5
it_berth_stop srv
it_log "PASS"
