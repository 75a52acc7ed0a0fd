//! The two ways this program fails on purpose, so a reader (and the tests) can see both paths
//! end with a message and exit status 101.

use alloc::vec::Vec;

/// More than any allocator here can give: 64 TiB.
const IMPOSSIBLE_BYTES: usize = 1 << 46;

/// Panics: the panic handler prints the message and location and exits 101.
pub fn panic_on_purpose() {
    panic!("the 'panic' workload panics on purpose");
}

/// Asks for 64 TiB: the allocator returns null, and `alloc`'s error handler panics with
/// "memory allocation of 70368744177664 bytes failed".
pub fn exhaust_memory() {
    let hoard: Vec<u8> = Vec::with_capacity(IMPOSSIBLE_BYTES);
    crate::println!("unexpectedly got {} bytes", hoard.capacity());
}
