//! The shadow model: what must hold after every operation, whatever the allocator.
//!
//! The model remembers each live block by address, with its layout and an id. Each block is
//! filled with a pattern derived from its id ([`pattern_byte`]), so a block that another
//! block overwrote, or that a move did not copy, shows up when it is checked:
//!
//! ```text
//!   live:  addr ─► (id, layout)        sorted by address, so overlap = a neighbour check
//!   block: [p(id,0) p(id,1) p(id,2) ...]   checked before a free or a realloc,
//!                                          and the prefix again after a realloc
//! ```
//!
//! After every step [`Harness::check`] verifies: blocks pairwise disjoint, aligned, inside the
//! allocator's memory; the allocator's counters equal the model's sums; the allocator's own
//! consistency check passes. [`Harness::finish`] frees everything and checks that nothing
//! leaked: the allocator reports all free and (where the design returns all memory) the
//! largest block a fresh allocator could give fits again.

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::ptr::NonNull;

use crate::Subject;

/// One step of a test sequence. `pick` selects a live block (modulo their number; ignored
/// when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Allocate `size` bytes aligned to `align` (a power of two).
    Allocate {
        /// Bytes requested (zero allowed).
        size: usize,
        /// Alignment requested.
        align: usize,
    },
    /// Free a live block.
    Free {
        /// Which live block, in address order.
        pick: usize,
    },
    /// Free a live block through the checked API with a layout of `size` and `align`, right or
    /// wrong: a refusal must change nothing; an acceptance frees the block. (Subjects without a
    /// checked free skip it.)
    FreeWith {
        /// Which live block, in address order.
        pick: usize,
        /// The size of the layout passed.
        size: usize,
        /// The alignment of the layout passed.
        align: usize,
    },
    /// Free a pointer `offset` bytes inside a live block (8 to 63, within the block) through
    /// the checked API: it must be refused and change nothing.
    FreeInterior {
        /// Which live block, in address order.
        pick: usize,
        /// How far into the block.
        offset: usize,
    },
    /// Resize a live block to `new_size` bytes aligned to `new_align` (the old alignment for
    /// subjects that cannot change it).
    Reallocate {
        /// Which live block, in address order.
        pick: usize,
        /// The new size (zero allowed).
        new_size: usize,
        /// The new alignment (a power of two).
        new_align: usize,
    },
    /// Hand `size` more bytes of fresh memory to the allocator at run time (designs that take
    /// regions at run time; the others skip it). Later blocks may come from it.
    Claim {
        /// Bytes of the new memory.
        size: usize,
    },
}

/// The byte at `offset` of the block with id `id`. O(1).
#[must_use]
pub fn pattern_byte(id: u64, offset: usize) -> u8 {
    let mixed = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (offset as u64).wrapping_mul(0x2545);
    (mixed ^ (mixed >> 32) ^ (mixed >> 56)) as u8
}

/// A live block as the model knows it.
#[derive(Debug, Clone, Copy)]
struct Live {
    ptr: NonNull<u8>,
    id: u64,
    layout: Layout,
}

impl Live {
    /// The bytes the block occupies at least: a zero-size block still owns one byte's worth
    /// of address (every allocator here gives it a real block).
    fn span(&self) -> usize {
        self.layout.size().max(1)
    }

    /// Fills the block with its pattern (see [`patterned_offsets`] for how much of it).
    fn fill(&self) {
        let base = self.ptr.as_ptr();
        for offset in patterned_offsets(self.layout.size()) {
            // SAFETY: a live block handed out for `layout`, and `offset < layout.size()`, so the
            // byte is ours to write.
            unsafe { base.add(offset).write(pattern_byte(self.id, offset)) };
        }
    }

    /// Checks that the patterned bytes among the first `len` still hold the pattern (the
    /// pattern `fill` wrote for this block's layout).
    fn verify(&self, len: usize, what: &str) {
        debug_assert!(len <= self.layout.size());
        let base = self.ptr.as_ptr();
        // SAFETY: a live block of at least `len` bytes, filled by `fill` (or copied by the
        // allocator from such a block), and `offset < len`.
        let damaged = patterned_offsets(self.layout.size())
            .take_while(|&offset| offset < len)
            .find(|&offset| unsafe { base.add(offset).read() } != pattern_byte(self.id, offset));
        if let Some(offset) = damaged {
            panic!(
                "{what}: block {} at {:p} ({:?}) damaged at offset {offset}",
                self.id, self.ptr, self.layout
            );
        }
    }
}

/// Bytes at each end of a block that carry the pattern under Miri.
const MIRI_PATTERN_EDGE: usize = 64;

/// Under Miri, [`Harness::finish`] checks the model after every this many frees.
const MIRI_CHECK_STRIDE: usize = 8;

/// The offsets of a `len`-byte block that carry its pattern: every byte natively; under Miri,
/// where each byte costs thousands of interpreted instructions, the first and last
/// [`MIRI_PATTERN_EDGE`] bytes, which are where a neighbour's overlap or a short copy shows.
pub(crate) fn patterned_offsets(len: usize) -> impl Iterator<Item = usize> {
    let (head, tail_start) = if cfg!(miri) && len > 2 * MIRI_PATTERN_EDGE {
        (MIRI_PATTERN_EDGE, len - MIRI_PATTERN_EDGE)
    } else {
        (len, len)
    };
    (0..head).chain(tail_start..len)
}

/// A subject and the shadow model of its live blocks.
pub struct Harness<S: Subject> {
    subject: S,
    live: BTreeMap<usize, Live>,
    next_id: u64,
    fresh_largest: Option<usize>,
}

impl<S: Subject> Harness<S> {
    /// Starts a model over a fresh `subject`, first measuring (by bisection, O(log capacity)
    /// allocations) the largest block it gives, for the leak check in [`finish`](Self::finish).
    pub fn new(mut subject: S) -> Self {
        let fresh_largest = if S::RETURNS_ALL_MEMORY {
            largest_block(&mut subject)
        } else {
            None
        };
        Self {
            subject,
            live: BTreeMap::new(),
            next_id: 0,
            fresh_largest,
        }
    }

    /// The subject, e.g. for calls outside the model. O(1).
    pub fn subject(&mut self) -> &mut S {
        &mut self.subject
    }

    /// The number of live blocks. O(1).
    #[must_use]
    pub fn live_blocks(&self) -> usize {
        self.live.len()
    }

    /// Applies every operation, checking the model after each.
    pub fn run(&mut self, ops: &[Op]) {
        for &op in ops {
            self.apply(op);
            self.check();
        }
    }

    /// Applies one operation. Returns whether it succeeded (a failed allocation or
    /// reallocation is allowed; the model checks that it changed nothing).
    pub fn apply(&mut self, op: Op) -> bool {
        match op {
            Op::Allocate { size, align } => {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                self.allocate(layout)
            }
            Op::Free { pick } => self.pick(pick).is_some_and(|live| {
                self.free(live);
                true
            }),
            Op::FreeWith { pick, size, align } => {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                self.pick(pick)
                    .is_some_and(|live| self.free_with(live, live.ptr.as_ptr(), layout))
            }
            Op::FreeInterior { pick, offset } => self.pick(pick).is_some_and(|live| {
                let within = live.layout.size().min(MIRI_PATTERN_EDGE);
                if within <= 8 {
                    return false;
                }
                let ptr = live.ptr.as_ptr().wrapping_add(8 + offset % (within - 8));
                let accepted = self.free_with(live, ptr, live.layout);
                assert!(!accepted, "{}: freed an interior pointer", S::NAME);
                false
            }),
            Op::Reallocate {
                pick,
                new_size,
                new_align,
            } => self.pick(pick).is_some_and(|live| {
                let align = if S::CHANGES_ALIGNMENT {
                    new_align
                } else {
                    live.layout.align()
                };
                let new = Layout::from_size_align(new_size, align).expect("a valid layout");
                self.reallocate(live, new)
            }),
            Op::Claim { size } => self.subject.claim(size),
        }
    }

    /// Allocates a block for `layout` and records it; `false` if the allocator refused.
    pub fn allocate(&mut self, layout: Layout) -> bool {
        let supported = self.subject.supports(layout);
        let Some(ptr) = self.subject.allocate(layout) else {
            self.check_failure(layout, supported, "allocate");
            return false;
        };
        assert!(supported, "{}: served an unsupported {layout:?}", S::NAME);
        let live = Live {
            ptr,
            id: self.next_id,
            layout,
        };
        self.next_id += 1;
        self.admit(live, "allocate");
        live.fill();
        true
    }

    /// After a failed request for `layout`: the allocator's guarantee must allow it (see
    /// [`Design::explain_failure`](crate::Design::explain_failure)).
    fn check_failure(&self, layout: Layout, supported: bool, what: &str) {
        if !supported || (layout.size() == 0 && !S::SERVES_ZERO_SIZE) {
            return;
        }
        if let Err(why) = self.subject.explain_failure(layout) {
            panic!("{}: {what} {layout:?} failed, but {why}", S::NAME);
        }
    }

    /// Checks a new block's placement and records it.
    fn admit(&mut self, live: Live, what: &str) {
        let addr = live.ptr.addr().get();
        assert!(
            addr.is_multiple_of(live.layout.align()),
            "{what}: {:p} not aligned for {:?}",
            live.ptr,
            live.layout
        );
        assert!(
            self.subject.holds(live.ptr, live.span()),
            "{what}: {:p} ({:?}) outside the allocator's memory",
            live.ptr,
            live.layout
        );
        if let Some((_, before)) = self.live.range(..=addr).next_back() {
            let end = before.ptr.addr().get() + before.span();
            assert!(
                end <= addr,
                "{what}: {:p} overlaps block {}",
                live.ptr,
                before.id
            );
        }
        if let Some((&next, after)) = self.live.range(addr..).next() {
            assert!(
                addr + live.span() <= next,
                "{what}: {:p} overlaps block {}",
                live.ptr,
                after.id
            );
        }
        self.live.insert(addr, live);
    }

    /// The live block number `pick` modulo the count, in address order.
    fn pick(&self, pick: usize) -> Option<Live> {
        let count = self.live.len();
        (count > 0).then(|| *self.live.values().nth(pick % count).expect("in range"))
    }

    /// Checks a block's contents and frees it.
    fn free(&mut self, live: Live) {
        live.verify(live.layout.size(), "before free");
        self.live.remove(&live.ptr.addr().get());
        // SAFETY: a live block of the subject with its layout.
        let freed = unsafe { self.subject.deallocate(live.ptr, live.layout) };
        assert_eq!(freed, Ok(()), "{}: refused a valid free", S::NAME);
    }

    /// Frees `ptr` (the start of `live`, or inside it) with `layout` through the checked API;
    /// a refusal must leave everything as it was, an acceptance frees `live`. Returns whether
    /// the free was accepted.
    fn free_with(&mut self, live: Live, ptr: *mut u8, layout: Layout) -> bool {
        live.verify(live.layout.size(), "before a checked free");
        let before = self.subject.accounting();
        // SAFETY: `ptr` is the start of a live block, or 8 to 63 bytes into its patterned
        // first bytes: what the checked free accepts.
        match unsafe { self.subject.checked_free(ptr, layout) } {
            None => false,
            Some(Ok(())) => {
                assert_eq!(ptr, live.ptr.as_ptr(), "{}: freed a non-block", S::NAME);
                self.live.remove(&live.ptr.addr().get());
                true
            }
            Some(Err(_)) => {
                assert_eq!(
                    self.subject.accounting(),
                    before,
                    "{}: a refusal changed the counts",
                    S::NAME
                );
                live.verify(live.layout.size(), "after a refused free");
                false
            }
        }
    }

    /// Resizes a block; on success checks that the prefix moved with it.
    fn reallocate(&mut self, live: Live, new: Layout) -> bool {
        live.verify(live.layout.size(), "before realloc");
        let supported = self.subject.supports(new);
        // SAFETY: a live block of the subject with its layout.
        let Some(ptr) = (unsafe { self.subject.reallocate(live.ptr, live.layout, new) }) else {
            live.verify(live.layout.size(), "after a failed realloc");
            self.check_failure(new, supported, "realloc");
            return false;
        };
        assert!(supported, "{}: resized to an unsupported {new:?}", S::NAME);
        self.live.remove(&live.ptr.addr().get());
        let moved = Live {
            ptr,
            id: live.id,
            layout: new,
        };
        self.admit(moved, "realloc");
        // The bytes moved are those filled for the old layout, now at the new address.
        Live { ptr, ..live }.verify(live.layout.size().min(new.size()), "after realloc");
        moved.fill();
        true
    }

    /// Checks every invariant of the model against the subject. O(live blocks) plus the
    /// subject's own consistency check.
    pub fn check(&self) {
        let accounting = self.subject.accounting();
        let name = S::NAME;
        assert_eq!(
            accounting.live_blocks,
            self.live.len(),
            "{name}: live blocks"
        );
        if let Some((in_use, own)) = accounting.in_use_bytes {
            let bound: Option<usize> = self
                .live
                .values()
                .map(|live| self.subject.max_in_use(live.layout))
                .sum();
            if let Some(bound) = bound.map(|bound| bound + own) {
                assert!(
                    in_use <= bound,
                    "{name}: live blocks take {in_use} bytes, more than the {bound} promised"
                );
            }
        }
        if let Some(held) = accounting.held_bytes {
            let expected: usize = self
                .live
                .values()
                .filter_map(|live| self.subject.held_bytes(live.layout))
                .sum();
            assert_eq!(held, expected, "{name}: held bytes");
        }
        let mut previous_end = 0;
        for live in self.live.values() {
            assert!(
                previous_end <= live.ptr.addr().get(),
                "{name}: blocks overlap"
            );
            previous_end = live.ptr.addr().get() + live.span();
        }
        if let Err(problem) = self.subject.check_consistency() {
            panic!("{name}: inconsistent: {problem}");
        }
    }

    /// Checks every live block's contents, frees them all, and checks that nothing leaked.
    /// Returns the subject.
    ///
    /// The model is checked after every free natively, and after every eighth under Miri:
    /// there the subject's consistency check costs several times a free, and checking after
    /// every free took most of a model test's time. The final leak check covers the whole heap
    /// either way.
    pub fn finish(mut self) -> S {
        for live in self.live.values() {
            live.verify(live.layout.size(), "at the end");
        }
        let stride = if cfg!(miri) { MIRI_CHECK_STRIDE } else { 1 };
        while let Some(live) = self.pick(0) {
            self.free(live);
            if self.live.len().is_multiple_of(stride) {
                self.check();
            }
        }
        if let Err(problem) = self.subject.check_all_free() {
            panic!("{}: leaked: {problem}", S::NAME);
        }
        if S::RETURNS_ALL_MEMORY
            && let Some(largest) = self.fresh_largest
        {
            let layout = Layout::from_size_align(largest, 1).expect("a valid layout");
            assert!(
                self.allocate(layout),
                "{}: a fresh allocator's largest block ({largest} bytes) no longer fits",
                S::NAME
            );
            let live = self.pick(0).expect("just allocated");
            self.free(live);
        }
        self.subject
    }
}

/// The largest size the subject serves (alignment 1) right now, by bisection; `None` if it
/// serves nothing. Leaves nothing allocated.
fn largest_block<S: Subject>(subject: &mut S) -> Option<usize> {
    let fits = |subject: &mut S, size: usize| {
        let layout = Layout::from_size_align(size, 1).expect("a valid layout");
        subject.allocate(layout).map(|ptr| {
            // SAFETY: just allocated with this layout.
            let freed = unsafe { subject.deallocate(ptr, layout) };
            assert_eq!(freed, Ok(()), "{}: refused a valid free", S::NAME);
        })
    };
    let smallest = [0, 1]
        .into_iter()
        .find(|&size| fits(subject, size).is_some())?;
    let (mut good, mut bad) = (smallest, subject.capacity() + 1);
    while bad - good > 1 {
        let middle = good + (bad - good) / 2;
        if fits(subject, middle).is_some() {
            good = middle;
        } else {
            bad = middle;
        }
    }
    Some(good)
}
