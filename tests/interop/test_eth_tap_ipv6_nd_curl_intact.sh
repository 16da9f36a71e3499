#!/usr/bin/env bash
# IPv6 on an Ethernet link (--link tap:bt0): berth is [2001:db8:b::2], the
# kernel's side of the TAP device [2001:db8:b::1]/64 (the runtime's
# defaults, as on TUN). berth's capture holds its duplicate address
# detection (an NS from :: for its address, RFC 4862 §5.4.2), the kernel's
# NS for berth's address and berth's solicited NA (RFC 4861 §7.2.4); curl
# -6 downloads and uploads intact; `berth neigh` lists the kernel's IPv6
# address with its MAC and `berth route` the IPv6 on-link prefix; IPv4
# still works on the same instance. Then duplicate address detection
# fails: the kernel side takes berth's address too (nodad) while berth
# probes (--neigh dad=4), answers berth's NS from :: with an NA, and berth
# says once that the address is in use and counts it (RFC 4862 §5.4.5).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/eth_lib.sh"
it_setup
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
eth_setup tap
eth_ipv6_nd
it_log "PASS"
