#!/usr/bin/env bash
# Builds every build type with every compiler, warnings as errors, tests and
# benchmarks included (compiled, not run): Debug, Release, RelWithDebInfo
# and MinSizeRel with gcc and clang, into build/matrix/COMPILER-TYPE.
# Reports each build's time; exits 1 if any build failed.
#   scripts/build-matrix.sh [COMPILER...]    (default: gcc clang)
# JOBS sets the parallel jobs (default 2).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
jobs=${JOBS:-2}
compilers=("$@")
[ ${#compilers[@]} -gt 0 ] || compilers=(gcc clang)
types=(Debug Release RelWithDebInfo MinSizeRel)

failed=()
start=$SECONDS
for cc in "${compilers[@]}"; do
    if ! command -v "$cc" >/dev/null; then
        echo "build-matrix: $cc not found (scripts/install-deps.sh)" >&2
        failed+=("$cc")
        continue
    fi
    for type in "${types[@]}"; do
        dir=build/matrix/$cc-$type
        t0=$SECONDS
        log=$dir.log
        mkdir -p "$dir"
        if cmake -S . -B "$dir" -DCMAKE_C_COMPILER="$cc" \
            -DCMAKE_BUILD_TYPE="$type" -DBERTH_WERROR=ON -DBERTH_TESTS=ON \
            -DBERTH_BENCH=ON >"$log" 2>&1 &&
            cmake --build "$dir" -j"$jobs" >>"$log" 2>&1; then
            echo "build-matrix: $cc $type ok ($((SECONDS - t0)) s)"
        else
            echo "build-matrix: $cc $type FAILED ($((SECONDS - t0)) s):" >&2
            grep -E 'error|warning' "$log" | head -20 >&2
            failed+=("$cc-$type")
        fi
    done
done
echo "build-matrix: $(( ${#compilers[@]} * ${#types[@]} - ${#failed[@]} )) of" \
    "$(( ${#compilers[@]} * ${#types[@]} )) builds ok in $((SECONDS - start)) s"
[ ${#failed[@]} -eq 0 ] || {
    echo "build-matrix: failed: ${failed[*]}" >&2
    exit 1
}
