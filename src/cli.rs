//! The command line: what to run, parsed from `argv` into a [`Command`] before anything runs.
//!
//! ```text
//!   bareheap-demo [--allocator LIST] [--workload LIST] [--placement first-fit|next-fit]
//!   bareheap-demo bench [--allocator LIST] [--placement first-fit|next-fit]
//!   bareheap-demo --help
//! ```
//!
//! Each option takes a comma-separated list of names (`--workload vec,btreemap` or
//! `--workload=vec,btreemap`); an option given twice adds the second list to the first. The
//! names are parsed into a [`Selection`]: a set of choices from one [`Named`]
//! kind (both in [`crate::selection`], below this module and the kinds it names). New
//! allocators and workloads plug in by adding an enum variant and its name; the parser does not
//! change. Anything it does not understand is a [`CliError`], which `main` answers with
//! the usage text on stderr and exit status 2.

use core::ffi::CStr;
use core::fmt;

use bareheap::chunk::Placement;

use crate::heap::{self, AllocatorChoice};
use crate::selection::{Named, Selection};
use crate::workloads::Workload;

/// What the command line asks for.
pub enum Command {
    /// Print the usage text and exit 0.
    Help,
    /// Run these workloads on these allocators.
    Run {
        /// The allocators to run the workloads on.
        allocators: Selection<AllocatorChoice>,
        /// The workloads to run.
        workloads: Selection<Workload>,
        /// Where the chunk allocators look for free chunks.
        placement: Placement,
    },
    /// Run the allocation benchmark on these allocators.
    Bench {
        /// The allocators to measure.
        allocators: Selection<AllocatorChoice>,
        /// Where the chunk allocators look for free chunks.
        placement: Placement,
    },
}

/// Why the command line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliError {
    /// An argument that is not an option of this program.
    UnknownArgument(&'static str),
    /// An option that needs a value came last.
    MissingValue(&'static str),
    /// A name in a list that no allocator or workload has.
    UnknownName(&'static str),
    /// An argument that is not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownArgument(arg) => write!(f, "unknown argument '{arg}'"),
            Self::MissingValue(option) => write!(f, "'{option}' needs a value"),
            Self::UnknownName(name) => write!(f, "unknown name '{name}'"),
            Self::NotUtf8 => f.write_str("an argument is not valid UTF-8"),
        }
    }
}

/// Parses the arguments after the program's name.
pub fn parse(args: impl Iterator<Item = &'static CStr>) -> Result<Command, CliError> {
    let mut args = args
        .map(|arg| arg.to_str().map_err(|_| CliError::NotUtf8))
        .peekable();
    let bench = args.next_if(|arg| *arg == Ok(BENCH)).is_some();
    let mut allocators = None;
    let mut workloads = None;
    let mut placement = Placement::default();
    while let Some(arg) = args.next() {
        let arg = arg?;
        let (option, inline_value) = match arg.split_once('=') {
            Some((option, value)) => (option, Some(value)),
            None => (arg, None),
        };
        let mut value = || match inline_value {
            Some(value) => Ok(value),
            None => args.next().ok_or(CliError::MissingValue(option))?,
        };
        match option {
            "-h" | "--help" => return Ok(Command::Help),
            "--allocator" => add(&mut allocators, value()?)?,
            "--workload" if !bench => add(&mut workloads, value()?)?,
            "--placement" => {
                let name = value()?;
                placement = heap::placement_named(name).ok_or(CliError::UnknownName(name))?;
            }
            _ => return Err(CliError::UnknownArgument(arg)),
        }
    }
    let allocators = allocators.unwrap_or_else(Selection::defaults);
    Ok(if bench {
        Command::Bench {
            allocators,
            placement,
        }
    } else {
        Command::Run {
            allocators,
            workloads: workloads.unwrap_or_else(Selection::defaults),
            placement,
        }
    })
}

/// Adds the names of `list` to `chosen`: a repeated option adds to what the earlier ones chose
/// (`--allocator chunk --allocator pools` is `--allocator chunk,pools`).
fn add<T: Named + PartialEq>(
    chosen: &mut Option<Selection<T>>,
    list: &'static str,
) -> Result<(), CliError> {
    let more = Selection::parse(list).map_err(CliError::UnknownName)?;
    *chosen = Some(chosen.map_or(more, |earlier| earlier.union(more)));
    Ok(())
}

/// The subcommand that runs the benchmark instead of the workloads.
const BENCH: &str = "bench";

/// The usage text, listing every allocator and workload by name; print it with `{}`.
pub struct Usage;

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "usage: bareheap-demo [--allocator LIST] [--workload LIST] [--placement P]"
        )?;
        writeln!(
            f,
            "       bareheap-demo bench [--allocator LIST] [--placement P]"
        )?;
        writeln!(f, "       bareheap-demo --help")?;
        writeln!(f)?;
        writeln!(
            f,
            "Runs real Vec / BTreeMap / String workloads on bareheap's allocators, with no libstd"
        )?;
        writeln!(
            f,
            "and no libc, checks every result, and prints the heap's statistics."
        )?;
        writeln!(
            f,
            "LIST is a comma-separated list of names; a repeated option adds its list."
        )?;
        write_choices::<AllocatorChoice>(f, "allocators")?;
        write_choices::<Workload>(f, "workloads")?;
        writeln!(f)?;
        writeln!(
            f,
            "placement: where the chunk allocators search (chunk, pools' backing):"
        )?;
        writeln!(
            f,
            "  * first-fit  from the start of the heap: the lowest run that fits"
        )?;
        writeln!(
            f,
            "    next-fit   from just past the previous block, wrapping around"
        )?;
        writeln!(f)?;
        writeln!(f, "exit status: 0 every check passed, 1 a check failed,")?;
        writeln!(
            f,
            "             2 bad command line, 3 output could not be written,"
        )?;
        write!(f, "             101 panic or allocation failure")
    }
}

fn write_choices<T: Named>(f: &mut fmt::Formatter<'_>, heading: &str) -> fmt::Result {
    writeln!(f)?;
    writeln!(f, "{heading} (* = run by default):")?;
    for &choice in T::ALL {
        let mark = if choice.runs_by_default() { '*' } else { ' ' };
        writeln!(f, "  {mark} {:<10} {}", choice.name(), choice.summary())?;
    }
    Ok(())
}
