#!/usr/bin/env bash
# The manual stays true: every page (as built into BUILD/man) renders
# without a groff warning; berth(1) names every command that `berth --help`
# lists and each command has its page berth-COMMAND(1); every option that
# `berth --help` or `berth COMMAND --help` prints appears in the matching
# page.
# The bash completion (completions/berth.bash) offers the commands and a
# command's options.
#   test_man.sh MAN_DIR BERTH COMPLETION
set -euo pipefail
man_dir=$1 berth=$2 completion=$3
tmp=$(mktemp -d /tmp/berth-man-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

pages=("$man_dir"/*.[13])
[ ${#pages[@]} -ge 2 ] || fail "no pages in $man_dir"
for page in "${pages[@]}"; do
    name=$(basename "$page")
    # -ww: every warning; -z: no output, only the diagnostics.
    if ! groff -man -Tutf8 -ww -z "$page" 2>"$tmp/warn" || [ -s "$tmp/warn" ]; then
        fail "$name does not render cleanly: $(cat "$tmp/warn")"
    fi
    # Plain text to search in: no overstriking, bold or colour.
    groff -man -Tascii -P-cbou "$page" 2>/dev/null >"$tmp/$name.txt"
    grep -q '^NAME' "$tmp/$name.txt" || fail "$name: no NAME section"
done

# The options a --help text shows: --long ones anywhere, -x ones as words.
options_of() {
    grep -oE '(^|[][ ,|(])(--[a-z][a-z0-9-]*|-[a-zA-Z])\b' | sed 's/^[][ ,|(]//' |
        sort -u
}
# Checks that every option of help text $2 appears in page $1 as a word.
check_options() {
    local page=$1 help=$2 n=0
    local text=$tmp/$page.txt
    if [ ! -s "$text" ]; then
        fail "no page $page"
        return
    fi
    while read -r opt; do
        [ -n "$opt" ] || continue
        n=$((n + 1))
        grep -qE -- "(^|[^a-z0-9-])${opt}([^a-z0-9-]|\$)" "$text" ||
            fail "$page does not mention $opt (in its --help)"
    done < <(options_of <"$help")
    echo "ok: $page: $n options from --help"
}

"$berth" --help >"$tmp/help"
check_options berth.1 "$tmp/help"
commands=$(sed -n '/^Commands:/,/^$/p' "$tmp/help" |
    awk '/^  [a-z]/ { print $1 }')
ncommands=$(wc -w <<<"$commands")
[ "$ncommands" -ge 5 ] || fail "only $ncommands commands in berth --help"
for cmd in $commands; do
    grep -qE "^ +$cmd( |\$)" "$tmp/berth.1.txt" ||
        fail "berth.1 does not list the command $cmd"
    if ! "$berth" "$cmd" --help >"$tmp/help.$cmd" 2>&1; then
        fail "berth $cmd --help exits nonzero"
    fi
    check_options "berth-$cmd.1" "$tmp/help.$cmd"
done

# Completion: what bash would offer for "berth ca" and "berth http --po".
# shellcheck source=/dev/null
source "$completion"
complete_words() {
    COMP_WORDS=("$berth" "$@")
    COMP_CWORD=$#
    _berth
    echo "${COMPREPLY[*]}"
}
got=$(complete_words ca)
[ "$got" = cat ] || fail "completion of 'berth ca' gave '$got'"
got=$(complete_words http --po)
[ "$got" = --port ] || fail "completion of 'berth http --po' gave '$got'"
got=$(complete_words cat -)
for opt in -l --listen -v --verbose --tun --impair; do
    [[ " $got " == *" $opt "* ]] || fail "completion of 'berth cat -' lacks $opt"
done
echo "ok: completion"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "man: ${#pages[@]} pages render; $ncommands commands and their options documented"
