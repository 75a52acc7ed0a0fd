//! The slab table: from an address to the pools' own pointer to the slab that contains it.
//!
//! A free receives the caller's pointer, whose provenance may cover the caller's block and
//! nothing more (a `Box` or `&mut` handed back to `dealloc`). Finding the slab header by
//! masking that pointer and writing the header through it would reach outside the block with
//! the caller's permission, which Stacked Borrows rightly rejects. So the caller's pointer is
//! used only as an address: its slab number (address / [`SLAB_SIZE`]) keys an open-addressing
//! hash table of the slab pointers the pools got from their fallback, and every access to a
//! header or to a freed block goes through the pointer found there.
//!
//! ```text
//!   caller's block 0x7f_1234_8a40 ──► slab number 0x7f_1234_8a40 >> 15 = 0xfe2469
//!                                         │ Fibonacci hash, linear probing
//!                                         ▼
//!   slots  [ null | slab@0x7f_1234_8000 | null | slab@0x7f_1235_0000 | ... ]   (≤ half full)
//!                        │ our pointer, our provenance
//!                        ▼
//!          header.with_addr(0x7f_1234_8a40) ──► the block, re-based on our provenance
//! ```
//!
//! Slabs are never removed while the pools live, so the table only inserts and looks up, and a
//! probe ends at the slab or at the first empty slot. It is kept at most half full: an
//! expected O(1) probes (about 1.5 for a hit), one multiplication for the hash. It takes its
//! memory from the fallback, 16 slots at first, and doubles (O(slabs), rehashing every slab)
//! when the next slab would fill it over half: 8 bytes per slot, at most 32 bytes per 32 KiB
//! slab once it has grown (0.1 %), returned to the fallback when the pools are dropped.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

use super::slab::{SLAB_SIZE, SlabHeader};

/// The slots of the first table.
const FIRST_CAPACITY: usize = 16;

/// Odd and close to 2^64 / φ: multiplying by it spreads consecutive slab numbers across the
/// table (Fibonacci hashing).
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// Every slab of the pools, found by address in expected O(1).
pub(super) struct SlabTable {
    /// `capacity` slots, each a slab header or null; null until the first slab.
    slots: *mut *mut SlabHeader,
    /// A power of two, or zero before the first slab.
    capacity: usize,
    /// Slabs recorded.
    len: usize,
}

impl SlabTable {
    /// A table without memory. O(1); `const` for `static` pools.
    pub(super) const fn new() -> Self {
        Self {
            slots: ptr::null_mut(),
            capacity: 0,
            len: 0,
        }
    }

    /// Makes room for one more slab, doubling the table from `fallback` when it would end up
    /// over half full. O(1), or O(slabs) when it grows. Returns `false`, with the table
    /// unchanged, when the fallback is exhausted.
    pub(super) fn reserve_one(&mut self, fallback: &impl GlobalAlloc) -> bool {
        if 2 * (self.len + 1) <= self.capacity {
            return true;
        }
        let capacity = if self.capacity == 0 {
            FIRST_CAPACITY
        } else {
            2 * self.capacity
        };
        let Ok(layout) = Layout::array::<*mut SlabHeader>(capacity) else {
            return false;
        };
        // SAFETY: `capacity` is at least 16, so the layout has a non-zero size.
        let slots = unsafe { fallback.alloc(layout) }.cast::<*mut SlabHeader>();
        if slots.is_null() {
            return false;
        }
        for slot in 0..capacity {
            // SAFETY: `slots` is a fresh allocation of `capacity` aligned slots.
            unsafe { slots.add(slot).write(ptr::null_mut()) };
        }
        let grown = Self {
            slots,
            capacity,
            len: 0,
        };
        let mut old = core::mem::replace(self, grown);
        for slot in 0..old.capacity {
            // SAFETY: `slot` is below the old capacity, and every slot was initialised.
            let header = unsafe { old.slots.add(slot).read() };
            if !header.is_null() {
                self.insert(header);
            }
        }
        // SAFETY: the old slots came from this fallback with the layout of their capacity
        // (or there are none) and nothing refers to them any more.
        unsafe { old.release(fallback) };
        true
    }

    /// Records the slab at `header`. Expected O(1).
    /// A [`reserve_one`](Self::reserve_one) that returned `true` must precede each insertion;
    /// otherwise the slab is not recorded.
    pub(super) fn insert(&mut self, header: *mut SlabHeader) {
        if 2 * (self.len + 1) > self.capacity {
            return;
        }
        let mut slot = self.home(header.addr());
        // SAFETY: `slot` stays below the capacity (masked), every slot is initialised,
        // and at most half are taken, so an empty one is reached.
        while !unsafe { self.slots.add(slot).read() }.is_null() {
            slot = (slot + 1) & (self.capacity - 1);
        }
        // SAFETY: as above; the slot is empty.
        unsafe { self.slots.add(slot).write(header) };
        self.len += 1;
    }

    /// Our pointer to the header of the slab whose 32 KiB span contains `address`, if the
    /// pools own such a slab. Expected O(1).
    pub(super) fn find(&self, address: usize) -> Option<*mut SlabHeader> {
        if self.capacity == 0 {
            return None;
        }
        let start = address & !(SLAB_SIZE - 1);
        let mut slot = self.home(start);
        loop {
            // SAFETY: `slot` is below the capacity (masked) and every slot is initialised.
            let header = unsafe { self.slots.add(slot).read() };
            if header.is_null() {
                return None;
            }
            if header.addr() == start {
                return Some(header);
            }
            slot = (slot + 1) & (self.capacity - 1);
        }
    }

    /// The bytes the table holds from the fallback (zero before the first slab). O(1).
    pub(super) const fn bytes(&self) -> usize {
        self.capacity * size_of::<*mut SlabHeader>()
    }

    /// Returns the table's memory to `fallback`, leaving it empty. O(1).
    ///
    /// # Safety
    /// `fallback` must be the allocator every [`reserve_one`](Self::reserve_one) used.
    pub(super) unsafe fn release(&mut self, fallback: &impl GlobalAlloc) {
        if let Ok(layout) = Layout::array::<*mut SlabHeader>(self.capacity)
            && !self.slots.is_null()
        {
            // SAFETY: the slots came from `fallback` with exactly this layout (the caller's
            // contract) and are dropped from the table here.
            unsafe { fallback.dealloc(self.slots.cast(), layout) };
        }
        *self = Self::new();
    }

    /// The first slot to probe for the slab starting at `start`. Needs a non-zero capacity.
    fn home(&self, start: usize) -> usize {
        let slab_number = (start / SLAB_SIZE) as u64;
        (slab_number.wrapping_mul(FIBONACCI) >> 32) as usize & (self.capacity - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_fallback::Ledger;
    use super::*;

    /// A fake slab header at slab number `number`: only its address is ever used here.
    fn header(number: usize) -> *mut SlabHeader {
        ptr::without_provenance_mut(number * SLAB_SIZE)
    }

    #[test]
    fn finds_every_recorded_slab_by_any_address_inside_it_across_growth() {
        let ledger = Ledger::new();
        let mut table = SlabTable::new();
        assert_eq!(table.find(5 * SLAB_SIZE), None);
        // Consecutive slabs and slabs a table-size stride apart, which would collide under a
        // plain mask.
        let numbers: std::vec::Vec<usize> = (1..40).chain((1..20).map(|i| i << 12)).collect();
        for &number in &numbers {
            assert!(table.reserve_one(&ledger));
            table.insert(header(number));
        }
        assert_eq!(table.bytes(), 128 * 8);
        assert_eq!(ledger.live_count(), 1);
        for &number in &numbers {
            let start = number * SLAB_SIZE;
            assert_eq!(table.find(start).map(<*mut _>::addr), Some(start));
            assert_eq!(table.find(start + SLAB_SIZE - 1), table.find(start));
        }
        assert_eq!(table.find(41 * SLAB_SIZE + 8), None);
        // SAFETY: the ledger served every growth.
        unsafe { table.release(&ledger) };
        assert_eq!((ledger.live_count(), table.bytes()), (0, 0));
    }

    #[test]
    fn an_exhausted_fallback_leaves_the_table_unchanged() {
        let ledger = Ledger::with_budget(1);
        let mut table = SlabTable::new();
        for number in 1..=8 {
            assert!(table.reserve_one(&ledger));
            table.insert(header(number));
        }
        assert!(!table.reserve_one(&ledger));
        table.insert(header(9));
        assert_eq!(table.find(9 * SLAB_SIZE), None);
        assert_eq!(table.bytes(), FIRST_CAPACITY * 8);
        for number in 1..=8 {
            assert!(table.find(number * SLAB_SIZE).is_some());
        }
        // SAFETY: the ledger served the only allocation.
        unsafe { table.release(&ledger) };
        assert_eq!(ledger.live_count(), 0);
    }
}
