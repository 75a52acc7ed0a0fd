//! The shared vocabulary of choices: a [`Named`] kind of thing the command line picks by name
//! (an allocator, a workload), and a [`Selection`] of them.
//!
//! It lives below the modules that use it: `heap` and `workloads` name their choices here,
//! `cli` parses selections of them, and `run`, `bench` and `summary` iterate over them, with no
//! module importing one that imports it back.

use core::marker::PhantomData;

/// A kind of thing the command line chooses by name (an allocator, a workload).
pub trait Named: Copy + 'static {
    /// Every value, in the order runs and help texts list them (at most 32).
    const ALL: &'static [Self];
    /// The name on the command line.
    fn name(self) -> &'static str;
    /// One line for `--help`.
    fn summary(self) -> &'static str;
    /// Whether a run that names none of this kind includes this one.
    fn runs_by_default(self) -> bool {
        true
    }
}

/// A set of values of one [`Named`] kind, kept as a bit mask over `T::ALL`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Selection<T> {
    mask: u32,
    kind: PhantomData<T>,
}

impl<T: Named + PartialEq> Selection<T> {
    /// The values a run includes when the command line names none.
    pub fn defaults() -> Self {
        let mut selection = Self::empty();
        for &value in T::ALL.iter().filter(|value| value.runs_by_default()) {
            selection.insert(value);
        }
        selection
    }

    fn empty() -> Self {
        Self {
            mask: 0,
            kind: PhantomData,
        }
    }

    fn insert(&mut self, value: T) {
        if let Some(index) = T::ALL.iter().position(|&known| known == value) {
            self.mask |= 1 << index;
        }
    }

    /// Parses a comma-separated list of names; an empty list or an unknown name is an error,
    /// which gives the name it did not know.
    pub fn parse(list: &'static str) -> Result<Self, &'static str> {
        let mut selection = Self::empty();
        for name in list.split(',') {
            let value = T::ALL
                .iter()
                .find(|known| known.name() == name)
                .ok_or(name)?;
            selection.insert(*value);
        }
        Ok(selection)
    }

    /// The values of both selections.
    pub fn union(self, other: Self) -> Self {
        Self {
            mask: self.mask | other.mask,
            kind: PhantomData,
        }
    }

    /// The chosen values, in `T::ALL` order.
    pub fn iter(self) -> impl Iterator<Item = T> {
        T::ALL
            .iter()
            .enumerate()
            .filter(move |(index, _)| self.mask & (1 << index) != 0)
            .map(|(_, &value)| value)
    }
}
