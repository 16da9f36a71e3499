#!/bin/bash
# Holds tests/scenarios/TRANSITIONS.md against the transition table
# (src/tcp/tcp_fsm.c) and the scripts: the doc lists exactly the table's
# rows (from-states, to-state, cause, RFC 9293 section); every row is
# exercised by at least one script, i.e. the trace of `berth-scenario -v`
# shows "FROM -> TO (CAUSE)" for one of its from-states; and every script
# the doc names for a row shows it. Loops are bounded by the rows and the
# scripts present.
#
# usage: check_transitions.sh TEST_FSM BERTH_SCENARIO SCENARIO_DIR
set -u
fsm=$1
runner=$2
dir=$3
doc=$dir/TRANSITIONS.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

"$fsm" --dump | sort >"$tmp/table" || { echo "$fsm --dump failed"; exit 1; }
[ -s "$tmp/table" ] || { echo "the table is empty"; exit 1; }

# Rows of the doc's tables: | From | To | `CAUSE` | §RFC | event | scripts |
awk -F'|' '$4 ~ /^ *`[A-Z_0-9]+` *$/ {
    for (i = 2; i <= 7; i++) { gsub(/^ +| +$/, "", $i) }
    gsub(/ /, "", $2); gsub(/`/, "", $4); gsub(/ /, "", $7)
    print $2 " -> " $3 " (" $4 ") " $5 "\t" $7
}' "$doc" | sort >"$tmp/docrows"
cut -f1 "$tmp/docrows" | sort >"$tmp/doc"

while IFS= read -r row; do
    echo "in the table (src/tcp/tcp_fsm.c), not in TRANSITIONS.md: $row"
    fail=1
done < <(comm -23 "$tmp/table" "$tmp/doc")
while IFS= read -r row; do
    echo "in TRANSITIONS.md, not in the table (src/tcp/tcp_fsm.c): $row"
    fail=1
done < <(comm -13 "$tmp/table" "$tmp/doc")

# What the scripts exercise: "OLD -> NEW (REASON) script".
for f in "$dir"/*.pkt; do
    name=$(basename "$f" .pkt)
    "$runner" -v "$f" 2>&1 |
        grep -o '[A-Z0-9-]* -> [A-Z0-9-]* ([A-Z_0-9]*)' |
        sed "s/\$/ $name/"
done | sort -u >"$tmp/traces"
[ -s "$tmp/traces" ] || { echo "no state change traced by any script"; exit 1; }

# Whether script $2 (or any script, if empty) shows a change of row $1.
shows() {
    local from=${1%% -> *} rest=${1#* -> } st
    local to_cause=${rest% §*} # "TO (CAUSE)"
    for st in ${from//,/ }; do
        if [ -z "$2" ]; then
            grep -qF "$st -> $to_cause " "$tmp/traces" && return 0
        else
            grep -qxF "$st -> $to_cause $2" "$tmp/traces" && return 0
        fi
    done
    return 1
}

while IFS=$'\t' read -r row scripts; do
    if ! shows "$row" ""; then
        echo "no script exercises: $row"
        fail=1
    fi
    [ -z "$scripts" ] || [ "$scripts" = "—" ] && continue
    for s in ${scripts//,/ }; do
        if ! shows "$row" "$s"; then
            echo "TRANSITIONS.md names $s for $row, but its trace does not show it"
            fail=1
        fi
    done
done <"$tmp/docrows"

n=$(wc -l <"$tmp/table")
if [ $fail -eq 0 ]; then
    echo "TRANSITIONS.md lists the table's $n rows; every row is exercised"
fi
exit $fail
