#!/usr/bin/env bash
# As root, berth creates no file through a symlink another user planted:
#   --pcap at a symlink (or at a second hard link of a file) is refused with
#   one line and exit 1; the link's target is untouched;
#   a symlink where the control socket goes is refused; target untouched;
#   `berth demo` as root writes its capture and control socket into a new
#   private directory (mkdtemp, 0700): a symlink at the old fixed name
#   /tmp/berth-demo.pcap ($TMPDIR here) is never followed, and afterwards
#   the demo still works for an ordinary user (nobody, via runuser or
#   setpriv) in the same $TMPDIR.
source "$(dirname "$0")/lib.sh"
it_setup
IT_TUN=bt3

victim=$IT_DIR/victim
echo precious >"$victim"
chmod 600 "$victim"
want=$(sha256sum <"$victim")
untouched() {
    [ "$(sha256sum <"$victim")" = "$want" ] && [ "$(stat -c %a "$victim")" = 600 ] ||
        it_fail "$1: the symlink's target was written"
}

# refused LABEL WHAT ARGS...: berth http with ARGS exits 1 with one line
# naming WHAT, quickly, and the victim is untouched.
refused() {
    local label=$1 what=$2 rc=0
    shift 2
    it_bg "$label" "$BERTH" http --port 80 --tun "$IT_TUN" "$@"
    it_wait_pid "$IT_LAST_PID" 20 || rc=$?
    [ "$rc" -eq 1 ] || it_fail "$label: berth http exited with $rc (want 1): $(cat "$IT_DIR/$label.log")"
    grep -q -- "$what" "$IT_DIR/$label.log" || it_fail "$label: no '$what' in: $(cat "$IT_DIR/$label.log")"
    [ "$(wc -l <"$IT_DIR/$label.log")" -eq 1 ] || it_fail "$label: more than one line: $(cat "$IT_DIR/$label.log")"
    untouched "$label"
    it_log "$label: refused ($(cat "$IT_DIR/$label.log"))"
}

ln -s "$victim" "$IT_DIR/planted.pcap"
refused pcap_symlink "symbolic link" --pcap "$IT_DIR/planted.pcap" --ctl "$IT_DIR/a.sock"
ln "$victim" "$IT_DIR/hard.pcap"
refused pcap_hardlink "other hard links" --pcap "$IT_DIR/hard.pcap" --ctl "$IT_DIR/b.sock"
rm "$IT_DIR/hard.pcap"
ln -s "$victim" "$IT_DIR/planted.sock"
refused ctl_symlink "not a socket" --ctl "$IT_DIR/planted.sock"

# The demo, as root (TUN story if possible), with a symlink at the old
# default name in its TMPDIR; the TMPDIR is world-writable and sticky,
# like /tmp.
tmp=$IT_DIR/tmp
mkdir -m 1777 "$tmp"
chmod 711 "$IT_DIR"
ln -s "$victim" "$tmp/berth-demo.pcap"
rc=0
TMPDIR=$tmp timeout 120 "$BERTH" demo >"$IT_DIR/demo-root.out" 2>"$IT_DIR/demo-root.log" || rc=$?
[ "$rc" -eq 0 ] || it_fail "berth demo as root exited with $rc: $(tail -n 5 "$IT_DIR/demo-root.log")"
untouched "demo as root"
dirs=("$tmp"/berth-demo-*)
[ "${#dirs[@]}" -eq 1 ] && [ -d "${dirs[0]}" ] || it_fail "demo as root: want one private directory in TMPDIR, found: ${dirs[*]}"
[ "$(stat -c '%a %U' "${dirs[0]}")" = "700 root" ] || it_fail "demo's directory is $(stat -c '%a %U' "${dirs[0]}"), want 700 root"
[ -s "${dirs[0]}/demo.pcap" ] || it_fail "demo as root: no capture in ${dirs[0]}"
grep -qF "${dirs[0]}/demo.pcap" "$IT_DIR/demo-root.out" || it_fail "demo as root does not name its capture ${dirs[0]}/demo.pcap"
it_log "demo as root: capture in ${dirs[0]} (700), symlink not followed"

# Then an ordinary user, in the same TMPDIR.
as_nobody=()
if command -v runuser >/dev/null; then
    as_nobody=(runuser -u nobody --)
elif command -v setpriv >/dev/null; then
    as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
if [ "${#as_nobody[@]}" -eq 0 ] || ! "${as_nobody[@]}" test -x "$BERTH"; then
    it_log "no runuser/setpriv, or nobody cannot run $BERTH: user run skipped"
else
    rc=0
    TMPDIR=$tmp timeout 120 "${as_nobody[@]}" env TMPDIR="$tmp" "$BERTH" demo \
        >"$IT_DIR/demo-user.out" 2>"$IT_DIR/demo-user.log" || rc=$?
    [ "$rc" -eq 0 ] || it_fail "berth demo as nobody after root's run exited with $rc: $(tail -n 5 "$IT_DIR/demo-user.log")"
    grep -q "cannot" "$IT_DIR/demo-user.log" && it_fail "demo as nobody complained: $(cat "$IT_DIR/demo-user.log")"
    untouched "demo as nobody"
    n=$(find "$tmp" -maxdepth 1 -name 'berth-demo-*' -user nobody -perm 700 | wc -l)
    [ "$n" -eq 1 ] || it_fail "demo as nobody: want its own 0700 directory in TMPDIR, found $n"
    it_log "demo as nobody after root: works, capture in its own directory"
fi
it_log "PASS"
