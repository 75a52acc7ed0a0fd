# bareheap: the two commands a reader needs are `make run` and `make test`.
# `make help` lists every target.

CARGO      ?= cargo
QEMU       ?= qemu-x86_64
NIGHTLY    ?= nightly
DEMO_ARGS  ?=
ARGS       ?=
MIRIFLAGS_COMMON := -Zmiri-strict-provenance
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := chunk fixed pools free_list heap

.PHONY: help build run run-debug qemu qemu-user test lint targets test-host test-i686 test-wasm test-qemu firmware miri miri-lane miri-pair miri-open-question miri-setup bench bench-quick fuzz fuzz-setup clean size size-check size-run size-tools

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

build: ## Build the demo binary (release)
	$(CARGO) build --release --bin bareheap-demo

run: build ## Build and run the demo (release); pass arguments with DEMO_ARGS="..."
	./target/release/bareheap-demo $(DEMO_ARGS)

run-debug: ## Build and run the demo (debug build)
	$(CARGO) build --bin bareheap-demo
	./target/debug/bareheap-demo $(DEMO_ARGS)

qemu: build qemu-user ## Run the demo under qemu-user (an emulated x86_64 CPU; installs qemu-user as root)
	@command -v $(QEMU) >/dev/null || { echo "$(QEMU) not found: install Debian's qemu-user (apt-get install qemu-user, as root)"; exit 1; }
	$(QEMU) ./target/release/bareheap-demo $(DEMO_ARGS)

# Installs Debian's qemu-user when qemu-x86_64 is missing and that is possible (root and
# apt-get); otherwise the targets that need it say what to install.
qemu-user: ## (used by qemu, test-qemu) Install qemu-x86_64 (Debian's qemu-user) when missing, as root
	@if ! command -v $(QEMU) >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== $(QEMU) not found: installing Debian's qemu-user"; \
		apt-get install -y --no-install-recommends qemu-user >/dev/null 2>&1 || \
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends qemu-user >/dev/null 2>&1; } || true; \
	fi

# Targets the library builds for with no default features (firmware and kernels), and the
# 32-bit target its tests also run on.
EMBEDDED_TARGETS := thumbv6m-none-eabi thumbv7em-none-eabihf riscv32imac-unknown-none-elf aarch64-unknown-none x86_64-unknown-none
I686 := i686-unknown-linux-gnu
# Miri's other targets: 32-bit little-endian, 64-bit big-endian (the unit and model tests).
MIRI_CROSS_TARGETS := $(I686) s390x-unknown-linux-gnu

test: lint targets test-host test-i686 test-wasm test-qemu firmware size-tools size-check ## Everything CI checks except Miri: lints, docs, the embedded builds, tests (64- and 32-bit, WebAssembly), the binary natively and under qemu, the firmware under QEMU, the size budgets

lint: ## cargo fmt --check, clippy -D warnings, rustdoc -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p bareheap --lib --no-default-features -- -D warnings
	$(CARGO) clippy -p bareheap --all-targets --all-features -- -D warnings
	@rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
	$(CARGO) clippy -p bareheap --lib --no-default-features --target wasm32-unknown-unknown -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

test-host: ## The library's tests (and the pools' without their magazines), and the demo binary run natively (debug and release)
	$(CARGO) test --workspace
	$(CARGO) test -p bareheap --no-default-features --features alloc --lib --test conformance -- pools heap
	$(CARGO) test -p bareheap --features critical-section critical_section
	$(CARGO) test -p bareheap --features std --doc
	$(CARGO) test --release --test demo

targets: ## Build the library for every embedded target (rustup adds missing ones)
	@rustup target add $(EMBEDDED_TARGETS) >/dev/null 2>&1 || true
	for target in $(EMBEDDED_TARGETS); do \
		echo "== bareheap for $$target"; \
		$(CARGO) build -q -p bareheap --no-default-features --target $$target || exit 1; \
		$(CARGO) build -q -p bareheap --no-default-features --features critical-section --target $$target || exit 1; \
	done

# The 32-bit run links with Debian's gcc-multilib: installed here when missing and possible
# (root + apt-get), otherwise skipped with a message, except under CI.
test-i686: ## The library's tests on 32-bit x86 (i686)
	@rustup target add $(I686) >/dev/null 2>&1 || true
	@probe() { echo 'int main(void){return 0;}' | gcc -m32 -x c - -o /tmp/bareheap-m32-probe 2>/dev/null; }; \
	if ! probe && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== no 32-bit C libraries: installing Debian's gcc-multilib"; \
		apt-get install -y --no-install-recommends gcc-multilib >/dev/null 2>&1 || \
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends gcc-multilib >/dev/null 2>&1; } || true; \
	fi; \
	if probe; then \
		echo "== the library's tests on $(I686)"; \
		$(CARGO) test -p bareheap --target $(I686); \
	elif [ "$$CI" = true ]; then \
		echo "FAILED: no 32-bit C toolchain (gcc-multilib), and it could not be installed"; exit 1; \
	else \
		echo "SKIPPED: the $(I686) tests (install Debian's gcc-multilib)"; \
	fi

# The WebAssembly run needs Node.js (20 or later, for its WASI): the conformance model and a std
# program whose global allocator is the default heap over memory.grow, built for wasm32-wasip1
# and run by allocators/tests/wasi/run.mjs. Skipped with a message without Node, except under CI.
# Node's WASI calls from optimised code ("fast API calls") can start a garbage collection
# in the middle of the call and crash V8 (nodejs/node#46777, still open): here the conformance
# module crashed Node with SIGSEGV after all its tests passed, in 2 of 30 runs, and in none of
# 100 with `--no-turbo-fast-api-calls`, which turns those calls off.
test-wasm: ## The conformance model and a std program on the heap, as WebAssembly under Node.js
	@rustup target add wasm32-wasip1 >/dev/null 2>&1 || true
	@if command -v node >/dev/null; then \
		echo "== the conformance model and a std program as WebAssembly under $$(node --version)"; \
		CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings --no-turbo-fast-api-calls $(CURDIR)/allocators/tests/wasi/run.mjs" \
			$(CARGO) test --release -p bareheap --target wasm32-wasip1 --test conformance --test global_wasm; \
	elif [ "$$CI" = true ]; then \
		echo "FAILED: node is missing (CI needs the WebAssembly run)"; exit 1; \
	else \
		echo "SKIPPED: the WebAssembly run (node not found; install Node.js 20)"; \
	fi

# The firmware example needs qemu-system-arm: installed here when missing and possible (root +
# apt-get), otherwise skipped with a message, except under CI.
firmware: ## Build the Cortex-M3 firmware example and run it under qemu-system-arm
	@rustup target add thumbv7m-none-eabi >/dev/null 2>&1 || true
	cd examples/firmware && $(CARGO) fmt -- --check && $(CARGO) clippy -q --release -- -D warnings
	@if ! command -v qemu-system-arm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== qemu-system-arm not found: installing Debian's qemu-system-arm"; \
		apt-get install -y --no-install-recommends qemu-system-arm >/dev/null 2>&1 || \
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends qemu-system-arm >/dev/null 2>&1; } || true; \
	fi
	@if command -v qemu-system-arm >/dev/null; then \
		echo "== the firmware under qemu-system-arm (LM3S6965, Cortex-M3)"; \
		out=$$(cd examples/firmware && timeout 120 $(CARGO) run -q --release 2>&1); status=$$?; \
		echo "$$out" | grep -v '^Timer with period zero'; \
		[ $$status = 0 ] || { echo "FAILED: the firmware exited with $$status"; exit 1; }; \
	elif [ "$$CI" = true ]; then \
		echo "FAILED: qemu-system-arm is missing and could not be installed (CI needs the firmware run)"; exit 1; \
	else \
		echo "SKIPPED: the firmware run (qemu-system-arm not found; install Debian's qemu-system-arm)"; \
	fi

# Without qemu-user (see qemu-user above) the run is skipped with a message, except under CI,
# where a missing qemu is a failure.
test-qemu: qemu-user ## The demo's and section 9's static programs, tested under qemu-user
	@if command -v $(QEMU) >/dev/null; then \
		echo "== the demo and section 9's program under $(QEMU)"; \
		BAREHEAP_RUNNER=$(QEMU) $(CARGO) test --release --test demo --test readme --test nolibc; \
	elif [ "$$CI" = true ]; then \
		echo "FAILED: $(QEMU) is missing and could not be installed (CI needs the qemu run)"; exit 1; \
	else \
		echo "SKIPPED: the qemu-user run ($(QEMU) not found; install Debian's qemu-user)"; \
	fi

miri-setup: ## Install nightly's Miri component when it is missing
	@if ! $(CARGO) +$(NIGHTLY) miri --version >/dev/null 2>&1; then \
		echo "== Miri not found: installing it with rustup (nightly, miri, rust-src)"; \
		rustup toolchain install $(NIGHTLY) --profile minimal && \
		rustup component add --toolchain $(NIGHTLY) miri rust-src; \
	fi

# Miri interprets one thread at a time, so `make miri` runs two lanes side by side, each into
# its own log, printed when both are done; the builds come first and are shared. Under Tree
# Borrows the x86_64 tests take about 1.6 times as long as under Stacked Borrows (27 and 17 min
# on the machine of BENCHMARKS.md), so one lane runs them under Tree Borrows, and the other
# under Stacked Borrows and then the cross targets' (about 5 min each).
# The unit and integration tests run under Miri, not the doc tests: each doc test is a program
# of its own that Miri would build and start again (about 2.5 of CI's minutes), and what they
# show (the examples compile and run) `make test` checks natively.
# On the cross targets only the tests of what depends on the word size and the byte order run:
# the bitmaps, size classes, tags and index lists, and the model tests of each allocator.
MIRI_ARGS := --features critical-section --lib --tests
MIRI_CROSS_FILTER := bitmap bins block slab index_list model_tests
miri: miri-setup ## The library's tests under Miri: Stacked and Tree Borrows, i686 and s390x, then the open question
	MIRIFLAGS="$(MIRIFLAGS_COMMON)" $(CARGO) +$(NIGHTLY) miri test -p bareheap $(MIRI_ARGS) --no-run
	@for target in $(MIRI_CROSS_TARGETS); do \
		MIRIFLAGS="$(MIRIFLAGS_COMMON)" $(CARGO) +$(NIGHTLY) miri test -p bareheap --lib --target $$target --no-run || exit 1; \
	done
	@$(MAKE) --no-print-directory miri-pair \
		FIRST_NAME="Stacked Borrows, then $(MIRI_CROSS_TARGETS)" FIRST_FLAGS="" FIRST_CROSS="$(MIRI_CROSS_TARGETS)" \
		SECOND_NAME="Tree Borrows" SECOND_FLAGS="-Zmiri-tree-borrows" SECOND_CROSS=""
	$(MAKE) --no-print-directory miri-open-question

# One lane of `make miri`: the x86_64 tests with LANE_FLAGS added to MIRIFLAGS, then the word-size
# and byte-order tests on each target of LANE_CROSS.
miri-lane: ## (used by miri) The x86_64 tests under Miri with LANE_FLAGS, then those of LANE_CROSS's targets
	MIRIFLAGS="$(MIRIFLAGS_COMMON) $(LANE_FLAGS)" $(CARGO) +$(NIGHTLY) miri test -p bareheap $(MIRI_ARGS)
	@for target in $(LANE_CROSS); do \
		echo "== $$target"; \
		MIRIFLAGS="$(MIRIFLAGS_COMMON) $(LANE_FLAGS)" $(CARGO) +$(NIGHTLY) miri test -p bareheap --lib \
			--target $$target -- $(MIRI_CROSS_FILTER) || exit 1; \
	done

# Two lanes at once (used by `make miri`): FIRST_* and SECOND_* give a name, extra MIRIFLAGS and
# the cross targets that follow the x86_64 tests.
miri-pair: ## (used by miri) Two Miri lanes side by side: FIRST_FLAGS and FIRST_CROSS, SECOND_FLAGS and SECOND_CROSS
	@mkdir -p target
	@echo "== under Miri, side by side: $(FIRST_NAME) and $(SECOND_NAME)"
	@( $(MAKE) --no-print-directory miri-lane LANE_FLAGS="$(FIRST_FLAGS)" LANE_CROSS="$(FIRST_CROSS)" \
		> target/miri-first.log 2>&1; echo $$? > target/miri-first.status ) & \
	( $(MAKE) --no-print-directory miri-lane LANE_FLAGS="$(SECOND_FLAGS)" LANE_CROSS="$(SECOND_CROSS)" \
		> target/miri-second.log 2>&1; echo $$? > target/miri-second.status ) & \
	wait; \
	echo "== $(FIRST_NAME)"; cat target/miri-first.log; \
	echo "== $(SECOND_NAME)"; cat target/miri-second.log; \
	[ "$$(cat target/miri-first.status)" = 0 ] && [ "$$(cat target/miri-second.status)" = 0 ] || \
		{ echo "FAILED: Miri ($(FIRST_NAME): $$(cat target/miri-first.status), $(SECOND_NAME): $$(cat target/miri-second.status))"; exit 1; }

# The free list's open aliasing question (its module docs): boxes freed while they are protected
# arguments. Miri reports it under both models; this target fails if it ever stops doing so, so
# that the docs get updated.
miri-open-question: miri-setup ## Shows the open aliasing question: expects Miri's report under both models
	@mkdir -p target
	@for model in stacked tree; do \
		flags=$$( [ $$model = tree ] && echo -Zmiri-tree-borrows ); \
		log=target/miri-open-question-$$model.log; \
		echo "== examples/protected_boxes.rs under Miri, $$model borrows (the whole report: $$log)"; \
		if MIRIFLAGS="$(MIRIFLAGS_COMMON) $$flags" $(CARGO) +$(NIGHTLY) miri run -q -p bareheap \
			--example protected_boxes >$$log 2>&1; then \
			echo "FAILED: Miri accepts it now: update the free list's aliasing docs"; exit 1; \
		fi; \
		grep -q "protected" $$log || { cat $$log; echo "FAILED: not the expected report"; exit 1; }; \
		grep -m1 "Undefined Behavior" $$log; \
	done

# The benchmarks run on the host (the bench/ crate, release build); each subject runs in a child
# process of the bench binary. Results: BENCHMARKS.md, bench/random-actions.svg and
# bench/thread-scaling.svg.
bench: ## Benchmarks against the peers; writes BENCHMARKS.md and the charts (ARGS=--quick: under a minute)
	$(CARGO) build --release -p bareheap-bench --bins
	./target/release/bareheap-bench --out BENCHMARKS.md --svg bench/random-actions.svg $(ARGS)

bench-quick: ## The benchmarks with small counts (same as make bench ARGS=--quick)
	$(MAKE) bench ARGS=--quick

# Code size against the peers (size/: the Cortex-M3 firmware and the WebAssembly module, built
# once per allocator) and the modules' speed under Node.js (from a second build of each module
# with its `bench` feature; size-check builds only the size modules); size/report drives it.
# Results:
# BENCHMARKS.md's block between <!-- size:begin --> and <!-- size:end -->, and size/results.json.
# rustup adds the two Rust targets when missing; qemu-system-arm, wasm-opt (Debian's binaryen)
# and node are not installed here: without one, the target is skipped with a message, except
# under CI, where that is a failure. size-check needs only wasm-opt.
size: ## Code size (Cortex-M3 at opt-level s and z, wasm) and wasm speed vs the peers; writes BENCHMARKS.md
	@$(MAKE) --no-print-directory size-run SIZE_MODE=all SIZE_TOOLS="qemu-system-arm wasm-opt node"

# wasm-opt comes from Debian's binaryen: installed here when missing and possible (root + apt-get).
size-tools: ## (used by test) Install wasm-opt (Debian's binaryen) when missing, as root
	@if ! command -v wasm-opt >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== wasm-opt not found: installing Debian's binaryen"; \
		apt-get install -y --no-install-recommends binaryen >/dev/null 2>&1 || \
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends binaryen >/dev/null 2>&1; } || true; \
	fi

size-check: ## Fails if a bareheap build (Cortex-M3 at z, wasm) is over its size/budgets.txt budget
	@$(MAKE) --no-print-directory size-run SIZE_MODE=check SIZE_TOOLS="wasm-opt"

# Used by size and size-check: SIZE_MODE is size-report's mode, SIZE_TOOLS the programs it needs.
size-run: ## (used by size, size-check) Build and measure: SIZE_MODE, SIZE_TOOLS
	@missing=""; for tool in $(SIZE_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$CI" = true ]; then \
			echo "FAILED: the size benchmarks need$$missing (Debian: qemu-system-arm, binaryen, nodejs)"; exit 1; \
		fi; \
		echo "SKIPPED: the size benchmarks (not found:$$missing; install Debian's qemu-system-arm, binaryen, nodejs)"; \
		exit 0; \
	fi; \
	for target in thumbv7m-none-eabi wasm32-unknown-unknown; do \
		if ! rustup target list --installed | grep -qx "$$target"; then \
			echo "== the Rust target $$target is missing: installing it with rustup"; \
			rustup target add $$target || exit 1; \
		fi; \
	done; \
	(cd size/report && nice $(CARGO) build -q --release) || exit 1; \
	./size/target/release/size-report $(SIZE_MODE)

fuzz-setup: ## Install cargo-fuzz (and nightly) when missing
	@if ! $(CARGO) +$(NIGHTLY) --version >/dev/null 2>&1; then \
		echo "== nightly not found: installing it with rustup"; \
		rustup toolchain install $(NIGHTLY) --profile minimal; \
	fi
	@if ! $(CARGO) fuzz --version >/dev/null 2>&1; then \
		echo "== cargo-fuzz not found: installing it with cargo install"; \
		$(CARGO) install cargo-fuzz --locked; \
	fi

# Each target runs FUZZ_SECONDS; a crash stops make, leaving the input in fuzz/artifacts/.
fuzz: fuzz-setup ## Fuzz every allocator against the shared model, FUZZ_SECONDS (30) each
	cd fuzz && for target in $(FUZZ_TARGETS); do \
		echo "== fuzzing $$target for $(FUZZ_SECONDS) s"; \
		$(CARGO) +$(NIGHTLY) fuzz run $$target -- -max_total_time=$(FUZZ_SECONDS) -max_len=512 || exit 1; \
	done

clean: ## Remove build output
	$(CARGO) clean
