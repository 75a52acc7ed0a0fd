//! # Fixed-size blocks: a pool of N blocks of S bytes
//!
//! The simplest allocator that is still useful: all blocks have the same size, so any free
//! block serves any request and nothing ever fragments. The blocks are one array
//! ([`FixedBlocks`]: `[[u8; S]; N]`, plus one block of alignment slack); a free list of block
//! *indices*, kept in a separate table, says which are free:
//!
//! ```text
//!   blocks:  ┌──────┬──────┬──────┬──────┬──────┬──────┐
//!            │ used │ free │ used │ free │ free │ new  │   block i at base + i * S
//!            └──────┴──────┴──────┴──────┴──────┴──────┘
//!   links:     A      3      A     END     1     ??        (4 bytes per block)
//!
//!   head ──► 4 ──► 1 ──► 3 ──► END        fresh ──► 5 (blocks 5.. never used)
//! ```
//!
//! * **alloc**: pop the head of the list (or take the first never-used block), mark its link
//!   `A` (allocated): O(1).
//! * **free**: turn the address into an index (`(ptr - base) / S`), check it is in range, at a
//!   block start and marked `A`, then push it: O(1). Null, foreign, interior and double frees
//!   are all refused, exactly, without changing anything.
//! * **free_all** and construction: O(1), thanks to the never-used watermark (construction is
//!   O(N) only when the blocks are zero-initialised).
//!
//! The table works for every block size, even `S = 1`, because it does not live inside the
//! blocks; the price is 4 bytes per block, plus `S` bytes of slack per pool that align every
//! block to the largest power of two dividing `S`.
//!
//! Two forms share these mechanisms: [`FixedPool`], the crate's [`RawAllocator`](crate::RawAllocator)
//! over blocks kept outside it (locked: [`LockedFixedSizeAllocator`], for `static`s and
//! threads, with `GlobalAlloc` and `Allocator`), and [`FixedSizeAllocator`], seed 000's pinned
//! pool with its blocks inline, for code written against `fixed-size-allocator`.
//!
//! Module layout: `storage` (where blocks are, address arithmetic), `index_list` (the free
//! list and block states), `pool` ([`FixedPool`] and its locked form) and `allocator`
//! ([`FixedSizeAllocator`], the pinned single-threaded pool).

mod allocator;
mod index_list;
mod pool;
mod storage;

pub use allocator::FixedSizeAllocator;
pub use pool::{FixedPool, LockedFixedSizeAllocator};
pub use storage::{FixedBlocks, block_align};

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
