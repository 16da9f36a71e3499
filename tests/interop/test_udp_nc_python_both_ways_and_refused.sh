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
source "$(dirname "$0")/udp_lib.sh"
it_setup
it_berth_start echo udp-echo --port 7

udp_echoed echo "$IT_BERTH" 0 1 7 512 1000 1472
udp_refused_by_berth echo "$IT_BERTH"
it_berth_stop echo

seq 1 200 | sed 's/^/line /' >"$IT_DIR/lines"
IT_TUN=bt1
udp_nc_to_berth_listen "$IT_BERTH"
IT_TUN=bt4
udp_berth_to_nc_listen "$IT_KERNEL"

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

IT_TUN=bt3
udp_refused_by_kernel "$IT_KERNEL"
it_log "PASS"
