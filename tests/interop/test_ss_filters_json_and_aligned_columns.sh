#!/usr/bin/env bash
# `berth ss` as ss(8): columns line up whatever the widths (a Send-Q of
# 7 digits, addresses of every length); filters `state time-wait`,
# `state established`, `sport :80`, `dport :PORT` select rows; `--json` is
# a JSON array with every field; `berth stat --json` an object with the
# counters, drops and link. A bad filter is a usage error (exit 2).
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt5
it_berth_start srv http --port 80 --sndbuf 4m --msl 600s
url=http://$IT_BERTH

# One connection left in TIME-WAIT, one ESTABLISHED and idle (kept open by
# a python client holding it), and one with a large Send-Q (a client that
# asked for 64 MiB and does not read).
port_tw=$(it_peer http10 --host "$IT_BERTH" --path /) || it_fail "HTTP/1.0 request failed"
it_bg hold python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=30)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.sendall(b"GET /bytes/67108864 HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.getsockname()[1], flush=True)
time.sleep(60)' "$IT_BERTH"
for ((i = 0; i < 100; i++)); do
    [ -s "$IT_DIR/hold.out" ] && break
    sleep 0.1
done
port_hold=$(cat "$IT_DIR/hold.out")
[ -n "$port_hold" ] || it_fail "holding client did not connect"
sleep 1 # the send buffer fills

ss_out=$(it_ss srv)
printf '%s\n' "$ss_out" >"$IT_DIR/ss.txt"
it_log "berth ss:"$'\n'"$ss_out"
# Aligned: every column starts at the header's offset on every row.
python3 - "$IT_DIR/ss.txt" <<'PY' || it_fail "berth ss columns do not line up"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
head = lines[0]
state, local, peer, timer = (head.index(w) for w in ("State", "Local", "Peer", "Timer"))
recv_end, send_end = head.index("Recv-Q") + 6, head.index("Send-Q") + 6
for l in lines[1:]:
    cells = [(m.start(), m.end()) for m in re.finditer(r"\S+", l)]
    if len(cells) < 5:
        sys.exit(f"short row: {l!r}")
    # State and the addresses are left-aligned, the queues right-aligned.
    if (cells[0][0], cells[3][0], cells[4][0]) != (state, local, peer):
        sys.exit(f"misaligned: {l!r}")
    if (cells[1][1], cells[2][1]) != (recv_end, send_end):
        sys.exit(f"queues misaligned: {l!r}")
    if len(cells) > 5 and cells[5][0] != timer:
        sys.exit(f"timer misaligned: {l!r}")
PY
big=$(printf '%s\n' "$ss_out" | awk -v p=":$port_hold" '$5 ~ p"$" { print $3 }')
[ "${#big}" -ge 6 ] || it_fail "the non-reading client's Send-Q is '$big', want a large number"

rows() { it_ss srv "$@" | tail -n +2; }
tw=$(rows state time-wait)
[ "$(printf '%s\n' "$tw" | grep -c .)" -eq 1 ] && printf '%s\n' "$tw" | grep -q "^TIME-WAIT .*:$port_tw\b" ||
    it_fail "state time-wait: want one row for port $port_tw:"$'\n'"$tw"
est=$(rows state established)
printf '%s\n' "$est" | grep -q "^ESTABLISHED .*:$port_hold\b" && ! printf '%s\n' "$est" | grep -vq '^ESTABLISHED' ||
    it_fail "state established:"$'\n'"$est"
[ -z "$(rows dport ":$port_tw" | grep -v ":$port_tw\b")" ] && [ "$(rows dport ":$port_tw" | grep -c .)" -eq 1 ] ||
    it_fail "dport :$port_tw:"$'\n'"$(rows dport ":$port_tw")"
[ "$(rows sport :80 | grep -c .)" -eq 3 ] || it_fail "sport :80, want 3 rows:"$'\n'"$(rows sport :80)"
[ "$(rows state listening sport = :80 | grep -c '^LISTEN ')" -eq 1 ] || it_fail "state listening sport = :80"
[ -z "$(rows sport :81)" ] || it_fail "sport :81 should be empty"
it_log "filters: state, sport, dport"

it_ss srv --json >"$IT_DIR/ss.json"
python3 - "$IT_DIR/ss.json" "$port_hold" <<'PY' || it_fail "berth ss --json: $(head -c 600 "$IT_DIR/ss.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert isinstance(rows, list) and len(rows) == 3, len(rows)
hold = [r for r in rows if r["peer"].endswith(":" + sys.argv[2])]
assert len(hold) == 1 and hold[0]["state"] == "ESTABLISHED", hold
for k in ("recv_q", "send_q", "mss", "cwnd", "srtt_us", "rto_us", "snd_wnd", "timer"):
    assert k in hold[0], k
assert hold[0]["send_q"] > 100000, hold[0]["send_q"]
PY
rc=0
"$BERTH" ss --ctl "$(it_ctl srv)" state nonsense 2>"$IT_DIR/bad.log" || rc=$?
[ "$rc" -eq 2 ] || it_fail "berth ss state nonsense exited $rc, want 2"
it_stat srv >/dev/null
timeout 10 "$BERTH" stat --ctl "$(it_ctl srv)" --json >"$IT_DIR/stat.json" || it_fail "berth stat --json failed"
python3 - "$IT_DIR/stat.json" <<'PY' || it_fail "berth stat --json: $(head -c 600 "$IT_DIR/stat.json")"
import json, sys
st = json.load(open(sys.argv[1]))
assert st["tcp"]["PASSIVE_OPENS"] == 2, st["tcp"]
assert isinstance(st["drops"], dict)
assert st["link"]["rx_packets"] > 0 and st["link"]["tun"] == "bt5", st["link"]
PY
it_log "--json: ss and stat parse"
it_berth_stop srv
it_log "PASS"
