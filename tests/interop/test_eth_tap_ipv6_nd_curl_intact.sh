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
B6=2001:db8:b::2
K6=2001:db8:b::1

IT_PCAP=1 eth_berth_start web6 http
ip -n "$IT_NS" -6 addr show dev "$IT_TUN" | grep -q "$K6/64" ||
    it_fail "the kernel side has no $K6/64: $(ip -n "$IT_NS" -6 addr show dev "$IT_TUN")"
kmac=$(eth_kernel_mac)
size=8388608
want=$(it_pattern_sha "$size")
got=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 "http://[$B6]/bytes/$size" |
    sha256sum | cut -d' ' -f1) || it_fail "IPv6 download over tap failed"
[ "$got" = "$want" ] || it_fail "curl -6 over tap: SHA-256 $got, expected $want"
up=4194304
head -c "$up" /dev/urandom >"$IT_DIR/upload"
want=$(sha256sum <"$IT_DIR/upload" | cut -d' ' -f1)
answer=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' \
    --data-binary "@$IT_DIR/upload" "http://[$B6]/sink") ||
    it_fail "IPv6 upload over tap failed: $answer"
grep -qw "$up" <<<"$answer" && grep -qw "$want" <<<"$answer" ||
    it_fail "POST /sink over IPv6 answered '$answer', expected $up and $want"
got=$(it_ns curl -4 -sS --max-time 20 "http://$IT_BERTH/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(it_pattern_sha 100000)" ] || it_fail "IPv4 curl on the same tap link failed"
it_log "curl -6: $size bytes down and $up up intact; IPv4 too"

eth_neigh_wait web6 "^$K6 dev $IT_TUN lladdr $kmac (REACHABLE|STALE|DELAY|PROBE)\$" 5
routes=$(timeout 10 "$BERTH" route --ctl "$(it_ctl web6)")
grep -qx "2001:db8:b::/64 dev $IT_TUN proto kernel scope link src $B6" <<<"$routes" ||
    it_fail "berth route has no IPv6 on-link prefix:"$'\n'"$routes"
[ "$(it_counter web6 "our IPv6 address is in use on the link (DAD)")" -eq 0 ] ||
    it_fail "berth saw a duplicate of its address:"$'\n'"$(it_stat web6)"
it_berth_settled web6 10
it_berth_stop web6

pcap=$IT_DIR/web6.pcap
n=$(it_pcap count "$pcap" "icmpv6.type == 135 && ipv6.src == :: && icmpv6.nd.ns.target_address == $B6 && eth.dst == 33:33:ff:00:00:02")
[ "$n" -ge 1 ] || it_fail "berth's capture has no DAD probe (NS from :: for $B6)"
n=$(it_pcap count "$pcap" "icmpv6.type == 135 && ipv6.src == $K6 && icmpv6.nd.ns.target_address == $B6 && eth.src == $kmac")
[ "$n" -ge 1 ] || it_fail "berth's capture has no NS from the kernel for $B6"
n=$(it_pcap count "$pcap" "icmpv6.type == 136 && ipv6.src == $B6 && icmpv6.nd.na.flag.s == 1 && icmpv6.nd.na.target_address == $B6 && eth.dst == $kmac")
[ "$n" -ge 1 ] || it_fail "berth's capture has no solicited NA from berth to the kernel"
it_log "capture: DAD probe, the kernel's NS and berth's solicited NA"

eth_berth_start dup echo --port 7 --neigh dad=4
ip -n "$IT_NS" -6 addr add "$B6/128" dev "$IT_TUN" nodad ||
    it_fail "cannot add $B6 on the kernel side"
eth_counter_wait dup "our IPv6 address is in use on the link (DAD)" 1 10
it_stop_pid "${IT_PID_OF[dup]}" INT 10 || true
n=$(grep -c "IPv6 address $B6 is already in use on $IT_TUN" "$IT_DIR/dup.log") || true
[ "$n" = 1 ] || it_fail "berth printed the duplicate-address error $n times:"$'\n'"$(cat "$IT_DIR/dup.log")"
it_log "DAD: the kernel's NA for $B6 marked it duplicate; one error: $(grep -m1 'already in use' "$IT_DIR/dup.log")"
it_log "PASS"
