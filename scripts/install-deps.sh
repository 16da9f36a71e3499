#!/usr/bin/env bash
# Installs the Debian packages berth needs to build and test. As root it runs
# apt-get; otherwise it prints the command to run.
set -euo pipefail

# Build: compiler, CMake, cmocka (tests), libcrypto (SHA-256 in `berth http`).
# Interop tests: iproute2 (namespaces), the kernel's peers (curl, nc,
# python3, ping) and tshark to check captures.
# Benchmarks' smoke test: lwIP for the comparison.
# Fuzzing (make fuzz-smoke, part of make check): clang with libFuzzer;
# the build matrix (make matrix) compiles with clang too.
# packetdrill (built from its source when present, tests/packetdrill):
# bison and flex. The manual's test renders the pages with groff.
# `berth run` tests: unmodified programs from Debian as clients and servers.
# The event log's test validates against its JSON Schema (python3-jsonschema);
# `berth plot`'s checks its SVG (xmllint) and renders it (rsvg-convert).
# `berth ladder` tests: xmllint and rsvg-convert check its SVG figures;
# tcpdump captures a kernel-to-kernel connection for it.
# --link xdp: (AF_XDP) builds against libxdp and libbpf when present; the TUN
# runtime batches its ACK writes through liburing when present.
packages=(build-essential cmake pkg-config libcmocka-dev libssl-dev
    iproute2 curl netcat-openbsd iputils-ping python3 tshark liblwip-dev clang bison flex
    groff-base wget nginx-light redis-server redis-tools iperf3 wrk
    python3-jsonschema libxml2-utils librsvg2-bin tcpdump libxdp-dev libbpf-dev
    liburing-dev)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "berth needs these Debian packages; install them with:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive # tshark asks about capture rights
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
