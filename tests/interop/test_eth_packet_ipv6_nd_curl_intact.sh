#!/usr/bin/env bash
# IPv6 over AF_PACKET (--link packet:vb, one end of a veth pair): the
# kernel's IPv6 is off on vb (eth_setup), so IPv6 there is berth's; the
# kernel at the other end, vk, has [2001:db8:b::1]/64. As over tap
# (eth_lib.sh: eth_ipv6_nd): berth's DAD, the kernel's NS and berth's
# solicited NA in the capture, curl -6 both ways intact, berth neigh and
# route, and a failed DAD said once.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/eth_lib.sh"
it_setup
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
eth_setup packet
it_ns sysctl -qw net.ipv6.conf.vk.disable_ipv6=0
ip -n "$IT_NS" -6 addr add 2001:db8:b::1/64 dev vk nodad ||
    it_fail "cannot give vk 2001:db8:b::1/64"
eth_ipv6_nd
it_log "PASS"
