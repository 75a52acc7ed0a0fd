//! The few C library symbols that Rust's prebuilt `core` and `alloc` call on this target.
//!
//! `core` is compiled once, for every program on `x86_64-unknown-linux-gnu`, on the assumption
//! that libc is linked in. Without libc the linker asks for these symbols, so the program must
//! define them:
//!
//! | symbol | who needs it, and why |
//! |---|---|
//! | `memcpy`, `memmove` | every copy the compiler does not inline: moving values, `copy_from_slice`, `Vec` growth |
//! | `memset` | zeroing: `alloc_zeroed`, `[0; N]` at run time |
//! | `memcmp`, `bcmp` | comparing slices and strings (`==` on `str` lowers to `bcmp`) |
//! | `strlen` | `CStr::from_ptr` (reading `argv`), once LTO inlines it into this crate |
//! | `rust_eh_personality`, `_Unwind_Resume` | referenced by `core`'s unwinding tables; never called, because this program aborts on panic |
//!
//! The memory functions must not be written as plain loops: LLVM recognises such a loop as "a
//! memcpy" and replaces it with a call to `memcpy` — this very function, recursing forever. The
//! copies and fills therefore use the x86 string instructions (`rep movsb`, `rep stosb`), which
//! recent CPUs execute at close to full memory bandwidth ("fast short rep mov"). The comparisons
//! are loops the optimiser has no libc call for.

use core::arch::asm;

/// Copies `n` bytes from `src` to `dest`; the ranges must not overlap.
///
/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes, and they must not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges are valid for `n` bytes; `rep movsb` copies
    // exactly `rcx` bytes forward (the ABI guarantees the direction flag is clear on entry).
    unsafe {
        asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Copies `n` bytes from `src` to `dest`; the ranges may overlap.
///
/// # Safety
/// `src` must be readable and `dest` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if dest.addr().wrapping_sub(src.addr()) >= n {
        // `dest` is below `src` or past its end: a forward copy never reads a byte it already
        // overwrote.
        // SAFETY: the caller guarantees both ranges are valid; forward is correct for this order.
        return unsafe { memcpy(dest, src, n) };
    }
    // `dest` starts inside `src`: copy backward, from the last byte down, with the direction flag
    // set for the copy and cleared again as the ABI requires.
    // SAFETY: the caller guarantees both ranges are valid for `n` bytes (n > 0 here, since
    // `dest - src < n`), so the last bytes at offset n - 1 are in bounds.
    unsafe {
        asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dest.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack)
        );
    }
    dest
}

/// Fills `n` bytes at `dest` with the low byte of `value`.
///
/// # Safety
/// `dest` must be writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees `dest` is writable for `n` bytes; `rep stosb` stores `al`
    // exactly `rcx` times, forward.
    unsafe {
        asm!(
            "rep stosb",
            inout("rcx") n => _,
            inout("rdi") dest => _,
            in("al") value as u8,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Compares `n` bytes: negative, zero or positive as `a` sorts before, equal to or after `b`.
///
/// # Safety
/// `a` and `b` must be readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: `i < n`, and the caller guarantees both ranges are readable for `n` bytes.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// Compares `n` bytes for equality only: zero when equal.
///
/// # Safety
/// `a` and `b` must be readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the same contract as `memcmp`, whose result is zero exactly when the bytes match.
    unsafe { memcmp(a, b, n) }
}

/// The length of the NUL-terminated string at `s`, without the NUL.
///
/// # Safety
/// `s` must point at a readable NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut len = 0;
    // SAFETY: the caller guarantees a NUL byte ends the string, so each read up to it is in
    // bounds.
    while unsafe { *s.add(len) } != 0 {
        len += 1;
    }
    len
}

/// The personality routine `core`'s unwind tables name. This program never unwinds
/// (`panic = "abort"`), so no unwinder ever calls it.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

/// The unwinder's resume entry, named by `core`'s landing pads. Landing pads only run during
/// unwinding, which never happens here; if it somehow did, stopping is the only safe answer.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate::sys::exit_group(crate::ExitCode::Panic as u8)
}
