//! The list of subjects and the one place that turns a name into a concrete type.
//!
//! Workloads are generic over [`Subject`]; a [`Visit`] is a workload waiting for its type, and
//! [`dispatch`] supplies it. Monomorphisation keeps every subject's calls direct.

use bareheap::fixed::FixedPool;
use bareheap::{ChunkAllocator, FreeListAllocator, Heap, SizeClassPools, StaticGrower};

use crate::subjects::{
    Bare, Baseline, Buddy, CachedHeap, Dlmalloc, Galloc, LinkedList, Rlsf, Subject, SystemMalloc,
    Talc,
};

/// bareheap's free list over the arena.
type FreeList = FreeListAllocator<StaticGrower<'static>>;

/// Every subject the benchmarks know.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// The harness's own cost (a stack of slots).
    Baseline,
    /// bareheap's default heap: pools in front of the free list, the `GlobalAlloc` path.
    Heap,
    /// bareheap's bitmap chunk allocator, 256-byte chunks, the `GlobalAlloc` path's trusted free.
    Chunk,
    /// bareheap's size-class pools over its free list, the `GlobalAlloc` path's O(1) free.
    Pools,
    /// The same pools, every free checked (the raw `deallocate`).
    PoolsChecked,
    /// bareheap's free-list allocator, the `GlobalAlloc` path's O(1) free.
    FreeList,
    /// The same free list, every free checked (the raw `deallocate`).
    FreeListChecked,
    /// talc 5.
    Talc,
    /// rlsf (TLSF).
    Rlsf,
    /// linked_list_allocator.
    LinkedList,
    /// buddy_system_allocator.
    Buddy,
    /// good_memory_allocator (galloc).
    Galloc,
    /// dlmalloc.
    Dlmalloc,
    /// The system malloc (glibc here).
    System,
    /// bareheap's fixed-size pool, 64 blocks of 64 bytes.
    FixedSmall,
    /// bareheap's fixed-size pool, 1,048,576 blocks of 64 bytes.
    FixedLarge,
    /// bareheap's default heap with per-thread caches in front (the thread-scaling section).
    HeapCached,
}

/// The general-purpose subjects, in table order (the fixed pools serve one size only).
pub const GENERAL: [Kind; 14] = [
    Kind::Baseline,
    Kind::Heap,
    Kind::Chunk,
    Kind::Pools,
    Kind::PoolsChecked,
    Kind::FreeList,
    Kind::FreeListChecked,
    Kind::Talc,
    Kind::Rlsf,
    Kind::LinkedList,
    Kind::Buddy,
    Kind::Galloc,
    Kind::Dlmalloc,
    Kind::System,
];

impl Kind {
    /// Every subject, general ones first.
    pub const ALL: [Self; 17] = [
        Self::Baseline,
        Self::Heap,
        Self::Chunk,
        Self::Pools,
        Self::PoolsChecked,
        Self::FreeList,
        Self::FreeListChecked,
        Self::Talc,
        Self::Rlsf,
        Self::LinkedList,
        Self::Buddy,
        Self::Galloc,
        Self::Dlmalloc,
        Self::System,
        Self::FixedSmall,
        Self::FixedLarge,
        Self::HeapCached,
    ];

    /// The subject's position in [`ALL`](Self::ALL) (its name on a child's command line).
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }

    /// The name in the tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline (harness only)",
            Self::Heap => "bareheap Heap (the default)",
            Self::Chunk => "bareheap chunk (256 B)",
            Self::Pools => "bareheap pools (over free list)",
            Self::PoolsChecked => "bareheap pools, checked free",
            Self::FreeList => "bareheap free list",
            Self::FreeListChecked => "bareheap free list, checked free",
            Self::Talc => "talc 5.1",
            Self::Rlsf => "rlsf 0.2",
            Self::LinkedList => "linked_list_allocator 0.10",
            Self::Buddy => "buddy_system_allocator 0.13",
            Self::Galloc => "good_memory_allocator 0.1",
            Self::Dlmalloc => "dlmalloc 0.2",
            Self::System => "system malloc (glibc)",
            Self::FixedSmall => "bareheap fixed pool, N = 64",
            Self::FixedLarge => "bareheap fixed pool, N = 1,048,576",
            Self::HeapCached => "bareheap Heap + per-thread caches",
        }
    }

    /// Whether the subject is another crate's allocator (or the system's): a peer to compare
    /// with.
    pub const fn is_peer(self) -> bool {
        matches!(
            self,
            Self::Talc
                | Self::Rlsf
                | Self::LinkedList
                | Self::Buddy
                | Self::Galloc
                | Self::Dlmalloc
                | Self::System
        )
    }

    /// Whether the subject allocates inside the arena (all but the baseline, the system
    /// malloc and the fixed pools, which hold their blocks inline).
    pub const fn uses_arena(self) -> bool {
        !matches!(
            self,
            Self::Baseline | Self::System | Self::FixedSmall | Self::FixedLarge
        )
    }
}

/// A workload waiting for a concrete subject type.
pub trait Visit {
    /// What the workload produces for one subject.
    type Out;

    /// Runs the workload with subject type `S`.
    fn visit<S: Subject>(&mut self, kind: Kind) -> Self::Out;
}

/// Runs `visit` with the concrete type of `kind`.
pub fn dispatch<V: Visit>(kind: Kind, visit: &mut V) -> V::Out {
    match kind {
        Kind::Baseline => visit.visit::<Baseline>(kind),
        Kind::Heap => visit.visit::<Bare<Heap<StaticGrower<'static>>, false>>(kind),
        Kind::Chunk => visit.visit::<Bare<ChunkAllocator<256>, false>>(kind),
        Kind::Pools => visit.visit::<Bare<SizeClassPools<FreeList>, false>>(kind),
        Kind::PoolsChecked => visit.visit::<Bare<SizeClassPools<FreeList>, true>>(kind),
        Kind::FreeList => visit.visit::<Bare<FreeList, false>>(kind),
        Kind::FreeListChecked => visit.visit::<Bare<FreeList, true>>(kind),
        Kind::Talc => visit.visit::<Talc>(kind),
        Kind::Rlsf => visit.visit::<Rlsf>(kind),
        Kind::LinkedList => visit.visit::<LinkedList>(kind),
        Kind::Buddy => visit.visit::<Buddy>(kind),
        Kind::Galloc => visit.visit::<Galloc>(kind),
        Kind::Dlmalloc => visit.visit::<Dlmalloc>(kind),
        Kind::System => visit.visit::<SystemMalloc>(kind),
        Kind::FixedSmall => visit.visit::<Bare<FixedPool<'static, 64, 64>, false>>(kind),
        Kind::FixedLarge => visit.visit::<Bare<FixedPool<'static, 64, { 1 << 20 }>, false>>(kind),
        Kind::HeapCached => visit.visit::<CachedHeap>(kind),
    }
}
