#!/bin/bash
# `berth plot` draws the impaired-link demo's connection from its event log
# and from its capture: well-formed SVG (xmllint), rendered without error
# (rsvg-convert) to a PNG; the capture's figure says it is estimated, the
# log's that it is berth's own; a missing or foreign file is refused.
# usage: test_plot_svg.sh BERTH
# Exit 77 (skipped) without xmllint (libxml2-utils) or rsvg-convert
# (librsvg2-bin).
set -u
berth=${1:?usage: test_plot_svg.sh BERTH}
for t in xmllint rsvg-convert; do
    command -v "$t" >/dev/null || {
        echo "skipped: no $t"
        exit 77
    }
done
source "$(dirname "$0")/../tools/lib.sh"
timeout 120 "$berth" demo --memlink --impair loss=3%,seed=2 \
    --pcap "$tmp/run.pcap" >/dev/null 2>&1 || bad "berth demo --memlink"
for in in run.events run.pcap; do
    out=$tmp/$in.svg
    timeout 60 "$berth" plot "$tmp/$in" --svg "$out" --png "$tmp/$in.png" \
        >"$tmp/plot.txt" 2>&1 || { cat "$tmp/plot.txt"; bad "berth plot $in"; }
    xmllint --noout "$out" || bad "$in: SVG not well-formed"
    rsvg-convert -o "$tmp/check.png" "$out" || bad "$in: rsvg-convert failed"
    [ "$(head -c 8 "$tmp/$in.png" | od -An -tx1 | tr -d ' \n')" = \
        89504e470d0a1a0a ] || bad "$in: --png did not write a PNG"
    grep -q "<polyline" "$out" || bad "$in: no lines drawn"
    n=$(grep -c "<path d='M" "$out")
    [ "$n" -gt 500 ] || bad "$in: $n segments drawn, expected the 1 MB response's"
done
grep -q "event log: the sender" "$tmp/run.events.svg" || bad "log figure unlabelled"
grep -q "ESTIMATED" "$tmp/run.pcap.svg" || bad "capture figure not marked estimated"
grep -q "ssthresh" "$tmp/run.events.svg" || bad "no ssthresh from the log"
# The summary names the connection and its retransmissions.
"$berth" plot "$tmp/run.events" >"$tmp/sum.txt" || bad "summary"
grep -q "retransmitted" "$tmp/sum.txt" || bad "summary without retransmissions"
grep -q "recoveries [1-9]" "$tmp/sum.txt" || bad "no recovery in a lossy run"
# Refusals: nothing there, not a log.
"$berth" plot "$tmp/nothing" >/dev/null 2>&1 && bad "a missing file was plotted"
echo "not a log" >"$tmp/junk"
"$berth" plot "$tmp/junk" >/dev/null 2>&1 && bad "a foreign file was plotted"
"$berth" plot "$tmp/run.events" --conn 99 >/dev/null 2>&1 &&
    bad "a missing connection was plotted"
[ $fail -eq 0 ] && echo "ok: berth plot (log and capture)"
exit $fail
