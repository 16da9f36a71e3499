#!/usr/bin/env bash
# `berth cat` behaves like nc beside other work:
#   idle:     connected to a kernel `nc -l` that sent one line and went quiet,
#             with stdin a FIFO that has a writer but no data, berth cat
#             sleeps in epoll: its CPU time (utime + stime from
#             /proc/PID/stat, not wall-clock speed) over 4 s stays under
#             5 % of one CPU (it was 65-100 % when a pump went round again
#             on EAGAIN).
#   -v:       "connecting to ...", "connected to ...", and "closed" at the
#             end of a clean exchange.
#   SIGINT:   exit status 130 and "interrupted".
#   timeout:  to an address nobody answers, --connect-timeout 2s ends the
#             attempt with status 1 and "timed out", long before the SYN
#             retries (about 127 s) would.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt2
hz=$(getconf CLK_TCK)

# The berth process under `ip netns exec ... timeout`: timeout's child.
berth_pid_of() {
    local parent=$1 i child
    for ((i = 0; i < 50; i++)); do
        child=$(pgrep -P "$parent" | head -n 1 || true)
        [ -n "$child" ] && { echo "$child"; return 0; }
        sleep 0.1
    done
    it_fail "no child process under pid $parent"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# wait_for FILE TEXT SECONDS: bounded wait until FILE contains TEXT.
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    it_fail "no '$2' in $(basename "$1") after $3 s: $(tail -n 5 "$1" 2>/dev/null)"
}

# A kernel nc listening before berth's TUN exists; its stdin is a FIFO this
# shell holds open, so it sends exactly what we write and then stays quiet.
mkfifo "$IT_DIR/nc.in" "$IT_DIR/cat.in"
exec 8<>"$IT_DIR/nc.in" 9<>"$IT_DIR/cat.in"
IT_STDIN=$IT_DIR/nc.in it_bg knc nc -l 5010
for ((i = 0; i < 100; i++)); do
    it_ns ss -ltn 2>/dev/null | grep -q ':5010 ' && break
    sleep 0.1
done
IT_STDIN=$IT_DIR/cat.in it_berth_bg idle cat -v "$IT_KERNEL" 5010
wrapper=$IT_LAST_PID
wait_for "$IT_DIR/idle.log" "connecting to $IT_KERNEL:5010..." 10
wait_for "$IT_DIR/idle.log" "connected to $IT_KERNEL:5010" 10
echo "one line from the kernel" >&8
wait_for "$IT_DIR/idle.out" "one line from the kernel" 10
pid=$(berth_pid_of "$wrapper")
sleep 0.5
t0=$(cpu_ticks "$pid")
sleep 4
t1=$(cpu_ticks "$pid")
pct=$(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "%.1f", d / hz / 4 * 100 }')
it_log "idle berth cat used $((t1 - t0)) ticks of CPU in 4 s ($pct %)"
it_between "$pct" 0 5 || it_fail "idle berth cat used $pct % of a CPU over 4 s (want < 5 %)"

# Still alive and working: a line from stdin reaches nc.
echo "and one back" >&9
wait_for "$IT_DIR/knc.out" "and one back" 10

rc=0
it_stop_pid "$wrapper" INT 10 || rc=$?
[ "$rc" -eq 130 ] || it_fail "berth cat exited with $rc after SIGINT (want 130): $(tail -n 3 "$IT_DIR/idle.log")"
grep -q 'interrupted' "$IT_DIR/idle.log" || it_fail "no 'interrupted' after SIGINT: $(tail -n 3 "$IT_DIR/idle.log")"
it_log "SIGINT: status 130, 'interrupted'"
exec 8>&- 9>&-

# -v on a clean exchange: a kernel server sends a file and closes.
printf 'bye\n' >"$IT_DIR/src"
it_bg ksrc python3 "$IT_HERE/peer.py" serve --port 5012 --mode source \
    --source "$IT_DIR/src" --result "$IT_DIR/ksrc.result"
for ((i = 0; i < 100; i++)); do
    [ -e "$IT_DIR/ksrc.result.ready" ] && break
    sleep 0.1
done
it_berth_bg clean cat -v "$IT_KERNEL" 5012
rc=0
it_wait_pid "$IT_LAST_PID" 30 || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth cat -v exited with $rc: $(tail -n 3 "$IT_DIR/clean.log")"
for want in "connecting to $IT_KERNEL:5012..." "connected to $IT_KERNEL:5012" "closed"; do
    grep -qF -- "$want" "$IT_DIR/clean.log" || it_fail "berth cat -v did not say '$want':"$'\n'"$(cat "$IT_DIR/clean.log")"
done
[ "$(cat "$IT_DIR/clean.out")" = "bye" ] || it_fail "berth cat printed '$(cat "$IT_DIR/clean.out")', want 'bye'"
it_log "-v: connecting, connected, closed"

# Nobody answers 198.18.0.77 (the namespace does not forward).
t0=$(it_now)
rc=0
it_berth_bg unreach cat -v --connect-timeout 2s 198.18.0.77 5011
it_wait_pid "$IT_LAST_PID" 30 || rc=$?
secs=$(it_since "$t0")
[ "$rc" -eq 1 ] || it_fail "berth cat to an unreachable host exited with $rc (want 1): $(tail -n 3 "$IT_DIR/unreach.log")"
grep -qF "connecting to 198.18.0.77:5011..." "$IT_DIR/unreach.log" || it_fail "no 'connecting to' line: $(cat "$IT_DIR/unreach.log")"
grep -q "timed out" "$IT_DIR/unreach.log" || it_fail "no 'timed out' line: $(cat "$IT_DIR/unreach.log")"
# At least the 2 s asked for; far less than the SYN retries' 127 s.
it_between "$secs" 1.9 60 || it_fail "--connect-timeout 2s took $secs s"
it_log "--connect-timeout 2s: status 1 after $secs s"

# A usage error exits 2, also in --peer.
rc=0
"$BERTH" cat --peer 10.0.0.1/31 "$IT_KERNEL" 1 2>"$IT_DIR/usage.log" || rc=$?
[ "$rc" -eq 2 ] || it_fail "--peer 10.0.0.1/31 exited with $rc (want 2)"
rc=0
"$BERTH" cat --peer 10.0.0.1/24 "$IT_KERNEL" 1 2>"$IT_DIR/usage.log" || rc=$?
[ "$rc" -eq 2 ] || it_fail "--peer outside --addr's subnet exited with $rc (want 2)"
rc=0
"$BERTH" cat --connect-timeout 5 "$IT_KERNEL" 1 2>"$IT_DIR/usage.log" || rc=$?
[ "$rc" -eq 2 ] || it_fail "--connect-timeout without a unit exited with $rc (want 2)"
it_log "PASS"
