//! The open aliasing question of the free list, as a program: two `Box`es freed while they are
//! still protected function arguments.
//!
//! ```text
//!   fn two(a: Box<[u64; 3]>, b: Box<[u64; 3]>) {}   // both dropped before `two` returns
//!
//!   [tag│ a's 24 bytes │tag│ b's 24 bytes │tag│ … ]   adjacent blocks of the free list
//!         ▲ freeing a writes a's links here, through the heap's pointer, while `a` is
//!           still protected; freeing b merges b into a and rewrites a's header and links
//! ```
//!
//! Natively it runs like any program. Under Miri (`make miri-open-question`) both Stacked and
//! Tree Borrows report the writes as foreign accesses to protected memory: Miri does not see a
//! custom allocator's free as the end of the block, so the protector is still there when the
//! allocator writes its metadata. Every allocator that keeps metadata in freed blocks gets this
//! report (talc, rlsf issue #20, dlmalloc); whether the models should accept it is
//! unsafe-code-guidelines issue #376. The free-list module docs give the decision and its
//! reasons.

use std::mem::MaybeUninit;

use bareheap::{FreeListAllocator, LockedFreeListAllocator, StaticGrower};

static mut MEMORY: [MaybeUninit<u8>; 64 << 10] = [MaybeUninit::uninit(); 64 << 10];

#[global_allocator]
static HEAP: LockedFreeListAllocator<StaticGrower<'static>> =
    // SAFETY: MEMORY is named nowhere else: this heap owns it for good.
    LockedFreeListAllocator::new(FreeListAllocator::new(unsafe {
            StaticGrower::from_raw(&raw mut MEMORY)
        }));

/// Takes both boxes by value: they are protected arguments until it returns, and dropped
/// (freed) before it does. The boxes are the point, hence the lint's exception.
#[inline(never)]
#[allow(clippy::boxed_local)]
fn two(a: Box<[u64; 3]>, b: Box<[u64; 3]>) -> u64 {
    a.iter().chain(b.iter()).sum()
}

fn main() {
    let (a, b) = (Box::new([1u64; 3]), Box::new([2u64; 3]));
    assert_eq!(two(a, b), 9);
    HEAP.inspect(|heap| heap.validate())
        .expect("a consistent heap");
    println!("two protected boxes freed: ok");
}
