#!/usr/bin/env bash
# Builds berth's benchmarks (Release, no sanitizers) and runs all of them:
# bench/results/<date>.md with its charts, and the table in BENCHMARKS.md.
# Options go to bench/run.py (--reps N, --only lifecycle,bulk,...).
set -euo pipefail
cd "$(dirname "$0")/.."

# What the benchmarks use beyond the build: gnuplot for the charts, lwIP
# for the comparison, valgrind for the instruction counts.
packages=(gnuplot-nox liblwip-dev valgrind pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "bench: without ${missing[*]} some parts are skipped; install" \
            "them with: sudo apt-get install -y ${missing[*]}" >&2
    fi
fi

cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DBERTH_BENCH=ON \
    -DBERTH_SANITIZE=OFF -DBERTH_TESTS=OFF >/dev/null
cmake --build build/bench -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
exec python3 bench/run.py --bin build/bench/bench --berth build/bench/berth "$@"
