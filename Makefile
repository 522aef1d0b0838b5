# The two commands of the README, and the targets they are made of.
#   make demo   install dependencies, build Release, run the demo
#   make test   install dependencies, build (-Werror) and ASan+UBSan, lint, run every test
# Build trees live under build/: build/debug, build/asan, build/release, build/fuzz.

SHELL      := /bin/bash
JOBS       ?= $(shell nproc)
BUILD      ?= build
CMAKE_ARGS ?=
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps build debug asan release test test-debug test-asan lint format fuzz-smoke demo install package package-check docker-check clean soak

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/debug/CMakeCache.txt:
	cmake -S . -B $(BUILD)/debug -DCMAKE_BUILD_TYPE=Debug -DPGSTREAM_WERROR=ON $(CMAKE_ARGS)

$(BUILD)/asan/CMakeCache.txt:
	cmake -S . -B $(BUILD)/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGSTREAM_WERROR=ON -DPGSTREAM_SANITIZE=ON -DPGSTREAM_BENCH=OFF $(CMAKE_ARGS)

$(BUILD)/release/CMakeCache.txt:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DPGSTREAM_TESTS=OFF $(CMAKE_ARGS)

debug: $(BUILD)/debug/CMakeCache.txt
	cmake --build $(BUILD)/debug -j $(JOBS)

asan: $(BUILD)/asan/CMakeCache.txt
	cmake --build $(BUILD)/asan -j $(JOBS)

release: $(BUILD)/release/CMakeCache.txt
	cmake --build $(BUILD)/release -j $(JOBS)

build: deps debug

# Longer randomized runs than CI's: the engine's property tests (5,000
# compositions x 400 epochs) and every SQL corpus query through 300 random
# DML batches against the server.
soak: deps debug
	$(BUILD)/debug/tests/engine/test_engine "[.soak]"
	PGSTREAM_SQL_BATCHES=300 $(BUILD)/debug/tests/sql/test_sql "[maintenance]"

test-debug: debug
	ctest --test-dir $(BUILD)/debug --output-on-failure --no-tests=error $(CTEST_ARGS)

test-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD)/asan --output-on-failure --no-tests=error $(CTEST_ARGS)

# Everything CI runs: .ci/run is `make test`. The sanitizer run comes last,
# so that the output ends with ctest's summary.
test: deps
	$(MAKE) lint
	$(MAKE) test-debug
	@if [ -f fuzz/CMakeLists.txt ]; then $(MAKE) fuzz-smoke; fi
	$(MAKE) test-asan

lint: debug
	@scripts/lint.sh $(BUILD)/debug

format:
	@scripts/lint.sh --fix

fuzz-smoke: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGSTREAM_FUZZ=ON \
	  -DPGSTREAM_TESTS=OFF -DPGSTREAM_BENCH=OFF $(CMAKE_ARGS)
	cmake --build $(BUILD)/fuzz -j $(JOBS) --target fuzz_targets
	scripts/fuzz-smoke.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

# Benchmarks: `make bench-<name>` builds bench_<name> in Release and runs it.
bench-%: deps
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DPGSTREAM_TESTS=ON -DPGSTREAM_BENCH=ON $(CMAKE_ARGS)
	cmake --build $(BUILD)/bench -j $(JOBS) --target bench_$*
	PGSTREAM_SOURCE_DIR=$(CURDIR) $(BUILD)/bench/bench/$*/bench_$*

# The zero-setup demo (docs/QUICKSTART.md): builds only the binary, then runs
# `pgstream demo` until Ctrl-C; DEMO_ARGS="--seconds 60" stops it by itself.
DEMO_ARGS ?=
demo: deps $(BUILD)/release/CMakeCache.txt
	cmake --build $(BUILD)/release -j $(JOBS) --target pgstream
	$(BUILD)/release/src/pgstream demo $(DEMO_ARGS)

# Installs the Release build under PREFIX (/usr/local; `make install PREFIX=/usr`
# puts the config under /etc as the .deb does): the binary, the systemd unit,
# the sysusers.d entry, the example config, the docs (cmake/Packaging.cmake).
PREFIX ?= /usr/local
install: release
	cmake --install $(BUILD)/release --prefix $(PREFIX)

# The Debian package of the Release build: $(BUILD)/release/pgstream_<version>_<arch>.deb.
package: deps release
	cd $(BUILD)/release && cpack -G DEB

# Checks that package without installing it (scripts/check-package.sh).
package-check: package
	scripts/check-package.sh $(BUILD)/release

# Executes docker/Dockerfile's steps on this machine (no Docker engine needed):
# builds Release, downloads a Debian base system once. Run as root; slow, so
# not part of `make test` (scripts/check-dockerfile.sh).
docker-check: deps
	scripts/check-dockerfile.sh $(BUILD)/docker-check

clean:
	rm -rf $(BUILD)
