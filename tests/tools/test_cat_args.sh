#!/bin/bash
# `berth cat` and `berth cat -u` read their arguments through one parser
# (cat_args() in tools/berth/cat.c): each mode's options are taken, the
# other mode's refused, and the same mistakes give the same usage error
# (exit 2) in both. Nothing here opens a device: every call ends in the
# parser.
# usage: test_cat_args.sh BERTH
set -u
berth=${1:?usage: test_cat_args.sh BERTH}
source "$(dirname "$0")/lib.sh"
# usage_err WANT_TEXT ARGS...: exit 2, stderr says WANT_TEXT.
usage_err() {
    local want=$1 rc=0
    shift
    timeout 10 "$berth" "$@" </dev/null >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" -eq 2 ] || bad "berth $*: exit $rc, want 2 ($(head -c 200 "$tmp/err"))"
    grep -qF -- "$want" "$tmp/err" ||
        bad "berth $*: stderr lacks '$want': $(head -c 200 "$tmp/err")"
}
for mode in "" "-u"; do
    prog="berth cat${mode:+ $mode}"
    # shellcheck disable=SC2086 # $mode is one word or none
    {
        usage_err "$prog: want HOST PORT or --listen PORT" cat $mode
        usage_err "$prog: want HOST PORT or --listen PORT" cat $mode 198.18.0.1
        usage_err "$prog: unexpected argument '3'" cat $mode 198.18.0.1 2 3
        usage_err "$prog: --listen takes no HOST PORT" cat $mode --listen 9 198.18.0.1 2
        usage_err "$prog: --listen takes no HOST PORT" cat $mode -l 9 198.18.0.1 2
        usage_err "$prog: bad HOST 'nohost'" cat $mode nohost 80
        usage_err "$prog: bad port" cat $mode 198.18.0.1 70000
        usage_err "$prog: bad port" cat $mode --listen=0x
        usage_err "$prog: unexpected argument '--nonsense'" cat $mode --nonsense 198.18.0.1 2
        usage_err "$prog: " cat $mode --mtu 2 198.18.0.1 2
    }
done
# Each mode's own options, refused by the other.
usage_err "berth cat -u: unexpected argument '--connect-timeout'" \
    cat -u --connect-timeout 2s 198.18.0.1 2
usage_err "berth cat: unexpected argument '--wait'" cat --wait 2s 198.18.0.1 2
usage_err "berth cat: unexpected argument '-w'" cat -w 2s 198.18.0.1 2
usage_err "berth cat: bad --connect-timeout value '0'" \
    cat --connect-timeout 0 198.18.0.1 2
usage_err "berth cat: bad --connect-timeout value '5'" \
    cat --connect-timeout 5 198.18.0.1 2
usage_err "berth cat -u: bad --wait value 'x'" cat -u --wait x 198.18.0.1 2
usage_err "berth cat -u: bad --wait value 'x'" cat --udp -w x 198.18.0.1 2
# -u anywhere selects datagrams.
usage_err "berth cat -u: bad --wait value 'x'" cat 198.18.0.1 2 -w x -u
# The help: each mode its own options, exit 0.
"$berth" cat --help >"$tmp/tcp" || bad "cat --help exit $?"
"$berth" cat -u -h >"$tmp/udp" || bad "cat -u -h exit $?"
grep -q -- "--connect-timeout" "$tmp/tcp" || bad "cat --help lacks --connect-timeout"
grep -q -- "--wait" "$tmp/tcp" && bad "cat --help names --wait"
grep -q -- "-w, --wait" "$tmp/udp" || bad "cat -u --help lacks --wait"
grep -q -- "--connect-timeout" "$tmp/udp" && bad "cat -u --help names --connect-timeout"
grep -q "^usage: berth cat -u" "$tmp/udp" || bad "cat -u --help: not its usage"
grep -q "^usage: berth cat \[" "$tmp/tcp" || bad "cat --help: not its usage"
[ $fail -eq 0 ] && echo "ok: berth cat and cat -u arguments"
exit $fail
