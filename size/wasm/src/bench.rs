//! The speed workload, built only with the `bench` feature (`make size` times a second build
//! of each allocator with it; the size builds leave it out, so that a module measured for its
//! size exports only `alloc`, `dealloc` and `realloc`).
//!
//! `random_actions(max, ops, seed)` runs the random-actions workload on the global allocator
//! and returns a checksum; `bench.mjs` times it under Node.js.
//!
//! **The random-actions workload.** Up to [`LIVE_CAP`] live blocks in a fixed table (on the
//! stack, not the heap). Each step draws, from a xorshift32 generator seeded with `seed`:
//! allocate (3 in 7), free a random live block (3 in 7) or reallocate one (1 in 7); a free or
//! reallocation with no live block allocates instead, an allocation with a full table frees
//! instead. Sizes are `rand(4 ..= rand(16 ..= max))` bytes, alignment 8. The first and last
//! byte of every block are written when it is made and checked before it is freed or
//! reallocated (a reallocation must also keep the bytes it moves). At the end every live block
//! is freed, so the next call starts from an empty heap. The checksum depends only on the
//! random sequence, so every correct allocator returns the same one for the same arguments;
//! a failed check returns `u32::MAX`, a failed allocation `u32::MAX - 1`.

use core::alloc::Layout;
use core::ptr;

/// The most blocks alive at once in [`random_actions`].
pub const LIVE_CAP: usize = 1000;

/// The alignment of every block in [`random_actions`].
const ALIGN: usize = 8;

/// What `random_actions` returns when a block's bytes were not as written.
const CHECK_FAILED: u32 = u32::MAX;

/// What `random_actions` returns when the allocator returned null.
const ALLOCATION_FAILED: u32 = u32::MAX - 1;

/// Runs `ops` random allocations, frees and reallocations of sizes up to `max` bytes on the
/// global allocator (see the module docs) and returns the checksum: below 2^31 when every step
/// worked, [`CHECK_FAILED`] or [`ALLOCATION_FAILED`] otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn random_actions(max: u32, ops: u32, seed: u32) -> u32 {
    let mut rng = XorShift::new(seed);
    let mut live = [Block::EMPTY; LIVE_CAP];
    let mut count = 0usize;
    let mut checksum = 0x811c_9dc5_u32;
    let mut checks_failed = false;
    let mut allocations_failed = false;
    for _ in 0..ops {
        let action = rng.next() % 7;
        let allocate = if action < 3 {
            count < LIVE_CAP
        } else {
            count == 0
        };
        if allocate {
            let size = rng.size(max);
            let tag = rng.tag();
            checksum = mix(checksum, size as u32);
            match Block::allocate(size, tag) {
                Some(block) => {
                    live[count] = block;
                    count += 1;
                }
                None => allocations_failed = true,
            }
        } else if action < 6 {
            let index = rng.next() as usize % count;
            let block = live[index];
            count -= 1;
            live[index] = live[count];
            checksum = mix(checksum, block.size as u32 ^ 0xf2ee);
            checks_failed |= !block.free();
        } else {
            let index = rng.next() as usize % count;
            let new_size = rng.size(max);
            let tag = rng.tag();
            checksum = mix(checksum, new_size as u32 ^ 0x7ea1);
            match live[index].reallocate(new_size, tag) {
                Some((block, held)) => {
                    live[index] = block;
                    checks_failed |= !held;
                }
                None => allocations_failed = true,
            }
        }
    }
    for block in &live[..count] {
        checks_failed |= !block.free();
    }
    if checks_failed {
        CHECK_FAILED
    } else if allocations_failed {
        ALLOCATION_FAILED
    } else {
        mix(checksum, count as u32) & 0x7fff_ffff
    }
}

/// One step of FNV-1a over a 32-bit word.
fn mix(hash: u32, word: u32) -> u32 {
    (hash ^ word).wrapping_mul(0x0100_0193)
}

/// Marsaglia's xorshift32: deterministic, the same in every module.
struct XorShift(u32);

impl XorShift {
    /// A generator seeded with `seed` (0, which xorshift cannot leave, is replaced).
    fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x9e37_79b9 } else { seed })
    }

    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A number in `low ..= high` (`low <= high`).
    fn range(&mut self, low: u32, high: u32) -> u32 {
        low + self.next() % (high - low + 1)
    }

    /// A block size: `rand(4 ..= rand(16 ..= max))` (`max` below 16 counts as 16).
    fn size(&mut self, max: u32) -> usize {
        let upper = self.range(16, max.max(16));
        self.range(4, upper) as usize
    }

    /// The byte a new block's first byte holds (its last byte holds the complement).
    fn tag(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }
}

/// A live block of the workload: where, how large, and the tag its end bytes carry.
#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    size: usize,
    tag: u8,
}

impl Block {
    /// An unused table entry.
    const EMPTY: Self = Self {
        ptr: ptr::null_mut(),
        size: 0,
        tag: 0,
    };

    /// Allocates `size` (at least 4) bytes and writes the end bytes; `None` on null.
    fn allocate(size: usize, tag: u8) -> Option<Self> {
        let layout = Layout::from_size_align(size, ALIGN).ok()?;
        // SAFETY: `size` is at least 4.
        let ptr = unsafe { alloc::alloc::alloc(layout) };
        if ptr.is_null() {
            return None;
        }
        let block = Self { ptr, size, tag };
        block.write_ends();
        Some(block)
    }

    /// The block's layout (valid: it was made from it).
    fn layout(&self) -> Layout {
        // SAFETY: `allocate` checked this size and alignment.
        unsafe { Layout::from_size_align_unchecked(self.size, ALIGN) }
    }

    /// Writes the tag to the first byte and its complement to the last (volatile: the
    /// compiler may not leave the memory untouched).
    fn write_ends(&self) {
        // SAFETY: the block is live and `size` bytes long (at least 4).
        unsafe {
            ptr::write_volatile(self.ptr, self.tag);
            ptr::write_volatile(self.ptr.add(self.size - 1), !self.tag);
        }
    }

    /// Whether the first and last byte still hold what `write_ends` wrote.
    fn ends_hold(&self) -> bool {
        // SAFETY: the block is live and `size` bytes long (at least 4).
        unsafe {
            ptr::read_volatile(self.ptr) == self.tag
                && ptr::read_volatile(self.ptr.add(self.size - 1)) == !self.tag
        }
    }

    /// Checks the end bytes and frees the block; whether the check passed.
    fn free(self) -> bool {
        let held = self.ends_hold();
        // SAFETY: the block is live, allocated with this layout, and dropped from the table.
        unsafe { alloc::alloc::dealloc(self.ptr, self.layout()) };
        held
    }

    /// Checks the end bytes, resizes the block to `new_size` bytes, checks that the bytes it
    /// kept moved with it, and writes new end bytes with `tag`: the new block and whether every
    /// check passed, or `None` when the allocator returned null (the old block is then still
    /// live, unchanged).
    fn reallocate(self, new_size: usize, tag: u8) -> Option<(Self, bool)> {
        let held = self.ends_hold();
        // SAFETY: the block is live, allocated with this layout; `new_size` is at least 4.
        let ptr = unsafe { alloc::alloc::realloc(self.ptr, self.layout(), new_size) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the new block is live and `new_size` bytes long; the first byte, and the old
        // last byte when the block grew, are within it.
        let kept = unsafe {
            ptr::read_volatile(ptr) == self.tag
                && (new_size < self.size || ptr::read_volatile(ptr.add(self.size - 1)) == !self.tag)
        };
        let block = Self {
            ptr,
            size: new_size,
            tag,
        };
        block.write_ends();
        Some((block, held && kept))
    }
}
