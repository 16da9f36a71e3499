# shellcheck shell=bash
# Shared setup of the `berth run` tests (tests/posix/test_*.sh): the interop
# tests' lib.sh (namespace, processes by PID, cleanup), plus the Debian
# programs these tests run unmodified and a few helpers. CTest runs each as
#   bash tests/posix/test_X.sh /path/to/berth
# shellcheck source=../interop/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
PX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's python3 (not a developer's pyenv shim): the program under test.
PX_PY=/usr/bin/python3
[ -x "$PX_PY" ] || PX_PY=$(command -v python3)

# px_setup: it_setup, plus the preload library next to berth.
px_setup() {
    it_setup
    [ -r "$(dirname "$BERTH")/libberth-preload.so" ] ||
        it_fail "libberth-preload.so not built next to $BERTH"
}

# px_run CMD...: `berth run --tun IT_TUN [--impair ...] -- CMD` in the
# namespace, bounded; PX_RUN_OPTS adds options before `--`.
px_run() {
    # shellcheck disable=SC2086
    it_ns "$BERTH" run --tun "$IT_TUN" ${PX_RUN_OPTS:-} -- "$@"
}

# px_wait_listen PORT: bounded (10 s) until a kernel socket listens on PORT.
px_wait_listen() {
    local i
    for ((i = 0; i < 100; i++)); do
        # (grep reads a variable: `ss | grep -q` fails under pipefail when
        # grep exits first and ss gets SIGPIPE)
        local out
        out=$(it_ns ss -Hltn "sport = :$1" 2>/dev/null) || true
        grep -q LISTEN <<<"$out" && return 0
        sleep 0.1
    done
    it_fail "nothing listens on port $1 after 10 s"
}

# px_file PATH MIB: a random file of MIB MiB; prints its SHA-256.
px_file() {
    head -c "$(($2 * 1048576))" /dev/urandom >"$1"
    sha256sum "$1" | cut -d' ' -f1
}

# px_sha PATH: the SHA-256 of a file.
px_sha() { sha256sum "$1" | cut -d' ' -f1; }

# px_stop LABEL SIGNAL OK-STATUSES...: signal a program started with it_bg;
# it must end within 10 s with one of the statuses (e.g. iperf3 says 1
# after SIGINT, as on the kernel).
px_stop() {
    local label=$1 sig=$2 rc=0 s
    shift 2
    it_stop_pid "${IT_PID_OF[$label]}" "$sig" 10 || rc=$?
    [ "$rc" -ne 124 ] || it_fail "$label still running 10 s after SIG$sig"
    for s in "$@"; do [ "$rc" -eq "$s" ] && return 0; done
    it_fail "$label exited with status $rc after SIG$sig (expected $*)"
}

# px_need PACKAGE PROGRAM...: the Debian programs a test runs; a missing
# one skips the test (exit 77) naming the package scripts/install-deps.sh
# installs (wget, nginx-light, redis-server, redis-tools, iperf3, wrk).
px_need() {
    local pkg=$1 prog
    shift
    for prog in "$@"; do
        command -v "$prog" >/dev/null ||
            it_skip "$prog is not installed (Debian package $pkg; scripts/install-deps.sh)"
    done
}
