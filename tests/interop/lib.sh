# shellcheck shell=bash
# Shared setup of the interop tests (DESIGN.md §4 layer 4, §6): sourced by
# every tests/interop/test_*.sh, which CTest runs as
#   bash tests/interop/test_X.sh /path/to/berth
# Each test gets its own network namespace (berth-it-<test>-<pid>) and temp
# directory. berth runs inside the namespace on a TUN device; the kernel side
# of that TUN is 198.18.0.1, berth is 198.18.0.2, and no other address is
# ever used, so no packet leaves the namespace. Kernel-side peers (curl,
# python3) and captures (dumpcap) run in the same namespace. On exit, and on
# SIGTERM, SIGINT, SIGHUP or SIGPIPE, the trap kills only the processes this
# test started (by PID), deletes every namespace it made (it_netns_add) and
# removes the temp directory (IT_KEEP=1 keeps it). A SIGKILL (CTest's
# TIMEOUT kills a test's process tree so) leaves no trap to run: the test's
# guard (guard.sh, a detached process) then deletes the namespaces. With
# IT_DEADLINE=SECONDS (CTest sets it a little below the test's TIMEOUT) the
# guard stops the test with SIGTERM after that long, so that it fails
# saying so, with its logs, and cleans up itself.
#
# Exit codes: 0 pass, 77 skipped (not root, no /dev/net/tun, no `ip netns`),
# anything else a failure with a message saying what differed.

set -euo pipefail

IT_TEST=$(basename "$0" .sh)
IT_TEST=${IT_TEST#test_}
IT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BERTH=${1:-${BERTH:-}}
IT_KERNEL=198.18.0.1 # the kernel's end of the TUN
IT_BERTH=198.18.0.2  # berth's address
IT_TUN=bt0           # the TUN of the test's berth instance
IT_NS=""
IT_NETNS=()          # every namespace this test made (it_netns_add)
IT_DIR=""
IT_PIDS=()           # every background process this test started
IT_LAST_PID=""
IT_T0=$(date +%s.%N)
declare -A IT_PID_OF=() # label -> PID, for berth instances and captures

it_log() { printf '[%s %6.2fs] %s\n' "$IT_TEST" "$(it_since "$IT_T0")" "$*"; }
it_fail() {
    printf 'FAIL [%s]: %s\n' "$IT_TEST" "$*" >&2
    exit 1
}
it_skip() {
    printf 'SKIP [%s]: %s\n' "$IT_TEST" "$*"
    exit 77
}
# it_signalled NAME STATUS: the trap of a signal that stops the test.
it_signalled() {
    if [ -n "$IT_DIR" ] && [ -e "$IT_DIR/.deadline" ]; then
        printf 'FAIL [%s]: out of time: still running after IT_DEADLINE=%s s; stopped (SIG%s)\n' \
            "$IT_TEST" "${IT_DEADLINE:-?}" "$1" >&2
    else
        printf 'FAIL [%s]: stopped by SIG%s\n' "$IT_TEST" "$1" >&2
    fi
    exit "$2"
}

# Seconds (fractional) since a `date +%s.%N` stamp.
it_since() { awk -v now="$(date +%s.%N)" -v t="$1" 'BEGIN { printf "%.3f", now - t }'; }
it_now() { date +%s.%N; }
# it_between X LO HI: LO <= X <= HI (decimals).
it_between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }

# ------------------------------------------------------------------------
# Setup and cleanup.

it_setup() {
    [ "$(id -u)" -eq 0 ] || it_skip "needs root (network namespaces, TUN)"
    [ -c /dev/net/tun ] || it_skip "no /dev/net/tun"
    command -v ip >/dev/null || it_skip "no ip(8)"
    [ -n "$BERTH" ] || it_fail "usage: bash $0 /path/to/berth"
    [ -x "$BERTH" ] || it_fail "berth command not found or not executable: $BERTH"
    BERTH=$(cd "$(dirname "$BERTH")" && pwd)/$(basename "$BERTH")
    local tool
    for tool in curl python3 tshark dumpcap nstat timeout sha256sum; do
        command -v "$tool" >/dev/null ||
            it_fail "missing $tool: run scripts/install-deps.sh"
    done

    IT_DIR=$(mktemp -d "/tmp/berth-it-$IT_TEST.XXXXXX")
    trap it_cleanup EXIT
    trap 'it_signalled HUP 129' HUP
    trap 'it_signalled INT 130' INT
    trap 'it_signalled PIPE 141' PIPE
    trap 'it_signalled TERM 143' TERM
    : >"$IT_DIR/.netns"
    # Detached (a subshell that exits at once; setsid): out of the test's
    # process tree and group, so what kills those leaves it running.
    (setsid bash "$IT_HERE/guard.sh" "$$" "$IT_DIR" "${IT_DEADLINE:-0}" \
        "${IT_KEEP:-0}" </dev/null >/dev/null 2>&1 &)
    local ns="berth-it-$IT_TEST-$$"
    it_netns_add "$ns" 2>"$IT_DIR/netns.log" ||
        it_skip "cannot create a network namespace: $(cat "$IT_DIR/netns.log")"
    IT_NS=$ns
    ip netns exec "$IT_NS" ip link set lo up
    it_log "namespace $IT_NS, files in $IT_DIR"
}

# it_netns_add NAME: create the network namespace NAME, deleted (with
# /etc/netns/NAME, if the test made one) when the test ends, however it
# ends. Listed in $IT_DIR/.netns before it exists, for the guard.
it_netns_add() {
    echo "$1" >>"$IT_DIR/.netns"
    if ! ip netns add "$1"; then # not ours (it may exist): not deleted
        grep -vxF -- "$1" "$IT_DIR/.netns" >"$IT_DIR/.netns.new"
        mv "$IT_DIR/.netns.new" "$IT_DIR/.netns"
        return 1
    fi
    IT_NETNS+=("$1")
}

it_cleanup() {
    local rc=$? pid i
    set +e
    trap - EXIT HUP INT PIPE TERM
    for pid in "${IT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${IT_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$IT_DIR" ]; then
        local f
        for f in "$IT_DIR"/*.log; do
            [ -s "$f" ] || continue
            echo "---- last lines of $(basename "$f") ----" >&2
            tail -n 25 "$f" >&2
        done
    fi
    local ns
    for ns in "${IT_NETNS[@]}"; do
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
    if [ -n "$IT_DIR" ]; then
        rm -f "$IT_DIR/.netns" # done: the guard has nothing left to do
        if [ "${IT_KEEP:-0}" = 1 ]; then
            echo "kept $IT_DIR" >&2
        else
            rm -rf "$IT_DIR"
        fi
    fi
    exit "$rc"
}

# ------------------------------------------------------------------------
# Processes. Everything runs inside the namespace and is bounded in time.

# it_ns CMD...: run in the namespace, at most IT_TIMEOUT (60) seconds.
it_ns() { timeout -k 2 "${IT_TIMEOUT:-60}" ip netns exec "$IT_NS" "$@"; }

# it_bg LABEL CMD...: start CMD in the namespace in the background; stdout
# goes to $IT_DIR/LABEL.out, stderr to LABEL.log, stdin from IT_STDIN
# (default /dev/null). Sets IT_LAST_PID. CMD runs under timeout(1) with
# IT_BG_LIMIT (280 s, inside CTest's 300 s), so a test killed outright
# leaves nothing running for long; timeout passes our signals on and
# returns CMD's status. --foreground: otherwise timeout also signals its
# whole process group, CMD gets every signal twice, and berth takes a
# second SIGINT as "stop at once".
it_bg() {
    local label=$1
    shift
    ip netns exec "$IT_NS" timeout --foreground -k 5 "${IT_BG_LIMIT:-280}" "$@" \
        >"$IT_DIR/$label.out" 2>"$IT_DIR/$label.log" \
        <"${IT_STDIN:-/dev/null}" &
    IT_LAST_PID=$!
    IT_PIDS+=("$IT_LAST_PID")
    IT_PID_OF[$label]=$IT_LAST_PID
}

it_forget() {
    local pid=$1 p keep=()
    for p in "${IT_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    IT_PIDS=("${keep[@]}")
}

# it_wait_pid PID SECONDS: wait for a process this test started; returns its
# exit status, or 124 if it is still running after SECONDS. Bounded by the
# clock, not by a count of naps: on a loaded machine a `sleep 0.1` can take
# several times that.
it_wait_pid() {
    local pid=$1 secs=$2 rc=0 end=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && return 124
    wait "$pid" || rc=$?
    it_forget "$pid"
    return "$rc"
}

# it_stop_pid PID SIGNAL SECONDS: signal and wait; the exit status, or 124.
it_stop_pid() {
    kill -"$2" "$1" 2>/dev/null || true
    local rc=0
    it_wait_pid "$1" "$3" || rc=$?
    return "$rc"
}

# ------------------------------------------------------------------------
# berth instances. A label names each: its control socket is
# $IT_DIR/LABEL.sock, its pcap (if IT_PCAP=1) $IT_DIR/LABEL.pcap, its log
# $IT_DIR/LABEL.log.

it_ctl() { echo "$IT_DIR/$1.sock"; }

# it_berth_bg LABEL SUBCOMMAND [ARGS...]: start `berth SUBCOMMAND` with
# --tun IT_TUN --ctl ... [--pcap ...] before ARGS; does not wait.
it_berth_bg() {
    local label=$1 sub=$2
    shift 2
    local common=(--tun "$IT_TUN" --ctl "$(it_ctl "$label")")
    [ "${IT_PCAP:-0}" = 1 ] && common+=(--pcap "$IT_DIR/$label.pcap")
    it_bg "$label" "$BERTH" "$sub" "${common[@]}" "$@"
}

# it_berth_wait LABEL: bounded (30 s of clock: on a busy machine an ASan
# berth and each `berth ss` may take seconds) wait until the TUN is up and
# the control socket answers `ss`.
it_berth_wait() {
    local label=$1 pid=${IT_PID_OF[$1]} end=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$end" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
            local rc=0
            wait "$pid" || rc=$?
            it_forget "$pid"
            it_fail "berth ($label) exited with status $rc before it was ready: $(tail -n 5 "$IT_DIR/$label.log")"
        fi
        if ip -n "$IT_NS" link show dev "$IT_TUN" 2>/dev/null | grep -q '[<,]UP[,>]' &&
            timeout 5 "$BERTH" ss --ctl "$(it_ctl "$label")" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    it_fail "berth ($label) not ready after 30 s: TUN $IT_TUN up and 'berth ss --ctl' answering"
}

# it_berth_start LABEL SUBCOMMAND [ARGS...]: start and wait until ready.
it_berth_start() {
    it_berth_bg "$@"
    it_berth_wait "$1"
    it_log "berth $2 ($1) ready, pid ${IT_PID_OF[$1]}"
}

# it_berth_stop LABEL: SIGINT, then the graceful shutdown must end within
# 10 s with status 0.
it_berth_stop() {
    local label=$1 rc=0
    it_stop_pid "${IT_PID_OF[$label]}" INT 10 || rc=$?
    [ "$rc" -ne 124 ] || it_fail "berth ($label) still running 10 s after SIGINT"
    [ "$rc" -eq 0 ] || it_fail "berth ($label) exited with status $rc after SIGINT"
}

# it_berth_settled LABEL SECONDS: bounded wait until every connection has
# ended (`berth ss` lists only LISTEN and TIME-WAIT rows) and the
# ESTABLISHED gauge is back to 0: nothing leaked.
it_berth_settled() {
    local label=$1 secs=$2 i rows estab
    for ((i = 0; i < secs * 10; i++)); do
        rows=$(it_ss "$label" | tail -n +2 | grep -vE '^(LISTEN|TIME-WAIT) ' || true)
        estab=$(it_counter "$label" "connections currently ESTABLISHED")
        [ -z "$rows" ] && [ "$estab" -eq 0 ] && return 0
        sleep 0.1
    done
    it_fail "berth ($label) still has connections after $secs s (gauge $estab):"$'\n'"$rows"
}

# it_ss LABEL [-i], it_stat LABEL, it_ctl_cmd LABEL COMMAND...: ask a
# running instance through its control socket.
it_ss() {
    local label=$1
    shift
    timeout 10 "$BERTH" ss --ctl "$(it_ctl "$label")" "$@"
}
it_stat() { timeout 10 "$BERTH" stat --ctl "$(it_ctl "$1")"; }
it_ctl_cmd() {
    local label=$1
    shift
    timeout 10 "$BERTH" ctl --ctl "$(it_ctl "$label")" "$@"
}

# it_counter LABEL TEXT: the number on the `berth stat` line that reads TEXT
# (e.g. "segments retransmitted"), as `netstat -s` prints it.
it_counter() {
    local out n
    out=$(it_stat "$1") || it_fail "berth stat ($1) failed"
    n=$(printf '%s\n' "$out" | grep -m1 -F -- "$2" | grep -oE '[0-9]+' | head -n 1)
    [ -n "$n" ] || it_fail "berth stat ($1) has no line with '$2':"$'\n'"$out"
    echo "$n"
}

# it_kernel_counter NAME: a kernel SNMP counter in the namespace (nstat).
it_kernel_counter() {
    it_ns nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

# ------------------------------------------------------------------------
# Kernel-side capture on the TUN (dumpcap, in the namespace).

# it_capture_start LABEL [SNAPLEN]: capture IT_TUN into $IT_DIR/LABEL.pcapng.
# The kernel's buffer for it is IT_CAPTURE_MB (64) MiB, not dumpcap's 2: a
# transfer over the TUN moves 2 MiB in a few milliseconds, and on a busy
# machine dumpcap may wait longer than that for a CPU (what the buffer
# cannot hold is dropped: it_capture_drops).
it_capture_start() {
    local label=$1 snap=${2:-0}
    local args=(-q -B "${IT_CAPTURE_MB:-64}" -i "$IT_TUN" -w "$IT_DIR/$label.pcapng")
    [ "$snap" -gt 0 ] && args+=(-s "$snap")
    it_bg "$label" dumpcap "${args[@]}"
    # Ready once it names its file: it prints "Capturing on" before it even
    # opens its packet socket, and "File:" once the socket is bound and its
    # ring made (with the 64 MiB ring, some 40 ms later: traffic started at
    # "Capturing on" went uncaptured).
    local end=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$end" ]; do
        grep -q '^File: ' "$IT_DIR/$label.log" 2>/dev/null && return 0
        kill -0 "$IT_LAST_PID" 2>/dev/null ||
            it_fail "dumpcap exited: $(cat "$IT_DIR/$label.log")"
        sleep 0.1
    done
    it_fail "dumpcap did not start within 30 s"
}

# it_capture_stop LABEL: let the last segments arrive, then SIGINT dumpcap;
# says so when it lost packets (a test whose checks need every packet asks
# it_capture_drops).
it_capture_stop() {
    local rc=0
    sleep 0.3
    it_stop_pid "${IT_PID_OF[$1]}" INT 10 || rc=$?
    [ "$rc" -eq 0 ] || it_fail "dumpcap ($1) ended with status $rc"
    local n
    n=$(it_capture_dropped "$1")
    [ "${n:-0}" = 0 ] || it_log "capture $1 incomplete: dumpcap dropped $n packets"
}

# it_capture_drops LABEL: the packets a stopped capture lost (dumpcap's
# "Packets received/dropped" line: dropped for want of buffer or of time,
# so the capture is incomplete when it is not 0). Packets the interface
# itself dropped (ps_ifdrop: the TUN's queue was full) never crossed it and
# are not counted. Fails if dumpcap printed no such line.
it_capture_drops() {
    local n
    n=$(it_capture_dropped "$1")
    [ -n "$n" ] || it_fail "dumpcap ($1) printed no count of dropped packets: $(tail -n 3 "$IT_DIR/$1.log")"
    echo "$n"
}
it_capture_dropped() { # the number, or nothing
    sed -nE "s|^Packets received/dropped on interface '[^']*': [0-9]+/([0-9]+) .*|\1|p" \
        "$IT_DIR/$1.log" | head -n 1
}

# it_pcap PCAPCHECK-ARGS...: run the capture checker (pcapcheck.py).
it_pcap() { python3 "$IT_HERE/pcapcheck.py" "$@"; }
# it_peer PEER-ARGS...: run a kernel-side peer (peer.py) in the namespace.
it_peer() { it_ns python3 "$IT_HERE/peer.py" "$@"; }

# The SHA-256 of the first N bytes of `berth http`'s /bytes pattern.
it_pattern_sha() { python3 "$IT_HERE/peer.py" pattern-sha256 "$1"; }
