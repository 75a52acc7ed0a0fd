//! The forms the harness drives every [`Design`] in: the raw API, checked or trusted, and the
//! locked form through `GlobalAlloc` or `allocator_api2::alloc::Allocator`.
//!
//! Each form owns the allocator and the memory it manages (the arenas, declared after the
//! allocator so they are freed last). The inspection queries go to the design, under the lock
//! for the locked form.
//!
//! `GlobalAlloc` forbids zero-size requests, so [`ViaGlobalAlloc`] answers those itself with
//! `None` (the allocator is never asked). [`ViaAllocatorApi`] checks that the length it is
//! told lies inside the allocator's memory too.

use std::alloc::{GlobalAlloc, Layout};
use std::marker::PhantomData;
use std::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use bareheap::{FreeError, Locked, OutOfMemory, RawAllocator, Region};

use crate::{Accounting, Arena, Design, Inspect, Subject};

/// Access to a design's allocator, whatever form holds it.
pub trait Holder {
    /// The design.
    type Design: Design;

    /// Runs `read` on the allocator (under the lock for the locked form).
    fn with<T>(&self, read: impl FnOnce(&<Self::Design as Design>::Allocator) -> T) -> T;

    /// Runs `write` on the allocator (under the lock for the locked form).
    fn with_mut<T>(
        &mut self,
        write: impl FnOnce(&mut <Self::Design as Design>::Allocator) -> T,
    ) -> T;

    /// The memory the allocator manages: what it was built over, then what it claimed.
    fn memory(&self) -> &[Arena];

    /// Bytes of memory handed over at run time so far.
    fn claimed_bytes(&self) -> usize;

    /// Hands `memory` to the allocator ([`Design::claim`]) and keeps it on success; `None`
    /// when the design takes no memory at run time.
    fn hand_over(&mut self, memory: Arena) -> Option<Result<(), OutOfMemory>>;
}

impl<H: Holder> Inspect for H {
    const NAME: &'static str = H::Design::NAME;
    const RETURNS_ALL_MEMORY: bool = H::Design::RETURNS_ALL_MEMORY;

    fn capacity(&self) -> usize {
        self.with(H::Design::capacity) + self.claimed_bytes()
    }

    fn supports(&self, layout: Layout) -> bool {
        let managed = self.capacity();
        self.with(|allocator| H::Design::supports(allocator, layout, managed))
    }

    fn accounting(&self) -> Accounting {
        self.with(H::Design::accounting)
    }

    fn held_bytes(&self, layout: Layout) -> Option<usize> {
        self.with(|allocator| H::Design::held_bytes(allocator, layout))
    }

    fn max_in_use(&self, layout: Layout) -> Option<usize> {
        H::Design::max_in_use(layout)
    }

    fn explain_failure(&self, layout: Layout) -> Result<(), String> {
        self.with(|allocator| H::Design::explain_failure(allocator, layout))
    }

    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        self.with(|allocator| H::Design::holds(allocator, ptr, len))
            .unwrap_or_else(|| self.memory().iter().any(|arena| arena.holds(ptr, len)))
    }

    fn check_consistency(&self) -> Result<(), String> {
        self.with(H::Design::check_consistency)?;
        // Under Miri, where each step's walk costs CI minutes, the unit tests of `usage` check
        // these answers instead.
        if cfg!(miri) {
            return Ok(());
        }
        self.with(usage_agrees::<H::Design>)
    }

    fn check_all_free(&mut self) -> Result<(), String> {
        self.with_mut(H::Design::check_all_free)?;
        self.with(|allocator| {
            bareheap::Inspect::validate(allocator).map_err(|problem| problem.to_string())
        })
    }

    fn claim(&mut self, bytes: usize) -> bool {
        matches!(self.hand_over(Arena::new(bytes, 16)), Some(Ok(())))
    }
}

/// Memory a form owns: the arenas, and how many bytes of them came at run time.
#[derive(Default)]
struct Memory {
    arenas: Vec<Arena>,
    claimed: usize,
}

impl Memory {
    fn built(arenas: Vec<Arena>) -> Self {
        Self { arenas, claimed: 0 }
    }

    /// Offers `arena` to `claim` (the design's claim on the right allocator) and keeps it when
    /// taken.
    fn hand_over(
        &mut self,
        arena: Arena,
        claim: impl FnOnce(Region) -> Option<Result<(), OutOfMemory>>,
    ) -> Option<Result<(), OutOfMemory>> {
        let answer = claim(Region::new(arena.start(), arena.len()));
        if let Some(Ok(())) = answer {
            self.claimed += arena.len();
            self.arenas.push(arena);
        }
        answer
    }
}

/// A design's allocator used directly, single-threaded: the raw API.
pub struct Raw<D: Design, Api> {
    allocator: D::Allocator,
    memory: Memory,
    api: PhantomData<Api>,
}

/// The checked raw API: `deallocate` and `resize`, whose refusals the harness sees.
pub enum CheckedApi {}
/// The trusted raw API: `deallocate_trusted` and `resize_trusted`.
pub enum TrustedApi {}

/// The raw API with every free and resize checked.
pub type Checked<D> = Raw<D, CheckedApi>;
/// The raw API through its trusted calls, as `GlobalAlloc` uses them.
pub type Trusted<D> = Raw<D, TrustedApi>;

impl<D: Design, Api> Raw<D, Api> {
    /// A fresh allocator over about `bytes` bytes.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        let (allocator, memory) = D::build(bytes);
        Self {
            allocator,
            memory: Memory::built(memory),
            api: PhantomData,
        }
    }

    /// The allocator itself, for calls outside the [`Subject`] interface. O(1).
    pub fn raw(&mut self) -> &mut D::Allocator {
        &mut self.allocator
    }
}

impl<D: Design, Api> Holder for Raw<D, Api> {
    type Design = D;

    fn with<T>(&self, read: impl FnOnce(&D::Allocator) -> T) -> T {
        read(&self.allocator)
    }

    fn with_mut<T>(&mut self, write: impl FnOnce(&mut D::Allocator) -> T) -> T {
        write(&mut self.allocator)
    }

    fn memory(&self) -> &[Arena] {
        &self.memory.arenas
    }

    fn claimed_bytes(&self) -> usize {
        self.memory.claimed
    }

    fn hand_over(&mut self, memory: Arena) -> Option<Result<(), OutOfMemory>> {
        let allocator = &mut self.allocator;
        // SAFETY: a fresh arena, used by nothing else, kept until after the allocator drops.
        self.memory
            .hand_over(memory, |region| unsafe { D::claim(allocator, region) })
    }
}

impl<D: Design> Subject for Checked<D> {
    const CHANGES_ALIGNMENT: bool = true;

    unsafe fn checked_free(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
    ) -> Option<Result<(), FreeError>> {
        // SAFETY: forwarded from the caller: pointers the checked free accepts.
        Some(unsafe { self.allocator.deallocate(ptr, layout) })
    }

    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        Some(self.allocator.allocate(layout).ok()?.cast())
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block with its layout.
        unsafe { self.allocator.deallocate(ptr.as_ptr(), layout) }
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller passes a live block with its layout.
        let block = unsafe { self.allocator.resize(ptr.as_ptr(), layout, new) };
        Some(block.ok()?.cast())
    }
}

impl<D: Design> Subject for Trusted<D> {
    const CHANGES_ALIGNMENT: bool = true;

    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        Some(self.allocator.allocate(layout).ok()?.cast())
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block with its layout.
        unsafe { self.allocator.deallocate_trusted(ptr, layout) };
        Ok(())
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller passes a live block with its layout.
        let block = unsafe { self.allocator.resize_trusted(ptr, layout, new) };
        Some(block.ok()?.cast())
    }
}

/// A design's allocator behind [`Locked`], shared by threads or driven through one of its
/// interfaces ([`ViaGlobalAlloc`], [`ViaAllocatorApi`]).
pub struct Shared<D: Design> {
    allocator: Locked<D::Allocator>,
    memory: Memory,
}

impl<D: Design> Shared<D> {
    /// A fresh locked allocator over about `bytes` bytes.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        let (allocator, memory) = D::build(bytes);
        Self {
            allocator: Locked::new(allocator),
            memory: Memory::built(memory),
        }
    }

    /// The locked allocator, to call or to share between threads. O(1).
    pub fn allocator(&self) -> &Locked<D::Allocator> {
        &self.allocator
    }
}

impl<D: Design> Holder for Shared<D> {
    type Design = D;

    fn with<T>(&self, read: impl FnOnce(&D::Allocator) -> T) -> T {
        self.allocator.inspect(read)
    }

    fn with_mut<T>(&mut self, write: impl FnOnce(&mut D::Allocator) -> T) -> T {
        write(self.allocator.get_mut())
    }

    fn memory(&self) -> &[Arena] {
        &self.memory.arenas
    }

    fn claimed_bytes(&self) -> usize {
        self.memory.claimed
    }

    fn hand_over(&mut self, memory: Arena) -> Option<Result<(), OutOfMemory>> {
        let mut guard = self.allocator.lock();
        // SAFETY: the allocator stays in place, only gaining memory: a fresh arena, used by
        // nothing else, kept until after the allocator drops.
        self.memory.hand_over(memory, |region| unsafe {
            D::claim(guard.get_mut(), region)
        })
    }
}

/// A locked allocator driven through `GlobalAlloc`.
pub struct ViaGlobalAlloc<D: Design>(pub Shared<D>);

impl<D: Design> ViaGlobalAlloc<D> {
    /// A fresh locked allocator over about `bytes` bytes.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        Self(Shared::new(bytes))
    }
}

impl<D: Design> Holder for ViaGlobalAlloc<D> {
    type Design = D;

    fn with<T>(&self, read: impl FnOnce(&D::Allocator) -> T) -> T {
        self.0.with(read)
    }

    fn with_mut<T>(&mut self, write: impl FnOnce(&mut D::Allocator) -> T) -> T {
        self.0.with_mut(write)
    }

    fn memory(&self) -> &[Arena] {
        self.0.memory()
    }

    fn claimed_bytes(&self) -> usize {
        self.0.claimed_bytes()
    }

    fn hand_over(&mut self, memory: Arena) -> Option<Result<(), OutOfMemory>> {
        self.0.hand_over(memory)
    }
}

impl<D: Design> Subject for ViaGlobalAlloc<D> {
    const CHANGES_ALIGNMENT: bool = false;
    const SERVES_ZERO_SIZE: bool = false;

    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if layout.size() == 0 {
            return None;
        }
        // SAFETY: the layout has a non-zero size.
        NonNull::new(unsafe { self.0.allocator.alloc(layout) })
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of this allocator with its layout.
        unsafe { self.0.allocator.dealloc(ptr.as_ptr(), layout) };
        Ok(())
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        if new.size() == 0 {
            return None;
        }
        // SAFETY: a live block with its layout (the caller's promise); the new size is
        // non-zero and forms a valid layout with the old alignment (the harness's `new`).
        NonNull::new(unsafe { self.0.allocator.realloc(ptr.as_ptr(), layout, new.size()) })
    }
}

/// A locked allocator driven through `allocator_api2::alloc::Allocator` (by reference).
pub struct ViaAllocatorApi<D: Design>(pub Shared<D>);

impl<D: Design> ViaAllocatorApi<D> {
    /// A fresh locked allocator over about `bytes` bytes.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        Self(Shared::new(bytes))
    }

    /// The block's start, after checking the reported span against the allocator's memory.
    fn start_of(&self, block: NonNull<[u8]>, layout: Layout) -> NonNull<u8> {
        let start = block.cast::<u8>();
        assert!(block.len() >= layout.size(), "span shorter than the layout");
        assert!(
            self.holds(start, block.len()),
            "reported span leaves the heap"
        );
        start
    }
}

impl<D: Design> Holder for ViaAllocatorApi<D> {
    type Design = D;

    fn with<T>(&self, read: impl FnOnce(&D::Allocator) -> T) -> T {
        self.0.with(read)
    }

    fn with_mut<T>(&mut self, write: impl FnOnce(&mut D::Allocator) -> T) -> T {
        self.0.with_mut(write)
    }

    fn memory(&self) -> &[Arena] {
        self.0.memory()
    }

    fn claimed_bytes(&self) -> usize {
        self.0.claimed_bytes()
    }

    fn hand_over(&mut self, memory: Arena) -> Option<Result<(), OutOfMemory>> {
        self.0.hand_over(memory)
    }
}

impl<D: Design> Subject for ViaAllocatorApi<D> {
    const CHANGES_ALIGNMENT: bool = true;

    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let block = Allocator::allocate(&self.0.allocator, layout).ok()?;
        Some(self.start_of(block, layout))
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of this allocator with its layout.
        unsafe { Allocator::deallocate(&self.0.allocator, ptr, layout) };
        Ok(())
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        let allocator = &self.0.allocator;
        let block = if new.size() >= layout.size() {
            // SAFETY: a live block with its layout (the caller's promise); not smaller.
            unsafe { allocator.grow(ptr, layout, new) }
        } else {
            // SAFETY: as above; smaller.
            unsafe { allocator.shrink(ptr, layout, new) }
        };
        Some(self.start_of(block.ok()?, new))
    }
}

/// The answers every allocator gives with the same names (`bareheap::Inspect`) against the
/// design's own statistics, after every step: it counts the live blocks the design counts
/// (which the harness checks against the model), and its largest free block is free memory.
/// Its consistency check (`validate`) runs once per sequence, when everything is freed
/// (`check_all_free`): after every step it would repeat the design's own walk.
fn usage_agrees<D: Design>(allocator: &D::Allocator) -> Result<(), String> {
    let usage = bareheap::Inspect::usage(allocator);
    let live_blocks = D::accounting(allocator).live_blocks;
    if usage.live_blocks != live_blocks || usage.largest_free_block > usage.free_bytes {
        return Err(format!(
            "usage() says {usage:?}, the design's statistics {live_blocks} live blocks"
        ));
    }
    Ok(())
}
