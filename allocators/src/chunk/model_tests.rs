//! Model-based property test of the chunk allocator.
//!
//! Random sequences of allocate / free / realloc run against a real [`ChunkAllocator`] (either
//! placement) and a shadow model (the list of live blocks it should hold). After every step the test checks:
//!
//! ```text
//!   blocks   aligned, inside the heap, chunk-aligned, pairwise disjoint
//!   bitmap   chunk i is used  <=>  some live block covers it
//!            a block starts at chunk i  <=>  some live block begins there
//!   refusals an interior pointer or a layout of another chunk count is refused, no change
//!   contents every block still holds the pattern derived from its id
//!   stats    used chunks, live / total allocations, peak: exact, whatever fitting layout
//!            (any size up to the returned span) a block is freed with
//!   failures an allocation fails only if the model has no aligned free run for it
//!   place    first-fit: a new block (allocated, or moved by a realloc) starts at the lowest
//!            aligned free run that holds it
//!   audit    `validate` agrees: starts, summary and padding bits, counters
//! ```
//!
//! Frees and resizes go through the checked calls or the trusted ones (`GlobalAlloc`'s), at
//! random.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::vec;
use std::vec::Vec;

use proptest::prelude::*;

use super::test_support::Arena;
use super::{ChunkAllocator, Placement};
use crate::test_checked::CheckedCalls;
use crate::test_pattern::pattern_offsets;
use crate::{FreeError, Inspect, OutOfMemory, RawAllocator, ResizeError};

/// Chunk size and chunk count of the model heap: not a multiple of 64 chunks, so the padding
/// of the last bitmap word is exercised, and long enough for runs of more than 64 chunks.
const CS: usize = 32;
const CHUNKS: usize = 150;

#[derive(Debug, Clone)]
enum Op {
    Allocate {
        size: usize,
        align_shift: u32,
    },
    Free {
        pick: usize,
        /// Added to the requested size, within the span: any fitting layout frees the block.
        extra: usize,
        /// Through `deallocate_trusted` (the `GlobalAlloc` path) instead of the checked free.
        trusted: bool,
    },
    Realloc {
        pick: usize,
        size: usize,
        align_shift: u32,
        /// Through `resize_trusted` instead of the checked resize.
        trusted: bool,
    },
    BadFree {
        pick: usize,
        skew: usize,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![0..2 * CS, 0..80 * CS]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (size(), 0..10u32).prop_map(|(size, align_shift)| Op::Allocate { size, align_shift }),
        2 => (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(pick, extra, trusted)| Op::Free { pick, extra, trusted }),
        1 => (any::<usize>(), size(), 0..10u32, any::<bool>()).prop_map(
            |(pick, size, align_shift, trusted)| Op::Realloc { pick, size, align_shift, trusted }
        ),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(pick, skew)| Op::BadFree { pick, skew }),
    ]
}

/// A block the model believes is live.
struct Live {
    id: u8,
    ptr: *mut u8,
    layout: Layout,
}

/// The byte at offset `i` of the block with id `id`.
fn pattern(id: u8, i: usize) -> u8 {
    id.wrapping_mul(31).wrapping_add(i as u8)
}

fn fill(block: &Live) {
    let size = block.layout.size();
    for i in pattern_offsets(size, size) {
        // SAFETY: the block is live and at least `layout.size()` bytes long.
        unsafe { block.ptr.add(i).write(pattern(block.id, i)) };
    }
}

/// Whether the first `len` bytes of `block`, filled for a `filled`-byte layout, still hold
/// the pattern (see [`pattern_offsets`] for which bytes carry it).
fn holds_pattern(block: &Live, filled: usize, len: usize) -> bool {
    pattern_offsets(filled, len).all(|i| {
        // SAFETY: the block is live and at least `len` bytes long, and `i < len`.
        unsafe { block.ptr.add(i).read() == pattern(block.id, i) }
    })
}

/// The shadow model and the counters the allocator must agree with.
struct Model {
    arena: Arena,
    /// Whether the allocator places first-fit, so that every placement is predictable.
    first_fit: bool,
    live: Vec<Live>,
    next_id: u8,
    total_allocations: u64,
    peak_chunks: usize,
}

impl Model {
    fn chunks_of(layout: Layout) -> usize {
        layout.size().div_ceil(CS).max(1)
    }

    fn occupancy(&self) -> Vec<bool> {
        let mut used = vec![false; CHUNKS];
        for block in &self.live {
            let first = self.chunk_at(block.ptr);
            used[first..first + Self::chunks_of(block.layout)].fill(true);
        }
        used
    }

    /// The lowest chunk that starts an aligned run of free chunks holding `layout`, if any.
    fn first_fit(&self, layout: Layout) -> Option<usize> {
        let used = self.occupancy();
        let n = Self::chunks_of(layout);
        (0..=CHUNKS.saturating_sub(n)).find(|&s| {
            (self.arena.heap_addr() + s * CS).is_multiple_of(layout.align())
                && used[s..s + n].iter().all(|u| !u)
        })
    }

    /// The chunk at which the block at `ptr` starts.
    fn chunk_at(&self, ptr: *mut u8) -> usize {
        (ptr.addr() - self.arena.heap_addr()) / CS
    }

    /// Raises the peak; `transient` chunks were held on top of the live blocks for a moment
    /// (the old span of a moving realloc, freed only after the copy).
    fn note_peak(&mut self, transient: usize) {
        let used: usize = self.live.iter().map(|b| Self::chunks_of(b.layout)).sum();
        self.peak_chunks = self.peak_chunks.max(used + transient);
    }

    fn allocate(&mut self, allocator: &mut ChunkAllocator<CS>, layout: Layout) {
        let expected = self.first_fit(layout);
        match allocator.allocate(layout) {
            Ok(span) => {
                assert_eq!(span.len(), Self::chunks_of(layout) * CS);
                if self.first_fit {
                    let start = self.chunk_at(span.cast::<u8>().as_ptr());
                    assert_eq!(
                        Some(start),
                        expected,
                        "first-fit placed {layout:?} elsewhere"
                    );
                }
                let block = Live {
                    id: self.next_id,
                    ptr: span.cast::<u8>().as_ptr(),
                    layout,
                };
                self.next_id = self.next_id.wrapping_add(1);
                self.total_allocations += 1;
                fill(&block);
                self.live.push(block);
                self.note_peak(0);
            }
            Err(OutOfMemory) => {
                assert!(
                    expected.is_none(),
                    "allocation of {layout:?} failed but a run was free"
                );
            }
        }
    }

    fn free(
        &mut self,
        allocator: &mut ChunkAllocator<CS>,
        pick: usize,
        extra: usize,
        trusted: bool,
    ) {
        if self.live.is_empty() {
            return;
        }
        let block = self.live.swap_remove(pick % self.live.len());
        assert!(holds_pattern(
            &block,
            block.layout.size(),
            block.layout.size()
        ));
        let span = Self::chunks_of(block.layout) * CS;
        let size = block.layout.size() + extra % (span - block.layout.size() + 1);
        let fitting = Layout::from_size_align(size, block.layout.align()).unwrap();
        if trusted {
            let ptr = NonNull::new(block.ptr).unwrap();
            // SAFETY: the block is live, allocated by this allocator, and `fitting` fits it.
            unsafe { allocator.deallocate_trusted(ptr, fitting) };
        } else {
            allocator.free_checked(block.ptr, fitting).unwrap();
        }
    }

    fn realloc(
        &mut self,
        allocator: &mut ChunkAllocator<CS>,
        pick: usize,
        new: Layout,
        trusted: bool,
    ) {
        if self.live.is_empty() {
            return;
        }
        let index = pick % self.live.len();
        let (ptr, old) = (self.live[index].ptr, self.live[index].layout);
        // Where a move would go: the old block stays used until its bytes are copied.
        let expected = self.first_fit(new);
        let resized = if trusted {
            let ptr = NonNull::new(ptr).unwrap();
            // SAFETY: the block is live, allocated by this allocator, with layout `old`.
            unsafe { allocator.resize_trusted(ptr, old, new) }.map_err(ResizeError::from)
        } else {
            allocator.resize_checked(ptr, old, new)
        };
        match resized {
            Ok(span) => {
                assert_eq!(span.len(), Self::chunks_of(new) * CS);
                let block = &mut self.live[index];
                block.ptr = span.cast::<u8>().as_ptr();
                block.layout = new;
                assert!(holds_pattern(block, old.size(), old.size().min(new.size())));
                fill(block);
                let moved = block.ptr != ptr;
                if moved && self.first_fit {
                    let start = self.chunk_at(span.cast::<u8>().as_ptr());
                    assert_eq!(
                        Some(start),
                        expected,
                        "first-fit moved to {new:?} elsewhere"
                    );
                }
                self.note_peak(if moved { Self::chunks_of(old) } else { 0 });
            }
            Err(error) => {
                assert_eq!(error, ResizeError::OutOfMemory);
                assert!(
                    expected.is_none(),
                    "realloc to {new:?} failed but a run was free"
                );
                assert!(holds_pattern(&self.live[index], old.size(), old.size()));
            }
        }
    }

    /// Frees a live block wrongly, at a chunk inside it or with a layout one chunk shorter or
    /// longer than its own; each must be refused with the right error.
    fn bad_free(&mut self, allocator: &mut ChunkAllocator<CS>, pick: usize, skew: usize) {
        if self.live.is_empty() {
            return;
        }
        let block = &self.live[pick % self.live.len()];
        let chunks = Self::chunks_of(block.layout);
        let align = block.layout.align();
        let longer = layout((chunks + 1) * CS, align.trailing_zeros());
        let refused = allocator.free_checked(block.ptr, longer);
        assert_eq!(refused, Err(FreeError::LayoutMismatch));
        if chunks > 1 {
            let shorter = layout((chunks - 1) * CS, align.trailing_zeros());
            let refused = allocator.free_checked(block.ptr, shorter);
            assert_eq!(refused, Err(FreeError::LayoutMismatch));
            let interior = block.ptr.wrapping_add((1 + skew % (chunks - 1)) * CS);
            let refused = allocator.free_checked(interior, layout(1, 0));
            assert_eq!(refused, Err(FreeError::UnalignedFree));
        }
    }

    fn check(&self, allocator: &ChunkAllocator<CS>) {
        let heap = self.arena.heap_addr();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for block in &self.live {
            let (start, len) = (block.ptr.addr(), Self::chunks_of(block.layout) * CS);
            assert_eq!(start % block.layout.align(), 0);
            assert_eq!((start - heap) % CS, 0);
            assert!(start >= heap && start + len <= heap + CHUNKS * CS);
            spans.push((start, start + len));
        }
        spans.sort_unstable();
        assert!(
            spans.windows(2).all(|pair| pair[0].1 <= pair[1].0),
            "blocks overlap"
        );
        let used = self.occupancy();
        assert!((0..CHUNKS).all(|i| allocator.is_chunk_used(i) == used[i]));
        let mut starts = [false; CHUNKS];
        for block in &self.live {
            starts[self.chunk_at(block.ptr)] = true;
        }
        assert!((0..CHUNKS).all(|i| allocator.is_block_start(i) == starts[i]));
        let stats = allocator.stats();
        assert_eq!(stats.used_chunks, used.iter().filter(|&&u| u).count());
        assert_eq!(stats.free_chunks, CHUNKS - stats.used_chunks);
        assert_eq!(stats.live_allocations, self.live.len());
        assert_eq!(stats.total_allocations, self.total_allocations);
        assert_eq!(stats.peak_used_bytes, self.peak_chunks * CS);
        allocator.validate().unwrap();
    }
}

fn layout(size: usize, align_shift: u32) -> Layout {
    Layout::from_size_align(size, 1 << align_shift).unwrap()
}

proptest! {
    #![proptest_config(crate::test_proptest::config(4, 256))]

    #[test]
    fn allocator_matches_the_model(
        ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 24 } else { 80 }),
        first_fit in any::<bool>(),
    ) {
        let mut model = Model { arena: Arena::new(CHUNKS, CS), first_fit, live: Vec::new(), next_id: 0, total_allocations: 0, peak_chunks: 0 };
        let placement = if first_fit { Placement::FirstFit } else { Placement::NextFit };
        let mut allocator = model.arena.allocator::<CS>().unwrap().with_placement(placement);
        for op in ops {
            match op {
                Op::Allocate { size, align_shift } => model.allocate(&mut allocator, layout(size, align_shift)),
                Op::Free { pick, extra, trusted } => model.free(&mut allocator, pick, extra, trusted),
                Op::Realloc { pick, size, align_shift, trusted } => {
                    model.realloc(&mut allocator, pick, layout(size, align_shift), trusted);
                }
                Op::BadFree { pick, skew } => model.bad_free(&mut allocator, pick, skew),
            }
            model.check(&allocator);
        }
        while !model.live.is_empty() {
            model.free(&mut allocator, 0, 0, false);
        }
        prop_assert_eq!(allocator.stats().used_chunks, 0);
        prop_assert_eq!(allocator.largest_free_run(), CHUNKS);
    }
}
