#!/usr/bin/env bash
# Golden-file tests of `berth ladder` (CTest tools.ladder_golden): the
# captures make_captures.py writes are drawn and compared, byte for byte,
# with tests/ladder/golden/NAME.txt; the SVG of each is well-formed
# (xmllint) and renders (rsvg-convert). UPDATE=1 rewrites the golden files
# instead (look at the diff before committing it).
#
# usage: check_golden.sh BERTH SOURCE_DIR
set -u
berth=$(realpath "${1:?usage: check_golden.sh BERTH SOURCE_DIR}")
src=$(realpath "${2:?usage: check_golden.sh BERTH SOURCE_DIR}")
here=$src/tests/ladder
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
python3 "$here/make_captures.py" "$tmp" || { echo "make_captures.py failed"; exit 1; }
for tool in xmllint rsvg-convert; do
    command -v $tool >/dev/null ||
        { echo "$tool is missing (scripts/install-deps.sh installs it)"; exit 1; }
done

# NAME: the arguments after `berth ladder`, files relative to the captures.
cases=(
    "handshake: handshake.pcap"
    "client_closes: client_closes.pcap"
    "server_closes: server_closes.pcap"
    "simultaneous_close: simultaneous_close.pcap"
    "simultaneous_close_explain: simultaneous_close.pcap --explain"
    "simultaneous_open: simultaneous_open.pcap --explain"
    "lost_synack_one_capture: lost_synack_client.pcap"
    "lost_synack_both_captures: lost_synack_server.pcap --other lost_synack_client.pcap"
    "reset: reset.pcap"
    "refused: refused_then_reset.pcap --conn 1 --explain"
    "list: refused_then_reset.pcap --list"
    "by_endpoint: refused_then_reset.pcap 198.18.0.1:40000 :80"
    "window_probe_out_of_order: window.pcap"
    "sack_fast_retransmit: sack_fast_retransmit.pcap --explain"
    "ipv6: ipv6_client_closes.pcap [2001:db8:b::2]:80"
    "events: client_closes.pcap --events client_closes.events"
    "events_lost: client_closes.pcap --events client_closes_ack_lost.events"
)
for c in "${cases[@]}"; do
    name=${c%%:*}
    read -r -a args <<<"${c#*: }"
    (cd "$tmp" && "$berth" ladder "${args[@]}" >"$name.out" 2>"$name.err")
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL $name: exit $rc: $(head -n 3 "$tmp/$name.err")"
        fail=1
        continue
    fi
    if [ "${UPDATE:-}" = 1 ]; then
        cp "$tmp/$name.out" "$here/golden/$name.txt"
    elif ! diff -u "$here/golden/$name.txt" "$tmp/$name.out" >"$tmp/$name.diff"; then
        echo "FAIL $name: the ladder differs from golden/$name.txt:"
        head -n 40 "$tmp/$name.diff"
        fail=1
        continue
    fi
    case $name in list | by_endpoint) echo "ok   $name"; continue ;; esac
    (cd "$tmp" && "$berth" ladder "${args[@]}" --svg "$name.svg" >/dev/null) &&
        xmllint --noout "$tmp/$name.svg" &&
        rsvg-convert "$tmp/$name.svg" -o "$tmp/$name.png" && [ -s "$tmp/$name.png" ] ||
        { echo "FAIL $name: the SVG is not well-formed or does not render"; fail=1; continue; }
    echo "ok   $name"
done

# The same captures as pcapng (Wireshark's, dumpcap's) and as nanosecond
# pcap, converted by editcap: the same ladders.
if command -v editcap >/dev/null; then
    for name in client_closes simultaneous_close window; do
        src_pcap=$name.pcap
        [ $name = window ] && golden=window_probe_out_of_order || golden=$name
        for fmt in pcapng nsecpcap; do
            editcap -F $fmt "$tmp/$src_pcap" "$tmp/$name.$fmt" &&
                (cd "$tmp" && "$berth" ladder "$name.$fmt" >"$name.$fmt.out" 2>&1) &&
                diff -u "$here/golden/$golden.txt" "$tmp/$name.$fmt.out" >/dev/null ||
                { echo "FAIL $name as $fmt: not the ladder of golden/$golden.txt"; fail=1; continue; }
            echo "ok   $name as $fmt"
        done
    done
else
    echo "FAIL: editcap is missing (tshark's package, scripts/install-deps.sh)"
    fail=1
fi

# By endpoint: two connections match; the first is drawn and stderr says so.
grep -q "2 connections match" "$tmp/by_endpoint.err" ||
    { echo "FAIL by_endpoint: no note that two connections matched"; fail=1; }

# A long transfer's SVG elides the bulk unless --full.
python3 - "$tmp/bulk.pcap" "$here" <<'PY' || fail=1
import sys
sys.path.insert(0, sys.argv[2])
import make_captures as m
segs = list(m.HANDSHAKE)
t, seq = 20.0, 1
for i in range(40):
    segs.append((t, "s", m.ACK, seq, 1, 1000, 509)); t += 0.1; seq += 1000
    segs.append((t, "c", m.ACK, 1, seq, 0, 502)); t += 0.1
m.write(sys.argv[1], 101, segs)
PY
bulk_ok=0
if (cd "$tmp" && "$berth" ladder bulk.pcap --svg elided.svg >/dev/null &&
    "$berth" ladder bulk.pcap --svg full.svg --full >/dev/null); then
    bulk_ok=1
    grep -q '\.\.\. [0-9]* segments \.\.\.' "$tmp/elided.svg" ||
        { echo "FAIL bulk: no '... N segments ...' marker in the elided SVG"; bulk_ok=0; }
    ! grep -q 'segments \.\.\.' "$tmp/full.svg" ||
        { echo "FAIL bulk: --full still elides"; bulk_ok=0; }
    [ "$(grep -c '<line' "$tmp/full.svg")" -gt "$(grep -c '<line' "$tmp/elided.svg")" ] ||
        { echo "FAIL bulk: --full draws no more arrows than the elided figure"; bulk_ok=0; }
    xmllint --noout "$tmp/elided.svg" "$tmp/full.svg" || bulk_ok=0
else
    echo "FAIL bulk: berth ladder --svg failed"
fi
[ $bulk_ok -eq 1 ] && echo "ok   bulk (elided and --full)" || fail=1

# The inference rules the man page lists are the table's (--rules), each
# written as roff writes it.
"$berth" ladder --rules >"$tmp/rules.txt" && [ -s "$tmp/rules.txt" ] ||
    { echo "FAIL: berth ladder --rules printed nothing"; fail=1; }
while IFS= read -r rule; do
    roff=$(printf '%s' "$rule" | sed -e 's/\\/\\\\/g' -e 's/-/\\-/g' -e 's/§/\\(sc/g')
    grep -qF -- "$roff" "$src/docs/man/berth-ladder.1" ||
        { echo "FAIL: berth-ladder.1 lacks the rule: $rule"; fail=1; }
done <"$tmp/rules.txt"
echo "ok   the man page lists the $(wc -l <"$tmp/rules.txt") inference rules"

# Not a capture, and a connection that is not there: exit 1, one line.
printf 'not a pcap at all, but long enough' >"$tmp/junk.pcap"
"$berth" ladder "$tmp/junk.pcap" >/dev/null 2>"$tmp/junk.err"
[ $? -eq 1 ] && grep -q "not a pcap or pcapng file" "$tmp/junk.err" ||
    { echo "FAIL junk: $(cat "$tmp/junk.err")"; fail=1; }
"$berth" ladder "$tmp/handshake.pcap" --conn 2 >/dev/null 2>"$tmp/conn.err"
[ $? -eq 1 ] && grep -q "has 1 connection" "$tmp/conn.err" ||
    { echo "FAIL --conn 2: $(cat "$tmp/conn.err")"; fail=1; }
"$berth" ladder "$tmp/handshake.pcap" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || { echo "FAIL: an unknown option is not a usage error"; fail=1; }

[ $fail -eq 0 ] && echo "PASS"
exit $fail
