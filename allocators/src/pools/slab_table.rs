//! The slab table: from an address to the pools' own pointer to the slab that contains it.
//!
//! A free receives the caller's pointer, whose provenance may cover the caller's block and
//! nothing more (a `Box` or `&mut` handed back to `dealloc`). Finding the slab header by
//! masking that pointer and writing the header through it would reach outside the block with
//! the caller's permission, which Stacked Borrows rightly rejects. So the caller's pointer is
//! used only as an address. A trusted free asks the fallback for its own pointer to the slab
//! ([`RawAllocator::pointer_to`](crate::RawAllocator::pointer_to): O(1) for every allocator of
//! this crate). This table serves the rest: the checked calls, which must also tell whether an
//! address is in one of our slabs at all, and fallbacks that give no pointer. Its key is the
//! slab number (address / the slab size), in an open-addressing hash table of the slab
//! pointers the pools got from their fallback; every access to a header or to a freed block
//! goes through the pointer found there.
//!
//! ```text
//!   caller's block 0x7f_1234_8a40 ──► slab number 0x7f_1234_8a40 >> 15 = 0xfe2469  (32 KiB slabs)
//!                                         │ Fibonacci hash, linear probing
//!                                         ▼
//!   slots  [ null | slab@0x7f_1234_8000 | null | slab@0x7f_1235_0000 | ... ]   (≤ half full)
//!                        │ our pointer, our provenance
//!                        ▼
//!          header.with_addr(0x7f_1234_8a40) ──► the block, re-based on our provenance
//! ```
//!
//! A probe ends at the slab or at the first empty slot. Removing a slab (when the pools give an
//! empty slab back) shifts the later members of its probe run back into the hole (backward
//! shift deletion), so no tombstones accumulate and that rule stays true. The table is kept at
//! most half full: an expected O(1) probes (about 1.5 for a hit), one multiplication for the
//! hash. It takes its memory from the fallback, 16 slots at first, and doubles (O(slabs),
//! rehashing every slab) when the next slab would fill it over half: one pointer per slot, at
//! most 32 bytes per slab once it has grown (0.1 % of a 32 KiB slab, 1.6 % of a 2 KiB one), returned to the fallback when the
//! pools are dropped. It never shrinks.

use core::alloc::Layout;
use core::ptr::{self, NonNull};

use super::slab::{Geometry, SlabHeader};
use crate::RawAllocator;

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
    pub(super) fn reserve_one(
        &mut self,
        fallback: &mut impl RawAllocator,
        geometry: Geometry,
    ) -> bool {
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
        let Ok(slots) = fallback.allocate(layout) else {
            return false;
        };
        let slots = slots.cast::<*mut SlabHeader>().as_ptr();
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
                self.insert(header, geometry);
            }
        }
        // SAFETY: the old slots came from this fallback with the layout of their capacity
        // (or there are none) and nothing refers to them any more.
        unsafe { old.release(fallback) };
        true
    }

    /// Records the slab at `header`, of `geometry`. Expected O(1).
    /// A [`reserve_one`](Self::reserve_one) that returned `true` must precede each insertion;
    /// otherwise the slab is not recorded.
    pub(super) fn insert(&mut self, header: *mut SlabHeader, geometry: Geometry) {
        if 2 * (self.len + 1) > self.capacity {
            return;
        }
        let mut slot = self.home(header.addr(), geometry);
        // SAFETY: `slot` stays below the capacity (masked), every slot is initialised,
        // and at most half are taken, so an empty one is reached.
        while !unsafe { self.slots.add(slot).read() }.is_null() {
            slot = (slot + 1) & (self.capacity - 1);
        }
        // SAFETY: as above; the slot is empty.
        unsafe { self.slots.add(slot).write(header) };
        self.len += 1;
    }

    /// Our pointer to the header of the slab of `geometry` that contains `address` (in its
    /// first `geometry.len()` bytes), if the pools own such a slab. Expected O(1).
    pub(super) fn find(&self, address: usize, geometry: Geometry) -> Option<*mut SlabHeader> {
        // The last SLAB_TAIL bytes of a span are not the slab's: the fallback may have put a
        // block of its own there.
        if self.capacity == 0 || address & (geometry.size() - 1) >= geometry.len() {
            return None;
        }
        let start = address & !(geometry.size() - 1);
        let mut slot = self.home(start, geometry);
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
    pub(super) unsafe fn release(&mut self, fallback: &mut impl RawAllocator) {
        if let (Ok(layout), Some(slots)) = (
            Layout::array::<*mut SlabHeader>(self.capacity),
            NonNull::new(self.slots),
        ) {
            // SAFETY: the slots came from `fallback` with exactly this layout (the caller's
            // contract) and are dropped from the table here.
            unsafe { fallback.deallocate_trusted(slots.cast(), layout) };
        }
        *self = Self::new();
    }

    /// Forgets the slab at `header`, of `geometry`, if recorded. Expected O(1): the members of
    /// its probe run that come after it move back, each into the first hole it may occupy.
    pub(super) fn remove(&mut self, header: *mut SlabHeader, geometry: Geometry) {
        if self.capacity == 0 {
            return;
        }
        let mask = self.capacity - 1;
        let mut hole = self.home(header.addr(), geometry);
        loop {
            // SAFETY: `hole` is below the capacity (masked) and every slot is initialised.
            let found = unsafe { self.slots.add(hole).read() };
            if found.is_null() {
                return;
            }
            if found == header {
                break;
            }
            hole = (hole + 1) & mask;
        }
        let mut slot = hole;
        loop {
            slot = (slot + 1) & mask;
            // SAFETY: as above.
            let moved = unsafe { self.slots.add(slot).read() };
            if moved.is_null() {
                break;
            }
            // The member may fill the hole when its home is not in the cyclic range
            // (hole, slot]: its probe from home then passes the hole.
            let home = self.home(moved.addr(), geometry);
            if (slot.wrapping_sub(home) & mask) >= (slot.wrapping_sub(hole) & mask) {
                // SAFETY: both slots are below the capacity and initialised.
                unsafe { self.slots.add(hole).write(moved) };
                hole = slot;
            }
        }
        // SAFETY: as above.
        unsafe { self.slots.add(hole).write(ptr::null_mut()) };
        self.len -= 1;
    }

    /// Every recorded slab, in slot order. O(capacity).
    pub(super) fn slabs(&self) -> impl Iterator<Item = *mut SlabHeader> + '_ {
        // SAFETY: every slot below the capacity is initialised.
        (0..self.capacity)
            .map(|slot| unsafe { self.slots.add(slot).read() })
            .filter(|header| !header.is_null())
    }

    /// Whether `address` is the start of the table's own memory (a fallback block the pools
    /// hold, never handed to a caller). O(1).
    pub(super) fn is_own_memory(&self, address: usize) -> bool {
        !self.slots.is_null() && self.slots.addr() == address
    }

    /// The first slot to probe for the slab of `geometry` starting at `start`. Needs a
    /// non-zero capacity.
    fn home(&self, start: usize, geometry: Geometry) -> usize {
        let slab_number = (start >> geometry.shift()) as u64;
        (slab_number.wrapping_mul(FIBONACCI) >> 32) as usize & (self.capacity - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::slab::{SLAB_SIZE, SLAB_TAIL};
    use super::super::test_fallback::Ledger;
    use super::*;

    const GEOMETRY: Geometry = Geometry::DEFAULT;
    const SLAB_LEN: usize = SLAB_SIZE - SLAB_TAIL;

    /// A fake slab header at slab number `number`: only its address is ever used here.
    fn header(number: usize) -> *mut SlabHeader {
        ptr::without_provenance_mut(number * SLAB_SIZE)
    }

    #[test]
    fn finds_every_recorded_slab_by_any_address_inside_it_across_growth() {
        let ledger = Ledger::new();
        let mut fallback = &ledger;
        let mut table = SlabTable::new();
        assert_eq!(table.find(5 * SLAB_SIZE, GEOMETRY), None);
        // Consecutive slabs and slabs a table-size stride apart, which would collide under a
        // plain mask.
        let numbers: std::vec::Vec<usize> = (1..40).chain((1..20).map(|i| i << 12)).collect();
        for &number in &numbers {
            assert!(table.reserve_one(&mut fallback, GEOMETRY));
            table.insert(header(number), GEOMETRY);
        }
        assert_eq!(table.bytes(), 128 * size_of::<usize>());
        assert_eq!(ledger.live_count(), 1);
        for &number in &numbers {
            let start = number * SLAB_SIZE;
            assert_eq!(table.find(start, GEOMETRY).map(<*mut _>::addr), Some(start));
            assert_eq!(
                table.find(start + SLAB_LEN - 1, GEOMETRY),
                table.find(start, GEOMETRY)
            );
            assert_eq!(
                table.find(start + SLAB_LEN, GEOMETRY),
                None,
                "the tail is not the slab's"
            );
        }
        assert_eq!(table.find(41 * SLAB_SIZE + 8, GEOMETRY), None);
        // SAFETY: the ledger served every growth.
        unsafe { table.release(&mut fallback) };
        assert_eq!((ledger.live_count(), table.bytes()), (0, 0));
    }

    #[test]
    fn an_exhausted_fallback_leaves_the_table_unchanged() {
        let ledger = Ledger::with_budget(1);
        let mut fallback = &ledger;
        let mut table = SlabTable::new();
        for number in 1..=8 {
            assert!(table.reserve_one(&mut fallback, GEOMETRY));
            table.insert(header(number), GEOMETRY);
        }
        assert!(!table.reserve_one(&mut fallback, GEOMETRY));
        table.insert(header(9), GEOMETRY);
        assert_eq!(table.find(9 * SLAB_SIZE, GEOMETRY), None);
        assert_eq!(table.bytes(), FIRST_CAPACITY * size_of::<usize>());
        for number in 1..=8 {
            assert!(table.find(number * SLAB_SIZE, GEOMETRY).is_some());
        }
        // SAFETY: the ledger served the only allocation.
        unsafe { table.release(&mut fallback) };
        assert_eq!(ledger.live_count(), 0);
    }

    #[test]
    fn removal_keeps_every_other_slab_findable() {
        let ledger = Ledger::new();
        let mut fallback = &ledger;
        let mut table = SlabTable::new();
        // Slabs a table-size stride apart share a home slot, so their probe runs interleave.
        let numbers: std::vec::Vec<usize> = (1..12).chain((1..12).map(|i| i << 5)).collect();
        for &number in &numbers {
            assert!(table.reserve_one(&mut fallback, GEOMETRY));
            table.insert(header(number), GEOMETRY);
        }
        for (removed, &number) in numbers.iter().enumerate().filter(|(i, _)| i % 3 != 1) {
            table.remove(header(number), GEOMETRY);
            assert_eq!(
                table.find(number * SLAB_SIZE, GEOMETRY),
                None,
                "removed {removed}"
            );
            table.remove(header(number), GEOMETRY);
        }
        for (_, &number) in numbers.iter().enumerate().filter(|(i, _)| i % 3 == 1) {
            assert_eq!(
                table.find(number * SLAB_SIZE, GEOMETRY).map(<*mut _>::addr),
                Some(number * SLAB_SIZE)
            );
        }
        let kept = (0..numbers.len()).filter(|i| i % 3 == 1).count();
        assert_eq!(table.slabs().count(), kept);
        // SAFETY: the ledger served every growth.
        unsafe { table.release(&mut fallback) };
    }
}
