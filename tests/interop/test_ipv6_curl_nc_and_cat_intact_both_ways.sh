#!/usr/bin/env bash
# IPv6 over the TUN device (RFC 8200), the kernel as the peer; berth is
# [2001:db8:b::2], the kernel's side [2001:db8:b::1]/64 (the runtime's
# defaults: no option needed, IPv6 is on when the kernel has it).
#   http:  curl -6 GET /bytes/64 MiB with its SHA-256 checked, and a 16 MiB
#          POST /sink; then plain IPv4 curl to the same listener (bound to
#          ::, dual stack). `berth ss` shows the listener as [::]:80, the
#          capture holds IPv6 segments with nonzero flow labels, MSS 1440.
#   echo:  nc -6 and a python3 client over IPv6 get their bytes back.
#   cat:   `berth cat 2001:db8:b::1 PORT` to a kernel IPv6 server, 16 MiB
#          each way, SHA-256 checked.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt6
B6=2001:db8:b::2
K6=2001:db8:b::1
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"

IT_PCAP=1 it_berth_start srv http --port 80
ip -n "$IT_NS" -6 addr show dev "$IT_TUN" | grep -q "$K6/64" ||
    it_fail "the kernel side has no $K6/64: $(ip -n "$IT_NS" -6 addr show dev "$IT_TUN")"
ss_out=$(it_ss srv)
grep -qE '^LISTEN .*\[::\]:80 +\[::\]:\*' <<<"$ss_out" ||
    it_fail "berth ss does not show the dual-stack listener [::]:80:"$'\n'"$ss_out"

down=67108864
want=$(it_pattern_sha "$down")
t0=$(it_now)
got=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 "http://[$B6]/bytes/$down" |
    sha256sum | cut -d' ' -f1) || it_fail "IPv6 download of $down bytes failed"
secs=$(it_since "$t0")
[ "$got" = "$want" ] || it_fail "IPv6 download: SHA-256 $got, expected $want"
it_log "curl -6: 64 MiB intact in $secs s ($(awk -v b=$down -v s="$secs" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }'))"

up=16777216
head -c "$up" /dev/urandom >"$IT_DIR/upload"
want=$(sha256sum <"$IT_DIR/upload" | cut -d' ' -f1)
answer=$(IT_TIMEOUT=100 it_ns curl -6 -gsS --max-time 90 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' \
    --data-binary "@$IT_DIR/upload" "http://[$B6]/sink") ||
    it_fail "IPv6 upload failed: $answer"
grep -qw "$up" <<<"$answer" && grep -qw "$want" <<<"$answer" ||
    it_fail "POST /sink over IPv6 answered '$answer', expected $up and $want"
it_log "curl -6 POST: 16 MiB intact"

got=$(it_ns curl -4 -sS --max-time 20 "http://$IT_BERTH/bytes/100000" | sha256sum | cut -d' ' -f1)
[ "$got" = "$(it_pattern_sha 100000)" ] || it_fail "IPv4 curl to the dual-stack listener failed"
it_log "IPv4 curl to the same listener (bound to ::) intact"
[ "$(it_counter srv "IPv6 packets received")" -gt 1000 ] ||
    it_fail "berth counted few IPv6 packets:"$'\n'"$(it_stat srv)"
[ "$(it_counter srv "IPv6 packets dropped at parse")" -eq 0 ] ||
    it_fail "IPv6 packets dropped at parse:"$'\n'"$(it_stat srv)"
it_berth_settled srv 5
it_berth_stop srv

# The capture (LINKTYPE_RAW carries both families): IPv6 SYNs with MSS
# 1440 and flow labels, and the one IPv4 connection.
tshark -r "$IT_DIR/srv.pcap" -T fields -e ipv6.src -e ipv6.flow -e tcp.options.mss_val \
    -Y 'ipv6 && tcp.flags.syn == 1' >"$IT_DIR/syns" 2>/dev/null ||
    it_fail "tshark cannot read the capture"
grep -qE "^$B6	0x[0-9a-f]*[1-9a-f][0-9a-f]*	1440$" "$IT_DIR/syns" ||
    it_fail "no SYN-ACK from $B6 with a flow label and MSS 1440 in the capture:"$'\n'"$(cat "$IT_DIR/syns")"
grep -qE "^$K6	" "$IT_DIR/syns" || it_fail "no IPv6 SYN from the kernel captured"
n4=$(tshark -r "$IT_DIR/srv.pcap" -Y 'ip && tcp.flags.syn == 1' 2>/dev/null | wc -l)
[ "$n4" -eq 2 ] || it_fail "expected the one IPv4 handshake (2 SYNs) in the capture, found $n4"
it_log "capture: IPv6 SYNs with flow labels and MSS 1440, one IPv4 handshake"

# echo over IPv6: nc -6 and a python3 client (half-close, 1 MiB).
it_berth_start echo echo --port 7
line=$(printf 'ping over IPv6\n' | it_ns nc -6 -N -w 5 "$B6" 7) ||
    it_fail "nc -6 to berth echo failed"
[ "$line" = "ping over IPv6" ] || it_fail "nc -6 got '$line' back"
it_peer echo-halfclose --host "$B6" --port 7 --bytes 1048576 ||
    it_fail "python3 IPv6 echo client failed"
it_log "echo: nc -6 and a 1 MiB half-closing client got their bytes back"
it_berth_settled echo 5
it_berth_stop echo

# berth cat -> kernel IPv6 server and back.
cat >"$IT_DIR/k6.py" <<'PY'
import hashlib, socket, sys
mode, port, path, result = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ls = socket.socket(socket.AF_INET6)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("::", port))  # before berth's TUN (and address) exists
ls.listen(1)
open(result + ".ready", "w").close()
ls.settimeout(60)
s, peer = ls.accept()
s.settimeout(60)
h, n = hashlib.sha256(), 0
if mode == "sink":
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
else:
    with open(path, "rb") as f:
        data = f.read()
    s.sendall(data)
    h.update(data)
    n = len(data)
s.close()
with open(result, "w") as f:
    f.write(f"{n} {h.hexdigest()} {peer[0]}\n")
PY
k6_serve() { # LABEL MODE PORT FILE: the kernel's IPv6 server
    it_bg "$1" python3 "$IT_DIR/k6.py" "$2" "$3" "$4" "$IT_DIR/$1.result"
    local i
    for ((i = 0; i < 100; i++)); do
        [ -e "$IT_DIR/$1.result.ready" ] && return 0
        sleep 0.1
    done
    it_fail "kernel IPv6 server $1 not listening after 10 s"
}
size=16777216
head -c "$size" /dev/urandom >"$IT_DIR/up"
k6_serve ksink sink 5001 -
IT_STDIN=$IT_DIR/up it_berth_bg up cat "$K6" 5001
rc=0
it_wait_pid "$IT_LAST_PID" 60 || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth cat to [$K6]:5001 exited with $rc: $(tail -n 3 "$IT_DIR/up.log")"
it_wait_pid "${IT_PID_OF[ksink]}" 10 || it_fail "kernel IPv6 sink failed"
read -r n sha peer <"$IT_DIR/ksink.result"
[ "$n" = "$size" ] && [ "$sha" = "$(sha256sum <"$IT_DIR/up" | cut -d' ' -f1)" ] ||
    it_fail "kernel got $n bytes ($sha) from berth cat over IPv6"
[ "$peer" = "$B6" ] || it_fail "the kernel saw berth cat as $peer, not $B6"
it_log "berth cat -> kernel over IPv6: 16 MiB intact, from $peer"

head -c "$size" /dev/urandom >"$IT_DIR/down"
k6_serve ksource source 5002 "$IT_DIR/down"
it_berth_bg down cat "$K6" 5002
rc=0
it_wait_pid "$IT_LAST_PID" 60 || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth cat from [$K6]:5002 exited with $rc: $(tail -n 3 "$IT_DIR/down.log")"
it_wait_pid "${IT_PID_OF[ksource]}" 10 || it_fail "kernel IPv6 source failed"
[ "$(sha256sum <"$IT_DIR/down.out" | cut -d' ' -f1)" = "$(sha256sum <"$IT_DIR/down" | cut -d' ' -f1)" ] ||
    it_fail "berth cat wrote $(stat -c %s "$IT_DIR/down.out") bytes that differ from the $size the kernel sent over IPv6"
it_log "kernel -> berth cat over IPv6: 16 MiB intact"
it_log "PASS"
