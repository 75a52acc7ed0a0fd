//! One adapter per allocator form, and the two generic adapters that drive a locked form
//! through `GlobalAlloc` or through `allocator_api2::alloc::Allocator`.
//!
//! ```text
//!   RawChunk  RawFixed  RawPools  RawFreeList            raw APIs, checked frees
//!   LockedChunk LockedFixed LockedPools LockedFreeList   locked forms (LockedForm)
//!       └─► ViaGlobalAlloc<L>  /  ViaAllocatorApi<L>      Subject through either interface
//! ```
//!
//! Each adapter owns its allocator and the memory it manages (an [`Arena`](crate::Arena),
//! declared after the allocator so it is freed last), and knows how its allocator's counters
//! map onto the model's [`Accounting`](crate::Accounting).

mod chunk;
mod fixed;
mod free_list;
mod locked;
mod pools;

pub use chunk::{CHUNK_SIZE, LockedChunk, RawChunk};
pub use fixed::{FIXED_BLOCK, FIXED_BLOCKS, FixedPool, LockedFixed, RawFixed};
pub use free_list::{LockedFreeList, RawFreeList};
pub use locked::{ViaAllocatorApi, ViaGlobalAlloc};
pub use pools::{LockedPools, RawPools};
