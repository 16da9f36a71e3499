#!/usr/bin/env bash
# A forged peer (198.18.0.50, its own TCP in hostile.py) announces MSS 48,
# downloads 200 kB from `berth http` and answers every data segment with
# hostile SACK blocks: beyond SND.NXT, below SND.UNA, reversed, one byte
# wide, overlapping, wrapped around 2^32, random; then resets. berth never
# sends more than its 64-byte floor per segment to it (a tiny MSS cannot
# multiply our segments further), survives (ASan/UBSan in CI), drops the
# connection on the RST, and serves a normal client afterwards.
source "$(dirname "$0")/lib.sh"
it_setup
# --no-offload: hostile.py's own TCP reads berth's segments off the TUN as
# berth wrote them, and must see MSS-sized ones, not TSO super-segments.
it_berth_start srv http --port 80 --no-offload

out=$(at_hostile sack --seconds 8 --bytes 200000) || it_fail "hostile.py sack: $out"
segs=$(at_value "$out" data_segments)
big=$(at_value "$out" largest_payload)
acks=$(at_value "$out" hostile_acks)
inorder=$(at_value "$out" bytes_in_order)
it_log "MSS 48 peer: $segs data segments (largest $big bytes), $acks hostile SACK ACKs, $inorder bytes in order"
[ "$segs" -ge 10 ] || it_fail "only $segs data segments reached the hostile peer"
[ "$(it_counter srv "connection resets received")" -ge 1 ] ||
    it_fail "the hostile peer's RST did not end its connection"
rows=$(it_ss srv | tail -n +2 | grep -F '198.18.0.50:' | grep -v '^TIME-WAIT ' || true)
[ -z "$rows" ] || it_fail "the hostile peer's connection is still there:"$'\n'"$rows"
ok=$(at_curls 3 10)
[ "$ok" -eq 3 ] || it_fail "only $ok of 3 curls succeeded afterwards"
it_berth_stop srv
it_log "PASS"
