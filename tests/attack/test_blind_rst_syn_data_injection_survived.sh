#!/usr/bin/env bash
# RFC 5961 blind injection from off path: an attacker who knows a kernel
# client's 4-tuple but not its sequence numbers sprays forged RSTs, SYNs
# and data segments over the whole sequence space, one per 64 KiB step, so
# that one of each lands in berth's receive window. An in-window RST that
# is not exact, any SYN, and data with an unacceptable ACK all draw (rate
# limited) challenge ACKs and change nothing (RFC 5961 §3.2, §4.2, §5.2):
# the client's connection then carries 5 more requests intact.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80 --idle-timeout 120s # the sprays take a while

it_bg victim python3 "$AT_HERE/hostile.py" --dst "$IT_BERTH" victim --go "$IT_DIR/go"
victim=$IT_LAST_PID
port=""
for ((i = 0; i < 100; i++)); do
    port=$(awk '$1 == "port" { print $2 }' "$IT_DIR/victim.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || it_fail "the victim client did not connect"
it_log "victim connection 198.18.0.1:$port"

ch0=$(it_counter srv "challenge ACKs sent")
declare -A delivered
for kind in rst syn data; do
    out=$(at_hostile blind --kind "$kind" --victim-port "$port") ||
        it_fail "hostile.py blind $kind: $out"
    sent=$(at_value "$out" sent)
    lost=$(at_value "$out" lost_at_device)
    delivered[$kind]=$((sent - lost))
    it_log "blind $kind: $sent forged segments, $lost lost at the device"
    sleep 0.6 # past the per-connection limit: the next kind may be answered
done
touch "$IT_DIR/go"
rc=0
it_wait_pid "$victim" 60 || rc=$?
[ "$rc" -eq 0 ] || it_fail "the victim's connection did not survive: $(cat "$IT_DIR/victim.log")"

ch=$(($(it_counter srv "challenge ACKs sent") - ch0))
limited=$(it_counter srv "ACKs to out-of-window or invalid segments not sent")
resets=$(it_counter srv "connection resets received")
it_log "challenge ACKs $ch, answers suppressed $limited, resets $resets"
[ "$resets" -eq 0 ] || it_fail "$resets connections reset by forged RSTs"
# A forged SYN meets PAWS first (RFC 7323 §5.3; the attacker guesses a
# TSval, so about half fail it), then the window: only one of the spray's
# steps lands in it, and if its guessed TSval passed PAWS it is taken for a
# challenge (RFC 5961 §4.2), never a reset. So at most a few SYNs are
# challenged (0 when the one in-window guess failed PAWS: half the time),
# and about half of all the guesses fail PAWS.
syns=$(at_drop srv SYN_CHALLENGE)
paws=$(at_drop srv PAWS_REJECTED)
[ "$syns" -le 4 ] && [ "$paws" -ge $((${delivered[syn]} / 4)) ] ||
    it_fail "$syns SYNs challenged and $paws failed PAWS, ${delivered[syn]} delivered"$'\n'"$(it_stat srv)"
# Answers: a handful of challenge ACKs; the rest suppressed per connection.
[ "$ch" -ge 1 ] && [ "$ch" -le 20 ] || it_fail "$ch challenge ACKs for three sprays"
[ "$limited" -ge $((${delivered[syn]} - 20)) ] ||
    it_fail "only $limited answers suppressed: reflection is not rate limited"
it_berth_stop srv
it_log "PASS"
