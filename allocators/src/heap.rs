//! [`Heap`]: the default, general-purpose heap: size-class pools in front of the free list.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use lock_api::RawMutex;

use crate::free_list::{self, FreeListAllocator};
#[cfg(target_os = "linux")]
use crate::grower::{BadPageSize, MmapGrower};
use crate::grower::{HeapGrower, NoGrowth, Region};
use crate::locked::{DefaultLock, Locked};
use crate::pools::{self, SizeClassPools};
use crate::{FreeError, HeapCorruption, Inspect, OutOfMemory, RawAllocator, ResizeError, Usage};

/// The default heap: [`SizeClassPools`] in front of a [`FreeListAllocator`] that grows through
/// `G`.
///
/// Most requests a program makes are small (a `Box` of a struct, a short `String`, a map
/// node), and a few are large (a buffer, a growing `Vec`). The default heap serves each kind
/// with the design that suits it:
///
/// ```text
///   allocate(layout)
///     size and alignment fit 16 B .. 2 KiB ──► size-class pools: a bit in a slab's bitmap, O(1)
///       (up to 256 B with 2 KiB slabs)
///     anything larger                      ──► free list: binned boundary-tagged blocks, O(1)
///                                               │
///     the pools' slabs (32 KiB, or an eighth  ──┘  the free list, which grows through
///     of a claimed heap) come from                 the grower (mmap, or a static buffer)
/// ```
///
/// Blocks the slabs serve never fragment the free list (they live in slabs of equal blocks),
/// large ones never waste a slab, and both share one memory source; on a small heap, with
/// small slabs, the classes above the slabs' reach (512 B to 2 KiB with 2 KiB slabs) are the
/// free list's, like large blocks. [`LockedHeap`] is the form for
/// `#[global_allocator]`; everything is `const`, so a `static` needs no set-up:
///
/// ```
/// use bareheap::{LockedHeap, MmapGrower};
///
/// #[global_allocator]
/// static HEAP: LockedHeap<MmapGrower> = LockedHeap::with_grower(MmapGrower::new());
///
/// fn main() {
///     let words: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
///     assert_eq!(words[999], "999");
/// }
/// ```
///
/// A program with more threads than cores (any ordinary Linux program) should put it behind a
/// [`FutexLock`](crate::FutexLock) instead of the default spin lock, so that a waiter sleeps
/// rather than spin while the lock's holder is descheduled:
/// `static HEAP: LockedHeap<MmapGrower, FutexLock> = LockedHeap::with_grower(MmapGrower::new());`.
///
/// Costs: O(1) allocation and free for every size (for small blocks, a pop from and a push on
/// the pools' magazines, most of the time; the bins' bitmaps for large requests), plus a grower call when the heap grows. Memory: the
/// pools' slabs round small requests up to a power of two; the free list adds one word per
/// large block.
pub struct Heap<G: HeapGrower> {
    pools: SizeClassPools<FreeListAllocator<G>>,
}

/// The default heap behind a lock (spin's by default): the one-line `#[global_allocator]`.
pub type LockedHeap<G, R = DefaultLock> = Locked<Heap<G>, R>;

impl Heap<NoGrowth> {
    /// A heap with no memory, for memory handed over at start-up
    /// ([`claim_static`](Self::claim_static), [`claim`](Self::claim)): all zero bits, so a
    /// `static` of it lives in `.bss` and costs no flash. O(1), `const`.
    #[must_use]
    pub const fn empty() -> Self {
        Self::new(NoGrowth)
    }
}

impl<G: HeapGrower> Heap<G> {
    /// An empty heap growing through `grower`, with the default policies. O(1) and `const`;
    /// no memory is taken until the first allocation.
    #[must_use]
    pub const fn new(grower: G) -> Self {
        Self::with_policies(grower, free_list::Policy::DEFAULT, pools::Policy::DEFAULT)
    }

    /// An empty heap with the given policies for its free list and its pools. O(1), `const`.
    #[must_use]
    pub const fn with_policies(
        grower: G,
        free_list: free_list::Policy,
        pools: pools::Policy,
    ) -> Self {
        Self {
            pools: SizeClassPools::with_policy(
                FreeListAllocator::with_policy(grower, free_list),
                pools,
            ),
        }
    }

    /// The size-class pools (their statistics, per class). O(1).
    pub const fn pools(&self) -> &SizeClassPools<FreeListAllocator<G>> {
        &self.pools
    }

    /// The free list behind the pools (its statistics, regions and blocks; the pools' slabs
    /// are blocks of it). O(1).
    pub const fn free_list(&self) -> &FreeListAllocator<G> {
        self.pools.fallback()
    }

    /// Gives the small blocks the pools keep at hand, and their empty slabs, back to the free
    /// list, which gives whole regions it no longer uses back to the grower (`munmap` for an
    /// [`MmapGrower`](crate::MmapGrower); not the region that holds the pools' slab table,
    /// kept until the heap is dropped); returns whether a slab went back. With the
    /// `magazines` feature (a default), the heap does this itself before it reports
    /// exhaustion. See [`SizeClassPools::trim`] for the cost.
    pub fn trim(&mut self) -> bool {
        self.pools.trim()
    }

    /// Hands `memory` over to the heap for good, as [`FreeListAllocator::claim`] does: a
    /// region of its own. Small and large requests alike can then use it. Before the first
    /// slab, the pools size their slabs for the whole heap (an eighth of it, from 1 KiB to
    /// 32 KiB), unless their policy names a size: see [`pools::Policy::slab_size`]. O(1).
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`FreeListAllocator::claim`]: `memory` must be valid for reads and writes, used
    /// by nothing else, for as long as the heap or any block it hands out lives.
    pub unsafe fn claim(&mut self, memory: Region) -> Result<(), OutOfMemory> {
        // SAFETY: forwarded from the caller; the free list's memory is the pools' too.
        unsafe { self.pools.fallback_mut().claim(memory) }?;
        self.size_slabs();
        Ok(())
    }

    /// [`FreeListAllocator::claim_static`]: memory the program holds for good joins the heap,
    /// safely. O(1).
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    pub fn claim_static(
        &mut self,
        memory: &'static mut [MaybeUninit<u8>],
    ) -> Result<(), OutOfMemory> {
        // SAFETY: the free list stays in place, only gaining memory; it is the pools' too.
        unsafe { self.pools.fallback_mut() }.claim_static(memory)?;
        self.size_slabs();
        Ok(())
    }

    /// As [`claim`](Self::claim), extending the newest region when `memory` starts where it
    /// ends ([`FreeListAllocator::extend`]). O(1).
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`FreeListAllocator::extend`].
    pub unsafe fn extend(&mut self, memory: Region) -> Result<(), OutOfMemory> {
        // SAFETY: forwarded from the caller; the free list's memory is the pools' too.
        unsafe { self.pools.fallback_mut().extend(memory) }?;
        self.size_slabs();
        Ok(())
    }

    /// Memory was handed over: the pools size their slabs for the whole heap, if the policy
    /// leaves that to them and no slab exists yet ([`SizeClassPools::size_slabs_for`]).
    fn size_slabs(&mut self) {
        let memory = self.free_list().stats().mapped_bytes;
        self.pools.size_slabs_for(memory);
    }
}

impl<G: HeapGrower, R: RawMutex> Locked<Heap<G>, R> {
    /// A heap growing through `grower`, behind a new lock: the one-step form of
    /// `Locked::new(Heap::new(grower))`. O(1), `const`, so a `static` can hold it.
    #[must_use]
    pub const fn with_grower(grower: G) -> Self {
        Self::new(Heap::new(grower))
    }

    /// [`Heap::claim`] under the lock: memory known only at run time (a second RAM bank, a
    /// boot loader's memory map) joins the global heap. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`Heap::claim`].
    pub unsafe fn claim(&self, memory: Region) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: the heap stays in place, only gaining memory; `memory` as the caller
        // promises.
        unsafe { heap.get_mut().claim(memory) }
    }

    /// [`Heap::claim_static`] under the lock: the usual start-up of a heap built with
    /// [`Heap::empty`]. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    pub fn claim_static(&self, memory: &'static mut [MaybeUninit<u8>]) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: the heap stays in place, only gaining memory.
        unsafe { heap.get_mut() }.claim_static(memory)
    }

    /// [`Heap::trim`] under the lock: safe, since only blocks and slabs no caller holds go
    /// back. Its cost plus the lock.
    pub fn trim(&self) -> bool {
        let mut heap = self.lock();
        // SAFETY: the heap stays in place; a trim gives back only what no caller holds.
        unsafe { heap.get_mut() }.trim()
    }

    /// [`Heap::extend`] under the lock. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`Heap::extend`].
    pub unsafe fn extend(&self, memory: Region) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: as for `claim`.
        unsafe { heap.get_mut().extend(memory) }
    }
}

/// The pools' answers over the free list's: one walk of the free list's blocks (large blocks
/// and slabs, not the small blocks inside slabs), O(large blocks + slabs + regions); the
/// check is the free list's, O(blocks + regions²), then the pools' own
/// ([`SizeClassPools::check_slabs`]: every slab's bitmap and the classes' counts, O(slabs ×
/// bitmap words)) and their counts against the free list's.
impl<G: HeapGrower> Inspect for Heap<G> {
    fn usage(&self) -> Usage {
        self.pools.usage()
    }

    fn validate(&self) -> Result<(), HeapCorruption> {
        self.pools.validate()
    }
}

impl<R: RawMutex> Locked<Heap<NoGrowth>, R> {
    /// [`Heap::empty`] behind a new lock: all zero bits, so a `static` of it lives in `.bss`;
    /// `main` hands it its memory with [`claim_static`](Self::claim_static). O(1), `const`.
    #[must_use]
    pub const fn empty() -> Self {
        Self::new(Heap::empty())
    }
}

// SAFETY: every call forwards to the pools, a `RawAllocator` themselves.
unsafe impl<G: HeapGrower> RawAllocator for Heap<G> {
    #[inline]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        self.pools.allocate(layout)
    }

    /// The pools' checked free, which checks pool blocks itself and hands large ones to the
    /// free list's.
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.deallocate(ptr, layout) }
    }

    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.resize(ptr, old, new) }
    }

    #[inline]
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.deallocate_trusted(ptr, layout) }
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.resize_trusted(ptr, old, new) }
    }

    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.resize_in_place_trusted(ptr, old, new) }
    }

    /// The free list's: O(regions).
    fn contains(&self, ptr: *const u8) -> bool {
        self.pools.contains(ptr)
    }

    /// The pools' pointer (see [`SizeClassPools`]'s). O(1) expected.
    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        self.pools.pointer_to(address)
    }

    /// The free list's region around `address`. O(regions).
    fn span_of(&mut self, address: usize) -> Option<Region> {
        self.pools.span_of(address)
    }

    /// The regions the free list gave back to the grower. O(1).
    fn memory_given_back(&self) -> usize {
        self.pools.memory_given_back()
    }
}

#[cfg(target_os = "linux")]
impl<R: RawMutex> Locked<Heap<MmapGrower>, R> {
    /// Tells the grower the kernel's page size (`AT_PAGESZ`); call it before the first
    /// allocation. O(1) plus the lock.
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two; nothing changes then.
    pub fn set_page_size(&self, page_size: usize) -> Result<(), BadPageSize> {
        let mut heap = self.lock();
        // SAFETY: only the grower's page size changes; the heap and its free list stay in
        // place.
        unsafe { heap.get_mut().pools.fallback_mut() }.set_page_size(page_size)
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::Layout;
    use core::mem::MaybeUninit;
    use core::ptr::NonNull;

    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::Heap;
    use crate::{
        Inspect, NoGrowth, OutOfMemory, RawAllocator, Region, ResizeError, free_list, pools,
    };

    /// `bytes` of memory the heap may keep for good (see [`unleak`]).
    fn leaked(bytes: usize) -> &'static mut [MaybeUninit<u8>] {
        Box::leak(Box::new_uninit_slice(bytes))
    }

    /// Frees memory from [`leaked`] once the heap that held it is gone (Miri reports leaks).
    ///
    /// # Safety
    /// `memory` must come from [`leaked`], and nothing may use it any more.
    unsafe fn unleak(memory: *mut [MaybeUninit<u8>]) {
        // SAFETY: `Box::leak`'s memory, as the caller promises, freed once.
        drop(unsafe { Box::from_raw(memory) });
    }

    #[test]
    fn slabs_are_sized_for_the_memory_handed_over_before_the_first_slab() {
        let sizes = [
            (4096, 1024),
            (24 << 10, 2048),
            (64 << 10, 8192),
            (1 << 20, 32768),
        ];
        // Under Miri, the largest heaps would take most of the test's time.
        for (bytes, slab) in sizes.into_iter().take(if cfg!(miri) { 2 } else { 4 }) {
            let mut heap = Heap::empty();
            assert_eq!(
                heap.pools().slab_size(),
                pools::SLAB_SIZE,
                "before any memory"
            );
            let (first, second) = (leaked(bytes), leaked(4 * bytes));
            let memory: [*mut [MaybeUninit<u8>]; 2] = [&raw mut *first, &raw mut *second];
            heap.claim_static(first).unwrap();
            assert_eq!(heap.pools().slab_size(), slab, "a heap of {bytes} bytes");
            let kept = heap.pools().kept_empty_slabs();
            assert_eq!(
                kept,
                usize::from(slab == pools::SLAB_SIZE),
                "a heap of {bytes} bytes"
            );
            let block = heap.allocate(Layout::new::<[u64; 2]>()).unwrap();
            assert_eq!(heap.pools().stats().slabs, 1, "a heap of {bytes} bytes");
            // Once a slab exists, more memory leaves the size alone.
            heap.claim_static(second).unwrap();
            assert_eq!(heap.pools().slab_size(), slab);
            // SAFETY: allocated above with this layout, freed once.
            unsafe { heap.deallocate(block.cast().as_ptr(), Layout::new::<[u64; 2]>()) }.unwrap();
            drop(heap);
            for memory in memory {
                // SAFETY: from `leaked`; the heap that used it is gone.
                unsafe { unleak(memory) };
            }
        }
    }

    #[test]
    fn a_slab_size_the_policy_names_is_kept() {
        let policy = pools::Policy {
            slab_size: 4096,
            ..pools::Policy::DEFAULT
        };
        let mut heap = Heap::with_policies(NoGrowth, free_list::Policy::DEFAULT, policy);
        let memory = leaked(64 << 10);
        let whole = &raw mut *memory;
        heap.claim_static(memory).unwrap();
        assert_eq!(heap.pools().slab_size(), 4096);
        assert_eq!(heap.pools().policy(), policy);
        assert_eq!(heap.pools().kept_empty_slabs(), 1);
        drop(heap);
        // SAFETY: from `leaked`; the heap that used it is gone.
        unsafe { unleak(whole) };
        assert_eq!(
            Heap::empty().pools().policy().slab_size,
            0,
            "chosen by the heap"
        );
    }

    /// One step of [`claims_between_blocks_never_change_a_live_blocks_answers`].
    #[derive(Debug, Clone)]
    enum Step {
        /// Hand over this many bytes.
        Claim(usize),
        /// Allocate this size, at this alignment.
        Allocate(usize, usize),
        /// Free the live block at this index (modulo their number), checked or trusted.
        Free(usize, bool),
        /// Give the pools' magazines and empty slabs back.
        Trim,
    }

    /// The memory a step hands over: around every slab size the heap may choose (smaller
    /// under Miri, where every step over a large heap costs much).
    fn claim_sizes() -> Vec<usize> {
        let sizes = vec![4096, 16 << 10, 24 << 10, 64 << 10, 256 << 10, 1 << 20];
        sizes
            .into_iter()
            .take(if cfg!(miri) { 3 } else { 6 })
            .collect()
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            prop::sample::select(claim_sizes()).prop_map(Step::Claim),
            (1..3000usize, 0..5u32).prop_map(|(size, shift)| Step::Allocate(size, 8 << shift)),
            (any::<usize>(), any::<bool>()).prop_map(|(which, checked)| Step::Free(which, checked)),
            Just(Step::Trim),
        ]
    }

    /// A live block: where, its layout, its fill byte, what the pools said of its layout when
    /// it was handed out, and the length they returned with it.
    struct Live {
        ptr: NonNull<u8>,
        layout: Layout,
        fill: u8,
        usable: usize,
        len: usize,
    }

    /// Frees `block`, checked or trusted, with a layout that fits it, after checking its bytes
    /// and that the pools still route its layout as when it was handed out.
    fn free(heap: &mut Heap<NoGrowth>, block: Live, checked: bool) {
        // SAFETY: a live block of `heap`, `layout.size()` bytes written with `fill`.
        let bytes = unsafe { core::slice::from_raw_parts(block.ptr.as_ptr(), block.layout.size()) };
        // Every byte natively; under Miri, which checks the accesses themselves, a sample.
        let stride = if cfg!(miri) { 61 } else { 1 };
        assert!(
            bytes.iter().step_by(stride).all(|&b| b == block.fill),
            "a live block's bytes changed"
        );
        assert_eq!(
            heap.pools().usable_size(block.layout),
            block.usable,
            "the pools' answer for a live block's layout changed"
        );
        // Any layout that fits the block: a size up to the length returned with it.
        let extra = usize::from(block.fill) % (block.len - block.layout.size() + 1);
        let layout = Layout::from_size_align(block.layout.size() + extra, block.layout.align());
        let layout = layout.unwrap();
        // SAFETY: a live block of `heap` with a layout that fits it, freed once.
        unsafe {
            if checked {
                heap.deallocate(block.ptr.as_ptr(), layout).unwrap();
            } else {
                heap.deallocate_trusted(block.ptr, layout);
            }
        }
    }

    /// Issue-review finding on the magazines: a heap that chose slabs under 32 KiB keeps no
    /// block in a magazine (it would keep its slab amid the free memory and split it), and one
    /// that keeps magazines, under the default policy, chose slabs of 32 KiB.
    fn assert_no_magazine_on_a_small_heap(heap: &Heap<NoGrowth>) {
        let pools = heap.pools();
        if pools.uses_magazines() {
            assert_eq!(pools.slab_size(), pools::SLAB_SIZE);
        } else {
            let stats = pools.stats();
            assert!(
                stats
                    .classes
                    .iter()
                    .all(|class| class.blocks_in_magazine == 0)
            );
        }
    }

    /// What an allocation that failed must leave: nothing kept at hand (no magazine block, no
    /// empty slab), so that a trim finds nothing to give back. Without the `magazines` feature
    /// the pools do not trim by themselves (an empty slab the policy keeps stays): nothing to
    /// check then.
    fn assert_really_exhausted(heap: &mut Heap<NoGrowth>) {
        if !cfg!(feature = "magazines") {
            return;
        }
        let stats = heap.pools().stats();
        assert!(
            stats
                .classes
                .iter()
                .all(|class| class.blocks_in_magazine == 0 && class.empty_slabs == 0),
            "exhaustion reported with blocks or slabs kept at hand"
        );
        assert!(!heap.trim(), "exhaustion reported before a trim");
    }

    /// One step of [`an_allocation_fails_only_when_nothing_is_kept_at_hand`].
    #[derive(Debug, Clone)]
    enum Action {
        /// Allocate this many bytes, aligned to 8 << this.
        Allocate(usize, u32),
        /// Free the live block at this index (modulo their number), checked when even.
        Free(usize),
        /// Resize the live block at this index (modulo their number) to this many bytes,
        /// checked when even.
        Resize(usize, usize),
    }

    fn action() -> impl Strategy<Value = Action> {
        let size = || prop_oneof![4 => 1..300usize, 1 => 300..40_000usize];
        prop_oneof![
            3 => (size(), prop_oneof![3 => Just(0u32), 1 => 0..10u32])
                .prop_map(|(size, shift)| Action::Allocate(size, shift)),
            2 => any::<usize>().prop_map(Action::Free),
            1 => (any::<usize>(), size()).prop_map(|(which, size)| Action::Resize(which, size)),
        ]
    }

    /// Small and large requests, frees and resizes on one small heap until it runs short:
    /// every failure is a real one ([`assert_really_exhausted`]), and every live block keeps
    /// its bytes (a failed resize leaves the block as it was).
    fn exhaust(memory_bytes: usize, actions: &[Action]) {
        let memory = leaked(memory_bytes);
        let whole = &raw mut *memory;
        let mut heap = Heap::empty();
        heap.claim_static(memory).unwrap();
        let mut live: Vec<Live> = Vec::new();
        for (n, action) in actions.iter().enumerate() {
            let (block, layout) = match *action {
                Action::Allocate(size, shift) => {
                    let layout = Layout::from_size_align(size, 8 << shift).unwrap();
                    (heap.allocate(layout), layout)
                }
                Action::Free(which) => {
                    if !live.is_empty() {
                        let block = live.swap_remove(which % live.len());
                        free(&mut heap, block, which % 2 == 0);
                    }
                    continue;
                }
                Action::Resize(which, size) if !live.is_empty() => {
                    let at = which % live.len();
                    let (ptr, old) = (live[at].ptr, live[at].layout);
                    let layout = Layout::from_size_align(size, old.align()).unwrap();
                    // SAFETY: a live block of `heap`, with the layout it was allocated with.
                    let resized = unsafe {
                        if which % 2 == 0 {
                            heap.resize(ptr.as_ptr(), old, layout).map_err(|error| {
                                assert_eq!(error, ResizeError::OutOfMemory);
                                OutOfMemory
                            })
                        } else {
                            heap.resize_trusted(ptr, old, layout)
                        }
                    };
                    if resized.is_ok() {
                        live.swap_remove(at);
                    }
                    (resized, layout)
                }
                Action::Resize(..) => continue,
            };
            assert_no_magazine_on_a_small_heap(&heap);
            let Ok(block) = block else {
                assert_really_exhausted(&mut heap);
                continue;
            };
            let fill = n as u8;
            // SAFETY: the block is ours and at least `layout.size()` bytes long.
            unsafe { block.cast::<u8>().as_ptr().write_bytes(fill, layout.size()) };
            let usable = heap.pools().usable_size(layout);
            live.push(Live {
                ptr: block.cast(),
                layout,
                fill,
                usable,
                len: block.len(),
            });
        }
        heap.validate().unwrap();
        for block in live.drain(..) {
            free(&mut heap, block, false);
        }
        drop(heap);
        // SAFETY: from `leaked`; the heap that used it is gone.
        unsafe { unleak(whole) };
    }

    /// Issue-review finding on the slab size chosen at run time: memory handed over after
    /// the fallback served a block must not change how that block is routed when freed. And
    /// an allocation fails only when memory is really short: the blocks the pools keep at hand
    /// and their empty slabs were given back first, so a trim after the failure finds nothing.
    fn claims_between_blocks(steps: &[Step]) {
        let mut memory: Vec<*mut [MaybeUninit<u8>]> = Vec::new();
        let mut heap = Heap::empty();
        let mut live: Vec<Live> = Vec::new();
        for (n, step) in steps.iter().enumerate() {
            match *step {
                Step::Claim(bytes) => {
                    // A raw pointer, not a `Box`: moving a `Box` would assert it is the only
                    // way to its memory, which the heap's pointer into it contradicts.
                    let buffer = Box::into_raw(Box::new_uninit_slice(bytes));
                    // SAFETY: the buffer is ours alone and outlives the heap (freed after it,
                    // below).
                    let _ = unsafe { heap.claim(Region::from(&mut *buffer)) };
                    memory.push(buffer);
                }
                Step::Allocate(size, align) => {
                    let layout = Layout::from_size_align(size, align).unwrap();
                    let Ok(block) = heap.allocate(layout) else {
                        assert_really_exhausted(&mut heap);
                        continue;
                    };
                    let ptr = block.cast::<u8>();
                    assert!(ptr.addr().get() % align == 0 && block.len() >= size);
                    let end = ptr.addr().get() + size;
                    assert!(
                        live.iter().all(|other| end <= other.ptr.addr().get()
                            || other.ptr.addr().get() + other.layout.size() <= ptr.addr().get()),
                        "a new block overlaps a live one"
                    );
                    let fill = n as u8;
                    // SAFETY: the block is ours and at least `size` bytes long.
                    unsafe { ptr.as_ptr().write_bytes(fill, size) };
                    let usable = heap.pools().usable_size(layout);
                    live.push(Live {
                        ptr,
                        layout,
                        fill,
                        usable,
                        len: block.len(),
                    });
                }
                Step::Free(which, checked) => {
                    if !live.is_empty() {
                        let block = live.swap_remove(which % live.len());
                        free(&mut heap, block, checked);
                    }
                }
                Step::Trim => {
                    heap.trim();
                    assert!(
                        heap.pools().stats().classes.iter().all(|class| {
                            class.blocks_in_magazine == 0 && class.empty_slabs == 0
                        })
                    );
                }
            }
            assert_no_magazine_on_a_small_heap(&heap);
            heap.validate().unwrap();
        }
        for block in live.drain(..) {
            free(&mut heap, block, true);
        }
        assert_eq!(heap.pools().stats().fallback_blocks, 0);
        heap.free_list().validate().unwrap();
        drop(heap);
        for buffer in memory {
            // SAFETY: from `Box::into_raw` above, freed once; the heap that used it is gone.
            drop(unsafe { Box::from_raw(buffer) });
        }
    }

    proptest! {
        #![proptest_config(crate::test_proptest::config(1, 256))]

        #[test]
        fn an_allocation_fails_only_when_nothing_is_kept_at_hand(
            memory_bytes in prop::sample::select(vec![16 << 10, 64 << 10, 256 << 10]),
            actions in prop::collection::vec(action(), 1..if cfg!(miri) { 40 } else { 400 }),
        ) {
            exhaust(memory_bytes, &actions);
        }

        #[test]
        fn claims_between_blocks_never_change_a_live_blocks_answers(
            steps in prop::collection::vec(step(), 1..if cfg!(miri) { 8 } else { 40 })
        ) {
            claims_between_blocks(&steps);
        }
    }
}
