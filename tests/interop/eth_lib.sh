# shellcheck shell=bash
# Shared part of the Ethernet interop tests (test_eth_*.sh, issue 16),
# sourced after lib.sh. berth runs on an Ethernet link inside the test's
# namespace and the kernel is the host at the other end:
#   tap     berth creates the TAP device bt0; the kernel's side of it is
#           198.18.0.1/24 (as with the TUN).
#   packet  a veth pair vb/vk made here: berth takes vb through AF_PACKET
#   xdp     (TPACKET_V3 rings) or AF_XDP (copy mode); the kernel has vk,
#           198.18.0.1/24; vb has no address (the kernel ignores berth's
#           packets on it). vk's transmit checksum offload is off for xdp:
#           an XDP frame carries no checksum state.
# berth is 198.18.0.2 with its own MAC (tap) or vb's (packet, xdp), and
# answers and asks ARP itself. Nothing leaves the namespace.

# eth_setup KIND: the link, IT_TUN (what it_berth_wait waits to be up),
# ETH_KIF (the kernel's interface) and ETH_LINK (berth's --link).
eth_setup() {
    ETH_KIND=$1
    case $ETH_KIND in
    tap)
        IT_TUN=bt0
        ETH_KIF=bt0
        ;;
    packet | xdp)
        IT_TUN=vb
        ETH_KIF=vk
        ip -n "$IT_NS" link add vb type veth peer name vk ||
            it_skip "cannot create a veth pair"
        local i
        for i in vb vk; do
            it_ns sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1" || true
        done
        ip -n "$IT_NS" addr add "$IT_KERNEL/24" dev vk
        ip -n "$IT_NS" link set vk up
        ip -n "$IT_NS" link set vb up
        if [ "$ETH_KIND" = xdp ]; then
            it_ns python3 "$IT_HERE/txcsum_off.py" vk ||
                it_fail "cannot turn vk's transmit checksum offload off"
        fi
        ;;
    *) it_fail "eth_setup: unknown kind $ETH_KIND" ;;
    esac
    ETH_LINK=$ETH_KIND:$IT_TUN
    if [ "$ETH_KIND" = xdp ] &&
        "$BERTH" echo --link xdp:nonexistent0 2>&1 | grep -q 'without libxdp'; then
        it_skip "berth was built without libxdp/libbpf"
    fi
    it_log "link $ETH_LINK, kernel side $ETH_KIF"
}

# eth_berth_start LABEL SUBCOMMAND [ARGS...]: it_berth_start on the link.
eth_berth_start() {
    local label=$1 sub=$2
    shift 2
    it_berth_start "$label" "$sub" --link "$ETH_LINK" "$@"
}

eth_kernel_mac() { it_ns cat "/sys/class/net/$ETH_KIF/address"; }

# eth_arp_count PCAP FILTER: ARP packets in berth's capture matching a
# tshark filter (the capture is LINKTYPE_ETHERNET: frames, ARP included).
eth_arp_count() { it_pcap count "$1" "arp && $2"; }

# eth_neigh_wait LABEL REGEX SECONDS: bounded wait until a line of `berth
# neigh` matches; fails with the table otherwise.
eth_neigh_wait() {
    local label=$1 re=$2 secs=$3 i out
    for ((i = 0; i < secs * 10; i++)); do
        out=$(timeout 10 "$BERTH" neigh --ctl "$(it_ctl "$label")") || true
        printf '%s\n' "$out" | grep -qE "$re" && return 0
        sleep 0.1
    done
    it_fail "berth neigh ($label) has no line matching '$re' after $secs s:"$'\n'"$out"
}

# eth_counter_wait LABEL TEXT MIN SECONDS: bounded wait until the `berth
# stat` counter reading TEXT is at least MIN.
eth_counter_wait() {
    local label=$1 text=$2 min=$3 secs=$4 i n=0
    for ((i = 0; i < secs * 10; i++)); do
        n=$(it_counter "$label" "$text")
        [ "$n" -ge "$min" ] && return 0
        sleep 0.1
    done
    it_fail "berth ($label): '$text' is $n after $secs s, expected at least $min"
}

# eth_transfers: http, echo and cat over the link, each checked byte for
# byte, with ARP resolution both ways in berth's capture.
eth_transfers() {
    local size=8388608 kmac out want got n
    # The kernel resolves berth (its request, berth's reply), then curl.
    # (A TAP device is berth's: its kernel side exists, with a new MAC,
    # while an instance runs.)
    IT_PCAP=1 eth_berth_start web http
    kmac=$(eth_kernel_mac)
    want=$(it_pattern_sha "$size")
    got=$(it_ns curl -sS -m 60 "http://$IT_BERTH/bytes/$size" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || it_fail "curl /bytes/$size over $ETH_LINK: body differs from the pattern"
    it_berth_settled web 10
    out=$(timeout 10 "$BERTH" route --ctl "$(it_ctl web)")
    # (On tap the IPv6 prefixes follow: test_eth_tap_ipv6_nd_curl_intact.)
    [ "$(head -n 1 <<<"$out")" = "198.18.0.0/24 dev $IT_TUN proto kernel scope link src $IT_BERTH" ] ||
        it_fail "berth route printed '$out'"
    eth_neigh_wait web "^$IT_KERNEL dev $IT_TUN lladdr $kmac (REACHABLE|STALE|DELAY|PROBE)\$" 5
    it_berth_stop web
    n=$(eth_arp_count "$IT_DIR/web.pcap" "arp.opcode == 1 && arp.dst.proto_ipv4 == $IT_BERTH && eth.src == $kmac")
    [ "$n" -ge 1 ] || it_fail "berth's capture has no ARP request from the kernel for $IT_BERTH"
    n=$(eth_arp_count "$IT_DIR/web.pcap" "arp.opcode == 2 && arp.src.proto_ipv4 == $IT_BERTH && eth.dst == $kmac")
    [ "$n" -ge 1 ] || it_fail "berth's capture has no ARP reply from berth to the kernel"
    n=$(eth_arp_count "$IT_DIR/web.pcap" "arp.opcode == 1 && arp.src.proto_ipv4 == $IT_BERTH && arp.dst.proto_ipv4 == $IT_BERTH")
    [ "$n" -ge 1 ] || it_fail "berth's capture has no gratuitous ARP (RFC 5227 announcement)"
    it_log "http: $size bytes intact; ARP request/reply and the announcement captured"

    eth_berth_start echo echo --port 7
    it_peer echo-halfclose --host "$IT_BERTH" --port 7 --bytes 4194304 ||
        it_fail "echo over $ETH_LINK failed"
    it_berth_settled echo 10
    it_berth_stop echo
    it_log "echo: 4 MiB echoed intact"

    # berth resolves the kernel (its request, the kernel's reply), then
    # uploads to a kernel server.
    head -c 16777216 /dev/urandom >"$IT_DIR/up"
    want=$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)
    it_bg ksink python3 "$IT_HERE/peer.py" serve --port 5001 --mode sink \
        --result "$IT_DIR/ksink.result"
    local i
    for ((i = 0; i < 100; i++)); do
        [ -e "$IT_DIR/ksink.result.ready" ] && break
        sleep 0.1
    done
    local rc=0
    IT_PCAP=1 IT_STDIN=$IT_DIR/up it_berth_bg up cat --link "$ETH_LINK" "$IT_KERNEL" 5001
    it_wait_pid "$IT_LAST_PID" 120 || rc=$?
    [ "$rc" -ne 124 ] || it_fail "berth cat over $ETH_LINK still running after 120 s: $(eth_stuck_report up)"
    [ "$rc" -eq 0 ] || it_fail "berth cat over $ETH_LINK exited with status $rc: $(tail -n 3 "$IT_DIR/up.log")"
    it_wait_pid "${IT_PID_OF[ksink]}" 10 || it_fail "kernel sink server failed"
    read -r n got <"$IT_DIR/ksink.result"
    [ "$n" = 16777216 ] && [ "$got" = "$want" ] ||
        it_fail "the kernel received $n bytes with SHA-256 $got; berth cat sent 16 MiB with $want"
    n=$(eth_arp_count "$IT_DIR/up.pcap" "arp.opcode == 1 && arp.src.proto_ipv4 == $IT_BERTH && arp.dst.proto_ipv4 == $IT_KERNEL")
    [ "$n" -ge 1 ] || it_fail "berth cat's capture has no ARP request for $IT_KERNEL"
    n=$(eth_arp_count "$IT_DIR/up.pcap" "arp.opcode == 2 && arp.src.proto_ipv4 == $IT_KERNEL && arp.dst.proto_ipv4 == $IT_BERTH")
    [ "$n" -ge 1 ] || it_fail "berth cat's capture has no ARP reply from the kernel"
    it_log "cat: 16 MiB to a kernel server intact; berth's ARP request and the kernel's reply captured"
}

# eth_silent_neighbour: the kernel stops answering ARP (arp off on its
# interface: it neither answers nor sends to berth's MAC) in the middle of
# a rate-limited download. berth's entry for it goes STALE, is probed,
# FAILS; the packets queued on the next resolution are dropped and
# counted. With ARP back on, the download completes intact.
eth_silent_neighbour() {
    local size=6291456 want got
    eth_berth_start quiet http --neigh reachable=1s,delay=500ms,retrans=200ms,probes=2
    want=$(it_pattern_sha "$size")
    it_bg dl curl -sS -m 150 --limit-rate 400k -o "$IT_DIR/dl.body" "http://$IT_BERTH/bytes/$size"
    local dl=$IT_LAST_PID
    eth_neigh_wait quiet "^$IT_KERNEL dev $IT_TUN lladdr " 10
    sleep 1
    ip -n "$IT_NS" link set "$ETH_KIF" arp off
    it_log "kernel's ARP off on $ETH_KIF"
    eth_counter_wait quiet "neighbours that stopped answering (FAILED)" 1 30
    eth_counter_wait quiet "packets dropped: resolution failed" 1 30
    it_log "berth neigh while the kernel is silent: $(timeout 10 "$BERTH" neigh --ctl "$(it_ctl quiet)" | tr '\n' ';')"
    ip -n "$IT_NS" link set "$ETH_KIF" arp on
    it_log "kernel's ARP on again"
    local rc=0
    it_wait_pid "$dl" 150 || rc=$?
    [ "$rc" -eq 0 ] || it_fail "curl after the silence ended with status $rc: $(cat "$IT_DIR/dl.log")"
    got=$(sha256sum <"$IT_DIR/dl.body" | cut -d' ' -f1)
    [ "$got" = "$want" ] || it_fail "the download across the silence differs from the pattern"
    it_log "download across the silence intact; $(it_counter quiet "packets dropped: resolution failed") packets dropped on failed resolution"
    it_berth_settled quiet 10
    it_berth_stop quiet
}

# eth_stuck_report LABEL: what a berth that should have ended is doing (its
# connections, its threads' kernel wait channels and stacks), for a
# failure message: once seen under load, a `berth cat` over TAP that had
# closed its connection did not exit.
eth_stuck_report() {
    local label=$1 pid t
    echo "berth ss: $(timeout 5 "$BERTH" ss --ctl "$(it_ctl "$label")" 2>&1 | tr '\n' ';')"
    for pid in $(pgrep -f -- "--ctl $(it_ctl "$label")"); do
        echo "pid $pid $(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-80)"
        for t in /proc/"$pid"/task/*; do
            echo "  task ${t##*/} state $(awk '{print $3}' "$t/stat" 2>/dev/null) wchan $(cat "$t/wchan" 2>/dev/null)"
            head -n 8 "$t/stack" 2>/dev/null | sed 's/^/    /'
        done
        command -v gdb >/dev/null &&
            timeout 20 gdb -batch -p "$pid" -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^#|^Thread' | head -n 40
    done
}

# eth_arp_flood: 2000 requests for berth's address from 252 made-up hosts;
# the cache holds at most max=32 entries, evicting (counted), answers
# every request, and still serves.
eth_arp_flood() {
    eth_berth_start flood http --neigh max=32
    it_ns python3 "$IT_HERE/arpflood.py" "$ETH_KIF" "$IT_BERTH" 2000 4000 >/dev/null ||
        it_fail "ARP flood sender failed"
    # A busy machine may drop some of the flood before berth reads it (a
    # device queue, a full ring): the bounds hold for what arrived.
    eth_counter_wait flood "ARP requests received" 1000 10
    local rows evicted replies requests arrived last=-1 i
    for ((i = 0; i < 50; i++)); do
        arrived=$(it_counter flood "ARP requests received")
        [ "$arrived" = "$last" ] && break
        last=$arrived
        sleep 0.2
    done
    rows=$(timeout 10 "$BERTH" neigh --ctl "$(it_ctl flood)" | wc -l)
    [ "$rows" -le 32 ] || it_fail "berth's neighbour cache has $rows entries after the flood, bound 32"
    evicted=$(it_counter flood "neighbour entries evicted")
    [ "$evicted" -ge $((arrived - 40)) ] ||
        it_fail "only $evicted entries evicted by $arrived requests from 252 hosts (cache 32)"
    # The kernel's own ARP request (its entry for berth going stale) may
    # still come in after the flood, on a busy machine between two reads:
    # requests and replies are compared within one `berth stat`, and the
    # JSON counter must lie between the text's read before and after it.
    local snap
    snap=$(it_stat flood) || it_fail "berth stat (flood) failed"
    replies=$(printf '%s\n' "$snap" | grep -m1 -F "ARP replies sent" | grep -oE '[0-9]+' | head -n 1)
    requests=$(printf '%s\n' "$snap" | grep -m1 -F "ARP requests received" | grep -oE '[0-9]+' | head -n 1)
    [ -n "$replies" ] && [ "$replies" -eq "$requests" ] ||
        it_fail "berth answered ${replies:-?} of $requests ARP requests"
    timeout 10 "$BERTH" stat --json --ctl "$(it_ctl flood)" >"$IT_DIR/flood.json" ||
        it_fail "berth stat --json failed"
    local evicted_after
    evicted_after=$(it_counter flood "neighbour entries evicted")
    python3 - "$IT_DIR/flood.json" "$evicted" "$evicted_after" "$ETH_LINK" <<'PY' ||
import json, sys
e = json.load(open(sys.argv[1]))["ethernet"]
assert int(sys.argv[2]) <= e["NEIGH_EVICTED"] <= int(sys.argv[3]), e
assert e["ARP_REPLIES_OUT"] == e["ARP_REQUESTS_IN"], e
assert e["link"] == sys.argv[4], e
PY
        it_fail "berth stat --json: no ethernet counters matching the text (evicted $evicted before, $evicted_after after): $(head -c 800 "$IT_DIR/flood.json")"
    local want got
    want=$(it_pattern_sha 100000)
    got=$(it_ns curl -sS -m 30 "http://$IT_BERTH/bytes/100000" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$want" ] || it_fail "curl after the ARP flood failed"
    it_log "ARP flood: $arrived of 2000 requests arrived, cache at $rows of 32 entries, $evicted evicted, $replies replies; still serving"
    it_berth_settled flood 10
    it_berth_stop flood
}

# eth_ipv6_nd: IPv6 over the link with neighbour discovery (berth
# [2001:db8:b::2], the kernel [2001:db8:b::1]/64): DAD, NS/NA in the
# capture, curl -6 both ways, berth neigh and route; then a failed DAD
# (the kernel side takes berth's address too) is counted and said once.
eth_ipv6_nd() {
    local B6=2001:db8:b::2 K6=2001:db8:b::1 kmac size want got up answer routes pcap n
    IT_PCAP=1 eth_berth_start web6 http
    ip -n "$IT_NS" -6 addr show dev "$ETH_KIF" | grep -q "$K6/64" ||
        it_fail "the kernel side has no $K6/64: $(ip -n "$IT_NS" -6 addr show dev "$ETH_KIF")"
    kmac=$(eth_kernel_mac)
    size=8388608
    want=$(it_pattern_sha "$size")
    got=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 "http://[$B6]/bytes/$size" |
        sha256sum | cut -d' ' -f1) || it_fail "IPv6 download over $ETH_LINK failed"
    [ "$got" = "$want" ] || it_fail "curl -6 over $ETH_LINK: SHA-256 $got, expected $want"
    up=4194304
    head -c "$up" /dev/urandom >"$IT_DIR/upload"
    want=$(sha256sum <"$IT_DIR/upload" | cut -d' ' -f1)
    answer=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 -H 'Expect:' \
        -H 'Content-Type: application/octet-stream' \
        --data-binary "@$IT_DIR/upload" "http://[$B6]/sink") ||
        it_fail "IPv6 upload over $ETH_LINK failed: $answer"
    grep -qw "$up" <<<"$answer" && grep -qw "$want" <<<"$answer" ||
        it_fail "POST /sink over IPv6 answered '$answer', expected $up and $want"
    got=$(it_ns curl -4 -sS --max-time 20 "http://$IT_BERTH/bytes/100000" | sha256sum | cut -d' ' -f1)
    [ "$got" = "$(it_pattern_sha 100000)" ] || it_fail "IPv4 curl on the same link failed"
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
    ip -n "$IT_NS" -6 addr add "$B6/128" dev "$ETH_KIF" nodad ||
        it_fail "cannot add $B6 on the kernel side"
    eth_counter_wait dup "our IPv6 address is in use on the link (DAD)" 1 10
    it_stop_pid "${IT_PID_OF[dup]}" INT 10 || true
    n=$(grep -c "IPv6 address $B6 is already in use on $IT_TUN" "$IT_DIR/dup.log") || true
    [ "$n" = 1 ] || it_fail "berth printed the duplicate-address error $n times:"$'\n'"$(cat "$IT_DIR/dup.log")"
    it_log "DAD: the kernel's NA for $B6 marked it duplicate; one error: $(grep -m1 'already in use' "$IT_DIR/dup.log")"
}
