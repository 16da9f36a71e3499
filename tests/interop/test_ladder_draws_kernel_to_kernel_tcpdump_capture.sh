#!/usr/bin/env bash
# `berth ladder` reads what tcpdump captures between two kernel sockets (no
# berth on the path): inside this test's namespace, python3 serves on
# 127.0.0.1:8080 and connects to itself twice — the server closes first on
# the first connection, the client on the second — then once more over
# IPv6 ([::1]:8080, when the namespace has it), while tcpdump captures
# on lo (LINKTYPE_ETHERNET, with the partial checksums of loopback's
# offload) and on "any" (Linux cooked), and dumpcap on lo (pcapng, as
# Wireshark writes). Checked:
#   - --list shows both connections in each capture;
#   - each ladder shows the states RFC 9293 says, in order, on each side;
#   - the three captures give the same arrows;
#   - the SVG is well-formed (xmllint) and renders (rsvg-convert).
source "$(dirname "$0")/lib.sh"
it_setup
for tool in tcpdump dumpcap xmllint rsvg-convert; do
    command -v $tool >/dev/null || it_skip "$tool is not installed (scripts/install-deps.sh)"
done

# -B 65536 (KiB): in immediate mode each packet takes a whole slot of the
# kernel's ring, one snapshot length (256 KiB) long, so 8 MiB held 32 of
# the test's ~60 packets, and on a busy machine tcpdump on "any" lost
# half of them before it read any.
for dev in lo any; do
    it_bg "tcpdump-$dev" tcpdump -i "$dev" --immediate-mode -U -n -B 65536 \
        -w "$IT_DIR/$dev.pcap" 'tcp port 8080'
done
IT_TUN=lo it_capture_start dumpcap # $IT_DIR/dumpcap.pcapng
# tcpdump says "listening on" once its filter is in place.
t0=$(it_now)
until grep -qs "listening on" "$IT_DIR/tcpdump-lo.log" && grep -qs "listening on" "$IT_DIR/tcpdump-any.log"; do
    it_between "$(it_since "$t0")" 0 20 || it_fail "tcpdump did not start: $(cat "$IT_DIR"/tcpdump-*.log)"
    sleep 0.1
done

it_ns python3 - >"$IT_DIR/peers.out" <<'PY' || it_fail "the python3 peers failed"
import socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 8080))
srv.listen(2)
srv.settimeout(20)

def serve(server_closes):
    c, _ = srv.accept()
    c.settimeout(20)
    c.recv(100)
    c.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello")
    if not server_closes:
        while c.recv(100):  # the client closes first: wait for its FIN
            pass
    c.close()

for server_closes in (True, False):
    t = threading.Thread(target=serve, args=(server_closes,))
    t.start()
    k = socket.create_connection(("127.0.0.1", 8080), timeout=20)
    k.sendall(b"GET / HTTP/1.0\r\n\r\n")
    if server_closes:
        while k.recv(100):
            pass
    else:
        got = b""
        while not got.endswith(b"hello"):
            got += k.recv(100)
    k.close()
    t.join(20)

# Then the first again over IPv6 ([::1]), where the namespace has it.
try:
    srv6 = socket.socket(socket.AF_INET6)
    srv6.bind(("::1", 8080))
except OSError:
    raise SystemExit(0)
srv6.listen(1)
srv6.settimeout(20)
srv = srv6
t = threading.Thread(target=serve, args=(True,))
t.start()
k = socket.create_connection(("::1", 8080), timeout=20)
k.sendall(b"GET / HTTP/1.0\r\n\r\n")
while k.recv(100):
    pass
k.close()
t.join(20)
print("ipv6")
PY

# The last segments must be written before tcpdump stops: wait (20 s at
# most) until both captures hold more than their header and have stopped
# growing for a second.
t0=$(it_now)
last=""
while :; do
    now="$(stat -c %s "$IT_DIR/lo.pcap" "$IT_DIR/any.pcap" 2>/dev/null | tr '\n' ' ')"
    [ "$now" = "$last" ] && ! [[ " $now" =~ " 24 " ]] && break
    last=$now
    it_between "$(it_since "$t0")" 0 20 || break
    sleep 1
done
for dev in lo any; do
    it_stop_pid "${IT_PID_OF[tcpdump-$dev]}" INT 10 >/dev/null
done
it_capture_stop dumpcap
cp "$IT_DIR/dumpcap.pcapng" "$IT_DIR/ng.pcap"
# dumpcap's count of drops, in tcpdump's words for the check below.
sed -nE 's|.*dropped on interface .*: [0-9]+/([0-9]+) .*|\1 packets dropped by kernel|p' \
    "$IT_DIR/dumpcap.log" >"$IT_DIR/tcpdump-ng.log"

for dev in lo any ng; do
    lost=$(sed -nE 's/^([0-9]+) packets? dropped by kernel.*/\1/p' "$IT_DIR/tcpdump-$dev.log")
    if [ "${lost:-0}" -ne 0 ]; then
        it_log "$dev.pcap incomplete ($lost packets dropped by the kernel: a busy machine): not checked"
        continue
    fi
    "$BERTH" ladder "$IT_DIR/$dev.pcap" --list >"$IT_DIR/$dev.list" 2>&1 ||
        it_fail "berth ladder --list $dev.pcap failed: $(cat "$IT_DIR/$dev.list")"
    [ "$(grep -c '127.0.0.1:8080' "$IT_DIR/$dev.list")" -eq 2 ] ||
        it_fail "$dev.pcap: --list does not show two connections to 127.0.0.1:8080: $(cat "$IT_DIR/$dev.list")"
    if grep -q ipv6 "$IT_DIR/peers.out"; then
        [ "$(grep -c '\[::1\]:8080' "$IT_DIR/$dev.list")" -eq 1 ] ||
            it_fail "$dev.pcap: --list does not show the IPv6 connection: $(cat "$IT_DIR/$dev.list")"
        "$BERTH" ladder "$IT_DIR/$dev.pcap" '[::1]:8080' >"$IT_DIR/$dev-3.txt" 2>"$IT_DIR/$dev-3.err" ||
            it_fail "berth ladder $dev.pcap [::1]:8080 failed: $(cat "$IT_DIR/$dev-3.err")"
    fi
    for n in 1 2; do
        "$BERTH" ladder "$IT_DIR/$dev.pcap" --conn $n --svg "$IT_DIR/$dev-$n.svg" \
            >"$IT_DIR/$dev-$n.txt" 2>"$IT_DIR/$dev-$n.err" ||
            it_fail "berth ladder $dev.pcap --conn $n failed: $(cat "$IT_DIR/$dev-$n.err")"
        xmllint --noout "$IT_DIR/$dev-$n.svg" 2>"$IT_DIR/xmllint.log" ||
            it_fail "$dev-$n.svg is not well-formed: $(head -n 3 "$IT_DIR/xmllint.log")"
        rsvg-convert "$IT_DIR/$dev-$n.svg" -o "$IT_DIR/$dev-$n.png" 2>"$IT_DIR/rsvg.log" &&
            [ -s "$IT_DIR/$dev-$n.png" ] ||
            it_fail "$dev-$n.svg does not render: $(head -n 3 "$IT_DIR/rsvg.log")"
    done
done

# The states of each side, in order, as the ladder infers them. Connection
# 1: the server closes first; 2: the client. A FIN-WAIT-2 may be skipped
# when the peer's FIN carries the ACK of ours (RFC 9293 §3.10.7.4 eighth).
# A busy machine may drop packets from a capture (tcpdump and dumpcap
# count them): only a complete capture is held to the states, and the
# captures are compared when complete.
python3 - "$IT_DIR" <<'PY' || it_fail "the kernel-to-kernel ladder's states are wrong"
import re, sys
d = sys.argv[1]
def dropped(dev):
    m = re.search(r"(\d+) packets? dropped by kernel", open(f"{d}/tcpdump-{dev}.log").read())
    return int(m.group(1)) if m else 0
complete = [dev for dev in ("lo", "any", "ng") if dropped(dev) == 0]
if not complete:
    print("every capture dropped packets: nothing to check the states against")
    sys.exit(0)
want = {
    1: (["SYN-SENT", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"],
        ["LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT"]),
    2: (["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT"],
        ["LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"]),
}
if "ipv6" in open(f"{d}/peers.out").read():  # IPv6: as connection 1
    want[3] = want[1]
def arrows(text):
    return [re.sub(r"^\s*[\d.]*", "", l).split("|")[1].strip("-<> ")
            for l in text.splitlines() if re.search(r"\|[-<]-+ .* -+[->]\|", l)]
def in_order(seen, need):
    it = iter(seen)
    return all(any(s == n for s in it) for n in need)
for n, (cli, srv) in want.items():
    lo = open(f"{d}/{complete[0]}-{n}.txt").read()
    left = re.findall(r"^\s*[\d.]*\s+\(([A-Z0-9-]+)\) \|", lo, re.M)
    right = re.findall(r"\| \(([A-Z0-9-]+)\)$", lo, re.M)
    assert in_order(left, cli), f"conn {n}: client states {left}, want {cli} in order"
    assert in_order(right, srv), f"conn {n}: server states {right}, want {srv} in order"
    a_lo = arrows(lo)
    assert len(a_lo) >= 8, f"conn {n}: only {len(a_lo)} arrows"
    for other in complete[1:]:
        a_other = arrows(open(f"{d}/{other}-{n}.txt").read())
        assert a_lo == a_other, f"conn {n}: {complete[0]} and {other} captures differ:\n{a_lo}\n{a_other}"
    assert not re.search(r"\[(retransmission|lost|out-of-order)\]", lo), f"conn {n}: marks on a clean loopback"
    print(f"conn {n} ({', '.join(complete)}): client {' '.join(left)} | server {' '.join(right)}; {len(a_lo)} segments")
PY
it_log "PASS"
