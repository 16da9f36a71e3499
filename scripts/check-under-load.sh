#!/usr/bin/env bash
# Runs `make check` while a bounded CPU hog keeps every core busy, as a CI
# runner or a laptop doing other work would: the test suite must not
# depend on how fast the machine is. The hog is stress-ng (Debian package
# stress-ng) when installed, otherwise a busy shell loop per worker; either
# way it stops by itself after HOG_LIMIT seconds and is killed by its PID
# when make check ends. Prints make check's time and exits with its status.
#
#   scripts/check-under-load.sh            # 2 workers (default), 1 h limit
#   HOG_WORKERS=4 HOG_LIMIT=1800 scripts/check-under-load.sh
#   scripts/check-under-load.sh JOBS=1     # arguments go to make check
set -u

cd "$(dirname "$0")/.."
workers=${HOG_WORKERS:-2}
limit=${HOG_LIMIT:-3600}
pids=()

stop_hogs() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    pids=()
}
trap stop_hogs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if command -v stress-ng >/dev/null; then
    stress-ng --cpu "$workers" --timeout "${limit}s" --quiet &
    pids+=($!)
    hog="stress-ng --cpu $workers"
else
    # A subshell per worker that spins until its deadline (bash's SECONDS).
    for ((w = 0; w < workers; w++)); do
        (
            end=$((SECONDS + limit))
            while ((SECONDS < end)); do :; done
        ) &
        pids+=($!)
    done
    hog="$workers busy shell loops"
fi
echo "check-under-load: $hog (at most ${limit} s), pids ${pids[*]}"

t0=$(date +%s.%N)
rc=0
make check "$@" || rc=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }')
stop_hogs
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "check-under-load: make check exited $rc after ${secs} s under $hog (load average now $load)"
exit "$rc"
