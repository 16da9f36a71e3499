#!/usr/bin/env bash
# UDP (RFC 768) between berth and the kernel, both ways:
#   kernel -> berth: python3 sends datagrams of 0..1472 bytes to
#     `berth udp-echo` and gets each back whole; `nc -u` sends a 1692-byte
#     file (one datagram, which the kernel fragments: berth reassembles
#     it) to `berth cat -u --listen`, whose stdout is the file.
#   berth -> kernel: `berth cat -u` sends the file to `nc -u -l` and to a
#     python3 UDP echo server; both get it intact, and the echo (again
#     fragmented by the kernel) comes back intact.
#   refused: a connected python3 UDP socket sending to a berth port without
#     a socket gets ECONNREFUSED (berth's ICMP port unreachable, RFC 1122
#     §4.1.3.1); `berth cat -u` to a kernel port without a socket exits 1
#     saying "refused" (the kernel's port unreachable).
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start echo udp-echo --port 7

# kernel -> berth udp-echo
cat >"$IT_DIR/echo_client.py" <<'PY'
import socket, sys, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
sizes = [0, 1, 7, 512, 1000, 1472]
for n in sizes:
    data = os.urandom(n)
    s.sendto(data, (sys.argv[1], 7))
    got, peer = s.recvfrom(65536)
    if got != data or peer != (sys.argv[1], 7):
        sys.exit(f"{n} bytes: echo differs ({len(got)} bytes from {peer})")
print(len(sizes))
PY
out=$(it_ns python3 "$IT_DIR/echo_client.py" "$IT_BERTH") || it_fail "python3 to udp-echo: $out"
n=$(it_counter echo "UDP datagrams delivered")
[ "$n" -eq 6 ] || it_fail "berth counted $n UDP datagrams delivered, expected 6"
it_log "python3 -> berth udp-echo: $out datagrams (0..1472 bytes) echoed whole"

# refused, kernel side: a connected socket to a port berth has no socket on
cat >"$IT_DIR/refused.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
out=$(it_ns python3 "$IT_DIR/refused.py" "$IT_BERTH") || it_fail "python3 refused: $out"
[ "$out" = ECONNREFUSED ] || it_fail "expected ECONNREFUSED, got: $out"
unr=$(it_counter echo "ICMP destination unreachables sent")
[ "$unr" -ge 1 ] || it_fail "berth counted $unr destination unreachables sent"
it_log "connected python3 socket to a closed berth port: $out"
it_berth_stop echo

# nc -u -> berth cat -u --listen (nc sends what it reads as datagrams)
seq 1 200 | sed 's/^/line /' >"$IT_DIR/lines"
IT_TUN=bt1
it_berth_start lsn cat -u --listen 9000 --wait 2s
lsn=${IT_PID_OF[lsn]}
it_ns nc -u -w 1 "$IT_BERTH" 9000 <"$IT_DIR/lines" >/dev/null 2>"$IT_DIR/nc.log" || true
it_wait_pid "$lsn" 30 || it_fail "berth cat -u --listen did not end well: $(cat "$IT_DIR/lsn.log")"
cmp -s "$IT_DIR/lines" "$IT_DIR/lsn.out" ||
    it_fail "berth cat -u --listen wrote $(wc -c <"$IT_DIR/lsn.out") bytes, not nc's $(wc -c <"$IT_DIR/lines")"
it_log "nc -u -> berth cat -u --listen: $(wc -c <"$IT_DIR/lines") bytes intact"

# berth cat -u -> nc -u -l
IT_TUN=bt4
it_bg knc nc -u -l 9002
knc=$IT_LAST_PID
for ((i = 0; i < 100; i++)); do
    it_ns ss -uln 2>/dev/null | grep -q ':9002 ' && break
    sleep 0.1
done
IT_STDIN=$IT_DIR/lines it_berth_bg unc cat -u "$IT_KERNEL" 9002 --wait 1s
it_wait_pid "$IT_LAST_PID" 30 || it_fail "berth cat -u to nc failed: $(cat "$IT_DIR/unc.log")"
for ((i = 0; i < 50; i++)); do
    cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" && break
    sleep 0.1
done
it_stop_pid "$knc" TERM 5 || true
cmp -s "$IT_DIR/lines" "$IT_DIR/knc.out" ||
    it_fail "nc -u -l wrote $(wc -c <"$IT_DIR/knc.out") bytes, not the $(wc -c <"$IT_DIR/lines") berth sent"
it_log "berth cat -u -> nc -u -l: intact"

# berth cat -u -> kernel python3 UDP echo server
IT_TUN=bt2
cat >"$IT_DIR/kecho.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9001))
open(sys.argv[1], "w").close()  # ready
s.settimeout(20)
try:
    while True:
        d, a = s.recvfrom(65536)
        s.sendto(d, a)
except socket.timeout:
    pass
PY
it_bg kecho python3 "$IT_DIR/kecho.py" "$IT_DIR/kecho.ready"
for ((i = 0; i < 100; i++)); do
    [ -e "$IT_DIR/kecho.ready" ] && break
    sleep 0.1
done
IT_STDIN=$IT_DIR/lines it_berth_bg ucat cat -u "$IT_KERNEL" 9001 --wait 2s
it_wait_pid "$IT_LAST_PID" 30 || it_fail "berth cat -u exited with an error: $(cat "$IT_DIR/ucat.log")"
sort -n -k2 "$IT_DIR/ucat.out" | cmp -s "$IT_DIR/lines" - ||
    it_fail "berth cat -u got $(wc -l <"$IT_DIR/ucat.out") echoed lines back, not the 200 sent"
it_log "berth cat -u -> kernel echo: the file (one 1692-byte datagram, fragmented by the kernel on its way back) intact"

# refused, berth side
IT_TUN=bt3
rc=0
echo hi >"$IT_DIR/hi"
IT_STDIN=$IT_DIR/hi it_berth_bg refused cat -u "$IT_KERNEL" 9 --wait 5s
it_wait_pid "$IT_LAST_PID" 30 || rc=$?
[ "$rc" -eq 1 ] || it_fail "berth cat -u to a closed kernel port: exit $rc, expected 1: $(cat "$IT_DIR/refused.log")"
grep -qi refused "$IT_DIR/refused.log" ||
    it_fail "berth cat -u's message does not say 'refused': $(cat "$IT_DIR/refused.log")"
it_log "berth cat -u to a closed kernel port: '$(head -n 1 "$IT_DIR/refused.log")'"
it_log "PASS"
