# The quick-start commands (README.md):
#   make demo      builds berth and runs the demo
#   make check     builds with ASan+UBSan, warnings as errors, runs the
#                  whole test suite, the fuzz smoke run (make fuzz-smoke)
#                  and the build matrix (below)
#   make install   builds a Release and installs it (PREFIX=/usr/local;
#                  DESTDIR is honoured)
#   make matrix    builds every build type with gcc and clang, warnings as
#                  errors, tests compiled but not run (scripts/build-matrix.sh:
#                  about 100 s of CPU, a minute or two on 2 idle cores)
# Each first installs the Debian packages it needs (scripts/install-deps.sh).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: demo check deps build-release build-check install matrix fuzz-smoke fuzz \
	format clean

demo: deps build-release
	./build/release/berth demo

check: deps build-check
	ctest --test-dir build/check --output-on-failure -j$(JOBS)
	bash scripts/fuzz.sh --smoke
	JOBS=$(JOBS) bash scripts/build-matrix.sh

# Every libFuzzer target, reproducibly for about 20 s (part of check), or
# from a random seed for 10 minutes.
fuzz-smoke: deps
	bash scripts/fuzz.sh --smoke

fuzz: deps
	bash scripts/fuzz.sh 600

deps:
	bash scripts/install-deps.sh

build-release:
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF
	cmake --build build/release -j$(JOBS)

build-check:
	cmake -S . -B build/check -DCMAKE_BUILD_TYPE=Debug -DBERTH_SANITIZE=ON \
	      -DBERTH_BENCH=ON -DBERTH_WERROR=ON
	cmake --build build/check -j$(JOBS)

# Configured for PREFIX, so that GNUInstallDirs picks its layout (e.g.
# lib/x86_64-linux-gnu under /usr).
install: deps
	cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF \
	      -DCMAKE_INSTALL_PREFIX="$(PREFIX)"
	cmake --build build/release -j$(JOBS)
	cmake --install build/release

matrix: deps
	JOBS=$(JOBS) bash scripts/build-matrix.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
