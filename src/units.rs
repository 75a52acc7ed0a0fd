//! Human-readable quantities for the report: `Bytes(3 << 20)` prints as `3.0 MiB`.

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
