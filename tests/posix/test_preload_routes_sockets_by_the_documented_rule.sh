#!/usr/bin/env bash
# The preload library's routing rule and the fork/exec rule (README,
# "Unmodified programs"), checked from inside a python3 program under
# `berth run` (preload_rules.py): IPv4 TCP to the kernel side goes through
# berth, loopback is handed to the kernel on the same fd with its options,
# UDP to loopback and IPv6 bound to ::1 are handed to the kernel too (the
# rest of the rule for IPv6 and UDP: test_ipv6_*, test_udp_*),
# close_range closes berth sockets, a
# fork()ed child gets EBADF on inherited berth sockets, and a program the
# owner starts uses the kernel.
source "$(dirname "$0")/lib.sh"
px_setup
it_bg ksrv "$PX_PY" -m http.server -b 0.0.0.0 -d "$IT_DIR" 8080
px_wait_listen 8080
PX_BERTH=$BERTH PX_CTL=$IT_DIR/rules.sock PX_RUN_OPTS="--ctl $IT_DIR/rules.sock" \
    px_run "$PX_PY" "$PX_HERE/preload_rules.py" >"$IT_DIR/rules.out" 2>&1 ||
    it_fail "preload_rules.py: $(cat "$IT_DIR/rules.out")"
cat "$IT_DIR/rules.out"
it_log "PASS"
