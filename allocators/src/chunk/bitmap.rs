//! The chunk bitmap and its summaries: the mechanism under the chunk allocator's policy.
//!
//! Level 0 has one bit per chunk (1 = used), packed into 64-bit words; level 1, the summary,
//! has one bit per level-0 word, set exactly when that word is full; level 2, the starts, has
//! one bit per chunk again, set exactly when a live block begins at that chunk; the run record
//! has one byte per level-0 word, the longest run of free chunks in it plus one, or 0 when not
//! known. All four live in the caller's bitmap memory, in that order:
//!
//! ```text
//!   chunks:   0 ........ 63 | 64 ....... 127 | 128 ...... 191 | ...
//!   level 0:  [ word 0      ] [ word 1       ] [ word 2       ]  ...   bit i%64 of word i/64
//!   summary:  [ bit 0 = word 0 full, bit 1 = word 1 full, ... ]  ...   bit w%64 of word w/64
//!   starts:   [ word 0      ] [ word 1       ] [ word 2       ]  ...   bit i%64 of word i/64
//!   runs:     [ byte 0 = word 0's longest free run + 1, byte 1, ... ]  byte w%8 of word w/8
//!
//!   e.g.  used    1 1 1 1 0 1 1 0        blocks: 0..3, 3..4, 5..7
//!         starts  1 0 0 1 0 1 0 0
//! ```
//!
//! A search looks at a whole word at a time: a full word is skipped through the summary, 64
//! words per summary word, and inside a word the candidate start positions of a run of `n`
//! free chunks are found with a few shifts and `trailing_zeros`, without walking bits. A run
//! that crosses word boundaries is followed as a "carry": the free top of one word, any number
//! of empty words, and the free bottom of the next.
//!
//! A long search walks past many words that hold free chunks but no run long enough. The run
//! record answers "can this word hold a run of `n`?" with one byte: a word's record is
//! forgotten whenever its used bits change and computed again when a search next asks, so it
//! costs every allocation and free one byte written, and a search one byte read per word.
//!
//! The start bits make a block's extent readable: a block starting at chunk `s` ends at the
//! first chunk after `s` that is free or starts another block (a "boundary"). That chunk is
//! found a word at a time too (`used & !starts` are the chunks that continue a block), so
//! checking a freed block of n chunks costs O(n/64 + 1).
//!
//! Bits past the last chunk (in the last level-0 word and the last summary word) are kept set,
//! so they look used and no search needs a special case for the end of the heap; past-the-end
//! start bits stay clear (the end of the heap ends every block, see `next_boundary`).
//!
//! The memory starts with arbitrary contents (a `static` cannot be written at compile time),
//! so the bitmap is cleared on first use; until then every chunk reads as free.

use core::ptr::NonNull;

/// Bits in one bitmap word.
const WORD_BITS: usize = u64::BITS as usize;

/// The shortest run a search asks the run record about. Shorter runs take the word's own test
/// (at most two steps): the record of a word near the heap's busy low end is rarely known, and
/// computing it costs more than those steps (measured: bench/notes.md).
const RECORDED_RUNS_FROM: usize = 8;

/// How many 64-bit words hold one bit for each of `bits` items.
const fn words_for(bits: usize) -> usize {
    bits.div_ceil(WORD_BITS)
}

/// How many 64-bit words the bitmap of `chunks` chunks needs: level 0, the summary, the
/// start bits and the run record (one byte per level-0 word).
pub(crate) const fn bitmap_words(chunks: usize) -> usize {
    let level0 = words_for(chunks);
    level0 + words_for(level0) + level0 + level0.div_ceil(size_of::<u64>())
}

/// The bits of a word at positions `from..64`.
const fn bits_from(from: usize) -> u64 {
    if from >= WORD_BITS {
        0
    } else {
        u64::MAX << from
    }
}

/// The bits of the last word that lie past the last of `count` (>= 1) items.
const fn padding_bits(count: usize) -> u64 {
    bits_from(count - (words_for(count) - 1) * WORD_BITS)
}

/// The set bits `s` of the result are the starts of `n` consecutive set bits of `free` that
/// end inside the word (1 <= n <= 64). O(log n): each step doubles the length already checked,
/// and a word with no run that long (most words a long search visits) stops early.
fn run_starts(free: u64, n: usize) -> u64 {
    let mut starts = free;
    let mut checked = 1;
    while checked < n && starts != 0 {
        let shift = checked.min(n - checked);
        starts &= starts >> shift;
        checked += shift;
    }
    starts
}

/// The chunk indices at which a block may start: those congruent to `phase` modulo `stride`
/// (a power of two). Alignments above the chunk size become such a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartRule {
    stride: usize,
    phase: usize,
    /// The allowed starts inside every level-0 word when `stride < 64` (a word starts at a
    /// multiple of 64, hence of the stride, so the pattern repeats); unused otherwise. Kept
    /// so that a search does not recompute it for each word it visits.
    pattern: u64,
}

impl StartRule {
    /// Every chunk index may start a block.
    pub(crate) const ANY: Self = Self::new(1, 0);

    /// Starts at `phase`, `phase + stride`, ...; `stride` is a power of two above `phase`.
    pub(crate) const fn new(stride: usize, phase: usize) -> Self {
        debug_assert!(stride.is_power_of_two() && phase < stride);
        let pattern = if stride < WORD_BITS {
            // One bit every `stride` bits: all ones divided by `stride` ones.
            (u64::MAX / ((1 << stride) - 1)) << phase
        } else {
            0
        };
        Self {
            stride,
            phase,
            pattern,
        }
    }

    /// The first allowed start at or after `index` (saturates at `usize::MAX`).
    pub(crate) fn first_at_or_after(self, index: usize) -> usize {
        let past_phase = index.saturating_sub(self.phase);
        let steps = past_phase
            .checked_add(self.stride - 1)
            .map_or(usize::MAX, |rounded| rounded & !(self.stride - 1));
        self.phase.saturating_add(steps)
    }

    /// The first allowed start of a run of `n` chunks from `start` that ends by `end`.
    fn fit(self, start: usize, n: usize, end: usize) -> Option<usize> {
        let aligned = self.first_at_or_after(start);
        (aligned.saturating_add(n) <= end).then_some(aligned)
    }

    /// The allowed starts inside level-0 word `word`, as a bit mask.
    fn mask_in_word(self, word: usize) -> u64 {
        if self.stride < WORD_BITS {
            return self.pattern;
        }
        let first = word * WORD_BITS;
        let start = self.first_at_or_after(first);
        if start - first < WORD_BITS {
            1 << (start - first)
        } else {
            0
        }
    }
}

/// The words of a chunk range with the range's bits in each (see `Bitmap::word_masks`). Its
/// own type rather than a `map` over a range: at opt-level "z" the adapters' `next` stays a
/// call per word, on every allocation's and free's path.
struct WordMasks {
    /// The next word.
    word: usize,
    /// The range's last word.
    last: usize,
    /// The range's bits in its first word, until that word is passed; then all ones.
    head: u64,
    /// The range's bits in its last word.
    tail: u64,
}

impl Iterator for WordMasks {
    type Item = (usize, u64);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, u64)> {
        if self.word > self.last {
            return None;
        }
        let word = self.word;
        let tail = if word == self.last {
            self.tail
        } else {
            u64::MAX
        };
        let in_range = self.head & tail;
        self.head = u64::MAX;
        self.word += 1;
        Some((word, in_range))
    }
}

/// The chunk bitmap over caller memory: used bits, summary, start bits and run record. All
/// operations are O(1) per word they touch.
pub(crate) struct Bitmap {
    /// The caller's bitmap memory: level 0, then the summary, the start bits and the run record.
    words: NonNull<u64>,
    /// Number of chunks tracked.
    chunks: usize,
    /// Number of level-0 words (and of start words); the summary starts at this word index.
    level0: usize,
    /// The index of the first start word: the start level follows the summary. Kept, not
    /// derived, since every allocation and free reads a start word.
    starts_base: usize,
    /// The index of the first word of the run record, which follows the start level. Kept, as
    /// `starts_base`, since every allocation and free writes a record byte.
    runs_base: usize,
    /// Whether the memory has been cleared (it is not cleared at construction, see module docs).
    ready: bool,
}

impl Bitmap {
    /// A bitmap for `chunks` chunks over `words`. O(1): clearing is deferred to first use.
    ///
    /// # Safety
    /// `words` must be 8-byte aligned and valid for reads and writes of
    /// [`bitmap_words`]`(chunks)` words for as long as the bitmap exists, and nothing else may
    /// access that memory meanwhile.
    pub(crate) const unsafe fn new(words: NonNull<u64>, chunks: usize) -> Self {
        let level0 = words_for(chunks);
        let starts_base = level0 + words_for(level0);
        Self {
            words,
            chunks,
            level0,
            starts_base,
            runs_base: starts_base + level0,
            ready: false,
        }
    }

    /// Number of words, all four parts.
    fn total_words(&self) -> usize {
        bitmap_words(self.chunks)
    }

    /// The index of the first start word.
    fn starts_base(&self) -> usize {
        self.starts_base
    }

    /// Reads word `index` (level 0 below `level0`, then the summary, then the starts).
    fn word(&self, index: usize) -> u64 {
        debug_assert!(index < self.total_words());
        // SAFETY: `index` is below the word count the constructor's contract makes valid and
        // exclusively ours, and the pointer is 8-byte aligned.
        unsafe { self.words.add(index).read() }
    }

    /// Writes word `index`.
    fn set_word(&mut self, index: usize, value: u64) {
        debug_assert!(index < self.total_words());
        // SAFETY: as in `word`; `&mut self` makes this the only access to the memory.
        unsafe { self.words.add(index).write(value) }
    }

    /// The run record's byte for level-0 word `word`.
    fn run_record(&self, word: usize) -> NonNull<u8> {
        debug_assert!(word < self.level0);
        // SAFETY: the record's words follow the start level inside the caller's memory, one
        // byte per level-0 word (`bitmap_words` counts them), so the byte lies in it.
        unsafe { self.words.add(self.runs_base).cast::<u8>().add(word) }
    }

    /// The longest run of free chunks in level-0 word `word` (padding reads as used), from
    /// the run record, or computed and recorded when the record does not know it. O(1): one
    /// byte read when known, at most 64 steps to compute.
    fn longest_free_in(&mut self, word: usize) -> usize {
        let record = self.run_record(word);
        // SAFETY: `run_record` points into the memory the constructor's contract makes valid
        // and exclusively ours; `&mut self` makes this the only access to it.
        let recorded = unsafe { record.read() };
        if let Some(longest) = recorded.checked_sub(1) {
            return usize::from(longest);
        }
        let longest = longest_ones(!self.word(word));
        // SAFETY: as above. `longest + 1` is at most 65.
        unsafe { record.write(longest as u8 + 1) };
        longest
    }

    /// Forgets the recorded longest run of level-0 word `word`, whose used bits change.
    fn forget_longest_free_in(&mut self, word: usize) {
        // SAFETY: as in `longest_free_in`.
        unsafe { self.run_record(word).write(0) }
    }

    /// The summary word and bit that record whether level-0 word `word` is full.
    fn summary_slot(&self, word: usize) -> (usize, u64) {
        (self.level0 + word / WORD_BITS, 1 << (word % WORD_BITS))
    }

    /// Clears the memory on first use and marks the padding bits past the end as used.
    /// O(chunks/64) once, O(1) afterwards.
    #[inline(always)]
    pub(crate) fn ensure_ready(&mut self) {
        if !self.ready {
            self.prepare();
        }
    }

    /// [`ensure_ready`](Self::ensure_ready)'s work, once: out of line, off every hot path.
    #[cold]
    #[inline(never)]
    fn prepare(&mut self) {
        for index in 0..self.total_words() {
            self.set_word(index, 0);
        }
        self.set_word(self.level0 - 1, padding_bits(self.chunks));
        let (summary_last, _) = self.summary_slot(self.level0 - 1);
        self.set_word(summary_last, padding_bits(self.level0));
        self.ready = true;
    }

    /// Whether chunk `index` is in use (false before first use). O(1).
    pub(crate) fn is_used(&self, index: usize) -> bool {
        self.ready && self.word(index / WORD_BITS) & (1 << (index % WORD_BITS)) != 0
    }

    /// Whether a block starts at chunk `index` (false before first use). O(1).
    pub(crate) fn is_start(&self, index: usize) -> bool {
        let word = self.starts_base() + index / WORD_BITS;
        self.ready && self.word(word) & (1 << (index % WORD_BITS)) != 0
    }

    /// Records that a block starts at chunk `index` (whose used bit the caller sets). O(1).
    pub(crate) fn mark_start(&mut self, index: usize) {
        let word = self.starts_base() + index / WORD_BITS;
        self.set_word(word, self.word(word) | 1 << (index % WORD_BITS));
    }

    /// The first chunk in `from..to` that is free or starts a block, i.e. where a block
    /// running through `from - 1` ends; `to` if there is none. `from <= to <= chunks`;
    /// call only after [`Self::ensure_ready`]. O((to-from)/64 + 1), less when a boundary
    /// comes early.
    pub(crate) fn next_boundary(&self, from: usize, to: usize) -> usize {
        if from >= to {
            return to;
        }
        for (w, in_range) in Self::word_masks(from, to) {
            let continues = self.word(w) & !self.word(self.starts_base() + w);
            let boundaries = !continues & in_range;
            if boundaries != 0 {
                return w * WORD_BITS + boundaries.trailing_zeros() as usize;
            }
        }
        to
    }

    /// The level-0 words that chunk range `from..to` (non-empty) touches, each with the bits
    /// of the range in it: all ones but in the first and the last word, so a loop over a
    /// range computes its two end masks once.
    #[inline(always)]
    fn word_masks(from: usize, to: usize) -> WordMasks {
        let last = (to - 1) / WORD_BITS;
        WordMasks {
            word: from / WORD_BITS,
            last,
            head: u64::MAX << (from % WORD_BITS),
            // The range holds the low `to - last * 64` (1..=64) bits of the last word, so the
            // shift, 64 minus that, is 0..=63.
            tail: u64::MAX >> ((last + 1) * WORD_BITS - to),
        }
    }

    /// Number of used chunks in `from..to` (non-empty, inside the heap). O((to-from)/64 + 1).
    pub(crate) fn count_used(&self, from: usize, to: usize) -> usize {
        if !self.ready {
            return 0;
        }
        Self::word_masks(from, to)
            .map(|(w, in_range)| (self.word(w) & in_range).count_ones() as usize)
            .sum()
    }

    /// Checks the start bits against the used bits, a word at a time: every start is a used
    /// chunk of the heap, and every run of used chunks begins with a start; and the searches'
    /// own premises: the chunks past the heap's end read as used, and a word's summary bit is
    /// set exactly when the word is full, and a known run record holds the word's longest free
    /// run. `Ok((used chunks, starts))`, or the first fault found, word by word from the start
    /// of the heap: within a word, the lowest chunk where a start or used bit is wrong, then a
    /// wrong summary bit, then a wrong record (both reported at the word's first chunk), then
    /// the heap's end (`chunks` itself). O(chunks/64) word steps, plus up to 64 steps for each
    /// known record.
    pub(crate) fn audit(&self) -> Result<(usize, usize), (&'static str, usize)> {
        let (mut used_chunks, mut starts) = (0, 0);
        // Whether the chunk just before the current word is used: a run that crosses into the
        // word does not begin in it.
        let mut carried = 0;
        for (w, in_heap) in Self::word_masks(0, self.chunks).filter(|_| self.ready) {
            let used = self.word(w) & in_heap;
            let start = self.word(self.starts_base() + w);
            let on_free = start & !used & in_heap;
            let uncovered = used & !(used << 1 | carried) & !start;
            if on_free | uncovered != 0 {
                let lowest = (on_free | uncovered).trailing_zeros();
                let what = if on_free >> lowest & 1 != 0 {
                    "a block starts on a free chunk"
                } else {
                    "used chunks that no block covers"
                };
                return Err((what, w * WORD_BITS + lowest as usize));
            }
            let (summary, bit) = self.summary_slot(w);
            if (self.word(summary) & bit != 0) != (self.word(w) == u64::MAX) {
                return Err(("a summary bit disagrees with its word", w * WORD_BITS));
            }
            // SAFETY: the record's byte lies in our memory (see `run_record`).
            let record = unsafe { self.run_record(w).read() };
            let wrong = |recorded: u8| usize::from(recorded) != longest_ones(!self.word(w));
            if record.checked_sub(1).is_some_and(wrong) {
                return Err(("a word's longest free run is recorded wrong", w * WORD_BITS));
            }
            if start & !in_heap != 0 {
                return Err(("a block starts past the heap's end", self.chunks));
            }
            if self.word(w) | in_heap != u64::MAX {
                return Err(("a chunk past the heap's end reads as free", self.chunks));
            }
            used_chunks += used.count_ones() as usize;
            starts += start.count_ones() as usize;
            carried = used >> (WORD_BITS - 1);
        }
        Ok((used_chunks, starts))
    }

    /// Whether every chunk of `from..to` (non-empty) is free. O((to-from)/64 + 1).
    pub(crate) fn all_free(&self, from: usize, to: usize) -> bool {
        !self.ready || Self::word_masks(from, to).all(|(w, in_range)| self.word(w) & in_range == 0)
    }

    /// Marks `from..to` (non-empty) used and records newly full words in the summary.
    /// O((to-from)/64 + 1).
    pub(crate) fn set_range(&mut self, from: usize, to: usize) {
        for (w, in_range) in Self::word_masks(from, to) {
            self.store_used(w, self.word(w) | in_range);
        }
    }

    /// Stores `value`, which has every used bit of level-0 word `w` and more, as that word:
    /// its run record is forgotten, and a word now full is marked so in the summary.
    #[inline(always)]
    fn store_used(&mut self, w: usize, value: u64) {
        self.set_word(w, value);
        self.forget_longest_free_in(w);
        if value == u64::MAX {
            let (index, bit) = self.summary_slot(w);
            self.set_word(index, self.word(index) | bit);
        }
    }

    /// Takes the first free chunk at or after `from` as a block of one chunk (used, and its
    /// start bit set), and returns its index; `None` when every chunk from `from` on is used.
    /// What a search for a run of one chunk and [`set_range`](Self::set_range) with
    /// [`mark_start`](Self::mark_start) do, without the search's carries and masks: the
    /// commonest allocation's path. Call only after [`Self::ensure_ready`].
    /// O(1 + skipped full words / 64).
    pub(crate) fn take_first_free(&mut self, from: usize) -> Option<usize> {
        let mut word = from / WORD_BITS;
        if word >= self.level0 {
            return None;
        }
        // The chunks before `from` count as used here only; the padding past the last chunk
        // is used, so no chunk past the heap's end is ever found.
        let mut used = self.word(word) | !bits_from(from % WORD_BITS);
        if used == u64::MAX {
            word = self.next_open_word(word + 1, self.level0);
            if word == self.level0 {
                return None;
            }
            used = self.word(word);
            debug_assert_ne!(used, u64::MAX, "the summary marks every full word");
        }
        let bit = 1 << (!used).trailing_zeros();
        self.store_used(word, self.word(word) | bit);
        // The start bit, as `mark_start` sets it, from the word and bit at hand.
        let starts = self.starts_base() + word;
        self.set_word(starts, self.word(starts) | bit);
        Some(word * WORD_BITS + bit.trailing_zeros() as usize)
    }

    /// Marks `from..to` (non-empty) free, and clears its start bits (a free chunk starts
    /// nothing); a touched word that was full no longer is. O((to-from)/64 + 1).
    pub(crate) fn clear_range(&mut self, from: usize, to: usize) {
        let starts_base = self.starts_base();
        for (w, in_range) in Self::word_masks(from, to) {
            let used = self.word(w);
            self.set_word(w, used & !in_range);
            self.forget_longest_free_in(w);
            self.set_word(starts_base + w, self.word(starts_base + w) & !in_range);
            if used == u64::MAX {
                let (index, bit) = self.summary_slot(w);
                self.set_word(index, self.word(index) & !bit);
            }
        }
    }

    /// The first level-0 word at or after `word` that is not full, or `limit` if there is
    /// none before `limit`. O(1 + skipped words / 64): reads the summary only.
    fn next_open_word(&self, word: usize, limit: usize) -> usize {
        let mut candidate = word;
        while candidate < limit {
            let (index, _) = self.summary_slot(candidate);
            let open = !(self.word(index) | !bits_from(candidate % WORD_BITS));
            if open != 0 {
                let found = (candidate / WORD_BITS) * WORD_BITS + open.trailing_zeros() as usize;
                return found.min(limit);
            }
            candidate = (candidate / WORD_BITS + 1) * WORD_BITS;
        }
        limit
    }

    /// The first start `s` in `from..to` allowed by `rule` such that chunks `s..s + n` are all
    /// free and end by `to`, or `None`. `n >= 1`; call only after [`Self::ensure_ready`].
    ///
    /// O(words(from..to)/64 + visited words * log(min(n, 64))): full words are skipped through
    /// the summary; every other word in the range is visited once, at constant cost. A visit
    /// is the hot loop of every allocation: the range's ends are masked once, not per word,
    /// and the summary is read only when the next word is full.
    pub(crate) fn find_run(
        &mut self,
        from: usize,
        to: usize,
        n: usize,
        rule: StartRule,
    ) -> Option<usize> {
        if from >= to || to - from < n {
            return None;
        }
        let last = (to - 1) / WORD_BITS;
        // Chunks outside `from..to` count as used, so no run leaves the range: those from
        // `to` on in the last word, and those before `from` in the first.
        let past_end = bits_from(to - last * WORD_BITS);
        let mut word = from / WORD_BITS;
        let mut used = self.word(word) | !bits_from(from % WORD_BITS);
        // The start of the free run that reaches the top of the previous word, if any.
        let mut carry: Option<usize> = None;
        loop {
            if word == last {
                used |= past_end;
            }
            let base = word * WORD_BITS;
            let run_end = base + used.trailing_zeros() as usize;
            if let Some(found) = carry.and_then(|start| rule.fit(start, n, run_end)) {
                return Some(found);
            }
            // For a long run the record says at once whether the word can hold it, where the
            // test below costs a step per doubling of `n`. (The record is for the whole word,
            // so at the range's ends it may promise a run the test then does not find.)
            if n <= WORD_BITS && (n < RECORDED_RUNS_FROM || self.longest_free_in(word) >= n) {
                let starts = run_starts(!used, n) & rule.mask_in_word(word);
                if starts != 0 {
                    return Some(base + starts.trailing_zeros() as usize);
                }
            }
            carry = match used.leading_zeros() as usize {
                0 => None,
                WORD_BITS => carry.or(Some(base)),
                free_top => Some(base + WORD_BITS - free_top),
            };
            if word == last {
                return None;
            }
            word += 1;
            used = self.word(word);
            if used == u64::MAX {
                word = self.next_open_word(word + 1, last + 1);
                if word > last {
                    return None;
                }
                used = self.word(word);
                carry = None;
            }
        }
    }

    /// The length of the longest run of free chunks (the whole heap before first use).
    /// O(chunks/64) words, at most 64 shift steps each.
    pub(crate) fn largest_free_run(&self) -> usize {
        if !self.ready {
            return self.chunks;
        }
        let mut longest = 0;
        let mut carry = 0;
        for word in 0..self.level0 {
            let used = self.word(word);
            if used == 0 {
                carry += WORD_BITS;
                continue;
            }
            longest = longest.max(carry + used.trailing_zeros() as usize);
            longest = longest.max(longest_ones(!used));
            carry = used.leading_zeros() as usize;
        }
        longest.max(carry)
    }
}

/// The length of the longest run of set bits in `bits`. O(that length), O(1) for all ones.
/// (A binary search over lengths costs O(log 64) but 160 more bytes of Cortex-M code, for
/// no fewer instructions in the benchmarks: a run record is computed rarely.)
fn longest_ones(bits: u64) -> usize {
    if bits == u64::MAX {
        return WORD_BITS;
    }
    let mut remaining = bits;
    let mut length = 0;
    while remaining != 0 {
        remaining &= remaining >> 1;
        length += 1;
    }
    length
}

#[cfg(test)]
mod tests {
    use std::format;
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// A bitmap over a test-owned word buffer.
    fn bitmap(words: &mut Vec<u64>, chunks: usize) -> Bitmap {
        *words = vec![u64::MAX; bitmap_words(chunks)];
        // SAFETY: the buffer has `bitmap_words(chunks)` aligned words and outlives the bitmap
        // in every test.
        let mut bitmap = unsafe { Bitmap::new(NonNull::from(&mut words[..]).cast(), chunks) };
        bitmap.ensure_ready();
        bitmap
    }

    /// The answer `find_run` must give, found chunk by chunk.
    fn naive_find(
        used: &[bool],
        from: usize,
        to: usize,
        n: usize,
        rule: StartRule,
    ) -> Option<usize> {
        (from..to)
            .filter(|&s| s >= rule.phase && (s - rule.phase).is_multiple_of(rule.stride))
            .find(|&s| s + n <= to && used[s..s + n].iter().all(|&u| !u))
    }

    /// Every range's words and masks, against the range's chunks set one bit at a time: one
    /// word, two, many; ends on and off word boundaries. Every range up to 300 chunks; under
    /// Miri, the ranges between chunks next to word boundaries (each range costs it a few ms).
    #[test]
    fn word_masks_cover_each_range_exactly() {
        let ends: Vec<usize> = if cfg!(miri) {
            vec![
                0, 1, 2, 62, 63, 64, 65, 66, 127, 128, 129, 191, 192, 193, 255, 256,
            ]
        } else {
            (0..=300).collect()
        };
        let words = ends[ends.len() - 1] / WORD_BITS + 1;
        for (at, &from) in ends.iter().enumerate() {
            for &to in &ends[at + 1..] {
                let mut expected = vec![0u64; words];
                for chunk in from..to {
                    expected[chunk / WORD_BITS] |= 1 << (chunk % WORD_BITS);
                }
                let want: Vec<(usize, u64)> = (0..words)
                    .filter(|&w| expected[w] != 0)
                    .map(|w| (w, expected[w]))
                    .collect();
                let masks: Vec<(usize, u64)> = Bitmap::word_masks(from, to).collect();
                assert_eq!(masks, want, "range {from}..{to}");
            }
        }
    }

    #[test]
    fn run_starts_marks_runs_inside_a_word() {
        assert_eq!(run_starts(0b0111_0110, 2), 0b0011_0010);
        assert_eq!(run_starts(0b0111_0110, 3), 0b0001_0000);
        assert_eq!(run_starts(u64::MAX, 64), 1);
        assert_eq!(run_starts(u64::MAX >> 1, 64), 0);
    }

    #[test]
    fn start_rules_give_aligned_masks() {
        let rule = StartRule::new(4, 1);
        assert_eq!(rule.first_at_or_after(0), 1);
        assert_eq!(rule.first_at_or_after(6), 9);
        assert_eq!(rule.mask_in_word(3), 0x2222_2222_2222_2222);
        let wide = StartRule::new(128, 70);
        assert_eq!((wide.mask_in_word(0), wide.mask_in_word(1)), (0, 1 << 6));
        assert_eq!(wide.mask_in_word(2), 0);
    }

    #[test]
    fn padding_reads_as_used_and_the_summary_tracks_full_words() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 70);
        assert_eq!(words_for(70), 2);
        assert!(!map.is_used(69));
        assert_eq!(map.largest_free_run(), 70);
        map.set_range(0, 64);
        assert_eq!(map.next_open_word(0, 2), 1);
        map.set_range(64, 70);
        assert_eq!(map.next_open_word(0, 2), 2);
        assert_eq!(map.find_run(0, 70, 1, StartRule::ANY), None);
        map.clear_range(63, 65);
        assert_eq!(map.next_open_word(0, 2), 0);
        assert_eq!(map.find_run(0, 70, 2, StartRule::ANY), Some(63));
        assert_eq!(map.largest_free_run(), 2);
    }

    #[test]
    fn boundaries_follow_the_start_bits_across_words() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 200);
        // Blocks 10..70, 70..71 and 71..190; chunks 190.. are free.
        for (from, to) in [(10, 70), (70, 71), (71, 190)] {
            map.set_range(from, to);
            map.mark_start(from);
        }
        assert!(map.is_start(70) && !map.is_start(69) && !map.is_start(9));
        assert_eq!(map.next_boundary(11, 200), 70);
        assert_eq!(map.next_boundary(71, 200), 71);
        assert_eq!(map.next_boundary(72, 200), 190);
        assert_eq!(map.next_boundary(72, 150), 150);
        assert_eq!(map.next_boundary(0, 200), 0);
        assert_eq!(map.next_boundary(5, 5), 5);
        map.clear_range(70, 190);
        assert!(!map.is_start(70) && !map.is_start(71) && map.is_start(10));
        assert_eq!(map.next_boundary(11, 200), 70);
    }

    #[test]
    fn a_block_may_end_at_the_end_of_the_heap() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 70);
        map.set_range(60, 70);
        map.mark_start(60);
        assert_eq!(map.next_boundary(61, 70), 70);
        assert_eq!(map.find_run(0, 70, 60, StartRule::ANY), Some(0));
    }

    /// The bits of level-0 word `w` that lie in a heap of `chunks` chunks, bit by bit.
    fn in_heap(w: usize, chunks: usize) -> u64 {
        (0..64)
            .filter(|bit| w * 64 + bit < chunks)
            .fold(0, |mask, bit| mask | 1 << bit)
    }

    /// The fault `audit` must report at chunk `index` if it is the lowest, from single bits.
    fn naive_fault(map: &Bitmap, index: usize) -> Option<&'static str> {
        let used = map.is_used(index);
        let run_begins = used && (index == 0 || !map.is_used(index - 1));
        if map.is_start(index) && !used {
            Some("a block starts on a free chunk")
        } else if run_begins && !map.is_start(index) {
            Some("used chunks that no block covers")
        } else {
            None
        }
    }

    #[test]
    fn audit_agrees_with_a_chunk_by_chunk_check() {
        let mut words = Vec::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let rounds = if cfg!(miri) { 36 } else { 3000 };
        let mut outcomes = [0; 3];
        for round in 0..rounds {
            let chunks = [1, 63, 64, 65, 130, 300][round % 6];
            let mut map = bitmap(&mut words, chunks);
            // Random used words. Every fourth round keeps the start bits consistent, and every
            // fourth adds a stray start bit past the heap's end to consistent ones; the other
            // rounds add noise: start bits on free chunks, missing starts of runs.
            let (consistent, stray_round) = (round % 4 == 1, round % 4 == 2);
            for w in 0..map.level0 {
                let in_heap = in_heap(w, chunks);
                let used = next() & in_heap;
                let noisy = !consistent && !stray_round;
                let noise = if noisy { next() & next() & next() } else { 0 };
                let stray = if stray_round { next() & !in_heap } else { 0 };
                let begins = used & !(used << 1 | u64::from(w > 0 && map.is_used(w * 64 - 1)));
                let start = (begins | (used & next() & next()) | noise) & in_heap;
                let start = if noisy && next() % 2 == 0 {
                    start & !(begins & next())
                } else {
                    start
                };
                map.set_word(w, used | (map.word(w) & !in_heap));
                map.set_word(map.starts_base() + w, start | stray);
            }
            for w in 0..map.level0 {
                let (summary, bit) = map.summary_slot(w);
                let others = map.word(summary) & !bit;
                let full = if map.word(w) == u64::MAX { bit } else { 0 };
                map.set_word(summary, others | full);
            }
            let stray =
                (0..map.level0).any(|w| map.word(map.starts_base() + w) & !in_heap(w, chunks) != 0);
            let faults: Vec<(&str, usize)> = (0..chunks)
                .filter_map(|i| Some((naive_fault(&map, i)?, i)))
                .collect();
            let audit = map.audit();
            match audit {
                Ok((used, starts)) => {
                    assert!(
                        faults.is_empty() && !stray,
                        "missed {faults:?}, stray {stray}"
                    );
                    assert_eq!(used, (0..chunks).filter(|&i| map.is_used(i)).count());
                    assert_eq!(starts, (0..chunks).filter(|&i| map.is_start(i)).count());
                    outcomes[0] += 1;
                }
                Err(fault) if faults.is_empty() => {
                    assert!(stray, "a fault where there is none: {fault:?}");
                    assert_eq!(fault, ("a block starts past the heap's end", chunks));
                    outcomes[1] += 1;
                }
                Err(fault) => {
                    assert_eq!(Some(&fault), faults.first(), "the lowest fault");
                    outcomes[2] += 1;
                }
            }
        }
        assert!(
            outcomes.iter().all(|&n| n > 0),
            "every answer tried: {outcomes:?}"
        );
    }

    #[test]
    fn audit_finds_a_wrong_summary_bit_and_free_padding() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 130);
        map.set_range(0, 64);
        map.mark_start(0);
        assert_eq!(map.audit(), Ok((64, 1)));
        let (summary, _) = map.summary_slot(0);
        let full_word_summary = map.word(summary);
        map.set_word(summary, full_word_summary & !1);
        let wrong = "a summary bit disagrees with its word";
        assert_eq!(map.audit(), Err((wrong, 0)));
        map.set_word(summary, full_word_summary | 2);
        assert_eq!(map.audit(), Err((wrong, 64)));
        map.set_word(summary, full_word_summary);
        map.set_word(2, map.word(2) & !(1 << 5));
        let free_padding = "a chunk past the heap's end reads as free";
        assert_eq!(map.audit(), Err((free_padding, 130)));
    }

    /// The longest run of set bits in `bits`, counted from every bit.
    fn naive_longest_ones(bits: u64) -> usize {
        (0..64)
            .map(|b| (b..64).take_while(|&i| bits >> i & 1 != 0).count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn longest_ones_agrees_with_a_bit_by_bit_count() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let fixed = [
            0,
            1,
            1 << 63,
            u64::MAX,
            u64::MAX >> 1,
            u64::MAX << 1,
            0xF0F0,
        ];
        let words = if cfg!(miri) { 40 } else { 2000 };
        let random = (0..words).map(|_| {
            let r = next_random(&mut seed);
            // Denser and sparser words: ones and-ed or or-ed together.
            match r % 3 {
                0 => r,
                1 => r | next_random(&mut seed) | next_random(&mut seed),
                _ => r & next_random(&mut seed),
            }
        });
        for bits in fixed.into_iter().chain(random) {
            assert_eq!(longest_ones(bits), naive_longest_ones(bits), "{bits:#x}");
        }
    }

    #[test]
    fn audit_finds_a_wrong_run_record() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 128);
        map.set_range(0, 10);
        map.mark_start(0);
        assert_eq!(map.longest_free_in(0), 54);
        // SAFETY: the record's byte lies in the test's buffer.
        let record = unsafe { map.run_record(0).read() };
        assert_eq!(record, 55, "recorded, plus one");
        assert_eq!(map.audit(), Ok((10, 1)));
        // SAFETY: the record's byte lies in the test's buffer.
        unsafe { map.run_record(0).write(54) };
        let wrong = "a word's longest free run is recorded wrong";
        assert_eq!(map.audit(), Err((wrong, 0)));
        map.forget_longest_free_in(0);
        assert_eq!(map.audit(), Ok((10, 1)));
    }

    #[test]
    fn a_bitmap_not_yet_used_audits_as_empty() {
        let words = &mut [u64::MAX; 8];
        // SAFETY: eight aligned words, enough for 64 chunks, outlive the bitmap.
        let map = unsafe { Bitmap::new(NonNull::from(words).cast(), 64) };
        assert_eq!(map.audit(), Ok((0, 0)));
    }

    /// A xorshift step: the tests' random numbers.
    fn next_random(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    /// A random range end in `0..=chunks`: half the time within one chunk of a word's edge.
    fn random_end(seed: &mut u64, chunks: usize) -> usize {
        let r = next_random(seed);
        if r.is_multiple_of(2) {
            (r >> 8) as usize % (chunks + 1)
        } else {
            let edge = ((r >> 8) as usize % (chunks / 64 + 1)) * 64;
            (edge + (r >> 40) as usize % 3)
                .saturating_sub(1)
                .min(chunks)
        }
    }

    #[test]
    fn a_run_does_not_carry_over_a_full_word() {
        let mut words = Vec::new();
        let mut map = bitmap(&mut words, 300);
        for (from, to) in [(0, 60), (64, 128), (130, 300)] {
            map.set_range(from, to);
        }
        // Chunks 60..64 and 128..130 are free, but a full word lies between them.
        assert_eq!(map.find_run(0, 300, 6, StartRule::ANY), None);
        assert_eq!(map.find_run(0, 300, 4, StartRule::ANY), Some(60));
        assert_eq!(map.find_run(61, 300, 4, StartRule::ANY), None);
        assert_eq!(map.find_run(61, 300, 2, StartRule::ANY), Some(61));
    }

    #[test]
    fn find_run_agrees_with_a_chunk_by_chunk_search() {
        let chunks = 300;
        let mut words = Vec::new();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        // Under Miri, which looks for undefined behaviour more than wrong answers, one pattern.
        let patterns = if cfg!(miri) { 1 } else { 60 };
        for pattern in 0..patterns {
            let mut map = bitmap(&mut words, chunks);
            let mut used = vec![false; chunks];
            let mut starts = vec![false; chunks];
            // Runs of used and free chunks of random lengths, denser in later patterns.
            let mut index = 0;
            while index < chunks {
                let r = next_random(&mut seed);
                let length = (r % 90) as usize + 1;
                let end = (index + length).min(chunks);
                if r % 10 < 3 + pattern % 6 {
                    map.set_range(index, end);
                    map.mark_start(index);
                    used[index..end].fill(true);
                    starts[index] = true;
                }
                index = end;
            }
            // Then a few random ranges freed, as frees and shrinking resizes do, and in a
            // second round (after searches have filled the run record) some freed and some
            // taken.
            for round in 0..2 {
                for change in 0..pattern % 4 + round {
                    let from = (next_random(&mut seed) % chunks as u64) as usize;
                    let to = (from + (next_random(&mut seed) % 70) as usize + 1).min(chunks);
                    if round == 1 && change % 2 == 0 {
                        map.set_range(from, to);
                        used[from..to].fill(true);
                    } else {
                        map.clear_range(from, to);
                        used[from..to].fill(false);
                        starts[from..to].fill(false);
                    }
                }
                check_searches(&mut map, &used, &mut seed);
                assert!(records_agree(&map), "pattern {pattern} round {round}");
            }
            let longest = used.split(|&u| u).map(<[bool]>::len).max().unwrap();
            assert_eq!(map.largest_free_run(), longest);
            assert_eq!(
                map.count_used(0, chunks),
                used.iter().filter(|&&u| u).count()
            );
            for _ in 0..8 {
                let ends = [random_end(&mut seed, chunks), random_end(&mut seed, chunks)];
                let (from, to) = (ends[0].min(ends[1]), ends[0].max(ends[1]) + 1);
                let to = to.min(chunks);
                if from < to {
                    let free = used[from..to].iter().all(|&u| !u);
                    assert_eq!(map.all_free(from, to), free, "{from}..{to}");
                }
            }
            let after_starts = (0..chunks).filter(|&i| starts[i]).map(|i| (i + 1, chunks));
            let fixed = [(1, chunks), (64, chunks), (100, 230), (299, 300)];
            for (from, to) in after_starts.chain(fixed) {
                let expected = (from..to).find(|&i| !used[i] || starts[i]).unwrap_or(to);
                assert_eq!(map.next_boundary(from, to), expected, "{from}..{to}");
            }
            let consistent_summary = (0..map.level0).all(|w| {
                let (summary, bit) = map.summary_slot(w);
                (map.word(summary) & bit != 0) == (map.word(w) == u64::MAX)
            });
            assert!(consistent_summary, "pattern {pattern}");
        }
    }

    /// `take_first_free` answers and marks as a search for one chunk followed by `set_range`
    /// and `mark_start` would: the same chunk, and the same words (used bits, summary, start
    /// bits, run records), from every start up to past the last word, until every chunk is
    /// used, on heaps that end inside a word and at its edge.
    #[test]
    fn taking_the_first_free_chunk_matches_a_search_and_a_mark() {
        let sizes: &[usize] = if cfg!(miri) {
            &[65, 128]
        } else {
            &[1, 63, 64, 65, 128, 150, 300]
        };
        let mut seed = 0x51_7CC1_B727_220Au64;
        for &chunks in sizes {
            for pattern in 0..if cfg!(miri) { 2 } else { 9 } {
                let (mut taken_words, mut searched_words) = (Vec::new(), Vec::new());
                let mut taken = bitmap(&mut taken_words, chunks);
                let mut searched = bitmap(&mut searched_words, chunks);
                // Blocks of random lengths, from none used (pattern 0) to all (pattern 8).
                let mut index = 0;
                while index < chunks {
                    let r = next_random(&mut seed);
                    let end = (index + (r % 40) as usize + 1).min(chunks);
                    if r % 8 < pattern {
                        for map in [&mut taken, &mut searched] {
                            map.set_range(index, end);
                            map.mark_start(index);
                        }
                    }
                    index = end;
                }
                // Known run records, so that forgetting one shows.
                for w in 0..words_for(chunks) {
                    taken.longest_free_in(w);
                    searched.longest_free_in(w);
                }
                let past_end = words_for(chunks) * WORD_BITS + 1;
                for from in (0..=past_end).step_by(if cfg!(miri) { 5 } else { 1 }) {
                    let expected = searched.find_run(from, chunks, 1, StartRule::ANY);
                    if let Some(index) = expected {
                        searched.set_range(index, index + 1);
                        searched.mark_start(index);
                    }
                    let context = format!("{chunks} chunks, pattern {pattern}, from {from}");
                    assert_eq!(taken.take_first_free(from), expected, "{context}");
                    let same = (0..bitmap_words(chunks)).all(|w| taken.word(w) == searched.word(w));
                    assert!(same, "{context}");
                }
                assert!(taken.audit().is_ok(), "{chunks} chunks, pattern {pattern}");
            }
        }
    }

    /// Whether every known run record holds its word's longest free run, found bit by bit.
    fn records_agree(map: &Bitmap) -> bool {
        (0..map.level0).all(|w| {
            // SAFETY: the record's byte lies in the test's buffer.
            let record = unsafe { map.run_record(w).read() };
            record == 0 || usize::from(record) == naive_longest_ones(!map.word(w)) + 1
        })
    }

    /// `find_run` against the naive search, for run lengths on both sides of the run record's
    /// threshold and of a word, every kind of start rule, fixed ranges and random ones.
    fn check_searches(map: &mut Bitmap, used: &[bool], seed: &mut u64) {
        let chunks = used.len();
        // Under Miri, a run inside a word, one that may cross a word's edge, the shortest the
        // run record keeps, one word, and runs over two and three words.
        let lengths: &[usize] = if cfg!(miri) {
            &[1, 7, RECORDED_RUNS_FROM, 64, 65, 129]
        } else {
            &[1, 2, 5, 7, 8, 9, 31, 63, 64, 65, 100, 129]
        };
        for &n in lengths {
            for rule in [
                StartRule::ANY,
                StartRule::new(4, 3),
                StartRule::new(64, 10),
                StartRule::new(128, 0),
                StartRule::new(128, 100),
                StartRule::new(256, 70),
            ] {
                // Fixed ranges, and random ones, often with an end at a word's edge.
                let ends = [random_end(seed, chunks), random_end(seed, chunks)];
                let random = (ends[0].min(ends[1]), ends[0].max(ends[1]));
                for (from, to) in [(0, chunks), (17, 290), (130, 200), (64, 128), random] {
                    let expected = naive_find(used, from, to, n, rule);
                    assert_eq!(
                        map.find_run(from, to, n, rule),
                        expected,
                        "n {n} {rule:?} {from}..{to}"
                    );
                }
            }
        }
    }
}
