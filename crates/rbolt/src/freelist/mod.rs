//! The in-memory freelist (bbolt's `internal/freelist`): which pages may be reused, and which
//! were freed by recent commits but may still be visible to an open reader ("pending").
//!
//! The free pages themselves live in one of two [`FreeSet`]s, chosen with
//! [`Options::freelist_type`](crate::Options::freelist_type) as in bbolt: [`array`] returns the
//! lowest fitting run (bbolt's default, and what packs data towards the start of the file),
//! [`hashmap`] the shortest fitting run. Both find a run of `n` contiguous pages in
//! O(log #runs), where bbolt's array scans every free id. Both serialise to the same sorted id
//! list, so the choice never affects the file format.
//!
//! A page freed by the commit of transaction W was reachable in every snapshot from the one
//! that allocated it (A) up to W − 1. It becomes reusable once no open reader has a txid in
//! `[A, W)`; when A is unknown (the page predates this process) it is taken as 0.
//!
//! Changes made during a commit are logged, so a commit that fails can be undone exactly.

pub(crate) mod array;
#[cfg(test)]
mod bench;
pub(crate) mod hashmap;

use crate::pgid_hash::PgidBuild;
use rbolt_format::{Pgid, Txid};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Which in-memory free-page structure the writer uses (bbolt's `FreelistType`). It changes
/// where new pages are placed, never the file format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FreelistType {
    /// Lowest fitting run first (bbolt's default `"array"`). Keeps data packed at the start of
    /// the file, which lets the file shrink when the end becomes free.
    #[default]
    Array,
    /// Shortest fitting run first (bbolt's `"hashmap"`): less splitting of long runs.
    Hashmap,
}

impl FreelistType {
    /// bbolt's name for this type: `"array"` or `"hashmap"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Array => "array",
            Self::Hashmap => "hashmap",
        }
    }
}

impl std::str::FromStr for FreelistType {
    type Err = String;
    /// Parses bbolt's names; the empty string is the default, as in bbolt.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "array" | "" => Ok(Self::Array),
            "hashmap" => Ok(Self::Hashmap),
            _ => Err(format!("unknown freelist type {s:?} (array or hashmap)")),
        }
    }
}

/// The released free pages, as disjoint merged runs.
#[derive(Debug)]
pub(crate) enum FreeSet {
    Array(array::ArrayFree),
    Hashmap(hashmap::HashmapFree),
}

macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            FreeSet::Array($s) => $e,
            FreeSet::Hashmap($s) => $e,
        }
    };
}

impl FreeSet {
    pub(crate) fn new(kind: FreelistType) -> Self {
        match kind {
            FreelistType::Array => Self::Array(array::ArrayFree::default()),
            FreelistType::Hashmap => Self::Hashmap(hashmap::HashmapFree::default()),
        }
    }
    pub(crate) fn count(&self) -> u64 {
        each!(self, s => s.count())
    }
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        each!(self, s => s.runs())
    }
    pub(crate) fn contains(&self, id: u64) -> bool {
        each!(self, s => s.contains(id))
    }
    pub(crate) fn insert(&mut self, start: u64, len: u64) {
        each!(self, s => s.insert(start, len))
    }
    pub(crate) fn allocate(&mut self, n: u64) -> Option<u64> {
        each!(self, s => s.allocate(n))
    }
    pub(crate) fn remove_run(&mut self, start: u64) -> Option<u64> {
        each!(self, s => s.remove_run(start))
    }
    pub(crate) fn last(&self) -> Option<(u64, u64)> {
        each!(self, s => s.last())
    }
    pub(crate) fn for_each_run(&self, f: impl FnMut(u64, u64)) {
        each!(self, s => s.for_each_run(f))
    }
}

#[derive(Debug)]
pub(crate) struct Freelist {
    free: FreeSet,
    /// Writer txid → allocating txid → pages that writer freed. Grouped by allocating txid
    /// because that is what decides visibility: `release` splits off the releasable part of
    /// a group in O(log) and never looks at the pages a reader still holds.
    pending: BTreeMap<Txid, BTreeMap<Txid, Vec<Pgid>>>,
    pending_ids: HashSet<Pgid, PgidBuild>,
    /// First page of a span → txid that allocated it (only spans allocated by this process,
    /// and only while some reader may be older than the allocation: see `prune_allocs`).
    allocs: HashMap<Pgid, Txid, PgidBuild>,
    /// Entries `allocs` kept at its last pruning under open readers.
    allocs_kept: usize,
    /// Never prune `allocs`: the reference the pruning is tested against.
    #[cfg(test)]
    keep_allocs: bool,
    undo: Option<Undo>,
    /// The last durable commit's log, emptied: its vectors are reused, not reallocated.
    spare_undo: Undo,
    /// Pending pages `release` has looked at, for the test that pins its cost.
    #[cfg(test)]
    visited: u64,
}

impl Default for Freelist {
    fn default() -> Self {
        Self::new(FreelistType::default())
    }
}

#[derive(Debug, Default)]
struct Undo {
    txid: Txid,
    allocated: Vec<(Pgid, u64)>,
    allocs_removed: Vec<(Pgid, Txid)>,
    /// Runs cut off the end of the file by `trim_tail`.
    trimmed: Vec<(Pgid, u64)>,
}

impl Freelist {
    /// An empty freelist of the given type.
    pub(crate) fn new(kind: FreelistType) -> Self {
        Self {
            free: FreeSet::new(kind),
            pending: BTreeMap::new(),
            pending_ids: HashSet::default(),
            allocs: HashMap::default(),
            allocs_kept: 0,
            #[cfg(test)]
            keep_allocs: false,
            undo: None,
            spare_undo: Undo::default(),
            #[cfg(test)]
            visited: 0,
        }
    }

    /// Builds the free set from ids read from disk or found by walking the tree. Every id must
    /// lie in `[2, hwm)` and appear once.
    #[cfg(test)]
    pub(crate) fn from_ids(ids: Vec<Pgid>, hwm: Pgid) -> Result<Self, String> {
        Self::from_ids_typed(ids, hwm, FreelistType::default())
    }

    /// [`Freelist::from_ids`] with a chosen free-set type.
    pub(crate) fn from_ids_typed(
        mut ids: Vec<Pgid>,
        hwm: Pgid,
        kind: FreelistType,
    ) -> Result<Self, String> {
        ids.sort_unstable();
        let mut f = Self::new(kind);
        let mut run: Option<(u64, u64)> = None;
        let hwm = hwm.get();
        for id in ids.into_iter().map(Pgid::get) {
            if id < 2 || id >= hwm {
                return Err(format!("freelist page id {id} outside [2, {hwm})"));
            }
            match run {
                Some((s, l)) if s + l - 1 == id => {
                    return Err(format!("page {id} listed twice in the freelist"));
                }
                Some((s, l)) if s + l == id => run = Some((s, l + 1)),
                Some((s, l)) => {
                    f.free.insert(s, l);
                    run = Some((id, 1));
                }
                None => run = Some((id, 1)),
            }
        }
        if let Some((s, l)) = run {
            f.free.insert(s, l);
        }
        Ok(f)
    }

    /// Which free-set structure this freelist uses.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> FreelistType {
        match self.free {
            FreeSet::Array(_) => FreelistType::Array,
            FreeSet::Hashmap(_) => FreelistType::Hashmap,
        }
    }

    /// Switches the free-set structure, keeping the same free pages (between transactions).
    pub(crate) fn set_kind(&mut self, kind: FreelistType) {
        let mut free = FreeSet::new(kind);
        self.free.for_each_run(|s, l| free.insert(s, l));
        self.free = free;
    }

    /// Pages ready for reuse.
    pub(crate) fn free_count(&self) -> u64 {
        self.free.count()
    }

    /// Number of runs of contiguous free pages.
    #[cfg(test)]
    pub(crate) fn free_runs(&self) -> usize {
        self.free.runs()
    }

    /// Pages freed by commits that some reader may still see.
    pub(crate) fn pending_count(&self) -> u64 {
        self.pending_ids.len() as u64
    }

    /// Ids written to the freelist page: free and pending together.
    pub(crate) fn count(&self) -> u64 {
        self.free_count() + self.pending_count()
    }

    /// Starts logging changes for the commit of `txid`.
    pub(crate) fn begin_commit(&mut self, txid: Txid) {
        let mut u = std::mem::take(&mut self.spare_undo);
        u.txid = txid;
        u.allocated.clear();
        u.allocs_removed.clear();
        u.trimmed.clear();
        self.undo = Some(u);
    }

    /// The commit is durable: forget the log (keeping its vectors for the next commit).
    pub(crate) fn end_commit(&mut self) {
        if let Some(u) = self.undo.take() {
            self.spare_undo = u;
        }
    }

    /// The commit failed: put back everything it took, freed or trimmed.
    pub(crate) fn rollback_commit(&mut self) {
        let Some(u) = self.undo.take() else { return };
        for (start, n) in u.allocated {
            self.allocs.remove(&start);
            self.free.insert(start.get(), n);
        }
        for (start, n) in u.trimmed {
            self.free.insert(start.get(), n);
        }
        if let Some(groups) = self.pending.remove(&u.txid) {
            for id in groups.into_values().flatten() {
                self.pending_ids.remove(&id);
            }
        }
        self.allocs.extend(u.allocs_removed);
    }

    /// Takes a run of `n` free pages for transaction `txid` (the lowest such run for the array
    /// type), or `None` if there is none (the caller then extends the file).
    pub(crate) fn allocate(&mut self, txid: Txid, n: u64) -> Option<Pgid> {
        let start = Pgid(self.free.allocate(n)?);
        self.allocs.insert(start, txid);
        if let Some(u) = &mut self.undo {
            u.allocated.push((start, n));
        }
        Some(start)
    }

    /// Records that `txid` allocated a span from the end of the file.
    pub(crate) fn note_alloc(&mut self, txid: Txid, start: Pgid) {
        self.allocs.insert(start, txid);
    }

    /// Frees the span `pgid ..= pgid + overflow` on behalf of writer `txid`. Freeing a meta page
    /// or a page that is already free means the file references a page twice.
    pub(crate) fn free(&mut self, txid: Txid, pgid: Pgid, overflow: u64) -> Result<(), String> {
        let end = pgid
            .get()
            .checked_add(overflow)
            .ok_or_else(|| format!("page {pgid}: span overflows"))?;
        let span = (pgid.get()..=end).map(Pgid);
        for id in span.clone() {
            if id < Pgid(2) {
                return Err(format!("page {id}: cannot free a meta page"));
            }
            if self.pending_ids.contains(&id) || self.free.contains(id.get()) {
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
            None => Txid(0),
        };
        self.pending
            .entry(txid)
            .or_default()
            .entry(alloc)
            .or_default()
            .extend(span.clone());
        self.pending_ids.extend(span);
        Ok(())
    }

    /// Moves pending pages that no open reader can see into the free set. `readers` holds the
    /// txids of open read transactions, sorted.
    ///
    /// A page freed by W and allocated by A is visible to readers in `[A, W)`, that is, exactly
    /// when the newest reader below W began at or after A. So per writer, the pages allocated
    /// after that reader go, the rest stay untouched: the cost is the pages released plus
    /// O(log) per writer with pending pages, however many pages a long-lived reader holds.
    pub(crate) fn release(&mut self, readers: &[Txid]) {
        let readers = if crate::defects::active("early-release") {
            &[]
        } else {
            readers
        };
        self.prune_allocs(readers);
        let mut emptied = Vec::new();
        for (&w, groups) in &mut self.pending {
            let below = readers.partition_point(|&r| r < w);
            let released = match below.checked_sub(1).map(|i| readers[i]) {
                // Allocated after the newest reader below W: no reader sees them.
                Some(newest) => groups.split_off(&newest.next()),
                None => std::mem::take(groups),
            };
            #[cfg(test)]
            {
                self.visited += 1;
            }
            for id in released.into_values().flatten() {
                #[cfg(test)]
                {
                    self.visited += 1;
                }
                self.pending_ids.remove(&id);
                self.free.insert(id.get(), 1);
            }
            if groups.is_empty() {
                emptied.push(w);
            }
        }
        for w in emptied {
            self.pending.remove(&w);
        }
    }

    /// Drops allocating txids no release can need. Knowing that page P was allocated by A
    /// matters only to a reader older than A (it frees P earlier than "allocated at 0" would);
    /// every entry here was made by a committed transaction, so no reader that begins from now
    /// on is older than it, and one at or below the oldest open reader never matters again.
    /// Releases decide exactly as before; the map stops holding every page this process
    /// allocated (a bulk load's worth), whose cache misses every free paid. With no reader
    /// open, all go, with the map's allocation; under readers, entries are filtered whenever
    /// the map has doubled since the last filtering, so the cost stays O(1) per allocation.
    fn prune_allocs(&mut self, readers: &[Txid]) {
        const MIN_FILTERED: usize = 1024;
        #[cfg(test)]
        if self.keep_allocs {
            return;
        }
        match readers.first() {
            None => {
                if !self.allocs.is_empty() {
                    self.allocs = HashMap::default();
                }
                self.allocs_kept = 0;
            }
            Some(&oldest) if self.allocs.len() >= MIN_FILTERED.max(2 * self.allocs_kept) => {
                self.allocs.retain(|_, a| *a > oldest);
                self.allocs_kept = self.allocs.len();
            }
            Some(_) => {}
        }
    }

    /// Cuts free runs that end exactly at the high-water mark `hwm` off the free set and returns
    /// the lowered mark. Only released pages are free, so nothing cut is reachable from any
    /// open snapshot; the caller lowers `meta.pgid` and may later truncate the file
    /// (see `crate::shrink`). Logged, so a failed commit puts the runs back.
    pub(crate) fn trim_tail(&mut self, hwm: Pgid) -> Pgid {
        let mut hwm = hwm.get();
        while let Some((s, l)) = self.free.last() {
            if s + l != hwm || s < 2 {
                break;
            }
            self.free.remove_run(s);
            if let Some(u) = &mut self.undo {
                u.trimmed.push((Pgid(s), l));
            }
            hwm = s;
        }
        Pgid(hwm)
    }

    /// All ids for the freelist page, sorted: free runs and pending pages merged.
    ///
    /// The free runs come out in order already, so only the pending pages are sorted (a
    /// handful after a small commit, against hundreds of free ids), then merged in front of
    /// each run: free and pending pages are disjoint, so no pending page falls inside a run.
    pub(crate) fn sorted_ids(&self) -> Vec<Pgid> {
        let mut ids: Vec<Pgid> = Vec::with_capacity(usize::try_from(self.count()).unwrap_or(0));
        self.for_each_sorted_id(|id| ids.push(id));
        ids
    }

    /// [`sorted_ids`](Self::sorted_ids) one id at a time, for a commit that encodes them
    /// straight into the freelist page.
    pub(crate) fn for_each_sorted_id(&self, mut f: impl FnMut(Pgid)) {
        // From the groups, not `pending_ids`: iterating a hash set costs its capacity, which
        // one large commit leaves high for every small commit after it.
        let mut pending: Vec<Pgid> = self
            .pending
            .values()
            .flat_map(BTreeMap::values)
            .flatten()
            .copied()
            .collect();
        pending.sort_unstable();
        let mut pending = pending.into_iter().peekable();
        self.free.for_each_run(|s, n| {
            while let Some(q) = pending.next_if(|q| q.get() < s) {
                f(q);
            }
            (s..s + n).map(Pgid).for_each(&mut f);
        });
        pending.for_each(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers(ids: &[u64]) -> Vec<Txid> {
        ids.iter().copied().map(Txid).collect()
    }

    fn p(id: u64) -> Pgid {
        Pgid(id)
    }

    fn t(id: u64) -> Txid {
        Txid(id)
    }

    fn ids(v: &[u64]) -> Vec<Pgid> {
        v.iter().copied().map(Pgid).collect()
    }

    #[test]
    fn allocate_returns_lowest_fitting_run() {
        let mut f = Freelist::from_ids(ids(&[3, 5, 6, 7, 9, 10]), p(20)).unwrap();
        assert_eq!(f.allocate(t(1), 2), Some(p(5)));
        assert_eq!(f.allocate(t(1), 1), Some(p(3)));
        assert_eq!(f.allocate(t(1), 3), None);
        assert_eq!(f.allocate(t(1), 2), Some(p(9)));
        assert_eq!(f.free_count(), 1);
        assert_eq!(f.sorted_ids(), ids(&[7]));
    }

    #[test]
    fn from_ids_rejects_out_of_range_and_duplicates() {
        assert!(Freelist::from_ids(ids(&[1]), p(10)).is_err());
        assert!(Freelist::from_ids(ids(&[10]), p(10)).is_err());
        assert!(Freelist::from_ids(ids(&[4, 4]), p(10)).is_err());
    }

    #[test]
    fn double_free_is_an_error_not_a_panic() {
        let mut f = Freelist::from_ids(ids(&[4]), p(10)).unwrap();
        assert!(f.free(t(5), p(4), 0).is_err());
        f.free(t(5), p(6), 1).unwrap();
        assert!(f.free(t(5), p(7), 0).is_err());
        assert!(f.free(t(5), p(0), 0).is_err());
        assert_eq!(f.count(), 3);
    }

    #[test]
    fn pending_pages_wait_for_readers_that_can_see_them() {
        let mut f = Freelist::default();
        f.note_alloc(t(3), p(8));
        f.free(t(5), p(8), 0).unwrap(); // allocated by 3, freed by 5: visible to readers 3 and 4
        f.free(t(5), p(9), 0).unwrap(); // allocation unknown: visible to every reader below 5
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
        assert_eq!(f.allocate(t(6), 2), Some(p(8)));
    }

    #[test]
    fn failed_commit_is_undone_exactly() {
        let mut f = Freelist::from_ids(ids(&[2, 3, 4]), p(10)).unwrap();
        f.note_alloc(t(1), p(7));
        f.begin_commit(t(9));
        assert_eq!(f.allocate(t(9), 2), Some(p(2)));
        f.free(t(9), p(7), 1).unwrap();
        f.rollback_commit();
        assert_eq!(f.sorted_ids(), ids(&[2, 3, 4]));
        assert_eq!(f.pending_count(), 0);
        assert_eq!(f.allocs.get(&p(7)), Some(&t(1)));
    }

    /// Random writers, readers opening and closing, pages allocated from the free set and past
    /// the end and freed again: a freelist that prunes its allocating txids releases exactly
    /// the pages one that keeps them all does, after every transaction. Prints its seed;
    /// `RBOLT_SEED` replays one.
    #[test]
    fn pruned_allocs_release_exactly_as_kept_ones() {
        let seed = rbolt_testkit::rng::fresh_seed();
        println!("seed {seed} (RBOLT_SEED to replay)");
        // Short-lived readers, often none open (the whole table goes); then a reader always
        // open, replaced by a newer one now and then (the table grows past the filtering
        // threshold under readers and loses what is older than the oldest).
        for regime in 0..2u64 {
            let mut rng = rbolt_testkit::rng::Rng::new(seed ^ regime);
            let mut pruned = Freelist::default();
            let mut kept = Freelist {
                keep_allocs: true,
                ..Freelist::default()
            };
            let (mut hwm, mut txid) = (2u64, 1u64);
            let mut live: Vec<Pgid> = Vec::new();
            let mut open: Vec<Txid> = Vec::new();
            let mut smaller = 0;
            for step in 0..3_000 {
                // Readers begin at the latest commit and end in any order.
                if regime == 0 {
                    if rng.chance(0.2) {
                        open.push(t(txid));
                    }
                    while !open.is_empty() && rng.chance(0.4) {
                        open.remove(rng.index(open.len()));
                    }
                } else {
                    if open.is_empty() || rng.chance(0.05) {
                        open.push(t(txid));
                    }
                    if open.len() > 1 && rng.chance(0.3) {
                        open.remove(rng.index(open.len() - 1));
                    }
                }
                open.sort_unstable();
                // A write transaction: release, free pages earlier ones allocated, allocate.
                txid += 1;
                pruned.release(&open);
                kept.release(&open);
                let at = format!("seed {seed} regime {regime} step {step}");
                assert_eq!(pruned.free_count(), kept.free_count(), "{at}");
                assert_eq!(pruned.sorted_ids(), kept.sorted_ids(), "{at}");
                assert_eq!(pruned.pending_count(), kept.pending_count(), "{at}");
                smaller += usize::from(pruned.allocs.len() < kept.allocs.len());
                // Fewer frees than allocations: the table grows, as under a bulk load.
                for _ in 0..rng.below(40).min(live.len() as u64) {
                    let id = live.swap_remove(rng.index(live.len()));
                    pruned.free(t(txid), id, 0).unwrap();
                    kept.free(t(txid), id, 0).unwrap();
                }
                for _ in 0..rng.below(60) {
                    let a = pruned.allocate(t(txid), 1);
                    assert_eq!(a, kept.allocate(t(txid), 1), "{at}");
                    let id = a.unwrap_or_else(|| {
                        let id = p(hwm);
                        hwm += 1;
                        pruned.note_alloc(t(txid), id);
                        kept.note_alloc(t(txid), id);
                        id
                    });
                    live.push(id);
                }
            }
            assert!(
                smaller > 100,
                "seed {seed} regime {regime}: pruned in {smaller} steps"
            );
        }
    }

    /// The allocating txids of committed transactions are dropped once no open reader is
    /// older than them, and releases come out exactly as if they were kept.
    #[test]
    fn allocs_are_dropped_once_no_reader_can_need_them() {
        let mut f = Freelist::default();
        for id in 100..3_100 {
            f.note_alloc(t(3), p(id));
        }
        f.note_alloc(t(6), p(50));
        f.note_alloc(t(6), p(51));
        f.release(&readers(&[4]));
        assert_eq!(f.allocs.len(), 2, "those made by 3 are older than reader 4");
        // Freed by 7: page 50 (born after reader 4) goes at once, page 100 (born before it)
        // waits for it, as it would had its txid been kept.
        f.free(t(7), p(50), 0).unwrap();
        f.free(t(7), p(100), 0).unwrap();
        f.release(&readers(&[4]));
        assert_eq!((f.free_count(), f.pending_count()), (1, 1));
        f.release(&readers(&[]));
        assert!(f.allocs.is_empty(), "no reader left: no entry matters");
        assert_eq!((f.free_count(), f.pending_count()), (2, 0));
        // A few entries under readers are not filtered each time (amortised).
        f.note_alloc(t(8), p(60));
        f.release(&readers(&[9]));
        assert_eq!(f.allocs.len(), 1);
    }

    /// Regression: every release looked at every pending page, so with many pages held back by
    /// a long-lived reader each write transaction paid for all of them (under the lock every
    /// read transaction's begin and end takes). Pages still hidden from a reader are not to be
    /// looked at again; each released page once.
    #[test]
    fn release_rescanned_every_page_a_reader_still_holds() {
        let mut f = Freelist::default();
        // Allocated before reader 3 began, freed by 5: hidden from it for as long as it lives.
        for id in 10..10_010 {
            f.free(t(5), p(id), 0).unwrap();
        }
        f.note_alloc(t(6), p(20_000));
        f.free(t(7), p(20_000), 0).unwrap(); // born after the reader: released at once
        f.release(&readers(&[3]));
        assert_eq!((f.free_count(), f.pending_count()), (1, 10_000));
        let before = f.visited;
        for _ in 0..100 {
            f.release(&readers(&[3]));
        }
        assert!(
            f.visited - before < 1000,
            "100 releases looked at {} pending pages",
            f.visited - before
        );
        f.release(&readers(&[]));
        assert_eq!((f.free_count(), f.pending_count()), (10_001, 0));
    }

    const KINDS: [FreelistType; 2] = [FreelistType::Array, FreelistType::Hashmap];

    #[test]
    fn both_kinds_share_pending_and_undo_rules() {
        for kind in KINDS {
            let mut f = Freelist::from_ids_typed(ids(&[2, 3, 4]), p(10), kind).unwrap();
            assert_eq!(f.kind(), kind);
            f.note_alloc(t(1), p(7));
            f.begin_commit(t(9));
            assert_eq!(f.allocate(t(9), 2), Some(p(2)), "{kind:?}");
            f.free(t(9), p(7), 1).unwrap();
            assert!(f.free(t(9), p(4), 0).is_err(), "{kind:?}: 4 is free");
            f.rollback_commit();
            assert_eq!(f.sorted_ids(), ids(&[2, 3, 4]), "{kind:?}");
            assert_eq!(
                (f.free_count(), f.pending_count(), f.free_runs()),
                (3, 0, 1)
            );
        }
    }

    #[test]
    fn trim_tail_cuts_released_runs_at_the_end_and_rolls_back() {
        for kind in KINDS {
            let mut f = Freelist::from_ids_typed(ids(&[3, 7, 8, 9, 11]), p(12), kind).unwrap();
            f.free(t(4), p(6), 0).unwrap(); // pending: stops the cut
            f.begin_commit(t(5));
            assert_eq!(f.trim_tail(p(12)), p(11), "{kind:?}: 10 is in use");
            assert_eq!(f.sorted_ids(), ids(&[3, 6, 7, 8, 9]));
            f.rollback_commit();
            assert_eq!(f.sorted_ids(), ids(&[3, 6, 7, 8, 9, 11]));
            f.free(t(5), p(10), 0).unwrap();
            f.release(&readers(&[]));
            f.begin_commit(t(6));
            assert_eq!(
                f.trim_tail(p(12)),
                p(6),
                "{kind:?}: released 6 and 10 go too"
            );
            f.end_commit();
            assert_eq!(f.sorted_ids(), ids(&[3]));
        }
    }

    #[test]
    fn sorted_ids_merges_pending_pages_between_and_around_free_runs() {
        for kind in KINDS {
            // Free runs 5..=7, 12, 20..=21; pending pages before, between and after them,
            // from two writers and two allocating transactions.
            let mut f = Freelist::from_ids_typed(ids(&[5, 6, 7, 12, 20, 21]), p(40), kind).unwrap();
            f.note_alloc(t(2), p(30));
            for (w, id) in [(t(4), 30), (t(4), 3), (t(3), 9), (t(3), 15), (t(4), 10)] {
                f.free(w, p(id), 0).unwrap();
            }
            let got = f.sorted_ids();
            let mut want = ids(&[5, 6, 7, 12, 20, 21, 30, 3, 9, 15, 10]);
            want.sort_unstable();
            assert_eq!(got, want, "{kind:?}");
            assert_eq!(got.len() as u64, f.count(), "{kind:?}");
        }
    }
}
