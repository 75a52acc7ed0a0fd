//! The bad-input catalogue: every invalid free, awkward layout and bad constructor argument,
//! on each allocator's raw API, with the answer it must give.
//!
//! Each free case runs on an allocator holding one live block (filled with a pattern) and one
//! freed block; a refused call must leave it as it was: same statistics, the allocator's own
//! consistency check passes, the live block's contents intact, and the live block still frees.
//! [`CATALOGUE`] is the table the README shows; `print_catalogue` prints it as markdown
//! (`cargo test -p bareheap --test conformance print_catalogue -- --nocapture`).

use std::alloc::Layout;
use std::mem::MaybeUninit;

use bareheap::chunk::bitmap_len;
use bareheap::free_list::ReallocError;
use bareheap::{
    ChunkAllocator, FreeListAllocator, LockedFixedSizeAllocator, MmapGrower, StaticGrower,
};
use bareheap_conformance::{
    Arena, CHUNK_SIZE, CheckedFree, Inspect, RawChunk, RawFixed, RawFreeList, RawPools, Subject,
    pattern_byte,
};

use crate::sizes::{CHUNKS, FREE_LIST, POOLS_FALLBACK};

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
    ZeroSize,
    HugeAlignment,
    OverflowingSize,
    ReallocFreed,
    ReallocOverflowing,
}

/// Rows of the catalogue: the case, what it does, and the answer of chunk, fixed, pools,
/// free list (`-`: the raw API has no such call).
const CATALOGUE: [(Case, &str, [&str; 4]); 12] = [
    (Case::Null, "free(null)", ["NullPtrFree"; 4]),
    (Case::DoubleFree, "free of a freed block", ["DoubleFree"; 4]),
    (
        Case::Foreign,
        "free of a pointer into another buffer",
        ["FreeOutOfBounds"; 4],
    ),
    (Case::Interior16, "free of block + 16", ["UnalignedFree"; 4]),
    (Case::Misaligned, "free of block + 1", ["UnalignedFree"; 4]),
    (
        Case::InteriorChunkBoundary,
        "free of block + 64 (a chunk boundary inside the block)",
        ["UnalignedFree"; 4],
    ),
    (
        Case::LargerLayout,
        "free with a layout larger than the block's (1024 B)",
        [
            "CorruptedBlock",
            "Ok (takes no layout)",
            "FreeOutOfBounds",
            "CorruptedBlock",
        ],
    ),
    (
        Case::ZeroSize,
        "allocate a zero-size layout, then free it",
        [
            "Ok: one chunk",
            "Ok: one block",
            "Ok: one 16 B block",
            "Ok: one minimal block",
        ],
    ),
    (
        Case::HugeAlignment,
        "allocate with alignment 2^62",
        ["BadAlignment", "None", "None", "None"],
    ),
    (
        Case::OverflowingSize,
        "allocate isize::MAX - 7 bytes (align 8)",
        ["OutOfMemory", "None", "None", "None"],
    ),
    (
        Case::ReallocFreed,
        "realloc of a freed block",
        [
            "InvalidBlock(DoubleFree)",
            "- (no realloc)",
            "- (unsafe: UB by contract)",
            "Invalid(DoubleFree)",
        ],
    ),
    (
        Case::ReallocOverflowing,
        "realloc to isize::MAX - 7 bytes",
        [
            "OutOfMemory (block kept)",
            "- (no realloc)",
            "None (block kept)",
            "OutOfMemory (block kept)",
        ],
    ),
];

/// The overflowing size: valid as a `Layout` with alignment 8, far beyond any heap.
const HUGE: usize = isize::MAX as usize - 7;

/// An allocator set up for a case: one live block (patterned) and one freed block.
struct Setup<S: CheckedFree> {
    subject: S,
    live: std::ptr::NonNull<u8>,
    freed: std::ptr::NonNull<u8>,
}

impl<S: CheckedFree> Setup<S> {
    fn new(mut subject: S) -> Self {
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
        // first word); layouts are class-sized.
        let result = unsafe { self.subject.checked_free(ptr, layout) };
        match result {
            Ok(()) => {
                self.subject.check_consistency().expect("consistent");
                if layout.size() > BLOCK.size() {
                    "Ok (takes no layout)".to_owned()
                } else {
                    "Ok".to_owned()
                }
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

/// The answer of a free case on a freshly set-up `subject`; `None` for the other cases.
fn free_case<S: CheckedFree>(subject: S, case: Case) -> Option<String> {
    let setup = Setup::new(subject);
    let (live, freed) = (setup.live.as_ptr(), setup.freed.as_ptr());
    let mut foreign = [0u8; 64];
    let larger = Layout::from_size_align(1024, 16).expect("a valid layout");
    Some(match case {
        Case::Null => setup.free(std::ptr::null_mut(), BLOCK),
        Case::DoubleFree => setup.free(freed, BLOCK),
        Case::Foreign => setup.free(foreign.as_mut_ptr().wrapping_add(16), BLOCK),
        Case::Interior16 => setup.free(live.wrapping_add(16), BLOCK),
        Case::Misaligned => setup.free(live.wrapping_add(1), BLOCK),
        Case::InteriorChunkBoundary => setup.free(live.wrapping_add(64), BLOCK),
        Case::LargerLayout => setup.free(live, larger),
        _ => return None,
    })
}

/// Checks every row of one column of the catalogue.
fn check_column(column: usize, answer: impl Fn(Case) -> String) {
    for (case, what, answers) in CATALOGUE {
        assert_eq!(answer(case), answers[column], "{what} (column {column})");
    }
}

fn describe<T, E: std::fmt::Debug>(result: Result<T, E>) -> String {
    match result {
        Ok(_) => "Ok".to_owned(),
        Err(error) => format!("{error:?}"),
    }
}

fn option<T>(result: Option<T>) -> String {
    result.map_or_else(|| "None".to_owned(), |_| "Some".to_owned())
}

fn huge_alignment() -> Layout {
    Layout::from_size_align(8, 1 << 62).expect("a valid layout")
}

fn overflowing() -> Layout {
    Layout::from_size_align(HUGE, 8).expect("a valid layout")
}

fn zero() -> Layout {
    Layout::from_size_align(0, 1).expect("a valid layout")
}

#[test]
fn chunk() {
    check_column(0, |case| {
        free_case(RawChunk::new(CHUNKS), case).unwrap_or_else(|| chunk_case(case))
    });
}

fn chunk_case(case: Case) -> String {
    let mut subject = RawChunk::new(CHUNKS);
    let chunk = subject.raw();
    let answer = match case {
        Case::ZeroSize => {
            let block = chunk.allocate(zero()).expect("a zero-size block");
            assert_eq!(block.len(), CHUNK_SIZE);
            chunk
                .deallocate(block.cast().as_ptr(), zero())
                .expect("frees");
            "Ok: one chunk".to_owned()
        }
        Case::HugeAlignment => describe(chunk.allocate(huge_alignment())),
        Case::OverflowingSize => describe(chunk.allocate(overflowing())),
        Case::ReallocFreed => {
            let block = chunk.allocate(BLOCK).expect("room").cast::<u8>().as_ptr();
            chunk.deallocate(block, BLOCK).expect("frees");
            describe(chunk.realloc(block, BLOCK, BLOCK))
        }
        _ => {
            let block = chunk.allocate(BLOCK).expect("room").cast::<u8>().as_ptr();
            let answer = describe(chunk.realloc(block, BLOCK, overflowing()));
            chunk.deallocate(block, BLOCK).expect("the block was kept");
            format!("{answer} (block kept)")
        }
    };
    subject.check_all_free().expect("nothing leaked");
    answer
}

#[test]
fn fixed() {
    check_column(1, |case| {
        free_case(RawFixed::new(), case).unwrap_or_else(|| fixed_case(case))
    });
}

fn fixed_case(case: Case) -> String {
    let mut subject = RawFixed::new();
    let answer = match case {
        Case::ReallocFreed | Case::ReallocOverflowing => return "- (no realloc)".to_owned(),
        Case::ZeroSize => {
            let block = subject.allocate(zero()).expect("a zero-size block");
            subject.raw().free_nonnull(block).expect("frees");
            "Ok: one block".to_owned()
        }
        Case::HugeAlignment => option(subject.allocate(huge_alignment())),
        _ => option(subject.allocate(overflowing())),
    };
    subject.check_all_free().expect("nothing leaked");
    answer
}

#[test]
fn pools() {
    check_column(2, |case| {
        free_case(RawPools::new(POOLS_FALLBACK), case).unwrap_or_else(|| pools_case(case))
    });
}

fn pools_case(case: Case) -> String {
    let mut subject = RawPools::new(POOLS_FALLBACK);
    let answer = match case {
        Case::ReallocFreed => return "- (unsafe: UB by contract)".to_owned(),
        Case::ZeroSize => {
            let block = subject.allocate(zero()).expect("a zero-size block");
            assert_eq!(subject.raw().stats().classes[0].blocks_in_use, 1);
            // SAFETY: just allocated with this layout.
            unsafe { subject.raw().deallocate(block.as_ptr(), zero()) }.expect("frees");
            "Ok: one 16 B block".to_owned()
        }
        Case::HugeAlignment => option(subject.allocate(huge_alignment())),
        Case::OverflowingSize => option(subject.allocate(overflowing())),
        _ => {
            let block = subject.allocate(BLOCK).expect("room");
            // SAFETY: a live block of `BLOCK`.
            let moved = unsafe { subject.raw().reallocate(block, BLOCK, overflowing()) };
            // SAFETY: the failed reallocation kept the block.
            unsafe { subject.raw().deallocate(block.as_ptr(), BLOCK) }.expect("block kept");
            format!("{} (block kept)", option(moved))
        }
    };
    subject.check_all_free().expect("nothing leaked");
    answer
}

#[test]
fn free_list() {
    check_column(3, |case| {
        free_case(RawFreeList::new(FREE_LIST), case).unwrap_or_else(|| free_list_case(case))
    });
}

fn free_list_case(case: Case) -> String {
    let mut subject = RawFreeList::new(FREE_LIST);
    let heap = subject.raw();
    let answer = match case {
        Case::ZeroSize => {
            let block = heap.allocate(zero()).expect("a zero-size block");
            assert_eq!(heap.stats().allocated_blocks, 1);
            // SAFETY: just allocated with this layout.
            unsafe { heap.deallocate(block.as_ptr(), zero()) }.expect("frees");
            "Ok: one minimal block".to_owned()
        }
        Case::HugeAlignment => option(heap.allocate(huge_alignment())),
        Case::OverflowingSize => option(heap.allocate(overflowing())),
        Case::ReallocFreed => {
            let block = heap.allocate(BLOCK).expect("room").as_ptr();
            // SAFETY: just allocated with this layout.
            unsafe { heap.deallocate(block, BLOCK) }.expect("frees");
            // SAFETY: a pointer this heap returned, so the word before it is its tag.
            describe(unsafe { heap.reallocate(block, BLOCK, 64) })
        }
        _ => {
            let block = heap.allocate(BLOCK).expect("room").as_ptr();
            // SAFETY: a live block of `BLOCK`.
            let result = unsafe { heap.reallocate(block, BLOCK, HUGE) };
            assert_eq!(result, Err(ReallocError::OutOfMemory));
            // SAFETY: the failed reallocation kept the block.
            unsafe { heap.deallocate(block, BLOCK) }.expect("block kept");
            "OutOfMemory (block kept)".to_owned()
        }
    };
    subject.check_all_free().expect("nothing leaked");
    answer
}

/// Constructor arguments: each bad one is an error value (or a compile error), never a panic.
#[test]
fn constructors() {
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

    // A pool of zero blocks is allowed and never serves anything (S = 0 fails to compile).
    let empty = LockedFixedSizeAllocator::<16, 0>::new(false);
    assert!(empty.alloc_untyped().is_none());

    assert_eq!(describe(MmapGrower::with_page_size(3)), "BadPageSize(3)");
    let mut tiny = [MaybeUninit::<u8>::uninit(); 8];
    let mut starved = FreeListAllocator::new(StaticGrower::new(&mut tiny));
    assert!(starved.allocate(BLOCK).is_none());
}

/// Prints the catalogue as the README's markdown table.
#[test]
fn print_catalogue() {
    println!("| case | chunk | fixed | pools | free list |\n|---|---|---|---|---|");
    for (_, what, answers) in CATALOGUE {
        println!("| {what} | {} |", answers.join(" | "));
    }
}
