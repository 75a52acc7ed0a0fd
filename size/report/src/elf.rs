//! Section sizes from an ELF file's section headers, read directly (no llvm tools needed).
//!
//! ```text
//!   ELF header ── e_shoff ──► section header table: e_shnum entries of e_shentsize bytes
//!                                each: sh_name (offset into the names section), sh_size, …
//!              ── e_shstrndx ► the entry of the section holding the names
//! ```
//!
//! 32- and 64-bit files, either byte order. Only the sizes of named sections are read.

use std::fmt;

/// What went wrong reading a file as ELF.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfError(String);

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a readable ELF file: {}", self.0)
    }
}

impl std::error::Error for ElfError {}

/// The sizes of the sections the tables report, in bytes (0 for a section the file lacks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sections {
    /// The RAM the statics take: from the start of `.data` to the end of `.bss`, alignment
    /// gaps included (cortex-m-rt's `link.x` places `.bss` right after `.data`); `.bss` alone
    /// when there is no `.data`.
    pub ram: u64,
    /// Code (`.text`).
    pub text: u64,
    /// Constants in flash (`.rodata`).
    pub rodata: u64,
    /// Initialised statics: in RAM, and their initial values in flash (`.data`).
    pub data: u64,
    /// Zeroed statics, in RAM only (`.bss`).
    pub bss: u64,
}

impl Sections {
    /// Reads the four sections' sizes from the ELF file's bytes.
    ///
    /// # Errors
    /// When the bytes are not an ELF file or its section headers lie outside it.
    pub fn from_elf(bytes: &[u8]) -> Result<Self, ElfError> {
        let mut sections = Sections::default();
        let (mut data_start, mut bss_start) = (None, None);
        for section in section_headers(bytes)? {
            match section.name.as_str() {
                ".text" => sections.text = section.size,
                ".rodata" => sections.rodata = section.size,
                ".data" => {
                    sections.data = section.size;
                    data_start = Some(section.addr);
                }
                ".bss" => {
                    sections.bss = section.size;
                    bss_start = Some(section.addr);
                }
                _ => {}
            }
        }
        sections.ram = match (data_start, bss_start) {
            (Some(data), Some(bss)) if data <= bss => bss - data + sections.bss,
            _ => sections.data + sections.bss,
        };
        Ok(sections)
    }
}

/// One section header's fields that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionHeader {
    /// Its name (`.text`).
    pub name: String,
    /// Its address in the program's memory.
    pub addr: u64,
    /// Its size in bytes.
    pub size: u64,
}

/// Every section's header, in the order of the section header table.
///
/// # Errors
/// When the bytes are not an ELF file or its section headers lie outside it.
pub fn section_headers(bytes: &[u8]) -> Result<Vec<SectionHeader>, ElfError> {
    let err = |what: &str| ElfError(what.to_string());
    if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
        return Err(err("no ELF magic"));
    }
    let reader = Reader {
        bytes,
        wide: match bytes[4] {
            1 => false,
            2 => true,
            _ => return Err(err("unknown class")),
        },
        big_endian: match bytes[5] {
            1 => false,
            2 => true,
            _ => return Err(err("unknown byte order")),
        },
    };
    // ELF header fields: (32-bit offset, 64-bit offset).
    let shoff = reader.word(0x20, 0x28)?;
    let shentsize = u64::from(reader.u16(reader.pick(0x2e, 0x3a))?);
    let shnum = u64::from(reader.u16(reader.pick(0x30, 0x3c))?);
    let shstrndx = u64::from(reader.u16(reader.pick(0x32, 0x3e))?);
    if shoff == 0 || shnum == 0 {
        return Err(err("no section headers"));
    }
    if shentsize < if reader.wide { 0x40 } else { 0x28 } {
        return Err(err("section headers too small"));
    }
    if shstrndx >= shnum {
        return Err(err("names section out of range"));
    }
    let header = |index: u64| -> Result<u64, ElfError> {
        index
            .checked_mul(shentsize)
            .and_then(|offset| offset.checked_add(shoff))
            .ok_or_else(|| err("section header offset overflows"))
    };
    // Section header fields: sh_name at 0; sh_addr at (0x0c, 0x10); sh_offset at (0x10, 0x18);
    // sh_size at (0x14, 0x20).
    let names_header = header(shstrndx)?;
    let names_offset = reader.word_at(names_header, 0x10, 0x18)?;
    let names_size = reader.word_at(names_header, 0x14, 0x20)?;
    let names = reader.slice(names_offset, names_size)?;
    let mut sections = Vec::new();
    for index in 0..shnum {
        let at = header(index)?;
        let name_offset = usize::try_from(reader.u32(at)?).map_err(|_| err("name offset"))?;
        let name = names
            .get(name_offset..)
            .and_then(|rest| rest.split(|&b| b == 0).next())
            .ok_or_else(|| err("section name outside the names section"))?;
        sections.push(SectionHeader {
            name: String::from_utf8_lossy(name).into_owned(),
            addr: reader.word_at(at, 0x0c, 0x10)?,
            size: reader.word_at(at, 0x14, 0x20)?,
        });
    }
    Ok(sections)
}

/// Reads fields of an ELF file of one class and byte order.
struct Reader<'a> {
    bytes: &'a [u8],
    wide: bool,
    big_endian: bool,
}

impl Reader<'_> {
    /// The offset of a field: its 32-bit or its 64-bit one.
    fn pick(&self, narrow: u64, wide: u64) -> u64 {
        if self.wide { wide } else { narrow }
    }

    /// `len` bytes at `offset`.
    fn slice(&self, offset: u64, len: u64) -> Result<&[u8], ElfError> {
        let start = usize::try_from(offset).ok();
        let end = offset
            .checked_add(len)
            .and_then(|end| usize::try_from(end).ok());
        match (start, end) {
            (Some(start), Some(end)) if end <= self.bytes.len() => Ok(&self.bytes[start..end]),
            _ => Err(ElfError(format!(
                "{len} bytes at {offset:#x} lie outside the file"
            ))),
        }
    }

    fn u16(&self, offset: u64) -> Result<u16, ElfError> {
        let b: [u8; 2] = self.slice(offset, 2)?.try_into().expect("two bytes");
        Ok(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, offset: u64) -> Result<u32, ElfError> {
        let b: [u8; 4] = self.slice(offset, 4)?.try_into().expect("four bytes");
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&self, offset: u64) -> Result<u64, ElfError> {
        let b: [u8; 8] = self.slice(offset, 8)?.try_into().expect("eight bytes");
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    /// An address-sized field of the ELF header.
    fn word(&self, narrow: u64, wide: u64) -> Result<u64, ElfError> {
        self.word_at(0, narrow, wide)
    }

    /// An address-sized field of the structure at `base`.
    fn word_at(&self, base: u64, narrow: u64, wide: u64) -> Result<u64, ElfError> {
        let offset = base
            .checked_add(self.pick(narrow, wide))
            .ok_or_else(|| ElfError("field offset overflows".into()))?;
        if self.wide {
            self.u64(offset)
        } else {
            self.u32(offset).map(u64::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian 32-bit ELF file with a null section, `.text` (0x123 bytes), `.bss`
    /// (0x4000 bytes at `0x2000_0100`), `.data` (0x20 bytes at `0x2000_0000`) and the names
    /// section.
    fn tiny_elf32() -> Vec<u8> {
        let names = b"\0.text\0.bss\0.shstrtab\0.data\0";
        let names_at = 0x34u32;
        let names_len = u32::try_from(names.len()).unwrap();
        let shoff = names_at + names_len;
        let mut file = vec![0u8; shoff as usize];
        file[..6].copy_from_slice(b"\x7fELF\x01\x01");
        file[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        file[0x2e..0x30].copy_from_slice(&0x28u16.to_le_bytes());
        file[0x30..0x32].copy_from_slice(&5u16.to_le_bytes());
        file[0x32..0x34].copy_from_slice(&3u16.to_le_bytes());
        file[names_at as usize..shoff as usize].copy_from_slice(names);
        for (name, addr, offset, size) in [
            (0u32, 0u32, 0u32, 0u32),
            (1, 0x400, 0, 0x123),
            (7, 0x2000_0100, 0, 0x4000),
            (12, 0, names_at, names_len),
            (22, 0x2000_0000, 0, 0x20),
        ] {
            let mut header = [0u8; 0x28];
            header[..4].copy_from_slice(&name.to_le_bytes());
            header[0x0c..0x10].copy_from_slice(&addr.to_le_bytes());
            header[0x10..0x14].copy_from_slice(&offset.to_le_bytes());
            header[0x14..0x18].copy_from_slice(&size.to_le_bytes());
            file.extend_from_slice(&header);
        }
        file
    }

    #[test]
    fn reads_the_sizes_of_a_32_bit_file() {
        let sections = Sections::from_elf(&tiny_elf32()).unwrap();
        assert_eq!(
            sections,
            Sections {
                ram: 0x4100,
                text: 0x123,
                rodata: 0,
                data: 0x20,
                bss: 0x4000
            }
        );
        let headers = section_headers(&tiny_elf32()).unwrap();
        assert_eq!(headers[3].name, ".shstrtab");
        assert_eq!(headers[4].addr, 0x2000_0000);
    }

    #[test]
    fn reads_this_host_binary() {
        // The test binary itself: a 64-bit ELF file on Linux, with code.
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        if bytes.starts_with(b"\x7fELF") {
            assert!(Sections::from_elf(&bytes).unwrap().text > 1000);
        }
    }

    #[test]
    fn refuses_what_is_not_elf_or_is_cut_short() {
        assert!(Sections::from_elf(b"MZ not an ELF file").is_err());
        let elf = tiny_elf32();
        assert!(Sections::from_elf(&elf[..elf.len() - 30]).is_err());
        let mut bad_index = elf.clone();
        bad_index[0x32] = 9;
        assert!(Sections::from_elf(&bad_index).is_err());
    }
}
