#!/usr/bin/env bash
# The kernel pings berth over IPv6 (RFC 4443 §4.1, §4.2): every request of
# a paced `ping -6` is answered with its data (ping checks it), small and
# filling a 1500-byte packet; a burst of 300 requests at once meets the
# token bucket ICMP shares for both families (§2.4 (f); 1000/s, bursts of
# 50 by default): every request is either answered or counted as
# rate-limited. The capture shows the ICMPv6 echo replies from berth.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt6p
B6=2001:db8:b::2
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
command -v ping >/dev/null || it_fail "missing ping: run scripts/install-deps.sh"
it_berth_start srv echo --port 7
it_capture_start kcap 128

it_ns ping -6 -n -c 5 -i 0.2 -W 5 "$B6" >"$IT_DIR/ping.log" 2>&1 ||
    it_fail "ping -6: $(cat "$IT_DIR/ping.log")"
grep -q ' 0% packet loss' "$IT_DIR/ping.log" ||
    it_fail "paced ping -6 lost packets: $(tail -n 3 "$IT_DIR/ping.log")"
it_ns ping -6 -n -c 3 -i 0.2 -W 5 -s 1452 -M do "$B6" >"$IT_DIR/ping_big.log" 2>&1 ||
    it_fail "ping -6 -s 1452: $(cat "$IT_DIR/ping_big.log")"
grep -q ' 0% packet loss' "$IT_DIR/ping_big.log" ||
    it_fail "1500-byte pings lost: $(tail -n 3 "$IT_DIR/ping_big.log")"
replies=$(it_counter srv "ICMP echo replies sent")
[ "$replies" -eq 8 ] || it_fail "berth counted $replies echo replies, expected 8"
it_log "8 paced ping -6 (56 and 1452 bytes of data) answered"

it_ns ping -6 -n -q -c 300 -l 300 -W 3 "$B6" >"$IT_DIR/burst.log" 2>&1 || true
in1=$(it_counter srv "ICMP echo requests received")
rep1=$(it_counter srv "ICMP echo replies sent")
lim1=$(it_counter srv "ICMP messages not sent: rate limit")
[ "$in1" -eq 308 ] || it_fail "berth received $in1 echo requests, expected 308"
[ $((rep1 + lim1)) -eq 308 ] ||
    it_fail "$rep1 replies + $lim1 rate-limited != 308 requests"
[ $((rep1 - 8)) -ge 50 ] || it_fail "only $((rep1 - 8)) of the burst answered: the bucket holds 50"
it_capture_stop kcap
seen=$(it_pcap count "$IT_DIR/kcap.pcapng" "ipv6.src == $B6 && icmpv6.type == 129")
[ "$seen" -eq "$rep1" ] || it_fail "the capture shows $seen echo replies, berth counted $rep1"
it_log "burst of 300: $((rep1 - 8)) answered, $lim1 rate-limited; capture agrees"
it_berth_stop srv
it_log "PASS"
