//! The "hashmap" free set (bbolt's `hashmap.go` semantics): runs are indexed by their length,
//! so an allocation of `n` pages looks only at runs of length ≥ `n` and never scans page ids.
//!
//! bbolt keeps `size → set of starts` plus `start → size` and `end → size` hash maps, takes a
//! run of exactly `n` if there is one and otherwise the first larger run met in (random) map
//! order. This variant keeps the same two indexes as ordered maps and makes the choice
//! deterministic and tighter: the **smallest** run that fits (best fit), and among runs of that
//! length the lowest. Both lookups are O(log runs); unlike the array variant, the page chosen is
//! not the lowest free one, so page placement differs (the file format does not).

use std::collections::{BTreeMap, BTreeSet};

/// Free runs `[start, start + len)`, disjoint and never adjacent.
#[derive(Debug, Default)]
pub(crate) struct HashmapFree {
    by_start: BTreeMap<u64, u64>,
    by_len: BTreeMap<u64, BTreeSet<u64>>,
    count: u64,
}

impl HashmapFree {
    /// Free pages.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Number of runs.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.by_start.len()
    }

    fn add(&mut self, start: u64, len: u64) {
        self.by_start.insert(start, len);
        self.by_len.entry(len).or_default().insert(start);
    }

    fn drop_run(&mut self, start: u64) -> Option<u64> {
        let len = self.by_start.remove(&start)?;
        if let Some(set) = self.by_len.get_mut(&len) {
            set.remove(&start);
            if set.is_empty() {
                self.by_len.remove(&len);
            }
        }
        Some(len)
    }

    /// True if page `id` is free.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.by_start
            .range(..=id)
            .next_back()
            .is_some_and(|(&s, &l)| id < s + l)
    }

    /// Adds the free span `[start, start + len)`, merging it with adjacent runs.
    pub(crate) fn insert(&mut self, start: u64, len: u64) {
        if len == 0 {
            return;
        }
        self.count += len;
        let (mut s, mut l) = (start, len);
        if let Some((&ps, &pl)) = self.by_start.range(..start).next_back()
            && ps + pl == start
        {
            self.drop_run(ps);
            s = ps;
            l += pl;
        }
        if let Some(nl) = self.drop_run(start + len) {
            l += nl;
        }
        self.add(s, l);
    }

    /// Takes `n` pages from the front of the shortest run that holds them.
    pub(crate) fn allocate(&mut self, n: u64) -> Option<u64> {
        if n == 0 {
            return None;
        }
        let (&len, starts) = self.by_len.range(n..).next()?;
        let start = *starts.first().expect("invariant: no empty length sets");
        self.drop_run(start);
        if len > n {
            self.add(start + n, len - n);
        }
        self.count -= n;
        Some(start)
    }

    /// Removes exactly the run starting at `start`.
    pub(crate) fn remove_run(&mut self, start: u64) -> Option<u64> {
        let len = self.drop_run(start)?;
        self.count -= len;
        Some(len)
    }

    /// The run with the highest start.
    pub(crate) fn last(&self) -> Option<(u64, u64)> {
        self.by_start.iter().next_back().map(|(&s, &l)| (s, l))
    }

    /// Calls `f(start, len)` for every run in ascending order.
    pub(crate) fn for_each_run(&self, mut f: impl FnMut(u64, u64)) {
        for (&s, &l) in &self.by_start {
            f(s, l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_fit_then_lowest() {
        let mut h = HashmapFree::default();
        for (s, l) in [(2, 5), (10, 2), (20, 3), (30, 2)] {
            h.insert(s, l);
        }
        assert_eq!(
            h.allocate(2),
            Some(10),
            "shortest fitting run, lowest of them"
        );
        assert_eq!(h.allocate(2), Some(30));
        assert_eq!(h.allocate(3), Some(20));
        assert_eq!(h.allocate(1), Some(2), "only the 5-run is left");
        assert_eq!(h.allocate(5), None);
        assert_eq!((h.count(), h.runs()), (4, 1));
        h.insert(2, 1);
        assert_eq!(h.last(), Some((2, 5)));
        assert!(h.contains(6) && !h.contains(7));
    }
}
