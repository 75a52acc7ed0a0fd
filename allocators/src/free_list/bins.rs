//! Segregated free lists ("bins") and the fit policy: which free block serves a request.
//!
//! Free blocks are kept in one doubly linked list per *size class*. Classes are linear below
//! 256 bytes (one per 16-byte granule) and then split every power of two into 16 equal steps,
//! like TLSF. Two bitmaps record which lists are non-empty: one bit per power of two (the first
//! level) and, for each, one bit per step (the second level).
//!
//! ```text
//!   first level  fl_map: 0b…0110          (bit f: some class of level f is non-empty)
//!                              │
//!   second level sl_map[f]: 0b0000_0000_0001_0100   (bit s: class f·16+s is non-empty)
//!                                              │ │
//!   heads[f·16+s] ──► [free block] ⇄ [free block] ⇄ … (newest first)
//!
//!   class:  0…15 → sizes 0,16,…,240 (exact)   16…31 → 256…496 by 16   32…47 → 512…992 by 32 …
//! ```
//!
//! *Finding* a fit is two bit scans: round the request up to the next class boundary, so that
//! every block of the first non-empty class at or above it is large enough, and take that list's
//! head. This is O(1) whatever the number of free blocks, where the textbook single
//! address-ordered list (`linked_list_allocator`, the `basic_allocator` seed) walks every block
//! smaller than the request, O(n) per allocation (and per free, to find the insertion point).
//! Rounding up can miss a block of the request's own class that would have fitted; only when the
//! O(1) search fails, the first [`OWN_CLASS_SCAN`] blocks of that class are tried before the heap
//! grows, a bounded cost.
//!
//! *Cost*: 400 list heads (one word each: 3.2 KiB on 64-bit) plus 25 half-words of bitmap. Sizes
//! of 4 GiB and more share the last class; for them only the bounded scan applies.

use super::tag::{Block, CallerSpan, GRANULE, Links};

/// Second-level bits: each power of two is split into `1 << SL_BITS` classes.
const SL_BITS: u32 = 4;
/// Classes per first-level entry.
const SL_COUNT: usize = 1 << SL_BITS;
/// Sizes below this have one class per granule.
const LINEAR_LIMIT: usize = GRANULE << SL_BITS;
/// First-level entries: up to sizes of 2^32.
const FL_COUNT: usize = 25;
/// Number of size classes.
pub(super) const CLASS_COUNT: usize = FL_COUNT * SL_COUNT;
/// How many blocks of the request's own class are tried when the O(1) search fails.
pub(super) const OWN_CLASS_SCAN: usize = 16;

/// The class a free block of `size` bytes belongs to.
pub(super) fn class_of(size: usize) -> usize {
    geometric_class(size).min(CLASS_COUNT - 1)
}

/// The class of `size` without the cap at the last class. Branch-free, one bit scan: with
/// `log` the power of two of `size` (at least that of [`LINEAR_LIMIT`]), `size >> (log -
/// SL_BITS)` runs from `SL_COUNT` to `2 * SL_COUNT - 1` within a level, so adding the level's
/// base gives the class; below [`LINEAR_LIMIT`] the same formula gives `size / GRANULE`.
fn geometric_class(size: usize) -> usize {
    let log = level_log(size);
    level_base(log) + (size >> (log - SL_BITS))
}

/// `size`'s power of two, but at least [`LINEAR_LIMIT`]'s (so that the linear classes share
/// the geometric formula).
fn level_log(size: usize) -> u32 {
    (size | LINEAR_LIMIT).ilog2()
}

/// The class number that, added to `size >> (log - SL_BITS)`, gives the class of a size whose
/// power of two is `log`: the level's first class minus `SL_COUNT`.
fn level_base(log: u32) -> usize {
    (log - LINEAR_LIMIT.ilog2()) as usize * SL_COUNT
}

/// The smallest size of class `class`.
pub(super) fn class_floor(class: usize) -> usize {
    if class < SL_COUNT {
        return class * GRANULE;
    }
    let level = class / SL_COUNT;
    let step = class % SL_COUNT;
    (SL_COUNT + step) << (level as u32 + LINEAR_LIMIT.ilog2() - SL_BITS - 1)
}

/// Whether blocks of sizes `a` and `b` share a class, without computing either class: both
/// sizes agree on their bits from the larger one's class step up (one bit scan). Sizes of the
/// last class that differ in those bits count as different: callers then take the general path.
fn same_class(a: usize, b: usize) -> bool {
    let shift = level_log(a | b) - SL_BITS;
    a >> shift == b >> shift
}

/// The first class whose blocks are all at least `size` bytes, if there is one: `size`
/// rounded up to the next class boundary (one step of its own level), then its class. Small
/// sizes (the common requests) take a short branch; the others one bit scan.
fn class_at_least(size: usize) -> Option<usize> {
    if size < LINEAR_LIMIT {
        return Some(size.div_ceil(GRANULE));
    }
    let log = size.ilog2();
    // `size >= LINEAR_LIMIT`, so `size - 1` rounds up without overflow.
    let class = level_base(log) + ((size - 1) >> (log - SL_BITS)) + 1;
    (class < CLASS_COUNT).then_some(class)
}

/// A listed free block that serves a request: the block, its size and its class.
#[derive(Clone, Copy)]
pub(super) struct Fit {
    pub(super) block: Block,
    pub(super) size: usize,
    pub(super) class: usize,
}

/// The free lists with their bitmaps.
pub(super) struct Bins {
    heads: [Option<Block>; CLASS_COUNT],
    fl_map: u32,
    sl_map: [u16; FL_COUNT],
}

impl Bins {
    /// Empty bins.
    pub(super) const fn new() -> Self {
        Self {
            heads: [None; CLASS_COUNT],
            fl_map: 0,
            sl_map: [0; FL_COUNT],
        }
    }

    /// The first block of class `class`'s list.
    pub(super) fn head(&self, class: usize) -> Option<Block> {
        self.heads[class]
    }

    /// Whether the bitmaps mark class `class` as non-empty.
    pub(super) fn is_marked(&self, class: usize) -> bool {
        let level = class / SL_COUNT;
        self.fl_map & (1 << level) != 0 && self.sl_map[level] & (1 << (class % SL_COUNT)) != 0
    }

    fn mark(&mut self, class: usize) {
        let level = class / SL_COUNT;
        self.sl_map[level] |= 1 << (class % SL_COUNT);
        self.fl_map |= 1 << level;
    }

    fn unmark(&mut self, class: usize) {
        let level = class / SL_COUNT;
        self.sl_map[level] &= !(1 << (class % SL_COUNT));
        if self.sl_map[level] == 0 {
            self.fl_map &= !(1 << level);
        }
    }

    /// Puts a free block of `size` bytes at the head of its class's list; its links go through
    /// the caller's pointer where they lie in `caller`'s span. O(1).
    ///
    /// # Safety
    /// `block` must be a free block of `size` bytes, in no list yet.
    pub(super) unsafe fn push(&mut self, block: Block, size: usize, caller: Option<CallerSpan>) {
        let class = class_of(size);
        let next = self.heads[class];
        // SAFETY: `block` is free, so its payload holds the links; `next` is a listed free block.
        unsafe {
            block.write_links(Links { next, prev: None }, caller);
            match next {
                Some(next) => (*next.links()).prev = Some(block),
                // The class was empty: only now does its bit change.
                None => self.mark(class),
            }
        }
        self.heads[class] = Some(block);
    }

    /// Takes a free block of `size` bytes out of its list. O(1).
    ///
    /// # Safety
    /// `block` must be a listed free block of `size` bytes.
    pub(super) unsafe fn unlink(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.unlink_from(block, || class_of(size)) }
    }

    /// Takes a free block of class `class` out of its list. O(1).
    ///
    /// # Safety
    /// `block` must be a listed free block of class `class`.
    pub(super) unsafe fn unlink_in(&mut self, block: Block, class: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.unlink_from(block, || class) }
    }

    /// Takes a listed free block out of its list; its class (`class`, computed only when the
    /// block heads its list) says which head and bit may change.
    ///
    /// # Safety
    /// `block` must be a listed free block of the class `class` returns.
    unsafe fn unlink_from(&mut self, block: Block, class: impl FnOnce() -> usize) {
        // SAFETY: `block` and its list neighbours are listed free blocks, whose payloads hold
        // valid links.
        unsafe {
            let Links { next, prev } = block.links().read();
            if let Some(next) = next {
                (*next.links()).prev = prev;
            }
            match prev {
                Some(prev) => (*prev.links()).next = next,
                None => {
                    let class = class();
                    self.heads[class] = next;
                    if next.is_none() {
                        self.unmark(class);
                    }
                }
            }
        }
    }

    /// Replaces the listed free block `old` (`old_size` bytes) by the unlisted free block `new`
    /// (`new_size` bytes): when both sizes share a class, `new` takes `old`'s place in the list
    /// (no bitmap change), else `old` is unlinked and `new` pushed. O(1).
    ///
    /// This is the common step of splitting a free block and of merging into one: the free
    /// block changes its start or its size but usually stays in its class. `new`'s links go
    /// through the caller's pointer where they lie in `caller`'s span.
    ///
    /// # Safety
    /// `old` must be a listed free block of `old_size` bytes; `new` a free block of `new_size`
    /// bytes in no list, whose links do not overlap `old`'s unless `new == old`.
    #[inline]
    pub(super) unsafe fn relocate(
        &mut self,
        old: Block,
        old_size: usize,
        new: Block,
        new_size: usize,
        caller: Option<CallerSpan>,
    ) {
        // SAFETY: forwarded to the caller.
        unsafe { self.relocate_from(old, old_size, || class_of(old_size), new, new_size, caller) }
    }

    /// [`relocate`](Self::relocate) for an `old` block whose class `old_class` is known, outside
    /// any free (no caller's span).
    ///
    /// # Safety
    /// As for [`relocate`](Self::relocate); `old_class` is `old`'s class.
    #[inline]
    pub(super) unsafe fn relocate_in(
        &mut self,
        old: Block,
        old_size: usize,
        old_class: usize,
        new: Block,
        new_size: usize,
    ) {
        // SAFETY: forwarded to the caller.
        unsafe { self.relocate_from(old, old_size, || old_class, new, new_size, None) }
    }

    /// The work of [`relocate`](Self::relocate); `old_class` gives `old`'s class, asked for only
    /// when it is needed.
    ///
    /// # Safety
    /// As for [`relocate`](Self::relocate).
    #[inline]
    unsafe fn relocate_from(
        &mut self,
        old: Block,
        old_size: usize,
        old_class: impl FnOnce() -> usize,
        new: Block,
        new_size: usize,
        caller: Option<CallerSpan>,
    ) {
        if !same_class(old_size, new_size) {
            // SAFETY: forwarded to the caller.
            unsafe {
                self.unlink_from(old, old_class);
                self.push(new, new_size, caller);
            }
            return;
        }
        // SAFETY: `old` and its list neighbours are listed free blocks with valid links;
        // `new`'s payload is free memory that holds links (read before write, so `new == old`
        // is fine).
        unsafe {
            let links = old.links().read();
            let (next, prev) = (links.next, links.prev);
            new.write_links(links, caller);
            if let Some(next) = next {
                (*next.links()).prev = Some(new);
            }
            match prev {
                Some(prev) => (*prev.links()).next = Some(new),
                None => self.heads[old_class()] = Some(new),
            }
        }
    }

    /// The first non-empty class at or above `class`: two bit scans.
    fn first_marked_from(&self, class: usize) -> Option<usize> {
        let level = class / SL_COUNT;
        let here = self.sl_map[level] & (u16::MAX << (class % SL_COUNT));
        if here != 0 {
            return Some(level * SL_COUNT + here.trailing_zeros() as usize);
        }
        let above = self.fl_map & (u32::MAX << (level + 1));
        if above == 0 {
            return None;
        }
        let level = above.trailing_zeros() as usize;
        Some(level * SL_COUNT + self.sl_map[level].trailing_zeros() as usize)
    }

    /// A listed free block of at least `size` bytes, with its size; it stays listed (the
    /// caller unlinks or [`relocate`](Self::relocate)s it). O(1) by bitmap, or a scan of at
    /// most [`OWN_CLASS_SCAN`] blocks of `size`'s own class.
    ///
    /// # Safety
    /// The bins must hold only valid free blocks whose tags give their sizes.
    #[inline(always)]
    pub(super) unsafe fn find_fit(&self, size: usize) -> Option<Fit> {
        if let Some(class) = class_at_least(size).and_then(|class| self.first_marked_from(class)) {
            let block = self.heads[class]?;
            // SAFETY: listed blocks are free blocks with valid tags (the caller's promise).
            let size = unsafe { block.tag() }.size();
            return Some(Fit { block, size, class });
        }
        // SAFETY: forwarded to the caller.
        unsafe { self.scan_own_class(size) }
    }

    /// Tries the first few blocks of `size`'s own class, first fit.
    ///
    /// # Safety
    /// As for [`find_fit`](Self::find_fit).
    unsafe fn scan_own_class(&self, size: usize) -> Option<Fit> {
        let class = class_of(size);
        let mut cursor = self.heads[class];
        for _ in 0..OWN_CLASS_SCAN {
            let block = cursor?;
            // SAFETY: listed blocks are free blocks with valid tags and links.
            let (found, next) = unsafe { (block.tag().size(), (*block.links()).next) };
            if found >= size {
                return Some(Fit {
                    block,
                    size: found,
                    class,
                });
            }
            cursor = next;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_exact_below_256_then_geometric() {
        assert_eq!(class_of(32), 2);
        assert_eq!(class_of(240), 15);
        assert_eq!(class_of(256), 16);
        assert_eq!(class_of(272), 17);
        assert_eq!(class_of(511), 31);
        assert_eq!(class_of(512), 32);
        assert_eq!(class_of(544), 33);
        assert_eq!(class_of(usize::MAX / 2), CLASS_COUNT - 1);
    }

    #[test]
    fn every_class_starts_at_its_floor() {
        for class in 1..CLASS_COUNT {
            let floor = class_floor(class);
            assert_eq!(class_of(floor), class, "class {class}");
            assert_eq!(class_of(floor - 1), class - 1, "below class {class}");
        }
    }

    #[test]
    fn same_class_agrees_with_class_of() {
        let sizes = (32..4096)
            .step_by(16)
            .chain([1 << 20, (1 << 20) + 4096, 3 << 19]);
        let sizes: std::vec::Vec<usize> = sizes.collect();
        let step = if cfg!(miri) { 37 } else { 1 };
        for &a in sizes.iter().step_by(step) {
            for &b in &sizes {
                assert_eq!(same_class(a, b), class_of(a) == class_of(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn rounding_up_only_reaches_classes_that_fit() {
        let limit = if cfg!(miri) { 5_000 } else { 100_000 };
        for size in (32..limit).step_by(16) {
            let class = class_at_least(size).unwrap();
            assert!(class_floor(class) >= size);
            assert!(class == 0 || class_floor(class - 1) < size);
        }
        assert_eq!(class_at_least(usize::MAX / 2), None);
    }
}
