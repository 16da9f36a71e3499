#!/usr/bin/env bash
# A battery of malformed packets (short, wrong IP version or header length,
# lengths that disagree, bad checksums, fragments, other protocols, TCP
# data offsets out of range, SYN+FIN, SYN+RST, port 0, truncated or illegal
# options), each kind ten times, written onto the TUN: every one is dropped
# at parse and counted (IPv4, TCP, UDP or ICMP), no segment is answered
# (only the unknown protocol draws ICMP protocol unreachable), nothing is
# opened, and berth (built with ASan and UBSan in CI) keeps serving.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80

ip0=$(it_counter srv "IPv4 packets dropped at parse")
tcp0=$(it_counter srv "bad segments received")
out=$(at_hostile malformed --repeat 10) || it_fail "hostile.py malformed: $out"
kinds=$(at_value "$out" kinds)
want_ip=$(at_value "$out" ip)
want_tcp=$(at_value "$out" tcp)
sleep 0.5
ip1=$(it_counter srv "IPv4 packets dropped at parse")
tcp1=$(it_counter srv "bad segments received")
[ $((ip1 - ip0)) -eq "$want_ip" ] ||
    it_fail "IPv4 parse drops: $((ip1 - ip0)), expected $want_ip"$'\n'"$(it_stat srv)"
[ $((tcp1 - tcp0)) -eq "$want_tcp" ] ||
    it_fail "TCP parse drops: $((tcp1 - tcp0)), expected $want_tcp"$'\n'"$(it_stat srv)"
[ "$(it_counter srv "segments sent")" -eq 0 ] || it_fail "berth answered a malformed packet"
[ "$(it_counter srv "passive connection openings")" -eq 0 ] || it_fail "a connection was opened"
for r in SHORT_PACKET BAD_IP_VERSION BAD_IHL BAD_IP_LENGTH BAD_IP_CHECKSUM IP_FRAGMENT \
    NOT_TCP BAD_DATA_OFFSET BAD_OPTION BAD_TCP_CHECKSUM SYN_FIN SYN_RST BAD_PORT \
    UDP_BAD_LENGTH BAD_ICMP_CHECKSUM; do
    [ "$(at_drop srv "$r")" -gt 0 ] || it_fail "no drop counted as $r"$'\n'"$(it_stat srv)"
done

ok=$(at_curls 3 10)
[ "$ok" -eq 3 ] || it_fail "only $ok of 3 curls succeeded after the battery"
it_log "$kinds kinds x 10: $want_ip dropped at IPv4 parse, $want_tcp at TCP parse; service intact"
it_berth_stop srv
it_log "PASS"
