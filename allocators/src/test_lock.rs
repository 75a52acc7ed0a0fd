//! Test-only lock: a spin lock that counts how often it was taken, so that a test can show how
//! many times a call went to the shared heap.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lock_api::RawMutex;

/// A spin lock that counts how often it was taken.
pub(crate) struct CountingLock {
    held: AtomicBool,
    taken: AtomicUsize,
}

impl CountingLock {
    /// How often the lock has been taken so far.
    pub(crate) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }
}

// SAFETY: `held` is set by a successful compare-and-swap and cleared by `unlock`, with Acquire
// and Release: one holder at a time.
unsafe impl RawMutex for CountingLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        held: AtomicBool::new(false),
        taken: AtomicUsize::new(0),
    };
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            core::hint::spin_loop();
        }
    }

    fn try_lock(&self) -> bool {
        let taken = self
            .held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if taken {
            self.taken.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    unsafe fn unlock(&self) {
        self.held.store(false, Ordering::Release);
    }
}
