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
it_setup
B6=2001:db8:b::2
K6=2001:db8:b::1
[ -e /proc/sys/net/ipv6 ] || it_skip "the kernel has no IPv6"
IT_TUN=bu6a
it_berth_start echo udp-echo --port 7

cat >"$IT_DIR/echo_client.py" <<'PY'
import socket, sys, os
def run(fam, addr, sizes):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(5)
    for n in sizes:
        data = os.urandom(n)
        s.sendto(data, (addr, 7))
        got, peer = s.recvfrom(65536)
        if got != data or peer[0] != addr or peer[1] != 7:
            sys.exit(f"{n} bytes: echo differs ({len(got)} bytes from {peer})")
    return len(sizes)
n = run(socket.AF_INET6, sys.argv[1], [0, 1, 7, 512, 1000, 1452])
n += run(socket.AF_INET, sys.argv[2], [100])
print(n)
PY
out=$(it_ns python3 "$IT_DIR/echo_client.py" "$B6" "$IT_BERTH") ||
    it_fail "python3 to udp-echo: $out"
n=$(it_counter echo "UDP datagrams delivered")
[ "$n" -eq 7 ] || it_fail "berth counted $n UDP datagrams delivered, expected 7"
it_log "python3 -> berth udp-echo: 6 IPv6 datagrams (0..1452 bytes) and 1 IPv4 echoed whole"

cat >"$IT_DIR/refused.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.connect((sys.argv[1], 9999))
s.settimeout(5)
s.send(b"hello?")
try:
    s.recv(100)
    sys.exit("no error: a reply came")
except ConnectionRefusedError:
    print("ECONNREFUSED")
except socket.timeout:
    sys.exit("timed out: no port unreachable")
PY
out=$(it_ns python3 "$IT_DIR/refused.py" "$B6") || it_fail "python3 refused: $out"
[ "$out" = ECONNREFUSED ] || it_fail "expected ECONNREFUSED, got: $out"
unr=$(it_counter echo "ICMP destination unreachables sent")
[ "$unr" -ge 1 ] || it_fail "berth counted $unr destination unreachables sent"
it_log "connected python3 IPv6 socket to a closed berth port: $out"
it_berth_stop echo

seq 1 100 | sed 's/^/line /' >"$IT_DIR/lines" # 792 bytes: one datagram
IT_TUN=bu6b
it_berth_start lsn cat -u --listen 9000 --wait 2s
lsn=${IT_PID_OF[lsn]}
it_ns nc -6 -u -w 1 "$B6" 9000 <"$IT_DIR/lines" >/dev/null 2>"$IT_DIR/nc.log" || true
it_wait_pid "$lsn" 30 || it_fail "berth cat -u --listen did not end well: $(cat "$IT_DIR/lsn.log")"
cmp -s "$IT_DIR/lines" "$IT_DIR/lsn.out" ||
    it_fail "berth cat -u --listen wrote $(wc -c <"$IT_DIR/lsn.out") bytes, not nc's $(wc -c <"$IT_DIR/lines")"
it_log "nc -6 -u -> berth cat -u --listen: $(wc -c <"$IT_DIR/lines") bytes intact"

IT_TUN=bu6c
it_bg knc nc -6 -u -l 9002
knc=$IT_LAST_PID
for ((i = 0; i < 100; i++)); do
    it_ns ss -uln 2>/dev/null | grep -q ':9002 ' && break
    sleep 0.1
done
# stdin comes a second late: the kernel's IPv6 address on the new TUN
# device is not yet usable for the first milliseconds (Ip6InAddrErrors),
# and berth cat -u sends its first datagram at once.
mkfifo "$IT_DIR/slow"
(sleep 1; cat "$IT_DIR/lines") >"$IT_DIR/slow" &
IT_STDIN=$IT_DIR/slow it_berth_bg unc cat -u "$K6" 9002 --wait 1s
it_wait_pid "$IT_LAST_PID" 30 || it_fail "berth cat -u to nc -6 failed: $(cat "$IT_DIR/unc.log")"
for ((i = 0; i < 50; i++)); do
    cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" && break
    sleep 0.1
done
it_stop_pid "$knc" TERM 5 || true
cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" ||
    it_fail "nc -6 -u -l wrote $(wc -c <"$IT_DIR/knc.out") bytes, not the $(wc -c <"$IT_DIR/lines") berth sent"
it_log "berth cat -u $K6 -> nc -6 -u -l: intact"

IT_TUN=bu6d
rc=0
echo hi >"$IT_DIR/hi"
mkfifo "$IT_DIR/slow_hi"
(sleep 1; cat "$IT_DIR/hi") >"$IT_DIR/slow_hi" &
IT_STDIN=$IT_DIR/slow_hi it_berth_bg refused cat -u "$K6" 9 --wait 5s
it_wait_pid "$IT_LAST_PID" 30 || rc=$?
[ "$rc" -eq 1 ] || it_fail "berth cat -u to a closed kernel IPv6 port: exit $rc, expected 1: $(cat "$IT_DIR/refused.log")"
grep -qi refused "$IT_DIR/refused.log" ||
    it_fail "berth cat -u's message does not say 'refused': $(cat "$IT_DIR/refused.log")"
it_log "berth cat -u to a closed kernel IPv6 port: '$(head -n 1 "$IT_DIR/refused.log")'"
it_log "PASS"
