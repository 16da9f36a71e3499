#!/usr/bin/env bash
# `berth demo` teaches what it promises:
#   - with --impair (the issue's loss=20%,seed=3, whose first connection
#     lost only a pure ACK), the ladder drawn shows a lost segment and the
#     retransmission of that same segment, and says which connection it is;
#   - in TUN mode berth's own rows carry times (SYN-RECEIVED, accept(),
#     its SYN,ACK), not only the kernel's;
#   - it ends with what to try next (berth http, berth ss -i, the capture);
#   - --help lists --pcap and --msl once each.
source "$(dirname "$0")/lib.sh"
it_setup

rc=0
(cd "$IT_DIR" && TMPDIR=$IT_DIR timeout 120 "$BERTH" demo --memlink --impair loss=20%,seed=3) \
    >"$IT_DIR/mem.out" 2>"$IT_DIR/mem.log" || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth demo --memlink --impair exited $rc: $(tail -n 3 "$IT_DIR/mem.log")"
python3 - "$IT_DIR/mem.out" <<'PY' || it_fail "the impaired demo's ladder shows no lost segment and its retransmission"
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^Connection (\d+) of (\d+) \(chosen: it shows a lost segment and its retransmission\):$", text, re.M)
assert m, "no 'Connection N of M (chosen: ...)' line"
ladder = text[m.end():text.index("What the client got")]
rows = ladder.splitlines()
# An arrow row, then its details row: "[lost]" on a segment with data or
# SYN/FIN; later the same arrow label with "[retransmission]".
def label(r):
    return re.sub(r"[-<>X|]+", " ", r.split("|")[1]).split()
lost = [i for i in range(1, len(rows)) if "[lost]" in rows[i] and
        re.search(r"len=|SYN|FIN", rows[i - 1])]
assert lost, "no lost segment with data, SYN or FIN"
for i in lost:
    want = label(rows[i - 1])
    for j in range(i + 1, len(rows)):
        if "[retransmission]" in rows[j] and label(rows[j - 1])[:2] == want[:2] and \
                [w for w in label(rows[j - 1]) if w.startswith("seq=")] == [w for w in want if w.startswith("seq=")]:
            print("lost:", " ".join(want), "-> retransmitted")
            sys.exit(0)
sys.exit("no retransmission of a lost segment")
PY
grep -q '^Try next:' "$IT_DIR/mem.out" && grep -q 'berth ss -i' "$IT_DIR/mem.out" &&
    grep -q 'berth http' "$IT_DIR/mem.out" && grep -q 'wireshark .*demo.pcap' "$IT_DIR/mem.out" ||
    it_fail "no 'Try next' with berth http, berth ss -i and the capture"
it_log "memlink, loss=20%,seed=3: $(grep -m1 '^Connection' "$IT_DIR/mem.out")"

rc=0
(cd "$IT_DIR" && TMPDIR=$IT_DIR timeout 120 "$BERTH" demo) >"$IT_DIR/tun.out" 2>"$IT_DIR/tun.log" || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth demo (TUN) exited $rc: $(tail -n 3 "$IT_DIR/tun.log")"
grep -q "over a TUN device" "$IT_DIR/tun.out" || it_skip "the demo did not take the TUN path here: $(head -n 2 "$IT_DIR/tun.out")"
for what in 'SYN-RECEIVED$' 'accept\(\)$' 'SYN,ACK seq=0 ack=1'; do
    grep -E "$what" "$IT_DIR/tun.out" | head -n 1 | grep -Eq '^ *[0-9]+\.[0-9]{3} ' ||
        it_fail "berth's row '$what' has no time: $(grep -E -m1 "$what" "$IT_DIR/tun.out")"
done
grep -q '^Try next:' "$IT_DIR/tun.out" || it_fail "TUN demo: no 'Try next'"
it_log "TUN: berth's rows have times"

"$BERTH" demo --help >"$IT_DIR/help.out"
for o in --pcap --msl; do
    [ "$(grep -c -- "^  $o " "$IT_DIR/help.out")" -eq 1 ] || it_fail "demo --help lists $o $(grep -c -- "^  $o " "$IT_DIR/help.out") times"
done
it_log "PASS"
