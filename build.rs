//! Link arguments for the freestanding demo binary, and for nothing else.
//!
//! `cargo:rustc-link-arg-bins` reaches only the binary: the library, its tests and the build's
//! proc-macros keep linking the normal way. (The same flags in `.cargo/config.toml` would apply
//! to every crate, and a `RUSTFLAGS` variable would silently replace them.)
//!
//! | flag | why |
//! |---|---|
//! | `-nostartfiles` | no `crt1.o`: the program has its own `_start` |
//! | `-nostdlib` | no libc, no libgcc: the program defines the few symbols it needs |
//! | `-static`, `-no-pie` | one self-contained image at a fixed address: no dynamic loader (no `INTERP`) |
//! | `--build-id=none` | no `.note.gnu.build-id` section to place |
//! | `-T linker.ld` | the memory layout: page-aligned segments, unwind tables dropped |

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = PathBuf::from(manifest_dir).join("linker.ld");
    println!("cargo:rerun-if-changed=linker.ld");
    let script_arg = format!("-Wl,-T,{}", script.display());
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static",
        "-no-pie",
        "-Wl,--build-id=none",
        &script_arg,
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
