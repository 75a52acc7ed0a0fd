//! Magazines: per class, the last blocks freed, handed out again before any slab is searched.
//!
//! Taking a block from a slab and giving it back are O(1) but not short: the bitmap word, the
//! summary word, the slab's count, the class's count and the room list all change, behind a
//! lookup of the slab header. Most programs free a block and soon ask for one of the same size
//! again, so each class keeps its last freed blocks in a small stack (a *magazine*, after
//! Bonwick's slab allocator) and serves the next requests from it: a push and a pop, a few
//! instructions each. The slabs still count these blocks in use; the magazine is a layer above
//! the bitmaps, not a second record of free space.
//!
//! ```text
//!   class 16 B:  len 3  [blk|blk|blk| . | . | ... ]   (16 slots)
//!   class 32 B:  len 0  [ . | . | . | ... ]           ──► empty: take from a slab
//!   ...                       ▲
//!                             free pushes here; allocate pops the same slot (last in, first out:
//!                             the block most likely still in the cache)
//!   free to a full magazine ──► its older half goes back to the slabs (bitmaps, counts, lists)
//! ```
//!
//! The magazines hold pointers with the pools' provenance (the fallback's, re-based on the
//! block), never the caller's, and never write into a block: the same rule as the bitmaps.
//! What they cost: 16 pointers and a length per class inside the pools value (1,032 bytes on
//! 64-bit targets, 520 on 32-bit ones, all zero at start, so a `static` heap keeps them in
//! `.bss`), and memory: a block held here keeps its slab from going back to the fallback.
//! [`SizeClassPools::trim`](super::SizeClassPools::trim) empties every magazine, and the pools
//! call it themselves before they report exhaustion. Without the `magazines` feature (on by
//! default) every magazine holds nothing: each call here is a constant, and the code that
//! uses them compiles away.

use core::ptr::NonNull;

use super::class::CLASS_COUNT;

/// How many freed blocks each class keeps at hand: none without the `magazines` feature, and
/// then every magazine call below compiles to nothing.
pub(super) const MAGAZINE_BLOCKS: usize = if cfg!(feature = "magazines") { 16 } else { 0 };
/// How many go back to the slabs when a free finds the magazine full.
pub(super) const HALF: usize = MAGAZINE_BLOCKS / 2;
/// The length of a magazine turned off (see [`Magazines::set_on`]): past every slot, and one
/// less than it still is, so that both a push and a pop find no slot there.
const OFF: u8 = u8::MAX;
const _: () = assert!(
    MAGAZINE_BLOCKS < OFF as usize - 1,
    "no magazine has a slot at OFF or one below"
);

/// Recently freed blocks of every class: our pointers to blocks that their slabs still count in
/// use. All zero bits when empty.
pub(super) struct Magazines {
    /// Per class, how many of its slots hold a block (the lowest ones), or [`OFF`].
    lens: [u8; CLASS_COUNT],
    /// Per class, its slots; those below the length hold blocks, the oldest first.
    blocks: [[Option<NonNull<u8>>; MAGAZINE_BLOCKS]; CLASS_COUNT],
}

impl Magazines {
    /// Empty magazines. O(1), `const`.
    pub(super) const fn new() -> Self {
        Self {
            lens: [0; CLASS_COUNT],
            blocks: [[None; MAGAZINE_BLOCKS]; CLASS_COUNT],
        }
    }

    /// The block freed last into class `class`'s magazine, taken out of it; `None` when the
    /// magazine is empty. O(1).
    #[inline(always)]
    pub(super) fn pop(&mut self, class: usize) -> Option<NonNull<u8>> {
        if MAGAZINE_BLOCKS == 0 {
            return None;
        }
        // A class is below `CLASS_COUNT`, a power of two: the remainder changes nothing and
        // spares the bounds check.
        let class = class % CLASS_COUNT;
        // One comparison for an empty magazine (the length wraps past every slot) and for
        // one turned off: no slot below. The slot itself holds a block (every slot below the
        // length does), so its `Option` is the caller's answer, with no test here.
        let len = self.lens[class].wrapping_sub(1);
        let block = *self.blocks[class].get(usize::from(len))?;
        debug_assert!(block.is_some(), "a slot below the length holds a block");
        self.lens[class] = len;
        block
    }

    /// Puts `block` into class `class`'s magazine; `false` (and nothing changes) when it is
    /// full. O(1).
    #[inline(always)]
    pub(super) fn push(&mut self, class: usize, block: NonNull<u8>) -> bool {
        if MAGAZINE_BLOCKS == 0 {
            return false;
        }
        let class = class % CLASS_COUNT;
        let len = self.lens[class];
        let Some(slot) = self.blocks[class].get_mut(usize::from(len)) else {
            return false;
        };
        *slot = Some(block);
        self.lens[class] = len + 1;
        true
    }

    /// Takes the older half out of class `class`'s magazine, which must be full, and moves the
    /// newer half down: the blocks that waited longest go back to their slabs, so that no block
    /// stays in a magazine (and keeps its slab) for good. O(`MAGAZINE_BLOCKS`).
    pub(super) fn take_older_half(&mut self, class: usize) -> [Option<NonNull<u8>>; HALF] {
        let class = class % CLASS_COUNT;
        debug_assert_eq!(
            usize::from(self.lens[class]),
            MAGAZINE_BLOCKS,
            "a full magazine"
        );
        let slots = &mut self.blocks[class];
        let mut older = [None; HALF];
        older.copy_from_slice(&slots[..HALF]);
        slots.copy_within(HALF.., 0);
        self.lens[class] = HALF as u8;
        older
    }

    /// The blocks in class `class`'s magazine, oldest first. O(1) to start.
    pub(super) fn blocks(&self, class: usize) -> impl Iterator<Item = NonNull<u8>> + '_ {
        let class = class % CLASS_COUNT;
        // Turned off, the length is past the slots: none hold a block.
        let held = self.blocks[class].get(..usize::from(self.lens[class]));
        held.unwrap_or_default().iter().flatten().copied()
    }

    /// How many blocks class `class`'s magazine holds. O(`MAGAZINE_BLOCKS`).
    pub(super) fn len(&self, class: usize) -> usize {
        self.blocks(class).count()
    }

    /// Turns every magazine off (or back on): off, each has the length [`OFF`], so that a push
    /// finds no slot and fails (its caller then returns the block to its slab) and a pop finds
    /// nothing, and the hot paths need no test of their own. The magazines must hold no block.
    /// O(classes).
    pub(super) fn set_on(&mut self, on: bool) {
        debug_assert!(
            (0..CLASS_COUNT).all(|class| self.len(class) == 0),
            "no block held"
        );
        let len = if on { 0 } else { OFF };
        self.lens = [len; CLASS_COUNT];
    }

    /// Whether class `class`'s magazine holds the block at `address`. O(`MAGAZINE_BLOCKS`).
    pub(super) fn holds(&self, class: usize, address: usize) -> bool {
        self.blocks(class)
            .any(|block| block.addr().get() == address)
    }
}

#[cfg(all(test, feature = "magazines"))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Distinct, non-null pointers for the tests (never dereferenced).
    fn block(number: usize) -> NonNull<u8> {
        NonNull::<u64>::dangling()
            .cast::<u8>()
            .map_addr(|a| a.saturating_add(number * 16))
    }

    #[test]
    fn the_last_block_in_is_the_first_out_and_a_full_magazine_refuses_more() {
        let mut magazines = Magazines::new();
        assert_eq!(magazines.pop(3), None);
        for number in 0..MAGAZINE_BLOCKS {
            assert!(magazines.push(3, block(number)));
        }
        assert!(!magazines.push(3, block(99)));
        assert_eq!(magazines.len(3), MAGAZINE_BLOCKS);
        assert!(magazines.holds(3, block(5).addr().get()));
        assert!(
            !magazines.holds(3, block(99).addr().get())
                && !magazines.holds(2, block(5).addr().get())
        );
        assert_eq!(magazines.len(2), 0);
        for number in (0..MAGAZINE_BLOCKS).rev() {
            assert_eq!(magazines.pop(3), Some(block(number)));
        }
        assert_eq!(magazines.pop(3), None);
    }

    #[test]
    fn a_magazine_turned_off_takes_nothing_and_gives_nothing_until_turned_on() {
        let mut magazines = Magazines::new();
        assert!(magazines.push(4, block(7)));
        assert_eq!(magazines.pop(4), Some(block(7)));
        magazines.set_on(false);
        for class in 0..CLASS_COUNT {
            assert!(!magazines.push(class, block(1)));
            assert_eq!(magazines.pop(class), None);
            assert_eq!(magazines.len(class), 0);
            assert!(!magazines.holds(class, block(1).addr().get()));
        }
        magazines.set_on(true);
        assert!(magazines.push(2, block(1)));
        assert_eq!(magazines.pop(2), Some(block(1)));
    }

    /// One step of the model test.
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Push(usize),
        Pop(usize),
        /// Pushes into a class's magazine until it refuses a block.
        Fill(usize),
        /// The older half of a class's magazine back, when it is full.
        TakeOlderHalf(usize),
        /// Every magazine emptied by pops, then turned off or on.
        Switch,
    }

    /// The classes the steps use: few, so that magazines fill and empty often.
    const STEPPED: usize = 3;

    fn step() -> impl Strategy<Value = Step> {
        let class = 0..STEPPED;
        prop_oneof![
            5 => class.clone().prop_map(Step::Push),
            4 => class.clone().prop_map(Step::Pop),
            1 => class.clone().prop_map(Step::Fill),
            2 => class.prop_map(Step::TakeOlderHalf),
            1 => Just(Step::Switch),
        ]
    }

    proptest! {
        #![proptest_config(crate::test_proptest::config(4, 256))]

        /// Any sequence of calls leaves each magazine holding exactly what a stack of its own
        /// would (oldest first), turned off or on, full or not: no block popped before, stale in
        /// a slot, is handed out or reported again; a full magazine, or one turned off, takes
        /// nothing; a full one gives back its older half.
        #[test]
        fn magazines_follow_a_stack_per_class(
            steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 30 } else { 300 })
        ) {
            let mut magazines = Magazines::new();
            let mut model: [std::vec::Vec<NonNull<u8>>; CLASS_COUNT] = Default::default();
            let (mut on, mut made) = (true, 0);
            for step in steps {
                match step {
                    Step::Push(class) => {
                        made += 1;
                        let fits = on && model[class].len() < MAGAZINE_BLOCKS;
                        prop_assert_eq!(magazines.push(class, block(made)), fits);
                        if fits {
                            model[class].push(block(made));
                        }
                    }
                    Step::Fill(class) => loop {
                        made += 1;
                        let fits = on && model[class].len() < MAGAZINE_BLOCKS;
                        prop_assert_eq!(magazines.push(class, block(made)), fits);
                        if !fits {
                            break;
                        }
                        model[class].push(block(made));
                    },
                    Step::Pop(class) => prop_assert_eq!(magazines.pop(class), model[class].pop()),
                    Step::TakeOlderHalf(class) if model[class].len() == MAGAZINE_BLOCKS => {
                        let older: std::vec::Vec<_> = model[class].drain(..HALF).map(Some).collect();
                        prop_assert_eq!(&magazines.take_older_half(class)[..], &older[..]);
                    }
                    Step::TakeOlderHalf(_) => {}
                    Step::Switch => {
                        for (class, held) in model.iter_mut().enumerate() {
                            while let Some(expected) = held.pop() {
                                prop_assert_eq!(magazines.pop(class), Some(expected));
                            }
                        }
                        on = !on;
                        magazines.set_on(on);
                    }
                }
                for (class, held) in model.iter().enumerate() {
                    prop_assert!(magazines.blocks(class).eq(held.iter().copied()));
                    prop_assert_eq!(magazines.len(class), held.len());
                }
                // Blocks popped lately may still sit in slots above the length (under Miri,
                // fewer of the latest are asked about).
                let asked = if cfg!(miri) { HALF } else { 2 * MAGAZINE_BLOCKS };
                for (class, held) in model.iter().enumerate().take(STEPPED) {
                    for number in made.saturating_sub(asked)..=made {
                        let address = block(number).addr().get();
                        prop_assert_eq!(magazines.holds(class, address), held.contains(&block(number)));
                    }
                }
            }
        }
    }

    #[test]
    fn a_full_magazine_gives_its_older_half_and_keeps_the_newer_in_order() {
        let mut magazines = Magazines::new();
        for number in 0..MAGAZINE_BLOCKS {
            assert!(magazines.push(5, block(number)));
        }
        let older = magazines.take_older_half(5);
        assert_eq!(older, core::array::from_fn(|number| Some(block(number))));
        let kept: std::vec::Vec<_> = magazines.blocks(5).collect();
        assert_eq!(
            kept,
            (HALF..MAGAZINE_BLOCKS)
                .map(block)
                .collect::<std::vec::Vec<_>>()
        );
        assert!(magazines.push(5, block(99)));
        assert_eq!(magazines.pop(5), Some(block(99)));
        assert_eq!(magazines.len(5), HALF);
    }
}
