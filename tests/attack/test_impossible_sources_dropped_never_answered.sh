#!/usr/bin/env bash
# SYNs and an ACK from sources that cannot send (255.255.255.255, 224/4
# groups, 0/8, 127/8 on a non-loopback link) and a LAND SYN (our own
# address and port) are dropped with a reason and never answered: no
# SYN-ACK, no RST, nothing in the SYN queue (RFC 1122 §3.2.1.3, RFC 9293
# §3.10.7.2 third). A legitimate client is served afterwards.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80

out=$(at_hostile sources) || it_fail "hostile.py sources: $out"
sent=$(at_value "$out" sent)
land=$(at_value "$out" land)
answers=$(at_value "$out" answers)
[ "$answers" -eq 0 ] || it_fail "berth answered $answers impossible sources"
bad=$(it_counter srv "segments dropped for an impossible source")
[ "$bad" -eq "$sent" ] || it_fail "berth counted $bad impossible sources, $sent sent"
[ "$(at_drop srv LAND)" -eq "$land" ] || it_fail "LAND drops: $(at_drop srv LAND), expected $land"
[ "$(at_drop srv BAD_SOURCE)" -eq $((sent - land)) ] ||
    it_fail "BAD_SOURCE drops: $(at_drop srv BAD_SOURCE), expected $((sent - land))"
[ "$(it_counter srv "passive connection openings")" -eq 0 ] || it_fail "a connection was opened"
rows=$(it_ss srv | tail -n +2 | grep -v '^LISTEN ' || true)
[ -z "$rows" ] || it_fail "berth holds records after impossible sources:"$'\n'"$rows"
[ "$(it_counter srv "resets sent")" -eq 0 ] || it_fail "berth sent a RST"

ok=$(at_curls 1 10)
[ "$ok" -eq 1 ] || it_fail "a legitimate curl failed afterwards"
it_log "$sent impossible sources dropped ($land LAND), none answered; service intact"
it_berth_stop srv
it_log "PASS"
