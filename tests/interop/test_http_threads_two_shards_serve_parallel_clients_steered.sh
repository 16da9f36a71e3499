#!/usr/bin/env bash
# `berth http --threads 2`: two shards over a multiqueue TUN device with
# berth's eBPF steering. Kernel clients: 240 short HTTP/1.0 connections
# from 12 parallel curls (each checked: status 200, the /bytes pattern),
# then 8 keep-alive connections of 20 requests each in parallel. Every
# answer is intact; both shards served connections; no packet was read by
# a shard that does not own its flow (the steering counter is 0); `berth
# ss` shows the shards' listeners as one row and `stat` adds the shards up.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80 --threads 2 --msl 600s

if grep -q "running one shard" "$IT_DIR/srv.log"; then
    it_skip "the kernel refused the multiqueue TUN or the steering program: $(grep 'running one shard' "$IT_DIR/srv.log")"
fi
it_stat srv | grep -q '^Shards: 2 ' ||
    it_fail "berth stat does not show two shards:"$'\n'"$(it_stat srv | tail -n 8)"
listeners=$(it_ss srv state listening | grep -c '^LISTEN ' || true)
[ "$listeners" -eq 1 ] || it_fail "berth ss shows $listeners listener rows, expected the shards' copies as one"

sizes=(0 1 1460 2920 10000 65536)
for n in "${sizes[@]}"; do it_pattern_sha "$n" >"$IT_DIR/want.$n"; done

# One short connection per request; 12 at a time (bounded by xargs).
cat >"$IT_DIR/one.sh" <<'EOF'
#!/usr/bin/env bash
# one.sh DIR ADDR I: request I on a new connection, checked.
set -u
dir=$1 addr=$2 i=$3
sizes=(0 1 1460 2920 10000 65536)
n=${sizes[i % ${#sizes[@]}]}
out=$(curl -sS --http1.0 --max-time 20 -o "$dir/body.$i" -w '%{http_code} %{size_download}' \
    "http://$addr/bytes/$n") || { echo "request $i: curl failed: $out"; exit 1; }
[ "$out" = "200 $n" ] || { echo "request $i: got '$out', expected '200 $n'"; exit 1; }
got=$(sha256sum <"$dir/body.$i" | cut -d' ' -f1)
rm -f "$dir/body.$i"
[ "$got" = "$(cat "$dir/want.$n")" ] || { echo "request $i (/bytes/$n): body differs"; exit 1; }
EOF
chmod +x "$IT_DIR/one.sh"
t0=$(it_now)
seq 0 239 | IT_TIMEOUT=200 it_ns xargs -P 12 -n 1 "$IT_DIR/one.sh" "$IT_DIR" "$IT_BERTH" \
    >"$IT_DIR/short.log" 2>&1 || it_fail "short requests failed: $(head -n 5 "$IT_DIR/short.log")"
it_log "240 short connections (12 in parallel) in $(it_since "$t0") s, all intact"

# Keep-alive: 8 connections at once, 20 requests each (curl reuses its
# connection for the URLs of one invocation).
pids=()
for ((k = 0; k < 8; k++)); do
    urls=()
    for ((j = 0; j < 20; j++)); do
        urls+=(-o /dev/null "http://$IT_BERTH/bytes/${sizes[(k + j) % ${#sizes[@]}]}")
    done
    it_ns curl -sS --max-time 60 -w '%{http_code} %{num_connects} %{size_download}\n' "${urls[@]}" \
        >"$IT_DIR/ka.$k" 2>&1 &
    pids+=($!)
done
for ((k = 0; k < 8; k++)); do
    wait "${pids[k]}" || it_fail "keep-alive client $k failed: $(tail -n 3 "$IT_DIR/ka.$k")"
    ok=$(grep -c '^200 ' "$IT_DIR/ka.$k" || true)
    conns=$(awk '{ s += $2 } END { print s + 0 }' "$IT_DIR/ka.$k")
    [ "$ok" -eq 20 ] && [ "$conns" -eq 1 ] ||
        it_fail "keep-alive client $k: $ok of 20 answered 200 on $conns connections (expected 1)"
done
it_log "8 keep-alive connections x 20 requests, all 200 on one connection each"

st=$(it_stat srv)
printf '%s\n' "$st" | sed -n '/^Shards:/,$p'
foreign=$(printf '%s\n' "$st" | awk '/packets read on a shard that does not own them/ { print $1 }')
[ "$foreign" = 0 ] || it_fail "$foreign packets were read by a shard that does not own their flow"
opens=$(it_counter srv "passive connection openings")
[ "$opens" -eq 248 ] || it_fail "berth counted $opens passive openings, expected 248"
for s in 0 1; do
    n=$(printf '%s\n' "$st" | awk -v s="shard $s:" 'index($0, s) { print $(NF - 7) }')
    [ -n "$n" ] && [ "$n" -gt 0 ] || it_fail "shard $s served no connection:"$'\n'"$st"
done
it_berth_settled srv 10
it_berth_stop srv
grep -q "stopped: 400 requests on 248 connections" "$IT_DIR/srv.log" ||
    it_fail "berth's summary: $(grep stopped "$IT_DIR/srv.log")"
it_log "PASS"
