//! Clocks and statistics: `rdtscp` cycles for latencies, `Instant` for throughput, and the
//! percentiles and medians the tables report.
//!
//! One `rdtscp` pair costs tens of cycles, more than a fast allocation, so single calls are
//! timed in batches and the measured cost of an empty batch is subtracted (see
//! [`tsc_overhead`]).

use std::arch::x86_64::__rdtscp;

/// The time-stamp counter, waiting for earlier instructions to finish (`rdtscp`).
#[inline(always)]
pub fn cycles() -> u64 {
    let mut aux = 0;
    // SAFETY: `rdtscp` is available on every x86_64 CPU this runs on (checked in `main`) and
    // only writes the processor id into `aux`.
    unsafe { __rdtscp(&mut aux) }
}

/// Whether the CPU has `rdtscp` (CPUID leaf 0x8000_0001, EDX bit 27).
pub fn has_rdtscp() -> bool {
    use std::arch::x86_64::__cpuid;
    // Leaf 0x8000_0000 reports the highest extended leaf: 0x8000_0001 is read only if it exists.
    __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).edx & (1 << 27) != 0
}

/// The median cost of two back-to-back [`cycles`] calls: what an empty measurement reads.
pub fn tsc_overhead() -> u64 {
    let mut samples: Vec<u64> = (0..10_001)
        .map(|_| {
            let start = cycles();
            cycles() - start
        })
        .collect();
    percentile(&mut samples, 50.0)
}

/// The `p`-th percentile (nearest rank) of `samples`, which it sorts; 0 when empty.
pub fn percentile(samples: &mut [u64], p: f64) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    // The small slack keeps 99.9 % of 1000 at rank 999 despite binary rounding.
    let rank = (p * samples.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// The median of a few floating-point measurements (the repetitions of one run).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::{median, percentile};

    #[test]
    fn percentiles_and_medians() {
        let mut v: Vec<u64> = (1..=1000).rev().collect();
        assert_eq!(percentile(&mut v, 50.0), 500);
        assert_eq!(percentile(&mut v, 99.9), 999);
        assert_eq!(percentile(&mut v, 100.0), 1000);
        assert_eq!(percentile(&mut [], 50.0), 0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
