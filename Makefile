# Front door: `make` builds everything into build/; see README.md.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DNVMF_WERROR=ON

.PHONY: all deps build docs asan tsan run test test-fast test-asan test-tsan test-interop stress fuzz bench soak install clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

# The man pages rendered to text under $(BUILD)/man (groff -ww: a warning fails).
MAN_PAGES := $(wildcard man/*.[0-9])
docs:
	@mkdir -p $(BUILD)/man
	@for p in $(MAN_PAGES); do \
		groff -man -ww -Tutf8 -P-cbou $$p > $(BUILD)/man/$$(basename $$p).txt 2> $(BUILD)/man/warnings || exit 1; \
		if [ -s $(BUILD)/man/warnings ]; then cat $(BUILD)/man/warnings; exit 1; fi; \
		echo "$(BUILD)/man/$$(basename $$p).txt"; \
	done

$(ASAN_BUILD)/Makefile:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DNVMF_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug

asan: $(ASAN_BUILD)/Makefile
	cmake --build $(ASAN_BUILD) -j $(JOBS)

$(TSAN_BUILD)/Makefile:
	cmake -S . -B $(TSAN_BUILD) $(CMAKE_FLAGS) -DNVMF_TSAN=ON -DCMAKE_BUILD_TYPE=Debug

tsan: $(TSAN_BUILD)/Makefile
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# The main job: serve a namespace on 127.0.0.1:4420 (Ctrl-C stops it).
run: deps build
	$(BUILD)/nvmfd

# Everything CI runs: the suite, the suite again under ASan + UBSan
# (interop runs boot real Linux kernels under emulation; they run once), the
# suite under TSan (no report allowed; tests/tsan_run.sh), and each fuzz
# target for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
STRESS_SECONDS ?= 1800
test: deps build asan tsan
	ctest --test-dir $(BUILD) --output-on-failure -j 2
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j 2 -LE 'interop|slow'
	tests/tsan_run.sh $(TSAN_BUILD)
	tests/stress.sh 60
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# The kill and reconnect tests under ASan and TSan with random seeds, for
# STRESS_SECONDS (make test runs a minute of it).
stress: deps asan tsan
	tests/stress.sh $(STRESS_SECONDS)

fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j 2 -LE 'interop|slow'

test-asan: asan
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j 2 -LE 'interop|slow'

test-tsan: tsan
	tests/tsan_run.sh $(TSAN_BUILD)

test-interop: build
	ctest --test-dir $(BUILD) --output-on-failure -L interop

# make bench PEER=FILE: only ratios against a peer's figures (bench/RESULTS.md).
bench: build
	scripts/install-deps.sh bench
	bench/run.sh $(BUILD) $(if $(PEER),--peer $(PEER))

soak: deps build
	tests/soak/run.sh $(BUILD)

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
