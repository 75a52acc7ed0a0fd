//! The subjects: every allocator under test behind one small trait, one adapter each.
//!
//! ```text
//!   workload ──► Subject::alloc / dealloc / realloc ──► adapter ──► the allocator's own API
//!                 (monomorphised: no dynamic dispatch)     (raw, single-threaded form)
//! ```
//!
//! Every subject is built over the same kind of arena: a caller-supplied, page-aligned piece of
//! memory of the workload's size. Growing allocators get a grower that hands out that arena
//! (bareheap's `StaticGrower`, an arena source for dlmalloc), so they cannot take more memory
//! than the others. The system malloc is the one exception: it takes its memory from the OS.
//!
//! Each adapter calls the allocator's single-threaded API directly (no lock): the workloads
//! measure the allocation algorithm. bareheap's allocators all share one adapter, [`Bare`],
//! over their common `RawAllocator` trait; each says only how it is built over the arena
//! ([`Build`]). The threads workload puts one shared lock (spin or futex) around whichever
//! subject it runs, the same lock for all of them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

use bareheap::fixed::{FixedBlocks, FixedPool};
use bareheap::{
    CacheIndex, Cached, ChunkAllocator, FreeListAllocator, FutexLock, Heap, RawAllocator,
    SizeClassPools, StaticGrower,
};

use crate::workloads::threads::Concurrent;

/// An allocator under test, built over an arena.
pub trait Subject: Sized {
    /// Builds the allocator over the `len` bytes at `base` (page-aligned).
    ///
    /// # Safety
    /// The memory must be valid, unused by anything else, and outlive the subject and every
    /// block it hands out.
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self>;

    /// Allocates a block for `layout` (size > 0); `None` when out of memory.
    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>>;

    /// Frees a block; `false` when the allocator refused the free (a bug in the subject).
    ///
    /// # Safety
    /// `ptr` is a live block of this subject, allocated with `layout`.
    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool;

    /// Resizes a block to `new_size` bytes, keeping its contents and alignment; `None` (old
    /// block kept) when out of memory. The default, for allocators without a realloc of their
    /// own, moves the block: allocate, copy, free.
    ///
    /// # Safety
    /// As for [`dealloc`](Self::dealloc); on success the old pointer is dead.
    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: forwarded: `ptr` is a live block of this subject with `layout`.
        unsafe { move_realloc(self, ptr, layout, new_size) }
    }
}

/// Moves a block to a new one of `new_size` bytes: allocate, copy, free.
///
/// # Safety
/// As for [`Subject::realloc`].
unsafe fn move_realloc<S: Subject>(
    subject: &mut S,
    ptr: NonNull<u8>,
    layout: Layout,
    new_size: usize,
) -> Option<NonNull<u8>> {
    let new_layout = Layout::from_size_align(new_size, layout.align()).ok()?;
    let new = subject.alloc(new_layout)?;
    // SAFETY: both blocks are live and distinct, each at least `min(old, new)` bytes long.
    unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), new.as_ptr(), layout.size().min(new_size)) };
    // SAFETY: the caller's contract: `ptr` is a live block of `subject` with `layout`.
    unsafe { subject.dealloc(ptr, layout) }.then_some(new)
}

/// The arena as an unbounded mutable slice.
///
/// # Safety
/// As for [`Subject::init`]: the caller promises exclusive use for as long as it is used.
unsafe fn arena_slice(base: NonNull<u8>, len: usize) -> &'static mut [MaybeUninit<u8>] {
    // SAFETY: the caller promises `len` valid bytes at `base`, exclusively, for long enough.
    unsafe { std::slice::from_raw_parts_mut(base.as_ptr().cast(), len) }
}

/// The harness's own cost: a stack of equal slots, each large and aligned enough for any
/// request of the workloads ([`Baseline::SLOT`]). Pop and push, nothing else.
///
/// It needs a slot per live block, more than the shared arena holds at large `M`, so its slots
/// come from one buffer of its own per process, reused by every run (the same deterministic
/// operations touch the same pages in the checking run as in the timed runs).
pub struct Baseline {
    free: Vec<NonNull<u8>>,
}

impl Baseline {
    /// The slot size (and alignment): above every request the workloads make.
    pub const SLOT: usize = 32 * 1024;
    /// Slots in the buffer (256 MiB of address space, touched only where used).
    const SLOTS: usize = 8192;

    /// Whether a slot can hold a block of `layout`.
    const fn fits(layout: Layout) -> bool {
        layout.size() <= Self::SLOT && layout.align() <= Self::SLOT
    }

    /// The process's slot buffer, allocated on first use and kept.
    fn buffer() -> NonNull<u8> {
        static BUFFER: OnceLock<usize> = OnceLock::new();
        slot_buffer(&BUFFER, Self::SLOTS)
    }
}

/// A buffer of `slots` slots of [`Baseline::SLOT`] bytes, allocated the first time `kept` is
/// asked for it and kept for the life of the process (touched only where used).
fn slot_buffer(kept: &OnceLock<usize>, slots: usize) -> NonNull<u8> {
    let addr = *kept.get_or_init(|| {
        let layout =
            Layout::from_size_align(Baseline::SLOT * slots, Baseline::SLOT).expect("layout");
        // SAFETY: a non-zero size; the memory is never freed (it lives as long as the process).
        unsafe { std::alloc::alloc(layout) }.expose_provenance()
    });
    NonNull::new(std::ptr::with_exposed_provenance_mut(addr)).expect("baseline buffer")
}

impl Subject for Baseline {
    unsafe fn init(_: NonNull<u8>, _: usize) -> Option<Self> {
        let base = Self::buffer();
        let free = (0..Self::SLOTS)
            .rev()
            // SAFETY: slot `i` lies inside the buffer (i < SLOTS).
            .map(|i| unsafe { base.add(i * Self::SLOT) })
            .collect();
        Some(Self { free })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if !Self::fits(layout) {
            return None;
        }
        self.free.pop()
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, _layout: Layout) -> bool {
        self.free.push(ptr);
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        _: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        (new_size <= Self::SLOT).then_some(ptr)
    }
}

/// The harness's own cost with threads: each thread pops and pushes slots of
/// [`Baseline::SLOT`] bytes on a free stack of its own (thread-local), and takes a fresh slot
/// from a shared counter only when its stack is empty. No lock, and no memory shared between
/// threads: a reference for how far the work around the allocator calls scales in a run. (Not
/// a ceiling: one block per 32 KiB slot puts every block's first word in the same few cache
/// sets, which an allocator that packs its blocks avoids.)
///
/// The free stacks belong to the threads, not to the value: it is sound for one value at a
/// time, used by threads that call [`thread_done`](Concurrent::thread_done) before the next
/// value is made (the scaling runs spawn fresh threads for every run, and each child process
/// measures one subject).
#[derive(Default)]
pub struct PerThreadBaseline {
    /// Slots of [`PerThreadBaseline::buffer`] handed out so far.
    taken: std::sync::atomic::AtomicUsize,
}

impl PerThreadBaseline {
    /// Slots in the buffer (1 GiB of address space, touched only where used): enough for the
    /// live blocks of 16 threads, each holding its freed slots for itself.
    const SLOTS: usize = 32 * 1024;

    /// The process's slot buffer, allocated on first use and kept.
    fn buffer() -> NonNull<u8> {
        static BUFFER: OnceLock<usize> = OnceLock::new();
        slot_buffer(&BUFFER, Self::SLOTS)
    }
}

std::thread_local! {
    /// The running thread's free slots of [`PerThreadBaseline`].
    static FREE_SLOTS: std::cell::RefCell<Vec<NonNull<u8>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl Concurrent for PerThreadBaseline {
    fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        if !Baseline::fits(layout) {
            return None;
        }
        if let Some(slot) = FREE_SLOTS.with_borrow_mut(Vec::pop) {
            return Some(slot);
        }
        let index = self
            .taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: slot `index` lies inside the buffer (index < SLOTS).
        (index < Self::SLOTS).then(|| unsafe { Self::buffer().add(index * Baseline::SLOT) })
    }

    unsafe fn dealloc(&self, ptr: NonNull<u8>, _: Layout) -> bool {
        FREE_SLOTS.with_borrow_mut(|free| free.push(ptr));
        true
    }

    /// Forgets the thread's slots: the next run starts from the counter of a new baseline.
    fn thread_done(&self) {
        FREE_SLOTS.with_borrow_mut(Vec::clear);
    }
}

/// The system malloc through `std::alloc::System` (ignores the arena).
pub struct SystemMalloc;

impl Subject for SystemMalloc {
    unsafe fn init(_: NonNull<u8>, _: usize) -> Option<Self> {
        Some(Self)
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the workloads never request zero bytes.
        NonNull::new(unsafe { System.alloc(layout) })
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract: a live block of System with `layout`.
        unsafe { System.dealloc(ptr.as_ptr(), layout) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's contract; `new_size` > 0.
        NonNull::new(unsafe { System.realloc(ptr.as_ptr(), layout, new_size) })
    }
}

/// talc 5 (`Talc<Manual>`, the whole arena claimed once).
pub struct Talc {
    talc: talc::base::Talc<talc::source::Manual, talc::DefaultBinning>,
}

impl Subject for Talc {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        let mut talc = talc::base::Talc::new(talc::source::Manual);
        // SAFETY: the arena is the caller's to give, for the life of the subject.
        unsafe { talc.claim(base.as_ptr(), len) }?;
        Some(Self { talc })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the workloads never request zero bytes.
        unsafe { self.talc.allocate(layout) }
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.talc.deallocate(ptr.as_ptr(), layout) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's contract; `new_size` > 0.
        if unsafe {
            self.talc
                .try_realloc_in_place(ptr.as_ptr(), layout, new_size)
        } {
            return Some(ptr);
        }
        // SAFETY: as above.
        unsafe { move_realloc(self, ptr, layout, new_size) }
    }
}

/// rlsf's TLSF with 28 first-level and 32 second-level classes.
pub struct Rlsf {
    tlsf: rlsf::Tlsf<'static, u32, u32, 28, 32>,
}

impl Subject for Rlsf {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        let mut tlsf = rlsf::Tlsf::new();
        let block = NonNull::slice_from_raw_parts(base, len);
        // SAFETY: the arena is the caller's to give, for the life of the subject.
        unsafe { tlsf.insert_free_block_ptr(block) }?;
        Some(Self { tlsf })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.tlsf.allocate(layout)
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.tlsf.deallocate(ptr, layout.align()) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        // SAFETY: the caller's contract; same alignment.
        unsafe { self.tlsf.reallocate(ptr, new) }
    }
}

/// linked_list_allocator's `Heap` (first fit over an address-sorted hole list).
pub struct LinkedList {
    heap: linked_list_allocator::Heap,
}

impl Subject for LinkedList {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        // SAFETY: the arena is the caller's to give, for the life of the subject.
        let heap = unsafe { linked_list_allocator::Heap::new(base.as_ptr(), len) };
        Some(Self { heap })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.heap.allocate_first_fit(layout).ok()
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.heap.deallocate(ptr, layout) };
        true
    }
}

/// buddy_system_allocator's `Heap<32>`.
pub struct Buddy {
    heap: buddy_system_allocator::Heap<32>,
}

impl Subject for Buddy {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        let mut heap = buddy_system_allocator::Heap::new();
        // SAFETY: the arena is the caller's to give, for the life of the subject.
        unsafe { heap.init(base.as_ptr().addr(), len) };
        Some(Self { heap })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.heap.alloc(layout).ok()
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.heap.dealloc(ptr, layout) };
        true
    }
}

/// good_memory_allocator's `Allocator` (galloc) with its default bins.
pub struct Galloc {
    heap: good_memory_allocator::Allocator,
}

impl Subject for Galloc {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        let mut heap = good_memory_allocator::Allocator::empty();
        // SAFETY: the arena is the caller's to give, for the life of the subject.
        unsafe { heap.init(base.as_ptr().addr(), len) };
        Some(Self { heap })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the workloads never request zero bytes.
        NonNull::new(unsafe { self.heap.alloc(layout) })
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, _: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.heap.dealloc(ptr.as_ptr()) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's contract.
        NonNull::new(unsafe { self.heap.realloc(ptr.as_ptr(), layout, new_size) })
    }
}

/// dlmalloc's system interface over the arena: consecutive pieces, never given back.
pub struct ArenaSource {
    base: NonNull<u8>,
    len: usize,
    used: Cell<usize>,
}

// SAFETY: the source hands out disjoint pieces of an arena it was given exclusively; nothing
// in it is tied to a thread.
unsafe impl Send for ArenaSource {}

// SAFETY: `alloc` returns disjoint, page-aligned pieces of the arena (the bump only moves
// forward) or null; nothing is ever released, so the other calls report failure.
unsafe impl dlmalloc::Allocator for ArenaSource {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let start = self.used.get();
        let size = size.next_multiple_of(4096);
        if size > self.len - start {
            return (ptr::null_mut(), 0, 0);
        }
        self.used.set(start + size);
        // SAFETY: `start + size <= len`: inside the arena.
        (unsafe { self.base.add(start) }.as_ptr(), size, 0)
    }

    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }

    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }

    fn can_release_part(&self, _: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        false
    }

    fn page_size(&self) -> usize {
        4096
    }
}

/// dlmalloc (Doug Lea's malloc, the Rust port) growing into the arena.
pub struct Dlmalloc {
    heap: dlmalloc::Dlmalloc<ArenaSource>,
}

impl Subject for Dlmalloc {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        let source = ArenaSource {
            base,
            len,
            used: Cell::new(0),
        };
        Some(Self {
            heap: dlmalloc::Dlmalloc::new_with_allocator(source),
        })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: the workloads never request zero bytes.
        NonNull::new(unsafe { self.heap.malloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract.
        unsafe { self.heap.free(ptr.as_ptr(), layout.size(), layout.align()) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller's contract.
        let new = unsafe {
            self.heap
                .realloc(ptr.as_ptr(), layout.size(), layout.align(), new_size)
        };
        NonNull::new(new)
    }
}

/// Memory an allocator manages besides the arena, freed after it.
type OwnMemory = Option<Box<dyn std::any::Any>>;

/// A bareheap allocator that can be built over the arena.
pub trait Build: RawAllocator + Sized {
    /// Builds the allocator over the `len` bytes at `base` (or memory of its own, returned
    /// with it).
    ///
    /// # Safety
    /// As for [`Subject::init`].
    unsafe fn build(base: NonNull<u8>, len: usize) -> Option<(Self, OwnMemory)>;
}

impl Build for ChunkAllocator<256> {
    /// Heap and bitmap carved out of the arena.
    unsafe fn build(base: NonNull<u8>, len: usize) -> Option<(Self, OwnMemory)> {
        let arena = ptr::slice_from_raw_parts_mut(base.as_ptr().cast(), len);
        // SAFETY: forwarded from the caller.
        Some((
            unsafe { ChunkAllocator::from_raw_buffer(arena) }.ok()?,
            None,
        ))
    }
}

impl Build for FreeListAllocator<StaticGrower<'static>> {
    /// One region: the whole arena.
    unsafe fn build(base: NonNull<u8>, len: usize) -> Option<(Self, OwnMemory)> {
        // SAFETY: forwarded from the caller.
        let grower = StaticGrower::new(unsafe { arena_slice(base, len) });
        Some((FreeListAllocator::new(grower), None))
    }
}

impl Build for SizeClassPools<FreeListAllocator<StaticGrower<'static>>> {
    /// Pools in front of a free list over the whole arena: one value, no lock.
    unsafe fn build(base: NonNull<u8>, len: usize) -> Option<(Self, OwnMemory)> {
        // SAFETY: forwarded from the caller.
        let (free_list, memory) = unsafe { FreeListAllocator::build(base, len) }?;
        Some((SizeClassPools::new(free_list), memory))
    }
}

impl Build for Heap<StaticGrower<'static>> {
    /// The default heap over the whole arena.
    unsafe fn build(base: NonNull<u8>, len: usize) -> Option<(Self, OwnMemory)> {
        // SAFETY: forwarded from the caller.
        let grower = StaticGrower::new(unsafe { arena_slice(base, len) });
        Some((Heap::new(grower), None))
    }
}

impl<const N: usize> Build for FixedPool<'static, 64, N> {
    /// Ignores the arena: `N` blocks of 64 bytes of its own, built in place in a box.
    unsafe fn build(_: NonNull<u8>, _: usize) -> Option<(Self, OwnMemory)> {
        let mut blocks = FixedBlocks::<64, N>::boxed(false);
        // SAFETY: the boxed blocks do not move when the box does; the subject keeps the box and
        // drops it after the pool; nothing else uses it.
        let pool = unsafe { FixedPool::from_raw(&raw mut *blocks) };
        Some((pool, Some(blocks)))
    }
}

/// A bareheap allocator through its `RawAllocator` interface, raw and unlocked. With
/// `CHECKED = false` frees and resizes take the trusted path a `#[global_allocator]` gets (the
/// fair match for peers whose free trusts its caller); with `CHECKED = true` the checked raw API.
pub struct Bare<A, const CHECKED: bool> {
    allocator: A,
    /// Kept for the allocator, and freed after it (declared after it).
    _memory: OwnMemory,
}

impl<A: Build, const CHECKED: bool> Subject for Bare<A, CHECKED> {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        // SAFETY: forwarded from the caller.
        let (allocator, _memory) = unsafe { A::build(base, len) }?;
        Some(Self { allocator, _memory })
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        Some(self.allocator.allocate(layout).ok()?.cast())
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        if CHECKED {
            // SAFETY: the caller's contract: a live block of this allocator with `layout`.
            return unsafe { self.allocator.deallocate(ptr.as_ptr(), layout) }.is_ok();
        }
        // SAFETY: as above.
        unsafe { self.allocator.deallocate_trusted(ptr, layout) };
        true
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        let block = if CHECKED {
            // SAFETY: as above.
            unsafe { self.allocator.resize(ptr.as_ptr(), layout, new) }.ok()
        } else {
            // SAFETY: as above.
            unsafe { self.allocator.resize_trusted(ptr, layout, new) }.ok()
        };
        Some(block?.cast())
    }
}

/// A number per thread, handed out in the order threads first ask: the cache index of
/// [`CachedHeap`] (consecutive threads of one run get different caches).
pub struct ThreadNumber;

impl CacheIndex for ThreadNumber {
    fn current(&self) -> usize {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        std::thread_local!(static MINE: usize =
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        MINE.with(|mine| *mine)
    }
}

/// bareheap's default heap over the arena with its per-thread caches in front (16 caches,
/// chosen by [`ThreadNumber`]; `FutexLock` around the shared heap). Shared by threads through
/// `&self` (the threads workloads); as a `Subject`, one thread's use of it. Boxed: the value
/// is 70 KiB (the caches), and each move of it would be a copy that callgrind counts against
/// the allocator (9.4 instructions per action of section 1b, unboxed).
pub struct CachedHeap(Box<Cached<Heap<StaticGrower<'static>>, ThreadNumber, FutexLock>>);

impl Concurrent for CachedHeap {
    fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        Some(self.0.allocate(layout).ok()?.cast())
    }

    unsafe fn dealloc(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: the caller's contract: a live block of this heap with `layout`.
        unsafe { self.0.deallocate_trusted(ptr, layout) };
        true
    }

    /// Gives the thread's cache back, as a thread-exit path would.
    fn thread_done(&self) {
        self.0.release(ThreadNumber.current());
    }
}

impl Subject for CachedHeap {
    unsafe fn init(base: NonNull<u8>, len: usize) -> Option<Self> {
        // SAFETY: forwarded from the caller.
        let grower = StaticGrower::new(unsafe { arena_slice(base, len) });
        Some(Self(Box::new(Cached::new(Heap::new(grower), ThreadNumber))))
    }

    fn alloc(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        Concurrent::alloc(self, layout)
    }

    unsafe fn dealloc(&mut self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { Concurrent::dealloc(self, ptr, layout) }
    }

    unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        // SAFETY: the caller's contract.
        Some(
            unsafe { self.0.resize_trusted(ptr, layout, new) }
                .ok()?
                .cast(),
        )
    }
}
