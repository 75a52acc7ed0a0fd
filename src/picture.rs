//! Pictures of a heap in plain text: one glyph per stretch of memory, shaded by how much of
//! it is in use.
//!
//! ```text
//!   │██████▓▓▒░    ░░██                                              │
//!    ^ full  ^ partly used         ^ free
//! ```
//!
//! A [`Strip`] is one row of [`STRIP_WIDTH`] cells; whoever draws it says, for each cell, how
//! many units (chunks, bytes, blocks) it covers and how many of those are used. The glyphs are
//! the Unicode shade blocks, which read well in a terminal, in CI logs and in a README.

use core::fmt;

/// Cells in one strip: the picture is this wide plus its frame, inside 80 columns.
pub const STRIP_WIDTH: usize = 64;

/// The shades, from empty to full.
const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];
/// A cell that covers no memory of the heap (past its end).
const OUTSIDE: char = '·';

/// The explanation printed under every picture.
pub const LEGEND: &str = "' ' free  ░ <1/3 used  ▒ <2/3  ▓ partly full  █ full  · no memory";

/// The glyph for a cell with `used` of `total` units in use.
pub fn shade(used: usize, total: usize) -> char {
    if total == 0 {
        OUTSIDE
    } else if used == 0 {
        SHADES[0]
    } else if used >= total {
        SHADES[4]
    } else if used * 3 <= total {
        SHADES[1]
    } else if used * 3 <= total * 2 {
        SHADES[2]
    } else {
        SHADES[3]
    }
}

/// One framed row of cells; `cell(i)` gives `(used, total)` for cell `i`.
pub struct Strip<F: Fn(usize) -> (usize, usize)> {
    /// How many cells to draw (at most [`STRIP_WIDTH`]).
    pub cells: usize,
    /// The occupancy of each cell.
    pub cell: F,
}

impl<F: Fn(usize) -> (usize, usize)> fmt::Display for Strip<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("│")?;
        for index in 0..self.cells.min(STRIP_WIDTH) {
            let (used, total) = (self.cell)(index);
            write!(f, "{}", shade(used, total))?;
        }
        f.write_str("│")
    }
}

/// The part of `start..start + len` that falls in `cell_start..cell_end`, in units.
pub fn overlap(start: usize, len: usize, cell_start: usize, cell_end: usize) -> usize {
    let end = start.saturating_add(len).min(cell_end);
    end.saturating_sub(start.max(cell_start))
}
