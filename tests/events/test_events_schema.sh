#!/bin/bash
# The event log (docs/events.md) of a real run validates against its JSON
# Schema (docs/events.schema.json): `berth demo --memlink` with loss, so
# that drops, retransmissions, recoveries and SACK all appear. Then the log
# holds every kind of event, one connection's states run from its first
# to CLOSED or TIME-WAIT, and a line that breaks the schema is caught.
# usage: test_events_schema.sh BERTH SOURCE_DIR
# Exit 77 (skipped) without python3's jsonschema (Debian python3-jsonschema).
set -u
berth=${1:?usage: test_events_schema.sh BERTH SOURCE_DIR}
src=${2:?}
python3 -c 'import jsonschema' 2>/dev/null || {
    echo "skipped: no python3-jsonschema"
    exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
timeout 120 "$berth" demo --memlink --impair loss=3%,seed=2 \
    --pcap "$tmp/run.pcap" >"$tmp/out.txt" 2>&1 || {
    cat "$tmp/out.txt"
    echo "FAIL: berth demo --memlink"
    exit 1
}
grep -q "Event log: $tmp/run.events" "$tmp/out.txt" || {
    echo "FAIL: the demo does not say where its event log is"
    exit 1
}
# The log is created as captures are: never through a symlink.
echo keep >"$tmp/victim"
ln -s "$tmp/victim" "$tmp/link.events"
timeout 120 "$berth" demo --memlink --pcap "$tmp/l.pcap" \
    --events "$tmp/link.events" >"$tmp/out2.txt" 2>&1
grep -q "no event log" "$tmp/out2.txt" && [ "$(cat "$tmp/victim")" = keep ] || {
    cat "$tmp/out2.txt"
    echo "FAIL: --events wrote through a symlink"
    exit 1
}
timeout 120 python3 - "$src/docs/events.schema.json" "$tmp/run.events" <<'PY'
import json, sys
import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
lines = open(sys.argv[2]).read().splitlines()
fail = 0
names = {}
states = {}
for i, line in enumerate(lines, 1):
    ev = json.loads(line)
    errs = list(v.iter_errors(ev))
    if errs:
        fail += 1
        if fail <= 5:
            print(f"FAIL line {i}: {errs[0].message}\n  {line[:200]}")
    if i == 1:
        if ev.get("schema") != "berth-events/1":
            print("FAIL: the first line is not the header")
            fail += 1
        continue
    names[ev["name"]] = names.get(ev["name"], 0) + 1
    if ev["name"] == "tcp:state" and "conn" in ev:
        prev = states.get(ev["conn"])
        if prev is not None and prev != ev["data"]["from"]:
            print(f"FAIL line {i}: conn {ev['conn']} was {prev}, "
                  f"not {ev['data']['from']}")
            fail += 1
        states[ev["conn"]] = ev["data"]["to"]
want = ["tcp:conn", "tcp:state", "tcp:segment_sent", "tcp:segment_received",
        "tcp:rtt", "tcp:cc", "tcp:recovery", "tcp:sack", "tcp:timer",
        "tcp:app"]
for n in want:
    if n not in names:
        print(f"FAIL: no {n} event in the log")
        fail += 1
ends = {"CLOSED", "TIME-WAIT"}
for c, s in states.items():
    if s not in ends:
        print(f"FAIL: conn {c} ends in {s}")
        fail += 1
# The schema must catch a broken line (a test that cannot fail is none).
bad = json.loads(lines[-1])
bad["name"] = "tcp:state"
bad["data"] = {"from": "ESTABLISHED", "to": "NOT-A-STATE", "cause": "x"}
if not list(v.iter_errors(bad)):
    print("FAIL: the schema accepts an unknown state")
    fail += 1
print(f"{len(lines)} lines, {len(names)} kinds: " +
      ", ".join(f"{k} {n}" for k, n in sorted(names.items())))
sys.exit(1 if fail else 0)
PY
