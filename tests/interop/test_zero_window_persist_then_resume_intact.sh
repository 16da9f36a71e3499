#!/usr/bin/env bash
# Zero window (RFC 9293 §3.8.6.1): a kernel client with a 16 KiB receive
# buffer asks for 4 MB and reads nothing for 3 s. The kernel's window
# closes; berth keeps the connection with persist probes (one byte beyond
# the window, at RTO and backing off) that the kernel answers; once the
# client reads, the transfer resumes and the body is intact. No RST.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80
it_capture_start kcap 96

it_peer slow-reader --host "$IT_BERTH" --bytes 4000000 --pause 3 ||
    it_fail "slow reader failed"
it_capture_stop kcap
it_berth_settled srv 5

k=$IT_DIR/kcap.pcapng
zw=$(it_pcap count "$k" "ip.src == $IT_KERNEL && tcp.analysis.zero_window")
zwp=$(it_pcap count "$k" "ip.src == $IT_BERTH && tcp.analysis.zero_window_probe")
zwa=$(it_pcap count "$k" "ip.src == $IT_KERNEL && tcp.analysis.zero_window_probe_ack")
rst=$(it_pcap count "$k" "tcp.flags.reset == 1")
probes=$(it_counter srv "zero-window probes sent")
it_log "kernel zero windows $zw; berth probes $zwp (counter $probes), answered $zwa; RSTs $rst"
[ "$zw" -gt 0 ] || it_fail "the kernel never advertised a zero window"
[ "$zwp" -gt 0 ] && [ "$probes" -gt 0 ] ||
    it_fail "no zero-window probe from berth during a 3 s zero window (capture $zwp, counter $probes)"
[ "$zwa" -gt 0 ] || it_fail "no probe answered by the kernel"
[ "$rst" -eq 0 ] || it_fail "$rst RSTs in the capture"
it_berth_stop srv
it_log "PASS"
