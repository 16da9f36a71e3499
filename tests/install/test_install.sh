#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds tests/install/embed.c
# against it as an embedder would: through pkg-config and through CMake's
# find_package(berth), with the shared and with the static library; runs
# each. Then checks that the installed libberth.a and libberth.so define no
# global symbol outside the public API (the berth_* functions declared in
# include/berth/*.h). Removes its temporary directory.
#   test_install.sh BUILD_DIR SOURCE_DIR LIBDIR CC [CFLAGS...]
set -euo pipefail
build=$1 src=$2 libdir_rel=$3 cc=$4
shift 4
cflags=("$@") # the sanitizer flags when the build has them

tmp=$(mktemp -d /tmp/berth-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
libdir=$prefix/$libdir_rel
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
for f in bin/berth include/berth/berth.h include/berth/rt.h \
    include/berth/memlink.h "$libdir_rel/libberth.a" \
    "$libdir_rel/libberth.so" "$libdir_rel/pkgconfig/berth.pc" \
    "$libdir_rel/cmake/berth/berth-config.cmake" \
    "$libdir_rel/cmake/berth/berth-config-version.cmake" \
    share/man/man1/berth.1 share/man/man3/berth.3 \
    share/bash-completion/completions/berth; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
version=$("$prefix/bin/berth" --version)
echo "installed: $version"
[[ $version =~ ^berth\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-z-]+\)$ ]] ||
    fail "berth --version printed '$version'"

# Runs one embed binary; checks it says ok and links libberth as expected
# (shared: NEEDED libberth.so.*, from our prefix; static: no NEEDED).
run_embed() {
    local what=$1 bin=$2 kind=$3 out
    if ! out=$("$bin" 2>&1); then
        fail "$what: $bin exited nonzero: $out"
        return
    fi
    grep -qx "embed: ok" <<<"$out" || fail "$what: no 'embed: ok' in: $out"
    local needed
    needed=$(readelf -d "$bin" | grep -o 'NEEDED.*libberth[^]]*' || true)
    if [ "$kind" = shared ]; then
        [ -n "$needed" ] || fail "$what: does not need libberth.so"
        local loads
        loads=$(ldd "$bin")
        grep -q "libberth.so.* => $libdir/" <<<"$loads" ||
            fail "$what: does not load $libdir's libberth.so: $loads"
    else
        [ -z "$needed" ] || fail "$what: static build needs $needed"
    fi
    echo "ok: $what ($kind)"
}

# pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig
pc_cflags=$(pkg-config --cflags berth)
pc_libs=$(pkg-config --libs berth)
pc_static=$(pkg-config --static --libs berth)
echo "pkg-config: --cflags '$pc_cflags' --libs '$pc_libs' --static --libs '$pc_static'"
# shellcheck disable=SC2086 # pkg-config output is a list of words
"$cc" "${cflags[@]}" -o "$tmp/embed-pc-shared" "$src/tests/install/embed.c" \
    $pc_cflags $pc_libs -Wl,-rpath,"$libdir"
run_embed "pkg-config" "$tmp/embed-pc-shared" shared
# The static library by name (-l:libberth.a), with Libs.private.
# shellcheck disable=SC2086
"$cc" "${cflags[@]}" -o "$tmp/embed-pc-static" "$src/tests/install/embed.c" \
    $pc_cflags ${pc_static/-lberth/-l:libberth.a}
run_embed "pkg-config --static" "$tmp/embed-pc-static" static

# CMake's find_package(berth): berth::berth (shared) and berth::static.
mkdir -p "$tmp/cmake-src"
cp "$src/tests/install/embed.c" "$tmp/cmake-src/"
cat >"$tmp/cmake-src/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(embed LANGUAGES C)
find_package(berth 0.1 REQUIRED)
message(STATUS "berth ${berth_VERSION}")
add_executable(embed-shared embed.c)
target_link_libraries(embed-shared berth::berth)
add_executable(embed-static embed.c)
target_link_libraries(embed-static berth::static)
CMAKE
if cmake -S "$tmp/cmake-src" -B "$tmp/cmake-build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="${cflags[*]}" \
    >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1; then
    run_embed "find_package berth::berth" "$tmp/cmake-build/embed-shared" shared
    run_embed "find_package berth::static" "$tmp/cmake-build/embed-static" static
else
    cat "$tmp/cmake.log" >&2
    fail "the find_package(berth) project did not build"
fi

# libberth.a is plain machine code whatever the build (BERTH_LTO makes
# LTO objects for the tree, never for the archive): no GCC or LLVM
# intermediate code in it, and a program links against it with LTO off,
# with this compiler and with the other one (gcc/clang) where installed.
# Not the other compiler under the sanitizers: their runtimes differ.
# (readelf names GCC's LTO sections, and refuses LLVM bitcode on stderr.)
if readelf -SW "$libdir/libberth.a" 2>&1 |
    grep -E '\.gnu\.lto_|\.llvmbc|\.llvm\.lto|bitcode|Error'; then
    fail "libberth.a carries LTO sections or objects (above)"
fi
members=$(ar t "$libdir/libberth.a" | wc -l)
elf=$(readelf -h "$libdir/libberth.a" 2>/dev/null | grep -c 'Type:.*REL')
[ "$members" -ge 1 ] && [ "$elf" -eq "$members" ] ||
    fail "libberth.a: $elf of $members members are ELF relocatable objects"
if nm "$libdir/libberth.a" 2>&1 | grep -E '__gnu_lto_|LLVM|file format not recognized'; then
    fail "libberth.a carries LTO objects (above)"
fi
if "$cc" --version | grep -qi clang; then other=gcc; else other=clang; fi
compilers=("$cc")
if [ ${#cflags[@]} -eq 0 ] && command -v "$other" >/dev/null; then
    compilers+=("$other")
else
    echo "not linked with $other (sanitizer build, or not installed)"
fi
for c in "${compilers[@]}"; do
    # shellcheck disable=SC2086
    if "$c" "${cflags[@]}" -fno-lto -o "$tmp/embed-nolto-${c##*/}" \
        "$src/tests/install/embed.c" $pc_cflags \
        ${pc_static/-lberth/-l:libberth.a} 2>"$tmp/nolto.log"; then
        run_embed "libberth.a with ${c##*/} -fno-lto" \
            "$tmp/embed-nolto-${c##*/}" static
    else
        cat "$tmp/nolto.log" >&2
        fail "libberth.a does not link with ${c##*/} -fno-lto"
    fi
done

# Only the public API is global. The public names: every berth_ function
# the headers declare.
grep -ohE '\bberth_[a-z0-9_]+[[:space:]]*\(' "$src"/include/berth/*.h |
    tr -d '( \t' | sort -u >"$tmp/public"
check_globals() {
    local what=$1 list=$2
    local n
    n=$(wc -l <"$list")
    [ "$n" -gt 50 ] || fail "$what: only $n global symbols"
    local extra
    extra=$(sort -u "$list" | comm -23 - "$tmp/public")
    [ -z "$extra" ] || fail "$what: globals outside the public API: ${extra//$'\n'/ }"
    echo "ok: $what: $n global symbols, all public"
}
nm -g --defined-only "$libdir/libberth.a" | awk 'NF == 3 { print $3 }' \
    >"$tmp/a.globals"
check_globals libberth.a "$tmp/a.globals"
nm -D --defined-only "$libdir/libberth.so" | awk 'NF == 3 { print $3 }' \
    >"$tmp/so.globals"
check_globals libberth.so "$tmp/so.globals"
# ...and the internals are there, local (so the check above saw them go).
nm "$libdir/libberth.a" >"$tmp/a.all"
grep -q ' t ring_init$' "$tmp/a.all" || fail "libberth.a: no local ring_init"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "install: all checks passed"
