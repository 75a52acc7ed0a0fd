//! Just enough of an ELF reader (64-bit, little-endian) to tell what kind of executable a file
//! is: a static, fixed-address program starts without the dynamic loader.
//!
//! ```text
//!   ELF header   e_type at 16 (2 = EXEC, fixed address; 3 = DYN, PIE)
//!                e_phoff at 32, e_phentsize at 54, e_phnum at 56
//!   program headers, one per segment: p_type at 0 (1 = LOAD, 3 = INTERP), p_vaddr at 16
//! ```

use std::path::Path;

const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;

/// An executable's type and its program headers.
pub struct Executable {
    file_type: u16,
    /// `(p_type, p_vaddr)` of each program header.
    segments: Vec<(u32, u64)>,
}

impl Executable {
    /// Reads the headers of the ELF file at `path`; panics if it is not one.
    pub fn read(path: &Path) -> Executable {
        let elf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(&elf[..4], b"\x7fELF", "{} is an ELF file", path.display());
        let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
        let (phoff, phentsize) = (u64_at(32) as usize, usize::from(u16_at(54)));
        let segments = (0..usize::from(u16_at(56)))
            .map(|index| phoff + index * phentsize)
            .map(|header| (u32_at(header), u64_at(header + 16)))
            .collect();
        Executable {
            file_type: u16_at(16),
            segments,
        }
    }

    /// True for an executable linked at one fixed address (not position-independent).
    pub fn is_fixed_address(&self) -> bool {
        self.file_type == ET_EXEC
    }

    /// True if it names an interpreter (the dynamic loader) that the kernel must start first.
    pub fn asks_for_interpreter(&self) -> bool {
        self.segments.iter().any(|&(kind, _)| kind == PT_INTERP)
    }

    /// The virtual address of each segment the kernel maps.
    pub fn loadable_addresses(&self) -> impl Iterator<Item = u64> + '_ {
        self.segments
            .iter()
            .filter(|&&(kind, _)| kind == PT_LOAD)
            .map(|&(_, vaddr)| vaddr)
    }
}
