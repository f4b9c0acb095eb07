//! State shared by every handle of one open database: the current meta and mapping, the
//! registry of open readers, the single writer slot, poisoning, the mapping generations still
//! alive, and the counters.
//!
//! Lock order (the full list is in docs/architecture.md): the writer slot (held for a whole
//! write transaction, as a token) before `state` (held only for a few instructions, never for
//! work that grows with the data), before `generations`. Readers take `state` alone. Nothing
//! blocks on a reader: growth publishes a new generation (the old mapping extended in its
//! reserved address space, see `mmap.rs`) and old generations live on in the transactions
//! that hold them.
//!
//! Poisoning: an I/O error in a commit or in [`Db::sync`](crate::Db::sync), or a panic that
//! unwinds while the writer data is out of both its slot and a transaction ([`WriterLease`]),
//! poisons the database. Every writer, waiting or not, then gets
//! [`Error::Poisoned`](crate::Error::Poisoned) at once.

use crate::counters::DbCounters;
use crate::error::Result;
use crate::freelist::FreelistType;
use crate::mmap::Mapping;
use crate::read::counts::{RecentCounts, SubtreeCounts};
use crate::read::recent_buckets::RecentBuckets;
use crate::registry::Registration;
use crate::storage::Storage;
use crate::sync::lock;
use crate::write::{ShrinkMode, WriterData, grow_target};
use rbolt_format::{Meta, Pgid, Txid};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// The writer data while it is out of both its slot and a transaction (in `begin_write` and
/// in `commit`). Dropped still holding the data — which only a panic unwinding through that
/// code does — it poisons the database: the panic may have left the freelist or the file half
/// changed, and without it every later `begin_write` would wait for a writer that never
/// returns.
pub(crate) struct WriterLease<'a> {
    shared: &'a Shared,
    data: Option<Box<WriterData>>,
}

impl<'a> WriterLease<'a> {
    pub(crate) fn new(shared: &'a Shared, data: Box<WriterData>) -> Self {
        Self {
            shared,
            data: Some(data),
        }
    }

    /// Ends the lease: the caller puts the data back into a transaction.
    pub(crate) fn into_inner(mut self) -> Box<WriterData> {
        self.data
            .take()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl std::ops::Deref for WriterLease<'_> {
    type Target = WriterData;
    fn deref(&self) -> &WriterData {
        self.data
            .as_deref()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl std::ops::DerefMut for WriterLease<'_> {
    fn deref_mut(&mut self) -> &mut WriterData {
        self.data
            .as_deref_mut()
            .expect("invariant: a lease holds its data until it ends")
    }
}

impl Drop for WriterLease<'_> {
    fn drop(&mut self) {
        if self.data.is_some() {
            self.shared.poison();
        }
    }
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) meta: Meta,
    pub(crate) map: Arc<Mapping>,
    /// The snapshots open read transactions hold.
    pub(crate) readers: OpenSnapshots,
    /// The latest subtree counts, as of `meta`; each new read transaction takes a copy.
    pub(crate) recent: RecentCounts,
    /// The top-level buckets the latest commits wrote, as of `meta`; each new transaction
    /// takes a copy.
    pub(crate) buckets: RecentBuckets,
}

/// The snapshots open read transactions hold, by txid, each with its high-water mark
/// (`meta.pgid`: the file is never truncated below the largest, see `shrink.rs`) and how many
/// readers hold it. Readers begin and end under the state lock on every transaction, so this
/// must cost no allocation in the steady state: nearly every reader holds the newest snapshot,
/// which is the last entry, and a vector keeps its capacity when that entry comes and goes
/// (a `BTreeMap` allocated and freed a node each time).
#[derive(Debug)]
pub(crate) struct OpenSnapshots(Vec<OpenSnapshot>);

#[derive(Debug)]
struct OpenSnapshot {
    txid: Txid,
    hwm: Pgid,
    holders: usize,
}

impl OpenSnapshots {
    /// Room for a few snapshots from the start, so that not even the first reader allocates.
    pub(crate) fn new() -> Self {
        Self(Vec::with_capacity(4))
    }

    /// One more reader of snapshot `txid`. Every snapshot of a txid has the same mark; were
    /// two different, the larger is kept, which only ever keeps more of the file.
    pub(crate) fn add(&mut self, txid: Txid, hwm: Pgid) {
        let at = match self.0.last() {
            Some(last) if last.txid < txid => Err(self.0.len()),
            None => Err(0),
            _ => self.0.binary_search_by(|e| e.txid.cmp(&txid)),
        };
        match at {
            Ok(i) => {
                let e = &mut self.0[i];
                e.holders += 1;
                e.hwm = e.hwm.max(hwm);
            }
            Err(i) => self.0.insert(
                i,
                OpenSnapshot {
                    txid,
                    hwm,
                    holders: 1,
                },
            ),
        }
    }

    /// Drops one reader of `txid`; the snapshot goes when its last reader does.
    pub(crate) fn remove(&mut self, txid: Txid) {
        if let Ok(i) = self.0.binary_search_by(|e| e.txid.cmp(&txid)) {
            self.0[i].holders -= 1;
            if self.0[i].holders == 0 {
                self.0.remove(i);
            }
        }
    }

    /// Txids with at least one reader, ascending.
    pub(crate) fn txids(&self) -> impl Iterator<Item = Txid> + '_ {
        self.0.iter().map(|e| e.txid)
    }

    /// The largest high-water mark an open reader holds (`Pgid(0)` with none).
    pub(crate) fn max_hwm(&self) -> Pgid {
        self.0.iter().map(|e| e.hwm).max().unwrap_or_default()
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<File>,
    pub(crate) page_size: usize,
    pub(crate) read_only: bool,
    pub(crate) state: Mutex<State>,
    pub(crate) writer: Mutex<Option<Box<WriterData>>>,
    pub(crate) writer_free: Condvar,
    /// Set (under the `writer` lock, see [`Shared::poison`]) when this handle no longer knows
    /// the state of the file.
    pub(crate) poisoned: AtomicBool,
    /// The user's no-sync setting ([`Db::set_no_sync`]), copied into the writer data at the
    /// start of each write transaction.
    pub(crate) no_sync: AtomicBool,
    /// [`Options::no_grow_sync`], restored at the start of each write transaction (compaction
    /// relaxes it for its own transactions only).
    pub(crate) no_grow_sync: bool,
    pub(crate) populate: bool,
    pub(crate) freelist_type: FreelistType,
    pub(crate) counters: DbCounters,
    /// The writer's storage, for [`Db::sync`](crate::Db::sync) outside a write transaction.
    pub(crate) storage: Option<Arc<dyn Storage>>,
    /// Every mapping generation handed to transactions, weakly: the file is never truncated
    /// below a live one (`mmap.rs` point 4).
    pub(crate) generations: Mutex<Vec<Weak<Mapping>>>,
    /// Entry counts of committed subtrees, for `Bucket::len`.
    pub(crate) counts: Arc<SubtreeCounts>,
    /// Last, so that it goes after every field that keeps the file (and its lock) open.
    pub(crate) _registration: Registration,
}

impl Shared {
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Refuses all further writes through this handle, and wakes every writer waiting for the
    /// slot so that it sees the poison instead of waiting for data that may never return.
    /// Takes the `writer` lock: a writer tests the flag under it before it waits, so it cannot
    /// miss the wake-up.
    pub(crate) fn poison(&self) {
        let _slot = lock(&self.writer);
        self.poisoned.store(true, Ordering::Release);
        self.writer_free.notify_all();
    }

    pub(crate) fn end_read(&self, txid: Txid, cursors: u64) {
        lock(&self.state).readers.remove(txid);
        self.counters.end_read(cursors);
    }

    pub(crate) fn end_write(&self, data: Box<WriterData>) {
        self.counters.note_freelist(&data.freelist);
        *lock(&self.writer) = Some(data);
        self.writer_free.notify_one();
    }

    /// Records a new mapping generation (and forgets dead ones).
    pub(crate) fn register_map(&self, map: &Arc<Mapping>) {
        let mut g = lock(&self.generations);
        g.retain(|w| w.strong_count() > 0);
        g.push(Arc::downgrade(map));
    }

    /// Length of the longest mapping generation still alive.
    pub(crate) fn live_map_len(&self) -> u64 {
        let mut g = lock(&self.generations);
        g.retain(|w| w.strong_count() > 0);
        g.iter()
            .filter_map(std::sync::Weak::upgrade)
            .map(|m| m.len())
            .max()
            .unwrap_or(0)
    }

    /// Makes a committed meta the one new transactions see, mapping the grown file first.
    pub(crate) fn publish(&self, meta: Meta, file_len: u64, buckets: RecentBuckets) -> Result<()> {
        let needed = meta.pgid.get() * self.page_size as u64;
        let current = lock(&self.state).map.clone();
        let map = if current.len() < needed {
            let map = Arc::new(current.grown(&self.file, file_len.max(needed), self.populate)?);
            self.register_map(&map);
            map
        } else {
            current
        };
        let recent = self.counts.recent();
        let mut st = lock(&self.state);
        st.meta = meta;
        st.map = map;
        st.recent = recent;
        st.buckets = buckets;
        Ok(())
    }

    /// Truncates the file after a commit whose meta (`new_pgid`) is durable and published;
    /// `prev_pgid` is the other meta on disk. The committing transaction must have let go of
    /// its own mapping. Never fails the commit: a failed truncation leaves a longer file,
    /// which is always valid.
    pub(crate) fn truncate_after_commit(
        &self,
        w: &mut WriterData,
        new_pgid: Pgid,
        prev_pgid: Pgid,
        mode: ShrinkMode,
    ) {
        if mode == ShrinkMode::Off {
            return;
        }
        let ps = self.page_size as u64;
        let mut st = lock(&self.state);
        let readers = st.readers.max_hwm();
        let floor = new_pgid.max(prev_pgid).max(readers).get() * ps;
        let min_len = w.initial_mmap_size.div_ceil(ps) * ps;
        let target = match mode {
            ShrinkMode::Now => floor,
            _ => grow_target(floor, ps, w.alloc_size),
        }
        .max(min_len)
        .max(floor);
        let worth = match mode {
            ShrinkMode::Now => w.file_len > target,
            _ => {
                w.file_len >= target.saturating_mul(2)
                    || w.file_len >= target.saturating_add(w.alloc_size)
            }
        };
        if !worth {
            return;
        }
        // New transactions get a generation no longer than the cut...
        if st.map.len() > target {
            let map = Arc::new(st.map.shorter(target));
            self.register_map(&map);
            st.map = map;
        }
        // ...and no generation still alive may reach past it: every mapped byte stays inside
        // the file. Readers clone the current generation under this lock, so none can appear
        // between here and the cut.
        let target = target.max(self.live_map_len());
        drop(st);
        if target >= w.file_len {
            return;
        }
        if w.storage.set_len(target).is_err() {
            w.file_len = w.storage.len().unwrap_or(w.file_len);
            return;
        }
        w.file_len = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_snapshots_keep_txids_ordered_and_drop_one_with_its_last_reader() {
        let mut c = OpenSnapshots::new();
        for t in [5u64, 5, 3, 9, 3, 7] {
            c.add(Txid(t), Pgid(t * 10));
        }
        let txids = |c: &OpenSnapshots| c.txids().map(|t| t.0).collect::<Vec<_>>();
        assert_eq!(txids(&c), [3, 5, 7, 9]);
        assert_eq!(c.max_hwm(), Pgid(90));
        c.remove(Txid(5));
        assert_eq!(txids(&c), [3, 5, 7, 9]);
        c.remove(Txid(5));
        c.remove(Txid(9));
        c.remove(Txid(4)); // never held: nothing changes
        assert_eq!(txids(&c), [3, 7]);
        assert_eq!(c.max_hwm(), Pgid(70));
        c.add(Txid(3), Pgid(80));
        assert_eq!(c.max_hwm(), Pgid(80), "the larger mark of one txid is kept");
        for _ in 0..3 {
            c.remove(Txid(3));
        }
        c.remove(Txid(7));
        assert_eq!(txids(&c), Vec::<u64>::new());
        assert_eq!(c.max_hwm(), Pgid(0));
    }
}
