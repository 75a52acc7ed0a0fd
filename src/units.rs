//! Human-readable quantities for the report: `Bytes(3 << 20)` prints as `3.0 MiB`; and
//! [`Padded`], which lets such values line up in tables.

use core::fmt;

/// A byte count, printed with a binary unit (B, KiB, MiB, GiB) and one decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
        let mut unit = 0;
        let mut scaled = self.0;
        while scaled >= 1024 * 1024 && unit + 2 < UNITS.len() {
            scaled /= 1024;
            unit += 1;
        }
        if scaled < 1024 {
            return write!(f, "{scaled} {}", UNITS[unit]);
        }
        let tenths = (scaled * 10 + 512) / 1024;
        write!(f, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit + 1])
    }
}

/// Formats its contents into a small stack buffer first, so that width and alignment apply to
/// the whole text (`format_args!` and most `Display` impls ignore them):
/// `{:>8}` with `Padded(format_args!("{}", Bytes(n)))` right-aligns the byte count.
pub struct Padded<'a>(pub fmt::Arguments<'a>);

impl fmt::Display for Padded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buffer = CellBuffer::default();
        fmt::write(&mut buffer, self.0)?;
        f.pad(buffer.as_str())
    }
}

/// A padded value's text, at most 32 bytes.
#[derive(Default)]
struct CellBuffer {
    bytes: [u8; 32],
    len: usize,
}

impl CellBuffer {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

impl fmt::Write for CellBuffer {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let end = self.len + text.len();
        let slot = self.bytes.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}
