#!/usr/bin/env bash
# UDP over IPv6 (RFC 768, RFC 8200 §8.1) between berth [2001:db8:b::2] and
# the kernel [2001:db8:b::1], both ways:
#   kernel -> berth: python3 sends datagrams of 0..1452 bytes over IPv6 to
#     `berth udp-echo` and gets each back whole, from the address it sent
#     to; then an IPv4 one to the same (dual-stack) socket; `nc -6 -u`
#     sends a file to `berth cat -u --listen`, whose stdout is the file.
#   berth -> kernel: `berth cat -u 2001:db8:b::1 PORT` sends the file to
#     `nc -6 -u -l`, which gets it intact.
#   refused: a connected python3 IPv6 UDP socket sending to a berth port
#     without a socket gets ECONNREFUSED (berth's ICMPv6 port unreachable,
#     RFC 4443 §3.1); `berth cat -u` to a kernel IPv6 port without a
#     socket exits 1 saying "refused" (the kernel's ICMPv6).
# Every datagram fits the 1500-byte MTU: berth does not reassemble IPv6.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/udp_lib.sh"
it_setup
B6=2001:db8:b::2
K6=2001:db8:b::1
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
# berth cat -u's stdin comes a second late: the kernel's IPv6 address on
# the new TUN device is not yet usable for the first milliseconds
# (Ip6InAddrErrors), and berth cat -u sends its first datagram at once.
UDP_STDIN_LATE=1
IT_TUN=bu6a
it_berth_start echo udp-echo --port 7

udp_echoed echo "$B6" 0 1 7 512 1000 1452
udp_echoed echo "$IT_BERTH" 100 # IPv4 to the same (dual-stack) socket
udp_refused_by_berth echo "$B6"
it_berth_stop echo

seq 1 100 | sed 's/^/line /' >"$IT_DIR/lines" # 792 bytes: one datagram
IT_TUN=bu6b
udp_nc_to_berth_listen "$B6" -6
IT_TUN=bu6c
udp_berth_to_nc_listen "$K6" -6
IT_TUN=bu6d
udp_refused_by_kernel "$K6"
it_log "PASS"
