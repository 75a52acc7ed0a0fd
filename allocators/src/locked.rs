//! [`Locked`]: any allocator of this crate behind a lock, as a `#[global_allocator]` and as an
//! `allocator_api2` allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::ops::Deref;
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};
use lock_api::{MutexGuard, RawMutex};

use crate::{FreeError, OutOfMemory, RawAllocator, Region, ResizeError};

/// The lock [`Locked`] uses unless told otherwise: `spin`'s mutex, which busy-waits. Right for
/// bare metal with one thread of execution per core and no allocation in interrupt handlers;
/// see the crate docs for when to choose another.
pub type DefaultLock = spin::Mutex<()>;

/// An allocator `A` behind a lock `R`: `Sync`, usable as `#[global_allocator]` and, by value or
/// by reference, as an [`allocator_api2::alloc::Allocator`].
///
/// The allocators themselves are single-threaded values with `&mut self` methods (the
/// [`RawAllocator`] trait). A global allocator is shared by every thread through `&self`, so
/// something must turn `&self` into `&mut`: a lock. One wrapper does this for every design,
/// generic over the allocator and over the lock:
///
/// ```text
///   GlobalAlloc::alloc / Allocator::allocate ──► lock ──► A::allocate          ──► unlock
///   GlobalAlloc::dealloc / Allocator::deallocate ─────►   A::deallocate_trusted
///   GlobalAlloc::realloc / Allocator::grow, shrink ───►   A::resize_trusted
///
///   Locked<A, R>:   R: lock_api::RawMutex (spin's by default)   A: RawAllocator
/// ```
///
/// The lock is any [`lock_api::RawMutex`]: `spin`'s mutex by default ([`DefaultLock`], usable in
/// a `static` with no run-time set-up), or one that suits the platform better. An uncontended
/// lock adds a few nanoseconds per call.
///
/// **Looking inside.** [`Locked::lock`] returns a [`LockedGuard`], which gives shared access to
/// the allocator (statistics, pictures, validation) and the allocator's own calls, but never a
/// `&mut` to the allocator itself: with one, safe code could replace or drop the allocator
/// (`mem::replace`) while blocks it handed out are still in use, and those blocks would dangle.
///
/// ```compile_fail,E0596
/// use bareheap::{FreeListAllocator, LockedFreeListAllocator, MmapGrower};
///
/// let heap: LockedFreeListAllocator<MmapGrower> = LockedFreeListAllocator::with_grower(MmapGrower::new());
/// let mut v = allocator_api2::vec::Vec::new_in(&heap);
/// v.extend_from_slice(&[7u8; 1000]);
/// // Refused by the compiler: the guard hands out no `&mut FreeListAllocator`.
/// drop(core::mem::replace(&mut *heap.lock(), FreeListAllocator::new(MmapGrower::new())));
/// ```
///
/// **Do not allocate while holding the guard.** When the locked allocator is the global one,
/// anything that allocates (`format!`, `Vec::push`, a `String`) calls it again, on the same
/// thread, while its lock is held: a spin lock then waits for itself forever. Copy what you
/// need out of the guard (statistics are plain `Copy` values), drop the guard, then format:
/// [`Locked::inspect`] does exactly that shape of work in one call.
///
/// Every call costs what the allocator's own call costs, plus taking and releasing the lock.
/// `GlobalAlloc` and `Allocator` never panic: exhaustion is a null pointer or `AllocError`.
///
/// ```
/// use bareheap::{FreeListAllocator, Locked, StaticGrower};
///
/// let mut memory = vec![core::mem::MaybeUninit::new(0u8); 64 * 1024];
/// let heap: Locked<_> = Locked::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
/// let mut squares = allocator_api2::vec::Vec::new_in(&heap);
/// squares.extend((0..100u64).map(|i| i * i));
/// assert_eq!(heap.inspect(|heap| heap.stats().allocated_blocks), 1);
/// ```
pub struct Locked<A, R = DefaultLock> {
    inner: lock_api::Mutex<R, A>,
}

impl<A, R: RawMutex> Locked<A, R> {
    /// `allocator` behind a new, unlocked lock of type `R`. O(1) and `const`, so a `static`
    /// can hold it. The lock type comes from where the value goes: a `static`'s type names it
    /// (`static HEAP: LockedHeap<MmapGrower, FutexLock> = LockedHeap::new(..)`), and it is
    /// [`DefaultLock`] when that type leaves it out. A `let` with no type must say which lock
    /// it wants, as for any generic constructor: `let heap: Locked<_> = Locked::new(..)` for the
    /// default one.
    #[must_use]
    pub const fn new(allocator: A) -> Self {
        Self {
            inner: lock_api::Mutex::const_new(R::INIT, allocator),
        }
    }

    /// Takes the lock (waiting as the lock type does) and gives access to the allocator. Do
    /// not allocate from this allocator while holding the guard: see [`Locked`].
    pub fn lock(&self) -> LockedGuard<'_, A, R> {
        LockedGuard(self.inner.lock())
    }

    /// Takes the lock if it is free now, else `None`.
    pub fn try_lock(&self) -> Option<LockedGuard<'_, A, R>> {
        self.inner.try_lock().map(LockedGuard)
    }

    /// Runs `read` on the allocator under the lock and returns what it computed, e.g.
    /// `heap.inspect(|heap| heap.stats())`. `read` must not allocate from this allocator.
    pub fn inspect<T>(&self, read: impl FnOnce(&A) -> T) -> T {
        read(&self.inner.lock())
    }

    /// The allocator itself, with no lock taken: the `&mut self` borrow proves no other thread
    /// and no block handed out through `Allocator` by reference can be using it. O(1).
    pub fn get_mut(&mut self) -> &mut A {
        self.inner.get_mut()
    }

    /// The allocator, out of its lock. O(1).
    pub fn into_inner(self) -> A {
        self.inner.into_inner()
    }

    /// The lock itself, for tests that count how often it was taken.
    #[cfg(test)]
    pub(crate) fn raw_lock(&self) -> &R {
        // SAFETY: only read by the tests (a counter); the lock's state is left alone.
        unsafe { self.inner.raw() }
    }
}

/// Access to a [`Locked`] allocator while its lock is held; the lock is released on drop.
///
/// It dereferences to `&A` for everything that reads (statistics, iteration, validation) and
/// implements [`RawAllocator`] by forwarding, so the raw, checked API is usable under the
/// lock. It never hands out `&mut A`, except through the `unsafe` [`get_mut`](Self::get_mut).
pub struct LockedGuard<'a, A, R: RawMutex>(MutexGuard<'a, R, A>);

impl<A, R: RawMutex> LockedGuard<'_, A, R> {
    /// The allocator itself, for its own `&mut self` methods (tuning, adding memory).
    ///
    /// # Safety
    /// The allocator must not be replaced, moved out of or dropped through this reference
    /// (`mem::replace`, `mem::swap`, `ptr::write` and the like), and no block may be freed or
    /// resized through it (even by a safe method such as `ChunkAllocator::free`): blocks it
    /// handed out may still be in use, owned by a `Box` or a collection, and would dangle. Free
    /// and resize through the guard's own [`RawAllocator`] calls, whose contracts say which
    /// blocks they may take.
    pub unsafe fn get_mut(&mut self) -> &mut A {
        &mut self.0
    }
}

impl<A, R: RawMutex> Deref for LockedGuard<'_, A, R> {
    type Target = A;

    fn deref(&self) -> &A {
        &self.0
    }
}

// SAFETY: every call forwards to the allocator behind the lock, which upholds the contract;
// the blocks belong to that allocator, which outlives the guard.
unsafe impl<A: RawAllocator, R: RawMutex> RawAllocator for LockedGuard<'_, A, R> {
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        self.0.allocate(layout)
    }

    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.deallocate(ptr, layout) }
    }

    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.resize(ptr, old, new) }
    }

    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.deallocate_trusted(ptr, layout) }
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.resize_trusted(ptr, old, new) }
    }

    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.resize_in_place_trusted(ptr, old, new) }
    }

    fn contains(&self, ptr: *const u8) -> bool {
        self.0.contains(ptr)
    }

    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        self.0.pointer_to(address)
    }

    fn quick_pointer_to(&self, address: usize) -> Option<NonNull<u8>> {
        self.0.quick_pointer_to(address)
    }

    fn span_of(&mut self, address: usize) -> Option<Region> {
        self.0.span_of(address)
    }

    fn memory_given_back(&self) -> usize {
        self.0.memory_given_back()
    }
}

impl<A: RawAllocator, R: RawMutex> Locked<A, R> {
    /// Whether `ptr` lies in memory the allocator manages, under the lock.
    pub fn contains(&self, ptr: *const u8) -> bool {
        self.inner.lock().contains(ptr)
    }

    /// The trusted resize of `GlobalAlloc::realloc` and `Allocator::grow`/`shrink`.
    ///
    /// A resize that must move a large block copies it with the lock released, so that other
    /// threads are not held up by a long copy (except on WebAssembly without atomics, where no
    /// other thread exists; see `COPY_OUTSIDE_LOCK`):
    ///
    /// ```text
    ///   copy < COPY_OUTSIDE_LOCK:  lock ─ resize (in place, or allocate + copy + free) ─ unlock
    ///   larger:                    lock ─ in place? ─ else allocate ─ unlock
    ///                              copy (the old block is still the caller's, the new one ours)
    ///                              lock ─ free the old block ─ unlock
    /// ```
    ///
    /// `before_unlock` sees the allocator each time, just before the lock is released (the
    /// caches read the allocator's count of memory given back there).
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator that `old` fits.
    pub(crate) unsafe fn resize_locked(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
        before_unlock: impl Fn(&A),
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let mut allocator = self.lock();
        let keep = old.size().min(new.size());
        if keep < COPY_OUTSIDE_LOCK {
            // SAFETY: forwarded from the caller.
            let resized = unsafe { allocator.resize_trusted(ptr, old, new) };
            before_unlock(&allocator);
            return resized;
        }
        // SAFETY: forwarded from the caller.
        if let Some(resized) = unsafe { allocator.resize_in_place_trusted(ptr, old, new) } {
            before_unlock(&allocator);
            return Ok(resized);
        }
        // An allocation may give memory back (a heap's pools trim before they report
        // exhaustion): `before_unlock` sees the heap after it, whatever its answer.
        let moved = allocator.allocate(new);
        before_unlock(&allocator);
        let moved = moved?;
        drop(allocator);
        // SAFETY: the old block is live and the caller's (it stays allocated until the free
        // below), readable for `old.size()` bytes; the new one is a fresh block of at least
        // `new.size()` bytes that no one else holds. Both are at least `keep` long and, being
        // distinct live blocks, do not overlap.
        unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), moved.cast::<u8>().as_ptr(), keep) };
        let mut allocator = self.lock();
        // SAFETY: the caller's block, with its layout; its bytes now live in `moved`.
        unsafe { allocator.deallocate_trusted(ptr, old) };
        before_unlock(&allocator);
        Ok(moved)
    }
}

/// The size from which a resize that moves a block copies it outside the lock: taking the lock
/// a second time costs about as much as copying a few hundred bytes, and a copy of 16 KiB keeps
/// the lock for a microsecond or more. Never on WebAssembly without the `atomics` feature: such
/// a module runs one thread and has no interrupts, so nothing could wait for the lock, and the
/// second path would only add bytes to the module.
const COPY_OUTSIDE_LOCK: usize =
    if cfg!(all(target_family = "wasm", not(target_feature = "atomics"))) {
        usize::MAX
    } else {
        16 * 1024
    };

// SAFETY: blocks come from the allocator behind the lock (a `RawAllocator`: disjoint, aligned,
// large enough, valid until freed); the lock runs the calls of several threads one after
// another; nothing here panics, and failures are null.
unsafe impl<A: RawAllocator, R: RawMutex> GlobalAlloc for Locked<A, R> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.inner
            .lock()
            .allocate(layout)
            .map_or(ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: GlobalAlloc's contract: `ptr` is a live block of this allocator, with
            // this very layout.
            unsafe { self.inner.lock().deallocate_trusted(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(ptr), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return ptr::null_mut();
        };
        // SAFETY: GlobalAlloc's contract: `ptr` is a live block of this allocator for `layout`.
        unsafe { self.resize_locked(ptr, layout, new, |_| ()) }
            .map_or(ptr::null_mut(), |block| block.cast::<u8>().as_ptr())
    }
}

// SAFETY: as for `GlobalAlloc`. Blocks stay valid while the `Locked` value lives (the allocator
// keeps its memory outside itself, so moving the value moves no block); the returned slices
// have the allocator's usable lengths, and the allocator accepts every fitting layout back.
unsafe impl<A: RawAllocator, R: RawMutex> Allocator for Locked<A, R> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.inner.lock().allocate(layout).map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: Allocator's contract: `ptr` is a live block of this allocator that `layout`
        // fits.
        unsafe { self.inner.lock().deallocate_trusted(ptr, layout) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: Allocator's contract: `ptr` is a live block that `old_layout` fits.
        unsafe { self.resize_locked(ptr, old_layout, new_layout, |_| ()) }.map_err(|_| AllocError)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: as for `grow`.
        unsafe { self.resize_locked(ptr, old_layout, new_layout, |_| ()) }.map_err(|_| AllocError)
    }
}

#[cfg(test)]
mod tests {
    use std::boxed::Box;

    use super::*;
    use crate::test_lock::CountingLock;
    use crate::{FreeListAllocator, StaticGrower};

    /// How often `heap`'s lock has been taken so far.
    fn taken<A>(heap: &Locked<A, CountingLock>) -> usize {
        heap.raw_lock().taken()
    }

    #[test]
    #[cfg_attr(
        all(target_family = "wasm", not(target_feature = "atomics")),
        ignore = "one thread: the copy stays inside the lock"
    )]
    fn a_large_block_that_moves_is_copied_outside_the_lock() {
        let mut memory = Box::new_uninit_slice(256 * 1024);
        let heap: Locked<_, CountingLock> =
            Locked::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
        let large = Layout::from_size_align(20 * 1024, 8).unwrap();
        let larger = Layout::from_size_align(40 * 1024, 8).unwrap();
        // SAFETY: a non-zero layout; every block below is used and freed with its layout.
        unsafe {
            let block = heap.alloc(large);
            block.write_bytes(0x5A, large.size());
            // A neighbour keeps the block from growing in place.
            let wall = heap.alloc(Layout::new::<u64>());
            let before = taken(&heap);
            let moved = heap.realloc(block, large, larger.size());
            assert_ne!(moved, block, "the block had to move");
            assert_eq!(
                taken(&heap),
                before + 2,
                "allocate, then free: the copy in between"
            );
            // Every byte natively; every 64th under Miri, where each read costs thousands of
            // steps (the copy itself is one intrinsic there).
            let stride = if cfg!(miri) { 64 } else { 1 };
            assert!(
                (0..large.size())
                    .step_by(stride)
                    .all(|i| *moved.add(i) == 0x5A)
            );

            // In place (a shrink), and small moves: one lock, as before.
            let before = taken(&heap);
            let shrunk = heap.realloc(moved, larger, large.size());
            assert_eq!(shrunk, moved);
            let small = heap.alloc(Layout::new::<[u64; 4]>());
            let small_moved = heap.realloc(small, Layout::new::<[u64; 4]>(), 4096);
            assert_eq!(taken(&heap), before + 3);
            heap.dealloc(small_moved, Layout::from_size_align(4096, 8).unwrap());
            heap.dealloc(shrunk, large);
            heap.dealloc(wall, Layout::new::<u64>());
        }
        heap.inspect(|heap| heap.validate()).unwrap();
    }
}
