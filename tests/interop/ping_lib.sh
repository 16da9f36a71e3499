# shellcheck shell=bash
# The ping test for either family (test_ping_answered_within_rate_limit.sh
# over IPv4, test_ping6_... over IPv6), sourced after lib.sh.

# ping_answered_within_rate_limit 4|6: the kernel pings `berth echo` (on
# IT_TUN) at its address of that family. Every request of a paced ping is
# answered with its data (ping checks it), 56 bytes and enough to fill a
# 1500-byte packet (-M do: never fragmented); a burst of 300 requests at
# once meets the token bucket ICMP shares for both families (RFC 4443 §2.4
# (f); 1000/s, bursts of 50 by default): at least the first 50 are
# answered, every request is either answered or counted as rate-limited,
# and the capture shows as many echo replies from berth as it counted.
ping_answered_within_rate_limit() {
    local addr big reply ping=(ping)
    if [ "$1" = 6 ]; then
        addr=2001:db8:b::2 big=1452 ping+=(-6)
        reply="ipv6.src == $addr && icmpv6.type == 129"
    else
        addr=$IT_BERTH big=1472
        reply="ip.src == $addr && icmp.type == 0"
    fi
    command -v ping >/dev/null || it_fail "missing ping: run scripts/install-deps.sh"
    it_berth_start srv echo --port 7
    it_capture_start kcap 128

    it_ns "${ping[@]}" -n -c 5 -i 0.2 -W 5 "$addr" >"$IT_DIR/ping.log" 2>&1 ||
        it_fail "${ping[*]}: $(cat "$IT_DIR/ping.log")"
    grep -q ' 0% packet loss' "$IT_DIR/ping.log" ||
        it_fail "paced ${ping[*]} lost packets: $(tail -n 3 "$IT_DIR/ping.log")"
    it_ns "${ping[@]}" -n -c 3 -i 0.2 -W 5 -s "$big" -M do "$addr" >"$IT_DIR/ping_big.log" 2>&1 ||
        it_fail "${ping[*]} -s $big: $(cat "$IT_DIR/ping_big.log")"
    grep -q ' 0% packet loss' "$IT_DIR/ping_big.log" ||
        it_fail "1500-byte pings lost: $(tail -n 3 "$IT_DIR/ping_big.log")"
    local replies
    replies=$(it_counter srv "ICMP echo replies sent")
    [ "$replies" -eq 8 ] || it_fail "berth counted $replies echo replies, expected 8"
    it_log "8 paced ${ping[*]} (56 and $big bytes of data) answered"

    # A burst: -l preloads that many requests without waiting for replies.
    it_ns "${ping[@]}" -n -q -c 300 -l 300 -W 3 "$addr" >"$IT_DIR/burst.log" 2>&1 || true
    local in1 rep1 lim1 seen
    in1=$(it_counter srv "ICMP echo requests received")
    rep1=$(it_counter srv "ICMP echo replies sent")
    lim1=$(it_counter srv "ICMP messages not sent: rate limit")
    [ "$in1" -eq 308 ] || it_fail "berth received $in1 echo requests, expected 308"
    [ $((rep1 + lim1)) -eq 308 ] ||
        it_fail "$rep1 replies + $lim1 rate-limited != 308 requests"
    [ $((rep1 - 8)) -ge 50 ] || it_fail "only $((rep1 - 8)) of the burst answered: the bucket holds 50"
    it_capture_stop kcap
    seen=$(it_pcap count "$IT_DIR/kcap.pcapng" "$reply")
    [ "$seen" -eq "$rep1" ] || it_fail "the capture shows $seen echo replies, berth counted $rep1"
    it_log "burst of 300: $((rep1 - 8)) answered, $lim1 rate-limited; capture agrees"
    it_berth_stop srv
}
