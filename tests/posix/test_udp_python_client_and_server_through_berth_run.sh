#!/usr/bin/env bash
# UDP through `berth run` (RFC 768), unmodified python3 against kernel
# peers:
#   client: udp_client.py under berth run: sendto/recvfrom, sendmsg/recvmsg
#           (MSG_PEEK, MSG_TRUNC), epoll readiness and EAGAIN, connect with
#           send/recv, ECONNREFUSED from a closed port, datagrams off
#           berth's link handed to the kernel, name resolution through the
#           namespace's nameserver (off the link: the kernel's), IPv6 UDP
#           when the core has it, an asyncio datagram endpoint.
#   server: udp_peer.py echo under berth run (a selectors loop over the
#           mirrored descriptors) answers 200 kernel datagrams of 0..1400
#           bytes intact, from berth's address, and again with 2 % loss.
source "$(dirname "$0")/lib.sh"
px_setup
# An address off berth's link (the kernel's own, on lo), with a UDP echo and a DNS responder on it;
# `ip netns exec` puts /etc/netns/NS/resolv.conf over /etc/resolv.conf
# (removed with the namespace when the test ends).
ip -n "$IT_NS" addr add 10.99.0.1/32 dev lo
mkdir -p "/etc/netns/$IT_NS"
echo "nameserver 10.99.0.1" >"/etc/netns/$IT_NS/resolv.conf"
it_bg dns "$PX_PY" -u "$PX_HERE/udp_peer.py" dns 10.99.0.1 53 echo.berth.test "$IT_KERNEL"
it_bg kecho "$PX_PY" -u "$PX_HERE/udp_peer.py" echo 7000 200
for ((i = 0; i < 100; i++)); do
    out=$(it_ns ss -Hlun "sport = :7000") || true
    [ -n "$out" ] && break
    sleep 0.1
done
[ -n "$out" ] || it_fail "the kernel's UDP echo does not listen"

PX_RUN_OPTS="--ctl $(it_ctl cli)" px_run "$PX_PY" "$PX_HERE/udp_client.py" \
    >"$IT_DIR/cli.out" 2>&1 || it_fail "udp_client.py: $(cat "$IT_DIR/cli.out")"
cat "$IT_DIR/cli.out"
grep -q "from $IT_BERTH" "$IT_DIR/kecho.out" ||
    it_fail "the kernel's echo saw nothing from berth: $(cat "$IT_DIR/kecho.out")"
grep -q "query type 1 from 10.99.0.1" "$IT_DIR/dns.out" ||
    it_fail "the DNS query did not come from the kernel: $(cat "$IT_DIR/dns.out")"
it_log "python3 client on berth against kernel peers"

it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    "$PX_PY" -u "$PX_HERE/udp_peer.py" echo 7100 200
it_berth_wait srv
it_ns "$PX_PY" "$PX_HERE/udp_peer.py" ask "$IT_BERTH" 7100 200 >/dev/null ||
    it_fail "kernel client against the berth echo failed"
n=$(grep -c "from $IT_KERNEL\$" "$IT_DIR/srv.out") || true
[ "$n" -ge 200 ] || it_fail "the echo on berth logged $n datagrams from $IT_KERNEL"
it_log "200 datagrams (0..1400 bytes) echoed by python3 on berth"
it_ctl_cmd srv impair loss=2%,seed=5 >/dev/null || it_fail "impair failed"
it_ns "$PX_PY" "$PX_HERE/udp_peer.py" ask "$IT_BERTH" 7100 200 >/dev/null ||
    it_fail "with 2 % loss: the echo failed"
lost=$(it_counter srv "received packets dropped by impairment")
it_log "and with 2 % loss (each datagram retried after 1 s, up to 10 times; $lost packets dropped)"
sent=$(it_counter srv "UDP datagrams sent")
[ "$sent" -ge 400 ] || it_fail "berth's counters show $sent UDP datagrams sent"
it_berth_stop srv
it_log "PASS"
