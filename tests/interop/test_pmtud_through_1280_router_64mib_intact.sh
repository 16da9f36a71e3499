#!/usr/bin/env bash
# Path MTU Discovery through a kernel router (RFC 1191). berth (198.18.0.2)
# talks over its TUN to the test's namespace, which routes (ip_forward) to
# a second namespace over a veth pair; the router's end has MTU 1280, the
# peer's 1500 (so the peer's SYN offers MSS 1460: only the router knows):
#
#   berth <-TUN 1500-> router ns 198.18.0.1 | 198.18.1.1 (1280) <-veth-> (1500) peer ns 198.18.1.2
#
# curl in the peer namespace downloads 64 MiB from `berth http`. berth's
# segments carry DF; the first full-sized ones do not fit the veth, the
# router answers "fragmentation needed" with MTU 1280, berth's MSS drops
# to 1240, and what was lost is resent at that size: the download is
# intact. The capture on the TUN shows segments above 1240 bytes of
# payload before the ICMP, and none after berth's first smaller one. A
# forged "fragmentation needed" (from the router namespace) quoting the
# connection's 4-tuple but a sequence number 2^31 from SND.UNA is
# rejected and counted (RFC 5927 §4.1).
source "$(dirname "$0")/lib.sh"
it_setup
PEER_NS="$IT_NS-peer"
it_netns_add "$PEER_NS" || it_fail "cannot create $PEER_NS"
ip link add vr netns "$IT_NS" type veth peer name vp netns "$PEER_NS"
it_ns ip addr add 198.18.1.1/24 dev vr
it_ns ip link set vr mtu 1280 up
it_ns sysctl -qw net.ipv4.ip_forward=1
peer() { timeout -k 2 "${IT_TIMEOUT:-60}" ip netns exec "$PEER_NS" "$@"; }
peer ip link set lo up
peer ip addr add 198.18.1.2/24 dev vp
peer ip link set vp up
peer ip route add default via 198.18.1.1

size=67108864
want=$(it_pattern_sha "$size")
it_berth_start srv http --port 80 --no-offload
it_capture_start kcap 96
t0=$(it_now)
IT_TIMEOUT=160 peer curl -sS --max-time 150 --limit-rate 16M \
    "http://$IT_BERTH/bytes/$size" 2>"$IT_DIR/curl.log" |
    sha256sum | cut -d' ' -f1 >"$IT_DIR/got" &
dl=$!
IT_PIDS+=("$dl")

# While it runs: the forged message.
found=0
t0ss=$(it_now)
while it_between "$(it_since "$t0ss")" 0 30 && kill -0 "$dl" 2>/dev/null; do
    if it_ss srv --json >"$IT_DIR/ss.json" 2>/dev/null &&
        grep -q '"198.18.1.2:' "$IT_DIR/ss.json"; then
        found=1
        break
    fi
    sleep 0.1
done
[ "$found" -eq 1 ] || it_fail "berth ss never showed the download's connection"
peer_port=$(python3 -c 'import json,sys
for s in json.load(open(sys.argv[1])):
    if s.get("peer", "").startswith("198.18.1.2:") and s.get("state") == "ESTABLISHED":
        print(s["peer"].rsplit(":", 1)[1]); break' "$IT_DIR/ss.json")
[ -n "$peer_port" ] || it_fail "no ESTABLISHED connection from the peer: $(cat "$IT_DIR/ss.json")"
rej0=$(it_counter srv "ICMP errors rejected by validation")
fseq=$(it_ns python3 "$IT_HERE/pmtu.py" forge "$IT_DIR/ss.json" "$IT_BERTH" \
    198.18.1.2 "$peer_port") || it_fail "could not send the forged ICMP"

wait "$dl" || it_fail "the download failed: $(cat "$IT_DIR/curl.log")"
secs=$(it_since "$t0")
got=$(cat "$IT_DIR/got")
[ "$got" = "$want" ] || it_fail "download of $size bytes: SHA-256 $got, expected $want: $(cat "$IT_DIR/curl.log")"
it_log "64 MiB through the 1280-MTU router intact in $secs s"

rej1=$(it_counter srv "ICMP errors rejected by validation")
[ "$rej1" -gt "$rej0" ] || it_fail "the forged ICMP (seq $fseq) was not rejected"
drops=$(it_counter srv "path MTU lowered by fragmentation needed")
[ "$drops" -ge 1 ] || it_fail "berth never lowered a path MTU"$'\n'"$(it_stat srv)"
it_capture_stop kcap
res=$(python3 "$IT_HERE/pmtu.py" check "$IT_DIR/kcap.pcapng" "$IT_BERTH") ||
    it_fail "capture: $res"
it_log "capture: $res; MSS lowered $drops time(s); forged ICMP (seq $fseq) rejected"
it_berth_stop srv
it_log "PASS"
