#!/usr/bin/env bash
# Unmodified redis (its own epoll event loop, TCP_NODELAY, keepalive
# options) on berth through `berth run`: the kernel's redis-benchmark
# drives redis-server on berth (10 parallel clients, SET and GET), a 1 MiB
# value stored from the kernel comes back intact; then redis-cli on berth
# against a kernel redis-server stores and reads a 1 MiB value; the same
# again with 2 % loss on both berth links.
source "$(dirname "$0")/lib.sh"
px_setup
px_need redis-server redis-server
px_need redis-tools redis-cli redis-benchmark
head -c 786432 /dev/urandom | base64 -w0 >"$IT_DIR/blob" # 1 MiB of text
blob_sha=$(px_sha "$IT_DIR/blob")
redis_args=(--bind 0.0.0.0 --save "" --appendonly no --protected-mode no
    --daemonize no --dir "$IT_DIR")

# blob_roundtrip WHAT CLI...: SET the blob with CLI, GET it back: intact.
blob_roundtrip() {
    local what=$1
    shift
    "$@" -x set blob <"$IT_DIR/blob" >/dev/null || it_fail "$what: SET failed"
    "$@" --raw get blob >"$IT_DIR/got" || it_fail "$what: GET failed"
    # --raw ends the value with a newline.
    [ "$(stat -c %s "$IT_DIR/got")" -eq $(($(stat -c %s "$IT_DIR/blob") + 1)) ] ||
        it_fail "$what: GET returned $(stat -c %s "$IT_DIR/got") bytes"
    truncate -s "$(stat -c %s "$IT_DIR/blob")" "$IT_DIR/got"
    [ "$(px_sha "$IT_DIR/got")" = "$blob_sha" ] || it_fail "$what: the value differs"
}

# benchmark N: the kernel's redis-benchmark against berth; every request
# must have been served (the server's command count).
benchmark() {
    local before after
    before=$(it_ns redis-cli -h "$IT_BERTH" info stats | tr -d '\r' |
        awk -F: '$1 == "total_commands_processed" { print $2 }')
    it_ns redis-benchmark -h "$IT_BERTH" -c 10 -n "$1" -t set,get -q \
        >"$IT_DIR/bench.out" 2>&1 || it_fail "redis-benchmark failed: $(tail -c 300 "$IT_DIR/bench.out")"
    after=$(it_ns redis-cli -h "$IT_BERTH" info stats | tr -d '\r' |
        awk -F: '$1 == "total_commands_processed" { print $2 }')
    [ $((after - before)) -ge $((2 * $1)) ] ||
        it_fail "redis on berth processed $((after - before)) commands, expected at least $((2 * $1))"
}

it_bg srv "$BERTH" run --tun "$IT_TUN" --ctl "$(it_ctl srv)" -- \
    redis-server --port 6379 "${redis_args[@]}"
it_berth_wait srv
benchmark 20000
blob_roundtrip "kernel redis-cli -> redis on berth" it_ns redis-cli -h "$IT_BERTH"
it_log "redis-server on berth: 40000 benchmark requests, 1 MiB value intact"

it_bg ksrv redis-server --port 6380 "${redis_args[@]}" --dbfilename k.rdb
px_wait_listen 6380
# The client's berth needs a TUN and subnet of its own next to the server's.
client_net="--tun bt1 --addr 198.18.1.2 --peer 198.18.1.1/24"
PX_RUN_OPTS=$client_net blob_roundtrip "redis-cli on berth -> kernel redis" \
    px_run redis-cli -h 198.18.1.1 -p 6380
it_log "redis-cli on berth: 1 MiB value intact"

it_ctl_cmd srv impair loss=2%,seed=9 >/dev/null || it_fail "impair failed"
benchmark 2000
blob_roundtrip "kernel redis-cli -> redis on berth, 2 % loss" it_ns redis-cli -h "$IT_BERTH"
PX_RUN_OPTS="$client_net --impair loss=2%,seed=10" blob_roundtrip \
    "redis-cli on berth -> kernel redis, 2 % loss" px_run redis-cli -h 198.18.1.1 -p 6380
it_log "with 2 % loss: 4000 benchmark requests, 1 MiB values intact both ways"
px_stop srv INT 0
it_log "PASS"
