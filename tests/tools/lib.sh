# Sourced by the tools' shell tests (tests/tools/, tests/events/): $tmp, a
# private directory removed at exit, and bad(), which records a failure in
# $fail and goes on, so that one run reports every failure.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}
