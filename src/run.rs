//! The default command: every chosen workload on every chosen allocator, then a summary.
//!
//! ```text
//!   for each allocator:   activate it ── print its heap ── for each workload:
//!                                                             measure + check + report
//!   then: free a block made by the first allocator while the last one is active
//!         (the router must send it home), and print the summary table
//! ```

use alloc::format;

use bareheap::chunk::Placement;

use crate::clock::{self, CpuName};
use crate::heap::AllocatorChoice;
use crate::selection::{Named, Selection};
use crate::summary::{Row, Summary};
use crate::workloads::{Checks, Workload};
use crate::{ExitCode, print, println};

/// Runs the workloads on the allocators and returns the exit status. `placement` is only
/// named in the printed commands (the heaps already search by it).
pub fn run(
    allocators: Selection<AllocatorChoice>,
    workloads: Selection<Workload>,
    placement: Placement,
) -> ExitCode {
    let mut checks = Checks::default();
    let mut summary = Summary::new();
    let mut keepsake = None;
    for allocator in allocators.iter() {
        println!();
        println!("== {} allocator: {}", allocator.name(), allocator.summary());
        allocator.activate();
        keepsake.get_or_insert_with(|| Keepsake::new(allocator));
        println!("   heap before:{}", allocator.stats());
        for workload in workloads.iter() {
            summary.push(run_workload(allocator, workload, placement, &mut checks));
        }
    }
    if let Some(keepsake) = keepsake {
        keepsake.check_and_free(&mut checks);
    }
    println!();
    print!("{summary}");
    println!("{}", Machine);
    println!();
    println!(
        "{} checks passed, {} failed",
        checks.passed(),
        checks.failed()
    );
    if checks.failed() == 0 {
        ExitCode::Success
    } else {
        ExitCode::CheckFailed
    }
}

/// Runs one workload, measures it, and checks that it gave back every byte it took.
fn run_workload(
    allocator: AllocatorChoice,
    workload: Workload,
    placement: Placement,
    checks: &mut Checks,
) -> Row {
    println!();
    println!("-- {}: {}", workload.name(), workload.summary());
    // The command that shows this section alone, so that every excerpt can be reproduced.
    println!(
        "   alone: bareheap-demo --allocator {} --workload {}{}",
        allocator.name(),
        workload.name(),
        match placement {
            Placement::FirstFit => "",
            Placement::NextFit => " --placement next-fit",
        }
    );
    let (stats_before, traffic_before, checks_before) =
        (allocator.stats(), allocator.traffic(), *checks);
    allocator.reset_peak();
    let elapsed = clock::measure(|| workload.run(checks));
    let (stats_after, traffic_after) = (allocator.stats(), allocator.traffic());
    checks.expect(
        stats_after.bytes_in_use() == stats_before.bytes_in_use(),
        format_args!(
            "every block freed: {} bytes in use before and after",
            stats_after.bytes_in_use()
        ),
    );
    println!("   heap after:{stats_after}");
    Row {
        allocator,
        workload,
        operations: traffic_after.operations() - traffic_before.operations(),
        passed: checks.passed() - checks_before.passed(),
        checks: checks.made() - checks_before.made(),
        peak_bytes: traffic_after.peak_bytes - traffic_before.live_bytes,
        elapsed,
    }
}

/// A string allocated by the first allocator of the run and freed after the last one: it
/// shows the router sending a free to the block's owner, not to the active allocator.
struct Keepsake {
    owner: AllocatorChoice,
    text: alloc::string::String,
}

impl Keepsake {
    fn new(owner: AllocatorChoice) -> Self {
        let text = format!("made by the {} allocator before any workload", owner.name());
        Self { owner, text }
    }

    fn check_and_free(self, checks: &mut Checks) {
        println!();
        let live_before = self.owner.traffic().live_bytes;
        let intact = self.text.starts_with("made by the ") && self.text.ends_with("workload");
        let size = self.text.capacity();
        drop(self.text);
        let returned = live_before - self.owner.traffic().live_bytes == size;
        checks.expect(
            intact && returned,
            format_args!(
                "a block made by '{}' survived every switch and was freed back to it",
                self.owner.name()
            ),
        );
    }
}

/// The line under a table of cycles and times: which machine measured them.
pub struct Machine;

impl core::fmt::Display for Machine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let cpu = CpuName::read();
        let name = match cpu.as_str() {
            "" => "a CPU that gives no name",
            name => name,
        };
        write!(f, "cycles and times: this run only, on {name}")
    }
}
