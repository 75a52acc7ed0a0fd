//! # Per-thread caches: small blocks without the shared lock
//!
//! A [`Locked`] heap runs every call under one lock. With one thread on one core that costs a
//! few nanoseconds; with several cores every call moves the lock's cache line, and the heap's,
//! from core to core, and with more threads than cores a waiter may find the lock's holder
//! descheduled. Two threads then do less work together than one alone (BENCHMARKS.md,
//! "Threads"). Hosted allocators (tcmalloc, mimalloc, snmalloc) scale by giving each thread, or
//! each CPU, a cache of free blocks that it uses without the shared lock. [`Cached`] is that
//! layer for any allocator of this crate:
//!
//! ```text
//!   allocate(layout), small (a size class of the pools: 16 B .. 2 KiB)
//!     cache = caches[index.current() % N] ── free? ──► pop its class's magazine     no lock
//!                 │                                     empty ──► shared lock once:
//!                 │                                               take a batch of blocks
//!                 └─ busy (another thread has the same index, or a signal handler
//!                    interrupted this thread inside it) ──► the shared heap, as without caches
//!   free(block), small ──► the same cache: push onto the magazine        no lock
//!                                        full ──► shared lock once: give half back
//!   large, or more aligned than 2 KiB ──► the shared heap: Locked<A, R>
//!
//!   caches[0]  [busy│16 B ■■■■□□□│32 B ■□□□□□□│ ... │2 KiB ■□□□│stats]   128-byte aligned,
//!   caches[1]  [busy│16 B ■□□□□□□│32 B □□□□□□□│ ... │2 KiB □□□□│stats]   one per thread/CPU
//!   ...
//! ```
//!
//! **Which cache is mine.** The layer asks the platform through [`CacheIndex`]: a kernel
//! answers with the running CPU's number from its per-CPU area, a Linux program with a number
//! kept in thread-local storage (the demo sets one up without libc; see the README's chapter on
//! thread-local storage), a test with a `thread_local!`. Any answer is *sound*: each cache has a
//! busy flag, taken with one atomic swap, and a call that finds it taken goes to the shared heap.
//! A good answer (different threads running at once get different numbers) only makes the
//! caches fast. So the trait is safe to implement, and a wrong guess costs speed, never memory
//! safety.
//!
//! **Blocks are always whole class blocks.** Every small request, through a cache or not, is
//! rounded to its class's layout (size and alignment the block size, as the pools place their
//! blocks) before the shared heap sees it. So a block in a magazine serves any request of its
//! class, and a block freed into a cache goes back to the shared heap with the very layout it
//! was allocated with: the layer works over any [`RawAllocator`], and over the pools (the
//! default [`Heap`](crate::Heap)) the rounding costs nothing, since the pools round the same
//! way.
//!
//! **Frees from another thread** go into the freeing thread's cache, as cheap as any free: all
//! caches hold blocks of the one shared heap. When a producer thread allocates and a consumer
//! frees, blocks travel back to the shared heap in batches from the consumer's full magazines,
//! and the producer refills in batches: one lock per half-magazine instead of one per call.
//!
//! **Bounded memory.** A magazine holds at most 64 blocks and at most 16 KiB (8 blocks of the 2
//! KiB class), so a cache holds at most 79 KiB of free blocks, and the layer at most `N`
//! times that. [`Cached::release`] gives one cache's blocks back (for a thread that exits, the
//! platform's exit path calls it with the thread's index); [`Cached::release_all`] gives back
//! every cache's. A cache that is never released is not lost: the next thread with its index
//! uses it. When the shared heap cannot serve a request, the layer first takes back the blocks
//! of every cache not in use at that moment and tries again, so a null pointer means memory is
//! exhausted, up to the blocks held by caches in use by other threads at that instant.
//!
//! **Every block carries the shared heap's provenance.** The pointer a block is freed with may
//! be narrower than the block (a `Box<[u64; 3]>`'s covers 24 bytes of its 32-byte block), so a
//! cache never hands it out again. It rebases the address on a *root*: a span of the shared
//! heap's memory with the heap's own pointer to it ([`RawAllocator::span_of`]), learned under
//! the shared lock the first time a block of that span is freed into the cache (four per
//! cache, most recently used first). A root is trusted only while the heap has given no memory
//! back since it was learned ([`RawAllocator::memory_given_back`]); the layer reads that count
//! under the shared lock after every call that can change it (allocations included: a heap
//! may give memory back before it reports exhaustion), and every such call goes through
//! the layer (its [`inspect`](Cached::inspect) lends the shared heap read-only).
//!
//! Costs: a cached allocation is an index lookup, one atomic swap, one release store and a few
//! instructions on the magazine; a cached free adds a relaxed load and two comparisons for the
//! most recently used root. Only these common paths are inline (on x86_64 they save no
//! registers); refills, drains, the other roots and every call to the shared heap are out of
//! line, so a program whose frees alternate between regions of the heap makes a call on each
//! free outside the most recent one. Counted by callgrind on one thread (`make bench`, section
//! 1b), a cached call costs about 20 instructions more than the default heap's own call
//! without a lock. Refills and drains take the shared lock once per batch, and so does the
//! first free into a cache from a span it has no root for (one per region of the heap, and
//! after the heap gives memory back). Memory: `N` caches of 4.3 KiB each on 64-bit targets
//! (the magazines' pointer arrays, the roots and counters, 128-byte aligned), in the value
//! itself, plus the free blocks they hold.
//!
//! **Drawbacks.** Blocks held by caches are free but not available to large requests until a
//! cache is drained; the layer is for threads that allocate small blocks often. With as many
//! threads as cores and few allocations, the shared lock alone ([`Locked`]) is simpler and as
//! fast. The checked [`deallocate`](Cached::deallocate) must look through every cache for the
//! block (O(N × 32)).

mod cache;
#[cfg(any(test, feature = "std"))]
mod std_threads;
#[cfg(test)]
mod tests;

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};

use allocator_api2::alloc::{AllocError, Allocator};
use lock_api::RawMutex;

use crate::locked::{DefaultLock, Locked, LockedGuard};
use crate::pools::{block_size, class_of};
use crate::{FreeError, HeapCorruption, Inspect, OutOfMemory, RawAllocator, Usage};
use cache::{Cache, Slot, SlotGuard, batch, magazine_limit};

pub use cache::CacheStats;
#[cfg(any(test, feature = "std"))]
pub use std_threads::StdThreads;

/// The platform's answer to "which cache is mine?": a number for the thread (or CPU) running
/// now, taken modulo the number of caches.
///
/// Any answer is sound (a cache in use by another thread is never entered; the call goes to
/// the shared heap instead). Answers that differ between threads running at the same time make
/// the caches effective; a constant answer makes them one shared cache with a try-lock.
///
/// ```
/// use bareheap::CacheIndex;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// /// Numbers the threads in the order they first allocate.
/// struct ThreadNumber;
///
/// impl CacheIndex for ThreadNumber {
///     fn current(&self) -> usize {
///         static NEXT: AtomicUsize = AtomicUsize::new(0);
///         std::thread_local!(static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed));
///         // During thread exit the thread-local may be gone: any number will do then.
///         MINE.try_with(|mine| *mine).unwrap_or(0)
///     }
/// }
/// # assert_eq!(ThreadNumber.current(), ThreadNumber.current());
/// ```
///
/// A program with the standard library's threads need not write one: `StdThreads` (feature
/// `std`) gives each thread its own cache.
///
/// In a kernel, the running CPU's number (read from the per-CPU area, `gs:` on x86_64,
/// `tpidr_el1` on AArch64) is the natural answer; caches are then per CPU, and a thread that
/// migrates between two calls simply uses another CPU's cache next time.
pub trait CacheIndex {
    /// The number of the cache the running thread should use (any `usize`; reduced modulo
    /// the number of caches). Called once per small allocation and free: keep it to a few
    /// instructions, and do not allocate in it.
    fn current(&self) -> usize;
}

/// A plain function as the index, for `static`s: `Cached<_, fn() -> usize, _>`.
impl CacheIndex for fn() -> usize {
    #[inline]
    fn current(&self) -> usize {
        self()
    }
}

/// A heap `A` shared behind a lock `R`, with `N` per-thread (or per-CPU) caches of small blocks
/// in front of it, chosen by `I`: see the [module docs](self) for how it works and what it
/// costs.
///
/// It is `Sync` and implements [`GlobalAlloc`] and [`allocator_api2::alloc::Allocator`], like
/// [`Locked`], and is built the same way, in a `const` context:
///
/// ```
/// use bareheap::{Cached, CacheIndex, Heap, StaticGrower};
/// use allocator_api2::vec::Vec;
///
/// struct OneThread;
/// impl CacheIndex for OneThread {
///     fn current(&self) -> usize { 0 }
/// }
///
/// let mut memory = vec![core::mem::MaybeUninit::new(0u8); 256 * 1024];
/// let heap: Cached<_, _> = Cached::new(Heap::new(StaticGrower::new(&mut memory)), OneThread);
/// let mut words = Vec::new_in(&heap);
/// for word in 0..100u32 {
///     words.push(word); // grows 16 B, 32 B, ..., 512 B: each step frees the last block
/// }
/// drop(words);
/// // The six freed blocks wait in cache 0 for the next allocation of their classes.
/// assert_eq!(heap.stats(0).frees, 6);
/// heap.release_all();
/// assert_eq!(heap.stats(0).cached_blocks, 0);
/// ```
pub struct Cached<A, I, R = DefaultLock, const N: usize = 16> {
    /// The heap every cache refills from and drains into, and that serves large requests.
    shared: Locked<A, R>,
    /// The shared heap's [`memory_given_back`](RawAllocator::memory_given_back) as last seen
    /// under its lock (every call that can change it is this layer's, and reads it before
    /// unlocking): a cache's roots learned at another count are stale.
    given_back: AtomicUsize,
    /// Which cache is the running thread's.
    index: I,
    /// The caches.
    slots: [Slot; N],
}

impl<A, I, R: RawMutex, const N: usize> Cached<A, I, R, N> {
    /// `allocator` behind a new lock of type `R`, with `N` empty caches chosen by `index`.
    /// O(1) and `const`, so a `static` can hold it; the lock and `N` come from the `static`'s
    /// type ([`DefaultLock`] and 16 when it leaves them out; a `let` with no type says
    /// `Cached<_, _>`). `N` must be at least 1 (a compile-time error otherwise).
    #[must_use]
    pub const fn new(allocator: A, index: I) -> Self {
        const { assert!(N > 0, "a `Cached` heap needs at least one cache") };
        Self {
            shared: Locked::new(allocator),
            given_back: AtomicUsize::new(0),
            index,
            slots: [const { Slot::new() }; N],
        }
    }

    /// Runs `read` on the shared heap behind the caches under its lock (its statistics, its
    /// consistency check) and returns what it computed. Blocks held by caches count there as
    /// allocated. `read` must not allocate from this heap. (Only a shared borrow: every change
    /// to the shared heap goes through this layer, which keeps its caches' roots up to date.)
    pub fn inspect<T>(&self, read: impl FnOnce(&A) -> T) -> T {
        self.shared.inspect(read)
    }

    /// The shared heap's lock, for tests that count how often it was taken.
    #[cfg(test)]
    pub(crate) fn raw_lock(&self) -> &R {
        self.shared.raw_lock()
    }

    /// The statistics of cache `index` (reduced modulo `N`); waits while a thread is inside
    /// it (one allocator call at most). O(1).
    pub fn stats(&self, index: usize) -> CacheStats {
        let slot = &self.slots[index % N];
        let mut stats = slot.wait_and_enter().cache().stats();
        stats.bypassed = slot.bypassed();
        stats
    }

    /// The statistics of all caches added together. O(N).
    pub fn total_stats(&self) -> CacheStats {
        (0..N).fold(CacheStats::default(), |total, index| {
            total.plus(self.stats(index))
        })
    }

    /// The number of caches, `N`.
    pub const fn caches(&self) -> usize {
        N
    }

    /// The cache of the running thread.
    #[inline]
    fn my_slot(&self) -> &Slot
    where
        I: CacheIndex,
    {
        &self.slots[self.index.current() % N]
    }
}

impl<A: Inspect, I, R: RawMutex, const N: usize> Cached<A, I, R, N> {
    /// [`Inspect::usage`] of the shared heap, under its lock. Blocks waiting in the caches are
    /// the shared heap's live blocks: they count in `live_blocks` and `in_use_bytes` (their
    /// number is [`total_stats`](Self::total_stats)`().cached_blocks`; [`release_all`](Self::release_all)
    /// first gives a leak check an exact count).
    pub fn usage(&self) -> Usage {
        self.shared.usage()
    }

    /// [`Inspect::validate`] of the shared heap, under its lock.
    ///
    /// # Errors
    /// The first inconsistency found.
    pub fn validate(&self) -> Result<(), HeapCorruption> {
        self.shared.validate()
    }
}

#[cfg(target_os = "linux")]
impl<I, R: RawMutex, const N: usize> Cached<crate::Heap<crate::MmapGrower>, I, R, N> {
    /// Tells the shared heap's grower the kernel's page size, as
    /// [`Locked::set_page_size`](crate::Locked::set_page_size): safe, since only the setting
    /// changes (no memory is given back, so the caches' roots stay valid). O(1) plus the lock.
    ///
    /// # Errors
    /// [`BadPageSize`](crate::grower::BadPageSize) when `page_size` is not a valid page size;
    /// nothing changes then.
    pub fn set_page_size(&self, page_size: usize) -> Result<(), crate::grower::BadPageSize> {
        self.shared.set_page_size(page_size)
    }
}

/// The layout every block of `class` is allocated from the shared heap with: the block size as
/// size and alignment.
const fn class_layout(class: usize) -> Layout {
    let size = block_size(class);
    // SAFETY: a class's block size is a power of two between 16 and 2048: a valid alignment,
    // and a size far below `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked(size, size) }
}

impl<A: RawAllocator, I: CacheIndex, R: RawMutex, const N: usize> Cached<A, I, R, N> {
    /// A block for `layout`: from the running thread's cache when the layout has a size class,
    /// else from the shared heap. See the module docs for the costs. The common case (a block
    /// in the magazine) runs inline; everything else is out of line, so that it saves no
    /// registers.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the shared heap cannot serve it even after taking back the blocks
    /// of every cache not in use at that moment.
    #[inline]
    pub fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let Some(class) = class_of(layout) else {
            return self.allocate_large(layout);
        };
        let slot = self.my_slot();
        let Some(mut entered) = slot.enter() else {
            return self.allocate_bypassing(slot, class);
        };
        let cache = entered.cache();
        let Some(block) = cache.magazines[class].pop() else {
            return self.allocate_refilling(entered, class);
        };
        cache.events.allocations += 1;
        Ok(NonNull::slice_from_raw_parts(block, block_size(class)))
    }

    /// A request no size class serves: the shared heap's, after a reclaim when it has none.
    #[inline(never)]
    fn allocate_large(&self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        // A statement of its own: the shared lock must be released before a reclaim.
        let large = self.allocate_shared(layout);
        large.or_else(|_| self.reclaim_and_allocate(layout))
    }

    /// A small request whose magazine is empty: a batch from the shared heap. The cache is
    /// left before a reclaim, which takes back the blocks of the caches no thread is in.
    #[cold]
    #[inline(never)]
    fn allocate_refilling(
        &self,
        mut entered: SlotGuard<'_>,
        class: usize,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let refilled = self.refill(entered.cache(), class);
        drop(entered);
        self.class_block_or_reclaim(refilled, class)
    }

    /// A small request whose cache another thread (or an interrupted caller) is in: the shared
    /// heap serves it, as without caches.
    #[cold]
    #[inline(never)]
    fn allocate_bypassing(&self, slot: &Slot, class: usize) -> Result<NonNull<[u8]>, OutOfMemory> {
        slot.note_bypass();
        let block = self.allocate_shared(class_layout(class)).map(NonNull::cast);
        self.class_block_or_reclaim(block, class)
    }

    /// The whole class block, or, when the shared heap had none, one taken after a reclaim.
    fn class_block_or_reclaim(
        &self,
        block: Result<NonNull<u8>, OutOfMemory>,
        class: usize,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let block = match block {
            Ok(block) => block,
            Err(OutOfMemory) => self.reclaim_and_allocate(class_layout(class))?.cast(),
        };
        Ok(NonNull::slice_from_raw_parts(block, block_size(class)))
    }

    /// Frees the block at `ptr`, allocated from this heap with a layout that `layout` fits,
    /// into the running thread's cache (small) or the shared heap (large). O(1), plus one lock
    /// per drained batch. The common case (a root holds the block, its magazine has room) runs
    /// inline; everything else is out of line.
    ///
    /// # Safety
    /// `ptr` must be a live block of this heap that `layout` fits (the contract of
    /// `GlobalAlloc::dealloc` and `Allocator::deallocate`); it is no longer the caller's.
    #[inline]
    pub unsafe fn deallocate_trusted(&self, ptr: NonNull<u8>, layout: Layout) {
        let Some(class) = class_of(layout) else {
            // SAFETY: forwarded from the caller.
            return unsafe { self.deallocate_shared(ptr, layout) };
        };
        let slot = self.my_slot();
        let Some(mut entered) = slot.enter() else {
            slot.note_bypass();
            // SAFETY: a small block was allocated by the shared heap with its class's layout,
            // whichever path it took.
            return unsafe { self.deallocate_shared(ptr, class_layout(class)) };
        };
        let cache = entered.cache();
        let given_back = self.given_back.load(Ordering::Relaxed);
        if let Some(block) = cache.roots.rebase_on_first(ptr.addr(), given_back)
            && cache.magazines[class].push(block, magazine_limit(class))
        {
            cache.events.frees += 1;
            return;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.deallocate_slow(entered, ptr, class) };
    }

    /// Frees the block at `ptr` into the shared heap, under its lock, with `layout`.
    ///
    /// # Safety
    /// `ptr` must be a live block of the shared heap allocated with a layout that `layout`
    /// fits: a large request's own, or a small block's class layout.
    #[inline(never)]
    unsafe fn deallocate_shared(&self, ptr: NonNull<u8>, layout: Layout) {
        let mut shared = self.shared.lock();
        // SAFETY: forwarded from the caller.
        unsafe { shared.deallocate_trusted(ptr, layout) };
        self.note_given_back(&*shared);
    }

    /// The rest of [`deallocate_trusted`](Self::deallocate_trusted) for a small block in the
    /// running thread's cache: another root holds it, or none does, or its magazine is full
    /// (half of it goes back to the shared heap first).
    ///
    /// # Safety
    /// As for [`deallocate_trusted`](Self::deallocate_trusted), with `class` the layout's.
    #[cold]
    #[inline(never)]
    unsafe fn deallocate_slow(&self, mut entered: SlotGuard<'_>, ptr: NonNull<u8>, class: usize) {
        let cache = entered.cache();
        let given_back = self.given_back.load(Ordering::Relaxed);
        let Some(block) = cache.roots.rebase(ptr.addr(), given_back) else {
            // SAFETY: forwarded from the caller.
            return unsafe { self.free_unrooted(cache, ptr, class) };
        };
        if cache.magazines[class].len() >= magazine_limit(class) {
            self.drain(cache, class, batch(class));
        }
        cache.events.frees += 1;
        cache.magazines[class].push(block, magazine_limit(class));
    }

    /// A free into `cache` of a block no root of it holds: under the shared lock, the heap's
    /// own pointer to the block goes into the magazine and the block's span becomes a root;
    /// without such a pointer (an allocator that gives none) the block goes back to the heap.
    ///
    /// # Safety
    /// As for [`deallocate_trusted`](Self::deallocate_trusted), with `class` the layout's.
    #[cold]
    #[inline(never)]
    unsafe fn free_unrooted(&self, cache: &mut Cache, ptr: NonNull<u8>, class: usize) {
        let mut shared = self.shared.lock();
        let address = ptr.addr().get();
        let (Some(block), Some(span)) = (shared.pointer_to(address), shared.span_of(address))
        else {
            // SAFETY: a small block was allocated by the shared heap with its class's layout.
            unsafe { shared.deallocate_trusted(ptr, class_layout(class)) };
            self.note_given_back(&*shared);
            return;
        };
        cache.roots.learn(span, shared.memory_given_back());
        if cache.magazines[class].len() >= magazine_limit(class) {
            self.drain_locked(&mut shared, cache, class, batch(class));
        }
        drop(shared);
        cache.events.frees += 1;
        cache.magazines[class].push(block, magazine_limit(class));
    }

    /// A block for `layout` from the shared heap, under its lock, with the heap's count of
    /// memory given back recorded after it: an allocation may give memory back too (a `Heap`'s
    /// pools trim themselves before they report exhaustion, and the free list may then give a
    /// region back).
    fn allocate_shared(&self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let mut shared = self.shared.lock();
        let block = shared.allocate(layout);
        self.note_given_back(&*shared);
        block
    }

    /// Records the shared heap's count of memory given back, read under its lock, after a call
    /// that may have changed it.
    #[inline]
    fn note_given_back(&self, shared: &A) {
        let now = shared.memory_given_back();
        if now != self.given_back.load(Ordering::Relaxed) {
            self.given_back.store(now, Ordering::Relaxed);
        }
    }

    /// Frees the block at `ptr` after checking that it is a live block of this heap that
    /// `layout` fits: not held by any cache (a second free), and accepted by the shared heap's
    /// own checked free ([`RawAllocator::deallocate`]). A checked free bypasses the caches: the
    /// block goes straight back to the shared heap. O(N × 32) plus the shared heap's check.
    ///
    /// # Errors
    /// [`FreeError::DoubleFree`] when a cache holds the block, else the shared heap's answer;
    /// nothing changes then.
    ///
    /// # Safety
    /// As for [`RawAllocator::deallocate`] of the shared heap's allocator: when `ptr` is a live
    /// block of this heap the caller gives up every use of it.
    pub unsafe fn deallocate(&self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        let Some(class) = class_of(layout) else {
            let mut shared = self.shared.lock();
            // SAFETY: forwarded from the caller.
            let freed = unsafe { shared.deallocate(ptr, layout) };
            self.note_given_back(&*shared);
            return freed;
        };
        if let Some(block) = NonNull::new(ptr) {
            let cached = self
                .slots
                .iter()
                .any(|slot| slot.wait_and_enter().cache().magazines[class].holds(block));
            if cached {
                return Err(FreeError::DoubleFree);
            }
        }
        let mut shared = self.shared.lock();
        // SAFETY: forwarded from the caller; a small block of this heap was allocated with its
        // class's layout, which the shared heap's check then compares against.
        let freed = unsafe { shared.deallocate(ptr, class_layout(class)) };
        self.note_given_back(&*shared);
        freed
    }

    /// Resizes the block at `ptr` to `new`, keeping `min(old.size(), new.size())` bytes: in
    /// place within a size class (O(1)), through the shared heap's resize between large layouts
    /// (copying a large block outside the lock, as [`Locked`] does where other threads may
    /// wait), else allocate, copy and free.
    ///
    /// # Errors
    /// [`OutOfMemory`] when no block for `new` can be had; the old block is unchanged then.
    ///
    /// # Safety
    /// `ptr` must be a live block of this heap that `old` fits.
    pub unsafe fn resize_trusted(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        match (class_of(old), class_of(new)) {
            (Some(from), Some(to)) if from == to => match self.heap_pointer(ptr) {
                Some(block) => Ok(NonNull::slice_from_raw_parts(block, block_size(to))),
                // SAFETY: forwarded from the caller.
                None => unsafe { self.move_small(ptr, old, new) },
            },
            (None, None) => {
                let note = |heap: &A| self.note_given_back(heap);
                // SAFETY: a large block of the shared heap, allocated with a layout `old` fits
                // (a failed resize leaves it so).
                let resize = || unsafe { self.shared.resize_locked(ptr, old, new, note) };
                resize().or_else(|_| {
                    self.reclaim();
                    resize()
                })
            }
            // SAFETY: forwarded from the caller.
            _ => unsafe { self.move_small(ptr, old, new) },
        }
    }

    /// The shared heap's own pointer to the live block at `ptr`: rebased on a root of the
    /// running thread's cache, else asked of the heap under its lock. `None` when the heap gives
    /// no pointers.
    fn heap_pointer(&self, ptr: NonNull<u8>) -> Option<NonNull<u8>> {
        let given_back = self.given_back.load(Ordering::Relaxed);
        if let Some(mut entered) = self.my_slot().enter()
            && let Some(block) = entered.cache().roots.rebase(ptr.addr(), given_back)
        {
            return Some(block);
        }
        self.shared.lock().pointer_to(ptr.addr().get())
    }

    /// Moves the live block at `ptr` to a new block for `new`: allocate, copy, free.
    ///
    /// # Safety
    /// `ptr` must be a live block of this heap that `old` fits.
    unsafe fn move_small(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let moved = self.allocate(new)?;
        // SAFETY: the old block is live and readable for `old.size()` bytes, the new one a
        // fresh block of at least `new.size()`; distinct live blocks do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(
                ptr.as_ptr(),
                moved.cast::<u8>().as_ptr(),
                old.size().min(new.size()),
            );
        }
        // SAFETY: the caller's live block, with a layout that fits it; its bytes now live in
        // `moved`.
        unsafe { self.deallocate_trusted(ptr, old) };
        Ok(moved)
    }

    /// Gives every block held by cache `index` (reduced modulo `N`) back to the shared heap:
    /// what a thread's exit path calls with the thread's index. Waits while another thread is
    /// inside that cache (one allocator call at most); one lock of the shared heap. O(blocks
    /// held).
    pub fn release(&self, index: usize) {
        self.drain_all(self.slots[index % N].wait_and_enter().cache());
    }

    /// [`release`](Self::release) for every cache. O(N + blocks held).
    pub fn release_all(&self) {
        for index in 0..N {
            self.release(index);
        }
    }

    /// Refills the empty magazine of `class` with a batch from the shared heap and returns one
    /// block of it.
    #[cold]
    fn refill(&self, cache: &mut Cache, class: usize) -> Result<NonNull<u8>, OutOfMemory> {
        let layout = class_layout(class);
        let mut shared = self.shared.lock();
        let first = match shared.allocate(layout) {
            Ok(first) => first.cast::<u8>(),
            Err(OutOfMemory) => {
                self.note_given_back(&*shared);
                return Err(OutOfMemory);
            }
        };
        let mut brought = 1;
        while brought < batch(class) {
            let Ok(block) = shared.allocate(layout) else {
                break;
            };
            cache.magazines[class].push(block.cast(), magazine_limit(class));
            brought += 1;
        }
        self.note_given_back(&*shared);
        drop(shared);
        cache.events.refills += 1;
        cache.events.refilled_blocks += brought as u64;
        cache.events.allocations += 1;
        Ok(first)
    }

    /// Gives `count` blocks of `class` (or all it holds, if fewer) back to the shared heap.
    #[cold]
    fn drain(&self, cache: &mut Cache, class: usize, count: usize) {
        self.drain_locked(&mut self.shared.lock(), cache, class, count);
    }

    /// [`drain`](Self::drain) with the shared lock held.
    fn drain_locked(
        &self,
        shared: &mut LockedGuard<'_, A, R>,
        cache: &mut Cache,
        class: usize,
        count: usize,
    ) {
        let mut given = 0;
        while given < count {
            let Some(block) = cache.magazines[class].pop() else {
                break;
            };
            // SAFETY: a block in a magazine was allocated from the shared heap with its
            // class's layout and is in use by no one (it was freed into the cache).
            unsafe { shared.deallocate_trusted(block, class_layout(class)) };
            given += 1;
        }
        self.note_given_back(&**shared);
        cache.events.drains += 1;
        cache.events.drained_blocks += given as u64;
    }

    /// Gives back every block `cache` holds, one drain per class that holds any.
    fn drain_all(&self, cache: &mut Cache) {
        for class in 0..cache.magazines.len() {
            let held = cache.magazines[class].len();
            if held > 0 {
                self.drain(cache, class, held);
            }
        }
    }

    /// After the shared heap refused `layout`: takes back the blocks of idle caches, then asks
    /// once more.
    #[cold]
    fn reclaim_and_allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        self.reclaim();
        self.allocate_shared(layout)
    }

    /// Gives the blocks of every cache no thread is in back to the shared heap.
    #[cold]
    fn reclaim(&self) {
        for slot in &self.slots {
            if let Some(mut slot) = slot.enter() {
                self.drain_all(slot.cache());
            }
        }
    }
}

// SAFETY: blocks come from the shared heap (a `RawAllocator` behind a lock: disjoint, aligned,
// large enough, valid until freed); a block sits in at most one place at a time (a user, one
// magazine, or the shared heap's free memory), and a magazine is only touched by the one thread
// inside its cache. Small blocks are whole class blocks, aligned to their size, so they fit
// every layout of their class. Nothing here panics; failures are null.
unsafe impl<A: RawAllocator, I: CacheIndex, R: RawMutex, const N: usize> GlobalAlloc
    for Cached<A, I, R, N>
{
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout)
            .map_or(ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: GlobalAlloc's contract: a live block of this heap, with this layout.
            unsafe { self.deallocate_trusted(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(ptr), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return ptr::null_mut();
        };
        // SAFETY: GlobalAlloc's contract: a live block of this heap for `layout`.
        unsafe { self.resize_trusted(ptr, layout, new) }
            .map_or(ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
    }
}

// SAFETY: as for `GlobalAlloc`. Blocks stay valid while the value lives (the memory is the
// shared heap's, outside the value; the magazines hold only pointers); the slices have the
// usable lengths (the class's block size for small layouts), and every fitting layout is
// accepted back: a fitting layout of a small block has the same class (its size lies between
// the request's and the block size, its alignment is the request's).
unsafe impl<A: RawAllocator, I: CacheIndex, R: RawMutex, const N: usize> Allocator
    for Cached<A, I, R, N>
{
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        Cached::allocate(self, layout).map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: Allocator's contract: a live block of this heap that `layout` fits.
        unsafe { self.deallocate_trusted(ptr, layout) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: Allocator's contract: a live block that `old_layout` fits.
        unsafe { self.resize_trusted(ptr, old_layout, new_layout) }.map_err(|_| AllocError)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as for `grow`.
        unsafe { self.resize_trusted(ptr, old_layout, new_layout) }.map_err(|_| AllocError)
    }
}
