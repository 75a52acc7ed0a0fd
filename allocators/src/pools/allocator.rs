//! [`SizeClassPools`]: the routing policy. Small requests go to the pool of their size class,
//! the rest to the fallback allocator; frees and resizes are routed by the layout.
//!
//! ```text
//!   allocate(layout) ─► class_of(layout) ─┬─ Some(c) ─► magazines[c].pop()
//!                                         │              └─ empty? classes[c].take() (a slab)
//!                                         │                  └─ none? a new slab from the fallback
//!                                         └─ None ────► fallback.allocate(layout)
//!
//!   deallocate_trusted(ptr) ─► fallback.quick_pointer_to(address) ─► a pointer of ours
//!                                 └─► magazines[c].push(block)
//!                                       └─ full? the 8 oldest back to classes[c] (bitmaps)
//!   deallocate(ptr)         ─► slab_table.find(ptr.addr()) ─► checks ─► magazines[c].push
//!   out of memory           ─► trim() (magazines and empty slabs back), then once more
//! ```
//!
//! A caller's pointer is only ever an address here: the fallback's own pointer, or the slab
//! table's copy of the one the pools got from the fallback, reaches every header, and handed-out
//! blocks carry that provenance too.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::class::{CLASS_COUNT, MAX_BLOCK_SIZE, block_size, class_bits, class_index};
use super::class_pool::{ClassPool, ClassStats, Returned};
use super::magazine::{MAGAZINE_BLOCKS, Magazines};
use super::slab::{Geometry, MIN_SLAB_SIZE, SLAB_SIZE, SlabHeader};
use super::slab_table::SlabTable;
use crate::usage::corrupt_if;
use crate::{
    FreeError, HeapCorruption, Inspect, OutOfMemory, RawAllocator, Region, ResizeError, Usage,
};

/// Whether the pools [`trim`](SizeClassPools::trim) themselves and try again when the fallback
/// has no memory for a request: with magazines, whose blocks keep their slabs, so that a
/// request fails only when the fallback cannot serve it with every block and slab kept at hand
/// given back. Without them, only the empty slabs the policy keeps could go back (none on a
/// heap that chose slabs under 32 KiB, as a microcontroller's does), and the code it takes
/// (about 260 bytes on a Cortex-M) stays out.
const TRIM_WHEN_SHORT: bool = cfg!(feature = "magazines");

/// Where a trusted resize is served (see `SizeClassPools::resize_route`).
enum ResizeRoute {
    /// Old and new layout share this class: the block stays.
    SameClass(usize),
    /// Both layouts are the fallback's: its own resize.
    Fallback,
    /// From a class to another, or between a class and the fallback: allocate, copy, free.
    Move,
}

/// A live pool block, as a checked free or resize found it: our pointer to it, and its class.
struct PoolBlock {
    block: NonNull<u8>,
    class: usize,
}

/// How big the pools' slabs are, and when they give an empty slab back to the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How many empty slabs each class keeps for later requests; a slab that empties beyond
    /// these goes back to the fallback at once. Default 1: a class that empties and refills
    /// repeatedly keeps its slab instead of asking the fallback each time. `usize::MAX` keeps
    /// every slab (the pools give memory back only when [trimmed](SizeClassPools::trim)). When
    /// the heap chooses the slab size and chooses less than 32 KiB (see
    /// [`slab_size`](Self::slab_size)), it keeps none, whatever this says, and no magazines
    /// ([`SizeClassPools::kept_empty_slabs`], [`SizeClassPools::uses_magazines`]); name the
    /// slab size to keep some.
    pub kept_empty_slabs: usize,
    /// The size of every slab, a power of two from [`MIN_SLAB_SIZE`](super::MIN_SLAB_SIZE)
    /// (1 KiB) to [`SLAB_SIZE`](super::SLAB_SIZE) (32 KiB); another value is rounded down to a
    /// power of two and kept in that range. `0`, the default, lets the heap choose: 32 KiB,
    /// unless memory is handed over before the pools hand out anything
    /// ([`size_slabs_for`](SizeClassPools::size_slabs_for), which [`Heap`](crate::Heap)'s
    /// `claim`, `claim_static` and `extend` call): then an eighth of that memory, so that a
    /// microcontroller's heap of a few dozen KiB gets slabs of 1 or 2 KiB (a class takes a
    /// whole slab at its first request). A heap that takes its memory from its grower (a
    /// [`StaticGrower`](crate::StaticGrower)'s buffer, `mmap`) keeps 32 KiB: on a small
    /// buffer, build the heap empty and `claim_static` the buffer instead. Classes whose
    /// blocks fit fewer than 4 times in a slab go to the fallback (with 2 KiB slabs, those
    /// above 256 B).
    pub slab_size: usize,
}

impl Policy {
    /// The defaults: keep one empty slab per class; the slab size chosen by the heap.
    pub const DEFAULT: Self = Self {
        kept_empty_slabs: 1,
        slab_size: 0,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A [`Policy`] as the pools store it, with what it implies: each value XORed with its
/// default's, so that the default is all zero bits and a `static` heap's initial value stays
/// all zero (it lives in `.bss`, not `.data`).
#[derive(Debug, Clone, Copy)]
struct StoredPolicy {
    kept_empty_slabs: usize,
    /// Whether the policy names the slab size (else the heap chooses it).
    slab_size_given: bool,
    /// log2 of the slab size.
    slab_shift: u32,
    /// What the free paths need at once, derived from the above when they change: the mask
    /// that clears an address down to its slab, and how many empty slabs a class keeps.
    slab_mask: usize,
    kept_empty_now: usize,
    /// Whether the classes keep no magazine: when the heap chose slabs below 32 KiB (see
    /// [`SizeClassPools::uses_magazines`]).
    magazines_off: bool,
    /// The block size of the largest class served from slabs, minus one: a layout is a slab
    /// class's exactly when `size.saturating_sub(1) | (align - 1)` is at most this.
    class_limit: usize,
}

impl StoredPolicy {
    const DEFAULT_GEOMETRY: Geometry = Geometry::DEFAULT;
    // What the accessors XOR with, computed once at compile time: a `const fn` call in their
    // bodies would run at every call where the optimiser does not inline it (opt-level "z"
    // does not), and the top class's is a loop.
    const DEFAULT_SHIFT: u32 = Self::DEFAULT_GEOMETRY.shift();
    const DEFAULT_SLAB_MASK: usize = !(Self::DEFAULT_GEOMETRY.size() - 1);
    const DEFAULT_CLASS_LIMIT: usize = class_limit(Self::DEFAULT_GEOMETRY);

    const fn new(policy: Policy) -> Self {
        let given = policy.slab_size != 0;
        let geometry = if given {
            Geometry::new(policy.slab_size)
        } else {
            Self::DEFAULT_GEOMETRY
        };
        Self {
            kept_empty_slabs: policy.kept_empty_slabs ^ Policy::DEFAULT.kept_empty_slabs,
            slab_size_given: given,
            slab_shift: 0,
            slab_mask: 0,
            kept_empty_now: 0,
            magazines_off: false,
            class_limit: 0,
        }
        .with_geometry(geometry)
    }

    /// The same policy with slabs of `geometry`.
    const fn with_geometry(self, geometry: Geometry) -> Self {
        let kept = Policy::DEFAULT.kept_empty_slabs;
        // None kept, and no magazines, when the heap chose slabs below 32 KiB (see
        // `kept_empty_slabs`).
        let small_heap = !self.slab_size_given && geometry.size() < SLAB_SIZE;
        let kept_now = if small_heap {
            0
        } else {
            self.kept_empty_slabs ^ kept
        };
        Self {
            slab_shift: geometry.shift() ^ Self::DEFAULT_SHIFT,
            slab_mask: !(geometry.size() - 1) ^ Self::DEFAULT_SLAB_MASK,
            kept_empty_now: kept_now ^ kept,
            magazines_off: small_heap,
            class_limit: class_limit(geometry) ^ Self::DEFAULT_CLASS_LIMIT,
            ..self
        }
    }

    /// The policy: XOR is its own inverse.
    const fn get(self) -> Policy {
        Policy {
            kept_empty_slabs: self.kept_empty_slabs ^ Policy::DEFAULT.kept_empty_slabs,
            slab_size: if self.slab_size_given {
                self.geometry().size()
            } else {
                0
            },
        }
    }

    /// The slabs' shape.
    #[inline(always)]
    const fn geometry(self) -> Geometry {
        Geometry::from_shift(self.slab_shift ^ Self::DEFAULT_SHIFT)
    }

    /// The mask that clears an address down to the start of its slab.
    #[inline(always)]
    const fn slab_mask(self) -> usize {
        self.slab_mask ^ Self::DEFAULT_SLAB_MASK
    }

    /// How many empty slabs each class keeps now.
    #[inline(always)]
    const fn kept_empty_now(self) -> usize {
        self.kept_empty_now ^ Policy::DEFAULT.kept_empty_slabs
    }

    /// The largest `(size - 1) | (align - 1)` of a layout served from slabs.
    #[inline(always)]
    const fn class_limit(self) -> usize {
        self.class_limit ^ Self::DEFAULT_CLASS_LIMIT
    }
}

/// The block size of the largest class that slabs of `geometry` serve, minus one.
const fn class_limit(geometry: Geometry) -> usize {
    block_size(geometry.top_class()) - 1
}

/// Eight power-of-two pools (16 B to 2 KiB) in front of a fallback allocator `F`, which is any
/// [`RawAllocator`] (the free list, the chunk allocator, ...).
///
/// A request whose size and alignment fit a class that uses slabs
/// (`max(next_pow2(size), align) <= 2048` with the default 32 KiB slabs; with smaller slabs, the
/// classes that fit at least 4 times in one: [`slab_class`](Self::slab_class)) is served from
/// that class's slabs in O(1); the class takes slabs (aligned to the slab size and
/// [`SLAB_TAIL`](super::SLAB_TAIL) bytes short of it) from `F` when it runs dry, and gives a
/// slab back when it empties beyond the [`Policy`]'s reserve. Larger or more aligned
/// requests go straight to `F`, and so does a small one when no slab can be had (a heap
/// smaller than a slab, as on a microcontroller, or one too full): the request is served
/// whenever `F` can serve it. From then on a trusted free of a small block looks its slab up
/// in the slab table (to tell slab blocks from `F`'s), a few instructions more.
///
/// ```
/// use core::alloc::Layout;
/// use core::mem::MaybeUninit;
/// use bareheap::{FreeListAllocator, RawAllocator, SizeClassPools, StaticGrower};
///
/// let mut memory = vec![MaybeUninit::new(0u8); 256 * 1024];
/// let mut pools = SizeClassPools::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
/// let layout = Layout::new::<[u64; 3]>();
/// let block = pools.allocate(layout).expect("memory");
/// assert_eq!(pools.stats().classes[1].blocks_in_use, 1); // the 32-byte class
/// // SAFETY: allocated above with this layout, and not used afterwards.
/// unsafe { pools.deallocate(block.cast().as_ptr(), layout) }.expect("a live block");
/// ```
pub struct SizeClassPools<F: RawAllocator> {
    /// One pool per size class, smallest first.
    classes: [ClassPool; CLASS_COUNT],
    /// Per class, blocks freed lately.
    magazines: Magazines,
    /// Every slab of every class, by address: our pointer to it.
    slab_table: SlabTable,
    /// When empty slabs go back.
    policy: StoredPolicy,
    /// Where slabs, large requests and the slab table's memory come from.
    fallback: F,
    /// Live blocks served by the fallback directly.
    fallback_blocks: usize,
    /// Whether a class-sized request was ever served by the fallback (no slab could be had):
    /// then a class-sized layout no longer implies a slab block.
    small_blocks_in_fallback: bool,
}

/// A snapshot of the counters of a [`SizeClassPools`]; all exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Per size class, smallest first.
    pub classes: [ClassStats; CLASS_COUNT],
    /// Slabs held now, all classes.
    pub slabs: usize,
    /// Bytes of those slabs.
    pub slab_bytes: usize,
    /// Slabs given back to the fallback so far, all classes.
    pub slabs_released: usize,
    /// Live blocks the fallback serves directly.
    pub fallback_blocks: usize,
    /// Whether some class-sized request was served by the fallback because no slab could be
    /// had (so not every small block is in a class).
    pub small_blocks_in_fallback: bool,
    /// Bytes of the slab table (address to slab, for the expected-O(1) frees): one more
    /// allocation from the fallback once it is non-zero.
    pub slab_table_bytes: usize,
}

// SAFETY: the raw pointers (the magazines' among them) point into slabs and a slab table that
// this value owns exclusively (taken from the fallback and never shared), so moving the value
// to another thread moves sole ownership of them; the fallback itself must be `Send`.
unsafe impl<F: RawAllocator + Send> Send for SizeClassPools<F> {}

impl<F: RawAllocator> SizeClassPools<F> {
    /// Empty pools in front of `fallback`, with the default [`Policy`]. O(1); `const`, so it
    /// can initialise a `static` (through [`Locked`](crate::Locked)).
    pub const fn new(fallback: F) -> Self {
        Self::with_policy(fallback, Policy::DEFAULT)
    }

    /// Empty pools with the given policy. O(1), `const`.
    pub const fn with_policy(fallback: F, policy: Policy) -> Self {
        Self {
            classes: [const { ClassPool::new() }; CLASS_COUNT],
            magazines: Magazines::new(),
            slab_table: SlabTable::new(),
            policy: StoredPolicy::new(policy),
            fallback,
            fallback_blocks: 0,
            small_blocks_in_fallback: false,
        }
    }

    /// The fallback allocator (e.g. for its statistics). O(1).
    pub const fn fallback(&self) -> &F {
        &self.fallback
    }

    /// The fallback allocator, to tune it (its own `&mut self` settings). O(1).
    ///
    /// # Safety
    /// The fallback must not be replaced, moved out of or dropped through this reference
    /// (`mem::replace` and the like), and no block may be freed or resized through it (even by
    /// a safe method such as `ChunkAllocator::free`): the pools' slabs, their slab table and
    /// the large blocks they handed out live in its memory.
    pub const unsafe fn fallback_mut(&mut self) -> &mut F {
        &mut self.fallback
    }

    /// The policy in force (its `slab_size` is `0` when the heap chooses it; the size chosen
    /// is [`slab_size`](Self::slab_size)). O(1).
    pub const fn policy(&self) -> Policy {
        self.policy.get()
    }

    /// The size of every slab, as the policy named it or as chosen. O(1).
    pub const fn slab_size(&self) -> usize {
        self.geometry().size()
    }

    /// Sizes the slabs for a heap of `memory_bytes`, when the policy leaves the slab size to
    /// the heap and the pools have handed nothing out yet (no slab was ever taken, no block
    /// of the fallback's is live): an eighth of the memory, rounded down to a power of two,
    /// from 1 KiB to 32 KiB. Returns whether the size was chosen now. Call it with the
    /// fallback's whole memory whenever memory is handed to it ([`Heap`](crate::Heap) does);
    /// once the pools have handed out a block, the size stays, because it decides which
    /// layouts are slab blocks (a block the fallback serves now could otherwise be taken for
    /// a slab block when it is freed). O(1).
    pub fn size_slabs_for(&mut self, memory_bytes: usize) -> bool {
        if self.policy.slab_size_given
            || self.slab_table.bytes() != 0
            || self.fallback_blocks != 0
            || self.small_blocks_in_fallback
        {
            return false;
        }
        let eighth = memory_bytes / 8;
        let size = if eighth < MIN_SLAB_SIZE {
            MIN_SLAB_SIZE
        } else {
            1 << eighth.ilog2()
        };
        self.policy = self.policy.with_geometry(Geometry::new(size));
        // Nothing was handed out yet, so every magazine is empty.
        self.magazines.set_on(!self.policy.magazines_off);
        true
    }

    /// How many empty slabs each class keeps: the policy's number, but none when the heap
    /// chose slabs below 32 KiB (a heap under 256 KiB), where a kept slab splits the free
    /// memory (the firmware example's 24 KiB heap kept three, and its largest free block fell
    /// from 18 to 10 KiB). O(1).
    pub fn kept_empty_slabs(&self) -> usize {
        self.policy.kept_empty_now()
    }

    /// Whether the classes keep magazines of freed blocks (see the module docs): with the
    /// `magazines` feature (a default), unless the heap chose slabs below 32 KiB (a heap under
    /// 256 KiB), where a block kept in a magazine would keep its slab amid the free memory and
    /// split it, as a kept empty slab would (see [`kept_empty_slabs`](Self::kept_empty_slabs)).
    /// Name the slab size in the [`Policy`] to keep them. O(1).
    pub const fn uses_magazines(&self) -> bool {
        cfg!(feature = "magazines") && !self.policy.magazines_off
    }

    /// The usable length of the memory the pools hand out for `layout`: the whole block of its
    /// class when a slab serves it, else exactly `layout.size()` (the fallback serves it; its
    /// own rounding is its business). O(1).
    pub fn usable_size(&self, layout: Layout) -> usize {
        match self.slab_class(layout) {
            Some(class) => block_size(class),
            None => layout.size(),
        }
    }

    /// The shape of the slabs.
    #[inline(always)]
    const fn geometry(&self) -> Geometry {
        self.policy.geometry()
    }

    /// The class that serves `layout` from slabs, if one does (a number from 0 for 16-byte
    /// blocks, the index into [`PoolStats::classes`]): its size class, if the slab size allows
    /// that class; `None` when the fallback serves `layout`. O(1).
    #[inline(always)]
    pub fn slab_class(&self, layout: Layout) -> Option<usize> {
        // One comparison of the layout's class bits with the top class's: the top class is
        // below `CLASS_COUNT`, so that also bounds the class.
        let bits = class_bits(layout);
        if bits <= self.policy.class_limit() {
            Some(class_index(bits))
        } else {
            None
        }
    }

    /// A snapshot of all counters. O(1): a fixed eight classes, and their magazines of at most
    /// 16 blocks.
    pub fn stats(&self) -> PoolStats {
        let geometry = self.geometry();
        let mut class = 0;
        let classes = self.classes.each_ref().map(|pool| {
            class += 1;
            pool.stats(geometry, class - 1, self.magazines.len(class - 1))
        });
        let slabs = classes.iter().map(|class| class.slabs).sum();
        PoolStats {
            classes,
            slabs,
            slab_bytes: slabs * self.geometry().len(),
            slabs_released: classes.iter().map(|class| class.slabs_released).sum(),
            fallback_blocks: self.fallback_blocks,
            small_blocks_in_fallback: self.small_blocks_in_fallback,
            slab_table_bytes: self.slab_table.bytes(),
        }
    }

    /// Checks every slab's header and the classes' records of their slabs: each bitmap agrees
    /// with its slab's count of blocks in use and its summary word, and its class uses slabs;
    /// each class's counts of blocks taken, of slabs and of empty slabs are its slabs'; its
    /// room list holds exactly its slabs with a free block; and its magazine holds distinct
    /// blocks of its own slabs, each in use there. [`Inspect::validate`] runs it; it needs
    /// nothing of the fallback. O(slab table slots + slabs × bitmap words + classes × 16²).
    ///
    /// # Errors
    /// [`HeapCorruption`] naming the first slab found wrong, or the class whose counts or room
    /// list are wrong.
    pub fn check_slabs(&self) -> Result<(), HeapCorruption> {
        let geometry = self.geometry();
        // Per class: blocks in use, slabs, empty slabs, slabs with room.
        let mut found = [[0; 4]; CLASS_COUNT];
        for header in self.slab_table.slabs() {
            // SAFETY: the table holds our live slab headers, reached through our pointers.
            let agrees = unsafe { super::slab::bitmap_agrees(header, geometry) };
            corrupt_if(
                !agrees,
                "a slab's bitmap disagrees with its header",
                header.addr(),
            )?;
            // SAFETY: as above; `bitmap_agrees` checked the class.
            unsafe {
                let counts = &mut found[(*header).class];
                counts[0] += (*header).blocks_in_use;
                counts[1] += 1;
                counts[2] += usize::from((*header).blocks_in_use == 0);
                counts[3] += usize::from(super::slab::has_room(header));
            }
        }
        for (class, pool) in self.classes.iter().enumerate() {
            let (slabs, empty) = pool.slab_counts();
            corrupt_if(
                found[class][..3] != [pool.taken(), slabs, empty],
                "a class's counts are not its slabs'",
                class,
            )?;
            self.check_magazine(class)?;
            let mut listed = 0;
            for header in pool.slabs_with_room() {
                // SAFETY: the room list holds live slab headers of ours.
                let fits = unsafe { (*header).class == class && super::slab::has_room(header) };
                corrupt_if(!fits || listed == slabs, "a room list is wrong", class)?;
                listed += 1;
            }
            corrupt_if(
                listed != found[class][3],
                "a room list misses a slab",
                class,
            )?;
        }
        Ok(())
    }

    /// Checks class `class`'s magazine: each block is a block start of one of the class's
    /// slabs, in use there, and held once. O(`MAGAZINE_BLOCKS`²).
    fn check_magazine(&self, class: usize) -> Result<(), HeapCorruption> {
        for (at, block) in self.magazines.blocks(class).enumerate() {
            let address = block.addr().get();
            let slab = self
                .slab_at(address)
                .filter(|&(_, slab_class)| slab_class == class);
            corrupt_if(
                slab.is_none(),
                "a magazine block is not in its class's slab",
                address,
            )?;
            if let Some((header, _)) = slab {
                // SAFETY: `header` is our slab of class `class`, and its span holds `address`.
                let live =
                    unsafe { self.classes[class].check(self.geometry(), class, header, address) };
                corrupt_if(
                    live.is_err(),
                    "a magazine block is not taken from its slab",
                    address,
                )?;
            }
            let again = self
                .magazines
                .blocks(class)
                .skip(at + 1)
                .any(|other| other == block);
            corrupt_if(again, "a magazine holds a block twice", address)?;
        }
        Ok(())
    }

    /// Gives every block the magazines hold back to its slab, and every slab with no block in
    /// use back to the fallback, those the policy keeps empty included; returns whether a slab
    /// went back. With the `magazines` feature (a default), the pools call it themselves when
    /// the fallback has no memory for a request, and try once more before reporting
    /// exhaustion (without it, an empty slab the policy keeps stays). Call it to hand memory
    /// back to the fallback (and through it, to the system) after a phase of many small
    /// blocks. O(classes × 16 + slabs given back), plus O(slabs with room) per kept empty slab.
    pub fn trim(&mut self) -> bool {
        let mut released = false;
        for class in 0..CLASS_COUNT {
            let before = self.classes[class].released();
            while let Some(block) = self.magazines.pop(class) {
                self.return_to_slab(class, block);
            }
            while let Some(header) = self.classes[class].take_empty_slab() {
                // SAFETY: the class just unlinked the slab, which holds no block in use.
                unsafe { self.release_slab(header) };
            }
            released |= self.classes[class].released() != before;
        }
        released
    }

    /// The pool of class `class`. A class is below [`CLASS_COUNT`], a power of two: the
    /// remainder changes nothing, and spares a bounds check and its panic path on the paths
    /// where the compiler cannot see the class's bound (it comes from a layout and the policy).
    #[inline(always)]
    fn pool(&mut self, class: usize) -> &mut ClassPool {
        const { assert!(CLASS_COUNT.is_power_of_two()) };
        &mut self.classes[class % CLASS_COUNT]
    }

    /// A block of class `class` from a slab, taking a new slab from the fallback if the class
    /// has none with room, for a request of `layout` that the class's magazine could not serve.
    /// When no slab can be had: the pools [`trim`](Self::trim) and try again, then ask the
    /// fallback for the block itself. Out of line, so that `allocate` (the class, the magazine,
    /// this call) inlines into its callers.
    #[inline(never)]
    fn allocate_small(
        &mut self,
        class: usize,
        layout: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let block = match self.pool(class).take(class) {
            Some(block) => block,
            None => match self.allocate_in_new_slab(class) {
                Ok(block) => block,
                Err(OutOfMemory) => return self.allocate_small_when_short(class, layout),
            },
        };
        Ok(NonNull::slice_from_raw_parts(block, block_size(class)))
    }

    /// [`allocate_small`](Self::allocate_small) when no new slab could be had.
    #[cold]
    #[inline(never)]
    fn allocate_small_when_short(
        &mut self,
        class: usize,
        layout: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        if TRIM_WHEN_SHORT
            && self.trim()
            && let Ok(block) = self.allocate_in_new_slab(class)
        {
            return Ok(NonNull::slice_from_raw_parts(block, block_size(class)));
        }
        let block = self.allocate_from_fallback(layout)?;
        self.small_blocks_in_fallback = true;
        Ok(block)
    }

    /// Keeps the freed block `block` (our pointer) of class `class` in the class's magazine,
    /// giving its older half back to the slabs first when it is full; without the `magazines`
    /// feature, gives the block straight back to its slab. O(1).
    #[inline(always)]
    fn keep_freed(&mut self, class: usize, block: NonNull<u8>) {
        // SAFETY: our pointer to a block of one of our slabs reaches that slab's header.
        let slab_class = || unsafe { (*self.header_of(block)).class };
        debug_assert_eq!(slab_class(), class, "freed with a layout of another class");
        if MAGAZINE_BLOCKS == 0 {
            self.return_to_slab(class, block);
        } else if !self.magazines.push(class, block) {
            self.make_room_and_keep(class, block);
        }
    }

    /// [`keep_freed`](Self::keep_freed) when the magazine is full: its older half goes back to
    /// the slabs. O(`MAGAZINE_BLOCKS`).
    #[cold]
    #[inline(never)]
    fn make_room_and_keep(&mut self, class: usize, block: NonNull<u8>) {
        if self.policy.magazines_off {
            // Turned off, a magazine has no slot for the block: it goes straight to its slab.
            return self.return_to_slab(class, block);
        }
        for older in self.magazines.take_older_half(class).into_iter().flatten() {
            self.return_to_slab(class, older);
        }
        let kept = self.magazines.push(class, block);
        debug_assert!(kept, "room was just made");
    }

    /// Gives the block `block` (our pointer), of class `class` and out of its magazine, back
    /// to its slab, and the slab back to the fallback if it empties beyond the reserve. O(1).
    fn return_to_slab(&mut self, class: usize, block: NonNull<u8>) {
        let header = self.header_of(block);
        let index = ClassPool::block_index_trusted(header, class, block.addr().get());
        // SAFETY: a block that was in a magazine of class `class` is a block of one of our live
        // slabs of that class, which still counts it in use; `index` is its number there.
        unsafe { self.give_back(header, class, index) };
    }

    /// The header of the slab that holds the block `block` (our pointer, whose provenance
    /// covers the slab): its address rounded down to the slab size. O(1).
    fn header_of(&self, block: NonNull<u8>) -> *mut SlabHeader {
        let slab_mask = self.policy.slab_mask();
        block.as_ptr().map_addr(|a| a & slab_mask).cast()
    }

    /// Our pointer to `address`, inside one of our slabs (a block the caller vouches for):
    /// the fallback's own pointer (it handed the slab out: O(1) for every allocator of this
    /// crate), else the slab table's.
    #[inline(always)]
    fn own_pointer(&mut self, address: usize) -> Option<NonNull<u8>> {
        match self.fallback.pointer_to(address) {
            Some(block) => Some(block),
            None => self.own_pointer_from_table(address),
        }
    }

    /// [`own_pointer`](Self::own_pointer) for a fallback that gives no pointer. Expected O(1).
    #[cold]
    #[inline(never)]
    fn own_pointer_from_table(&self, address: usize) -> Option<NonNull<u8>> {
        let header = self.slab_table.find(address, self.geometry())?;
        NonNull::new(header.cast::<u8>().with_addr(address))
    }

    /// The trusted free of a block that is not class-sized, of any block once small blocks went
    /// to the fallback, and of a slab block the fallback has no quick pointer to: out of line,
    /// so that the common free needs no registers saved.
    ///
    /// # Safety
    /// As [`RawAllocator::deallocate_trusted`].
    #[inline(never)]
    unsafe fn deallocate_trusted_elsewhere(&mut self, ptr: NonNull<u8>, layout: Layout) {
        let address = ptr.addr().get();
        match self.slab_class(layout) {
            Some(class) if self.small_block_in_slab(address) => {
                if let Some(block) = self.own_pointer(address) {
                    self.keep_freed(class, block);
                }
            }
            _ => {
                // SAFETY: forwarded from the caller: a fallback block.
                unsafe { self.fallback.deallocate_trusted(ptr, layout) };
                self.fallback_blocks -= 1;
            }
        }
    }

    /// A block of class `class` from a new slab: the rare path, kept out of line so that the
    /// common one stays small.
    #[cold]
    #[inline(never)]
    fn allocate_in_new_slab(&mut self, class: usize) -> Result<NonNull<u8>, OutOfMemory> {
        // Room in the table first: a slab the table cannot record could not be freed into.
        let geometry = self.geometry();
        if !self.slab_table.reserve_one(&mut self.fallback, geometry) {
            return Err(OutOfMemory);
        }
        let slab = self.fallback.allocate(geometry.layout())?.cast::<u8>();
        // SAFETY: a fresh slab of `geometry`, handed to exactly one class.
        let header = unsafe { self.pool(class).add_slab(geometry, class, slab) };
        self.slab_table.insert(header, geometry);
        self.pool(class).take(class).ok_or(OutOfMemory)
    }

    /// Whether the block at `address`, freed or resized with a class-sized layout, is in one
    /// of our slabs: always, until a small request went to the fallback; from then on, as the
    /// slab table says.
    #[inline(always)]
    fn small_block_in_slab(&self, address: usize) -> bool {
        !self.small_blocks_in_fallback || self.slab_table.find(address, self.geometry()).is_some()
    }

    /// A block straight from the fallback (for a layout no class serves, or a small one when
    /// no slab can be had); when it has none, the pools [`trim`](Self::trim) and ask once
    /// more. Out of line, so that the common allocation needs no registers saved; a large
    /// request makes one call between the pools' `allocate` and the fallback's.
    #[inline(never)]
    fn allocate_from_fallback(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let block = match self.fallback.allocate(layout) {
            Ok(block) => block,
            Err(OutOfMemory) if TRIM_WHEN_SHORT => {
                self.allocate_from_fallback_after_trim(layout)?
            }
            Err(OutOfMemory) => return Err(OutOfMemory),
        };
        self.fallback_blocks += 1;
        Ok(block)
    }

    /// The fallback's block for `layout` after a [`trim`](Self::trim), if the trim gave it
    /// memory.
    #[cold]
    #[inline(never)]
    fn allocate_from_fallback_after_trim(
        &mut self,
        layout: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        if self.trim() {
            self.fallback.allocate(layout)
        } else {
            Err(OutOfMemory)
        }
    }

    /// Our slab at `address` and the class pool that owns it, if a slab of ours holds the
    /// address. Expected O(1).
    fn slab_at(&self, address: usize) -> Option<(*mut SlabHeader, usize)> {
        let header = self.slab_table.find(address, self.geometry())?;
        // SAFETY: the table holds only our live slab headers, reached through our pointers.
        Some((header, unsafe { (*header).class }))
    }

    /// Where a trusted resize of the live block at `ptr` from `old` to `new` is served. O(1)
    /// (a slab-table lookup only when small blocks may live in the fallback).
    #[inline(always)]
    fn resize_route(&self, ptr: NonNull<u8>, old: Layout, new: Layout) -> ResizeRoute {
        // Both sizes above every class: the fallback's, without computing a class.
        if old.size().min(new.size()) > MAX_BLOCK_SIZE {
            return ResizeRoute::Fallback;
        }
        // A small block counts as the fallback's when it is not in a slab.
        let old_class = self
            .slab_class(old)
            .filter(|_| self.small_block_in_slab(ptr.addr().get()));
        match (old_class, self.slab_class(new)) {
            (Some(from), Some(to)) if from == to => ResizeRoute::SameClass(from),
            (None, None) => ResizeRoute::Fallback,
            _ => ResizeRoute::Move,
        }
    }

    /// The whole block of `class` at `ptr`, through our pointer: what a resize within the class
    /// returns. O(1) (expected O(1) for a fallback that gives no pointer).
    fn block_in_class(&mut self, ptr: NonNull<u8>, class: usize) -> Option<NonNull<[u8]>> {
        let block = self.own_pointer(ptr.addr().get())?;
        Some(NonNull::slice_from_raw_parts(block, block_size(class)))
    }

    /// The checks of a checked free or resize of `ptr` with `layout`, changing nothing:
    /// `Ok(Some(block))` for a live pool block of `layout`'s class (in use in its slab, and
    /// not in its class's magazine), `Ok(None)` for a pointer that only the fallback can judge
    /// (a fallback layout, outside every slab).
    fn check(&self, ptr: *mut u8, layout: Layout) -> Result<Option<PoolBlock>, FreeError> {
        let address = NonNull::new(ptr)
            .ok_or(FreeError::NullPtrFree)?
            .addr()
            .get();
        let Some((header, class)) = self.slab_at(address) else {
            if self.slab_table.is_own_memory(address) {
                return Err(FreeError::UnalignedFree);
            }
            return match self.slab_class(layout) {
                Some(_) if !self.small_blocks_in_fallback => Err(FreeError::FreeOutOfBounds),
                _ => Ok(None),
            };
        };
        // SAFETY: `header` is our slab of class `class`, and its span holds `address`.
        unsafe { self.classes[class].check(self.geometry(), class, header, address) }?;
        if self.magazines.holds(class, address) {
            return Err(FreeError::DoubleFree);
        }
        if self.slab_class(layout) == Some(class) {
            // Our pointer to the block (never null: the address is not).
            let block = NonNull::new(header.cast::<u8>().with_addr(address));
            let block = block.ok_or(FreeError::NullPtrFree)?;
            Ok(Some(PoolBlock { block, class }))
        } else {
            Err(FreeError::LayoutMismatch)
        }
    }

    /// Returns block `index` of our slab `header` of class `class`, giving the slab back to the
    /// fallback when it empties beyond the reserve. O(1).
    ///
    /// # Safety
    /// `header` must be our slab of class `class` and `index` one of its blocks.
    #[inline(always)]
    unsafe fn give_back(&mut self, header: *mut SlabHeader, class: usize, index: usize) {
        // SAFETY: forwarded from the caller.
        if unsafe { self.pool(class).give_back(header, index) } {
            // SAFETY: forwarded from the caller; the slab just emptied.
            unsafe { self.slab_emptied(header, class) };
        }
    }

    /// Keeps our slab `header` of class `class`, just emptied, as one of the class's reserve,
    /// or gives it back to the fallback.
    ///
    /// # Safety
    /// `header` must be our slab of class `class`, on its room list, with no block in use.
    #[cold]
    unsafe fn slab_emptied(&mut self, header: *mut SlabHeader, class: usize) {
        let kept = self.kept_empty_slabs();
        // SAFETY: forwarded from the caller.
        if let Returned::Release = unsafe { self.pool(class).emptied(header, kept) } {
            // SAFETY: the class unlinked the slab, which holds no live block.
            unsafe { self.release_slab(header) };
        }
    }

    /// Gives an empty slab, already unlinked from its class, back to the fallback.
    ///
    /// # Safety
    /// `header` must be our slab, holding no live block, on no room list.
    #[cold]
    unsafe fn release_slab(&mut self, header: *mut SlabHeader) {
        let geometry = self.geometry();
        self.slab_table.remove(header, geometry);
        if let Some(slab) = NonNull::new(header) {
            // SAFETY: the slab came from this fallback with `geometry.layout()` and nothing uses
            // it.
            unsafe {
                self.fallback
                    .deallocate_trusted(slab.cast(), geometry.layout())
            };
        }
    }
}

/// The fallback's answer, with the slabs' free blocks moved from "in use" (the fallback sees
/// whole slabs) to "free": the cost of the fallback's `usage` plus O(1).
impl<F: RawAllocator + Inspect> Inspect for SizeClassPools<F> {
    fn usage(&self) -> Usage {
        let fallback = self.fallback.usage();
        let classes = self.stats().classes;
        let free_in_slabs: usize = classes
            .iter()
            .map(|class| class.blocks_free * class.block_size)
            .sum();
        let largest_free_slot = classes
            .iter()
            .filter(|class| class.blocks_free > 0)
            .map(|class| class.block_size)
            .max()
            .unwrap_or(0);
        Usage {
            live_blocks: classes
                .iter()
                .map(|class| class.blocks_in_use)
                .sum::<usize>()
                + self.fallback_blocks,
            in_use_bytes: fallback.in_use_bytes.saturating_sub(free_in_slabs),
            free_bytes: fallback.free_bytes + free_in_slabs,
            largest_free_block: fallback.largest_free_block.max(largest_free_slot),
        }
    }

    /// The fallback's check, then the pools' own ([`check_slabs`](SizeClassPools::check_slabs))
    /// and their counts against the fallback's: every live block of the fallback is a slab,
    /// the slab table or a block the pools handed out from it. The fallback's cost plus its
    /// `usage`, plus O(slab table slots + slabs × bitmap words).
    fn validate(&self) -> Result<(), HeapCorruption> {
        self.fallback.validate()?;
        self.check_slabs()?;
        let stats = self.stats();
        for class in &stats.classes {
            corrupt_if(class.empty_slabs > class.slabs, "empty slabs miscounted", 0)?;
        }
        let table = usize::from(stats.slab_table_bytes > 0);
        corrupt_if(
            self.fallback.usage().live_blocks != stats.slabs + stats.fallback_blocks + table,
            "the fallback's live blocks are not the pools' slabs and blocks",
            0,
        )
    }
}

// SAFETY: pool blocks are disjoint class-sized pieces of slabs the fallback handed over,
// aligned to their class size (a multiple of the layout's alignment), tracked exactly by the
// slab bitmaps (a bit is set while its block is handed out or in its class's magazine, and a
// magazine hands out only blocks freed to it, each once), and reached through pointers the
// fallback gave; a slab goes back only when none of its blocks is live or in a magazine. Other
// blocks are the fallback's, which upholds the same contract. Refused calls return before any
// change; nothing panics.
unsafe impl<F: RawAllocator> RawAllocator for SizeClassPools<F> {
    /// O(1) for class-sized layouts: a pop from the class's magazine, else a block from a slab
    /// (plus one fallback call when a class needs a new slab, and one more and O(slabs) when the
    /// slab table doubles); the fallback's cost otherwise. Before reporting exhaustion, the
    /// pools [`trim`](SizeClassPools::trim) and try once more.
    #[inline]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        match self.slab_class(layout) {
            Some(class) => match self.magazines.pop(class) {
                Some(block) => Ok(NonNull::slice_from_raw_parts(block, block_size(class))),
                None => self.allocate_small(class, layout),
            },
            None => self.allocate_from_fallback(layout),
        }
    }

    /// Checks any pointer exactly for class-sized layouts and for every pointer inside a slab
    /// (expected O(1), through the slab table); hands a fallback-sized layout outside every slab
    /// to the fallback's own checked free.
    ///
    /// Errors, in order: [`FreeError::NullPtrFree`]; [`FreeError::FreeOutOfBounds`] (a class
    /// layout outside every slab); [`FreeError::UnalignedFree`] (inside a slab, not at a block
    /// start); [`FreeError::DoubleFree`] (a pool block not in use);
    /// [`FreeError::LayoutMismatch`] (a pool block whose class is not `layout`'s); then the
    /// fallback's. A pool block goes to its class's magazine, as a trusted free's does.
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        match self.check(ptr, layout)? {
            Some(block) => {
                self.keep_freed(block.class, block.block);
                Ok(())
            }
            None => {
                // SAFETY: forwarded from the caller: outside every slab, a fallback layout.
                unsafe { self.fallback.deallocate(ptr, layout) }?;
                self.fallback_blocks -= 1;
                Ok(())
            }
        }
    }

    /// Within one class: the same block (re-based on our pointer), expected O(1). Between fallback layouts: the fallback's own resize.
    /// Otherwise allocate, copy, free. Checked as [`deallocate`](Self::deallocate).
    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        let source = match self.check(ptr, old)? {
            Some(block) => block.block.as_ptr(),
            None if self.slab_class(new).is_none() => loop {
                // SAFETY: forwarded from the caller: outside every slab, a fallback layout (a
                // refusal leaves the block as it was, so it can be asked again after a trim
                // that gave memory back; a trim that gives nothing back ends the loop).
                let resized = unsafe { self.fallback.resize(ptr, old, new) };
                if !matches!(resized, Err(ResizeError::OutOfMemory))
                    || !TRIM_WHEN_SHORT
                    || !self.trim()
                {
                    return resized;
                }
            },
            // A resize to the layout the block already fits never moves it: this only checks.
            // SAFETY: forwarded from the caller.
            None => unsafe { self.fallback.resize(ptr, old, old) }?
                .cast::<u8>()
                .as_ptr(),
        };
        // SAFETY: `source` is a live block of ours for `old` (just checked).
        Ok(unsafe { self.resize_trusted(NonNull::new_unchecked(source), old, new) }?)
    }

    /// O(1) for class-sized layouts: the fallback's pointer to the block (the slab table's, for
    /// a fallback that gives none), pushed on the class's magazine; when the magazine is full,
    /// its older half first goes back to the slab bitmaps (8 blocks, at most once per 8 frees).
    /// The fallback's trusted free otherwise.
    #[inline]
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // A class-sized layout is a slab block's of that class (the caller's contract: a layout
        // that fits the block), unless small blocks went to the fallback.
        let bits = class_bits(layout);
        // Without magazines a free calls out anyway (to its slab): one path is enough.
        if MAGAZINE_BLOCKS == 0 || bits > self.policy.class_limit() || self.small_blocks_in_fallback
        {
            // SAFETY: forwarded from the caller.
            return unsafe { self.deallocate_trusted_elsewhere(ptr, layout) };
        }
        match self.fallback.quick_pointer_to(ptr.addr().get()) {
            Some(block) => self.keep_freed(class_index(bits), block),
            // SAFETY: forwarded from the caller.
            None => unsafe { self.deallocate_trusted_elsewhere(ptr, layout) },
        }
    }

    /// Within one class: the same block, O(1). Between fallback layouts: the
    /// fallback's trusted resize (after a [`trim`](SizeClassPools::trim), if it had no
    /// memory). Otherwise allocate, copy, free.
    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        match self.resize_route(ptr, old, new) {
            ResizeRoute::SameClass(class) => self.block_in_class(ptr, class).ok_or(OutOfMemory),
            // SAFETY: forwarded from the caller: a fallback block, unchanged by a refusal.
            // A refused resize leaves the block as it was: after a trim that gave memory back,
            // it can be asked again (a trim that gives nothing back ends the loop).
            ResizeRoute::Fallback => loop {
                // SAFETY: forwarded from the caller: a fallback block.
                let resized = unsafe { self.fallback.resize_trusted(ptr, old, new) };
                if resized.is_ok() || !TRIM_WHEN_SHORT || !self.trim() {
                    return resized;
                }
            },
            // Allocate, copy, free, written out: a helper shared by the allocators cost 126
            // bytes of WebAssembly and 20 of Cortex-M code here (measured: bench/notes.md).
            ResizeRoute::Move => {
                let moved = self.allocate(new)?;
                // SAFETY: the caller's live block of `old` and the new, distinct one of `new`
                // both hold the bytes copied; then the old block goes, with its layout.
                unsafe {
                    ptr.copy_to_nonoverlapping(moved.cast::<u8>(), old.size().min(new.size()));
                    self.deallocate_trusted(ptr, old);
                }
                Ok(moved)
            }
        }
    }

    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        match self.resize_route(ptr, old, new) {
            ResizeRoute::SameClass(class) => self.block_in_class(ptr, class),
            // SAFETY: forwarded from the caller: a fallback block.
            ResizeRoute::Fallback => unsafe {
                self.fallback.resize_in_place_trusted(ptr, old, new)
            },
            ResizeRoute::Move => None,
        }
    }

    /// The fallback's `contains`: every slab lies in the fallback's memory.
    fn contains(&self, ptr: *const u8) -> bool {
        self.fallback.contains(ptr)
    }

    /// Inside one of our slabs, the slab's pointer (expected O(1), through the slab table);
    /// elsewhere, the fallback's.
    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        match self.slab_table.find(address, self.geometry()) {
            Some(header) => NonNull::new(header.cast::<u8>().with_addr(address)),
            None => self.fallback.pointer_to(address),
        }
    }

    /// The fallback's span: every slab lies in a block of the fallback, and the fallback's
    /// pointer to it is the one the pools hold.
    fn span_of(&mut self, address: usize) -> Option<Region> {
        self.fallback.span_of(address)
    }

    /// The fallback's count: slabs the pools give back stay in the fallback's memory.
    fn memory_given_back(&self) -> usize {
        self.fallback.memory_given_back()
    }
}

impl<F: RawAllocator> Drop for SizeClassPools<F> {
    /// Returns every slab and the slab table to the fallback: O(slabs). Blocks still handed
    /// out from the pools dangle afterwards; fallback blocks are the fallback's to keep.
    fn drop(&mut self) {
        let layout = self.geometry().layout();
        for slab in self.slab_table.slabs().filter_map(NonNull::new) {
            // SAFETY: every recorded slab came from this fallback with `slab_layout`; the pools
            // are going away, so nothing uses it any more.
            unsafe { self.fallback.deallocate_trusted(slab.cast(), layout) };
        }
        // SAFETY: every growth of the table took its memory from this fallback.
        unsafe { self.slab_table.release(&mut self.fallback) };
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::*;
    use crate::FreeListAllocator;
    use crate::pools::class::class_of;

    /// `slab_class`'s one comparison against `class_limit` (the free makes the same one) gives
    /// the classes' definition, the size class up to the slabs' top class, for every slab size
    /// the policy names or the heap chooses, and for layouts from the smallest to the largest.
    #[test]
    fn slab_class_is_the_size_class_up_to_the_slabs_top_class() {
        let policy = |shift: u32| Policy {
            slab_size: 1_usize << shift,
            ..Policy::DEFAULT
        };
        let named = (MIN_SLAB_SIZE.trailing_zeros()..=SLAB_SIZE.trailing_zeros())
            .map(|shift| SizeClassPools::with_policy(FreeListAllocator::empty(), policy(shift)));
        let chosen = [0, 8 << 10, 24 << 10, 100 << 10, 1 << 30].map(|memory_bytes| {
            let mut pools = SizeClassPools::new(FreeListAllocator::empty());
            assert!(pools.size_slabs_for(memory_bytes));
            pools
        });
        let step = if cfg!(miri) { 61 } else { 1 };
        let mut layouts: Vec<Layout> = (0..=4200)
            .step_by(step)
            .flat_map(|size| [1, 8, 16, 64, 256, 2048, 4096].map(|align| (size, align)))
            .map(|(size, align)| Layout::from_size_align(size, align).unwrap())
            .collect();
        let widest = 1 << (usize::BITS - 2);
        layouts.extend([
            Layout::from_size_align(0, widest).unwrap(),
            Layout::from_size_align(isize::MAX.unsigned_abs(), 1).unwrap(),
        ]);
        for pools in named.chain(chosen) {
            let top_class = pools.geometry().top_class();
            for &layout in &layouts {
                let by_class = class_of(layout).filter(|&class| class <= top_class);
                assert_eq!(pools.slab_class(layout), by_class, "{layout:?}");
            }
        }
    }
}
