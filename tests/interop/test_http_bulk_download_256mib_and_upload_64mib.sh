#!/usr/bin/env bash
# Kernel client -> berth server, bulk: GET /bytes/268435456 (256 MiB) with
# its SHA-256 compared with the pattern computed locally, and a 64 MiB POST
# /sink whose answer must carry the length and the SHA-256 of the file.
# Prints the throughput of both directions over the TUN.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80

down=268435456
want=$(it_pattern_sha "$down")
t0=$(it_now)
got=$(IT_TIMEOUT=150 it_ns curl -sS --max-time 140 "http://$IT_BERTH/bytes/$down" |
    sha256sum | cut -d' ' -f1) || it_fail "download of $down bytes failed"
secs=$(it_since "$t0")
[ "$got" = "$want" ] || it_fail "download of $down bytes: SHA-256 $got, expected $want"
it_log "download 256 MiB intact in $secs s: $(awk -v b=$down -v s="$secs" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }')"

up=67108864
head -c "$up" /dev/urandom >"$IT_DIR/upload"
want=$(sha256sum <"$IT_DIR/upload" | cut -d' ' -f1)
t0=$(it_now)
answer=$(IT_TIMEOUT=150 it_ns curl -sS --max-time 140 -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' \
    --data-binary "@$IT_DIR/upload" "http://$IT_BERTH/sink") ||
    it_fail "upload of $up bytes failed: $answer"
secs=$(it_since "$t0")
grep -qw "$up" <<<"$answer" && grep -qw "$want" <<<"$answer" ||
    it_fail "POST /sink answered '$answer', expected the length $up and SHA-256 $want"
it_log "upload 64 MiB intact in $secs s: $(awk -v b=$up -v s="$secs" 'BEGIN { printf "%.0f Mbit/s", b * 8 / s / 1e6 }')"

it_berth_settled srv 5
retrans=$(it_counter srv "segments retransmitted")
it_log "berth retransmitted $retrans segments on the clean link"
it_berth_stop srv
it_log "PASS"
