//! bareheap on a microcontroller: firmware for a Cortex-M3 (TI's LM3S6965, 64 KiB of SRAM, as
//! `qemu-system-arm -machine lm3s6965evb` emulates it) whose global allocator is bareheap's
//! default heap over a static buffer, behind the interrupt-safe `critical-section` lock. The
//! heap starts empty (all zero bits: it lives in `.bss`, costs no flash and no start-up code)
//! and `main` hands it the buffer; the heap then sizes its pools' slabs for that buffer (2 KiB
//! for 24 KiB, and no empty slab kept), so that small requests come from slabs on a heap of a
//! few dozen KiB too.
//!
//! ```text
//!   SRAM 0x2000_0000 ┌──────────────────────────────┐
//!                    │ .data, .bss                  │ ◄ HEAP_MEMORY (24 KiB) lives in .bss
//!                    │   … the stack grows down ▼   │
//!        0x2000_C000 ├──────────────────────────────┤
//!                    │ bank 2 (16 KiB): no section; │ ◄ handed to the heap at run time
//!                    │ the firmware learns of it    │   (`claim`), as a second RAM bank
//!        0x2001_0000 └──────────────────────────────┘
//! ```
//!
//! It does ordinary `alloc` work (a `Vec`, a `BTreeMap`, `String`s), checks every result,
//! prints what it did through semihosting and ends QEMU with exit status 0 when every check
//! passed, 1 otherwise (a panic prints its message and exits with 1 too).

#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use bareheap::{CriticalSectionLock, LockedHeap, NoGrowth, Region};
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

/// The heap the firmware starts with: a buffer in `.bss`.
const HEAP_BYTES: usize = 24 * 1024;
static mut HEAP_MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

/// bareheap's default heap (size-class pools in front of a free list) behind a lock that
/// masks interrupts: an interrupt handler may allocate without deadlocking on the lock that
/// the code it interrupted holds. Empty until `main` hands it the buffer; all zero bits, so it
/// lives in `.bss`.
#[global_allocator]
static HEAP: LockedHeap<NoGrowth, CriticalSectionLock> = LockedHeap::empty();

unsafe extern "C" {
    /// The second RAM bank's bounds, from `memory.x` (no section is placed there).
    static _bank2_start: u8;
    static _bank2_end: u8;
}

#[entry]
fn main() -> ! {
    let mut checks = Checks::default();
    let buffer = &raw mut HEAP_MEMORY;
    // SAFETY: HEAP_MEMORY is named nowhere else and `main` runs once: this is its only borrow.
    let memory = unsafe { &mut *buffer };
    checks.expect(
        HEAP.claim_static(memory).is_ok(),
        "the heap takes its 24 KiB",
    );
    checks.expect(vectors_and_sums(), "a Vec of 1000 numbers sums to 499500");
    checks.expect(
        map_of_words(),
        "a BTreeMap of 200 Strings answers every lookup",
    );
    let slabs = HEAP.inspect(|heap| {
        let stats = heap.pools().stats();
        stats.slabs + stats.slabs_released
    });
    checks.expect(slabs > 0, "small blocks came from 2 KiB slabs of the pools");
    // 18 KiB of the first heap stay in use from here on (written, and read at the end, so
    // that the compiler cannot leave the allocation out).
    let resident = core::hint::black_box(alloc::vec![7u8; 18 * 1024]);
    checks.expect(
        try_bytes(12 * 1024).is_none(),
        "12 KiB more do not fit in the first heap",
    );
    let (start, end) = add_the_second_bank(&mut checks);
    let bytes = try_bytes(12 * 1024);
    checks.expect(
        bytes.as_ref().is_some_and(|bytes| {
            let at = bytes.as_ptr().addr();
            (start..end).contains(&at) && bytes.iter().enumerate().all(|(i, &b)| b == i as u8)
        }),
        "with the second bank, they do, in the bank, and hold their bytes",
    );
    checks.expect(
        resident.iter().all(|&b| b == 7),
        "the first heap's 18 KiB block kept its bytes",
    );
    drop((bytes, resident));
    let regions = HEAP.inspect(|heap| heap.free_list().regions().count());
    checks.expect(regions == 2, "the heap lists two regions");
    checks.expect(
        HEAP.inspect(|heap| heap.free_list().validate()).is_ok(),
        "the heap's tags and bins are consistent",
    );
    hprintln!("{} checks passed, {} failed", checks.passed, checks.failed);
    debug::exit(if checks.failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    halt()
}

/// A growing `Vec`, summed, shrunk, summed again.
fn vectors_and_sums() -> bool {
    let mut numbers: Vec<u32> = (0..1000).collect();
    let sum: u32 = numbers.iter().sum();
    numbers.truncate(10);
    numbers.shrink_to_fit();
    sum == 499_500 && numbers.iter().sum::<u32>() == 45
}

/// A map from numbers to their decimal strings, queried and emptied.
fn map_of_words() -> bool {
    let mut words: BTreeMap<u32, String> = (0..200).map(|n| (n, n.to_string())).collect();
    let found = (0..200).all(|n| words.get(&n).is_some_and(|word| *word == n.to_string()));
    words.retain(|n, _| n % 2 == 0);
    found && words.len() == 100
}

/// Hands the second RAM bank to the heap, as a board support crate would once it has read the
/// memory map; returns the bank's bounds.
fn add_the_second_bank(checks: &mut Checks) -> (usize, usize) {
    let start = (&raw const _bank2_start).addr();
    let end = (&raw const _bank2_end).addr();
    // The bank is plain RAM outside every section: nothing in the program has a pointer to it,
    // so its pointer comes from the address alone.
    let Some(bank) = NonNull::new(core::ptr::with_exposed_provenance_mut::<u8>(start)) else {
        checks.expect(false, "the second bank has an address");
        return (start, end);
    };
    // SAFETY: the bank is RAM (memory.x), used by nothing else, for as long as the program
    // runs.
    let claimed = unsafe { HEAP.claim(Region::new(bank, end - start)) };
    checks.expect(
        claimed.is_ok(),
        "the heap takes the second bank (16 KiB at 0x2000c000)",
    );
    (start, end)
}

/// `len` patterned bytes in a `Vec`, or `None` when the heap has no room: `try_reserve`
/// reports the failed allocation instead of aborting.
fn try_bytes(len: usize) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(len).ok()?;
    bytes.extend((0..len).map(|i| i as u8));
    Some(bytes)
}

/// Counts checks and prints each.
#[derive(Default)]
struct Checks {
    passed: usize,
    failed: usize,
}

impl Checks {
    fn expect(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
            hprintln!("ok   {}", what);
        } else {
            self.failed += 1;
            hprintln!("FAIL {}", what);
        }
    }
}

/// Prints the panic through semihosting and ends QEMU with a failure status.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

/// Waits for interrupts forever: where the firmware ends up if the debugger does not stop it
/// (on real hardware, without semihosting's exit).
fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}
