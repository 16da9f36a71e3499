#!/bin/bash
# `berth demo`'s UDP scene is drawn by the one ladder model (ladder.c's
# ladder_datagram and ladder_call): the echo exchange as arrows each way
# with the payload quoted, the datagram to a closed port answered by an
# ICMP port unreachable that names what it quotes, the calls beside each
# timeline, and the TCP ladder's columns.
# usage: test_demo_udp.sh BERTH
set -u
berth=$(readlink -f "${1:?usage: test_demo_udp.sh BERTH}")
source "$(dirname "$0")/lib.sh"
(cd "$tmp" && TMPDIR=$tmp timeout 120 "$berth" demo --memlink) \
    >"$tmp/out" 2>"$tmp/err" || bad "berth demo --memlink exited $?: $(tail -n 3 "$tmp/err")"
sed -n '/^UDP, for contrast/,/^No SYN, no FIN/p' "$tmp/out" >"$tmp/udp"
[ -s "$tmp/udp" ] || {
    echo "FAIL: no UDP scene in: $(head -c 300 "$tmp/out")"
    exit 1
}
# want REGEX WHAT: a line of the scene matches.
want() { grep -Eq -- "$1" "$tmp/udp" || bad "no $2 (/$1/)"; }
want '^ +time ms +client \(berth\) \|.*\| server \(udp-echo\)$' "column heads"
want '^ +198\.18\.0\.1:40001 \| +\| 198\.18\.0\.2:7$' "endpoints"
want '^ +0\.000 +\| +\| bind\(:7\)$' "bind beside the server at 0"
want '\|-+ UDP 40001 > 7 len=5 -+>\|$' "the request arrow, left to right"
want '\|<-+ UDP 7 > 40001 len=5 -+\|$' "the echo arrow, right to left"
want '^ +\| +"hello" +\|$' "the payload quoted"
want '\|-+ UDP 40001 > 7 len=15 -+>\|$' "the second datagram"
want '"second datagram"' "the second payload"
want 'recvfrom 15 B$' "the server's recvfrom"
want '^ +[0-9.]* +connect\(:9\) \|' "connect beside the client"
want '\|-+ UDP 40001 > 9 len=7 -+>\|$' "the datagram to the closed port"
want '\|<-+ ICMP unreachable \(port\) -+\|$' "the port unreachable"
want '^ +\| +quoting UDP 40001 > 9 len=7 +\|$' "what the error quotes"
want '^ +[0-9.]* +ECONNREFUSED \|' "the refusal the client reads"
want '^ +close\(\) \|' "close() beside the client"
want '\| close\(\)$' "close() beside the server"
# The TCP ladder's geometry: the middle column is the same width.
w_tcp=$(grep -m1 -E '^ +time ms ' "$tmp/out" | awk -F'|' '{print length($2)}')
w_udp=$(grep -m1 -E '^ +time ms ' "$tmp/udp" | awk -F'|' '{print length($2)}')
[ -n "$w_tcp" ] && [ "$w_tcp" = "$w_udp" ] ||
    bad "the UDP ladder's middle is $w_udp wide, the TCP one's $w_tcp"
[ $fail -eq 0 ] && echo "ok: the demo's UDP scene on the ladder model"
[ $fail -eq 0 ] || cat "$tmp/udp"
exit $fail
