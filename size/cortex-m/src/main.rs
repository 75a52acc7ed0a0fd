//! The code-size benchmark's firmware: one program for a Cortex-M3 (TI's LM3S6965, as
//! `qemu-system-arm -machine lm3s6965evb` emulates it) whose `#[global_allocator]` is chosen by
//! exactly one cargo feature. Every build runs the same `alloc` work, so the difference between
//! a build's sections and those of the `null` build (an allocator that always fails) is what
//! that allocator costs in flash and RAM.
//!
//! The `null` allocator is opaque to the optimiser: its null pointer, and the arguments of its
//! `dealloc`, pass through [`black_box`]. A literal null would let fat LTO prove that the first
//! allocation fails and drop everything after it (the `Vec`, `BTreeMap` and `String` code), so
//! that every other build's "net" size would wrongly include the program's own code. With the
//! opaque baseline the program's code is in every build alike, and the net size is the
//! allocator's alone.
//!
//! The work: 1..=1000 pushed into a `Vec<u32>` one at a time and summed (growth through
//! `realloc`), a `BTreeMap<u32, u32>` of 100 entries built and each one looked up (many small
//! blocks, allocated and freed), a `String` grown by `push_str` of a few words. Each result is
//! checked; the program then ends QEMU through semihosting with exit status 0 (every check
//! passed) or 1 (one failed, or a panic). The inputs and results pass through
//! [`black_box`], so the compiler can neither compute the answers ahead nor drop the
//! allocations.
//!
//! Every heap gets the same 16 KiB buffer in `.bss` ([`HEAP_BYTES`]); the panic handler prints a
//! fixed line and exits, so no formatting code is in any build (an allocator's own panic
//! messages are dropped with it).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

/// The bytes every heap manages: one 16 KiB buffer in `.bss` (the `null` baseline has none).
#[cfg_attr(feature = "null", allow(dead_code))]
const HEAP_BYTES: usize = 16 * 1024;

/// How many allocator features are on: exactly one is required.
const ALLOCATORS_CHOSEN: usize = cfg!(feature = "null") as usize
    + cfg!(feature = "bareheap-free-list") as usize
    + cfg!(feature = "bareheap-heap") as usize
    + cfg!(feature = "bareheap-chunk") as usize
    + cfg!(feature = "talc") as usize
    + cfg!(feature = "embedded-alloc-llff") as usize
    + cfg!(feature = "embedded-alloc-tlsf") as usize
    + cfg!(feature = "linked-list-allocator") as usize;
const _: () = assert!(
    ALLOCATORS_CHOSEN == 1,
    "enable exactly one allocator feature (see Cargo.toml)"
);

/// The baseline: a global allocator that has no memory. The program links (so its sections
/// can be measured) but its first allocation fails.
///
/// Opaque to the optimiser ([`black_box`]): the compiler cannot tell that `alloc` returns null
/// or that `dealloc` ignores its arguments, so it keeps all of the program's code after the
/// first allocation, as it does with a real allocator.
#[cfg(feature = "null")]
mod heap {
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
    static HEAP: Null = Null;

    /// Nothing to set up.
    pub fn init() {}
}

/// bareheap's free list, empty until `init` hands it the buffer, behind the default spin lock
/// (as talc's row: the allocator's own bytes compared): all zero bits, so the heap lives in
/// `.bss`.
#[cfg(feature = "bareheap-free-list")]
mod heap {
    use core::mem::MaybeUninit;

    use bareheap::{FreeListAllocator, Locked, NoGrowth};

    use super::HEAP_BYTES;

    static mut BUFFER: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: Locked<FreeListAllocator<NoGrowth>> = Locked::new(FreeListAllocator::empty());

    /// Hands the buffer to the heap.
    pub fn init() {
        // SAFETY: BUFFER is named nowhere else and `init` runs once: this is its only borrow.
        let buffer = unsafe { &mut *(&raw mut BUFFER) };
        HEAP.claim_static(buffer).ok();
    }
}

/// bareheap's default heap (size-class pools in front of the free list), empty until `init`
/// hands it the buffer, same lock.
#[cfg(feature = "bareheap-heap")]
mod heap {
    use core::mem::MaybeUninit;

    use bareheap::{Heap, Locked, NoGrowth};

    use super::HEAP_BYTES;

    static mut BUFFER: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: Locked<Heap<NoGrowth>> = Locked::new(Heap::empty());

    /// Hands the buffer to the heap.
    pub fn init() {
        // SAFETY: BUFFER is named nowhere else and `init` runs once: this is its only borrow.
        let buffer = unsafe { &mut *(&raw mut BUFFER) };
        HEAP.claim_static(buffer).ok();
    }
}

/// bareheap's bitmap chunk allocator: 256 chunks of 64 bytes over a page-aligned `static`
/// (its bitmap is a second page-aligned `static`), behind the critical-section lock like the
/// other bareheap builds.
#[cfg(feature = "bareheap-chunk")]
mod heap {
    use bareheap::CriticalSectionLock;
    use bareheap::chunk::{GlobalChunkAllocator, PageAligned, bitmap_len};

    use super::HEAP_BYTES;

    const CHUNK_SIZE: usize = 64;
    const CHUNKS: usize = HEAP_BYTES / CHUNK_SIZE;

    static mut CHUNKS_MEMORY: PageAligned<[u8; HEAP_BYTES]> =
        bareheap::heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
    static mut BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> =
        bareheap::heap_bitmap!(chunks = CHUNKS);

    #[global_allocator]
    static HEAP: GlobalChunkAllocator<CHUNK_SIZE, CriticalSectionLock> =
        // SAFETY: CHUNKS_MEMORY and BITMAP are named nowhere else: the allocator owns them for
        // the whole program.
        unsafe {
            GlobalChunkAllocator::<CHUNK_SIZE, CriticalSectionLock>::from_static(
                &raw mut CHUNKS_MEMORY,
                &raw mut BITMAP,
            )
        };

    /// Nothing to set up: the allocator is complete at compile time.
    pub fn init() {}
}

/// talc 5 behind spin's mutex (talc's `TalcLock` takes any `lock_api` mutex), claiming the
/// buffer on the first allocation (`Claim`).
#[cfg(feature = "talc")]
mod heap {
    use core::mem::MaybeUninit;

    use talc::TalcLock;
    use talc::source::Claim;

    use super::HEAP_BYTES;

    static mut ARENA: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: TalcLock<spin::mutex::SpinMutex<()>, Claim> =
        // SAFETY: ARENA is named nowhere else: talc owns it for the whole program.
        TalcLock::new(unsafe { Claim::array(&raw mut ARENA) });

    /// Nothing to set up: `Claim` hands the arena over on the first allocation.
    pub fn init() {}
}

/// embedded-alloc's linked-list first-fit heap, set up in `main`.
#[cfg(feature = "embedded-alloc-llff")]
mod heap {
    use core::mem::MaybeUninit;

    use embedded_alloc::LlffHeap;

    use super::HEAP_BYTES;

    static mut BUFFER: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: LlffHeap = LlffHeap::empty();

    /// Hands the buffer to the heap (once, before the first allocation).
    pub fn init() {
        // SAFETY: called once, first thing in `main`; BUFFER is named nowhere else, so the
        // heap owns it for the whole program (its address is exposed for the heap's pointers).
        unsafe { HEAP.init((&raw mut BUFFER).expose_provenance(), HEAP_BYTES) }
    }
}

/// embedded-alloc's TLSF heap (rlsf inside), set up in `main`.
#[cfg(feature = "embedded-alloc-tlsf")]
mod heap {
    use core::mem::MaybeUninit;

    use embedded_alloc::TlsfHeap;

    use super::HEAP_BYTES;

    static mut BUFFER: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: TlsfHeap = TlsfHeap::empty();

    /// Hands the buffer to the heap (once, before the first allocation).
    pub fn init() {
        // SAFETY: called once, first thing in `main`; BUFFER is named nowhere else, so the
        // heap owns it for the whole program (its address is exposed for the heap's pointers).
        unsafe { HEAP.init((&raw mut BUFFER).expose_provenance(), HEAP_BYTES) }
    }
}

/// linked_list_allocator's `LockedHeap` (a `spinning_top` lock), set up in `main`.
#[cfg(feature = "linked-list-allocator")]
mod heap {
    use core::mem::MaybeUninit;

    use linked_list_allocator::LockedHeap;

    use super::HEAP_BYTES;

    static mut BUFFER: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

    #[global_allocator]
    static HEAP: LockedHeap = LockedHeap::empty();

    /// Hands the buffer to the heap (once, before the first allocation).
    pub fn init() {
        // SAFETY: called once, first thing in `main`; BUFFER is named nowhere else, so the
        // heap owns it for the whole program.
        unsafe { HEAP.lock().init((&raw mut BUFFER).cast(), HEAP_BYTES) }
    }
}

#[entry]
fn main() -> ! {
    heap::init();
    let vec_ok = vec_sum();
    let map_ok = map_lookups();
    let string_ok = string_of_words();
    if vec_ok && map_ok && string_ok {
        hprintln!("size-cortex-m: the Vec, BTreeMap and String checks passed");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        hprintln!("size-cortex-m: a check FAILED (Vec, BTreeMap or String)");
        debug::exit(debug::EXIT_FAILURE);
    }
    halt()
}

/// 1..=1000 pushed one at a time (the `Vec` grows by doubling: `realloc`), then summed.
fn vec_sum() -> bool {
    let n: u32 = black_box(1000);
    let mut numbers = Vec::new();
    for i in 1..=n {
        numbers.push(i);
    }
    let numbers = black_box(numbers);
    let sum: u32 = numbers.iter().sum();
    numbers.len() == n as usize && sum == n * (n + 1) / 2
}

/// A map of 100 scattered keys to values, each looked up.
fn map_lookups() -> bool {
    let n: u32 = black_box(100);
    let key = |i: u32| i.wrapping_mul(2_654_435_761);
    let mut map = BTreeMap::new();
    for i in 0..n {
        map.insert(key(i), i * 3);
    }
    let map = black_box(map);
    map.len() == n as usize && (0..n).all(|i| map.get(&key(i)) == Some(&(i * 3)))
}

/// A `String` grown by `push_str` of a few words, 20 times over.
fn string_of_words() -> bool {
    let words = black_box(["bare", "heap ", "on a ", "Cortex-M3; "]);
    let rounds = black_box(20);
    let mut text = String::new();
    for _ in 0..rounds {
        for word in words {
            text.push_str(word);
        }
    }
    let text = black_box(text);
    let round_len: usize = words.iter().map(|word| word.len()).sum();
    text.len() == rounds * round_len && text.starts_with("bareheap on a Cortex-M3; bare")
}

/// Reports the panic as a fixed line (no formatting code) and ends QEMU with status 1.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("size-cortex-m: panic");
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

/// Waits for interrupts forever: where the program ends up if no debugger stops it.
fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
