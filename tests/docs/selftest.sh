#!/bin/bash
# Proves check_docs.sh can fail (CTest docs.check_fails_on_drift): on a
# scratch copy of the tree it must pass, then fail, naming the problem, after
# each of these edits, one at a time on a fresh copy:
#   - a function the docs name is renamed in the code;
#   - a file the docs name is removed;
#   - a file the README's layout block names is renamed;
#   - an identifier the docs name disappears from the code;
#   - a Makefile target the docs name is removed;
#   - a user document points into ../shared;
#   - a relative link's target is removed;
#   - src/base/ includes an engine header.
# The real tree is never touched. Bounded: one copy and one run per case.
#
# usage: selftest.sh SOURCE_DIR
set -u
src=$(cd "${1:?usage: selftest.sh SOURCE_DIR}" && pwd)
check=$src/tests/docs/check_docs.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

fresh() { # a pristine copy of the tree in $tmp/tree
    rm -rf "$tmp/tree"
    mkdir "$tmp/tree"
    (cd "$src" && tar --exclude=./build --exclude=./.git -cf - .) |
        (cd "$tmp/tree" && tar -xf -)
}

# expect_fail NAME PATTERN: the check fails on $tmp/tree and says PATTERN.
expect_fail() {
    if bash "$check" "$tmp/tree" >"$tmp/out" 2>&1; then
        echo "FAIL $1: check_docs.sh passed"
        fail=1
    elif ! grep -qF -- "$2" "$tmp/out"; then
        echo "FAIL $1: check_docs.sh failed without saying: $2"
        sed 's/^/    /' "$tmp/out"
        fail=1
    else
        echo "ok   $1: $(grep -F -- "$2" "$tmp/out" | head -1)"
    fi
}

# Renames identifier $1 to $2 in every C file of the copy.
rename_ident() {
    grep -rlw --include='*.[ch]' -- "$1" "$tmp/tree" |
        xargs -r sed -i "s/\\b$1\\b/$2/g"
}

fresh
if ! bash "$check" "$tmp/tree" >"$tmp/out" 2>&1; then
    echo "FAIL the unmodified copy does not pass:"
    cat "$tmp/out"
    exit 1
fi
echo "ok   unmodified copy passes"

rename_ident tcp_listen_input tcp_listen_segment
expect_fail "renamed function" '`tcp_listen_input()` is not a function'

fresh
rm "$tmp/tree/src/tcp/tcp_fsm.c"
expect_fail "removed file" '`src/tcp/tcp_fsm.c` does not exist'

fresh
mv "$tmp/tree/src/base/bufcache.c" "$tmp/tree/src/base/buffer_cache.c"
expect_fail "renamed file in the layout" \
    'layout names bufcache.c in src/base/'

fresh
rename_ident TCP_T_PERSIST TCP_T_ZWP
expect_fail "removed identifier" '`TCP_T_PERSIST` does not occur'

fresh
sed -i '/^fuzz-smoke:/,/^$/d' "$tmp/tree/Makefile"
expect_fail "removed make target" 'names `make fuzz-smoke`'

fresh
echo "See ../shared/DESIGN.md." >>"$tmp/tree/tests/scenarios/README.md"
expect_fail "pointer into ../shared" 'points into the developer notes'

fresh
rm "$tmp/tree/docs/CONTRIBUTING.md"
expect_fail "broken link" 'link to CONTRIBUTING.md'

fresh
sed -i '0,/^#include "base\//s//#include "tcp\/tcp.h"\n&/' \
    "$tmp/tree/src/base/ring.c"
expect_fail "include pointing up" 'layering: '

exit $fail
