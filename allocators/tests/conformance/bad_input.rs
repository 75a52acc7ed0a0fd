//! The bad-input catalogue: every invalid free, awkward layout and bad constructor argument,
//! on each allocator's raw API, with the answer it must give.
//!
//! Each free case runs on an allocator holding one live block (filled with a pattern) and one
//! freed block; a refused call must leave it as it was: same statistics, the allocator's own
//! consistency check passes, the live block's contents intact, and the live block still frees.
//! [`CATALOGUE`] is the table in the docs of `FreeError`; `print_catalogue` prints it as markdown
//! (`cargo test -p bareheap --test conformance print_catalogue -- --nocapture`).

use std::alloc::Layout;
use std::mem::MaybeUninit;

use bareheap::chunk::bitmap_len;
use bareheap::fixed::{FixedBlocks, FixedPool};
use bareheap::{ChunkAllocator, FreeListAllocator, RawAllocator, StaticGrower};
use bareheap_conformance::{
    Arena, CHUNK_SIZE, Checked, Chunk, DefaultHeap, Fixed, FreeList, Inspect, Pools, Subject,
    pattern_byte,
};

use crate::sizes::Sized;

/// The live block's layout: four chunks, one 256-byte class block, one fixed block.
const BLOCK: Layout = match Layout::from_size_align(256, 16) {
    Ok(layout) => layout,
    Err(_) => panic!("a valid layout"),
};

/// An invalid or unusual call.
#[derive(Debug, Clone, Copy)]
enum Case {
    Null,
    DoubleFree,
    Foreign,
    Interior16,
    Misaligned,
    InteriorChunkBoundary,
    LargerLayout,
    SmallerLayout,
    ZeroSize,
    HugeAlignment,
    OverflowingSize,
    ReallocFreed,
    ReallocOverflowing,
}

/// Rows of the catalogue: the case, what it does, and the answer of chunk, fixed, pools,
/// free list, default heap.
const CATALOGUE: [(Case, &str, [&str; 5]); 13] = [
    (Case::Null, "free(null)", ["NullPtrFree"; 5]),
    (Case::DoubleFree, "free of a freed block", ["DoubleFree"; 5]),
    (
        Case::Foreign,
        "free of a pointer into another buffer",
        ["FreeOutOfBounds"; 5],
    ),
    (Case::Interior16, "free of block + 16", ["UnalignedFree"; 5]),
    (Case::Misaligned, "free of block + 1", ["UnalignedFree"; 5]),
    (
        Case::InteriorChunkBoundary,
        "free of block + 64 (a chunk boundary inside the block)",
        ["UnalignedFree"; 5],
    ),
    (
        Case::LargerLayout,
        "free with a layout larger than the block's (1024 B)",
        ["LayoutMismatch"; 5],
    ),
    (
        Case::SmallerLayout,
        "free with a smaller layout of another size class (16 B)",
        [
            "LayoutMismatch",
            "Ok (the whole block)",
            "LayoutMismatch",
            "Ok (the whole block)",
            "LayoutMismatch",
        ],
    ),
    (
        Case::ZeroSize,
        "allocate a zero-size layout, then free it",
        [
            "Ok: a 64 B chunk",
            "Ok: a 256 B block",
            "Ok: a 16 B block",
            MINIMAL_FREE_LIST_BLOCK,
            "Ok: a 16 B block",
        ],
    ),
    (
        Case::HugeAlignment,
        "allocate with alignment 2^62",
        ["OutOfMemory"; 5],
    ),
    (
        Case::OverflowingSize,
        "allocate isize::MAX - 7 bytes (align 8)",
        ["OutOfMemory"; 5],
    ),
    (
        Case::ReallocFreed,
        "resize of a freed block",
        ["Invalid(DoubleFree)"; 5],
    ),
    (
        Case::ReallocOverflowing,
        "resize to isize::MAX - 7 bytes",
        ["OutOfMemory (block kept)"; 5],
    ),
];

/// The free list's smallest block: a tag, two links and a footer, rounded to 16 bytes, minus
/// the tag.
const MINIMAL_FREE_LIST_BLOCK: &str = if cfg!(target_pointer_width = "64") {
    "Ok: a 24 B block"
} else {
    "Ok: a 12 B block"
};

/// The overflowing size: valid as a `Layout` with alignment 8, far beyond any heap.
const HUGE: usize = isize::MAX as usize - 7;

/// An allocator set up for a case: one live block (patterned) and one freed block.
struct Setup<D: Sized> {
    subject: Checked<D>,
    live: std::ptr::NonNull<u8>,
    freed: std::ptr::NonNull<u8>,
}

impl<D: Sized> Setup<D> {
    fn new() -> Self {
        let mut subject = Checked::<D>::new(D::BYTES);
        let freed = subject.allocate(BLOCK).expect("room for a block");
        let live = subject.allocate(BLOCK).expect("room for a block");
        // SAFETY: a live block of `BLOCK`, ours to write.
        let bytes = unsafe { std::slice::from_raw_parts_mut(live.as_ptr(), BLOCK.size()) };
        for (offset, byte) in bytes.iter_mut().enumerate() {
            *byte = pattern_byte(7, offset);
        }
        // SAFETY: just allocated with this layout.
        unsafe { subject.deallocate(freed, BLOCK) }.expect("a valid free");
        Self {
            subject,
            live,
            freed,
        }
    }

    /// A free case's answer, after checking that a refusal changed nothing.
    fn free(mut self, ptr: *mut u8, layout: Layout) -> String {
        let before = self.subject.accounting();
        // SAFETY: every pointer used is null, foreign, or inside a block (past the heap's
        // first word, whose word before is initialised).
        let result = unsafe { self.subject.raw().deallocate(ptr, layout) };
        match result {
            Ok(()) => {
                self.subject.check_consistency().expect("consistent");
                self.subject
                    .check_all_free()
                    .expect("the whole block freed");
                "Ok (the whole block)".to_owned()
            }
            Err(error) => {
                assert_eq!(
                    self.subject.accounting(),
                    before,
                    "a refused free changed the stats"
                );
                self.finish();
                format!("{error:?}")
            }
        }
    }

    /// Checks the live block and frees it; the allocator must then be entirely free.
    fn finish(mut self) {
        self.subject.check_consistency().expect("consistent");
        // SAFETY: the live block, `BLOCK.size()` bytes.
        let bytes = unsafe { std::slice::from_raw_parts(self.live.as_ptr(), BLOCK.size()) };
        assert!(
            bytes
                .iter()
                .enumerate()
                .all(|(offset, &byte)| byte == pattern_byte(7, offset))
        );
        // SAFETY: the live block with its layout.
        unsafe { self.subject.deallocate(self.live, BLOCK) }.expect("the live block frees");
        self.subject.check_all_free().expect("nothing leaked");
    }
}

/// The answer of a free case on a freshly set-up checked allocator; `None` for the other cases.
fn free_case<D: Sized>(case: Case) -> Option<String> {
    let setup = Setup::<D>::new();
    let (live, freed) = (setup.live.as_ptr(), setup.freed.as_ptr());
    let mut foreign = [0u8; 64];
    let layout = |size| Layout::from_size_align(size, 16).expect("a valid layout");
    Some(match case {
        Case::Null => setup.free(std::ptr::null_mut(), BLOCK),
        Case::DoubleFree => setup.free(freed, BLOCK),
        Case::Foreign => setup.free(foreign.as_mut_ptr().wrapping_add(16), BLOCK),
        Case::Interior16 => setup.free(live.wrapping_add(16), BLOCK),
        Case::Misaligned => setup.free(live.wrapping_add(1), BLOCK),
        Case::InteriorChunkBoundary => setup.free(live.wrapping_add(64), BLOCK),
        Case::LargerLayout => setup.free(live, layout(1024)),
        Case::SmallerLayout => setup.free(live, layout(16)),
        _ => return None,
    })
}

/// The answer of an allocation or resize case, on a fresh checked allocator.
fn other_case<D: Sized>(case: Case) -> String {
    let mut subject = Checked::<D>::new(D::BYTES);
    let allocator = subject.raw();
    let answer = match case {
        Case::ZeroSize => {
            let block = allocator.allocate(zero()).expect("a zero-size block");
            // SAFETY: just allocated with this layout.
            unsafe { allocator.deallocate(block.cast().as_ptr(), zero()) }.expect("frees");
            match block.len() {
                len if D::NAME == "chunk" => format!("Ok: a {len} B chunk"),
                len => format!("Ok: a {len} B block"),
            }
        }
        Case::HugeAlignment => describe(allocator.allocate(huge_alignment())),
        Case::OverflowingSize => describe(allocator.allocate(overflowing())),
        Case::ReallocFreed => {
            // A live neighbour keeps the freed block's slab (the pools give empty ones back).
            let keeper = allocator
                .allocate(BLOCK)
                .expect("room")
                .cast::<u8>()
                .as_ptr();
            let block = allocator
                .allocate(BLOCK)
                .expect("room")
                .cast::<u8>()
                .as_ptr();
            // SAFETY: just allocated with this layout.
            unsafe { allocator.deallocate(block, BLOCK) }.expect("frees");
            // SAFETY: a pointer this allocator returned, freed: the checked resize refuses it.
            let answer = describe(unsafe { allocator.resize(block, BLOCK, BLOCK) });
            // SAFETY: live, with its layout.
            unsafe { allocator.deallocate(keeper, BLOCK) }.expect("frees");
            answer
        }
        _ => {
            let block = allocator
                .allocate(BLOCK)
                .expect("room")
                .cast::<u8>()
                .as_ptr();
            // SAFETY: a live block of `BLOCK`.
            let answer = describe(unsafe { allocator.resize(block, BLOCK, overflowing()) });
            // SAFETY: the failed resize kept the block.
            unsafe { allocator.deallocate(block, BLOCK) }.expect("the block was kept");
            format!("{answer} (block kept)")
        }
    };
    subject.check_all_free().expect("nothing leaked");
    answer
}

/// Checks every row of one column of the catalogue.
fn check_column<D: Sized>(column: usize) {
    for (case, what, answers) in CATALOGUE {
        let answer = free_case::<D>(case).unwrap_or_else(|| other_case::<D>(case));
        assert_eq!(answer, answers[column], "{what} ({})", D::NAME);
    }
}

fn describe<T, E: std::fmt::Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => "Ok".to_owned(),
        Err(error) => format!("{error:?}"),
    }
}

fn huge_alignment() -> Layout {
    Layout::from_size_align(8, 1 << (usize::BITS - 2)).expect("a valid layout")
}

fn overflowing() -> Layout {
    Layout::from_size_align(HUGE, 8).expect("a valid layout")
}

fn zero() -> Layout {
    Layout::from_size_align(0, 1).expect("a valid layout")
}

#[test]
fn chunk() {
    check_column::<Chunk>(0);
}

#[test]
fn fixed() {
    check_column::<Fixed>(1);
}

#[test]
fn pools() {
    check_column::<Pools>(2);
}

#[test]
fn free_list() {
    check_column::<FreeList>(3);
}

#[test]
fn heap() {
    check_column::<DefaultHeap>(4);
}

/// Constructor arguments: each bad one is an error value (or a compile error), never a panic.
#[test]
fn constructors() {
    const CHUNKS: usize = 256;
    let heap = Arena::new(CHUNKS * CHUNK_SIZE, 4096);
    let bitmap = Arena::new(bitmap_len(CHUNKS) + 8, 8);
    let build = |heap_offset: usize, heap_len: usize, bitmap_bytes: usize| {
        // SAFETY: both ranges lie inside their arenas, which outlive the allocator (it is
        // dropped at once), and nothing else uses them.
        let result = unsafe {
            ChunkAllocator::<CHUNK_SIZE>::from_raw_parts(
                heap.start().byte_add(heap_offset),
                heap_len,
                bitmap.start(),
                bitmap_bytes,
            )
        };
        describe(result)
    };
    let full = CHUNKS * CHUNK_SIZE;
    let right_bitmap = bitmap_len(CHUNKS);
    assert_eq!(build(0, full, right_bitmap), "Ok");
    assert_eq!(build(0, full, right_bitmap + 8), "BadBitmapMemory");
    assert_eq!(build(0, full, right_bitmap - 8), "BadBitmapMemory");
    assert_eq!(build(8, full - CHUNK_SIZE, right_bitmap), "BadHeapMemory");
    assert_eq!(build(0, full - 1, right_bitmap), "BadHeapMemory");
    assert_eq!(build(0, 0, 0), "BadHeapMemory");
    // SAFETY: as above; the chunk size is checked first.
    let odd = unsafe {
        ChunkAllocator::<48>::from_raw_parts(heap.start(), 48 * 4, bitmap.start(), bitmap_len(4))
    };
    assert_eq!(describe(odd), "BadChunkSize");

    // One buffer, carved into heap and bitmap: too small for a chunk and its bitmap, then
    // just large enough for one.
    let one = CHUNK_SIZE + bitmap_len(1);
    let buffer = Arena::new(one, 4096);
    // SAFETY: the arena outlives the allocators (dropped at once); nothing else uses it.
    let carve = |len: usize| unsafe {
        let raw = std::ptr::slice_from_raw_parts_mut(buffer.start().as_ptr().cast(), len);
        ChunkAllocator::<CHUNK_SIZE>::from_raw_buffer(raw).map(|chunks| chunks.chunk_count())
    };
    assert_eq!(describe(carve(one - 1)), "BufferTooSmall");
    assert_eq!(carve(one), Ok(1));

    // A pool of zero blocks is allowed and never serves anything (S = 0 fails to compile).
    let mut blocks = FixedBlocks::<16, 0>::new(false);
    let mut empty = FixedPool::new(&mut blocks);
    assert!(empty.alloc::<u8>().is_none());

    #[cfg(target_os = "linux")]
    assert_eq!(
        describe(bareheap::MmapGrower::with_page_size(3)),
        "BadPageSize(3)"
    );
    let mut tiny = [MaybeUninit::<u8>::uninit(); 8];
    let mut starved = FreeListAllocator::new(StaticGrower::new(&mut tiny));
    assert!(starved.allocate(BLOCK).is_err());
}

/// Prints the catalogue as the markdown table in the docs of `FreeError`.
#[test]
fn print_catalogue() {
    println!("| case | chunk | fixed | pools | free list | heap |\n|---|---|---|---|---|---|");
    for (_, what, answers) in CATALOGUE {
        println!("| {what} | {} |", answers.join(" | "));
    }
}
