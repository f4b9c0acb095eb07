//! The in-memory freelist (bbolt's `internal/freelist`): which pages may be reused, and which
//! were freed by recent commits but may still be visible to an open reader ("pending").
//!
//! Free pages are kept as merged runs in a `BTreeMap<start, len>`, so allocation returns the
//! lowest run of the requested length, as bbolt's array freelist does, without scanning
//! individual ids, and freeing merges with neighbours in O(log runs).
//!
//! A page freed by the commit of transaction W was reachable in every snapshot from the one
//! that allocated it (A) up to W − 1. It becomes reusable once no open reader has a txid in
//! `[A, W)`; when A is unknown (the page predates this process) it is taken as 0.
//!
//! Changes made during a commit are logged, so a commit that fails can be undone exactly.

use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Default)]
pub(crate) struct Freelist {
    runs: BTreeMap<u64, u64>,
    free_count: u64,
    /// Writer txid → pages it freed, each with the txid that allocated it.
    pending: BTreeMap<u64, Vec<(u64, u64)>>,
    pending_ids: HashSet<u64>,
    /// First page of a span → txid that allocated it (only spans allocated by this process).
    allocs: HashMap<u64, u64>,
    undo: Option<Undo>,
}

#[derive(Debug, Default)]
struct Undo {
    txid: u64,
    allocated: Vec<(u64, u64)>,
    allocs_removed: Vec<(u64, u64)>,
}

impl Freelist {
    /// Builds the free set from ids read from disk or found by walking the tree. Every id must
    /// lie in `[2, hwm)` and appear once.
    pub(crate) fn from_ids(mut ids: Vec<u64>, hwm: u64) -> Result<Self, String> {
        ids.sort_unstable();
        let mut f = Self::default();
        let mut prev = None;
        for id in ids {
            if id < 2 || id >= hwm {
                return Err(format!("freelist page id {id} outside [2, {hwm})"));
            }
            if prev == Some(id) {
                return Err(format!("page {id} listed twice in the freelist"));
            }
            prev = Some(id);
            f.insert_free(id, 1);
        }
        Ok(f)
    }

    /// Pages ready for reuse.
    #[cfg(test)]
    pub(crate) fn free_count(&self) -> u64 {
        self.free_count
    }

    /// Pages freed by commits that some reader may still see.
    pub(crate) fn pending_count(&self) -> u64 {
        self.pending_ids.len() as u64
    }

    /// Ids written to the freelist page: free and pending together.
    pub(crate) fn count(&self) -> u64 {
        self.free_count + self.pending_count()
    }

    fn is_free(&self, id: u64) -> bool {
        self.runs
            .range(..=id)
            .next_back()
            .is_some_and(|(&s, &n)| id < s + n)
    }

    fn insert_free(&mut self, start: u64, len: u64) {
        insert_run(&mut self.runs, &mut self.free_count, start, len);
    }

    /// Starts logging changes for the commit of `txid`.
    pub(crate) fn begin_commit(&mut self, txid: u64) {
        self.undo = Some(Undo {
            txid,
            ..Undo::default()
        });
    }

    /// The commit is durable: forget the log.
    pub(crate) fn end_commit(&mut self) {
        self.undo = None;
    }

    /// The commit failed: put back everything it took or freed.
    pub(crate) fn rollback_commit(&mut self) {
        let Some(u) = self.undo.take() else { return };
        for (start, n) in u.allocated {
            self.allocs.remove(&start);
            self.insert_free(start, n);
        }
        if let Some(pages) = self.pending.remove(&u.txid) {
            for (id, _) in pages {
                self.pending_ids.remove(&id);
            }
        }
        self.allocs.extend(u.allocs_removed);
    }

    /// Takes the lowest run of `n` free pages for transaction `txid`, or `None` if there is no
    /// such run (the caller then extends the file).
    pub(crate) fn allocate(&mut self, txid: u64, n: u64) -> Option<u64> {
        let (&start, &len) = self.runs.iter().find(|&(_, &len)| len >= n)?;
        self.runs.remove(&start);
        if len > n {
            self.runs.insert(start + n, len - n);
        }
        self.free_count -= n;
        self.allocs.insert(start, txid);
        if let Some(u) = &mut self.undo {
            u.allocated.push((start, n));
        }
        Some(start)
    }

    /// Records that `txid` allocated a span from the end of the file.
    pub(crate) fn note_alloc(&mut self, txid: u64, start: u64) {
        self.allocs.insert(start, txid);
    }

    /// Frees the span `pgid ..= pgid + overflow` on behalf of writer `txid`. Freeing a meta page
    /// or a page that is already free means the file references a page twice.
    pub(crate) fn free(&mut self, txid: u64, pgid: u64, overflow: u64) -> Result<(), String> {
        let end = pgid
            .checked_add(overflow)
            .ok_or_else(|| format!("page {pgid}: span overflows"))?;
        for id in pgid..=end {
            if id < 2 {
                return Err(format!("page {id}: cannot free a meta page"));
            }
            if self.pending_ids.contains(&id) || self.is_free(id) {
                return Err(format!("page {id} already freed"));
            }
        }
        let alloc = match self.allocs.remove(&pgid) {
            Some(a) => {
                if let Some(u) = &mut self.undo {
                    u.allocs_removed.push((pgid, a));
                }
                a
            }
            None => 0,
        };
        let list = self.pending.entry(txid).or_default();
        for id in pgid..=end {
            list.push((id, alloc));
            self.pending_ids.insert(id);
        }
        Ok(())
    }

    /// Moves pending pages that no open reader can see into the free set. `readers` holds the
    /// txids of open read transactions.
    pub(crate) fn release(&mut self, readers: &BTreeMap<u64, usize>) {
        let none = BTreeMap::new();
        let readers = if crate::defects::active("early-release") {
            &none
        } else {
            readers
        };
        let min_reader = readers.keys().next().copied();
        let mut emptied = Vec::new();
        for (&w, pages) in &mut self.pending {
            let mut keep = Vec::new();
            for &(id, alloc) in pages.iter() {
                // Visible to readers in [alloc, w).
                let visible = min_reader.is_some() && readers.range(alloc..w).next().is_some();
                if visible {
                    keep.push((id, alloc));
                } else {
                    self.pending_ids.remove(&id);
                    insert_run(&mut self.runs, &mut self.free_count, id, 1);
                }
            }
            if keep.is_empty() {
                emptied.push(w);
            }
            *pages = keep;
        }
        for w in emptied {
            self.pending.remove(&w);
        }
    }

    /// All ids for the freelist page, sorted: free runs and pending pages merged.
    pub(crate) fn sorted_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::with_capacity(usize::try_from(self.count()).unwrap_or(0));
        for (&s, &n) in &self.runs {
            ids.extend(s..s + n);
        }
        ids.extend(self.pending_ids.iter().copied());
        ids.sort_unstable();
        ids
    }
}

/// `insert_free` without borrowing the whole freelist, for use while iterating `pending`.
fn insert_run(runs: &mut BTreeMap<u64, u64>, free_count: &mut u64, start: u64, len: u64) {
    let (mut s, mut n) = (start, len);
    if let Some((&ps, &pn)) = runs.range(..s).next_back()
        && ps + pn == s
    {
        runs.remove(&ps);
        s = ps;
        n += pn;
    }
    if let Some(nn) = runs.remove(&(start + len)) {
        n += nn;
    }
    runs.insert(s, n);
    *free_count += len;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers(ids: &[u64]) -> BTreeMap<u64, usize> {
        ids.iter().map(|&i| (i, 1)).collect()
    }

    #[test]
    fn allocate_returns_lowest_fitting_run() {
        let mut f = Freelist::from_ids(vec![3, 5, 6, 7, 9, 10], 20).unwrap();
        assert_eq!(f.allocate(1, 2), Some(5));
        assert_eq!(f.allocate(1, 1), Some(3));
        assert_eq!(f.allocate(1, 3), None);
        assert_eq!(f.allocate(1, 2), Some(9));
        assert_eq!(f.free_count(), 1);
        assert_eq!(f.sorted_ids(), vec![7]);
    }

    #[test]
    fn from_ids_rejects_out_of_range_and_duplicates() {
        assert!(Freelist::from_ids(vec![1], 10).is_err());
        assert!(Freelist::from_ids(vec![10], 10).is_err());
        assert!(Freelist::from_ids(vec![4, 4], 10).is_err());
    }

    #[test]
    fn double_free_is_an_error_not_a_panic() {
        let mut f = Freelist::from_ids(vec![4], 10).unwrap();
        assert!(f.free(5, 4, 0).is_err());
        f.free(5, 6, 1).unwrap();
        assert!(f.free(5, 7, 0).is_err());
        assert!(f.free(5, 0, 0).is_err());
        assert_eq!(f.count(), 3);
    }

    #[test]
    fn pending_pages_wait_for_readers_that_can_see_them() {
        let mut f = Freelist::default();
        f.note_alloc(3, 8);
        f.free(5, 8, 0).unwrap(); // allocated by 3, freed by 5: visible to readers 3 and 4
        f.free(5, 9, 0).unwrap(); // allocation unknown: visible to every reader below 5
        f.release(&readers(&[4]));
        assert_eq!((f.free_count(), f.pending_count()), (0, 2));
        f.release(&readers(&[2]));
        assert_eq!(
            (f.free_count(), f.pending_count()),
            (1, 1),
            "page 8 was born after 2"
        );
        f.release(&readers(&[5, 9]));
        assert_eq!((f.free_count(), f.pending_count()), (2, 0));
        assert_eq!(f.allocate(6, 2), Some(8));
    }

    #[test]
    fn failed_commit_is_undone_exactly() {
        let mut f = Freelist::from_ids(vec![2, 3, 4], 10).unwrap();
        f.note_alloc(1, 7);
        f.begin_commit(9);
        assert_eq!(f.allocate(9, 2), Some(2));
        f.free(9, 7, 1).unwrap();
        f.rollback_commit();
        assert_eq!(f.sorted_ids(), vec![2, 3, 4]);
        assert_eq!(f.pending_count(), 0);
        f.release(&readers(&[]));
        assert_eq!(f.allocs.get(&7), Some(&1));
    }
}
