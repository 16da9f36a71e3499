#!/usr/bin/env bash
# The README's "Using berth with real peers" block, run as written, line by
# line, in a namespace this test creates (the README's `lab`), with the
# berth under test first in PATH and made-up `bigfile` and `file`. A line
# ending in '&' runs in the background until the end; the test waits until
# what it started listens (as a reader typing the next line would). Every
# other line must exit 0; `received` must equal `file`.
# A socket file left by a killed instance (as a namespace deleted earlier,
# whose inode number this one reuses, leaves behind) is planted first:
# `berth ss` must not count it.
# Then what the README says about several instances:
#   - a second instance on the default subnet stops with one line naming
#     the conflict (berth0) and a free subnet;
#   - with two instances in one namespace, `berth ss` names both and asks
#     for --tun or --ctl; with --tun it answers;
#   - a berth http on berth0 in a second namespace starts beside the first
#     (control sockets are per namespace), and `berth ss` in each namespace
#     finds its own instance.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=berth0
bindir=$(dirname "$BERTH")
[ "$(basename "$BERTH")" = berth ] || it_fail "the README calls the command 'berth', not $(basename "$BERTH")"

block=$(awk '/^## Using berth with real peers/ { s = 1 } s && /^```sh$/ { b = 1; next } b && /^```$/ { exit } b' \
    "$IT_HERE/../../README.md")
[ -n "$block" ] || it_fail "no sh block under 'Using berth with real peers' in README.md"
work=$IT_DIR/lab
mkdir "$work"
head -c 3000000 /dev/urandom >"$work/bigfile"
head -c 1000000 /dev/urandom >"$work/file"

# in_lab CMD: a shell line in the namespace, in the work directory, with
# the berth under test first in PATH.
in_lab() {
    ip netns exec "$IT_NS" timeout --foreground -k 5 "$1" \
        env PATH="$bindir:$PATH" bash -o pipefail -c "cd '$work' && $2"
}
wait_ready() { # the background line's listener
    local line=$1
    # Bounded by time, not by tries: on a busy machine (ASan, every core
    # taken) the first `berth ss` calls can each take seconds.
    local t0
    t0=$(it_now)
    while it_between "$(it_since "$t0")" 0 60; do
        case $line in
        "berth http"*) in_lab 10 "berth ss" >/dev/null 2>&1 && return 0 ;;
        "nc -l"*)
            local port=${line##*-l }
            it_ns ss -ltnH | grep -q ":${port%% *} " && return 0
            ;;
        *) sleep 1 && return 0 ;;
        esac
        sleep 0.1
    done
    it_fail "README line '$line': not listening after 60 s"
}

ctl_dir=/run/berth/net-$(ip netns exec "$IT_NS" stat -L -c %i /proc/self/ns/net) # as root
mkdir -p "$ctl_dir"
ip netns exec "$IT_NS" python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
    "$ctl_dir/stale0.sock" || it_fail "cannot plant a stale control socket in $ctl_dir"
STALE=$ctl_dir/stale0.sock
trap 'it_rc=$?; set +e; rm -f "$STALE"; (exit $it_rc); it_cleanup' EXIT

n=0
while IFS= read -r raw; do
    line=${raw%%  #*} # the README's comments start after two blanks
    line=${line%"${line##*[! ]}"}
    [ -z "$line" ] || [ "${line:0:1}" = "#" ] && continue
    n=$((n + 1))
    if [ "${line: -1}" = "&" ]; then
        cmd=${line%&}
        cmd=${cmd%"${cmd##*[! ]}"}
        # In this shell (not a subshell), so that it_bg records the PID
        # the cleanup ends.
        cd "$work"
        it_bg "readme$n" env PATH="$bindir:$PATH" bash -c "$cmd"
        cd - >/dev/null
        wait_ready "$cmd"
        it_log "README: $line   (background)"
    else
        rc=0
        in_lab 120 "$line" >"$IT_DIR/readme$n.out" 2>"$IT_DIR/readme$n.log" || rc=$?
        [ "$rc" -eq 0 ] || it_fail "README line '$line' exited with $rc: $(tail -n 3 "$IT_DIR/readme$n.log")"
        it_log "README: $line   -> $(head -c 70 "$IT_DIR/readme$n.out" | head -n 1)"
    fi
done <<<"$block"
[ "$n" -ge 8 ] || it_fail "only $n commands in the README block"
cmp -s "$work/file" "$work/received" || it_fail "nc received $(stat -c %s "$work/received" 2>/dev/null) bytes that differ from file"
[ -s "$work/berth.pcap" ] || it_fail "no berth.pcap"
it_log "README block: $n commands ran, 'received' equals 'file'"

# A second instance on the default subnet: one clear line, exit 1.
rc=0
in_lab 30 "berth echo --tun berth3" >/dev/null 2>"$IT_DIR/conflict.log" || rc=$?
[ "$rc" -eq 1 ] || it_fail "second instance on 198.18.0.0/24 exited with $rc: $(cat "$IT_DIR/conflict.log")"
grep -q "subnet 198.18.0.0/24 is already routed to berth0" "$IT_DIR/conflict.log" &&
    grep -q -- "--peer 198.18.1.1/24 --addr 198.18.1.2" "$IT_DIR/conflict.log" &&
    [ "$(wc -l <"$IT_DIR/conflict.log")" -eq 1 ] || it_fail "conflict message: $(cat "$IT_DIR/conflict.log")"
it_log "conflict: $(cat "$IT_DIR/conflict.log")"

# Two instances in the namespace: berth ss is ambiguous without --tun.
cd "$work"
it_bg echo2 env PATH="$bindir:$PATH" berth echo --tun berth2 --peer 198.18.2.1/24 --addr 198.18.2.2
cd - >/dev/null
for ((i = 0; i < 100; i++)); do
    in_lab 10 "berth ss --tun berth2" >/dev/null 2>&1 && break
    sleep 0.1
done
rc=0
in_lab 10 "berth ss" >/dev/null 2>"$IT_DIR/ambiguous.log" || rc=$?
[ "$rc" -eq 1 ] && grep -q "berth0, berth2\|berth2, berth0" "$IT_DIR/ambiguous.log" &&
    grep -q -- "--tun NAME or --ctl PATH" "$IT_DIR/ambiguous.log" ||
    it_fail "berth ss with two instances (status $rc): $(cat "$IT_DIR/ambiguous.log")"
in_lab 10 "berth ss --tun berth2" | grep -q '^LISTEN .*:7 ' || it_fail "berth ss --tun berth2 does not list the echo listener"
it_log "two instances: $(cat "$IT_DIR/ambiguous.log")"

# The same TUN name in another namespace, at the same time.
NS2="berth-it-readme2-$$"
it_netns_add "$NS2" || it_fail "cannot create $NS2"
ip netns exec "$NS2" ip link set lo up
ip netns exec "$NS2" timeout --foreground -k 5 120 "$BERTH" http --port 8080 \
    >"$IT_DIR/ns2.out" 2>"$IT_DIR/ns2.log" </dev/null &
IT_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
    ip netns exec "$NS2" "$BERTH" ss --tun berth0 >/dev/null 2>&1 && break
    sleep 0.1
done
ip netns exec "$NS2" "$BERTH" ss | grep -q '^LISTEN .*:8080 ' ||
    it_fail "berth ss in the second namespace: $(ip netns exec "$NS2" "$BERTH" ss 2>&1; cat "$IT_DIR/ns2.log")"
in_lab 10 "berth ss --tun berth0" | grep -q '^LISTEN .*:80 ' || it_fail "berth ss in the first namespace lost its instance"
in_lab 10 "berth ss --tun berth0" | grep -q ':8080 ' && it_fail "the first namespace's berth ss shows the second's listener"
it_log "berth0 in two namespaces at once, each berth ss finds its own"
it_log "PASS"
