//! Segregated free lists ("bins") and the fit policy: which free block serves a request.
//!
//! Free blocks are kept in one doubly linked list per *size class*. Classes are linear below
//! 1 KiB (one per 16-byte granule) and then split every power of two into 16 equal steps,
//! like TLSF. Two bitmaps record which lists are non-empty: one bit per class, in machine
//! words (the class map), and one bit per word of it that is not zero (the word map).
//!
//! ```text
//!   word map   0b…0101               (bit w: word w of the class map is not zero)
//!                    │
//!   class map  word 0: 0b…0001_0100   (bit b of word w: class w·64+b is non-empty, 64-bit)
//!                          │ │
//!   heads[c] ──► [free block] ⇄ [free block] ⇄ … (newest first)
//!
//!   class:  0…63 → sizes 0,16,…,1008 (exact)   64…79 → 1024…1984 by 64   80…95 → 2048… by 128 …
//! ```
//!
//! *Finding* a fit is one bit scan, or three: round the request up to the next class boundary,
//! so that every block of the first non-empty class at or above it is large enough, and take
//! that list's head. The scan of the request's word of the class map finds that class when the
//! word has one; otherwise the word map gives the next word that is not zero, and a scan of it
//! the class. This is O(1) whatever the number of free blocks, where the textbook single
//! address-ordered list (`linked_list_allocator`, the `basic_allocator` seed) walks every block
//! smaller than the request, O(n) per allocation (and per free, to find the insertion point).
//! Rounding up can miss a block of the request's own class that would have fitted; only when the
//! O(1) search fails, the first [`OWN_CLASS_SCAN`] blocks of that class are tried before the heap
//! grows, a bounded cost.
//!
//! *Cost*: 416 list heads (one word each: 3.3 KiB on 64-bit) plus the bitmaps: a word map and
//! a class map of 7 words on 64-bit (64 bytes), of 13 words on 32-bit (56 bytes). The last
//! class starts at 3.875 GiB and takes every larger size: for a request above its start no
//! class holds only blocks that fit, and only the bounded scan applies.

use super::block::{Block, GRANULE, Links, Prev};

/// Each power of two from [`LINEAR_LIMIT`] on is split into `1 << STEP_BITS` classes.
const STEP_BITS: u32 = 4;
/// Classes per level: per power of two, and per group of the linear classes.
const STEPS: usize = 1 << STEP_BITS;
/// Sizes below this have one class per granule (64 classes), found with one shift: most
/// requests and most free blocks are this small.
const LINEAR_LIMIT: usize = 1024;
/// The classes of sizes below [`LINEAR_LIMIT`]: four levels' worth.
const LINEAR_CLASSES: usize = LINEAR_LIMIT / GRANULE;
/// Levels: the linear classes' four, then one per power of two up to sizes of 2^32.
const LEVELS: usize = LINEAR_CLASSES / STEPS + (32 - LINEAR_LIMIT.ilog2() as usize);
/// Number of size classes.
pub(super) const CLASS_COUNT: usize = LEVELS * STEPS;
/// How many blocks of the request's own class are tried when the O(1) search fails.
pub(super) const OWN_CLASS_SCAN: usize = 16;

/// The class a free block of `size` bytes belongs to. Blocks below 1 KiB, the most common,
/// take a short branch (one shift).
#[inline]
pub(super) fn class_of(size: usize) -> usize {
    if size < LINEAR_LIMIT {
        return size / GRANULE;
    }
    geometric_class(size).min(CLASS_COUNT - 1)
}

/// The class of a `size` of at least [`LINEAR_LIMIT`] bytes, without the cap at the last
/// class. Branch-free, one bit scan: with `log` the power of two of `size`, `size >> (log -
/// STEP_BITS)` runs from `STEPS` to `2 * STEPS - 1` within a level, so adding the level's
/// base gives the class. (Smaller sizes give a class number that means nothing, and no
/// overflow.)
#[inline]
fn geometric_class(size: usize) -> usize {
    let log = (size | LINEAR_LIMIT).ilog2();
    level_base(log) + (size >> (log - STEP_BITS))
}

/// The class number that, added to `size >> (log - STEP_BITS)`, gives the class of a size whose
/// power of two is `log` (at least [`LINEAR_LIMIT`]'s): the level's first class minus
/// `STEPS`.
#[inline]
fn level_base(log: u32) -> usize {
    (log - LINEAR_LIMIT.ilog2()) as usize * STEPS + LINEAR_CLASSES - STEPS
}

/// The smallest size of class `class`.
pub(super) fn class_floor(class: usize) -> usize {
    if class < LINEAR_CLASSES {
        return class * GRANULE;
    }
    let level = (class - LINEAR_CLASSES) / STEPS;
    let step = class % STEPS;
    (STEPS + step) << (level as u32 + LINEAR_LIMIT.ilog2() - STEP_BITS)
}

/// The first class whose blocks are all at least `size` bytes (a multiple of the granule, at
/// least one), if there is one: the class after that of `size - 1`. A class holds every size
/// from its floor up to the next class's floor, so the class after the one holding `size - 1`
/// starts at or above `size`, and the one holding `size - 1` has blocks below it. The same
/// arithmetic as [`class_of`], for a smaller binary; small sizes (the common requests) take a
/// short branch. Always inline: at opt-level "z" it was a call on every allocation, and inline
/// its two copies are smaller than the call (measured: bench/notes.md).
#[inline(always)]
fn class_at_least(size: usize) -> Option<usize> {
    if size <= LINEAR_LIMIT {
        return Some(size.div_ceil(GRANULE));
    }
    let class = geometric_class(size - 1) + 1;
    (class < CLASS_COUNT).then_some(class)
}

/// The size from which every free block is found by [`Bins::find_head`] for a request of
/// `size` bytes: `size` rounded up to the next class boundary. `None` past the last class.
pub(super) fn guaranteed_fit(size: usize) -> Option<usize> {
    class_at_least(size).map(class_floor)
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
    /// Bit `w`: word `w` of `class_map` is not zero.
    word_map: usize,
    /// Bit `c % MAP_BITS` of word `c / MAP_BITS`: class `c`'s list is non-empty.
    class_map: [usize; MAP_WORDS],
}

/// Classes per word of the class map: whole machine words, so that a mask or a bit scan over
/// them is one instruction, and the 64 classes below 1 KiB share one word on 64-bit targets.
const MAP_BITS: usize = usize::BITS as usize;
/// Words of the class map.
const MAP_WORDS: usize = CLASS_COUNT.div_ceil(MAP_BITS);
const _: () = assert!(
    MAP_WORDS <= MAP_BITS,
    "the word map has a bit per class-map word"
);

impl Bins {
    /// Empty bins.
    pub(super) const fn new() -> Self {
        Self {
            heads: [None; CLASS_COUNT],
            word_map: 0,
            class_map: [0; MAP_WORDS],
        }
    }

    /// The first block of class `class`'s list.
    pub(super) fn head(&self, class: usize) -> Option<Block> {
        self.heads[class]
    }

    /// Whether the class map marks class `class` as non-empty (the word map follows the class
    /// map where [`maps_agree`](Self::maps_agree)).
    pub(super) fn is_marked(&self, class: usize) -> bool {
        self.class_map[class / MAP_BITS] & (1 << (class % MAP_BITS)) != 0
    }

    /// Whether the word map has a bit exactly for the class-map words that are not zero: the
    /// invariant that [`mark`](Self::mark) and [`unmark`](Self::unmark) keep, and that makes a
    /// search's bit scans land on a marked class. O(words).
    pub(super) fn maps_agree(&self) -> bool {
        let nonzero = self
            .class_map
            .iter()
            .enumerate()
            .fold(0, |map, (word, &bits)| map | usize::from(bits != 0) << word);
        self.word_map == nonzero
    }

    /// Marks class `class` non-empty. The word map's bit changes only when the class's word
    /// was zero (bit `w` of the word map is set exactly when word `w` is not zero).
    #[inline]
    fn mark(&mut self, class: usize) {
        let word = class / MAP_BITS;
        let bits = &mut self.class_map[word];
        // The word map changes only when the word was empty: seldom, with 64 classes a word.
        if *bits == 0 {
            self.word_map |= 1 << word;
        }
        *bits |= 1 << (class % MAP_BITS);
    }

    /// Marks class `class` empty; the word map's bit goes when the class's word becomes zero.
    ///
    /// # Safety
    /// `class` must be below [`CLASS_COUNT`].
    #[inline]
    unsafe fn unmark(&mut self, class: usize) {
        let word = class / MAP_BITS;
        debug_assert!(word < MAP_WORDS);
        // SAFETY: `class < CLASS_COUNT`, so `word < MAP_WORDS` (the caller's promise).
        let bits = unsafe { self.class_map.get_unchecked_mut(word) };
        *bits &= !(1 << (class % MAP_BITS));
        if *bits == 0 {
            self.word_map &= !(1 << word);
        }
    }

    /// Puts a free block of `size` bytes at the head of its class's list. O(1).
    ///
    /// # Safety
    /// `block` must be a free block of `size` bytes inside a region, in no list yet.
    #[inline]
    pub(super) unsafe fn push(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.push_to(block, class_of(size)) }
    }

    /// Puts a free block at the head of list `class`, which must be its size's class.
    ///
    /// # Safety
    /// As for [`push`](Self::push), with `class` the class of the block's size.
    #[inline]
    unsafe fn push_to(&mut self, block: Block, class: usize) {
        let next = self.heads[class];
        // SAFETY: `block` is free, so its payload holds the links; `next` is a listed free block.
        unsafe {
            block.links().write(Links {
                next,
                prev: Prev::list(class),
            });
            match next {
                Some(next) => (*next.links()).prev = Prev::block(block),
                // The class was empty: only now does its bit change.
                None => self.mark(class),
            }
        }
        self.heads[class] = Some(block);
    }

    /// Takes a listed free block out of its list. O(1), and no size needed: the first block of
    /// a list names its list (see [`Prev`]).
    ///
    /// # Safety
    /// `block` must be a listed free block.
    #[inline]
    pub(super) unsafe fn unlink(&mut self, block: Block) {
        // SAFETY: `block` and its list neighbours are listed free blocks, whose payloads hold
        // valid links.
        unsafe {
            let Links { next, prev } = block.links().read();
            if let Some(next) = next {
                // The successor of a list's first block becomes first, with the same `prev`.
                (*next.links()).prev = prev;
            }
            match prev.get() {
                Ok(prev) => (*prev.links()).next = next,
                Err(class) => self.pop_to(class, next),
            }
        }
    }

    /// Takes the head of class `class`'s list off it, leaving `next` (the head's successor)
    /// first; a `next` that was the head's successor already points back at the list.
    ///
    /// # Safety
    /// `class` must be below [`CLASS_COUNT`]: a [`Fit`]'s, or one a [`Prev`] named (both come
    /// from classes the bins use).
    #[inline(always)]
    unsafe fn pop_to(&mut self, class: usize, next: Option<Block>) {
        debug_assert!(class < CLASS_COUNT);
        // SAFETY: the caller's promise.
        unsafe {
            *self.heads.get_unchecked_mut(class) = next;
            if next.is_none() {
                self.unmark(class);
            }
        }
    }

    /// Takes the block `fit` found off its list. O(1).
    ///
    /// # Safety
    /// `fit` must come from [`find_head`](Self::find_head) or
    /// [`scan_own_class`](Self::scan_own_class), with no change to the bins since.
    #[inline]
    pub(super) unsafe fn take(&mut self, fit: Fit) {
        // SAFETY: the fit's block is a listed free block.
        unsafe { self.unlink(fit.block) }
    }

    /// Takes the block `fit` found, the head of its list, off that list. O(1), and shorter than
    /// [`take`](Self::take): a head's predecessor is its list, known from the fit.
    ///
    /// # Safety
    /// `fit` must come from [`find_head`](Self::find_head) with no change to the bins since.
    #[inline(always)]
    pub(super) unsafe fn take_head(&mut self, fit: Fit) {
        // SAFETY: the fit heads its list, so its `prev` names the list; its successor, if any,
        // is listed.
        unsafe {
            let Links { next, prev } = fit.block.links().read();
            if let Some(next) = next {
                (*next.links()).prev = prev;
            }
            self.pop_to(fit.class, next);
        }
    }

    /// The first non-empty class at or above `class`: one bit scan when its word of the class
    /// map has one, else two more.
    ///
    /// # Safety
    /// `class` must be below [`CLASS_COUNT`].
    #[inline(always)]
    unsafe fn first_marked_from(&self, class: usize) -> Option<usize> {
        let word = class / MAP_BITS;
        debug_assert!(word < MAP_WORDS);
        // SAFETY: `class < CLASS_COUNT` (the caller's promise), so `word < MAP_WORDS`.
        let here =
            unsafe { self.class_map.get_unchecked(word) } & (usize::MAX << (class % MAP_BITS));
        if here != 0 {
            return Some(word * MAP_BITS + here.trailing_zeros() as usize);
        }
        // `word + 1 <= MAP_WORDS <= MAP_BITS`: the shift stays below the word's width, or
        // clears it whole.
        let above = self.word_map & (usize::MAX << word << 1);
        if above == 0 {
            return None;
        }
        let word = above.trailing_zeros() as usize;
        debug_assert!(word < MAP_WORDS && self.class_map[word] != 0);
        // SAFETY: bit `w` of `word_map` is set exactly when `class_map[w]` is not zero (`mark`
        // and `unmark` keep it so), so `word < MAP_WORDS`, and the word has a bit: the class
        // its scan finds is a marked one, below `CLASS_COUNT`.
        let bits = unsafe { self.class_map.get_unchecked(word) };
        Some(word * MAP_BITS + bits.trailing_zeros() as usize)
    }

    /// The head of the first non-empty class whose blocks are all at least `size` bytes, with
    /// its size; it stays listed (the caller [`take_head`](Self::take_head)s or
    /// [`take`](Self::take)s it). O(1): one bit scan when the request's word of the class map
    /// has a class at or above it, else three.
    ///
    /// # Safety
    /// The bins must hold only valid free blocks whose tags give their sizes.
    #[inline(always)]
    pub(super) unsafe fn find_head(&self, size: usize) -> Option<Fit> {
        // SAFETY: `class_at_least` gives a class below `CLASS_COUNT`, or none.
        let class = unsafe { self.first_marked_from(class_at_least(size)?) }?;
        debug_assert!(class < CLASS_COUNT);
        // SAFETY: `first_marked_from` returns a marked class: below `CLASS_COUNT` (`mark` only
        // marks classes), and with a head (a class is marked exactly while its list is not
        // empty).
        let block = unsafe { self.heads.get_unchecked(class).unwrap_unchecked() };
        // SAFETY: listed blocks are free blocks with valid tags (the caller's promise).
        let size = unsafe { block.tag() }.size();
        Some(Fit { block, size, class })
    }

    /// When [`find_head`](Self::find_head) finds nothing: the first of the first few blocks of
    /// `size`'s own class that is large enough (rounding the request up to a class boundary
    /// skips them).
    ///
    /// # Safety
    /// As for [`find_head`](Self::find_head).
    pub(super) unsafe fn scan_own_class(&self, size: usize) -> Option<Fit> {
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
    fn classes_are_exact_below_1_kib_then_geometric() {
        assert_eq!(class_of(32), 2);
        assert_eq!(class_of(240), 15);
        assert_eq!(class_of(512), 32);
        assert_eq!(class_of(1008), 63);
        assert_eq!(class_of(1023), 63);
        assert_eq!(class_of(1024), 64);
        assert_eq!(class_of(1087), 64);
        assert_eq!(class_of(1088), 65);
        assert_eq!(class_of(2048), 80);
        assert_eq!(class_of(2048 + 128), 81);
        // Sizes past the last level (only 64-bit targets have them) share the last class.
        assert!(class_of(usize::MAX / 2) < CLASS_COUNT);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(class_of(1 << 40), CLASS_COUNT - 1);
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
    fn rounding_up_only_reaches_classes_that_fit() {
        let limit = if cfg!(miri) { 5_000 } else { 100_000 };
        for size in (32..limit).step_by(16) {
            let class = class_at_least(size).unwrap();
            assert!(class_floor(class) >= size);
            assert!(class == 0 || class_floor(class - 1) < size);
        }
        // A class whose blocks all fit exists up to the last level's floor (on 32-bit
        // targets, every size); past it, none.
        if let Some(class) = class_at_least(usize::MAX / 2) {
            assert!(class_floor(class) >= usize::MAX / 2);
        }
        #[cfg(target_pointer_width = "64")]
        assert_eq!(class_at_least(1 << 40), None);
    }
}

/// The bins against a model of their lists, over random sequences of every list operation: after
/// each one, every list holds the model's blocks in the model's order, every `next` and `prev`
/// link agrees (a list's first block names its list), and the bitmaps mark exactly the non-empty
/// classes. The blocks are fake: 32-byte slots of one buffer, each with a tag whose size picks
/// its class (the bins read nothing else of a block but its links).
#[cfg(test)]
mod list_model {
    use core::mem::MaybeUninit;
    use core::ptr::NonNull;
    use std::boxed::Box;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;
    use crate::free_list::block::{Tag, WORD};

    /// Fake blocks in the buffer.
    const SLOTS: usize = 24;
    /// Bytes per fake block: a tag and two links, rounded to the granule.
    const SLOT: usize = 32;

    /// Block sizes to pick from: several per class, in the linear classes and across levels.
    const SIZES: [usize; 14] = [
        32,
        48,
        1008,
        1024,
        1056,
        1088,
        4096,
        4160,
        1 << 20,
        (1 << 20) + 4096,
        3 << 19,
        1 << 30,
        // The first classes, and the last (from 3.875 GiB: the top bits of the last word).
        16,
        0xF800_0000,
    ];

    #[derive(Debug, Clone)]
    enum Op {
        /// Push slot `.0` (when unlisted) with size `SIZES[.1]`.
        Push(usize, usize),
        /// Unlink slot `.0` (when listed): the head, the last block or one in between.
        Unlink(usize),
        /// Take the fit for `SIZES[.0]` off its list.
        TakeFit(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let slot = 0..SLOTS;
        let size = 0..SIZES.len();
        prop_oneof![
            3 => (slot.clone(), size.clone()).prop_map(|(s, z)| Op::Push(s, z)),
            2 => slot.prop_map(Op::Unlink),
            1 => size.prop_map(Op::TakeFit),
        ]
    }

    /// The bins, their fake blocks, and the model: each class's slots, first block first.
    struct Harness {
        bins: Bins,
        /// The buffer, as `Box::into_raw` gave it: held as a raw pointer (not a `Box`, whose
        /// moves would assert unique access over the blocks' pointers), freed on drop.
        buffer: *mut [MaybeUninit<u128>],
        base: NonNull<u8>,
        sizes: [usize; SLOTS],
        lists: Vec<Vec<usize>>,
        /// The class whose list holds each slot, if any.
        class_of_slot: [Option<usize>; SLOTS],
    }

    impl Harness {
        fn new() -> Self {
            let buffer = Box::into_raw(Box::new_uninit_slice(SLOTS * SLOT / 16 + 1));
            // One word past a granule boundary, as real blocks sit.
            let base = NonNull::new(buffer.cast::<u8>()).unwrap();
            // SAFETY: the buffer has a spare 16 bytes for the offset.
            let base = unsafe { base.byte_add(16 - WORD) };
            Self {
                bins: Bins::new(),
                buffer,
                base,
                sizes: [0; SLOTS],
                lists: (0..CLASS_COUNT).map(|_| Vec::new()).collect(),
                class_of_slot: [None; SLOTS],
            }
        }

        fn block(&self, slot: usize) -> Block {
            // SAFETY: every slot lies inside the buffer.
            Block::at(unsafe { self.base.byte_add(slot * SLOT) })
        }

        fn slot_of(&self, block: Block) -> usize {
            (block.addr() - self.base.addr().get()) / SLOT
        }

        fn listed(&self, slot: usize) -> bool {
            self.class_of_slot[slot].is_some()
        }

        /// Puts `slot` first in list `class` of the model.
        fn insert_first(&mut self, class: usize, slot: usize) {
            self.lists[class].insert(0, slot);
            self.class_of_slot[slot] = Some(class);
        }

        /// Gives `slot` the tag of a free block of `size` bytes.
        fn tag(&mut self, slot: usize, size: usize) {
            self.sizes[slot] = size;
            // SAFETY: the slot's first word is inside the buffer, word-aligned.
            unsafe { self.block(slot).set_tag(Tag::free(size)) };
        }

        fn remove(&mut self, slot: usize) {
            if let Some(class) = self.class_of_slot[slot].take() {
                self.lists[class].retain(|&s| s != slot);
            }
        }

        /// The model's answer to `find_head(size)`: the first block of the first non-empty
        /// class whose blocks all fit.
        fn model_fit(&self, size: usize) -> Option<(usize, usize)> {
            let from = class_at_least(size)?;
            (from..CLASS_COUNT).find_map(|class| self.lists[class].first().map(|&s| (s, class)))
        }

        fn apply(&mut self, op: Op) {
            match op {
                Op::Push(slot, size) if !self.listed(slot) => {
                    let size = SIZES[size];
                    self.tag(slot, size);
                    // SAFETY: an unlisted fake block whose payload holds its links.
                    unsafe { self.bins.push(self.block(slot), size) };
                    self.insert_first(class_of(size), slot);
                }
                Op::Unlink(slot) if self.listed(slot) => {
                    // SAFETY: a listed block.
                    unsafe { self.bins.unlink(self.block(slot)) };
                    self.remove(slot);
                }
                Op::TakeFit(size) => {
                    let size = SIZES[size];
                    // SAFETY: the bins hold fake blocks with valid tags and links.
                    let fit = unsafe { self.bins.find_head(size) };
                    let found = fit.map(|fit| (self.slot_of(fit.block), fit.class));
                    assert_eq!(found, self.model_fit(size), "fit for {size}");
                    if let Some(fit) = fit {
                        // SAFETY: a fit just found.
                        unsafe { self.bins.take_head(fit) };
                        self.remove(self.lists[fit.class][0]);
                    }
                }
                _ => {}
            }
        }

        /// Every list, link and bit against the model (a class empty in both, with no head and
        /// no bit, is passed over at once).
        fn check(&self) {
            for class in 0..CLASS_COUNT {
                let list = &self.lists[class];
                if list.is_empty() && !self.bins.is_marked(class) && self.bins.head(class).is_none()
                {
                    continue;
                }
                let mut expected_prev = Prev::list(class);
                let mut cursor = self.bins.head(class);
                for &slot in list {
                    let block = cursor.expect("a list shorter than the model's");
                    assert_eq!(self.slot_of(block), slot, "list of class {class}");
                    // SAFETY: a listed fake block: its links are initialized.
                    let links = unsafe { block.links().read() };
                    assert_eq!(links.prev, expected_prev, "prev link in class {class}");
                    expected_prev = Prev::block(block);
                    cursor = links.next;
                }
                assert!(
                    cursor.is_none(),
                    "a list longer than the model's, class {class}"
                );
                assert_eq!(self.bins.is_marked(class), !list.is_empty(), "bit {class}");
            }
            assert!(
                self.bins.maps_agree(),
                "the word map disagrees with the class map"
            );
        }
    }

    impl Drop for Harness {
        fn drop(&mut self) {
            // SAFETY: `Box::into_raw` made the pointer, and nothing uses the buffer any more.
            drop(unsafe { Box::from_raw(self.buffer) });
        }
    }

    proptest! {
        #![proptest_config(crate::test_proptest::config(4, 256))]

        #[test]
        fn lists_links_and_bitmaps_follow_the_model(
            ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 32 } else { 200 })
        ) {
            let mut harness = Harness::new();
            for op in ops {
                harness.apply(op);
                harness.check();
            }
        }
    }
}
