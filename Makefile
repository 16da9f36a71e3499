# The two quick-start commands (README.md):
#   make demo    builds berth and runs the demo
#   make check   builds with ASan+UBSan and runs the whole test suite
# Each first installs the Debian packages it needs (scripts/install-deps.sh).

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: demo check deps build-release build-check fuzz-smoke fuzz format clean

demo: deps build-release
	./build/release/berth demo

check: deps build-check
	ctest --test-dir build/check --output-on-failure -j$(JOBS)
	bash scripts/fuzz.sh --smoke

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
	      -DBERTH_BENCH=ON
	cmake --build build/check -j$(JOBS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
