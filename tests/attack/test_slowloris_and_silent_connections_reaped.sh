#!/usr/bin/env bash
# Slowloris and silent connections against `berth http` (idle timeout 3 s):
# 50 connections that never send a byte and 50 that send a request head
# one byte per second, never finishing it. A trickle is not progress: all
# 100 are closed by the idle timeout, none lives past a bounded time, and
# legitimate curls during the attack are all served.
source "$(dirname "$0")/lib.sh"
it_setup
it_berth_start srv http --port 80 --idle-timeout 3s

it_bg loris python3 "$AT_HERE/hostile.py" --dst "$IT_BERTH" slowloris --conns 50 --seconds 25
loris=$IT_LAST_PID
sleep 1
ok=$(at_curls 10 10)
rc=0
it_wait_pid "$loris" 60 || rc=$?
[ "$rc" -eq 0 ] || it_fail "hostile.py slowloris exited with $rc: $(cat "$IT_DIR/loris.log")"
out=$(cat "$IT_DIR/loris.out")
silent=$(at_value "$out" closed_silent)
slow=$(at_value "$out" closed_slow)
life=$(at_value "$out" longest_life_ms)
it_log "closed: $silent/50 silent, $slow/50 slowloris, longest life $life ms; curls $ok/10"
[ "$ok" -eq 10 ] || it_fail "only $ok of 10 curls during the attack"
[ "$silent" -eq 50 ] || it_fail "$((50 - silent)) silent connections never closed"
[ "$slow" -eq 50 ] || it_fail "$((50 - slow)) slowloris connections never closed"
[ "$life" -le 15000 ] || it_fail "a connection lived $life ms with an idle timeout of 3 s"
it_berth_settled srv 10
it_berth_stop srv
grep -qE '\(0 refused, 100 reaped\)' "$IT_DIR/srv.log" ||
    it_fail "berth http did not reap exactly 100: $(tail -n 1 "$IT_DIR/srv.log")"
it_log "PASS"
