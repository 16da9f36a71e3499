#!/usr/bin/env bash
# The guard of one interop test (started by lib.sh's it_setup; bench/run.py
# starts one too, for its namespaces), detached: its own session, not a
# child of the test, so neither a signal to the test's process group nor
# CTest's timeout, which SIGKILLs the test's whole process tree, reaches it:
#
#   bash guard.sh PID DIR DEADLINE KEEP
#
# PID is the test's shell, known by its start time too (field 22 of
# /proc/PID/stat, read when the guard starts: a PID reused later by another
# process is not the test).
#
#   - DEADLINE > 0: that many seconds after the start, the guard writes
#     DIR/.deadline and sends SIGTERM to the test's processes (its
#     descendants first, so that a foreground command ends, then the
#     shell): the test stops itself with its own cleanup and log tails,
#     before CTest's TIMEOUT kills it with nothing said.
#   - When the shell is gone and DIR/.netns is still there (the test's
#     cleanup removes it once it has deleted its namespaces; SIGKILL gave it
#     no chance), the guard does that cleanup: it SIGKILLs the processes
#     still in each namespace listed (they hold it, and its TUN, alive),
#     deletes the namespaces and their /etc/netns/NAME directories, and
#     removes DIR unless KEEP is 1.
#
# Bounded: it waits at most GUARD_MAX (6 h) for the test, polling once a
# second, and prints nothing (its output goes to /dev/null).
set -u
pid=$1 dir=$2 deadline=$3 keep=$4
max=${GUARD_MAX:-21600}

# proc_start PID: the start time of PID (field 22 of /proc/PID/stat; the
# command name, field 2, is in parentheses and may hold blanks).
proc_start() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo "${20}"
}

start=$(proc_start "$pid") || start=gone
alive() { [ "$(proc_start "$pid")" = "$start" ]; }

# descendants PID: every descendant of PID, parents before children.
descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        descendants "$c"
    done
}

fired=0
while alive && [ "$SECONDS" -lt "$max" ]; do
    if [ "$deadline" -gt 0 ] && [ "$fired" = 0 ] && [ "$SECONDS" -ge "$deadline" ]; then
        fired=1
        : >"$dir/.deadline"
        # Children first: the shell runs its TERM trap only once the
        # command in the foreground has ended.
        # shellcheck disable=SC2046
        kill -TERM $(descendants "$pid") 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    fi
    sleep 1
done
alive && exit 0 # still running after GUARD_MAX: leave it
[ -f "$dir/.netns" ] || exit 0
while read -r ns; do
    [ -n "$ns" ] || continue
    # shellcheck disable=SC2046
    kill -KILL $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
done <"$dir/.netns"
rm -f "$dir/.netns"
[ "$keep" = 1 ] || rm -rf "$dir"
exit 0
