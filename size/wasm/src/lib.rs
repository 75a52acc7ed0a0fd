//! The WebAssembly benchmark's module: a `no_std` `cdylib` for `wasm32-unknown-unknown` whose
//! `#[global_allocator]` is chosen by exactly one cargo feature (see `Cargo.toml`).
//!
//! Exports, the same in every build:
//!
//! - `alloc(size, align)`, `dealloc(ptr, size, align)` and `realloc(ptr, size, align,
//!   new_size)`: the global allocator's three entry points (through `alloc::alloc`), so every
//!   module carries all of its allocator's code, as a program that allocates would.
//!
//! That is all a size build exports (talc's own WebAssembly size method measures the same: a
//! `cdylib` that exports only these three). With the `bench` feature the module also exports
//! `random_actions(max, ops, seed)`, the speed workload `bench.mjs` times (`src/bench.rs`);
//! `make size` builds each allocator twice, without `bench` to measure its size and with it to
//! time it.
//!
//! The `none` build's allocator is a `GlobalAlloc` that returns null: the smallest way to keep
//! the same exports with no allocator code at all (`lol_alloc::FailAllocator` is the same
//! thing). Its null pointer and the arguments of its `dealloc` pass through
//! [`black_box`](core::hint::black_box), so that the optimiser cannot see that every
//! allocation fails and drop code that follows one (the copy in `realloc`): what is left is
//! what every module has, and the `none` module's size, subtracted from the others', gives
//! what each allocator costs.
#![no_std]

extern crate alloc;

#[cfg(feature = "bench")]
mod bench;

use core::alloc::Layout;
use core::ptr;

/// How many allocator features are on: exactly one is required.
const ALLOCATORS_CHOSEN: usize = cfg!(feature = "none") as usize
    + cfg!(feature = "bareheap-free-list") as usize
    + cfg!(feature = "bareheap-heap") as usize
    + cfg!(feature = "bareheap-chunk") as usize
    + cfg!(feature = "talc-arena") as usize
    + cfg!(feature = "talc-growing") as usize
    + cfg!(feature = "rlsf") as usize
    + cfg!(feature = "rlsf-small") as usize
    + cfg!(feature = "dlmalloc") as usize
    + cfg!(feature = "lol_alloc") as usize;
const _: () = assert!(
    ALLOCATORS_CHOSEN == 1,
    "enable exactly one allocator feature (see Cargo.toml)"
);

/// The arena of the two arena allocators (bareheap's chunk allocator, talc's arena): 32 MiB,
/// zeroed, so it costs the module no bytes (it is only part of the initial memory size).
#[cfg(any(feature = "bareheap-chunk", feature = "talc-arena"))]
const ARENA_BYTES: usize = 32 * 1024 * 1024;

/// The baseline: no allocator code, the same exports. Opaque to the optimiser
/// ([`black_box`](core::hint::black_box)): the compiler cannot tell that `alloc` returns null
/// or that `dealloc` ignores its arguments, so the code around the allocator's calls stays as
/// it is in every other module.
#[cfg(feature = "none")]
mod global {
    use core::alloc::{GlobalAlloc, Layout};
    use core::hint::black_box;

    /// Fails every allocation.
    struct Null;

    // SAFETY: it never hands out memory, so no block can be misused; `dealloc` is never
    // called with a block of its own (there are none) and does nothing with it.
    unsafe impl GlobalAlloc for Null {
        unsafe fn alloc(&self, _: Layout) -> *mut u8 {
            black_box(core::ptr::null_mut())
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            black_box((ptr, layout));
        }
    }

    #[global_allocator]
    static ALLOCATOR: Null = Null;
}

/// bareheap's free list, growing the module's memory with `memory.grow`, behind bareheap's
/// default lock.
#[cfg(feature = "bareheap-free-list")]
#[global_allocator]
static ALLOCATOR: bareheap::Locked<bareheap::FreeListAllocator<bareheap::WasmGrower>> =
    bareheap::Locked::new(bareheap::FreeListAllocator::new(bareheap::WasmGrower::new()));

/// bareheap's default heap (size-class pools in front of the free list), growing the same way.
#[cfg(feature = "bareheap-heap")]
#[global_allocator]
static ALLOCATOR: bareheap::LockedHeap<bareheap::WasmGrower> =
    bareheap::LockedHeap::new(bareheap::Heap::new(bareheap::WasmGrower::new()));

/// bareheap's bitmap chunk allocator over a static arena: the default 256-byte chunks, the
/// default lock.
#[cfg(feature = "bareheap-chunk")]
mod global {
    use bareheap::chunk::{DEFAULT_CHUNK_SIZE, GlobalChunkAllocator, PageAligned, bitmap_len};

    use super::ARENA_BYTES;

    const CHUNKS: usize = ARENA_BYTES / DEFAULT_CHUNK_SIZE;

    static mut ARENA: PageAligned<[u8; ARENA_BYTES]> =
        bareheap::heap!(chunks = CHUNKS, chunksize = DEFAULT_CHUNK_SIZE);
    static mut BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> =
        bareheap::heap_bitmap!(chunks = CHUNKS);

    #[global_allocator]
    static ALLOCATOR: GlobalChunkAllocator =
        // SAFETY: ARENA and BITMAP are named nowhere else: the allocator owns them for good.
        unsafe {
            GlobalChunkAllocator::<DEFAULT_CHUNK_SIZE>::from_static(&raw mut ARENA, &raw mut BITMAP)
        };
}

/// talc's arena form for single-threaded WebAssembly (its `WasmBinning`).
#[cfg(feature = "talc-arena")]
mod global {
    use core::mem::MaybeUninit;

    use super::ARENA_BYTES;

    static mut ARENA: [MaybeUninit<u8>; ARENA_BYTES] = [MaybeUninit::uninit(); ARENA_BYTES];

    #[global_allocator]
    static ALLOCATOR: talc::wasm::WasmArenaTalc =
        // SAFETY: ARENA is named nowhere else: talc owns it for good.
        unsafe { talc::wasm::new_wasm_arena_allocator(&raw mut ARENA) };
}

/// talc's growing form, the one its WebAssembly README recommends (`memory.grow`; in talc 5.1
/// the heap is extended, `WasmGrowAndExtend`).
#[cfg(feature = "talc-growing")]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// rlsf's TLSF global allocator (it grows the memory with `memory.grow` on wasm32).
#[cfg(feature = "rlsf")]
#[global_allocator]
static ALLOCATOR: rlsf::GlobalTlsf = rlsf::GlobalTlsf::new();

/// rlsf's smaller TLSF configuration (fewer size classes, no in-place reallocation).
#[cfg(feature = "rlsf-small")]
#[global_allocator]
static ALLOCATOR: rlsf::SmallGlobalTlsf = rlsf::SmallGlobalTlsf::new();

/// dlmalloc, the allocator Rust's standard library uses on this target, from its crate.
#[cfg(feature = "dlmalloc")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// lol_alloc's free list without a lock, as its README recommends for single-threaded modules.
#[cfg(feature = "lol_alloc")]
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    // SAFETY: the module has one thread (wasm32-unknown-unknown without atomics).
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

/// Allocates `size` bytes aligned to `align` from the global allocator; null when it has no
/// memory or the layout is invalid (`align` not a power of two, or the size too large).
///
/// # Safety
/// As [`alloc::alloc::alloc`]: `size` must not be 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn alloc(size: usize, align: usize) -> *mut u8 {
    match Layout::from_size_align(size, align) {
        // SAFETY: the caller promises a non-zero size.
        Ok(layout) => unsafe { alloc::alloc::alloc(layout) },
        Err(_) => ptr::null_mut(),
    }
}

/// Frees a block `alloc` or `realloc` returned, with the size and alignment it was made with.
///
/// # Safety
/// As [`alloc::alloc::dealloc`]: `ptr` is a live block of this allocator of that layout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, size: usize, align: usize) {
    if let Ok(layout) = Layout::from_size_align(size, align) {
        // SAFETY: forwarded from the caller.
        unsafe { alloc::alloc::dealloc(ptr, layout) }
    }
}

/// Resizes a block to `new_size` bytes, keeping its contents up to the smaller size; null (and
/// the block unchanged) when there is no memory.
///
/// # Safety
/// As [`alloc::alloc::realloc`]: `ptr` is a live block of this allocator of the layout
/// (`size`, `align`), and `new_size` is not 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(
    ptr: *mut u8,
    size: usize,
    align: usize,
    new_size: usize,
) -> *mut u8 {
    match Layout::from_size_align(size, align) {
        // SAFETY: forwarded from the caller.
        Ok(layout) => unsafe { alloc::alloc::realloc(ptr, layout, new_size) },
        Err(_) => ptr::null_mut(),
    }
}

/// A panic (none is expected) traps: the host sees an error from the call.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
