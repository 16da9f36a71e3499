#!/usr/bin/env bash
# Connection refused, both ways (RFC 9293 §3.10.7.1: a SYN to no listener
# gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, and §3.10.7.3: SYN-SENT with an
# acceptable RST -> "connection refused").
#   kernel -> berth port without listener: python3 connect() gets
#            ECONNREFUSED, curl fails to connect (exit 7); the capture shows
#            berth's RST,ACK acking the SYN.
#   berth -> kernel port without listener: `berth cat` exits 1 saying
#            "refused".
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80
it_capture_start kcap

it_peer expect-refused --host "$IT_BERTH" --port 81 >/dev/null ||
    it_fail "python3 connect to a berth port without listener was not refused"
rc=0
it_ns curl -sS --max-time 10 -o /dev/null "http://$IT_BERTH:81/" 2>"$IT_DIR/curl.log" || rc=$?
[ "$rc" -eq 7 ] || it_fail "curl to a berth port without listener: exit $rc, expected 7 (couldn't connect): $(cat "$IT_DIR/curl.log")"
it_capture_stop kcap
rsts=$(it_pcap count "$IT_DIR/kcap.pcapng" \
    "ip.src == $IT_BERTH && tcp.srcport == 81 && tcp.flags.reset == 1 && tcp.flags.ack == 1 && tcp.seq_raw == 0 && tcp.ack == 1")
[ "$rsts" -ge 2 ] || it_fail "$rsts RST,ACK <SEQ=0><ACK=ISN+1> from berth port 81, expected one per attempt (2)"
resets=$(it_counter srv "resets sent")
[ "$resets" -ge 2 ] || it_fail "berth counted $resets resets sent, expected at least 2"
it_berth_stop srv
it_log "kernel -> berth: refused ($rsts RST,ACK)"

# berth cat on its own TUN once the server is gone (both would route
# 198.18.0.0/24).
IT_TUN=bt1
rc=0
t0=$(it_now)
it_bg cat "$BERTH" cat --tun bt1 --ctl "$IT_DIR/cat.sock" "$IT_KERNEL" 9
it_wait_pid "$IT_LAST_PID" 40 || rc=$?
[ "$rc" -eq 1 ] || it_fail "berth cat to a kernel port without listener: exit $rc, expected 1: $(cat "$IT_DIR/cat.log")"
grep -qi refused "$IT_DIR/cat.log" ||
    it_fail "berth cat's message does not say 'refused': $(cat "$IT_DIR/cat.log")"
it_log "berth -> kernel: '$(head -n 1 "$IT_DIR/cat.log")' after $(it_since "$t0") s"
it_log "PASS"
