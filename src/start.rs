//! The process entry point: from the kernel's initial stack to Rust.
//!
//! A program linked without libc has no `crt1.o` to call `main` for it. The kernel jumps to the
//! ELF entry symbol, `_start`, with nothing set up but a stack that holds the program's inputs:
//!
//! ```text
//!   rsp ──► argc                 (one machine word)
//!           argv[0] .. argv[argc-1]
//!           NULL
//!           envp[0] .. envp[n-1]
//!           NULL
//!           auxv: (type, value) pairs ... (AT_NULL, 0)
//!           ... the strings themselves, higher up
//! ```
//!
//! `_start` is a naked function: the compiler emits no prologue, so `rsp` is exactly what the
//! kernel left. It clears `rbp` (the end of the frame-pointer chain, for debuggers), passes `rsp`
//! as the first argument, aligns the stack to the 16 bytes the System V ABI requires at a call, and
//! calls [`rust_start`], which never returns.

use crate::process::InitialStack;

/// The ELF entry point. See the module docs for the stack it receives.
#[unsafe(naked)]
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        "xor rbp, rbp",
        "mov rdi, rsp",
        "and rsp, -16",
        "call {entry}",
        "ud2",
        entry = sym rust_start,
    )
}

/// The first Rust code that runs: reads the initial stack, runs the program, exits.
///
/// # Safety
/// Called only by [`_start`], with the stack pointer the kernel handed to the process.
unsafe extern "C" fn rust_start(stack_pointer: *const usize) -> ! {
    // SAFETY: `_start` passes the untouched initial stack pointer, which points at argc followed by
    // the argv, envp and auxv arrays in the layout the kernel guarantees for every new process.
    let stack = unsafe { InitialStack::from_stack_pointer(stack_pointer) };
    // SAFETY: the first thing the process does, on its only thread; before any allocation,
    // since the per-thread caches read the thread block.
    if let Err(errno) = unsafe { crate::tls::install_main_block() } {
        panic!("setting the main thread's thread pointer failed: {errno}");
    }
    let code = crate::io::finish(crate::main(&stack));
    crate::sys::exit_group(code)
}
