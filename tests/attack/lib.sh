# shellcheck shell=bash
# Shared setup of the attack suite: the interop
# tests' namespace, TUN and berth helpers (tests/interop/lib.sh), plus the
# hostile peers of hostile.py, which write forged and malformed packets
# straight onto the TUN from the kernel side. Every test asserts on
# counters (`berth stat`) and outcomes, never on speed, and is bounded in
# time. CTest runs each as `bash tests/attack/test_X.sh /path/to/berth`.
source "$(dirname "${BASH_SOURCE[0]}")/../interop/lib.sh"
AT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# at_hostile ARGS...: run hostile.py in the namespace (bounded by it_ns).
at_hostile() { it_ns python3 "$AT_HERE/hostile.py" --tun "$IT_TUN" --dst "$IT_BERTH" "$@"; }

# at_value OUTPUT KEY: the value on hostile.py's `KEY value` line.
at_value() {
    local v
    v=$(printf '%s\n' "$1" | awk -v k="$2" '$1 == k { print $2; exit }')
    [ -n "$v" ] || it_fail "hostile.py printed no '$2':"$'\n'"$1"
    echo "$v"
}

# at_drop LABEL REASON: berth's drop count for a reason (0 if not shown).
at_drop() {
    local out n
    out=$(it_stat "$1") || it_fail "berth stat ($1) failed"
    n=$(printf '%s\n' "$out" | awk -v r="$2" '$2 == r { print $1; exit }')
    echo "${n:-0}"
}

# at_curls N SECONDS: N sequential curls of /bytes/1000 from the kernel,
# each with SECONDS to complete; prints how many succeeded.
at_curls() {
    local n=$1 secs=$2 i ok=0 code
    for ((i = 0; i < n; i++)); do
        code=$(it_ns curl -sS --max-time "$secs" -o /dev/null -w '%{http_code}' \
            "http://$IT_BERTH/bytes/1000" 2>/dev/null || true)
        [ "$code" = 200 ] && ok=$((ok + 1))
    done
    echo "$ok"
}
