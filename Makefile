# kinko — the two commands a newcomer needs: `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST     := /usr/bin/python3 -m pytest
FUZZ_SECONDS ?= 20

.PHONY: all deps build build-asan build-tsan build-fuzz run test unit unit-asan unit-tsan integration fuzz bench clean

all: build

deps:
	@scripts/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKINKO_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

build-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKINKO_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j$(JOBS)

build-fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DKINKO_FUZZ=ON \
		-DCMAKE_C_COMPILER=clang >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)

run: build
	@scripts/run-demo

unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

unit-asan: build-asan
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

# The unit tests again under ThreadSanitizer: uploads, downloads, the blob writer
# and packages run several threads. A data race fails the test.
unit-tsan: build-tsan
	@cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -j$(JOBS)

integration: build
	@KINKO_BIN=$(CURDIR)/$(BUILD)/kinko $(PYTEST) -q tests/integration

fuzz: build-fuzz
	@scripts/run-fuzzers $(FUZZ_BUILD) $(FUZZ_SECONDS)

test: unit unit-asan unit-tsan integration fuzz
	@echo "make test: all passed"

bench: build
	@bench/run

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
