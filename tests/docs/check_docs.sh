#!/bin/bash
# Keeps the documentation true to the tree (CTest docs.check):
#
#  1. In docs/*.md, every backquoted file path exists (a glob matches at
#     least one file), every name written `name()` is defined in the C
#     sources, and every other backquoted C identifier occurs in the code.
#     A bare file name (`tcp_input.c`) must exist somewhere in the tree.
#     Not checked: build outputs (`build/...`), absolute paths, spans with
#     a placeholder (NAME, DATE, FILE), and spans that are neither.
#  2. In the README's layout block (the fenced block after "## Layout"),
#     every directory at the start of a line exists, and every file or
#     directory named on its lines exists in that directory.
#  3. Every Makefile target the docs name (`make TARGET`, in backquotes or
#     at the start of a command line in a fenced block) is a target of the
#     Makefile, and every `--target NAME` is a target of some CMakeLists.
#  4. Relative links [text](path) in docs/*.md and the README resolve.
#  5. No user document points into the developer notes (../shared,
#     DESIGN.md, STYLE.md): README, BENCHMARKS.md, docs/, tests/*/README.md,
#     tools/*/README.md, the man pages.
#  6. The layering ARCHITECTURE.md states: src/base/ includes only base/;
#     src/wire/ only base/, wire/ and berth/berth.h; nothing in src/ outside
#     src/rt/ includes a runtime header; tools/ include only public headers
#     and their own.
#
# usage: check_docs.sh SOURCE_DIR
# Loops are bounded by the files and spans present.
set -u
root=${1:?usage: check_docs.sh SOURCE_DIR}
cd "$root" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
err() {
    echo "$*"
    fail=1
}

# The tree, without build outputs and version control.
find . \( -path ./build -o -path ./.git \) -prune -o -print |
    sed 's|^\./||' | sort >"$tmp/files"
code_files() {
    grep -E '\.(c|h)$' "$tmp/files" | grep -Ev '^(docs|build)/'
}
# Every identifier in the code, the build files and the scripts (not in
# this check's own files, which name things to break them).
{
    code_files
    grep -E '(^|/)(CMakeLists\.txt|Makefile)$|\.(sh|cmake|py|map|in)$' \
        "$tmp/files"
} | grep -v '^tests/docs/' >"$tmp/codefiles"
xargs -d '\n' cat <"$tmp/codefiles" | grep -oE '[A-Za-z_][A-Za-z0-9_]*' |
    sort -u >"$tmp/words"
# Names defined as functions (a line at column 0 naming NAME followed by
# "(", not ending in ";") or as function-like macros.
code_files | xargs -d '\n' grep -hE '^[A-Za-z_#].*[A-Za-z0-9_]\(' |
    grep -vE ';[[:space:]]*$' |
    grep -oE '[A-Za-z_][A-Za-z0-9_]*\(' | tr -d '(' | sort -u >"$tmp/defined"
[ -s "$tmp/words" ] && [ -s "$tmp/defined" ] ||
    { echo "no C sources found under $root"; exit 1; }

# Inline code spans of a markdown file, outside fenced blocks: "LINE\tSPAN".
spans() {
    awk '/^[[:space:]]*```/ { fence = !fence; next }
         !fence {
             line = $0
             while (match(line, /`[^`]+`/)) {
                 print FNR "\t" substr(line, RSTART + 1, RLENGTH - 2)
                 line = substr(line, RSTART + RLENGTH)
             }
         }' "$1"
}
# Lines inside fenced blocks: "LINE\tTEXT".
fenced() {
    awk '/^[[:space:]]*```/ { fence = !fence; next }
         fence { print FNR "\t" $0 }' "$1"
}

exists_path() { # a path or a glob, relative to the top
    local p=${1%/}
    compgen -G "$p" >/dev/null
}

check_span() { # FILE LINE SPAN
    local f=$1 n=$2 s=$3 first
    case $s in
    *NAME* | *DATE* | *FILE*) return ;;
    esac
    if [[ $s == *' '* ]]; then
        # A command: check the program if it is a path in the tree.
        first=${s%% *}
        [[ $first == */* && $first != build/* && $first != /* &&
            $first =~ ^[A-Za-z0-9_.*/-]+$ ]] || return
        s=$first
    fi
    if [[ $s =~ ^[a-z_][a-z0-9_]*\(\)$ ]]; then
        grep -qxF "${s%()}" "$tmp/defined" ||
            err "$f:$n: \`$s\` is not a function defined in the tree"
    elif [[ $s =~ ^[A-Za-z0-9_.*/-]+$ && $s == */* ]]; then
        [[ $s == build/* || $s == /* || $s == ../* ]] && return
        exists_path "$s" || err "$f:$n: \`$s\` does not exist"
    elif [[ $s =~ ^\.[A-Za-z0-9_.-]+$ ]]; then
        exists_path "$s" || err "$f:$n: \`$s\` does not exist"
    elif [[ $s =~ ^[A-Za-z0-9_*-]+\.(c|h|md|sh|txt|pkt|py|cmake|in|map|bash|json|roff)$ ]]; then
        grep -qE "(^|/)${s//\*/[^/]*}\$" "$tmp/files" ||
            err "$f:$n: \`$s\` is not a file in the tree"
    elif [[ $s =~ ^((struct|enum|union)\ )?([A-Za-z_][A-Za-z0-9_]*)(\[\])?$ ]]; then
        grep -qxF "${BASH_REMATCH[3]}" "$tmp/words" ||
            err "$f:$n: \`$s\` does not occur in the code"
    fi
}

# 1. docs/*.md: paths, functions, identifiers.
docs=(docs/*.md)
[ -e "${docs[0]}" ] || { echo "no docs/*.md"; exit 1; }
nspans=0
for f in "${docs[@]}"; do
    while IFS=$'\t' read -r n s; do
        check_span "$f" "$n" "$s"
        nspans=$((nspans + 1))
    done < <(spans "$f")
done

# 2. The README's layout block.
awk '/^## Layout/ { on = 1; next }
     on && /^```/ { if (inblock) exit; inblock = 1; next }
     on && inblock { print FNR "\t" $0 }' README.md >"$tmp/layout"
[ -s "$tmp/layout" ] || err "README.md: no layout block after \"## Layout\""
dir=
while IFS=$'\t' read -r n line; do
    if [[ $line =~ ^([A-Za-z0-9_./-]+/)[[:space:]] ]]; then
        dir=${BASH_REMATCH[1]}
        [ -d "$dir" ] || err "README.md:$n: layout names $dir, not a directory"
        line=${line#"$dir"}
    fi
    [ -n "$dir" ] || continue
    # Words that name a file (name.ext), a subdirectory (name/) or a path
    # (a/b.ext); a "/" inside another word ("parse/emit", "I/O") is not one.
    ext='\.(c|h|md|sh|txt|pkt|py|cmake|in|map|bash)'
    read -ra words <<<"$line"
    for word in "${words[@]}"; do
        word=${word#(}
        word=${word%%[),;:.]}
        word=${word%%[),;:.]}
        if [[ $word =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*$ext$ ]]; then
            exists_path "$dir$word" || exists_path "$word" ||
                err "README.md:$n: layout names $word, which does not exist"
        elif [[ $word =~ ^[A-Za-z0-9_.-]+$ext$ || $word =~ ^[A-Za-z0-9_-]+/$ ]]; then
            exists_path "$dir$word" ||
                err "README.md:$n: layout names $word in $dir, but $dir$word does not exist"
        fi
    done
done <"$tmp/layout"

# 3. Makefile and CMake targets the docs name.
grep -oE '^[A-Za-z0-9_-]+:' Makefile | tr -d ':' | sort -u >"$tmp/make"
cmake_targets() {
    grep -E '(^|/)CMakeLists\.txt$' "$tmp/files" | xargs -d '\n' cat |
        grep -oE 'add_(custom_target|executable|library)\([A-Za-z0-9_.-]+' |
        sed 's/.*(//' | sort -u
}
cmake_targets >"$tmp/cmake"
for f in README.md "${docs[@]}"; do
    { spans "$f"; fenced "$f"; } >"$tmp/cmds"
    while IFS=$'\t' read -r n t; do
        [[ $t == *NAME* ]] && continue
        grep -qxF "$t" "$tmp/make" ||
            err "$f:$n: names \`make $t\`, not a target of the Makefile"
    done < <(grep -oE '^[0-9]+'$'\t''([[:space:]]*(sudo )?make [a-z][a-z0-9-]*)' \
        "$tmp/cmds" | sed -E 's/\t.*make /\t/')
    while IFS=$'\t' read -r n t; do
        [[ $t == NAME ]] && continue
        grep -qxF "$t" "$tmp/cmake" ||
            err "$f:$n: names \`--target $t\`, not a CMake target"
    done < <(grep -E -- '--target [A-Za-z0-9_.-]+' "$tmp/cmds" |
        sed -E 's/^([0-9]+)\t.*--target ([A-Za-z0-9_.-]+).*/\1\t\2/')
done

# 4. Relative links.
for f in README.md "${docs[@]}"; do
    base=$(dirname "$f")
    while IFS=: read -r n target; do
        target=${target%%#*}
        [ -n "$target" ] || continue
        [ -e "$base/$target" ] ||
            err "$f:$n: link to $target, which does not exist"
    done < <(grep -noE '\]\([^) ]+\)' "$f" | sed -E 's/\]\(//; s/\)$//' |
        grep -vE ':(https?|mailto):')
done

# 5. User documents never point into the developer notes.
user_docs=(README.md BENCHMARKS.md docs/*.md docs/man/* tests/*/README.md
    tools/*/README.md)
for f in "${user_docs[@]}"; do
    [ -f "$f" ] || continue
    grep -nE '\.\./shared|/work/shared|(^|[^A-Za-z_])(DESIGN|STYLE)\.md' "$f" |
        while IFS= read -r hit; do
            echo "$f:${hit%%:*}: points into the developer notes: ${hit#*:}"
        done | grep . && fail=1
done

# 6. Layering: includes point down only.
inc() { # DIR: "file:line: #include "X"" for the quoted includes under DIR
    grep -nE '^#include "' "$1"/*.[ch] 2>/dev/null
}
while IFS= read -r hit; do
    err "layering: $hit (src/base/ includes only src/base/)"
done < <(inc src/base | grep -vE '#include "base/')
while IFS= read -r hit; do
    err "layering: $hit (src/wire/ includes only base/, wire/, berth/berth.h)"
done < <(inc src/wire | grep -vE '#include "(base/|wire/|berth/berth\.h")')
while IFS= read -r hit; do
    err "layering: $hit (only src/rt/ includes the runtime)"
done < <(for d in src src/base src/wire src/tcp src/ip; do inc "$d"; done |
    grep -E '#include "(rt/|rt_impl\.h|berth/rt\.h|berth/memlink\.h)')
while IFS= read -r hit; do
    err "layering: $hit (tools use the public headers only)"
done < <(for d in tools/*/; do inc "${d%/}"; done |
    grep -vE '#include "(berth/[a-z]+\.h|[a-z_]+\.h)"' ||
    true)
for d in tools/*/; do inc "${d%/}"; done |
    grep -E '#include "[a-z_]+\.h"' | while IFS= read -r hit; do
    h=$(sed -E 's/.*#include "([a-z_]+\.h)".*/\1/' <<<"$hit")
    f=${hit%%:*}
    [ -f "$(dirname "$f")/$h" ] ||
        echo "layering: $hit (not the tool's own header)"
done | grep . && fail=1

if [ $fail -eq 0 ]; then
    echo "docs: ${#docs[@]} documents, $nspans code spans, the README layout," \
        "make targets, links and layering all hold"
fi
exit $fail
