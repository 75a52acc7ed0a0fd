//! Test-only: the one configuration of the crate's property tests. Natively they run enough
//! random sequences to find rare orders of calls; under Miri, where each case costs seconds, a
//! few. No failure is written to a file: a failing case prints its minimal input, and the
//! tests run from several targets and working directories.

use proptest::prelude::ProptestConfig;

/// `native` cases, or `under_miri` under Miri, and no failure persistence.
pub(crate) fn config(under_miri: u32, native: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { under_miri } else { native },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
