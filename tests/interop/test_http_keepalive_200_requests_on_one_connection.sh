#!/usr/bin/env bash
# Kernel client -> berth server: 200 HTTP/1.1 requests on one keep-alive
# connection (python3 http.client; it must never reconnect), each answer
# checked. The kernel capture shows exactly one SYN, and the client closes
# first at the end: kernel FIN, berth's ACK and FIN, the kernel's last ACK.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80
it_capture_start kcap 128

t0=$(it_now)
port=$(it_peer http-keepalive --host "$IT_BERTH" --port 80 --count 200) ||
    it_fail "keep-alive client failed"
it_log "200 requests on one connection (kernel port $port) in $(it_since "$t0") s"
sleep 0.5 # the close completes
it_capture_stop kcap

syns=$(it_pcap count "$IT_DIR/kcap.pcapng" 'tcp.flags.syn == 1 && tcp.flags.ack == 0')
[ "$syns" -eq 1 ] || it_fail "$syns SYNs in the capture, expected 1 connection"
opens=$(it_counter srv "passive connection openings")
[ "$opens" -eq 1 ] || it_fail "berth counted $opens passive openings, expected 1"
it_pcap close "$IT_DIR/kcap.pcapng" --port "$port" --first "$IT_KERNEL"

# The kernel closed first: the kernel is in TIME-WAIT, berth is not.
ktw=$(it_ns ss -tanH state time-wait "( sport = :$port )" | wc -l)
[ "$ktw" -eq 1 ] || it_fail "kernel: $ktw TIME-WAIT sockets for port $port, expected 1"
if it_ss srv | grep -E "$IT_KERNEL:$port\b"; then
    it_fail "berth still lists the connection after the kernel closed it"
fi

it_berth_settled srv 5
it_berth_stop srv
it_log "PASS"
