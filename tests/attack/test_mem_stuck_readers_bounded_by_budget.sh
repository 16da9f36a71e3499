#!/usr/bin/env bash
# The stuck-reader memory attack of issue 12, against the memory budget:
# MEM_CONNS kernel connections each ask `berth http` for 10 MB and never
# read. berth runs with --mem-limit 8m (low 4 MiB, pressure 6 MiB). Each
# connection would hold a 64 KiB send buffer (12.5 MiB for 200): the
# budget must stop that. Asserted while they hang:
#   - `berth stat` reports pressure, and its usage never passes the limit
#     plus MEM_TCB_SLACK (TCBs and SYN-queue entries are never refused:
#     200 TCBs of 512 bytes, 1 MiB allowed);
#   - berth's RSS (VmRSS from /proc) never passes its RSS before the attack
#     plus the limit plus MEM_RSS_SLACK (allocator headers and
#     fragmentation, the sanitizers' quarantine and shadow: 24 MiB);
#   - sends were cut short by the budget (the counter), and berth does not
#     spin on them: at most half a core of CPU while they hang;
# and after the connections end (RST from the kernel's close):
#   - usage falls below the low threshold, the runtime calls malloc_trim()
#     and RSS falls by at least half of what the attack added.
source "$(dirname "$0")/../interop/lib.sh"

MEM_CONNS=${MEM_CONNS:-200}
MEM_LIMIT=$((8 * 1024 * 1024))
MEM_TCB_SLACK=$((1024 * 1024))
MEM_RSS_SLACK=$((24 * 1024 * 1024))

it_setup
# ASan keeps freed blocks in a quarantine and returns memory to the OS only
# on its own schedule: make it behave like the allocator of a Release
# build so RSS means the same thing.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0:allocator_release_to_os_interval_ms=0
it_berth_start srv http --port 80 --mem-limit 8m --idle-timeout 120s \
    --max-conns-per-client 1000

# The berth process: it_bg started `timeout`, whose child it is.
srv_pid=""
for ((i = 0; i < 50; i++)); do
    srv_pid=$(ps --ppid "${IT_PID_OF[srv]}" -o pid= | tr -d ' ' | head -n 1)
    [ -n "$srv_pid" ] && break
    sleep 0.1
done
[ -n "$srv_pid" ] || it_fail "cannot find the berth process"
rss() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$srv_pid/status"; }
# utime + stime in clock ticks (proc(5); the name in field 2 has no blanks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$srv_pid/stat"; }
mem_line() { it_stat srv | grep -m1 -F -- "$1" | grep -oE '[0-9]+' | head -n 1; }
level() { it_stat srv | sed -n 's/^ *level: //p'; }

# One short request first, so the baseline includes a warmed-up server.
it_peer http10 --host "$IT_BERTH" --path /bytes/100000 >/dev/null ||
    it_fail "warm-up request failed"
rss0=$(rss)
limit=$(mem_line "bytes memory limit")
[ "$limit" -eq "$MEM_LIMIT" ] || it_fail "berth stat says limit $limit, not $MEM_LIMIT"
it_log "baseline RSS $rss0 bytes, budget $limit bytes"

cat >"$IT_DIR/stuck.py" <<'EOF'
# MEM_CONNS connections that ask for 10 MB and never read; closed with RST
# (SO_LINGER 0) when the stop file appears, or after 120 s.
import os, socket, struct, sys, time
n, host, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.settimeout(10)
    s.connect((host, 80))
    s.sendall(b"GET /bytes/10000000 HTTP/1.1\r\nHost: berth\r\n\r\n")
    socks.append(s)
print("open", len(socks), flush=True)
end = time.time() + 120
while time.time() < end and not os.path.exists(stop):
    time.sleep(0.1)
for s in socks:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
print("closed", flush=True)
EOF
it_bg stuck python3 "$IT_DIR/stuck.py" "$MEM_CONNS" "$IT_BERTH" "$IT_DIR/stop"
stuck_pid=$IT_LAST_PID
for ((i = 0; i < 300; i++)); do
    grep -q '^open' "$IT_DIR/stuck.out" 2>/dev/null && break
    kill -0 "$stuck_pid" 2>/dev/null || it_fail "the stuck client exited: $(tail -n 5 "$IT_DIR/stuck.log")"
    sleep 0.1
done
grep -q "^open $MEM_CONNS" "$IT_DIR/stuck.out" || it_fail "the stuck client did not open $MEM_CONNS connections in 30 s"
it_log "$MEM_CONNS connections open, none reading"

# Sample for 5 s while they hang.
max_used=0 max_rss=0 pressed=0
cpu0=$(cpu_ticks) t0=$(it_now)
for ((i = 0; i < 25; i++)); do
    used=$(mem_line "bytes in use")
    r=$(rss)
    lv=$(level)
    [ "$used" -gt "$max_used" ] && max_used=$used
    [ "$r" -gt "$max_rss" ] && max_rss=$r
    [ "$lv" != normal ] && pressed=$((pressed + 1))
    sleep 0.2
done
cpu=$(awk -v t="$(cpu_ticks)" -v c="$cpu0" -v hz="$(getconf CLK_TCK)" \
    -v s="$(it_since "$t0")" 'BEGIN { printf "%.2f", (t - c) / hz / s }')
limited=$(it_counter srv "sends cut short by the memory budget")
entered=$(it_counter srv "times memory pressure was entered")
it_log "max usage $max_used, max RSS $max_rss (+$((max_rss - rss0))), $pressed of 25 samples under pressure, pressure entered $entered times, $limited sends cut short, CPU $cpu of a core"
it_between "$cpu" 0 0.5 || it_fail "berth used $cpu of a core while the readers hung"
[ "$pressed" -gt 0 ] || it_fail "berth never reported memory pressure"
[ "$entered" -gt 0 ] || it_fail "pressure never entered (counter)"
[ "$limited" -gt 0 ] || it_fail "no send was cut short by the budget"
[ "$max_used" -le $((MEM_LIMIT + MEM_TCB_SLACK)) ] ||
    it_fail "usage $max_used passed the limit $MEM_LIMIT + $MEM_TCB_SLACK"
[ "$max_rss" -le $((rss0 + MEM_LIMIT + MEM_RSS_SLACK)) ] ||
    it_fail "RSS $max_rss passed the baseline $rss0 + limit $MEM_LIMIT + $MEM_RSS_SLACK"

touch "$IT_DIR/stop"
it_wait_pid "$stuck_pid" 20 || it_fail "the stuck client did not end"
it_berth_settled srv 20
# Bounded wait (10 s) for the trims: the connections end in a burst that
# spans loop iterations, and the runtime trims as usage halves.
grown=$((max_rss - rss0))
trims=0 r=0
for ((i = 0; i < 100; i++)); do
    trims=$(it_counter srv "malloc_trim calls")
    r=$(rss)
    [ "$trims" -gt 0 ] && [ "$(level)" = normal ] &&
        { [ "$grown" -le 0 ] || [ $((r - rss0)) -le $((grown / 2)) ]; } && break
    sleep 0.1
done
used=$(mem_line "bytes in use")
it_log "after: usage $used, RSS $r (+$((r - rss0))), malloc_trim calls $trims"
[ "$(level)" = normal ] || it_fail "still under memory pressure with no connection"
[ "$trims" -gt 0 ] || it_fail "malloc_trim() was never called after pressure"
[ "$used" -lt $((MEM_LIMIT / 2)) ] || it_fail "usage $used not below low"
[ "$grown" -le 0 ] || [ $((r - rss0)) -le $((grown / 2)) ] ||
    it_fail "RSS $r did not fall back: baseline $rss0, peak $max_rss"
it_berth_stop srv
it_log "PASS"
