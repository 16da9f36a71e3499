#!/usr/bin/env bash
# Keepalive (RFC 1122 §4.2.3.6) with `berth cat --keepalive 1s,1s,3` to a
# kernel server that stays silent after a greeting:
#   - probes <SEQ=SND.NXT-1><CTL=ACK> go out every second and the kernel
#     answers each (capture: Wireshark's keep_alive / keep_alive_ack), and
#     the connection survives 6 s (cat running, ESTABLISHED in berth ss);
#   - then `berth ctl impair drop-all` makes a black hole: berth aborts with
#     ETIMEDOUT idle + interval x count = 4 s after the last answered
#     probe (the drop comes ~0.1 s after one; asserted 3-8 s after the
#     drop): cat exits 1 with a "timed out" message.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt1

it_bg ksrv python3 "$IT_HERE/peer.py" serve --port 5003 --mode hold \
    --go "$IT_DIR/go" --result "$IT_DIR/ksrv.result" --idle-timeout 40
for ((i = 0; i < 100; i++)); do
    [ -e "$IT_DIR/ksrv.result.ready" ] && break
    sleep 0.1
done
[ -e "$IT_DIR/ksrv.result.ready" ] || it_fail "kernel server not listening after 10 s"

mkfifo "$IT_DIR/stdin"
exec 3<>"$IT_DIR/stdin" # held open and silent: cat never sees stdin EOF
IT_STDIN=$IT_DIR/stdin it_berth_bg cat cat --keepalive 1s,1s,3 "$IT_KERNEL" 5003
cat_pid=$IT_LAST_PID
it_berth_wait cat
it_capture_start kcap 128
touch "$IT_DIR/go" # the greeting: berth's ACK of it sets SND.NXT in the capture

sleep 6
kill -0 "$cat_pid" 2>/dev/null || it_fail "berth cat ended during answered keepalives: $(tail -n 3 "$IT_DIR/cat.log")"
grep -q hello "$IT_DIR/cat.out" || it_fail "berth cat did not print the server's greeting"
it_ss cat | grep -qE "^ESTABLISHED .*$IT_KERNEL:5003\b" ||
    it_fail "connection not ESTABLISHED after 6 s of keepalives: $(it_ss cat)"
probes=$(it_counter cat "keepalive probes sent")
it_log "after 6 s: ESTABLISHED, berth sent $probes keepalive probes"
it_capture_stop kcap # before cat ends and its TUN disappears

# Black hole just after a probe was answered (the counter moves; the ACK
# comes back within a millisecond), so the last sign of life is known: the
# abort is due idle + interval x count = 4 s after it.
for ((i = 0; i < 40; i++)); do
    [ "$(it_counter cat "keepalive probes sent")" -gt "$probes" ] && break
    sleep 0.05
done
sleep 0.1
t0=$(it_now)
it_ctl_cmd cat impair drop-all >/dev/null || it_fail "berth ctl impair drop-all failed"
rc=0
it_wait_pid "$cat_pid" 15 || rc=$?
secs=$(it_since "$t0")
[ "$rc" -ne 124 ] || it_fail "berth cat still running 15 s after drop-all (keepalive 1s,1s,3)"
[ "$rc" -eq 1 ] || it_fail "berth cat exited with status $rc after keepalive timeout, expected 1"
grep -qi "timed out" "$IT_DIR/cat.log" ||
    it_fail "berth cat's message does not say 'timed out': $(cat "$IT_DIR/cat.log")"
it_between "$secs" 3 8 || it_fail "keepalive abort $secs s after drop-all, expected 3-8 s (idle 1 + 3 x 1 s)"
it_log "ETIMEDOUT $secs s after drop-all: $(tail -n 1 "$IT_DIR/cat.log")"
it_pcap keepalive "$IT_DIR/kcap.pcapng" --prober "$IT_BERTH" --min 4
exec 3>&-
it_log "PASS"
