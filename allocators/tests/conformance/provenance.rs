//! Provenance: a block freed through a pointer that covers only part of it (a `Box<[u64; 3]>`
//! in a 32-byte block, a `&mut [u8; 24]` turned into a pointer) and handed out again must come
//! back with the allocator's provenance for the whole block, through every layer. Under Miri
//! (Stacked and Tree Borrows) a block handed out with the narrow pointer's permission is
//! undefined behaviour at the first write past that prefix, and Miri reports it; natively the
//! test checks the contents.
//!
//! ```text
//!   allocate(24 B) ─► [ 32-byte block ] ─► narrow to [u8; 24] ─► free(narrow)
//!   allocate(24 B) ─► the same block? write all 32 usable bytes through what came back
//!   resize(narrow, 24 B → usable length) ─► write the whole block again
//! ```

use std::alloc::Layout;
use std::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use bareheap::{CacheIndex, Cached, Locked, RawAllocator};
use bareheap_conformance::{Chunk, DefaultHeap, Design, FIXED_BLOCK, Fixed, FreeList, Pools};

use crate::sizes::Sized;

/// The first `len` bytes of the block at `block`, as a pointer whose permission covers them
/// alone (made from a `&mut [u8]` of that length).
fn narrowed(block: NonNull<u8>, len: usize) -> NonNull<u8> {
    // SAFETY: a live block of at least `len` bytes that nothing else uses now.
    let prefix = unsafe { std::slice::from_raw_parts_mut(block.as_ptr(), len) };
    NonNull::from(prefix).cast()
}

/// Writes every byte of `block`, then checks them: a write past what the pointer's
/// provenance covers is what Miri reports.
fn write_all(block: NonNull<[u8]>, byte: u8) {
    let (ptr, len) = (block.cast::<u8>(), block.len());
    // SAFETY: a live block handed out with `len` usable bytes.
    unsafe {
        ptr.write_bytes(byte, len);
        assert!((0..len).all(|offset| ptr.add(offset).read() == byte));
    }
}

/// What the tests drive: allocate, free and resize with the trusted calls, as a global
/// allocator does, or with the checked ones.
trait Api {
    fn allocate(&mut self, layout: Layout) -> NonNull<[u8]>;
    /// # Safety
    /// `ptr` is a live block that `layout` fits.
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout);
    /// # Safety
    /// `ptr` is a live block that `old` fits.
    unsafe fn resize(&mut self, ptr: NonNull<u8>, old: Layout, new: Layout) -> NonNull<[u8]>;
}

/// A raw allocator through its trusted calls.
struct TrustedCalls<A>(A);

impl<A: RawAllocator> Api for TrustedCalls<A> {
    fn allocate(&mut self, layout: Layout) -> NonNull<[u8]> {
        self.0.allocate(layout).expect("memory")
    }
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.deallocate_trusted(ptr, layout) }
    }
    unsafe fn resize(&mut self, ptr: NonNull<u8>, old: Layout, new: Layout) -> NonNull<[u8]> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.resize_trusted(ptr, old, new) }.expect("memory")
    }
}

/// A raw allocator through its checked calls.
struct CheckedCalls<A>(A);

impl<A: RawAllocator> Api for CheckedCalls<A> {
    fn allocate(&mut self, layout: Layout) -> NonNull<[u8]> {
        self.0.allocate(layout).expect("memory")
    }
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.deallocate(ptr.as_ptr(), layout) }.expect("a live block");
    }
    unsafe fn resize(&mut self, ptr: NonNull<u8>, old: Layout, new: Layout) -> NonNull<[u8]> {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.resize(ptr.as_ptr(), old, new) }.expect("a live block and memory")
    }
}

/// Anything that is an `allocator_api2` allocator by reference (the locked forms, the caches).
struct ByReference<'a, A>(&'a A);

impl<A> Api for ByReference<'_, A>
where
    for<'r> &'r A: Allocator,
{
    fn allocate(&mut self, layout: Layout) -> NonNull<[u8]> {
        Allocator::allocate(&self.0, layout).expect("memory")
    }
    unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { Allocator::deallocate(&self.0, ptr, layout) }
    }
    unsafe fn resize(&mut self, ptr: NonNull<u8>, old: Layout, new: Layout) -> NonNull<[u8]> {
        let resized = if new.size() >= old.size() {
            // SAFETY: forwarded from the caller; not smaller.
            unsafe { Allocator::grow(&self.0, ptr, old, new) }
        } else {
            // SAFETY: forwarded from the caller; smaller.
            unsafe { Allocator::shrink(&self.0, ptr, old, new) }
        };
        resized.expect("memory")
    }
}

/// Frees blocks of `size` bytes through pointers narrowed to `size`, reuses them with
/// allocations and resizes of the same size class, and writes every usable byte each time.
fn reuse_after_narrowed_frees(api: &mut impl Api, size: usize) {
    let layout = Layout::from_size_align(size, 8).expect("a valid layout");
    for round in 0..3u8 {
        let first = api.allocate(layout);
        // SAFETY: a live block for `layout`, freed once through a narrower pointer.
        unsafe { api.free(narrowed(first.cast(), size), layout) };
        let again = api.allocate(layout);
        write_all(again, round);
        let whole = Layout::from_size_align(again.len(), 8).expect("a valid layout");
        // SAFETY: a live block for `layout`; `whole` asks for no more than it holds.
        let resized = unsafe { api.resize(narrowed(again.cast(), size), layout, whole) };
        write_all(resized, round + 100);
        // SAFETY: a live block that `whole` fits, freed once through a narrower pointer.
        unsafe { api.free(narrowed(resized.cast(), size), whole) };
    }
}

/// Every form of design `D`, with blocks of `size` bytes.
fn every_form<D: Sized>(size: usize) {
    let (allocator, _memory) = D::build(D::BYTES);
    reuse_after_narrowed_frees(&mut TrustedCalls(allocator), size);
    let (allocator, _memory) = D::build(D::BYTES);
    reuse_after_narrowed_frees(&mut CheckedCalls(allocator), size);
    let (allocator, _memory) = D::build(D::BYTES);
    let locked: Locked<_> = Locked::new(allocator);
    reuse_after_narrowed_frees(&mut ByReference(&locked), size);
}

#[test]
fn chunk() {
    every_form::<Chunk>(40);
}

#[test]
fn fixed() {
    every_form::<Fixed>(FIXED_BLOCK - 56);
}

#[test]
fn pools() {
    every_form::<Pools>(24);
}

#[test]
fn free_list() {
    every_form::<FreeList>(24);
}

#[test]
fn heap() {
    every_form::<DefaultHeap>(24);
}

/// One cache for every thread.
struct OneCache;

impl CacheIndex for OneCache {
    fn current(&self) -> usize {
        0
    }
}

/// The caches in front of the default heap: a block freed into a cache is handed out from
/// it, and a resize within its class keeps it; both must carry the heap's provenance.
#[test]
fn caches() {
    let (heap, _memory) = DefaultHeap::build(DefaultHeap::BYTES);
    let cached: Cached<_, _, bareheap::DefaultLock, 2> = Cached::new(heap, OneCache);
    for size in [24, 40, 200] {
        reuse_after_narrowed_frees(&mut ByReference(&cached), size);
    }
    cached.release_all();
    cached
        .inspect(|heap| heap.free_list().validate())
        .expect("consistent");
}
