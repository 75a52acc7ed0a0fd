//! Scenario tests of the free-list allocator (the seed's scenarios restated, every invalid free,
//! alignment, realloc, memory returned to the grower, the locked form) and a model-based
//! property test that checks the heap against a shadow model after every operation.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use std::boxed::Box;
use std::vec::Vec;

use proptest::prelude::*;

use super::block::{MIN_BLOCK, WORD};
use super::*;
use crate::grower::{HeapGrower, Region, StaticGrower};
use crate::test_checked::CheckedCalls;
use crate::{FreeError, Locked, RawAllocator, ResizeError};

/// The block `heap.allocate` hands out, as a plain pointer.
fn allocate<G: HeapGrower>(heap: &mut FreeListAllocator<G>, l: Layout) -> Option<NonNull<u8>> {
    Some(heap.allocate(l).ok()?.cast())
}

/// The checked resize to `size` bytes, same alignment, as a plain pointer.
///
/// # Safety
/// As for [`RawAllocator::resize`].
unsafe fn reallocate<G: HeapGrower>(
    heap: &mut FreeListAllocator<G>,
    ptr: *mut u8,
    l: Layout,
    size: usize,
) -> Result<NonNull<u8>, ResizeError> {
    // SAFETY: forwarded from the caller.
    let block = unsafe { heap.resize(ptr, l, layout(size, l.align())) }?;
    Ok(block.cast())
}

/// The trusted resize to `size` bytes, same alignment, as a plain pointer.
///
/// # Safety
/// `ptr` must be a live block of `heap` for `l`.
unsafe fn reallocate_trusted<G: HeapGrower>(
    heap: &mut FreeListAllocator<G>,
    ptr: NonNull<u8>,
    l: Layout,
    size: usize,
) -> Option<NonNull<u8>> {
    // SAFETY: forwarded from the caller.
    let block = unsafe { heap.resize_trusted(ptr, l, layout(size, l.align())) };
    Some(block.ok()?.cast())
}

/// A grower that cuts pieces from a buffer, as [`StaticGrower::with_piece_size`] does, and
/// also takes them back (onto a spare list, reused whole by later growths), so the tests can
/// watch regions come and go. With a `GAP` of zero its pieces touch and share the buffer's
/// provenance, so the heap may join them; otherwise it leaves `GAP` bytes after each piece,
/// and every piece stays a region of its own.
struct Pieces<'a, const GAP: usize> {
    inner: StaticGrower<'a>,
    spare: Vec<Region>,
    handed_out: usize,
    released: usize,
    bytes_out: usize,
}

/// The gap [`Gapped`] leaves after each piece.
const GAP: usize = StaticGrower::ALIGN;

/// Pieces that never touch: every region stays a region of its own.
type Gapped<'a> = Pieces<'a, GAP>;

impl<'a, const GAP: usize> Pieces<'a, GAP> {
    fn new(memory: &'a mut [MaybeUninit<u8>], piece_size: usize) -> Self {
        Self {
            inner: StaticGrower::with_piece_size(memory, piece_size),
            spare: Vec::new(),
            handed_out: 0,
            released: 0,
            bytes_out: 0,
        }
    }

    fn released_regions(&self) -> usize {
        self.released
    }

    fn handed_out_regions(&self) -> usize {
        self.handed_out
    }

    fn bytes_out(&self) -> usize {
        self.bytes_out
    }
}

// SAFETY: each region is a piece of the inner grower's (shortened by the gap), or a spare one
// its user gave back: valid, disjoint, as long as asked. Without a gap, every piece is cut
// from the one buffer pointer, valid for all of them.
unsafe impl<const GAP: usize> HeapGrower for Pieces<'_, GAP> {
    type Err = crate::grower::Exhausted;

    const RELEASES: bool = true;
    const SHARES_PROVENANCE: bool = GAP == 0;

    fn grow(&mut self, min_size: usize) -> Result<Region, Self::Err> {
        let region = match self.spare.iter().position(|r| r.len() >= min_size) {
            Some(index) => self.spare.swap_remove(index),
            None => {
                let piece = self.inner.grow(min_size + GAP)?;
                Region::new(piece.ptr(), piece.len() - GAP)
            }
        };
        self.handed_out += 1;
        self.bytes_out += region.len();
        Ok(region)
    }

    unsafe fn release(
        &mut self,
        region: Region,
    ) -> Result<(), crate::grower::ReleaseError<Self::Err>> {
        self.spare.push(region);
        self.released += 1;
        self.bytes_out -= region.len();
        Ok(())
    }
}

/// A grower over a buffer whose `discard` scribbles over the bytes it is told are dead (as
/// `MADV_DONTNEED` may zero them) and records how many it got.
struct Scribbling<'a> {
    inner: StaticGrower<'a>,
    discarded: usize,
}

// SAFETY: the regions are the inner grower's; `discard` writes only bytes the heap declared
// dead, inside those regions.
unsafe impl HeapGrower for Scribbling<'_> {
    type Err = crate::grower::Exhausted;

    const DISCARDS: bool = true;

    fn grow(&mut self, min_size: usize) -> Result<Region, Self::Err> {
        self.inner.grow(min_size)
    }

    unsafe fn discard(&mut self, memory: Region) {
        // Under Miri, where every byte written costs thousands of steps, only the first and
        // last 64 bytes: the ones next to the metadata a careless discard would hit.
        let edge = if cfg!(miri) {
            64.min(memory.len() / 2)
        } else {
            memory.len()
        };
        // SAFETY: the caller declares the bytes dead and inside one of our regions; both
        // ranges lie inside `memory`.
        unsafe {
            memory.ptr().write_bytes(0xDD, edge);
            memory
                .ptr()
                .add(memory.len() - edge)
                .write_bytes(0xDD, edge);
        }
        self.discarded += memory.len();
    }
}

/// A buffer for a [`StaticGrower`]; deliberately only byte-aligned, and left uninitialized
/// (the heap must never read bytes it did not write).
fn buffer(bytes: usize) -> Box<[MaybeUninit<u8>]> {
    Box::new_uninit_slice(bytes)
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Byte `i` of the block with id `id`. Bit 3 is always set: a word a fill writes where a tag
/// could lie (8 or 12 bytes past a granule boundary, payloads starting on one) then starts with
/// a pattern byte, whose bit 3 is a flag no tag may carry, so user data never imitates a tag
/// (the stale frees of the model test rely on it).
fn pattern(id: usize, i: usize) -> u8 {
    (id.wrapping_mul(31).wrapping_add(i) % 251) as u8 | 0x08
}

/// The offsets of a `size`-byte block that carry its pattern: all of them natively; under
/// Miri, where each byte costs thousands of steps, the first 64 and every 32nd. The set for a
/// shorter length is a prefix of the set for a longer one, so a block filled for one size can
/// be checked for any smaller one (after a resize). (Stepping over the offsets, rather than
/// filtering every one, took a test from 41 to 7 s under Miri.)
fn patterned(size: usize) -> impl Iterator<Item = usize> {
    let (dense, stride) = if cfg!(miri) {
        (size.min(64), 32)
    } else {
        (size, 1)
    };
    (0..dense).chain((dense..size).step_by(stride))
}

fn fill(ptr: NonNull<u8>, size: usize, id: usize) {
    for i in patterned(size) {
        // SAFETY: `ptr` is a live block of at least `size` bytes.
        unsafe { ptr.as_ptr().add(i).write(pattern(id, i)) };
    }
}

fn holds_pattern(ptr: NonNull<u8>, size: usize, id: usize) -> bool {
    // SAFETY: `ptr` is a live block of at least `size` bytes, filled by `fill`.
    patterned(size).all(|i| unsafe { ptr.as_ptr().add(i).read() } == pattern(id, i))
}

#[test]
fn blocks_are_placed_contiguously_and_a_freed_middle_block_is_reused() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let small = layout(64, 8);
    let a = allocate(&mut heap, small).unwrap();
    let b = allocate(&mut heap, small).unwrap();
    let c = allocate(&mut heap, small).unwrap();
    assert_eq!(b.addr().get() - a.addr().get(), 80);
    assert_eq!(c.addr().get() - b.addr().get(), 80);
    // SAFETY: `b` is live, allocated with `small`.
    unsafe { heap.deallocate(b.as_ptr(), small) }.unwrap();
    heap.validate().unwrap();
    assert_eq!(allocate(&mut heap, small), Some(b));
    heap.validate().unwrap();
    assert_eq!(heap.stats().allocated_blocks, 3);
}

#[test]
fn neighbours_merge_on_free_in_any_order() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(100, 16);
    let blocks: Vec<_> = (0..5).map(|_| allocate(&mut heap, l).unwrap()).collect();
    for &i in &[1, 3, 2, 0, 4] {
        // SAFETY: each block is live and freed once.
        unsafe { heap.deallocate(blocks[i].as_ptr(), l) }.unwrap();
        heap.validate().unwrap();
    }
    assert_eq!(heap.free_block_count(), 1);
    assert_eq!(heap.stats().in_use_bytes, 0);
    assert_eq!(heap.free_blocks().count(), 1);
}

#[test]
fn the_heap_grows_by_the_rounded_request_through_the_grower() {
    let mut memory = buffer(64 * 1024);
    let mut heap = FreeListAllocator::new(Gapped::new(&mut memory, 1024));
    let first = allocate(&mut heap, layout(10, 8)).unwrap();
    assert_eq!(heap.stats().mapped_bytes, 1024 - GAP);
    let big = allocate(&mut heap, layout(5000, 8)).unwrap();
    let grown = heap.regions().next().unwrap();
    assert!(grown.len >= 5000 + 8 && grown.len < 5000 + 200);
    assert_eq!(heap.grower().bytes_out(), heap.stats().mapped_bytes);
    assert_eq!(heap.stats().grows, 2);
    assert!(heap.contains(first.as_ptr()) && heap.contains(big.as_ptr()));
    heap.validate().unwrap();
}

#[test]
fn exhaustion_is_none_and_changes_nothing() {
    let mut memory = buffer(4096);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    allocate(&mut heap, layout(1000, 8)).unwrap();
    let before = heap.stats();
    assert_eq!(allocate(&mut heap, layout(8000, 8)), None);
    assert_eq!(allocate(&mut heap, layout(usize::MAX / 4, 8)), None);
    assert_eq!(heap.stats(), before);
    heap.validate().unwrap();
}

/// Asserts that a refused free returned `expected` and left the heap as it was.
fn assert_refused(
    heap: &mut FreeListAllocator<StaticGrower<'_>>,
    ptr: *mut u8,
    l: Layout,
    expected: FreeError,
) {
    let before = heap.stats();
    // SAFETY: every pointer passed here is null, foreign, or inside the heap with an
    // initialized word before it (the tests fill their blocks).
    assert_eq!(unsafe { heap.deallocate(ptr, l) }, Err(expected));
    assert_eq!(heap.stats(), before);
    heap.validate().unwrap();
}

#[test]
fn every_invalid_free_is_refused_and_changes_nothing() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(64, 8);
    let a = allocate(&mut heap, l).unwrap();
    let b = allocate(&mut heap, l).unwrap();
    let c = allocate(&mut heap, l).unwrap();
    for (id, ptr) in [a, b, c].into_iter().enumerate() {
        fill(ptr, 64, id);
    }
    let mut foreign = 0u64;
    assert_refused(&mut heap, core::ptr::null_mut(), l, FreeError::NullPtrFree);
    assert_refused(
        &mut heap,
        (&raw mut foreign).cast(),
        l,
        FreeError::FreeOutOfBounds,
    );
    // SAFETY: one byte into a live 64-byte block.
    let misaligned = unsafe { b.as_ptr().add(1) };
    assert_refused(&mut heap, misaligned, l, FreeError::UnalignedFree);
    // SAFETY: 16 bytes into a live 64-byte block, whose bytes are all initialized.
    let interior = unsafe { b.as_ptr().add(16) };
    assert_refused(&mut heap, interior, l, FreeError::UnalignedFree);
    assert_refused(
        &mut heap,
        b.as_ptr(),
        layout(1000, 8),
        FreeError::LayoutMismatch,
    );

    // SAFETY: `b` is live.
    unsafe { heap.deallocate(b.as_ptr(), l) }.unwrap();
    assert_refused(&mut heap, b.as_ptr(), l, FreeError::DoubleFree);
    // `c` merges into the free `b`; its stale tag still reads as free.
    // SAFETY: `c` is live.
    unsafe { heap.deallocate(c.as_ptr(), l) }.unwrap();
    assert_refused(&mut heap, c.as_ptr(), l, FreeError::DoubleFree);
    assert_refused(&mut heap, b.as_ptr(), l, FreeError::DoubleFree);
}

#[test]
fn a_corrupted_tag_is_refused() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    // The request fills its 80-byte block exactly (72 bytes on 64-bit targets, 76 on 32-bit
    // ones), so the forged footer read below is the last word `a`'s owner wrote.
    let size = 80 - WORD;
    let l = layout(size, 8);
    let a = allocate(&mut heap, l).unwrap();
    let b = allocate(&mut heap, l).unwrap();
    // Every byte written (`fill` samples under Miri): the forged footer must be initialized.
    // SAFETY: `a` is a live block of `size` bytes.
    unsafe { a.as_ptr().write_bytes(0x5A, size) };
    // SAFETY: the word before `b` is its tag, inside the region that `b`'s provenance covers;
    // the test flips the "previous block is free" flag and restores it afterwards.
    let tag = unsafe { b.as_ptr().sub(WORD).cast::<usize>() };
    // SAFETY: as above.
    let original = unsafe { tag.read() };
    // SAFETY: as above.
    unsafe { tag.write(original | 2) };
    let before = heap.stats();
    // SAFETY: `b`'s tag word is initialized.
    let refused = unsafe { heap.deallocate(b.as_ptr(), l) };
    assert_eq!(refused, Err(FreeError::CorruptedBlock));
    assert_eq!(heap.stats(), before);
    assert!(heap.validate().is_err());
    // SAFETY: as above.
    unsafe { tag.write(original) };
    heap.validate().unwrap();
    // SAFETY: `b` is live.
    unsafe { heap.deallocate(b.as_ptr(), l) }.unwrap();
}

#[test]
fn alignments_up_to_4096_are_honoured() {
    let mut memory = buffer(128 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let mut live = Vec::new();
    for shift in 0..=12 {
        for size in [1, 24, 100] {
            let l = layout(size, 1 << shift);
            let ptr = allocate(&mut heap, l).unwrap();
            assert_eq!(ptr.addr().get() % l.align(), 0, "align {}", l.align());
            fill(ptr, size, live.len());
            live.push((ptr, l));
            heap.validate().unwrap();
        }
    }
    for (id, &(ptr, l)) in live.iter().enumerate() {
        assert!(holds_pattern(ptr, l.size(), id));
    }
    for (ptr, l) in live {
        // SAFETY: each block is live and freed once.
        unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
        heap.validate().unwrap();
    }
    assert_eq!(heap.stats().allocated_blocks, 0);
    assert_eq!(heap.free_block_count(), 1);
}

#[test]
fn realloc_shrinks_in_place_and_frees_the_tail() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(1000, 8);
    let a = allocate(&mut heap, l).unwrap();
    let _guard = allocate(&mut heap, layout(8, 8)).unwrap();
    fill(a, 1000, 7);
    let free_before = heap.stats().free_bytes;
    // SAFETY: `a` is live with layout `l`.
    let shrunk = unsafe { reallocate(&mut heap, a.as_ptr(), l, 100) }.unwrap();
    assert_eq!(shrunk, a);
    assert!(holds_pattern(a, 100, 7));
    assert_eq!(heap.stats().free_bytes, free_before + 1008 - 112);
    heap.validate().unwrap();
}

#[test]
fn realloc_grows_into_a_free_neighbour_in_place() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(100, 8);
    let a = allocate(&mut heap, l).unwrap();
    let b = allocate(&mut heap, l).unwrap();
    let _guard = allocate(&mut heap, l).unwrap();
    fill(a, 100, 1);
    // SAFETY: `b` is live.
    unsafe { heap.deallocate(b.as_ptr(), l) }.unwrap();
    // SAFETY: `a` is live with layout `l`.
    let grown = unsafe { reallocate(&mut heap, a.as_ptr(), l, 200) }.unwrap();
    assert_eq!(grown, a);
    assert!(holds_pattern(a, 100, 1));
    heap.validate().unwrap();
}

#[test]
fn realloc_moves_when_it_cannot_grow_in_place() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(100, 64);
    let a = allocate(&mut heap, l).unwrap();
    let _guard = allocate(&mut heap, l).unwrap();
    fill(a, 100, 2);
    // SAFETY: `a` is live with layout `l`.
    let moved = unsafe { reallocate(&mut heap, a.as_ptr(), l, 3000) }.unwrap();
    assert_ne!(moved, a);
    assert_eq!(moved.addr().get() % 64, 0);
    assert!(holds_pattern(moved, 100, 2));
    heap.validate().unwrap();
    // SAFETY: `a` was freed by the move; its tag word is still initialized.
    let refused = unsafe { reallocate(&mut heap, a.as_ptr(), l, 10) };
    assert_eq!(refused, Err(ResizeError::Invalid(FreeError::DoubleFree)));
    // SAFETY: `moved` is live; the request is impossible, so it stays.
    let too_big = unsafe { reallocate(&mut heap, moved.as_ptr(), layout(3000, 64), 1 << 20) };
    assert_eq!(too_big, Err(ResizeError::OutOfMemory));
    assert!(holds_pattern(moved, 100, 2));
    heap.validate().unwrap();
}

#[test]
fn empty_regions_go_back_to_the_grower_but_one_is_kept() {
    let mut memory = buffer(64 * 1024);
    let mut heap = FreeListAllocator::new(Gapped::new(&mut memory, 2048));
    let l = layout(1500, 8);
    let blocks: Vec<_> = (0..6).map(|_| allocate(&mut heap, l).unwrap()).collect();
    assert_eq!(heap.stats().regions, 6);
    for ptr in blocks {
        // SAFETY: each block is live and freed once.
        unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
        heap.validate().unwrap();
    }
    assert_eq!(heap.stats().regions, 1);
    assert_eq!(heap.stats().releases, 5);
    assert_eq!(heap.grower().released_regions(), 5);
    assert_eq!(heap.grower().bytes_out(), heap.stats().mapped_bytes);
    // The kept region serves the first block; the second reuses a released piece.
    let kept = allocate(&mut heap, l).unwrap();
    let again = allocate(&mut heap, l).unwrap();
    assert!(heap.contains(kept.as_ptr()) && heap.contains(again.as_ptr()));
    assert_eq!(heap.grower().handed_out_regions(), 7);
    assert_eq!(heap.grower().bytes_out(), 2 * (2048 - GAP));
}

#[test]
fn the_last_empty_region_is_kept_only_up_to_the_retained_bytes() {
    let l = layout(1500, 8);
    let region_len = 2048 - GAP;
    for (retained_bytes, kept) in [(region_len, 1), (region_len - 1, 0), (0, 0)] {
        let mut memory = buffer(64 * 1024);
        let policy = Policy {
            retained_bytes,
            ..Policy::DEFAULT
        };
        let mut heap = FreeListAllocator::with_policy(Gapped::new(&mut memory, 2048), policy);
        let blocks: Vec<_> = (0..3).map(|_| allocate(&mut heap, l).unwrap()).collect();
        assert!(heap.regions().all(|region| region.len == region_len));
        for ptr in blocks {
            // SAFETY: each block is live and freed once.
            unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
        }
        assert_eq!(
            heap.stats().regions,
            kept,
            "retaining {retained_bytes} bytes"
        );
        assert_eq!(heap.grower().released_regions(), 3 - kept);
        heap.validate().unwrap();
    }
}

#[test]
fn the_pages_of_large_free_blocks_are_discarded_after_enough_frees() {
    // Under Miri: fewer, smaller blocks, each byte of which costs thousands of steps; still
    // enough for a free block past DISCARD_MIN_BLOCK (64 KiB) and one discard after it.
    let (size, count, after) = if cfg!(miri) {
        (1000, 90, 8 * 1024)
    } else {
        (4000, 1000, 256 * 1024)
    };
    let mut memory = buffer(count * 4096 + 64 * 1024);
    let policy = Policy {
        discard_after_bytes: after,
        ..Policy::DEFAULT
    };
    let grower = Scribbling {
        inner: StaticGrower::new(&mut memory),
        discarded: 0,
    };
    let mut heap = FreeListAllocator::with_policy(grower, policy);
    let l = layout(size, 8);
    let blocks: Vec<_> = (0..count)
        .map(|_| allocate(&mut heap, l).unwrap())
        .collect();
    for (id, &ptr) in blocks.iter().enumerate() {
        fill(ptr, size, id);
    }
    // Every other block stays live: the freed ones merge only in the second pass, into large
    // blocks between live ones.
    for &ptr in blocks.iter().skip(1).step_by(2) {
        // SAFETY: each block is live and freed once.
        unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
    }
    assert_eq!(heap.grower().discarded, 0, "no large free block yet");
    for &ptr in blocks.iter().step_by(2).skip(1) {
        // SAFETY: as above.
        unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
    }
    assert!(
        heap.grower().discarded > 0,
        "large free blocks formed and were discarded"
    );
    heap.validate()
        .expect("tags, links and footers survive a discard");
    assert!(holds_pattern(blocks[0], size, 0));
    // The scribbled memory serves new blocks as any other.
    let again: Vec<_> = (0..count / 2)
        .map(|_| allocate(&mut heap, l).unwrap())
        .collect();
    for (id, &ptr) in again.iter().enumerate() {
        fill(ptr, size, id);
        assert!(holds_pattern(ptr, size, id));
    }
    heap.validate().unwrap();
}

/// A grower that hands out pieces of a buffer it owns, records each, and checks that every
/// `discard` lies inside one of them (the trait's contract); it may also hand out nothing.
struct Recording<'a> {
    inner: StaticGrower<'a>,
    handed_out: Vec<Region>,
    discards: usize,
}

// SAFETY: the regions are the inner grower's; `discard` only counts, after checking.
unsafe impl HeapGrower for Recording<'_> {
    type Err = crate::grower::Exhausted;

    const DISCARDS: bool = true;

    fn grow(&mut self, min_size: usize) -> Result<Region, Self::Err> {
        let region = self.inner.grow(min_size)?;
        self.handed_out.push(region);
        Ok(region)
    }

    unsafe fn discard(&mut self, memory: Region) {
        let (start, end) = (
            memory.ptr().addr().get(),
            memory.ptr().addr().get() + memory.len(),
        );
        let inside = self.handed_out.iter().any(|region| {
            let from = region.ptr().addr().get();
            from <= start && end <= from + region.len()
        });
        assert!(
            inside,
            "discard of {memory:?}, which this grower never handed out"
        );
        self.discards += 1;
    }
}

/// Issue 19, case 2: the discard pass walked every large free block, including those of memory
/// the program handed over with `claim`, which the grower never saw.
#[test]
fn only_memory_the_grower_handed_out_is_discarded() {
    let (block, count) = if cfg!(miri) {
        (9000, 40)
    } else {
        (60_000, 200)
    };
    // Under Miri the grower has nothing to give and the bank holds every block; natively half.
    let bank_bytes = if cfg!(miri) {
        2 * count * block
    } else {
        count * block / 2
    };
    let mut bank = buffer(bank_bytes);
    let mut own = buffer(if cfg!(miri) { 0 } else { 2 * count * block });
    let policy = Policy {
        discard_after_bytes: 4 * block,
        ..Policy::DEFAULT
    };
    let grower = Recording {
        inner: StaticGrower::with_piece_size(&mut own, 4 * block),
        handed_out: Vec::new(),
        discards: 0,
    };
    let mut heap = FreeListAllocator::with_policy(grower, policy);
    let bank_region = Region::new(NonNull::from(&mut bank[..]).cast(), bank_bytes);
    // SAFETY: the bank is used by nothing else while the heap lives.
    unsafe { heap.claim(bank_region) }.unwrap();
    let l = layout(block, 8);
    // Pairs of blocks separated by a live one, freed: free blocks of twice the size form, in
    // the bank and (natively) in the grower's regions, and discards follow.
    let blocks: Vec<_> = (0..count)
        .map(|_| allocate(&mut heap, l).unwrap())
        .collect();
    for (index, &ptr) in blocks.iter().enumerate() {
        if index % 3 != 2 {
            // SAFETY: each block is live and freed once.
            unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
        }
    }
    heap.validate().unwrap();
    let grower = heap.grower();
    if cfg!(miri) {
        assert!(grower.handed_out.is_empty());
        assert_eq!(grower.discards, 0, "nothing of the grower's to discard");
    } else {
        assert!(!grower.handed_out.is_empty());
        assert!(
            grower.discards > 0,
            "the grower's own free memory is discarded"
        );
    }
}

#[test]
fn large_blocks_get_a_dedicated_region_released_on_free() {
    let mut memory = buffer(64 * 1024);
    let policy = Policy {
        dedicated_threshold: 4096,
        ..Policy::DEFAULT
    };
    let mut heap = FreeListAllocator::with_policy(Pieces::<0>::new(&mut memory, 1024), policy);
    let small = allocate(&mut heap, layout(10, 8)).unwrap();
    let big = layout(10_000, 8);
    let ptr = allocate(&mut heap, big).unwrap();
    assert_eq!(
        heap.regions()
            .filter(|region| region.kind == RegionKind::Dedicated)
            .count(),
        1
    );
    fill(ptr, 10_000, 3);
    // SAFETY: `ptr` is live with layout `big`.
    unsafe { heap.deallocate(ptr.as_ptr(), big) }.unwrap();
    assert_eq!(heap.stats().regions, 1);
    assert_eq!(heap.grower().released_regions(), 1);
    assert!(heap.contains(small.as_ptr()) && !heap.contains(ptr.as_ptr()));
    heap.validate().unwrap();
}

#[test]
fn release_can_be_turned_off() {
    let mut memory = buffer(64 * 1024);
    let policy = Policy {
        release_empty_regions: false,
        ..Policy::DEFAULT
    };
    let mut heap = FreeListAllocator::with_policy(Gapped::new(&mut memory, 1024), policy);
    let l = layout(900, 8);
    let blocks: Vec<_> = (0..3).map(|_| allocate(&mut heap, l).unwrap()).collect();
    for ptr in blocks {
        // SAFETY: each block is live and freed once.
        unsafe { heap.deallocate(ptr.as_ptr(), l) }.unwrap();
    }
    assert_eq!(heap.stats().regions, 3);
    assert_eq!(heap.grower().released_regions(), 0);
    heap.validate().unwrap();
}

#[test]
fn introspection_reports_blocks_and_classes() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(40, 8);
    let blocks: Vec<_> = (0..4).map(|_| allocate(&mut heap, l).unwrap()).collect();
    // SAFETY: blocks 0 and 2 are live and freed once.
    unsafe {
        heap.deallocate(blocks[0].as_ptr(), l).unwrap();
        heap.deallocate(blocks[2].as_ptr(), l).unwrap();
    }
    let all: Vec<_> = heap.blocks().collect();
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[0],
        BlockInfo {
            payload: blocks[0].addr().get(),
            size: 48,
            allocated: false
        }
    );
    assert_eq!(heap.free_blocks().count(), 3);
    let classes: Vec<_> = heap.free_class_counts().collect();
    assert_eq!(
        classes[0],
        ClassCount {
            min_size: 48,
            blocks: 2
        }
    );
    assert_eq!(classes.iter().map(|class| class.blocks).sum::<usize>(), 3);
    assert_eq!(heap.stats().peak_in_use_bytes, 4 * 48);
}

#[test]
fn the_locked_form_serves_global_alloc_and_allocator_api2() {
    let mut memory = buffer(64 * 1024);
    let locked: Locked<_> = Locked::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
    let l = layout(32, 16);
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { locked.alloc(l) };
    assert!(!p.is_null() && locked.contains(p));
    // SAFETY: `p` is live with layout `l`.
    let q = unsafe { locked.realloc(p, l, 500) };
    assert!(!q.is_null());
    // SAFETY: `q` is live with size 500 and alignment 16.
    unsafe { locked.dealloc(q, layout(500, 16)) };
    // SAFETY: a second free of `q` is ignored by the tag checks.
    unsafe { locked.dealloc(q, layout(500, 16)) };
    // SAFETY: the size is huge: the allocator returns null instead of failing loudly.
    assert!(unsafe { locked.alloc(layout(usize::MAX / 4, 8)) }.is_null());
    {
        let mut numbers = allocator_api2::vec::Vec::new_in(&locked);
        for i in 0..500u32 {
            numbers.push(i);
        }
        numbers.shrink_to_fit();
        assert_eq!(numbers.iter().sum::<u32>(), 124_750);
        let mut aligned = allocator_api2::vec::Vec::<u8, _>::with_capacity_in(10, &locked);
        aligned.extend_from_slice(&[1; 10]);
        assert_eq!(aligned.len(), 10);
    }
    let heap = locked.lock();
    heap.validate().unwrap();
    assert_eq!(heap.stats().allocated_blocks, 0);
}

/// The free list over real `mmap`s. Not under Miri: its emulated `mmap` zeroes and tracks
/// every mapped byte, minutes for these sizes (the doc tests cover the mmap grower there).
#[cfg(not(miri))]
mod with_mmap {
    use super::*;
    use crate::grower::MmapGrower;

    #[test]
    fn mmap_regions_are_page_rounded_and_unmapped_when_empty() {
        let grower = MmapGrower::with_page_size(4096).unwrap();
        let mut heap = FreeListAllocator::new(grower);
        let l = layout(100_000, 8);
        let first = allocate(&mut heap, l).unwrap();
        assert_eq!(
            heap.grower().mapped_bytes(),
            (100_008 + 16 + 78usize).next_multiple_of(4096)
        );
        let second = allocate(&mut heap, layout(200_000, 8)).unwrap();
        let large = layout(1 << 20, 4096);
        let dedicated = allocate(&mut heap, large).unwrap();
        assert_eq!(dedicated.addr().get() % 4096, 0);
        fill(dedicated, 1 << 20, 9);
        assert_eq!(heap.grower().mapped_regions(), 3);
        heap.validate().unwrap();
        // SAFETY: each block is live and freed once.
        unsafe {
            heap.deallocate(dedicated.as_ptr(), large).unwrap();
            heap.deallocate(second.as_ptr(), layout(200_000, 8))
                .unwrap();
            heap.deallocate(first.as_ptr(), l).unwrap();
        }
        assert_eq!(heap.grower().released_regions(), 2);
        assert_eq!(heap.stats().regions, 1);
        assert_eq!(heap.grower().mapped_bytes(), heap.stats().mapped_bytes);
        heap.validate().unwrap();
    }

    /// Issue 19, case 1: `madvise` rounds its length up to the kernel's page, so discarding
    /// with a smaller configured page zeroed the footer, the next tag and the next live block.
    /// A configured page smaller than the kernel's simulates a kernel with larger pages (arm64
    /// with 16 or 64 KiB): whatever the configuration, no live byte and no tag may change.
    #[test]
    fn discarding_never_reaches_a_live_byte_whatever_the_configured_page_size() {
        let kernel = crate::sys::page_size().expect("the kernel's page size");
        for configured in [256, 1024, 2048, kernel, 4 * kernel] {
            let policy = Policy {
                discard_after_bytes: 1 << 20,
                ..Policy::DEFAULT
            };
            let grower = MmapGrower::with_page_size(configured).unwrap();
            let mut heap = FreeListAllocator::with_policy(grower, policy);
            let (pair, live) = (layout(50_000, 8), layout(4000, 8));
            let mut freed = Vec::new();
            let mut kept = Vec::new();
            for _ in 0..120 {
                freed.push(allocate(&mut heap, pair).unwrap());
                freed.push(allocate(&mut heap, pair).unwrap());
                let block = allocate(&mut heap, live).unwrap();
                // SAFETY: a live block of at least 4000 bytes.
                unsafe { block.write_bytes(0xAB, live.size()) };
                kept.push(block);
            }
            for block in freed {
                // SAFETY: each block is live and freed once.
                unsafe { heap.deallocate(block.as_ptr(), pair) }.unwrap();
            }
            for (index, block) in kept.iter().enumerate() {
                // SAFETY: a live block of 4000 bytes, written above.
                let bytes = unsafe { core::slice::from_raw_parts(block.as_ptr(), live.size()) };
                let zeroed = bytes.iter().filter(|&&byte| byte != 0xAB).count();
                assert_eq!(
                    zeroed, 0,
                    "page {configured}: block {index} lost {zeroed} bytes"
                );
            }
            heap.validate().expect("every tag and footer intact");
        }
    }

    #[test]
    fn a_global_style_static_works_after_setting_the_page_size() {
        static HEAP: LockedFreeListAllocator<MmapGrower> =
            LockedFreeListAllocator::new(FreeListAllocator::new(MmapGrower::new()));
        HEAP.set_page_size(4096).unwrap();
        assert!(HEAP.set_page_size(1000).is_err());
        let mut words = allocator_api2::vec::Vec::new_in(&HEAP);
        words.extend(0..10_000usize);
        assert_eq!(words[9_999], 9_999);
        drop(words);
        HEAP.lock().validate().unwrap();
    }
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align_shift: u32,
    },
    Free {
        pick: usize,
    },
    Realloc {
        pick: usize,
        size: usize,
    },
    /// A realloc to the block's size plus `granules` × 16 bytes (at least 0): the resizes
    /// whose tail starts a granule into, or before, a free next block, where the tail's words
    /// lie over that block's tag and links.
    Nudge {
        pick: usize,
        granules: isize,
    },
    /// A checked free of every address of a block freed or moved earlier that no live block
    /// has now, with the smallest layout (which fits any block, so the layout check catches
    /// nothing): each refused, nothing changed.
    FreeStale,
}

fn max_size() -> usize {
    if cfg!(miri) { 600 } else { 6000 }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..max_size(), prop_oneof![8 => 0..5u32, 1 => 5..13u32])
            .prop_map(|(size, align_shift)| Op::Alloc { size, align_shift }),
        3 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        2 => (any::<usize>(), 0..max_size()).prop_map(|(pick, size)| Op::Realloc { pick, size }),
        2 => (any::<usize>(), -3..=3isize).prop_map(|(pick, granules)| Op::Nudge { pick, granules }),
        2 => Just(Op::FreeStale),
    ]
}

/// A live block in the shadow model.
struct Live {
    ptr: NonNull<u8>,
    layout: Layout,
    id: usize,
}

/// Checks every model invariant after a step.
fn check_model(heap: &FreeListAllocator<StaticGrower<'_>>, live: &[Live]) {
    heap.validate().unwrap();
    let stats = heap.stats();
    assert_eq!(stats.allocated_blocks, live.len());
    assert_eq!(stats.mapped_bytes, heap.grower().bytes_out());
    let mut spans: Vec<_> = live
        .iter()
        .map(|block| {
            assert_eq!(block.ptr.addr().get() % block.layout.align(), 0);
            assert!(heap.contains(block.ptr.as_ptr()));
            (
                block.ptr.addr().get(),
                block.ptr.addr().get() + block.layout.size().max(1),
            )
        })
        .collect();
    spans.sort_unstable();
    assert!(
        spans.windows(2).all(|pair| pair[0].1 <= pair[1].0),
        "live blocks overlap"
    );
}

fn run_model(ops: &[Op]) {
    // Zeroed: a stale free reads words no block may have written since.
    let mut memory = Box::new_zeroed_slice(if cfg!(miri) { 48 * 1024 } else { 512 * 1024 });
    let policy = Policy {
        dedicated_threshold: max_size() / 2,
        ..Policy::DEFAULT
    };
    let grower = StaticGrower::with_piece_size(&mut memory, 4096);
    let mut heap = FreeListAllocator::with_policy(grower, policy);
    let mut live: Vec<Live> = Vec::new();
    // Addresses of blocks freed or moved away from.
    let mut dead: Vec<usize> = Vec::new();
    for (id, op) in ops.iter().enumerate() {
        let op = match *op {
            Op::Nudge { pick, granules } if !live.is_empty() => {
                let old = live[pick % live.len()].layout.size();
                let size = old.saturating_add_signed(granules * 16).min(max_size());
                Op::Realloc { pick, size }
            }
            ref other => other.clone(),
        };
        match op {
            Op::Alloc { size, align_shift } => {
                let l = layout(size, 1 << align_shift);
                if let Some(ptr) = allocate(&mut heap, l) {
                    fill(ptr, size, id);
                    live.push(Live { ptr, layout: l, id });
                }
            }
            Op::Free { pick } if !live.is_empty() => {
                let block = live.swap_remove(pick % live.len());
                assert!(holds_pattern(block.ptr, block.layout.size(), block.id));
                // SAFETY: the block is live and freed once.
                unsafe { heap.deallocate(block.ptr.as_ptr(), block.layout) }.unwrap();
                dead.push(block.ptr.addr().get());
            }
            Op::Realloc { pick, size } if !live.is_empty() => {
                let index = pick % live.len();
                let block = &mut live[index];
                let old = block.layout.size();
                // SAFETY: the block is live with its layout.
                match unsafe { reallocate(&mut heap, block.ptr.as_ptr(), block.layout, size) } {
                    Ok(ptr) => {
                        assert!(holds_pattern(ptr, old.min(size), block.id));
                        fill(ptr, size, block.id);
                        if ptr != block.ptr {
                            dead.push(block.ptr.addr().get());
                        }
                        block.ptr = ptr;
                        block.layout = layout(size, block.layout.align());
                    }
                    Err(error) => assert_eq!(error, ResizeError::OutOfMemory),
                }
            }
            // Natively only: under Miri, blocks carry their pattern on some bytes only, and
            // the others may imitate a tag (which no check can tell from one); natively every
            // byte is patterned, and no pattern is shaped like a tag.
            Op::FreeStale if !cfg!(miri) => {
                let before = heap.stats();
                for &address in &dead {
                    if live.iter().any(|block| block.ptr.addr().get() == address) {
                        continue;
                    }
                    let ptr = core::ptr::without_provenance_mut(address);
                    // SAFETY: the checked free: the address lies in the heap, and the word
                    // before it is initialized (the buffer started zeroed).
                    let refused = unsafe { heap.deallocate(ptr, layout(1, 8)) };
                    assert!(refused.is_err(), "a stale free at {address:#x} was taken");
                    assert_eq!(heap.stats(), before);
                }
            }
            _ => {}
        }
        check_model(&heap, &live);
    }
    for block in live {
        assert!(holds_pattern(block.ptr, block.layout.size(), block.id));
        // SAFETY: the block is live and freed once.
        unsafe { heap.deallocate(block.ptr.as_ptr(), block.layout) }.unwrap();
    }
    check_model(&heap, &[]);
    let general = heap
        .regions()
        .filter(|region| region.kind == RegionKind::General);
    assert!(
        general.count() <= 1,
        "one empty general region kept, the rest given back"
    );
    assert_eq!(
        heap.free_block_count(),
        heap.stats().regions,
        "each region one free block"
    );
}

proptest! {
    #![proptest_config(crate::test_proptest::config(4, 256))]

    #[test]
    fn random_operations_keep_the_heap_consistent(
        ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 120 })
    ) {
        run_model(&ops);
    }
}

/// The pointer a `&mut [u8]` over the block's `size` bytes gives: under Stacked Borrows its tag
/// covers those bytes only, as a pointer out of a `Box` or a `Vec` does.
fn narrowed(ptr: NonNull<u8>, size: usize) -> NonNull<u8> {
    // SAFETY: `ptr` is a live block of at least `size` bytes that nothing else uses now.
    let bytes = unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), size) };
    NonNull::from(bytes).cast()
}

#[test]
fn frees_and_resizes_through_pointers_that_cover_only_the_block() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(48, 8);
    let [a, b, c, d] = [(); 4].map(|()| allocate(&mut heap, l).unwrap());
    fill(a, 48, 1);
    // SAFETY: each block is live with layout `l` and used only through the returned pointers.
    unsafe {
        heap.deallocate(narrowed(b, 48).as_ptr(), l).unwrap();
        heap.deallocate_trusted(narrowed(c, 48), l);
        let grown = reallocate(&mut heap, narrowed(a, 48).as_ptr(), l, 200).unwrap();
        assert!(holds_pattern(grown, 48, 1));
        let shrunk = reallocate_trusted(&mut heap, narrowed(grown, 200), l, 16).unwrap();
        assert!(holds_pattern(shrunk, 16, 1));
        heap.deallocate_trusted(narrowed(shrunk, 16), layout(16, 8));
        heap.deallocate(narrowed(d, 48).as_ptr(), l).unwrap();
    }
    heap.validate().unwrap();
    assert_eq!(heap.stats().allocated_blocks, 0);
}

#[test]
fn trusted_frees_find_each_region_as_regions_come_and_go() {
    let mut memory = buffer(64 * 1024);
    let policy = Policy {
        dedicated_threshold: 4096,
        ..Policy::DEFAULT
    };
    let mut heap = FreeListAllocator::with_policy(Pieces::<0>::new(&mut memory, 1024), policy);
    let small = layout(600, 8);
    let big = layout(5000, 8);
    for _ in 0..3 {
        let first = allocate(&mut heap, small).unwrap();
        let second = allocate(&mut heap, small).unwrap();
        let large = allocate(&mut heap, big).unwrap();
        assert_eq!(
            heap.regions()
                .filter(|region| region.kind == RegionKind::Dedicated)
                .count(),
            1
        );
        // SAFETY: each block is live with its layout and freed once.
        unsafe {
            heap.deallocate_trusted(narrowed(first, 600), small);
            heap.deallocate_trusted(narrowed(large, 5000), big);
            heap.deallocate_trusted(narrowed(second, 600), small);
        }
        heap.validate().unwrap();
        assert_eq!(heap.stats().allocated_blocks, 0);
    }
    assert_eq!(heap.stats().regions, 1);
}

#[test]
fn a_trusted_free_of_an_address_in_no_region_changes_nothing() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let l = layout(32, 8);
    let kept = allocate(&mut heap, l).unwrap();
    let before = heap.stats();
    let mut foreign = [0u8; 64];
    // SAFETY: deliberately outside the contract: the address lies in no region, so the heap
    // must not touch it.
    let foreign_block = NonNull::new(foreign.as_mut_ptr().wrapping_add(16)).unwrap();
    // SAFETY: as above.
    unsafe { heap.deallocate_trusted(foreign_block, l) };
    assert_eq!(heap.stats(), before);
    assert!(foreign.iter().all(|&byte| byte == 0));
    assert!(heap.contains(kept.as_ptr()));
}

/// A caller's pointer used only as an address: a block handed back through a pointer narrowed
/// to its own bytes (a `Box`'s) or through a read-only one (from a `&[u8]`) is freed, resized
/// and merged with the region's pointer; the caller's is never written through.
#[test]
fn frees_and_resizes_take_the_callers_pointer_as_an_address_only() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    for size in [1, 8, 17, 40, 100] {
        let l = layout(size, 8);
        let [a, b, c] = [(); 3].map(|()| allocate(&mut heap, l).unwrap());
        fill(a, size, 1);
        // SAFETY: every block is live with its layout and handed back once.
        unsafe {
            let read_only: &[u8] = core::slice::from_raw_parts(b.as_ptr(), size);
            heap.deallocate_trusted(NonNull::from(read_only).cast(), l);
            let grown = reallocate_trusted(&mut heap, narrowed(a, size), l, size + 300).unwrap();
            assert!(holds_pattern(grown, size, 1));
            let read_only: &[u8] = core::slice::from_raw_parts(grown.as_ptr(), size + 300);
            heap.deallocate_trusted(NonNull::from(read_only).cast(), layout(size + 300, 8));
            heap.free_checked(narrowed(c, size).as_ptr(), l).unwrap();
        }
        heap.validate().unwrap();
        assert_eq!(heap.stats().allocated_blocks, 0);
    }
}

#[test]
fn a_large_request_falls_back_to_the_bins_when_no_dedicated_region_can_be_had() {
    let mut memory = buffer(if cfg!(miri) { 320 << 10 } else { 32 << 20 });
    let policy = Policy {
        retained_bytes: 0,
        ..Policy::DEFAULT
    };
    let mut heap =
        FreeListAllocator::with_policy(Pieces::<0>::new(&mut memory, usize::MAX), policy);
    let small = allocate(&mut heap, layout(1, 8)).unwrap();
    // The whole buffer went to the first region: no dedicated region is left to give.
    let large = allocate(&mut heap, layout(262_121, 8)).expect("served from the bins");
    assert!(heap.contains(large.as_ptr()) && heap.stats().regions == 1);
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate_trusted(large, layout(262_121, 8));
        heap.deallocate_trusted(small, layout(1, 8));
    }
    // Both merged back into one empty region, which the policy does not retain: it went back.
    assert_eq!((heap.stats().regions, heap.grower().bytes_out()), (0, 0));
}

#[test]
fn a_grower_that_refuses_leaves_the_bins_to_serve() {
    let mut memory = buffer(64 * 1024);
    let policy = Policy {
        dedicated_threshold: 4096,
        ..Policy::DEFAULT
    };
    let mut heap = FreeListAllocator::with_policy(StaticGrower::new(&mut memory), policy);
    let first = allocate(&mut heap, layout(8, 8)).unwrap();
    // SAFETY: live with its layout.
    unsafe { heap.deallocate_trusted(first, layout(8, 8)) };
    // Every further growth is refused; a request above the threshold still fits the region.
    let large = allocate(&mut heap, layout(40 * 1024, 8)).expect("served from the bins");
    assert_eq!(heap.grower().handed_out_regions(), 1);
    assert!(allocate(&mut heap, layout(40 * 1024, 8)).is_none());
    // SAFETY: live with its layout.
    unsafe { heap.deallocate_trusted(large, layout(40 * 1024, 8)) };
    heap.validate().unwrap();
}

#[test]
fn a_dedicated_region_is_taken_whole_and_no_small_block_pins_it() {
    let mut memory = buffer(256 * 1024);
    let policy = Policy {
        dedicated_threshold: 4096,
        ..Policy::DEFAULT
    };
    let mut heap = FreeListAllocator::with_policy(Pieces::<0>::new(&mut memory, 2048), policy);
    let big = layout(10_000, 8);
    let large = heap.allocate(big).unwrap();
    assert!(large.len() >= 10_000);
    let small: Vec<_> = (0..20)
        .map(|_| allocate(&mut heap, layout(24, 8)).unwrap())
        .collect();
    let dedicated = heap
        .regions()
        .find(|region| region.kind == RegionKind::Dedicated)
        .unwrap();
    assert!(small.iter().all(|block| {
        !(dedicated.start..dedicated.start + dedicated.len).contains(&block.addr().get())
    }));
    // SAFETY: live with a layout it fits.
    unsafe { heap.deallocate_trusted(large.cast(), big) };
    assert!(
        heap.regions()
            .all(|region| region.kind != RegionKind::Dedicated)
    );
    assert_eq!(heap.grower().released_regions(), 1);
    for block in small {
        // SAFETY: live with its layout.
        unsafe { heap.deallocate_trusted(block, layout(24, 8)) };
    }
    heap.validate().unwrap();
}

#[test]
fn a_checked_free_with_a_larger_fitting_layout_is_counted_by_blocks() {
    let mut memory = buffer(4096);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let block = heap.allocate(layout(1, 1)).unwrap();
    assert_eq!(block.len(), MIN_BLOCK - WORD);
    let before = heap.stats();
    assert_eq!(before.in_use_bytes, MIN_BLOCK);
    let too_large = layout(MIN_BLOCK, 1);
    assert_eq!(
        heap.free_checked(block.cast().as_ptr(), too_large),
        Err(FreeError::LayoutMismatch)
    );
    assert_eq!(heap.stats(), before);
    heap.free_checked(block.cast().as_ptr(), layout(block.len(), 1))
        .unwrap();
    assert_eq!(
        (heap.stats().in_use_bytes, heap.stats().allocated_blocks),
        (0, 0)
    );
}

#[test]
fn adjacent_pieces_join_so_a_block_larger_than_any_piece_fits() {
    // linked_list_allocator's own `extend` scenario: a buffer handed over in 1 KiB pieces.
    let mut memory = buffer(16 * 1024 + 16);
    let mut other = buffer(1024);
    let start = memory.as_mut_ptr().cast::<u8>();
    let start = start.wrapping_add(start.align_offset(16));
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut []));
    for piece in 0..16 {
        let region = Region::new(
            NonNull::new(start.wrapping_add(piece * 1024)).unwrap(),
            1024,
        );
        // SAFETY: disjoint pieces of `memory`, used by nothing else while the heap lives, all
        // cut from one pointer.
        unsafe { heap.extend(region) }.unwrap();
    }
    assert_eq!(heap.regions().count(), 1);
    assert_eq!(heap.regions().next().unwrap().kind, RegionKind::Kept);
    let large = allocate(&mut heap, layout(1800, 8)).expect("the joined pieces hold it");
    let larger = allocate(&mut heap, layout(12 * 1024, 8)).expect("and a larger one");
    // SAFETY: live blocks with their layouts.
    unsafe {
        heap.deallocate_trusted(large, layout(1800, 8));
        heap.deallocate_trusted(larger, layout(12 * 1024, 8));
    }
    assert_eq!(heap.free_block_count(), 1);
    // A piece elsewhere is a region of its own, and so is a claimed one, even adjacent.
    let region = Region::new(NonNull::new(other.as_mut_ptr().cast()).unwrap(), 1024);
    // SAFETY: as above.
    unsafe { heap.extend(region) }.unwrap();
    assert_eq!(heap.regions().count(), 2);
    heap.validate().unwrap();
    assert_eq!(heap.stats().mapped_bytes, 17 * 1024);
}

#[test]
fn growth_joins_adjacent_pieces_of_a_static_buffer() {
    let mut memory = buffer(8 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::with_piece_size(&mut memory, 1024));
    let blocks: Vec<_> = (0..6)
        .map(|_| allocate(&mut heap, layout(600, 8)).unwrap())
        .collect();
    assert_eq!(
        heap.stats().regions,
        1,
        "each piece joined the first region"
    );
    assert!(heap.grower().handed_out_regions() > 1);
    for block in blocks {
        // SAFETY: live with its layout.
        unsafe { heap.deallocate_trusted(block, layout(600, 8)) };
    }
    assert_eq!(heap.free_block_count(), 1);
    heap.validate().unwrap();
}

/// A free block's links lie where a block's tag could have been: a checked double free of a
/// block whose old tag is now the `prev` link of a list's first block must be refused, and
/// change nothing. (The first encoding of a list in that link, `class * 2 + 1`, read as an
/// allocated block of `class * 2` bytes for some classes: the checked free took it.)
#[test]
fn a_double_free_onto_a_free_blocks_links_is_refused() {
    let mut memory = buffer(16 * 1024);
    let mut heap = FreeListAllocator::new(StaticGrower::new(&mut memory));
    let [first, freed, merged] =
        [56, 24, 200].map(|size| allocate(&mut heap, layout(size, 8)).unwrap());
    let last = allocate(&mut heap, layout(8, 8)).unwrap();
    // SAFETY: each block is live with its layout and freed once.
    unsafe {
        heap.deallocate(freed.as_ptr(), layout(24, 8)).unwrap();
        heap.deallocate(merged.as_ptr(), layout(200, 8)).unwrap();
        heap.deallocate(first.as_ptr(), layout(56, 8)).unwrap();
    }
    // Carves 48 bytes off the merged free block: the rest heads its list, its links where
    // `freed`'s tag was.
    let carved = allocate(&mut heap, layout(40, 8)).unwrap();
    let before = heap.stats();
    // SAFETY: a checked free of a freed block: refused by the checks.
    let refused = unsafe { heap.deallocate(freed.as_ptr(), layout(24, 8)) };
    // On 64-bit targets the word read as `freed`'s tag is the list's `prev` link; on 32-bit
    // ones the links lie elsewhere, and it is the stale free tag.
    let expected = if cfg!(target_pointer_width = "64") {
        FreeError::UnalignedFree
    } else {
        FreeError::DoubleFree
    };
    assert_eq!(refused, Err(expected));
    assert_eq!(heap.stats(), before);
    heap.validate().unwrap();
    // SAFETY: both blocks are live with these layouts.
    unsafe {
        heap.deallocate(carved.as_ptr(), layout(40, 8)).unwrap();
        heap.deallocate(last.as_ptr(), layout(8, 8)).unwrap();
    }
    heap.validate().unwrap();
}
