//! What the kernel tells a new process: arguments, environment and the auxiliary vector.
//!
//! [`InitialStack`] turns the raw words that `_start` finds on the stack (see [`crate::start`])
//! into typed values once, at start-up, so the rest of the program never touches raw pointers
//! to read its command line. The auxiliary vector is the kernel's list of `(key, value)` facts
//! about the process and the machine; the one this program needs is the page size (`AT_PAGESZ`),
//! which is not 4096 on every machine and must not be assumed.
//!
//! Everything here lives in the initial stack frame, which stays valid for the whole life of the
//! process because `rust_start` never returns; hence the `'static` lifetimes.

use core::ffi::{CStr, c_char};

/// A key of the auxiliary vector (`AT_*` in `<elf.h>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxKey(usize);

impl AuxKey {
    /// Ends the vector.
    const NULL: Self = Self(0);
    /// The system page size in bytes.
    pub const PAGE_SIZE: Self = Self(6);
}

/// The process's inputs, read from the initial stack (the environment is skipped: this
/// program reads none).
pub struct InitialStack {
    args: &'static [*const c_char],
    aux: &'static [[usize; 2]],
}

impl InitialStack {
    /// Reads argc, argv, envp and auxv from the stack pointer the kernel gave the process.
    ///
    /// # Safety
    /// `stack_pointer` must be the process's initial stack pointer, untouched since the kernel
    /// started the program, and that stack must never be popped (so `'static` holds).
    pub unsafe fn from_stack_pointer(stack_pointer: *const usize) -> Self {
        // SAFETY: the kernel's layout puts argc at the stack pointer, then argc argv pointers and
        // a NULL; all of it is readable, word-aligned memory that lives as long as the process.
        unsafe {
            let argc = *stack_pointer;
            let argv = stack_pointer.add(1).cast::<*const c_char>();
            let args = core::slice::from_raw_parts(argv, argc);
            let envp = argv.add(argc + 1);
            let auxv = envp.add(null_terminated_len(envp) + 1).cast::<[usize; 2]>();
            let aux = core::slice::from_raw_parts(auxv, aux_len(auxv));
            Self { args, aux }
        }
    }

    /// The command-line arguments, `argv[0]` (the program's name) first.
    pub fn args(&self) -> impl Iterator<Item = &'static CStr> + '_ {
        // SAFETY: the kernel copied every argv entry as a NUL-terminated string onto the stack.
        self.args.iter().map(|&arg| unsafe { CStr::from_ptr(arg) })
    }

    /// The value the kernel gave for `key`, if it gave one.
    pub fn aux(&self, key: AuxKey) -> Option<usize> {
        self.aux
            .iter()
            .find(|[k, _]| *k == key.0)
            .map(|&[_, value]| value)
    }

    /// The page size in bytes, from the auxiliary vector.
    pub fn page_size(&self) -> Option<usize> {
        self.aux(AuxKey::PAGE_SIZE)
            .filter(|size| size.is_power_of_two())
    }
}

/// The number of entries before the NULL that ends `array`.
///
/// # Safety
/// `array` must point at readable pointers ending with a null one.
unsafe fn null_terminated_len(array: *const *const c_char) -> usize {
    let mut len = 0;
    // SAFETY: the caller guarantees a NULL entry ends the array, so each read before it is in
    // bounds.
    while !unsafe { *array.add(len) }.is_null() {
        len += 1;
    }
    len
}

/// The number of auxiliary-vector pairs before `AT_NULL`.
///
/// # Safety
/// `auxv` must point at readable `(key, value)` pairs ending with an `AT_NULL` key.
unsafe fn aux_len(auxv: *const [usize; 2]) -> usize {
    let mut len = 0;
    // SAFETY: the caller guarantees an AT_NULL pair ends the vector, so each read before it is
    // in bounds.
    while unsafe { (*auxv.add(len))[0] } != AuxKey::NULL.0 {
        len += 1;
    }
    len
}
