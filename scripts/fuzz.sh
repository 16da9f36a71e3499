#!/usr/bin/env bash
# Runs every libFuzzer target of tests/fuzz for a bounded time each:
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   scripts/fuzz.sh --smoke              (make fuzz-smoke; CI)
# `make fuzz` runs each for 10 min from a random seed. The smoke run is
# reproducible: seed 1 and a fixed number of runs per target (about 20 s
# each here), stopped after 60 s at most on a slow machine, so the same
# commit finds the same things on every machine.
# Builds build/fuzz with clang (-fsanitize=fuzzer-no-link on everything, so
# libFuzzer sees coverage in the stack too; ASan and UBSan on). New inputs
# go to build/fuzz/corpus/NAME, never into the committed seed corpora; a
# crash leaves its input as build/fuzz/crash-* and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
smoke=0
if [ "${1:-}" = --smoke ]; then
    smoke=1
    shift
    secs=60
else
    secs=${1:-20}
    shift || true
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(input pair http impair scenario capture)
command -v clang >/dev/null || {
    echo "fuzz: clang is missing: run scripts/install-deps.sh" >&2
    exit 1
}
declare -A corpus=([input]=tests/fuzz/corpus [pair]=tests/fuzz/corpus_pair
    [http]=tests/fuzz/corpus_http [impair]=tests/fuzz/corpus_impair
    [scenario]=tests/scenarios [capture]=tests/fuzz/corpus_capture)
declare -A maxlen=([input]=8192 [pair]=4096 [http]=4096 [impair]=512
    [scenario]=8192 [capture]=8192)
declare -A smoke_runs=([input]=20000 [pair]=10000 [http]=600000
    [impair]=600000 [scenario]=40000 [capture]=40000)

CC=clang cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DBERTH_FUZZ=ON \
    -DBERTH_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
    >build/fuzz.configure.log 2>&1 ||
    { cat build/fuzz.configure.log >&2; exit 1; }
cmake --build build/fuzz -j"$(nproc 2>/dev/null || echo 2)" \
    --target "${targets[@]/#/fuzz_}" >build/fuzz.build.log 2>&1 ||
    { tail -30 build/fuzz.build.log >&2; exit 1; }

failed=0
for t in "${targets[@]}"; do
    work=build/fuzz/corpus/$t
    mkdir -p "$work"
    log=build/fuzz/$t.log
    rc=0
    opts=()
    if [ $smoke -eq 1 ]; then
        rm -rf "$work" && mkdir -p "$work" # the same start on every run
        opts=(-seed=1 -runs="${smoke_runs[$t]}")
    fi
    (cd build/fuzz && "./tests/fuzz/fuzz_$t" "${opts[@]}" -max_total_time="$secs" \
        -max_len="${maxlen[$t]}" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 "corpus/$t" "../../${corpus[$t]}") \
        >"$log" 2>&1 || rc=$?
    runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    if [ $rc -ne 0 ]; then
        failed=1
        echo "fuzz $t: FAILED (exit $rc) after ${runs} runs; see $log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5
    else
        printf 'fuzz %-9s ok: %s runs, coverage %s edges, %s features\n' \
            "$t" "$runs" "$cov" "$ft"
    fi
done
exit $failed
