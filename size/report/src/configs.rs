//! The configurations the benchmarks build: one cargo feature of `size/cortex-m` or
//! `size/wasm` each, with the crate it measures (for its version, read from the workspace's
//! `Cargo.lock`) and how the tables describe it.

/// The opt-levels the Cortex-M firmware is measured at.
pub const CORTEX_M_OPT_LEVELS: [&str; 2] = ["s", "z"];

/// The bytes every Cortex-M heap manages (`HEAP_BYTES` in `size/cortex-m/src/main.rs`).
pub const CORTEX_M_HEAP_BYTES: u64 = 16 * 1024;

/// One allocator of one benchmark: the cargo feature that selects it.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// The cargo feature (also the allocator's name in the tables, budgets and JSON).
    pub feature: &'static str,
    /// The package it measures, whose locked version the tables print (`None`: the baseline).
    pub package: Option<&'static str>,
    /// What the build uses, for the tables.
    pub form: &'static str,
    /// How it gets memory (the speed table compares like with like).
    pub kind: Kind,
    /// Whether `make size-check` builds it (bareheap and the baseline).
    pub budgeted: bool,
}

/// Where an allocator's memory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The baseline: no allocator.
    Baseline,
    /// A fixed buffer or arena.
    Arena,
    /// Grows the WebAssembly memory (`memory.grow`) as needed.
    Growing,
}

impl Kind {
    /// The word the tables and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Baseline => "baseline",
            Kind::Arena => "arena",
            Kind::Growing => "growing",
        }
    }
}

/// The feature of the Cortex-M baseline.
pub const CORTEX_M_BASELINE: &str = "null";

/// The feature of the WebAssembly baseline.
pub const WASM_BASELINE: &str = "none";

/// The Cortex-M firmware's allocators, the baseline first.
pub const CORTEX_M: [Config; 9] = [
    Config {
        feature: "null",
        package: None,
        form: "a GlobalAlloc that always returns null, through `black_box` (links, does not run)",
        kind: Kind::Baseline,
        budgeted: true,
    },
    Config {
        feature: "bareheap-free-list",
        package: Some("bareheap"),
        form: "`Locked<FreeListAllocator<NoGrowth>>` (spin lock), the buffer handed over with `claim_static`",
        kind: Kind::Arena,
        budgeted: true,
    },
    Config {
        feature: "bareheap-heap",
        package: Some("bareheap"),
        form: "`Locked<Heap<NoGrowth>>` (spin lock), the buffer handed over with `claim_static`",
        kind: Kind::Arena,
        budgeted: true,
    },
    Config {
        feature: "bareheap-heap-magazines",
        package: Some("bareheap"),
        form: "the same heap with the `magazines` feature (a default of the library)",
        kind: Kind::Arena,
        budgeted: true,
    },
    Config {
        feature: "bareheap-chunk",
        package: Some("bareheap"),
        form: "`GlobalChunkAllocator<64, CriticalSectionLock>`, `from_static` (256 chunks)",
        kind: Kind::Arena,
        budgeted: true,
    },
    Config {
        feature: "talc",
        package: Some("talc"),
        form: "`TalcLock<spin::mutex::SpinMutex<()>, Claim>`",
        kind: Kind::Arena,
        budgeted: false,
    },
    Config {
        feature: "embedded-alloc-llff",
        package: Some("embedded-alloc"),
        form: "`LlffHeap` (linked_list_allocator inside, critical section)",
        kind: Kind::Arena,
        budgeted: false,
    },
    Config {
        feature: "embedded-alloc-tlsf",
        package: Some("embedded-alloc"),
        form: "`TlsfHeap` (rlsf inside, critical section)",
        kind: Kind::Arena,
        budgeted: false,
    },
    Config {
        feature: "linked-list-allocator",
        package: Some("linked_list_allocator"),
        form: "`LockedHeap` (spinning_top), no `realloc` of its own",
        kind: Kind::Arena,
        budgeted: false,
    },
];

/// The WebAssembly module's allocators, the baseline first.
pub const WASM: [Config; 11] = [
    Config {
        feature: "none",
        package: None,
        form: "a GlobalAlloc that always returns null, through `black_box`",
        kind: Kind::Baseline,
        budgeted: true,
    },
    Config {
        feature: "bareheap-free-list",
        package: Some("bareheap"),
        form: "`Locked<FreeListAllocator<WasmGrower>>` (spin lock)",
        kind: Kind::Growing,
        budgeted: true,
    },
    Config {
        feature: "bareheap-heap",
        package: Some("bareheap"),
        form: "`LockedHeap<WasmGrower>` (spin lock)",
        kind: Kind::Growing,
        budgeted: true,
    },
    Config {
        feature: "bareheap-heap-magazines",
        package: Some("bareheap"),
        form: "the same heap with the `magazines` feature (a default of the library)",
        kind: Kind::Growing,
        budgeted: true,
    },
    Config {
        feature: "bareheap-chunk",
        package: Some("bareheap"),
        form: "`GlobalChunkAllocator` (256-byte chunks) over a 32 MiB static",
        kind: Kind::Arena,
        budgeted: true,
    },
    Config {
        feature: "talc-arena",
        package: Some("talc"),
        form: "`wasm::new_wasm_arena_allocator` over a 32 MiB static",
        kind: Kind::Arena,
        budgeted: false,
    },
    Config {
        feature: "talc-growing",
        package: Some("talc"),
        form: "`wasm::new_wasm_dynamic_allocator` (`WasmGrowAndExtend`)",
        kind: Kind::Growing,
        budgeted: false,
    },
    Config {
        feature: "rlsf",
        package: Some("rlsf"),
        form: "`GlobalTlsf`",
        kind: Kind::Growing,
        budgeted: false,
    },
    Config {
        feature: "rlsf-small",
        package: Some("rlsf"),
        form: "`SmallGlobalTlsf`",
        kind: Kind::Growing,
        budgeted: false,
    },
    Config {
        feature: "dlmalloc",
        package: Some("dlmalloc"),
        form: "`GlobalDlmalloc`",
        kind: Kind::Growing,
        budgeted: false,
    },
    Config {
        feature: "lol_alloc",
        package: Some("lol_alloc"),
        form: "`AssumeSingleThreaded<FreeListAllocator>`",
        kind: Kind::Growing,
        budgeted: false,
    },
];

/// The WebAssembly reference of an arena allocator in the speed table.
pub const TALC_ARENA: &str = "talc-arena";

/// The WebAssembly reference of a growing allocator in the speed table.
pub const TALC_GROWING: &str = "talc-growing";

/// The largest block sizes of the random-actions runs (`max` of `random_actions`).
pub const SPEED_MAXIMA: [u32; 3] = [200, 1000, 30_000];

/// Actions per timed run.
pub const SPEED_OPS: u32 = 200_000;

/// Timed runs per module and size (their median is reported), after one warm-up run.
pub const SPEED_RUNS: u32 = 5;

/// The random-actions seed.
pub const SPEED_SEED: u32 = 2024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baselines_come_first_and_names_are_unique() {
        for (configs, baseline) in [
            (&CORTEX_M[..], CORTEX_M_BASELINE),
            (&WASM[..], WASM_BASELINE),
        ] {
            assert_eq!(configs[0].feature, baseline);
            assert_eq!(configs[0].kind, Kind::Baseline);
            for (i, config) in configs.iter().enumerate() {
                assert!(configs[i + 1..].iter().all(|c| c.feature != config.feature));
                assert_eq!(config.package.is_none(), config.kind == Kind::Baseline);
            }
        }
        assert!(
            WASM.iter()
                .any(|c| c.feature == TALC_ARENA && c.kind == Kind::Arena)
        );
        assert!(
            WASM.iter()
                .any(|c| c.feature == TALC_GROWING && c.kind == Kind::Growing)
        );
    }
}
