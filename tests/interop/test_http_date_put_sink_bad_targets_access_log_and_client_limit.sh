#!/usr/bin/env bash
# `berth http` as its neighbours behave:
#   - every response has Date in IMF-fixdate (RFC 9110 §6.6.1, §5.6.7);
#   - PUT /sink is accepted like POST (length and SHA-256 of the body);
#     a 405 elsewhere names both in Allow;
#   - a NUL or another control byte in the request target is 400, not
#     served as the path before it ("GET /\0abc" was served as "/");
#   - --access-log FILE writes one Common Log Format line per response;
#   - 300 connections at once from one client (what wrk -c300 opens) are
#     all answered under the default per-client limit;
#   - over --max-conns-per-client, refusals are logged while the server
#     runs (not only at exit).
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt4
it_berth_start srv http --port 80 --access-log "$IT_DIR/access.log"
url=http://$IT_BERTH

head=$(it_ns curl -sS -D - -o /dev/null --max-time 10 "$url/") || it_fail "GET / failed"
date_re='^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT'$'\r''$'
printf '%s\n' "$head" | grep -Eq "$date_re" || it_fail "no IMF-fixdate Date header in:"$'\n'"$head"
d=$(printf '%s\n' "$head" | sed -n 's/^Date: \(.*\)\r$/\1/p')
skew=$(($(date +%s) - $(date -d "$d" +%s)))
[ "${skew#-}" -le 5 ] || it_fail "Date '$d' is $skew s off the clock"
it_log "Date: $d"

head -c 100000 /dev/urandom >"$IT_DIR/body"
want="100000 $(sha256sum <"$IT_DIR/body" | cut -d' ' -f1)"
got=$(it_ns curl -sS --max-time 10 -T "$IT_DIR/body" "$url/sink") || it_fail "PUT /sink failed"
[ "$got" = "$want" ] || it_fail "PUT /sink answered '$got', want '$want'"
allow=$(it_ns curl -sS -D - -o /dev/null -X DELETE --max-time 10 "$url/sink" | tr -d '\r' | grep '^Allow:' || true)
[ "$allow" = "Allow: POST, PUT" ] || it_fail "DELETE /sink: '$allow', want 'Allow: POST, PUT'"
it_log "PUT /sink: $got"

for target in '/\x00abc' '/a\x01b' '/a\x7fb' '/\tx'; do
    st=$(it_peer raw-request --host "$IT_BERTH" --data "GET $target HTTP/1.1\r\nHost: x\r\n\r\n") ||
        it_fail "request with target $target failed"
    [ "${st#HTTP/1.1 400 }" != "$st" ] || it_fail "target '$target' answered '$st', want 400"
done
it_log "control bytes in the target: 400"

grep -Eq '^198\.18\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9:]{8} \+0000\] "GET / HTTP/1\.1" 200 [0-9]+$' "$IT_DIR/access.log" ||
    it_fail "no Common Log Format line for GET / in the access log:"$'\n'"$(cat "$IT_DIR/access.log")"
grep -q '"PUT /sink HTTP/1.1" 200 ' "$IT_DIR/access.log" || it_fail "no access log line for PUT /sink"
grep -q '" 400 ' "$IT_DIR/access.log" || it_fail "no access log line for the 400s"
it_log "access log: $(wc -l <"$IT_DIR/access.log") lines"

out=$(IT_TIMEOUT=120 it_peer many-conns --host "$IT_BERTH" --count 300) || it_fail "300 connections: client failed"
[ "$out" = "300 0" ] || it_fail "300 connections from one client under the default limit: answered/failed = $out"
it_log "300 connections at once from one client: all answered"
it_berth_stop srv

it_berth_start lim http --port 80 --max-conns-per-client 4
out=$(IT_TIMEOUT=120 it_peer many-conns --host "$IT_BERTH" --count 7) || it_fail "7 connections: client failed"
[ "$out" = "4 3" ] || it_fail "7 connections over a limit of 4: answered/failed = $out, want '4 3'"
for ((i = 0; i < 50; i++)); do
    grep -q 'refused [0-9]* connections* from 198.18.0.1' "$IT_DIR/lim.log" && break
    sleep 0.1
done
grep -q 'refused [0-9]* connections* from 198.18.0.1 (over --max-conns-per-client 4)' "$IT_DIR/lim.log" ||
    it_fail "refusals not logged while running:"$'\n'"$(cat "$IT_DIR/lim.log")"
it_log "limit 4: $(grep -m1 refused "$IT_DIR/lim.log")"
it_berth_stop lim
it_log "PASS"
