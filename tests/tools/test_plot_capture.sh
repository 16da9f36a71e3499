#!/bin/bash
# `berth plot` reads captures through the ladder's reader (capture.c): the
# ladder tests' textbook captures (tests/ladder/make_captures.py) give the
# same figure over IPv6 as over IPv4 but for the addresses, the same from
# pcapng as from pcap, and over any link type; a capture cut short is
# drawn up to the cut, with a warning.
# usage: test_plot_capture.sh BERTH SOURCE_DIR
set -u
berth=${1:?usage: test_plot_capture.sh BERTH SOURCE_DIR}
src=${2:?usage: test_plot_capture.sh BERTH SOURCE_DIR}
source "$(dirname "$0")/lib.sh"
python3 "$src/tests/ladder/make_captures.py" "$tmp" || {
    echo "FAIL: make_captures.py"
    exit 1
}
plot() { timeout 60 "$berth" plot "$@"; }

# IPv6: the connection found, listed and drawn like its IPv4 twin.
plot "$tmp/ipv6_client_closes.pcap" --list >"$tmp/list6" || bad "--list on IPv6"
grep -Eq '^1 +\[2001:db8:b::1\]:40000 +\[2001:db8:b::2\]:80 +36 +43$' \
    "$tmp/list6" || bad "IPv6 --list: $(cat "$tmp/list6")"
plot "$tmp/ipv6_client_closes.pcap" >"$tmp/sum6" || bad "summary of IPv6"
plot "$tmp/client_closes.pcap" >"$tmp/sum4" || bad "summary of IPv4"
grep -q '^connection 1: \[2001:db8:b::2\]:80 -> \[2001:db8:b::1\]:40000$' \
    "$tmp/sum6" || bad "IPv6 title: $(head -n 1 "$tmp/sum6")"
grep -q 'segments 3 (0 retransmitted), 43 bytes new' "$tmp/sum6" ||
    bad "IPv6 segments: $(cat "$tmp/sum6")"
v4to6='s/198\.18\.0\.\([12]\):/[2001:db8:b::\1]:/g'
diff <(sed "$v4to6" "$tmp/sum4") "$tmp/sum6" >/dev/null ||
    bad "IPv6 summary differs from IPv4's: $(diff <(sed "$v4to6" "$tmp/sum4") "$tmp/sum6")"
plot "$tmp/ipv6_client_closes.pcap" --svg "$tmp/v6.svg" >/dev/null || bad "IPv6 --svg"
plot "$tmp/client_closes.pcap" --svg "$tmp/v4.svg" >/dev/null || bad "IPv4 --svg"
cmp -s <(sed "$v4to6" "$tmp/v4.svg") "$tmp/v6.svg" ||
    bad "the IPv6 figure differs from the IPv4 one beyond the addresses"
grep -c "<path d='M" "$tmp/v6.svg" | grep -qv '^0$' || bad "IPv6: no segments drawn"

# Link types: raw IP, Ethernet, SLL and SLL2 captures of one exchange.
for f in client_closes server_closes simultaneous_close; do
    plot "$tmp/$f.pcap" >"$tmp/$f.sum" || bad "$f: summary"
    grep -q 'segments 3 (0 retransmitted), 43 bytes new' "$tmp/$f.sum" ||
        bad "$f: $(cat "$tmp/$f.sum")"
done
# A retransmission, and SACK blocks from the duplicate ACKs.
plot "$tmp/sack_fast_retransmit.pcap" >"$tmp/sack.sum" || bad "sack: summary"
grep -q 'segments [0-9]* (1 retransmitted)' "$tmp/sack.sum" ||
    bad "sack: $(cat "$tmp/sack.sum")"
grep -q 'SACK blocks [1-9]' "$tmp/sack.sum" || bad "sack: no SACK blocks"

# pcapng (editcap, Wireshark's): the same summary as the pcap's.
if command -v editcap >/dev/null; then
    for f in client_closes ipv6_client_closes sack_fast_retransmit; do
        editcap -F pcapng "$tmp/$f.pcap" "$tmp/$f.pcapng" || bad "editcap $f"
        plot "$tmp/$f.pcapng" >"$tmp/$f.ng" || bad "$f.pcapng: summary"
        plot "$tmp/$f.pcap" | cmp -s - "$tmp/$f.ng" ||
            bad "$f: pcapng summary differs: $(cat "$tmp/$f.ng")"
    done
else
    echo "note: no editcap, pcapng not checked"
fi

# Cut short inside a record: what came before is drawn, with a warning.
size=$(stat -c %s "$tmp/sack_fast_retransmit.pcap")
head -c $((size - 10)) "$tmp/sack_fast_retransmit.pcap" >"$tmp/cut.pcap"
plot "$tmp/cut.pcap" >"$tmp/cut.sum" 2>"$tmp/cut.err" || bad "a cut capture exits $?"
grep -q "ends inside a record" "$tmp/cut.err" || bad "no warning for a cut capture"
grep -q "segments [1-9]" "$tmp/cut.sum" || bad "cut capture: nothing drawn"
# Not a capture nor a log: refused.
printf '\xd4\xc3\xb2' >"$tmp/short"
plot "$tmp/short" >/dev/null 2>&1 && bad "a 3-byte file was plotted"
[ $fail -eq 0 ] && echo "ok: berth plot reads captures as the ladder does (IPv4, IPv6, pcapng)"
exit $fail
