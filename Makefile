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

.PHONY: help build run run-debug qemu test lint doc test-host test-qemu miri miri-open-question miri-setup bench bench-quick fuzz fuzz-setup clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## Build the demo binary (release)
	$(CARGO) build --release --bin bareheap-demo

run: build ## Build and run the demo (release); pass arguments with DEMO_ARGS="..."
	./target/release/bareheap-demo $(DEMO_ARGS)

run-debug: ## Build and run the demo (debug build)
	$(CARGO) build --bin bareheap-demo
	./target/debug/bareheap-demo $(DEMO_ARGS)

qemu: build ## Run the demo under qemu-user (an emulated x86_64 CPU)
	@command -v $(QEMU) >/dev/null || { echo "$(QEMU) not found: install Debian's qemu-user"; exit 1; }
	$(QEMU) ./target/release/bareheap-demo $(DEMO_ARGS)

test: lint test-host test-qemu ## Everything CI checks except Miri: lints, docs, tests, the binary natively and under qemu

lint: ## cargo fmt --check, clippy -D warnings, rustdoc -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p bareheap --lib --no-default-features -- -D warnings
	$(CARGO) clippy -p bareheap --lib --all-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

test-host: ## The library's tests, and the demo binary run natively (debug and release)
	$(CARGO) test --workspace
	$(CARGO) test --release --test demo

# The qemu run needs qemu-user. Installed here when missing and possible (root + apt-get);
# otherwise skipped with a message, except under CI, where a missing qemu is a failure.
test-qemu: ## The demo binary's tests under qemu-user
	@if ! command -v $(QEMU) >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "== $(QEMU) not found: installing Debian's qemu-user"; \
		apt-get install -y --no-install-recommends qemu-user >/dev/null 2>&1 || \
		{ apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends qemu-user >/dev/null 2>&1; } || true; \
	fi
	@if command -v $(QEMU) >/dev/null; then \
		echo "== the demo under $(QEMU)"; \
		BAREHEAP_RUNNER=$(QEMU) $(CARGO) test --release --test demo; \
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

miri: miri-setup ## The library's tests under Miri: Stacked Borrows, then Tree Borrows; then the open question
	MIRIFLAGS="$(MIRIFLAGS_COMMON)" $(CARGO) +$(NIGHTLY) miri test -p bareheap
	MIRIFLAGS="$(MIRIFLAGS_COMMON) -Zmiri-tree-borrows" $(CARGO) +$(NIGHTLY) miri test -p bareheap
	$(MAKE) --no-print-directory miri-open-question

# The free list's open aliasing question (its module docs): boxes freed while they are protected
# arguments. Miri reports it under both models; this target fails if it ever stops doing so, so
# that the docs get updated.
miri-open-question: miri-setup ## Shows the open aliasing question: expects Miri's report under both models
	@for model in "" "-Zmiri-tree-borrows"; do \
		echo "== examples/protected_boxes.rs under Miri $${model:-(Stacked Borrows)}"; \
		if MIRIFLAGS="$(MIRIFLAGS_COMMON) $$model" $(CARGO) +$(NIGHTLY) miri run -q -p bareheap \
			--example protected_boxes >/tmp/bareheap-open-question.log 2>&1; then \
			echo "FAILED: Miri accepts it now: update the free list's aliasing docs"; exit 1; \
		fi; \
		grep -q "protected" /tmp/bareheap-open-question.log || \
			{ cat /tmp/bareheap-open-question.log; echo "FAILED: not the expected report"; exit 1; }; \
		grep -m1 "Undefined Behavior" /tmp/bareheap-open-question.log; \
	done

# The benchmarks run on the host (the bench/ crate, release build); each subject runs in a child
# process of the bench binary. Results: BENCHMARKS.md and bench/random-actions.svg.
bench: ## Benchmarks against the peers; writes BENCHMARKS.md and the chart (ARGS=--quick: under a minute)
	$(CARGO) run --release -p bareheap-bench -- --out BENCHMARKS.md --svg bench/random-actions.svg $(ARGS)

bench-quick: ## The benchmarks with small counts (same as make bench ARGS=--quick)
	$(MAKE) bench ARGS=--quick

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
