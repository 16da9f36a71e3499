#!/usr/bin/env bash
# An unmodified python asyncio echo server (epoll selector, non-blocking
# sockets; asyncio_echo.py) on berth through `berth run`: four kernel
# clients at once each send 4 MiB, half-close, and must read all of it
# back; then two more with 2 % loss set through the control socket.
source "$(dirname "$0")/lib.sh"
px_setup
it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    "$PX_PY" "$PX_HERE/asyncio_echo.py" 7007
it_berth_wait srv
it_log "asyncio echo server on berth, pid ${IT_PID_OF[srv]}"

# clients N BYTES: N concurrent half-closing echo clients; each must pass.
clients() {
    local n=$1 bytes=$2 i pids=() rc=0
    for ((i = 0; i < n; i++)); do
        it_peer echo-halfclose --host "$IT_BERTH" --port 7007 --bytes "$bytes" \
            >"$IT_DIR/client$i.log" 2>&1 &
        pids+=($!)
        IT_PIDS+=($!)
    done
    for i in "${!pids[@]}"; do
        it_wait_pid "${pids[$i]}" 120 || {
            rc=1
            echo "client $i: $(cat "$IT_DIR/client$i.log")" >&2
        }
    done
    return "$rc"
}

clients 4 4194304 || it_fail "an echo client failed"
it_log "4 x 4 MiB echoed intact"
it_ctl_cmd srv impair loss=2%,seed=5 >/dev/null || it_fail "impair failed"
clients 2 2097152 || it_fail "an echo client failed with 2 % loss"
it_log "2 x 2 MiB echoed intact with 2 % loss"
it_ctl_cmd srv impair off >/dev/null
it_berth_settled srv 10
it_berth_stop srv
it_log "PASS"
